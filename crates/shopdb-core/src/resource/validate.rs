//! Checking a body before any write: types, rules, references, normalised values, unique ignoring case.

use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Row};

use crate::db::{Db, SqlValue};
use crate::error::DomainError;
use crate::schema::{Column, ColumnType, Table};
use crate::util::{is_valid_date, normalize_timestamp};

use super::lookups::*;
use super::model::*;

/// Converts one JSON field to a column value, or says what is wrong with it.
pub fn to_sql_value(column: &Column, raw: &Value) -> Result<SqlValue, String> {
    let kind = column.ty.value_kind();
    if raw.is_null() {
        return Ok(SqlValue::Null(kind));
    }
    match column.ty {
        ColumnType::Id | ColumnType::Integer => raw
            .as_i64()
            .map(SqlValue::Int)
            .ok_or_else(|| "must be a whole number".to_string()),
        ColumnType::Float => raw
            .as_f64()
            .filter(|f| f.is_finite() && raw.is_number())
            .map(SqlValue::Float)
            .ok_or_else(|| "must be a number".to_string()),
        ColumnType::Boolean => raw
            .as_bool()
            .map(SqlValue::Bool)
            .ok_or_else(|| "must be true or false".to_string()),
        ColumnType::String(_) | ColumnType::Text | ColumnType::Timestamp | ColumnType::Date => {
            let sent = raw.as_str().ok_or_else(|| "must be text".to_string())?;
            // The length as sent, so the limit is the one the API document states.
            if let ColumnType::String(max) = column.ty
                && sent.chars().count() > max as usize
            {
                return Err(format!("must be at most {max} characters"));
            }
            let s = sent.trim();
            if s.is_empty() {
                return Ok(SqlValue::Null(kind));
            }
            // PostgreSQL cannot store it, and no one types it: refused everywhere alike.
            if s.contains('\0') {
                return Err("must not contain a NUL character".to_string());
            }
            if !column.choices.is_empty() && !column.choices.iter().any(|c| c == s) {
                return Err(format!("must be one of {}", column.choices.join(", ")));
            }
            match column.ty {
                ColumnType::Timestamp => {
                    normalize_timestamp(s).map(SqlValue::Text).ok_or_else(|| {
                        "must be an RFC 3339 timestamp such as 2026-11-21T14:05:00Z".to_string()
                    })
                }
                ColumnType::Date if !is_valid_date(s) => {
                    Err("must be a date such as 2026-11-21".to_string())
                }
                _ => Ok(SqlValue::text(s)),
            }
        }
        ColumnType::Bytes => Err("cannot be set here".to_string()),
    }
}

pub(crate) fn type_name(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Id | ColumnType::Integer => "whole number",
        ColumnType::Float => "number",
        ColumnType::Boolean => "true/false",
        ColumnType::Timestamp => "timestamp",
        ColumnType::Date => "date (YYYY-MM-DD)",
        _ => "text",
    }
}

pub(crate) fn merge(
    existing: Option<&Map<String, Value>>,
    values: &[(String, SqlValue)],
) -> Map<String, Value> {
    let mut merged = existing.cloned().unwrap_or_default();
    for (n, v) in values {
        merged.insert(n.clone(), v.to_json());
    }
    merged
}

impl Resource {
    /// Turns a request body into column values, collecting every problem.
    /// `existing` is the stored record on update (None on create).
    pub async fn validate(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        body: &Map<String, Value>,
        existing: Option<&Map<String, Value>>,
    ) -> Result<Vec<(String, SqlValue)>, DomainError> {
        self.validate_in(db, conn, body, existing, &mut Lookups::default())
            .await
    }

