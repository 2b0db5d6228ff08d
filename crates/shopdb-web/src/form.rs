//! HTML forms for records, generated from the resource description, and form posts turned
//! into the same JSON bodies the API takes (so validation is the engine's, one set of rules).

use serde_json::{Map, Value, json};
use shopdb_core::db::Db;
use shopdb_core::error::DomainError;
use shopdb_core::resource::Resource;
use shopdb_core::schema::{Column, ColumnType};

use crate::labels::Labels;

/// A decoded `application/x-www-form-urlencoded` body (or query string).
pub struct FormData(Vec<(String, String)>);

impl FormData {
    pub fn parse(body: &[u8]) -> FormData {
        FormData(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn from_pairs(pairs: Vec<(String, String)>) -> FormData {
        FormData(pairs)
    }

    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The last value sent under `name` (a checkbox after its hidden "false" twin wins).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Columns a form shows, asset part first for records that extend assets.
pub fn form_columns(res: &Resource) -> Vec<(&Column, &'static str)> {
    let mut out: Vec<(&Column, &'static str)> = res
        .table
        .columns
        .iter()
        .filter(|c| res.writable(c))
        .map(|c| {
            (
                c,
                if res.extension.is_some() {
                    "asset"
                } else {
                    "record"
                },
            )
        })
        .collect();
    if let Some(ext) = &res.extension {
        out.extend(
            ext.columns
                .iter()
                .filter(|c| c.name != res.key() && res.writable(c))
                .map(|c| (c, "details")),
        );
    }
    out
}

/// The JSON body for the engine: empty fields are left out on create and cleared on update;
/// numbers and dates that do not parse are passed on as text so the engine names them.
pub fn to_body(res: &Resource, form: &FormData, updating: bool) -> Map<String, Value> {
    let mut body = Map::new();
    for (c, _) in form_columns(res) {
        let Some(raw) = form.get(&c.name) else {
            continue;
        };
        let raw = raw.trim();
        let value = match c.ty {
            ColumnType::Boolean => json!(raw == "true" || raw == "on"),
            _ if raw.is_empty() => {
                if updating {
                    Value::Null
                } else {
                    continue;
                }
            }
            ColumnType::Integer => raw.parse::<i64>().map(Value::from).unwrap_or(json!(raw)),
            ColumnType::Float => raw.parse::<f64>().map(Value::from).unwrap_or(json!(raw)),
            // <input type=datetime-local> sends 2026-11-21T14:05 in the browser's time; the
            // form says times are UTC.
            ColumnType::Timestamp if raw.len() == 16 => json!(format!("{raw}:00Z")),
            _ => json!(raw),
        };
        body.insert(c.name.clone(), value);
    }
    if updating && let Some(v) = form.get("version").and_then(|v| v.parse::<i64>().ok()) {
        body.insert("version".into(), json!(v));
    }
    body
}

/// Field descriptions for form.html: input kind, label, limits, choices, current value and
/// the engine's message for it.
pub async fn fields(
    db: &Db,
    labels: &Labels,
    res: &Resource,
    values: &Map<String, Value>,
    errors: &Map<String, Value>,
) -> Result<Vec<Value>, DomainError> {
    let mut out = Vec::new();
    for (c, group) in form_columns(res) {
        let lookup = res.lookups.iter().find(|l| l.column == c.name);
        let choices = res.choices.iter().find(|(f, _)| *f == c.name);
        let (kind, options) = match (lookup, c.ty) {
            (Some(l), _) => (
                "select",
                shopdb_core::services::records::choices(db, &l.table, &l.key, &l.display)
                    .await?
                    .into_iter()
                    .map(|c| json!({"value": c.value, "label": c.label}))
                    .collect(),
            ),
            (None, _) if choices.is_some() => (
                "select",
                choices
                    .into_iter()
                    .flat_map(|(_, list)| list.iter().map(|v| json!({"value": v, "label": v})))
                    .collect(),
            ),
            (None, ColumnType::Boolean) => ("checkbox", Vec::new()),
            (None, ColumnType::Integer) => ("number", Vec::new()),
            (None, ColumnType::Float) => ("decimal", Vec::new()),
            (None, ColumnType::Text) => ("textarea", Vec::new()),
            (None, ColumnType::Timestamp) => ("datetime", Vec::new()),
            (None, ColumnType::Date) => ("date", Vec::new()),
            _ => ("text", Vec::new()),
        };
        let value = values.get(&c.name).cloned().unwrap_or(Value::Null);
        let shown = match (&value, c.ty) {
            (Value::String(s), ColumnType::Timestamp) if s.len() >= 16 => json!(&s[..16]),
            (v, _) => v.clone(),
        };
        let maxlength = match c.ty {
            ColumnType::String(n) => Some(n),
            _ => None,
        };
        let required = !c.nullable
            && c.default.is_none()
            && !res.defaults.iter().any(|d| d.column == c.name)
            && c.ty != ColumnType::Boolean;
        out.push(json!({
            "name": c.name, "label": labels.of(c), "help": labels.help_of(c), "kind": kind, "group": group,
            "required": required, "maxlength": maxlength, "options": options,
            "value": shown, "error": errors.get(&c.name),
        }));
    }
    Ok(out)
}
