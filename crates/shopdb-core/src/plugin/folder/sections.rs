//! Checking the sections of model.toml beyond the tables: navigation, widgets, collector and
//! settings, each against the checked tables.

use serde_json::Value;
use toml::Spanned;

use super::model;
use super::problem::Checker;
use super::spec::{CollectorSpec, TableSpec, WidgetKind, WidgetSpec};
use crate::plugin::types::{SettingDef, SettingKind, WidgetSize};

/// Columns an asset extension's records carry from the asset itself.
pub(super) fn asset_fields() -> Vec<String> {
    crate::core_schema::assets()
        .columns
        .into_iter()
        .map(|c| c.name)
        .collect()
}

pub(super) fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The table named by `value` (default `first`), checked to be one of the model's.
pub(super) fn pick_table(
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
pub(super) fn has_field(tables: &[TableSpec], table: &str, field: &str) -> bool {
    tables.iter().find(|t| t.name == table).is_some_and(|t| {
        t.field(field).is_some()
            || t.key == field
            || (t.extends_assets && asset_fields().iter().any(|a| a == field))
    })
}

pub(super) fn check_widget(
    c: &mut Checker,
    w: &model::WidgetDef,
    tables: &[TableSpec],
    first: &str,
) -> WidgetSpec {
    let name = w.name.get_ref().clone();
    let here = format!("widget.{name}");
    if !crate::is_valid_plugin_name(&name) {
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

pub(super) fn check_collector(
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

pub(super) fn check_setting(c: &mut Checker, s: &model::SettingDef) -> Option<SettingDef> {
    let key = s.key.get_ref().clone();
    let here = format!("setting.{key}");
    if !crate::is_valid_plugin_name(&key) {
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
