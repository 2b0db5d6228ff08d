//! Installed folder plugins kept in the database (`folderplugins`): every server process,
//! on any host, loads the same model, whatever its own plugin folder holds.

use sqlx::Row;

use super::loaded::Sources;
use crate::db::{Db, SqlValue};

/// The stored sources of every installed folder plugin, by name.
pub async fn stored(db: &Db) -> Result<Vec<(String, Sources)>, sqlx::Error> {
    let rows = db
        .query(
            "SELECT pluginname, manifest, model, templates FROM folderplugins ORDER BY pluginname",
        )
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            let templates: Option<String> = r.try_get(3)?;
            Ok((
                r.try_get::<String, _>(0)?,
                Sources {
                    manifest: r.try_get(1)?,
                    model: r.try_get(2)?,
                    templates: templates_from(templates.as_deref()),
                },
            ))
        })
        .collect()
}

/// Templates as stored: a JSON object of name → source (NULL: none, as stored before
/// templates were kept).
fn templates_from(stored: Option<&str>) -> Vec<(String, String)> {
    let Some(text) = stored else {
        return Vec::new();
    };
    let map: std::collections::BTreeMap<String, String> = match serde_json::from_str(text) {
        Ok(map) => map,
        Err(e) => {
            // Only this module writes the column; a damaged value loads the plugin without
            // its templates (the generated pages) rather than not at all.
            tracing::warn!(error = %e, "stored folder plugin templates are not readable");
            return Vec::new();
        }
    };
    map.into_iter().collect()
}

fn templates_to(templates: &[(String, String)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = templates
        .iter()
        .map(|(n, s)| (n.clone(), serde_json::Value::String(s.clone())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Name and checksum of every stored plugin: what changes when one is installed, changed
/// or removed anywhere.
pub async fn fingerprint(db: &Db) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = db
        .query("SELECT pluginname, checksum FROM folderplugins ORDER BY pluginname")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// The statement that stores (or replaces) `name`'s sources, for the caller's transaction.
pub fn save_statement(name: &str, sources: &Sources) -> (&'static str, Vec<SqlValue>) {
    (
        "INSERT INTO folderplugins (pluginname, manifest, model, templates, checksum, storeddate) VALUES (?, ?, ?, ?, ?, ?)",
        vec![
            SqlValue::text(name),
            SqlValue::text(&sources.manifest),
            SqlValue::text(&sources.model),
            SqlValue::text(templates_to(&sources.templates)),
            SqlValue::text(sources.checksum()),
            SqlValue::text(crate::util::now()),
        ],
    )
}

/// The statement that forgets `name`'s sources.
pub const DELETE_SQL: &str = "DELETE FROM folderplugins WHERE pluginname = ?";

/// The statements that replace the stored sources of an installed plugin `name` (after its
/// tables were migrated to a new model), for the caller's transaction; every server then
/// loads the new model.
pub fn replace_statements(name: &str, sources: &Sources) -> [(&'static str, Vec<SqlValue>); 2] {
    [
        (DELETE_SQL, vec![SqlValue::text(name)]),
        save_statement(name, sources),
    ]
}
