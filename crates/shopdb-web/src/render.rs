//! Templates (compiled in, replaceable by plugins) and the context every page gets.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;
use serde_json::{Map, Value, json};
use shopdb_core::state::AppState;

use crate::Web;
use crate::labels::Labels;
use crate::viewer::PageUser;

/// The core's templates, by name.
const CORE: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("error.html", include_str!("../templates/error.html")),
    (
        "dashboard.html",
        include_str!("../templates/dashboard.html"),
    ),
    ("search.html", include_str!("../templates/search.html")),
    ("list.html", include_str!("../templates/list.html")),
    ("detail.html", include_str!("../templates/detail.html")),
    ("form.html", include_str!("../templates/form.html")),
    ("confirm.html", include_str!("../templates/confirm.html")),
    ("import.html", include_str!("../templates/import.html")),
    ("map.html", include_str!("../templates/map.html")),
    (
        "locations.html",
        include_str!("../templates/locations.html"),
    ),
    (
        "admin/nav.html",
        include_str!("../templates/admin/nav.html"),
    ),
    (
        "admin/plugins.html",
        include_str!("../templates/admin/plugins.html"),
    ),
    (
        "admin/users.html",
        include_str!("../templates/admin/users.html"),
    ),
    (
        "admin/tokens.html",
        include_str!("../templates/admin/tokens.html"),
    ),
    (
        "admin/settings.html",
        include_str!("../templates/admin/settings.html"),
    ),
    (
        "admin/audit.html",
        include_str!("../templates/admin/audit.html"),
    ),
];

pub struct Templates {
    env: Environment<'static>,
    /// Field labels and help texts, from the table descriptions.
    pub labels: Arc<Labels>,
}

impl Templates {
    /// The core templates, then every loaded plugin's (a plugin's template of the same name
    /// replaces the core's). A template that does not parse is logged and skipped.
    pub fn new(app: &AppState) -> Templates {
        let mut env = Environment::new();
        for (name, source) in CORE {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "core template does not parse");
            }
        }
        for p in &app.registry.loaded {
            for (name, source) in p.plugin.templates() {
                if let Err(e) = env.add_template_owned(name.clone(), source) {
                    tracing::error!(plugin = %p.manifest.name, template = %name, error = %e, "plugin template does not parse");
                }
            }
        }
        let labels = Arc::new(Labels::new(&app.tables));
        let filter = labels.clone();
        env.add_filter("label", move |name: &str| filter.label(name));
        Templates { env, labels }
    }

    pub fn has(&self, name: &str) -> bool {
        self.env.get_template(name).is_ok()
    }

    /// Renders `name`; a template error becomes an error page, never a half page.
    pub fn render(&self, name: &str, ctx: &Value) -> Response {
        self.render_status(StatusCode::OK, name, ctx)
    }

    pub fn render_status(&self, status: StatusCode, name: &str, ctx: &Value) -> Response {
        let result = self
            .env
            .get_template(name)
            .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(ctx))));
        match result {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(template = name, error = %format!("{e:#}"), "page failed to render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html("<!doctype html><title>Error</title><h1>This page could not be shown</h1><p>The error has been logged. <a href=\"/\">Back to the dashboard</a></p>".to_string()),
                )
                    .into_response()
            }
        }
    }
}

/// The context every page gets: who is logged in, the navigation, the CSRF token.
pub async fn page_context(web: &Web, user: Option<&PageUser>, title: &str) -> Map<String, Value> {
    let mut ctx = Map::new();
    ctx.insert("title".into(), json!(title));
    if let Some(u) = user {
        let nav = shopdb_core::services::plugins::navigation(&web.app).await;
        ctx.insert("nav".into(), Value::Array(nav));
        ctx.insert(
            "user".into(),
            json!({"name": u.actor.name, "role": u.actor.role, "admin": u.actor.role >= shopdb_core::auth::Role::Admin,
                   "editor": u.actor.role >= shopdb_core::auth::Role::Editor}),
        );
        ctx.insert("csrf".into(), json!(u.csrf));
    }
    ctx
}

/// An error page in the layout.
/// The error page for a failure of the engine or a service: its status and message, and for
/// a server error its cause logged (inside the request's span, so with its id).
pub async fn failure_page(
    web: &Web,
    user: Option<&PageUser>,
    e: &shopdb_core::error::DomainError,
) -> Response {
    if e.kind.is_server() {
        tracing::error!(error = %e, "page failed");
    }
    error_page(
        web,
        user,
        shopdb_core::envelope::status_of(e.kind),
        &e.message,
    )
    .await
}

pub async fn error_page(
    web: &Web,
    user: Option<&PageUser>,
    status: StatusCode,
    message: &str,
) -> Response {
    let mut ctx = page_context(web, user, "Error").await;
    ctx.insert("status".into(), json!(status.as_u16()));
    ctx.insert("message".into(), json!(message));
    web.templates
        .render_status(status, "error.html", &Value::Object(ctx))
}
