//! One record at a time: updating a matched record, creating a new one with an asset number made from its identity.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Connection, Row};

use crate::db::{Db, SqlValue};
use crate::error::DomainError;

use super::matching::*;
use super::parts::*;

/// Applies a record that matched the stored record `before`: only the fields that differ go
/// through the checks and the write, so a push that repeats what is stored costs one read.
pub(crate) async fn update_one(
    push: &Push<'_>,
    conn: &mut AnyConnection,
    record: &Map<String, Value>,
    before: &Map<String, Value>,
    matched_by: Option<String>,
) -> Result<Value, DomainError> {
    let Push {
        db,
        actor,
        res,
        schema,
    } = *push;
    let id = before
        .get(res.key())
        .and_then(Value::as_i64)
        .unwrap_or_default();
    let record = differences(schema, record, before);
    let matchedby = matched_by.unwrap_or_else(|| schema.identityfield.clone());
    if record.is_empty() {
        return Ok(
            json!({"status": Outcome::Unchanged, "assetid": id, "changed": [], "matchedby": matchedby}),
        );
    }
    let values = res.validate(db, conn, &record, Some(before)).await?;
    let after = res
        .update_values(db, conn, actor, before, values, None)
        .await?;
    let changed: Vec<&String> = record
        .keys()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    let status = if changed.is_empty() {
        Outcome::Unchanged
    } else {
        Outcome::Updated
    };
    Ok(json!({"status": status, "assetid": id, "changed": changed, "matchedby": matchedby}))
}

/// Creates the record a push describes, with an asset number made from its identity when
/// it brings none.
pub(crate) async fn create_one(
    push: &Push<'_>,
    conn: &mut AnyConnection,
    record: &Map<String, Value>,
) -> Result<Value, DomainError> {
    let Push {
        db,
        actor,
        res,
        schema,
    } = *push;
    let mut body = record.clone();
    if !body.contains_key("assetnumber") {
        let identity = record
            .get(&schema.identityfield)
            .and_then(Value::as_str)
            .unwrap_or_default();
        body.insert(
            "assetnumber".into(),
            json!(free_assetnumber(db, conn, identity).await?),
        );
    }
    let values = res.validate(db, conn, &body, None).await?;
    let created = res.insert(db, conn, actor, values).await?;
    Ok(json!({"status": Outcome::Created, "assetid": created.get("assetid")}))
}

/// One record in its own savepoint: created, or applied to the record it matched.
pub(crate) async fn apply_one(
    push: &Push<'_>,
    tx: &mut AnyConnection,
    record: &Map<String, Value>,
    matched: Match,
    stored: &HashMap<i64, Map<String, Value>>,
) -> Result<Value, DomainError> {
    let res = push.res;
    let matched = matched?;
    let before = match &matched {
        Some((id, _)) => Some(stored.get(id).ok_or_else(|| res.not_found(*id))?),
        None => None,
    };
    let mut savepoint = tx.begin().await?;
    let result = match (matched, before) {
        (Some((_, by)), Some(before)) => update_one(push, &mut savepoint, record, before, by).await,
        _ => create_one(push, &mut savepoint, record).await,
    };
    match result {
        Ok(answer) => {
            savepoint.commit().await?;
            Ok(answer)
        }
        // The database undid the whole transaction (MySQL does on a deadlock): the savepoint
        // is gone with it, and the batch runs again.
        Err(e) if e.stops_batch() => Err(e),
        Err(e) => match savepoint.rollback().await {
            Ok(()) => Err(e),
            Err(lost) => {
                tracing::warn!(error = %lost, "undoing one collector record failed; running the batch again");
                Err(DomainError::from(lost).into_retry())
            }
        },
    }
}

/// Longest asset number (the column's size).
pub(crate) const ASSETNUMBER_MAX: usize = 50;

/// The `n`th asset number tried for a machine named `identity`: the identity upper-cased and
/// cut to the column's 50 characters, with `-n` from the second on.
pub(crate) fn assetnumber_candidate(identity: &str, n: usize) -> String {
    let base = identity.trim().to_uppercase();
    if n == 1 {
        return base.chars().take(ASSETNUMBER_MAX).collect();
    }
    let suffix = format!("-{n}");
    let keep = ASSETNUMBER_MAX - suffix.len();
    format!("{}{suffix}", base.chars().take(keep).collect::<String>())
}

/// An asset number for a record a collector creates without one: its identity upper-cased,
/// cut to the column's 50 characters, with `-2`, `-3` … added when another asset already has
/// it (a replacement PC that took over the name of one that was renamed).
pub(crate) async fn free_assetnumber(
    db: &Db,
    conn: &mut AnyConnection,
    identity: &str,
) -> Result<String, sqlx::Error> {
    for n in 1..100 {
        let candidate = assetnumber_candidate(identity, n);
        let taken: i64 = db
            .query("SELECT COUNT(*) FROM assets WHERE assetnumber = ?")
            .bind(candidate.clone())
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
        if taken == 0 {
            return Ok(candidate);
        }
    }
    // Ninety-nine PCs of one name: let validation name the clash.
    Ok(assetnumber_candidate(identity, 1))
}

/// Which of `numbers` other assets already have, in one query per 200.
pub(crate) async fn taken_assetnumbers(
    db: &Db,
    conn: &mut AnyConnection,
    numbers: impl Iterator<Item = &String>,
) -> Result<HashSet<String>, sqlx::Error> {
    let wanted: Vec<SqlValue> = numbers.map(SqlValue::text).collect();
    let mut taken = HashSet::new();
    for chunk in wanted.chunks(200) {
        let sql = format!(
            "SELECT assetnumber FROM assets WHERE assetnumber IN ({})",
            vec!["?"; chunk.len()].join(", ")
        );
        for row in db.query_with(&sql, chunk).fetch_all(&mut *conn).await? {
            taken.insert(row.try_get::<String, _>(0)?);
        }
    }
    Ok(taken)
}
