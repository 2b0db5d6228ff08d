//! A checked model: what `model.toml` says once every name, type and reference in it is
//! known to be usable. Everything a folder plugin contributes is built from this.

use serde_json::Value;

use crate::plugin::types::{SettingDef, WidgetSize};

/// The field types of the folder format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    String,
    Text,
    Integer,
    Number,
    Boolean,
    Date,
    Timestamp,
    Choice,
    Url,
    Ip,
    Mac,
    Reference,
}

impl FieldType {
    pub const ALL: [(&'static str, FieldType); 12] = [
        ("string", FieldType::String),
        ("text", FieldType::Text),
        ("integer", FieldType::Integer),
        ("number", FieldType::Number),
        ("boolean", FieldType::Boolean),
        ("date", FieldType::Date),
        ("timestamp", FieldType::Timestamp),
        ("choice", FieldType::Choice),
        ("url", FieldType::Url),
        ("ip", FieldType::Ip),
        ("mac", FieldType::Mac),
        ("reference", FieldType::Reference),
    ];

    pub fn parse(name: &str) -> Option<FieldType> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// Held as text of a bounded length (the ones `length`, `pattern` and case-ignoring
    /// uniqueness apply to).
    pub fn is_short_text(self) -> bool {
        matches!(
            self,
            FieldType::String | FieldType::Choice | FieldType::Url | FieldType::Ip | FieldType::Mac
        )
    }
}

/// One field of a table.
#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub ty: FieldType,
    /// Characters, for short text.
    pub length: u32,
    pub required: bool,
    pub unique: bool,
    pub label: Option<String>,
    pub help: Option<String>,
    pub choices: Vec<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub pattern: Option<String>,
    /// Referenced table and its key column.
    pub references: Option<(String, String)>,
    /// The field's name before a rename (`renamed_from`).
    pub renamed_from: Option<String>,
}

/// One table.
#[derive(Clone, Debug)]
pub struct TableSpec {
    pub name: String,
    /// One row per asset, keyed by `assetid`.
    pub extends_assets: bool,
    pub label: String,
    pub assettype: String,
    /// Key column (`assetid` for an asset extension).
    pub key: String,
    pub title: String,
    pub subtitle: Option<String>,
    pub search: Vec<String>,
    pub list: Vec<String>,
    pub fields: Vec<Field>,
    /// Fields removed on purpose (`dropped`).
    pub dropped: Vec<String>,
}

impl TableSpec {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

#[derive(Clone, Debug)]
pub struct NavSpec {
    pub label: String,
    pub position: i64,
    pub icon: String,
    pub table: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WidgetKind {
    /// How many records (matching the filter).
    Count,
    /// How many records for each value of a field.
    Bars,
    /// The records matching the filter.
    List,
}

#[derive(Clone, Debug)]
pub struct WidgetSpec {
    pub name: String,
    pub title: String,
    pub kind: WidgetKind,
    pub table: String,
    pub field: Option<String>,
    pub filter: Vec<(String, Value)>,
    pub size: WidgetSize,
    pub position: i64,
    pub limit: i64,
}

#[derive(Clone, Debug)]
pub struct CollectorSpec {
    pub table: String,
    pub identity: String,
    pub matches: Vec<String>,
}

/// The checked model.
#[derive(Clone, Debug)]
pub struct Spec {
    pub tables: Vec<TableSpec>,
    pub nav: Option<NavSpec>,
    pub widgets: Vec<WidgetSpec>,
    pub collector: Option<CollectorSpec>,
    pub settings: Vec<SettingDef>,
}

impl Spec {
    pub fn table(&self, name: &str) -> Option<&TableSpec> {
        self.tables.iter().find(|t| t.name == name)
    }
}
