//! The quick way through an import for rows that change a known record's plain fields only
//! (no key, reference, unique field or child list; see `Resource::plain_field`): checked one
//! by one like any row, then written together with `Resource::update_many`, as collector
//! check-ins are. Rows that leave their record as it is cost no write at all.

use std::collections::HashSet;

use serde_json::{Map, Value};
use sqlx::{AnyConnection, Connection};

use super::compare::{NameCache, changes, row_diff};
use super::mapping::Reference;
use crate::auth::Actor;
use crate::collector::{normalize, one_of};
use crate::db::{Db, SqlValue};
use crate::error::DomainError;
use crate::resource::{Known, Resource, Values};

/// A record as JSON fields.
type Record = Map<String, Value>;
/// A row's place in its chunk and its key (normalised).
type Place = (usize, Option<String>);

/// What a quick check works with.
pub(super) struct Quick<'a> {
    pub db: &'a Db,
    pub actor: &'a Actor,
    pub res: &'a Resource,
    pub names: &'a NameCache,
    pub key_field: &'a str,
    /// What the checks of new records would ask the database, looked up together.
    pub known: &'a std::sync::Arc<Known>,
}

/// What a row that matched a record comes to, before anything is written.
pub(super) enum Checked {
    /// The record already holds what the row says.
    Unchanged,
    /// Plain fields change: the checked values, and the fields as the row gives them.
    Plain(Vec<(String, SqlValue)>, Map<String, Value>),
    /// The record's checks refuse the row.
    Refused(DomainError),
    /// Something else changes (or a name is not known yet): the row goes one by one.
    Slow,
}

/// Checks a row (its `body` and references by name) against the stored record `before` as
/// writing it one by one would, without writing.
pub(super) async fn check(
    q: &Quick<'_>,
    conn: &mut AnyConnection,
    body: &Map<String, Value>,
    refs: &[(Reference, Option<String>)],
    before: &Map<String, Value>,
) -> Result<Checked, DomainError> {
    let res = q.res;
    let Some(body) = with_names(q, body, refs) else {
        return Ok(Checked::Slow);
    };
    let diff = row_diff(res, q.key_field, &body, before);
    if diff.is_empty() {
        return Ok(Checked::Unchanged);
    }
    if !diff.keys().all(|f| res.plain_field(f) && f != q.key_field) {
        return Ok(Checked::Slow);
    }
    let checked = async {
        let values = res.validate(q.db, conn, &diff, Some(before)).await?;
        let values: Vec<(String, SqlValue)> = values
            .into_iter()
            .filter(|(n, v)| before.get(n) != Some(&v.to_json()))
            .collect();
        res.check_update(q.db, conn, q.actor, before, &values)
            .await?;
        Ok::<_, DomainError>(values)
    }
    .await;
    Ok(match checked {
        Ok(values) if values.is_empty() => Checked::Unchanged,
        Ok(values) => Checked::Plain(values, diff),
        Err(e) if e.is_retryable() || e.kind.is_server() => return Err(e),
        Err(e) => Checked::Refused(e),
    })
}

/// A checked row waiting to be written: its place in the chunk, the stored record, the
/// values to write and the fields as the row gave them.
pub(super) struct Waiting {
    pub slot: usize,
    pub before: Map<String, Value>,
    values: Vec<(String, SqlValue)>,
    diff: Map<String, Value>,
}

/// What writing the waiting rows came to.
pub(super) enum Flushed {
    /// Written: per row, its place, the record as it is now and the changes to show.
    Written(Vec<(usize, Record, Record)>),
    /// Writing them together failed (and was undone): each must go on its own.
    OneByOne(Vec<Waiting>),
}

/// Plain updates waiting to be written together (each record at most once).
#[derive(Default)]
pub(super) struct Pending {
    rows: Vec<Waiting>,
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
        self.rows.push(Waiting {
            slot,
            before,
            values,
            diff,
        });
    }

    /// Writes the waiting rows in a few statements, in a savepoint.
    pub(super) async fn flush(
        &mut self,
        q: &Quick<'_>,
        tx: &mut AnyConnection,
    ) -> Result<Flushed, DomainError> {
        let waiting = std::mem::take(&mut self.rows);
        self.ids.clear();
        if waiting.is_empty() {
            return Ok(Flushed::Written(Vec::new()));
        }
        let items: Vec<crate::resource::Change> = waiting
            .iter()
            .map(|r| (&r.before, r.values.clone()))
            .collect();
        let mut savepoint = tx.begin().await?;
        let together = q
            .res
            .update_many(q.db, &mut savepoint, q.actor, &items)
            .await;
        drop(items);
        match together {
            Ok(afters) => {
                savepoint.commit().await?;
                Ok(Flushed::Written(
                    waiting
                        .into_iter()
                        .zip(afters)
                        .map(|(row, after)| {
                            let shown = changes(q.res, &row.diff, &row.before, &after);
                            (row.slot, after, shown)
                        })
                        .collect(),
                ))
            }
            Err(e) if e.is_retryable() => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "writing an import chunk's updates together failed; writing them one by one");
                savepoint
                    .rollback()
                    .await
                    .map_err(|lost| DomainError::from(lost).into_retry())?;
                Ok(Flushed::OneByOne(waiting))
            }
        }
    }
}

