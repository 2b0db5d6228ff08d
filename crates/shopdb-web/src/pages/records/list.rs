//! A resource's list page: the columns it shows, the asset filters, sorting and pages.

use axum::response::Response;
use serde_json::{Value, json};
use shopdb_core::error::DomainError;
use shopdb_core::http::ListParams;
use shopdb_core::resource::Resource;
use shopdb_core::services::records;

use crate::Web;
use crate::form::FormData;
use crate::labels::Labels;
use crate::render::{failure_page, page_context};
use crate::session::PageUser;

use super::{api_error, display};

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

pub(super) async fn list(web: &Web, user: &PageUser, res: &Resource, query: &str) -> Response {
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
        Value::Object(crate::pages::transfer::list_links(
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
pub(super) async fn asset_filters(
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
