//! Generic CRUD over a table description: list with filters, sort, `q` and pages; fetch;
//! create, update and delete with validation, audit and search indexing in one transaction.
//! Core reference tables, assets and plugin tables are all served by this one engine.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::audit::{self, Action};
use crate::auth::{Actor, Role};
use crate::db::{Db, Dialect, SqlValue, ValueKind, decode_column};
use crate::error::ApiError;
use crate::http::ListParams;
use crate::plugin::registry::Services;
use crate::plugin::states::PluginStates;
use crate::schema::{Column, ColumnType, OnDelete, Table};
use crate::search::{self, SearchSpec};
use crate::util::{is_valid_date, normalize_timestamp, now};

/// Columns the server maintains itself: clients may send them back but they are ignored, and
/// the audit trail leaves them out (`lastseen`/`lastseenby` move with every collector check-in, which is not a change).
pub const MANAGED_COLUMNS: &[&str] = &[
    "createddate",
    "modifieddate",
    "version",
    "lastseen",
    "lastseenby",
];

/// A page of records, as values or as JSON text built by the database.
enum PageRows {
    Values(Vec<Value>),
    Json(String),
}

/// Column values to write, by column name.
pub type Values = Vec<(String, SqlValue)>;

/// A display name joined in from a referenced table (`statusid` → `statusname`).
#[derive(Clone, Debug)]
pub struct Lookup {
    pub column: String,
    pub table: String,
    pub key: String,
    pub display: String,
    pub alias: String,
}

impl Lookup {
    /// `column` refers to the same-named key of `table`.
    pub fn new(column: &str, table: &str, display: &str, alias: &str) -> Lookup {
        Lookup::via(column, table, column, display, alias)
    }

    /// `column` refers to `key` of `table`.
    pub fn via(column: &str, table: &str, key: &str, display: &str, alias: &str) -> Lookup {
        Lookup {
            column: column.into(),
            table: table.into(),
            key: key.into(),
            display: display.into(),
            alias: alias.into(),
        }
    }
}

/// A column that, when omitted on create, takes the id of the row named `name` in `table`.
#[derive(Clone, Debug)]
pub struct NamedDefault {
    pub column: String,
    pub table: String,
    pub name: String,
}

/// Extra validation over the merged record; returns field → message for each problem.
pub type Check = fn(&Map<String, Value>) -> Map<String, Value>;

/// What the rest of the application offers write hooks: plugin services, every known table
/// and which plugins are enabled. Bound once the server is assembled.
#[derive(Default)]
pub struct HookEnv {
    pub services: Arc<Services>,
    /// Every table the server knows, with the plugin that owns it (None: core).
    pub tables: Vec<(Option<String>, Table)>,
    pub plugin_states: Arc<PluginStates>,
    /// The `before_delete` hooks of plugin records that extend assets, by plugin: deleting
    /// an asset through the core (`DELETE /api/assets/{id}`) asks them too, so a plugin's
    /// refusal holds whichever way the asset is deleted.
    pub asset_delete_hooks: Vec<(String, Vec<WriteHook>)>,
}

impl HookEnv {
    /// Whether plugin `name` is installed and enabled (cached for a second or two).
    pub async fn enabled(&self, db: &Db, name: &str) -> bool {
        self.plugin_states.enabled(db).await.contains(name)
    }

    /// Core tables and the tables of enabled plugins: the ones that exist and are in use.
    pub async fn tables_in_use(&self, db: &Db) -> Vec<&Table> {
        let enabled = self.plugin_states.enabled(db).await;
        self.tables
            .iter()
            .filter(|(owner, _)| owner.as_ref().is_none_or(|o| enabled.contains(o)))
            .map(|(_, t)| t)
            .collect()
    }
}

/// One write, as a hook sees it: inside the write's transaction, so an error undoes it all.
pub struct WriteEvent<'a> {
    pub db: &'a Db,
    pub conn: &'a mut AnyConnection,
    pub actor: &'a Actor,
    /// The record's key; None before a new record is inserted.
    pub id: Option<i64>,
    /// The stored record before this write (None on create).
    pub before: Option<&'a Map<String, Value>>,
    /// The record as it will be (before-write hooks) or as stored (after-write hooks).
    pub record: &'a Map<String, Value>,
    pub env: &'a HookEnv,
}

impl WriteEvent<'_> {
    /// Whether `field` is set by this write to a value it did not have before.
    pub fn changes(&self, field: &str) -> bool {
        let new = self.record.get(field).filter(|v| !v.is_null());
        new.is_some() && new != self.before.and_then(|b| b.get(field))
    }
}

pub type WriteHook =
    Arc<dyn for<'a> Fn(WriteEvent<'a>) -> BoxFuture<'a, Result<(), ApiError>> + Send + Sync>;

/// Plugin code run on every create and update of a resource, whatever the path (API,
/// collector, CLI): `before_write` may refuse the write, `after_write` may write related rows.
/// `before_delete` may refuse a delete (its event's `record` is the stored record).
#[derive(Clone, Default)]
pub struct Hooks {
    pub before_write: Vec<WriteHook>,
    pub after_write: Vec<WriteHook>,
    pub before_delete: Vec<WriteHook>,
    env: Arc<OnceLock<Arc<HookEnv>>>,
}

impl Hooks {
    pub fn before(mut self, hook: WriteHook) -> Hooks {
        self.before_write.push(hook);
        self
    }

    pub fn after(mut self, hook: WriteHook) -> Hooks {
        self.after_write.push(hook);
        self
    }

    pub fn before_delete(mut self, hook: WriteHook) -> Hooks {
        self.before_delete.push(hook);
        self
    }

    /// Gives the hooks their environment; the first call wins.
    pub fn bind(&self, env: Arc<HookEnv>) {
        let _ = self.env.set(env);
    }

