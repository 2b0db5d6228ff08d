//! The HTTP API. `routes.rs` lists every route with who may call it; this module turns that
//! list into an axum router with authentication, role checks, CSRF and the error envelope.

pub mod access;
pub mod admin;
mod assets;
mod auth;
mod crud;
pub mod openapi;
pub mod plugins;
pub mod routes;
mod system;
mod transfer;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use serde_json::Value;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use access::{Access, RouteInfo};

use crate::auth::session::authenticate_cached;
use crate::auth::{Actor, Role, check_csrf};
use crate::error::DomainError;
use crate::http::BODY_LIMIT;
use crate::state::AppState;

/// A route with its handler.
pub struct Route {
    pub info: RouteInfo,
    pub handler: MethodRouter<AppState>,
}

impl Route {
    pub fn new(
        method: Method,
        path: &str,
        access: Access,
        tag: &str,
        summary: &str,
        handler: MethodRouter<AppState>,
    ) -> Route {
        Route {
            info: RouteInfo {
                method,
                path: path.to_string(),
                summary: summary.to_string(),
                tag: tag.to_string(),
                access,
                request: None,
                response: None,
                paged: false,
                path_params: Vec::new(),
                query: Vec::new(),
                creates: None,
                versioned: false,
                extra_errors: Vec::new(),
                binary: Vec::new(),
                plugin: None,
                multipart: false,
            },
            handler,
        }
    }

    pub fn request(mut self, schema: Value) -> Route {
        self.info.request = Some(schema);
        self
    }

    /// Documents a `multipart/form-data` body (a file upload) with the parts in `schema`.
    pub fn multipart(mut self, schema: Value) -> Route {
        self.info.request = Some(schema);
        self.info.multipart = true;
        self
    }

    pub fn response(mut self, schema: Value) -> Route {
        self.info.response = Some(schema);
        self
    }

    pub fn paged(mut self) -> Route {
        self.info.paged = true;
        self
    }

    /// Documents a binary answer of one of `types` (instead of the JSON envelope).
    pub fn binary(mut self, types: &[&str]) -> Route {
        self.info.binary = types.iter().map(|t| t.to_string()).collect();
        self
    }

    /// Documents an error status the route can answer with beyond those its shape implies.
    pub fn fails_with(mut self, status: u16) -> Route {
        self.info.extra_errors.push(status);
        self
    }

    /// Documents what a path parameter takes.
    pub fn path_param(mut self, name: &str, schema: Value) -> Route {
        self.info.path_params.push((name.to_string(), schema));
        self
    }

    /// Documents a query parameter the route takes.
    pub fn query(mut self, name: &str, schema: Value, required: bool, description: &str) -> Route {
        self.info.query.push(serde_json::json!({
            "name": name, "in": "query", "required": required, "schema": schema,
            "description": description,
        }));
        self
    }

    /// Documents `sort` (one of `fields`, `-` before one for descending) and `q`.
    pub fn sorted_by(self, fields: &[String], default: &str) -> Route {
        // An empty sort is the default order.
        let mut values: Vec<Value> = vec![Value::String(String::new())];
        for f in fields {
            values.push(Value::String(f.clone()));
            values.push(Value::String(format!("-{f}")));
        }
        self.query(
            "sort",
            serde_json::json!({"type": "string", "enum": values}),
            false,
            &format!("field to sort by, - before it for descending (default {default})"),
        )
        .query(
            "q",
            serde_json::json!({"type": "string"}),
            false,
            "text filter: records containing it, ignoring case",
        )
    }

    /// Marks a create route whose answer holds the new record's id in `key`.
    pub fn creates(mut self, key: &str, versioned: bool) -> Route {
        self.info.creates = Some(key.to_string());
        self.info.versioned = versioned;
        self
    }

    pub fn plugin(mut self, name: &str) -> Route {
        self.info.plugin = Some(name.to_string());
        self
    }
}

