//! Which plugins are enabled, as seen by this process: read from the database at most every
//! two seconds, so a change made by another process (or the CLI) shows within seconds.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::db::Db;

/// How stale the cached view may get.
pub const REFRESH: Duration = Duration::from_secs(2);

#[derive(Default)]
pub struct PluginStates {
    cache: RwLock<Option<(Instant, Arc<HashSet<String>>)>>,
}

impl PluginStates {
    /// Names of enabled plugins.
    pub async fn enabled(&self, db: &Db) -> Arc<HashSet<String>> {
        if let Ok(guard) = self.cache.read()
            && let Some((at, set)) = guard.as_ref()
            && at.elapsed() < REFRESH
        {
            return set.clone();
        }
        let fresh = match super::lifecycle::installed(db).await {
            Ok(all) => Arc::new(
                all.into_iter()
                    .filter(|(_, (_, state))| state == super::lifecycle::ENABLED)
                    .map(|(name, _)| name)
                    .collect::<HashSet<_>>(),
            ),
            Err(e) => {
                tracing::error!(error = %e, "cannot read plugin states; keeping the last known");
                return self
                    .cache
                    .read()
                    .ok()
                    .and_then(|g| g.as_ref().map(|(_, s)| s.clone()))
                    .unwrap_or_default();
            }
        };
        if let Ok(mut guard) = self.cache.write() {
            *guard = Some((Instant::now(), fresh.clone()));
        }
        fresh
    }

    /// Forgets the cached view (after this process changed a state itself).
    pub fn invalidate(&self) {
        if let Ok(mut guard) = self.cache.write() {
            *guard = None;
        }
    }
}
