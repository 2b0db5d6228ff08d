//! Importing a file into a resource: each row matched by the chosen key, then created,
//! updated with the fields that change, or left as it is, through the same checks, hooks and
//! audit as the API. The whole file is one write transaction with a savepoint per row, so a
//! bad row is undone alone; a dry run is the same work rolled back at the end.
//!
//! Its parts: `types` (what is asked and answered), `rows` (rows to checked bodies matched to
//! stored records), `chunk` (a chunk of rows, together where it can be), `write` (one row);
//! this file runs an import. The parts never use this file.

mod chunk;
mod rows;
mod types;
mod write;

use std::collections::HashMap;

use sqlx::AnyConnection;

use super::compare::NameCache;
use super::mapping::{self};
use super::read::SheetReader;
use super::{Observer, batch_id};
use crate::auth::Actor;
use crate::db::{Db, SqlValue};
use crate::error::DomainError;
use crate::resource::finish;
use crate::util::now;

use chunk::*;
use rows::*;
use types::*;

pub use types::{ImportJob, ImportOptions, ImportReport, RowAction, RowAnswer, Totals};

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
        let mut rows = reader.rows()?;
        loop {
            let chunk = rows.next_chunk(CHUNK)?;
            if chunk.is_empty() {
                break;
            }
            let prepared: Vec<Prepared> = chunk
                .into_iter()
                .map(|r| prepare(run.job.res, rows.headers, &targets, &key, r))
                .collect();
            run_chunk(&mut run, &mut tx, &key, prepared, observer).await?;
            observer.progress(run.report.totals.rows, rows.total);
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
