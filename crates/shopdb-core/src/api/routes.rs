//! Every route of the core API in one list: method, path, who may call it, handler.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::Method;
use axum::routing::{delete, get, post, put};
use serde_json::{Value, json};

use super::{Access, Route, admin, assets, auth, crud, plugins, system, transfer};
use crate::auth::{Actor, Role};
use crate::http::JsonBody;
use crate::resource::{NONBLANK_PATTERN, Resource, SchemaMode};
use crate::state::AppState;

const VIEWER: Access = Access::Role(Role::Viewer);
const EDITOR: Access = Access::Role(Role::Editor);
const ADMIN: Access = Access::Role(Role::Admin);

/// List, create, fetch, update and delete for one resource.
pub fn crud_routes(res: &Arc<Resource>) -> Vec<Route> {
    let base = format!("/api/{}", res.path);
    let item = format!("{base}/{{id}}");
    let write = Access::Role(res.write_role);
    let tag = res.path.as_str();
    let e = res.entity.as_str();
    let a = if e.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    let (r1, r2, r3, r4, r5) = (
        res.clone(),
        res.clone(),
        res.clone(),
        res.clone(),
        res.clone(),
    );
    vec![
        Route::new(
            Method::GET,
            &base,
            VIEWER,
            tag,
            &format!("List {}", res.path),
            get(move |State(s): State<AppState>, RawQuery(q): RawQuery| {
                crud::list(r1.clone(), s, q)
            }),
        )
        .response(res.json_schema(false))
        .paged()
        .sorted_by(&res.sortable(), &res.default_sort),
        Route::new(
            Method::POST,
            &base,
            write,
            tag,
            &format!("Create {a} {e}"),
            post(
                move |State(s): State<AppState>, a: Actor, JsonBody(b): JsonBody| {
                    crud::create(r2.clone(), s, a, b)
                },
            ),
        )
        .request(res.json_schema(true))
        .response(res.json_schema(false))
        .creates(res.key(), res.versioned),
        Route::new(
            Method::GET,
            &item,
            VIEWER,
            tag,
            &format!("Fetch one {e}"),
            get(move |State(s): State<AppState>, Path(id): Path<String>| {
                crud::get(r3.clone(), s, id)
            }),
        )
        .response(res.json_schema(false)),
        Route::new(
            Method::PUT,
            &item,
            write,
            tag,
            &format!("Change {a} {e} (fields not sent keep their values)"),
            put(
                move |State(s): State<AppState>,
                      a: Actor,
                      Path(id): Path<String>,
                      JsonBody(b): JsonBody| crud::update(r4.clone(), s, a, id, b),
            ),
        )
        .request(res.schema(SchemaMode::Update))
        .response(res.json_schema(false)),
        Route::new(
            Method::DELETE,
            &item,
            write,
            tag,
            &format!("Delete {a} {e}"),
            delete(
                move |State(s): State<AppState>, a: Actor, Path(id): Path<String>| {
                    crud::delete(r5.clone(), s, a, id)
                },
            ),
        )
        .response(json!({"type": "object", "properties": {"deleted": {"type": "integer"}}})),
    ]
    .into_iter()
    .chain(transfer_routes(res))
    .collect()
}

