//! Collector pushes: records from inventory scripts, matched to existing assets by the
//! plugin's identity field (or, for a renamed machine, by a trustworthy secondary
//! identifier), created when new, updated with only the fields that changed. A batch is one
//! write transaction with a savepoint per record, so one bad record never sinks the batch
//! and concurrent collectors do not queue for the database's writer once per record.
//!
//! Its parts: `shape` (what a push must look like), `matching` (finding the stored record),
//! `parts` (what a batch is applied with), `single` (one record at a time), `together` (new
//! records together, the rest one by one), `seen` (check-ins and "last seen"); this file runs
//! a batch (`apply_batch`) and a push (`ingest`). The parts never use this file.

mod matching;
mod parts;
mod seen;
mod shape;
mod single;
mod together;

use std::collections::HashSet;

use serde_json::{Map, Value, json};
use sqlx::Connection;

use crate::auth::Actor;
use crate::db::{Db, SqlValue};
use crate::error::DomainError;
use crate::plugin::CollectorSchema;
use crate::resource::{Resource, finish};

use matching::*;
use parts::*;
use seen::*;
use together::*;

pub use matching::lookup_sql;
pub(crate) use matching::{find_many, one_of};
pub use parts::Outcome;
pub use shape::{MAX_BATCH, is_junk, json_schema, normalize, prepare, records_of};

/// How many new records of a batch are created together at most (see `apply_batch`).
const CREATE_PART: usize = 100;

/// Applies one batch in one write transaction, each record in a savepoint of its own so a
/// bad record is undone alone. Records are matched for the whole batch at once; a record
/// whose identity or match values an earlier record of the batch touched is matched again
/// against what the batch wrote, so the answers are those of one-by-one processing.
/// `records[i]` is None for a record already rejected by its shape.
async fn apply_batch(
    push: &Push<'_>,
    records: &[Option<Map<String, Value>>],
) -> Result<Vec<Option<Value>>, DomainError> {
    let Push {
        db, res, schema, ..
    } = *push;
    let mut tx = db.begin().await?;
    let result = async {
        let ready: Vec<(usize, &Map<String, Value>)> = records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().map(|r| (i, r)))
            .collect();
        let only: Vec<&Map<String, Value>> = ready.iter().map(|(_, r)| *r).collect();
        let matches = match_all(db, &mut tx, res, schema, &only).await?;
        // Records are applied in one order every batch agrees on (known records by id, then
        // new ones by identity), and known records are locked up front in that order, so two
        // batches touching the same machines wait for each other instead of deadlocking.
        let mut order: Vec<(usize, &Map<String, Value>, Match)> = ready
            .iter()
            .zip(matches)
            .map(|((i, r), m)| (*i, *r, m))
            .collect();
        order.sort_by_cached_key(|(_, r, m)| match m {
            Ok(Some((id, _))) => (0, *id, String::new()),
            _ => (
                1,
                0,
                r.get(&schema.identityfield)
                    .and_then(Value::as_str)
                    .map(normalize)
                    .unwrap_or_default(),
            ),
        });
        let matched_ids: Vec<i64> = order
            .iter()
            .filter_map(|(_, _, m)| match m {
                Ok(Some((id, _))) => Some(*id),
                _ => None,
            })
            .collect();
        lock_rows(db, &mut tx, &matched_ids).await?;
        let mut done = Progress {
            stored: res.fetch_many(db, &mut tx, &matched_ids).await?,
            touched: HashSet::new(),
            written: HashSet::new(),
            seen: Vec::new(),
            heartbeats: Vec::new(),
            out: vec![None; records.len()],
        };
        // A known machine whose push changes only plain fields (no identity, match field,
        // reference, unique field or child list) is written together with the others like
        // it, in a few statements for the whole batch (`Resource::update_many`): with
        // thousands of PCs checking in, that is most of them. New machines are created
        // together too (`create_together`). The rest go one by one.
        let mut slow: Vec<Pending> = Vec::with_capacity(order.len());
        let mut fast: Vec<(Pending, Vec<(String, SqlValue)>)> = Vec::new();
        let mut decided: HashSet<i64> = HashSet::new();
        for (index, record, matched) in order {
            let heartbeat = match heartbeat_value(res, schema, record) {
                Ok(v) => v,
                Err(e) => {
                    done.out[index] = Some(rejected(&e));
                    continue;
                }
            };
            let pending = Pending { index, record, matched, heartbeat };
            let Ok(Some((id, by))) = &pending.matched else {
                slow.push(pending);
                continue;
            };
            let (id, by) = (*id, by.clone());
            let Some(before) = done.stored.get(&id).filter(|_| !decided.contains(&id)) else {
                slow.push(pending);
                continue;
            };
            let diff = differences(schema, record, before);
            let matchedby = by.unwrap_or_else(|| schema.identityfield.clone());
            let unchanged = json!({"status": Outcome::Unchanged, "assetid": id, "changed": [], "matchedby": matchedby});
            if diff.is_empty() {
                decided.insert(id);
                done.seen.push(id);
                done.heartbeats.extend(pending.heartbeat.map(|v| (id, v)));
                done.out[index] = Some(unchanged);
                continue;
            }
            let plain = diff.keys().all(|f| {
                res.plain_field(f) && *f != schema.identityfield && !schema.matchfields.contains(f)
            });
            if !plain {
                slow.push(pending);
                continue;
            }
            let checked = async {
                let values = res.validate(db, &mut tx, &diff, Some(before)).await?;
                let values: Vec<(String, SqlValue)> = values
                    .into_iter()
                    .filter(|(n, v)| before.get(n) != Some(&v.to_json()))
                    .collect();
                res.check_update(db, &mut tx, push.actor, before, &values).await?;
                Ok::<_, DomainError>(values)
            }
            .await;
            decided.insert(id);
            match checked {
                Err(e) if e.stops_batch() => return Err(e),
                Err(e) => done.out[index] = Some(rejected(&e)),
                Ok(values) if values.is_empty() => {
                    done.seen.push(id);
                    done.heartbeats.extend(pending.heartbeat.map(|v| (id, v)));
                    done.out[index] = Some(unchanged);
                }
                Ok(values) => fast.push((pending, values)),
            }
        }
        if !fast.is_empty() {
            let items: Vec<crate::resource::Change> = fast
                .iter()
                .filter_map(|(p, values)| Some((done.stored.get(&p.id()?)?, values.clone())))
                .collect();
            let mut savepoint = tx.begin().await?;
            let written_together = res.update_many(db, &mut savepoint, push.actor, &items).await;
            match written_together {
                Ok(afters) => {
                    savepoint.commit().await?;
                    drop(items);
                    for ((pending, values), after) in fast.into_iter().zip(afters) {
                        let id = pending.id().unwrap_or_default();
                        let changed: Vec<&String> = values.iter().map(|(n, _)| n).collect();
                        let matchedby = match &pending.matched {
                            Ok(Some((_, Some(by)))) => by.clone(),
                            _ => schema.identityfield.clone(),
                        };
                        done.out[pending.index] = Some(json!({"status": Outcome::Updated, "assetid": id, "changed": changed, "matchedby": matchedby}));
                        done.written.insert(id);
                        done.seen.push(id);
                        done.heartbeats.extend(pending.heartbeat.clone().map(|v| (id, v)));
                        done.stored.insert(id, after);
                    }
                }
                Err(e) if e.stops_batch() => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "writing a collector batch's updates together failed; writing them one by one");
                    savepoint
                        .rollback()
                        .await
                        .map_err(|lost| DomainError::from(lost).into_retry())?;
                    drop(items);
                    slow.extend(fast.into_iter().map(|(p, _)| p));
                    slow.sort_by_key(|p| p.id().map_or((1, 0), |id| (0, id)));
                }
            }
        }
        // Known records first, then new ones, as one-by-one processing would take them.
        let (known, new): (Vec<Pending>, Vec<Pending>) =
            slow.into_iter().partition(|p| p.id().is_some());
        for pending in known {
            one_by_one(push, &mut tx, pending, &mut done).await?;
        }
        // New records are created together a part at a time: a part's records, their audit
        // and search entries are held in memory while it is written, and 500 at once (the
        // shipped scripts' first push of a site) took several megabytes for each batch.
        let mut left = Vec::new();
        let mut claimed = HashSet::new();
        let mut new = new.into_iter().peekable();
        while new.peek().is_some() {
            let part: Vec<Pending> = new.by_ref().take(CREATE_PART).collect();
            left.extend(create_together(push, &mut tx, part, &mut claimed, &mut done).await?);
        }
        for pending in left {
            one_by_one(push, &mut tx, pending, &mut done).await?;
        }
        mark_seen(push, &mut tx, &done.seen, &done.heartbeats, &done.stored).await?;
        Ok(done.out)
    }
    .await;
    finish(db, tx, result).await
}

