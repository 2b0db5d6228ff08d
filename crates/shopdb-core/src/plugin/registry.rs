//! The loader: validates every plugin, quarantines the broken ones with a reason, orders the
//! rest by dependency, and freezes what they contribute.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

pub use super::services::{ServiceKey, Services};
use super::{Manifest, NavItem, Plugin, PluginError, SettingDef, Widget};
use crate::resource::Resource;
use crate::schema::Table;

/// A plugin that passed every check.
pub struct LoadedPlugin {
    pub plugin: Arc<dyn Plugin>,
    pub manifest: Manifest,
    pub tables: Vec<Table>,
    pub resources: Vec<Arc<Resource>>,
    pub settings: Arc<Vec<SettingDef>>,
    /// Its navigation items and dashboard widgets, asked for once at load.
    pub navigation: Vec<NavItem>,
    pub widgets: Vec<Widget>,
}

/// A plugin that is known but cannot be used, and why.
#[derive(Clone, Debug)]
pub struct Quarantined {
    pub name: String,
    pub version: String,
    pub error: PluginError,
}

/// Everything the loader decided, frozen for the life of the process.
#[derive(Default)]
pub struct Registry {
    /// Usable plugins, dependencies before dependents.
    pub loaded: Vec<LoadedPlugin>,
    pub quarantined: Vec<Quarantined>,
    pub services: Arc<Services>,
}

/// A candidate plugin: built, or the error met while finding it.
pub type Candidate = Result<Arc<dyn Plugin>, PluginError>;

fn plugin_of(e: &PluginError) -> String {
    match e {
        PluginError::NotFound { plugin, .. }
        | PluginError::Contract { plugin, .. }
        | PluginError::Version { plugin, .. }
        | PluginError::MissingDependency { plugin, .. } => plugin.clone(),
        PluginError::Conflict { second, .. } => second.clone(),
        PluginError::Cycle { cycle } => cycle.split(" -> ").next().unwrap_or_default().to_string(),
    }
}

/// Checks a setting value against its declaration.
pub fn check_setting(def: &SettingDef, value: &Value) -> Result<(), String> {
    if def.kind.accepts(value) {
        Ok(())
    } else {
        Err(format!("must be of type {}", def.kind))
    }
}

