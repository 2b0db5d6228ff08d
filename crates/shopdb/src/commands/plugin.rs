//! `shopdb plugin …` (new, check, pack, install, enable, disable, uninstall, migrate,
//! upgrade-all, restore, list) and `shopdb <plugin> <command>`, a command a plugin adds.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use shopdb::app;
use shopdb::cli::PluginCommand;
use shopdb_core::config::Config;
use shopdb_core::migrate;

use crate::{cli_actor, load_config};

pub(crate) async fn plugin_command(command: PluginCommand) -> anyhow::Result<ExitCode> {
    use shopdb_core::plugin::{edit, lifecycle};
    let plugin_dir = || Config::from_env().0.plugin_dir;
    match &command {
        PluginCommand::New {
            name,
            description,
            overwrite,
            rust: false,
            ..
        } => {
            let dir = shopdb::folders::scaffold(&plugin_dir(), name, description, *overwrite)?;
            println!("created folder plugin {name} in {}", dir.display());
            println!("next steps:");
            println!(
                "  1. edit {}: replace the example fields with the fields a {name} record needs",
                dir.join("model.toml").display()
            );
            println!("  2. shopdb plugin check {name}");
            println!(
                "  3. shopdb plugin install {name}      (live on running servers within seconds)"
            );
            println!("  4. shopdb plugin list                ({name} 0.1.0 [Enabled])");
            return Ok(ExitCode::SUCCESS);
        }
        PluginCommand::Check { target } => {
            let ok = shopdb::folders::check_command(&plugin_dir(), target)?;
            return Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        PluginCommand::Pack { target, output } => {
            let file = shopdb::folders::pack_command(&plugin_dir(), target, output.clone())?;
            println!("packed {target} into {}", file.display());
            println!(
                "install it on another site with: shopdb plugin install {}",
                file.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    if let PluginCommand::New {
        name,
        description,
        overwrite,
        dir,
        ..
    } = command
    {
        let checkout = shopdb::scaffold::find_checkout(&std::env::current_dir()?)?;
        let done = shopdb::scaffold::scaffold(&checkout, &name, &description, dir, overwrite)?;
        println!("created plugin {name} in {}", done.dir.display());
        println!("next steps:");
        println!(
            "  1. edit {}/src/lib.rs: replace examplefield with the fields a {name} record needs",
            done.dir.display()
        );
        if done.registered {
            println!(
                "  2. cargo test -p {name}            (the contract check passes as generated)"
            );
            println!("  3. cargo run -- plugin install {name}");
            println!("  4. cargo run -- plugin list         ({name} 0.1.0 [Enabled])");
        } else {
            println!(
                "  2. cargo test --manifest-path {}/Cargo.toml",
                done.dir.display()
            );
            println!(
                "  3. to bundle it into shopdb: put it under plugins/{name}, add `{name} = {{ path = \"../../plugins/{name}\" }}` to crates/shopdb/Cargo.toml and `{name}::plugin(),` to crates/shopdb/src/plugins.rs"
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let config = load_config()?;
    // A packed file is checked and unpacked into the plugin folder, then installed by name.
    let command = match command {
        PluginCommand::Install { name } if Path::new(&name).is_file() => {
            let unpacked = shopdb::folders::unpack_file(&config.plugin_dir, Path::new(&name))?;
            println!(
                "unpacked {name} into {}",
                config.plugin_dir.join(&unpacked).display()
            );
            PluginCommand::Install { name: unpacked }
        }
        other => other,
    };
    let app = app::start_without_plugin_migrations(config).await?;
    let (db, registry) = (&app.state.db, &app.state.registry);
    match command {
        PluginCommand::List => {
            for p in lifecycle::list(db, registry).await? {
                let state = p.state.title();
                match &p.reason {
                    Some(reason) => println!("{} {} [{state}] {reason}", p.name, p.version),
                    None => println!("{} {} [{state}]", p.name, p.version),
                }
            }
        }
        PluginCommand::Install { name } => {
            let ran = lifecycle::install(db, registry, &cli_actor(), &name).await?;
            for (chain, v, n) in ran {
                println!("applied {chain} {v} {n}");
            }
            println!("installed {name} [Enabled]");
            if registry
                .get(&name)
                .is_some_and(|p| p.plugin.folder().is_some())
            {
                println!("running servers load {name} within a few seconds");
            }
        }
        PluginCommand::Uninstall { name, keep_data } => {
            let done = lifecycle::uninstall(
                db,
                registry,
                &cli_actor(),
                &name,
                keep_data,
                &shopdb_core::services::plugins::backup_dir(),
            )
            .await?;
            match done.backup {
                Some(file) => println!(
                    "uninstalled {name}; {} rows backed up to {}",
                    done.rows,
                    file.display()
                ),
                None => println!("uninstalled {name}; its tables and rows were kept"),
            }
        }
        PluginCommand::Enable { name } => {
            lifecycle::set_enabled(db, registry, &cli_actor(), &name, true).await?;
            println!("{name} [Enabled]");
        }
        PluginCommand::Disable { name } => {
            lifecycle::set_enabled(db, registry, &cli_actor(), &name, false).await?;
            println!("{name} [Disabled]");
        }
        PluginCommand::Migrate { name, plan: true } => {
            let edited = shopdb::folders::edited(&app.state.config.plugin_dir, registry, &name)?;
            print_plan(db, registry, &name, edited.as_ref()).await?
        }
        PluginCommand::Migrate { name, plan: false } => {
            let mode = shopdb_core::evolve::Mode::Explicit {
                backup_dir: shopdb_core::services::plugins::backup_dir(),
            };
            let edited = shopdb::folders::edited(&app.state.config.plugin_dir, registry, &name)?;
            // A folder whose files differ from the stored copy (a template edited, say) is
            // stored even when its tables need no step.
            let files_changed = edited.as_ref().is_some_and(|e| {
                registry
                    .get(&name)
                    .and_then(|p| p.plugin.folder())
                    .is_none_or(|served| served.sources() != e.sources())
            });
            let migrated = match &edited {
                Some(edited) => edit::migrate(db, registry, edited, &mode).await?,
                None => lifecycle::migrate_plugin(db, registry, &name, &mode).await?,
            };
            if migrated.ran.is_empty() && files_changed {
                println!("{name}: the tables need no change; stored the edited files");
            } else if migrated.ran.is_empty() {
                println!("{name} is up to date");
            }
            for file in &migrated.backups {
                println!("backed up to {}", file.display());
            }
            for (chain, v, n) in migrated.ran {
                println!("applied {chain} {v} {n}");
            }
        }
        PluginCommand::New { .. } | PluginCommand::Check { .. } | PluginCommand::Pack { .. } => {
            unreachable!("handled above")
        }
        PluginCommand::Restore { file } => {
            let done =
                shopdb_core::plugin::restore::restore_plugin(db, registry, &cli_actor(), &file)
                    .await?;
            let how = if done.installed {
                " (installed it first)"
            } else {
                ""
            };
            println!("restored {} rows of {}{how}", done.rows, done.plugin);
        }
        PluginCommand::UpgradeAll => {
            let mut failed = false;
            for (name, outcome) in lifecycle::upgrade_all(db, registry).await? {
                match outcome {
                    Ok(m) if m.ran.is_empty() && m.waiting.is_empty() => {
                        println!("{name}: up to date")
                    }
                    Ok(m) => {
                        if !m.ran.is_empty() {
                            println!(
                                "{name}: applied {}",
                                m.ran
                                    .iter()
                                    .map(|(c, v, n)| format!("{c} {v} {n}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            );
                        }
                        print_waiting(&name, &m.waiting);
                    }
                    Err(e) => {
                        failed = true;
                        println!("{name}: FAILED {e}");
                    }
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `shopdb <plugin> <command> [args]`: runs a command a plugin contributes, with the
/// arguments clap has already checked.
pub(crate) async fn plugin_cli_command(
    plugin: &str,
    name: &str,
    args: clap::ArgMatches,
) -> anyhow::Result<ExitCode> {
    let app = app::start(load_config()?).await?;
    let Some(loaded) = app.state.registry.get(plugin) else {
        let reason = app
            .state
            .registry
            .quarantined(plugin)
            .map(|q| q.error.to_string())
            .unwrap_or_else(|| "it is not loaded".into());
        bail!("plugin {plugin} cannot run commands: {reason}");
    };
    // Its tables exist once it is installed; a disabled plugin's data can still be read.
    if !shopdb_core::plugin::lifecycle::installed(&app.state.db)
        .await?
        .contains_key(plugin)
    {
        bail!(
            "plugin {plugin} is not installed: install it first (shopdb plugin install {plugin})"
        );
    }
    let command = loaded
        .plugin
        .cli_commands()
        .into_iter()
        .find(|c| c.name() == name)
        .with_context(|| format!("plugin {plugin} has no command '{name}'"))?;
    let ctx = shopdb_core::plugin::lifecycle::context(&app.state.db, &app.state.registry, loaded);
    let output = (command.run)(ctx, args).await?;
    print!("{output}");
    Ok(ExitCode::SUCCESS)
}

/// `shopdb plugin migrate NAME --plan`: the steps, numbered as they would be recorded; for a
/// folder plugin, to the model its folder holds (`edited`).
pub(crate) async fn print_plan(
    db: &shopdb_core::db::Db,
    registry: &shopdb_core::plugin::Registry,
    name: &str,
    edited: Option<&shopdb_core::plugin::folder::FolderPlugin>,
) -> anyhow::Result<()> {
    let (pending, plan) = match edited {
        Some(edited) => (
            Vec::new(),
            shopdb_core::plugin::edit::plan(db, registry, edited).await?,
        ),
        None => shopdb_core::plugin::lifecycle::plan_plugin(db, registry, name).await?,
    };
    if pending.is_empty() && plan.steps.is_empty() {
        println!("{name} is up to date");
        return Ok(());
    }
    for (v, n) in &pending {
        println!("{name} {v} {n}");
    }
    let chain = shopdb_core::evolve::model_chain(name);
    let next = migrate::applied(db, &chain)
        .await?
        .iter()
        .map(|a| a.version)
        .max()
        .unwrap_or(0);
    for (v, step) in (next + 1..).zip(&plan.steps) {
        let when = if step.is_lossless() {
            ""
        } else {
            "  (only by `shopdb plugin migrate`)"
        };
        println!("{chain} {v} {}{when}", step.describe());
    }
    Ok(())
}

/// Declared renames and drops an upgrade left for `shopdb plugin migrate NAME`.
pub(crate) fn print_waiting(name: &str, waiting: &[String]) {
    if !waiting.is_empty() {
        println!(
            "{name}: {} declared step(s) wait for `shopdb plugin migrate {name}`: {}",
            waiting.len(),
            waiting.join(", ")
        );
    }
}