/// Applies a batch; the answer lists one result per record, in order. The batch is one
/// write transaction (one bad record is undone alone, in its savepoint); a batch the
/// database undid to break a deadlock is run again, up to five times in all. A failure of the
/// database itself (disk full, not answering) fails the whole batch instead.
pub async fn ingest(
    db: &Db,
    actor: &Actor,
    res: &Resource,
    schema: &CollectorSchema,
    records: &[Value],
) -> Result<Vec<Value>, DomainError> {
    let mut shaped: Vec<Option<Map<String, Value>>> = Vec::with_capacity(records.len());
    let mut early: Vec<Option<Value>> = Vec::with_capacity(records.len());
    for raw in records {
        match prepare(schema, res, raw) {
            Ok(record) => {
                shaped.push(Some(record));
                early.push(None);
            }
            Err(reasons) => {
                shaped.push(None);
                early.push(Some(rejected(&DomainError::validation(reasons))));
            }
        }
    }
    let push = Push {
        db,
        actor,
        res,
        schema,
    };
    let mut attempt = 1;
    let applied = loop {
        match apply_batch(&push, &shaped).await {
            Err(e) if e.is_retryable() && attempt < 5 => {
                tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
                attempt += 1;
            }
            result => break result,
        }
    };
    let applied = match applied {
        Ok(applied) => applied,
        // The database's failure, not the records': the request fails as a whole.
        Err(e) if e.is_systemic() => return Err(e),
        Err(e) => shaped
            .iter()
            .map(|r| r.as_ref().map(|_| rejected(&e)))
            .collect(),
    };
    let mut results = Vec::with_capacity(records.len());
    for (index, ((raw, early), applied)) in records.iter().zip(early).zip(applied).enumerate() {
        let mut entry = early
            .or(applied)
            .unwrap_or_else(|| rejected(&DomainError::internal("no result")));
        entry["index"] = json!(index);
        entry["identity"] = raw
            .get(&schema.identityfield)
            .cloned()
            .unwrap_or(Value::Null);
        results.push(entry);
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_identifiers_are_recognised() {
        for junk in [
            "Default string",
            " To be filled by O.E.M. ",
            "0000000",
            "00:00:00:00:00:00",
            "FF-FF-FF-FF-FF-FF",
            "",
            "N/A",
        ] {
            assert!(is_junk(junk), "{junk:?}");
        }
        for real in ["5CG1234XYZ", "00:1A:2B:3C:4D:5E", "PF2ABCDE"] {
            assert!(!is_junk(real), "{real:?}");
        }
    }
}
