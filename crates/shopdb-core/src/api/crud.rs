//! Handlers shared by every table served through the generic engine.

use std::sync::Arc;

use axum::response::Response;
use serde_json::{Value, json};

use super::parse_id;
use crate::auth::Actor;
use crate::envelope::{ApiResult, created, ok, page_raw};
use crate::http::ListParams;
use crate::resource::Resource;
use crate::state::AppState;

pub async fn list(
    res: Arc<Resource>,
    state: AppState,
    query: Option<String>,
) -> ApiResult<Response> {
    let params = ListParams::parse(query.as_deref())?;
    let (data, total) = res.list_json(&state.db, &params).await?;
    Ok(page_raw(&data, params.page, params.per_page, total))
}

pub async fn get(res: Arc<Resource>, state: AppState, id: String) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    Ok(ok(Value::Object(res.get(&state.db, id).await?)))
}

pub async fn create(
    res: Arc<Resource>,
    state: AppState,
    actor: Actor,
    body: serde_json::Map<String, Value>,
) -> ApiResult<Response> {
    Ok(created(Value::Object(
        res.create(&state.db, &actor, &body).await?,
    )))
}

pub async fn update(
    res: Arc<Resource>,
    state: AppState,
    actor: Actor,
    id: String,
    body: serde_json::Map<String, Value>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    Ok(ok(Value::Object(
        res.update(&state.db, &actor, id, &body).await?,
    )))
}

pub async fn delete(
    res: Arc<Resource>,
    state: AppState,
    actor: Actor,
    id: String,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    res.delete(&state.db, &actor, id, &state.tables).await?;
    Ok(ok(json!({"deleted": id})))
}