/// Import into and export from one resource.
pub fn transfer_routes(res: &Arc<Resource>) -> Vec<Route> {
    let (r1, r2) = (res.clone(), res.clone());
    let path = &res.path;
    let yes_no = json!({"type": "string", "enum": ["true", "false"]});
    let form = json!({"type": "object", "required": ["file", "key"], "additionalProperties": false, "properties": {
        "file": {"type": "string", "format": "binary", "description": "CSV (UTF-8 or Windows-1252; comma, semicolon or tab separated) or .xlsx, with a header row"},
        "key": {"type": "string", "minLength": 1, "pattern": NONBLANK_PATTERN, "description": "the field rows are matched by"},
        "dryrun": yes_no, "createmissing": yes_no, "allornothing": yes_no,
        "mapping": {"type": "string", "description": "a saved column mapping: {\"columns\": {\"header\": \"field\"}}"}}});
    vec![
        Route::new(
            Method::POST,
            &format!("/api/import/{path}"),
            Access::Role(res.write_role),
            "import",
            &format!("Import a CSV or .xlsx file into {path}: per row create, update, unchanged or error (dryrun=true changes nothing)"),
            post(
                move |State(s): State<AppState>, a: Actor, RawQuery(q): RawQuery, form| {
                    transfer::import(r1.clone(), s, a, q, form)
                },
            )
            .layer(axum::extract::DefaultBodyLimit::max(crate::http::IMPORT_UPLOAD_LIMIT)),
        )
        .multipart(form)
        .response(transfer::report_schema()),
        Route::new(
            Method::GET,
            &format!("/api/export/{path}"),
            VIEWER,
            "export",
            &format!("Export the {path} list (with the list's filters) as CSV or .xlsx"),
            get(move |State(s): State<AppState>, RawQuery(q): RawQuery| {
                transfer::export(r2.clone(), s, q)
            }),
        )
        .query("format", json!({"type": "string", "enum": ["csv", "xlsx"]}), false, "csv (default) or xlsx")
        .fails_with(422)
        .binary(&["text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]),
    ]
}

/// A user name as the API takes it: what `users::create_user` accepts, without surrounding
/// white space.
pub const USERNAME_PATTERN: &str = "^[A-Za-z0-9._@-]{1,100}$";

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Documents the plugins the server knows (`names`) where a core route takes one: the
/// plugin routes' `{name}` and a token's `plugin`. Called once the plugins are loaded.
pub fn name_plugins(routes: &mut [Route], names: &[String]) {
    let values: Vec<Value> = names.iter().map(|n| json!(n)).collect();
    for r in routes.iter_mut() {
        match (r.info.method.as_str(), r.info.path.as_str()) {
            ("POST", "/api/plugins/{name}/{action}") => {
                r.info.path_params.push((
                    "name".into(),
                    json!({"type": "string", "enum": values.clone()}),
                ));
            }
            ("POST", "/api/tokens") => {
                let mut with_null = values.clone();
                with_null.push(Value::Null);
                if let Some(p) = r
                    .info
                    .request
                    .as_mut()
                    .and_then(|s| s.pointer_mut("/properties/plugin"))
                {
                    p["enum"] = Value::Array(with_null);
                }
            }
            _ => {}
        }
    }
}

/// Every core route. Plugins add theirs to this list at start-up.
pub fn core_routes(resources: &[Arc<Resource>]) -> Vec<Route> {
    let role = json!({"type": "string", "enum": ["viewer", "editor", "admin"]});
    let password = json!({"type": "string", "format": "password", "minLength": 10, "maxLength": 1024, "pattern": NONBLANK_PATTERN});
    let nonblank = json!({"type": "string", "minLength": 1, "pattern": NONBLANK_PATTERN});
    let credentials = json!({"type": "object", "required": ["username", "password"], "properties": {
        "username": nonblank, "password": {"type": "string", "minLength": 1, "format": "password"}}});
    let mut routes = vec![
        Route::new(Method::GET, "/api/health", Access::Public, "system", "200 when the database answers", get(system::health)),
        Route::new(Method::GET, "/api/openapi.json", Access::Public, "system", "This document", get(system::openapi)),
        Route::new(Method::POST, "/api/auth/login", Access::Public, "auth", "Log in: token in data and an HttpOnly cookie", post(auth::login))
            .request(credentials),
        Route::new(Method::POST, "/api/auth/logout", VIEWER, "auth", "Log out: the token stops working everywhere", post(auth::logout)),
        Route::new(Method::GET, "/api/auth/me", VIEWER, "auth", "Who the caller is", get(auth::me)),
        Route::new(Method::GET, "/api/search", VIEWER, "search", "Search assets and plugin records (q, page, per_page)", get(system::search))
            .query("q", json!({"type": "string", "minLength": 1, "maxLength": 100, "pattern": NONBLANK_PATTERN}), true, "the text to search for")
            .query("page", json!({"type": "integer", "minimum": 1, "maximum": 100_000}), false, "page number, from 1")
            .query("per_page", json!({"type": "integer", "minimum": 1, "maximum": 100}), false, "results per page (default 20)")
            .query("limit", json!({"type": "integer", "minimum": 1, "maximum": 100}), false, "the same as per_page")
            .response(json!({"type": "array", "items": {"type": "object", "properties": {
                "type": {"type": "string"}, "id": {"type": "integer"}, "title": {"type": "string"},
                "subtitle": {"type": "string", "nullable": true}, "url": {"type": "string"}}}})),
        Route::new(Method::GET, "/api/assets/{id}/relationships", VIEWER, "assets", "Relationships of an asset both ways (direction outgoing or incoming), with the other asset", get(assets::relationships)),
        Route::new(Method::GET, "/api/assets/{id}/history", VIEWER, "assets", "Audit entries of an asset, newest first", get(assets::history))
            .paged(),
        Route::new(Method::GET, "/api/assets/{id}/position", VIEWER, "assets", "Resolved map position: own, related asset's or location's", get(assets::position))
            .response(json!({"type": "object", "properties": {
                "mapx": {"type": "number", "nullable": true}, "mapy": {"type": "number", "nullable": true},
                "positionsource": {"type": "string", "nullable": true, "enum": ["self", "related", "location", null]}}})),
        Route::new(Method::PUT, "/api/locations/{id}/floorplan", EDITOR, "locations", "Upload a floor-plan image (PNG, JPEG or WebP body, at most 10 MiB)", put(assets::put_floorplan)),
        Route::new(Method::GET, "/api/locations/{id}/floorplan", VIEWER, "locations", "The floor-plan image of a location", get(assets::get_floorplan))
            .binary(&["image/png", "image/jpeg", "image/webp", "image/svg+xml"]),
        Route::new(Method::DELETE, "/api/locations/{id}/floorplan", EDITOR, "locations", "Remove a location's floor plan", delete(assets::delete_floorplan)),
        Route::new(Method::GET, "/api/plugins", VIEWER, "plugins", "Every plugin with its state (available, enabled, disabled, quarantined) and reason", get(plugins::list)),
        Route::new(Method::GET, "/api/plugins/model.schema.json", Access::Public, "plugins", "JSON Schema of a folder plugin's model.toml (for editors)", get(plugins::model_schema))
            .binary(&["application/schema+json"]),
        Route::new(Method::POST, "/api/plugins/upload", ADMIN, "plugins", "Install a packed folder plugin (the body is the file `shopdb plugin pack` writes, at most 1 MiB)", post(plugins::upload))
            .fails_with(413),
        Route::new(Method::POST, "/api/plugins/{name}/{action}", ADMIN, "plugins", "install, enable, disable or uninstall (?keep_data=true) a plugin", post(plugins::action))
            .path_param("action", json!({"type": "string", "enum": ["install", "enable", "disable", "uninstall"]}))
            .query("keep_data", json!({"type": "boolean"}), false, "uninstall: keep the plugin's tables"),
        Route::new(Method::GET, "/api/navigation", VIEWER, "plugins", "Navigation items of enabled plugins", get(plugins::navigation)),
        Route::new(Method::GET, "/api/dashboard", VIEWER, "plugins", "Dashboard widgets of enabled plugins with their data", get(plugins::dashboard)),
        Route::new(Method::GET, "/api/settings", ADMIN, "admin", "Every plugin setting: type, default, current value, help", get(plugins::settings)),
        Route::new(Method::PUT, "/api/settings/{plugin}/{key}", ADMIN, "admin", "Change a plugin setting: {\"value\": …} of its declared type", put(plugins::put_setting))
            .request(json!({"type": "object", "required": ["value"], "additionalProperties": false, "properties": {"value": {"nullable": true}}})),
        Route::new(Method::GET, "/api/users", ADMIN, "admin", "List users", get(admin::users))
            .paged()
            .sorted_by(&strings(admin::USER_SORTS), "username"),
        Route::new(Method::POST, "/api/users", ADMIN, "admin", "Create a user", post(admin::create_user_route))
            .request(json!({"type": "object", "required": ["username", "role", "password"], "additionalProperties": false, "properties": {
                "username": {"type": "string", "pattern": USERNAME_PATTERN, "description": "letters, digits and . _ - @; stored in lower case"},
                "role": role, "password": password}})),
        Route::new(Method::PUT, "/api/users/{id}", ADMIN, "admin", "Change a user's role, name, password or active flag", put(admin::update_user_route))
            .request(json!({"type": "object", "additionalProperties": false, "properties": {
                "displayname": {"type": "string", "nullable": true, "maxLength": 200}, "role": role,
                "isactive": {"type": "boolean"}, "password": password}})),
        Route::new(Method::GET, "/api/tokens", ADMIN, "admin", "List API tokens (never their secrets)", get(admin::tokens))
            .paged()
            .sorted_by(&strings(admin::TOKEN_SORTS), "tokenid"),
        Route::new(Method::POST, "/api/tokens", ADMIN, "admin", "Create an API token; the secret is shown once", post(admin::create_token_route))
            .request(json!({"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": NONBLANK_PATTERN}, "role": role,
                "plugin": {"type": "string", "nullable": true, "description": "makes it a collector token for this plugin"}}})),
        Route::new(Method::DELETE, "/api/tokens/{id}", ADMIN, "admin", "Revoke an API token", delete(admin::revoke_token_route)),
        Route::new(Method::GET, "/api/audit", ADMIN, "admin", "Audit log, newest first (entitytype, entityid, actorname, action)", get(admin::audit_log))
            .paged()
            .query("entitytype", json!({"type": "string"}), false, "asset, location, user, apitoken, a plugin's entity …")
            .query("entityid", json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX}), false, "the record's id")
            .query("actorname", json!({"type": "string"}), false, "who made the change")
            .query("action", json!({"type": "string", "enum": ["created", "updated", "deleted"]}), false, "what was done"),
    ];
    for res in resources {
        routes.extend(crud_routes(res));
    }
    routes
}

