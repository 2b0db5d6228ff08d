//! Creating, editing and deleting a record from a page: the form, the save, the
//! confirmation and the delete.

use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use shopdb_core::error::ErrorKind;
use shopdb_core::resource::Resource;

use crate::Web;
use crate::form::{self, FormData};
use crate::render::{failure_page, page_context};
use crate::session::PageUser;

use super::{api_error, display};

pub(super) async fn edit_form(
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

pub(super) async fn save(
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

pub(super) async fn confirm_delete(
    web: &Web,
    user: &PageUser,
    res: &Resource,
    id: i64,
) -> Response {
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

pub(super) async fn delete(
    web: &Web,
    user: &PageUser,
    res: &Resource,
    id: i64,
    form: FormData,
) -> Response {
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
