//! Who is looking at a page: the login cookie, the login and logout forms, and the CSRF
//! check of every form post.

use axum::extract::{FromRequestParts, OriginalUri, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};
use shopdb_core::auth::session::{self, authenticate_cached, session_cookies};
use shopdb_core::auth::{Credential, Role};

use crate::Web;
use crate::form::FormData;
use crate::render::{error_page, page_context};
pub use crate::viewer::PageUser;

impl PageUser {
    /// The user, if their role reaches `min`; else a 403 page.
    pub async fn require(&self, web: &Web, min: Role) -> Result<(), Response> {
        if self.actor.role >= min {
            Ok(())
        } else {
            Err(error_page(
                web,
                Some(self),
                StatusCode::FORBIDDEN,
                &format!("This needs the {min} role; you are {}.", self.actor.role),
            )
            .await)
        }
    }

    /// Refuses a form post whose CSRF token is missing or wrong. Only cookie logins need one:
    /// a browser sends cookies on its own, a Bearer token has to be sent on purpose.
    pub async fn check_form(&self, web: &Web, form: &FormData) -> Result<(), Response> {
        let cookie = matches!(self.actor.credential, Credential::Cookie { .. });
        if !cookie || (form.get("csrftoken") == Some(self.csrf.as_str()) && !self.csrf.is_empty()) {
            Ok(())
        } else {
            Err(error_page(
                web,
                Some(self),
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from this site. Go back, reload the page and send it again.",
            )
            .await)
        }
    }
}

async fn user_from(web: &Web, headers: &HeaderMap) -> Option<PageUser> {
    let actor = authenticate_cached(
        &web.app.db,
        &web.app.signing_key,
        headers,
        &web.app.verified,
        web.app.config.cookie_secure,
    )
    .await
    .ok()
    .flatten()?;
    if actor.collector_plugin().is_some() {
        return None;
    }
    let csrf = match &actor.credential {
        Credential::Cookie { csrf, .. } => csrf.clone(),
        _ => String::new(),
    };
    Some(PageUser { actor, csrf })
}

/// Where to send someone who is not logged in: the login page, then back here.
fn to_login(parts: &Parts) -> Response {
    let wanted = parts
        .extensions
        .get::<OriginalUri>()
        .map(|u| u.0.to_string())
        .unwrap_or_else(|| parts.uri.to_string());
    let next: String = url::form_urlencoded::byte_serialize(wanted.as_bytes()).collect();
    Redirect::to(&format!("/login?next={next}")).into_response()
}

impl FromRequestParts<Web> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Response> {
        match user_from(web, &parts.headers).await {
            Some(user) => Ok(user),
            None => Err(to_login(parts)),
        }
    }
}

/// The user if logged in, for pages anyone may see.
pub struct MaybeUser(pub Option<PageUser>);

impl FromRequestParts<Web> for MaybeUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Response> {
        Ok(MaybeUser(user_from(web, &parts.headers).await))
    }
}

/// Only local paths are followed after login, so a link cannot send users elsewhere.
/// Browsers drop tabs and newlines inside URLs and read `\\` as `/`, so a path holding any
/// of those could turn into `//other.host`; such a path is not followed at all.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n
                    .chars()
                    .any(|c| c.is_control() || c.is_whitespace() || c == '\\') =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

pub async fn login_page(
    State(web): State<Web>,
    MaybeUser(user): MaybeUser,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let form = FormData::parse(uri.query().unwrap_or_default().as_bytes());
    let next = safe_next(form.get("next"));
    if user.is_some() {
        return Redirect::to(&next).into_response();
    }
    let mut ctx = page_context(&web, None, "Log in").await;
    ctx.insert("next".into(), json!(next));
    ctx.insert("expired".into(), json!(form.get("next").is_some()));
    web.templates.render("login.html", &Value::Object(ctx))
}

pub async fn login(State(web): State<Web>, body: axum::body::Bytes) -> Response {
    let form = FormData::parse(&body);
    let next = safe_next(form.get("next"));
    let (username, password) = (
        form.get("username").unwrap_or_default(),
        form.get("password").unwrap_or_default(),
    );
    let result = if username.is_empty() || password.is_empty() {
        Err("Enter your username and password.".to_string())
    } else {
        session::login(
            &web.app.db,
            &web.app.signing_key,
            username,
            password,
            web.app.config.session_hours,
        )
        .await
        .map_err(|e| e.message)
    };
    match result {
        Ok(session) => {
            let mut response = (StatusCode::SEE_OTHER, [(LOCATION, next)]).into_response();
            for cookie in session_cookies(
                Some(&session),
                web.app.config.cookie_secure,
                web.app.config.session_hours,
            ) {
                if let Ok(v) = cookie.parse() {
                    response.headers_mut().append(SET_COOKIE, v);
                }
            }
            response
        }
        Err(message) => {
            let mut ctx = page_context(&web, None, "Log in").await;
            ctx.insert("next".into(), json!(next));
            ctx.insert("error".into(), json!(message));
            ctx.insert("username".into(), json!(username));
            web.templates
                .render_status(StatusCode::UNAUTHORIZED, "login.html", &Value::Object(ctx))
        }
    }
}

pub async fn logout(State(web): State<Web>, user: PageUser, body: axum::body::Bytes) -> Response {
    let form = FormData::parse(&body);
    if let Err(page) = user.check_form(&web, &form).await {
        return page;
    }
    if let Err(e) = session::logout(&web.app.db, &user.actor).await {
        tracing::warn!(error = %e.message, "logout failed");
    }
    web.app.verified.clear();
    let mut response = (StatusCode::SEE_OTHER, [(LOCATION, "/login")]).into_response();
    for cookie in session_cookies(None, web.app.config.cookie_secure, 0) {
        if let Ok(v) = cookie.parse() {
            response.headers_mut().append(SET_COOKIE, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_plain_local_paths_are_followed_after_login() {
        assert_eq!(
            safe_next(Some("/computers/12?tab=history")),
            "/computers/12?tab=history"
        );
        for bad in [
            "//evil.example/",
            "/\\evil.example/",
            "/\t/evil.example/",
            "/\n/evil.example",
            "https://evil.example/",
            "evil",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
