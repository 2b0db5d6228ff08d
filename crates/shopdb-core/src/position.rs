//! Where an asset sits on the floor map: its own mapx/mapy, else the position of the nearest
//! related asset (breadth-first over relationships in both directions, bounded depth, cycle
//! safe), else its location's position (walking up parent locations), else nothing.

use std::collections::HashSet;

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::db::{Db, SqlValue};

/// How many relationship hops are followed before giving up.
pub const MAX_RELATION_DEPTH: usize = 4;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Position {
    pub mapx: Option<f64>,
    pub mapy: Option<f64>,
    /// `self`, `related`, `location`, or null when nothing places the asset.
    pub positionsource: Option<&'static str>,
    /// The related asset or location the position came from.
    pub sourceassetid: Option<i64>,
    pub sourcelocationid: Option<i64>,
}

impl Position {
    fn none() -> Position {
        Position {
            mapx: None,
            mapy: None,
            positionsource: None,
            sourceassetid: None,
            sourcelocationid: None,
        }
    }
}

fn xy(row: &sqlx::any::AnyRow, x: usize) -> Option<(f64, f64)> {
    let get = |i: usize| {
        row.try_get::<Option<f64>, _>(i).ok().flatten().or_else(|| {
            row.try_get::<Option<i64>, _>(i)
                .ok()
                .flatten()
                .map(|v| v as f64)
        })
    };
    Some((get(x)?, get(x + 1)?))
}

/// Resolves the position of asset `assetid`; `None` when the asset does not exist.
pub async fn resolve_position(
    db: &Db,
    conn: &mut AnyConnection,
    assetid: i64,
) -> Result<Option<Position>, sqlx::Error> {
    let Some(row) = db
        .query("SELECT mapx, mapy, locationid FROM assets WHERE assetid = ?")
        .bind(assetid)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    if let Some((x, y)) = xy(&row, 0) {
        return Ok(Some(Position {
            mapx: Some(x),
            mapy: Some(y),
            positionsource: Some("self"),
            ..Position::none()
        }));
    }
    let own_location: Option<i64> = row.try_get(2)?;

    let mut visited: HashSet<i64> = HashSet::from([assetid]);
    let mut frontier = vec![assetid];
    for _ in 0..MAX_RELATION_DEPTH {
        if frontier.is_empty() {
            break;
        }
        let marks = vec!["?"; frontier.len()].join(", ");
        let ids: Vec<SqlValue> = frontier.iter().map(|i| SqlValue::Int(*i)).collect();
        let binds: Vec<SqlValue> = ids.iter().chain(ids.iter()).cloned().collect();
        let rows = db
            .query_with(
                &format!(
                    "SELECT a.assetid, a.mapx, a.mapy FROM assets a WHERE a.assetid IN (\
                       SELECT targetassetid FROM assetrelationships WHERE sourceassetid IN ({marks}) \
                       UNION SELECT sourceassetid FROM assetrelationships WHERE targetassetid IN ({marks})) \
                     ORDER BY a.assetid"
                ),
                &binds,
            )
            .fetch_all(&mut *conn)
            .await?;
        let mut next = Vec::new();
        for r in &rows {
            let id: i64 = r.try_get(0)?;
            if !visited.insert(id) {
                continue;
            }
            if let Some((x, y)) = xy(r, 1) {
                return Ok(Some(Position {
                    mapx: Some(x),
                    mapy: Some(y),
                    positionsource: Some("related"),
                    sourceassetid: Some(id),
                    ..Position::none()
                }));
            }
            next.push(id);
        }
        frontier = next;
    }

    let mut seen = HashSet::new();
    let mut location = own_location;
    while let Some(id) = location {
        if !seen.insert(id) {
            break;
        }
        let Some(r) = db
            .query("SELECT mapx, mapy, parentid FROM locations WHERE locationid = ?")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
        else {
            break;
        };
        if let Some((x, y)) = xy(&r, 0) {
            return Ok(Some(Position {
                mapx: Some(x),
                mapy: Some(y),
                positionsource: Some("location"),
                sourcelocationid: Some(id),
                ..Position::none()
            }));
        }
        location = r.try_get(2)?;
    }
    Ok(Some(Position::none()))
}

