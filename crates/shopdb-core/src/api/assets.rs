//! Asset and location routes beyond plain CRUD: history, resolved position, floor plans.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::parse_id;
use crate::audit::{self, AuditQuery};
use crate::envelope::{ApiResult, ok, page};
use crate::error::DomainError;
use crate::floorplan;
use crate::http::ListParams;
use crate::position::resolve_position;
use crate::state::AppState;

/// GET /api/assets/{id}/relationships — the asset's relationships in both directions, each
/// with the other asset and whether this asset is the source (`outgoing`) or the target.
pub async fn relationships(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    state.resource("assets").get(&state.db, id).await?;
    Ok(ok(Value::Array(
        crate::position::relationships_of(&state.db, id).await?,
    )))
}

/// GET /api/assets/{id}/history — audit entries of one asset, newest first.
pub async fn history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let params = ListParams::parse(q.as_deref())?;
    params.fixed_order("history")?;
    if let Some((name, _)) = params.filters.first() {
        return Err(DomainError::bad_request(format!(
            "unknown parameter '{name}': history takes page and per_page"
        ))
        .into());
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
        return Err(DomainError::not_found(format!("no asset with id {id}")).into());
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
        .ok_or_else(|| DomainError::not_found(format!("no asset with id {id}")))?;
    Ok(ok(json!(position)))
}

/// PUT /api/locations/{id}/floorplan — the raw image (PNG, JPEG or WebP) as the body.
pub async fn put_floorplan(
    State(state): State<AppState>,
    actor: crate::auth::Actor,
    Path(id): Path<String>,
    body: axum::body::Body,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let bytes = axum::body::to_bytes(body, floorplan::MAX_FLOORPLAN_BYTES)
        .await
        .map_err(|_| {
            DomainError::new(
                crate::error::ErrorKind::TooLarge,
                "payload_too_large",
                "floor plans may be at most 10 MiB",
            )
        })?;
    let kind = floorplan::image_type(&bytes)
        .ok_or_else(|| DomainError::field("floorplan", "must be a PNG, JPEG or WebP image"))?;
    if !floorplan::store(&state.db, &actor, id, kind, bytes.to_vec()).await? {
        return Err(DomainError::not_found(format!("no location with id {id}")).into());
    }
    Ok(ok(
        json!({"locationid": id, "contenttype": kind, "bytes": bytes.len()}),
    ))
}

/// GET /api/locations/{id}/floorplan — the image itself.
pub async fn get_floorplan(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let Some((kind, image)) = floorplan::load(&state.db, id).await? else {
        // Say which is missing: the location, or only its plan.
        crate::catalog::locations().get(&state.db, id).await?;
        return Err(DomainError::not_found(format!("location {id} has no floor plan")).into());
    };
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, kind),
            (
                axum::http::header::CACHE_CONTROL,
                "private, max-age=60".to_string(),
            ),
        ],
        image,
    )
        .into_response())
}

/// DELETE /api/locations/{id}/floorplan
pub async fn delete_floorplan(
    State(state): State<AppState>,
    actor: crate::auth::Actor,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    if !floorplan::remove(&state.db, &actor, id).await? {
        return Err(DomainError::not_found(format!("location {id} has no floor plan")).into());
    }
    Ok(ok(json!({"locationid": id, "deleted": true})))
}
