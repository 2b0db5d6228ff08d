//! Assembling the server: open the database, bring the schema up to date, build the router.

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use shopdb_core::config::Config;
use shopdb_core::core_schema::{core_chain, core_tables};
use shopdb_core::db::Db;
use shopdb_core::migrate;
use shopdb_core::plugin::Registry;
use shopdb_core::plugin::registry::Candidate;
use shopdb_core::resource::Resource;
use shopdb_core::settings::{add_setting, get_setting};
use shopdb_core::state::AppState;
use shopdb_core::util::random_token;

use crate::progress::Progress;

/// A ready server: the state and router requests see now, and the router to serve, which
/// hands each request to the current one.
pub struct App {
    /// The state as it was built at start (commands and tests read it); after a folder
    /// plugin is installed or removed, [`App::current`] has the rebuilt one.
    pub state: AppState,
    /// Serves every request with the catalog current when it arrives.
    pub router: Router,
    live: Arc<crate::live::Live>,
}

impl App {
    /// The state requests are served with now.
    pub fn current(&self) -> AppState {
        self.live.current().state.clone()
    }

    /// Rebuilds the catalog now if the installed folder plugins or the plugin folder changed
    /// (what the background poll does every two seconds).
    pub async fn refresh(&self) {
        self.live.refresh(false).await;
    }
}

/// Opens the database named by the configuration.
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    Ok(Db::connect(&config.database_url).await?)
}

/// Applies every pending core migration; returns what ran.
pub async fn upgrade(db: &Db) -> anyhow::Result<Vec<(String, i64, String)>> {
    let chain = core_chain();
    let ran = migrate::upgrade(db, &chain).await?;
    // MySQL's search lookups need the word endings of entries written before core 5 or
    // rewritten by a migration.
    let filled = shopdb_core::search::backfill_suffixes(db, !ran.is_empty()).await?;
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

/// Builds the application on an opened, migrated database with the given plugins (and the
/// folder plugins installed in the database or found in the plugin folder). A background
/// task notices folder plugins installed or removed by any process and swaps the catalog.
pub async fn build_with(config: Config, db: Db, plugins: Vec<Candidate>) -> anyhow::Result<App> {
    let key = signing_key(&db, &config)
        .await
        .context("cannot read the signing key")?;
    let live = crate::live::Live::start(config, db, key, plugins).await?;
    let served = live.current();
    let router = crate::live::router(&live);
    Ok(App {
        state: served.state.clone(),
        router,
        live,
    })
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

/// Opens, migrates the core and builds, leaving plugin migrations to the caller: what the
/// `shopdb plugin …` commands use, so that `plugin migrate NAME --plan` sees the steps an
/// upgrade would run instead of finding them already run.
pub async fn start_without_plugin_migrations(config: Config) -> anyhow::Result<App> {
    let db = open_database(&config).await?;
    upgrade(&db).await?;
    build_with(config, db, crate::plugins::bundled()).await
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
            Ok(m) => {
                if !m.ran.is_empty() {
                    tracing::info!(plugin = %name, "applied {} migration(s)", m.ran.len())
                }
                if !m.waiting.is_empty() {
                    tracing::warn!(plugin = %name, "declared model steps wait for `shopdb plugin migrate {name}`: {}", m.waiting.join(", "))
                }
            }
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
