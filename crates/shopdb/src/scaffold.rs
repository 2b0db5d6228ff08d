//! `shopdb plugin new`: a plugin crate that builds and passes the contract check as generated.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use shopdb_core::plugin::manifest::RESERVED_NAMES;

const CARGO_TOML: &str = include_str!("../templates/plugin/Cargo.toml.tmpl");
const MANIFEST: &str = include_str!("../templates/plugin/manifest.json.tmpl");
const LIB_RS: &str = include_str!("../templates/plugin/lib.rs.tmpl");
const CONTRACT_RS: &str = include_str!("../templates/plugin/contract.rs.tmpl");
const README: &str = include_str!("../templates/plugin/README.md.tmpl");

/// Marker in `plugins.rs` before which new plugins are registered.
pub const REGISTRY_MARKER: &str = "// `shopdb plugin new` adds plugins above this line.";

/// What was generated.
pub struct Scaffolded {
    pub dir: PathBuf,
    /// Whether the plugin was added to the binary's bundled list.
    pub registered: bool,
}

/// The checkout this command runs in: the folder holding the workspace Cargo.toml.
pub fn find_checkout(start: &Path) -> anyhow::Result<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        if d.join("crates/shopdb-core/Cargo.toml").exists() && d.join("Cargo.toml").exists() {
            return Ok(d.to_path_buf());
        }
        dir = d.parent();
    }
    bail!(
        "run `shopdb plugin new` inside a ShopDB checkout (no crates/shopdb-core found above {})",
        start.display()
    )
}

/// Checks a new plugin's name: lowercase letters and digits, starting with a letter, not
/// reserved, not taken.
pub fn check_name(name: &str, taken: &[String]) -> Result<(), String> {
    if name.contains(['_', '-']) {
        return Err(format!(
            "'{name}' may not contain _ or -: use lowercase letters and digits only"
        ));
    }
    if !shopdb_core::is_valid_plugin_name(name) {
        return Err(format!(
            "'{name}' is not a plugin name: lowercase letters and digits, starting with a letter"
        ));
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(format!(
            "'{name}' is reserved for the core: choose another name"
        ));
    }
    if taken.iter().any(|t| t == name) {
        return Err(format!("a plugin named '{name}' already exists"));
    }
    Ok(())
}

fn render(template: &str, name: &str, description: &str, place: &Place) -> String {
    let mut pascal = name.to_string();
    if let Some(first) = pascal.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    template
        .replace("{{name}}", name)
        .replace("{{Name}}", &pascal)
        .replace("{{description}}", &description.replace('"', "'"))
        .replace("{{edition}}", &place.edition)
        .replace("{{core_dependency}}", &place.core_dependency)
        .replace("{{lints}}", &place.lints)
}

/// What differs between a plugin in the workspace and a standalone crate.
struct Place {
    edition: String,
    core_dependency: String,
    lints: String,
}

