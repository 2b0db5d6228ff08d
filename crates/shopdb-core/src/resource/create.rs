//! Creating records, one or many, with their audit entries and search entries.

use serde_json::{Map, Value};
use sqlx::{AnyConnection, Row};

use crate::audit::{self, Action};
use crate::auth::Actor;
use crate::db::{Db, Dialect, SqlValue};
use crate::error::DomainError;
use crate::schema::{ColumnType, Table};
use crate::search;
use crate::util::now;

use super::effects::*;
use super::model::*;
use super::validate::*;

/// Inserts one row of `table` (timestamps filled in) and returns its key.
pub(crate) async fn insert_row(
    db: &Db,
    conn: &mut AnyConnection,
    table: &Table,
    mut values: Vec<(String, SqlValue)>,
) -> Result<i64, sqlx::Error> {
    let stamp = now();
    for managed in ["createddate", "modifieddate"] {
        if table.get(managed).is_some() {
            values.push((managed.to_string(), SqlValue::text(&stamp)));
        }
    }
    let columns: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        table.name,
        columns.join(", "),
        vec!["?"; columns.len()].join(", ")
    );
    let key = table.key_column();
    let binds: Vec<SqlValue> = values.iter().map(|(_, v)| v.clone()).collect();
    if table.columns.iter().any(|c| c.ty == ColumnType::Id) {
        return db.insert_returning_id(conn, &sql, &binds, key).await;
    }
    db.query_with(&sql, &binds).execute(&mut *conn).await?;
    Ok(values
        .iter()
        .find(|(n, _)| n == key)
        .and_then(|(_, v)| {
            if let SqlValue::Int(i) = v {
                Some(*i)
            } else {
                None
            }
        })
        .unwrap_or_default())
}

/// Inserts rows of `table` (timestamps filled in), up to 100 per statement where they name
/// the same columns; returns their keys in the same order. On SQLite and PostgreSQL a
/// statement returns the keys it made, which ascend in the order of its rows; MySQL does not
/// say which keys a multi-row insert took, so there each row is inserted on its own.
pub(crate) async fn insert_rows(
    db: &Db,
    conn: &mut AnyConnection,
    table: &Table,
    rows: Vec<Values>,
) -> Result<Vec<i64>, sqlx::Error> {
    let generated = table.columns.iter().any(|c| c.ty == ColumnType::Id);
    if generated && db.dialect() == Dialect::MySql {
        let mut ids = Vec::with_capacity(rows.len());
        for values in rows {
            ids.push(insert_row(db, conn, table, values).await?);
        }
        return Ok(ids);
    }
    let stamp = now();
    let key = table.key_column();
    let mut ids = Vec::with_capacity(rows.len());
    let mut rest = rows.as_slice();
    while !rest.is_empty() {
        let names: Vec<&str> = rest[0].iter().map(|(n, _)| n.as_str()).collect();
        let same = rest
            .iter()
            .take(100)
            .take_while(|r| r.iter().map(|(n, _)| n.as_str()).eq(names.iter().copied()))
            .count();
        let (chunk, later) = rest.split_at(same);
        rest = later;
        let mut columns = names.clone();
        let stamped: Vec<&str> = ["createddate", "modifieddate"]
            .into_iter()
            .filter(|m| table.get(m).is_some())
            .collect();
        columns.extend(&stamped);
        let marks = format!("({})", vec!["?"; columns.len()].join(", "));
        let mut binds = Vec::with_capacity(chunk.len() * columns.len());
        for values in chunk {
            binds.extend(values.iter().map(|(_, v)| v.clone()));
            binds.extend(stamped.iter().map(|_| SqlValue::text(&stamp)));
        }
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            table.name,
            columns.join(", "),
            vec![marks; chunk.len()].join(", ")
        );
        if generated {
            let returned = db
                .query_batch(&format!("{sql} RETURNING {key}"), &binds, same == 100)
                .fetch_all(&mut *conn)
                .await?;
            let mut made = returned
                .iter()
                .map(|r| r.try_get::<i64, _>(0))
                .collect::<Result<Vec<_>, _>>()?;
            made.sort_unstable();
            ids.extend(made);
        } else {
            db.query_batch(&sql, &binds, same == 100)
                .execute(&mut *conn)
                .await?;
            ids.extend(chunk.iter().map(|values| {
                values
                    .iter()
                    .find(|(n, _)| n == key)
                    .and_then(|(_, v)| match v {
                        SqlValue::Int(i) => Some(*i),
                        _ => None,
                    })
                    .unwrap_or_default()
            }));
        }
    }
    Ok(ids)
}

