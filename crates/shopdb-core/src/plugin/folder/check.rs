//! Reading and checking `model.toml`: every problem with the file, line and key it is at.

use std::collections::HashSet;
use std::ops::Range;

use serde_json::Value;
use toml::Spanned;

use super::model::{self, Model};
use super::spec::{
    CollectorSpec, Field, FieldType, NavSpec, Spec, TableSpec, WidgetKind, WidgetSpec,
};
use crate::plugin::{SettingDef, SettingKind, WidgetSize};

/// One problem of a folder plugin, where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// `model.toml` or `manifest.json`.
    pub file: String,
    /// From 1; 0 when the problem is not at one place of the file.
    pub line: usize,
    /// The key the problem is at (`table.cameras.field.fps.max`).
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.key, self.message
        )
    }
}

/// Problems joined into one line, as quarantine reasons show them.
pub fn describe(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Core tables a field of type `reference` may point at, with their key columns.
pub const CORE_REFERENCES: &[(&str, &str)] = &[
    ("assets", "assetid"),
    ("locations", "locationid"),
    ("vendors", "vendorid"),
    ("models", "modelid"),
    ("assettypes", "assettypeid"),
    ("statuses", "statusid"),
];

/// Longest string a field may declare (an index on it must fit every database).
pub const MAX_LENGTH: i64 = 1000;

/// Whether `name` is lowercase concatenated: a lowercase letter, then letters and digits.
pub fn is_plain_name(name: &str) -> bool {
    crate::is_valid_plugin_name(name)
}

/// Words SQLite, MariaDB or PostgreSQL reserve: not usable as table or field names.
const SQL_WORDS: &[&str] = &[
    "all",
    "alter",
    "analyze",
    "and",
    "any",
    "as",
    "asc",
    "between",
    "both",
    "by",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "cross",
    "current",
    "default",
    "delete",
    "desc",
    "distinct",
    "div",
    "drop",
    "else",
    "end",
    "except",
    "exists",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "in",
    "index",
    "inner",
    "insert",
    "intersect",
    "interval",
    "into",
    "is",
    "join",
    "key",
    "keys",
    "leading",
    "left",
    "like",
    "limit",
    "match",
    "mod",
    "natural",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "primary",
    "range",
    "references",
    "rename",
    "replace",
    "right",
    "row",
    "rows",
    "select",
    "set",
    "some",
    "table",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "update",
    "usage",
    "user",
    "using",
    "values",
    "when",
    "where",
    "window",
    "with",
];

/// Why `name` cannot name a table or field, if it cannot.
fn bad_name(name: &str) -> Option<String> {
    if !is_plain_name(name) {
        Some(format!(
            "'{name}' must be lowercase concatenated: lowercase letters and digits, starting with a letter (no _, - or capitals)"
        ))
    } else if SQL_WORDS.contains(&name) {
        Some(format!(
            "'{name}' is a word the databases reserve: choose another name"
        ))
    } else {
        None
    }
}

/// The line (from 1) of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

struct Checker<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn at(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            file: "model.toml".into(),
            line: line_of(self.text, span.start),
            key: key.into(),
            message: message.into(),
        });
    }
}

/// Parses and checks `text` (a plugin's model.toml).
pub fn check_model(text: &str) -> Result<Spec, Vec<Problem>> {
    let model: Model = match toml::from_str(text) {
        Ok(m) => m,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let key = text
                .get(span.clone())
                .filter(|k| !k.is_empty() && !k.contains('\n') && k.len() < 60)
                .unwrap_or("(file)")
                .to_string();
            return Err(vec![Problem {
                file: "model.toml".into(),
                line: line_of(text, span.start),
                key,
                message: e.message().trim().to_string(),
            }]);
        }
    };
    let mut c = Checker {
        text,
        problems: Vec::new(),
    };
    let spec = check(&mut c, &model);
    if c.problems.is_empty() {
        Ok(spec)
    } else {
        Err(c.problems)
    }
}

