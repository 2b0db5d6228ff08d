//! The plugin contract: a plugin is a Rust value implementing [`Plugin`]. Three hooks are
//! required (its manifest, its models, and — possibly empty — its routes); every other hook
//! has a do-nothing default. The loader (`registry`) validates plugins and quarantines broken
//! ones; `lifecycle` installs, enables, disables and uninstalls them, persisting state in the
//! `plugins` table so every server process agrees.
//!
//! The running server holds a loaded plugin as [`PluginCore`] (every hook but the routes,
//! which are handlers over the server's state): the types a plugin declares (`types`,
//! `command`, `context`, `error`), that trait (`core`) and the frozen registry (`loaded`)
//! sit below the state; this file, the loader and the contract check sit above it.

pub mod command;
pub mod context;
pub mod contract;
pub mod core;
pub mod edit;
pub mod error;
pub mod folder;
pub mod lifecycle;
pub mod loaded;
pub mod manifest;
pub mod registry;
pub mod restore;
pub mod services;
pub mod states;
pub mod types;

pub use services::ServiceError;

use std::any::Any;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::Value;

pub use self::core::PluginCore;
pub use command::CliCommand;
pub use context::PluginContext;
pub use error::PluginError;
pub use loaded::{LoadedPlugin, Registry};
pub use manifest::Manifest;
pub use registry::ServiceKey;
pub use types::{
    CollectorField, CollectorFieldKind, CollectorSchema, NavItem, Page, SettingDef, SettingKind,
    Widget, WidgetSize,
};

use crate::api::Route;
use crate::migrate::Migration;
use crate::resource::Resource;
use crate::schema::Table;
use crate::search::SearchSpec;

fn done<'a>() -> BoxFuture<'a, anyhow::Result<()>> {
    Box::pin(async { Ok(()) })
}

