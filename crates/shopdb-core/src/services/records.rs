//! What record pages show beyond the record: choices of reference fields, display names of
//! referenced records in history entries, the asset type a plugin owns.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use crate::db::{Db, SqlValue};
use crate::error::DomainError;
use crate::resource::Resource;

/// Most choices offered for one reference field.
pub const MAX_CHOICES: i64 = 2000;

/// One choice of a reference field: the referenced record's id and display name (its id when
/// it has no name).
#[derive(Debug, Serialize)]
pub struct Choice {
    pub value: i64,
    pub label: String,
}

/// The records of a small table (statuses, locations, …) by display name, as choices for a
/// form's select box or a list's filter.
pub async fn choices(
    db: &Db,
    table: &str,
    key: &str,
    display: &str,
) -> Result<Vec<Choice>, DomainError> {
    let sql =
        format!("SELECT {key}, {display} FROM {table} ORDER BY {display} LIMIT {MAX_CHOICES}");
    let rows = db.query(&sql).fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            let value: i64 = r.try_get(0)?;
            let label: Option<String> = r.try_get(1)?;
            Ok(Choice {
                value,
                label: label.unwrap_or_else(|| value.to_string()),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DomainError::from)
}

/// The asset type plugin `plugin` made at install (its first), if any.
pub async fn plugin_asset_type(db: &Db, plugin: &str) -> Result<Option<i64>, DomainError> {
    let row = db
        .query("SELECT assettypeid FROM assettypes WHERE plugin = ? ORDER BY assettypeid")
        .bind(plugin.to_string())
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// How many assets there are.
pub async fn asset_count(db: &Db) -> Result<i64, DomainError> {
    Ok(db
        .query("SELECT COUNT(*) FROM assets")
        .fetch_one(db.pool())
        .await?
        .try_get(0)?)
}

/// Display names of the records that audit entries of `res` point at by id (status 1 → In
/// Service), by (column, id): one query per referenced table.
pub async fn reference_names(
    db: &Db,
    res: &Resource,
    history: &[Value],
) -> Result<HashMap<(String, i64), String>, DomainError> {
    let mut names = HashMap::new();
    for l in &res.lookups {
        let mut ids: Vec<i64> = history
            .iter()
            .flat_map(|e| ["before", "after"].map(|side| e["changes"][side][&l.column].as_i64()))
            .flatten()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            continue;
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let binds: Vec<SqlValue> = ids.iter().map(|i| SqlValue::Int(*i)).collect();
        let sql = format!(
            "SELECT {key}, {display} FROM {table} WHERE {key} IN ({marks})",
            key = l.key,
            display = l.display,
            table = l.table
        );
        for r in &db.query_with(&sql, &binds).fetch_all(db.pool()).await? {
            if let Some(name) = r.try_get::<Option<String>, _>(1)? {
                names.insert((l.column.clone(), r.try_get::<i64, _>(0)?), name);
            }
        }
    }
    Ok(names)
}
