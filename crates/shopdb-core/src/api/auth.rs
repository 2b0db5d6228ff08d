//! Login, logout and "who am I".

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::auth::Actor;
use crate::auth::session::{self, session_cookies};
use crate::envelope::{ApiResult, ok};
use crate::error::DomainError;
use crate::http::JsonBody;
use crate::state::AppState;

/// POST /api/auth/login {"username", "password"}
pub async fn login(State(state): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    // Both fields checked, and both named when both are wrong.
    let mut errors = serde_json::Map::new();
    let mut field = |name: &str| -> String {
        match body.get(name) {
            Some(Value::String(s)) if !s.is_empty() => return s.clone(),
            None | Some(Value::Null | Value::String(_)) => {
                errors.insert(name.into(), json!("is required"));
            }
            Some(_) => {
                errors.insert(name.into(), json!("must be text"));
            }
        }
        String::new()
    };
    let (username, password) = (field("username"), field("password"));
    if !errors.is_empty() {
        return Err(DomainError::validation(errors).into());
    }
    let session = session::login(
        &state.db,
        &state.signing_key,
        &username,
        &password,
        state.config.session_hours,
    )
    .await?;
    let cookies = session_cookies(
        Some(&session),
        state.config.cookie_secure,
        state.config.session_hours,
    );
    let mut response = ok(json!({
        "token": session.token,
        "csrftoken": session.csrftoken,
        "expiresat": session.expiresat,
        "user": {"userid": session.userid, "username": session.username, "role": session.role},
    }));
    for c in cookies {
        if let Ok(v) = c.parse() {
            response.headers_mut().append(SET_COOKIE, v);
        }
    }
    Ok(response)
}

/// POST /api/auth/logout — revokes the session behind the token or cookie.
pub async fn logout(State(state): State<AppState>, actor: Actor) -> ApiResult<Response> {
    session::logout(&state.db, &actor).await?;
    state.verified.clear();
    let mut response = ok(json!({"loggedout": true})).into_response();
    for c in session_cookies(None, state.config.cookie_secure, 0) {
        if let Ok(v) = c.parse() {
            response.headers_mut().append(SET_COOKIE, v);
        }
    }
    Ok(response)
}

/// GET /api/auth/me
pub async fn me(actor: Actor) -> ApiResult<Response> {
    Ok(ok(json!({
        "kind": actor.kind,
        "id": actor.id,
        "name": actor.name,
        "role": actor.role,
    })))
}
