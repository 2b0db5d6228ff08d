//! Uninstalling a plugin: its hook, a backup of its rows, its tables, migration records,
//! search entries and settings removed; core data stays.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::{LifecycleError, audit_plugin, context, dependents_of, find};
use crate::audit::Action;
use crate::auth::Actor;
use crate::db::{Db, Dialect};
use crate::plugin::loaded::{LoadedPlugin, Registry};
use crate::plugin::states::installed;
use crate::util::now;
use crate::{evolve, migrate};

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
    let mut statements = vec![
        "DELETE FROM settings WHERE scope = ?",
        "DELETE FROM searchindex WHERE plugin = ?",
    ];
    // Its assets' own entries show again; on MySQL their word endings first, found through
    // the entries (the endings have no index on `aside`: millions of rows to read and lock).
    if db.dialect() == Dialect::MySql {
        statements.push(
            "UPDATE searchsuffixes x JOIN searchindex a ON a.searchid = x.searchid \
             SET x.aside = NULL WHERE a.extendedby = ?",
        );
    }
    statements.extend([
        "UPDATE searchindex SET extendedby = NULL WHERE extendedby = ?",
        "DELETE FROM plugins WHERE pluginname = ?",
        crate::plugin::folder::store::DELETE_SQL,
    ]);
    for sql in statements {
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

pub(super) async fn drop_tables(db: &Db, p: &LoadedPlugin) -> Result<(), sqlx::Error> {
    db.forget_counts();
    // Children first: a plugin lists its tables parents first.
    for table in p.tables.iter().rev() {
        db.execute_write(&table.drop_sql(), &[]).await?;
    }
    Ok(())
}
