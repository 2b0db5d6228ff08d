//! Collector pushes: records from inventory scripts, matched to existing assets by the
//! plugin's identity field (or, for a renamed machine, by a trustworthy secondary
//! identifier), created when new, updated with only the fields that changed. A batch is one
//! write transaction with a savepoint per record, so one bad record never sinks the batch
//! and concurrent collectors do not queue for the database's writer once per record.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Connection, Row};

use crate::auth::Actor;
use crate::db::{Db, SqlValue};
use crate::error::DomainError;
use crate::plugin::CollectorSchema;
use crate::resource::{Lookups, Resource, Values, finish, to_sql_value};
use crate::schema::lower_in;
use crate::util::now;

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

/// The records of a push body: one record (a JSON object) or `{"records": [...]}` with 1 to
/// [`MAX_BATCH`] entries. Each entry is then checked on its own by [`prepare`].
pub fn records_of(body: Value) -> Result<Vec<Value>, DomainError> {
    let records = match body {
        Value::Object(mut m) if m.contains_key("records") => match m.remove("records") {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(DomainError::bad_request(
                    "records must be an array of objects",
                ));
            }
        },
        body @ Value::Object(_) => vec![body],
        _ => {
            return Err(DomainError::bad_request(
                "send one record (a JSON object) or {\"records\": [...]}",
            ));
        }
    };
    if records.is_empty() {
        return Err(DomainError::bad_request("records is empty"));
    }
    if records.len() > MAX_BATCH {
        return Err(DomainError::new(
            crate::error::ErrorKind::TooLarge,
            "payload_too_large",
            format!("at most {MAX_BATCH} records per request"),
        ));
    }
    Ok(records)
}

/// One pushed record checked against the collector schema and put in the forms the resource
/// stores (MAC and IP spellings, …), before any database work; field → reason otherwise.
pub fn prepare(
    schema: &CollectorSchema,
    res: &Resource,
    raw: &Value,
) -> Result<Map<String, Value>, Map<String, Value>> {
    check_shape(schema, raw).and_then(|record| res.normalized(&record))
}

/// What a pushed record turned out to be: an existing record (with the match field that
/// recognised it when it was not the identity), a new one, or a record that cannot be told
/// apart from others.
type Match = Result<Option<(i64, Option<String>)>, DomainError>;

/// The condition matching `field` of `res` against `n` bound values, and the table alias the
/// field is read through (`e` extension, `t` base). A field kept in one canonical form (a MAC
/// address) is compared as it is, through its plain index; any other ignoring case, through
/// its lower-case index (`Index::lower`), so the cost per record does not grow with the table.
fn lookup_condition(
    db: &Db,
    res: &Resource,
    field: &str,
    n: usize,
) -> Option<(String, &'static str)> {
    let alias = if res
        .extension
        .as_ref()
        .is_some_and(|e| e.get(field).is_some())
    {
        "e"
    } else if res.table.get(field).is_some() {
        "t"
    } else {
        return None;
    };
    let table = if alias == "e" {
        res.extension.as_ref()?
    } else {
        &res.table
    };
    let canonical = res.normalize.iter().any(|(f, _)| f == field);
    let indexed = table
        .indexes
        .iter()
        .any(|i| i.lower && i.columns.first().is_some_and(|c| c == field));
    let condition = if canonical {
        format!("{alias}.{field} IN ({})", vec!["?"; n].join(", "))
    } else if indexed {
        lower_in(db.dialect(), Some(alias), field, n)
    } else {
        // A model without the index still gets right answers, by reading every row.
        let marks = vec!["LOWER(?)"; n].join(", ");
        format!("LOWER({alias}.{field}) IN ({marks})")
    };
    Some((condition, alias))
}

/// The SQL that finds records of `res` whose `field` is one of `n` values (see
/// `lookup_condition`); public so tests can ask each database how it runs it.
pub fn lookup_sql(db: &Db, res: &Resource, field: &str, n: usize) -> Option<String> {
    let (condition, alias) = lookup_condition(db, res, field, n)?;
    Some(format!(
        "SELECT t.{key}, {alias}.{field} FROM {} WHERE {condition}",
        res.tables_from(),
        key = res.key()
    ))
}

