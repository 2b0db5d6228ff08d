//! The loader: validates every plugin, quarantines the broken ones with a reason, orders the
//! rest by dependency, and freezes what they contribute.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub use super::loaded::{LoadedPlugin, Quarantined, Registry};
pub use super::services::{ServiceKey, Services};
pub use super::types::check_setting;
use super::{Manifest, Plugin, PluginError, PluginHandle};
use crate::api::Route;
use crate::schema::Table;

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

/// The routes of each loaded plugin (after its `init`), by plugin name.
pub type PluginRoutes = HashMap<String, Vec<Route>>;

impl Registry {
    /// Validates `candidates` against the core's tables and route prefixes.
    pub fn load(
        candidates: Vec<Candidate>,
        core_tables: &[Table],
        core_prefixes: &[&str],
    ) -> Registry {
        Registry::load_with_routes(candidates, core_tables, core_prefixes).0
    }

    /// As [`Registry::load`], and the routes of every loaded plugin, asked for once here:
    /// the registry keeps no routes (they are handlers over the state that holds it), so
    /// whoever builds the router takes them from this.
    pub fn load_with_routes(
        candidates: Vec<Candidate>,
        core_tables: &[Table],
        core_prefixes: &[&str],
    ) -> (Registry, PluginRoutes) {
        let mut plugin_routes = PluginRoutes::new();
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
                } else {
                    plugin_routes.insert(manifest.name.clone(), routes);
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
        let loaded: Vec<LoadedPlugin> = ordered
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
                    plugin: Arc::new(PluginHandle(plugin)),
                    manifest,
                    tables,
                    resources,
                    settings,
                    navigation,
                    widgets,
                }
            })
            .collect();
        plugin_routes.retain(|name, _| loaded.iter().any(|p| &p.manifest.name == name));
        let registry = Registry {
            loaded,
            quarantined,
            services: Arc::new(services),
        };
        (registry, plugin_routes)
    }
}