fn check(c: &mut Checker, model: &Model) -> Spec {
    if model.tables.is_empty() {
        c.at(
            0..0,
            "table",
            "no [[table]]: a plugin needs at least one table",
        );
    }
    let mut tables: Vec<TableSpec> = Vec::new();
    for t in &model.tables {
        let table = check_table(c, t, &tables);
        if tables.iter().any(|o| o.name == table.name) {
            c.at(
                t.name.span(),
                "table.name",
                format!("table {} is declared twice", table.name),
            );
        }
        tables.push(table);
    }
    let first = tables.first().map(|t| t.name.clone()).unwrap_or_default();
    let nav = model.nav.as_ref().map(|n| {
        let span = n.span();
        let n = n.get_ref();
        let table = pick_table(c, &tables, n.table.as_ref(), &first, "nav.table");
        if n.label.trim().is_empty() {
            c.at(span, "nav.label", "the label is empty");
        }
        NavSpec {
            label: n.label.clone(),
            position: n.position.unwrap_or(50),
            icon: n.icon.clone().unwrap_or_else(|| "box".into()),
            table,
        }
    });
    let mut widgets = Vec::new();
    for w in &model.widgets {
        widgets.push(check_widget(c, w, &tables, &first));
    }
    let collector = model
        .collector
        .as_ref()
        .map(|col| check_collector(c, col, &tables, &first));
    let mut settings = Vec::new();
    for s in &model.settings {
        if let Some(def) = check_setting(c, s) {
            if settings.iter().any(|o: &SettingDef| o.key == def.key) {
                c.at(
                    s.key.span(),
                    "setting.key",
                    format!("setting {} is declared twice", def.key),
                );
            }
            settings.push(def);
        }
    }
    Spec {
        tables,
        nav,
        widgets,
        collector,
        settings,
    }
}

/// Columns an asset extension's records carry from the asset itself.
fn asset_fields() -> Vec<String> {
    crate::core_schema::assets()
        .columns
        .into_iter()
        .map(|c| c.name)
        .collect()
}

fn check_table(c: &mut Checker, t: &model::TableDef, earlier: &[TableSpec]) -> TableSpec {
    let name = t.name.get_ref().clone();
    let here = format!("table.{name}");
    if let Some(why) = bad_name(&name) {
        c.at(
            t.name.span(),
            &format!("{here}.name"),
            format!("table name {why}"),
        );
    }
    let extends_assets = match &t.extends {
        None => false,
        Some(e) if e.get_ref() == "assets" => true,
        Some(e) => {
            c.at(
                e.span(),
                &format!("{here}.extends"),
                format!("a table can extend only \"assets\", not '{}'", e.get_ref()),
            );
            false
        }
    };
    let key = if extends_assets {
        if let Some(k) = &t.key {
            c.at(
                k.span(),
                &format!("{here}.key"),
                "an asset extension is keyed by assetid: remove key",
            );
        }
        "assetid".to_string()
    } else {
        match &t.key {
            Some(k) if bad_name(k.get_ref()).is_some() => {
                let why = bad_name(k.get_ref()).unwrap_or_default();
                c.at(k.span(), &format!("{here}.key"), format!("the key {why}"));
                k.get_ref().clone()
            }
            Some(k) => k.get_ref().clone(),
            None => format!("{name}id"),
        }
    };
    let mut fields: Vec<Field> = Vec::new();
    let mut taken: Vec<String> = if extends_assets {
        asset_fields()
    } else {
        vec![key.clone()]
    };
    taken.extend(
        crate::resource::MANAGED_COLUMNS
            .iter()
            .map(|c| c.to_string()),
    );
    for f in &t.fields {
        let field = check_field(c, f, &here, earlier, &name);
        if fields.iter().any(|o| o.name == field.name) {
            c.at(
                f.name.span(),
                &format!("{here}.field.{}.name", field.name),
                "this field is declared twice",
            );
        } else if taken.contains(&field.name) {
            let managed = crate::resource::MANAGED_COLUMNS.contains(&field.name.as_str());
            let whose = if managed {
                "a field the server keeps"
            } else if extends_assets {
                "an asset field"
            } else {
                "the table's key"
            };
            c.at(
                f.name.span(),
                &format!("{here}.field.{}.name", field.name),
                format!("'{}' is {whose}: choose another name", field.name),
            );
        }
        fields.push(field);
    }
    let usable = |f: &str| fields.iter().any(|x| x.name == f) || taken.iter().any(|x| x == f);
    let mut name_of = |c: &mut Checker, v: &Spanned<String>, key: &str| {
        if !usable(v.get_ref()) {
            c.at(
                v.span(),
                &format!("{here}.{key}"),
                format!("'{}' is not a field of table {name}", v.get_ref()),
            );
        }
        v.get_ref().clone()
    };
    let default_title = fields
        .first()
        .map(|f| f.name.clone())
        .unwrap_or_else(|| key.clone());
    let title = match &t.title {
        Some(v) => name_of(c, v, "title"),
        None => default_title,
    };
    let subtitle = t.subtitle.as_ref().map(|v| name_of(c, v, "subtitle"));
    let list_of =
        |c: &mut Checker,
         vs: &Option<Vec<Spanned<String>>>,
         key: &str,
         f: &mut dyn FnMut(&mut Checker, &Spanned<String>, &str) -> String| {
            vs.as_ref()
                .map(|vs| vs.iter().map(|v| f(c, v, key)).collect::<Vec<_>>())
        };
    let search =
        list_of(c, &t.search, "search", &mut name_of).unwrap_or_else(|| vec![title.clone()]);
    let list = list_of(c, &t.list, "list", &mut name_of)
        .unwrap_or_else(|| fields.iter().take(5).map(|f| f.name.clone()).collect());
    let label = t.label.clone().unwrap_or_else(|| name.clone());
    TableSpec {
        assettype: t.assettype.clone().unwrap_or_else(|| label.clone()),
        label,
        name,
        extends_assets,
        key,
        title,
        subtitle,
        search,
        list,
        fields,
    }
}

