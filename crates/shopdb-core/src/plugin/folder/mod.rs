//! Folder plugins: a plugin that is a folder holding `manifest.json` and `model.toml`,
//! loaded at run time by the released binary. Nothing in the folder runs as code: the model
//! is data, and [`FolderPlugin`] turns it into what a Rust plugin's hooks give (tables,
//! resources, search, navigation, widgets, collector, settings).

pub mod build;
pub mod check;
mod fields;
pub mod loaded;
pub mod model;
mod names;
pub mod pack;
pub mod problem;
mod sections;
pub mod spec;
pub mod store;
pub mod templates;

use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;
use serde_json::Value;

pub use check::{Problem, check_model, describe};
pub use loaded::{FolderPlugin, MANIFEST_FILE, MODEL_FILE, Sources};

use super::{
    CollectorSchema, Manifest, NavItem, Plugin, PluginContext, PluginError, SettingDef, Widget,
};
use crate::api::Route;
use crate::resource::Resource;
use crate::schema::Table;

/// The JSON Schema of `model.toml`, served at `/api/plugins/model.schema.json`.
pub const MODEL_SCHEMA: &str = include_str!("../../../../../docs/model.schema.json");

/// Which table and route prefix belongs to whom (core or a plugin), for conflict checks.
#[derive(Default)]
pub struct Owners {
    pub tables: Vec<(String, String)>,
    pub prefixes: Vec<(String, String)>,
}

impl Owners {
    fn table(&self, name: &str) -> Option<&str> {
        self.tables
            .iter()
            .find(|(t, _)| t == name)
            .map(|(_, o)| o.as_str())
    }
}

impl FolderPlugin {
    /// Checks the sources of plugin `expected` (its folder's name, or the name it is stored
    /// under); every problem is returned, each with its file, line and key.
    pub fn from_sources(expected: &str, sources: Sources) -> Result<FolderPlugin, Vec<Problem>> {
        let mut problems = Vec::new();
        let manifest = match Manifest::parse(expected, &sources.manifest) {
            Ok(m) if m.name != expected => {
                problems.push(manifest_problem(
                    &sources.manifest,
                    "name",
                    format!(
                        "name '{}' differs from the folder's name '{expected}': make them the same",
                        m.name
                    ),
                ));
                None
            }
            Ok(m) => Some(m),
            Err(e) => {
                let message = match e {
                    PluginError::Contract { problem, .. } => problem,
                    other => other.to_string(),
                };
                let key = [
                    "api_prefix",
                    "core_version",
                    "version",
                    "dependencies",
                    "description",
                    "name",
                ]
                .into_iter()
                .find(|k| message.contains(k))
                .unwrap_or("(file)");
                problems.push(manifest_problem(&sources.manifest, key, message));
                None
            }
        };
        let spec = match check_model(&sources.model) {
            Ok(spec) => Some(spec),
            Err(mut found) => {
                problems.append(&mut found);
                None
            }
        };
        let plugin = match (manifest, spec) {
            (Some(manifest), Some(spec)) if problems.is_empty() => FolderPlugin {
                manifest,
                spec,
                sources,
            },
            _ => return Err(problems),
        };
        // A core table named, with its line; then what the loader checks of every plugin,
        // Rust or folder (a core_version this framework does not offer, say).
        let core = Owners {
            tables: crate::core_schema::core_tables()
                .into_iter()
                .map(|t| (t.name, "the core".to_string()))
                .collect(),
            prefixes: Vec::new(),
        };
        let clashes = plugin.conflicts(&core);
        if !clashes.is_empty() {
            return Err(clashes);
        }
        let mut problems: Vec<Problem> = super::contract::problems(&plugin)
            .into_iter()
            .map(|message| Problem {
                file: MODEL_FILE.into(),
                line: 0,
                key: "(plugin contract)".into(),
                message,
            })
            .collect();
        problems.extend(templates::check(
            &plugin.sources.templates,
            &templates::Allowed {
                plugin: &plugin.manifest.name,
                resource_paths: plugin
                    .spec
                    .tables
                    .iter()
                    .map(|t| plugin.resource_path(&t.name))
                    .collect(),
                widgets: plugin.spec.widgets.iter().map(|w| w.name.clone()).collect(),
            },
        ));
        if problems.is_empty() {
            Ok(plugin)
        } else {
            Err(problems)
        }
    }

    /// Reads and checks the plugin in `dir` (named after the folder).
    pub fn load(dir: &Path) -> Result<FolderPlugin, Vec<Problem>> {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        FolderPlugin::from_sources(&name, Sources::read(dir)?)
    }