/// Commits on success and rolls back at once on failure, so no connection goes back to the
/// pool holding locks of a half-done write.
pub async fn finish<T>(
    db: &Db,
    tx: crate::db::WriteTx,
    result: Result<T, DomainError>,
) -> Result<T, DomainError> {
    match result {
        Ok(value) => {
            tx.commit().await?;
            // Counts read while the write was open may have been cached: drop them.
            db.forget_counts();
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(e)
        }
    }
}

impl Resource {
    /// Inserts a record on `conn` (inside the caller's transaction) and audits it.
    pub async fn insert(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        actor: &Actor,
        values: Vec<(String, SqlValue)>,
    ) -> Result<Map<String, Value>, DomainError> {
        let (values, lists) = self.take_children(self.typed(values));
        if !self.hooks.before_write.is_empty() {
            let mut record = merge(None, &values);
            record.extend(lists.iter().cloned());
            self.run_hooks(
                &self.hooks.before_write,
                db,
                conn,
                actor,
                None,
                None,
                &record,
                None,
            )
            .await?;
        }
        let (values, mut ext_values) = self.split(values);
        db.forget_counts();
        let id = insert_row(db, conn, &self.table, values).await?;
        if let Some(ext) = &self.extension {
            ext_values.push((self.key().to_string(), SqlValue::Int(id)));
            insert_row(db, conn, ext, ext_values).await?;
        }
        self.write_children(db, conn, id, &lists).await?;
        let mut record = self
            .fetch(db, conn, id)
            .await?
            .ok_or_else(|| self.not_found(id))?;
        if !self.hooks.after_write.is_empty() {
            self.run_hooks(
                &self.hooks.after_write,
                db,
                conn,
                actor,
                Some(id),
                None,
                &record,
                None,
            )
            .await?;
            record = self
                .fetch(db, conn, id)
                .await?
                .ok_or_else(|| self.not_found(id))?;
        }
        let name = self.label_of(&record);
        audit::record(
            db,
            conn,
            actor,
            audit::Entry {
                action: Action::Created,
                entitytype: self.audit_entity(),
                entityid: Some(id),
                entityname: name.as_deref(),
                before: &Map::new(),
                after: &self.auditable(&record),
            },
        )
        .await?;
        self.index(db, conn, id, &record, Indexed::Fresh).await?;
        Ok(record)
    }

    /// Whether records are created together with nothing to check but `validate`: no write
    /// hooks and no child lists (see `insert_many`, `batch_creates`).
    pub fn creates_together(&self) -> bool {
        self.hooks.before_write.is_empty()
            && self.hooks.after_write.is_empty()
            && self.children.is_empty()
    }

    /// Creates many records in a few statements whatever their number (multi-row inserts of
    /// the rows and of their child lists, one read of the new records, the audit entries and
    /// search entries together) with the same outcome as `insert` for each. Only where
    /// `batch_creates`; each record's values come from `validate`, and `check_create` has
    /// passed them (see `batch_keys` for what records created together must not share).
    /// Returns the new records in the same order.
    pub async fn insert_many(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        actor: &Actor,
        rows: Vec<Values>,
    ) -> Result<Vec<Map<String, Value>>, DomainError> {
        if !self.batch_creates() {
            return Err(DomainError::internal(format!(
                "{} records cannot be created together",
                self.entity
            )));
        }
        let mut lists: Vec<Vec<(String, Value)>> = Vec::with_capacity(rows.len());
        let (base, ext): (Vec<Values>, Vec<Values>) = rows
            .into_iter()
            .map(|values| {
                let (values, children) = self.take_children(self.typed(values));
                lists.push(children);
                self.split(values)
            })
            .unzip();
        db.forget_counts();
        let ids = insert_rows(db, conn, &self.table, base).await?;
        if let Some(table) = &self.extension {
            let ext: Vec<Values> = ext
                .into_iter()
                .zip(&ids)
                .map(|(mut values, id)| {
                    values.push((self.key().to_string(), SqlValue::Int(*id)));
                    values
                })
                .collect();
            insert_rows(db, conn, table, ext).await?;
        }
        for list in &self.children {
            let items: Vec<(i64, &Value)> = lists
                .iter()
                .zip(&ids)
                .filter_map(|(sent, id)| {
                    let (_, items) = sent.iter().find(|(field, _)| *field == list.field)?;
                    Some((*id, items))
                })
                .collect();
            list.insert_lists(db, conn, self.key(), &items).await?;
        }
        let mut fetched = self.fetch_many(db, conn, &ids).await?;
        let records = ids
            .iter()
            .map(|id| fetched.remove(id).ok_or_else(|| self.not_found(*id)))
            .collect::<Result<Vec<_>, DomainError>>()?;
        let empty = Map::new();
        let audited: Vec<(Option<String>, Map<String, Value>)> = records
            .iter()
            .map(|r| (self.label_of(r), self.auditable(r)))
            .collect();
        let entries: Vec<audit::Entry> = audited
            .iter()
            .zip(&ids)
            .map(|((name, after), id)| audit::Entry {
                action: Action::Created,
                entitytype: self.audit_entity(),
                entityid: Some(*id),
                entityname: name.as_deref(),
                before: &empty,
                after,
            })
            .collect();
        audit::record_many(db, conn, actor, &entries).await?;
        let is_asset = self.is_asset();
        for (spec, link) in self.search_specs() {
            let list: Vec<search::Rewrite> = records
                .iter()
                .zip(&ids)
                .map(|(record, id)| search::Rewrite {
                    id: *id,
                    assetid: is_asset.then_some(*id),
                    record,
                    before: &empty,
                    fresh: true,
                })
                .collect();
            search::index_many(db, conn, &spec, &link, &list).await?;
        }
        Ok(records)
    }

