//! The search index: one row per searchable record in `searchindex`, rewritten in the same
//! transaction as every write, so `/api/search` reads one narrow table instead of joining
//! every plugin's tables.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Row};

use crate::db::like_pattern;
use crate::db::{Db, Dialect, SqlValue};

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

/// The search entry every asset has (its number, name and serial), whichever plugin extends
/// it: the core asset resource's, kept by extension records too.
pub fn asset_spec() -> SearchSpec {
    SearchSpec {
        entitytype: "asset".into(),
        title: "assetnumber".into(),
        subtitle: Some("name".into()),
        fields: vec!["assetnumber".into(), "name".into(), "serialnumber".into()],
        url: "/assets/{id}".into(),
        plugin: None,
    }
}

/// How one of a record's entries stands to its other one. A record a plugin extends keeps
/// two: the asset's (number, name, serial), which every asset has, and the plugin's, which
/// says what the thing is and also holds the asset entry's whole text. So whatever the asset
/// entry matches the plugin's matches too, and in results the asset's entry steps aside
/// while the plugin is enabled: the record shows once, as the plugin's.
#[derive(Clone, Debug, PartialEq)]
pub enum Link {
    /// The record's only entry.
    Alone,
    /// The asset entry of a record the plugin named here extends ("" when no plugin owns the
    /// extension: it never steps back in).
    AsideFor(String),
    /// The plugin's entry of an extension record: it holds the asset entry's text.
    Holding,
}

impl Link {
    /// What `searchindex.extendedby` holds for an entry of this kind.
    fn extended_by(&self) -> Option<String> {
        match self {
            Link::AsideFor(plugin) => Some(plugin.clone()),
            Link::Alone | Link::Holding => None,
        }
    }
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

/// What one record's index entry holds.
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    title: String,
    subtitle: Option<String>,
    text: String,
}

fn entry_of(spec: &SearchSpec, link: &Link, id: i64, record: &Map<String, Value>) -> Entry {
    // A value that two fields share (a collector-made asset number is the host name) is
    // indexed once: the entry contains the same text, and the trigram index has less to
    // write and to read.
    let mut text: Vec<String> = Vec::with_capacity(spec.fields.len());
    for value in spec.fields.iter().filter_map(|f| text_of(record, f)) {
        let value = value.to_lowercase();
        if !text.contains(&value) {
            text.push(value);
        }
    }
    let title = text_of(record, &spec.title).unwrap_or_else(|| format!("{} {id}", spec.entitytype));
    let subtitle = spec.subtitle.as_deref().and_then(|f| text_of(record, f));
    let mut text = clip(&text.join(" "), TEXT_MAX);
    if *link == Link::Holding {
        let asset = entry_of(&asset_spec(), &Link::Alone, id, record).text;
        text = holding(text, &asset);
    }
    Entry {
        title: clip(&title, 200),
        subtitle: subtitle.map(|s| clip(&s, 200)),
        text,
    }
}

/// Longest text of one entry, in characters (the column's size).
const TEXT_MAX: usize = 1000;

/// A plugin entry's text `own` made to hold its asset entry's text `asset`: as it is when it
/// already does (a PC's host name and serial are its asset number and serial), else with
/// `asset` after it, `own` cut short where both would not fit. The core's migration 10 does
/// the same in SQL for entries written before.
fn holding(own: String, asset: &str) -> String {
    if own.contains(asset) {
        return own;
    }
    let room = TEXT_MAX.saturating_sub(asset.chars().count() + 1);
    clip(&format!("{} {asset}", clip(&own, room)), TEXT_MAX)
}

