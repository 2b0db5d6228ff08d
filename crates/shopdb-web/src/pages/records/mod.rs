//! List, detail, form and delete pages for every served table (assets, core reference
//! tables, plugin records), built from the resource description:
//!
//! ```text
//! GET  /<path>                 list: filters, sort, search, pages
//! GET  /<path>/new             form          POST /<path>/new         create
//! GET  /<path>/<id>            detail (fields, relationships, position, history)
//! GET  /<path>/<id>/edit       form          POST /<path>/<id>/edit   update
//! GET  /<path>/<id>/delete     confirmation  POST /<path>/<id>/delete delete
//! ```
//!
//! `<path>` is the resource's API path (`assets`, `computers`, `network/subnets`).

use std::sync::Arc;

use axum::extract::{OriginalUri, State};
use axum::http::header::LOCATION;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use shopdb_core::audit::{self, AuditQuery};
use shopdb_core::error::{DomainError, ErrorKind};
use shopdb_core::http::ListParams;
use shopdb_core::resource::Resource;
use shopdb_core::services::records;

use crate::Web;
use crate::form::{self, FormData};
use crate::labels::Labels;
use crate::render::{error_page, failure_page, page_context};
use crate::session::{MaybeUser, PageUser};

/// The plugin serving `res`, if any.
fn owner(web: &Web, res: &Resource) -> Option<String> {
    web.app
        .registry
        .loaded
        .iter()
        .find(|p| p.resources.iter().any(|r| r.path == res.path))
        .map(|p| p.manifest.name.clone())
}

/// Every record page: finds the resource, checks login, role and plugin state, and hands on.
pub async fn dispatch(
    State(web): State<Web>,
    MaybeUser(user): MaybeUser,
    method: Method,
    OriginalUri(uri): OriginalUri,
    body: axum::body::Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or_default().to_string();
    let Some((res, rest)) = find_owned(&web, &path) else {
        return error_page(
            &web,
            user.as_ref(),
            StatusCode::NOT_FOUND,
            "There is no such page.",
        )
        .await;
    };
    let Some(user) = user else {
        let next: String =
            url::form_urlencoded::byte_serialize(uri.to_string().as_bytes()).collect();
        return (
            StatusCode::SEE_OTHER,
            [(LOCATION, format!("/login?next={next}"))],
        )
            .into_response();
    };
    if let Some(plugin) = owner(&web, &res)
        && !web.app.plugin_enabled(&plugin).await
    {
        return error_page(
            &web,
            Some(&user),
            StatusCode::NOT_FOUND,
            &format!("The {plugin} plugin is not enabled."),
        )
        .await;
    }
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let form = FormData::parse(&body);
    match (method, rest.as_slice()) {
        (Method::GET, []) => list(&web, &user, &res, &query).await,
        (Method::GET, ["new"]) => {
            let prefill = FormData::parse(query.as_bytes());
            let values = form::to_body(&res, &prefill, false);
            edit_form(&web, &user, &res, None, values, Map::new(), None).await
        }
        (Method::POST, ["new"]) => save(&web, &user, &res, None, form).await,
        (m, [id, tail @ ..]) => {
            let Ok(id) = id.parse::<i64>() else {
                return error_page(
                    &web,
                    Some(&user),
                    StatusCode::NOT_FOUND,
                    "There is no such page.",
                )
                .await;
            };
            match (m, tail) {
                (Method::GET, []) => detail(&web, &user, &res, id).await,
                (Method::GET, ["edit"]) => match res.get(&web.app.db, id).await {
                    Ok(record) => {
                        edit_form(&web, &user, &res, Some(id), record, Map::new(), None).await
                    }
                    Err(e) => api_error(&web, &user, e).await,
                },
                (Method::POST, ["edit"]) => save(&web, &user, &res, Some(id), form).await,
                (Method::GET, ["delete"]) => confirm_delete(&web, &user, &res, id).await,
                (Method::POST, ["delete"]) => delete(&web, &user, &res, id, form).await,
                _ => {
                    error_page(
                        &web,
                        Some(&user),
                        StatusCode::NOT_FOUND,
                        "There is no such page.",
                    )
                    .await
                }
            }
        }
        _ => {
            error_page(
                &web,
                Some(&user),
                StatusCode::NOT_FOUND,
                "There is no such page.",
            )
            .await
        }
    }
}

