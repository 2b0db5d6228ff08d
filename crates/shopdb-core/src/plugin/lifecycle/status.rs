//! The words of the lifecycle: what an admin can do to a plugin (`LifecycleAction`), where
//! every known plugin stands (`list`), and why an action was refused (`LifecycleError`).

use crate::db::Db;
use crate::evolve;
use crate::migrate;
use crate::plugin::loaded::Registry;
use crate::plugin::states::{PluginState, installed};

/// What an admin can do to a plugin (`POST /api/plugins/{name}/{action}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleAction {
    Install,
    Enable,
    Disable,
    Uninstall,
}

impl LifecycleAction {
    pub const ALL: [LifecycleAction; 4] = [
        LifecycleAction::Install,
        LifecycleAction::Enable,
        LifecycleAction::Disable,
        LifecycleAction::Uninstall,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleAction::Install => "install",
            LifecycleAction::Enable => "enable",
            LifecycleAction::Disable => "disable",
            LifecycleAction::Uninstall => "uninstall",
        }
    }

    /// The actions open to a plugin in `state`.
    pub fn open_to(state: PluginState) -> &'static [LifecycleAction] {
        match state {
            PluginState::Available => &[LifecycleAction::Install],
            PluginState::Enabled => &[LifecycleAction::Disable, LifecycleAction::Uninstall],
            PluginState::Disabled => &[LifecycleAction::Enable, LifecycleAction::Uninstall],
            PluginState::Quarantined => &[],
        }
    }
}

impl std::str::FromStr for LifecycleAction {
    type Err = String;
    fn from_str(s: &str) -> Result<LifecycleAction, String> {
        LifecycleAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                format!("unknown plugin action '{s}': use install, enable, disable or uninstall")
            })
    }
}

impl std::fmt::Display for LifecycleAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of `plugin list` / one entry of `/api/plugins`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PluginStatus {
    pub name: String,
    pub version: String,
    pub state: PluginState,
    pub reason: Option<String>,
}

/// Every known plugin with its state: loaded ones, quarantined ones, and installed ones this
/// build no longer has (their data is left alone).
pub async fn list(db: &Db, registry: &Registry) -> Result<Vec<PluginStatus>, sqlx::Error> {
    let installed = installed(db).await?;
    let mut out: Vec<PluginStatus> = registry
        .loaded
        .iter()
        .map(|p| PluginStatus {
            name: p.manifest.name.clone(),
            version: p.manifest.version.clone(),
            state: installed
                .get(&p.manifest.name)
                .map(|(_, s)| PluginState::from_stored(s))
                .unwrap_or(PluginState::Available),
            reason: None,
        })
        .collect();
    for q in &registry.quarantined {
        out.push(PluginStatus {
            name: q.name.clone(),
            version: q.version.clone(),
            state: PluginState::Quarantined,
            reason: Some(q.error.to_string()),
        });
    }
    for (name, (version, _)) in &installed {
        if !out.iter().any(|p| &p.name == name) {
            out.push(PluginStatus {
                name: name.clone(),
                version: version.clone(),
                state: PluginState::Quarantined,
                reason: Some(format!(
                    "{name} is installed but this build does not include it; its data is kept"
                )),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Why a lifecycle action was refused.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("no plugin named '{0}' is available (see `shopdb plugin list`)")]
    Unknown(String),
    #[error("plugin {name} is quarantined: {reason}")]
    Quarantined { name: String, reason: String },
    #[error("plugin {0} is already installed")]
    AlreadyInstalled(String),
    #[error("plugin {0} is not installed: install it first")]
    NotInstalled(String),
    #[error(
        "plugin {plugin} needs {dependency} installed first: shopdb plugin install {dependency}"
    )]
    DependencyNotInstalled { plugin: String, dependency: String },
    #[error(
        "plugin {plugin} cannot be removed while {dependents} depend on it; uninstall those first"
    )]
    HasDependents { plugin: String, dependents: String },
    #[error("plugin {plugin}: {step} failed: {reason}")]
    Failed {
        plugin: String,
        step: String,
        reason: String,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] migrate::MigrateError),
    #[error(transparent)]
    Evolve(#[from] evolve::EvolveError),
}

impl LifecycleError {
    /// The HTTP status this refusal maps to.
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            LifecycleError::Unknown(_) => ErrorKind::NotFound,
            LifecycleError::Evolve(evolve::EvolveError::Refused { .. }) => ErrorKind::Conflict,
            LifecycleError::Database(_)
            | LifecycleError::Evolve(_)
            | LifecycleError::Migrate(_)
            | LifecycleError::Failed { .. } => ErrorKind::Internal,
            _ => ErrorKind::Conflict,
        }
    }
}
