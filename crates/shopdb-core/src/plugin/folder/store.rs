//! Installed folder plugins kept in the database (`folderplugins`): every server process,
//! on any host, loads the same model, whatever its own plugin folder holds.

use sqlx::Row;

use super::Sources;
use crate::db::{Db, SqlValue};

/// The stored sources of every installed folder plugin, by name.
pub async fn stored(db: &Db) -> Result<Vec<(String, Sources)>, sqlx::Error> {
    let rows = db
        .query("SELECT pluginname, manifest, model FROM folderplugins ORDER BY pluginname")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>(0)?,
                Sources {
                    manifest: r.try_get(1)?,
                    model: r.try_get(2)?,
                },
            ))
        })
        .collect()
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
        "INSERT INTO folderplugins (pluginname, manifest, model, checksum, storeddate) VALUES (?, ?, ?, ?, ?)",
        vec![
            SqlValue::text(name),
            SqlValue::text(&sources.manifest),
            SqlValue::text(&sources.model),
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
