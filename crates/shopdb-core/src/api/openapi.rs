//! The OpenAPI 3 document, generated from the same route list that builds the router, so
//! every route is described by construction; record schemas come from the table
//! descriptions that drive validation (`Resource::schema`).

use axum::http::Method;
use serde_json::{Map, Value, json};

use super::{Access, RouteInfo};

fn envelope(data: Option<&Value>, paged: bool) -> Value {
    let data = data.cloned().unwrap_or_else(|| json!({}));
    let data = if paged {
        json!({"type": "array", "items": data})
    } else {
        data
    };
    let mut props = json!({"success": {"type": "boolean", "enum": [true]}, "data": data});
    let mut required = vec!["success", "data"];
    if paged {
        props["meta"] = json!({"$ref": "#/components/schemas/PageMeta"});
        required.push("meta");
    }
    json!({"type": "object", "properties": props, "required": required})
}

/// An id in a path: a positive whole number (anything else is a 400).
fn id_schema() -> Value {
    json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX})
}

fn operation_id(r: &RouteInfo) -> String {
    format!(
        "{}_{}",
        r.method.as_str().to_lowercase(),
        r.path
            .trim_start_matches("/api/")
            .replace(['/', '{', '}'], "_")
    )
}

/// The error answers a route can give, each in the error envelope.
fn error_responses(r: &RouteInfo) -> Vec<(&'static str, &'static str)> {
    let has_path_params = r.path.contains('{');
    let has_body = r.request.is_some() || matches!(r.method, Method::POST | Method::PUT);
    let mut out = Vec::new();
    if has_path_params || has_body || r.paged || !r.query.is_empty() {
        out.push(("400", "BadRequest"));
    }
    if r.access != Access::Public {
        out.push(("401", "Unauthorized"));
        out.push(("403", "Forbidden"));
    }
    if has_path_params || r.plugin.is_some() {
        out.push(("404", "NotFound"));
    }
    if matches!(r.method, Method::POST | Method::PUT | Method::DELETE) {
        out.push(("409", "Conflict"));
    }
    if has_body || r.extra_errors.contains(&422) {
        out.push(("413", "PayloadTooLarge"));
        out.push(("422", "ValidationFailed"));
    }
    if r.path == "/api/auth/login" {
        out.push(("401", "Unauthorized"));
        out.push(("429", "TooManyRequests"));
    }
    if r.extra_errors.contains(&404) && !out.contains(&("404", "NotFound")) {
        out.push(("404", "NotFound"));
    }
    if r.extra_errors.contains(&409) && !out.contains(&("409", "Conflict")) {
        out.push(("409", "Conflict"));
    }
    out.push(("500", "ServerError"));
    out
}

