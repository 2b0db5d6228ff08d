//! Floor maps: a location's floor-plan image with every asset in it (and in the locations
//! below it) at its resolved position. Editors drag markers to set an asset's own mapx/mapy;
//! the page saves through the API (PUT /api/assets/{id}, audited like any other change).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use sqlx::Row;

use crate::Web;
use crate::render::{error_page, page_context};
use crate::session::PageUser;

/// Most markers drawn on one map.
const MAX_MARKERS: i64 = 1000;

/// GET /map — locations with their floor plans and asset counts.
pub async fn locations(State(web): State<Web>, user: PageUser) -> Response {
    let rows = web
        .app
        .db
        .query(
            "SELECT l.locationid, l.name, l.parentid, \
             (SELECT COUNT(*) FROM floorplans f WHERE f.locationid = l.locationid), \
             (SELECT COUNT(*) FROM assets a WHERE a.locationid = l.locationid) \
             FROM locations l ORDER BY l.name",
        )
        .fetch_all(web.app.db.pool())
        .await
        .unwrap_or_default();
    let list: Vec<Value> = rows
        .iter()
        .filter_map(|r| {
            Some(json!({
                "locationid": r.try_get::<i64, _>(0).ok()?, "name": r.try_get::<String, _>(1).ok()?,
                "parentid": r.try_get::<Option<i64>, _>(2).ok()?,
                "floorplan": r.try_get::<i64, _>(3).ok()? > 0, "assets": r.try_get::<i64, _>(4).ok()?,
            }))
        })
        .collect();
    let mut ctx = page_context(&web, Some(&user), "Floor maps").await;
    ctx.insert("locations".into(), json!(list));
    web.templates.render("locations.html", &Value::Object(ctx))
}

/// The location and every location below it.
async fn subtree(web: &Web, root: i64) -> Vec<i64> {
    let rows = web
        .app
        .db
        .query("SELECT locationid, parentid FROM locations")
        .fetch_all(web.app.db.pool())
        .await
        .unwrap_or_default();
    let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
    for r in &rows {
        if let (Ok(id), Ok(Some(parent))) = (r.try_get::<i64, _>(0), r.try_get::<Option<i64>, _>(1))
        {
            children.entry(parent).or_default().push(id);
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() && out.len() < 10_000 {
        if let Some(kids) = children.get(&out[i]) {
            out.extend(
                kids.iter()
                    .filter(|k| !out.contains(k))
                    .copied()
                    .collect::<Vec<_>>(),
            );
        }
        i += 1;
    }
    out
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
    let location = match web.app.resource("locations").get(&web.app.db, id).await {
        Ok(l) => l,
        Err(e) => return error_page(&web, Some(&user), e.status, &e.message).await,
    };
    let has_plan: i64 = match web
        .app
        .db
        .query("SELECT COUNT(*) FROM floorplans WHERE locationid = ?")
        .bind(id)
        .fetch_one(web.app.db.pool())
        .await
    {
        Ok(r) => r.try_get(0).unwrap_or_default(),
        Err(_) => 0,
    };
    let ids = subtree(&web, id).await;
    let marks = vec!["?"; ids.len()].join(", ");
    // The first markers by asset number, picked from the (locationid, assetnumber) index
    // before any asset row is read.
    let sql = format!(
        "SELECT a.assetid, a.assetnumber, a.name, a.assettypeid, t.name, a.version \
         FROM (SELECT assetid FROM assets WHERE locationid IN ({marks}) \
               ORDER BY assetnumber LIMIT {MAX_MARKERS}) p \
         JOIN assets a ON a.assetid = p.assetid \
         LEFT JOIN assettypes t ON t.assettypeid = a.assettypeid ORDER BY a.assetnumber"
    );
    let values: Vec<shopdb_core::db::SqlValue> = ids
        .iter()
        .map(|i| shopdb_core::db::SqlValue::Int(*i))
        .collect();
    let rows = web
        .app
        .db
        .query_with(&sql, &values)
        .fetch_all(web.app.db.pool())
        .await
        .unwrap_or_default();
    let mut markers = Vec::new();
    let mut unplaced = Vec::new();
    let mut types: Vec<Value> = Vec::new();
    let total: i64 = match web
        .app
        .db
        .query_with(
            &format!("SELECT COUNT(*) FROM assets WHERE locationid IN ({marks})"),
            &values,
        )
        .fetch_one(web.app.db.pool())
        .await
    {
        Ok(r) => r.try_get(0).unwrap_or_default(),
        Err(_) => 0,
    };
    let ids: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.try_get::<i64, _>(0).ok())
        .collect();
    let positions = match web.app.db.pool().acquire().await {
        Ok(mut conn) => shopdb_core::position::resolve_positions(&web.app.db, &mut conn, &ids)
            .await
            .unwrap_or_default(),
        Err(_) => Default::default(),
    };
    for r in &rows {
        let assetid: i64 = r.try_get(0).unwrap_or_default();
        let typeid: Option<i64> = r.try_get(3).unwrap_or_default();
        let typename: Option<String> = r.try_get(4).unwrap_or_default();
        let mut entry = json!({
            "assetid": assetid, "assetnumber": r.try_get::<String, _>(1).unwrap_or_default(),
            "name": r.try_get::<Option<String>, _>(2).unwrap_or_default(), "type": typename,
            "colour": colour(typeid), "version": r.try_get::<i64, _>(5).unwrap_or_default(),
        });
        if !types.iter().any(|t| t["name"] == json!(typename)) {
            types.push(json!({"name": typename, "colour": colour(typeid)}));
        }
        match positions.get(&assetid) {
            Some(p) if p.mapx.is_some() && p.mapy.is_some() => {
                entry["x"] = json!(p.mapx);
                entry["y"] = json!(p.mapy);
                entry["source"] = json!(p.positionsource);
                markers.push(entry);
            }
            _ => unplaced.push(entry),
        }
    }
    let mut ctx = page_context(
        &web,
        Some(&user),
        &format!("Map: {}", location["name"].as_str().unwrap_or_default()),
    )
    .await;
    ctx.insert("location".into(), Value::Object(location));
    ctx.insert("floorplan".into(), json!(has_plan > 0));
    ctx.insert("markers".into(), json!(markers));
    ctx.insert("unplaced".into(), json!(unplaced));
    ctx.insert("types".into(), json!(types));
    ctx.insert("total".into(), json!(total));
    ctx.insert("shown".into(), json!(rows.len()));
    ctx.insert(
        "can_move".into(),
        json!(user.actor.role >= shopdb_core::auth::Role::Editor),
    );
    web.templates.render("map.html", &Value::Object(ctx))
}
