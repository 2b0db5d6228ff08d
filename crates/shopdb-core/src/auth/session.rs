//! Reading who is calling from a request (login token in a cookie or Bearer header, API
//! token), logging in and out, and the cookies that carry a login. The types of a caller
//! (`Actor`, `Role`, `Credential`) are one level down, in `auth`.

use axum::http::HeaderMap;
use sqlx::Row;

use crate::auth::{
    Actor, Credential, FREE_LOGIN_FAILURES, Role, VERIFIED_TTL, csrf_cookie_name, jwt, password,
    session_cookie_name, tokens,
};
use crate::db::{Db, SqlValue};
use crate::error::DomainError;
use crate::users;
use crate::util::{normalize_timestamp, now, random_token, unix_now};

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Recently verified credentials, so a busy client does not cost a session lookup on every
/// request. Entries live one second; logout, user changes and token revocation in this
/// process clear it at once, and other server processes notice within that second.
#[derive(Default)]
pub struct VerifiedCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Actor)>>,
}

impl VerifiedCache {
    fn get(&self, credential: &str) -> Option<Actor> {
        let entries = self.entries.lock().ok()?;
        let (at, actor) = entries.get(credential)?;
        (at.elapsed() < VERIFIED_TTL).then(|| actor.clone())
    }

    fn put(&self, credential: &str, actor: &Actor) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() > 10_000 {
                entries.retain(|_, (at, _)| at.elapsed() < VERIFIED_TTL);
            }
            entries.insert(
                credential.to_string(),
                (std::time::Instant::now(), actor.clone()),
            );
        }
    }

    /// Forgets everything (after logout, a user change or a revoked token).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

/// Identifies the caller (through `cache`, see [`VerifiedCache`]). `secure`: cookies are
/// Secure, so the login cookie is read under its `__Host-` name only.
pub async fn authenticate_cached(
    db: &Db,
    key: &[u8],
    headers: &HeaderMap,
    cache: &VerifiedCache,
    secure: bool,
) -> Result<Option<Actor>, DomainError> {
    let credential = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| cookie(headers, session_cookie_name(secure)).map(|c| format!("cookie {c}")));
    let Some(credential) = credential else {
        return Ok(None);
    };
    if let Some(actor) = cache.get(&credential) {
        return Ok(Some(actor));
    }
    let actor = authenticate(db, key, headers, secure).await?;
    if let Some(a) = &actor {
        cache.put(&credential, a);
    }
    Ok(actor)
}

/// Identifies the caller from the Authorization header or the login cookie.
/// `Ok(None)` means no credentials were presented; bad or revoked ones are a 401.
pub async fn authenticate(
    db: &Db,
    key: &[u8],
    headers: &HeaderMap,
    secure: bool,
) -> Result<Option<Actor>, DomainError> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    if let Some(token) = bearer {
        if token.starts_with(tokens::TOKEN_PREFIX) {
            return tokens::actor_for_token(db, token).await.map(Some);
        }
        return session_actor(db, key, token, false).await.map(Some);
    }
    match cookie(headers, session_cookie_name(secure)) {
        Some(token) => session_actor(db, key, token, true).await.map(Some),
        None => Ok(None),
    }
}

async fn session_actor(
    db: &Db,
    key: &[u8],
    token: &str,
    via_cookie: bool,
) -> Result<Actor, DomainError> {
    let expired =
        || DomainError::unauthorized("your session has expired or was logged out: log in again");
    let claims = jwt::verify(token, key, unix_now()).ok_or_else(expired)?;
    let row = db
        .query(
            "SELECT u.userid, u.username, u.role, u.isactive, s.expiresat, s.revokeddate, s.csrftoken \
             FROM authsessions s JOIN users u ON u.userid = s.userid WHERE s.sessionid = ?",
        )
        .bind(claims.sid.clone())
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(expired)?;
    let userid: i64 = row.try_get(0)?;
    let active: i64 = row.try_get(3)?;
    let expires: String = row.try_get(4)?;
    let revoked: Option<String> = row.try_get(5)?;
    if userid != claims.sub || active == 0 || revoked.is_some() || expires <= now() {
        return Err(expired());
    }
    let role: String = row.try_get(2)?;
    Ok(Actor {
        kind: "user",
        id: Some(userid),
        name: row.try_get(1)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        credential: if via_cookie {
            Credential::Cookie {
                csrf: row.try_get(6)?,
                session: claims.sid,
            }
        } else {
            Credential::Bearer {
                session: claims.sid,
            }
        },
        batch: None,
    })
}

/// A successful login: the signed token, its CSRF companion and when it ends.
pub struct LoginSession {
    pub token: String,
    pub csrftoken: String,
    pub expiresat: String,
    pub userid: i64,
    pub username: String,
    pub role: Role,
}