pub fn document(routes: &[RouteInfo]) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for r in routes {
        let success = if r.binary.is_empty() {
            json!({"description": "success", "content": {"application/json": {"schema": envelope(r.response.as_ref(), r.paged)}}})
        } else {
            let content: Map<String, Value> = r
                .binary
                .iter()
                .map(|t| {
                    // A JSON document served as itself (a JSON Schema) is an object, not bytes.
                    let schema = if t.ends_with("json") {
                        json!({"type": "object"})
                    } else {
                        json!({"type": "string", "format": "binary"})
                    };
                    (t.clone(), json!({"schema": schema}))
                })
                .collect();
            json!({"description": "success", "content": content})
        };
        let mut responses = Map::new();
        let creates =
            r.method == Method::POST && r.request.is_some() && r.path != "/api/auth/login";
        if creates {
            responses.insert("201".into(), success.clone());
        }
        responses.insert("200".into(), success);
        for (status, name) in error_responses(r) {
            responses.insert(
                status.into(),
                json!({"$ref": format!("#/components/responses/{name}")}),
            );
        }
        if let Some(key) = &r.creates {
            let links = item_links(routes, r, key);
            if !links.is_empty() {
                responses["201"]["links"] = Value::Object(links);
            }
        }
        let mut op = json!({
            "summary": r.summary,
            "tags": [r.tag],
            "operationId": operation_id(r),
            "responses": responses,
        });
        let mut params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                let schema = r
                    .path_params
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, s)| s.clone())
                    .unwrap_or_else(|| {
                        if name == "id" {
                            id_schema()
                        } else {
                            json!({"type": "string", "minLength": 1})
                        }
                    });
                json!({"name": name, "in": "path", "required": true, "schema": schema})
            })
            .collect();
        if r.paged {
            params.push(json!({"name": "page", "in": "query", "required": false,
                "schema": {"type": "integer", "minimum": 1, "maximum": crate::http::MAX_PAGE},
                "description": "page number, from 1"}));
            params.push(json!({"name": "per_page", "in": "query", "required": false,
                "schema": {"type": "integer", "minimum": 1, "maximum": crate::http::MAX_PER_PAGE},
                "description": "records per page (default 50)"}));
        }
        params.extend(r.query.iter().cloned());
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if let Some(schema) = &r.request {
            let media = if r.multipart {
                "multipart/form-data"
            } else {
                "application/json"
            };
            op["requestBody"] = json!({"required": true, "content": {media: {"schema": schema}}});
        }
        match r.access {
            Access::Public => op["security"] = json!([]),
            Access::Role(role) => {
                op["description"] = json!(format!("Requires the {role} role (or higher)."));
            }
            Access::Collector(role) => {
                op["description"] = json!(format!(
                    "Requires this plugin's collector token, or the {role} role (or higher)."
                ));
            }
        }
        paths
            .entry(r.path.clone())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|m| m.insert(r.method.as_str().to_lowercase(), op));
    }
    let error = |description: &str| json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    json!({
        "openapi": "3.0.3",
        "info": {"title": "ShopDB API", "version": env!("CARGO_PKG_VERSION"), "description": "Shop-floor asset database"},
        "paths": paths,
        "security": [{"bearer": []}, {"cookie": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE,
                    "description": "the login cookie; named __Host-shopdb_session when the server runs with COOKIE_SECURE"},
            },
            "responses": {
                "BadRequest": error("malformed request: not JSON, a bad id, page or sort, an unknown parameter"),
                "Unauthorized": error("not logged in, or the token is unknown, revoked or expired"),
                "Forbidden": error("the caller's role (or a collector token) may not do this, or a cookie write lacks X-CSRF-Token"),
                "NotFound": error("no such record, or the route's plugin is not enabled"),
                "Conflict": error("a stale version, a record still in use, or a state that does not allow this"),
                "PayloadTooLarge": error("the body is over the limit (1 MiB; floor plans 10 MiB)"),
                "ValidationFailed": error("invalid fields, each named in details; also a reference to a record that does not exist or a value another record holds"),
                "TooManyRequests": error("too many failed logins for this user: wait"),
                "ServerError": error("the server failed; the answer carries no internals"),
            },
            "schemas": {
                "PageMeta": {"type": "object", "required": ["page", "per_page", "total", "pages"], "properties": {
                    "page": {"type": "integer"}, "per_page": {"type": "integer"},
                    "total": {"type": "integer"}, "pages": {"type": "integer"}}},
                "Error": {"type": "object", "required": ["success", "error"], "properties": {
                    "success": {"type": "boolean", "enum": [false]},
                    "error": {"type": "object", "properties": {
                        "code": {"type": "string"}, "message": {"type": "string"}, "details": {"nullable": true}},
                        "required": ["code", "message"]}}},
            },
        },
    })
}

/// Links from a create route to the routes of the record it made (`{path}/{id}`) and to the
/// routes below it that need nothing else (`{path}/{id}/supplies`, `{path}/{id}/checkin`), so
/// a stateful client can go create → read → update → delete and use what hangs off a record.
fn item_links(routes: &[RouteInfo], create: &RouteInfo, key: &str) -> Map<String, Value> {
    let item = format!("{}/{{id}}", create.path);
    let id = format!("$response.body#/data/{key}");
    let mut links = Map::new();
    for r in routes.iter() {
        let below = r
            .path
            .strip_prefix(&format!("{item}/"))
            .filter(|rest| !rest.contains('{') && !rest.contains('/'));
        let name = match (r.path == item, below, &r.method) {
            (true, _, &Method::GET) => "GetCreated".to_string(),
            (true, _, &Method::PUT) => "UpdateCreated".to_string(),
            (true, _, &Method::DELETE) => "DeleteCreated".to_string(),
            (false, Some(rest), method) => {
                let verb = match *method {
                    Method::GET => "Get",
                    Method::PUT => "Put",
                    Method::POST => "Post",
                    Method::DELETE => "Delete",
                    _ => continue,
                };
                let mut word: Vec<char> =
                    rest.chars().filter(char::is_ascii_alphanumeric).collect();
                if let Some(first) = word.first_mut() {
                    *first = first.to_ascii_uppercase();
                }
                format!("{verb}Created{}", word.into_iter().collect::<String>())
            }
            _ => continue,
        };
        let mut link = json!({"operationId": operation_id(r), "parameters": {"id": id}});
        if r.path == item && r.method == Method::PUT && create.versioned {
            link["requestBody"] = json!({"version": "$response.body#/data/version"});
        }
        links.insert(name, link);
    }
    links
}
