//! Undoing an applied import batch as a whole: every record it created is deleted and every
//! record it changed gets its fields back, in one transaction, audited like any write. Only
//! while no later change touched its records; otherwise the undo names them and does nothing.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Row};

use crate::auth::Actor;
use crate::db::{Db, SqlValue};
use crate::error::DomainError;
use crate::resource::{Resource, finish};
use crate::schema::Table;
use crate::util::now;

#[derive(Clone, Debug, Serialize)]
pub struct UndoReport {
    pub batchid: String,
    /// Records the batch created, now deleted.
    pub deleted: u64,
    /// Records the batch changed, now as they were.
    pub restored: u64,
}

/// One audit entry of the batch.
struct Entry {
    auditid: i64,
    action: String,
    entitytype: String,
    entityid: i64,
    before: Map<String, Value>,
}

async fn batch_entries(
    db: &Db,
    conn: &mut AnyConnection,
    batch: &str,
) -> Result<Vec<Entry>, DomainError> {
    let rows = db
        .query_with(
            "SELECT auditid, action, entitytype, entityid, changes FROM auditlog WHERE batchid = ? AND entityid IS NOT NULL ORDER BY auditid",
            &[SqlValue::text(batch)],
        )
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            let changes: String = r.try_get(4)?;
            let changes: Value = serde_json::from_str(&changes).unwrap_or_default();
            Ok(Entry {
                auditid: r.try_get(0)?,
                action: r.try_get(1)?,
                entitytype: r.try_get(2)?,
                entityid: r.try_get(3)?,
                before: changes["before"].as_object().cloned().unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(DomainError::from)
}

/// Records of the batch that a change outside it touched afterwards, as `entity id (name)`.
async fn touched_later(
    db: &Db,
    conn: &mut AnyConnection,
    batch: &str,
    entries: &[Entry],
) -> Result<Vec<String>, DomainError> {
    let mut last: HashMap<(&str, i64), i64> = HashMap::new();
    for e in entries {
        last.insert((e.entitytype.as_str(), e.entityid), e.auditid);
    }
    let mut by_type: HashMap<&str, Vec<i64>> = HashMap::new();
    for (t, id) in last.keys() {
        by_type.entry(*t).or_default().push(*id);
    }
    let mut out = Vec::new();
    for (entitytype, ids) in by_type {
        for chunk in ids.chunks(500) {
            let mut binds = vec![SqlValue::text(entitytype), SqlValue::text(batch)];
            binds.extend(chunk.iter().map(|id| SqlValue::Int(*id)));
            let sql = format!(
                "SELECT entityid, auditid, entityname, actorname FROM auditlog WHERE entitytype = ? AND (batchid IS NULL OR batchid <> ?) AND entityid IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            for r in db.query_with(&sql, &binds).fetch_all(&mut *conn).await? {
                let (id, auditid): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
                if last
                    .get(&(entitytype, id))
                    .is_some_and(|mine| auditid > *mine)
                {
                    let name: Option<String> = r.try_get(2)?;
                    let by: String = r.try_get(3)?;
                    let text = format!(
                        "{entitytype} {id} ({}, changed by {by})",
                        name.unwrap_or_default()
                    );
                    if !out.contains(&text) {
                        out.push(text);
                    }
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The resource that writes `entitytype`: the batch's own resource first (an extended
/// record is audited as an asset), else the one whose entity it is.
fn resource_for<'a>(
    main: &'a Resource,
    resources: &'a [Arc<Resource>],
    entitytype: &str,
) -> Option<&'a Resource> {
    if main.audit_entity() == entitytype {
        return Some(main);
    }
    resources
        .iter()
        .find(|r| r.extension.is_none() && r.audit_entity() == entitytype)
        .map(|r| &**r)
}

/// Undoes import batch `batch` (see the module comment). `tables` are every table, for the
/// reference checks of deletes.
pub async fn undo(
    db: &Db,
    actor: &Actor,
    batch: &str,
    resources: &[Arc<Resource>],
    tables: &[Table],
) -> Result<UndoReport, DomainError> {
    let mut tx = db.begin().await?;
    let result = undo_in(db, &mut tx, actor, batch, resources, tables).await;
    finish(db, tx, result).await
}

async fn undo_in(
    db: &Db,
    conn: &mut AnyConnection,
    actor: &Actor,
    batch: &str,
    resources: &[Arc<Resource>],
    tables: &[Table],
) -> Result<UndoReport, DomainError> {
    let found = db
        .query_with(
            "SELECT resource, undonedate, undoneby FROM importbatches WHERE batchid = ?",
            &[SqlValue::text(batch)],
        )
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| DomainError::not_found(format!("no import batch {batch}")))?;
    let path: String = found.try_get(0)?;
    if let Some(at) = found.try_get::<Option<String>, _>(1)? {
        let by: Option<String> = found.try_get(2)?;
        return Err(DomainError::conflict(format!(
            "import batch {batch} was undone at {at} by {}",
            by.unwrap_or_default()
        )));
    }
    let main = resources.iter().find(|r| r.path == path).ok_or_else(|| {
        DomainError::conflict(format!(
            "import batch {batch} went into {path}, which is not available now"
        ))
    })?;
    let entries = batch_entries(db, conn, batch).await?;
    let later = touched_later(db, conn, batch, &entries).await?;
    if !later.is_empty() {
        return Err(DomainError::conflict(format!(
            "import batch {batch} cannot be undone: {} of its records changed since (undo or redo those changes first): {}",
            later.len(),
            later.join("; ")
        ))
        .with_details(json!({"changedsince": later})));
    }
    let undoer = Actor {
        batch: Some(format!("undo-{batch}")),
        ..actor.clone()
    };
    let mut report = UndoReport {
        batchid: batch.to_string(),
        deleted: 0,
        restored: 0,
    };
    for e in entries.iter().rev() {
        let Some(res) = resource_for(main, resources, &e.entitytype) else {
            continue;
        };
        match e.action.as_str() {
            // Already gone with its parent (a cascade) is fine.
            "created" if res.fetch(db, conn, e.entityid).await?.is_some() => {
                res.remove(db, conn, &undoer, e.entityid, tables).await?;
                report.deleted += 1;
            }
            "updated" => {
                let Some(current) = res.fetch(db, conn, e.entityid).await? else {
                    continue;
                };
                let values = res.validate(db, conn, &e.before, Some(&current)).await?;
                res.update_values(db, conn, &undoer, &current, values, None)
                    .await?;
                report.restored += 1;
            }
            _ => {}
        }
    }
    db.query_with(
        "UPDATE importbatches SET undonedate = ?, undoneby = ? WHERE batchid = ?",
        &[
            SqlValue::text(now()),
            SqlValue::text(actor.name.chars().take(100).collect::<String>()),
            SqlValue::text(batch),
        ],
    )
    .execute(&mut *conn)
    .await?;
    Ok(report)
}
