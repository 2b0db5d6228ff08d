//! The plugins the loader let through, frozen for the life of the process: what the state
//! every handler gets holds, and what the lifecycle, services and pages work from.

use std::sync::Arc;

use super::core::PluginCore;
use super::error::PluginError;
use super::manifest::Manifest;
use super::services::Services;
use super::types::{NavItem, SettingDef, Widget};
use crate::resource::Resource;
use crate::schema::Table;

/// A plugin that passed every check.
pub struct LoadedPlugin {
    /// Its hooks, all but the routes (taken once, when the router is built).
    pub plugin: Arc<dyn PluginCore>,
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

impl Registry {
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
