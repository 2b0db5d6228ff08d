//! The `settings` table: values per scope (`core` or a plugin name) and key.

use sqlx::Row;

use crate::db::{Db, SqlValue};
use crate::util::now;

pub async fn get_setting(db: &Db, scope: &str, key: &str) -> Result<Option<String>, sqlx::Error> {
    let row = db
        .query("SELECT settingvalue FROM settings WHERE scope = ? AND settingkey = ?")
        .bind(scope.to_string())
        .bind(key.to_string())
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| r.try_get(0)).transpose()
}

pub async fn set_setting(
    db: &Db,
    scope: &str,
    key: &str,
    value: &str,
    by: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    let params = [
        SqlValue::text(value),
        SqlValue::text(by),
        SqlValue::text(now()),
        SqlValue::text(scope),
        SqlValue::text(key),
    ];
    let done = db
        .query_with(
            "UPDATE settings SET settingvalue = ?, modifiedby = ?, modifieddate = ? WHERE scope = ? AND settingkey = ?",
            &params,
        )
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        db.query_with(
            "INSERT INTO settings (settingvalue, modifiedby, modifieddate, scope, settingkey) VALUES (?, ?, ?, ?, ?)",
            &params,
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
