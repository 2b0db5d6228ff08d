//! The full search results page (works without JavaScript; the header box shows the same
//! results as you type, from /api/search).

use axum::extract::{OriginalUri, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::Web;
use crate::form::FormData;
use crate::render::page_context;
use crate::session::PageUser;

pub async fn search(
    State(web): State<Web>,
    user: PageUser,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let form = FormData::parse(uri.query().unwrap_or_default().as_bytes());
    let q = form.get("q").unwrap_or_default().trim().to_string();
    let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
    let mut error = None;
    let mut total = 0;
    if !q.is_empty() {
        let hidden = web.app.hidden_plugins().await;
        match shopdb_core::search::search(&web.app.db, &q, 1, 100, &hidden).await {
            Ok(hits) => {
                total = hits.total;
                for hit in hits.results {
                    let kind = hit["type"].as_str().unwrap_or("record").to_string();
                    match groups.iter_mut().find(|(k, _)| *k == kind) {
                        Some((_, list)) => list.push(hit),
                        None => groups.push((kind, vec![hit])),
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "search failed");
                error = Some("The search could not be run; the error has been logged.");
            }
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(kind, hits)| json!({"type": kind, "label": web.templates.labels.label(&kind), "hits": hits}))
        .collect();
    let mut ctx = page_context(&web, Some(&user), "Search").await;
    ctx.insert("q".into(), json!(q));
    ctx.insert("groups".into(), json!(groups));
    ctx.insert("error".into(), json!(error));
    ctx.insert("total".into(), json!(total));
    web.templates.render("search.html", &Value::Object(ctx))
}
