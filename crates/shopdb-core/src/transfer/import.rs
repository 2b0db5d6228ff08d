//! Importing a file into a resource: each row matched by the chosen key, then created,
//! updated with the fields that change, or left as it is, through the same checks, hooks and
//! audit as the API. The whole file is one write transaction with a savepoint per row, so a
//! bad row is undone alone; a dry run is the same work rolled back at the end.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Connection, Row as _};

use super::compare::{NameCache, changes, row_diff};
use super::mapping::{self, Mapping, Reference, Target};
use super::read::{Row, SheetReader};
use super::{Observer, batch_id, fast};
use crate::auth::Actor;
use crate::collector::{find_many, normalize, one_of};
use crate::db::{Db, SqlValue};
use crate::error::DomainError;
use crate::resource::{Known, Resource, finish};
use crate::util::now;

/// Rows read, matched and written together.
pub const CHUNK: usize = 1000;
/// Row answers kept in a report (the totals count every row).
pub const MAX_ANSWERS: usize = 10_000;

/// How to import: the field rows are matched by, and what to do with what is found.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    pub key: String,
    pub dry_run: bool,
    pub create_missing: bool,
    pub all_or_nothing: bool,
    pub mapping: Option<Mapping>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowAction {
    Create,
    Update,
    Unchanged,
    Error,
}

/// What one row of the file is (or, in a dry run, would be).
#[derive(Clone, Debug, Serialize)]
pub struct RowAnswer {
    /// The row's line in the file (1 is the header).
    pub line: u64,
    pub action: RowAction,
    /// The row's key value, as the file gives it.
    pub key: Option<String>,
    /// The record's id (none for a create in a dry run or a row in error).
    pub id: Option<i64>,
    /// Field → `{"before", "after"}` of each field an update changes.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub changes: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Field → what is wrong with it, for a row in error.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub errors: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub errors: u64,
}

/// The answer to an import: per row and in total, and the batch when it was applied.
#[derive(Clone, Debug, Serialize)]
pub struct ImportReport {
    pub resource: String,
    pub key: String,
    pub dryrun: bool,
    /// Whether the rows were written (false for a dry run, or all-or-nothing with errors).
    pub applied: bool,
    /// The batch to undo the import by (when it was applied and changed something).
    pub batchid: Option<String>,
    pub totals: Totals,
    /// The first `MAX_ANSWERS` rows' answers.
    pub rows: Vec<RowAnswer>,
}

/// What an import works with: the database, who imports, the resource and every resource
/// (references may name rows of any of them).
pub struct ImportJob<'a> {
    pub db: &'a Db,
    pub actor: &'a Actor,
    pub res: &'a Resource,
    pub resources: &'a [Arc<Resource>],
}

/// The key rows are matched by: a field of the record, or the record's id.
struct Key {
    column: usize,
    field: String,
    by_id: bool,
}

fn find_key(
    job: &ImportJob,
    headers: &[String],
    targets: &[Target],
    key: &str,
) -> Result<Key, DomainError> {
    let res = job.res;
    let wanted = mapping::simple(key);
    if key.trim().is_empty() {
        return Err(DomainError::field(
            "key",
            "is required: name the field rows are matched by",
        ));
    }
    if wanted == mapping::simple(res.key()) {
        let column = headers
            .iter()
            .position(|h| mapping::simple(h) == wanted)
            .ok_or_else(|| {
                DomainError::field("key", format!("the file has no {} column", res.key()))
            })?;
        return Ok(Key {
            column,
            field: res.key().to_string(),
            by_id: true,
        });
    }
    let field = mapping::columns(res)
        .into_iter()
        .find(|c| {
            mapping::simple(&c.name) == wanted
                || c.label
                    .as_deref()
                    .is_some_and(|l| mapping::simple(l) == wanted)
        })
        .filter(|c| c.references.is_none())
        .map(|c| c.name.clone())
        .ok_or_else(|| {
            DomainError::field(
                "key",
                format!(
                    "'{key}' is no field of {} that rows can be matched by",
                    res.path
                ),
            )
        })?;
    let column = targets
        .iter()
        .position(|t| *t == Target::Field(field.clone()))
        .ok_or_else(|| {
            DomainError::field(
                "key",
                format!("the file has no column for the key field {field}"),
            )
        })?;
    Ok(Key {
        column,
        field,
        by_id: false,
    })
}

