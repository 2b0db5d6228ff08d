//! Plugin administration and what enabled plugins contribute: navigation and dashboard.

use std::path::PathBuf;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult, ok};
use crate::http::query_pairs;
use crate::plugin::folder::pack;
use crate::plugin::lifecycle::{self, LifecycleAction, LifecycleError, PluginState};
use crate::state::AppState;

/// Where uninstall writes the backup of a plugin's rows.
pub fn backup_dir() -> PathBuf {
    PathBuf::from("data").join("backups")
}

fn lifecycle_error(e: LifecycleError) -> ApiError {
    match e {
        LifecycleError::Database(e) => e.into(),
        other => {
            let status = other.status();
            if status.is_server_error() {
                ApiError::internal(other)
            } else {
                let code = if status == axum::http::StatusCode::NOT_FOUND {
                    "not_found"
                } else {
                    "conflict"
                };
                ApiError::new(status, code, other.to_string())
            }
        }
    }
}

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
                return Err(ApiError::bad_request(format!(
                    "keep_data must be true or false, not '{v}'"
                )));
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter '{k}': only keep_data"
                )));
            }
        }
    }
    let action: LifecycleAction = action.parse().map_err(ApiError::not_found)?;
    Ok(ok(perform(&state, &actor, &name, action, keep_data).await?))
}

/// Runs a lifecycle action (install, enable, disable, uninstall) for the API and the admin
/// page alike; answers what happened (for uninstall, the backup file).
pub async fn perform(
    state: &AppState,
    actor: &crate::auth::Actor,
    name: &str,
    action: LifecycleAction,
    keep_data: bool,
) -> Result<Value, ApiError> {
    let db = &state.db;
    let registry = &state.registry;
    let data = match action {
        LifecycleAction::Install => {
            let ran = lifecycle::install(db, registry, actor, name)
                .await
                .map_err(lifecycle_error)?;
            json!({"plugin": name, "state": PluginState::Enabled, "migrations": ran})
        }
        LifecycleAction::Enable | LifecycleAction::Disable => {
            let enable = action == LifecycleAction::Enable;
            lifecycle::set_enabled(db, registry, actor, name, enable)
                .await
                .map_err(lifecycle_error)?;
            let now = if enable {
                PluginState::Enabled
            } else {
                PluginState::Disabled
            };
            json!({"plugin": name, "state": now})
        }
        LifecycleAction::Uninstall => {
            let done = lifecycle::uninstall(db, registry, actor, name, keep_data, &backup_dir())
                .await
                .map_err(lifecycle_error)?;
            json!({"plugin": name, "state": PluginState::Available, "backup": done.backup, "rows": done.rows})
        }
    };
    state.plugin_states.invalidate();
    // A folder plugin installed or removed changes what is served: swap before answering, so
    // the caller's next request finds it.
    let folder = registry
        .get(name)
        .is_some_and(|p| p.plugin.folder().is_some());
    if folder
        && matches!(
            action,
            LifecycleAction::Install | LifecycleAction::Uninstall
        )
    {
        state.reloader.reload().await;
    }
    Ok(data)
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
        .map_err(|_| ApiError::too_large())?;
    Ok(ok(install_packed(&state, &actor, &bytes).await?))
}

/// Checks, unpacks and installs a packed folder plugin (upload on the API or the admin page).
pub async fn install_packed(
    state: &AppState,
    actor: &crate::auth::Actor,
    bytes: &[u8],
) -> Result<Value, ApiError> {
    let (name, plugin) = pack::unpack(bytes).map_err(|e| match e {
        pack::PackError::TooLarge(_) => ApiError::too_large(),
        pack::PackError::Invalid(_) => ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_plugin",
            e.to_string(),
        ),
        // What the body holds is not a packed plugin: the field-level 422 a request with a
        // well-formed but unusable file gets (like a floor plan that is not an image).
        other => ApiError::field("file", other.to_string()),
    })?;
    if lifecycle::installed(&state.db).await?.contains_key(&name) {
        return Err(ApiError::conflict(format!(
            "plugin {name} is already installed: uninstall it first to install this file"
        )));
    }
    if state
        .registry
        .get(&name)
        .is_some_and(|p| p.plugin.folder().is_none())
    {
        return Err(ApiError::conflict(format!(
            "{name} is a plugin built into this server: choose another name"
        )));
    }
    pack::write_folder(&state.config.plugin_dir, &name, plugin.sources())
        .map_err(|e| ApiError::conflict(format!("{e:#}")))?;
    let fresh = state
        .reloader
        .reload()
        .await
        .unwrap_or_else(|| state.clone());
    perform(&fresh, actor, &name, LifecycleAction::Install, false).await
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
    let mut items: Vec<Value> = Vec::new();
    for p in state.enabled_plugins().await {
        for item in p.plugin.navigation_items() {
            let mut v = json!(item);
            v["plugin"] = json!(p.manifest.name);
            items.push(v);
        }
    }
    items.sort_by_key(|v| v["position"].as_i64().unwrap_or_default());
    Ok(ok(Value::Array(items)))
}

