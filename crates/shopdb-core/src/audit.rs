//! The audit trail. Every write records who did what in the same transaction as the write,
//! so a write whose audit row fails is rolled back with it.

use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Row};

use crate::auth::Actor;
use crate::db::{Db, SqlValue};
use crate::util::now;

/// Fields never copied into the audit trail.
const SECRET_FIELDS: &[&str] = &["passwordhash", "tokenhash", "image"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Created,
    Updated,
    Deleted,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Deleted => "deleted",
        }
    }
}

/// What changed: only fields whose value differs, before and after.
pub fn diff(
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut b = Map::new();
    let mut a = Map::new();
    let keys = before
        .keys()
        .chain(after.keys().filter(|k| !before.contains_key(*k)));
    for key in keys {
        if SECRET_FIELDS.contains(&key.as_str()) {
            continue;
        }
        let old = before.get(key).unwrap_or(&Value::Null);
        let new = after.get(key).unwrap_or(&Value::Null);
        if old != new {
            if !old.is_null() || !before.is_empty() {
                b.insert(key.clone(), old.clone());
            }
            if !new.is_null() || !after.is_empty() {
                a.insert(key.clone(), new.clone());
            }
        }
    }
    (b, a)
}

/// `{"after": …, "before": …}` as text, as `json!` prints it (keys in order), written
/// without copying the fields into a JSON value first.
fn changes_text(before: &Map<String, Value>, after: &Map<String, Value>) -> String {
    #[derive(serde::Serialize)]
    struct Changes<'a> {
        after: &'a Map<String, Value>,
        before: &'a Map<String, Value>,
    }
    serde_json::to_string(&Changes { after, before }).unwrap_or_default()
}

/// One audit entry about to be written.
pub struct Entry<'a> {
    pub action: Action,
    pub entitytype: &'a str,
    pub entityid: Option<i64>,
    pub entityname: Option<&'a str>,
    pub before: &'a Map<String, Value>,
    pub after: &'a Map<String, Value>,
}

/// Writes `entry` on `conn` (the write's own transaction). Returns whether anything changed;
/// an update that changed nothing writes no row.
pub async fn record(
    db: &Db,
    conn: &mut AnyConnection,
    actor: &Actor,
    entry: Entry<'_>,
) -> Result<bool, sqlx::Error> {
    Ok(record_many(db, conn, actor, std::slice::from_ref(&entry)).await? > 0)
}

/// Writes many entries in a few statements (a collector batch's updates), leaving out the
/// updates that changed nothing; returns how many rows were written.
pub async fn record_many(
    db: &Db,
    conn: &mut AnyConnection,
    actor: &Actor,
    entries: &[Entry<'_>],
) -> Result<usize, sqlx::Error> {
    let at = now();
    let mut rows: Vec<[SqlValue; 10]> = Vec::with_capacity(entries.len());
    for entry in entries {
        let (before, after) = diff(entry.before, entry.after);
        if entry.action == Action::Updated && before.is_empty() && after.is_empty() {
            continue;
        }
        rows.push([
            SqlValue::text(&at),
            SqlValue::text(actor.kind),
            SqlValue::opt_int(actor.id),
            SqlValue::text(&actor.name),
            SqlValue::text(entry.action.as_str()),
            SqlValue::text(entry.entitytype),
            SqlValue::opt_int(entry.entityid),
            SqlValue::opt_text(
                entry
                    .entityname
                    .map(|n| n.chars().take(200).collect::<String>()),
            ),
            SqlValue::text(changes_text(&before, &after)),
            SqlValue::opt_text(actor.batch.clone()),
        ]);
    }
    for chunk in rows.chunks(100) {
        let marks = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let binds: Vec<SqlValue> = chunk.iter().flat_map(|r| r.iter().cloned()).collect();
        db.query_batch(
            &format!("INSERT INTO auditlog (occurredat, actortype, actorid, actorname, action, entitytype, entityid, entityname, changes, batchid) VALUES {marks}"),
            &binds,
            chunk.len() == 100,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(rows.len())
}

/// Filters for reading the trail.
#[derive(Default, Debug)]
pub struct AuditQuery {
    pub entitytype: Option<String>,
    pub entityid: Option<i64>,
    pub actorname: Option<String>,
    pub action: Option<String>,
}

/// Entries matching `filter`, newest first, with the total count.
pub async fn list(
    db: &Db,
    filter: &AuditQuery,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Value>, i64), sqlx::Error> {
    let mut clauses = Vec::new();
    let mut values = Vec::new();
    if let Some(t) = &filter.entitytype {
        clauses.push("entitytype = ?");
        values.push(SqlValue::text(t));
    }
    if let Some(id) = filter.entityid {
        clauses.push("entityid = ?");
        values.push(SqlValue::Int(id));
    }
    if let Some(a) = &filter.actorname {
        clauses.push("actorname = ?");
        values.push(SqlValue::text(a));
    }
    if let Some(a) = &filter.action {
        clauses.push("action = ?");
        values.push(SqlValue::text(a));
    }
    let filter_sql = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let total: i64 = db
        .query_with(
            &format!("SELECT COUNT(*) FROM auditlog{filter_sql}"),
            &values,
        )
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    values.push(SqlValue::Int(offset));
    let rows = db
        .query_with(
            &format!(
                "SELECT auditid, occurredat, actortype, actorid, actorname, action, entitytype, entityid, entityname, changes, batchid FROM auditlog{filter_sql} ORDER BY auditid DESC{}",
                crate::db::limit_offset(limit)
            ),
            &values,
        )
        .fetch_all(db.pool())
        .await?;
    let entries = rows
        .iter()
        .map(|r| {
            let changes: String = r.try_get(9)?;
            Ok(json!({
                "auditid": r.try_get::<i64, _>(0)?,
                "occurredat": r.try_get::<String, _>(1)?,
                "actortype": r.try_get::<String, _>(2)?,
                "actorid": r.try_get::<Option<i64>, _>(3)?,
                "actorname": r.try_get::<String, _>(4)?,
                "action": r.try_get::<String, _>(5)?,
                "entitytype": r.try_get::<String, _>(6)?,
                "entityid": r.try_get::<Option<i64>, _>(7)?,
                "entityname": r.try_get::<Option<String>, _>(8)?,
                "changes": serde_json::from_str::<Value>(&changes).unwrap_or(Value::Null),
                "batchid": r.try_get::<Option<String>, _>(10)?,
            }))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((entries, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn changes_are_written_as_json_prints_them() {
        let before =
            map(json!({"name": "Lathe \"1\"", "mapx": 1.5, "notes": null, "ü": [1, true]}));
        let after = map(json!({"name": "Lathe 2\n", "mapx": 2.0, "id": 12}));
        assert_eq!(
            changes_text(&before, &after),
            json!({"before": before, "after": after}).to_string()
        );
    }

    #[test]
    fn only_changed_fields_are_kept() {
        let (b, a) = diff(
            &map(json!({"name": "Lathe 1", "statusid": 1, "notes": null})),
            &map(json!({"name": "Lathe 2", "statusid": 1, "notes": null})),
        );
        assert_eq!(Value::Object(b), json!({"name": "Lathe 1"}));
        assert_eq!(Value::Object(a), json!({"name": "Lathe 2"}));
    }

    #[test]
    fn creation_lists_set_fields_and_hides_secrets() {
        let (b, a) = diff(
            &Map::new(),
            &map(json!({"username": "ann", "passwordhash": "x", "displayname": null})),
        );
        assert!(b.is_empty());
        assert_eq!(Value::Object(a), json!({"username": "ann"}));
    }
}
