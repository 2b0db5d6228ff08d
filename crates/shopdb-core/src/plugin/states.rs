//! Which plugins are enabled, as seen by this process: read from the database at most every
//! two seconds, so a change made by another process (or the CLI) shows within seconds.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::db::Db;

/// How stale the cached view may get.
pub const REFRESH: Duration = Duration::from_secs(2);

type Cached = Option<(Instant, Arc<HashSet<String>>)>;

#[derive(Default)]
pub struct PluginStates {
    cache: Arc<RwLock<Cached>>,
    /// Set while one background read is under way, so callers do not all read at once.
    refreshing: Arc<AtomicBool>,
}

impl PluginStates {
    /// Names of enabled plugins. A view older than `REFRESH` is still answered at once while
    /// one background task reads the database again: callers inside a write transaction
    /// (hooks) must not wait for a second pooled connection, and many requests at once
    /// should not each read. Only the very first call (or one after `invalidate`) reads
    /// while it waits.
    pub async fn enabled(&self, db: &Db) -> Arc<HashSet<String>> {
        let cached = self.cache.read().ok().and_then(|g| g.clone());
        match cached {
            Some((at, set)) if at.elapsed() < REFRESH => set,
            Some((_, set)) => {
                if !self.refreshing.swap(true, Ordering::AcqRel) {
                    let (cache, refreshing, db) =
                        (self.cache.clone(), self.refreshing.clone(), db.clone());
                    tokio::spawn(async move {
                        if let Some(fresh) = read(&db).await {
                            store(&cache, fresh);
                        }
                        refreshing.store(false, Ordering::Release);
                    });
                }
                set
            }
            None => match read(db).await {
                Some(fresh) => {
                    store(&self.cache, fresh.clone());
                    fresh
                }
                None => Arc::default(),
            },
        }
    }

    /// Forgets the cached view (after this process changed a state itself).
    pub fn invalidate(&self) {
        if let Ok(mut guard) = self.cache.write() {
            *guard = None;
        }
    }
}

/// The enabled plugins as the database has them; None (logged) when it cannot be read.
async fn read(db: &Db) -> Option<Arc<HashSet<String>>> {
    match super::lifecycle::installed(db).await {
        Ok(all) => Some(Arc::new(
            all.into_iter()
                .filter(|(_, (_, state))| state == super::lifecycle::ENABLED)
                .map(|(name, _)| name)
                .collect::<HashSet<_>>(),
        )),
        Err(e) => {
            tracing::error!(error = %e, "cannot read plugin states; keeping the last known");
            None
        }
    }
}

fn store(cache: &RwLock<Cached>, fresh: Arc<HashSet<String>>) {
    if let Ok(mut guard) = cache.write() {
        *guard = Some((Instant::now(), fresh));
    }
}
