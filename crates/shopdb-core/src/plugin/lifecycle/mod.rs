//! Installing, enabling, disabling and uninstalling plugins. State lives in the `plugins`
//! table, so every server process on the database sees the same thing. This file installs
//! and enables; `uninstall` removes a plugin, `migrate` runs its chains, `status` holds the
//! actions, the list of plugins with their states and the reasons an action is refused.

mod chains;
mod status;
mod uninstall;

use serde_json::{Map, Value, json};

use super::context::PluginContext;
use super::loaded::{LoadedPlugin, Registry};
use crate::audit::{self, Action};
use crate::auth::Actor;
use crate::db::{Db, SqlValue};
use crate::evolve::{self, Mode};
use crate::migrate;
use crate::util::now;
use chains::run_chains;
use uninstall::drop_tables;

pub use super::states::{DISABLED, ENABLED, PluginState, installed};
pub use chains::{Migrated, chain_of, migrate_plugin, plan_plugin, upgrade_all};
pub use status::{LifecycleAction, LifecycleError, PluginStatus, list};
pub use uninstall::{Uninstalled, uninstall};

pub fn context(db: &Db, registry: &Registry, p: &LoadedPlugin) -> PluginContext {
    PluginContext {
        db: db.clone(),
        plugin: p.manifest.name.clone(),
        services: registry.services.clone(),
        settings: p.settings.clone(),
    }
}

/// Plugins that declare a dependency on `name` and pass `keep` (given their name).
fn dependents_of(
    registry: &Registry,
    name: &str,
    keep: impl Fn(&str) -> bool,
) -> Result<(), LifecycleError> {
    let dependents: Vec<String> = registry
        .loaded
        .iter()
        .filter(|o| o.manifest.dependencies.iter().any(|d| d == name) && keep(&o.manifest.name))
        .map(|o| o.manifest.name.clone())
        .collect();
    if dependents.is_empty() {
        Ok(())
    } else {
        Err(LifecycleError::HasDependents {
            plugin: name.into(),
            dependents: dependents.join(", "),
        })
    }
}

fn find<'a>(registry: &'a Registry, name: &str) -> Result<&'a LoadedPlugin, LifecycleError> {
    if let Some(p) = registry.get(name) {
        return Ok(p);
    }
    match registry.quarantined(name) {
        Some(q) => Err(LifecycleError::Quarantined {
            name: name.into(),
            reason: q.error.to_string(),
        }),
        None => Err(LifecycleError::Unknown(name.into())),
    }
}

/// Runs `sql` on the plugins table (and `also`) with an audit entry for plugin `name`, in one
/// transaction.
async fn write_state(
    db: &Db,
    actor: &Actor,
    name: &str,
    (action, before, after): (Action, Value, Value),
    (sql, values): (&str, &[SqlValue]),
    also: Option<(&str, Vec<SqlValue>)>,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    db.query_with(sql, values).execute(&mut *tx).await?;
    if let Some((sql, values)) = also {
        db.query_with(sql, &values).execute(&mut *tx).await?;
    }
    audit_plugin(db, &mut tx, actor, name, (action, before, after)).await?;
    tx.commit().await
}

/// The audit entry of a change to plugin `name`'s state, on the change's own transaction.
pub(super) async fn audit_plugin(
    db: &Db,
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    name: &str,
    (action, before, after): (Action, Value, Value),
) -> Result<(), sqlx::Error> {
    let empty = Map::new();
    audit::record(
        db,
        conn,
        actor,
        audit::Entry {
            action,
            entitytype: "plugin",
            entityid: None,
            entityname: Some(name),
            before: before.as_object().unwrap_or(&empty),
            after: after.as_object().unwrap_or(&empty),
        },
    )
    .await?;
    Ok(())
}

