//! The check-in side of a push: locks in one order, the heartbeat field stored as sent, and "last seen" on every record a push names.

use std::collections::HashMap;

use serde_json::{Map, Value};
use sqlx::AnyConnection;

use crate::db::{Db, SqlValue};
use crate::error::DomainError;
use crate::plugin::CollectorSchema;
use crate::resource::{Resource, to_sql_value};
use crate::util::now;

use super::parts::*;

/// The heartbeat value a record carries, in its column's stored form (None when it sends
/// none); a value that is not valid for the column rejects the record like any field.
pub(crate) fn heartbeat_value(
    res: &Resource,
    schema: &CollectorSchema,
    record: &Map<String, Value>,
) -> Result<Option<SqlValue>, DomainError> {
    let Some(field) = &schema.heartbeat else {
        return Ok(None);
    };
    let Some(raw) = record.get(field).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let column = res
        .extension
        .as_ref()
        .and_then(|e| e.get(field))
        .or_else(|| res.table.get(field));
    match column {
        Some(column) => to_sql_value(column, raw)
            .map(Some)
            .map_err(|why| DomainError::field(field, why)),
        None => Ok(None),
    }
}

/// Records that every record of the batch was seen now by this collector (server time), and
/// stores each heartbeat value as sent. Neither is a change of the record: no audit entry,
/// no new version, no search entry.
pub(crate) async fn mark_seen(
    push: &Push<'_>,
    conn: &mut AnyConnection,
    seen: &[i64],
    heartbeats: &[(i64, SqlValue)],
    stored: &HashMap<i64, Map<String, Value>>,
) -> Result<(), sqlx::Error> {
    let Push {
        db,
        actor,
        res,
        schema,
    } = *push;
    let at = now();
    let by: String = actor.name.chars().take(100).collect();
    for chunk in seen.chunks(500) {
        let mut binds = vec![SqlValue::text(&at), SqlValue::text(&by)];
        binds.extend(chunk.iter().map(|id| SqlValue::Int(*id)));
        db.query_with(
            &format!(
                "UPDATE assets SET lastseen = ?, lastseenby = ? WHERE assetid IN ({})",
                vec!["?"; chunk.len()].join(", ")
            ),
            &binds,
        )
        .execute(&mut *conn)
        .await?;
    }
    let Some(field) = &schema.heartbeat else {
        return Ok(());
    };
    let table = match &res.extension {
        Some(ext) if ext.get(field).is_some() => ext,
        _ => &res.table,
    };
    // One statement for the batch's check-in times (those that moved).
    let moved: Vec<(i64, &SqlValue)> = heartbeats
        .iter()
        .filter(|(id, value)| {
            stored
                .get(id)
                .is_none_or(|before| before.get(field) != Some(&value.to_json()))
        })
        .map(|(id, value)| (*id, value))
        .collect();
    res.set_each(db, conn, table, field, &moved).await?;
    Ok(())
}

/// Locks the asset rows `ids` (in the order given) for the rest of the transaction. SQLite
/// needs nothing: its write transaction already holds the whole database.
pub(crate) async fn lock_rows(
    db: &Db,
    conn: &mut AnyConnection,
    ids: &[i64],
) -> Result<(), sqlx::Error> {
    if db.dialect() == crate::db::Dialect::Sqlite || ids.is_empty() {
        return Ok(());
    }
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    for chunk in sorted.chunks(500) {
        let binds: Vec<SqlValue> = chunk.iter().map(|id| SqlValue::Int(*id)).collect();
        db.query_with(
            &format!(
                "SELECT assetid FROM assets WHERE assetid IN ({}) ORDER BY assetid FOR UPDATE",
                vec!["?"; chunk.len()].join(", ")
            ),
            &binds,
        )
        .fetch_all(&mut *conn)
        .await?;
    }
    Ok(())
}
