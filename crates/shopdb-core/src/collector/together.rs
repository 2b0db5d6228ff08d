//! The records of a batch that cannot be written together with the others go one by one; new records go together when none depends on another.

use std::collections::HashSet;

use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Connection};

use crate::error::DomainError;
use crate::resource::{Cleared, Lookups, Values};

use super::matching::*;
use super::parts::*;
use super::single::*;

/// Applies one record on its own, in its own savepoint: matched again first when the batch
/// wrote what it was matched by, and again after a failed create (another collector may have
/// created the same machine meanwhile).
pub(crate) async fn one_by_one(
    push: &Push<'_>,
    tx: &mut AnyConnection,
    pending: Pending<'_>,
    done: &mut Progress,
) -> Result<(), DomainError> {
    let Push {
        db, res, schema, ..
    } = *push;
    let Pending {
        index,
        record,
        mut matched,
        heartbeat,
    } = pending;
    let keys = match_keys(schema, record);
    let stale = keys.iter().any(|k| done.touched.contains(k))
        || matches!(&matched, Ok(Some((id, _))) if done.written.contains(id));
    if stale {
        matched = match_all(db, tx, res, schema, &[record])
            .await?
            .pop()
            .unwrap_or(Ok(None));
        if let Ok(Some((id, _))) = &matched
            && let Some(fresh) = res.fetch(db, tx, *id).await?
        {
            done.stored.insert(*id, fresh);
        }
    }
    let to_create = matches!(matched, Ok(None));
    let mut outcome = apply_one(push, tx, record, matched, &done.stored).await;
    if outcome.as_ref().is_err_and(|e| !e.stops_batch()) && to_create {
        // Another collector may have created the same machine since it was matched (a
        // unique index, or "host names ignore case", refused this one): match again.
        let again = match_all(db, tx, res, schema, &[record])
            .await?
            .pop()
            .unwrap_or(Ok(None));
        if let Ok(Some((id, _))) = &again
            && let Some(fresh) = res.fetch(db, tx, *id).await?
        {
            done.stored.insert(*id, fresh);
            outcome = apply_one(push, tx, record, again, &done.stored).await;
        }
    }
    match outcome {
        Ok(answer) => {
            let id = answer["assetid"].as_i64().unwrap_or_default();
            if answer["status"] != json!(Outcome::Unchanged) {
                done.touched.extend(keys);
                if let Some(before) = done.stored.get(&id) {
                    done.touched.extend(match_keys(schema, before));
                }
                done.written.insert(id);
            }
            done.seen.push(id);
            if let Some(v) = heartbeat
                && answer["status"] != json!(Outcome::Created)
            {
                done.heartbeats.push((id, v));
            }
            done.out[index] = Some(answer);
        }
        Err(e) if e.stops_batch() => return Err(e),
        Err(e) => done.out[index] = Some(rejected(&e)),
    }
    Ok(())
}