/// The resource a page path belongs to (longest matching API path) and the rest of the path.
fn find_owned(web: &Web, path: &str) -> Option<(Arc<Resource>, Vec<String>)> {
    let trimmed = path.trim_matches('/');
    let res = web
        .app
        .resources
        .iter()
        .filter(|(p, _)| trimmed == p.as_str() || trimmed.starts_with(&format!("{p}/")))
        .max_by_key(|(p, _)| p.len())
        .map(|(_, r)| r.clone())?;
    let rest = trimmed[res.path.len()..]
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    Some((res, rest))
}

async fn api_error(web: &Web, user: &PageUser, e: DomainError) -> Response {
    failure_page(web, Some(user), &e).await
}

/// Columns a list shows: the record's name, then what tells records apart at a glance.
fn list_columns(res: &Resource) -> Vec<String> {
    if !res.list.is_empty() {
        // Chosen by the resource (a folder plugin's `list`); a reference shows its name.
        return res
            .list
            .iter()
            .map(|c| match res.lookups.iter().find(|l| &l.column == c) {
                Some(l) => l.alias.clone(),
                None => c.clone(),
            })
            .collect();
    }
    let mut cols: Vec<String> = Vec::new();
    let is_asset = res.is_asset();
    if is_asset {
        cols.extend(["assetnumber", "name"].map(String::from));
        if let Some(ext) = &res.extension {
            cols.extend(
                ext.columns
                    .iter()
                    .filter(|c| {
                        c.name != "assetid"
                            && matches!(c.ty, shopdb_core::schema::ColumnType::String(_))
                    })
                    .take(3)
                    .map(|c| c.name.clone()),
            );
        } else {
            cols.push("assettypename".into());
            cols.push("serialnumber".into());
        }
        cols.extend(["statusname", "locationname"].map(String::from));
    } else {
        cols.push(res.label.clone());
        for c in &res.table.columns {
            if cols.len() >= 6 {
                break;
            }
            let lookup = res.lookups.iter().find(|l| l.column == c.name);
            let name = lookup
                .map(|l| l.alias.clone())
                .unwrap_or_else(|| c.name.clone());
            if c.name == res.label
                || c.ty == shopdb_core::schema::ColumnType::Id
                || c.ty == shopdb_core::schema::ColumnType::Bytes
                || c.ty == shopdb_core::schema::ColumnType::Text
                || ["createddate", "modifieddate", "version"].contains(&c.name.as_str())
            {
                continue;
            }
            cols.push(name);
        }
    }
    cols
}

/// Title shown for a resource (`network/subnets` → `Subnets`).
fn heading(labels: &Labels, res: &Resource) -> String {
    let last = res.path.rsplit('/').next().unwrap_or(&res.path);
    labels.label(last)
}

