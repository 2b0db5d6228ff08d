//! Child lists: rows of a child table that travel with their parent record (a PC's installed software).

use std::collections::HashMap;

use serde_json::{Map, Value};
use sqlx::{AnyConnection, Row};

use crate::db::{Db, SqlValue, decode_column};
use crate::error::DomainError;
use crate::schema::{Column, ColumnType};

use super::model::*;
use super::validate::*;

impl ChildList {
    /// Columns a client sends for each item.
    pub(crate) fn item_columns(&self, parent_key: &str) -> impl Iterator<Item = &Column> {
        self.table.columns.iter().filter(move |c| {
            c.name != parent_key
                && c.ty != ColumnType::Id
                && c.name != "createddate"
                && c.name != "modifieddate"
        })
    }

    /// Checks a sent list and returns it in stored form: every column present, duplicates
    /// dropped, in a stable order (so an unchanged list compares equal).
    pub(crate) fn normalize(&self, parent_key: &str, raw: &Value) -> Result<Value, String> {
        let Value::Array(items) = raw else {
            return Err("must be a list of objects".into());
        };
        if items.len() > MAX_CHILDREN {
            return Err(format!("may hold at most {MAX_CHILDREN} items"));
        }
        let mut out: Vec<Value> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let Value::Object(obj) = item else {
                return Err(format!("item {}: must be an object", i + 1));
            };
            if let Some(k) = obj
                .keys()
                .find(|k| self.item_columns(parent_key).all(|c| &c.name != *k))
            {
                return Err(format!("item {}: unknown field {k}", i + 1));
            }
            let mut row = Map::new();
            for c in self.item_columns(parent_key) {
                let v = match obj.get(&c.name) {
                    None | Some(Value::Null) if !c.nullable && c.default.is_none() => {
                        return Err(format!("item {}: {} is required", i + 1, c.name));
                    }
                    None => Value::Null,
                    Some(v) => to_sql_value(c, v)
                        .map_err(|m| format!("item {}: {} {m}", i + 1, c.name))?
                        .to_json(),
                };
                row.insert(c.name.clone(), v);
            }
            out.push(Value::Object(row));
        }
        out.sort_by_cached_key(|v| v.to_string());
        out.dedup();
        Ok(Value::Array(out))
    }

    pub(crate) async fn load(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        parent_key: &str,
        id: i64,
    ) -> Result<Value, sqlx::Error> {
        let columns: Vec<&Column> = self.item_columns(parent_key).collect();
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let rows = db
            .query(&format!(
                "SELECT {} FROM {} WHERE {parent_key} = ?",
                names.join(", "),
                self.table.name
            ))
            .bind(id)
            .fetch_all(conn)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut row = Map::new();
            for (idx, c) in columns.iter().enumerate() {
                row.insert(c.name.clone(), decode_column(r, idx, c.ty.value_kind())?);
            }
            out.push(Value::Object(row));
        }
        out.sort_by_cached_key(|v| v.to_string());
        Ok(Value::Array(out))
    }

    /// The lists of several parents at once, each sorted as `load` sorts it.
    pub(crate) async fn load_many(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        parent_key: &str,
        ids: &[i64],
    ) -> Result<HashMap<i64, Vec<Value>>, sqlx::Error> {
        let columns: Vec<&Column> = self.item_columns(parent_key).collect();
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let binds: Vec<SqlValue> = ids.iter().map(|id| SqlValue::Int(*id)).collect();
        let rows = db
            .query_with(
                &format!(
                    "SELECT {parent_key}, {} FROM {} WHERE {parent_key} IN ({})",
                    names.join(", "),
                    self.table.name,
                    vec!["?"; ids.len()].join(", ")
                ),
                &binds,
            )
            .fetch_all(conn)
            .await?;
        let mut out: HashMap<i64, Vec<Value>> = HashMap::new();
        for r in &rows {
            let parent: i64 = r.try_get(0)?;
            let mut row = Map::new();
            for (idx, c) in columns.iter().enumerate() {
                row.insert(
                    c.name.clone(),
                    decode_column(r, idx + 1, c.ty.value_kind())?,
                );
            }
            out.entry(parent).or_default().push(Value::Object(row));
        }
        for list in out.values_mut() {
            list.sort_by_cached_key(|v| v.to_string());
        }
        Ok(out)
    }

    pub(crate) async fn replace(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        parent_key: &str,
        id: i64,
        list: &Value,
    ) -> Result<(), DomainError> {
        db.query(&format!(
            "DELETE FROM {} WHERE {parent_key} = ?",
            self.table.name
        ))
        .bind(id)
        .execute(&mut *conn)
        .await?;
        self.insert_lists(db, conn, parent_key, &[(id, list)]).await
    }

    /// Inserts the items of each parent's list (stored form, see `normalize`), up to 200
    /// rows per statement.
    pub(crate) async fn insert_lists(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        parent_key: &str,
        lists: &[(i64, &Value)],
    ) -> Result<(), DomainError> {
        let columns: Vec<&Column> = self.item_columns(parent_key).collect();
        let mut rows: Vec<Vec<SqlValue>> = Vec::new();
        for (id, list) in lists {
            for item in list.as_array().into_iter().flatten() {
                let mut row = Vec::with_capacity(columns.len() + 1);
                row.push(SqlValue::Int(*id));
                for c in &columns {
                    let raw = item.get(&c.name).unwrap_or(&Value::Null);
                    row.push(match raw {
                        Value::Null => SqlValue::Null(c.ty.value_kind()),
                        v => to_sql_value(c, v).map_err(DomainError::bad_request)?,
                    });
                }
                rows.push(row);
            }
        }
        let names: Vec<&str> = std::iter::once(parent_key)
            .chain(columns.iter().map(|c| c.name.as_str()))
            .collect();
        let marks = format!("({})", vec!["?"; names.len()].join(", "));
        for chunk in rows.chunks(200) {
            let binds: Vec<SqlValue> = chunk.iter().flatten().cloned().collect();
            db.query_with(
                &format!(
                    "INSERT INTO {} ({}) VALUES {}",
                    self.table.name,
                    names.join(", "),
                    vec![marks.as_str(); chunk.len()].join(", ")
                ),
                &binds,
            )
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

impl Resource {
    /// Separates extension-table values from base-table values.
    pub(crate) fn child(&self, field: &str) -> Option<&ChildList> {
        self.children.iter().find(|c| c.field == field)
    }

    /// Separates validated child lists (carried as JSON text) from column values.
    pub(crate) fn take_children(&self, values: Values) -> (Values, Vec<(String, Value)>) {
        let mut lists = Vec::new();
        let mut rest = Vec::with_capacity(values.len());
        for (name, v) in values {
            match (self.child(&name), &v) {
                (Some(_), SqlValue::Text(text)) => {
                    lists.push((name, serde_json::from_str(text).unwrap_or_default()));
                }
                _ => rest.push((name, v)),
            }
        }
        (rest, lists)
    }

    pub(crate) async fn write_children(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        id: i64,
        lists: &[(String, Value)],
    ) -> Result<(), DomainError> {
        for (field, items) in lists {
            if let Some(list) = self.child(field) {
                list.replace(db, conn, self.key(), id, items).await?;
            }
        }
        Ok(())
    }
}
