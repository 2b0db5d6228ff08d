//! The envelope of successful answers: `{"success": true, "data": …}` and, for lists,
//! `meta`. (`envelope` re-exports these with the error side.)

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// `{"success": true, "data": …}` with status 200.
pub fn ok(data: Value) -> Response {
    axum::Json(json!({"success": true, "data": data})).into_response()
}

/// `{"success": true, "data": …}` with status 201.
pub fn created(data: Value) -> Response {
    (
        StatusCode::CREATED,
        axum::Json(json!({"success": true, "data": data})),
    )
        .into_response()
}

/// A page of a list with its `meta`.
pub fn page(data: Vec<Value>, page: i64, per_page: i64, total: i64) -> Response {
    let pages = if total == 0 {
        0
    } else {
        (total + per_page - 1) / per_page
    };
    axum::Json(json!({
        "success": true,
        "data": data,
        "meta": {"page": page, "per_page": per_page, "total": total, "pages": pages},
    }))
    .into_response()
}

/// A page whose `data` is already JSON text (built by the database).
pub fn page_raw(data: &str, page: i64, per_page: i64, total: i64) -> Response {
    let pages = if total == 0 {
        0
    } else {
        (total + per_page - 1) / per_page
    };
    // Same key order as `page` (serde_json sorts object keys).
    let body = format!(
        r#"{{"data":{data},"meta":{{"page":{page},"pages":{pages},"per_page":{per_page},"total":{total}}},"success":true}}"#
    );
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}