/// A row turned into a record body, with its references by name still to resolve.
struct Prepared {
    line: u64,
    key: Option<String>,
    body: Map<String, Value>,
    names: Vec<(Reference, Option<String>)>,
    errors: Map<String, Value>,
}

fn prepare(
    res: &Resource,
    headers: &[String],
    targets: &[Target],
    key: &Key,
    row: Row,
) -> Prepared {
    let mut body = Map::new();
    let mut names = Vec::new();
    let mut errors = Map::new();
    for (i, cell) in row.cells.iter().enumerate() {
        match targets.get(i) {
            Some(Target::Field(f)) => {
                let column = mapping::column(res, f);
                body.insert(f.clone(), mapping::cell_value(column, cell));
            }
            Some(Target::Reference(r)) => {
                let name = Some(cell.trim().to_string()).filter(|n| !n.is_empty());
                names.push((r.clone(), name));
            }
            Some(Target::Ignored) => {}
            None if cell.trim().is_empty() => {}
            None => {
                errors.insert(
                    format!("column {}", i + 1),
                    json!(format!(
                        "has a value but the header has only {} columns",
                        headers.len()
                    )),
                );
            }
        }
    }
    let key_text = row
        .cells
        .get(key.column)
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    let mut body = if res.normalize.is_empty() {
        body
    } else {
        match res.normalized(&body) {
            Ok(b) => b,
            Err(bad) => {
                errors.extend(bad);
                body
            }
        }
    };
    // The key as the record stores it (a MAC address in its canonical form).
    let key_value = if key.by_id {
        key_text.clone()
    } else {
        body.get(&key.field)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if key_value.is_none() && !key.by_id {
        errors.insert(
            key.field.clone(),
            json!("is empty: every row needs the key it is matched by"),
        );
    }
    if key.by_id {
        body.remove(&key.field);
    }
    Prepared {
        line: row.line,
        key: key_value,
        body,
        names,
        errors,
    }
}

/// Looks up, in one query per reference column, the names of `rows` not looked up yet.
async fn load_names(
    db: &Db,
    conn: &mut AnyConnection,
    cache: &mut NameCache,
    rows: &[Prepared],
) -> Result<(), sqlx::Error> {
    let mut wanted: HashMap<&Reference, Vec<String>> = HashMap::new();
    for p in rows {
        for (r, name) in &p.names {
            let Some(name) = name else { continue };
            let known = cache
                .get(r)
                .is_some_and(|c| c.contains_key(&normalize(name)));
            if !known {
                wanted.entry(r).or_default().push(name.clone());
            }
        }
    }
    for (r, mut names) in wanted {
        names.sort_by_key(|n| normalize(n));
        names.dedup_by_key(|n| normalize(n));
        let entry = cache.entry(r.clone()).or_default();
        for n in &names {
            entry.entry(normalize(n)).or_default();
        }
        for chunk in names.chunks(200) {
            let sql = format!(
                "SELECT {}, {} FROM {} WHERE LOWER({}) IN ({})",
                r.key,
                r.display,
                r.table,
                r.display,
                vec!["LOWER(?)"; chunk.len()].join(", ")
            );
            let binds: Vec<SqlValue> = chunk.iter().map(SqlValue::text).collect();
            for found in db.query_with(&sql, &binds).fetch_all(&mut *conn).await? {
                let id: i64 = found.try_get(0)?;
                let stored: Option<String> = found.try_get(1)?;
                let Some(stored) = stored else { continue };
                entry
                    .entry(normalize(&stored))
                    .or_default()
                    .push((id, stored));
            }
        }
    }
    Ok(())
}

/// Finds the existing record of each row, in one query per chunk.
async fn match_rows(
    job: &ImportJob<'_>,
    conn: &mut AnyConnection,
    key: &Key,
    rows: &[Prepared],
) -> Result<Vec<Result<Option<i64>, String>>, DomainError> {
    let res = job.res;
    if key.by_id {
        let ids: Vec<i64> = rows
            .iter()
            .filter_map(|p| p.key.as_deref()?.parse().ok())
            .collect();
        let found = res.fetch_many(job.db, conn, &ids).await?;
        return Ok(rows
            .iter()
            .map(|p| match p.key.as_deref() {
                None => Ok(None),
                Some(k) => match k.parse::<i64>() {
                    Ok(id) if found.contains_key(&id) => Ok(Some(id)),
                    Ok(id) => Err(format!(
                        "no {} with id {id}; leave {} empty to create one",
                        res.entity, key.field
                    )),
                    Err(_) => Err(format!("'{k}' is not a record id")),
                },
            })
            .collect());
    }
    let values: Vec<&str> = rows.iter().filter_map(|p| p.key.as_deref()).collect();
    let found = find_many(job.db, conn, res, &key.field, &values).await?;
    Ok(rows
        .iter()
        .map(|p| {
            let Some(k) = p.key.as_deref() else {
                return Ok(None);
            };
            let holders = found.get(&normalize(k)).map(Vec::as_slice).unwrap_or(&[]);
            one_of(holders, k).map_err(|ids| {
                let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
                format!(
                    "'{k}' matches {} records that differ only in case (ids {})",
                    ids.len(),
                    ids.join(", ")
                )
            })
        })
        .collect())
}

/// The state of an import between chunks.
struct Run<'a> {
    job: ImportJob<'a>,
    options: &'a ImportOptions,
    names: NameCache,
    /// Records written by earlier rows, by their normalised key: a later row with the
    /// same key is matched to what this import made of it.
    written: HashMap<String, i64>,
    /// The key field: a key that differs from the stored one only in case or spacing keeps
    /// the stored spelling.
    key_field: String,
    /// What the checks of the chunk's new records ask the database, looked up together;
    /// emptied by any write that could change it.
    known: std::sync::Arc<Known>,
    report: ImportReport,
}