    /// Whether `insert_many` can create this resource's records: no after-write hooks, and
    /// before-write hooks only where they are declared to only check (`Hooks::checks_only`).
    /// Callers run `check_create` on each record and keep records that share a `batch_keys`
    /// value apart (one goes one by one, after the others are written).
    pub fn batch_creates(&self) -> bool {
        self.hooks.after_write.is_empty()
            && (self.hooks.before_write.is_empty() || self.hooks.compared.is_some())
    }

    /// The record the before-write hooks see for creating one from `values` (checked by
    /// `validate`): what `check_create` and the batch lookups ([`Hooks::prepare`]) are given.
    pub fn new_record(&self, values: &[(String, SqlValue)]) -> Map<String, Value> {
        let (values, lists) = self.take_children(self.typed(values.to_vec()));
        let mut record = merge(None, &values);
        record.extend(lists);
        record
    }

    /// Runs the before-write hooks for creating `record` (made by `new_record`), as `insert`
    /// does, without writing; `known` is what `prepare_creates` found for its batch.
    pub async fn check_create(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        actor: &Actor,
        record: &Map<String, Value>,
        known: Option<&Cleared>,
    ) -> Result<(), DomainError> {
        let hooks = &self.hooks.before_write;
        self.run_hooks(hooks, db, conn, actor, None, None, record, known)
            .await
    }

    /// The values by which `record` (fields as sent or stored) can clash with another new
    /// record: its unique columns and unique indexes as they are, and the fields the hooks
    /// compare (`Hooks::checks_only`) ignoring case. Two records of a batch that share one
    /// cannot be checked independently, so they are not created together.
    pub fn batch_keys(&self, record: &Map<String, Value>) -> Vec<String> {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut keys = Vec::new();
        for table in [Some(&self.table), self.extension.as_ref()]
            .into_iter()
            .flatten()
        {
            for c in table.columns.iter().filter(|c| c.unique) {
                if let Some(v) = record.get(&c.name).filter(|v| !v.is_null()) {
                    keys.push(format!("={}\u{0}{}", c.name, text(v)));
                }
            }
            for index in table.indexes.iter().filter(|i| i.unique) {
                let values: Option<Vec<String>> = index
                    .columns
                    .iter()
                    .map(|c| record.get(c).filter(|v| !v.is_null()).map(text))
                    .collect();
                if let Some(values) = values {
                    keys.push(format!("={}\u{0}{}", index.name, values.join("\u{0}")));
                }
            }
        }
        for field in self.hooks.compared.iter().flatten() {
            if let Some(v) = record.get(field).filter(|v| !v.is_null()) {
                keys.push(format!("~{field}\u{0}{}", text(v).trim().to_lowercase()));
            }
        }
        keys
    }

    pub(crate) fn split(&self, values: Vec<(String, SqlValue)>) -> (Values, Values) {
        match &self.extension {
            Some(ext) => values
                .into_iter()
                .partition(|(n, _)| ext.get(n).is_none() || n == self.key()),
            None => (values, Vec::new()),
        }
    }

    /// Create from a request body in one transaction.
    pub async fn create(
        &self,
        db: &Db,
        actor: &Actor,
        body: &Map<String, Value>,
    ) -> Result<Map<String, Value>, DomainError> {
        let mut tx = db.begin().await?;
        let result = async {
            let values = self.validate(db, &mut tx, body, None).await?;
            self.insert(db, &mut tx, actor, values).await
        }
        .await;
        finish(db, tx, result).await
    }
}
