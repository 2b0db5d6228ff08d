//! Plugin code run on writes, and what it may use: write hooks, their event and environment.

use std::sync::Arc;

use serde_json::{Map, Value};
use sqlx::AnyConnection;

use crate::auth::Actor;
use crate::db::Db;
use crate::error::DomainError;
use crate::schema::Table;

use super::model::*;

impl HookEnv {
    /// Whether plugin `name` is installed and enabled (cached for a second or two).
    pub async fn enabled(&self, db: &Db, name: &str) -> bool {
        self.plugin_states.enabled(db).await.contains(name)
    }

    /// Core tables and the tables of enabled plugins: the ones that exist and are in use.
    pub async fn tables_in_use(&self, db: &Db) -> Vec<&Table> {
        let enabled = self.plugin_states.enabled(db).await;
        self.tables
            .iter()
            .filter(|(owner, _)| owner.as_ref().is_none_or(|o| enabled.contains(o)))
            .map(|(_, t)| t)
            .collect()
    }
}

impl WriteEvent<'_> {
    /// Whether `field` is set by this write to a value it did not have before.
    pub fn changes(&self, field: &str) -> bool {
        let new = self.record.get(field).filter(|v| !v.is_null());
        new.is_some() && new != self.before.and_then(|b| b.get(field))
    }
}

impl Hooks {
    /// Adds a before-write hook; what `checks_only` declared no longer holds (declare it
    /// again, after the last hook, if the new one also only checks).
    pub fn before(mut self, hook: WriteHook) -> Hooks {
        self.before_write.push(hook);
        self.compared = None;
        self
    }

    pub fn after(mut self, hook: WriteHook) -> Hooks {
        self.after_write.push(hook);
        self
    }

    pub fn before_delete(mut self, hook: WriteHook) -> Hooks {
        self.before_delete.push(hook);
        self
    }

    /// Declares that the before-write hooks only check (they write nothing) and compare a
    /// record with other records only through `fields`, ignoring case (a host name no other
    /// computer may have in any case, an IP address no other asset may hold). Records of one
    /// batch that differ in those fields can then be checked one by one and created together
    /// (see [`Resource::batch_creates`]). Without it, records with hooks are created one by one.
    /// Covers the hooks added before it.
    pub fn checks_only(mut self, fields: &[&str]) -> Hooks {
        let compared = self.compared.get_or_insert_with(Vec::new);
        compared.extend(fields.iter().map(|f| f.to_string()));
        compared.sort();
        compared.dedup();
        self
    }

    /// Adds the batch form of a before-write check's lookup: when many new records are
    /// checked and created together, it asks for all of them in one query and notes what it
    /// found clear, and the check reads that (`WriteEvent::known`) instead of asking for each
    /// record. The check must still ask when `known` is None or does not say.
    pub fn prepare(mut self, lookup: BatchLookup) -> Hooks {
        self.batch_lookups.push(lookup);
        self
    }

    /// Gives the hooks their environment; the first call wins.
    pub fn bind(&self, env: Arc<HookEnv>) {
        let _ = self.env.set(env);
    }
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("before_write", &self.before_write.len())
            .field("after_write", &self.after_write.len())
            .field("compared", &self.compared)
            .finish()
    }
}

impl Resource {
    /// The environment the server bound this resource's hooks to, or an empty one for a copy
    /// made outside the running catalog: a plugin may create rows through its own copy of a
    /// core resource (an asset type when it installs), whose hooks use no environment.
    pub(crate) fn env_or_empty(&self) -> &HookEnv {
        static UNBOUND: std::sync::OnceLock<HookEnv> = std::sync::OnceLock::new();
        match self.hooks.env.get() {
            Some(env) => env,
            None => UNBOUND.get_or_init(HookEnv::default),
        }
    }

    /// The environment the server bound this resource to, where a write cannot be right
    /// without it: deleting an asset asks the plugins' delete hooks and checks the tables
    /// that refer to it. A copy made outside the running catalog (`catalog::assets()`) has
    /// none, and such a delete is refused instead of skipping those checks silently.
    pub(crate) fn bound_env(&self) -> Result<&HookEnv, DomainError> {
        self.hooks.env.get().map(|env| env.as_ref()).ok_or_else(|| {
            DomainError::internal(format!(
                "the resource {} is not the one the server runs: its hooks were never bound",
                self.path
            ))
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn run_hooks(
        &self,
        hooks: &[WriteHook],
        db: &Db,
        conn: &mut AnyConnection,
        actor: &Actor,
        id: Option<i64>,
        before: Option<&Map<String, Value>>,
        record: &Map<String, Value>,
        known: Option<&Cleared>,
    ) -> Result<(), DomainError> {
        let env = self.env_or_empty();
        for hook in hooks {
            hook(WriteEvent {
                db,
                conn: &mut *conn,
                actor,
                id,
                before,
                record,
                env,
                known,
            })
            .await?;
        }
        Ok(())
    }

    /// Runs the batch forms of the before-write checks' lookups ([`Hooks::prepare`]) for new
    /// records (made by `new_record`) about to be checked one by one with `check_create` and
    /// created together; what they find clear goes into `known`.
    pub async fn prepare_creates(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        records: &[Map<String, Value>],
        known: &mut Cleared,
    ) -> Result<(), DomainError> {
        if records.is_empty() {
            return Ok(());
        }
        let env = self.env_or_empty();
        for lookup in &self.hooks.batch_lookups {
            lookup(BatchEvent {
                db,
                conn: &mut *conn,
                records,
                env,
                known: &mut *known,
            })
            .await?;
        }
        Ok(())
    }
}
