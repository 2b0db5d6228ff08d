//! What validation asks the database, answered for many records at once: referenced rows, holders of unique values, named defaults.

use std::collections::HashMap;

use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{Db, SqlValue};
use crate::schema::Column;

use super::model::*;
use super::validate::*;

/// What `Resource::validate_in` learns from the database and can share between the records
/// of one batch checked in one transaction: what was looked up for all of them beforehand
/// (`known`, from `Resource::look_up`), the ids of named defaults and the referenced rows
/// asked on the way (most records of a batch name the same), and the values the caller found
/// free in a unique column for the whole batch in one query.
#[derive(Default)]
pub struct Lookups {
    /// Answers looked up for the batch's records at once.
    pub known: std::sync::Arc<Known>,
    /// A lookup's SQL and bound values → the numbers it answered.
    answers: HashMap<String, Vec<Option<i64>>>,
    /// `table`, `column`, value: no row holds it.
    free: std::collections::HashSet<(String, String, String)>,
}

impl Lookups {
    /// Starts from what `Resource::look_up` found for a batch.
    pub fn with(known: std::sync::Arc<Known>) -> Lookups {
        Lookups {
            known,
            ..Lookups::default()
        }
    }

    /// Records that no row of `table` holds `value` in its unique column `column` (compared
    /// exactly), so `validate_in` need not ask. Only for what was looked up in the same
    /// transaction and cannot have been written since.
    pub fn set_free(&mut self, table: &str, column: &str, value: &str) {
        self.free
            .insert((table.to_string(), column.to_string(), value.to_string()));
    }

    pub(crate) fn is_free(&self, table: &str, column: &str, value: &SqlValue) -> bool {
        let SqlValue::Text(text) = value else {
            return false;
        };
        self.free
            .contains(&(table.to_string(), column.to_string(), text.clone()))
    }

    /// The numbers (ids or counts) of the single row `sql` answers, asked once per batch.
    pub(crate) async fn ids(
        &mut self,
        db: &Db,
        conn: &mut AnyConnection,
        sql: &str,
        binds: &[SqlValue],
    ) -> Result<Vec<Option<i64>>, sqlx::Error> {
        let key = format!("{sql}\u{0}{binds:?}");
        if let Some(found) = self.answers.get(&key) {
            return Ok(found.clone());
        }
        let row = db.query_with(sql, binds).fetch_one(&mut *conn).await?;
        let found = (0..row.len())
            .map(|i| row.try_get::<Option<i64>, _>(i))
            .collect::<Result<Vec<_>, _>>()?;
        self.answers.insert(key, found.clone());
        Ok(found)
    }
}

/// A value lookups are keyed by: a whole number or text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum KeyValue {
    Int(i64),
    Text(String),
}

impl KeyValue {
    pub(crate) fn of(value: &SqlValue) -> Option<KeyValue> {
        match value {
            SqlValue::Int(i) => Some(KeyValue::Int(*i)),
            SqlValue::Text(s) => Some(KeyValue::Text(s.clone())),
            _ => None,
        }
    }

    pub(crate) fn bind(&self) -> SqlValue {
        match self {
            KeyValue::Int(i) => SqlValue::Int(*i),
            KeyValue::Text(s) => SqlValue::text(s),
        }
    }

    /// Column `idx` of `row`, read as the same kind as `self`.
    pub(crate) fn read_like(&self, row: &AnyRow, idx: usize) -> Option<KeyValue> {
        match self {
            KeyValue::Int(_) => row.try_get::<i64, _>(idx).ok().map(KeyValue::Int),
            KeyValue::Text(_) => row.try_get::<String, _>(idx).ok().map(KeyValue::Text),
        }
    }
}

/// What `validate` asks the database about new records, looked up for many of them at once
/// by `Resource::look_up`: whether a referenced row exists, which record holds a value of a
/// unique column, and the rows named as defaults. What it does not cover is asked for as
/// usual. It holds until the next write that could change those answers (a created record
/// or reference row, a changed unique value); the caller drops it then.
#[derive(Debug, Default)]
pub struct Known {
    /// Table → column → each value looked up → whether a row of the table has it.
    present: HashMap<String, HashMap<String, Found<bool>>>,
    /// Table → unique column → each value looked up → the record holding it.
    holders: HashMap<String, HashMap<String, Found<Option<i64>>>>,
    /// A default's column → the row its name names.
    defaults: HashMap<String, Option<i64>>,
}

impl Known {
    pub(crate) fn present(&self, table: &str, column: &str, value: &SqlValue) -> Option<bool> {
        self.present.get(table)?.get(column)?.get(value)
    }

    pub(crate) fn holder(
        &self,
        table: &str,
        column: &str,
        value: &SqlValue,
    ) -> Option<Option<i64>> {
        self.holders.get(table)?.get(column)?.get(value)
    }

    pub(crate) fn default_row(&self, default: &NamedDefault) -> Option<Option<i64>> {
        self.defaults.get(&default.column).copied()
    }
}

/// What was found for each value of a column looked up.
#[derive(Debug, Default)]
pub(crate) struct Found<T> {
    ints: HashMap<i64, T>,
    texts: HashMap<String, T>,
}

impl<T: Copy> Found<T> {
    pub(crate) fn of(answers: HashMap<KeyValue, T>) -> Found<T> {
        let mut found = Found {
            ints: HashMap::new(),
            texts: HashMap::new(),
        };
        for (value, answer) in answers {
            match value {
                KeyValue::Int(i) => found.ints.insert(i, answer),
                KeyValue::Text(s) => found.texts.insert(s, answer),
            };
        }
        found
    }

