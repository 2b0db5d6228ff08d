//! Which field each column of an import file fills: by header (the field's name or label,
//! ignoring case, spaces, `_` and `-`), or by a saved mapping. A reference column is given by
//! the name of the row it refers to (`status` or `statusname`: "In Service").

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::DomainError;
use crate::resource::{MANAGED_COLUMNS, Resource};
use crate::schema::Column;

/// A saved mapping: file header → field (or null: leave the column out). Headers it does not
/// name are matched as usual.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub columns: HashMap<String, Option<String>>,
}

impl Mapping {
    /// Reads a mapping from its JSON text (`{"columns": {"Inventory no.": "assetnumber"}}`).
    pub fn parse(text: &str) -> Result<Mapping, DomainError> {
        serde_json::from_str(text).map_err(|e| {
            DomainError::field(
                "mapping",
                format!("is not a valid mapping: {e} (expected {{\"columns\": {{\"header\": \"field\"}}}})"),
            )
        })
    }

    fn target(&self, header: &str) -> Option<&Option<String>> {
        let wanted = simple(header);
        self.columns
            .iter()
            .find(|(h, _)| simple(h) == wanted)
            .map(|(_, f)| f)
    }
}

/// A reference column filled by name: `column` holds the `key` of the `table` row whose
/// `display` is the cell's text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    pub column: String,
    pub table: String,
    pub key: String,
    pub display: String,
}

/// What one column of the file fills.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A field of the record, as the cell says.
    Field(String),
    /// A reference column, by name.
    Reference(Reference),
    /// A column the server keeps itself (key, timestamps, version, a plugin's read-only
    /// column): read back from exports, never written.
    Ignored,
}

/// Lower case without spaces, `_` and `-`: how headers and field names are compared.
pub fn simple(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Every column of `res` (base and extension table).
pub fn columns(res: &Resource) -> Vec<&Column> {
    let mut out: Vec<&Column> = res.table.columns.iter().collect();
    if let Some(ext) = &res.extension {
        out.extend(ext.columns.iter().filter(|c| c.name != res.key()));
    }
    out
}

/// The column of `res` named `name` (as `columns` finds it).
pub fn column<'a>(res: &'a Resource, name: &str) -> Option<&'a Column> {
    res.table.get(name).or_else(|| {
        res.extension
            .as_ref()
            .and_then(|e| e.get(name))
            .filter(|c| c.name != res.key())
    })
}

/// How `column` of `res` is given by name, when it refers to a table whose rows have one:
/// the resource's own lookup, or the referenced resource's label.
pub fn reference(
    res: &Resource,
    resources: &[Arc<Resource>],
    column: &Column,
) -> Option<Reference> {
    let fk = column.references.as_ref()?;
    if let Some(l) = res.lookups.iter().find(|l| l.column == column.name) {
        return Some(Reference {
            column: column.name.clone(),
            table: l.table.clone(),
            key: l.key.clone(),
            display: l.display.clone(),
        });
    }
    let target = resources
        .iter()
        .find(|r| r.table.name == fk.table && r.extension.is_none())?;
    Some(Reference {
        column: column.name.clone(),
        table: fk.table.clone(),
        key: fk.column.clone(),
        display: target.label.clone(),
    })
}

/// The header an export gives `column`: its name, or for a reference by name the lookup's
/// alias (`statusname`) or `<column without id>name`.
pub fn export_header(res: &Resource, column: &Column) -> String {
    match res.lookups.iter().find(|l| l.column == column.name) {
        Some(l) => l.alias.clone(),
        None => format!(
            "{}name",
            column.name.strip_suffix("id").unwrap_or(&column.name)
        ),
    }
}

fn ignored(res: &Resource, name: &str) -> bool {
    name == res.key() || MANAGED_COLUMNS.contains(&name) || res.readonly.iter().any(|r| r == name)
}

