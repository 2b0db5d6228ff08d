//! What a checked model gives: tables, resources with their validation, search, navigation,
//! widgets and the collector schema. Nothing here runs code from the plugin folder: every
//! rule is data applied by the engine.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use sqlx::Row;

use super::spec::{Field, FieldType, Spec, TableSpec, WidgetKind, WidgetSpec};
use crate::catalog;
use crate::db::Db;
use crate::error::DomainError;
use crate::http::ListParams;
use crate::plugin::types::{CollectorField, CollectorFieldKind, CollectorSchema, NavItem, Widget};
use crate::resource::{Lookup, Resource, WriteHook};
use crate::schema::{Column, OnDelete, Table};
use crate::search::SearchSpec;

/// URL segment (below `/api`) of table `t` for a plugin whose routes live at `prefix`:
/// the prefix itself for the table named like its last segment, else `<prefix>/<table>`.
pub fn resource_path(prefix: &str, table: &str) -> String {
    let base = prefix.trim_start_matches("/api/");
    if base.rsplit('/').next() == Some(table) {
        base.to_string()
    } else {
        format!("{base}/{table}")
    }
}

fn column(f: &Field) -> Column {
    let c = match f.ty {
        FieldType::String | FieldType::Url | FieldType::Ip | FieldType::Mac | FieldType::Choice => {
            Column::string(&f.name, f.length)
        }
        FieldType::Text => Column::text(&f.name),
        FieldType::Integer => Column::integer(&f.name),
        FieldType::Number => Column::float(&f.name),
        FieldType::Boolean => Column::boolean(&f.name),
        FieldType::Date => Column::date(&f.name),
        FieldType::Timestamp => Column::timestamp(&f.name),
        FieldType::Reference => {
            let (table, key) = f.references.clone().unwrap_or_default();
            let on_delete = if f.required {
                OnDelete::Restrict
            } else {
                OnDelete::SetNull
            };
            Column::integer(&f.name).references(&table, &key, on_delete)
        }
    };
    let mut c = if f.required { c } else { c.nullable() };
    if f.unique {
        c = c.unique();
    }
    if let Some(l) = &f.label {
        c = c.label(l);
    }
    if let Some(h) = &f.help {
        c = c.help(h);
    }
    if f.ty == FieldType::Choice {
        c.choices = f.choices.clone();
    }
    c.renamed_from = f.renamed_from.clone();
    c
}

/// The table of `t` as the database holds it.
pub fn table(t: &TableSpec) -> Table {
    let mut table = Table::new(&t.name);
    table = if t.extends_assets {
        table.column(Column::integer("assetid").references("assets", "assetid", OnDelete::Cascade))
    } else {
        table.column(Column::id(&t.key))
    };
    for f in &t.fields {
        table = table.column(column(f));
    }
    if t.extends_assets {
        table = table.primary_key(&["assetid"]);
    }
    for f in t.fields.iter().filter(|f| f.ty == FieldType::Reference) {
        table = table.index(&[f.name.as_str()]);
    }
    for d in &t.dropped {
        table = table.dropped(d);
    }
    table
}

/// What the engine enforces on `f` beyond its column, for the API document.
fn field_schema(f: &Field) -> Option<Value> {
    let nullable = !f.required;
    let mut s = match f.ty {
        FieldType::Choice => json!({"type": "string", "enum": f.choices}),
        FieldType::Integer | FieldType::Number => {
            if f.min.is_none() && f.max.is_none() {
                return None;
            }
            let mut s =
                json!({"type": if f.ty == FieldType::Integer { "integer" } else { "number" }});
            if let Some(m) = f.min {
                s["minimum"] = json!(m);
            }
            if let Some(m) = f.max {
                s["maximum"] = json!(m);
            }
            s
        }
        FieldType::Ip => crate::addresses::ip_schema(),
        FieldType::Mac => crate::addresses::mac_schema(),
        FieldType::Url => json!({"type": "string", "format": "uri", "maxLength": f.length}),
        FieldType::String | FieldType::Text if f.pattern.is_some() => json!({"type": "string"}),
        _ => return None,
    };
    if let Some(p) = &f.pattern {
        s["pattern"] = json!(anchored(p));
    }
    if nullable {
        s["nullable"] = json!(true);
    }
    Some(s)
}

/// `pattern` matched against the whole value.
fn anchored(pattern: &str) -> String {
    format!("^(?:{pattern})$")
}

