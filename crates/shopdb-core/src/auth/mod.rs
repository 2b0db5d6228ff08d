//! Who is calling: login sessions (signed token in a cookie or Bearer header), API tokens for
//! scripts and collectors, roles, CSRF for cookie writes and throttling of failed logins.

pub mod jwt;
pub mod password;
pub mod session;
pub mod tokens;

use std::fmt;

use axum::http::HeaderMap;
use serde::Serialize;

use crate::error::DomainError;

pub const SESSION_COOKIE: &str = "shopdb_session";
pub const CSRF_COOKIE: &str = "shopdb_csrf";
/// The cookie names when cookies are Secure: a browser takes a `__Host-` cookie only from
/// this very host over HTTPS, with `Path=/` and no `Domain`, so a neighbouring subdomain
/// cannot plant or overwrite one.
pub const SECURE_SESSION_COOKIE: &str = "__Host-shopdb_session";
pub const SECURE_CSRF_COOKIE: &str = "__Host-shopdb_csrf";

/// The login cookie's name: `__Host-` prefixed when cookies are Secure.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The CSRF cookie's name: `__Host-` prefixed when cookies are Secure.
pub fn csrf_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_CSRF_COOKIE
    } else {
        CSRF_COOKIE
    }
}
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a verified credential is trusted without asking the database again.
pub const VERIFIED_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// Consecutive failures before a username is locked out for a while.
pub const FREE_LOGIN_FAILURES: i64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Editor,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a caller proved who it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// Login cookie; writes must also carry this CSRF token.
    Cookie { csrf: String, session: String },
    /// Login token in an `Authorization: Bearer` header.
    Bearer { session: String },
    /// API token; `plugin` set for collector tokens.
    ApiToken { plugin: Option<String> },
    /// The command line or the server itself.
    System,
}

/// An authenticated caller, recorded in every audit row it causes.
#[derive(Clone, Debug)]
pub struct Actor {
    /// `user`, `token` or `system`.
    pub kind: &'static str,
    pub id: Option<i64>,
    pub name: String,
    pub role: Role,
    pub credential: Credential,
    /// The import batch this actor's writes belong to: written into each of its audit rows.
    pub batch: Option<String>,
}

impl Actor {
    /// The command line acting with full rights.
    pub fn system(name: &str) -> Actor {
        Actor {
            kind: "system",
            id: None,
            name: name.to_string(),
            role: Role::Admin,
            credential: Credential::System,
            batch: None,
        }
    }

    pub fn collector_plugin(&self) -> Option<&str> {
        match &self.credential {
            Credential::ApiToken { plugin } => plugin.as_deref(),
            _ => None,
        }
    }
}

/// A cookie-authenticated write must echo the session's CSRF token in `X-CSRF-Token`.
pub fn check_csrf(actor: &Actor, headers: &HeaderMap) -> Result<(), DomainError> {
    if let Credential::Cookie { csrf, .. } = &actor.credential {
        let sent = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if sent.is_empty() || !constant_time_eq(sent.as_bytes(), csrf.as_bytes()) {
            return Err(DomainError::forbidden(
                "missing or wrong X-CSRF-Token header: cookie-authenticated writes must send the csrftoken from login",
            ));
        }
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
