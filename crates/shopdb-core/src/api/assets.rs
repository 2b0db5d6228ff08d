//! Asset-only routes: history and resolved position.

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde_json::json;

use super::parse_id;
use crate::audit::{self, AuditQuery};
use crate::error::{ApiError, ApiResult, ok, page};
use crate::http::ListParams;
use crate::position::resolve_position;
use crate::state::AppState;

/// GET /api/assets/{id}/history — audit entries of one asset, newest first.
pub async fn history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let params = ListParams::parse(q.as_deref())?;
    if let Some((name, _)) = params.filters.first() {
        return Err(ApiError::bad_request(format!(
            "unknown parameter '{name}': history takes page and per_page"
        )));
    }
    let filter = AuditQuery {
        entitytype: Some("asset".into()),
        entityid: Some(id),
        ..AuditQuery::default()
    };
    let (entries, total) =
        audit::list(&state.db, &filter, params.per_page, params.offset()).await?;
    if total == 0 {
        // No history at all means the asset never existed.
        return Err(ApiError::not_found(format!("no asset with id {id}")));
    }
    Ok(page(entries, params.page, params.per_page, total))
}

/// GET /api/assets/{id}/position
pub async fn position(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let mut conn = state.db.pool().acquire().await?;
    let position = resolve_position(&state.db, &mut conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no asset with id {id}")))?;
    Ok(ok(json!(position)))
}
