//! `model.toml` as written: every key a folder plugin may use, with the position of the
//! values later checks point at. Unknown keys are refused by the parser itself.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// `[[table]]`: the tables the plugin owns, parents first.
    #[serde(default, rename = "table")]
    pub tables: Vec<TableDef>,
    /// `[nav]`: the sidebar entry.
    #[serde(default)]
    pub nav: Option<Spanned<NavDef>>,
    /// `[[widget]]`: dashboard widgets.
    #[serde(default, rename = "widget")]
    pub widgets: Vec<WidgetDef>,
    /// `[collector]`: what `/api/collector/<plugin>` takes.
    #[serde(default)]
    pub collector: Option<Spanned<CollectorDef>>,
    /// `[[setting]]`: typed settings admins change.
    #[serde(default, rename = "setting")]
    pub settings: Vec<SettingDef>,
}

/// `[[table]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDef {
    pub name: Spanned<String>,
    /// `"assets"`: one row per asset, keyed by `assetid`; omitted: a standalone table.
    #[serde(default)]
    pub extends: Option<Spanned<String>>,
    /// One record, for people (`Camera`); default: the table name.
    #[serde(default)]
    pub label: Option<String>,
    /// The asset type records of an extension table get; default: `label`.
    #[serde(default)]
    pub assettype: Option<String>,
    /// Key column of a standalone table; default `<name>id`.
    #[serde(default)]
    pub key: Option<Spanned<String>>,
    /// The record's title in lists, links and search results.
    #[serde(default)]
    pub title: Option<Spanned<String>>,
    #[serde(default)]
    pub subtitle: Option<Spanned<String>>,
    /// Fields global search finds records by.
    #[serde(default)]
    pub search: Option<Vec<Spanned<String>>>,
    /// Columns of the list page, in order.
    #[serde(default)]
    pub list: Option<Vec<Spanned<String>>>,
    #[serde(default, rename = "field")]
    pub fields: Vec<FieldDef>,
    /// Fields removed on purpose: `plugin migrate` backs their values up, then drops them.
    #[serde(default)]
    pub dropped: Vec<Spanned<String>>,
}

/// `[[table.field]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    pub name: Spanned<String>,
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    /// Longest value in characters (string, url, choice).
    #[serde(default)]
    pub length: Option<Spanned<i64>>,
    #[serde(default)]
    pub required: bool,
    /// Unique within the table; strings ignoring case.
    #[serde(default)]
    pub unique: Option<Spanned<bool>>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub help: Option<String>,
    /// The values of a `choice`.
    #[serde(default)]
    pub choices: Option<Spanned<Vec<String>>>,
    /// Smallest and largest value of an integer or number.
    #[serde(default)]
    pub min: Option<Spanned<f64>>,
    #[serde(default)]
    pub max: Option<Spanned<f64>>,
    /// A regular expression a string must match as a whole.
    #[serde(default)]
    pub pattern: Option<Spanned<String>>,
    /// The table a `reference` points at.
    #[serde(default)]
    pub references: Option<Spanned<String>>,
    /// The field's name in the installed model: `plugin migrate` moves the data across.
    #[serde(default)]
    pub renamed_from: Option<Spanned<String>>,
}

/// `[nav]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NavDef {
    pub label: String,
    #[serde(default)]
    pub position: Option<i64>,
    #[serde(default)]
    pub icon: Option<String>,
    /// The table whose list the entry opens; default: the first.
    #[serde(default)]
    pub table: Option<Spanned<String>>,
}

/// `[[widget]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WidgetDef {
    pub name: Spanned<String>,
    pub title: String,
    /// `count`, `bars` or `list`.
    pub kind: Spanned<String>,
    /// Default: the first table.
    #[serde(default)]
    pub table: Option<Spanned<String>>,
    /// `bars`: the field records are counted by.
    #[serde(default)]
    pub field: Option<Spanned<String>>,
    /// `count` and `list`: only records whose fields have these values.
    #[serde(default)]
    pub filter: Option<Spanned<BTreeMap<String, toml::Value>>>,
    /// `small`, `medium` or `large`.
    #[serde(default)]
    pub size: Option<Spanned<String>>,
    #[serde(default)]
    pub position: Option<i64>,
    /// `list`: how many records at most (default 10).
    #[serde(default)]
    pub limit: Option<Spanned<i64>>,
}

/// `[collector]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorDef {
    /// Default: the first table.
    #[serde(default)]
    pub table: Option<Spanned<String>>,
    pub identity: Spanned<String>,
    #[serde(default, rename = "match")]
    pub matches: Vec<Spanned<String>>,
}

/// `[[setting]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingDef {
    pub key: Spanned<String>,
    /// `text`, `integer` or `boolean`.
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    #[serde(default)]
    pub default: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub help: Option<String>,
}

/// Every key the parser accepts, by section: what the published JSON Schema must describe.
pub const KEYS: &[(&str, &[&str])] = &[
    ("", &["table", "nav", "widget", "collector", "setting"]),
    (
        "table",
        &[
            "name",
            "extends",
            "label",
            "assettype",
            "key",
            "title",
            "subtitle",
            "search",
            "list",
            "field",
            "dropped",
        ],
    ),
    (
        "table.field",
        &[
            "name",
            "type",
            "length",
            "required",
            "unique",
            "label",
            "help",
            "choices",
            "min",
            "max",
            "pattern",
            "references",
            "renamed_from",
        ],
    ),
    ("nav", &["label", "position", "icon", "table"]),
    (
        "widget",
        &[
            "name", "title", "kind", "table", "field", "filter", "size", "position", "limit",
        ],
    ),
    ("collector", &["table", "identity", "match"]),
    ("setting", &["key", "type", "default", "label", "help"]),
];
