//! Page handlers, one module per area. Record pages are generic (records.rs); plugin pages
//! are templates the plugins ship, rendered here with the usual context.

pub mod admin;
pub mod dashboard;
pub mod map;
pub mod records;
pub mod search;
pub mod transfer;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};
use shopdb_core::plugin::Page;

use crate::Web;
use crate::render::{error_page, page_context};
use crate::session::MaybeUser;

/// A page a plugin added: hidden while the plugin is disabled, behind login unless the page
/// is open to all.
pub async fn plugin_page(
    State(web): State<Web>,
    MaybeUser(user): MaybeUser,
    plugin: String,
    page: Page,
) -> Response {
    if !web.app.plugin_enabled(&plugin).await {
        return error_page(
            &web,
            user.as_ref(),
            StatusCode::NOT_FOUND,
            &format!("The {plugin} plugin is not enabled."),
        )
        .await;
    }
    if let Some(min) = page.role {
        let Some(u) = &user else {
            let next: String = url::form_urlencoded::byte_serialize(page.path.as_bytes()).collect();
            return Redirect::to(&format!("/login?next={next}")).into_response();
        };
        if let Err(resp) = u.require(&web, min).await {
            return resp;
        }
    }
    let mut ctx = page_context(&web, user.as_ref(), &page.title).await;
    ctx.insert("page".into(), json!(page));
    ctx.insert("plugin".into(), json!(plugin));
    web.templates.render(&page.template, &Value::Object(ctx))
}
