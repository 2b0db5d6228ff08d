//! The plugin contract: a plugin is a Rust value implementing [`Plugin`]. Three hooks are
//! required (its manifest, its models, and — possibly empty — its routes); every other hook
//! has a do-nothing default. The loader (`registry`) validates plugins and quarantines broken
//! ones; `lifecycle` installs, enables, disables and uninstalls them, persisting state in the
//! `plugins` table so every server process agrees.

pub mod contract;
pub mod edit;
pub mod folder;
pub mod lifecycle;
pub mod manifest;
pub mod registry;
pub mod restore;
pub mod services;
pub mod states;

pub use services::ServiceError;

use std::any::Any;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

pub use manifest::Manifest;
pub use registry::{LoadedPlugin, Registry, ServiceKey};

use crate::api::Route;
use crate::db::Db;
use crate::migrate::Migration;
use crate::resource::Resource;
use crate::schema::Table;
use crate::search::SearchSpec;

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

/// A sidebar entry.
#[derive(Clone, Debug, Serialize)]
pub struct NavItem {
    pub name: String,
    pub icon: String,
    pub route: String,
    pub position: i64,
}

/// A dashboard widget; its data comes from [`Plugin::widget_data`].
#[derive(Clone, Debug, Serialize)]
pub struct Widget {
    pub name: String,
    pub title: String,
    pub size: WidgetSize,
    pub position: i64,
    /// API route the widget's data can also be read from, if any.
    pub endpoint: Option<String>,
}

/// How much of the dashboard a widget takes; serialized `small`, `medium` or `large`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WidgetSize {
    Small,
    Medium,
    Large,
}

/// The type of a plugin setting's value; serialized `text`, `integer` or `boolean`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SettingKind {
    /// A JSON string.
    Text,
    /// A JSON whole number.
    Integer,
    /// `true` or `false`.
    Boolean,
}

impl SettingKind {
    /// The name settings lists and error messages show.
    pub fn as_str(self) -> &'static str {
        match self {
            SettingKind::Text => "text",
            SettingKind::Integer => "integer",
            SettingKind::Boolean => "boolean",
        }
    }

    /// Whether `value` is of this kind.
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            SettingKind::Text => value.is_string(),
            SettingKind::Integer => value.as_i64().is_some(),
            SettingKind::Boolean => value.is_boolean(),
        }
    }
}

impl std::fmt::Display for SettingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field a collector may send.
#[derive(Clone, Debug, Serialize)]
pub struct CollectorField {
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `array`.
    #[serde(rename = "type")]
    pub kind: String,
    pub required: bool,
}

impl CollectorField {
    /// A field of `kind` (`string`, `integer`, `number`, `boolean` or `array`).
    pub fn new(name: &str, kind: &str, required: bool) -> CollectorField {
        CollectorField {
            name: name.into(),
            kind: kind.into(),
            required,
        }
    }
}

/// What a collector posts to `/api/collector/<plugin>` (the seed's format).
#[derive(Clone, Debug, Serialize)]
pub struct CollectorSchema {
    pub identityfield: String,
    /// Secondary identifiers (serial number, MAC address) that recognise a record whose
    /// identity changed, e.g. a renamed PC. Junk values never match.
    pub matchfields: Vec<String>,
    pub fields: Vec<CollectorField>,
    /// A field that describes the push rather than the thing (the PC's own clock at check-in,
    /// `lastcheckin`): stored as sent, but never a change of the record, so a push that
    /// differs only there answers `unchanged`, writes no audit entry and keeps `version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<String>,
    /// URL segment of the resource records are written to; default: the plugin's first
    /// resource that extends assets.
    pub resource: Option<String>,
}

/// A typed plugin setting with its default, shown to admins.
#[derive(Clone, Debug, Serialize)]
pub struct SettingDef {
    pub key: String,
    #[serde(rename = "type")]
    pub kind: SettingKind,
    pub default: Value,
    pub help: String,
}

