//! Changing records, one or many, with version checks, hooks, audit entries and search entries.

use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Row};

use crate::audit::{self, Action};
use crate::auth::Actor;
use crate::db::{Db, Dialect, SqlValue};
use crate::error::DomainError;
use crate::schema::Table;
use crate::search;
use crate::util::now;

use super::create::*;
use super::effects::*;
use super::model::*;
use super::validate::*;

impl Resource {
    /// Applies `values` to the stored record `before` and audits the changed fields. With
    /// `expected_version` the update only happens if nobody changed the record since that
    /// version (else 409).
    pub async fn update_values(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        actor: &Actor,
        before: &Map<String, Value>,
        values: Vec<(String, SqlValue)>,
        expected_version: Option<i64>,
    ) -> Result<Map<String, Value>, DomainError> {
        let id = before
            .get(self.key())
            .and_then(Value::as_i64)
            .unwrap_or_default();
        let (values, lists) = self.take_children(self.typed(values));
        let lists: Vec<(String, Value)> = lists
            .into_iter()
            .filter(|(n, v)| before.get(n) != Some(v))
            .collect();
        let changed: Vec<(String, SqlValue)> = values
            .into_iter()
            .filter(|(n, v)| before.get(n) != Some(&v.to_json()))
            .collect();
        if changed.is_empty() && lists.is_empty() {
            if let (Some(expected), Some(current)) = (
                expected_version,
                before.get("version").and_then(Value::as_i64),
            ) && expected != current
            {
                return Err(self.stale(db, conn, id, current).await);
            }
            return Ok(before.clone());
        }
        if !self.hooks.before_write.is_empty() {
            let mut record = merge(Some(before), &changed);
            record.extend(lists.iter().cloned());
            let hooks = &self.hooks.before_write;
            self.run_hooks(
                hooks,
                db,
                conn,
                actor,
                Some(id),
                Some(before),
                &record,
                None,
            )
            .await?;
        }
        let (changed, ext_changed) = self.split(changed);
        let mut sets: Vec<String> = changed.iter().map(|(n, _)| format!("{n} = ?")).collect();
        let mut binds: Vec<SqlValue> = changed.iter().map(|(_, v)| v.clone()).collect();
        if self.table.get("modifieddate").is_some() {
            sets.push("modifieddate = ?".into());
            binds.push(SqlValue::text(now()));
        }
        if self.versioned {
            sets.push("version = version + 1".into());
        }
        if sets.is_empty() {
            // Nothing of the base row changes; touch the key so the version check still runs.
            sets.push(format!("{key} = {key}", key = self.key()));
        }
        let mut sql = format!("UPDATE {} SET {}", self.table.name, sets.join(", "));
        sql.push_str(&format!(" WHERE {} = ?", self.key()));
        binds.push(SqlValue::Int(id));
        if let Some(expected) = expected_version {
            sql.push_str(" AND version = ?");
            binds.push(SqlValue::Int(expected));
        }
        let done = db.query_with(&sql, &binds).execute(&mut *conn).await?;
        if done.rows_affected() == 0 {
            let current = self
                .fetch(db, conn, id)
                .await?
                .ok_or_else(|| self.not_found(id))?;
            let version = current
                .get("version")
                .and_then(Value::as_i64)
                .unwrap_or_default();
            return Err(self.stale(db, conn, id, version).await);
        }
        if let Some(ext) = &self.extension
            && !ext_changed.is_empty()
        {
            let sets: Vec<String> = ext_changed
                .iter()
                .map(|(n, _)| format!("{n} = ?"))
                .collect();
            let mut binds: Vec<SqlValue> = ext_changed.into_iter().map(|(_, v)| v).collect();
            binds.push(SqlValue::Int(id));
            db.query_with(
                &format!(
                    "UPDATE {} SET {} WHERE {} = ?",
                    ext.name,
                    sets.join(", "),
                    self.key()
                ),
                &binds,
            )
            .execute(&mut *conn)
            .await?;
        }
        self.write_children(db, conn, id, &lists).await?;
        let mut after = self
            .fetch(db, conn, id)
            .await?
            .ok_or_else(|| self.not_found(id))?;
        if !self.hooks.after_write.is_empty() {
            let hooks = &self.hooks.after_write;
            self.run_hooks(hooks, db, conn, actor, Some(id), Some(before), &after, None)
                .await?;
            after = self
                .fetch(db, conn, id)
                .await?
                .ok_or_else(|| self.not_found(id))?;
        }
        let name = self.label_of(&after);
        audit::record(
            db,
            conn,
            actor,
            audit::Entry {
                action: Action::Updated,
                entitytype: self.audit_entity(),
                entityid: Some(id),
                entityname: name.as_deref(),
                before: &self.auditable(before),
                after: &self.auditable(&after),
            },
        )
        .await?;
        self.index(db, conn, id, &after, Indexed::Was(before))
            .await?;
        Ok(after)
    }

