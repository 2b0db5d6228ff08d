//! Reading and checking `model.toml`: every problem with the file, line and key it is at.

use std::collections::HashSet;
use std::ops::Range;

use toml::Spanned;

use super::model::{self, Model};
use super::problem::Checker;
pub use super::problem::{Problem, describe, line_of};
use super::sections::{
    asset_fields, check_collector, check_setting, check_widget, first_line, pick_table,
};
use super::spec::{Field, FieldType, NavSpec, Spec, TableSpec};
use crate::plugin::types::SettingDef;

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
    check_history(c, t, &here, &fields, &taken);
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
        dropped: t.dropped.iter().map(|d| d.get_ref().clone()).collect(),
    }
}

/// `renamed_from` and `dropped` name fields of the installed model: never a field the model
/// still has, a field the server or the asset keeps, or the same old field twice.
fn check_history(
    c: &mut Checker,
    t: &model::TableDef,
    here: &str,
    fields: &[Field],
    taken: &[String],
) {
    let mut old_names: Vec<String> = Vec::new();
    let mut gone = |c: &mut Checker, v: &Spanned<String>, key: &str, what: &str| {
        let old = v.get_ref().as_str();
        let why = if let Some(why) = bad_name(old) {
            Some(format!("the old name {why}"))
        } else if fields.iter().any(|f| f.name == old) {
            Some(format!(
                "'{old}' is still a field of this table: {what} only a field that is no longer in the model"
            ))
        } else if taken.iter().any(|x| x == old) {
            Some(format!(
                "'{old}' is a field the table always has: {what} only a field of the model"
            ))
        } else if old_names.iter().any(|o| o == old) {
            Some(format!(
                "'{old}' is named twice by renamed_from and dropped: a field is either renamed or dropped, once"
            ))
        } else {
            None
        };
        old_names.push(old.to_string());
        if let Some(why) = why {
            c.at(v.span(), key, why);
        }
    };
    for f in &t.fields {
        if let Some(v) = &f.renamed_from {
            let key = format!("{here}.field.{}.renamed_from", f.name.get_ref());
            gone(c, v, &key, "renamed_from names");
            let is_reference = FieldType::parse(f.kind.get_ref()) == Some(FieldType::Reference);
            if is_reference {
                c.at(v.span(), &key, "a reference field cannot be renamed");
            }
        }
    }
    for d in &t.dropped {
        gone(c, d, &format!("{here}.dropped"), "dropped lists");
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
                matches!(ty, FieldType::String | FieldType::Url | FieldType::Choice),
                "string, url and choice",
            );
            if *l.get_ref() < default_length && ty == FieldType::Choice {
                c.at(
                    l.span(),
                    &format!("{here}.length"),
                    format!("length is shorter than the longest choice ({default_length})"),
                );
            }
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
        renamed_from: f.renamed_from.as_ref().map(|v| v.get_ref().clone()),
    }
}
