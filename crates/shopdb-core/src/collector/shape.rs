//! What a push must look like: the records of a body, their fields and types, junk values, the JSON Schema a collector reads.

use serde_json::{Map, Value, json};

use crate::error::DomainError;
use crate::plugin::CollectorSchema;
use crate::resource::Resource;

/// Largest batch accepted in one request.
pub const MAX_BATCH: usize = 1000;

/// Values firmware and imaging tools put where a serial or MAC should be. They identify
/// nothing, so they never match two machines to each other.
pub(crate) const JUNK: &[&str] = &[
    "default string",
    "to be filled by o.e.m.",
    "to be filled by oem",
    "system serial number",
    "not specified",
    "not applicable",
    "none",
    "n/a",
    "na",
    "null",
    "unknown",
    "0123456789",
    "123456789",
    "1234567890",
    "chassis serial number",
    "base board serial number",
    "invalid",
    "empty",
    "oem",
    "o.e.m.",
];

/// Lower-cased and trimmed: how identity values are compared.
pub fn normalize(value: &str) -> String {
    value.trim().to_lowercase()
}

/// True for values that cannot identify one machine.
pub fn is_junk(value: &str) -> bool {
    let v = normalize(value);
    let digits: String = v.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    v.is_empty()
        || JUNK.contains(&v.as_str())
        || digits.chars().all(|c| c == '0')
        || digits.chars().all(|c| c == 'f')
        || digits.chars().all(|c| c == 'x')
}

/// The collector schema as JSON Schema, served at `/api/collector/<plugin>/schema`.
pub fn json_schema(plugin: &str, schema: &CollectorSchema) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for f in &schema.fields {
        props.insert(f.name.clone(), json!({"type": f.kind}));
        if f.required {
            required.push(f.name.clone());
        }
    }
    let record = json!({"type": "object", "properties": props, "required": required, "additionalProperties": false});
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("{plugin} collector record"),
        "x-identityfield": schema.identityfield,
        "x-matchfields": schema.matchfields,
        "oneOf": [record.clone(), {"type": "object", "properties": {"records": {"type": "array", "items": record, "maxItems": MAX_BATCH}}, "required": ["records"]}],
    })
}

/// Checks one record against the schema; returns field → reason for each problem.
pub(crate) fn check_shape(
    schema: &CollectorSchema,
    record: &Value,
) -> Result<Map<String, Value>, Map<String, Value>> {
    let mut errors = Map::new();
    let Some(obj) = record.as_object() else {
        errors.insert("record".into(), json!("must be a JSON object"));
        return Err(errors);
    };
    for f in &schema.fields {
        match obj.get(&f.name) {
            None | Some(Value::Null) if f.required => {
                errors.insert(f.name.clone(), json!("is required"));
            }
            Some(v) if !f.kind.accepts(v) => {
                errors.insert(f.name.clone(), json!(format!("must be of type {}", f.kind)));
            }
            _ => {}
        }
    }
    for k in obj.keys() {
        if !schema.fields.iter().any(|f| &f.name == k) {
            errors.insert(k.clone(), json!("is not in this plugin's collector schema"));
        }
    }
    if let Some(id) = obj.get(&schema.identityfield).and_then(Value::as_str)
        && normalize(id).is_empty()
    {
        errors.insert(schema.identityfield.clone(), json!("must not be empty"));
    }
    if errors.is_empty() {
        Ok(obj.clone())
    } else {
        Err(errors)
    }
}

/// The records of a push body: one record (a JSON object) or `{"records": [...]}` with 1 to
/// [`MAX_BATCH`] entries. Each entry is then checked on its own by [`prepare`].
pub fn records_of(body: Value) -> Result<Vec<Value>, DomainError> {
    let records = match body {
        Value::Object(mut m) if m.contains_key("records") => match m.remove("records") {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(DomainError::bad_request(
                    "records must be an array of objects",
                ));
            }
        },
        body @ Value::Object(_) => vec![body],
        _ => {
            return Err(DomainError::bad_request(
                "send one record (a JSON object) or {\"records\": [...]}",
            ));
        }
    };
    if records.is_empty() {
        return Err(DomainError::bad_request("records is empty"));
    }
    if records.len() > MAX_BATCH {
        return Err(DomainError::new(
            crate::error::ErrorKind::TooLarge,
            "payload_too_large",
            format!("at most {MAX_BATCH} records per request"),
        ));
    }
    Ok(records)
}

/// One pushed record checked against the collector schema and put in the forms the resource
/// stores (MAC and IP spellings, …), before any database work; field → reason otherwise.
pub fn prepare(
    schema: &CollectorSchema,
    res: &Resource,
    raw: &Value,
) -> Result<Map<String, Value>, Map<String, Value>> {
    check_shape(schema, raw).and_then(|record| res.normalized(&record))
}
