//! Plugin administration and what enabled plugins contribute: navigation and dashboard.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::envelope::{ApiResult, ok};
use crate::error::DomainError;
use crate::http::query_pairs;
use crate::plugin::folder::pack;
use crate::plugin::lifecycle::{self, LifecycleAction};
use crate::services::plugins::{
    collector_of, install_packed, loaded_plugin, perform, save_setting, setting_list, widgets,
};
use crate::state::AppState;

/// GET /api/plugins
pub async fn list(State(state): State<AppState>) -> ApiResult<Response> {
    Ok(ok(json!(
        lifecycle::list(&state.db, &state.registry).await?
    )))
}

/// POST /api/plugins/{name}/{action} — install, enable, disable, uninstall (`?keep_data=true`).
pub async fn action(
    State(state): State<AppState>,
    actor: crate::auth::Actor,
    Path((name, action)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let mut keep_data = false;
    for (k, v) in query_pairs(q.as_deref()) {
        match (k.as_str(), v.as_str()) {
            ("keep_data", "true") => keep_data = true,
            ("keep_data", "false") => keep_data = false,
            ("keep_data", _) => {
                return Err(DomainError::bad_request(format!(
                    "keep_data must be true or false, not '{v}'"
                ))
                .into());
            }
            _ => {
                return Err(DomainError::bad_request(format!(
                    "unknown parameter '{k}': only keep_data"
                ))
                .into());
            }
        }
    }
    let action: LifecycleAction = action.parse().map_err(DomainError::not_found)?;
    Ok(ok(perform(&state, &actor, &name, action, keep_data).await?))
}

/// POST /api/plugins/upload — a packed folder plugin (the file `shopdb plugin pack` writes)
/// as the body: checked, unpacked into the plugin folder and installed.
pub async fn upload(
    State(state): State<AppState>,
    actor: crate::auth::Actor,
    body: axum::body::Body,
) -> ApiResult<Response> {
    let bytes = axum::body::to_bytes(body, pack::MAX_PACKED)
        .await
        .map_err(|_| DomainError::too_large())?;
    Ok(ok(install_packed(&state, &actor, &bytes).await?))
}

/// GET /api/plugins/model.schema.json: the JSON Schema of a folder plugin's model.toml.
pub async fn model_schema() -> Response {
    let mut response = crate::plugin::folder::MODEL_SCHEMA.into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/schema+json"),
    );
    response
}

/// GET /api/navigation — items of enabled plugins, by position.
pub async fn navigation(State(state): State<AppState>) -> ApiResult<Response> {
    Ok(ok(Value::Array(
        crate::services::plugins::navigation(&state).await,
    )))
}

/// GET /api/dashboard — widgets of enabled plugins with their data; a widget whose data
/// fails carries its error, the others answer as usual.
pub async fn dashboard(State(state): State<AppState>) -> ApiResult<Response> {
    Ok(ok(Value::Array(widgets(&state).await)))
}

/// POST /api/collector/{plugin} — one record or {"records": [...]}; results per record.
pub async fn collect(
    state: AppState,
    plugin: String,
    actor: crate::auth::Actor,
    body: crate::http::RawJson,
) -> ApiResult<Response> {
    let loaded = loaded_plugin(&state, &plugin)?;
    let schema = collector_of(loaded)?;
    let resource = collector_resource(loaded, &schema).ok_or_else(|| {
        DomainError::internal(format!(
            "plugin {plugin} has a collector schema but no asset resource"
        ))
    })?;
    // Parsed only once it is this batch's turn (see `Db::batch_place`).
    let _place = state.db.batch_place().await;
    let records = crate::collector::records_of(body.parse()?)?;
    drop(body);
    let results = crate::collector::ingest(&state.db, &actor, &resource, &schema, &records).await?;
    let count = |s: &str| results.iter().filter(|r| r["status"] == s).count();
    if count("created") > 0 {
        // A first push can fill a plugin's table in one go: let the planner learn its size
        // now rather than at the next periodic check (cheap when nothing changed).
        state.db.refresh_statistics_soon();
    }
    Ok(ok(json!({
        "created": count("created"),
        "updated": count("updated"),
        "unchanged": count("unchanged"),
        "rejected": count("rejected"),
        "results": results,
    })))
}

fn collector_resource(
    loaded: &crate::plugin::LoadedPlugin,
    schema: &crate::plugin::CollectorSchema,
) -> Option<std::sync::Arc<crate::resource::Resource>> {
    loaded
        .resources
        .iter()
        .find(|r| match &schema.resource {
            Some(path) => &r.path == path,
            None => r.extension.is_some(),
        })
        .cloned()
}

/// GET /api/collector/{plugin}/schema
pub async fn collector_schema(state: AppState, plugin: String) -> ApiResult<Response> {
    let loaded = loaded_plugin(&state, &plugin)?;
    let schema = collector_of(loaded)?;
    Ok(ok(crate::collector::json_schema(&plugin, &schema)))
}

/// GET /api/settings — every plugin's declared settings with their current values (a secret
/// one, whose key names a key, secret, token or password, reads `(hidden)` once set).
pub async fn settings(State(state): State<AppState>) -> ApiResult<Response> {
    Ok(ok(Value::Array(setting_list(&state).await?)))
}

/// PUT /api/settings/{plugin}/{key} {"value": …} — typed against the declaration.
pub async fn put_setting(
    State(state): State<AppState>,
    actor: crate::auth::Actor,
    Path((plugin, key)): Path<(String, String)>,
    crate::http::JsonBody(body): crate::http::JsonBody,
) -> ApiResult<Response> {
    if let Some(extra) = body.keys().find(|k| *k != "value") {
        return Err(DomainError::field(extra, "unknown field: send {\"value\": …}").into());
    }
    let value = body
        .get("value")
        .cloned()
        .ok_or_else(|| DomainError::field("value", "is required"))?;
    Ok(ok(save_setting(&state, &actor, &plugin, &key, value).await?))
}
