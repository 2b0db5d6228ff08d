//! A record's page: its fields and plugin fields, relationships both ways, position and
//! history.

use axum::response::Response;
use serde_json::{Value, json};
use shopdb_core::audit::{self, AuditQuery};
use shopdb_core::resource::Resource;
use shopdb_core::services::records;

use crate::Web;
use crate::labels::Labels;
use crate::render::{failure_page, page_context};
use crate::session::PageUser;

use super::{api_error, display};

pub(super) async fn detail(web: &Web, user: &PageUser, res: &Resource, id: i64) -> Response {
    let record = match res.get(&web.app.db, id).await {
        Ok(r) => r,
        Err(e) => return api_error(web, user, e).await,
    };
    let title = res
        .extension
        .as_ref()
        .and_then(|ext| {
            ext.columns
                .iter()
                .find(|c| c.unique)
                .and_then(|c| record.get(&c.name))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .or_else(|| {
            record.get(&res.label).map(|v| {
                display(v)
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
        })
        .unwrap_or_else(|| format!("{} {id}", res.entity));
    let mut fields = Vec::new();
    let mut lists = Vec::new();
    let columns = res
        .table
        .columns
        .iter()
        .chain(res.extension.iter().flat_map(|e| e.columns.iter()));
    let mut seen = std::collections::HashSet::new();
    for c in columns {
        if !seen.insert(c.name.clone()) || c.ty == shopdb_core::schema::ColumnType::Bytes {
            continue;
        }
        let lookup = res.lookups.iter().find(|l| l.column == c.name);
        let (name, value) = match lookup {
            Some(l) => (
                l.alias.clone(),
                record.get(&l.alias).cloned().unwrap_or(Value::Null),
            ),
            None => (
                c.name.clone(),
                record.get(&c.name).cloned().unwrap_or(Value::Null),
            ),
        };
        let link = match (&c.references, &value) {
            (Some(fk), _) if fk.table == "assets" => record
                .get(&c.name)
                .and_then(Value::as_i64)
                .map(|i| format!("/assets/{i}")),
            _ => None,
        };
        fields.push(json!({"name": name, "label": web.templates.labels.of(c), "value": display(&value), "link": link, "group": if res.table.get(&c.name).is_some() {"main"} else {"details"}}));
    }
    // An asset that a plugin extends (a computer, a machine …) shows that plugin's fields too.
    let mut extended_as = Vec::new();
    if res.path == "assets" {
        for p in web.app.enabled_plugins().await {
            for r in p.resources.iter().filter(|r| r.extension.is_some()) {
                if let Ok(record) = r.get(&web.app.db, id).await {
                    for c in r
                        .extension
                        .iter()
                        .flat_map(|e| e.columns.iter())
                        .filter(|c| c.name != "assetid")
                    {
                        let value = record.get(&c.name).cloned().unwrap_or(Value::Null);
                        fields.push(json!({"name": c.name, "label": web.templates.labels.of(c), "value": display(&value), "link": null, "group": r.entity}));
                    }
                    extended_as
                        .push(json!({"entity": r.entity, "href": format!("/{}/{id}", r.path)}));
                }
            }
        }
    }
    for list in &res.children {
        let items = record.get(&list.field).cloned().unwrap_or(json!([]));
        let cols: Vec<String> = items
            .as_array()
            .and_then(|a| a.first())
            .and_then(Value::as_object)
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        lists.push(json!({"name": list.field, "label": web.templates.labels.label(&list.field), "columns": cols, "items": items}));
    }
    let is_asset = res.is_asset();
    let mut ctx = page_context(web, Some(user), &title).await;
    if is_asset {
        let relationships = shopdb_core::position::relationships_of(&web.app.db, id)
            .await
            .unwrap_or_default();
        let links: Vec<Value> = relationships
            .into_iter()
            .map(|mut r| {
                r["href"] = json!(format!("/assets/{}", r["assetid"]));
                r
            })
            .collect();
        ctx.insert("relationships".into(), json!(links));
        let position = match web.app.db.pool().acquire().await {
            Ok(mut conn) => shopdb_core::position::resolve_position(&web.app.db, &mut conn, id)
                .await
                .ok()
                .flatten(),
            Err(_) => None,
        };
        ctx.insert("position".into(), json!(position));
        ctx.insert(
            "locationid".into(),
            record.get("locationid").cloned().unwrap_or(Value::Null),
        );
    }
    let history = audit::list(
        &web.app.db,
        &AuditQuery {
            entitytype: Some(res.audit_entity().to_string()),
            entityid: Some(id),
            ..AuditQuery::default()
        },
        50,
        0,
    )
    .await
    .map(|(entries, _)| entries)
    .unwrap_or_default();
    let names = match records::reference_names(&web.app.db, res, &history).await {
        Ok(names) => names,
        Err(e) => return failure_page(web, Some(user), &e).await,
    };
    ctx.insert(
        "history".into(),
        json!(
            history
                .iter()
                .map(|e| change_lines(&web.templates.labels, e, &names))
                .collect::<Vec<_>>()
        ),
    );
    ctx.insert("record_title".into(), json!(title));
    // The stored values by field name, for a plugin's own detail template.
    ctx.insert("record".into(), Value::Object(record.clone()));
    ctx.insert("fields".into(), json!(fields));
    ctx.insert("lists".into(), json!(lists));
    ctx.insert("extended_as".into(), json!(extended_as));
    ctx.insert("is_asset".into(), json!(is_asset));
    ctx.insert("base".into(), json!(format!("/{}", res.path)));
    ctx.insert("id".into(), json!(id));
    ctx.insert("entity".into(), json!(res.entity));
    ctx.insert("can_write".into(), json!(user.actor.role >= res.write_role));
    let template = format!("records/{}/detail.html", res.path);
    let name = if web.templates.has(&template) {
        template.as_str()
    } else {
        "detail.html"
    };
    web.templates.render(name, &Value::Object(ctx))
}

/// An audit entry as who/when/action and one "field: before → after" line per change.
fn change_lines(
    labels: &Labels,
    entry: &Value,
    names: &std::collections::HashMap<(String, i64), String>,
) -> Value {
    let before = entry["changes"]["before"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let after = entry["changes"]["after"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let short = |k: &str, v: Option<&Value>| -> String {
        if let Some(name) = v
            .and_then(Value::as_i64)
            .and_then(|id| names.get(&(k.to_string(), id)))
        {
            return name.clone();
        }
        let s = match v {
            None | Some(Value::Null) => "—".to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(a)) => format!("{} items", a.len()),
            Some(other) => other.to_string(),
        };
        if s.chars().count() > 80 {
            format!("{}…", s.chars().take(80).collect::<String>())
        } else {
            s
        }
    };
    let changes: Vec<Value> = keys
        .into_iter()
        .map(|k| json!({"field": labels.label(k), "before": short(k, before.get(k)), "after": short(k, after.get(k))}))
        .collect();
    json!({"when": entry["occurredat"], "who": entry["actorname"], "action": entry["action"], "entity": entry["entitytype"], "changes": changes})
}
