//! Where plugins stand: the states a plugin can be in, the `plugins` table that stores them,
//! and which plugins are enabled as seen by this process — read from the database at most
//! every two seconds, so a change made by another process (or the CLI) shows within seconds.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sqlx::Row;

use crate::db::Db;

pub const ENABLED: &str = "enabled";
pub const DISABLED: &str = "disabled";

/// Where a plugin stands at a site. Serialized (JSON, `plugins.state`) in lowercase:
/// `available`, `enabled`, `disabled`, `quarantined`; only the middle two are ever stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginState {
    /// Compiled in and loadable, not installed.
    Available,
    Enabled,
    /// Installed, its tables and rows kept, contributing nothing.
    Disabled,
    /// Refused by the loader (or installed but missing from this build).
    Quarantined,
}

impl PluginState {
    pub fn as_str(self) -> &'static str {
        match self {
            PluginState::Available => "available",
            PluginState::Enabled => ENABLED,
            PluginState::Disabled => DISABLED,
            PluginState::Quarantined => "quarantined",
        }
    }

    /// A value read from `plugins.state`: anything but `enabled` counts as disabled.
    pub fn from_stored(value: &str) -> PluginState {
        if value == ENABLED {
            PluginState::Enabled
        } else {
            PluginState::Disabled
        }
    }

    /// As `shopdb plugin list` shows it: `Enabled`.
    pub fn title(self) -> &'static str {
        match self {
            PluginState::Available => "Available",
            PluginState::Enabled => "Enabled",
            PluginState::Disabled => "Disabled",
            PluginState::Quarantined => "Quarantined",
        }
    }
}

impl std::fmt::Display for PluginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Installed plugins: name → (version, state as stored).
pub async fn installed(db: &Db) -> Result<HashMap<String, (String, String)>, sqlx::Error> {
    let rows = db
        .query("SELECT pluginname, version, state FROM plugins")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>(0)?,
                (r.try_get::<String, _>(1)?, r.try_get::<String, _>(2)?),
            ))
        })
        .collect()
}

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
    match installed(db).await {
        Ok(all) => Some(Arc::new(
            all.into_iter()
                .filter(|(_, (_, state))| state == ENABLED)
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