    fn env(&self) -> &HookEnv {
        static UNBOUND: OnceLock<HookEnv> = OnceLock::new();
        match self.env.get() {
            Some(env) => env,
            None => UNBOUND.get_or_init(HookEnv::default),
        }
    }
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("before_write", &self.before_write.len())
            .field("after_write", &self.after_write.len())
            .finish()
    }
}

/// Rows that belong to one record and travel with it as an array field (a computer's
/// installed software). Detail reads include the list; a write that sends the field replaces
/// the whole list in the same transaction, and the audit entry shows it before and after.
#[derive(Clone, Debug)]
pub struct ChildList {
    /// The record's field holding the list (`software`).
    pub field: String,
    /// The rows, keyed by a column named like the parent's key; deleted with the parent.
    pub table: Table,
}

/// Largest list accepted in one write.
pub const MAX_CHILDREN: usize = 10_000;

impl ChildList {
    /// Columns a client sends for each item.
    fn item_columns(&self, parent_key: &str) -> impl Iterator<Item = &Column> {
        self.table.columns.iter().filter(move |c| {
            c.name != parent_key
                && c.ty != ColumnType::Id
                && c.name != "createddate"
                && c.name != "modifieddate"
        })
    }

    /// Checks a sent list and returns it in stored form: every column present, duplicates
    /// dropped, in a stable order (so an unchanged list compares equal).
    fn normalize(&self, parent_key: &str, raw: &Value) -> Result<Value, String> {
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

    async fn load(
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
    async fn load_many(
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

    async fn replace(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        parent_key: &str,
        id: i64,
        list: &Value,
    ) -> Result<(), ApiError> {
        db.query(&format!(
            "DELETE FROM {} WHERE {parent_key} = ?",
            self.table.name
        ))
        .bind(id)
        .execute(&mut *conn)
        .await?;
        let columns: Vec<&Column> = self.item_columns(parent_key).collect();
        for item in list.as_array().into_iter().flatten() {
            let mut values = vec![(parent_key.to_string(), SqlValue::Int(id))];
            for c in &columns {
                let raw = item.get(&c.name).unwrap_or(&Value::Null);
                let v = match raw {
                    Value::Null => SqlValue::Null(c.ty.value_kind()),
                    v => to_sql_value(c, v).map_err(ApiError::bad_request)?,
                };
                values.push((c.name.clone(), v));
            }
            let names: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
            let marks = vec!["?"; values.len()].join(", ");
            let binds: Vec<SqlValue> = values.iter().map(|(_, v)| v.clone()).collect();
            db.query_with(
                &format!(
                    "INSERT INTO {} ({}) VALUES ({marks})",
                    self.table.name,
                    names.join(", ")
                ),
                &binds,
            )
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

/// A table served over the API.
#[derive(Clone, Debug)]
pub struct Resource {
    /// URL segment under `/api` (`statuses`).
    pub path: String,
    /// Entity name in the audit trail and messages (`status`).
    pub entity: String,
    pub table: Table,
    /// Column shown as the record's name.
    pub label: String,
    /// Columns matched by `q`.
    pub searchable: Vec<String>,
    pub lookups: Vec<Lookup>,
    /// Least role allowed to write.
    pub write_role: Role,
    /// Sort used when the client names none.
    pub default_sort: String,
    pub defaults: Vec<NamedDefault>,
    /// Optimistic locking through a `version` column.
    pub versioned: bool,
    /// Keeps a search index entry per record.
    pub search: Option<SearchSpec>,
    /// For plugin records that extend assets: the extension table (keyed by `assetid`). The
    /// record is then the asset and its extension row, read, written and audited as one.
    pub extension: Option<Table>,
    pub check: Option<Check>,
    pub hooks: Hooks,
    /// Lists of rows that travel with each record (see [`ChildList`]).
    pub children: Vec<ChildList>,
    /// Columns the owning code keeps up to date itself (a plugin's state column): shown on
    /// reads and usable as filters, but ignored in request bodies, like the managed columns.
    pub readonly: Vec<String>,
    /// Text fields written in one canonical form (a MAC address as `00:1a:2b:3c:4d:5e`): the
    /// function gives that form, or why the value is not valid (a 422 naming the field).
    /// Applied to request bodies and to collector records before they are matched.
    pub normalize: Vec<(String, Normalizer)>,
    /// What a check, hook or normalizer of this resource enforces on one field, for the API
    /// document (an enum, a range, a pattern): replaces the schema the column alone gives.
    /// Set with [`Resource::constrain`] next to the code that enforces it.
    pub field_schemas: Vec<(String, Value)>,
    /// Columns of the list page, in order; empty: the pages choose.
    pub list: Vec<String>,
    /// Fields whose value is one of a fixed list (a folder plugin's `choice`): forms offer
    /// the list as a drop-down. Enforcing it is the resource's hooks' job.
    pub choices: Vec<(String, Vec<String>)>,
}

/// What a record's search entries were before a write (see `Resource::index`).
enum Indexed<'a> {
    /// Just created: it has none.
    Fresh,
    /// The record as it was.
    Was(&'a Map<String, Value>),
    /// Not known (a rebuild): replace whatever is there.
    Unknown,
}

/// A stored record and the checked values that change it (see `Resource::update_many`).
pub type Change<'a> = (&'a Map<String, Value>, Vec<(String, SqlValue)>);

/// A value lookups are keyed by: a whole number or text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum KeyValue {
    Int(i64),
    Text(String),
}

impl KeyValue {
    fn of(value: &SqlValue) -> Option<KeyValue> {
        match value {
            SqlValue::Int(i) => Some(KeyValue::Int(*i)),
            SqlValue::Text(s) => Some(KeyValue::Text(s.clone())),
            _ => None,
        }
    }

    fn bind(&self) -> SqlValue {
        match self {
            KeyValue::Int(i) => SqlValue::Int(*i),
            KeyValue::Text(s) => SqlValue::text(s),
        }
    }

    /// Column `idx` of `row`, read as the same kind as `self`.
    fn read_like(&self, row: &AnyRow, idx: usize) -> Option<KeyValue> {
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

/// What was found for each value of a column looked up.
#[derive(Debug, Default)]
struct Found<T> {
    ints: HashMap<i64, T>,
    texts: HashMap<String, T>,
}

impl<T: Copy> Found<T> {
    fn of(answers: HashMap<KeyValue, T>) -> Found<T> {
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

    fn get(&self, value: &SqlValue) -> Option<T> {
        match value {
            SqlValue::Int(i) => self.ints.get(i).copied(),
            SqlValue::Text(s) => self.texts.get(s.as_str()).copied(),
            _ => None,
        }
    }
}

impl Known {
    fn present(&self, table: &str, column: &str, value: &SqlValue) -> Option<bool> {
        self.present.get(table)?.get(column)?.get(value)
    }

    fn holder(&self, table: &str, column: &str, value: &SqlValue) -> Option<Option<i64>> {
        self.holders.get(table)?.get(column)?.get(value)
    }

    fn default_row(&self, default: &NamedDefault) -> Option<Option<i64>> {
        self.defaults.get(&default.column).copied()
    }
}

/// Runs `select` (`SELECT column` or `SELECT key, column` `FROM table`) for `values` of
/// `column`, 200 at a time: each value → the key of the row holding it (with `keyed`; else
/// its own value when a row has it). None when the answers cannot be told apart exactly (a
/// row read back as no value asked for, as a collation that ignores trailing spaces gives,
/// or a value two rows hold): then each record asks on its own.
async fn look_up_values(
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

/// Turns a text value into its canonical form, or says why it cannot.
pub type Normalizer = fn(&str) -> Result<String, String>;

impl Resource {
    pub fn new(path: &str, entity: &str, table: Table, label: &str) -> Resource {
        Resource {
            path: path.into(),
            entity: entity.into(),
            default_sort: label.into(),
            searchable: vec![label.into()],
            table,
            label: label.into(),
            lookups: Vec::new(),
            write_role: Role::Editor,
            defaults: Vec::new(),
            versioned: false,
            search: None,
            extension: None,
            check: None,
            hooks: Hooks::default(),
            children: Vec::new(),
            readonly: Vec::new(),
            normalize: Vec::new(),
            field_schemas: Vec::new(),
            list: Vec::new(),
            choices: Vec::new(),
        }
    }

    /// Documents what the resource's own code enforces on `field` (see `field_schemas`).
    pub fn constrain(&mut self, field: &str, schema: Value) {
        self.field_schemas.retain(|(f, _)| f != field);
        self.field_schemas.push((field.to_string(), schema));
    }

    /// Normalizes `field` with `normalize`, documented by `schema` (what it accepts).
    pub fn normalize_field(&mut self, field: &str, normalize: Normalizer, schema: Value) {
        self.normalize.retain(|(f, _)| f != field);
        self.normalize.push((field.to_string(), normalize));
        self.constrain(field, schema);
    }

    pub fn key(&self) -> &str {
        self.table.key_column()
    }

    /// Whether clients may set `column` (not keys, binary data, managed or read-only columns).
    pub fn writable(&self, column: &Column) -> bool {
        column.ty != ColumnType::Id
            && column.ty != ColumnType::Bytes
            && !MANAGED_COLUMNS.contains(&column.name.as_str())
            && !self.readonly.contains(&column.name)
    }

    /// Columns returned by reads (everything but binary data).
    fn read_columns(&self) -> impl Iterator<Item = &Column> {
        self.table
            .columns
            .iter()
            .filter(|c| c.ty != ColumnType::Bytes)
    }

    /// Every column a read returns, with the alias of its table (`t` base, `e` extension).
    fn all_columns(&self) -> Vec<(&'static str, &Column)> {
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

    fn tables_sql(&self, with_lookups: bool) -> String {
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

    fn select_sql(&self) -> String {
        let mut fields: Vec<String> = self
            .all_columns()
            .iter()
            .map(|(a, c)| format!("{a}.{}", c.name))
            .collect();
        for (i, l) in self.lookups.iter().enumerate() {
            fields.push(format!("l{i}.{} AS {}", l.display, l.alias));
        }
        format!(
            "SELECT {} FROM {}",
            fields.join(", "),
            self.tables_sql(true)
        )
    }

    fn row_to_json(&self, row: &AnyRow) -> Result<Map<String, Value>, sqlx::Error> {
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
    fn field_sql(&self, name: &str) -> Option<String> {
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
    fn where_sql(
        &self,
        dialect: Dialect,
        params: &ListParams,
    ) -> Result<(String, Vec<SqlValue>), ApiError> {
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
                ApiError::bad_request(format!(
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
                    ApiError::bad_request(format!(
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
    fn q_candidates(&self, dialect: Dialect, q: &str) -> Option<(String, Vec<SqlValue>)> {
        let specs = self.search_specs();
        let columns = self.all_columns();
        let mut room: u32 = 1000;
        for name in &self.searchable {
            if !specs.iter().any(|s| s.fields.contains(name)) {
                return None;
            }
            let (_, column) = columns.iter().find(|(_, c)| &c.name == name)?;
            let ColumnType::String(max) = column.ty else {
                return None;
            };
            room = room.checked_sub(max + 1)?;
        }
        let types: Vec<String> = specs.iter().map(|s| s.entitytype.clone()).collect();
        search::candidates(dialect, q, &types)
    }

    fn order_sql(&self, sort: Option<&str>) -> Result<String, ApiError> {
        let sort = sort.unwrap_or(&self.default_sort);
        let (name, desc) = match sort.strip_prefix('-') {
            Some(n) => (n, true),
            None => (sort, false),
        };
        let expr = self.field_sql(name).ok_or_else(|| {
            ApiError::bad_request(format!(
                "cannot sort by '{name}': use one of {} (prefix - for descending)",
                self.sortable().join(", ")
            ))
        })?;
        let dir = if desc { " DESC" } else { "" };
        Ok(format!(" ORDER BY {expr}{dir}, t.{}{dir}", self.key()))
    }

    /// One page of records and the total matching.
    pub async fn list(&self, db: &Db, params: &ListParams) -> Result<(Vec<Value>, i64), ApiError> {
        match self.list_page(db, params, false).await? {
            (PageRows::Values(rows), total) => Ok((rows, total)),
            (PageRows::Json(raw), total) => Ok((
                serde_json::from_str(&raw).map_err(ApiError::internal)?,
                total,
            )),
        }
    }

    /// One page as a JSON array text and the total: what the list route sends. On SQLite the
    /// database builds the JSON itself, which skips converting every cell into a value and back.
    pub async fn list_json(&self, db: &Db, params: &ListParams) -> Result<(String, i64), ApiError> {
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
    ) -> Result<(String, String, Vec<SqlValue>), ApiError> {
        let (filter, values) = self.where_sql(dialect, params)?;
        let order = self.order_sql(params.sort.as_deref())?;
        Ok((filter, order, values))
    }

    async fn list_page(
        &self,
        db: &Db,
        params: &ListParams,
        want_json: bool,
    ) -> Result<(PageRows, i64), ApiError> {
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
        let all_tables = self.tables_sql(true);
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
                self.json_object_sql()
            );
            let raw: String = db
                .query_with(&sql, &values)
                .fetch_one(&mut *conn)
                .await?
                .try_get(0)?;
            return Ok((PageRows::Json(raw), total));
        }
        let select = self.select_sql();
        let fields = select
            .split_once(" FROM ")
            .map(|(f, _)| f)
            .unwrap_or(&select);
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
    fn json_object_sql(&self) -> String {
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
            pairs.push((l.alias.clone(), format!("l{i}.{}", l.display)));
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

    pub async fn get(&self, db: &Db, id: i64) -> Result<Map<String, Value>, ApiError> {
        let mut conn = db.pool().acquire().await?;
        self.fetch(db, &mut conn, id)
            .await?
            .ok_or_else(|| self.not_found(id))
    }

    pub fn not_found(&self, id: i64) -> ApiError {
        ApiError::not_found(format!("no {} with id {id}", self.entity))
    }

    fn label_of(&self, record: &Map<String, Value>) -> Option<String> {
        record.get(&self.label).and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        })
    }

    /// Turns a request body into column values, collecting every problem.
    /// `existing` is the stored record on update (None on create).
    pub async fn validate(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        body: &Map<String, Value>,
        existing: Option<&Map<String, Value>>,
    ) -> Result<Vec<(String, SqlValue)>, ApiError> {
        self.validate_known(db, conn, body, existing, &Known::default())
            .await
    }

    /// `validate`, taking what `known` already answers instead of asking the database.
    pub async fn validate_known(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        body: &Map<String, Value>,
        existing: Option<&Map<String, Value>>,
        known: &Known,
    ) -> Result<Vec<(String, SqlValue)>, ApiError> {
        let normalized;
        let body = if self.normalize.is_empty() {
            body
        } else {
            normalized = self.normalized(body).map_err(ApiError::validation)?;
            &normalized
        };
        if let Some(ext) = &self.extension {
            return Box::pin(self.validate_extended(db, conn, body, existing, ext, known)).await;
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
                    .map(|d| known.default_row(d))
                    .collect::<Option<Vec<_>>>()
                {
                    Some(found) => found,
                    None => self.default_rows(db, conn, &wanted).await?,
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
                |(name, fk, v)| match known.present(&fk.table, &fk.column, v) {
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
            let row = db
                .query_with(&format!("SELECT {}", parts.join(", ")), &binds)
                .fetch_one(&mut *conn)
                .await?;
            for (i, (name, _, _)) in references.iter().enumerate() {
                if row.try_get::<i64, _>(i)? == 0 {
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
            let holder = match column
                .unique
                .then(|| known.holder(&self.table.name, name, value))
            {
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
                        if self.table.name == "assets" {
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
        if let Some(check) = self.check {
            for (k, v) in check(&merged) {
                errors.entry(k).or_insert(v);
            }
        }
        if errors.is_empty() {
            Ok(values)
        } else {
            Err(ApiError::validation(errors))
        }
    }

    /// Validates the asset part and the extension part of one body, reporting both at once.
    async fn validate_extended(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        body: &Map<String, Value>,
        existing: Option<&Map<String, Value>>,
        ext: &Table,
        known: &Known,
    ) -> Result<Vec<(String, SqlValue)>, ApiError> {
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
            base.validate_known(db, conn, &base_body, existing, known)
                .await,
            part.validate_known(db, conn, &ext_body, existing, known)
                .await,
        ] {
            match result {
                Ok(v) => values.extend(v),
                Err(e) if e.status == axum::http::StatusCode::UNPROCESSABLE_ENTITY => {
                    if let Value::Object(fields) = e.details {
                        errors.extend(fields);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        // Checks that span the asset and its extension see the whole merged record.
        // (as sent, so a problem in one part does not hide the other's)
        if let Some(check) = self.check {
            let mut merged = existing.cloned().unwrap_or_default();
            merged.extend(body.iter().map(|(k, v)| (k.clone(), v.clone())));
            for (k, v) in check(&merged) {
                errors.entry(k).or_insert(v);
            }
        }
        if errors.is_empty() {
            Ok(values)
        } else {
            Err(ApiError::validation(errors))
        }
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

    /// The rows `defaults` name (the status "In Service"), in one query.
    async fn default_rows(
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

    /// The value `validate` makes of `column` in `body`, when it is a whole number or text.
    fn sql_value_of(&self, column: &Column, body: &Map<String, Value>) -> Option<KeyValue> {
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

    async fn find_duplicate(
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

    /// Inserts a record on `conn` (inside the caller's transaction) and audits it.
    pub async fn insert(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        actor: &Actor,
        values: Vec<(String, SqlValue)>,
    ) -> Result<Map<String, Value>, ApiError> {
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

    /// Whether `insert_many` can create this resource's records: it has no write hooks and no
    /// child lists (those run record by record).
    pub fn creates_together(&self) -> bool {
        self.hooks.before_write.is_empty()
            && self.hooks.after_write.is_empty()
            && self.children.is_empty()
    }

    /// Creates many records, each from values `validate` checked, in a few statements
    /// whatever their number (multi-row inserts, one read of the new records, the audit
    /// entries and search entries together) with the same outcome as `insert` for each.
    /// Only where `creates_together`. Returns the new records in the same order.
    pub async fn insert_many(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        actor: &Actor,
        rows: Vec<Values>,
    ) -> Result<Vec<Map<String, Value>>, ApiError> {
        if !self.creates_together() {
            return Err(ApiError::internal(format!(
                "{} records cannot be created together",
                self.entity
            )));
        }
        let (base, ext): (Vec<Values>, Vec<Values>) = rows
            .into_iter()
            .map(|values| self.split(self.typed(values)))
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
        let mut fetched = self.fetch_many(db, conn, &ids).await?;
        let records = ids
            .iter()
            .map(|id| fetched.remove(id).ok_or_else(|| self.not_found(*id)))
            .collect::<Result<Vec<_>, ApiError>>()?;
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
        let is_asset = self.table.name == "assets";
        for spec in self.search_specs() {
            let list: Vec<search::Rewrite> = records
                .iter()
                .zip(&ids)
                .map(|(record, id)| search::Rewrite {
                    id: *id,
                    assetid: is_asset.then_some(*id),
                    record,
                    before: &empty,
                })
                .collect();
            search::index_many(db, conn, &spec, &list).await?;
        }
        Ok(records)
    }

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
    ) -> Result<Map<String, Value>, ApiError> {
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
            self.run_hooks(hooks, db, conn, actor, Some(id), Some(before), &record)
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
            self.run_hooks(hooks, db, conn, actor, Some(id), Some(before), &after)
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
    ) -> Result<(), ApiError> {
        if self.hooks.before_write.is_empty() {
            return Ok(());
        }
        let id = before.get(self.key()).and_then(Value::as_i64);
        let record = merge(Some(before), values);
        let hooks = &self.hooks.before_write;
        self.run_hooks(hooks, db, conn, actor, id, Some(before), &record)
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
    ) -> Result<Vec<Map<String, Value>>, ApiError> {
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
        let is_asset = self.table.name == "assets";
        for spec in self.search_specs() {
            let list: Vec<search::Rewrite> = items
                .iter()
                .zip(&afters)
                .zip(&ids)
                .map(|(((before, _), after), id)| search::Rewrite {
                    id: *id,
                    assetid: is_asset.then_some(*id),
                    record: after,
                    before,
                })
                .collect();
            search::index_many(db, conn, &spec, &list).await?;
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

    #[allow(clippy::too_many_arguments)]
    async fn run_hooks(
        &self,
        hooks: &[WriteHook],
        db: &Db,
        conn: &mut AnyConnection,
        actor: &Actor,
        id: Option<i64>,
        before: Option<&Map<String, Value>>,
        record: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        let env = self.hooks.env();
        for hook in hooks {
            hook(WriteEvent {
                db,
                conn: &mut *conn,
                actor,
                id,
                before,
                record,
                env,
            })
            .await?;
        }
        Ok(())
    }

    /// The 409 for a stale version, naming who changed the record last and when.
    async fn stale(&self, db: &Db, conn: &mut AnyConnection, id: i64, current: i64) -> ApiError {
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
        ApiError::conflict(format!(
            "this {} was changed by {by} at {at} (now version {current}); reload it and apply your change again",
            self.entity
        ))
        .with_details(json!({"currentversion": current, "modifiedby": by, "modifieddate": at}))
    }

    /// Deletes record `id` unless rows in `tables` still refer to it (409 naming them).
    pub async fn remove(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        actor: &Actor,
        id: i64,
        tables: &[Table],
    ) -> Result<Map<String, Value>, ApiError> {
        let before = self
            .fetch(db, conn, id)
            .await?
            .ok_or_else(|| self.not_found(id))?;
        let hooks = &self.hooks.before_delete;
        self.run_hooks(hooks, db, conn, actor, Some(id), Some(&before), &before)
            .await?;
        if self.table.name == "assets" && self.extension.is_none() {
            let env = self.hooks.env();
            for (plugin, hooks) in &env.asset_delete_hooks {
                if env.enabled(db, plugin).await {
                    self.run_hooks(hooks, db, conn, actor, Some(id), Some(&before), &before)
                        .await?;
                }
            }
        }
        let mut users = Map::new();
        for table in tables {
            for column in &table.columns {
                let Some(fk) = &column.references else {
                    continue;
                };
                if fk.table != self.table.name || fk.on_delete != OnDelete::Restrict {
                    continue;
                }
                let n: i64 = db
                    .query(&format!(
                        "SELECT COUNT(*) FROM {} WHERE {} = ?",
                        table.name, column.name
                    ))
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get(0)?;
                if n > 0 {
                    let key = if table.name == self.table.name {
                        format!("{} ({})", table.name, column.name)
                    } else {
                        table.name.clone()
                    };
                    users.insert(key, json!(n));
                }
            }
        }
        if !users.is_empty() {
            let list: Vec<String> = users.iter().map(|(t, n)| format!("{n} {t}")).collect();
            let label = self.label_of(&before).unwrap_or_else(|| id.to_string());
            return Err(ApiError::conflict(format!(
                "{} '{label}' is still used by {}; reassign or delete those first",
                self.entity,
                list.join(", ")
            ))
            .with_details(Value::Object(users)));
        }
        self.audit_side_effects(db, conn, actor, id).await?;
        db.forget_counts();
        db.query(&format!(
            "DELETE FROM {} WHERE {} = ?",
            self.table.name,
            self.key()
        ))
        .bind(id)
        .execute(&mut *conn)
        .await?;
        let name = self.label_of(&before);
        audit::record(
            db,
            conn,
            actor,
            audit::Entry {
                action: Action::Deleted,
                entitytype: self.audit_entity(),
                entityid: Some(id),
                entityname: name.as_deref(),
                before: &self.auditable(&before),
                after: &Map::new(),
            },
        )
        .await?;
        for spec in self.search_specs() {
            search::remove(db, conn, &spec.entitytype, id).await?;
        }
        Ok(before)
    }

    /// What deleting record `id` does to other rows through their foreign keys, written to the
    /// audit trail in the same transaction (the database would do it silently): a link that
    /// is set to null is an update of the row holding it (of its asset, whose version moves,
    /// for a plugin's asset record), and a relationship that goes with the asset is a delete.
    async fn audit_side_effects(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        actor: &Actor,
        id: i64,
    ) -> Result<(), ApiError> {
        let links = crate::catalog::relationships();
        // Tables of core and of installed plugins (enabled or not): the ones that exist.
        let installed: Vec<String> = db
            .query("SELECT pluginname FROM plugins")
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let tables = self
            .hooks
            .env()
            .tables
            .iter()
            .filter(|(owner, _)| owner.as_ref().is_none_or(|o| installed.contains(o)))
            .map(|(_, t)| t);
        for table in tables {
            for column in &table.columns {
                let Some(fk) = &column.references else {
                    continue;
                };
                if fk.table != self.table.name {
                    continue;
                }
                let (entity, key) = if table.primary_key == ["assetid"] || table.name == "assets" {
                    ("asset".to_string(), "assetid".to_string())
                } else if table.name == links.table.name {
                    (links.entity.clone(), links.key().to_string())
                } else if let Some(k) = table.columns.iter().find(|c| c.ty == ColumnType::Id) {
                    (singular(&table.name), k.name.clone())
                } else {
                    continue;
                };
                let cascade = fk.on_delete == OnDelete::Cascade && table.name == links.table.name;
                if fk.on_delete != OnDelete::SetNull && !cascade {
                    continue;
                }
                let rows = db
                    .query(&format!(
                        "SELECT {key} FROM {} WHERE {} = ?",
                        table.name, column.name
                    ))
                    .bind(id)
                    .fetch_all(&mut *conn)
                    .await?;
                for row in &rows {
                    let rowid: i64 = row.try_get(0)?;
                    let mut before = Map::new();
                    before.insert(column.name.clone(), json!(id));
                    let mut after = Map::new();
                    let action = if cascade {
                        // The whole link as it was.
                        if let Some(link) = links.fetch(db, conn, rowid).await? {
                            before = links.auditable(&link);
                        }
                        Action::Deleted
                    } else {
                        after.insert(column.name.clone(), Value::Null);
                        if entity == "asset" {
                            db.query("UPDATE assets SET version = version + 1, modifieddate = ? WHERE assetid = ?")
                                .bind(now())
                                .bind(rowid)
                                .execute(&mut *conn)
                                .await?;
                        }
                        Action::Updated
                    };
                    audit::record(
                        db,
                        conn,
                        actor,
                        audit::Entry {
                            action,
                            entitytype: &entity,
                            entityid: Some(rowid),
                            entityname: None,
                            before: &before,
                            after: &after,
                        },
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// Entity name in the audit trail: extension records are audited as their asset, so an
    /// asset's history shows every change to it, whichever plugin made it.
    pub fn audit_entity(&self) -> &str {
        if self.extension.is_some() {
            "asset"
        } else {
            &self.entity
        }
    }

    /// Separates extension-table values from base-table values.
    fn child(&self, field: &str) -> Option<&ChildList> {
        self.children.iter().find(|c| c.field == field)
    }

    /// Separates validated child lists (carried as JSON text) from column values.
    fn take_children(&self, values: Values) -> (Values, Vec<(String, Value)>) {
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

    async fn write_children(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        id: i64,
        lists: &[(String, Value)],
    ) -> Result<(), ApiError> {
        for (field, items) in lists {
            if let Some(list) = self.child(field) {
                list.replace(db, conn, self.key(), id, items).await?;
            }
        }
        Ok(())
    }

    /// Each value in the kind its column stores, whatever the caller built (see
    /// [`SqlValue::into_kind`]): the column's type decides what is bound.
    fn typed(&self, values: Values) -> Values {
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

    fn split(&self, values: Vec<(String, SqlValue)>) -> (Values, Values) {
        match &self.extension {
            Some(ext) => values
                .into_iter()
                .partition(|(n, _)| ext.get(n).is_none() || n == self.key()),
            None => (values, Vec::new()),
        }
    }

    /// Index entries this record keeps: its own, and for extension records also the asset's.
    fn search_specs(&self) -> Vec<SearchSpec> {
        let mut specs = Vec::new();
        if self.extension.is_some()
            && let Some(spec) = crate::catalog::assets().search
        {
            specs.push(spec);
        }
        specs.extend(self.search.clone());
        specs
    }

    /// Writes the record's search entries; `before` (on update) lets unchanged ones be, and
    /// `Fresh` (just created) skips looking for entries to replace.
    async fn index(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        id: i64,
        record: &Map<String, Value>,
        before: Indexed<'_>,
    ) -> Result<(), sqlx::Error> {
        let is_asset = self.table.name == "assets";
        let (old, fresh) = match before {
            Indexed::Fresh => (None, true),
            Indexed::Was(b) => (Some(b), false),
            Indexed::Unknown => (None, false),
        };
        for spec in self.search_specs() {
            let assetid = is_asset.then_some(id);
            search::index_record(db, conn, &spec, id, assetid, record, old, fresh).await?;
        }
        Ok(())
    }

    /// The record without joined display names (those are not the record's own data).
    fn auditable(&self, record: &Map<String, Value>) -> Map<String, Value> {
        record
            .iter()
            .filter(|(k, _)| {
                !self.lookups.iter().any(|l| &l.alias == *k)
                    && !MANAGED_COLUMNS.contains(&k.as_str())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Create from a request body in one transaction.
    pub async fn create(
        &self,
        db: &Db,
        actor: &Actor,
        body: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ApiError> {
        let mut tx = db.begin().await?;
        let result = async {
            let values = self.validate(db, &mut tx, body, None).await?;
            self.insert(db, &mut tx, actor, values).await
        }
        .await;
        finish(db, tx, result).await
    }

    /// Update from a request body in one transaction. Fields not sent keep their values.
    pub async fn update(
        &self,
        db: &Db,
        actor: &Actor,
        id: i64,
        body: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ApiError> {
        let expected_version = if self.versioned {
            match body.get("version") {
                Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
                Some(_) => {
                    return Err(ApiError::field(
                        "version",
                        "must be the whole-number version you read",
                    ));
                }
                None => {
                    return Err(ApiError::field(
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

    pub async fn delete(
        &self,
        db: &Db,
        actor: &Actor,
        id: i64,
        tables: &[Table],
    ) -> Result<(), ApiError> {
        let mut tx = db.begin().await?;
        let result = self.remove(db, &mut tx, actor, id, tables).await;
        finish(db, tx, result).await.map(|_| ())
    }

    /// Rewrites the search entries of every record; returns how many records were indexed.
    pub async fn reindex_all(&self, db: &Db) -> Result<usize, ApiError> {
        if self.search.is_none() {
            return Ok(0);
        }
        let mut done = 0;
        let mut page = 1;
        loop {
            let params = ListParams {
                page,
                per_page: crate::http::MAX_PER_PAGE,
                sort: Some(self.key().to_string()),
                q: None,
                filters: Vec::new(),
            };
            let (rows, _) = self.list(db, &params).await?;
            if rows.is_empty() {
                return Ok(done);
            }
            let mut tx = db.begin().await?;
            for row in &rows {
                if let (Some(id), Value::Object(record)) =
                    (row.get(self.key()).and_then(Value::as_i64), row)
                {
                    self.index(db, &mut tx, id, record, Indexed::Unknown)
                        .await?;
                    done += 1;
                }
            }
            tx.commit().await?;
            page += 1;
        }
    }

    /// JSON schema of a record for the OpenAPI document: as answered, or (`for_write`) as a
    /// create body.
    pub fn json_schema(&self, for_write: bool) -> Value {
        self.schema(if for_write {
            SchemaMode::Create
        } else {
            SchemaMode::Read
        })
    }

    /// JSON schema of a record as answered or as a request body, from the same column
    /// descriptions `validate` checks against: types, lengths, required non-blank text, the
    /// formats of dates and timestamps, references (ids from 1), and no unknown fields.
    pub fn schema(&self, mode: SchemaMode) -> Value {
        let write = mode != SchemaMode::Read;
        let mut props = Map::new();
        let mut required = Vec::new();
        for (_, c) in self.all_columns() {
            if write && !self.writable(c) {
                // Any value is taken and ignored, so a record read can be sent back as it is.
                props.insert(
                    c.name.clone(),
                    json!({"description": "set by the server; ignored in requests"}),
                );
                continue;
            }
            let needed = !c.nullable
                && c.default.is_none()
                && !self.defaults.iter().any(|d| d.column == c.name);
            let mut schema = column_schema(c, write && !c.nullable);
            if let Some((_, own)) = self.field_schemas.iter().find(|(f, _)| *f == c.name) {
                // A normalized field takes more than its column holds (separators, spaces);
                // any other keeps the column's limits under its own constraint.
                let own = if self.normalize.iter().any(|(f, _)| *f == c.name) {
                    own.clone()
                } else {
                    let mut merged = schema.clone();
                    if let (Some(m), Some(o)) = (merged.as_object_mut(), own.as_object()) {
                        if o.contains_key("pattern") || o.contains_key("enum") {
                            m.remove("pattern");
                            m.remove("minLength");
                        }
                        m.extend(o.clone());
                    }
                    merged
                };
                let own = &own;
                schema = if write && c.nullable && own["type"] == "string" {
                    // Blank text is taken as "no value" here (within the same length).
                    let mut either =
                        json!({"type": "string", "anyOf": [own, {"pattern": BLANK_PATTERN}]});
                    if !own["maxLength"].is_null() {
                        either["maxLength"] = own["maxLength"].clone();
                    }
                    either
                } else {
                    own.clone()
                };
            }
            if write && c.nullable && matches!(c.ty, ColumnType::Timestamp | ColumnType::Date) {
                // Blank is "no value" here too.
                let format = schema["format"].clone();
                schema = json!({"type": "string", "anyOf": [{"format": format}, {"pattern": BLANK_PATTERN}]});
            }
            if c.nullable {
                schema["nullable"] = json!(true);
            }
            if mode == SchemaMode::Create && needed {
                required.push(c.name.clone());
            }
            props.insert(c.name.clone(), schema);
        }
        for l in &self.lookups {
            let schema = if write {
                json!({"description": "a name shown on reads; ignored in requests"})
            } else {
                json!({"type": "string", "nullable": true, "readOnly": true})
            };
            props.insert(l.alias.clone(), schema);
        }
        // A create ignores `version` (listed above with the server-set fields).
        if self.versioned && mode == SchemaMode::Update {
            props.insert(
                "version".into(),
                json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX,
                       "description": "the version you read (a stale one is a 409)"}),
            );
            required.push("version".into());
        }
        for list in &self.children {
            let mut item_required = Vec::new();
            let items: Map<String, Value> = list
                .item_columns(self.key())
                .map(|c| {
                    let needed = !c.nullable && c.default.is_none();
                    if needed {
                        item_required.push(c.name.clone());
                    }
                    let mut schema = column_schema(c, write && needed);
                    if c.nullable {
                        schema["nullable"] = json!(true);
                    }
                    (c.name.clone(), schema)
                })
                .collect();
            let mut item = json!({"type": "object", "properties": items});
            if write {
                item["required"] = json!(item_required);
                item["additionalProperties"] = json!(false);
            }
            props.insert(
                list.field.clone(),
                json!({"type": "array", "items": item,
                       "description": "in detail reads, not lists; a write that sends it replaces the whole list"}),
            );
        }
        let mut schema = json!({"type": "object", "properties": props});
        if !required.is_empty() {
            schema["required"] = json!(required);
        }
        if write {
            schema["additionalProperties"] = json!(false);
        }
        schema
    }
}

/// Which JSON schema of a record: as answered, as a create body or as an update body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaMode {
    Read,
    Create,
    Update,
}

/// White space as `str::trim` sees it, as the body of a regular-expression class.
pub const WHITE_SPACE_CLASS: &str =
    "\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
/// Blank text: nothing but white space.
pub const BLANK_PATTERN: &str = "^[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$";

/// Text the server takes: anything without a NUL character (PostgreSQL cannot store one).
pub const TEXT_PATTERN: &str = "^[^\\u0000]*$";
/// Text a required field takes: at least one character that is not white space (blank text
/// counts as not given, as `str::trim` sees it) and no NUL character.
pub const NONBLANK_PATTERN: &str = "^[^\\u0000]*[^\\u0000\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$";

/// The JSON schema of one column's values; `nonblank` for text that must not be blank.
pub fn column_schema(c: &Column, nonblank: bool) -> Value {
    let text = |max: Option<u32>| {
        let mut s = json!({"type": "string", "pattern": if nonblank { NONBLANK_PATTERN } else { TEXT_PATTERN }});
        if nonblank {
            s["minLength"] = json!(1);
        }
        if let Some(max) = max {
            s["maxLength"] = json!(max);
        }
        s
    };
    match c.ty {
        ColumnType::Id => {
            json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX})
        }
        ColumnType::Integer if c.references.is_some() => {
            json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX})
        }
        ColumnType::Integer => {
            json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX})
        }
        ColumnType::Float => json!({"type": "number"}),
        ColumnType::Boolean => json!({"type": "boolean"}),
        ColumnType::String(_) | ColumnType::Text if !c.choices.is_empty() => {
            json!({"type": "string", "enum": c.choices})
        }
        ColumnType::String(n) => text(Some(n)),
        ColumnType::Text => text(None),
        ColumnType::Timestamp => json!({"type": "string", "format": "date-time"}),
        ColumnType::Date => json!({"type": "string", "format": "date"}),
        ColumnType::Bytes => json!({"type": "string", "format": "binary"}),
    }
}

/// Inserts one row of `table` (timestamps filled in) and returns its key.
async fn insert_row(
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
async fn insert_rows(
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
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
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

fn merge(
    existing: Option<&Map<String, Value>>,
    values: &[(String, SqlValue)],
) -> Map<String, Value> {
    let mut merged = existing.cloned().unwrap_or_default();
    for (n, v) in values {
        merged.insert(n.clone(), v.to_json());
    }
    merged
}

fn type_name(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Id | ColumnType::Integer => "whole number",
        ColumnType::Float => "number",
        ColumnType::Boolean => "true/false",
        ColumnType::Timestamp => "timestamp",
        ColumnType::Date => "date (YYYY-MM-DD)",
        _ => "text",
    }
}

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

fn parse_filter(column: &Column, raw: &str) -> Option<SqlValue> {
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

/// `%text%` for a case-insensitive LIKE with `!` escaping the wildcards.
/// A table's name for one of its rows in messages: `statuses` → `status`,
/// `categories` → `category`, `locations` → `location`.
pub fn singular(table: &str) -> String {
    if let Some(stem) = table.strip_suffix("ies") {
        format!("{stem}y")
    } else if table.ends_with("uses") || table.ends_with("sses") || table.ends_with("xes") {
        table[..table.len() - 2].to_string()
    } else {
        table.strip_suffix('s').unwrap_or(table).to_string()
    }
}

pub fn like_pattern(q: &str) -> String {
    let escaped = q
        .to_lowercase()
        .replace('!', "!!")
        .replace('%', "!%")
        .replace('_', "!_");
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests {
    use super::singular;

    #[test]
    fn messages_name_one_row_of_a_table() {
        for (table, one) in [
            ("statuses", "status"),
            ("locations", "location"),
            ("assettypes", "assettype"),
            ("categories", "category"),
            ("addresses", "address"),
            ("boxes", "box"),
            ("equipment", "equipment"),
        ] {
            assert_eq!(singular(table), one);
        }
    }
}
