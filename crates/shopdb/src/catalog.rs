//! One catalog: the state every handler gets and the router, built from the plugins (the
//! compiled-in ones and the folder plugins) and frozen. `live` swaps a new one in when folder
//! plugins change.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use shopdb_core::api::{self, routes::collector_routes, routes::core_routes, routes::crud_routes};
use shopdb_core::catalog::core_resources;
use shopdb_core::config::Config;
use shopdb_core::core_schema::core_tables;
use shopdb_core::db::Db;
use shopdb_core::plugin::Registry;
use shopdb_core::plugin::folder::{self, Owners};
use shopdb_core::plugin::registry::Candidate;
use shopdb_core::plugin::states::PluginStates;
use shopdb_core::resource::{HookEnv, Resource};
use shopdb_core::state::{AppState, Reloader, StateInner};

/// What a catalog is built from besides the plugins: kept for every rebuild.
pub struct Parts {
    pub config: Config,
    pub db: Db,
    pub signing_key: Vec<u8>,
    pub plugin_states: Arc<PluginStates>,
    pub reloader: Arc<Reloader>,
}

/// One frozen catalog: the state and router built from `plugins`.
pub fn assemble(parts: &Parts, mut plugins: Vec<Candidate>) -> (AppState, Router) {
    let resources: Vec<Arc<Resource>> = core_resources().into_iter().map(Arc::new).collect();
    let mut routes = core_routes(&resources);
    let core_prefixes: Vec<String> = routes
        .iter()
        .map(|r| first_segments(&r.info.path))
        .collect();
    for (i, problems) in folder_conflicts(&plugins, &core_prefixes) {
        let name = plugins[i]
            .as_ref()
            .map(|p| p.manifest().name.clone())
            .unwrap_or_default();
        plugins[i] = Err(folder::as_error(&name, &problems));
    }
    let prefixes: Vec<&str> = core_prefixes.iter().map(String::as_str).collect();
    let (registry, mut plugin_routes) =
        Registry::load_with_routes(plugins, &core_tables(), &prefixes);
    for p in &registry.loaded {
        let name = p.manifest.name.clone();
        let mut contributed = plugin_routes.remove(&name).unwrap_or_default();
        for res in &p.resources {
            contributed.extend(crud_routes(res));
        }
        if let Some(schema) = p.plugin.collector_schema() {
            contributed.extend(collector_routes(&name, &schema));
        }
        routes.extend(contributed.into_iter().map(|r| r.plugin(&name)));
    }
    let plugin_names: Vec<String> = registry
        .loaded
        .iter()
        .map(|p| p.manifest.name.clone())
        .collect();
    shopdb_core::api::routes::name_plugins(&mut routes, &plugin_names);
    let access = routes
        .iter()
        .map(|r| {
            (
                (r.info.method.clone(), r.info.path.clone()),
                (r.info.access, r.info.plugin.clone()),
            )
        })
        .collect::<HashMap<_, _>>();
    let infos = routes.iter().map(|r| r.info.clone()).collect();
    let mut all_resources: HashMap<String, Arc<Resource>> = resources
        .iter()
        .map(|r| (r.path.clone(), r.clone()))
        .collect();
    for p in &registry.loaded {
        for r in &p.resources {
            all_resources.insert(r.path.clone(), r.clone());
        }
    }
    let mut tables = core_tables();
    tables.extend(registry.tables());
    let plugin_states = parts.plugin_states.clone();
    let hook_env = Arc::new(HookEnv {
        services: registry.services.clone(),
        tables: core_tables()
            .into_iter()
            .map(|t| (None, t))
            .chain(registry.loaded.iter().flat_map(|p| {
                p.tables
                    .iter()
                    .map(|t| (Some(p.manifest.name.clone()), t.clone()))
            }))
            .collect(),
        plugin_states: plugin_states.clone(),
        asset_delete_hooks: registry
            .loaded
            .iter()
            .flat_map(|p| {
                p.resources
                    .iter()
                    .filter(|r| r.extension.is_some() && !r.hooks.before_delete.is_empty())
                    .map(|r| (p.manifest.name.clone(), r.hooks.before_delete.clone()))
            })
            .collect(),
        relationships: all_resources
            .get("relationships")
            .map(Arc::downgrade)
            .unwrap_or_default(),
    });
    for r in all_resources.values() {
        r.hooks.bind(hook_env.clone());
    }
    let state = AppState::new(StateInner {
        db: parts.db.clone(),
        config: parts.config.clone(),
        signing_key: parts.signing_key.clone(),
        resources: all_resources,
        tables,
        access,
        routes: infos,
        registry: Arc::new(registry),
        plugin_states,
        hook_env,
        verified: Default::default(),
        reloader: parts.reloader.clone(),
    });
    let https = state.config.cookie_secure;
    let router = api::router(state.clone(), routes)
        .merge(shopdb_web::router(state.clone()))
        .layer(axum::middleware::from_fn(move |req, next| {
            shopdb_core::security::add_headers(https, req, next)
        }))
        .layer(axum::middleware::from_fn(
            shopdb_core::envelope::trace_requests,
        ));
    (state, router)
}

/// Folder plugins among `plugins` whose tables or route prefix the core or an earlier plugin
/// owns, by index, with the file and line of each clash (the loader would refuse them too,
/// without the line).
fn folder_conflicts(
    plugins: &[Candidate],
    core_prefixes: &[String],
) -> Vec<(usize, Vec<folder::Problem>)> {
    let mut owners = Owners {
        tables: core_tables()
            .into_iter()
            .map(|t| (t.name, "the core".to_string()))
            .collect(),
        prefixes: core_prefixes
            .iter()
            .map(|p| (p.clone(), "the core".to_string()))
            .collect(),
    };
    let mut found = Vec::new();
    for (i, candidate) in plugins.iter().enumerate() {
        let Ok(plugin) = candidate else { continue };
        if let Some(folder) = plugin.folder() {
            let problems = folder.conflicts(&owners);
            if !problems.is_empty() {
                found.push((i, problems));
                continue;
            }
        }
        let owner = format!("plugin {}", plugin.manifest().name);
        for t in plugin.models() {
            owners.tables.push((t.name, owner.clone()));
        }
        owners.prefixes.push((plugin.manifest().prefix(), owner));
    }
    found
}

/// The clashes of the last of `plugins` (a folder plugin being checked) with the core and
/// the plugins before it.
pub fn conflicts_of_last(plugins: &[Candidate]) -> Option<Vec<folder::Problem>> {
    let resources: Vec<Arc<Resource>> = core_resources().into_iter().map(Arc::new).collect();
    let prefixes: Vec<String> = core_routes(&resources)
        .iter()
        .map(|r| first_segments(&r.info.path))
        .collect();
    let last = plugins.len().checked_sub(1)?;
    folder_conflicts(plugins, &prefixes)
        .into_iter()
        .find(|(i, _)| *i == last)
        .map(|(_, p)| p)
}

/// `/api/assets/{id}` → `/api/assets`: the prefix a core route occupies.
fn first_segments(path: &str) -> String {
    path.split('/').take(3).collect::<Vec<_>>().join("/")
}
