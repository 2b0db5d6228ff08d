//! A folder plugin as a sister site writes it: any `model.toml` text and, after a NUL byte,
//! any page template, checked together with a valid manifest. No panic; a refusal names at
//! least one problem, each with its file and a line inside that file; an accepted model gives
//! tables that the three databases' DDL can be written for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shopdb_core::db::Dialect;
use shopdb_core::plugin::Plugin;
use shopdb_core::plugin::folder::{FolderPlugin, Sources};

const MANIFEST: &str = r#"{"name": "cameras", "version": "0.1.0", "description": "Cameras",
  "core_version": ">=1.0.0,<2.0.0", "api_prefix": "/api/cameras", "dependencies": []}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(model) = std::str::from_utf8(data) else {
        return;
    };
    let (model, template) = match model.split_once('\u{0}') {
        Some((model, template)) => (model, Some(template)),
        None => (model, None),
    };
    let sources = Sources {
        manifest: MANIFEST.to_string(),
        model: model.to_string(),
        templates: template
            .map(|t| vec![("cameras/part.html".to_string(), t.to_string())])
            .unwrap_or_default(),
    };
    match FolderPlugin::from_sources("cameras", sources) {
        Ok(plugin) => {
            for table in plugin.models() {
                for dialect in [Dialect::Sqlite, Dialect::MySql, Dialect::Postgres] {
                    assert!(!table.create_sql(dialect).is_empty());
                }
            }
        }
        Err(problems) => {
            assert!(!problems.is_empty(), "a refusal names its problems");
            let lines = model.lines().count().max(1);
            let template_lines = template.map_or(1, |t| t.lines().count().max(1));
            for p in &problems {
                let known = ["model.toml", "manifest.json", "templates/cameras/part.html"];
                assert!(known.contains(&p.file.as_str()), "{p:?}");
                if p.file == "model.toml" {
                    assert!(p.line <= lines + 1, "line {} of {lines}: {p:?}", p.line);
                }
                if p.file.starts_with("templates/") {
                    assert!(p.line <= template_lines + 1, "line {} of {template_lines}: {p:?}", p.line);
                }
                assert!(!p.message.is_empty());
            }
        }
    }
});
