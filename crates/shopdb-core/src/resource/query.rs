//! Reading: the SQL of lists (columns, joins, filters, search, order, pages) and of single records.

use std::collections::HashMap;

use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::like_pattern;
use crate::db::{Db, Dialect, SqlValue, ValueKind, decode_column};
use crate::error::DomainError;
use crate::http::ListParams;
use crate::schema::{Column, ColumnType};
use crate::search;

use super::model::*;
use super::validate::*;

/// A page of records, as values or as JSON text built by the database.
pub(crate) enum PageRows {
    Values(Vec<Value>),
    Json(String),
}

pub(crate) fn parse_filter(column: &Column, raw: &str) -> Option<SqlValue> {
    match column.ty {
        ColumnType::Id | ColumnType::Integer => raw.trim().parse().ok().map(SqlValue::Int),
        ColumnType::Float => raw
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(SqlValue::Float),
        ColumnType::Boolean => match raw {
            "true" | "1" => Some(SqlValue::Bool(true)),
            "false" | "0" => Some(SqlValue::Bool(false)),
            _ => None,
        },
        ColumnType::Bytes => None,
        _ => Some(SqlValue::text(raw)),
    }
}

impl Resource {
    /// Columns returned by reads (everything but binary data).
    pub(crate) fn read_columns(&self) -> impl Iterator<Item = &Column> {
        self.table
            .columns
            .iter()
            .filter(|c| c.ty != ColumnType::Bytes)
    }

