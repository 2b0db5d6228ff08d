//! What a batch is applied with and keeps track of: the push, each record waiting, what happened so far, and the answers.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use crate::auth::Actor;
use crate::db::{Db, SqlValue};
use crate::error::DomainError;
use crate::plugin::CollectorSchema;
use crate::resource::Resource;

use super::matching::*;

/// What every record of one push is applied with.
#[derive(Clone, Copy)]
pub(crate) struct Push<'a> {
    pub(crate) db: &'a Db,
    pub(crate) actor: &'a Actor,
    pub(crate) res: &'a Resource,
    pub(crate) schema: &'a CollectorSchema,
}

/// What happened to one pushed record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Rejected,
}

/// A record of the batch waiting to be applied.
pub(crate) struct Pending<'r> {
    pub(crate) index: usize,
    pub(crate) record: &'r Map<String, Value>,
    pub(crate) matched: Match,
    pub(crate) heartbeat: Option<SqlValue>,
}

impl Pending<'_> {
    pub(crate) fn id(&self) -> Option<i64> {
        match &self.matched {
            Ok(Some((id, _))) => Some(*id),
            _ => None,
        }
    }
}

/// What a batch has done so far, for the records after it and for the answer.
pub(crate) struct Progress {
    /// Known records as stored (and as the batch left them).
    pub(crate) stored: HashMap<i64, Map<String, Value>>,
    /// Identity and match values (see `match_keys`) of records the batch wrote.
    pub(crate) touched: HashSet<String>,
    /// Records the batch wrote.
    pub(crate) written: HashSet<i64>,
    /// Records the collector reported (created, changed or not).
    pub(crate) seen: Vec<i64>,
    /// Check-in times sent for known records.
    pub(crate) heartbeats: Vec<(i64, SqlValue)>,
    /// The answer, by position in the request.
    pub(crate) out: Vec<Option<Value>>,
}

pub(crate) fn rejected(e: &DomainError) -> Value {
    if e.kind.is_server() {
        tracing::error!(error = %e, "a collector record failed");
    }
    json!({"status": Outcome::Rejected, "reason": e.message, "details": e.details})
}
