//! The printers plugin's own routes (the generic CRUD at /api/printers comes from its
//! resource): supplies from Zabbix, the print-mapping list and the nearest printers to a PC.

use shopdb_core::api::{Access, Route, parse_id};
use shopdb_core::auth::Role;
use shopdb_core::axum::extract::{Path, RawQuery, State};
use shopdb_core::axum::http::Method;
use shopdb_core::axum::response::Response;
use shopdb_core::axum::routing::{get, put};
use shopdb_core::envelope::{ApiResult, ok};
use shopdb_core::error::DomainError;
use shopdb_core::http::{JsonBody, query_pairs};
use shopdb_core::plugin::PluginContext;
use shopdb_core::serde_json::{Value, json};
use shopdb_core::state::AppState;

use crate::nearest::{self, LocationTree};
use crate::zabbix::{ZabbixService, low_supply_percent};
use crate::{PLUGIN, levels, store};

const VIEWER: Access = Access::Role(Role::Viewer);

/// Largest and default number of printers `nearest` lists.
const MAX_NEAREST: i64 = 200;
const DEFAULT_NEAREST: i64 = 10;

pub fn supplies_route() -> Route {
    Route::new(
        Method::GET,
        "/api/printers/{id}/supplies",
        VIEWER,
        PLUGIN,
        "Toner, ink and drum levels and device status of a printer from Zabbix; when Zabbix \
         cannot answer, 200 with status notconfigured, misconfigured, unreachable or error and a message",
        get(supplies),
    )
    .response(json!({"type": "object", "properties": {
        "assetid": {"type": "integer"}, "hostname": {"type": "string"}, "zabbixhost": {"type": "string"},
        "status": {"type": "string", "enum": ["ok", "nodata", "notconfigured", "misconfigured", "unreachable", "error"]},
        "message": {"type": "string", "nullable": true}, "checkedat": {"type": "string"},
        "lowsupplypercent": {"type": "integer"},
        "supplies": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "key": {"type": "string"}, "level": {"type": "number"},
            "low": {"type": "boolean"}, "updated": {"type": "string", "nullable": true},
            "readat": {"type": "string"}, "source": {"type": "string", "enum": ["zabbix", "reported"]}}}},
        "stored": {"type": "boolean"},
        "device": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "key": {"type": "string"}, "value": {"type": "string"},
            "updated": {"type": "string", "nullable": true}}}}}}))
}

pub fn report_supplies_route() -> Route {
    Route::new(
        Method::PUT,
        "/api/printers/{id}/supplies",
        Access::Role(Role::Editor),
        PLUGIN,
        "Store a printer's supply levels read by a script (SNMP, the printer's web page): they \
         replace what is stored and are shown while Zabbix cannot answer",
        put(report_supplies),
    )
    .request(json!({"type": "object", "required": ["supplies"], "additionalProperties": false,
        "properties": {"supplies": {"type": "array", "maxItems": levels::MAX_SUPPLIES, "items": {
            "type": "object", "required": ["name", "level"], "additionalProperties": false,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S"},
                "level": {"type": "number", "minimum": 0, "maximum": 100},
                "key": {"type": "string", "minLength": 1, "maxLength": 150, "pattern": "\\S",
                        "description": "tells two supplies apart; the name in lower case when left out"}}}}}}))
    .response(json!({"type": "array", "items": {"type": "object", "properties": {
        "name": {"type": "string"}, "key": {"type": "string"}, "level": {"type": "number"},
        "low": {"type": "boolean"}, "readat": {"type": "string"}, "source": {"type": "string"}}}}))
}

