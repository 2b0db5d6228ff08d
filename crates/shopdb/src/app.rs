//! Assembling the server: open the database, bring the schema up to date, build the router.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use shopdb_core::api::{self, routes::core_routes};
use shopdb_core::catalog::core_resources;
use shopdb_core::config::Config;
use shopdb_core::core_schema::{core_chain, core_tables};
use shopdb_core::db::Db;
use shopdb_core::migrate;
use shopdb_core::settings::{get_setting, set_setting};
use shopdb_core::state::{AppState, StateInner};
use shopdb_core::util::random_token;

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
    set_setting(db, "core", "developmentsigningkey", &key, "system").await?;
    // Another process may have stored its key first; everyone uses the stored one.
    Ok(get_setting(db, "core", "developmentsigningkey")
        .await?
        .unwrap_or(key)
        .into_bytes())
}

/// Builds the application on an opened, migrated database.
pub async fn build(config: Config, db: Db) -> anyhow::Result<App> {
    let key = signing_key(&db, &config)
        .await
        .context("cannot read the signing key")?;
    let resources: Vec<Arc<shopdb_core::resource::Resource>> =
        core_resources().into_iter().map(Arc::new).collect();
    let routes = core_routes(&resources);
    let access = routes
        .iter()
        .map(|r| ((r.info.method.clone(), r.info.path.clone()), r.info.access))
        .collect::<HashMap<_, _>>();
    let infos = routes.iter().map(|r| r.info.clone()).collect();
    let state = AppState::new(StateInner {
        db,
        config,
        signing_key: key,
        resources: resources
            .iter()
            .map(|r| (r.path.clone(), r.clone()))
            .collect(),
        tables: core_tables(),
        access,
        routes: infos,
    });
    let router = api::router(state.clone(), routes);
    Ok(App { state, router })
}

/// Opens, migrates and builds: what `shopdb serve` does before listening.
pub async fn start(config: Config) -> anyhow::Result<App> {
    let db = open_database(&config).await?;
    upgrade(&db).await?;
    build(config, db).await
}