/// The plugin contract. See docs/PLUGIN-HOOKS.md for when each hook runs.
pub trait Plugin: Send + Sync + 'static {
    /// Required: the plugin's manifest (usually parsed from its manifest.json).
    fn manifest(&self) -> &Manifest;

    /// Required: the tables this plugin owns, described as data.
    fn models(&self) -> Vec<Table>;

    /// Required (may be empty): routes, each under the manifest's api_prefix.
    fn routes(&self) -> Vec<Route>;

    /// Tables served by the generic CRUD under the api_prefix.
    fn resources(&self) -> Vec<Resource> {
        Vec::new()
    }

    /// Hand-written migrations (data changes, SQL the planner cannot write). The default is
    /// none: the tables of `models()` are created, and later edits of them applied, by the
    /// planner (`evolve`), which records each step in the chain `<plugin>.model`.
    fn migrations(&self) -> Vec<Migration> {
        Vec::new()
    }

    /// Runs once routes and models are known; may add routes registered elsewhere.
    fn init(&self, _routes: &mut Vec<Route>) {}

    fn cli_commands(&self) -> Vec<CliCommand> {
        Vec::new()
    }

    /// Services other plugins can look up by name.
    fn services(&self) -> Vec<(String, Arc<dyn Any + Send + Sync>)> {
        Vec::new()
    }

    fn dashboard_widgets(&self) -> Vec<Widget> {
        Vec::new()
    }

    /// The data of one of this plugin's widgets.
    fn widget_data<'a>(
        &'a self,
        _widget: &'a str,
        _ctx: &'a PluginContext,
    ) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async { Ok(Value::Null) })
    }

    fn navigation_items(&self) -> Vec<NavItem> {
        Vec::new()
    }

    /// Templates (name, source) added to the web interface; a name the core or another
    /// plugin already uses replaces that template (e.g. `widgets/<widget>.html` to draw a
    /// widget, `records/<resource path>/detail.html` for a record page).
    fn templates(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Static files (name, source) served at `/static/<plugin>/<name>`: the scripts and
    /// stylesheets of the plugin's templates. Pages may not run inline script (the
    /// Content-Security-Policy forbids it), so a template loads its script from here.
    /// The type comes from the name's ending: `.js`, `.css`, `.svg`, else plain text.
    fn static_files(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Web pages of this plugin, each under its api_prefix without `/api`.
    fn pages(&self) -> Vec<Page> {
        Vec::new()
    }

    /// How this plugin's records appear in global search.
    fn searchable(&self) -> Vec<SearchSpec> {
        Vec::new()
    }

    fn collector_schema(&self) -> Option<CollectorSchema> {
        None
    }

    fn settings(&self) -> Vec<SettingDef> {
        Vec::new()
    }

    /// A setting's value beyond its type (a range, a format): why an admin's new value is
    /// refused, or Ok. Called after the type check, before the value is stored.
    fn check_setting(&self, _key: &str, _value: &Value) -> Result<(), String> {
        Ok(())
    }

    fn on_install<'a>(&'a self, _ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>> {
        done()
    }

    fn on_uninstall<'a>(&'a self, _ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>> {
        done()
    }

    fn on_enable<'a>(&'a self, _ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>> {
        done()
    }

    fn on_disable<'a>(&'a self, _ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>> {
        done()
    }

    /// Set by folder plugins only (a Rust plugin keeps the default): the folder plugin behind
    /// this value, whose sources install stores in the database for every server process.
    fn folder(&self) -> Option<&folder::FolderPlugin> {
        None
    }
}

/// A loaded plugin as the running server holds it: the full [`Plugin`] seen through
/// [`PluginCore`], every hook answered by the plugin itself.
pub struct PluginHandle(pub Arc<dyn Plugin>);

impl PluginCore for PluginHandle {
    fn manifest(&self) -> &Manifest {
        self.0.manifest()
    }
    fn models(&self) -> Vec<Table> {
        self.0.models()
    }
    fn resources(&self) -> Vec<Resource> {
        self.0.resources()
    }
    fn migrations(&self) -> Vec<Migration> {
        self.0.migrations()
    }
    fn cli_commands(&self) -> Vec<CliCommand> {
        self.0.cli_commands()
    }
    fn services(&self) -> Vec<(String, Arc<dyn Any + Send + Sync>)> {
        self.0.services()
    }
    fn dashboard_widgets(&self) -> Vec<Widget> {
        self.0.dashboard_widgets()
    }
    fn widget_data<'a>(
        &'a self,
        widget: &'a str,
        ctx: &'a PluginContext,
    ) -> BoxFuture<'a, anyhow::Result<Value>> {
        self.0.widget_data(widget, ctx)
    }
    fn navigation_items(&self) -> Vec<NavItem> {
        self.0.navigation_items()
    }
    fn templates(&self) -> Vec<(String, String)> {
        self.0.templates()
    }
    fn static_files(&self) -> Vec<(String, String)> {
        self.0.static_files()
    }
    fn pages(&self) -> Vec<Page> {
        self.0.pages()
    }
    fn searchable(&self) -> Vec<SearchSpec> {
        self.0.searchable()
    }
    fn collector_schema(&self) -> Option<CollectorSchema> {
        self.0.collector_schema()
    }
    fn settings(&self) -> Vec<SettingDef> {
        self.0.settings()
    }
    fn check_setting(&self, key: &str, value: &Value) -> Result<(), String> {
        self.0.check_setting(key, value)
    }
    fn on_install<'a>(&'a self, ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>> {
        self.0.on_install(ctx)
    }
    fn on_uninstall<'a>(&'a self, ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>> {
        self.0.on_uninstall(ctx)
    }
    fn on_enable<'a>(&'a self, ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>> {
        self.0.on_enable(ctx)
    }
    fn on_disable<'a>(&'a self, ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>> {
        self.0.on_disable(ctx)
    }
    fn folder(&self) -> Option<&folder::FolderPlugin> {
        self.0.folder()
    }
}