pub fn legacy_route() -> Route {
    Route::new(
        Method::GET,
        "/api/printers/legacy",
        VIEWER,
        PLUGIN,
        "Every printer for print-mapping scripts, not paged: name, IP, driver, queue, print \
         server, location (locationid or location=<name>, sub-locations included)",
        get(legacy),
    )
    .response(json!({"type": "array", "items": {"type": "object", "properties": {
        "assetid": {"type": "integer"}, "assetnumber": {"type": "string"}, "printername": {"type": "string"},
        "hostname": {"type": "string"}, "ipaddress": {"type": "string", "nullable": true},
        "printserver": {"type": "string", "nullable": true}, "queuename": {"type": "string", "nullable": true},
        "uncpath": {"type": "string", "nullable": true}, "driver": {"type": "string", "nullable": true},
        "printermodel": {"type": "string", "nullable": true}, "color": {"type": "boolean"}, "duplex": {"type": "boolean"},
        "locationid": {"type": "integer", "nullable": true}, "location": {"type": "string", "nullable": true},
        "status": {"type": "string", "nullable": true}}}}))
}

pub fn nearest_route() -> Route {
    Route::new(
        Method::GET,
        "/api/printers/nearest",
        VIEWER,
        PLUGIN,
        "Printers nearest a PC (hostname=, limit=) on its floor map, nearest first, with distance \
         and positionsource; needs the computers plugin",
        get(nearest),
    )
    .query(
        "hostname",
        json!({"type": "string", "minLength": 1, "pattern": shopdb_core::resource::NONBLANK_PATTERN}),
        true,
        "the PC's hostname",
    )
    .query(
        "limit",
        json!({"type": "integer", "minimum": 1, "maximum": MAX_NEAREST}),
        false,
        "how many printers",
    )
    .fails_with(422)
}

fn context(state: &AppState) -> ApiResult<PluginContext> {
    state
        .plugin_context(PLUGIN)
        .ok_or_else(|| DomainError::internal("the printers plugin is not loaded").into())
}

/// GET /api/printers/{id}/supplies
async fn supplies(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let ctx = context(&state)?;
    let (printer, report) = ZabbixService
        .printer_report(&ctx, id)
        .await?
        .ok_or_else(|| DomainError::not_found(format!("no printer with assetid {id}")))?;
    let mut data = json!(report);
    data["assetid"] = json!(printer.assetid);
    data["hostname"] = json!(printer.hostname);
    Ok(ok(data))
}

/// PUT /api/printers/{id}/supplies
async fn report_supplies(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    store::find_printer_host(&state.db, id)
        .await?
        .ok_or_else(|| DomainError::not_found(format!("no printer with assetid {id}")))?;
    let report: Vec<_> = levels::parse_report(&body)
        .map_err(DomainError::validation)?
        .into_iter()
        .map(|level| (level, None))
        .collect();
    levels::save(&state.db, id, &report, levels::REPORTED).await?;
    let threshold = low_supply_percent(&context(&state)?).await?;
    Ok(ok(json!(levels::load(&state.db, id, threshold).await?)))
}

/// GET /api/printers/legacy[?locationid=N | ?location=NAME]
async fn legacy(State(state): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let mut locationid = None;
    let mut location = None;
    for (key, value) in query_pairs(q.as_deref()) {
        match key.as_str() {
            "locationid" => locationid = Some(parse_id(&value).map_err(|_| {
                DomainError::bad_request(format!(
                    "locationid must be a location's id (a positive whole number), got '{value}'"
                ))
            })?),
            "location" => location = Some(value.trim().to_string()),
            other => {
                return Err(DomainError::bad_request(format!(
                    "unknown parameter '{other}': filter with locationid=<id> or location=<name>"
                ))
                .into());
            }
        }
    }
    let tree = LocationTree::new(store::list_locations(&state.db).await?);
    let within = match (locationid, location) {
        (Some(_), Some(_)) => {
            return Err(DomainError::bad_request("give locationid or location, not both").into());
        }
        (Some(id), None) if !tree.contains(id) => {
            return Err(DomainError::not_found(format!("no location with id {id}")).into());
        }
        (Some(id), None) => Some(tree.with_descendants(&[id])),
        (None, Some(name)) => {
            let named = tree.named(&name);
            if named.is_empty() {
                return Err(DomainError::not_found(format!("no location named '{name}'")).into());
            }
            Some(tree.with_descendants(&named))
        }
        (None, None) => None,
    };
    let mut rows = store::list_mapping_rows(&state.db, within.as_deref()).await?;
    // Sorted here, not in SQL: the backends order NULLs and case differently.
    rows.sort_by_cached_key(|r| {
        (
            r.location.is_none(),
            r.location.as_deref().map(str::to_lowercase),
            r.name.as_deref().unwrap_or(&r.hostname).to_lowercase(),
            r.hostname.clone(),
        )
    });
    Ok(ok(Value::Array(
        rows.iter().map(nearest::mapping_json).collect(),
    )))
}

