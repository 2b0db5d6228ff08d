//! `shopdb plugin restore FILE`: brings back the rows of a plugin from the backup its
//! uninstall wrote (see `lifecycle::uninstall`), with the same ids and fields.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use super::lifecycle::{self, installed};
use super::loaded::{LoadedPlugin, Registry};
use crate::audit::Action;
use crate::auth::Actor;
use crate::db::{Db, SqlValue};
use crate::portable;
use crate::schema::Table;

/// What a plugin restore did.
#[derive(Debug, serde::Serialize)]
pub struct PluginRestored {
    pub plugin: String,
    pub rows: usize,
    /// The plugin was not installed, and the restore installed it.
    pub installed: bool,
}

/// An uninstall backup as written by `lifecycle::uninstall`.
struct UninstallBackup {
    plugin: String,
    version: String,
    tables: Map<String, Value>,
}

fn read_backup(file: &Path) -> anyhow::Result<UninstallBackup> {
    let text = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let not_one = || {
        format!(
            "{} is not a plugin uninstall backup (a JSON file with plugin, version and tables)",
            file.display()
        )
    };
    let body: Value = serde_json::from_slice(&text).with_context(not_one)?;
    let field = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_string);
    match (field("plugin"), field("version"), body.get("tables")) {
        (Some(plugin), Some(version), Some(Value::Object(tables))) => Ok(UninstallBackup {
            plugin,
            version,
            tables: tables.clone(),
        }),
        _ => bail!(not_one()),
    }
}

/// Refuses a backup whose plugin version this build's plugin cannot take: another major
/// version, a newer version, or a table or field the plugin does not have.
fn check_fits(backup: &UninstallBackup, p: &LoadedPlugin) -> anyhow::Result<()> {
    let (name, have) = (&backup.plugin, &p.manifest.version);
    let misfit = || {
        format!(
            "the backup is of {name} {}, which does not fit {name} {have} of this build: restore it with a build that has {name} {}",
            backup.version, backup.version
        )
    };
    let taken = semver::Version::parse(&backup.version).map_err(|_| anyhow::anyhow!(misfit()))?;
    let current = semver::Version::parse(have).map_err(|_| anyhow::anyhow!(misfit()))?;
    if taken.major != current.major || taken > current {
        bail!(misfit());
    }
    for (table, rows) in &backup.tables {
        let Some(description) = p.tables.iter().find(|t| &t.name == table) else {
            bail!("{}: {name} {have} has no table {table}", misfit());
        };
        let fields = rows
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .flat_map(|r| r.keys());
        for field in fields {
            if description.get(field).is_none() {
                bail!("{}: table {table} has no field {field}", misfit());
            }
        }
    }
    Ok(())
}

/// Restores the uninstall backup in `file`: installs the plugin when it is not installed,
/// refuses when its tables hold rows, then loads every row in one transaction with its ids,
/// audited, and indexes the records for search. A failure changes nothing: the rows are
/// rolled back and a plugin installed by this restore is uninstalled again.
pub async fn restore_plugin(
    db: &Db,
    registry: &Registry,
    actor: &Actor,
    file: &Path,
) -> anyhow::Result<PluginRestored> {
    let backup = read_backup(file)?;
    let name = backup.plugin.clone();
    let Some(p) = registry.get(&name) else {
        bail!("the backup is of plugin {name}, which this build does not include");
    };
    check_fits(&backup, p)?;
    let was_installed = installed(db).await?.contains_key(&name);
    if was_installed {
        refuse_rows(db, p).await?;
    } else {
        lifecycle::install(db, registry, actor, &name).await?;
    }
    let loaded = load(db, p, actor, &backup, file).await;
    let rows = match loaded {
        Ok(rows) => rows,
        Err(e) if !was_installed => {
            let scratch = std::env::temp_dir()
                .join(format!("shopdb-restore-{}", crate::util::random_token(6)));
            let undone = lifecycle::uninstall(db, registry, actor, &name, false, &scratch).await;
            let _ = std::fs::remove_dir_all(&scratch);
            return Err(match undone {
                Ok(_) => e.context(format!(
                    "nothing was restored; {name}, installed for the restore, was uninstalled again"
                )),
                Err(u) => e.context(format!(
                    "nothing was restored, but {name} (installed for the restore) could not be uninstalled again: {u}"
                )),
            });
        }
        Err(e) => return Err(e.context("nothing was restored")),
    };
    for res in &p.resources {
        res.reindex_all(db).await.with_context(|| {
            format!(
                "the rows are back, but indexing {} for search failed (run shopdb reindex-search)",
                res.path
            )
        })?;
    }
    Ok(PluginRestored {
        plugin: name,
        rows,
        installed: !was_installed,
    })
}

async fn refuse_rows(db: &Db, p: &LoadedPlugin) -> anyhow::Result<()> {
    use sqlx::Row;
    for table in &p.tables {
        let n: i64 = db
            .query(&format!("SELECT COUNT(*) FROM {}", table.name))
            .fetch_one(db.pool())
            .await?
            .try_get(0)?;
        if n > 0 {
            bail!(
                "plugin {} has {n} rows in {}: a backup is only restored into a plugin without records",
                p.manifest.name,
                table.name
            );
        }
    }
    Ok(())
}

/// Loads the rows of every table, parents first, in one transaction with its audit entry.
async fn load(
    db: &Db,
    p: &LoadedPlugin,
    actor: &Actor,
    backup: &UninstallBackup,
    file: &Path,
) -> anyhow::Result<usize> {
    let mut tx = db.begin().await?;
    let mut total = 0;
    for table in &p.tables {
        let Some(Value::Array(rows)) = backup.tables.get(&table.name) else {
            continue;
        };
        total += load_table(db, &mut tx, table, rows)
            .await
            .with_context(|| format!("cannot restore table {}", table.name))?;
    }
    let after = json!({"restoredfrom": file.display().to_string(), "version": backup.version, "rows": total});
    lifecycle::audit_plugin(
        db,
        &mut tx,
        actor,
        &p.manifest.name,
        (Action::Updated, json!({"rows": 0}), after),
    )
    .await?;
    tx.commit().await?;
    db.forget_counts();
    Ok(total)
}

async fn load_table(
    db: &Db,
    conn: &mut sqlx::AnyConnection,
    table: &Table,
    rows: &[Value],
) -> anyhow::Result<usize> {
    // The fields the backup has, in the table's order; a newer model's other columns take
    // their defaults.
    let columns: Vec<&crate::schema::Column> = table
        .columns
        .iter()
        .filter(|c| rows.iter().any(|r| r.get(&c.name).is_some()))
        .collect();
    let mut values = Vec::with_capacity(rows.len());
    for (n, row) in rows.iter().enumerate() {
        let row: Vec<SqlValue> = columns
            .iter()
            .map(|c| {
                portable::to_sql(row.get(&c.name).unwrap_or(&Value::Null), c.ty)
                    .map_err(|e| anyhow::anyhow!("row {}, field {}: {e}", n + 1, c.name))
            })
            .collect::<anyhow::Result<_>>()?;
        values.push(row);
    }
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    portable::insert_rows(db, conn, &table.name, &names, &values).await?;
    if let Some(id) = table
        .columns
        .iter()
        .find(|c| c.ty == crate::schema::ColumnType::Id)
    {
        portable::reset_identity(db, conn, &table.name, &id.name).await?;
    }
    Ok(values.len())
}