/// Display column of a referenced table, and the name the joined value gets.
fn lookup(spec: &Spec, f: &Field) -> Option<Lookup> {
    let (table, key) = f.references.as_ref()?;
    let display = match table.as_str() {
        "assets" => "assetnumber".to_string(),
        t => spec
            .table(t)
            .map(|o| o.title.clone())
            .unwrap_or_else(|| "name".into()),
    };
    let alias = format!("{}{}", f.name.trim_end_matches("id"), "name");
    let alias = if alias == f.name {
        format!("{}display", f.name)
    } else {
        alias
    };
    Some(Lookup::via(&f.name, table, key, &display, &alias))
}

/// The table of `t` as its resource holds it: choices are left to the validation hook, so a
/// write breaking several rules is told about all of them at once.
fn served_table(t: &TableSpec) -> Table {
    let mut table = table(t);
    for c in &mut table.columns {
        c.choices.clear();
    }
    table
}

/// The resource serving `t` at `path`.
pub fn resource(plugin: &str, spec: &Spec, t: &TableSpec, path: &str) -> Resource {
    let mut r = if t.extends_assets {
        let mut r = catalog::extension(path, &t.name, served_table(t), &t.assettype);
        r.default_sort = t.title.clone();
        r
    } else {
        let mut r = Resource::new(path, &t.name, served_table(t), &t.title);
        r.searchable = t.search.clone();
        r
    };
    r.label = t.title.clone();
    r.list = t.list.clone();
    for f in &t.fields {
        if let Some(l) = lookup(spec, f) {
            r.lookups.push(l);
        }
        if f.ty == FieldType::Choice {
            r.choices.push((f.name.clone(), f.choices.clone()));
        }
        if f.ty == FieldType::Mac {
            r.normalize_field(
                &f.name,
                crate::addresses::normalize_mac,
                crate::addresses::mac_schema(),
            );
        } else if let Some(s) = field_schema(f) {
            r.constrain(&f.name, s);
        }
    }
    r.hooks = r.hooks.clone().before(validation_hook(t));
    r.search = Some(SearchSpec {
        entitytype: t.name.clone(),
        title: t.title.clone(),
        subtitle: t.subtitle.clone(),
        fields: t.search.clone(),
        url: format!("/{path}/{{id}}"),
        plugin: Some(plugin.to_string()),
    });
    r
}

/// Checks every rule of the table's fields on each create and update (API, pages,
/// collector): choices, ranges, patterns, URLs, IP addresses and case-ignoring uniqueness.
fn validation_hook(t: &TableSpec) -> WriteHook {
    let fields: Arc<Vec<Field>> = Arc::new(t.fields.clone());
    let (table, key) = (t.name.clone(), t.key.clone());
    Arc::new(move |event| {
        let (fields, table, key) = (fields.clone(), table.clone(), key.clone());
        Box::pin(async move {
            let mut errors = Map::new();
            for f in fields.iter() {
                let Some(value) = event.record.get(&f.name).filter(|v| !v.is_null()) else {
                    continue;
                };
                if let Err(message) = check_value(f, value) {
                    errors.insert(f.name.clone(), json!(message));
                    continue;
                }
                if f.unique && f.ty.is_short_text() && event.changes(&f.name) {
                    let text = value.as_str().unwrap_or_default().to_string();
                    let sql = format!(
                        "SELECT COUNT(*) FROM {table} WHERE LOWER({0}) = LOWER(?) AND {key} <> ?",
                        f.name
                    );
                    let taken: i64 = event
                        .db
                        .query(&sql)
                        .bind(text)
                        .bind(event.id.unwrap_or(0))
                        .fetch_one(&mut *event.conn)
                        .await?
                        .try_get(0)?;
                    if taken > 0 {
                        errors.insert(f.name.clone(), json!("is already taken (ignoring case)"));
                    }
                }
            }
            if errors.is_empty() {
                Ok(())
            } else {
                Err(DomainError::validation(errors))
            }
        })
    })
}

/// Why `value` breaks a rule of `f`, if it does.
pub fn check_value(f: &Field, value: &Value) -> Result<(), String> {
    let text = value.as_str();
    let problem = match f.ty {
        FieldType::Choice => (!text.is_some_and(|v| f.choices.iter().any(|c| c == v)))
            .then(|| format!("must be one of {}", f.choices.join(", "))),
        FieldType::Integer | FieldType::Number => value.as_f64().and_then(|n| out_of_range(f, n)),
        FieldType::Url => (!text
            .and_then(|v| url::Url::parse(v).ok())
            .is_some_and(|u| u.has_host()))
        .then(|| "must be an absolute URL such as rtsp://10.0.0.5/stream".to_string()),
        FieldType::Ip => text
            .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok())
            .is_none()
            .then(|| "must be an IPv4 or IPv6 address".to_string()),
        _ => None,
    };
    if let Some(problem) = problem {
        return Err(problem);
    }
    if let (Some(p), Some(text)) = (&f.pattern, text) {
        let re = regex_lite::Regex::new(&anchored(p)).map_err(|e| e.to_string())?;
        if !re.is_match(text) {
            return Err(format!("must match the pattern {p}"));
        }
    }
    Ok(())
}

