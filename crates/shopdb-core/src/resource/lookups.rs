//! What validation asks the database, answered for many records at once: referenced rows, holders of unique values, named defaults.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use crate::db::{Db, SqlValue};

/// What `Resource::validate_in` learns from the database and can share between the records
/// of one batch checked in one transaction: the ids of named defaults and the referenced rows
/// (most records of a batch name the same), and the values the caller found free in a unique
/// column for the whole batch in one query.
#[derive(Default)]
pub struct Lookups {
    /// A lookup's SQL and bound values → the numbers it answered.
    answers: HashMap<String, Vec<Option<i64>>>,
    /// `table`, `column`, value: no row holds it.
    free: std::collections::HashSet<(String, String, String)>,
}

impl Lookups {
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
