//! JSON Schemas of records for the OpenAPI document.

use serde_json::{Map, Value, json};

use crate::schema::{Column, ColumnType};

use super::model::*;

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

impl Resource {
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
