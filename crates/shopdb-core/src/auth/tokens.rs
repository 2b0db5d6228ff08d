//! API tokens: `shopdb_<random>`, shown once, stored as SHA-256, revocable.

use serde_json::{Map, Value, json};
use sqlx::Row;

use super::{Actor, Credential, Role};
use crate::audit;
use crate::db::{Db, SqlValue};
use crate::error::DomainError;
use crate::util::{now, random_token, sha256_hex};

pub const TOKEN_PREFIX: &str = "shopdb_";

/// A newly created token: the secret is only ever in this value.
pub struct NewToken {
    pub tokenid: i64,
    pub secret: String,
}

/// Creates a token for `actor` (recorded as its creator), audited in the same transaction.
pub async fn create_token(
    db: &Db,
    actor: &Actor,
    name: &str,
    role: Role,
    plugin: Option<&str>,
) -> Result<NewToken, sqlx::Error> {
    let secret = format!("{TOKEN_PREFIX}{}", random_token(32));
    let prefix = &secret[..12];
    let mut tx = db.begin().await?;
    let tokenid = db
        .insert_returning_id(
            &mut tx,
            "INSERT INTO apitokens (name, tokenhash, tokenprefix, role, plugin, createdby, createddate) VALUES (?, ?, ?, ?, ?, ?, ?)",
            &[
                SqlValue::text(name),
                SqlValue::text(sha256_hex(secret.as_bytes())),
                SqlValue::text(prefix),
                SqlValue::text(role.as_str()),
                SqlValue::opt_text(plugin),
                SqlValue::text(&actor.name),
                SqlValue::text(now()),
            ],
            "tokenid",
        )
        .await?;
    let after =
        json!({"name": name, "role": role.as_str(), "plugin": plugin, "tokenprefix": prefix});
    audit::record(
        db,
        &mut tx,
        actor,
        audit::Entry {
            action: audit::Action::Created,
            entitytype: "apitoken",
            entityid: Some(tokenid),
            entityname: Some(name),
            before: &Map::new(),
            after: after.as_object().expect("an object"),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(NewToken { tokenid, secret })
}

pub async fn list_tokens(db: &Db) -> Result<Vec<Value>, sqlx::Error> {
    let rows = db
        .query("SELECT tokenid, name, tokenprefix, role, plugin, createdby, createddate, lastused, revokeddate FROM apitokens ORDER BY tokenid")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(json!({
                "tokenid": r.try_get::<i64, _>(0)?,
                "name": r.try_get::<String, _>(1)?,
                "tokenprefix": r.try_get::<String, _>(2)?,
                "role": r.try_get::<String, _>(3)?,
                "plugin": r.try_get::<Option<String>, _>(4)?,
                "createdby": r.try_get::<String, _>(5)?,
                "createddate": r.try_get::<String, _>(6)?,
                "lastused": r.try_get::<Option<String>, _>(7)?,
                "revokeddate": r.try_get::<Option<String>, _>(8)?,
            }))
        })
        .collect()
}

/// Marks a token revoked by `actor`, audited in the same transaction; returns false when no
/// live token has that id.
pub async fn revoke_token(db: &Db, actor: &Actor, tokenid: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let revokeddate = now();
    let done = db
        .query("UPDATE apitokens SET revokeddate = ? WHERE tokenid = ? AND revokeddate IS NULL")
        .bind(revokeddate.clone())
        .bind(tokenid)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    let name: String = db
        .query("SELECT name FROM apitokens WHERE tokenid = ?")
        .bind(tokenid)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
    audit::record(
        db,
        &mut tx,
        actor,
        audit::Entry {
            action: audit::Action::Updated,
            entitytype: "apitoken",
            entityid: Some(tokenid),
            entityname: Some(&name),
            before: json!({"revokeddate": null}).as_object().expect("an object"),
            after: json!({"revokeddate": revokeddate})
                .as_object()
                .expect("an object"),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn actor_for_token(db: &Db, secret: &str) -> Result<Actor, DomainError> {
    let row = db
        .query("SELECT tokenid, name, role, plugin, revokeddate, lastused FROM apitokens WHERE tokenhash = ?")
        .bind(sha256_hex(secret.as_bytes()))
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| DomainError::unauthorized("unknown API token"))?;
    if row.try_get::<Option<String>, _>(4)?.is_some() {
        return Err(DomainError::unauthorized("this API token has been revoked"));
    }
    let tokenid: i64 = row.try_get(0)?;
    let lastused: Option<String> = row.try_get(5)?;
    let current = now();
    // Use is recorded at most once a minute (a busy collector does not write on every call),
    // after the answer rather than before it: the request does not wait for the write lock.
    if lastused.as_deref().map(|l| &l[..16]) != Some(&current[..16]) {
        let db = db.clone();
        tokio::spawn(async move {
            let recorded = db
                .execute_write(
                    "UPDATE apitokens SET lastused = ? WHERE tokenid = ? AND (lastused IS NULL OR lastused < ?)",
                    &[
                        SqlValue::text(&current),
                        SqlValue::Int(tokenid),
                        SqlValue::text(&current),
                    ],
                )
                .await;
            if let Err(e) = recorded {
                tracing::warn!(error = %e, tokenid, "recording an API token's use failed");
            }
        });
    }
    let role: String = row.try_get(2)?;
    let plugin: Option<String> = row.try_get(3)?;
    Ok(Actor {
        kind: "token",
        id: Some(tokenid),
        name: row.try_get(1)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        credential: Credential::ApiToken { plugin },
        batch: None,
    })
}
