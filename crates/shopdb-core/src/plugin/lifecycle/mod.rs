//! Installing, enabling, disabling and uninstalling plugins. State lives in the `plugins`
//! table, so every server process on the database sees the same thing.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::context::PluginContext;
use super::loaded::{LoadedPlugin, Registry};
use crate::audit::{self, Action};
use crate::auth::Actor;
use crate::db::{Db, SqlValue};
use crate::evolve::{self, Mode};
use crate::migrate::{self, Chain, Migration};
use crate::util::now;

pub use super::states::{DISABLED, ENABLED, PluginState, installed};

/// What an admin can do to a plugin (`POST /api/plugins/{name}/{action}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleAction {
    Install,
    Enable,
    Disable,
    Uninstall,
}

impl LifecycleAction {
    pub const ALL: [LifecycleAction; 4] = [
        LifecycleAction::Install,
        LifecycleAction::Enable,
        LifecycleAction::Disable,
        LifecycleAction::Uninstall,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleAction::Install => "install",
            LifecycleAction::Enable => "enable",
            LifecycleAction::Disable => "disable",
            LifecycleAction::Uninstall => "uninstall",
        }
    }

    /// The actions open to a plugin in `state`.
    pub fn open_to(state: PluginState) -> &'static [LifecycleAction] {
        match state {
            PluginState::Available => &[LifecycleAction::Install],
            PluginState::Enabled => &[LifecycleAction::Disable, LifecycleAction::Uninstall],
            PluginState::Disabled => &[LifecycleAction::Enable, LifecycleAction::Uninstall],
            PluginState::Quarantined => &[],
        }
    }
}

impl std::str::FromStr for LifecycleAction {
    type Err = String;
    fn from_str(s: &str) -> Result<LifecycleAction, String> {
        LifecycleAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                format!("unknown plugin action '{s}': use install, enable, disable or uninstall")
            })
    }
}

impl std::fmt::Display for LifecycleAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of `plugin list` / one entry of `/api/plugins`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PluginStatus {
    pub name: String,
    pub version: String,
    pub state: PluginState,
    pub reason: Option<String>,
}

/// Every known plugin with its state: loaded ones, quarantined ones, and installed ones this
/// build no longer has (their data is left alone).
pub async fn list(db: &Db, registry: &Registry) -> Result<Vec<PluginStatus>, sqlx::Error> {
    let installed = installed(db).await?;
    let mut out: Vec<PluginStatus> = registry
        .loaded
        .iter()
        .map(|p| PluginStatus {
            name: p.manifest.name.clone(),
            version: p.manifest.version.clone(),
            state: installed
                .get(&p.manifest.name)
                .map(|(_, s)| PluginState::from_stored(s))
                .unwrap_or(PluginState::Available),
            reason: None,
        })
        .collect();
    for q in &registry.quarantined {
        out.push(PluginStatus {
            name: q.name.clone(),
            version: q.version.clone(),
            state: PluginState::Quarantined,
            reason: Some(q.error.to_string()),
        });
    }
    for (name, (version, _)) in &installed {
        if !out.iter().any(|p| &p.name == name) {
            out.push(PluginStatus {
                name: name.clone(),
                version: version.clone(),
                state: PluginState::Quarantined,
                reason: Some(format!(
                    "{name} is installed but this build does not include it; its data is kept"
                )),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Why a lifecycle action was refused.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("no plugin named '{0}' is available (see `shopdb plugin list`)")]
    Unknown(String),
    #[error("plugin {name} is quarantined: {reason}")]
    Quarantined { name: String, reason: String },
    #[error("plugin {0} is already installed")]
    AlreadyInstalled(String),
    #[error("plugin {0} is not installed: install it first")]
    NotInstalled(String),
    #[error(
        "plugin {plugin} needs {dependency} installed first: shopdb plugin install {dependency}"
    )]
    DependencyNotInstalled { plugin: String, dependency: String },
    #[error(
        "plugin {plugin} cannot be removed while {dependents} depend on it; uninstall those first"
    )]
    HasDependents { plugin: String, dependents: String },
    #[error("plugin {plugin}: {step} failed: {reason}")]
    Failed {
        plugin: String,
        step: String,
        reason: String,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] migrate::MigrateError),
    #[error(transparent)]
    Evolve(#[from] evolve::EvolveError),
}

impl LifecycleError {
    /// The HTTP status this refusal maps to.
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            LifecycleError::Unknown(_) => ErrorKind::NotFound,
            LifecycleError::Evolve(evolve::EvolveError::Refused { .. }) => ErrorKind::Conflict,
            LifecycleError::Database(_)
            | LifecycleError::Evolve(_)
            | LifecycleError::Migrate(_)
            | LifecycleError::Failed { .. } => ErrorKind::Internal,
            _ => ErrorKind::Conflict,
        }
    }
}