/// Resolves a row's references by name from those already looked up: None when one is not
/// known (the row then goes one by one, which reports or creates it).
pub(super) fn with_names(
    q: &Quick<'_>,
    body: &Map<String, Value>,
    refs: &[(Reference, Option<String>)],
) -> Option<Map<String, Value>> {
    let mut body = body.clone();
    for (r, name) in refs {
        let Some(name) = name else {
            body.insert(r.column.clone(), Value::Null);
            continue;
        };
        let holders = q.names.get(r).and_then(|c| c.get(&normalize(name)));
        match one_of(holders.map(Vec::as_slice).unwrap_or(&[]), name) {
            Ok(Some(id)) => {
                body.insert(r.column.clone(), Value::from(id));
            }
            _ => return None,
        }
    }
    Some(body)
}

/// What a row for a new record comes to, before anything is written.
pub(super) enum NewChecked {
    /// Checked: the values to create it with.
    Ready(Vec<(String, SqlValue)>),
    Refused(DomainError),
    Slow,
}

/// Checks a row for a new record as creating it one by one would, without writing.
pub(super) async fn check_new(
    q: &Quick<'_>,
    conn: &mut AnyConnection,
    body: &Map<String, Value>,
    refs: &[(Reference, Option<String>)],
) -> Result<NewChecked, DomainError> {
    if !q.res.creates_together() {
        return Ok(NewChecked::Slow);
    }
    let Some(body) = with_names(q, body, refs) else {
        return Ok(NewChecked::Slow);
    };
    let checked = q.res.validate_known(q.db, conn, &body, None, q.known).await;
    Ok(match checked {
        Ok(values) => NewChecked::Ready(values),
        Err(e) if e.is_retryable() || e.kind.is_server() => return Err(e),
        Err(e) => NewChecked::Refused(e),
    })
}

/// New records waiting to be created together: per row its place in the chunk, its key
/// (normalised) and values.
#[derive(Default)]
pub(super) struct NewRows {
    rows: Vec<(Place, Values)>,
    keys: HashSet<String>,
}

/// What creating the waiting rows came to.
pub(super) enum Created {
    /// Per row: its place, its key and the new record.
    All(Vec<(usize, Option<String>, Map<String, Value>)>),
    /// Creating them together failed (and was undone): each must go on its own.
    OneByOne(Vec<(usize, Option<String>)>),
}

impl NewRows {
    pub(super) fn holds(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    pub(super) fn add(
        &mut self,
        slot: usize,
        key: Option<String>,
        values: Vec<(String, SqlValue)>,
    ) {
        if let Some(k) = &key {
            self.keys.insert(k.clone());
        }
        self.rows.push(((slot, key), values));
    }

    /// Creates the waiting rows in a few statements, in a savepoint.
    pub(super) async fn flush(
        &mut self,
        q: &Quick<'_>,
        tx: &mut AnyConnection,
    ) -> Result<Created, DomainError> {
        let waiting = std::mem::take(&mut self.rows);
        self.keys.clear();
        if waiting.is_empty() {
            return Ok(Created::All(Vec::new()));
        }
        let (places, values): (Vec<Place>, Vec<Values>) = waiting.into_iter().unzip();
        let mut savepoint = tx.begin().await?;
        match q
            .res
            .insert_many(q.db, &mut savepoint, q.actor, values)
            .await
        {
            Ok(records) => {
                savepoint.commit().await?;
                Ok(Created::All(
                    places
                        .into_iter()
                        .zip(records)
                        .map(|((s, k), r)| (s, k, r))
                        .collect(),
                ))
            }
            Err(e) if e.is_retryable() => Err(e),
            Err(e) => {
                tracing::debug!(error = %e, "creating an import chunk's records together failed; creating them one by one");
                savepoint
                    .rollback()
                    .await
                    .map_err(|lost| DomainError::from(lost).into_retry())?;
                Ok(Created::OneByOne(places))
            }
        }
    }
}