    pub(crate) fn get(&self, value: &SqlValue) -> Option<T> {
        match value {
            SqlValue::Int(i) => self.ints.get(i).copied(),
            SqlValue::Text(s) => self.texts.get(s.as_str()).copied(),
            _ => None,
        }
    }
}

/// Runs `select` (`SELECT column` or `SELECT key, column` `FROM table`) for `values` of
/// `column`, 200 at a time: each value → the key of the row holding it (with `keyed`; else
/// its own value when a row has it). None when the answers cannot be told apart exactly (a
/// row read back as no value asked for, as a collation that ignores trailing spaces gives,
/// or a value two rows hold): then each record asks on its own.
pub(crate) async fn look_up_values(
    db: &Db,
    conn: &mut AnyConnection,
    select: &str,
    column: &str,
    values: &[KeyValue],
    keyed: bool,
) -> Result<Option<HashMap<KeyValue, Option<i64>>>, sqlx::Error> {
    let mut found: HashMap<KeyValue, Option<i64>> =
        values.iter().map(|v| (v.clone(), None)).collect();
    let at = usize::from(keyed);
    for chunk in values.chunks(200) {
        let binds: Vec<SqlValue> = chunk.iter().map(KeyValue::bind).collect();
        let sql = format!(
            "{select} WHERE {column} IN ({})",
            vec!["?"; chunk.len()].join(", ")
        );
        for row in db.query_with(&sql, &binds).fetch_all(&mut *conn).await? {
            let Some(value) = chunk[0].read_like(&row, at) else {
                return Ok(None);
            };
            let id = if keyed { row.try_get::<i64, _>(0)? } else { 0 };
            match found.get_mut(&value) {
                Some(Some(_)) if keyed => return Ok(None),
                Some(slot) => *slot = Some(id),
                None => return Ok(None),
            }
        }
    }
    Ok(Some(found))
}

impl Resource {
    /// Looks up what `validate` asks the database about each of `bodies` as a new record —
    /// whether the rows its references name exist, which record holds each value of a
    /// unique column, the rows named as defaults — in one query per column and 200 values
    /// whatever the number of bodies (see `Known`).
    pub async fn look_up(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        bodies: &[Map<String, Value>],
    ) -> Result<Known, sqlx::Error> {
        let mut known = Known::default();
        if bodies.is_empty() {
            return Ok(known);
        }
        if !self.defaults.is_empty() {
            let all: Vec<&NamedDefault> = self.defaults.iter().collect();
            let rows = self.default_rows(db, conn, &all).await?;
            known.defaults = self
                .defaults
                .iter()
                .map(|d| d.column.clone())
                .zip(rows)
                .collect();
        }
        let tables = std::iter::once(&self.table).chain(self.extension.as_ref());
        for table in tables {
            let extension = table.name != self.table.name;
            for column in &table.columns {
                let asked_for = column.unique || column.references.is_some();
                if !asked_for || !self.writable(column) || (extension && column.name == self.key())
                {
                    continue;
                }
                let mut values: Vec<KeyValue> = bodies
                    .iter()
                    .filter_map(|b| self.sql_value_of(column, b))
                    .collect();
                values.sort_unstable();
                values.dedup();
                if let Some(fk) = &column.references {
                    let select = format!("SELECT {} FROM {}", fk.column, fk.table);
                    let found =
                        look_up_values(db, conn, &select, &fk.column, &values, false).await?;
                    if let Some(found) = found {
                        let present = found.into_iter().map(|(v, id)| (v, id.is_some()));
                        known
                            .present
                            .entry(fk.table.clone())
                            .or_default()
                            .insert(fk.column.clone(), Found::of(present.collect()));
                    }
                }
                if column.unique {
                    let select =
                        format!("SELECT {}, {} FROM {}", self.key(), column.name, table.name);
                    let found =
                        look_up_values(db, conn, &select, &column.name, &values, true).await?;
                    if let Some(found) = found {
                        known
                            .holders
                            .entry(table.name.clone())
                            .or_default()
                            .insert(column.name.clone(), Found::of(found));
                    }
                }
            }
        }
        Ok(known)
    }

    /// The rows `defaults` name (the status "In Service"), in one query.
    pub(crate) async fn default_rows(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        defaults: &[&NamedDefault],
    ) -> Result<Vec<Option<i64>>, sqlx::Error> {
        let parts: Vec<String> = defaults
            .iter()
            .map(|d| format!("(SELECT {} FROM {} WHERE name = ?)", d.column, d.table))
            .collect();
        let names: Vec<SqlValue> = defaults.iter().map(|d| SqlValue::text(&d.name)).collect();
        let row = db
            .query_with(&format!("SELECT {}", parts.join(", ")), &names)
            .fetch_one(&mut *conn)
            .await?;
        (0..defaults.len())
            .map(|i| row.try_get::<Option<i64>, _>(i))
            .collect()
    }

    /// The value `validate` makes of `column` in `body`, when it is a whole number or text.
    pub(crate) fn sql_value_of(
        &self,
        column: &Column,
        body: &Map<String, Value>,
    ) -> Option<KeyValue> {
        let raw = body.get(&column.name)?;
        let normalizer = self.normalize.iter().find(|(f, _)| f == &column.name);
        let value = match (normalizer, raw) {
            (Some((_, normalize)), Value::String(text)) if !text.trim().is_empty() => {
                to_sql_value(column, &Value::String(normalize(text.trim()).ok()?))
            }
            _ => to_sql_value(column, raw),
        };
        KeyValue::of(&value.ok()?)
    }
}
