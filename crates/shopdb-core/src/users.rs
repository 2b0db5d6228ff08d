//! The `users` table.

use serde_json::{Map, Value, json};
use sqlx::Row;

use crate::audit;
use crate::auth::password::{hash_in_turn, password_problem};
use crate::auth::{Actor, Role};
use crate::db::{Db, SqlValue};
use crate::util::{now, random_token};

/// What login needs to know about a user.
pub struct LoginUser {
    pub userid: i64,
    pub username: String,
    pub role: String,
    pub passwordhash: String,
    pub isactive: bool,
    pub failedlogins: i64,
    pub lockeduntil: Option<String>,
}

/// Usernames are matched case-insensitively and without surrounding space.
pub fn normalize_username(username: &str) -> String {
    username.trim().to_lowercase()
}

pub async fn find_login(db: &Db, username: &str) -> Result<Option<LoginUser>, sqlx::Error> {
    let row = db
        .query("SELECT userid, username, role, passwordhash, isactive, failedlogins, lockeduntil FROM users WHERE username = ?")
        .bind(normalize_username(username))
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| {
        Ok(LoginUser {
            userid: r.try_get(0)?,
            username: r.try_get(1)?,
            role: r.try_get(2)?,
            passwordhash: r.try_get(3)?,
            isactive: r.try_get::<i64, _>(4)? != 0,
            failedlogins: r.try_get(5)?,
            lockeduntil: r.try_get(6)?,
        })
    })
    .transpose()
}

pub async fn record_failed_login(
    db: &Db,
    userid: i64,
    failures: i64,
    lock: Option<String>,
) -> Result<(), sqlx::Error> {
    db.execute_write(
        "UPDATE users SET failedlogins = ?, lockeduntil = ? WHERE userid = ?",
        &[
            SqlValue::Int(failures),
            SqlValue::opt_text(lock),
            SqlValue::Int(userid),
        ],
    )
    .await?;
    Ok(())
}

pub async fn record_good_login(db: &Db, userid: i64) -> Result<(), sqlx::Error> {
    db.execute_write(
        "UPDATE users SET failedlogins = 0, lockeduntil = NULL WHERE userid = ? AND failedlogins > 0",
        &[SqlValue::Int(userid)],
    )
    .await?;
    Ok(())
}

/// Stores `new` as the user's password hash if it is still `old` (a password changed
/// meanwhile wins). The same password, hashed with the current settings: not audited.
pub async fn replace_password_hash(
    db: &Db,
    userid: i64,
    old: &str,
    new: &str,
) -> Result<(), sqlx::Error> {
    db.execute_write(
        "UPDATE users SET passwordhash = ? WHERE userid = ? AND passwordhash = ?",
        &[
            SqlValue::text(new),
            SqlValue::Int(userid),
            SqlValue::text(old),
        ],
    )
    .await?;
    Ok(())
}