    /// `validate`, sharing `lookups` with the other records of a batch checked in the same
    /// transaction.
    pub async fn validate_in(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        body: &Map<String, Value>,
        existing: Option<&Map<String, Value>>,
        lookups: &mut Lookups,
    ) -> Result<Vec<(String, SqlValue)>, DomainError> {
        let normalized;
        let body = if self.normalize.is_empty() {
            body
        } else {
            normalized = self.normalized(body).map_err(DomainError::validation)?;
            &normalized
        };
        if let Some(ext) = &self.extension {
            return Box::pin(self.validate_extended(db, conn, body, existing, ext, lookups)).await;
        }
        let mut errors = Map::new();
        let mut values: Vec<(String, SqlValue)> = Vec::new();
        let lookup_aliases: Vec<&str> = self.lookups.iter().map(|l| l.alias.as_str()).collect();
        for (name, raw) in body {
            match self.table.get(name) {
                Some(c) if self.writable(c) => match to_sql_value(c, raw) {
                    Ok(v) => values.push((name.clone(), v)),
                    Err(msg) => {
                        errors.insert(name.clone(), Value::String(msg));
                    }
                },
                // Read-only fields echoed back from a GET are ignored.
                Some(_) => {}
                None if lookup_aliases.contains(&name.as_str()) => {}
                None if self.child(name).is_some() => {
                    let list = self.child(name).expect("checked");
                    match list.normalize(self.key(), raw) {
                        Ok(v) => values.push((name.clone(), SqlValue::Text(v.to_string()))),
                        Err(msg) => {
                            errors.insert(name.clone(), Value::String(msg));
                        }
                    }
                }
                None => {
                    errors.insert(
                        name.clone(),
                        json!(format!("unknown field for {}", self.entity)),
                    );
                }
            }
        }
        if existing.is_none() {
            // Defaults named by their reference row (the status "In Service"), in one query.
            let wanted: Vec<&NamedDefault> = self
                .defaults
                .iter()
                .filter(|d| values.iter().all(|(n, _)| n != &d.column))
                .collect();
            if !wanted.is_empty() {
                let found: Vec<Option<i64>> = match wanted
                    .iter()
                    .map(|d| lookups.known.default_row(d))
                    .collect::<Option<Vec<_>>>()
                {
                    Some(found) => found,
                    None => {
                        let parts: Vec<String> = wanted
                            .iter()
                            .map(|d| {
                                format!("(SELECT {} FROM {} WHERE name = ?)", d.column, d.table)
                            })
                            .collect();
                        let names: Vec<SqlValue> =
                            wanted.iter().map(|d| SqlValue::text(&d.name)).collect();
                        let sql = format!("SELECT {}", parts.join(", "));
                        lookups.ids(db, conn, &sql, &names).await?
                    }
                };
                for (d, found) in wanted.iter().zip(found) {
                    match found {
                        Some(id) => values.push((d.column.clone(), SqlValue::Int(id))),
                        // The default is a stored row: say why there is none.
                        None if self.table.get(&d.column).is_some_and(|c| !c.nullable) => {
                            errors.insert(
                                d.column.clone(),
                                json!(format!(
                                    "is required: there is no {} named '{}' to use by default",
                                    singular(&d.table),
                                    d.name
                                )),
                            );
                        }
                        None => {}
                    }
                }
            }
            for c in &self.table.columns {
                let given = values.iter().any(|(n, _)| n == &c.name);
                if self.writable(c)
                    && !c.nullable
                    && c.default.is_none()
                    && !given
                    && !errors.contains_key(&c.name)
                {
                    errors.insert(c.name.clone(), json!("is required"));
                }
            }
        }
        // Every referenced row looked up in one query.
        let references: Vec<(&str, &crate::schema::ForeignKey, &SqlValue)> = values
            .iter()
            .filter(|(_, v)| !matches!(v, SqlValue::Null(_)))
            .filter_map(|(n, v)| Some((n.as_str(), self.table.get(n)?.references.as_ref()?, v)))
            .collect();
        let mut missing: Vec<&str> = Vec::new();
        let references: Vec<(&str, &crate::schema::ForeignKey, &SqlValue)> = references
            .into_iter()
            .filter(
                |(name, fk, v)| match lookups.known.present(&fk.table, &fk.column, v) {
                    Some(true) => false,
                    Some(false) => {
                        missing.push(name);
                        false
                    }
                    None => true,
                },
            )
            .collect();
        if !references.is_empty() {
            let parts: Vec<String> = references
                .iter()
                .map(|(_, fk, _)| {
                    format!(
                        "(SELECT COUNT(*) FROM {} WHERE {} = ?)",
                        fk.table, fk.column
                    )
                })
                .collect();
            let binds: Vec<SqlValue> = references.iter().map(|(_, _, v)| (*v).clone()).collect();
            let sql = format!("SELECT {}", parts.join(", "));
            let counts = lookups.ids(db, conn, &sql, &binds).await?;
            for ((name, _, _), count) in references.iter().zip(counts) {
                if count.unwrap_or_default() == 0 {
                    missing.push(name);
                }
            }
        }
        let existing_id = existing
            .and_then(|e| e.get(self.key()))
            .and_then(Value::as_i64);
        for (name, value) in &values {
            let Some(column) = self.table.get(name) else {
                continue;
            };
            if matches!(value, SqlValue::Null(_)) {
                if !column.nullable {
                    errors.insert(name.clone(), json!("is required"));
                }
                continue;
            }
            if let Some(fk) = &column.references
                && missing.contains(&name.as_str())
            {
                errors.insert(
                    name.clone(),
                    json!(format!(
                        "no {} with id {}",
                        singular(&fk.table),
                        value.to_json()
                    )),
                );
            }
            let holder = match column.unique.then(|| {
                if lookups.is_free(&self.table.name, name, value) {
                    Some(None)
                } else {
                    lookups.known.holder(&self.table.name, name, value)
                }
            }) {
                None => None,
                Some(Some(holder)) => holder.filter(|id| Some(*id) != existing_id),
                Some(None) => {
                    self.find_duplicate(db, conn, &[(column, value)], existing)
                        .await?
                }
            };
            if let Some(id) = holder {
                errors.insert(
                    name.clone(),
                    json!(format!(
                        "'{}' is already used by {} {id}",
                        value
                            .to_json()
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| value.to_json().to_string()),
                        // An asset column of a plugin record: any asset may hold the value.
                        if self.is_asset() {
                            "asset"
                        } else {
                            self.entity.as_str()
                        }
                    )),
                );
            }
        }
        // Composite unique indexes, checked on the merged record.
        let merged = merge(existing, &values);
        for index in self.table.indexes.iter().filter(|i| i.unique) {
            if index.columns.iter().any(|c| errors.contains_key(c))
                || !index
                    .columns
                    .iter()
                    .any(|c| values.iter().any(|(n, _)| n == c))
            {
                continue;
            }
            let pairs: Option<Vec<(&Column, SqlValue)>> = index
                .columns
                .iter()
                .map(|c| {
                    let col = self.table.get(c)?;
                    let v = merged.get(c).filter(|v| !v.is_null())?;
                    to_sql_value(col, v).ok().map(|sv| (col, sv))
                })
                .collect();
            let Some(pairs) = pairs else { continue };
            let refs: Vec<(&Column, &SqlValue)> = pairs.iter().map(|(c, v)| (*c, v)).collect();
            if let Some(id) = self.find_duplicate(db, conn, &refs, existing).await? {
                let last = index.columns.last().cloned().unwrap_or_default();
                errors.insert(
                    last,
                    json!(format!(
                        "{} {id} already has the same {}",
                        self.entity,
                        index.columns.join(" and ")
                    )),
                );
            }
        }
        self.checked(&merged, errors, values)
    }

    /// The resource's own check (`Resource::check`) on the whole record, then the values or
    /// every problem found.
    fn checked(
        &self,
        merged: &Map<String, Value>,
        mut errors: Map<String, Value>,
        values: Vec<(String, SqlValue)>,
    ) -> Result<Vec<(String, SqlValue)>, DomainError> {
        if let Some(check) = self.check {
            for (k, v) in check(merged) {
                errors.entry(k).or_insert(v);
            }
        }
        if errors.is_empty() {
            Ok(values)
        } else {
            Err(DomainError::validation(errors))
        }
    }

    /// `validate`, taking what `known` (from `look_up`) already answers instead of asking.
    pub async fn validate_known(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        body: &Map<String, Value>,
        existing: Option<&Map<String, Value>>,
        known: &std::sync::Arc<Known>,
    ) -> Result<Vec<(String, SqlValue)>, DomainError> {
        let mut lookups = Lookups::with(known.clone());
        self.validate_in(db, conn, body, existing, &mut lookups)
            .await
    }

    /// Validates the asset part and the extension part of one body, reporting both at once.
    pub(crate) async fn validate_extended(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        body: &Map<String, Value>,
        existing: Option<&Map<String, Value>>,
        ext: &Table,
        lookups: &mut Lookups,
    ) -> Result<Vec<(String, SqlValue)>, DomainError> {
        let key = self.key().to_string();
        let (ext_body, base_body): (Map<String, Value>, Map<String, Value>) = body
            .clone()
            .into_iter()
            .partition(|(k, _)| ext.get(k).is_some() && *k != key);
        let mut base = self.clone();
        base.extension = None;
        // The extension row takes its key from the asset, so the key is not asked for here.
        let mut ext_table = ext.clone();
        if let Some(c) = ext_table.columns.iter_mut().find(|c| c.name == key) {
            c.nullable = true;
            c.references = None;
        }
        let mut part = Resource::new(&self.path, &self.entity, ext_table, &key);
        part.check = None;
        part.readonly = self.readonly.clone();
        let mut errors = Map::new();
        let mut values = Vec::new();
        for result in [
            base.validate_in(db, conn, &base_body, existing, lookups)
                .await,
            part.validate_in(db, conn, &ext_body, existing, lookups)
                .await,
        ] {
            match result {
                Ok(v) => values.extend(v),
                Err(e) if e.kind == crate::error::ErrorKind::Invalid => {
                    if let Value::Object(fields) = e.details {
                        errors.extend(fields);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        // Checks that span the asset and its extension see the whole merged record.
        // (as sent, so a problem in one part does not hide the other's)
        // (Built only for a resource with a check: this runs for every collector record.)
        let mut merged = Map::new();
        if self.check.is_some() {
            merged = existing.cloned().unwrap_or_default();
            merged.extend(body.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        self.checked(&merged, errors, values)
    }

    /// `body` with each field that has a normalizer in its canonical form; the fields whose
    /// value is not valid, with why, when any is not.
    pub fn normalized(
        &self,
        body: &Map<String, Value>,
    ) -> Result<Map<String, Value>, Map<String, Value>> {
        let mut out = body.clone();
        let mut errors = Map::new();
        for (field, normalize) in &self.normalize {
            let Some(Value::String(raw)) = body.get(field) else {
                continue;
            };
            if raw.trim().is_empty() {
                continue;
            }
            match normalize(raw.trim()) {
                Ok(v) => {
                    out.insert(field.clone(), Value::String(v));
                }
                Err(why) => {
                    errors.insert(field.clone(), Value::String(why));
                }
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    pub(crate) async fn find_duplicate(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        pairs: &[(&Column, &SqlValue)],
        existing: Option<&Map<String, Value>>,
    ) -> Result<Option<i64>, sqlx::Error> {
        let mut clauses = Vec::new();
        let mut values = Vec::new();
        // Exact comparison, so the unique index answers it: every backend compares text
        // case-sensitively here (MySQL tables use a binary collation for that reason).
        for (column, value) in pairs {
            clauses.push(format!("{} = ?", column.name));
            values.push((*value).clone());
        }
        if let Some(id) = existing
            .and_then(|e| e.get(self.key()))
            .and_then(Value::as_i64)
        {
            clauses.push(format!("{} <> ?", self.key()));
            values.push(SqlValue::Int(id));
        }
        let sql = format!(
            "SELECT {} FROM {} WHERE {}",
            self.key(),
            self.table.name,
            clauses.join(" AND ")
        );
        let row = db.query_with(&sql, &values).fetch_optional(conn).await?;
        row.map(|r| r.try_get::<i64, _>(0)).transpose()
    }

    /// Each value in the kind its column stores, whatever the caller built (see
    /// [`SqlValue::into_kind`]): the column's type decides what is bound.
    pub(crate) fn typed(&self, values: Values) -> Values {
        values
            .into_iter()
            .map(|(name, v)| {
                let column = self
                    .table
                    .get(&name)
                    .or_else(|| self.extension.as_ref().and_then(|e| e.get(&name)));
                match column {
                    Some(c) => {
                        let v = v.into_kind(c.ty.value_kind());
                        (name, v)
                    }
                    None => (name, v),
                }
            })
            .collect()
    }
}
