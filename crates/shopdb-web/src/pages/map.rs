//! Floor maps: a location's floor-plan image with every asset in it (and in the locations
//! below it) at its resolved position. Editors drag markers to set an asset's own mapx/mapy;
//! the page saves through the API (PUT /api/assets/{id}, audited like any other change).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use shopdb_core::services::locations::{self, Marker};

use crate::Web;
use crate::render::{error_page, failure_page, page_context};
use crate::session::PageUser;

/// GET /map — locations with their floor plans and asset counts.
pub async fn locations(State(web): State<Web>, user: PageUser) -> Response {
    let list = match locations::overview(&web.app.db).await {
        Ok(list) => list,
        Err(e) => return failure_page(&web, Some(&user), &e).await,
    };
    let mut ctx = page_context(&web, Some(&user), "Floor maps").await;
    ctx.insert("locations".into(), json!(list));
    web.templates.render("locations.html", &Value::Object(ctx))
}

/// A colour per asset type, the same on every map.
fn colour(typeid: Option<i64>) -> &'static str {
    const PALETTE: &[&str] = &[
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
        "#7f7f7f", "#bcbd22",
    ];
    PALETTE[typeid.unwrap_or(0).unsigned_abs() as usize % PALETTE.len()]
}

/// GET /map/{locationid}
pub async fn map(State(web): State<Web>, user: PageUser, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return error_page(
            &web,
            Some(&user),
            StatusCode::NOT_FOUND,
            "There is no such location.",
        )
        .await;
    };
    let map = match locations::floor_map(&web.app, id).await {
        Ok(map) => map,
        Err(e) => return failure_page(&web, Some(&user), &e).await,
    };
    let mut types: Vec<Value> = Vec::new();
    let mut drawn = |m: &Marker| {
        if !types.iter().any(|t| t["name"] == json!(m.typename)) {
            types.push(json!({"name": m.typename, "colour": colour(m.typeid)}));
        }
        let mut v = json!(m);
        v["colour"] = json!(colour(m.typeid));
        v
    };
    let markers: Vec<Value> = map.placed.iter().map(&mut drawn).collect();
    let unplaced: Vec<Value> = map.unplaced.iter().map(&mut drawn).collect();
    let location = map.location;
    let mut ctx = page_context(
        &web,
        Some(&user),
        &format!("Map: {}", location["name"].as_str().unwrap_or_default()),
    )
    .await;
    ctx.insert("location".into(), Value::Object(location));
    ctx.insert("floorplan".into(), json!(map.floorplan));
    ctx.insert("markers".into(), json!(markers));
    ctx.insert("unplaced".into(), json!(unplaced));
    ctx.insert("types".into(), json!(types));
    ctx.insert("total".into(), json!(map.total));
    ctx.insert("shown".into(), json!(markers.len() + unplaced.len()));
    ctx.insert(
        "can_move".into(),
        json!(user.actor.role >= shopdb_core::auth::Role::Editor),
    );
    web.templates.render("map.html", &Value::Object(ctx))
}
