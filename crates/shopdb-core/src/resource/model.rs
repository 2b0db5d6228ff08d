//! The record engine's types: what a resource is (its table, lookups, defaults, hooks, child
//! lists, search), and the small accessors every part uses.

use std::sync::{Arc, OnceLock};

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use sqlx::AnyConnection;

use crate::auth::{Actor, Role};
use crate::db::{Db, SqlValue};
use crate::error::DomainError;
use crate::plugin::services::Services;
use crate::plugin::states::PluginStates;
use crate::schema::{Column, ColumnType, Table};
use crate::search::SearchSpec;

/// Columns the server maintains itself: clients may send them back but they are ignored, and
/// the audit trail leaves them out (`lastseen`/`lastseenby` move with every collector check-in, which is not a change).
pub const MANAGED_COLUMNS: &[&str] = &[
    "createddate",
    "modifieddate",
    "version",
    "lastseen",
    "lastseenby",
];

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
    /// The relationships between assets as the catalog serves them: deleting an asset
    /// audits the links that go with it, and hooks write links through it. Weak, since that
    /// resource's hooks hold this environment.
    pub relationships: std::sync::Weak<Resource>,
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
    /// What a batch of new records looked up for all of them at once before their checks
    /// ran (see [`Hooks::prepare`]); None for a write on its own. A check may skip its own
    /// query for what this says is clear.
    pub known: Option<&'a Cleared>,
}

pub type WriteHook =
    Arc<dyn for<'a> Fn(WriteEvent<'a>) -> BoxFuture<'a, Result<(), DomainError>> + Send + Sync>;

/// Many new records about to be checked and created together (a collector batch), as a
/// [`BatchLookup`] sees them: inside the write's transaction, before any of them is written.
pub struct BatchEvent<'a> {
    pub db: &'a Db,
    pub conn: &'a mut AnyConnection,
    /// The records as the before-write hooks will see them, one by one.
    pub records: &'a [Map<String, Value>],
    pub env: &'a HookEnv,
    /// Where to note what was found clear.
    pub known: &'a mut Cleared,
}

/// What the lookups of a batch ([`BatchLookup`]) found clear for its new records: values no
/// stored record has where a before-write check would look. Each check notes and reads under
/// its own name (`"computers.hostname"`), in the form it compares (lower case for a check
/// that ignores case). It holds for the batch's checks, which all run before any of its
/// records is written.
#[derive(Debug, Default)]
pub struct Cleared(std::collections::HashSet<(String, String)>);

impl Cleared {
    /// Notes that `check` would find nothing for `value`.
    pub fn note(&mut self, check: &str, value: &str) {
        self.0.insert((check.to_string(), value.to_string()));
    }

    /// Whether `check` was found to find nothing for `value`.
    pub fn is_clear(&self, check: &str, value: &str) -> bool {
        // One allocation per question is small next to the query it saves.
        self.0.contains(&(check.to_string(), value.to_string()))
    }
}

/// Asks, for a whole batch of new records in one query, what a before-write check would ask
/// for each record, and notes the values it found clear; the check then reads
/// [`WriteEvent::known`] instead of asking. Declared with [`Hooks::prepare`].
pub type BatchLookup =
    Arc<dyn for<'a> Fn(BatchEvent<'a>) -> BoxFuture<'a, Result<(), DomainError>> + Send + Sync>;

/// Plugin code run on every create and update of a resource, whatever the path (API,
/// collector, CLI): `before_write` may refuse the write, `after_write` may write related rows.
/// `before_delete` may refuse a delete (its event's `record` is the stored record).
#[derive(Clone, Default)]
pub struct Hooks {
    pub before_write: Vec<WriteHook>,
    pub after_write: Vec<WriteHook>,
    pub before_delete: Vec<WriteHook>,
    /// Set by [`Hooks::checks_only`]: the fields through which the before-write hooks compare
    /// a record with other records. None: what the hooks do is not known.
    pub compared: Option<Vec<String>>,
    /// Set by [`Hooks::prepare`]: batch forms of the before-write checks' lookups.
    pub batch_lookups: Vec<BatchLookup>,
    pub(crate) env: Arc<OnceLock<Arc<HookEnv>>>,
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
    /// What its records are: plain rows, the assets themselves, or a plugin's extension of
    /// assets. What is special about assets (positions, versions, "asset" in the audit trail,
    /// the asset's search entry) follows from this, never from a table's name.
    pub kind: ResourceKind,
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

/// A stored record and the checked values that change it (see `Resource::update_many`).
pub type Change<'a> = (&'a Map<String, Value>, Vec<(String, SqlValue)>);

/// Turns a text value into its canonical form, or says why it cannot.
pub type Normalizer = fn(&str) -> Result<String, String>;

/// What a resource's records are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResourceKind {
    /// Rows of its own table (locations, statuses, a plugin's standalone table).
    #[default]
    Plain,
    /// The assets themselves (`/api/assets`).
    Asset,
    /// A plugin's records that extend assets, one row per asset keyed by `assetid` (a PC,
    /// a printer): each is an asset too.
    AssetExtension,
}

impl Resource {
    /// Whether its records are assets: the core's, or a plugin's extension of them.
    pub fn is_asset(&self) -> bool {
        self.kind != ResourceKind::Plain
    }

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
            kind: ResourceKind::Plain,
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

    pub fn not_found(&self, id: i64) -> DomainError {
        DomainError::not_found(format!("no {} with id {id}", self.entity))
    }

    pub(crate) fn label_of(&self, record: &Map<String, Value>) -> Option<String> {
        record.get(&self.label).and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        })
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
