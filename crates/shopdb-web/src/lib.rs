//! The web interface: HTML pages rendered on the server from templates, over the same engine
//! and data as the JSON API. Every page URL is listed in [`router`]; pages of records (assets
//! and every plugin table) come from the resource descriptions, so a new plugin has list,
//! detail and form pages without anyone writing them.

mod form;
mod labels;
mod pages;
mod render;
mod session;
mod viewer;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use shopdb_core::state::AppState;

pub use render::Templates;

/// What every page handler receives.
#[derive(Clone)]
pub struct Web {
    pub app: AppState,
    pub templates: Arc<Templates>,
}

/// Every page of the site. Record pages (`/assets`, `/computers/12/edit`, …) are matched by
/// the fallback against the served resources; plugin pages are added from `Plugin::pages`.
pub fn router(app: AppState) -> Router {
    let templates = Arc::new(Templates::new(&app));
    let web = Web { app, templates };
    let mut router: Router<Web> = Router::new()
        .route("/", get(pages::dashboard::dashboard))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/search", get(pages::search::search))
        .route("/assets.csv", get(pages::transfer::assets_csv))
        .route(
            "/import/{*path}",
            get(pages::transfer::import_form)
                .post(pages::transfer::import_post)
                // The confirmation sends the file back as base64: a third larger.
                .layer(axum::extract::DefaultBodyLimit::max(
                    shopdb_core::http::IMPORT_UPLOAD_LIMIT / 3 * 4 + 1024 * 1024,
                )),
        )
        .route("/export/{*path}", get(pages::transfer::export_file))
        .route("/map", get(pages::map::locations))
        .route("/map/{locationid}", get(pages::map::map))
        .route("/admin/plugins", get(pages::admin::plugins))
        .route(
            "/admin/plugins/{name}/{action}",
            get(pages::admin::confirm_plugin_action).post(pages::admin::plugin_action),
        )
        .route(
            "/admin/users",
            get(pages::admin::users).post(pages::admin::create_user),
        )
        .route("/admin/users/{id}", post(pages::admin::update_user))
        .route(
            "/admin/tokens",
            get(pages::admin::tokens).post(pages::admin::create_token),
        )
        .route(
            "/admin/tokens/{id}/revoke",
            post(pages::admin::revoke_token),
        )
        .route(
            "/admin/settings",
            get(pages::admin::settings).post(pages::admin::save_setting),
        )
        .route("/admin/audit", get(pages::admin::audit))
        .route("/static/{file}", get(static_file))
        .route("/static/{plugin}/{file}", get(plugin_static_file))
        .route(
            "/favicon.ico",
            get(|| async { axum::response::Redirect::permanent("/static/favicon.svg") }),
        );
    for p in &web.app.registry.loaded {
        for page in p.plugin.pages() {
            let plugin = p.manifest.name.clone();
            let path = page.path.clone();
            router = router.route(
                &path,
                get(move |state: State<Web>, user: session::MaybeUser| {
                    pages::plugin_page(state, user, plugin.clone(), page.clone())
                }),
            );
        }
    }
    router.fallback(pages::records::dispatch).with_state(web)
}

const STATIC: &[(&str, &str, &str)] = &[
    (
        "shopdb.css",
        "text/css",
        include_str!("../static/shopdb.css"),
    ),
    (
        "shopdb.js",
        "text/javascript",
        include_str!("../static/shopdb.js"),
    ),
    (
        "map.js",
        "text/javascript",
        include_str!("../static/map.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../static/favicon.svg"),
    ),
];

/// Stylesheet and scripts, compiled into the binary (the site may have no internet).
async fn static_file(Path(file): Path<String>) -> Response {
    match STATIC.iter().find(|(name, _, _)| *name == file) {
        Some((_, mime, body)) => static_answer(mime, body.to_string()),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

/// A plugin's static file (see `Plugin::static_files`), whether or not it is enabled: a
/// script is no secret, and its pages answer 404 while it is off.
async fn plugin_static_file(
    State(web): State<Web>,
    Path((plugin, file)): Path<(String, String)>,
) -> Response {
    let found = web
        .app
        .registry
        .loaded
        .iter()
        .find(|p| p.manifest.name == plugin)
        .and_then(|p| {
            p.plugin
                .static_files()
                .into_iter()
                .find(|(name, _)| *name == file)
        });
    match found {
        Some((name, body)) => {
            let mime = match name.rsplit_once('.').map(|(_, ext)| ext) {
                Some("js") => "text/javascript",
                Some("css") => "text/css",
                Some("svg") => "image/svg+xml",
                _ => "text/plain; charset=utf-8",
            };
            static_answer(mime, body)
        }
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

fn static_answer(mime: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (header::CACHE_CONTROL, "public, max-age=3600".to_string()),
        ],
        body,
    )
        .into_response()
}
