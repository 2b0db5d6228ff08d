//! Locations and their floor maps, as the map pages show them.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::Row;

use crate::db::{Db, SqlValue};
use crate::error::DomainError;
use crate::position::resolve_positions;
use crate::state::AppState;

/// Most assets drawn on one map.
pub const MAX_MARKERS: i64 = 1000;

/// A location as the list of floor maps shows it.
#[derive(Debug, Serialize)]
pub struct LocationSummary {
    pub locationid: i64,
    pub name: String,
    pub parentid: Option<i64>,
    /// Whether a floor plan image is stored for it.
    pub floorplan: bool,
    /// Assets whose location it is (not counting the locations below it).
    pub assets: i64,
}

/// Every location by name, with its floor plan and asset count.
pub async fn overview(db: &Db) -> Result<Vec<LocationSummary>, DomainError> {
    let rows = db
        .query(
            "SELECT l.locationid, l.name, l.parentid, \
             (SELECT COUNT(*) FROM floorplans f WHERE f.locationid = l.locationid), \
             (SELECT COUNT(*) FROM assets a WHERE a.locationid = l.locationid) \
             FROM locations l ORDER BY l.name",
        )
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(LocationSummary {
                locationid: r.try_get(0)?,
                name: r.try_get(1)?,
                parentid: r.try_get(2)?,
                floorplan: r.try_get::<i64, _>(3)? > 0,
                assets: r.try_get(4)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DomainError::from)
}

/// The location `root` and every location below it (at most 10,000).
pub async fn subtree(db: &Db, root: i64) -> Result<Vec<i64>, DomainError> {
    let rows = db
        .query("SELECT locationid, parentid FROM locations")
        .fetch_all(db.pool())
        .await?;
    let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
    for r in &rows {
        if let Some(parent) = r.try_get::<Option<i64>, _>(1)? {
            children.entry(parent).or_default().push(r.try_get(0)?);
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() && out.len() < 10_000 {
        if let Some(kids) = children.get(&out[i]) {
            let new: Vec<i64> = kids.iter().filter(|k| !out.contains(k)).copied().collect();
            out.extend(new);
        }
        i += 1;
    }
    Ok(out)
}

/// An asset on a floor map, placed (`x`, `y`, `source`) or not.
#[derive(Debug, Serialize)]
pub struct Marker {
    pub assetid: i64,
    pub assetnumber: String,
    pub name: Option<String>,
    pub typeid: Option<i64>,
    #[serde(rename = "type")]
    pub typename: Option<String>,
    pub version: i64,
    pub x: Option<f64>,
    pub y: Option<f64>,
    /// Where the position comes from (its own, a related asset's …).
    pub source: Option<String>,
}

/// What the floor map of a location shows.
#[derive(Debug)]
pub struct FloorMap {
    pub location: Map<String, Value>,
    pub floorplan: bool,
    /// The first `MAX_MARKERS` assets of the location and the ones below it, by asset
    /// number, with a position.
    pub placed: Vec<Marker>,
    /// The same without one.
    pub unplaced: Vec<Marker>,
    /// Every asset of the location and the ones below it.
    pub total: i64,
}

/// The floor map of location `id` (404 when there is none).
pub async fn floor_map(app: &AppState, id: i64) -> Result<FloorMap, DomainError> {
    let db = &app.db;
    let location = app.resource("locations").get(db, id).await?;
    let floorplan: i64 = db
        .query("SELECT COUNT(*) FROM floorplans WHERE locationid = ?")
        .bind(id)
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    let ids = subtree(db, id).await?;
    let marks = vec!["?"; ids.len()].join(", ");
    let values: Vec<SqlValue> = ids.iter().map(|i| SqlValue::Int(*i)).collect();
    // The first markers by asset number, picked from the (locationid, assetnumber) index
    // before any asset row is read.
    let sql = format!(
        "SELECT a.assetid, a.assetnumber, a.name, a.assettypeid, t.name, a.version \
         FROM (SELECT assetid FROM assets WHERE locationid IN ({marks}) \
               ORDER BY assetnumber LIMIT {MAX_MARKERS}) p \
         JOIN assets a ON a.assetid = p.assetid \
         LEFT JOIN assettypes t ON t.assettypeid = a.assettypeid ORDER BY a.assetnumber"
    );
    let rows = db.query_with(&sql, &values).fetch_all(db.pool()).await?;
    let total: i64 = db
        .query_with(
            &format!("SELECT COUNT(*) FROM assets WHERE locationid IN ({marks})"),
            &values,
        )
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    let assetids = rows
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<Vec<_>, _>>()?;
    let mut conn = db.pool().acquire().await?;
    let positions = resolve_positions(db, &mut conn, &assetids).await?;
    drop(conn);
    let (mut placed, mut unplaced) = (Vec::new(), Vec::new());
    for r in &rows {
        let assetid: i64 = r.try_get(0)?;
        let mut marker = Marker {
            assetid,
            assetnumber: r.try_get(1)?,
            name: r.try_get(2)?,
            typeid: r.try_get(3)?,
            typename: r.try_get(4)?,
            version: r.try_get(5)?,
            x: None,
            y: None,
            source: None,
        };
        match positions.get(&assetid) {
            Some(p) if p.mapx.is_some() && p.mapy.is_some() => {
                marker.x = p.mapx;
                marker.y = p.mapy;
                marker.source = p.positionsource.map(str::to_string);
                placed.push(marker);
            }
            _ => unplaced.push(marker),
        }
    }
    Ok(FloorMap {
        location,
        floorplan: floorplan > 0,
        placed,
        unplaced,
        total,
    })
}
