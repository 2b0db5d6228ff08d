//! The catalog a server serves, as one frozen snapshot (state and router) swapped whole when
//! folder plugins are installed or removed: by this process (at once) or by any other one on
//! the same database (noticed by a poll every two seconds). A request is served entirely by
//! the snapshot current when it arrived.

use std::sync::{Arc, RwLock, Weak};

use axum::Router;
use axum::extract::Request;
use shopdb_core::config::Config;
use shopdb_core::db::Db;
use shopdb_core::plugin::folder::{self, FolderPlugin, store};
use shopdb_core::plugin::registry::Candidate;
use shopdb_core::plugin::states::REFRESH;
use shopdb_core::state::AppState;
use tower::ServiceExt;

use crate::catalog::{Parts, assemble};

/// One built catalog.
pub struct Served {
    pub state: AppState,
    pub router: Router,
}

/// What the installed folder plugins and the plugin folder looked like at the last build.
type Fingerprint = (
    Vec<(String, String)>,
    Vec<(String, Option<std::time::SystemTime>)>,
);

pub struct Live {
    parts: Parts,
    /// The compiled-in plugins (or a test's), offered again at every build.
    rust: Vec<Candidate>,
    current: RwLock<Arc<Served>>,
    /// Held while a rebuild runs, with what it was built from.
    seen: tokio::sync::Mutex<Option<Fingerprint>>,
}

impl Live {
    /// Builds the first catalog, and starts the poll that keeps it current.
    pub async fn start(
        config: Config,
        db: Db,
        signing_key: Vec<u8>,
        rust: Vec<Candidate>,
    ) -> anyhow::Result<Arc<Live>> {
        let parts = Parts {
            config,
            db,
            signing_key,
            plugin_states: Default::default(),
            reloader: Default::default(),
        };
        let fingerprint = fingerprint(&parts).await;
        let (state, router) = assemble(&parts, candidates(&parts, &rust).await);
        let live = Arc::new(Live {
            parts,
            rust,
            current: RwLock::new(Arc::new(Served { state, router })),
            seen: tokio::sync::Mutex::new(Some(fingerprint)),
        });
        let weak = Arc::downgrade(&live);
        live.parts.reloader.set(Box::new(move || {
            let weak = weak.clone();
            Box::pin(async move {
                let live = weak.upgrade()?;
                live.refresh(true).await;
                Some(live.current().state.clone())
            })
        }));
        tokio::spawn(poll(Arc::downgrade(&live)));
        Ok(live)
    }

    pub fn current(&self) -> Arc<Served> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Rebuilds and swaps the catalog when what it is built from changed (or always, when
    /// `force`).
    pub async fn refresh(&self, force: bool) {
        let mut seen = self.seen.lock().await;
        let now = fingerprint(&self.parts).await;
        if !force && seen.as_ref() == Some(&now) {
            return;
        }
        let (state, router) = assemble(&self.parts, candidates(&self.parts, &self.rust).await);
        let loaded: Vec<String> = state
            .registry
            .loaded
            .iter()
            .filter(|p| p.plugin.folder().is_some())
            .map(|p| p.manifest.name.clone())
            .collect();
        tracing::info!(folder_plugins = ?loaded, "plugins changed: catalog rebuilt");
        match self.current.write() {
            Ok(mut guard) => *guard = Arc::new(Served { state, router }),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(Served { state, router }),
        }
        *seen = Some(now);
    }
}

/// Every two seconds, until the server is gone: rebuild when folder plugins changed.
async fn poll(live: Weak<Live>) {
    loop {
        tokio::time::sleep(REFRESH).await;
        let Some(live) = live.upgrade() else { return };
        live.refresh(false).await;
    }
}

async fn fingerprint(parts: &Parts) -> Fingerprint {
    let stored = store::fingerprint(&parts.db).await.unwrap_or_else(|e| {
        tracing::debug!(error = %e, "cannot read the installed folder plugins");
        Vec::new()
    });
    (stored, folder::dir_fingerprint(&parts.config.plugin_dir))
}

/// The plugins of a build: the compiled-in ones, then the folder plugins installed in the
/// database (every process loads the same model), then the ones only in the plugin folder
/// (available to install). A broken folder plugin is a candidate with its problems.
pub async fn candidates(parts: &Parts, rust: &[Candidate]) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = rust.to_vec();
    let stored = store::stored(&parts.db).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read the installed folder plugins");
        Vec::new()
    });
    for (name, sources) in &stored {
        out.push(candidate(
            name,
            FolderPlugin::from_sources(name, sources.clone()),
        ));
    }
    for (name, path) in folder::scan(&parts.config.plugin_dir) {
        if !stored.iter().any(|(n, _)| *n == name) {
            out.push(candidate(&name, FolderPlugin::load(&path)));
        }
    }
    out
}

fn candidate(name: &str, loaded: Result<FolderPlugin, Vec<folder::Problem>>) -> Candidate {
    match loaded {
        Ok(p) => Ok(Arc::new(p)),
        Err(problems) => Err(folder::as_error(name, &problems)),
    }
}

/// A router that hands every request to the current catalog's router. It keeps the
/// catalog alive; the poll stops once the last such router is dropped.
pub fn router(live: &Arc<Live>) -> Router {
    let live = live.clone();
    Router::new().fallback_service(tower::service_fn(move |req: Request| {
        let served = live.current();
        async move { served.router.clone().oneshot(req).await }
    }))
}
