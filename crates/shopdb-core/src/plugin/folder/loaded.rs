//! A folder plugin as loaded: its files (`Sources`) and, once they passed every check (see
//! `FolderPlugin::from_sources`), the plugin they make (`FolderPlugin`).

use std::path::Path;

use sha2::{Digest, Sha256};

use super::problem::Problem;
use super::spec::Spec;
use super::{build, templates};
use crate::plugin::manifest::Manifest;

pub const MANIFEST_FILE: &str = "manifest.json";
pub const MODEL_FILE: &str = "model.toml";

/// A folder plugin's files, as read from its folder or from the database.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sources {
    pub manifest: String,
    pub model: String,
    /// The optional page templates (`templates/<name>`), by name, sorted.
    pub templates: Vec<(String, String)>,
}

impl Sources {
    /// Reads `dir/manifest.json`, `dir/model.toml` and whatever `dir/templates/` holds.
    pub fn read(dir: &Path) -> Result<Sources, Vec<Problem>> {
        let read = |file: &str| {
            std::fs::read_to_string(dir.join(file)).map_err(|e| Problem {
                file: file.into(),
                line: 0,
                key: "(file)".into(),
                message: format!("cannot read {}: {e}", dir.join(file).display()),
            })
        };
        match (read(MANIFEST_FILE), read(MODEL_FILE), templates::read(dir)) {
            (Ok(manifest), Ok(model), Ok(templates)) => Ok(Sources {
                manifest,
                model,
                templates,
            }),
            (a, b, c) => {
                let mut problems: Vec<Problem> = [a.err(), b.err()].into_iter().flatten().collect();
                problems.extend(c.err().into_iter().flatten());
                Err(problems)
            }
        }
    }

    /// SHA-256 of every file: equal checksums, equal plugins.
    pub fn checksum(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.manifest.as_bytes());
        h.update([0u8]);
        h.update(self.model.as_bytes());
        for (name, source) in &self.templates {
            h.update([0u8]);
            h.update(name.as_bytes());
            h.update([0u8]);
            h.update(source.as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A folder plugin whose model passed every check.
pub struct FolderPlugin {
    pub(super) manifest: Manifest,
    pub(super) spec: Spec,
    pub(super) sources: Sources,
}

impl FolderPlugin {
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    /// URL segment (below `/api`) of one of its tables.
    pub fn resource_path(&self, table: &str) -> String {
        build::resource_path(&self.manifest.prefix(), table)
    }
}