/// Records whose `field` equals one of `values`, ignoring case and surrounding space: for
/// each normalised value, the records holding it with their stored spelling.
pub(crate) async fn find_many(
    db: &Db,
    conn: &mut AnyConnection,
    res: &Resource,
    field: &str,
    values: &[&str],
) -> Result<HashMap<String, Vec<(i64, String)>>, sqlx::Error> {
    let mut wanted: Vec<&str> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut found: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    for chunk in wanted.chunks(200) {
        let Some(sql) = lookup_sql(db, res, field, chunk.len()) else {
            break;
        };
        let binds: Vec<SqlValue> = chunk.iter().map(|v| SqlValue::text(*v)).collect();
        let query = db.query_batch(&sql, &binds, chunk.len() == 200);
        for r in query.fetch_all(&mut *conn).await? {
            let id: i64 = r.try_get(0)?;
            let Some(stored) = r.try_get::<Option<String>, _>(1)? else {
                continue;
            };
            let holders = found.entry(normalize(&stored)).or_default();
            if !holders.iter().any(|(h, _)| *h == id) {
                holders.push((id, stored));
            }
        }
    }
    Ok(found)
}

/// The one record among `found` that `value` names: the only one, or, when several differ
/// only in case, the one spelled exactly as sent. `Err` with their ids when that is not clear.
pub(crate) fn one_of(found: &[(i64, String)], value: &str) -> Result<Option<i64>, Vec<i64>> {
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

/// Which existing record each of `records` is: by identity, else by one unambiguous, non-junk
/// secondary identifier (a renamed machine). One query per field for the whole batch. An
/// identity that several stored records share, differing only in case, with none spelled
/// exactly as sent, is refused (creating yet another record would only add a third spelling).
async fn match_all(
    db: &Db,
    conn: &mut AnyConnection,
    res: &Resource,
    schema: &CollectorSchema,
    records: &[&Map<String, Value>],
) -> Result<Vec<Match>, DomainError> {
    let text =
        |r: &Map<String, Value>, f: &str| r.get(f).and_then(Value::as_str).map(str::to_string);
    let identities: Vec<String> = records
        .iter()
        .filter_map(|r| text(r, &schema.identityfield))
        .collect();
    let identities: Vec<&str> = identities.iter().map(String::as_str).collect();
    let by_identity = find_many(db, conn, res, &schema.identityfield, &identities).await?;
    let mut out: Vec<Option<Match>> = records
        .iter()
        .map(|r| {
            let identity = text(r, &schema.identityfield)?;
            let found = by_identity.get(&normalize(&identity)).map(Vec::as_slice).unwrap_or(&[]);
            match one_of(found, &identity) {
                Ok(Some(id)) => Some(Ok(Some((id, None)))),
                Ok(None) => None,
                Err(ids) => {
                    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
                    Some(Err(DomainError::field(
                        &schema.identityfield,
                        format!(
                            "'{}' matches {} records that differ only in case (ids {}); rename or delete all but one",
                            identity.trim(),
                            ids.len(),
                            ids.join(", ")
                        ),
                    )))
                }
            }
        })
        .collect();
    for field in &schema.matchfields {
        let usable = |r: &Map<String, Value>| text(r, field).filter(|v| !is_junk(v));
        let pending: Vec<String> = records
            .iter()
            .zip(&out)
            .filter(|(_, o)| o.is_none())
            .filter_map(|(r, _)| usable(r))
            .collect();
        if pending.is_empty() {
            continue;
        }
        let pending: Vec<&str> = pending.iter().map(String::as_str).collect();
        let found = find_many(db, conn, res, field, &pending).await?;
        for (r, o) in records.iter().zip(out.iter_mut()) {
            if o.is_some() {
                continue;
            }
            if let Some(value) = usable(r)
                && let Some([(id, _)]) = found.get(&normalize(&value)).map(Vec::as_slice)
            {
                *o = Some(Ok(Some((*id, Some(field.clone())))));
            }
        }
    }
    Ok(out.into_iter().map(|o| o.unwrap_or(Ok(None))).collect())
}

/// Longest asset number (the column's size).
const ASSETNUMBER_MAX: usize = 50;

/// The `n`th asset number tried for a machine named `identity`: the identity upper-cased and
/// cut to the column's 50 characters, with `-n` from the second on.
fn assetnumber_candidate(identity: &str, n: usize) -> String {
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
async fn free_assetnumber(
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
async fn taken_assetnumbers(
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

/// Applies a record that matched the stored record `before`: only the fields that differ go
/// through the checks and the write, so a push that repeats what is stored costs one read.
async fn update_one(
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
async fn create_one(
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

/// What every record of one push is applied with.
#[derive(Clone, Copy)]
struct Push<'a> {
    db: &'a Db,
    actor: &'a Actor,
    res: &'a Resource,
    schema: &'a CollectorSchema,
}

/// What happened to one pushed record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Rejected,
}

/// The normalised values a record is matched by (identity and match fields), each tagged
/// with its field: a later record of the same batch naming one of them must be matched
/// against the database as this batch left it.
fn match_keys(schema: &CollectorSchema, record: &Map<String, Value>) -> Vec<String> {
    std::iter::once(&schema.identityfield)
        .chain(&schema.matchfields)
        .filter_map(|f| {
            let v = record.get(f)?.as_str()?;
            Some(format!("{f}\u{0}{}", normalize(v)))
        })
        .collect()
}

/// Applies one batch in one write transaction, each record in a savepoint of its own so a
/// bad record is undone alone. Records are matched for the whole batch at once; a record
/// whose identity or match values an earlier record of the batch touched is matched again
/// against what the batch wrote, so the answers are those of one-by-one processing.
/// `records[i]` is None for a record already rejected by its shape.
async fn apply_batch(
    push: &Push<'_>,
    records: &[Option<Map<String, Value>>],
) -> Result<Vec<Option<Value>>, DomainError> {
    let Push {
        db, res, schema, ..
    } = *push;
    let mut tx = db.begin().await?;
    let result = async {
        let ready: Vec<(usize, &Map<String, Value>)> = records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().map(|r| (i, r)))
            .collect();
        let only: Vec<&Map<String, Value>> = ready.iter().map(|(_, r)| *r).collect();
        let matches = match_all(db, &mut tx, res, schema, &only).await?;
        // Records are applied in one order every batch agrees on (known records by id, then
        // new ones by identity), and known records are locked up front in that order, so two
        // batches touching the same machines wait for each other instead of deadlocking.
        let mut order: Vec<(usize, &Map<String, Value>, Match)> = ready
            .iter()
            .zip(matches)
            .map(|((i, r), m)| (*i, *r, m))
            .collect();
        order.sort_by_cached_key(|(_, r, m)| match m {
            Ok(Some((id, _))) => (0, *id, String::new()),
            _ => (
                1,
                0,
                r.get(&schema.identityfield)
                    .and_then(Value::as_str)
                    .map(normalize)
                    .unwrap_or_default(),
            ),
        });
        let matched_ids: Vec<i64> = order
            .iter()
            .filter_map(|(_, _, m)| match m {
                Ok(Some((id, _))) => Some(*id),
                _ => None,
            })
            .collect();
        lock_rows(db, &mut tx, &matched_ids).await?;
        let mut done = Progress {
            stored: res.fetch_many(db, &mut tx, &matched_ids).await?,
            touched: HashSet::new(),
            written: HashSet::new(),
            seen: Vec::new(),
            heartbeats: Vec::new(),
            out: vec![None; records.len()],
        };
        // A known machine whose push changes only plain fields (no identity, match field,
        // reference, unique field or child list) is written together with the others like
        // it, in a few statements for the whole batch (`Resource::update_many`): with
        // thousands of PCs checking in, that is most of them. New machines are created
        // together too (`create_together`). The rest go one by one.
        let mut slow: Vec<Pending> = Vec::with_capacity(order.len());
        let mut fast: Vec<(Pending, Vec<(String, SqlValue)>)> = Vec::new();
        let mut decided: HashSet<i64> = HashSet::new();
        for (index, record, matched) in order {
            let heartbeat = match heartbeat_value(res, schema, record) {
                Ok(v) => v,
                Err(e) => {
                    done.out[index] = Some(rejected(&e));
                    continue;
                }
            };
            let pending = Pending { index, record, matched, heartbeat };
            let Ok(Some((id, by))) = &pending.matched else {
                slow.push(pending);
                continue;
            };
            let (id, by) = (*id, by.clone());
            let Some(before) = done.stored.get(&id).filter(|_| !decided.contains(&id)) else {
                slow.push(pending);
                continue;
            };
            let diff = differences(schema, record, before);
            let matchedby = by.unwrap_or_else(|| schema.identityfield.clone());
            let unchanged = json!({"status": Outcome::Unchanged, "assetid": id, "changed": [], "matchedby": matchedby});
            if diff.is_empty() {
                decided.insert(id);
                done.seen.push(id);
                done.heartbeats.extend(pending.heartbeat.map(|v| (id, v)));
                done.out[index] = Some(unchanged);
                continue;
            }
            let plain = diff.keys().all(|f| {
                res.plain_field(f) && *f != schema.identityfield && !schema.matchfields.contains(f)
            });
            if !plain {
                slow.push(pending);
                continue;
            }
            let checked = async {
                let values = res.validate(db, &mut tx, &diff, Some(before)).await?;
                let values: Vec<(String, SqlValue)> = values
                    .into_iter()
                    .filter(|(n, v)| before.get(n) != Some(&v.to_json()))
                    .collect();
                res.check_update(db, &mut tx, push.actor, before, &values).await?;
                Ok::<_, DomainError>(values)
            }
            .await;
            decided.insert(id);
            match checked {
                Err(e) if e.stops_batch() => return Err(e),
                Err(e) => done.out[index] = Some(rejected(&e)),
                Ok(values) if values.is_empty() => {
                    done.seen.push(id);
                    done.heartbeats.extend(pending.heartbeat.map(|v| (id, v)));
                    done.out[index] = Some(unchanged);
                }
                Ok(values) => fast.push((pending, values)),
            }
        }
        if !fast.is_empty() {
            let items: Vec<crate::resource::Change> = fast
                .iter()
                .filter_map(|(p, values)| Some((done.stored.get(&p.id()?)?, values.clone())))
                .collect();
            let mut savepoint = tx.begin().await?;
            let written_together = res.update_many(db, &mut savepoint, push.actor, &items).await;
            match written_together {
                Ok(afters) => {
                    savepoint.commit().await?;
                    drop(items);
                    for ((pending, values), after) in fast.into_iter().zip(afters) {
                        let id = pending.id().unwrap_or_default();
                        let changed: Vec<&String> = values.iter().map(|(n, _)| n).collect();
                        let matchedby = match &pending.matched {
                            Ok(Some((_, Some(by)))) => by.clone(),
                            _ => schema.identityfield.clone(),
                        };
                        done.out[pending.index] = Some(json!({"status": Outcome::Updated, "assetid": id, "changed": changed, "matchedby": matchedby}));
                        done.written.insert(id);
                        done.seen.push(id);
                        done.heartbeats.extend(pending.heartbeat.clone().map(|v| (id, v)));
                        done.stored.insert(id, after);
                    }
                }
                Err(e) if e.stops_batch() => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "writing a collector batch's updates together failed; writing them one by one");
                    savepoint
                        .rollback()
                        .await
                        .map_err(|lost| DomainError::from(lost).into_retry())?;
                    drop(items);
                    slow.extend(fast.into_iter().map(|(p, _)| p));
                    slow.sort_by_key(|p| p.id().map_or((1, 0), |id| (0, id)));
                }
            }
        }
        // Known records first, then new ones, as one-by-one processing would take them.
        let (known, new): (Vec<Pending>, Vec<Pending>) =
            slow.into_iter().partition(|p| p.id().is_some());
        for pending in known {
            one_by_one(push, &mut tx, pending, &mut done).await?;
        }
        for pending in create_together(push, &mut tx, new, &mut done).await? {
            one_by_one(push, &mut tx, pending, &mut done).await?;
        }
        mark_seen(push, &mut tx, &done.seen, &done.heartbeats, &done.stored).await?;
        Ok(done.out)
    }
    .await;
    finish(db, tx, result).await
}

/// What a batch has done so far, for the records after it and for the answer.
struct Progress {
    /// Known records as stored (and as the batch left them).
    stored: HashMap<i64, Map<String, Value>>,
    /// Identity and match values (see `match_keys`) of records the batch wrote.
    touched: HashSet<String>,
    /// Records the batch wrote.
    written: HashSet<i64>,
    /// Records the collector reported (created, changed or not).
    seen: Vec<i64>,
    /// Check-in times sent for known records.
    heartbeats: Vec<(i64, SqlValue)>,
    /// The answer, by position in the request.
    out: Vec<Option<Value>>,
}

/// Applies one record on its own, in its own savepoint: matched again first when the batch
/// wrote what it was matched by, and again after a failed create (another collector may have
/// created the same machine meanwhile).
async fn one_by_one(
    push: &Push<'_>,
    tx: &mut AnyConnection,
    pending: Pending<'_>,
    done: &mut Progress,
) -> Result<(), DomainError> {
    let Push {
        db, res, schema, ..
    } = *push;
    let Pending {
        index,
        record,
        mut matched,
        heartbeat,
    } = pending;
    let keys = match_keys(schema, record);
    let stale = keys.iter().any(|k| done.touched.contains(k))
        || matches!(&matched, Ok(Some((id, _))) if done.written.contains(id));
    if stale {
        matched = match_all(db, tx, res, schema, &[record])
            .await?
            .pop()
            .unwrap_or(Ok(None));
        if let Ok(Some((id, _))) = &matched
            && let Some(fresh) = res.fetch(db, tx, *id).await?
        {
            done.stored.insert(*id, fresh);
        }
    }
    let to_create = matches!(matched, Ok(None));
    let mut outcome = apply_one(push, tx, record, matched, &done.stored).await;
    if outcome.as_ref().is_err_and(|e| !e.stops_batch()) && to_create {
        // Another collector may have created the same machine since it was matched (a
        // unique index, or "host names ignore case", refused this one): match again.
        let again = match_all(db, tx, res, schema, &[record])
            .await?
            .pop()
            .unwrap_or(Ok(None));
        if let Ok(Some((id, _))) = &again
            && let Some(fresh) = res.fetch(db, tx, *id).await?
        {
            done.stored.insert(*id, fresh);
            outcome = apply_one(push, tx, record, again, &done.stored).await;
        }
    }
    match outcome {
        Ok(answer) => {
            let id = answer["assetid"].as_i64().unwrap_or_default();
            if answer["status"] != json!(Outcome::Unchanged) {
                done.touched.extend(keys);
                if let Some(before) = done.stored.get(&id) {
                    done.touched.extend(match_keys(schema, before));
                }
                done.written.insert(id);
            }
            done.seen.push(id);
            if let Some(v) = heartbeat
                && answer["status"] != json!(Outcome::Created)
            {
                done.heartbeats.push((id, v));
            }
            done.out[index] = Some(answer);
        }
        Err(e) if e.stops_batch() => return Err(e),
        Err(e) => done.out[index] = Some(rejected(&e)),
    }
    Ok(())
}

/// Creates the batch's new records together where the resource allows it
/// (`Resource::batch_creates`): each is checked on its own (`validate`, the check-only
/// hooks), asset numbers are looked up for the whole batch in one query, and the valid ones
/// are written with `Resource::insert_many` in a savepoint. Returns, in order, the records
/// left to go one by one afterwards: those that failed a check (so the one-by-one path gives
/// their answer, matching them again first), those that share an identity, match value or
/// `Resource::batch_keys` value with a record before them (so they see it written), and all
/// of them if writing together fails.
async fn create_together<'r>(
    push: &Push<'_>,
    tx: &mut AnyConnection,
    new: Vec<Pending<'r>>,
    done: &mut Progress,
) -> Result<Vec<Pending<'r>>, DomainError> {
    let Push {
        db,
        actor,
        res,
        schema,
    } = *push;
    if !res.batch_creates() || new.len() < 2 {
        return Ok(new);
    }
    let identity = |r: &Map<String, Value>| {
        r.get(&schema.identityfield)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let numbers: Vec<Option<String>> = new
        .iter()
        .map(|p| {
            (!p.record.contains_key("assetnumber"))
                .then(|| assetnumber_candidate(&identity(p.record), 1))
        })
        .collect();
    // Checks and writes in one savepoint: a database error in a check (PostgreSQL then
    // refuses every later statement of the transaction) is undone with it, and the records go
    // one by one, each in its own savepoint, as if none had been tried together.
    let mut savepoint = tx.begin().await?;
    let taken = taken_assetnumbers(db, &mut savepoint, numbers.iter().flatten()).await?;
    // What the batch looked up already need not be asked again record by record: the asset
    // numbers just found free, and identities no stored record has in any case (`match_all`).
    let mut lookups = Lookups::default();
    for number in numbers.iter().flatten().filter(|n| !taken.contains(*n)) {
        lookups.set_free("assets", "assetnumber", number);
    }
    let identity_table = match &res.extension {
        Some(ext) if ext.get(&schema.identityfield).is_some() => &ext.name,
        _ => &res.table.name,
    };
    // Values of the records before this one in the batch's order: a record sharing one
    // waits for the others to be written.
    let mut claimed: HashSet<String> = HashSet::new();
    let mut group: Vec<(usize, Pending<'r>, Values)> = Vec::new();
    let mut later: Vec<(usize, Pending<'r>)> = Vec::new();
    let mut queue = new.into_iter().zip(numbers).enumerate();
    let mut failed = None;
    while let Some((n, (pending, number))) = queue.next() {
        let mut body = pending.record.clone();
        if let Some(number) = number {
            let number = if taken.contains(&number) {
                free_assetnumber(db, &mut savepoint, &identity(pending.record)).await?
            } else {
                number
            };
            body.insert("assetnumber".into(), json!(number));
        }
        let mut keys = match_keys(schema, pending.record);
        keys.extend(res.batch_keys(&body));
        let independent = matches!(pending.matched, Ok(None))
            && !keys
                .iter()
                .any(|k| done.touched.contains(k) || claimed.contains(k));
        claimed.extend(keys);
        if !independent {
            later.push((n, pending));
            continue;
        }
        let sent = identity(pending.record);
        lookups.set_free(identity_table, &schema.identityfield, sent.trim());
        let checked = async {
            let conn = &mut *savepoint;
            let values = res.validate_in(db, conn, &body, None, &mut lookups).await?;
            res.check_create(db, conn, actor, &values).await?;
            Ok::<_, DomainError>(values)
        }
        .await;
        match checked {
            Ok(values) => group.push((n, pending, values)),
            Err(e) if e.stops_batch() => return Err(e),
            Err(e) if e.kind.is_server() => {
                later.push((n, pending));
                later.extend(queue.by_ref().map(|(n, (p, _))| (n, p)));
                failed = Some(e);
                break;
            }
            Err(_) => later.push((n, pending)),
        }
    }
    let written = match failed {
        Some(e) => Err(e),
        None if group.is_empty() => Ok(Vec::new()),
        None => {
            let rows: Vec<Values> = group.iter().map(|(_, _, v)| v.clone()).collect();
            res.insert_many(db, &mut savepoint, actor, rows).await
        }
    };
    match written {
        Ok(created) => {
            savepoint.commit().await?;
            for ((_, pending, _), record) in group.into_iter().zip(created) {
                let id = record
                    .get(res.key())
                    .and_then(Value::as_i64)
                    .unwrap_or_default();
                done.touched.extend(match_keys(schema, pending.record));
                done.written.insert(id);
                done.seen.push(id);
                done.out[pending.index] = Some(json!({"status": Outcome::Created, "assetid": id}));
            }
        }
        Err(e) if e.stops_batch() => return Err(e),
        Err(e) => {
            // Most likely another collector created one of these machines meanwhile: one by
            // one, each failing record is matched again.
            tracing::debug!(error = %e, "creating a collector batch's records together failed; creating them one by one");
            savepoint
                .rollback()
                .await
                .map_err(|lost| DomainError::from(lost).into_retry())?;
            later.extend(group.into_iter().map(|(n, p, _)| (n, p)));
            later.sort_by_key(|(n, _)| *n);
        }
    }
    Ok(later.into_iter().map(|(_, p)| p).collect())
}

/// A record of the batch waiting to be applied.
struct Pending<'r> {
    index: usize,
    record: &'r Map<String, Value>,
    matched: Match,
    heartbeat: Option<SqlValue>,
}

impl Pending<'_> {
    fn id(&self) -> Option<i64> {
        match &self.matched {
            Ok(Some((id, _))) => Some(*id),
            _ => None,
        }
    }
}