/// The collector routes of a plugin that declares a collector schema (`record`, as
/// `collector::json_schema` gives it).
pub fn collector_routes(plugin: &str, record: &crate::plugin::CollectorSchema) -> Vec<Route> {
    // Any object is taken: each record is answered created, updated, unchanged or rejected
    // (with why), so the body's schema is what the records are checked against, not a gate.
    let mut each = crate::collector::json_schema(plugin, record);
    if let Some(m) = each.as_object_mut() {
        m.remove("$schema");
    }
    let body = json!({"type": "object", "description": format!(
        "one {plugin} record, or {{\"records\": [...]}} with up to {} of them; each is answered on its own (GET /api/collector/{plugin}/schema gives the record schema)",
        crate::collector::MAX_BATCH), "x-records": each});
    let (p1, p2) = (plugin.to_string(), plugin.to_string());
    vec![
        Route::new(
            Method::POST,
            &format!("/api/collector/{plugin}"),
            Access::Collector(Role::Editor),
            "collector",
            &format!("Push one {plugin} record or {{\"records\": [...]}}; answers per record"),
            post(
                move |State(s): State<AppState>, a: Actor, b: crate::http::RawJson| {
                    plugins::collect(s, p1.clone(), a, b)
                },
            ),
        )
        .request(body),
        Route::new(
            Method::GET,
            &format!("/api/collector/{plugin}/schema"),
            Access::Collector(Role::Viewer),
            "collector",
            &format!("JSON Schema of what the {plugin} collector accepts"),
            get(move |State(s): State<AppState>| plugins::collector_schema(s, p2.clone())),
        ),
    ]
}