/// Installs `name`: checks dependencies, runs its migrations and on_install, records it enabled.
/// A failure undoes the migrations so a retry starts clean.
pub async fn install(
    db: &Db,
    registry: &Registry,
    actor: &Actor,
    name: &str,
) -> Result<Vec<(String, i64, String)>, LifecycleError> {
    let p = find(registry, name)?;
    let state = installed(db).await?;
    if state.contains_key(name) {
        return Err(LifecycleError::AlreadyInstalled(name.into()));
    }
    if let Some(dep) = p
        .manifest
        .dependencies
        .iter()
        .find(|d| !state.contains_key(*d))
    {
        return Err(LifecycleError::DependencyNotInstalled {
            plugin: name.into(),
            dependency: dep.clone(),
        });
    }
    let ran = run_chains(db, p, &Mode::Automatic).await?.ran;
    db.forget_counts();
    let ctx = context(db, registry, p);
    if let Err(e) = p.plugin.on_install(&ctx).await {
        // Undo only what this install created: tables kept by `uninstall --keep-data` stay.
        if !ran.is_empty() {
            drop_tables(db, p).await?;
            migrate::forget_chain(db, name).await?;
            evolve::forget(db, name).await?;
        }
        return Err(LifecycleError::Failed {
            plugin: name.into(),
            step: "on_install".into(),
            reason: format!("{e:#}"),
        });
    }
    let stamp = now();
    let version = &p.manifest.version;
    write_state(
        db,
        actor,
        name,
        (Action::Created, json!({}), json!({"version": version, "state": ENABLED})),
        ("INSERT INTO plugins (pluginname, version, state, installeddate, modifieddate) VALUES (?, ?, ?, ?, ?)",
        &[SqlValue::text(name), SqlValue::text(version), SqlValue::text(ENABLED), SqlValue::text(&stamp), SqlValue::text(&stamp)]),
        // A folder plugin's model goes with it, for every other server process to load.
        p.plugin.folder().map(|f| super::folder::store::save_statement(name, f.sources())),
    )
    .await?;
    if let Err(e) = p.plugin.on_enable(&ctx).await {
        tracing::warn!(plugin = name, error = %e, "on_enable failed after install");
    }
    Ok(ran)
}

/// Enables or disables an installed plugin, running on_enable / on_disable.
pub async fn set_enabled(
    db: &Db,
    registry: &Registry,
    actor: &Actor,
    name: &str,
    enabled: bool,
) -> Result<(), LifecycleError> {
    let p = find(registry, name)?;
    let state = installed(db).await?;
    let Some((_, current)) = state.get(name) else {
        return Err(LifecycleError::NotInstalled(name.into()));
    };
    let wanted = if enabled { ENABLED } else { DISABLED };
    if current == wanted {
        return Ok(());
    }
    if enabled
        && let Some(dep) = p
            .manifest
            .dependencies
            .iter()
            .find(|d| state.get(*d).is_none_or(|(_, s)| s != ENABLED))
    {
        return Err(LifecycleError::DependencyNotInstalled {
            plugin: name.into(),
            dependency: dep.clone(),
        });
    }
    if !enabled {
        dependents_of(registry, name, |n| {
            state.get(n).is_some_and(|(_, s)| s == ENABLED)
        })?;
    }
    let ctx = context(db, registry, p);
    let hook = if enabled {
        p.plugin.on_enable(&ctx).await
    } else {
        p.plugin.on_disable(&ctx).await
    };
    hook.map_err(|e| LifecycleError::Failed {
        plugin: name.into(),
        step: if enabled { "on_enable" } else { "on_disable" }.into(),
        reason: format!("{e:#}"),
    })?;
    write_state(
        db,
        actor,
        name,
        (
            Action::Updated,
            json!({"state": current}),
            json!({"state": wanted}),
        ),
        (
            "UPDATE plugins SET state = ?, modifieddate = ? WHERE pluginname = ?",
            &[
                SqlValue::text(wanted),
                SqlValue::text(now()),
                SqlValue::text(name),
            ],
        ),
        None,
    )
    .await?;
    Ok(())
}