/// The fields of `record` that differ from the stored record `before`, leaving out the
/// heartbeat and an identity that differs only in case or spacing (the stored spelling stays,
/// so two collectors reporting differently do not flap it).
fn differences(
    schema: &CollectorSchema,
    record: &Map<String, Value>,
    before: &Map<String, Value>,
) -> Map<String, Value> {
    let mut diff = record.clone();
    let same = |v: Option<&Value>| v.and_then(Value::as_str).map(normalize);
    if same(diff.get(&schema.identityfield)) == same(before.get(&schema.identityfield)) {
        diff.remove(&schema.identityfield);
    }
    if let Some(heartbeat) = &schema.heartbeat {
        diff.remove(heartbeat);
    }
    diff.retain(|field, value| before.get(field) != Some(value));
    diff
}

/// Locks the asset rows `ids` (in the order given) for the rest of the transaction. SQLite
/// needs nothing: its write transaction already holds the whole database.
async fn lock_rows(db: &Db, conn: &mut AnyConnection, ids: &[i64]) -> Result<(), sqlx::Error> {
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

/// One record in its own savepoint: created, or applied to the record it matched.
async fn apply_one(
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

/// The heartbeat value a record carries, in its column's stored form (None when it sends
/// none); a value that is not valid for the column rejects the record like any field.
fn heartbeat_value(
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
async fn mark_seen(
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

fn rejected(e: &DomainError) -> Value {
    if e.kind.is_server() {
        tracing::error!(error = %e, "a collector record failed");
    }
    json!({"status": Outcome::Rejected, "reason": e.message, "details": e.details})
}

/// Applies a batch; the answer lists one result per record, in order. The batch is one
/// write transaction (one bad record is undone alone, in its savepoint); a batch the
/// database undid to break a deadlock is run again, up to five times in all. A failure of the
/// database itself (disk full, not answering) fails the whole batch instead.
pub async fn ingest(
    db: &Db,
    actor: &Actor,
    res: &Resource,
    schema: &CollectorSchema,
    records: &[Value],
) -> Result<Vec<Value>, DomainError> {
    let mut shaped: Vec<Option<Map<String, Value>>> = Vec::with_capacity(records.len());
    let mut early: Vec<Option<Value>> = Vec::with_capacity(records.len());
    for raw in records {
        match prepare(schema, res, raw) {
            Ok(record) => {
                shaped.push(Some(record));
                early.push(None);
            }
            Err(reasons) => {
                shaped.push(None);
                early.push(Some(rejected(&DomainError::validation(reasons))));
            }
        }
    }
    let push = Push {
        db,
        actor,
        res,
        schema,
    };
    let mut attempt = 1;
    let applied = loop {
        match apply_batch(&push, &shaped).await {
            Err(e) if e.is_retryable() && attempt < 5 => {
                tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
                attempt += 1;
            }
            result => break result,
        }
    };
    let applied = match applied {
        Ok(applied) => applied,
        // The database's failure, not the records': the request fails as a whole.
        Err(e) if e.is_systemic() => return Err(e),
        Err(e) => shaped
            .iter()
            .map(|r| r.as_ref().map(|_| rejected(&e)))
            .collect(),
    };
    let mut results = Vec::with_capacity(records.len());
    for (index, ((raw, early), applied)) in records.iter().zip(early).zip(applied).enumerate() {
        let mut entry = early
            .or(applied)
            .unwrap_or_else(|| rejected(&DomainError::internal("no result")));
        entry["index"] = json!(index);
        entry["identity"] = raw
            .get(&schema.identityfield)
            .cloned()
            .unwrap_or(Value::Null);
        results.push(entry);
    }
    Ok(results)
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
