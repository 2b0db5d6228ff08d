//! A chunk of rows: plain changes and new records written together where they can be, the rest one by one, each answered.

use std::collections::HashMap;

use serde_json::{Map, Value};
use sqlx::AnyConnection;

use crate::collector::normalize;
use crate::error::DomainError;
use crate::resource::Known;
use crate::transfer::{Observer, fast};

use super::rows::*;
use super::types::*;
use super::write::*;

pub(crate) async fn run_chunk(
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
pub(crate) async fn flush_plain(
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
pub(crate) async fn flush_new(
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

/// Looks up together what checking the chunk's rows for new records asks the database.
pub(crate) async fn look_up_new(
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
pub(crate) fn settle(
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
pub(crate) fn kept(
    run: &mut Run<'_>,
    answer: &mut RowAnswer,
    id: i64,
    written_key: Option<String>,
) {
    if let Some(k) = written_key {
        run.written.insert(k, id);
    }
    answer.action = RowAction::Unchanged;
    answer.id = Some(id);
}