impl Registry {
    /// Validates `candidates` against the core's tables and route prefixes.
    pub fn load(
        candidates: Vec<Candidate>,
        core_tables: &[Table],
        core_prefixes: &[&str],
    ) -> Registry {
        let mut quarantined = Vec::new();
        let mut ok: Vec<(Arc<dyn Plugin>, Manifest, Vec<Table>)> = Vec::new();
        let mut table_owner: HashMap<String, String> = core_tables
            .iter()
            .map(|t| (t.name.clone(), "core".to_string()))
            .collect();
        let mut prefix_owner: HashMap<String, String> = core_prefixes
            .iter()
            .map(|p| (p.to_string(), "core".to_string()))
            .collect();

        for candidate in candidates {
            let plugin = match candidate {
                Ok(p) => p,
                Err(error) => {
                    quarantined.push(Quarantined {
                        name: plugin_of(&error),
                        version: String::new(),
                        error,
                    });
                    continue;
                }
            };
            let manifest = plugin.manifest().clone();
            let quarantine = |error: PluginError, q: &mut Vec<Quarantined>| {
                q.push(Quarantined {
                    name: manifest.name.clone(),
                    version: manifest.version.clone(),
                    error,
                })
            };
            if let Err(e) = manifest.check_core_version() {
                quarantine(e, &mut quarantined);
                continue;
            }
            if ok.iter().any(|(_, m, _)| m.name == manifest.name) {
                quarantine(
                    PluginError::Conflict {
                        what: format!("plugin name {}", manifest.name),
                        first: manifest.name.clone(),
                        second: manifest.name.clone(),
                    },
                    &mut quarantined,
                );
                continue;
            }
            let tables = plugin.models();
            let prefix = manifest.prefix();
            let mut problem = None;
            let mut seen = HashSet::new();
            for t in &tables {
                if let Some(owner) = table_owner.get(&t.name) {
                    problem = Some(PluginError::Conflict {
                        what: format!("table {}", t.name),
                        first: owner.clone(),
                        second: manifest.name.clone(),
                    });
                    break;
                }
                if !seen.insert(t.name.clone()) {
                    problem = Some(PluginError::Contract {
                        plugin: manifest.name.clone(),
                        problem: format!("table {} is declared twice", t.name),
                    });
                    break;
                }
            }
            if problem.is_none()
                && let Some(owner) = prefix_owner.get(&prefix)
            {
                problem = Some(PluginError::Conflict {
                    what: format!("route prefix {prefix}"),
                    first: owner.clone(),
                    second: manifest.name.clone(),
                });
            }
            if problem.is_none() {
                let mut routes = plugin.routes();
                plugin.init(&mut routes);
                if let Some(r) = routes.iter().find(|r| {
                    r.info.path != prefix && !r.info.path.starts_with(&format!("{prefix}/"))
                }) {
                    problem = Some(PluginError::Contract {
                        plugin: manifest.name.clone(),
                        problem: format!(
                            "route {} is outside its api_prefix {prefix}",
                            r.info.path
                        ),
                    });
                }
            }
            if let Some(e) = problem {
                quarantine(e, &mut quarantined);
                continue;
            }
            for t in &tables {
                table_owner.insert(t.name.clone(), manifest.name.clone());
            }
            prefix_owner.insert(prefix, manifest.name.clone());
            ok.push((plugin, manifest, tables));
        }

        // Dependencies: drop plugins whose dependencies are missing, until nothing changes.
        loop {
            let names: HashSet<String> = ok.iter().map(|(_, m, _)| m.name.clone()).collect();
            let missing = ok
                .iter()
                .position(|(_, m, _)| m.dependencies.iter().any(|d| !names.contains(d)));
            let Some(i) = missing else { break };
            let (_, m, _) = ok.remove(i);
            let dependency = m
                .dependencies
                .iter()
                .find(|d| !names.contains(*d))
                .cloned()
                .unwrap_or_default();
            quarantined.push(Quarantined {
                name: m.name.clone(),
                version: m.version.clone(),
                error: PluginError::MissingDependency {
                    plugin: m.name.clone(),
                    dependency,
                },
            });
        }

        // Dependency order (Kahn); what is left over sits on a cycle.
        let mut ordered: Vec<(Arc<dyn Plugin>, Manifest, Vec<Table>)> = Vec::new();
        let mut placed: HashSet<String> = HashSet::new();
        while !ok.is_empty() {
            let ready = ok
                .iter()
                .position(|(_, m, _)| m.dependencies.iter().all(|d| placed.contains(d)));
            match ready {
                Some(i) => {
                    let item = ok.remove(i);
                    placed.insert(item.1.name.clone());
                    ordered.push(item);
                }
                None => {
                    let mut names: Vec<String> =
                        ok.iter().map(|(_, m, _)| m.name.clone()).collect();
                    names.sort();
                    let cycle = format!("{} -> {}", names.join(" -> "), names[0]);
                    for (_, m, _) in ok.drain(..) {
                        quarantined.push(Quarantined {
                            name: m.name.clone(),
                            version: m.version.clone(),
                            error: PluginError::Cycle {
                                cycle: cycle.clone(),
                            },
                        });
                    }
                }
            }
        }

        let mut services = Services::default();
        let loaded = ordered
            .into_iter()
            .map(|(plugin, manifest, tables)| {
                for (name, service) in plugin.services() {
                    services.0.insert(name, service);
                }
                // A resource without its own search spec takes the one `searchable()` declares
                // for its entity.
                let searchable = plugin.searchable();
                let resources = plugin
                    .resources()
                    .into_iter()
                    .map(|mut r| {
                        if r.search.is_none() {
                            r.search = searchable
                                .iter()
                                .find(|s| s.entitytype == r.entity)
                                .cloned();
                        }
                        Arc::new(r)
                    })
                    .collect();
                let settings = Arc::new(plugin.settings());
                let navigation = plugin.navigation_items();
                let widgets = plugin.dashboard_widgets();
                LoadedPlugin {
                    plugin,
                    manifest,
                    tables,
                    resources,
                    settings,
                    navigation,
                    widgets,
                }
            })
            .collect();
        Registry {
            loaded,
            quarantined,
            services: Arc::new(services),
        }
    }

    pub fn get(&self, name: &str) -> Option<&LoadedPlugin> {
        self.loaded.iter().find(|p| p.manifest.name == name)
    }

    pub fn quarantined(&self, name: &str) -> Option<&Quarantined> {
        self.quarantined.iter().find(|q| q.name == name)
    }

    /// Every plugin's tables (for reference checks on delete).
    pub fn tables(&self) -> Vec<Table> {
        self.loaded.iter().flat_map(|p| p.tables.clone()).collect()
    }

    /// The reasons, for `serve --strict`.
    pub fn problems(&self) -> Vec<String> {
        self.quarantined
            .iter()
            .map(|q| q.error.to_string())
            .collect()
    }
}