    /// Its tables or route prefix already owned by the core or another plugin.
    pub fn conflicts(&self, owners: &Owners) -> Vec<Problem> {
        let mut problems = Vec::new();
        for t in &self.spec.tables {
            if let Some(owner) = owners.table(&t.name) {
                let line = line_of_value(&self.sources.model, "name", &t.name);
                problems.push(Problem {
                    file: MODEL_FILE.into(),
                    line,
                    key: format!("table.{}.name", t.name),
                    message: format!("table {} belongs to {owner}: choose another name", t.name),
                });
            }
        }
        let prefix = self.manifest.prefix();
        for (taken, owner) in &owners.prefixes {
            let clash = &prefix == taken
                || prefix.starts_with(&format!("{taken}/"))
                || taken.starts_with(&format!("{prefix}/"));
            if clash {
                problems.push(manifest_problem(
                    &self.sources.manifest,
                    "api_prefix",
                    format!("api_prefix {prefix} overlaps {taken}, which belongs to {owner}: set another api_prefix"),
                ));
            }
        }
        problems
    }
}

fn manifest_problem(text: &str, key: &str, message: String) -> Problem {
    let line = text
        .lines()
        .position(|l| l.contains(&format!("\"{key}\"")))
        .map(|i| i + 1)
        .unwrap_or(1);
    Problem {
        file: MANIFEST_FILE.into(),
        line,
        key: key.into(),
        message,
    }
}

/// The line of `key = "value"` in a TOML text, or 0.
fn line_of_value(text: &str, key: &str, value: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim();
            l.starts_with(key) && l.contains(&format!("\"{value}\""))
        })
        .map(|i| i + 1)
        .unwrap_or(0)
}

/// The quarantine reason of a plugin with `problems`.
pub fn as_error(plugin: &str, problems: &[Problem]) -> PluginError {
    PluginError::Contract {
        plugin: plugin.to_string(),
        problem: describe(problems),
    }
}

/// Folder plugins found in `dir`: one per sub-folder holding a manifest.json, by name.
/// A missing `dir` holds none.
pub fn scan(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.join(MANIFEST_FILE).is_file())
        .filter_map(|p| Some((p.file_name()?.to_string_lossy().to_string(), p)))
        .collect();
    found.sort();
    found
}

/// What the plugin folder holds now (names and file times): changes when a folder is added,
/// edited or removed, its templates included.
pub fn dir_fingerprint(dir: &Path) -> Vec<(String, Option<std::time::SystemTime>)> {
    let time = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut out = Vec::new();
    for (name, path) in scan(dir) {
        for f in [MANIFEST_FILE, MODEL_FILE] {
            out.push((format!("{name}/{f}"), time(&path.join(f))));
        }
        let mut stack = vec![path.join(templates::TEMPLATES_DIR)];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            out.push((format!("{name}/{}", d.display()), time(&d)));
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push((format!("{name}/{}", p.display()), time(&p)));
                }
            }
        }
    }
    out.sort();
    out
}

impl Plugin for FolderPlugin {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn models(&self) -> Vec<Table> {
        self.spec.tables.iter().map(build::table).collect()
    }

    fn routes(&self) -> Vec<Route> {
        Vec::new()
    }

    fn resources(&self) -> Vec<Resource> {
        let name = &self.manifest.name;
        self.spec
            .tables
            .iter()
            .map(|t| build::resource(name, &self.spec, t, &self.resource_path(&t.name)))
            .collect()
    }

    fn navigation_items(&self) -> Vec<NavItem> {
        build::navigation(&self.spec, &self.manifest.prefix())
    }

    fn dashboard_widgets(&self) -> Vec<Widget> {
        build::widgets(&self.spec)
    }

    fn widget_data<'a>(
        &'a self,
        widget: &'a str,
        ctx: &'a PluginContext,
    ) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async move {
            let w = self
                .spec
                .widgets
                .iter()
                .find(|w| w.name == widget)
                .ok_or_else(|| anyhow::anyhow!("no widget {widget}"))?;
            let t = self
                .spec
                .table(&w.table)
                .ok_or_else(|| anyhow::anyhow!("no table {}", w.table))?;
            let res = build::resource(
                &self.manifest.name,
                &self.spec,
                t,
                &self.resource_path(&t.name),
            );
            build::widget_data(&ctx.db, &res, w).await
        })
    }

    fn searchable(&self) -> Vec<crate::search::SearchSpec> {
        self.resources()
            .into_iter()
            .filter_map(|r| r.search)
            .collect()
    }

    fn collector_schema(&self) -> Option<CollectorSchema> {
        build::collector_schema(&self.spec, &self.manifest.prefix())
    }

    fn settings(&self) -> Vec<SettingDef> {
        self.spec.settings.clone()
    }

    fn on_install<'a>(&'a self, ctx: &'a PluginContext) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            for t in self.spec.tables.iter().filter(|t| t.extends_assets) {
                crate::catalog::ensure_assettype(&ctx.db, &t.assettype, &self.manifest.name)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.message))?;
            }
            Ok(())
        })
    }

    fn templates(&self) -> Vec<(String, String)> {
        self.sources.templates.clone()
    }

    fn folder(&self) -> Option<&FolderPlugin> {
        Some(self)
    }
}

#[cfg(test)]
mod tests;