    /// Whether a change of `field` can be written by `update_many`: a plain column of the
    /// record (not a key, a reference, a unique or read-only column, or a child list) of a
    /// resource without after-write hooks.
    pub fn plain_field(&self, field: &str) -> bool {
        if !self.hooks.after_write.is_empty() || field == self.key() {
            return false;
        }
        let column = self
            .extension
            .as_ref()
            .and_then(|e| e.get(field))
            .or_else(|| self.table.get(field));
        column.is_some_and(|c| self.writable(c) && c.references.is_none() && !c.unique)
    }

    /// Runs the before-write hooks for changing `before` by `values`, as `update_values` does.
    pub async fn check_update(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        actor: &Actor,
        before: &Map<String, Value>,
        values: &[(String, SqlValue)],
    ) -> Result<(), DomainError> {
        if self.hooks.before_write.is_empty() {
            return Ok(());
        }
        let id = before.get(self.key()).and_then(Value::as_i64);
        let record = merge(Some(before), values);
        let hooks = &self.hooks.before_write;
        self.run_hooks(hooks, db, conn, actor, id, Some(before), &record, None)
            .await
    }

    /// Applies many updates of plain fields (see `plain_field`) in a few statements whatever
    /// their number — one per changed column, one for versions, a few for the audit entries
    /// and search entries — with the same outcome as `update_values` for each: new version
    /// and modification time, an audit entry of the changed fields, search entries kept.
    /// Each item is a stored record and its checked, changed values (see `check_update`).
    /// Returns the records as they are now, in the same order.
    pub async fn update_many(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        actor: &Actor,
        items: &[Change<'_>],
    ) -> Result<Vec<Map<String, Value>>, DomainError> {
        let key = self.key().to_string();
        let stamp = now();
        let id_of = |record: &Map<String, Value>| {
            record.get(&key).and_then(Value::as_i64).unwrap_or_default()
        };
        let ids: Vec<i64> = items.iter().map(|(before, _)| id_of(before)).collect();
        let stamped = self.table.get("modifieddate").is_some();
        let mut sets = Vec::new();
        if stamped {
            sets.push("modifieddate = ?");
        }
        if self.versioned {
            sets.push("version = version + 1");
        }
        if !sets.is_empty() {
            for chunk in ids.chunks(200) {
                let mut binds: Vec<SqlValue> = Vec::new();
                if stamped {
                    binds.push(SqlValue::text(&stamp));
                }
                binds.extend(chunk.iter().map(|id| SqlValue::Int(*id)));
                db.query_with(
                    &format!(
                        "UPDATE {} SET {} WHERE {key} IN ({})",
                        self.table.name,
                        sets.join(", "),
                        vec!["?"; chunk.len()].join(", ")
                    ),
                    &binds,
                )
                .execute(&mut *conn)
                .await?;
            }
        }
        // One statement per changed column: each row gets its own value through a CASE.
        let mut by_column: std::collections::BTreeMap<(&str, &str), Vec<(i64, &SqlValue)>> =
            Default::default();
        for ((_, values), id) in items.iter().zip(&ids) {
            for (name, value) in values {
                let table = match &self.extension {
                    Some(ext) if ext.get(name).is_some() => ext,
                    _ => &self.table,
                };
                by_column
                    .entry((table.name.as_str(), name.as_str()))
                    .or_default()
                    .push((*id, value));
            }
        }
        for ((table, column), pairs) in by_column {
            let table = [Some(&self.table), self.extension.as_ref()]
                .into_iter()
                .flatten()
                .find(|t| t.name == table)
                .unwrap_or(&self.table);
            self.set_each(db, conn, table, column, &pairs).await?;
        }
        let afters: Vec<Map<String, Value>> = items
            .iter()
            .map(|(before, values)| {
                let mut after = merge(Some(before), values);
                if stamped {
                    after.insert("modifieddate".into(), json!(stamp));
                }
                if self.versioned
                    && let Some(v) = before.get("version").and_then(Value::as_i64)
                {
                    after.insert("version".into(), json!(v + 1));
                }
                after
            })
            .collect();
        let audited: Vec<_> = items
            .iter()
            .zip(&afters)
            .map(|((before, _), after)| {
                let name: Option<String> = self.label_of(after);
                (name, self.auditable(before), self.auditable(after))
            })
            .collect();
        let entries: Vec<audit::Entry> = audited
            .iter()
            .zip(&ids)
            .map(|((name, before, after), id)| audit::Entry {
                action: Action::Updated,
                entitytype: self.audit_entity(),
                entityid: Some(*id),
                entityname: name.as_deref(),
                before,
                after,
            })
            .collect();
        audit::record_many(db, conn, actor, &entries).await?;
        let is_asset = self.is_asset();
        for (spec, link) in self.search_specs() {
            let list: Vec<search::Rewrite> = items
                .iter()
                .zip(&afters)
                .zip(&ids)
                .map(|(((before, _), after), id)| search::Rewrite {
                    id: *id,
                    assetid: is_asset.then_some(*id),
                    record: after,
                    before,
                    fresh: false,
                })
                .collect();
            search::index_many(db, conn, &spec, &link, &list).await?;
        }
        db.forget_counts();
        Ok(afters)
    }

    /// Sets `column` of `table` (this record's base or extension table) to its own value for
    /// each `(key, value)`, in one statement per 200 rows: an `UPDATE … CASE`. No audit, no
    /// version: callers decide what the change means.
    pub async fn set_each(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        table: &Table,
        column: &str,
        pairs: &[(i64, &SqlValue)],
    ) -> Result<(), sqlx::Error> {
        let key = self.key();
        if db.dialect() == Dialect::Sqlite {
            // A join with the list of pairs: a CASE of 200 branches would be compiled for
            // each statement and tried branch by branch for each row.
            for chunk in pairs.chunks(200) {
                // A key given twice takes its first value, as the CASE does.
                let mut seen = std::collections::HashSet::with_capacity(chunk.len());
                let mut binds = Vec::with_capacity(chunk.len() * 2);
                for (id, value) in chunk.iter().filter(|(id, _)| seen.insert(*id)) {
                    binds.push(SqlValue::Int(*id));
                    binds.push((*value).clone());
                }
                let sql = format!(
                    "UPDATE {table} SET {column} = v.column2 FROM (VALUES {}) AS v WHERE {table}.{key} = v.column1",
                    vec!["(?, ?)"; seen.len()].join(", "),
                    table = table.name,
                );
                let full = seen.len() == 200;
                db.query_batch(&sql, &binds, full)
                    .execute(&mut *conn)
                    .await?;
            }
            return Ok(());
        }
        // PostgreSQL types a CASE by its branches: give each the column's own type.
        let then = match (db.dialect(), table.get(column)) {
            (Dialect::Postgres, Some(c)) => format!("CAST(? AS {})", c.ty.sql(Dialect::Postgres)),
            _ => "?".to_string(),
        };
        for chunk in pairs.chunks(200) {
            let mut binds = Vec::with_capacity(chunk.len() * 3);
            for (id, value) in chunk {
                binds.push(SqlValue::Int(*id));
                binds.push((*value).clone());
            }
            binds.extend(chunk.iter().map(|(id, _)| SqlValue::Int(*id)));
            db.query_with(
                &format!(
                    "UPDATE {} SET {column} = CASE {key} {} ELSE {column} END WHERE {key} IN ({})",
                    table.name,
                    vec![format!("WHEN ? THEN {then}"); chunk.len()].join(" "),
                    vec!["?"; chunk.len()].join(", ")
                ),
                &binds,
            )
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// The 409 for a stale version, naming who changed the record last and when.
    pub(crate) async fn stale(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        id: i64,
        current: i64,
    ) -> DomainError {
        let last = db
            .query("SELECT actorname, occurredat FROM auditlog WHERE entitytype = ? AND entityid = ? ORDER BY auditid DESC LIMIT 1")
            .bind(self.audit_entity().to_string())
            .bind(id)
            .fetch_optional(conn)
            .await
            .ok()
            .flatten();
        let (by, at) = last
            .and_then(|r| {
                Some((
                    r.try_get::<String, _>(0).ok()?,
                    r.try_get::<String, _>(1).ok()?,
                ))
            })
            .unwrap_or_default();
        DomainError::conflict(format!(
            "this {} was changed by {by} at {at} (now version {current}); reload it and apply your change again",
            self.entity
        ))
        .with_details(json!({"currentversion": current, "modifiedby": by, "modifieddate": at}))
    }

    /// Update from a request body in one transaction. Fields not sent keep their values.
    pub async fn update(
        &self,
        db: &Db,
        actor: &Actor,
        id: i64,
        body: &Map<String, Value>,
    ) -> Result<Map<String, Value>, DomainError> {
        let expected_version = if self.versioned {
            match body.get("version") {
                Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
                Some(_) => {
                    return Err(DomainError::field(
                        "version",
                        "must be the whole-number version you read",
                    ));
                }
                None => {
                    return Err(DomainError::field(
                        "version",
                        "is required: send the version you read so a concurrent change is not lost",
                    ));
                }
            }
        } else {
            None
        };
        let mut tx = db.begin().await?;
        let result = async {
            let before = self
                .fetch(db, &mut tx, id)
                .await?
                .ok_or_else(|| self.not_found(id))?;
            let values = self.validate(db, &mut tx, body, Some(&before)).await?;
            self.update_values(db, &mut tx, actor, &before, values, expected_version)
                .await
        }
        .await;
        finish(db, tx, result).await
    }
}
