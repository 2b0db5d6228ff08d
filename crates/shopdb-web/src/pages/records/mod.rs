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

mod detail;
mod edit;
mod list;

use std::sync::Arc;

use axum::extract::{OriginalUri, State};
use axum::http::header::LOCATION;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use shopdb_core::error::DomainError;
use shopdb_core::resource::Resource;

use crate::Web;
use crate::form::{self, FormData};
use crate::render::{error_page, failure_page};
use crate::session::{MaybeUser, PageUser};

use detail::detail;
use edit::{confirm_delete, delete, edit_form, save};
use list::list;

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
    // The record a path like `/<path>/<id>/edit` names, when its first part is a number.
    let id = rest.first().and_then(|part| part.parse::<i64>().ok());
    match (method, rest.as_slice(), id) {
        (Method::GET, [], _) => list(&web, &user, &res, &query).await,
        (Method::GET, ["new"], _) => {
            let prefill = FormData::parse(query.as_bytes());
            let values = form::to_body(&res, &prefill, false);
            edit_form(&web, &user, &res, None, values, Map::new(), None).await
        }
        (Method::POST, ["new"], _) => save(&web, &user, &res, None, form).await,
        (Method::GET, [_], Some(id)) => detail(&web, &user, &res, id).await,
        (Method::GET, [_, "edit"], Some(id)) => match res.get(&web.app.db, id).await {
            Ok(record) => edit_form(&web, &user, &res, Some(id), record, Map::new(), None).await,
            Err(e) => api_error(&web, &user, e).await,
        },
        (Method::POST, [_, "edit"], Some(id)) => save(&web, &user, &res, Some(id), form).await,
        (Method::GET, [_, "delete"], Some(id)) => confirm_delete(&web, &user, &res, id).await,
        (Method::POST, [_, "delete"], Some(id)) => delete(&web, &user, &res, id, form).await,
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

pub(super) async fn api_error(web: &Web, user: &PageUser, e: DomainError) -> Response {
    failure_page(web, Some(user), &e).await
}

/// A value as text for a table cell.
pub(super) fn display(v: &Value) -> Value {
    match v {
        Value::Null => json!(""),
        Value::Bool(b) => json!(if *b { "yes" } else { "no" }),
        Value::String(_) | Value::Number(_) => v.clone(),
        other => json!(other.to_string()),
    }
}
