//! The quick way through an import for rows that change a known record's plain fields only
//! (no key, reference, unique field or child list; see `Resource::plain_field`): checked one
//! by one like any row, then written together with `Resource::update_many`, as collector
//! check-ins are. Rows that leave their record as it is cost no write at all.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};
use sqlx::{AnyConnection, Connection};

use super::import::{Applied, Prepared, Run, apply_row, changes, row_diff, settle};
use super::{RowAction, RowAnswer};
use crate::collector::{normalize, one_of};
use crate::db::SqlValue;
use crate::error::ApiError;

/// What a row that matched a record comes to, before anything is written.
pub(super) enum Checked {
    /// The record already holds what the row says.
    Unchanged,
    /// Plain fields change: the checked values, and the fields as the row gives them.
    Plain(Vec<(String, SqlValue)>, Map<String, Value>),
    /// The record's checks refuse the row.
    Refused(ApiError),
    /// Something else changes (or a name is not known yet): the row goes one by one.
    Slow,
}

/// Checks a row against the stored record `before` as `write_row` would, without writing.
pub(super) async fn check(
    run: &Run<'_>,
    conn: &mut AnyConnection,
    p: &Prepared,
    before: &Map<String, Value>,
) -> Result<Checked, ApiError> {
    let res = run.job.res;
    let mut body = p.body.clone();
    for (r, name) in &p.names {
        let Some(name) = name else {
            body.insert(r.column.clone(), Value::Null);
            continue;
        };
        let holders = run.names.get(r).and_then(|c| c.get(&normalize(name)));
        match one_of(holders.map(Vec::as_slice).unwrap_or(&[]), name) {
            Ok(Some(id)) => {
                body.insert(r.column.clone(), Value::from(id));
            }
            _ => return Ok(Checked::Slow),
        }
    }
    let diff = row_diff(run, &body, before);
    if diff.is_empty() {
        return Ok(Checked::Unchanged);
    }
    if !diff
        .keys()
        .all(|f| res.plain_field(f) && *f != run.key_field)
    {
        return Ok(Checked::Slow);
    }
    let (db, actor) = (run.job.db, run.job.actor);
    let checked = async {
        let values = res.validate(db, conn, &diff, Some(before)).await?;
        let values: Vec<(String, SqlValue)> = values
            .into_iter()
            .filter(|(n, v)| before.get(n) != Some(&v.to_json()))
            .collect();
        res.check_update(db, conn, actor, before, &values).await?;
        Ok::<_, ApiError>(values)
    }
    .await;
    Ok(match checked {
        Ok(values) if values.is_empty() => Checked::Unchanged,
        Ok(values) => Checked::Plain(values, diff),
        Err(e) if e.is_retryable() || e.status.is_server_error() => return Err(e),
        Err(e) => Checked::Refused(e),
    })
}

/// A checked row waiting to be written: its answer's place, the stored record, the values.
struct Row {
    slot: usize,
    before: Map<String, Value>,
    values: Vec<(String, SqlValue)>,
    diff: Map<String, Value>,
}

/// Plain updates waiting to be written together (each record at most once).
#[derive(Default)]
pub(super) struct Pending {
    rows: Vec<Row>,
    ids: HashSet<i64>,
}

impl Pending {
    pub(super) fn holds(&self, id: i64) -> bool {
        self.ids.contains(&id)
    }

    pub(super) fn add(
        &mut self,
        slot: usize,
        id: i64,
        before: Map<String, Value>,
        values: Vec<(String, SqlValue)>,
        diff: Map<String, Value>,
    ) {
        self.ids.insert(id);
        self.rows.push(Row {
            slot,
            before,
            values,
            diff,
        });
    }

    /// Writes the waiting rows in a few statements (in a savepoint); if that fails, each
    /// goes on its own so the bad one is answered alone. `rows` and `answers` are the
    /// chunk's, by the same index.
    pub(super) async fn flush(
        &mut self,
        run: &mut Run<'_>,
        tx: &mut AnyConnection,
        rows: &[Prepared],
        answers: &mut [RowAnswer],
        stored: &mut HashMap<i64, Map<String, Value>>,
    ) -> Result<(), ApiError> {
        let waiting = std::mem::take(&mut self.rows);
        self.ids.clear();
        if waiting.is_empty() {
            return Ok(());
        }
        let res = run.job.res;
        let items: Vec<crate::resource::Change> = waiting
            .iter()
            .map(|r| (&r.before, r.values.clone()))
            .collect();
        let mut savepoint = tx.begin().await?;
        let together = res
            .update_many(run.job.db, &mut savepoint, run.job.actor, &items)
            .await;
        drop(items);
        match together {
            Ok(afters) => {
                savepoint.commit().await?;
                for (row, after) in waiting.into_iter().zip(afters) {
                    let id = after.get(res.key()).and_then(Value::as_i64);
                    let answer = &mut answers[row.slot];
                    answer.action = RowAction::Update;
                    answer.id = id;
                    answer.changes = changes(res, &row.diff, &row.before, &after);
                    if let Some(id) = id {
                        stored.insert(id, after);
                    }
                }
                Ok(())
            }
            Err(e) if e.is_retryable() => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "writing an import chunk's updates together failed; writing them one by one");
                savepoint
                    .rollback()
                    .await
                    .map_err(|lost| ApiError::from(lost).into_retry())?;
                for row in waiting {
                    let outcome: Result<Applied, ApiError> =
                        apply_row(run, tx, &rows[row.slot], Some(&row.before)).await;
                    settle(run, &mut answers[row.slot], outcome, None, stored)?;
                }
                Ok(())
            }
        }
    }
}
