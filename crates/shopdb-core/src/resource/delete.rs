//! Deleting records: plugin refusals, "still referenced", and the audit entries of what goes with them.

use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Row};

use crate::audit::{self, Action};
use crate::auth::Actor;
use crate::db::Db;
use crate::error::DomainError;
use crate::schema::{ColumnType, OnDelete, Table};
use crate::search;
use crate::util::now;

use super::create::*;
use super::model::*;

impl Resource {
    /// Deletes record `id` unless rows in `tables` still refer to it (409 naming them).
    pub async fn remove(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        actor: &Actor,
        id: i64,
        tables: &[Table],
    ) -> Result<Map<String, Value>, DomainError> {
        let before = self
            .fetch(db, conn, id)
            .await?
            .ok_or_else(|| self.not_found(id))?;
        let hooks = &self.hooks.before_delete;
        self.run_hooks(
            hooks,
            db,
            conn,
            actor,
            Some(id),
            Some(&before),
            &before,
            None,
        )
        .await?;
        if self.kind == ResourceKind::Asset {
            let env = self.bound_env()?;
            for (plugin, hooks) in &env.asset_delete_hooks {
                if env.enabled(db, plugin).await {
                    self.run_hooks(
                        hooks,
                        db,
                        conn,
                        actor,
                        Some(id),
                        Some(&before),
                        &before,
                        None,
                    )
                    .await?;
                }
            }
        }
        let mut users = Map::new();
        for table in tables {
            for column in &table.columns {
                let Some(fk) = &column.references else {
                    continue;
                };
                if fk.table != self.table.name || fk.on_delete != OnDelete::Restrict {
                    continue;
                }
                let n: i64 = db
                    .query(&format!(
                        "SELECT COUNT(*) FROM {} WHERE {} = ?",
                        table.name, column.name
                    ))
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get(0)?;
                if n > 0 {
                    let key = if table.name == self.table.name {
                        format!("{} ({})", table.name, column.name)
                    } else {
                        table.name.clone()
                    };
                    users.insert(key, json!(n));
                }
            }
        }
        if !users.is_empty() {
            let list: Vec<String> = users.iter().map(|(t, n)| format!("{n} {t}")).collect();
            let label = self.label_of(&before).unwrap_or_else(|| id.to_string());
            return Err(DomainError::conflict(format!(
                "{} '{label}' is still used by {}; reassign or delete those first",
                self.entity,
                list.join(", ")
            ))
            .with_details(Value::Object(users)));
        }
        self.audit_side_effects(db, conn, actor, id).await?;
        db.forget_counts();
        db.query(&format!(
            "DELETE FROM {} WHERE {} = ?",
            self.table.name,
            self.key()
        ))
        .bind(id)
        .execute(&mut *conn)
        .await?;
        let name = self.label_of(&before);
        audit::record(
            db,
            conn,
            actor,
            audit::Entry {
                action: Action::Deleted,
                entitytype: self.audit_entity(),
                entityid: Some(id),
                entityname: name.as_deref(),
                before: &self.auditable(&before),
                after: &Map::new(),
            },
        )
        .await?;
        for (spec, _) in self.search_specs() {
            search::remove(db, conn, &spec.entitytype, id).await?;
        }
        Ok(before)
    }

    /// What deleting record `id` does to other rows through their foreign keys, written to the
    /// audit trail in the same transaction (the database would do it silently): a link that
    /// is set to null is an update of the row holding it (of its asset, whose version moves,
    /// for a plugin's asset record), and a relationship that goes with the asset is a delete.
    pub(crate) async fn audit_side_effects(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        actor: &Actor,
        id: i64,
    ) -> Result<(), DomainError> {
        // The relationships resource as the catalog bound it.
        let env = self.bound_env()?;
        let links = env.relationships.upgrade();
        let links_table = links.as_ref().map(|l| l.table.name.as_str());
        // Tables of core and of installed plugins (enabled or not): the ones that exist.
        let installed: Vec<String> = db
            .query("SELECT pluginname FROM plugins")
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let tables = env
            .tables
            .iter()
            .filter(|(owner, _)| owner.as_ref().is_none_or(|o| installed.contains(o)))
            .map(|(_, t)| t);
        for table in tables {
            for column in &table.columns {
                let Some(fk) = &column.references else {
                    continue;
                };
                if fk.table != self.table.name {
                    continue;
                }
                let (entity, key) = if table.primary_key == ["assetid"] || table.name == "assets" {
                    ("asset".to_string(), "assetid".to_string())
                } else if let Some(l) = links.as_ref().filter(|l| l.table.name == table.name) {
                    (l.entity.clone(), l.key().to_string())
                } else if let Some(k) = table.columns.iter().find(|c| c.ty == ColumnType::Id) {
                    (singular(&table.name), k.name.clone())
                } else {
                    continue;
                };
                let cascade =
                    fk.on_delete == OnDelete::Cascade && Some(table.name.as_str()) == links_table;
                if fk.on_delete != OnDelete::SetNull && !cascade {
                    continue;
                }
                let rows = db
                    .query(&format!(
                        "SELECT {key} FROM {} WHERE {} = ?",
                        table.name, column.name
                    ))
                    .bind(id)
                    .fetch_all(&mut *conn)
                    .await?;
                for row in &rows {
                    let rowid: i64 = row.try_get(0)?;
                    let mut before = Map::new();
                    before.insert(column.name.clone(), json!(id));
                    let mut after = Map::new();
                    let action = if cascade {
                        // The whole link as it was.
                        if let Some(l) = &links
                            && let Some(link) = l.fetch(db, conn, rowid).await?
                        {
                            before = l.auditable(&link);
                        }
                        Action::Deleted
                    } else {
                        after.insert(column.name.clone(), Value::Null);
                        if entity == "asset" {
                            db.query("UPDATE assets SET version = version + 1, modifieddate = ? WHERE assetid = ?")
                                .bind(now())
                                .bind(rowid)
                                .execute(&mut *conn)
                                .await?;
                        }
                        Action::Updated
                    };
                    audit::record(
                        db,
                        conn,
                        actor,
                        audit::Entry {
                            action,
                            entitytype: &entity,
                            entityid: Some(rowid),
                            entityname: None,
                            before: &before,
                            after: &after,
                        },
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }

    pub async fn delete(
        &self,
        db: &Db,
        actor: &Actor,
        id: i64,
        tables: &[Table],
    ) -> Result<(), DomainError> {
        let mut tx = db.begin().await?;
        let result = self.remove(db, &mut tx, actor, id, tables).await;
        finish(db, tx, result).await.map(|_| ())
    }
}