/// GET /api/printers/nearest?hostname=PC[&limit=N]
async fn nearest(State(state): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let mut hostname = None;
    let mut limit = DEFAULT_NEAREST;
    for (key, value) in query_pairs(q.as_deref()) {
        match key.as_str() {
            "hostname" => hostname = Some(value.trim().to_string()).filter(|h| !h.is_empty()),
            "limit" => {
                limit = value
                    .parse::<i64>()
                    .ok()
                    .filter(|l| (1..=MAX_NEAREST).contains(l))
                    .ok_or_else(|| {
                        DomainError::bad_request(format!(
                            "limit must be a whole number from 1 to {MAX_NEAREST}, got '{value}'"
                        ))
                    })?
            }
            other => {
                return Err(DomainError::bad_request(format!(
                    "unknown parameter '{other}': use hostname=<PC hostname> and limit=<n>"
                ))
                .into());
            }
        }
    }
    let hostname = hostname.ok_or_else(|| {
        DomainError::field(
            "hostname",
            "is required: the PC's hostname, e.g. ?hostname=WJ-LATHE-4471",
        )
    })?;
    let computers_enabled = state
        .enabled_plugins()
        .await
        .iter()
        .any(|p| p.manifest.name == "computers");
    if !computers_enabled {
        return Err(DomainError::field(
            "hostname",
            "finding a PC by hostname needs the computers plugin, which is not installed or not \
             enabled: POST /api/plugins/computers/install",
        )
        .into());
    }
    let matches = store::find_computers_by_hostname(&state.db, &hostname).await?;
    let Some((pcid, pcname)) = matches
        .iter()
        .find(|(_, h)| *h == hostname)
        .or(matches.first())
        .cloned()
    else {
        return Err(
            DomainError::not_found(format!("no computer with hostname '{hostname}'")).into(),
        );
    };

    let db = &state.db;
    let tree = LocationTree::new(store::list_locations(db).await?);
    let from = {
        let mut conn = db.pool().acquire().await.map_err(DomainError::from)?;
        let locationid = store::asset_locationid(db, &mut conn, pcid).await?;
        nearest::place(db, &mut conn, &tree, pcid, locationid, None).await?
    };
    let Some(from) = from else {
        return Err(DomainError::field(
            "hostname",
            format!(
                "computer {pcname} has no position on the floor map: give it mapx/mapy, relate it \
                 to a placed asset, or place its location"
            ),
        )
        .into());
    };
    let (found, left_out) = nearest::nearest_printers(db, &tree, &from).await?;
    let printers: Vec<Value> = found
        .iter()
        .take(limit as usize)
        .map(|c| {
            let mut v = nearest::mapping_json(&c.printer);
            v["mapx"] = json!(c.placed.mapx);
            v["mapy"] = json!(c.placed.mapy);
            v["positionsource"] = json!(c.placed.positionsource);
            v["distance"] = json!((c.distance * 100.0).round() / 100.0);
            v
        })
        .collect();
    let map = from.maplocationid;
    Ok(ok(json!({
        "computer": {
            "assetid": pcid, "hostname": pcname, "mapx": from.mapx, "mapy": from.mapy,
            "positionsource": from.positionsource,
            "maplocationid": map, "maplocation": map.and_then(|m| tree.name(m)),
        },
        "printers": printers,
        "notonmap": left_out,
    })))
}