async fn list(web: &Web, user: &PageUser, res: &Resource, query: &str) -> Response {
    let mut raw = FormData::parse(query.as_bytes());
    let mut notice = None;
    // `plugin=<name>` on the asset list: the asset types that plugin owns.
    if res.path == "assets"
        && let Some(plugin) = raw.get("plugin").map(str::to_string)
    {
        raw = without(&raw, "plugin");
        if !plugin.is_empty() {
            let typeid = match records::plugin_asset_type(&web.app.db, &plugin).await {
                Ok(typeid) => typeid,
                Err(e) => return failure_page(web, Some(user), &e).await,
            };
            match typeid {
                Some(id) => raw = with(&raw, "assettypeid", &id.to_string()),
                None => notice = Some(format!("The {plugin} plugin has no asset type yet.")),
            }
        }
    }
    let query = raw.encode();
    let params = match ListParams::parse(Some(&query)) {
        Ok(p) => p,
        Err(e) => return api_error(web, user, e).await,
    };
    let (rows, total) = match res.list(&web.app.db, &params).await {
        Ok(r) => r,
        Err(e) => return api_error(web, user, e).await,
    };
    let columns = list_columns(res);
    let sort = params.sort.clone().unwrap_or_default();
    let base = format!("/{}", res.path);
    let headers: Vec<Value> = columns
        .iter()
        .map(|c| {
            let next = if sort == *c { format!("-{c}") } else { c.clone() };
            let sortable = res.column_sql(c).is_some() || res.lookups.iter().any(|l| &l.alias == c);
            json!({"name": c, "label": web.templates.labels.label(c), "sorted": if sort == *c {"asc"} else if sort == format!("-{c}") {"desc"} else {""},
                   "href": sortable.then(|| format!("{base}?{}", with(&raw, "sort", &next).without_page().encode()))})
        })
        .collect();
    let key = res.key().to_string();
    let records: Vec<Value> = rows
        .iter()
        .map(|r| {
            let id = r[&key].clone();
            json!({"id": id, "href": format!("{base}/{}", id), "cells": columns.iter().map(|c| display(&r[c])).collect::<Vec<_>>()})
        })
        .collect();
    let pages = ((total + params.per_page - 1) / params.per_page).max(1);
    let page_href = |p: i64| format!("{base}?{}", with(&raw, "page", &p.to_string()).encode());
    let mut ctx = page_context(web, Some(user), &heading(&web.templates.labels, res)).await;
    ctx.insert(
        "resource".into(),
        json!({"path": res.path, "entity": res.entity, "base": base}),
    );
    ctx.insert("headers".into(), json!(headers));
    ctx.insert("records".into(), json!(records));
    ctx.insert("total".into(), json!(total));
    ctx.insert("page".into(), json!(params.page));
    ctx.insert("pages".into(), json!(pages));
    ctx.insert(
        "prev".into(),
        json!((params.page > 1).then(|| page_href(params.page - 1))),
    );
    ctx.insert(
        "next".into(),
        json!((params.page < pages).then(|| page_href(params.page + 1))),
    );
    ctx.insert("q".into(), json!(params.q));
    ctx.insert("notice".into(), json!(notice));
    ctx.insert("can_write".into(), json!(user.actor.role >= res.write_role));
    ctx.insert(
        "transfer".into(),
        Value::Object(super::transfer::list_links(
            res,
            &raw.without_page().encode(),
            user.actor.role >= res.write_role,
        )),
    );
    if res.is_asset() {
        let filters = match asset_filters(web, res, &raw).await {
            Ok(filters) => filters,
            Err(e) => return failure_page(web, Some(user), &e).await,
        };
        ctx.insert("filters".into(), json!(filters));
        ctx.insert("sort".into(), json!(sort));
    }
    web.templates.render("list.html", &Value::Object(ctx))
}

/// The select boxes above an asset list: type, status, location (and plugin on /assets).
async fn asset_filters(
    web: &Web,
    res: &Resource,
    raw: &FormData,
) -> Result<Vec<Value>, DomainError> {
    let mut out = Vec::new();
    for (column, table, key, title) in [
        ("assettypeid", "assettypes", "assettypeid", "Type"),
        ("statusid", "statuses", "statusid", "Status"),
        ("locationid", "locations", "locationid", "Location"),
    ] {
        if res.extension.is_some() && column == "assettypeid" {
            continue;
        }
        let options: Vec<Value> = records::choices(&web.app.db, table, key, "name")
            .await?
            .into_iter()
            .map(|c| json!({"value": c.value.to_string(), "label": c.label}))
            .collect();
        out.push(json!({"name": column, "label": title, "value": raw.get(column).unwrap_or_default(), "options": options}));
    }
    if res.path == "assets" {
        let options: Vec<Value> = web
            .app
            .enabled_plugins()
            .await
            .iter()
            .map(|p| json!({"value": p.manifest.name, "label": p.manifest.name}))
            .collect();
        out.push(json!({"name": "plugin", "label": "Plugin", "value": "", "options": options}));
    }
    Ok(out)
}

/// A value as text for a table cell.
fn display(v: &Value) -> Value {
    match v {
        Value::Null => json!(""),
        Value::Bool(b) => json!(if *b { "yes" } else { "no" }),
        Value::String(_) | Value::Number(_) => v.clone(),
        other => json!(other.to_string()),
    }
}