/// GET /api/dashboard — widgets of enabled plugins with their data; a widget whose data
/// fails carries its error, the others answer as usual.
pub async fn dashboard(State(state): State<AppState>) -> ApiResult<Response> {
    Ok(ok(Value::Array(widgets(&state).await)))
}

/// The enabled plugins' widgets with their data, by position, for the API and the dashboard
/// page. A widget whose data fails carries `error` naming its plugin instead of `data`.
pub async fn widgets(state: &AppState) -> Vec<Value> {
    let mut widgets: Vec<Value> = Vec::new();
    for p in state.enabled_plugins().await {
        let ctx = lifecycle::context(&state.db, &state.registry, p);
        for widget in p.plugin.dashboard_widgets() {
            let mut v = json!(widget);
            v["plugin"] = json!(p.manifest.name);
            match p.plugin.widget_data(&widget.name, &ctx).await {
                Ok(data) => {
                    v["data"] = data;
                    v["error"] = Value::Null;
                }
                Err(e) => {
                    tracing::error!(plugin = %p.manifest.name, widget = %widget.name, error = %format!("{e:#}"), "widget failed");
                    v["data"] = Value::Null;
                    v["error"] = json!(format!(
                        "the {} widget of the {} plugin could not load its data",
                        widget.name, p.manifest.name
                    ));
                }
            }
            widgets.push(v);
        }
    }
    widgets.sort_by_key(|v| v["position"].as_i64().unwrap_or_default());
    widgets
}

/// POST /api/collector/{plugin} — one record or {"records": [...]}; results per record.
pub async fn collect(
    state: AppState,
    plugin: String,
    actor: crate::auth::Actor,
    body: Value,
) -> ApiResult<Response> {
    let loaded = loaded_plugin(&state, &plugin)?;
    let schema = collector_of(loaded)?;
    let resource = collector_resource(loaded, &schema).ok_or_else(|| {
        ApiError::internal(format!(
            "plugin {plugin} has a collector schema but no asset resource"
        ))
    })?;
    let records = crate::collector::records_of(body)?;
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

/// Every plugin's declared settings with their current values; a secret one reads
/// `(hidden)` once set. For the API and the admin page.
pub async fn setting_list(state: &AppState) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    for p in &state.registry.loaded {
        let ctx = lifecycle::context(&state.db, &state.registry, p);
        for def in p.settings.iter() {
            let value =
                crate::settings::shown_value(&def.key, ctx.setting(&def.key).await?, &def.default);
            let secret = crate::settings::is_secret(&def.key);
            out.push(json!({"plugin": p.manifest.name, "key": def.key, "type": def.kind, "default": def.default, "value": value, "secret": secret, "help": def.help}));
        }
    }
    Ok(out)
}

/// PUT /api/settings/{plugin}/{key} {"value": …} — typed against the declaration.
pub async fn put_setting(
    State(state): State<AppState>,
    actor: crate::auth::Actor,
    Path((plugin, key)): Path<(String, String)>,
    crate::http::JsonBody(body): crate::http::JsonBody,
) -> ApiResult<Response> {
    if let Some(extra) = body.keys().find(|k| *k != "value") {
        return Err(ApiError::field(extra, "unknown field: send {\"value\": …}"));
    }
    let value = body
        .get("value")
        .cloned()
        .ok_or_else(|| ApiError::field("value", "is required"))?;
    Ok(ok(save_setting(&state, &actor, &plugin, &key, value).await?))
}

/// Checks `value` against the plugin's declaration of `key` and stores it, audited as `actor`
/// (a wrong type is a 422 on `value`); answers what is now shown for it.
pub async fn save_setting(
    state: &AppState,
    actor: &crate::auth::Actor,
    plugin: &str,
    key: &str,
    value: Value,
) -> Result<Value, ApiError> {
    let loaded = loaded_plugin(state, plugin)?;
    let def = loaded
        .settings
        .iter()
        .find(|d| d.key == key)
        .ok_or_else(|| ApiError::not_found(format!("plugin {plugin} has no setting '{key}'")))?;
    crate::plugin::registry::check_setting(def, &value)
        .and_then(|()| loaded.plugin.check_setting(key, &value))
        .map_err(|m| ApiError::field("value", m))?;
    crate::settings::set_setting_as(&state.db, actor, plugin, key, &value.to_string()).await?;
    let value = crate::settings::shown_value(key, value, &def.default);
    Ok(json!({"plugin": plugin, "key": key, "value": value}))
}

fn loaded_plugin<'a>(
    state: &'a AppState,
    name: &str,
) -> ApiResult<&'a crate::plugin::LoadedPlugin> {
    state
        .registry
        .get(name)
        .ok_or_else(|| ApiError::not_found(format!("no plugin {name}")))
}

fn collector_of(loaded: &crate::plugin::LoadedPlugin) -> ApiResult<crate::plugin::CollectorSchema> {
    loaded.plugin.collector_schema().ok_or_else(|| {
        ApiError::not_found(format!("plugin {} has no collector", loaded.manifest.name))
    })
}
