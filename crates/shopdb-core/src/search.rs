//! The search index: one row per searchable record in `searchindex`, rewritten in the same
//! transaction as every write, so `/api/search` reads one narrow table instead of joining
//! every plugin's tables.

use serde::Serialize;
use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Row};

use crate::db::{Db, Dialect, SqlValue};
use crate::resource::like_pattern;

/// How a record appears in search results.
#[derive(Clone, Debug, Serialize)]
pub struct SearchSpec {
    /// Result `type` (`asset`, `computer` …).
    pub entitytype: String,
    /// Field shown as the result's title.
    pub title: String,
    /// Field shown under the title.
    pub subtitle: Option<String>,
    /// Fields whose text is matched.
    pub fields: Vec<String>,
    /// Link to the record; `{id}` is replaced by its id.
    pub url: String,
    /// Owning plugin; its entries vanish from results while it is disabled.
    pub plugin: Option<String>,
}

fn text_of(record: &Map<String, Value>, field: &str) -> Option<String> {
    match record.get(field)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Writes (or rewrites) the index entry of one record.
pub async fn index_record(
    db: &Db,
    conn: &mut AnyConnection,
    spec: &SearchSpec,
    id: i64,
    assetid: Option<i64>,
    record: &Map<String, Value>,
) -> Result<(), sqlx::Error> {
    let text: Vec<String> = spec
        .fields
        .iter()
        .filter_map(|f| text_of(record, f))
        .map(|s| s.to_lowercase())
        .collect();
    let title = text_of(record, &spec.title).unwrap_or_else(|| format!("{} {id}", spec.entitytype));
    let subtitle = spec.subtitle.as_deref().and_then(|f| text_of(record, f));
    remove(db, conn, &spec.entitytype, id).await?;
    db.query_with(
        "INSERT INTO searchindex (entitytype, entityid, assetid, title, subtitle, url, plugin, searchtext) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            SqlValue::text(&spec.entitytype),
            SqlValue::Int(id),
            SqlValue::opt_int(assetid),
            SqlValue::text(clip(&title, 200)),
            SqlValue::opt_text(subtitle.map(|s| clip(&s, 200))),
            SqlValue::text(spec.url.replace("{id}", &id.to_string())),
            SqlValue::opt_text(spec.plugin.clone()),
            SqlValue::text(clip(&text.join(" "), 1000)),
        ],
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn remove(
    db: &Db,
    conn: &mut AnyConnection,
    entitytype: &str,
    id: i64,
) -> Result<(), sqlx::Error> {
    db.query("DELETE FROM searchindex WHERE entitytype = ? AND entityid = ?")
        .bind(entitytype.to_string())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The FTS5 query for "contains `q`" when the trigram index can answer it: on SQLite, for
/// three characters or more.
fn trigram_term(dialect: Dialect, q: &str) -> Option<SqlValue> {
    (dialect == Dialect::Sqlite && q.chars().count() >= 3)
        .then(|| SqlValue::text(format!("\"{}\"", q.to_lowercase().replace('"', "\"\""))))
}

/// A subquery giving the ids of records of `entitytypes` whose index entry contains `q`, when
/// the trigram index can answer it. Lists use it to narrow `q` before matching the columns
/// themselves: a superset found through the index instead of reading every row.
pub fn candidates(
    dialect: Dialect,
    q: &str,
    entitytypes: &[String],
) -> Option<(String, Vec<SqlValue>)> {
    if entitytypes.is_empty() {
        return None;
    }
    let term = trigram_term(dialect, q)?;
    // `+entitytype` keeps SQLite from walking the entitytype index (every asset's entry)
    // instead of starting from the few rows the trigram index returns.
    let sql = format!(
        "SELECT entityid FROM searchindex WHERE +entitytype IN ({}) \
         AND searchid IN (SELECT rowid FROM searchfts WHERE searchfts MATCH ?)",
        vec!["?"; entitytypes.len()].join(", ")
    );
    let mut values: Vec<SqlValue> = entitytypes.iter().map(SqlValue::text).collect();
    values.push(term);
    Some((sql, values))
}

/// Records whose indexed text contains `q` (case-insensitive), titles starting with it first.
/// `hidden_plugins` are plugins whose entries must not show (disabled ones).
pub async fn search(
    db: &Db,
    q: &str,
    limit: i64,
    hidden_plugins: &[String],
) -> Result<Vec<Value>, sqlx::Error> {
    let q = q.trim();
    // SQLite answers substrings of three characters or more from its trigram index; shorter
    // ones, and the other databases, match the narrow search table directly.
    let (mut sql, mut values) = if let Some(term) = trigram_term(db.dialect(), q) {
        (
            String::from(
                "SELECT entitytype, entityid, title, subtitle, url, assetid FROM searchindex \
                 WHERE searchid IN (SELECT rowid FROM searchfts WHERE searchfts MATCH ?)",
            ),
            vec![term],
        )
    } else {
        (
            String::from(
                "SELECT entitytype, entityid, title, subtitle, url, assetid FROM searchindex WHERE searchtext LIKE ? ESCAPE '!'",
            ),
            vec![SqlValue::text(like_pattern(q))],
        )
    };
    if !hidden_plugins.is_empty() {
        sql.push_str(&format!(
            " AND (plugin IS NULL OR plugin NOT IN ({}))",
            vec!["?"; hidden_plugins.len()].join(", ")
        ));
        values.extend(hidden_plugins.iter().map(SqlValue::text));
    }
    // The limit is written into the SQL (see `db::limit_offset`).
    sql.push_str(&format!(
        " ORDER BY CASE WHEN LOWER(title) LIKE ? ESCAPE '!' THEN 0 ELSE 1 END, title LIMIT {limit}"
    ));
    let prefix = like_pattern(q);
    values.push(SqlValue::text(&prefix[1..]));
    let rows = db.query_with(&sql, &values).fetch_all(db.pool()).await?;
    // An asset a plugin extends has two entries (the asset's and the plugin's); show the
    // plugin's, which says what the thing is.
    let mut plugin_assets = std::collections::HashSet::new();
    for r in &rows {
        if let Some(a) = r.try_get::<Option<i64>, _>(5)?
            && r.try_get::<String, _>(0)? != "asset"
        {
            plugin_assets.insert(a);
        }
    }
    let mut out = Vec::new();
    for r in &rows {
        let kind: String = r.try_get(0)?;
        if kind == "asset"
            && r.try_get::<Option<i64>, _>(5)?
                .is_some_and(|a| plugin_assets.contains(&a))
        {
            continue;
        }
        out.push(json!({
            "type": kind,
            "id": r.try_get::<i64, _>(1)?,
            "title": r.try_get::<String, _>(2)?,
            "subtitle": r.try_get::<Option<String>, _>(3)?,
            "url": r.try_get::<String, _>(4)?,
        }));
    }
    Ok(out)
}