impl FormData {
    pub fn encode(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.pairs() {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        s.finish()
    }

    fn without_page(&self) -> FormData {
        without(self, "page")
    }
}

fn without(f: &FormData, key: &str) -> FormData {
    FormData::from_pairs(
        f.pairs()
            .filter(|(k, _)| *k != key)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn with(f: &FormData, key: &str, value: &str) -> FormData {
    let mut pairs: Vec<(String, String)> = f
        .pairs()
        .filter(|(k, _)| *k != key)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    pairs.push((key.to_string(), value.to_string()));
    FormData::from_pairs(pairs)
}

async fn detail(web: &Web, user: &PageUser, res: &Resource, id: i64) -> Response {
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

async fn edit_form(
    web: &Web,
    user: &PageUser,
    res: &Resource,
    id: Option<i64>,
    values: Map<String, Value>,
    errors: Map<String, Value>,
    form_error: Option<String>,
) -> Response {
    if let Err(page) = user.require(web, res.write_role).await {
        return page;
    }
    let fields = match form::fields(&web.app.db, &web.templates.labels, res, &values, &errors).await
    {
        Ok(fields) => fields,
        Err(e) => return failure_page(web, Some(user), &e).await,
    };
    let title = match id {
        Some(id) => format!("Edit {} {id}", res.entity),
        None => format!("New {}", res.entity),
    };
    let status = if form_error.is_some() || !errors.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut ctx = page_context(web, Some(user), &title).await;
    ctx.insert("fields".into(), json!(fields));
    ctx.insert(
        "version".into(),
        values.get("version").cloned().unwrap_or(Value::Null),
    );
    ctx.insert(
        "action".into(),
        json!(match id {
            Some(id) => format!("/{}/{id}/edit", res.path),
            None => format!("/{}/new", res.path),
        }),
    );
    ctx.insert(
        "cancel".into(),
        json!(match id {
            Some(id) => format!("/{}/{id}", res.path),
            None => format!("/{}", res.path),
        }),
    );
    ctx.insert("form_error".into(), json!(form_error));
    ctx.insert("has_errors".into(), json!(!errors.is_empty()));
    web.templates
        .render_status(status, "form.html", &Value::Object(ctx))
}

async fn save(
    web: &Web,
    user: &PageUser,
    res: &Resource,
    id: Option<i64>,
    form: FormData,
) -> Response {
    if let Err(page) = user.require(web, res.write_role).await {
        return page;
    }
    if let Err(page) = user.check_form(web, &form).await {
        return page;
    }
    let body = form::to_body(res, &form, id.is_some());
    let result = match id {
        Some(id) => res.update(&web.app.db, &user.actor, id, &body).await,
        None => res.create(&web.app.db, &user.actor, &body).await,
    };
    match result {
        Ok(record) => {
            let id = record
                .get(res.key())
                .and_then(Value::as_i64)
                .unwrap_or_default();
            (
                StatusCode::SEE_OTHER,
                [(LOCATION, format!("/{}/{id}", res.path))],
            )
                .into_response()
        }
        Err(e) => {
            let mut values = body.clone();
            if let Some(v) = form.get("version").and_then(|v| v.parse::<i64>().ok()) {
                values.insert("version".into(), json!(v));
            }
            let (errors, message) = match (e.kind, &e.details) {
                (ErrorKind::Invalid, Value::Object(fields)) => (fields.clone(), None),
                _ => (Map::new(), Some(e.message.clone())),
            };
            edit_form(web, user, res, id, values, errors, message).await
        }
    }
}

async fn confirm_delete(web: &Web, user: &PageUser, res: &Resource, id: i64) -> Response {
    if let Err(page) = user.require(web, res.write_role).await {
        return page;
    }
    let record = match res.get(&web.app.db, id).await {
        Ok(r) => r,
        Err(e) => return api_error(web, user, e).await,
    };
    let name = record
        .get(&res.label)
        .map(|v| display(v).as_str().map(str::to_string).unwrap_or_default())
        .unwrap_or_default();
    let mut ctx = page_context(web, Some(user), &format!("Delete {} {name}", res.entity)).await;
    ctx.insert(
        "question".into(),
        json!(format!(
            "Delete {} {name}? This cannot be undone; the audit log keeps what it held.",
            res.entity
        )),
    );
    ctx.insert("action".into(), json!(format!("/{}/{id}/delete", res.path)));
    ctx.insert("cancel".into(), json!(format!("/{}/{id}", res.path)));
    ctx.insert("button".into(), json!("Delete"));
    web.templates.render("confirm.html", &Value::Object(ctx))
}

async fn delete(web: &Web, user: &PageUser, res: &Resource, id: i64, form: FormData) -> Response {
    if let Err(page) = user.require(web, res.write_role).await {
        return page;
    }
    if let Err(page) = user.check_form(web, &form).await {
        return page;
    }
    match res
        .delete(&web.app.db, &user.actor, id, &web.app.tables)
        .await
    {
        Ok(()) => (
            StatusCode::SEE_OTHER,
            [(LOCATION, format!("/{}", res.path))],
        )
            .into_response(),
        Err(e) => api_error(web, user, e).await,
    }
}