/// The target a header (or a mapped field name) names, if any.
fn find(res: &Resource, resources: &[Arc<Resource>], name: &str) -> Option<Target> {
    let wanted = simple(name);
    let cols = columns(res);
    for c in &cols {
        let by_name = simple(&c.name) == wanted;
        let by_label = c.label.as_deref().is_some_and(|l| simple(l) == wanted);
        if by_name && c.references.is_some() && !ignored(res, &c.name) {
            // `statusid` takes the id itself.
            return Some(Target::Field(c.name.clone()));
        }
        if (by_name || by_label) && ignored(res, &c.name) {
            return Some(Target::Ignored);
        }
        if let Some(r) = reference(res, resources, c) {
            let stem = c.name.strip_suffix("id").unwrap_or(&c.name);
            let names = [
                export_header(res, c),
                stem.to_string(),
                format!("{stem}name"),
            ];
            if by_label || names.iter().any(|n| simple(n) == wanted) {
                return Some(if ignored(res, &c.name) {
                    Target::Ignored
                } else {
                    Target::Reference(r)
                });
            }
            continue;
        }
        if by_name || by_label {
            return Some(Target::Field(c.name.clone()));
        }
    }
    if res.children.iter().any(|l| simple(&l.field) == wanted) {
        let field = res.children.iter().find(|l| simple(&l.field) == wanted)?;
        return Some(Target::Field(field.field.clone()));
    }
    // Names joined in for reading (a USB device's `assetname`) are not written.
    if res.lookups.iter().any(|l| simple(&l.alias) == wanted) {
        return Some(Target::Ignored);
    }
    None
}

/// Every field a file may name for `res`, for messages.
pub fn field_names(res: &Resource, resources: &[Arc<Resource>]) -> Vec<String> {
    let mut out = Vec::new();
    for c in columns(res) {
        if ignored(res, &c.name) {
            continue;
        }
        match reference(res, resources, c) {
            Some(_) => out.push(export_header(res, c)),
            None => out.push(c.name.clone()),
        }
    }
    out.extend(res.children.iter().map(|l| l.field.clone()));
    out
}

/// The target of each header, or the headers no field answers to (a 422 naming them).
pub fn map_headers(
    res: &Resource,
    resources: &[Arc<Resource>],
    headers: &[String],
    mapping: Option<&Mapping>,
) -> Result<Vec<Target>, DomainError> {
    let mut errors = Map::new();
    let mut targets = Vec::with_capacity(headers.len());
    for header in headers {
        let target = match mapping.and_then(|m| m.target(header)) {
            Some(None) => Some(Target::Ignored),
            Some(Some(field)) => match find(res, resources, field) {
                Some(t) => Some(t),
                None => {
                    errors.insert(
                        header.clone(),
                        json!(format!(
                            "the mapping names '{field}', which is no field of {}",
                            res.path
                        )),
                    );
                    continue;
                }
            },
            None if header.trim().is_empty() => Some(Target::Ignored),
            None => find(res, resources, header),
        };
        match target {
            Some(t) => targets.push(t),
            None => {
                errors.insert(header.clone(), json!("matches no field"));
            }
        }
    }
    for (i, t) in targets.iter().enumerate() {
        let name = match t {
            Target::Field(f) => f,
            Target::Reference(r) => &r.column,
            Target::Ignored => continue,
        };
        let again = targets[..i].iter().any(|o| match o {
            Target::Field(f) => f == name,
            Target::Reference(r) => &r.column == name,
            Target::Ignored => false,
        });
        if again {
            errors.insert(
                headers[i].clone(),
                json!(format!("'{name}' is given by another column too")),
            );
        }
    }
    if errors.is_empty() {
        return Ok(targets);
    }
    let known = field_names(res, resources).join(", ");
    let mut e = DomainError::validation(errors);
    e.message = format!(
        "some columns of the file cannot be imported into {}; its fields are: {known}",
        res.path
    );
    Err(e)
}

/// A JSON value of `column`'s type from a cell's text; text that is not of the type is
/// passed on as it is, so the record's checks say what is wrong with it.
pub fn cell_value(column: Option<&Column>, text: &str) -> Value {
    use crate::schema::ColumnType as T;
    let t = text.trim();
    if t.is_empty() {
        return Value::Null;
    }
    // An export marks text a spreadsheet would run as a formula with an apostrophe (and text
    // already starting with apostrophes before one with one more): one comes off.
    let text = match text.strip_prefix('\'') {
        Some(rest)
            if rest
                .trim_start_matches('\'')
                .starts_with(['=', '+', '-', '@']) =>
        {
            rest
        }
        _ => text,
    };
    let Some(column) = column else {
        return serde_json::from_str(t).unwrap_or_else(|_| json!(text));
    };
    match column.ty {
        T::Id | T::Integer => t
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| json!(text)),
        T::Float => t
            .replace(',', ".")
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::from)
            .unwrap_or_else(|| json!(text)),
        T::Boolean => match t.to_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "x" => json!(true),
            "false" | "no" | "n" | "0" => json!(false),
            _ => json!(text),
        },
        // A spreadsheet date in a timestamp field: midnight UTC.
        T::Timestamp if crate::util::is_valid_date(t) => json!(format!("{t}T00:00:00Z")),
        _ => json!(text),
    }
}