/// Imports the rows `reader` gives; see the module comment. Bad input (unknown columns, a
/// key the file lacks) is refused before any row is read.
pub async fn import(
    job: ImportJob<'_>,
    mut reader: SheetReader,
    options: &ImportOptions,
    observer: &mut (dyn Observer + Send),
) -> Result<ImportReport, DomainError> {
    let targets = mapping::map_headers(
        job.res,
        job.resources,
        &reader.headers,
        options.mapping.as_ref(),
    )?;
    let key = find_key(&job, &reader.headers, &targets, &options.key)?;
    let batch = (!options.dry_run).then(batch_id);
    let actor = Actor {
        batch: batch.clone(),
        ..job.actor.clone()
    };
    let job = ImportJob {
        actor: &actor,
        ..job
    };
    let db = job.db;
    let mut run = Run {
        report: ImportReport {
            resource: job.res.path.clone(),
            key: key.field.clone(),
            dryrun: options.dry_run,
            applied: false,
            batchid: None,
            totals: Totals::default(),
            rows: Vec::new(),
        },
        job,
        options,
        names: NameCache::new(),
        written: HashMap::new(),
        key_field: key.field.clone(),
        known: Default::default(),
    };
    let mut tx = db.begin().await?;
    let result = async {
        loop {
            let chunk = reader.next_chunk(CHUNK)?;
            if chunk.is_empty() {
                break;
            }
            let prepared: Vec<Prepared> = chunk
                .into_iter()
                .map(|r| prepare(run.job.res, &reader.headers, &targets, &key, r))
                .collect();
            run_chunk(&mut run, &mut tx, &key, prepared, observer).await?;
            observer.progress(run.report.totals.rows, reader.total);
        }
        Ok::<_, DomainError>(())
    }
    .await;
    let totals = &run.report.totals;
    let keep = result.is_ok()
        && !options.dry_run
        && !(options.all_or_nothing && totals.errors > 0)
        && totals.created + totals.updated > 0;
    if !keep {
        if let Err(e) = tx.rollback().await {
            tracing::warn!(error = %e, "rollback failed");
        }
        result?;
        return Ok(run.report);
    }
    let batch = batch.unwrap_or_default();
    let recorded = record_batch(db, &mut tx, &batch, &run).await;
    finish(db, tx, recorded).await?;
    run.report.applied = true;
    run.report.batchid = Some(batch);
    Ok(run.report)
}