/// Relationships of asset `id` both ways: relationship id, type, direction (`outgoing` when
/// `id` is the source) and the asset at the other end. Outgoing first, then by type.
pub async fn relationships_of(db: &Db, id: i64) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    let rows = db
        .query(
            "SELECT r.relationshipid, t.name, r.sourceassetid, r.targetassetid, a.assetid, a.assetnumber, a.name, r.notes \
             FROM assetrelationships r JOIN relationshiptypes t ON t.relationshiptypeid = r.relationshiptypeid \
             JOIN assets a ON a.assetid = CASE WHEN r.sourceassetid = ? THEN r.targetassetid ELSE r.sourceassetid END \
             WHERE r.sourceassetid = ? OR r.targetassetid = ? ORDER BY r.relationshipid",
        )
        .bind(id)
        .bind(id)
        .bind(id)
        .fetch_all(db.pool())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let outgoing = r.try_get::<i64, _>(2)? == id;
        out.push(serde_json::json!({
            "relationshipid": r.try_get::<i64, _>(0)?,
            "relationshiptypename": r.try_get::<String, _>(1)?,
            "direction": if outgoing { "outgoing" } else { "incoming" },
            "assetid": r.try_get::<i64, _>(4)?,
            "assetnumber": r.try_get::<String, _>(5)?,
            "name": r.try_get::<Option<String>, _>(6)?,
            "notes": r.try_get::<Option<String>, _>(7)?,
        }));
    }
    out.sort_by_key(|v| {
        (
            v["direction"] != "outgoing",
            v["relationshiptypename"].as_str().map(str::to_string),
        )
    });
    Ok(out)
}

/// Positions of many assets at once (a floor map), the same answers as [`resolve_position`]
/// one by one, in a handful of queries: own positions and location positions are read in
/// bulk; only assets without their own position that have relationships are walked one by one.
pub async fn resolve_positions(
    db: &Db,
    conn: &mut AnyConnection,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, Position>, sqlx::Error> {
    use std::collections::HashMap;
    const CHUNK: usize = 500;
    let mut out = HashMap::with_capacity(ids.len());
    let mut pending: Vec<(i64, Option<i64>)> = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let binds: Vec<SqlValue> = chunk.iter().map(|i| SqlValue::Int(*i)).collect();
        let rows = db
            .query_with(
                &format!(
                    "SELECT mapx, mapy, locationid, assetid FROM assets WHERE assetid IN ({marks})"
                ),
                &binds,
            )
            .fetch_all(&mut *conn)
            .await?;
        for r in &rows {
            let id: i64 = r.try_get(3)?;
            match xy(r, 0) {
                Some((x, y)) => {
                    out.insert(
                        id,
                        Position {
                            mapx: Some(x),
                            mapy: Some(y),
                            positionsource: Some("self"),
                            ..Position::none()
                        },
                    );
                }
                None => pending.push((id, r.try_get(2)?)),
            }
        }
    }
    let mut related: HashSet<i64> = HashSet::new();
    let pending_ids: Vec<i64> = pending.iter().map(|(id, _)| *id).collect();
    for chunk in pending_ids.chunks(CHUNK) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let binds: Vec<SqlValue> = chunk
            .iter()
            .chain(chunk.iter())
            .map(|i| SqlValue::Int(*i))
            .collect();
        let rows = db
            .query_with(
                &format!(
                    "SELECT sourceassetid, targetassetid FROM assetrelationships \
                     WHERE sourceassetid IN ({marks}) OR targetassetid IN ({marks})"
                ),
                &binds,
            )
            .fetch_all(&mut *conn)
            .await?;
        for r in &rows {
            related.insert(r.try_get(0)?);
            related.insert(r.try_get(1)?);
        }
    }
    // location → (its own position, its parent)
    type Places = HashMap<i64, (Option<(f64, f64)>, Option<i64>)>;
    let locations: Places = if pending.is_empty() {
        HashMap::new()
    } else {
        let rows = db
            .query("SELECT locationid, mapx, mapy, parentid FROM locations")
            .fetch_all(&mut *conn)
            .await?;
        let mut map = HashMap::with_capacity(rows.len());
        for r in &rows {
            map.insert(
                r.try_get::<i64, _>(0)?,
                (xy(r, 1), r.try_get::<Option<i64>, _>(3)?),
            );
        }
        map
    };
    for (id, location) in pending {
        if related.contains(&id) {
            if let Some(p) = resolve_position(db, conn, id).await? {
                out.insert(id, p);
            }
            continue;
        }
        let mut seen = HashSet::new();
        let mut at = location;
        let mut found = Position::none();
        while let Some(l) = at {
            if !seen.insert(l) {
                break;
            }
            let Some((pos, parent)) = locations.get(&l) else {
                break;
            };
            if let Some((x, y)) = pos {
                found = Position {
                    mapx: Some(*x),
                    mapy: Some(*y),
                    positionsource: Some("location"),
                    sourcelocationid: Some(l),
                    ..Position::none()
                };
                break;
            }
            at = *parent;
        }
        out.insert(id, found);
    }
    Ok(out)
}
