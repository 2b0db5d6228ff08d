//! `shopdb db upgrade | status`: the core chain and every installed plugin's chains and
//! models.

use std::process::ExitCode;

use shopdb::app;
use shopdb::cli::DbCommand;
use shopdb_core::config::Config;
use shopdb_core::core_schema::core_chain;
use shopdb_core::migrate;

use super::plugin::print_waiting;
use crate::load_config;

/// `shopdb db upgrade` and `shopdb db status`: the core chain and every installed plugin's.
pub async fn db_command(command: DbCommand) -> anyhow::Result<ExitCode> {
    let config = load_config()?;
    let db = app::open_database(&config).await?;
    match command {
        DbCommand::Upgrade => {
            let mut ran = app::upgrade(&db).await?;
            let registry = app::registry();
            let mut failed = false;
            for (name, outcome) in
                shopdb_core::plugin::lifecycle::upgrade_all(&db, &registry).await?
            {
                match outcome {
                    Ok(migrated) => {
                        print_waiting(&name, &migrated.waiting);
                        ran.extend(migrated.ran)
                    }
                    Err(e) => {
                        failed = true;
                        eprintln!("{name}: {e}");
                    }
                }
            }
            if ran.is_empty() && !failed {
                println!("database is up to date");
            }
            for (chain, v, name) in ran {
                println!("applied {chain} {v} {name}");
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
        DbCommand::Status => {
            let mut chains = vec![core_chain()];
            let mut models = Vec::new();
            let core = migrate::status(&db, &chains[0]).await?;
            if core.current_version() > 0 {
                let installed = shopdb_core::plugin::lifecycle::installed(&db).await?;
                let registry = app::registry();
                for p in registry
                    .loaded
                    .iter()
                    .filter(|p| installed.contains_key(&p.manifest.name))
                {
                    chains.push(shopdb_core::plugin::lifecycle::chain_of(p));
                    models.push((p.manifest.name.clone(), p.tables.clone()));
                }
                for (name, tables) in folder_models(&db, &config).await? {
                    chains.push(migrate::Chain {
                        name: name.clone(),
                        migrations: Vec::new(),
                    });
                    models.push((name, tables));
                }
            }
            let mut changed = false;
            for chain in &chains {
                let status = migrate::status(&db, chain).await?;
                // A plugin without hand-written migrations shows its model chain only.
                if !chain.migrations.is_empty() || !status.applied.is_empty() {
                    print_status(&status);
                }
                changed |= !status.changed.is_empty();
                if let Some((plugin, tables)) = models.iter().find(|(n, _)| *n == chain.name) {
                    let status = shopdb_core::evolve::status(&db, plugin, tables).await?;
                    print_status(&status);
                    changed |= status.refused.is_some();
                }
            }
            if changed {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The installed folder plugins' models for `db status`: the one in the plugin folder when
/// it passes the check (what `plugin migrate` would apply), else the stored one.
pub(crate) async fn folder_models(
    db: &shopdb_core::db::Db,
    config: &Config,
) -> anyhow::Result<Vec<(String, Vec<shopdb_core::schema::Table>)>> {
    use shopdb_core::plugin::Plugin;
    use shopdb_core::plugin::folder::{FolderPlugin, store};
    let mut out = Vec::new();
    for (name, sources) in store::stored(db).await? {
        let edited = FolderPlugin::load(&config.plugin_dir.join(&name)).ok();
        if let Some(p) = edited.or_else(|| FolderPlugin::from_sources(&name, sources).ok()) {
            out.push((name, p.models()));
        }
    }
    Ok(out)
}

pub(crate) fn print_status(status: &migrate::ChainStatus) {
    println!(
        "chain {}: version {}",
        status.chain,
        status.current_version()
    );
    for a in &status.applied {
        let flag = if status.changed.iter().any(|(v, _)| *v == a.version) {
            "  CHANGED since applied (not re-run)"
        } else {
            ""
        };
        println!(
            "  applied  {:>3} {:<24} {}{flag}",
            a.version, a.name, a.appliedat
        );
    }
    for (v, n) in &status.pending {
        println!("  pending  {v:>3} {n}");
    }
    for (v, n) in &status.unknown {
        println!("  unknown  {v:>3} {n} (recorded in the database, not known to this build)");
    }
    if let Some(reason) = &status.refused {
        println!("  refused  {reason}");
    }
}
