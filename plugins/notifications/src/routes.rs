//! The recent list (dashboard) and the kiosk list (floor screens), beside the CRUD.

use shopdb_core::api::{Access, Route, parse_id};
use shopdb_core::auth::{Actor, Role};
use shopdb_core::axum::Extension;
use shopdb_core::axum::extract::{RawQuery, State};
use shopdb_core::axum::http::Method;
use shopdb_core::axum::response::Response;
use shopdb_core::axum::routing::get;
use shopdb_core::envelope::{ApiResult, ok, page};
use shopdb_core::error::DomainError;
use shopdb_core::http::{ListParams, query_pairs};
use shopdb_core::serde_json::{Value, json};
use shopdb_core::state::AppState;

use crate::NAME;
use crate::announcements::{self, Window};

/// Most announcements a kiosk is sent.
const KIOSK_LIMIT: i64 = 50;

pub fn routes() -> Vec<Route> {
    let item = json!({"type": "object", "properties": {
        "notificationid": {"type": "integer"}, "title": {"type": "string"}, "message": {"type": "string"},
        "severity": {"type": "string", "enum": crate::SEVERITIES},
        "startsat": {"type": "string", "format": "date-time"},
        "endsat": {"type": "string", "format": "date-time", "nullable": true},
        "locationid": {"type": "integer", "nullable": true}, "locationname": {"type": "string", "nullable": true},
        "state": {"type": "string", "enum": ["current", "upcoming"]}}});
    vec![
        Route::new(Method::GET, "/api/notifications/recent", Access::Role(Role::Viewer), NAME,
            "Active announcements that are current or upcoming, latest start first (?locationid= adds the site-wide ones)",
            get(recent))
            .response(item.clone())
            .paged(),
        // Public in the route table; the handler lets anonymous callers in only while the
        // kioskpublic setting is on.
        Route::new(Method::GET, "/api/notifications/kiosk", Access::Public, NAME,
            "Current announcements for a floor screen, outages first (?locationid=); without login only when the kioskpublic setting is on",
            get(kiosk))
            .response(json!({"type": "array", "items": item})),
    ]
}

/// `locationid` from the query (404 when no such location).
async fn location(state: &AppState, raw: Option<&str>) -> ApiResult<Option<i64>> {
    let Some(raw) = raw else { return Ok(None) };
    let id = parse_id(raw)?;
    if !announcements::location_exists(&state.db, id).await? {
        return Err(DomainError::not_found(format!("no location with id {id}")).into());
    }
    Ok(Some(id))
}

/// GET /api/notifications/recent
async fn recent(State(state): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let params = ListParams::parse(q.as_deref())?;
    let mut locationid = None;
    for (key, value) in &params.filters {
        match key.as_str() {
            "locationid" => locationid = Some(value.as_str()),
            other => return Err(unknown(other).into()),
        }
    }
    if params.sort.is_some() || params.q.is_some() {
        return Err(unknown(if params.sort.is_some() { "sort" } else { "q" }).into());
    }
    let locationid = location(&state, locationid).await?;
    let (items, total) = announcements::list(
        &state.db,
        Window::CurrentOrUpcoming,
        locationid,
        params.per_page,
        params.offset(),
    )
    .await?;
    Ok(page(items, params.page, params.per_page, total))
}

/// GET /api/notifications/kiosk
async fn kiosk(
    State(state): State<AppState>,
    actor: Option<Extension<Actor>>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    // A collector token is for pushing inventory, not for reading; it counts as anonymous.
    let signed_in = actor.is_some_and(|Extension(a)| a.collector_plugin().is_none());
    if !signed_in {
        let ctx = state
            .plugin_context(NAME)
            .ok_or_else(|| DomainError::internal("the notifications plugin is not loaded"))?;
        if ctx.setting("kioskpublic").await?.as_bool() != Some(true) {
            return Err(DomainError::unauthorized(
                "log in to read announcements (an admin can open this list to floor screens with the notifications kioskpublic setting)",
            ).into());
        }
    }
    let pairs = query_pairs(q.as_deref());
    let mut locationid = None;
    for (key, value) in &pairs {
        match key.as_str() {
            "locationid" => locationid = Some(value.as_str()),
            other => return Err(unknown(other).into()),
        }
    }
    let locationid = location(&state, locationid).await?;
    let (items, _) =
        announcements::list(&state.db, Window::Current, locationid, KIOSK_LIMIT, 0).await?;
    Ok(ok(Value::Array(items)))
}

fn unknown(name: &str) -> DomainError {
    DomainError::bad_request(format!(
        "unknown parameter '{name}': this list takes locationid (and page, per_page)"
    ))
}