/// Creates the batch's new records together where the resource allows it
/// (`Resource::batch_creates`): each is checked on its own (`validate`, the check-only
/// hooks), asset numbers are looked up for the whole batch in one query, and the valid ones
/// are written with `Resource::insert_many` in a savepoint. Returns, in order, the records
/// left to go one by one afterwards: those that failed a check (so the one-by-one path gives
/// their answer, matching them again first), those that share an identity, match value or
/// `Resource::batch_keys` value with a record before them (so they see it written), and all
/// of them if writing together fails. `claimed` holds those values of the records before
/// `new` (a batch's new records come in parts) and gains those of `new`.
pub(crate) async fn create_together<'r>(
    push: &Push<'_>,
    tx: &mut AnyConnection,
    new: Vec<Pending<'r>>,
    claimed: &mut HashSet<String>,
    done: &mut Progress,
) -> Result<Vec<Pending<'r>>, DomainError> {
    let Push {
        db,
        actor,
        res,
        schema,
    } = *push;
    if !res.batch_creates() || new.len() < 2 {
        for pending in &new {
            claimed.extend(match_keys(schema, pending.record));
        }
        return Ok(new);
    }
    let identity = |r: &Map<String, Value>| {
        r.get(&schema.identityfield)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let numbers: Vec<Option<String>> = new
        .iter()
        .map(|p| {
            (!p.record.contains_key("assetnumber"))
                .then(|| assetnumber_candidate(&identity(p.record), 1))
        })
        .collect();
    // Checks and writes in one savepoint: a database error in a check (PostgreSQL then
    // refuses every later statement of the transaction) is undone with it, and the records go
    // one by one, each in its own savepoint, as if none had been tried together.
    let mut savepoint = tx.begin().await?;
    let taken = taken_assetnumbers(db, &mut savepoint, numbers.iter().flatten()).await?;
    // What the batch looked up already need not be asked again record by record: the asset
    // numbers just found free, and identities no stored record has in any case (`match_all`).
    let mut lookups = Lookups::default();
    for number in numbers.iter().flatten().filter(|n| !taken.contains(*n)) {
        lookups.set_free("assets", "assetnumber", number);
    }
    let identity_table = match &res.extension {
        Some(ext) if ext.get(&schema.identityfield).is_some() => &ext.name,
        _ => &res.table.name,
    };
    // Values of the records before this one in the batch's order (`claimed`): a record
    // sharing one waits for the others to be written.
    let mut valid: Vec<(usize, Pending<'r>, Values)> = Vec::new();
    let mut group: Vec<(usize, Pending<'r>, Values)> = Vec::new();
    let mut later: Vec<(usize, Pending<'r>)> = Vec::new();
    let mut queue = new.into_iter().zip(numbers).enumerate();
    let mut failed = None;
    while let Some((n, (pending, number))) = queue.next() {
        let mut body = pending.record.clone();
        if let Some(number) = number {
            let number = if taken.contains(&number) {
                free_assetnumber(db, &mut savepoint, &identity(pending.record)).await?
            } else {
                number
            };
            body.insert("assetnumber".into(), json!(number));
        }
        let mut keys = match_keys(schema, pending.record);
        keys.extend(res.batch_keys(&body));
        let independent = matches!(pending.matched, Ok(None))
            && !keys
                .iter()
                .any(|k| done.touched.contains(k) || claimed.contains(k));
        claimed.extend(keys);
        if !independent {
            later.push((n, pending));
            continue;
        }
        let sent = identity(pending.record);
        lookups.set_free(identity_table, &schema.identityfield, sent.trim());
        match res
            .validate_in(db, &mut savepoint, &body, None, &mut lookups)
            .await
        {
            Ok(values) => valid.push((n, pending, values)),
            Err(e) if e.stops_batch() => return Err(e),
            Err(e) if e.kind.is_server() => {
                later.push((n, pending));
                later.extend(queue.by_ref().map(|(n, (p, _))| (n, p)));
                failed = Some(e);
                break;
            }
            Err(_) => later.push((n, pending)),
        }
    }
    // The before-write checks, each record on its own, after their batch lookups asked for
    // all of them at once.
    if failed.is_none() && !res.hooks.before_write.is_empty() {
        let records: Vec<Map<String, Value>> =
            valid.iter().map(|(_, _, v)| res.new_record(v)).collect();
        let mut known = Cleared::default();
        match res
            .prepare_creates(db, &mut savepoint, &records, &mut known)
            .await
        {
            Ok(()) => {}
            Err(e) if e.stops_batch() => return Err(e),
            Err(e) => failed = Some(e),
        }
        let mut checked = valid.drain(..).zip(records);
        while failed.is_none()
            && let Some(((n, pending, values), record)) = checked.next()
        {
            match res
                .check_create(db, &mut savepoint, actor, &record, Some(&known))
                .await
            {
                Ok(()) => group.push((n, pending, values)),
                Err(e) if e.stops_batch() => return Err(e),
                Err(e) if e.kind.is_server() => {
                    later.push((n, pending));
                    failed = Some(e);
                }
                Err(_) => later.push((n, pending)),
            }
        }
        later.extend(checked.map(|((n, p, _), _)| (n, p)));
    }
    group.append(&mut valid);
    let written = match failed {
        Some(e) => Err(e),
        None if group.is_empty() => Ok(Vec::new()),
        None => {
            let rows: Vec<Values> = group.iter().map(|(_, _, v)| v.clone()).collect();
            res.insert_many(db, &mut savepoint, actor, rows).await
        }
    };
    match written {
        Ok(created) => {
            savepoint.commit().await?;
            for ((_, pending, _), record) in group.into_iter().zip(created) {
                let id = record
                    .get(res.key())
                    .and_then(Value::as_i64)
                    .unwrap_or_default();
                done.touched.extend(match_keys(schema, pending.record));
                done.written.insert(id);
                done.seen.push(id);
                done.out[pending.index] = Some(json!({"status": Outcome::Created, "assetid": id}));
            }
        }
        Err(e) if e.stops_batch() => return Err(e),
        Err(e) => {
            // Most likely another collector created one of these machines meanwhile: one by
            // one, each failing record is matched again.
            tracing::debug!(error = %e, "creating a collector batch's records together failed; creating them one by one");
            savepoint
                .rollback()
                .await
                .map_err(|lost| DomainError::from(lost).into_retry())?;
            later.extend(group.into_iter().map(|(n, p, _)| (n, p)));
        }
    }
    later.sort_by_key(|(n, _)| *n);
    Ok(later.into_iter().map(|(_, p)| p).collect())
}
