//! Checking one field of a model.toml table: its name, its type, and what that type allows
//! (length, choices, range, reference, unique, default).

use std::collections::HashSet;
use std::ops::Range;

use super::model;
use super::names::bad_name;
use super::problem::Checker;
use super::sections::first_line;
use super::spec::{Field, FieldType, TableSpec};

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

pub(super) fn check_field(
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
