//! Writing one row: created, updated or left, in its own savepoint, with missing reference rows created when asked.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Connection as _};

use crate::auth::Actor;
use crate::collector::{normalize, one_of};
use crate::db::Db;
use crate::error::DomainError;
use crate::resource::Resource;
use crate::transfer::compare::{changes, row_diff};
use crate::transfer::mapping::{self, Reference};

use super::types::*;

/// One row in a savepoint of its own: undone alone when it fails.
pub(crate) async fn apply_row(
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
pub(crate) async fn write_row(
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
pub(crate) async fn create_reference(
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
