//! Health, search and the OpenAPI document.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::envelope::{ApiResult, ok};
use crate::error::DomainError;
use crate::http::query_pairs;
use crate::state::AppState;

/// GET /api/health — 200 when the database answers.
pub async fn health(State(state): State<AppState>) -> ApiResult<Response> {
    match state.db.query("SELECT 1").fetch_one(state.db.pool()).await {
        Ok(_) => Ok(ok(
            json!({"status": "ok", "database": state.db.dialect().name()}),
        )),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unavailable");
            Err(DomainError::new(
                crate::error::ErrorKind::Unavailable,
                "unavailable",
                "the database does not answer",
            )
            .into())
        }
    }
}

/// GET /api/search?q=TEXT[&page=N][&per_page=N] (`limit` is the older name of `per_page`)
pub async fn search(State(state): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let mut text = None;
    let mut page = 1;
    let mut per_page = 20;
    for (k, v) in query_pairs(q.as_deref()) {
        match k.as_str() {
            "q" => {
                // The length as sent, as the API document states it.
                if v.chars().count() > 100 {
                    return Err(DomainError::bad_request("q must be at most 100 characters").into());
                }
                if v.contains('\0') {
                    return Err(
                        DomainError::bad_request("q must not contain a NUL character").into(),
                    );
                }
                text = Some(v.trim().to_string())
            }
            "limit" | "per_page" => {
                per_page = v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| {
                        DomainError::bad_request(format!(
                            "{k} must be a whole number from 1 to 100"
                        ))
                    })?
            }
            "page" => {
                page = v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or_else(|| {
                        DomainError::bad_request("page must be a whole number from 1 to 100000")
                    })?
            }
            other => {
                return Err(DomainError::bad_request(format!(
                    "unknown parameter '{other}': search takes q, page and per_page"
                ))
                .into());
            }
        }
    }
    let text = text
        .filter(|t| !t.is_empty())
        .ok_or_else(|| DomainError::bad_request("q is required: the text to search for"))?;
    if text.chars().count() > 100 {
        return Err(DomainError::bad_request("q must be at most 100 characters").into());
    }
    let hidden = state.hidden_plugins().await;
    let hits = crate::search::search(&state.db, &text, page, per_page, &hidden).await?;
    Ok(crate::envelope::page(
        hits.results,
        page,
        per_page,
        hits.total,
    ))
}

/// GET /api/openapi.json
pub async fn openapi(State(state): State<AppState>) -> Response {
    axum::Json(super::openapi::document(&state.routes)).into_response()
}