async fn record_batch(
    db: &Db,
    conn: &mut AnyConnection,
    batch: &str,
    run: &Run<'_>,
) -> Result<(), DomainError> {
    let totals = &run.report.totals;
    db.query_with(
        "INSERT INTO importbatches (batchid, resource, actorname, createddate, rowcount) VALUES (?, ?, ?, ?, ?)",
        &[
            SqlValue::text(batch),
            SqlValue::text(&run.job.res.path),
            SqlValue::text(run.job.actor.name.chars().take(100).collect::<String>()),
            SqlValue::text(now()),
            SqlValue::Int((totals.created + totals.updated) as i64),
        ],
    )
    .execute(conn)
    .await?;
    Ok(())
}

async fn run_chunk(
    run: &mut Run<'_>,
    tx: &mut AnyConnection,
    key: &Key,
    rows: Vec<Prepared>,
    observer: &mut (dyn Observer + Send),
) -> Result<(), DomainError> {
    let db = run.job.db;
    load_names(db, tx, &mut run.names, &rows).await?;
    let matches = match_rows(&run.job, tx, key, &rows).await?;
    let ids: Vec<i64> = matches
        .iter()
        .filter_map(|m| m.clone().ok().flatten())
        .collect();
    let mut stored = run.job.res.fetch_many(db, tx, &ids).await?;
    run.known = std::sync::Arc::new(look_up_new(run, tx, &rows, &matches).await?);
    let mut answers: Vec<RowAnswer> = Vec::with_capacity(rows.len());
    let mut plain = fast::Pending::default();
    let mut new_rows = fast::NewRows::default();
    for (p, matched) in rows.iter().zip(matches) {
        let written_key = p.key.as_deref().map(normalize).filter(|_| !key.by_id);
        if written_key.as_deref().is_some_and(|k| new_rows.holds(k)) {
            flush_new(run, tx, &mut new_rows, &rows, &mut answers, &mut stored).await?;
        }
        let matched = match (&written_key, matched) {
            (Some(k), Ok(None)) => match run.written.get(k).copied() {
                Some(id) => {
                    flush_plain(run, tx, &mut plain, &rows, &mut answers, &mut stored).await?;
                    if let Some(fresh) = run.job.res.fetch(db, tx, id).await? {
                        stored.insert(id, fresh);
                    }
                    Ok(Some(id))
                }
                None => Ok(None),
            },
            (_, m) => m,
        };
        answers.push(RowAnswer {
            line: p.line,
            action: RowAction::Error,
            key: p.key.clone(),
            id: None,
            changes: Map::new(),
            message: None,
            errors: p.errors.clone(),
        });
        let slot = answers.len() - 1;
        let outcome = match matched {
            Err(why) => Err(DomainError::field(&key.field, why)),
            Ok(_) if !p.errors.is_empty() => Err(DomainError::validation(p.errors.clone())),
            // A record waiting in `plain` is out of `stored` until it is written.
            Ok(Some(id)) if stored.contains_key(&id) || plain.holds(id) => {
                if plain.holds(id) {
                    flush_plain(run, tx, &mut plain, &rows, &mut answers, &mut stored).await?;
                }
                let checked = match stored.get(&id) {
                    Some(before) => {
                        fast::check(&run.quick(), tx, &p.body, &p.names, before).await?
                    }
                    None => fast::Checked::Refused(run.job.res.not_found(id)),
                };
                match checked {
                    fast::Checked::Unchanged => {
                        kept(run, &mut answers[slot], id, written_key);
                        continue;
                    }
                    fast::Checked::Plain(values, diff) => {
                        let before = stored.remove(&id).unwrap_or_default();
                        plain.add(slot, id, before, values, diff);
                        continue;
                    }
                    fast::Checked::Refused(e) => Err(e),
                    fast::Checked::Slow => {
                        // Rows are written in file order: new records waiting go first.
                        flush_new(run, tx, &mut new_rows, &rows, &mut answers, &mut stored).await?;
                        apply_row(run, tx, p, stored.get(&id)).await
                    }
                }
            }
            Ok(None) => {
                let quick = run.quick();
                match fast::check_new(&quick, tx, &p.body, &p.names).await? {
                    fast::NewChecked::Ready(values) => {
                        new_rows.add(slot, written_key, values);
                        continue;
                    }
                    fast::NewChecked::Refused(e) => Err(e),
                    fast::NewChecked::Slow => {
                        flush_new(run, tx, &mut new_rows, &rows, &mut answers, &mut stored).await?;
                        apply_row(run, tx, p, None).await
                    }
                }
            }
            Ok(Some(id)) => Err(run.job.res.not_found(id)),
        };
        settle(run, &mut answers[slot], outcome, written_key, &mut stored)?;
    }
    flush_plain(run, tx, &mut plain, &rows, &mut answers, &mut stored).await?;
    flush_new(run, tx, &mut new_rows, &rows, &mut answers, &mut stored).await?;
    for answer in answers {
        let totals = &mut run.report.totals;
        totals.rows += 1;
        match answer.action {
            RowAction::Create => totals.created += 1,
            RowAction::Update => totals.updated += 1,
            RowAction::Unchanged => totals.unchanged += 1,
            RowAction::Error => totals.errors += 1,
        }
        observer.row(&answer);
        if run.report.rows.len() < MAX_ANSWERS {
            run.report.rows.push(answer);
        }
    }
    Ok(())
}