pub fn chain_of(p: &LoadedPlugin) -> Chain {
    Chain {
        name: p.manifest.name.clone(),
        migrations: p.plugin.migrations(),
    }
}

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

async fn drop_tables(db: &Db, p: &LoadedPlugin) -> Result<(), sqlx::Error> {
    db.forget_counts();
    // Children first: a plugin lists its tables parents first.
    for table in p.tables.iter().rev() {
        db.query(&table.drop_sql()).execute(db.pool()).await?;
    }
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

/// What uninstall did.
#[derive(Debug, serde::Serialize)]
pub struct Uninstalled {
    /// File holding a JSON copy of the plugin's rows, when data was removed.
    pub backup: Option<PathBuf>,
    pub rows: usize,
}

/// Uninstalls `name`: refused while installed plugins depend on it; otherwise on_uninstall,
/// a backup of its rows, its tables dropped (unless `keep_data`), its migration records, search
/// entries and settings removed. Core data (assets) stays.
pub async fn uninstall(
    db: &Db,
    registry: &Registry,
    actor: &Actor,
    name: &str,
    keep_data: bool,
    backup_dir: &Path,
) -> Result<Uninstalled, LifecycleError> {
    let p = find(registry, name)?;
    let state = installed(db).await?;
    if !state.contains_key(name) {
        return Err(LifecycleError::NotInstalled(name.into()));
    }
    dependents_of(registry, name, |n| state.contains_key(n))?;
    let ctx = context(db, registry, p);
    p.plugin
        .on_uninstall(&ctx)
        .await
        .map_err(|e| LifecycleError::Failed {
            plugin: name.into(),
            step: "on_uninstall".into(),
            reason: format!("{e:#}"),
        })?;
    let mut result = Uninstalled {
        backup: None,
        rows: 0,
    };
    if !keep_data {
        let mut dump = Map::new();
        for table in &p.tables {
            let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
            let rows = db
                .query(&format!(
                    "SELECT {} FROM {}",
                    columns.join(", "),
                    table.name
                ))
                .fetch_all(db.pool())
                .await?;
            let mut out = Vec::new();
            for row in &rows {
                let mut m = Map::new();
                for (i, c) in table.columns.iter().enumerate() {
                    // By column type, bytes as base64: what `plugin restore` reads back.
                    m.insert(c.name.clone(), crate::portable::read_value(row, i, c.ty)?);
                }
                out.push(Value::Object(m));
            }
            result.rows += out.len();
            dump.insert(table.name.clone(), Value::Array(out));
        }
        std::fs::create_dir_all(backup_dir).map_err(|e| LifecycleError::Failed {
            plugin: name.into(),
            step: "backup".into(),
            reason: format!("cannot create {}: {e}", backup_dir.display()),
        })?;
        // Timestamp for people, a random tail so two uninstalls in one second never collide.
        let file = backup_dir.join(format!(
            "{name}-{}-{}.json",
            now().replace(':', ""),
            crate::util::random_token(4)
        ));
        let body = json!({"plugin": name, "version": p.manifest.version, "takenat": now(), "tables": dump});
        crate::util::write_private(&file, &serde_json::to_vec_pretty(&body).unwrap_or_default())
            .map_err(|e| LifecycleError::Failed {
                plugin: name.into(),
                step: "backup".into(),
                reason: format!("cannot write {}: {e}", file.display()),
            })?;
        result.backup = Some(file);
        drop_tables(db, p).await?;
        migrate::forget_chain(db, name).await?;
        evolve::forget(db, name).await?;
    }
    let mut tx = db.begin().await?;
    for sql in [
        "DELETE FROM settings WHERE scope = ?",
        "DELETE FROM searchindex WHERE plugin = ?",
        "DELETE FROM plugins WHERE pluginname = ?",
        super::folder::store::DELETE_SQL,
    ] {
        db.query(sql)
            .bind(name.to_string())
            .execute(&mut *tx)
            .await?;
    }
    let (version, state) = &state[name];
    let before = json!({"version": version, "state": state});
    let after = json!({"datakept": keep_data, "backup": result.backup, "rows": result.rows});
    audit_plugin(db, &mut tx, actor, name, (Action::Deleted, before, after)).await?;
    tx.commit().await?;
    Ok(result)
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
async fn run_chains(db: &Db, p: &LoadedPlugin, mode: &Mode) -> Result<Migrated, LifecycleError> {
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
    db.query_with(
        "UPDATE plugins SET version = ?, modifieddate = ? WHERE pluginname = ?",
        &[
            SqlValue::text(&p.manifest.version),
            SqlValue::text(now()),
            SqlValue::text(name),
        ],
    )
    .execute(db.pool())
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