/// Writes (or rewrites) the index entry of one record. With `before` (the record as it was)
/// an entry whose text, title and subtitle stay the same is left alone; `fresh` says the
/// record was just created, so it has no entry yet.
#[allow(clippy::too_many_arguments)]
pub async fn index_record(
    db: &Db,
    conn: &mut AnyConnection,
    spec: &SearchSpec,
    link: &Link,
    id: i64,
    assetid: Option<i64>,
    record: &Map<String, Value>,
    before: Option<&Map<String, Value>>,
    fresh: bool,
) -> Result<(), sqlx::Error> {
    let entry = entry_of(spec, link, id, record);
    if before.is_some_and(|b| entry_of(spec, link, id, b) == entry) {
        return Ok(());
    }
    if db.dialect() == Dialect::MySql {
        return write_mysql(db, conn, spec, link, vec![(id, assetid, entry, fresh)]).await;
    }
    let url = spec.url.replace("{id}", &id.to_string());
    // A changed record's entry is rewritten in place.
    if before.is_some() {
        let done = db
            .query_with(
                "UPDATE searchindex SET assetid = ?, title = ?, subtitle = ?, url = ?, plugin = ?, searchtext = ?, extendedby = ? \
                 WHERE entitytype = ? AND entityid = ?",
                &[
                    SqlValue::opt_int(assetid),
                    SqlValue::text(&entry.title),
                    SqlValue::opt_text(entry.subtitle.clone()),
                    SqlValue::text(&url),
                    SqlValue::opt_text(spec.plugin.clone()),
                    SqlValue::text(&entry.text),
                    SqlValue::opt_text(link.extended_by()),
                    SqlValue::text(&spec.entitytype),
                    SqlValue::Int(id),
                ],
            )
            .execute(&mut *conn)
            .await?;
        if done.rows_affected() > 0 {
            return Ok(());
        }
    }
    if !fresh {
        remove(db, conn, &spec.entitytype, id).await?;
    }
    insert_entries(db, conn, spec, link, &[(id, assetid, entry)]).await
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

/// One record's entry to rewrite: the record now and as it was.
pub struct Rewrite<'a> {
    pub id: i64,
    pub assetid: Option<i64>,
    pub record: &'a Map<String, Value>,
    pub before: &'a Map<String, Value>,
    /// Just created: it has no entry yet (nothing to remove, `before` is not looked at).
    pub fresh: bool,
}

/// A record's id, its asset's id and the entry to write for it.
type Written = (i64, Option<i64>, Entry);

