//! The state every handler receives.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;

use axum::http::Method;

use crate::api::access::{Access, RouteInfo};
use crate::config::Config;
use crate::db::Db;
use crate::plugin::context::PluginContext;
use crate::plugin::loaded::{LoadedPlugin, Registry};
use crate::plugin::states::PluginStates;
use crate::resource::Resource;
use crate::schema::Table;

/// Shared, read-only after start-up; cloning is cheap.
#[derive(Clone)]
pub struct AppState(Arc<StateInner>);

pub struct StateInner {
    /// The database pool and its dialect.
    pub db: Db,
    /// Configuration read at start-up.
    pub config: Config,
    /// Key that signs login tokens (SECRET_KEY, or a development key kept in the database).
    pub signing_key: Vec<u8>,
    /// Tables served by the generic CRUD, by URL segment.
    pub resources: HashMap<String, Arc<Resource>>,
    /// Every table the server knows (core and plugins), for reference checks on delete.
    pub tables: Vec<Table>,
    /// Who may call each route, by method and path pattern.
    pub access: HashMap<(Method, String), (Access, Option<String>)>,
    /// Every route, for the OpenAPI document and `shopdb routes`.
    pub routes: Vec<RouteInfo>,
    /// Plugins that passed the loader, and the quarantined ones with their reasons.
    pub registry: Arc<Registry>,
    /// Which plugins are enabled, refreshed from the database every few seconds.
    pub plugin_states: Arc<PluginStates>,
    /// What write hooks see (services, tables and their owners, plugin states); also for
    /// plugin handlers that need the same.
    pub hook_env: Arc<crate::resource::HookEnv>,
    /// Credentials verified in the last second.
    pub verified: crate::auth::session::VerifiedCache,
    /// Rebuilds what the server serves after this process installed or removed a plugin.
    pub reloader: Arc<Reloader>,
}

type Reload =
    Box<dyn Fn() -> futures_util::future::BoxFuture<'static, Option<AppState>> + Send + Sync>;

/// How a handler asks for the served catalog to be rebuilt and swapped (a folder plugin
/// installed or uninstalled): set by whoever assembles the server; a no-op until then.
/// Other processes notice the same change by polling the database.
#[derive(Default)]
pub struct Reloader(std::sync::OnceLock<Reload>);

impl Reloader {
    /// Sets the rebuild; the first call wins.
    pub fn set(&self, reload: Reload) {
        let _ = self.0.set(reload);
    }

    /// Rebuilds and swaps; returns the new state once requests see it (None: nothing to
    /// rebuild, as in a command that serves no requests).
    pub async fn reload(&self) -> Option<AppState> {
        match self.0.get() {
            Some(reload) => reload().await,
            None => None,
        }
    }
}

impl AppState {
    pub fn new(inner: StateInner) -> AppState {
        AppState(Arc::new(inner))
    }

    /// Plugins that are loaded or quarantined but not enabled: their search entries,
    /// widgets and navigation items are hidden.
    pub async fn hidden_plugins(&self) -> Vec<String> {
        let enabled = self.plugin_states.enabled(&self.db).await;
        self.registry
            .loaded
            .iter()
            .map(|p| p.manifest.name.clone())
            .chain(self.registry.quarantined.iter().map(|q| q.name.clone()))
            .filter(|n| !enabled.contains(n))
            .collect()
    }

    /// Whether plugin `name` is enabled now (its routes, pages, widgets and search entries
    /// are served). The one check API routes, plugin pages and record pages share.
    pub async fn plugin_enabled(&self, name: &str) -> bool {
        self.plugin_states.enabled(&self.db).await.contains(name)
    }

    /// Loaded plugins that are enabled now, in dependency order.
    pub async fn enabled_plugins(&self) -> Vec<&LoadedPlugin> {
        let enabled = self.plugin_states.enabled(&self.db).await;
        self.registry
            .loaded
            .iter()
            .filter(|p| enabled.contains(&p.manifest.name))
            .collect()
    }

    /// The hook context of a loaded plugin (its settings, services and the database), for
    /// plugin route handlers.
    pub fn plugin_context(&self, name: &str) -> Option<PluginContext> {
        self.registry
            .get(name)
            .map(|p| crate::plugin::lifecycle::context(&self.db, &self.registry, p))
    }

    /// The resource served at `/api/<path>` (`assets`, `computers`, `network/subnets`), for
    /// work on any resource by name (import, export): a 404 naming the known ones when there
    /// is none, or when the plugin that owns it is not enabled.
    pub async fn enabled_resource(
        &self,
        path: &str,
    ) -> Result<Arc<Resource>, crate::error::DomainError> {
        let path = path.trim_matches('/');
        let enabled = self.plugin_states.enabled(&self.db).await;
        let owner = |res: &Resource| {
            self.registry
                .loaded
                .iter()
                .find(|p| p.resources.iter().any(|r| r.path == res.path))
                .map(|p| p.manifest.name.clone())
        };
        if let Some(res) = self.resources.get(path) {
            match owner(res) {
                Some(plugin) if !enabled.contains(&plugin) => {
                    return Err(crate::error::DomainError::not_found(format!(
                        "{path} belongs to plugin {plugin}, which is not enabled"
                    )));
                }
                _ => return Ok(res.clone()),
            }
        }
        let mut known: Vec<&str> = self
            .resources
            .values()
            .filter(|r| owner(r).is_none_or(|p| enabled.contains(&p)))
            .map(|r| r.path.as_str())
            .collect();
        known.sort_unstable();
        Err(crate::error::DomainError::not_found(format!(
            "no resource {path}; there are: {}",
            known.join(", ")
        )))
    }

    /// Every resource, core and plugin.
    pub fn all_resources(&self) -> Vec<Arc<Resource>> {
        self.resources.values().cloned().collect()
    }

    pub fn resource(&self, path: &str) -> Arc<Resource> {
        self.resources
            .get(path)
            .cloned()
            .unwrap_or_else(|| panic!("resource {path} is registered at start-up"))
    }
}

impl Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}
