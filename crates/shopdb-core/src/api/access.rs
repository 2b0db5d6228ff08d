//! What the route list says of a route, as plain data: who may call it (`Access`) and how
//! it is documented (`RouteInfo`). Kept apart from the handlers so the state every handler
//! gets can hold the list without naming the router.

use axum::http::Method;
use serde::Serialize;
use serde_json::Value;

use crate::auth::Role;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Anyone, logged in or not.
    Public,
    /// A logged-in user or API token with at least this role.
    Role(Role),
    /// The route plugin's collector token, or a user or token with at least this role.
    Collector(Role),
}

/// A route as documented: method, path, who may call it, what it takes and gives.
#[derive(Clone, Debug, Serialize)]
pub struct RouteInfo {
    #[serde(serialize_with = "method_str")]
    pub method: Method,
    pub path: String,
    pub summary: String,
    pub tag: String,
    pub access: Access,
    /// JSON schema of the request body, if it takes one.
    pub request: Option<Value>,
    /// JSON schema of `data` in a successful answer.
    pub response: Option<Value>,
    /// Whether the answer is a page with `meta` (and the route takes `page` and `per_page`).
    pub paged: bool,
    /// Schemas of path parameters other than plain text (`{id}` is always a record id).
    pub path_params: Vec<(String, Value)>,
    /// Query parameters beyond `page` and `per_page`, as OpenAPI parameter objects.
    pub query: Vec<Value>,
    /// For a create route: the field of the answer that holds the new record's id, which
    /// the item routes (`{path}/{id}`) take; gives the document its links.
    pub creates: Option<String>,
    /// For a versioned record: its update must carry the `version` read.
    pub versioned: bool,
    /// Media types of a binary answer (a floor-plan image) instead of the JSON envelope.
    pub binary: Vec<String>,
    /// Error statuses the route gives beyond those its shape implies (a 422 for a query
    /// parameter the handler checks, say).
    pub extra_errors: Vec<u16>,
    /// The plugin that contributes the route; it answers 404 while that plugin is disabled.
    pub plugin: Option<String>,
    /// The request body is `multipart/form-data` (a file upload) rather than JSON.
    pub multipart: bool,
}

fn method_str<S: serde::Serializer>(m: &Method, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.as_str())
}