/// A command contributed under `shopdb <plugin> <name>`, declared with clap like the core's
/// commands: its name, help line and arguments are a [`clap::Command`], so `shopdb --help`
/// lists it, `shopdb <plugin> <name> --help` describes it and a bad argument is refused
/// before the database is opened.
pub struct CliCommand {
    /// Name, help line (`about`, required) and arguments.
    pub command: clap::Command,
    /// Runs with the parsed arguments; returns what to print.
    pub run: fn(PluginContext, clap::ArgMatches) -> BoxFuture<'static, anyhow::Result<String>>,
}

impl CliCommand {
    /// A command declared by `command` and carried out by `run`.
    pub fn new(
        command: clap::Command,
        run: fn(PluginContext, clap::ArgMatches) -> BoxFuture<'static, anyhow::Result<String>>,
    ) -> CliCommand {
        CliCommand { command, run }
    }

    /// The word after `shopdb <plugin>`.
    pub fn name(&self) -> &str {
        self.command.get_name()
    }

    /// Parses `args` (what follows `shopdb <plugin> <name>`) as the command line does and
    /// runs the command: for tests and for callers other than the binary.
    pub async fn call(&self, ctx: PluginContext, args: &[&str]) -> anyhow::Result<String> {
        let matches = self
            .command
            .clone()
            .no_binary_name(true)
            .try_get_matches_from(args)?;
        (self.run)(ctx, matches).await
    }
}

impl std::fmt::Debug for CliCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CliCommand")
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

/// A web page a plugin adds: the template is rendered with the usual page context (user,
/// navigation, CSRF token) plus `page`; its data comes from the plugin's API (fetch in the
/// template's script) so the page stays a view of the JSON API.
#[derive(Clone, Debug, Serialize)]
pub struct Page {
    /// Absolute path, e.g. `/usb/desk`.
    pub path: String,
    pub title: String,
    /// Name of a template the plugin ships in `templates()`.
    pub template: String,
    /// Least role that may open it; None: anyone, logged in or not (the page itself must
    /// then only show what its API allows, such as a public kiosk).
    pub role: Option<crate::auth::Role>,
}

/// What a plugin's hooks get: the database and helpers scoped to the plugin.
#[derive(Clone)]
pub struct PluginContext {
    pub db: Db,
    /// The plugin's name (its settings scope and chain name).
    pub plugin: String,
    /// Services offered by loaded plugins, by name.
    pub services: Arc<registry::Services>,
    pub settings: Arc<Vec<SettingDef>>,
}

impl PluginContext {
    /// A setting of this plugin, or its declared default.
    pub async fn setting(&self, key: &str) -> anyhow::Result<Value> {
        let def = self.settings.iter().find(|d| d.key == key);
        match crate::settings::get_setting(&self.db, &self.plugin, key).await? {
            Some(raw) => Ok(serde_json::from_str(&raw).unwrap_or(Value::String(raw))),
            None => Ok(def.map(|d| d.default.clone()).unwrap_or(Value::Null)),
        }
    }

    /// Stores a setting of this plugin after checking it against its declaration.
    pub async fn set_setting(&self, key: &str, value: Value, by: &str) -> anyhow::Result<()> {
        let def =
            self.settings.iter().find(|d| d.key == key).ok_or_else(|| {
                anyhow::anyhow!("plugin {} declares no setting '{key}'", self.plugin)
            })?;
        registry::check_setting(def, &value).map_err(|m| anyhow::anyhow!("setting {key} {m}"))?;
        crate::settings::set_setting(&self.db, &self.plugin, key, &value.to_string(), by).await?;
        Ok(())
    }

    /// A service another plugin offers, typed.
    pub fn service<T: Any + Send + Sync>(&self, name: &str) -> Result<Arc<T>, ServiceError> {
        self.services.get::<T>(name)
    }

    /// A service another plugin offers, by its typed key.
    pub fn service_by<T: Any + Send + Sync>(
        &self,
        key: &registry::ServiceKey<T>,
    ) -> Result<Arc<T>, ServiceError> {
        self.services.lookup(key)
    }

    /// Where an asset sits on the floor map.
    pub async fn resolve_position(
        &self,
        assetid: i64,
    ) -> anyhow::Result<Option<crate::position::Position>> {
        let mut conn = self.db.pool().acquire().await?;
        Ok(crate::position::resolve_position(&self.db, &mut conn, assetid).await?)
    }
}

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
