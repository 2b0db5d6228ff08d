//! The `settings` table: values per scope (`core` or a plugin name) and key.

use serde_json::{Map, Value, json};
use sqlx::Row;

use crate::audit;
use crate::auth::Actor;
use crate::db::{Db, SqlValue};
use crate::util::now;

/// Settings whose values never go into the audit trail or the settings list.
pub fn is_secret(key: &str) -> bool {
    ["key", "secret", "token", "password"]
        .iter()
        .any(|w| key.contains(w))
}

/// What is shown instead of a secret setting's value.
pub const HIDDEN: &str = "(hidden)";

/// A setting's value as the API shows it: a secret that is set reads `(hidden)`.
pub fn shown_value(key: &str, value: Value, default: &Value) -> Value {
    if is_secret(key) && value != *default {
        json!(HIDDEN)
    } else {
        value
    }
}

pub async fn get_setting(db: &Db, scope: &str, key: &str) -> Result<Option<String>, sqlx::Error> {
    let row = db
        .query("SELECT settingvalue FROM settings WHERE scope = ? AND settingkey = ?")
        .bind(scope.to_string())
        .bind(key.to_string())
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| r.try_get(0)).transpose()
}

/// Stores a setting, audited as `by` in the same transaction.
pub async fn set_setting(
    db: &Db,
    scope: &str,
    key: &str,
    value: &str,
    by: &str,
) -> Result<(), sqlx::Error> {
    set_setting_as(db, &Actor::system(by), scope, key, value).await
}

/// Stores a setting, audited as `actor` in the same transaction (secret values are not shown).
pub async fn set_setting_as(
    db: &Db,
    actor: &Actor,
    scope: &str,
    key: &str,
    value: &str,
) -> Result<(), sqlx::Error> {
    write_setting(db, actor, scope, key, value, false)
        .await
        .map(|_| ())
}

/// Stores a setting only if it has no value yet; false when another writer was first (then
/// the stored value stands). For values several processes may create at once.
pub async fn add_setting(
    db: &Db,
    scope: &str,
    key: &str,
    value: &str,
    by: &str,
) -> Result<bool, sqlx::Error> {
    match write_setting(db, &Actor::system(by), scope, key, value, true).await {
        Err(e) if crate::db::is_unique_violation(&e) => Ok(false),
        other => other,
    }
}

/// A new setting, its values in this order: value, by, when, scope, key.
const INSERT_SQL: &str = "INSERT INTO settings (settingvalue, modifiedby, modifieddate, scope, settingkey) VALUES (?, ?, ?, ?, ?)";

async fn write_setting(
    db: &Db,
    actor: &Actor,
    scope: &str,
    key: &str,
    value: &str,
    only_if_absent: bool,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let before: Option<String> = db
        .query("SELECT settingvalue FROM settings WHERE scope = ? AND settingkey = ?")
        .bind(scope.to_string())
        .bind(key.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
    let params = [
        SqlValue::text(value),
        SqlValue::text(&actor.name),
        SqlValue::text(now()),
        SqlValue::text(scope),
        SqlValue::text(key),
    ];
    if only_if_absent && before.is_some() {
        tx.rollback().await?;
        return Ok(false);
    }
    let sql = if before.is_some() {
        "UPDATE settings SET settingvalue = ?, modifiedby = ?, modifieddate = ? WHERE scope = ? AND settingkey = ?"
    } else {
        INSERT_SQL
    };
    db.query_with(sql, &params).execute(&mut *tx).await?;
    let shown = |v: Option<&str>| match v {
        Some(_) if is_secret(key) => json!(HIDDEN),
        other => json!(other),
    };
    let mut b = Map::new();
    let mut a = Map::new();
    b.insert("value".into(), shown(before.as_deref()));
    a.insert("value".into(), shown(Some(value)));
    let name = format!("{scope}.{key}");
    audit::record(
        db,
        &mut tx,
        actor,
        audit::Entry {
            action: if before.is_some() {
                audit::Action::Updated
            } else {
                audit::Action::Created
            },
            entitytype: "setting",
            entityid: None,
            entityname: Some(&name),
            before: &b,
            after: &a,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Stores (`Some`) or removes (`None`) a value the program keeps for itself, such as a note
/// that a long job is under way: not audited, and in no settings list.
pub async fn set_internal(
    db: &Db,
    scope: &str,
    key: &str,
    value: Option<&str>,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    db.query("DELETE FROM settings WHERE scope = ? AND settingkey = ?")
        .bind(scope.to_string())
        .bind(key.to_string())
        .execute(&mut *tx)
        .await?;
    if let Some(value) = value {
        let params = [
            SqlValue::text(value),
            SqlValue::text("system"),
            SqlValue::text(now()),
            SqlValue::text(scope),
            SqlValue::text(key),
        ];
        db.query_with(INSERT_SQL, &params).execute(&mut *tx).await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_settings_read_hidden_once_set() {
        let unset = json!("");
        assert_eq!(
            shown_value("zabbixtoken", json!("abc"), &unset),
            json!(HIDDEN)
        );
        assert_eq!(shown_value("zabbixtoken", json!(""), &unset), json!(""));
        assert_eq!(
            shown_value("zabbixurl", json!("http://z"), &unset),
            json!("http://z")
        );
    }
}