/// Rewrites the entries of many records of one kind at once (a collector batch), as
/// `index_record` would each, in a few statements. A changed entry is updated in place, and
/// only in what changed: a PC whose current user changed has a new subtitle and text, but
/// its title (the host name) and the rest stay, so the entry's row is rewritten while the
/// indexes on title, asset and record are not touched. (Written anew, as they once were,
/// each changed entry dirtied a page of each of those indexes besides its own.)
pub async fn index_many(
    db: &Db,
    conn: &mut AnyConnection,
    spec: &SearchSpec,
    link: &Link,
    items: &[Rewrite<'_>],
) -> Result<(), sqlx::Error> {
    if db.dialect() == Dialect::MySql {
        let items = items
            .iter()
            .map(|r| {
                let entry = entry_of(spec, link, r.id, r.record);
                (r.id, r.assetid, entry, r.fresh)
            })
            .collect();
        return write_mysql(db, conn, spec, link, items).await;
    }
    let mut fresh: Vec<Written> = Vec::new();
    // Changed entries by which of title, subtitle and text changed.
    let mut changed: std::collections::BTreeMap<[bool; 3], Vec<Written>> = Default::default();
    for r in items {
        let entry = entry_of(spec, link, r.id, r.record);
        if r.fresh {
            fresh.push((r.id, r.assetid, entry));
            continue;
        }
        let old = entry_of(spec, link, r.id, r.before);
        let which = [
            old.title != entry.title,
            old.subtitle != entry.subtitle,
            old.text != entry.text,
        ];
        if which.contains(&true) {
            changed
                .entry(which)
                .or_default()
                .push((r.id, r.assetid, entry));
        }
    }
    for (which, entries) in &changed {
        for chunk in entries.chunks(100) {
            let missing = update_entries(db, conn, spec, *which, chunk).await?;
            fresh.extend(
                chunk
                    .iter()
                    .filter(|(id, _, _)| missing.contains(id))
                    .cloned(),
            );
        }
    }
    for chunk in fresh.chunks(100) {
        insert_entries(db, conn, spec, link, chunk).await?;
    }
    Ok(())
}

/// Inserts the entries of `chunk` (up to 100 records that have none) in one statement.
async fn insert_entries(
    db: &Db,
    conn: &mut AnyConnection,
    spec: &SearchSpec,
    link: &Link,
    chunk: &[Written],
) -> Result<(), sqlx::Error> {
    let mut binds = Vec::with_capacity(chunk.len() * 9);
    for (id, assetid, entry) in chunk {
        binds.extend([
            SqlValue::text(&spec.entitytype),
            SqlValue::Int(*id),
            SqlValue::opt_int(*assetid),
            SqlValue::text(&entry.title),
            SqlValue::opt_text(entry.subtitle.clone()),
            SqlValue::text(spec.url.replace("{id}", &id.to_string())),
            SqlValue::opt_text(spec.plugin.clone()),
            SqlValue::text(&entry.text),
            SqlValue::opt_text(link.extended_by()),
        ]);
    }
    db.query_batch(
        &format!(
            "INSERT INTO searchindex (entitytype, entityid, assetid, title, subtitle, url, plugin, searchtext, extendedby) VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
        ),
        &binds,
        chunk.len() == 100,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An entry as MySQL has it stored: its id, what it holds and its `extendedby`.
type Stored = (i64, Entry, Option<String>);

/// MySQL: writes the entries of records (id, asset id, entry, just created) as `index_many`
/// does elsewhere, and keeps each entry's word endings (see `suffixes`) in step with its
/// text. An entry that is there is updated in place, and only the endings that came or went
/// are written: a PC whose user changed loses the old user's endings and gains the new
/// one's, and the few dozen others stay. The endings to drop are worked out from the text
/// as stored, not from the record as it was, so they are the ones that were written.
async fn write_mysql(
    db: &Db,
    conn: &mut AnyConnection,
    spec: &SearchSpec,
    link: &Link,
    items: Vec<(i64, Option<i64>, Entry, bool)>,
) -> Result<(), sqlx::Error> {
    let aside = link.extended_by();
    let ids: Vec<i64> = items.iter().filter(|i| !i.3).map(|i| i.0).collect();
    let mut stored = entries_stored(db, conn, &spec.entitytype, &ids).await?;
    let mut fresh: Vec<Written> = Vec::new();
    // Entries to update: id, new content, text as stored, whether the link changed.
    let mut changed: Vec<(i64, Entry, String, bool)> = Vec::new();
    for (id, assetid, entry, _) in items {
        match stored.remove(&id) {
            None => fresh.push((id, assetid, entry)),
            Some((searchid, old, old_aside)) => {
                if old != entry || old_aside != aside {
                    changed.push((searchid, entry, old.text, old_aside != aside));
                }
            }
        }
    }
    for chunk in fresh.chunks(100) {
        insert_entries(db, conn, spec, link, chunk).await?;
        let ids: Vec<i64> = chunk.iter().map(|(id, _, _)| *id).collect();
        let searchids = entries_stored(db, conn, &spec.entitytype, &ids).await?;
        let mut rows: Vec<Suffix> = Vec::new();
        for (id, _, entry) in chunk {
            if let Some((searchid, _, _)) = searchids.get(id) {
                let endings = suffixes(&entry.text).into_iter();
                rows.extend(endings.map(|s| (s, *searchid, aside.clone())));
            }
        }
        insert_suffixes(db, conn, &rows).await?;
    }
    for chunk in changed.chunks(100) {
        let mut binds = Vec::with_capacity(chunk.len() * 7 + 1);
        for column in 0..3 {
            for (searchid, entry, _, _) in chunk {
                binds.push(SqlValue::Int(*searchid));
                binds.push(match column {
                    0 => SqlValue::text(&entry.title),
                    1 => SqlValue::opt_text(entry.subtitle.clone()),
                    _ => SqlValue::text(&entry.text),
                });
            }
        }
        binds.push(SqlValue::opt_text(aside.clone()));
        binds.extend(chunk.iter().map(|c| SqlValue::Int(c.0)));
        let case = vec!["WHEN ? THEN ?"; chunk.len()].join(" ");
        db.query_batch(
            &format!(
                "UPDATE searchindex SET title = CASE searchid {case} END, \
                 subtitle = CASE searchid {case} END, searchtext = CASE searchid {case} END, \
                 extendedby = ? WHERE searchid IN ({})",
                vec!["?"; chunk.len()].join(", ")
            ),
            &binds,
            chunk.len() == 100,
        )
        .execute(&mut *conn)
        .await?;
        // Entries whose link changed take the new `aside` on all their endings.
        let relinked: Vec<SqlValue> = chunk
            .iter()
            .filter(|c| c.3)
            .map(|c| SqlValue::Int(c.0))
            .collect();
        if !relinked.is_empty() {
            let mut binds = vec![SqlValue::opt_text(aside.clone())];
            let marks = vec!["?"; relinked.len()].join(", ");
            binds.extend(relinked);
            db.query_with(
                &format!("UPDATE searchsuffixes SET aside = ? WHERE searchid IN ({marks})"),
                &binds,
            )
            .execute(&mut *conn)
            .await?;
        }
        let mut came: Vec<Suffix> = Vec::new();
        for (searchid, entry, old_text, _) in chunk {
            let old: BTreeSet<String> = suffixes(old_text).into_iter().collect();
            let now: BTreeSet<String> = suffixes(&entry.text).into_iter().collect();
            came.extend(
                now.difference(&old)
                    .map(|s| (s.clone(), *searchid, aside.clone())),
            );
            // One statement per entry: MariaDB plans a list of (ending, entry) pairs in
            // time that grows with the square of its length (70 ms for 500 pairs).
            let mut binds = vec![SqlValue::Int(*searchid)];
            binds.extend(old.difference(&now).map(SqlValue::text));
            if binds.len() > 1 {
                db.query_with(
                    &format!(
                        "DELETE FROM searchsuffixes WHERE searchid = ? AND suffix IN ({})",
                        vec!["?"; binds.len() - 1].join(", ")
                    ),
                    &binds,
                )
                .execute(&mut *conn)
                .await?;
            }
        }
        came.sort();
        insert_suffixes(db, conn, &came).await?;
    }
    Ok(())
}

/// MySQL: the entries of `entitytype` stored for the records `ids`, by record id.
async fn entries_stored(
    db: &Db,
    conn: &mut AnyConnection,
    entitytype: &str,
    ids: &[i64],
) -> Result<HashMap<i64, Stored>, sqlx::Error> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(100) {
        let mut binds = vec![SqlValue::text(entitytype)];
        binds.extend(chunk.iter().map(|id| SqlValue::Int(*id)));
        let rows = db
            .query_with(
                &format!(
                    "SELECT entityid, searchid, title, subtitle, searchtext, extendedby FROM searchindex \
                     WHERE entitytype = ? AND entityid IN ({})",
                    vec!["?"; chunk.len()].join(", ")
                ),
                &binds,
            )
            .fetch_all(&mut *conn)
            .await?;
        for r in &rows {
            let entry = Entry {
                title: r.try_get(2)?,
                subtitle: r.try_get(3)?,
                text: r.try_get(4)?,
            };
            out.insert(r.try_get(0)?, (r.try_get(1)?, entry, r.try_get(5)?));
        }
    }
    Ok(out)
}

/// Sets the columns `which` (title, subtitle, text) of the entries of `chunk` to their new
/// values in one statement (SQLite and PostgreSQL), and returns the records that had no
/// entry to update (one written before its plugin indexed anything), to be written anew.
async fn update_entries(
    db: &Db,
    conn: &mut AnyConnection,
    spec: &SearchSpec,
    which: [bool; 3],
    chunk: &[Written],
) -> Result<Vec<i64>, sqlx::Error> {
    let columns: Vec<&str> = ["title", "subtitle", "searchtext"]
        .into_iter()
        .zip(which)
        .filter_map(|(column, changed)| changed.then_some(column))
        .collect();
    // The list of new values is joined by record id. SQLite names the columns of a VALUES
    // list column1, column2 …; PostgreSQL takes names, and types the values as text unless
    // told otherwise.
    let postgres = db.dialect() == Dialect::Postgres;
    let name = |i: usize| {
        if postgres {
            format!("c{i}")
        } else {
            format!("column{i}")
        }
    };
    let id_mark = if postgres { "CAST(? AS BIGINT)" } else { "?" };
    let row = format!("({id_mark}{})", ", ?".repeat(columns.len()));
    let sets: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, column)| format!("{column} = v.{}", name(i + 2)))
        .collect();
    let alias = if postgres {
        let names: Vec<String> = (1..=columns.len() + 1).map(name).collect();
        format!("v({})", names.join(", "))
    } else {
        "v".to_string()
    };
    let mut binds = Vec::with_capacity(chunk.len() * (columns.len() + 1) + 1);
    for (id, _, entry) in chunk {
        binds.push(SqlValue::Int(*id));
        for column in &columns {
            binds.push(match *column {
                "title" => SqlValue::text(&entry.title),
                "subtitle" => SqlValue::opt_text(entry.subtitle.clone()),
                _ => SqlValue::text(&entry.text),
            });
        }
    }
    binds.push(SqlValue::text(&spec.entitytype));
    let done = db
        .query_batch(
            &format!(
                "UPDATE searchindex SET {} FROM (VALUES {}) AS {alias} \
                 WHERE searchindex.entityid = v.{} AND searchindex.entitytype = ?",
                sets.join(", "),
                vec![row; chunk.len()].join(", "),
                name(1)
            ),
            &binds,
            chunk.len() == 100,
        )
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() as usize == chunk.len() {
        return Ok(Vec::new());
    }
    let mut binds = vec![SqlValue::text(&spec.entitytype)];
    binds.extend(chunk.iter().map(|(id, _, _)| SqlValue::Int(*id)));
    let present: std::collections::HashSet<i64> = db
        .query_with(
            &format!(
                "SELECT entityid FROM searchindex WHERE entitytype = ? AND entityid IN ({})",
                vec!["?"; chunk.len()].join(", ")
            ),
            &binds,
        )
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
    Ok(chunk
        .iter()
        .map(|(id, _, _)| *id)
        .filter(|id| !present.contains(id))
        .collect())
}