/// Writes the rows waiting in `plain` together; when that fails, each on its own.
async fn flush_plain(
    run: &mut Run<'_>,
    tx: &mut AnyConnection,
    plain: &mut fast::Pending,
    rows: &[Prepared],
    answers: &mut [RowAnswer],
    stored: &mut HashMap<i64, Map<String, Value>>,
) -> Result<(), DomainError> {
    let flushed = plain.flush(&run.quick(), tx).await?;
    match flushed {
        fast::Flushed::Written(done) => {
            for (slot, after, changes) in done {
                settle(
                    run,
                    &mut answers[slot],
                    Ok((RowAction::Update, Some(after), changes)),
                    None,
                    stored,
                )?;
            }
        }
        fast::Flushed::OneByOne(waiting) => {
            for w in waiting {
                let outcome = apply_row(run, tx, &rows[w.slot], Some(&w.before)).await;
                settle(run, &mut answers[w.slot], outcome, None, stored)?;
                // A row refused leaves its record as it was.
                if let Some(id) = w.before.get(run.job.res.key()).and_then(Value::as_i64) {
                    stored.entry(id).or_insert(w.before);
                }
            }
        }
    }
    Ok(())
}

/// Creates the rows waiting in `new_rows` together; when that fails, each on its own.
async fn flush_new(
    run: &mut Run<'_>,
    tx: &mut AnyConnection,
    new_rows: &mut fast::NewRows,
    rows: &[Prepared],
    answers: &mut [RowAnswer],
    stored: &mut HashMap<i64, Map<String, Value>>,
) -> Result<(), DomainError> {
    let flushed = new_rows.flush(&run.quick(), tx).await?;
    if !matches!(&flushed, fast::Created::All(done) if done.is_empty()) {
        run.known = Default::default();
    }
    match flushed {
        fast::Created::All(done) => {
            for (slot, key, record) in done {
                let outcome = Ok((RowAction::Create, Some(record), Map::new()));
                settle(run, &mut answers[slot], outcome, key, stored)?;
            }
        }
        fast::Created::OneByOne(waiting) => {
            for (slot, key) in waiting {
                let outcome = apply_row(run, tx, &rows[slot], None).await;
                settle(run, &mut answers[slot], outcome, key, stored)?;
            }
        }
    }
    Ok(())
}

