//! Running a plugin's migrations: its hand-written chain, then the planned steps from its
//! recorded model to the one it declares; for one plugin or every installed one.

use std::path::PathBuf;

use super::{LifecycleError, find};
use crate::db::{Db, SqlValue};
use crate::evolve::{self, Mode};
use crate::migrate::{self, Chain, Migration};
use crate::plugin::loaded::{LoadedPlugin, Registry};
use crate::plugin::states::installed;
use crate::util::now;

pub fn chain_of(p: &LoadedPlugin) -> Chain {
    Chain {
        name: p.manifest.name.clone(),
        migrations: p.plugin.migrations(),
    }
}

/// What migrating a plugin did.
#[derive(Debug, Default)]
pub struct Migrated {
    /// Migrations recorded, as (chain, version, name): the plugin's own chain, then its model
    /// chain (`<plugin>.model`).
    pub ran: Vec<(String, i64, String)>,
    /// Declared renames and drops left for `shopdb plugin migrate NAME`.
    pub waiting: Vec<String>,
    /// Backup files written before declared drops.
    pub backups: Vec<PathBuf>,
}

/// Runs the plugin's hand-written chain, then the planned steps from its recorded model to
/// `models()` (as far as `mode` allows).
pub(super) async fn run_chains(
    db: &Db,
    p: &LoadedPlugin,
    mode: &Mode,
) -> Result<Migrated, LifecycleError> {
    let chain = chain_of(p);
    let ran = migrate::upgrade(db, &chain).await?;
    let ran_migrations: Vec<&Migration> = chain
        .migrations
        .iter()
        .filter(|m| ran.iter().any(|(v, _)| *v == m.version))
        .collect();
    evolve::follow(db, &chain.name, &ran_migrations).await?;
    let planned = evolve::apply(db, &chain.name, &p.tables, &chain.migrations, mode).await?;
    let model_chain = evolve::model_chain(&chain.name);
    let mut migrated = Migrated {
        ran: ran
            .into_iter()
            .map(|(v, n)| (chain.name.clone(), v, n))
            .collect(),
        waiting: planned.waiting,
        backups: planned.backups,
    };
    migrated.ran.extend(
        planned
            .ran
            .into_iter()
            .map(|(v, n)| (model_chain.clone(), v, n)),
    );
    Ok(migrated)
}

/// The steps `shopdb plugin migrate NAME` would run for an installed plugin: its pending
/// hand-written migrations and the planned model steps. Changes nothing.
pub async fn plan_plugin(
    db: &Db,
    registry: &Registry,
    name: &str,
) -> Result<(Vec<(i64, String)>, evolve::Plan), LifecycleError> {
    let p = find(registry, name)?;
    if !installed(db).await?.contains_key(name) {
        return Err(LifecycleError::NotInstalled(name.into()));
    }
    let pending = migrate::status(db, &chain_of(p)).await?.pending;
    let plan = evolve::plan(db, name, &p.tables).await?;
    Ok((pending, plan))
}

/// Runs the pending migrations and planned model steps of one installed plugin and records
/// its new version.
pub async fn migrate_plugin(
    db: &Db,
    registry: &Registry,
    name: &str,
    mode: &Mode,
) -> Result<Migrated, LifecycleError> {
    let p = find(registry, name)?;
    if !installed(db).await?.contains_key(name) {
        return Err(LifecycleError::NotInstalled(name.into()));
    }
    let migrated = run_chains(db, p, mode).await?;
    db.execute_write(
        "UPDATE plugins SET version = ?, modifieddate = ? WHERE pluginname = ?",
        &[
            SqlValue::text(&p.manifest.version),
            SqlValue::text(now()),
            SqlValue::text(name),
        ],
    )
    .await?;
    Ok(migrated)
}

/// Pending migrations and lossless planned steps of every installed plugin; per plugin,
/// what ran (or why it failed).
pub async fn upgrade_all(
    db: &Db,
    registry: &Registry,
) -> Result<Vec<(String, Result<Migrated, String>)>, sqlx::Error> {
    let state = installed(db).await?;
    let mut report = Vec::new();
    for p in &registry.loaded {
        if state.contains_key(&p.manifest.name) {
            let outcome = migrate_plugin(db, registry, &p.manifest.name, &Mode::Automatic)
                .await
                .map_err(|e| e.to_string());
            report.push((p.manifest.name.clone(), outcome));
        }
    }
    Ok(report)
}
