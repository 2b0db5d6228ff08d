//! Reading rows into bodies: the key column, each row mapped and checked, reference names resolved, rows matched to stored records.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Row as _};

use crate::collector::{find_many, normalize, one_of};
use crate::db::{Db, SqlValue};
use crate::error::DomainError;
use crate::resource::Resource;
use crate::transfer::compare::NameCache;
use crate::transfer::mapping::{self, Reference, Target};
use crate::transfer::read::Row;

use super::types::*;

pub(crate) fn find_key(
    job: &ImportJob,
    headers: &[String],
    targets: &[Target],
    key: &str,
) -> Result<Key, DomainError> {
    let res = job.res;
    let wanted = mapping::simple(key);
    if key.trim().is_empty() {
        return Err(DomainError::field(
            "key",
            "is required: name the field rows are matched by",
        ));
    }
    if wanted == mapping::simple(res.key()) {
        let column = headers
            .iter()
            .position(|h| mapping::simple(h) == wanted)
            .ok_or_else(|| {
                DomainError::field("key", format!("the file has no {} column", res.key()))
            })?;
        return Ok(Key {
            column,
            field: res.key().to_string(),
            by_id: true,
        });
    }
    let field = mapping::columns(res)
        .into_iter()
        .find(|c| {
            mapping::simple(&c.name) == wanted
                || c.label
                    .as_deref()
                    .is_some_and(|l| mapping::simple(l) == wanted)
        })
        .filter(|c| c.references.is_none())
        .map(|c| c.name.clone())
        .ok_or_else(|| {
            DomainError::field(
                "key",
                format!(
                    "'{key}' is no field of {} that rows can be matched by",
                    res.path
                ),
            )
        })?;
    let column = targets
        .iter()
        .position(|t| *t == Target::Field(field.clone()))
        .ok_or_else(|| {
            DomainError::field(
                "key",
                format!("the file has no column for the key field {field}"),
            )
        })?;
    Ok(Key {
        column,
        field,
        by_id: false,
    })
}

pub(crate) fn prepare(
    res: &Resource,
    headers: &[String],
    targets: &[Target],
    key: &Key,
    row: Row,
) -> Prepared {
    let mut body = Map::new();
    let mut names = Vec::new();
    let mut errors = Map::new();
    for (i, cell) in row.cells.iter().enumerate() {
        match targets.get(i) {
            Some(Target::Field(f)) => {
                let column = mapping::column(res, f);
                body.insert(f.clone(), mapping::cell_value(column, cell));
            }
            Some(Target::Reference(r)) => {
                let name = Some(cell.trim().to_string()).filter(|n| !n.is_empty());
                names.push((r.clone(), name));
            }
            Some(Target::Ignored) => {}
            None if cell.trim().is_empty() => {}
            None => {
                errors.insert(
                    format!("column {}", i + 1),
                    json!(format!(
                        "has a value but the header has only {} columns",
                        headers.len()
                    )),
                );
            }
        }
    }
    let key_text = row
        .cells
        .get(key.column)
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    let mut body = if res.normalize.is_empty() {
        body
    } else {
        match res.normalized(&body) {
            Ok(b) => b,
            Err(bad) => {
                errors.extend(bad);
                body
            }
        }
    };
    // The key as the record stores it (a MAC address in its canonical form).
    let key_value = if key.by_id {
        key_text.clone()
    } else {
        body.get(&key.field)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if key_value.is_none() && !key.by_id {
        errors.insert(
            key.field.clone(),
            json!("is empty: every row needs the key it is matched by"),
        );
    }
    if key.by_id {
        body.remove(&key.field);
    }
    Prepared {
        line: row.line,
        key: key_value,
        body,
        names,
        errors,
    }
}

/// Looks up, in one query per reference column, the names of `rows` not looked up yet.
pub(crate) async fn load_names(
    db: &Db,
    conn: &mut AnyConnection,
    cache: &mut NameCache,
    rows: &[Prepared],
) -> Result<(), sqlx::Error> {
    let mut wanted: HashMap<&Reference, Vec<String>> = HashMap::new();
    for p in rows {
        for (r, name) in &p.names {
            let Some(name) = name else { continue };
            let known = cache
                .get(r)
                .is_some_and(|c| c.contains_key(&normalize(name)));
            if !known {
                wanted.entry(r).or_default().push(name.clone());
            }
        }
    }
    for (r, mut names) in wanted {
        names.sort_by_key(|n| normalize(n));
        names.dedup_by_key(|n| normalize(n));
        let entry = cache.entry(r.clone()).or_default();
        for n in &names {
            entry.entry(normalize(n)).or_default();
        }
        for chunk in names.chunks(200) {
            let sql = format!(
                "SELECT {}, {} FROM {} WHERE LOWER({}) IN ({})",
                r.key,
                r.display,
                r.table,
                r.display,
                vec!["LOWER(?)"; chunk.len()].join(", ")
            );
            let binds: Vec<SqlValue> = chunk.iter().map(SqlValue::text).collect();
            for found in db.query_with(&sql, &binds).fetch_all(&mut *conn).await? {
                let id: i64 = found.try_get(0)?;
                let stored: Option<String> = found.try_get(1)?;
                let Some(stored) = stored else { continue };
                entry
                    .entry(normalize(&stored))
                    .or_default()
                    .push((id, stored));
            }
        }
    }
    Ok(())
}

/// Finds the existing record of each row, in one query per chunk.
pub(crate) async fn match_rows(
    job: &ImportJob<'_>,
    conn: &mut AnyConnection,
    key: &Key,
    rows: &[Prepared],
) -> Result<Vec<Result<Option<i64>, String>>, DomainError> {
    let res = job.res;
    if key.by_id {
        let ids: Vec<i64> = rows
            .iter()
            .filter_map(|p| p.key.as_deref()?.parse().ok())
            .collect();
        let found = res.fetch_many(job.db, conn, &ids).await?;
        return Ok(rows
            .iter()
            .map(|p| match p.key.as_deref() {
                None => Ok(None),
                Some(k) => match k.parse::<i64>() {
                    Ok(id) if found.contains_key(&id) => Ok(Some(id)),
                    Ok(id) => Err(format!(
                        "no {} with id {id}; leave {} empty to create one",
                        res.entity, key.field
                    )),
                    Err(_) => Err(format!("'{k}' is not a record id")),
                },
            })
            .collect());
    }
    let values: Vec<&str> = rows.iter().filter_map(|p| p.key.as_deref()).collect();
    let found = find_many(job.db, conn, res, &key.field, &values).await?;
    Ok(rows
        .iter()
        .map(|p| {
            let Some(k) = p.key.as_deref() else {
                return Ok(None);
            };
            let holders = found.get(&normalize(k)).map(Vec::as_slice).unwrap_or(&[]);
            one_of(holders, k).map_err(|ids| {
                let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
                format!(
                    "'{k}' matches {} records that differ only in case (ids {})",
                    ids.len(),
                    ids.join(", ")
                )
            })
        })
        .collect())
}
