//! Comparing a row with the stored record: which fields it changes, and how the change is
//! shown (references by name).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::mapping::{self, Reference};
use crate::collector::normalize;
use crate::resource::{Resource, to_sql_value};
use crate::schema::{Column, ColumnType};

/// Names of referenced rows already looked up: per reference, lower-cased name → the rows
/// holding it with their stored spelling.
pub(super) type NameCache = HashMap<Reference, HashMap<String, Vec<(i64, String)>>>;

/// The fields a row changes: those that differ from the stored record, except a key that
/// differs only in case or spacing (the stored spelling stays).
pub(super) fn row_diff(
    res: &Resource,
    key_field: &str,
    body: &Map<String, Value>,
    before: &Map<String, Value>,
) -> Map<String, Value> {
    let mut diff = differences(res, body, before);
    let spelled = |v: Option<&Value>| v.and_then(Value::as_str).map(normalize);
    if spelled(diff.get(key_field)) == spelled(before.get(key_field)) {
        diff.remove(key_field);
    }
    diff
}

/// The fields of `body` whose value differs from the stored record's.
fn differences(
    res: &Resource,
    body: &Map<String, Value>,
    before: &Map<String, Value>,
) -> Map<String, Value> {
    body.iter()
        .filter(|(field, value)| {
            let stored = before.get(*field).unwrap_or(&Value::Null);
            match mapping::column(res, field) {
                Some(c) => !stored_as(c, value, stored),
                None => *value != stored,
            }
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Whether `stored` is what writing `value` to `column` stores (`to_sql_value`), told
/// without copying the text of a text column.
fn stored_as(column: &Column, value: &Value, stored: &Value) -> bool {
    if let (ColumnType::String(_) | ColumnType::Text, Value::String(sent)) = (column.ty, value)
        && column.choices.is_empty()
    {
        if let ColumnType::String(max) = column.ty
            && sent.chars().count() > max as usize
        {
            return false;
        }
        let text = sent.trim();
        if text.is_empty() {
            return stored.is_null();
        }
        return !text.contains('\0') && stored.as_str() == Some(text);
    }
    to_sql_value(column, value).is_ok_and(|v| &v.to_json() == stored)
}

/// Field → before and after of each field that changed; a reference shows the names.
pub(super) fn changes(
    res: &Resource,
    fields: &Map<String, Value>,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for field in fields.keys() {
        let shown = res
            .lookups
            .iter()
            .find(|l| &l.column == field)
            .map_or(field.as_str(), |l| l.alias.as_str());
        let (b, a) = (
            before.get(shown).unwrap_or(&Value::Null),
            after.get(shown).unwrap_or(&Value::Null),
        );
        let (b0, a0) = (
            before.get(field).unwrap_or(&Value::Null),
            after.get(field).unwrap_or(&Value::Null),
        );
        if b0 != a0 {
            out.insert(shown.to_string(), json!({"before": b, "after": a}));
        }
    }
    out
}
