//! Collector pushes: records from inventory scripts, matched to existing assets by the
//! plugin's identity field (or, for a renamed machine, by a trustworthy secondary
//! identifier), created when new, updated with only the fields that changed. Every record
//! runs in its own transaction, so one bad record never sinks the batch.

use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Row};

use crate::auth::Actor;
use crate::db::{Db, SqlValue};
use crate::error::ApiError;
use crate::plugin::CollectorSchema;
use crate::resource::{Resource, finish};

/// Largest batch accepted in one request.
pub const MAX_BATCH: usize = 1000;

/// Values firmware and imaging tools put where a serial or MAC should be. They identify
/// nothing, so they never match two machines to each other.
const JUNK: &[&str] = &[
    "default string",
    "to be filled by o.e.m.",
    "to be filled by oem",
    "system serial number",
    "not specified",
    "not applicable",
    "none",
    "n/a",
    "na",
    "null",
    "unknown",
    "0123456789",
    "123456789",
    "1234567890",
    "chassis serial number",
    "base board serial number",
    "invalid",
    "empty",
    "oem",
    "o.e.m.",
];

/// Lower-cased and trimmed: how identity values are compared.
pub fn normalize(value: &str) -> String {
    value.trim().to_lowercase()
}

/// True for values that cannot identify one machine.
pub fn is_junk(value: &str) -> bool {
    let v = normalize(value);
    let digits: String = v.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    v.is_empty()
        || JUNK.contains(&v.as_str())
        || digits.chars().all(|c| c == '0')
        || digits.chars().all(|c| c == 'f')
        || digits.chars().all(|c| c == 'x')
}

/// The collector schema as JSON Schema, served at `/api/collector/<plugin>/schema`.
pub fn json_schema(plugin: &str, schema: &CollectorSchema) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for f in &schema.fields {
        props.insert(f.name.clone(), json!({"type": f.kind}));
        if f.required {
            required.push(f.name.clone());
        }
    }
    let record = json!({"type": "object", "properties": props, "required": required, "additionalProperties": false});
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("{plugin} collector record"),
        "x-identityfield": schema.identityfield,
        "x-matchfields": schema.matchfields,
        "oneOf": [record.clone(), {"type": "object", "properties": {"records": {"type": "array", "items": record, "maxItems": MAX_BATCH}}, "required": ["records"]}],
    })
}

