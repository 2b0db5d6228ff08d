//! Assembling the server: open the database, bring the schema up to date, build the router.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use shopdb_core::api::{self, routes::collector_routes, routes::core_routes, routes::crud_routes};
use shopdb_core::catalog::core_resources;
use shopdb_core::config::Config;
use shopdb_core::core_schema::{core_chain, core_tables};
use shopdb_core::db::Db;
use shopdb_core::migrate;
use shopdb_core::plugin::Registry;
use shopdb_core::plugin::registry::Candidate;
use shopdb_core::plugin::states::PluginStates;
use shopdb_core::resource::{HookEnv, Resource};
use shopdb_core::settings::{add_setting, get_setting};
use shopdb_core::state::{AppState, StateInner};
use shopdb_core::util::random_token;

use crate::progress::Progress;

/// A ready server: its state and its router.
pub struct App {
    pub state: AppState,
    pub router: Router,
}

/// Opens the database named by the configuration.
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    Ok(Db::connect(&config.database_url).await?)
}

/// Applies every pending core migration; returns what ran.
pub async fn upgrade(db: &Db) -> anyhow::Result<Vec<(String, i64, String)>> {
    let chain = core_chain();
    let ran = migrate::upgrade(db, &chain).await?;
    // MySQL's search lookups need the word endings of entries written before core 5.
    let filled = shopdb_core::search::backfill_suffixes(db).await?;
    if filled > 0 {
        tracing::info!(
            entries = filled,
            "search: word endings stored for existing entries"
        );
    }
    Ok(ran
        .into_iter()
        .map(|(v, n)| (chain.name.clone(), v, n))
        .collect())
}

/// SECRET_KEY when set; otherwise (development only) a random key kept in the settings table,
/// so restarts and several processes on one database accept each other's logins.
async fn signing_key(db: &Db, config: &Config) -> anyhow::Result<Vec<u8>> {
    if !config.secret_key.is_empty() {
        return Ok(config.secret_key.expose().as_bytes().to_vec());
    }
    if let Some(key) = get_setting(db, "core", "developmentsigningkey").await? {
        return Ok(key.into_bytes());
    }
    tracing::warn!("SECRET_KEY is not set: using a development signing key stored in the database");
    let key = random_token(32);
    // Two processes starting together race here: only the first insert stores its key (the
    // other's is refused, never written over it), and both then use the stored key.
    // A writer that lost the race may be told the database is busy instead: it tries again
    // until its insert is either stored or refused, then reads the stored key.
    for attempt in 1..=20 {
        match add_setting(db, "core", "developmentsigningkey", &key, "system").await {
            Ok(true) => break,
            Ok(false) => {
                tracing::debug!("another process stored the development key first");
                break;
            }
            Err(e) if attempt < 20 => {
                tracing::debug!(error = %e, "storing the development key; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e).context("cannot store the development signing key"),
        }
    }
    Ok(get_setting(db, "core", "developmentsigningkey")
        .await?
        .unwrap_or(key)
        .into_bytes())
}

/// Builds the application on an opened, migrated database with the given plugins.
pub async fn build_with(config: Config, db: Db, plugins: Vec<Candidate>) -> anyhow::Result<App> {
    let key = signing_key(&db, &config)
        .await
        .context("cannot read the signing key")?;
    let resources: Vec<Arc<Resource>> = core_resources().into_iter().map(Arc::new).collect();
    let mut routes = core_routes(&resources);
    let core_prefixes: Vec<String> = routes
        .iter()
        .map(|r| first_segments(&r.info.path))
        .collect();
    let prefixes: Vec<&str> = core_prefixes.iter().map(String::as_str).collect();
    let registry = Registry::load(plugins, &core_tables(), &prefixes);
    for p in &registry.loaded {
        let name = p.manifest.name.clone();
        let mut contributed = p.plugin.routes();
        p.plugin.init(&mut contributed);
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
    let plugin_states = Arc::new(PluginStates::default());
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
    });
    for r in all_resources.values() {
        r.hooks.bind(hook_env.clone());
    }
    let state = AppState::new(StateInner {
        db,
        config,
        signing_key: key,
        resources: all_resources,
        tables,
        access,
        routes: infos,
        registry: Arc::new(registry),
        plugin_states,
        hook_env,
        verified: Default::default(),
    });
    let https = state.config.cookie_secure;
    let router = api::router(state.clone(), routes)
        .merge(shopdb_web::router(state.clone()))
        .layer(axum::middleware::from_fn(move |req, next| {
            shopdb_core::security::add_headers(https, req, next)
        }));
    Ok(App { state, router })
}

/// `/api/assets/{id}` → `/api/assets`: the prefix a core route occupies.
fn first_segments(path: &str) -> String {
    path.split('/').take(3).collect::<Vec<_>>().join("/")
}

/// The loader's verdict on the bundled plugins, without building a server.
pub fn registry() -> Registry {
    Registry::load(crate::plugins::bundled(), &core_tables(), &[])
}

/// Builds the application with the bundled plugins.
pub async fn build(config: Config, db: Db) -> anyhow::Result<App> {
    build_with(config, db, crate::plugins::bundled()).await
}

/// Opens, migrates and builds: what `shopdb serve` does before listening.
pub async fn start(config: Config) -> anyhow::Result<App> {
    start_with(config, crate::plugins::bundled()).await
}

/// Like `start`, with an explicit plugin list (tests use their own plugins).
pub async fn start_with(config: Config, plugins: Vec<Candidate>) -> anyhow::Result<App> {
    let db = open_database(&config).await?;
    upgrade(&db).await?;
    let app = build_with(config, db, plugins).await?;
    // Installed plugins' pending migrations too; a failure is reported, the site still starts.
    for (name, outcome) in
        shopdb_core::plugin::lifecycle::upgrade_all(&app.state.db, &app.state.registry).await?
    {
        match outcome {
            Ok(ran) if !ran.is_empty() => {
                tracing::info!(plugin = %name, "applied {} migration(s)", ran.len())
            }
            Ok(_) => {}
            Err(e) => tracing::error!(plugin = %name, "migration failed: {e}"),
        }
    }
    Ok(app)
}

/// Rebuilds the search index from the records of the core and every installed plugin;
/// returns how many records were indexed. Each resource done is counted on `progress`.
pub async fn reindex_search(state: &AppState, progress: &Progress) -> anyhow::Result<usize> {
    let installed = shopdb_core::plugin::lifecycle::installed(&state.db).await?;
    state
        .db
        .query("DELETE FROM searchindex")
        .execute(state.db.pool())
        .await?;
    let mut resources: Vec<&Arc<Resource>> = state.resources.values().collect();
    resources.sort_by_key(|r| (r.extension.is_some(), r.path.clone()));
    let mut total = 0;
    for res in resources {
        let owner = state
            .registry
            .loaded
            .iter()
            .find(|p| p.resources.iter().any(|r| r.path == res.path));
        if owner.is_some_and(|p| !installed.contains_key(&p.manifest.name)) {
            continue;
        }
        progress.stage(&res.path);
        let done = res
            .reindex_all(&state.db)
            .await
            .with_context(|| format!("cannot reindex {}", res.path))?;
        progress.add(done as u64);
        total += done;
    }
    Ok(total)
}