/// Generates the plugin `name`. Without `dir` it goes to `plugins/<name>` of the checkout and
/// is registered in the binary; with `dir` it is a standalone crate there.
pub fn scaffold(
    checkout: &Path,
    name: &str,
    description: &str,
    dir: Option<PathBuf>,
    overwrite: bool,
) -> anyhow::Result<Scaffolded> {
    let mut taken: Vec<String> = crate::app::registry()
        .loaded
        .iter()
        .map(|p| p.manifest.name.clone())
        .collect();
    if let Ok(entries) = std::fs::read_dir(checkout.join("plugins")) {
        taken.extend(
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned()),
        );
    }
    if overwrite {
        taken.retain(|t| t != name);
    }
    check_name(name, &taken).map_err(anyhow::Error::msg)?;
    if description.trim().is_empty() {
        bail!("--description must say in one sentence what the plugin tracks");
    }
    let in_checkout = dir.is_none();
    let target = dir.unwrap_or_else(|| checkout.join("plugins").join(name));
    if target.exists() && !overwrite {
        bail!(
            "{} already exists: pass --overwrite to replace it",
            target.display()
        );
    }
    let core = checkout.join("crates/shopdb-core");
    let place = if in_checkout {
        Place {
            edition:
                "edition.workspace = true\nrust-version.workspace = true\nlicense.workspace = true"
                    .into(),
            core_dependency: "shopdb-core.workspace = true".into(),
            lints: "\n[lints]\nworkspace = true\n".into(),
        }
    } else {
        let core = core
            .canonicalize()
            .with_context(|| format!("cannot find {}", core.display()))?;
        Place {
            edition: "edition = \"2024\"".into(),
            core_dependency: format!("shopdb-core = {{ path = \"{}\" }}", core.display()),
            lints: "\n[lints.rust]\nunsafe_code = \"forbid\"\n\n# Built on its own, outside the ShopDB workspace.\n[workspace]\n\n[profile.dev]\ndebug = \"line-tables-only\"\n".into(),
        }
    };
    let files: [(&str, &str); 5] = [
        ("Cargo.toml", CARGO_TOML),
        ("manifest.json", MANIFEST),
        ("src/lib.rs", LIB_RS),
        ("tests/contract.rs", CONTRACT_RS),
        ("README.md", README),
    ];
    for (path, template) in files {
        let file = target.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&file, render(template, name, description, &place))
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    // Generated code follows the project's formatting (`cargo fmt --check` runs in CI).
    let _ = std::process::Command::new("rustfmt")
        .args(["--edition", "2024"])
        .arg(target.join("src/lib.rs"))
        .arg(target.join("tests/contract.rs"))
        .status();
    if !in_checkout {
        // Same dependency versions as the framework was built and tested with.
        let _ = std::fs::copy(checkout.join("Cargo.lock"), target.join("Cargo.lock"));
        return Ok(Scaffolded {
            dir: target,
            registered: false,
        });
    }
    register(checkout, name)?;
    Ok(Scaffolded {
        dir: target,
        registered: true,
    })
}

/// Adds the plugin to the binary: its dependency and its line in `plugins.rs`.
fn register(checkout: &Path, name: &str) -> anyhow::Result<()> {
    let cargo = checkout.join("crates/shopdb/Cargo.toml");
    let text = std::fs::read_to_string(&cargo)?;
    let line = format!("{name} = {{ path = \"../../plugins/{name}\" }}");
    if !text.contains(&line) {
        let updated = text.replacen("[dependencies]\n", &format!("[dependencies]\n{line}\n"), 1);
        std::fs::write(&cargo, updated)?;
    }
    let list = checkout.join("crates/shopdb/src/plugins.rs");
    let text = std::fs::read_to_string(&list)?;
    let call = format!("{name}::plugin(),");
    if !text.contains(&call) {
        let Some(at) = text.find(REGISTRY_MARKER) else {
            bail!(
                "cannot find the marker line in {}: add `{call}` to bundled() by hand",
                list.display()
            );
        };
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let indent = &text[line_start..at];
        let updated = format!(
            "{}{indent}{call}\n{}",
            &text[..line_start],
            &text[line_start..]
        );
        std::fs::write(&list, updated)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rules() {
        let taken = vec!["computers".to_string()];
        assert!(check_name("cameras", &taken).is_ok());
        assert!(check_name("cam2", &taken).is_ok());
        assert!(
            check_name("my_cams", &taken)
                .unwrap_err()
                .contains("_ or -")
        );
        assert!(
            check_name("my-cams", &taken)
                .unwrap_err()
                .contains("_ or -")
        );
        assert!(check_name("Cameras", &taken).is_err());
        assert!(check_name("2cams", &taken).is_err());
        assert!(
            check_name("assets", &taken)
                .unwrap_err()
                .contains("reserved")
        );
        assert!(
            check_name("collector", &taken)
                .unwrap_err()
                .contains("reserved")
        );
        assert!(
            check_name("computers", &taken)
                .unwrap_err()
                .contains("already exists")
        );
    }
}
