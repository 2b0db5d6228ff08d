//! The desk's routes beyond the device CRUD: checkout, checkin, lookup by serial, overdue
//! devices and loan history.

use shopdb_core::api::{Access, Route, parse_id};
use shopdb_core::auth::{Actor, Role};
use shopdb_core::axum::extract::{Path, RawQuery, State};
use shopdb_core::axum::http::Method;
use shopdb_core::axum::response::Response;
use shopdb_core::axum::routing::{get, post};
use shopdb_core::envelope::{ApiResult, created, ok, page, page_raw};
use shopdb_core::error::DomainError;
use shopdb_core::http::{JsonBody, ListParams, query_pairs};
use shopdb_core::serde_json::{Value, json};
use shopdb_core::state::AppState;
use shopdb_core::time::OffsetDateTime;

use crate::checkouts::{self, CheckoutRequest};
use crate::{NAME, checkouts_resource, max_loan_days};

const VIEWER: Access = Access::Role(Role::Viewer);
const EDITOR: Access = Access::Role(Role::Editor);

pub fn routes() -> Vec<Route> {
    let loan = checkouts_resource().json_schema(false);
    let checkout_body = checkouts::checkout_schema();
    let checkin_body = checkouts::checkin_schema();
    vec![
        Route::new(Method::GET, "/api/usb/lookup", VIEWER, NAME, "Find a device by the serial number the desk scans (?serial=), with its open checkout", get(lookup))
            .query("serial", json!({"type": "string", "minLength": 1, "pattern": shopdb_core::resource::NONBLANK_PATTERN}), true, "the serial number"),
        Route::new(Method::GET, "/api/usb/overdue", VIEWER, NAME, "Devices out past their due time, most overdue first", get(overdue)).paged(),
        Route::new(Method::GET, "/api/usb/checkouts", VIEWER, NAME, "Checkouts, newest first; filter by badge, checkedoutto, assetid, checkedinat=null (still out) or q", get(history))
            .response(loan.clone())
            .paged(),
        Route::new(Method::GET, "/api/usb/{id}/checkouts", VIEWER, NAME, "Every checkout of one device, newest first", get(device_history))
            .response(loan.clone())
            .paged(),
        Route::new(Method::POST, "/api/usb/{id}/checkout", EDITOR, NAME, "Check a device out to a person (409 when it is already out)", post(checkout))
            .request(checkout_body)
            .response(loan.clone()),
        Route::new(Method::POST, "/api/usb/{id}/checkin", EDITOR, NAME, "Check a device back in (409 when it is not out)", post(checkin))
            .request(checkin_body)
            .response(loan),
    ]
}

/// GET /api/usb/lookup?serial=
async fn lookup(State(state): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let mut serial = None;
    for (key, value) in query_pairs(q.as_deref()) {
        match key.as_str() {
            "serial" => serial = Some(value.trim().to_string()),
            other => {
                return Err(DomainError::bad_request(format!(
                    "unknown parameter '{other}': send ?serial=<serial number>"
                ))
                .into());
            }
        }
    }
    let serial = serial
        .filter(|s| !s.is_empty())
        .ok_or_else(|| DomainError::bad_request("send ?serial=<serial number>"))?;
    let id = match checkouts::find_by_serial(&state.db, &serial).await?[..] {
        [] => {
            return Err(DomainError::not_found(format!(
                "no usb device with serial number '{serial}'"
            ))
            .into());
        }
        [id] => id,
        ref many => {
            return Err(DomainError::conflict(format!(
                "{} usb devices have serial number '{serial}': open them by asset id",
                many.len()
            ))
            .with_details(json!({"assetids": many}))
            .into());
        }
    };
    let mut device = state.resource(NAME).get(&state.db, id).await?;
    let open = checkouts::open_checkout(&state.db, id).await?;
    device.insert("checkout".into(), open.map_or(Value::Null, Value::Object));
    Ok(ok(Value::Object(device)))
}

/// GET /api/usb/overdue
async fn overdue(State(state): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let params = ListParams::parse(q.as_deref())?;
    if let Some(name) = params
        .filters
        .first()
        .map(|(k, _)| k.as_str())
        .or(params.sort.as_ref().map(|_| "sort"))
        .or(params.q.as_ref().map(|_| "q"))
    {
        return Err(DomainError::bad_request(format!(
            "unknown parameter '{name}': the overdue list takes page and per_page"
        ))
        .into());
    }
    let (list, total) = checkouts::overdue(&state.db, params.per_page, params.offset()).await?;
    Ok(page(list, params.page, params.per_page, total))
}

/// GET /api/usb/checkouts
async fn history(State(state): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    list_checkouts(&state, ListParams::parse(q.as_deref())?).await
}

/// GET /api/usb/{id}/checkouts
async fn device_history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    // 404 for an id that is not a device, rather than an empty history.
    state.resource(NAME).get(&state.db, id).await?;
    let mut params = ListParams::parse(q.as_deref())?;
    params.filters.push(("assetid".into(), id.to_string()));
    list_checkouts(&state, params).await
}

async fn list_checkouts(state: &AppState, params: ListParams) -> ApiResult<Response> {
    let (data, total) = checkouts_resource().list_json(&state.db, &params).await?;
    Ok(page_raw(&data, params.page, params.per_page, total))
}

/// POST /api/usb/{id}/checkout
async fn checkout(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let ctx = state
        .plugin_context(NAME)
        .ok_or_else(|| DomainError::internal("the usb plugin is not loaded"))?;
    let request =
        CheckoutRequest::parse(&body, OffsetDateTime::now_utc(), max_loan_days(&ctx).await?)?;
    let record = checkouts::check_out(&state.db, &actor, id, &request).await?;
    Ok(created(Value::Object(record)))
}

/// POST /api/usb/{id}/checkin
async fn checkin(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let condition = checkouts::parse_checkin(&body)?;
    let record = checkouts::check_in(&state.db, &actor, id, condition).await?;
    Ok(ok(Value::Object(record)))
}