/// Checks a username and password, throttling repeated failures per username.
pub async fn login(
    db: &Db,
    key: &[u8],
    username: &str,
    password: &str,
    session_hours: i64,
) -> Result<LoginSession, DomainError> {
    let denied = || DomainError::unauthorized("wrong username or password");
    let user = users::find_login(db, username).await?;
    let Some(user) = user else {
        // Spend the same time as a real check so response times do not reveal usernames.
        let _ = password::verify_in_turn(password, dummy_hash()).await;
        return Err(denied());
    };
    if let Some(until) = &user.lockeduntil
        && until.as_str() > now().as_str()
    {
        return Err(DomainError::new(
            crate::error::ErrorKind::TooMany,
            "too_many_attempts",
            format!("too many failed logins for this user: try again after {until}"),
        ));
    }
    if !user.isactive || !password::verify_in_turn(password, &user.passwordhash).await {
        let failures = user.failedlogins + 1;
        let lock = (failures >= FREE_LOGIN_FAILURES).then(|| {
            // 30 s after the fifth failure, doubling each time, at most 15 minutes.
            let secs = (30i64 << (failures - FREE_LOGIN_FAILURES).min(5)).min(900);
            crate::util::format_timestamp(
                time::OffsetDateTime::now_utc() + time::Duration::seconds(secs),
            )
        });
        users::record_failed_login(db, user.userid, failures, lock).await?;
        return Err(denied());
    }
    users::record_good_login(db, user.userid).await?;
    if password::needs_rehash(&user.passwordhash) {
        // Made with older settings: store it as new hashes are made (see `password`).
        let hash = password::hash_in_turn(password)
            .await
            .map_err(DomainError::internal)?;
        users::replace_password_hash(db, user.userid, &user.passwordhash, &hash).await?;
    }

    let sessionid = random_token(24);
    let csrftoken = random_token(24);
    let issued = unix_now();
    let expires = issued + session_hours * 3600;
    let expiresat = normalize_timestamp(
        &time::OffsetDateTime::from_unix_timestamp(expires)
            .map_err(DomainError::internal)?
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(DomainError::internal)?,
    )
    .unwrap_or_default();
    db.execute_write(
        "INSERT INTO authsessions (sessionid, userid, csrftoken, createddate, expiresat) VALUES (?, ?, ?, ?, ?)",
        &[
            SqlValue::text(&sessionid),
            SqlValue::Int(user.userid),
            SqlValue::text(&csrftoken),
            SqlValue::text(now()),
            SqlValue::text(&expiresat),
        ],
    )
    .await?;
    let token = jwt::sign(
        &jwt::Claims {
            sub: user.userid,
            sid: sessionid,
            iat: issued,
            exp: expires,
        },
        key,
    );
    Ok(LoginSession {
        token,
        csrftoken,
        expiresat,
        userid: user.userid,
        username: user.username,
        role: Role::parse(&user.role).unwrap_or(Role::Viewer),
    })
}

/// Revokes the caller's login session; the token is refused from now on, by every process.
pub async fn logout(db: &Db, actor: &Actor) -> Result<(), DomainError> {
    let session = match &actor.credential {
        Credential::Cookie { session, .. } | Credential::Bearer { session } => session.clone(),
        _ => {
            return Err(DomainError::forbidden(
                "only login sessions can log out; revoke API tokens instead",
            ));
        }
    };
    db.execute_write(
        "UPDATE authsessions SET revokeddate = ? WHERE sessionid = ?",
        &[SqlValue::text(now()), SqlValue::text(session)],
    )
    .await?;
    Ok(())
}

/// `Set-Cookie` values for a login (or, with `None`, clearing both cookies). With `secure`
/// the cookies are Secure and `__Host-` prefixed (which needs `Path=/` and no `Domain`).
pub fn session_cookies(session: Option<&LoginSession>, secure: bool, hours: i64) -> [String; 2] {
    let (session_name, csrf_name) = (session_cookie_name(secure), csrf_cookie_name(secure));
    let secure = if secure { "; Secure" } else { "" };
    match session {
        Some(s) => [
            format!(
                "{session_name}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                s.token,
                hours * 3600
            ),
            format!(
                "{csrf_name}={}; Path=/; SameSite=Lax; Max-Age={}{secure}",
                s.csrftoken,
                hours * 3600
            ),
        ],
        None => [
            format!("{session_name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
            format!("{csrf_name}=; Path=/; SameSite=Lax; Max-Age=0{secure}"),
        ],
    }
}

/// A hash of a random password, verified against when the username is unknown.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| password::hash_password(&random_token(16)).unwrap_or_default())
}