impl Run<'_> {
    fn quick(&self) -> fast::Quick<'_> {
        fast::Quick {
            db: self.job.db,
            actor: self.job.actor,
            res: self.job.res,
            names: &self.names,
            key_field: &self.key_field,
            known: &self.known,
        }
    }
}

/// Looks up together what checking the chunk's rows for new records asks the database.
async fn look_up_new(
    run: &Run<'_>,
    tx: &mut AnyConnection,
    rows: &[Prepared],
    matches: &[Result<Option<i64>, String>],
) -> Result<Known, DomainError> {
    let quick = run.quick();
    if !run.job.res.creates_together() {
        return Ok(Known::default());
    }
    let bodies: Vec<Map<String, Value>> = rows
        .iter()
        .zip(matches)
        .filter(|(p, m)| matches!(m, Ok(None)) && p.errors.is_empty())
        .filter_map(|(p, _)| fast::with_names(&quick, &p.body, &p.names))
        .collect();
    Ok(run.job.res.look_up(run.job.db, tx, &bodies).await?)
}

/// Fills in a row's answer from what writing it gave; keeps what it wrote for later rows.
fn settle(
    run: &mut Run<'_>,
    answer: &mut RowAnswer,
    outcome: Result<Applied, DomainError>,
    written_key: Option<String>,
    stored: &mut HashMap<i64, Map<String, Value>>,
) -> Result<(), DomainError> {
    match outcome {
        Ok((action, record, changes)) => {
            let id = record
                .as_ref()
                .and_then(|r| r.get(run.job.res.key()))
                .and_then(Value::as_i64);
            if let (Some(id), Some(record)) = (id, record) {
                if let Some(k) = written_key {
                    run.written.insert(k, id);
                }
                stored.insert(id, record);
            }
            answer.action = action;
            answer.id = id.filter(|_| !(run.options.dry_run && action == RowAction::Create));
            answer.changes = changes;
        }
        Err(e) if e.is_retryable() || e.kind.is_server() => return Err(e),
        Err(e) => {
            answer.action = RowAction::Error;
            answer.message = Some(e.message.clone());
            if let Value::Object(fields) = e.details {
                answer.errors.extend(fields);
            }
        }
    }
    Ok(())
}

/// Fills in the answer of a row that leaves its record `id` as it is.
fn kept(run: &mut Run<'_>, answer: &mut RowAnswer, id: i64, written_key: Option<String>) {
    if let Some(k) = written_key {
        run.written.insert(k, id);
    }
    answer.action = RowAction::Unchanged;
    answer.id = Some(id);
}

type Applied = (RowAction, Option<Map<String, Value>>, Map<String, Value>);

/// One row in a savepoint of its own: undone alone when it fails.
async fn apply_row(
    run: &mut Run<'_>,
    tx: &mut AnyConnection,
    p: &Prepared,
    before: Option<&Map<String, Value>>,
) -> Result<Applied, DomainError> {
    // What it writes may change what was looked up for the chunk's new records.
    run.known = Default::default();
    let mut savepoint = tx.begin().await?;
    let mut created_names = Vec::new();
    let result = write_row(run, &mut savepoint, p, before, &mut created_names).await;
    match result {
        Ok(done) => {
            savepoint.commit().await?;
            for (r, name, id) in created_names {
                run.names
                    .entry(r)
                    .or_default()
                    .insert(normalize(&name), vec![(id, name)]);
            }
            Ok(done)
        }
        Err(e) if e.is_retryable() => Err(e),
        Err(e) => {
            savepoint
                .rollback()
                .await
                .map_err(|lost| DomainError::from(lost).into_retry())?;
            Err(e)
        }
    }
}