    /// Every column a read returns, with the alias of its table (`t` base, `e` extension).
    pub(crate) fn all_columns(&self) -> Vec<(&'static str, &Column)> {
        let mut cols: Vec<(&'static str, &Column)> =
            self.read_columns().map(|c| ("t", c)).collect();
        if let Some(ext) = &self.extension {
            cols.extend(
                ext.columns
                    .iter()
                    .filter(|c| c.ty != ColumnType::Bytes && c.name != self.key())
                    .map(|c| ("e", c)),
            );
        }
        cols
    }

    /// SQL expression of a field of this record (base, extension or joined name).
    pub fn column_sql(&self, name: &str) -> Option<String> {
        self.field_sql(name)
    }

    /// The FROM part of a query over this record (base table `t` and extension `e`).
    pub fn tables_from(&self) -> String {
        self.tables_sql(false)
    }

    pub(crate) fn tables_sql(&self, with_lookups: bool) -> String {
        let mut sql = format!("{} t", self.table.name);
        if let Some(ext) = &self.extension {
            sql.push_str(&format!(
                " JOIN {} e ON e.{key} = t.{key}",
                ext.name,
                key = self.key()
            ));
        }
        if with_lookups {
            for (i, l) in self.lookups.iter().enumerate() {
                sql.push_str(&format!(
                    " LEFT JOIN {} l{i} ON l{i}.{} = t.{}",
                    l.table, l.key, l.column
                ));
            }
        }
        sql
    }

    /// The statement reading records, to be followed by a WHERE on `t`.
    pub(crate) fn select_sql(&self) -> String {
        format!("{} FROM {}", self.fields_sql(false), self.tables_sql(false))
    }

    /// `SELECT` and every field a record has, lookups' names last (see `lookup_sql`).
    fn fields_sql(&self, joined: bool) -> String {
        let mut fields: Vec<String> = self
            .all_columns()
            .iter()
            .map(|(a, c)| format!("{a}.{}", c.name))
            .collect();
        for (i, l) in self.lookups.iter().enumerate() {
            fields.push(format!("{} AS {}", self.lookup_sql(i, joined), l.alias));
        }
        format!("SELECT {}", fields.join(", "))
    }

    /// The name lookup `i` adds to a record (`statusname` …): the column of its table joined
    /// as `l{i}` (see `tables_sql`) when `joined`, else read by key in a subquery.
    /// PostgreSQL plans a list page on every request, and each joined table made that
    /// slower (the computer list with its five lookups: 4.8 ms planning against 0.8 ms
    /// running); a subquery adds almost nothing to plan. Single records are read this way
    /// on every database (on SQLite an asset's record answered 13 % more requests so).
    fn lookup_sql(&self, i: usize, joined: bool) -> String {
        let l = &self.lookups[i];
        if joined {
            format!("l{i}.{}", l.display)
        } else {
            format!(
                "(SELECT l{i}.{} FROM {} l{i} WHERE l{i}.{} = t.{})",
                l.display, l.table, l.key, l.column
            )
        }
    }

    pub(crate) fn row_to_json(&self, row: &AnyRow) -> Result<Map<String, Value>, sqlx::Error> {
        let columns = self.all_columns();
        let mut fields = Vec::with_capacity(columns.len() + self.lookups.len());
        for (idx, (_, c)) in columns.iter().enumerate() {
            fields.push((c.name.clone(), decode_column(row, idx, c.ty.value_kind())?));
        }
        for (i, l) in self.lookups.iter().enumerate() {
            fields.push((
                l.alias.clone(),
                decode_column(row, columns.len() + i, ValueKind::Text)?,
            ));
        }
        // Collected at once: the map is built in one pass rather than field by field.
        Ok(fields.into_iter().collect())
    }

    /// Resolves a sort/filter name to its SQL expression.
    pub(crate) fn field_sql(&self, name: &str) -> Option<String> {
        if let Some((alias, c)) = self.all_columns().into_iter().find(|(_, c)| c.name == name) {
            return Some(format!("{alias}.{}", c.name));
        }
        self.lookups
            .iter()
            .position(|l| l.alias == name)
            .map(|i| format!("l{i}.{}", self.lookups[i].display))
    }

    /// Fields a list may be sorted by.
    pub fn sortable(&self) -> Vec<String> {
        self.all_columns()
            .into_iter()
            .map(|(_, c)| c.name.clone())
            .chain(self.lookups.iter().map(|l| l.alias.clone()))
            .collect()
    }

    /// Builds the WHERE clause for `params`; unknown filters are a 400.
    pub(crate) fn where_sql(
        &self,
        dialect: Dialect,
        params: &ListParams,
    ) -> Result<(String, Vec<SqlValue>), DomainError> {
        let mut clauses = Vec::new();
        let mut values = Vec::new();
        let columns = self.all_columns();
        // A field named more than once matches any of its values (`statusid=1&statusid=2`).
        let mut names: Vec<&str> = Vec::new();
        for (name, _) in &params.filters {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        for name in names {
            let (alias, column) = columns.iter().find(|(_, c)| c.name == name).ok_or_else(|| {
                DomainError::bad_request(format!(
                    "unknown parameter '{name}': filter on one of {}, or use page, per_page, sort, q",
                    columns.iter().map(|(_, c)| c.name.as_str()).collect::<Vec<_>>().join(", ")
                ))
            })?;
            let mut any = Vec::new();
            for (_, raw) in params.filters.iter().filter(|(n, _)| n == name) {
                if raw == "null" && column.nullable {
                    any.push(format!("{alias}.{name} IS NULL"));
                    continue;
                }
                let value = parse_filter(column, raw).ok_or_else(|| {
                    DomainError::bad_request(format!(
                        "filter {name}='{raw}' is not a valid {}",
                        type_name(column.ty)
                    ))
                })?;
                any.push(format!("{alias}.{name} = ?"));
                values.push(value);
            }
            clauses.push(if any.len() == 1 {
                any.remove(0)
            } else {
                format!("({})", any.join(" OR "))
            });
        }
        if let Some(q) = &params.q {
            let pattern = like_pattern(q);
            let ors: Vec<String> = self
                .searchable
                .iter()
                .filter_map(|s| self.field_sql(s))
                .map(|f| format!("LOWER({f}) LIKE ? ESCAPE '!'"))
                .collect();
            if !ors.is_empty() {
                if let Some((ids, ids_values)) = self.q_candidates(dialect, q) {
                    clauses.push(format!("t.{} IN ({ids})", self.key()));
                    values.extend(ids_values);
                }
                for _ in &ors {
                    values.push(SqlValue::text(&pattern));
                }
                clauses.push(format!("({})", ors.join(" OR ")));
            }
        }
        let sql = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        Ok((sql, values))
    }

    /// Ids that may match `q`, from the search index, when its entries of this record hold
    /// the whole text of every searchable column (each a short string, within the entry's
    /// 1,000 characters); the column match still decides. None: match the columns only.
    pub(crate) fn q_candidates(
        &self,
        dialect: Dialect,
        q: &str,
    ) -> Option<(String, Vec<SqlValue>)> {
        let specs = self.search_specs();
        let columns = self.all_columns();
        // Room a column takes in an entry's text: its size and a space.
        let size = |name: &String| {
            let (_, column) = columns.iter().find(|(_, c)| &c.name == name)?;
            match column.ty {
                ColumnType::String(max) => Some(max + 1),
                _ => None,
            }
        };
        let mut room: u32 = 1000;
        // An extension's plugin entry keeps room for its asset entry's text (`search::Link`).
        if self.extension.is_some() {
            for name in &search::asset_spec().fields {
                room = room.checked_sub(size(name)?)?;
            }
        }
        for name in &self.searchable {
            if !specs.iter().any(|(s, _)| s.fields.contains(name)) {
                return None;
            }
            room = room.checked_sub(size(name)?)?;
        }
        let types: Vec<String> = specs.iter().map(|(s, _)| s.entitytype.clone()).collect();
        search::candidates(dialect, q, &types)
    }

    pub(crate) fn order_sql(&self, sort: Option<&str>) -> Result<String, DomainError> {
        let sort = sort.unwrap_or(&self.default_sort);
        let (name, desc) = match sort.strip_prefix('-') {
            Some(n) => (n, true),
            None => (sort, false),
        };
        let expr = self.field_sql(name).ok_or_else(|| {
            DomainError::bad_request(format!(
                "cannot sort by '{name}': use one of {} (prefix - for descending)",
                self.sortable().join(", ")
            ))
        })?;
        let dir = if desc { " DESC" } else { "" };
        // A unique column that always has a value has no ties: it orders the rows alone.
        // Without the key after it MariaDB reads a page from the column's index in order;
        // with it, it sorted every row of the table for each page.
        let unique = self
            .all_columns()
            .iter()
            .any(|(_, c)| c.name == name && c.unique && !c.nullable);
        if unique {
            return Ok(format!(" ORDER BY {expr}{dir}"));
        }
        Ok(format!(" ORDER BY {expr}{dir}, t.{}{dir}", self.key()))
    }

    /// One page of records and the total matching.
    pub async fn list(
        &self,
        db: &Db,
        params: &ListParams,
    ) -> Result<(Vec<Value>, i64), DomainError> {
        match self.list_page(db, params, false).await? {
            (PageRows::Values(rows), total) => Ok((rows, total)),
            (PageRows::Json(raw), total) => Ok((
                serde_json::from_str(&raw).map_err(DomainError::internal)?,
                total,
            )),
        }
    }

    /// One page as a JSON array text and the total: what the list route sends. On SQLite the
    /// database builds the JSON itself, which skips converting every cell into a value and back.
    pub async fn list_json(
        &self,
        db: &Db,
        params: &ListParams,
    ) -> Result<(String, i64), DomainError> {
        match self.list_page(db, params, true).await? {
            (PageRows::Json(raw), total) => Ok((raw, total)),
            (PageRows::Values(rows), total) => Ok((Value::Array(rows).to_string(), total)),
        }
    }

    /// The WHERE and ORDER BY clauses of a list with their bound values: every value a
    /// request gives is bound, never written into the SQL; unknown fields and sorts are a 400.
    pub fn list_clauses(
        &self,
        dialect: Dialect,
        params: &ListParams,
    ) -> Result<(String, String, Vec<SqlValue>), DomainError> {
        let (filter, values) = self.where_sql(dialect, params)?;
        let order = self.order_sql(params.sort.as_deref())?;
        Ok((filter, order, values))
    }

    pub(crate) async fn list_page(
        &self,
        db: &Db,
        params: &ListParams,
        want_json: bool,
    ) -> Result<(PageRows, i64), DomainError> {
        let (filter, order, mut values) = self.list_clauses(db.dialect(), params)?;
        // Joined names are only needed for counting when `q` searches one of them.
        let q_uses_lookups = params.q.is_some()
            && self
                .searchable
                .iter()
                .any(|f| self.lookups.iter().any(|l| &l.alias == f));
        let count_sql = format!(
            "SELECT COUNT(*) FROM {}{filter}",
            self.tables_sql(q_uses_lookups)
        );
        let mut conn = db.pool().acquire().await?;
        let total: i64 = if values.is_empty() {
            db.cached_count(&mut conn, &count_sql).await?
        } else {
            db.query_with(&count_sql, &values)
                .fetch_one(&mut *conn)
                .await?
                .try_get(0)?
        };
        if total == 0 || params.offset() >= total {
            return Ok((PageRows::Values(Vec::new()), total));
        }
        // Page over keys first, then join the names for the rows kept only: deep pages no
        // longer build every skipped row.
        let sort_uses_lookups = params
            .sort
            .as_deref()
            .map(|s| s.trim_start_matches('-'))
            .is_some_and(|s| self.lookups.iter().any(|l| l.alias == s));
        let inner = format!(
            "SELECT t.{key} AS pagekey FROM {}{filter}{order}{}",
            self.tables_sql(q_uses_lookups || sort_uses_lookups),
            crate::db::limit_offset(params.per_page),
            key = self.key()
        );
        // On PostgreSQL the page's rows get their lookups' names by subquery (see
        // `lookup_sql`) unless it is sorted by one. SQLite and MariaDB plan the joins
        // quickly and read a page 10 % faster through them.
        let join_lookups = sort_uses_lookups || db.dialect() != crate::db::Dialect::Postgres;
        let all_tables = self.tables_sql(join_lookups);
        let joined = all_tables
            .strip_prefix(&format!("{} t", self.table.name))
            .unwrap_or_default();
        let from = format!(
            "FROM ({inner}) p JOIN {} t ON t.{key} = p.pagekey{joined}{order}",
            self.table.name,
            key = self.key()
        );
        values.push(SqlValue::Int(params.offset()));
        if want_json && db.dialect() == crate::db::Dialect::Sqlite {
            // Each json_object() is already JSON text: joining them with commas avoids
            // parsing every object again, which json_group_array(json(j)) would do.
            let sql = format!(
                "SELECT '[' || COALESCE(group_concat(j, ','), '') || ']' FROM (SELECT {} AS j {from})",
                self.json_object_sql(join_lookups)
            );
            let raw: String = db
                .query_with(&sql, &values)
                .fetch_one(&mut *conn)
                .await?
                .try_get(0)?;
            return Ok((PageRows::Json(raw), total));
        }
        let fields = self.fields_sql(join_lookups);
        let rows = db
            .query_with(&format!("{fields} {from}"), &values)
            .fetch_all(&mut *conn)
            .await?;
        let data = rows
            .iter()
            .map(|r| self.row_to_json(r).map(Value::Object))
            .collect::<Result<_, _>>()?;
        Ok((PageRows::Values(data), total))
    }

    /// SQLite `json_object(...)` of one record, keys in the order the API prints them
    /// (alphabetical) and booleans as true/false, so it matches `row_to_json` exactly.
    pub(crate) fn json_object_sql(&self, joined: bool) -> String {
        let mut pairs: Vec<(String, String)> = self
            .all_columns()
            .into_iter()
            .map(|(alias, c)| {
                let expr = format!("{alias}.{}", c.name);
                let expr = if c.ty == ColumnType::Boolean {
                    format!("CASE WHEN {expr} IS NULL THEN NULL WHEN {expr} <> 0 THEN json('true') ELSE json('false') END")
                } else {
                    expr
                };
                (c.name.clone(), expr)
            })
            .collect();
        for (i, l) in self.lookups.iter().enumerate() {
            pairs.push((l.alias.clone(), self.lookup_sql(i, joined)));
        }
        pairs.sort();
        let args: Vec<String> = pairs.iter().map(|(k, e)| format!("'{k}', {e}")).collect();
        format!("json_object({})", args.join(", "))
    }

    /// The record with key `id`, if any.
    pub async fn fetch(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        id: i64,
    ) -> Result<Option<Map<String, Value>>, sqlx::Error> {
        let row = db
            .query(&format!("{} WHERE t.{} = ?", self.select_sql(), self.key()))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut record = self.row_to_json(&row)?;
        for list in &self.children {
            let items = list.load(db, &mut *conn, self.key(), id).await?;
            record.insert(list.field.clone(), items);
        }
        Ok(Some(record))
    }

    /// The records with keys `ids` (those that exist), in two queries per chunk of ids
    /// whatever their number, child lists included.
    pub async fn fetch_many(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        ids: &[i64],
    ) -> Result<HashMap<i64, Map<String, Value>>, sqlx::Error> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let binds: Vec<SqlValue> = chunk.iter().map(|id| SqlValue::Int(*id)).collect();
            let rows = db
                .query_batch(
                    &format!("{} WHERE t.{} IN ({marks})", self.select_sql(), self.key()),
                    &binds,
                    chunk.len() == 500,
                )
                .fetch_all(&mut *conn)
                .await?;
            for row in &rows {
                let record = self.row_to_json(row)?;
                if let Some(id) = record.get(self.key()).and_then(Value::as_i64) {
                    out.insert(id, record);
                }
            }
            for list in &self.children {
                let mut items = list.load_many(db, &mut *conn, self.key(), chunk).await?;
                for (id, record) in out.iter_mut() {
                    if chunk.contains(id) {
                        let list_items = items.remove(id).unwrap_or_default();
                        record.insert(list.field.clone(), Value::Array(list_items));
                    }
                }
            }
        }
        Ok(out)
    }

    pub async fn get(&self, db: &Db, id: i64) -> Result<Map<String, Value>, DomainError> {
        let mut conn = db.pool().acquire().await?;
        self.fetch(db, &mut conn, id)
            .await?
            .ok_or_else(|| self.not_found(id))
    }
}
