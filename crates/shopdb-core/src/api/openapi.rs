//! The OpenAPI 3 document, generated from the same route list that builds the router, so
//! every route is described by construction.

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
    if paged {
        props["meta"] = json!({"$ref": "#/components/schemas/PageMeta"});
    }
    json!({"type": "object", "properties": props, "required": ["success", "data"]})
}

pub fn document(routes: &[RouteInfo]) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for r in routes {
        let mut op = json!({
            "summary": r.summary,
            "tags": [r.tag],
            "operationId": format!("{}_{}", r.method.as_str().to_lowercase(), r.path.trim_start_matches("/api/").replace(['/', '{', '}'], "_")),
            "responses": {
                "200": {"description": "success", "content": {"application/json": {"schema": envelope(r.response.as_ref(), r.paged)}}},
                "default": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        });
        if r.method == axum::http::Method::POST
            && r.request.is_some()
            && !r.path.ends_with("/login")
        {
            op["responses"]["201"] = op["responses"]["200"].clone();
        }
        let mut params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if r.paged {
            for (name, schema, desc) in [
                (
                    "page",
                    json!({"type": "integer", "minimum": 1}),
                    "page number, from 1",
                ),
                (
                    "per_page",
                    json!({"type": "integer", "minimum": 1, "maximum": 200}),
                    "records per page (default 50)",
                ),
                (
                    "sort",
                    json!({"type": "string"}),
                    "field to sort by; prefix - for descending",
                ),
                ("q", json!({"type": "string"}), "text filter"),
            ] {
                params.push(json!({"name": name, "in": "query", "required": false, "schema": schema, "description": desc}));
            }
        }
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if let Some(schema) = &r.request {
            op["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": schema}}});
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
    json!({
        "openapi": "3.0.3",
        "info": {"title": "ShopDB API", "version": env!("CARGO_PKG_VERSION"), "description": "Shop-floor asset database"},
        "paths": paths,
        "security": [{"bearer": []}, {"cookie": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE},
            },
            "schemas": {
                "PageMeta": {"type": "object", "properties": {
                    "page": {"type": "integer"}, "per_page": {"type": "integer"},
                    "total": {"type": "integer"}, "pages": {"type": "integer"}}},
                "Error": {"type": "object", "properties": {
                    "success": {"type": "boolean", "enum": [false]},
                    "error": {"type": "object", "properties": {
                        "code": {"type": "string"}, "message": {"type": "string"}, "details": {}},
                        "required": ["code", "message"]}}},
            },
        },
    })
}
