//! What the running server needs of a plugin: every hook of the contract but its routes.
//! The plugin registry in the state every handler gets holds plugins as this trait, so the
//! state does not name the routes, which are handlers over that state; routes are taken
//! from the full [`Plugin`](super::Plugin) once, when the router is built.

use std::any::Any;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::command::CliCommand;
use super::context::PluginContext;
use super::folder::loaded::FolderPlugin;
use super::manifest::Manifest;
use super::types::{CollectorSchema, NavItem, Page, SettingDef, Widget};
use crate::migrate::Migration;
use crate::resource::Resource;
use crate::schema::Table;
use crate::search::SearchSpec;

/// The hooks of [`Plugin`](super::Plugin) other than `routes` and `init`, each as the
/// plugin answers it; docs/PLUGIN-HOOKS.md says when each runs.
pub trait PluginCore: Send + Sync {
    fn manifest(&self) -> &Manifest;
    fn models(&self) -> Vec<Table>;
    fn resources(&self) -> Vec<Resource>;
    fn migrations(&self) -> Vec<Migration>;
    fn cli_commands(&self) -> Vec<CliCommand>;
    fn services(&self) -> Vec<(String, Arc<dyn Any + Send + Sync>)>;
    fn dashboard_widgets(&self) -> Vec<Widget>;
    fn widget_data<'a>(
        &'a self,
        widget: &'a str,
        ctx: &'a PluginContext,
    ) -> BoxFuture<'a, anyhow::Result<Value>>;
    fn navigation_items(&self) -> Vec<NavItem>;
    fn templates(&self) -> Vec<(String, String)>;
    fn static_files(&self) -> Vec<(String, String)>;
    fn pages(&self) -> Vec<Page>;
    fn searchable(&self) -> Vec<SearchSpec>;
    fn collector_schema(&self) -> Option<CollectorSchema>;
    fn settings(&self) -> Vec<SettingDef>;
    fn check_setting(&self, key: &str, value: &Value) -> Result<(), String>;
    fn on_install<'a>(&'a self, ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>>;
    fn on_uninstall<'a>(&'a self, ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>>;
    fn on_enable<'a>(&'a self, ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>>;
    fn on_disable<'a>(&'a self, ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>>;
    fn folder(&self) -> Option<&FolderPlugin>;
}