pub async fn count_users(db: &Db) -> Result<i64, sqlx::Error> {
    db.query("SELECT COUNT(*) FROM users")
        .fetch_one(db.pool())
        .await?
        .try_get(0)
}

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("username {0}")]
    BadName(&'static str),
    #[error("password {0}")]
    BadPassword(&'static str),
    #[error("a user named '{0}' already exists")]
    Exists(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub async fn create_user(
    db: &Db,
    actor: &Actor,
    username: &str,
    role: Role,
    password: &str,
) -> Result<i64, CreateUserError> {
    let username = normalize_username(username);
    if username.is_empty() || username.len() > 100 {
        return Err(CreateUserError::BadName("must be 1 to 100 characters"));
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        return Err(CreateUserError::BadName(
            "may hold only letters, digits and . _ - @",
        ));
    }
    if let Some(problem) = password_problem(password) {
        return Err(CreateUserError::BadPassword(problem));
    }
    if find_login(db, &username).await?.is_some() {
        return Err(CreateUserError::Exists(username));
    }
    let hash = hash_in_turn(password).await?;
    let mut tx = db.begin().await?;
    let stamp = now();
    let id = db
        .insert_returning_id(
            &mut tx,
            "INSERT INTO users (username, role, passwordhash, isactive, failedlogins, createddate, modifieddate) VALUES (?, ?, ?, ?, 0, ?, ?)",
            &[
                SqlValue::text(&username),
                SqlValue::text(role.as_str()),
                SqlValue::text(hash),
                SqlValue::Bool(true),
                SqlValue::text(&stamp),
                SqlValue::text(&stamp),
            ],
            "userid",
        )
        .await?;
    let after = json!({"username": username, "role": role.as_str(), "isactive": true});
    audit::record(
        db,
        &mut tx,
        actor,
        audit::Entry {
            action: audit::Action::Created,
            entitytype: "user",
            entityid: Some(id),
            entityname: Some(&username),
            before: &Map::new(),
            after: after.as_object().unwrap_or(&Map::new()),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Creates `admin` with a generated password when there are no users at all.
/// Returns the password so the caller can show it once.
pub async fn ensure_first_admin(db: &Db) -> Result<Option<String>, CreateUserError> {
    if count_users(db).await? > 0 {
        return Ok(None);
    }
    let password = random_token(15);
    create_user(
        db,
        &Actor::system("first start"),
        "admin",
        Role::Admin,
        &password,
    )
    .await?;
    Ok(Some(password))
}

pub async fn list_users(db: &Db) -> Result<Vec<Value>, sqlx::Error> {
    let rows = db
        .query("SELECT userid, username, displayname, role, isactive, createddate FROM users ORDER BY username")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(json!({
                "userid": r.try_get::<i64, _>(0)?,
                "username": r.try_get::<String, _>(1)?,
                "displayname": r.try_get::<Option<String>, _>(2)?,
                "role": r.try_get::<String, _>(3)?,
                "isactive": r.try_get::<i64, _>(4)? != 0,
                "createddate": r.try_get::<String, _>(5)?,
            }))
        })
        .collect()
}

/// Changes to a user account; `None` leaves a field alone.
#[derive(Default)]
pub struct UserChange {
    pub displayname: Option<Option<String>>,
    pub role: Option<Role>,
    pub isactive: Option<bool>,
    pub password: Option<String>,
}

/// Applies `change` to user `userid` with an audit entry; `Ok(false)` when there is no such user.
pub async fn update_user(
    db: &Db,
    actor: &Actor,
    userid: i64,
    change: UserChange,
) -> Result<bool, CreateUserError> {
    if let Some(p) = &change.password
        && let Some(problem) = password_problem(p)
    {
        return Err(CreateUserError::BadPassword(problem));
    }
    // Hashed before the write begins: a hash takes tens of milliseconds.
    let new_hash = match &change.password {
        Some(p) => Some(hash_in_turn(p).await?),
        None => None,
    };
    let mut tx = db.begin().await?;
    let Some(row) = db
        .query("SELECT username, displayname, role, isactive FROM users WHERE userid = ?")
        .bind(userid)
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(false);
    };
    let username: String = row.try_get(0)?;
    let before = json!({
        "displayname": row.try_get::<Option<String>, _>(1)?,
        "role": row.try_get::<String, _>(2)?,
        "isactive": row.try_get::<i64, _>(3)? != 0,
    });
    let mut after = before.clone();
    let mut sets = Vec::new();
    let mut values = Vec::new();
    if let Some(d) = change.displayname {
        after["displayname"] = json!(d);
        sets.push("displayname = ?");
        values.push(SqlValue::opt_text(d));
    }
    if let Some(r) = change.role {
        after["role"] = json!(r.as_str());
        sets.push("role = ?");
        values.push(SqlValue::text(r.as_str()));
    }
    if let Some(a) = change.isactive {
        after["isactive"] = json!(a);
        sets.push("isactive = ?");
        values.push(SqlValue::Bool(a));
    }
    if let Some(hash) = new_hash {
        after["password"] = json!("(changed)");
        sets.push("passwordhash = ?, failedlogins = 0, lockeduntil = NULL");
        values.push(SqlValue::text(hash));
    }
    if sets.is_empty() {
        return Ok(true);
    }
    sets.push("modifieddate = ?");
    values.push(SqlValue::text(now()));
    values.push(SqlValue::Int(userid));
    db.query_with(
        &format!("UPDATE users SET {} WHERE userid = ?", sets.join(", ")),
        &values,
    )
    .execute(&mut *tx)
    .await?;
    let empty = Map::new();
    audit::record(
        db,
        &mut tx,
        actor,
        audit::Entry {
            action: audit::Action::Updated,
            entitytype: "user",
            entityid: Some(userid),
            entityname: Some(&username),
            before: before.as_object().unwrap_or(&empty),
            after: after.as_object().unwrap_or(&empty),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