fn type_ok(kind: &str, v: &Value) -> bool {
    v.is_null()
        || match kind {
            "string" => v.is_string(),
            "integer" => v.as_i64().is_some(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            _ => true,
        }
}

/// Checks one record against the schema; returns field → reason for each problem.
fn check_shape(
    schema: &CollectorSchema,
    record: &Value,
) -> Result<Map<String, Value>, Map<String, Value>> {
    let mut errors = Map::new();
    let Some(obj) = record.as_object() else {
        errors.insert("record".into(), json!("must be a JSON object"));
        return Err(errors);
    };
    for f in &schema.fields {
        match obj.get(&f.name) {
            None | Some(Value::Null) if f.required => {
                errors.insert(f.name.clone(), json!("is required"));
            }
            Some(v) if !type_ok(&f.kind, v) => {
                errors.insert(f.name.clone(), json!(format!("must be of type {}", f.kind)));
            }
            _ => {}
        }
    }
    for k in obj.keys() {
        if !schema.fields.iter().any(|f| &f.name == k) {
            errors.insert(k.clone(), json!("is not in this plugin's collector schema"));
        }
    }
    if let Some(id) = obj.get(&schema.identityfield).and_then(Value::as_str)
        && normalize(id).is_empty()
    {
        errors.insert(schema.identityfield.clone(), json!("must not be empty"));
    }
    if errors.is_empty() {
        Ok(obj.clone())
    } else {
        Err(errors)
    }
}

/// Records whose `field` equals `value` ignoring case and surrounding space (at most three),
/// each with its stored value.
/// An extension column is compared on the plugin's own table; an asset column through its
/// index, trying the value as sent, lower- and upper-cased, so 100,000 assets are not scanned.
async fn find_by(
    db: &Db,
    conn: &mut AnyConnection,
    res: &Resource,
    field: &str,
    value: &str,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let wanted = normalize(value);
    let key = res.key();
    let (sql, binds) = match &res.extension {
        Some(ext) if ext.get(field).is_some() => (
            format!(
                "SELECT {key}, {field} FROM {} WHERE LOWER({field}) = ? LIMIT 3",
                ext.name
            ),
            vec![SqlValue::text(&wanted)],
        ),
        _ if res.table.get(field).is_some() => {
            let trimmed = value.trim();
            (
                format!(
                    "SELECT t.{key}, t.{field} FROM {} WHERE t.{field} IN (?, ?, ?) LIMIT 3",
                    res.tables_from()
                ),
                vec![
                    SqlValue::text(trimmed),
                    SqlValue::text(&wanted),
                    SqlValue::text(trimmed.to_uppercase()),
                ],
            )
        }
        _ => return Ok(Vec::new()),
    };
    let rows = db.query_with(&sql, &binds).fetch_all(conn).await?;
    let mut found: Vec<(i64, String)> = Vec::new();
    for r in &rows {
        let id: i64 = r.try_get(0)?;
        let stored: Option<String> = r.try_get(1)?;
        if let Some(stored) = stored
            && normalize(&stored) == wanted
            && !found.iter().any(|(f, _)| *f == id)
        {
            found.push((id, stored));
        }
    }
    Ok(found)
}

/// The one record among `found` that `value` names: the only one, or, when several differ
/// only in case, the one spelled exactly as sent. `Err` with their ids when that is not clear.
fn one_of(found: &[(i64, String)], value: &str) -> Result<Option<i64>, Vec<i64>> {
    match found {
        [] => Ok(None),
        [(id, _)] => Ok(Some(*id)),
        _ => {
            let exact: Vec<i64> = found
                .iter()
                .filter(|(_, stored)| stored.trim() == value.trim())
                .map(|(id, _)| *id)
                .collect();
            match exact[..] {
                [id] => Ok(Some(id)),
                _ => Err(found.iter().map(|(id, _)| *id).collect()),
            }
        }
    }
}

/// Which existing record `record` is: by identity, else by one unambiguous, non-junk
/// secondary identifier (a renamed machine). Returns the id and how it matched. An identity
/// that several stored records share, differing only in case, with none spelled exactly as
/// sent, is refused (creating yet another record would only add a third spelling).
async fn match_record(
    db: &Db,
    conn: &mut AnyConnection,
    res: &Resource,
    schema: &CollectorSchema,
    record: &Map<String, Value>,
) -> Result<Option<(i64, Option<String>)>, ApiError> {
    if let Some(identity) = record.get(&schema.identityfield).and_then(Value::as_str) {
        let found = find_by(db, conn, res, &schema.identityfield, identity).await?;
        match one_of(&found, identity) {
            Ok(Some(id)) => return Ok(Some((id, None))),
            Ok(None) => {}
            Err(ids) => {
                let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
                return Err(ApiError::field(
                    &schema.identityfield,
                    format!(
                        "'{}' matches {} records that differ only in case (ids {}); rename or delete all but one",
                        identity.trim(),
                        ids.len(),
                        ids.join(", ")
                    ),
                ));
            }
        }
    }
    for field in &schema.matchfields {
        let Some(value) = record.get(field).and_then(Value::as_str) else {
            continue;
        };
        if is_junk(value) {
            continue;
        }
        if let [(id, _)] = find_by(db, conn, res, field, value).await?[..] {
            return Ok(Some((id, Some(field.clone()))));
        }
    }
    Ok(None)
}

/// An asset number for a record a collector creates without one: its identity upper-cased,
/// cut to the column's 50 characters, with `-2`, `-3` … added when another asset already has
/// it (a replacement PC that took over the name of one that was renamed).
async fn free_assetnumber(
    db: &Db,
    conn: &mut AnyConnection,
    identity: &str,
) -> Result<String, sqlx::Error> {
    const MAX: usize = 50;
    let base: String = identity.trim().to_uppercase().chars().take(MAX).collect();
    for n in 1..100 {
        let candidate = if n == 1 {
            base.clone()
        } else {
            let suffix = format!("-{n}");
            let keep = MAX - suffix.len();
            format!("{}{suffix}", base.chars().take(keep).collect::<String>())
        };
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
    Ok(base)
}

/// Applies one record in its own transaction and says what happened to it.
async fn apply(
    db: &Db,
    actor: &Actor,
    res: &Resource,
    schema: &CollectorSchema,
    record: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let mut tx = db.begin().await?;
    let result = async {
        match match_record(db, &mut tx, res, schema, record).await? {
            Some((id, matched_by)) => {
                let before = res.fetch(db, &mut tx, id).await?.ok_or_else(|| res.not_found(id))?;
                // An identity that differs only in case or spacing is the same; keep the stored
                // spelling so two collectors reporting differently do not flap it.
                let mut record = record.clone();
                let same_identity = |v: Option<&Value>| v.and_then(Value::as_str).map(normalize);
                if same_identity(record.get(&schema.identityfield)) == same_identity(before.get(&schema.identityfield)) {
                    record.remove(&schema.identityfield);
                }
                let record = &record;
                // Only the fields the collector sent, and only those that differ.
                let values = res.validate(db, &mut tx, record, Some(&before)).await?;
                let after = res.update_values(db, &mut tx, actor, &before, values, None).await?;
                let changed: Vec<String> = record
                    .keys()
                    .filter(|k| before.get(*k) != after.get(*k))
                    .cloned()
                    .collect();
                let status = if changed.is_empty() { "unchanged" } else { "updated" };
                Ok(json!({"status": status, "assetid": id, "changed": changed, "matchedby": matched_by.unwrap_or_else(|| schema.identityfield.clone())}))
            }
            None => {
                let mut body = record.clone();
                if !body.contains_key("assetnumber") {
                    let identity = record.get(&schema.identityfield).and_then(Value::as_str).unwrap_or_default();
                    body.insert("assetnumber".into(), json!(free_assetnumber(db, &mut tx, identity).await?));
                }
                let values = res.validate(db, &mut tx, &body, None).await?;
                let created = res.insert(db, &mut tx, actor, values).await?;
                Ok(json!({"status": "created", "assetid": created.get("assetid")}))
            }
        }
    }
    .await;
    finish(db, tx, result).await
}

/// Applies a batch; the answer lists one result per record, in order.
pub async fn ingest(
    db: &Db,
    actor: &Actor,
    res: &Resource,
    schema: &CollectorSchema,
    records: &[Value],
) -> Vec<Value> {
    let mut results = Vec::with_capacity(records.len());
    for (index, raw) in records.iter().enumerate() {
        let identity = raw
            .get(&schema.identityfield)
            .cloned()
            .unwrap_or(Value::Null);
        let outcome = match check_shape(schema, raw) {
            Err(reasons) => Err(ApiError::validation(reasons)),
            Ok(record) => match res.normalized(&record) {
                Ok(record) => apply(db, actor, res, schema, &record).await,
                Err(reasons) => Err(ApiError::validation(reasons)),
            },
        };
        let mut entry = match outcome {
            Ok(v) => v,
            Err(e) => json!({"status": "rejected", "reason": e.message, "details": e.details}),
        };
        entry["index"] = json!(index);
        entry["identity"] = identity;
        results.push(entry);
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_identifiers_are_recognised() {
        for junk in [
            "Default string",
            " To be filled by O.E.M. ",
            "0000000",
            "00:00:00:00:00:00",
            "FF-FF-FF-FF-FF-FF",
            "",
            "N/A",
        ] {
            assert!(is_junk(junk), "{junk:?}");
        }
        for real in ["5CG1234XYZ", "00:1A:2B:3C:4D:5E", "PF2ABCDE"] {
            assert!(!is_junk(real), "{real:?}");
        }
    }
}