fn out_of_range(f: &Field, n: f64) -> Option<String> {
    match (f.min, f.max) {
        (Some(min), _) if n < min => Some(format!("must be at least {min}")),
        (_, Some(max)) if n > max => Some(format!("must be at most {max}")),
        _ => None,
    }
}

pub fn navigation(spec: &Spec, prefix: &str) -> Vec<NavItem> {
    spec.nav
        .iter()
        .map(|n| NavItem {
            name: n.label.clone(),
            icon: n.icon.clone(),
            route: format!("/{}", resource_path(prefix, &n.table)),
            position: n.position,
        })
        .collect()
}

pub fn widgets(spec: &Spec) -> Vec<Widget> {
    spec.widgets
        .iter()
        .map(|w| Widget {
            name: w.name.clone(),
            title: w.title.clone(),
            size: w.size,
            position: w.position,
            endpoint: None,
        })
        .collect()
}

fn filter_query(w: &WidgetSpec, per_page: i64) -> String {
    let mut q = format!("per_page={per_page}");
    for (k, v) in &w.filter {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
            other => other.to_string(),
        };
        q.push_str(&format!(
            "&{k}={}",
            url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
        ));
    }
    q
}

/// The data of widget `w`: `{"<table>": n}`, `{"bars": [{"label", "count"}]}` or
/// `{"<table>": [records]}`, as the dashboard draws them.
pub async fn widget_data(db: &Db, res: &Resource, w: &WidgetSpec) -> anyhow::Result<Value> {
    match w.kind {
        WidgetKind::Count => {
            let params = ListParams::parse(Some(&filter_query(w, 1)))
                .map_err(|e| anyhow::anyhow!(e.message))?;
            let (_, total) = res
                .list(db, &params)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            Ok(json!({ w.table.clone(): total }))
        }
        WidgetKind::List => {
            let params = ListParams::parse(Some(&filter_query(w, w.limit)))
                .map_err(|e| anyhow::anyhow!(e.message))?;
            let (rows, _) = res
                .list(db, &params)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            Ok(json!({ w.table.clone(): rows }))
        }
        WidgetKind::Bars => {
            let field = w.field.clone().unwrap_or_default();
            let column = res.column_sql(&field).unwrap_or_else(|| field.clone());
            let sql = format!(
                "SELECT {column}, COUNT(*) FROM {} GROUP BY {column} ORDER BY COUNT(*) DESC, {column}",
                res.tables_from()
            );
            let rows = db.query(&sql).fetch_all(db.pool()).await?;
            let kind = res
                .table
                .get(&field)
                .or_else(|| res.extension.as_ref().and_then(|e| e.get(&field)))
                .map(|c| c.ty.value_kind())
                .unwrap_or(crate::db::ValueKind::Text);
            let mut bars = Vec::new();
            for row in &rows {
                let label = crate::db::decode_column(row, 0, kind)?;
                let label = match label {
                    Value::Null => "(none)".to_string(),
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                bars.push(json!({"label": label, "count": row.try_get::<i64, _>(1)?}));
            }
            Ok(json!({"bars": bars}))
        }
    }
}

/// What a collector posts: the identity, match fields and every field of the table.
pub fn collector_schema(spec: &Spec, prefix: &str) -> Option<CollectorSchema> {
    let c = spec.collector.as_ref()?;
    let t = spec.table(&c.table)?;
    let mut fields = Vec::new();
    let mut add = |name: &str, kind: CollectorFieldKind, required: bool| {
        if !fields.iter().any(|f: &CollectorField| f.name == name) {
            fields.push(CollectorField::of(name, kind, required));
        }
    };
    add(&c.identity, CollectorFieldKind::String, true);
    for m in &c.matches {
        add(m, CollectorFieldKind::String, false);
    }
    for f in &t.fields {
        let kind = match f.ty {
            FieldType::Integer | FieldType::Reference => CollectorFieldKind::Integer,
            FieldType::Number => CollectorFieldKind::Number,
            FieldType::Boolean => CollectorFieldKind::Boolean,
            _ => CollectorFieldKind::String,
        };
        add(&f.name, kind, f.required);
    }
    Some(CollectorSchema {
        identityfield: c.identity.clone(),
        matchfields: c.matches.clone(),
        fields,
        heartbeat: None,
        resource: Some(resource_path(prefix, &t.name)),
    })
}
