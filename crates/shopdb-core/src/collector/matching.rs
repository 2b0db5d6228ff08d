//! Finding the stored record a pushed record describes: by identity, then by match fields, ignoring case and junk, for a whole batch in a few queries.

use std::collections::HashMap;

use serde_json::{Map, Value};
use sqlx::{AnyConnection, Row};

use crate::db::{Db, SqlValue};
use crate::error::DomainError;
use crate::plugin::CollectorSchema;
use crate::resource::Resource;
use crate::schema::lower_in;

use super::shape::*;

/// What a pushed record turned out to be: an existing record (with the match field that
/// recognised it when it was not the identity), a new one, or a record that cannot be told
/// apart from others.
pub(crate) type Match = Result<Option<(i64, Option<String>)>, DomainError>;

/// The condition matching `field` of `res` against `n` bound values, and the table alias the
/// field is read through (`e` extension, `t` base). A field kept in one canonical form (a MAC
/// address) is compared as it is, through its plain index; any other ignoring case, through
/// its lower-case index (`Index::lower`), so the cost per record does not grow with the table.
pub(crate) fn lookup_condition(
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
pub(crate) async fn match_all(
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

/// The normalised values a record is matched by (identity and match fields), each tagged
/// with its field: a later record of the same batch naming one of them must be matched
/// against the database as this batch left it.
pub(crate) fn match_keys(schema: &CollectorSchema, record: &Map<String, Value>) -> Vec<String> {
    std::iter::once(&schema.identityfield)
        .chain(&schema.matchfields)
        .filter_map(|f| {
            let v = record.get(f)?.as_str()?;
            Some(format!("{f}\u{0}{}", normalize(v)))
        })
        .collect()
}

/// The fields of `record` that differ from the stored record `before`, leaving out the
/// heartbeat and an identity that differs only in case or spacing (the stored spelling stays,
/// so two collectors reporting differently do not flap it).
pub(crate) fn differences(
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
