//! What an import is asked for and answers, and what it carries while it runs.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::auth::Actor;
use crate::db::Db;
use crate::resource::{Known, Resource};
use crate::transfer::compare::NameCache;
use crate::transfer::fast;
use crate::transfer::mapping::{Mapping, Reference};

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
pub(crate) struct Key {
    pub(crate) column: usize,
    pub(crate) field: String,
    pub(crate) by_id: bool,
}

/// A row turned into a record body, with its references by name still to resolve.
pub(crate) struct Prepared {
    pub(crate) line: u64,
    pub(crate) key: Option<String>,
    pub(crate) body: Map<String, Value>,
    pub(crate) names: Vec<(Reference, Option<String>)>,
    pub(crate) errors: Map<String, Value>,
}

/// The state of an import between chunks.
pub(crate) struct Run<'a> {
    pub(crate) job: ImportJob<'a>,
    pub(crate) options: &'a ImportOptions,
    pub(crate) names: NameCache,
    /// Records written by earlier rows, by their normalised key: a later row with the
    /// same key is matched to what this import made of it.
    pub(crate) written: HashMap<String, i64>,
    /// The key field: a key that differs from the stored one only in case or spacing keeps
    /// the stored spelling.
    pub(crate) key_field: String,
    /// What the checks of the chunk's new records ask the database, looked up together;
    /// emptied by any write that could change it.
    pub(crate) known: std::sync::Arc<Known>,
    pub(crate) report: ImportReport,
}

impl Run<'_> {
    pub(crate) fn quick(&self) -> fast::Quick<'_> {
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

pub(crate) type Applied = (RowAction, Option<Map<String, Value>>, Map<String, Value>);
