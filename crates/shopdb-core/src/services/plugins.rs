//! Plugins as the API and the web pages both use them: lifecycle actions, uploads of packed
//! folder plugins, navigation, dashboard widgets and settings. HTTP handlers (`api::plugins`)
//! and page handlers (`shopdb-web`) parse their requests and call these.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::auth::Actor;
use crate::error::{DomainError, ErrorKind};
use crate::plugin::folder::pack;
use crate::plugin::lifecycle::{self, LifecycleAction, LifecycleError, PluginState};
use crate::plugin::{CollectorSchema, LoadedPlugin};
use crate::state::AppState;

/// Where uninstall writes the backup of a plugin's rows.
pub fn backup_dir() -> PathBuf {
    PathBuf::from("data").join("backups")
}

fn lifecycle_error(e: LifecycleError) -> DomainError {
    match e {
        LifecycleError::Database(e) => e.into(),
        other => {
            let kind = other.kind();
            if kind.is_server() {
                DomainError::internal(other)
            } else {
                let code = if kind == ErrorKind::NotFound {
                    "not_found"
                } else {
                    "conflict"
                };
                DomainError::new(kind, code, other.to_string())
            }
        }
    }
}

/// Runs a lifecycle action (install, enable, disable, uninstall) for the API and the admin
/// page alike; answers what happened (for uninstall, the backup file).
pub async fn perform(
    state: &AppState,
    actor: &Actor,
    name: &str,
    action: LifecycleAction,
    keep_data: bool,
) -> Result<Value, DomainError> {
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

/// Checks, unpacks and installs a packed folder plugin (upload on the API or the admin page).
pub async fn install_packed(
    state: &AppState,
    actor: &Actor,
    bytes: &[u8],
) -> Result<Value, DomainError> {
    let (name, plugin) = pack::unpack(bytes).map_err(|e| match e {
        pack::PackError::TooLarge(_) => DomainError::too_large(),
        pack::PackError::Invalid(_) => DomainError::new(
            crate::error::ErrorKind::Invalid,
            "invalid_plugin",
            e.to_string(),
        ),
        // What the body holds is not a packed plugin: the field-level 422 a request with a
        // well-formed but unusable file gets (like a floor plan that is not an image).
        other => DomainError::field("file", other.to_string()),
    })?;
    if lifecycle::installed(&state.db).await?.contains_key(&name) {
        return Err(DomainError::conflict(format!(
            "plugin {name} is already installed: uninstall it first to install this file"
        )));
    }
    if state
        .registry
        .get(&name)
        .is_some_and(|p| p.plugin.folder().is_none())
    {
        return Err(DomainError::conflict(format!(
            "{name} is a plugin built into this server: choose another name"
        )));
    }
    pack::write_folder(&state.config.plugin_dir, &name, plugin.sources())
        .map_err(|e| DomainError::conflict(format!("{e:#}")))?;
    let fresh = state
        .reloader
        .reload()
        .await
        .unwrap_or_else(|| state.clone());
    perform(&fresh, actor, &name, LifecycleAction::Install, false).await
}

/// The enabled plugins' navigation items, by position, each naming its plugin: the same list
/// for `GET /api/navigation` and the menu of every page.
pub async fn navigation(state: &AppState) -> Vec<Value> {
    let mut items: Vec<Value> = Vec::new();
    for p in state.enabled_plugins().await {
        for item in &p.navigation {
            let mut v = json!(item);
            v["plugin"] = json!(p.manifest.name);
            items.push(v);
        }
    }
    items.sort_by_key(|v| v["position"].as_i64().unwrap_or_default());
    items
}

/// The enabled plugins' widgets with their data, by position, for the API and the dashboard
/// page. A widget whose data fails carries `error` naming its plugin instead of `data`.
pub async fn widgets(state: &AppState) -> Vec<Value> {
    let mut widgets: Vec<Value> = Vec::new();
    for p in state.enabled_plugins().await {
        let ctx = lifecycle::context(&state.db, &state.registry, p);
        for widget in &p.widgets {
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

/// Every plugin's declared settings with their current values; a secret one reads
/// `(hidden)` once set. For the API and the admin page.
pub async fn setting_list(state: &AppState) -> Result<Vec<Value>, DomainError> {
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

/// Checks `value` against the plugin's declaration of `key` and stores it, audited as `actor`
/// (a wrong type is a 422 on `value`); answers what is now shown for it.
pub async fn save_setting(
    state: &AppState,
    actor: &Actor,
    plugin: &str,
    key: &str,
    value: Value,
) -> Result<Value, DomainError> {
    let loaded = loaded_plugin(state, plugin)?;
    let def = loaded
        .settings
        .iter()
        .find(|d| d.key == key)
        .ok_or_else(|| DomainError::not_found(format!("plugin {plugin} has no setting '{key}'")))?;
    crate::plugin::registry::check_setting(def, &value)
        .and_then(|()| loaded.plugin.check_setting(key, &value))
        .map_err(|m| DomainError::field("value", m))?;
    crate::settings::set_setting_as(&state.db, actor, plugin, key, &value.to_string()).await?;
    let value = crate::settings::shown_value(key, value, &def.default);
    Ok(json!({"plugin": plugin, "key": key, "value": value}))
}

pub fn loaded_plugin<'a>(state: &'a AppState, name: &str) -> Result<&'a LoadedPlugin, DomainError> {
    state
        .registry
        .get(name)
        .ok_or_else(|| DomainError::not_found(format!("no plugin {name}")))
}

pub fn collector_of(loaded: &LoadedPlugin) -> Result<CollectorSchema, DomainError> {
    loaded.plugin.collector_schema().ok_or_else(|| {
        DomainError::not_found(format!("plugin {} has no collector", loaded.manifest.name))
    })
}