/// Builds the router for `routes`; `state.access` must describe the same routes.
pub fn router(state: AppState, routes: Vec<Route>) -> Router {
    let mut app: Router<AppState> = Router::new();
    for route in routes {
        app = app.route(&route.info.path, route.handler);
    }
    // Unknown API paths answer in the envelope; everything outside /api is left to whatever
    // router this one is merged with (the web pages).
    let mut app = app
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        .route(
            "/api/{*rest}",
            axum::routing::any(|| async { DomainError::not_found("no such route") }),
        )
        .route(
            "/api",
            axum::routing::any(|| async { DomainError::not_found("no such route") }),
        )
        .method_not_allowed_fallback(|| async {
            DomainError::new(
                crate::error::ErrorKind::MethodNotAllowed,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(log_request))
        .layer(CatchPanicLayer::custom(|_| {
            DomainError::internal("handler panicked").into_response()
        }));
    if !state.config.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> = state
            .config
            .cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        app = app.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_credentials(true)
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
                .allow_headers([
                    axum::http::header::CONTENT_TYPE,
                    axum::http::header::AUTHORIZATION,
                    axum::http::HeaderName::from_static(crate::auth::CSRF_HEADER),
                ]),
        );
    }
    app.with_state(state)
}

/// Authenticates the caller and enforces the route's role; puts the `Actor` in the request.
async fn authorize(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let (access, plugin) = state
        .access
        .get(&(req.method().clone(), path))
        .cloned()
        .unwrap_or((Access::Role(Role::Admin), None));
    if let Some(plugin) = &plugin
        && !state.plugin_enabled(plugin).await
    {
        return DomainError::not_found(format!("no such route: plugin {plugin} is not enabled"))
            .into_response();
    }
    let actor = match authenticate_cached(
        &state.db,
        &state.signing_key,
        req.headers(),
        &state.verified,
        state.config.cookie_secure,
    )
    .await
    {
        Ok(actor) => actor,
        Err(_) if access == Access::Public => None,
        Err(e) => return e.into_response(),
    };
    if access != Access::Public {
        let Some(actor) = &actor else {
            return DomainError::unauthorized(
                "log in or send an API token (Authorization: Bearer …)",
            )
            .into_response();
        };
        let min = match access {
            Access::Role(min) | Access::Collector(min) => min,
            Access::Public => Role::Viewer,
        };
        let own_collector = matches!(access, Access::Collector(_))
            && actor.collector_plugin().is_some()
            && actor.collector_plugin() == plugin.as_deref();
        if let Some(token_plugin) = actor.collector_plugin()
            && !own_collector
        {
            return DomainError::forbidden(format!(
                "this is a collector token: it may only post to /api/collector/{token_plugin}"
            ))
            .into_response();
        }
        if actor.role < min && !own_collector {
            return DomainError::forbidden(format!(
                "this needs the {min} role; you are {}",
                actor.role
            ))
            .into_response();
        }
        let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        if writes && let Err(e) = check_csrf(actor, req.headers()) {
            return e.into_response();
        }
    }
    if let Some(actor) = actor {
        req.extensions_mut().insert(actor);
    }
    next.run(req).await
}

async fn log_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = next.run(req).await;
    let status = response.status();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if status.is_server_error() {
        tracing::error!(%method, %path, status = status.as_u16(), ms, "request");
    } else {
        tracing::debug!(%method, %path, status = status.as_u16(), ms, "request");
    }
    response
}

/// The caller, for routes that require one.
impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = DomainError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Actor>()
            .cloned()
            .ok_or_else(|| DomainError::unauthorized("log in or send an API token"))
    }
}

/// Parses a numeric id from the path.
pub fn parse_id(raw: &str) -> Result<i64, DomainError> {
    raw.parse::<i64>().ok().filter(|i| *i > 0).ok_or_else(|| {
        DomainError::bad_request(format!(
            "'{raw}' is not a valid id: ids are positive whole numbers"
        ))
    })
}
