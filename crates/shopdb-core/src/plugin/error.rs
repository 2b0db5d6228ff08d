//! Why a plugin cannot be used: the reasons the loader quarantines a plugin with.

/// Why a plugin cannot be used; each names the plugin and the fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PluginError {
    #[error(
        "PluginNotFound: {plugin}: no manifest.json at {path}; restore plugins/{plugin}/manifest.json"
    )]
    NotFound { plugin: String, path: String },
    #[error("PluginContract: {plugin}: {problem}")]
    Contract { plugin: String, problem: String },
    #[error(
        "PluginVersion: {plugin} requires core_version {wanted} but the framework is {core}; update core_version in its manifest"
    )]
    Version {
        plugin: String,
        wanted: String,
        core: String,
    },
    #[error(
        "PluginDependency: {plugin} needs plugin '{dependency}', which is not available; add it or remove the dependency"
    )]
    MissingDependency { plugin: String, dependency: String },
    #[error("PluginDependency: dependency cycle {cycle}; break the cycle in the manifests")]
    Cycle { cycle: String },
    #[error(
        "PluginConflict: {what} is declared by both {first} and {second}; rename it in one of them"
    )]
    Conflict {
        what: String,
        first: String,
        second: String,
    },
}
