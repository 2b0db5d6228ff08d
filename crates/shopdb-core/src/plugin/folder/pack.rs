//! One file per folder plugin, to share it between sites: a zip holding `<name>/manifest.json`,
//! `<name>/model.toml` and the plugin's `<name>/templates/…html`. Unpacking accepts nothing
//! else: no other file, no path outside the plugin's folder, nothing larger than a model or
//! a template needs.

use std::io::{Cursor, Read, Write};

use super::templates::{self, TEMPLATES_DIR};
use super::{FolderPlugin, MANIFEST_FILE, MODEL_FILE, Problem, Sources};

/// Largest packed file accepted (an upload, an `install FILE`).
pub const MAX_PACKED: usize = 1024 * 1024;
/// Largest unpacked manifest or model.
pub const MAX_FILE: u64 = 512 * 1024;

/// Why a packed plugin is refused.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("the file is {0} bytes; a packed plugin is at most {MAX_PACKED} bytes")]
    TooLarge(usize),
    #[error("not a packed plugin (zip): {0}")]
    NotZip(String),
    #[error(
        "unexpected entry '{0}': a packed plugin holds only <name>/manifest.json, <name>/model.toml and <name>/templates/….html"
    )]
    Unexpected(String),
    #[error("entry '{0}' is larger than {MAX_FILE} bytes")]
    EntryTooLarge(String),
    #[error("the packed plugin lacks {0}")]
    Missing(&'static str),
    #[error("the packed plugin does not pass the check: {0}")]
    Invalid(String),
}

/// The zip of plugin `name`'s sources.
pub fn pack(name: &str, sources: &Sources) -> anyhow::Result<Vec<u8>> {
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    let files = [
        (MANIFEST_FILE.to_string(), &sources.manifest),
        (MODEL_FILE.to_string(), &sources.model),
    ]
    .into_iter()
    .chain(
        sources
            .templates
            .iter()
            .map(|(n, text)| (templates::file_of(n), text)),
    );
    for (file, text) in files {
        out.start_file(format!("{name}/{file}"), options)?;
        out.write_all(text.as_bytes())?;
    }
    Ok(out.finish()?.into_inner())
}

/// The plugin in a packed file, checked; its name comes from the folder inside.
pub fn unpack(bytes: &[u8]) -> Result<(String, FolderPlugin), PackError> {
    if bytes.len() > MAX_PACKED {
        return Err(PackError::TooLarge(bytes.len()));
    }
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| PackError::NotZip(e.to_string()))?;
    let mut name: Option<String> = None;
    let (mut manifest, mut model) = (None, None);
    let mut found_templates: Vec<(String, String)> = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| PackError::NotZip(e.to_string()))?;
        let path = entry
            .name()
            .map_err(|e| PackError::NotZip(e.to_string()))?
            .to_string();
        if entry.is_dir() {
            let dir = path.trim_end_matches('/');
            let fine = match dir.split_once('/') {
                None => crate::is_valid_plugin_name(dir),
                Some((folder, inside)) => {
                    crate::is_valid_plugin_name(folder)
                        && (inside == TEMPLATES_DIR
                            || inside
                                .strip_prefix(TEMPLATES_DIR)
                                .and_then(|d| d.strip_prefix('/'))
                                .is_some_and(|d| templates::well_formed(&format!("{d}/x.html"))))
                }
            };
            if !fine {
                return Err(PackError::Unexpected(path));
            }
            continue;
        }
        let (folder, file) = path
            .split_once('/')
            .ok_or_else(|| PackError::Unexpected(path.clone()))?;
        let template = file
            .strip_prefix(TEMPLATES_DIR)
            .and_then(|t| t.strip_prefix('/'))
            .filter(|t| templates::well_formed(t));
        let known = file == MANIFEST_FILE || file == MODEL_FILE || template.is_some();
        if !known
            || !crate::is_valid_plugin_name(folder)
            || name.as_deref().is_some_and(|n| n != folder)
        {
            return Err(PackError::Unexpected(path));
        }
        name = Some(folder.to_string());
        if entry.size() > MAX_FILE {
            return Err(PackError::EntryTooLarge(path));
        }
        let mut text = String::new();
        (&mut entry)
            .take(MAX_FILE + 1)
            .read_to_string(&mut text)
            .map_err(|e| PackError::NotZip(format!("{path}: {e}")))?;
        if text.len() as u64 > MAX_FILE {
            return Err(PackError::EntryTooLarge(path));
        }
        if let Some(template) = template {
            found_templates.push((template.to_string(), text));
        } else if file == MANIFEST_FILE {
            manifest = Some(text);
        } else {
            model = Some(text);
        }
    }
    let name = name.ok_or(PackError::Missing(MANIFEST_FILE))?;
    let manifest = manifest.ok_or(PackError::Missing(MANIFEST_FILE))?;
    let model = model.ok_or(PackError::Missing(MODEL_FILE))?;
    found_templates.sort();
    let sources = Sources {
        manifest,
        model,
        templates: found_templates,
    };
    let plugin = FolderPlugin::from_sources(&name, sources)
        .map_err(|p: Vec<Problem>| PackError::Invalid(super::describe(&p)))?;
    Ok((name, plugin))
}

/// Writes an unpacked plugin into `plugin_dir/<name>/`; refused when a different plugin of
/// that name is there already.
pub fn write_folder(
    plugin_dir: &std::path::Path,
    name: &str,
    sources: &Sources,
) -> anyhow::Result<std::path::PathBuf> {
    let dir = plugin_dir.join(name);
    if dir.exists() {
        match Sources::read(&dir) {
            Ok(existing) if &existing == sources => return Ok(dir),
            _ => anyhow::bail!(
                "{} exists and holds another version of {name}: remove it first",
                dir.display()
            ),
        }
    }
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(MANIFEST_FILE), &sources.manifest)?;
    std::fs::write(dir.join(MODEL_FILE), &sources.model)?;
    for (name, text) in &sources.templates {
        // Names were checked (`templates::well_formed`): relative, no `..`.
        let path = dir.join(TEMPLATES_DIR).join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    Ok(dir)
}