fn check_field(
    c: &mut Checker,
    f: &model::FieldDef,
    table: &str,
    earlier: &[TableSpec],
    own: &str,
) -> Field {
    let name = f.name.get_ref().clone();
    let here = format!("{table}.field.{name}");
    if let Some(why) = bad_name(&name) {
        c.at(
            f.name.span(),
            &format!("{here}.name"),
            format!("field name {why}"),
        );
    }
    let ty = match FieldType::parse(f.kind.get_ref()) {
        Some(t) => t,
        None => {
            let known: Vec<&str> = FieldType::ALL.iter().map(|(n, _)| *n).collect();
            c.at(
                f.kind.span(),
                &format!("{here}.type"),
                format!(
                    "unknown type '{}': use one of {}",
                    f.kind.get_ref(),
                    known.join(", ")
                ),
            );
            FieldType::String
        }
    };
    let only = |c: &mut Checker, span: Range<usize>, key: &str, ok: bool, which: &str| {
        if !ok {
            c.at(
                span,
                &format!("{here}.{key}"),
                format!("{key} applies only to {which} fields"),
            );
        }
    };
    let default_length = match ty {
        FieldType::Ip => 45,
        FieldType::Mac => 17,
        FieldType::Url => 500,
        FieldType::Choice => f
            .choices
            .as_ref()
            .and_then(|cs| cs.get_ref().iter().map(|s| s.chars().count()).max())
            .unwrap_or(1)
            .max(1) as i64,
        _ => 255,
    };
    let length = match &f.length {
        Some(l) => {
            only(
                c,
                l.span(),
                "length",
                matches!(ty, FieldType::String | FieldType::Url),
                "string and url",
            );
            if !(1..=MAX_LENGTH).contains(l.get_ref()) {
                c.at(
                    l.span(),
                    &format!("{here}.length"),
                    format!("length must be from 1 to {MAX_LENGTH}"),
                );
            }
            *l.get_ref()
        }
        None => default_length,
    };
    let choices = match &f.choices {
        Some(cs) => {
            only(c, cs.span(), "choices", ty == FieldType::Choice, "choice");
            let list = cs.get_ref().clone();
            let distinct: HashSet<&String> = list.iter().collect();
            if list.is_empty() || list.iter().any(|s| s.trim().is_empty()) {
                c.at(
                    cs.span(),
                    &format!("{here}.choices"),
                    "choices must be a list of non-empty texts",
                );
            } else if distinct.len() != list.len() {
                c.at(
                    cs.span(),
                    &format!("{here}.choices"),
                    "a choice is listed twice",
                );
            }
            list
        }
        None => {
            if ty == FieldType::Choice {
                c.at(
                    f.kind.span(),
                    &format!("{here}.choices"),
                    "a choice field needs choices = [\"…\", …]",
                );
            }
            Vec::new()
        }
    };
    let numeric = matches!(ty, FieldType::Integer | FieldType::Number);
    for (key, v) in [("min", &f.min), ("max", &f.max)] {
        if let Some(v) = v {
            only(c, v.span(), key, numeric, "integer and number");
            if ty == FieldType::Integer && v.get_ref().fract() != 0.0 {
                c.at(
                    v.span(),
                    &format!("{here}.{key}"),
                    "an integer field's limit must be a whole number",
                );
            }
        }
    }
    if let (Some(min), Some(max)) = (&f.min, &f.max)
        && min.get_ref() > max.get_ref()
    {
        c.at(
            max.span(),
            &format!("{here}.max"),
            "max is smaller than min",
        );
    }
    if let Some(p) = &f.pattern {
        only(
            c,
            p.span(),
            "pattern",
            matches!(ty, FieldType::String | FieldType::Text | FieldType::Url),
            "string, text and url",
        );
        if let Err(e) = regex_lite::Regex::new(p.get_ref()) {
            c.at(
                p.span(),
                &format!("{here}.pattern"),
                format!("invalid pattern: {}", first_line(&e.to_string())),
            );
        }
    }
    let unique = match &f.unique {
        Some(u) if *u.get_ref() => {
            if matches!(ty, FieldType::Text | FieldType::Boolean) {
                c.at(
                    u.span(),
                    &format!("{here}.unique"),
                    "text and boolean fields cannot be unique",
                );
            } else if ty.is_short_text() && length > 255 {
                c.at(
                    u.span(),
                    &format!("{here}.unique"),
                    "a unique field can be at most 255 characters long",
                );
            }
            true
        }
        _ => false,
    };
    let references = match (&f.references, ty) {
        (Some(r), FieldType::Reference) => {
            let target = r.get_ref();
            let core = CORE_REFERENCES
                .iter()
                .find(|(t, _)| t == target)
                .map(|(t, k)| (t.to_string(), k.to_string()));
            let mine = earlier
                .iter()
                .find(|t| &t.name == target)
                .map(|t| (t.name.clone(), t.key.clone()));
            match core.or(mine) {
                Some(found) => Some(found),
                None => {
                    let why = if target == own {
                        "a table cannot refer to itself".to_string()
                    } else {
                        format!(
                            "unknown table '{target}': refer to {} or a table declared above this one",
                            CORE_REFERENCES
                                .iter()
                                .map(|(t, _)| *t)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    c.at(r.span(), &format!("{here}.references"), why);
                    None
                }
            }
        }
        (Some(r), _) => {
            c.at(
                r.span(),
                &format!("{here}.references"),
                "references applies only to reference fields",
            );
            None
        }
        (None, FieldType::Reference) => {
            c.at(
                f.kind.span(),
                &format!("{here}.references"),
                "a reference field needs references = \"<table>\"",
            );
            None
        }
        (None, _) => None,
    };
    Field {
        name,
        ty,
        length: length.clamp(1, MAX_LENGTH) as u32,
        required: f.required,
        unique,
        label: f.label.clone(),
        help: f.help.clone(),
        choices,
        min: f.min.as_ref().map(|v| *v.get_ref()),
        max: f.max.as_ref().map(|v| *v.get_ref()),
        pattern: f.pattern.as_ref().map(|p| p.get_ref().clone()),
        references,
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The table named by `value` (default `first`), checked to be one of the model's.
fn pick_table(
    c: &mut Checker,
    tables: &[TableSpec],
    value: Option<&Spanned<String>>,
    first: &str,
    key: &str,
) -> String {
    match value {
        Some(v) => {
            if !tables.iter().any(|t| &t.name == v.get_ref()) {
                c.at(
                    v.span(),
                    key,
                    format!("'{}' is not a table of this plugin", v.get_ref()),
                );
            }
            v.get_ref().clone()
        }
        None => first.to_string(),
    }
}

/// Whether `field` is one of the record's fields (an extension's include the asset's).
fn has_field(tables: &[TableSpec], table: &str, field: &str) -> bool {
    tables.iter().find(|t| t.name == table).is_some_and(|t| {
        t.field(field).is_some()
            || t.key == field
            || (t.extends_assets && asset_fields().iter().any(|a| a == field))
    })
}

fn check_widget(
    c: &mut Checker,
    w: &model::WidgetDef,
    tables: &[TableSpec],
    first: &str,
) -> WidgetSpec {
    let name = w.name.get_ref().clone();
    let here = format!("widget.{name}");
    if !is_plain_name(&name) {
        c.at(
            w.name.span(),
            &format!("{here}.name"),
            "a widget name must be lowercase letters and digits",
        );
    }
    let kind = match w.kind.get_ref().as_str() {
        "count" => WidgetKind::Count,
        "bars" => WidgetKind::Bars,
        "list" => WidgetKind::List,
        other => {
            c.at(
                w.kind.span(),
                &format!("{here}.kind"),
                format!("unknown kind '{other}': use count, bars or list"),
            );
            WidgetKind::Count
        }
    };
    let table = pick_table(c, tables, w.table.as_ref(), first, &format!("{here}.table"));
    let field = match (&w.field, kind) {
        (Some(f), WidgetKind::Bars) => {
            if !has_field(tables, &table, f.get_ref()) {
                c.at(
                    f.span(),
                    &format!("{here}.field"),
                    format!("'{}' is not a field of table {table}", f.get_ref()),
                );
            }
            Some(f.get_ref().clone())
        }
        (Some(f), _) => {
            c.at(
                f.span(),
                &format!("{here}.field"),
                "field applies only to bars widgets",
            );
            None
        }
        (None, WidgetKind::Bars) => {
            c.at(
                w.kind.span(),
                &format!("{here}.field"),
                "a bars widget needs field = \"<field to count by>\"",
            );
            None
        }
        (None, _) => None,
    };
    let mut filter = Vec::new();
    if let Some(f) = &w.filter {
        for (k, v) in f.get_ref() {
            if !has_field(tables, &table, k) {
                c.at(
                    f.span(),
                    &format!("{here}.filter.{k}"),
                    format!("'{k}' is not a field of table {table}"),
                );
            }
            match toml_to_json(v) {
                Some(j) => filter.push((k.clone(), j)),
                None => c.at(
                    f.span(),
                    &format!("{here}.filter.{k}"),
                    "a filter value must be a text, number or boolean",
                ),
            }
        }
    }
    let size = match w.size.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("medium") => WidgetSize::Medium,
        Some("small") => WidgetSize::Small,
        Some("large") => WidgetSize::Large,
        Some(other) => {
            let span = w.size.as_ref().map(|s| s.span()).unwrap_or(0..0);
            c.at(
                span,
                &format!("{here}.size"),
                format!("unknown size '{other}': use small, medium or large"),
            );
            WidgetSize::Medium
        }
    };
    let limit = match &w.limit {
        Some(l) if !(1..=100).contains(l.get_ref()) => {
            c.at(
                l.span(),
                &format!("{here}.limit"),
                "limit must be from 1 to 100",
            );
            10
        }
        Some(l) => *l.get_ref(),
        None => 10,
    };
    WidgetSpec {
        name,
        title: w.title.clone(),
        kind,
        table,
        field,
        filter,
        size,
        position: w.position.unwrap_or(50),
        limit,
    }
}

fn check_collector(
    c: &mut Checker,
    col: &Spanned<model::CollectorDef>,
    tables: &[TableSpec],
    first: &str,
) -> CollectorSpec {
    let col = col.get_ref();
    let table = pick_table(c, tables, col.table.as_ref(), first, "collector.table");
    let field = |c: &mut Checker, v: &Spanned<String>, key: &str| {
        if !has_field(tables, &table, v.get_ref()) {
            c.at(
                v.span(),
                key,
                format!("'{}' is not a field of table {table}", v.get_ref()),
            );
        }
        v.get_ref().clone()
    };
    let identity = field(c, &col.identity, "collector.identity");
    let matches = col
        .matches
        .iter()
        .map(|m| field(c, m, "collector.match"))
        .collect();
    CollectorSpec {
        table,
        identity,
        matches,
    }
}

fn check_setting(c: &mut Checker, s: &model::SettingDef) -> Option<SettingDef> {
    let key = s.key.get_ref().clone();
    let here = format!("setting.{key}");
    if !is_plain_name(&key) {
        c.at(
            s.key.span(),
            &format!("{here}.key"),
            "a setting key must be lowercase letters and digits",
        );
    }
    let kind = match s.kind.get_ref().as_str() {
        "text" => SettingKind::Text,
        "integer" => SettingKind::Integer,
        "boolean" => SettingKind::Boolean,
        other => {
            c.at(
                s.kind.span(),
                &format!("{here}.type"),
                format!("unknown setting type '{other}': use text, integer or boolean"),
            );
            return None;
        }
    };
    let default = match &s.default {
        Some(d) => {
            let value = toml_to_json(d.get_ref()).unwrap_or(Value::Null);
            if !kind.accepts(&value) {
                c.at(
                    d.span(),
                    &format!("{here}.default"),
                    format!("the default must be of type {kind}"),
                );
            }
            value
        }
        None => match kind {
            SettingKind::Text => Value::String(String::new()),
            SettingKind::Integer => Value::from(0),
            SettingKind::Boolean => Value::Bool(false),
        },
    };
    let help = match (&s.label, &s.help) {
        (Some(l), Some(h)) => format!("{l}: {h}"),
        (Some(l), None) => l.clone(),
        (None, Some(h)) => h.clone(),
        (None, None) => key.clone(),
    };
    Some(SettingDef {
        key,
        kind,
        default,
        help,
    })
}

/// A plain TOML value as JSON (no tables, arrays or dates).
fn toml_to_json(v: &toml::Value) -> Option<Value> {
    match v {
        toml::Value::String(s) => Some(Value::String(s.clone())),
        toml::Value::Integer(i) => Some(Value::from(*i)),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number),
        toml::Value::Boolean(b) => Some(Value::Bool(*b)),
        _ => None,
    }
}
