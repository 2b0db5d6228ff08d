//! `manifest.json`: who a plugin is and which framework versions it works with.

use serde::{Deserialize, Serialize};

use super::error::PluginError;
use crate::CONTRACT_VERSION;

/// Names a plugin may not take: core route segments and command-line words.
pub const RESERVED_NAMES: &[&str] = &[
    "api",
    "auth",
    "assets",
    "assettypes",
    "statuses",
    "locations",
    "vendors",
    "models",
    "relationships",
    "relationshiptypes",
    "search",
    "admin",
    "plugins",
    "collector",
    "settings",
    "static",
    "users",
    "tokens",
    "audit",
    "health",
    "navigation",
    "dashboard",
    "openapi",
    "core",
    // Command-line words: `shopdb <plugin> <command>` must not be shadowed by them.
    "serve",
    "db",
    "user",
    "token",
    "config",
    "healthcheck",
    "routes",
    "plugin",
    "help",
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub description: String,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// Semver range of the framework contract this plugin supports (`>=1.0.0,<2.0.0`).
    pub core_version: String,
    /// Where its routes live; defaults to `/api/<name>`.
    #[serde(default)]
    pub api_prefix: Option<String>,
}

impl Manifest {
    /// Parses and checks a manifest; `plugin` names it in errors when the name itself is unusable.
    pub fn parse(plugin: &str, json: &str) -> Result<Manifest, PluginError> {
        let contract = |problem: String| PluginError::Contract {
            plugin: plugin.to_string(),
            problem,
        };
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| contract(format!("manifest.json is not valid JSON: {e}")))?;
        for field in ["name", "version", "description", "core_version"] {
            if value
                .get(field)
                .and_then(|v| v.as_str())
                .is_none_or(|s| s.trim().is_empty())
            {
                return Err(contract(format!(
                    "manifest.json is missing required field '{field}': add it (see docs/PLUGIN-HOOKS.md)"
                )));
            }
        }
        let manifest: Manifest = serde_json::from_value(value)
            .map_err(|e| contract(format!("manifest.json has a field of the wrong type: {e}")))?;
        if !crate::is_valid_plugin_name(&manifest.name) {
            return Err(contract(format!(
                "name '{}' is invalid: use lowercase letters and digits, starting with a letter (no _ or -)",
                manifest.name
            )));
        }
        if RESERVED_NAMES.contains(&manifest.name.as_str()) {
            return Err(contract(format!(
                "name '{}' is reserved for the core: choose another",
                manifest.name
            )));
        }
        semver::Version::parse(&manifest.version).map_err(|e| {
            contract(format!(
                "version '{}' is not semver ({e})",
                manifest.version
            ))
        })?;
        semver::VersionReq::parse(&manifest.core_version).map_err(|e| {
            contract(format!(
                "core_version '{}' is not a semver range ({e})",
                manifest.core_version
            ))
        })?;
        if let Some(prefix) = &manifest.api_prefix
            && (!prefix.starts_with("/api/")
                || prefix.ends_with('/')
                || prefix.contains(['{', '}', ' ']))
        {
            return Err(contract(format!(
                "api_prefix '{prefix}' must look like /api/{}",
                manifest.name
            )));
        }
        for dep in &manifest.dependencies {
            if !crate::is_valid_plugin_name(dep) {
                return Err(contract(format!("dependency '{dep}' is not a plugin name")));
            }
        }
        Ok(manifest)
    }

    pub fn prefix(&self) -> String {
        self.api_prefix
            .clone()
            .unwrap_or_else(|| format!("/api/{}", self.name))
    }

    /// Checks `core_version` against this framework's contract version.
    pub fn check_core_version(&self) -> Result<(), PluginError> {
        let req =
            semver::VersionReq::parse(&self.core_version).map_err(|e| PluginError::Contract {
                plugin: self.name.clone(),
                problem: e.to_string(),
            })?;
        let core =
            semver::Version::parse(CONTRACT_VERSION).expect("the contract version is semver");
        if req.matches(&core) {
            Ok(())
        } else {
            Err(PluginError::Version {
                plugin: self.name.clone(),
                wanted: self.core_version.clone(),
                core: CONTRACT_VERSION.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_EXAMPLE: &str = r#"{
        "name": "computers",
        "version": "1.0.0",
        "description": "Tracks shop-floor PCs and engineering workstations",
        "author": "shopdb-flask",
        "dependencies": [],
        "core_version": ">=0.1.0,<1.0.0",
        "api_prefix": "/api/computers"
    }"#;

    #[test]
    fn the_seed_example_loads_unchanged() {
        let m = Manifest::parse("computers", SEED_EXAMPLE).unwrap();
        assert_eq!(m.prefix(), "/api/computers");
        // Written for the 0.x contract: it parses, and the loader names the version it lacks.
        let err = m.check_core_version().unwrap_err().to_string();
        assert!(
            err.contains("PluginVersion") && err.contains(CONTRACT_VERSION),
            "{err}"
        );
        let minimal = Manifest::parse("x", r#"{"name":"yourplugin","version":"1.0.0","description":"d","core_version":">=1.0.0,<2.0.0","dependencies":[]}"#).unwrap();
        assert_eq!(minimal.prefix(), "/api/yourplugin");
        minimal.check_core_version().unwrap();
    }

    #[test]
    fn bad_manifests_name_the_problem() {
        let missing = Manifest::parse(
            "cams",
            r#"{"name":"cams","version":"1.0.0","core_version":">=0.1.0"}"#,
        )
        .unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("missing required field 'description'"),
            "{missing}"
        );
        let bad_name = Manifest::parse(
            "x",
            r#"{"name":"my_cams","version":"1.0.0","description":"d","core_version":">=0.1.0"}"#,
        )
        .unwrap_err();
        assert!(bad_name.to_string().contains("no _ or -"), "{bad_name}");
        let too_new = Manifest::parse(
            "cams",
            r#"{"name":"cams","version":"1.0.0","description":"d","core_version":">=2.0.0"}"#,
        )
        .unwrap();
        let err = too_new.check_core_version().unwrap_err().to_string();
        assert!(
            err.contains(">=2.0.0") && err.contains(CONTRACT_VERSION),
            "{err}"
        );
    }
}