/// Resolves the row's references by name (creating the missing ones when asked), then
/// creates the record or applies the fields that differ from `before`.
async fn write_row(
    run: &Run<'_>,
    conn: &mut AnyConnection,
    p: &Prepared,
    before: Option<&Map<String, Value>>,
    created_names: &mut Vec<(Reference, String, i64)>,
) -> Result<Applied, DomainError> {
    let ImportJob {
        db,
        actor,
        res,
        resources,
    } = run.job;
    let mut body = p.body.clone();
    let mut errors = Map::new();
    for (r, name) in &p.names {
        let Some(name) = name else {
            body.insert(r.column.clone(), Value::Null);
            continue;
        };
        let holders = run
            .names
            .get(r)
            .and_then(|c| c.get(&normalize(name)))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let header = res
            .table
            .get(&r.column)
            .or_else(|| res.extension.as_ref().and_then(|e| e.get(&r.column)))
            .map(|c| mapping::export_header(res, c))
            .unwrap_or_else(|| r.column.clone());
        match one_of(holders, name) {
            Ok(Some(id)) => {
                body.insert(r.column.clone(), json!(id));
            }
            Ok(None) if run.options.create_missing => {
                let id = create_reference(db, conn, actor, resources, r, name).await?;
                created_names.push((r.clone(), name.clone(), id));
                body.insert(r.column.clone(), json!(id));
            }
            Ok(None) => {
                errors.insert(
                    header,
                    json!(format!(
                        "there is no {} named '{name}' (create missing references to add it)",
                        crate::resource::singular(&r.table)
                    )),
                );
            }
            Err(_) => {
                errors.insert(
                    header,
                    json!(format!(
                        "'{name}' names several {} that differ only in case",
                        r.table
                    )),
                );
            }
        }
    }
    if !errors.is_empty() {
        return Err(DomainError::validation(errors));
    }
    let Some(before) = before else {
        let values = res.validate(db, conn, &body, None).await?;
        let created = res.insert(db, conn, actor, values).await?;
        return Ok((RowAction::Create, Some(created), Map::new()));
    };
    let diff = row_diff(res, &run.key_field, &body, before);
    if diff.is_empty() {
        return Ok((RowAction::Unchanged, Some(before.clone()), Map::new()));
    }
    let values = res.validate(db, conn, &diff, Some(before)).await?;
    let after = res
        .update_values(db, conn, actor, before, values, None)
        .await?;
    let changes = changes(res, &diff, before, &after);
    let action = if changes.is_empty() {
        RowAction::Unchanged
    } else {
        RowAction::Update
    };
    Ok((action, Some(after), changes))
}

/// Creates the row `name` of the table `r` refers to, through that table's resource.
async fn create_reference(
    db: &Db,
    conn: &mut AnyConnection,
    actor: &Actor,
    resources: &[Arc<Resource>],
    r: &Reference,
    name: &str,
) -> Result<i64, DomainError> {
    let target = resources
        .iter()
        .find(|t| t.table.name == r.table && t.extension.is_none())
        .ok_or_else(|| {
            DomainError::field(
                &r.column,
                format!("{} rows cannot be created by an import", r.table),
            )
        })?;
    let mut body = Map::new();
    body.insert(r.display.clone(), json!(name));
    let values = target.validate(db, conn, &body, None).await.map_err(|e| {
        DomainError::field(
            &r.column,
            format!("cannot create '{name}' in {}: {}", r.table, e.details),
        )
    })?;
    let created = target.insert(db, conn, actor, values).await?;
    created
        .get(&r.key)
        .and_then(Value::as_i64)
        .ok_or_else(|| DomainError::internal(format!("created {} has no {}", r.table, r.key)))
}