/// Longest word ending kept for MySQL's substring lookups; a longer search term is looked up
/// by its first `SUFFIX_MAX` characters and then checked against the whole text.
const SUFFIX_MAX: usize = 24;

/// Shortest term looked up through an index; shorter ones read the table.
const INDEXED_MIN: usize = 3;

/// Every ending of every word of `text` that is `INDEXED_MIN` characters or longer, cut to
/// `SUFFIX_MAX` characters, without repeats. Any part of a word of the text is the start of
/// one of them, which is what lets a prefix lookup find text inside words.
fn suffixes(text: &str) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    for word in text.split_whitespace() {
        let chars: Vec<char> = word.chars().collect();
        for start in 0..chars.len() {
            if chars.len() - start < INDEXED_MIN {
                break;
            }
            out.insert(chars[start..].iter().take(SUFFIX_MAX).collect::<String>());
        }
    }
    out.into_iter().collect()
}

/// One word ending to store: the ending, its entry's id and `aside` (the entry's
/// `extendedby`: the plugin the entry steps aside for), so a search drops the entries that
/// step aside while it reads the endings, before it reads any entry.
type Suffix = (String, i64, Option<String>);

/// Stores word endings (MySQL only; see `suffixes`), 500 to a statement. One already there
/// (stored by another process filling the same entries at the same time) is left as it
/// is: its `aside` is already the entry's.
async fn insert_suffixes(
    db: &Db,
    conn: &mut AnyConnection,
    rows: &[Suffix],
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(500) {
        let binds: Vec<SqlValue> = chunk
            .iter()
            .flat_map(|(s, id, aside)| {
                [
                    SqlValue::text(s),
                    SqlValue::Int(*id),
                    SqlValue::opt_text(aside.clone()),
                ]
            })
            .collect();
        db.query_batch(
            &format!(
                "INSERT INTO searchsuffixes (suffix, searchid, aside) VALUES {} \
                 ON DUPLICATE KEY UPDATE aside = aside",
                vec!["(?, ?, ?)"; chunk.len()].join(", ")
            ),
            &binds,
            chunk.len() == 500,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Marks a fill of word endings under way (see `backfill_suffixes`).
const FILLING: (&str, &str) = ("core", "searchendingsfilling");

/// MySQL: stores the word endings of entries that have none: those written before the table
/// existed, those a migration rewrote, those a restore loaded. `needed` says something may
/// have left such entries (migrations ran, a restore); otherwise it only finishes a fill an
/// earlier run did not, since looking reads every entry (1.4 s at 50,000 PCs). Returns how
/// many entries were done. Elsewhere a no-op.
pub async fn backfill_suffixes(db: &Db, needed: bool) -> Result<usize, sqlx::Error> {
    if db.dialect() != Dialect::MySql {
        return Ok(0);
    }
    let (scope, key) = FILLING;
    if !needed
        && crate::settings::get_setting(db, scope, key)
            .await?
            .is_none()
    {
        return Ok(0);
    }
    crate::settings::set_internal(db, scope, key, Some("yes")).await?;
    let done = fill_suffixes(db).await?;
    crate::settings::set_internal(db, scope, key, None).await?;
    Ok(done)
}

async fn fill_suffixes(db: &Db) -> Result<usize, sqlx::Error> {
    let mut done = 0;
    let mut after = 0i64;
    loop {
        let rows = db
            .query(
                "SELECT s.searchid, s.searchtext, s.extendedby FROM searchindex s WHERE s.searchid > ? \
                 AND NOT EXISTS (SELECT 1 FROM searchsuffixes x WHERE x.searchid = s.searchid) \
                 ORDER BY s.searchid LIMIT 1000",
            )
            .bind(after)
            .fetch_all(db.pool())
            .await?;
        let Some(last) = rows.last() else {
            return Ok(done);
        };
        after = last.try_get(0)?;
        let mut endings: Vec<Suffix> = Vec::new();
        for r in &rows {
            let (searchid, text, aside): (i64, String, Option<String>) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            endings.extend(
                suffixes(&text)
                    .into_iter()
                    .map(|s| (s, searchid, aside.clone())),
            );
        }
        let mut tx = db.begin().await?;
        insert_suffixes(db, &mut tx, &endings).await?;
        tx.commit().await?;
        done += rows.len();
    }
}

/// The FTS5 query for "contains `q`" when the trigram index can answer it: on SQLite, for
/// three characters or more.
fn trigram_term(dialect: Dialect, q: &str) -> Option<SqlValue> {
    (dialect == Dialect::Sqlite && q.chars().count() >= 3)
        .then(|| SqlValue::text(format!("\"{}\"", q.to_lowercase().replace('"', "\"\""))))
}

/// The part of `q` a trigram index (SQLite's, PostgreSQL's) is asked for: from its first
/// digit on, when that leaves three characters or more, else all of it. The index reads
/// every entry of each trigram it is asked for, and letters and dashes such as "pc-" are in
/// every PC's entry while numbers are rare; the entries found hold that part, and the
/// caller checks them for all of `q`.
fn selective_part(q: &str) -> &str {
    match q.find(|c: char| c.is_ascii_digit()) {
        Some(start) if q[start..].chars().count() >= 3 => &q[start..],
        _ => q,
    }
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

/// One page of search results and how many there are in all.
#[derive(Debug)]
pub struct Hits {
    pub results: Vec<Value>,
    pub total: i64,
}

/// "The entry aliased `alias` contains `q`" checked on the text itself, exactly: entries are
/// lower case, so the lower-cased term is looked for as it is (SQLite's `instr`,
/// PostgreSQL's `strpos`). Neither is a `LIKE`, which SQLite prepares anew for every pattern
/// and PostgreSQL would hand to its trigram index with the whole term. MySQL keeps `LIKE`,
/// whose matching follows the column's collation, as the rest of its search does.
fn contains_exactly(dialect: Dialect, alias: &str, q: &str) -> (String, SqlValue) {
    match dialect {
        Dialect::Sqlite => (
            format!("instr({alias}.searchtext, ?) > 0"),
            SqlValue::text(q.to_lowercase()),
        ),
        Dialect::Postgres => (
            format!("strpos({alias}.searchtext, ?) > 0"),
            SqlValue::text(q.to_lowercase()),
        ),
        Dialect::MySql => (
            format!("{alias}.searchtext LIKE ? ESCAPE '!'"),
            SqlValue::text(like_pattern(q)),
        ),
    }
}

/// The condition "the entry aliased `s` contains `q`" for this dialect, with its values: the
/// database's index asked for the selective part of the term (see `selective_part`) where
/// it has one — SQLite's trigram index, PostgreSQL's trigram index behind a `LIKE`, MySQL's
/// word endings — and the entries it returns checked for the whole term. Terms shorter than
/// `INDEXED_MIN` read the table.
fn contains(dialect: Dialect, q: &str, hidden_plugins: &[String]) -> (String, Vec<SqlValue>) {
    let (exact, exact_value) = contains_exactly(dialect, "s", q);
    let part = selective_part(q);
    let whole = part.len() == q.len();
    let indexed = match dialect {
        Dialect::Sqlite => trigram_term(dialect, part).map(|term| {
            (
                "s.searchid IN (SELECT rowid FROM searchfts WHERE searchfts MATCH ?)".to_string(),
                vec![term],
            )
        }),
        // pg_trgm takes the trigrams of each word of the pattern: every one of `pc-` is in
        // every PC's entry, and decoding those long lists was most of a search's time.
        Dialect::Postgres => (part.chars().count() >= INDEXED_MIN).then(|| {
            (
                "s.searchtext LIKE ? ESCAPE '!'".to_string(),
                vec![SqlValue::text(like_pattern(part))],
            )
        }),
        Dialect::MySql => {
            // The longest word of the term: any word of it lies inside one word of the text.
            let word = q
                .to_lowercase()
                .split_whitespace()
                .max_by_key(|w| w.chars().count())
                .map(str::to_string)
                .unwrap_or_default();
            (word.chars().count() >= INDEXED_MIN).then(|| {
                let start: String = word.chars().take(SUFFIX_MAX).collect();
                let prefix = like_pattern(&start);
                let mut values = vec![SqlValue::text(&prefix[1..])];
                values.extend(hidden_plugins.iter().map(SqlValue::text));
                (
                    format!(
                        "s.searchid IN (SELECT x.searchid FROM searchsuffixes x \
                         WHERE x.suffix LIKE ? ESCAPE '!' AND {})",
                        shown("x.aside", hidden_plugins)
                    ),
                    values,
                )
            })
        }
    };
    match indexed {
        // SQLite's trigram phrase and PostgreSQL's LIKE of the whole term are exact.
        Some((index, values)) if whole && dialect != Dialect::MySql => (index, values),
        Some((index, mut values)) => {
            values.push(exact_value);
            (format!("{index} AND {exact}"), values)
        }
        None => (exact, vec![exact_value]),
    }
}

/// "Shown": the entry's `column` (`extendedby`, or a word ending's `aside`) names no plugin
/// it steps aside for, or a hidden one; bind `hidden_plugins` after it.
fn shown(column: &str, hidden_plugins: &[String]) -> String {
    if hidden_plugins.is_empty() {
        format!("{column} IS NULL")
    } else {
        format!(
            "({column} IS NULL OR {column} IN ({}))",
            vec!["?"; hidden_plugins.len()].join(", ")
        )
    }
}

/// The statements of one search: `page` finds a page of matches and counts them all (with
/// `page_values`), `count` counts alone (with `values`), for a page past the end.
pub struct SearchSql {
    pub page: String,
    pub page_values: Vec<SqlValue>,
    pub count: String,
    pub values: Vec<SqlValue>,
}

/// The SQL of a search for `q` (see `search`), for this dialect.
pub fn search_sql(
    dialect: Dialect,
    q: &str,
    page: i64,
    per_page: i64,
    hidden_plugins: &[String],
) -> SearchSql {
    let q = q.trim();
    let visible = |alias: &str| {
        if hidden_plugins.is_empty() {
            String::new()
        } else {
            format!(
                " AND ({alias}.plugin IS NULL OR {alias}.plugin NOT IN ({}))",
                vec!["?"; hidden_plugins.len()].join(", ")
            )
        }
    };
    let (mut filter, mut values) = contains(dialect, q, hidden_plugins);
    filter.push_str(&visible("s"));
    values.extend(hidden_plugins.iter().map(SqlValue::text));
    // An extended asset's entry steps aside for its plugin's, which holds its text (see
    // `Link`), unless that plugin is hidden: read off the entry itself, no lookup.
    filter.push_str(&format!(" AND {}", shown("s.extendedby", hidden_plugins)));
    values.extend(hidden_plugins.iter().map(SqlValue::text));
    let prefix = like_pattern(q);
    let mut page_values = values.clone();
    page_values.push(SqlValue::text(q.to_lowercase()));
    page_values.push(SqlValue::text(&prefix[1..]));
    page_values.push(SqlValue::Int((page - 1) * per_page));
    SearchSql {
        // One pass finds the page and counts every match (the window counts before LIMIT);
        // the page size is written into the SQL (see `db::limit_offset`).
        page: format!(
            "SELECT s.entitytype, s.entityid, s.title, s.subtitle, s.url, COUNT(*) OVER () FROM searchindex s WHERE {filter} \
             ORDER BY CASE WHEN LOWER(s.title) = ? THEN 0 WHEN LOWER(s.title) LIKE ? ESCAPE '!' THEN 1 ELSE 2 END, s.title, s.searchid{}",
            crate::db::limit_offset(per_page)
        ),
        page_values,
        count: format!("SELECT COUNT(*) FROM searchindex s WHERE {filter}"),
        values,
    }
}

/// Records whose indexed text contains `q` (case-insensitive): those whose title is `q`
/// first, then titles starting with it, then the rest, each by title. `hidden_plugins` are
/// plugins whose entries must not show (disabled ones). An asset a visible plugin extends
/// shows once, as the plugin's record (which says what the thing is).
pub async fn search(
    db: &Db,
    q: &str,
    page: i64,
    per_page: i64,
    hidden_plugins: &[String],
) -> Result<Hits, sqlx::Error> {
    let sql = search_sql(db.dialect(), q, page, per_page, hidden_plugins);
    let rows = db
        .query_with(&sql.page, &sql.page_values)
        .fetch_all(db.pool())
        .await?;
    let mut results = Vec::with_capacity(rows.len());
    let mut total = 0;
    for r in &rows {
        total = r.try_get::<i64, _>(5)?;
        results.push(json!({
            "type": r.try_get::<String, _>(0)?,
            "id": r.try_get::<i64, _>(1)?,
            "title": r.try_get::<String, _>(2)?,
            "subtitle": r.try_get::<Option<String>, _>(3)?,
            "url": r.try_get::<String, _>(4)?,
        }));
    }
    // A page past the end has no row to carry the count: count alone.
    if rows.is_empty() && page > 1 {
        total = db
            .query_with(&sql.count, &sql.values)
            .fetch_one(db.pool())
            .await?
            .try_get(0)?;
    }
    Ok(Hits { results, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_is_asked_for_the_number_in_a_term() {
        assert_eq!(selective_part("PC-0123"), "0123");
        assert_eq!(selective_part("10.20.30"), "10.20.30");
        assert_eq!(selective_part("lathe"), "lathe");
        assert_eq!(
            selective_part("cell 7"),
            "cell 7",
            "too little after the digit"
        );
        assert_eq!(selective_part("Müller-42x"), "42x");
    }

    #[test]
    fn a_value_two_fields_share_is_indexed_once() {
        let spec = SearchSpec {
            entitytype: "computer".into(),
            title: "hostname".into(),
            subtitle: None,
            fields: vec!["hostname".into(), "assetnumber".into(), "ipaddress".into()],
            url: "/computers/{id}".into(),
            plugin: None,
        };
        let record = json!({"hostname": "WJ-PC-000123", "assetnumber": "wj-pc-000123", "ipaddress": "10.1.0.123"});
        let entry = entry_of(&spec, &Link::Alone, 7, record.as_object().unwrap());
        assert_eq!(entry.text, "wj-pc-000123 10.1.0.123");
        assert_eq!(entry.title, "WJ-PC-000123");
    }

    #[test]
    fn a_plugin_entry_holds_its_asset_entry_whole() {
        let spec = SearchSpec {
            entitytype: "computer".into(),
            title: "hostname".into(),
            subtitle: None,
            fields: vec![
                "hostname".into(),
                "serialnumber".into(),
                "currentuser".into(),
            ],
            url: "/computers/{id}".into(),
            plugin: Some("computers".into()),
        };
        let entry = |record: Value| {
            let record = record.as_object().unwrap();
            let asset = entry_of(
                &asset_spec(),
                &Link::AsideFor("computers".into()),
                7,
                record,
            );
            let own = entry_of(&spec, &Link::Holding, 7, record);
            assert!(own.text.contains(&asset.text), "{own:?} holds {asset:?}");
            own.text
        };
        // Already held: the host name is the asset number, no name.
        assert_eq!(
            entry(
                json!({"hostname": "PC-1", "assetnumber": "pc-1", "serialnumber": "SN9", "currentuser": "ann"})
            ),
            "pc-1 sn9 ann"
        );
        // A name only the asset has is added after the plugin's own text.
        assert_eq!(
            entry(
                json!({"hostname": "PC-1", "assetnumber": "pc-1", "name": "Lathe PC", "serialnumber": "SN9", "currentuser": "ann"})
            ),
            "pc-1 sn9 ann pc-1 lathe pc sn9"
        );
        // Where both do not fit, the plugin's own text is cut short, never the asset's.
        let long = entry(
            json!({"hostname": "h".repeat(100), "assetnumber": "a1", "serialnumber": "s".repeat(100), "currentuser": "u".repeat(990)}),
        );
        assert_eq!(long.chars().count(), TEXT_MAX);
        assert!(long.ends_with(&format!(" a1 {}", "s".repeat(100))));
    }

    #[test]
    fn every_part_of_a_word_starts_one_of_its_endings() {
        let ends = suffixes("wj-pc-000123 10.20.30.40");
        for part in ["pc-0001", "000123", "c-00", "20.30", "wj-pc-000123"] {
            assert!(
                ends.iter().any(|e| e.starts_with(part)),
                "{part} in {ends:?}"
            );
        }
        assert!(ends.iter().all(|e| e.chars().count() >= INDEXED_MIN));
        let long = suffixes(&"x".repeat(100));
        assert!(long.iter().all(|e| e.chars().count() <= SUFFIX_MAX));
        assert_eq!(
            suffixes("ab cd"),
            Vec::<String>::new(),
            "words too short to index"
        );
        assert_eq!(suffixes("grüße"), ["grüße", "rüße", "üße"]);
    }
}
