//! The folder plugin commands that need no database: `plugin new` (folder form), `plugin
//! check`, `plugin pack`, and unpacking the file `plugin install FILE` takes.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use shopdb_core::plugin::Plugin;
use shopdb_core::plugin::folder::{self, FolderPlugin, MODEL_SCHEMA, Problem, Sources, pack};

const MANIFEST: &str = include_str!("../templates/folder/manifest.json.tmpl");
const MODEL: &str = include_str!("../templates/folder/model.toml.tmpl");

/// The schema file next to the plugin folders, which each model.toml names on its first line.
pub const SCHEMA_FILE: &str = "model.schema.json";

/// Writes a folder plugin `name` into `plugin_dir`; returns its folder.
pub fn scaffold(
    plugin_dir: &Path,
    name: &str,
    description: &str,
    overwrite: bool,
) -> anyhow::Result<PathBuf> {
    crate::scaffold::check_name(name, &[]).map_err(anyhow::Error::msg)?;
    let dir = plugin_dir.join(name);
    if dir.exists() && !overwrite {
        bail!(
            "{} already exists: pass --overwrite to replace it",
            dir.display()
        );
    }
    let title = format!("{}{}", name[..1].to_uppercase(), &name[1..]);
    let label = title.strip_suffix('s').unwrap_or(&title).to_string();
    let render = |t: &str| {
        t.replace("{{name}}", name)
            .replace("{{Title}}", &title)
            .replace("{{Label}}", &label)
            .replace(
                "{{description}}",
                &serde_json::json!(description).to_string(),
            )
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join(folder::MANIFEST_FILE), render(MANIFEST))?;
    std::fs::write(dir.join(folder::MODEL_FILE), render(MODEL))?;
    write_schema(plugin_dir)?;
    Ok(dir)
}

/// (Re)writes the model's JSON Schema into the plugin folder, for editors.
pub fn write_schema(plugin_dir: &Path) -> anyhow::Result<()> {
    std::fs::write(plugin_dir.join(SCHEMA_FILE), MODEL_SCHEMA)
        .with_context(|| format!("cannot write {}", plugin_dir.join(SCHEMA_FILE).display()))
}

/// The folder `target` names: a folder path, or a plugin name in `plugin_dir`.
pub fn resolve(plugin_dir: &Path, target: &str) -> anyhow::Result<PathBuf> {
    let as_path = PathBuf::from(target);
    if as_path.join(folder::MANIFEST_FILE).is_file() {
        return Ok(as_path);
    }
    let in_dir = plugin_dir.join(target);
    if in_dir.is_dir() {
        return Ok(in_dir);
    }
    bail!(
        "no folder plugin '{target}': neither {} nor {} holds a manifest.json (SHOPDB_PLUGIN_DIR is {})",
        as_path.display(),
        in_dir.display(),
        plugin_dir.display()
    )
}

/// Every problem of the plugin in `dir`: its files, then conflicts with the core and the
/// bundled plugins.
pub fn check(dir: &Path) -> (Option<FolderPlugin>, Vec<Problem>) {
    match FolderPlugin::load(dir) {
        Err(problems) => (None, problems),
        Ok(plugin) => {
            let mut candidates = crate::plugins::bundled();
            let plugin: std::sync::Arc<dyn Plugin> = std::sync::Arc::new(plugin);
            candidates.push(Ok(plugin));
            match crate::catalog::conflicts_of_last(&candidates) {
                Some(problems) => (None, problems),
                None => (FolderPlugin::load(dir).ok(), Vec::new()),
            }
        }
    }
}

/// Prints the problems of `target` (one line each, with file and line) and what it holds.
pub fn check_command(plugin_dir: &Path, target: &str) -> anyhow::Result<bool> {
    let dir = resolve(plugin_dir, target)?;
    let (plugin, problems) = check(&dir);
    for p in &problems {
        let file = if p.line > 0 {
            format!("{}:{}", dir.join(&p.file).display(), p.line)
        } else {
            dir.join(&p.file).display().to_string()
        };
        eprintln!("{file}: {}: {}", p.key, p.message);
    }
    let Some(plugin) = plugin else {
        eprintln!("{}: {} problem(s)", dir.display(), problems.len());
        return Ok(false);
    };
    let spec = plugin.spec();
    let fields: usize = spec.tables.iter().map(|t| t.fields.len()).sum();
    println!(
        "{}: OK ({} table(s), {fields} field(s), {} widget(s){})",
        plugin.manifest().name,
        spec.tables.len(),
        spec.widgets.len(),
        if spec.collector.is_some() {
            ", a collector"
        } else {
            ""
        }
    );
    Ok(true)
}

/// Packs the plugin `target` into one file; returns where it was written.
pub fn pack_command(
    plugin_dir: &Path,
    target: &str,
    output: Option<PathBuf>,
) -> anyhow::Result<PathBuf> {
    let dir = resolve(plugin_dir, target)?;
    let (plugin, problems) = check(&dir);
    let Some(plugin) = plugin else {
        bail!(
            "{} does not pass the check: {}; run shopdb plugin check {target}",
            dir.display(),
            folder::describe(&problems)
        );
    };
    let manifest = plugin.manifest();
    let file = output
        .unwrap_or_else(|| PathBuf::from(format!("{}-{}.zip", manifest.name, manifest.version)));
    let bytes = pack::pack(&manifest.name, plugin.sources())?;
    std::fs::write(&file, bytes).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(file)
}

/// Unpacks a packed plugin into `plugin_dir` after checking it; returns its name.
pub fn unpack_file(plugin_dir: &Path, file: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let (name, plugin) = pack::unpack(&bytes)?;
    let sources: &Sources = plugin.sources();
    pack::write_folder(plugin_dir, &name, sources)?;
    Ok(name)
}

/// The folder of the installed folder plugin `name` as it is now (edited or not), checked;
/// `None` when `name` is not a folder plugin or its folder is not in `plugin_dir` (then its
/// stored model is all there is).
pub fn edited(
    plugin_dir: &Path,
    registry: &shopdb_core::plugin::Registry,
    name: &str,
) -> anyhow::Result<Option<FolderPlugin>> {
    let is_folder = registry
        .get(name)
        .is_some_and(|p| p.plugin.folder().is_some());
    let dir = plugin_dir.join(name);
    if !is_folder || !dir.join(folder::MANIFEST_FILE).is_file() {
        return Ok(None);
    }
    match FolderPlugin::load(&dir) {
        Ok(plugin) => Ok(Some(plugin)),
        Err(problems) => bail!(
            "{} does not pass the check, nothing was changed: {}; run shopdb plugin check {name}",
            dir.display(),
            folder::describe(&problems)
        ),
    }
}
