//! Printers nearest a PC on the floor map, and the location tree both that and the
//! print-mapping list filter by.
//!
//! Positions are the core's resolved positions (own mapx/mapy, else a related asset's, else the
//! location's). Distances only mean something on one map, so each position belongs to a floor
//! map: walking up from the location of the asset that placed it (the related asset for
//! `related`), the first location with a floor-plan image, else the topmost location.

use std::collections::{HashMap, HashSet};

use shopdb_core::anyhow;
use shopdb_core::db::Db;
use shopdb_core::position::{Position, resolve_position};
use shopdb_core::serde_json::{Value, json};
use shopdb_core::sqlx::AnyConnection;

use crate::store::{self, LocationNode, MappingRow};

/// The locations, loaded once per request.
pub struct LocationTree {
    nodes: HashMap<i64, LocationNode>,
}

impl LocationTree {
    pub fn new(nodes: Vec<LocationNode>) -> LocationTree {
        LocationTree {
            nodes: nodes.into_iter().map(|n| (n.locationid, n)).collect(),
        }
    }

    pub fn contains(&self, locationid: i64) -> bool {
        self.nodes.contains_key(&locationid)
    }

    pub fn name(&self, locationid: i64) -> Option<&str> {
        self.nodes.get(&locationid).map(|n| n.name.as_str())
    }

    /// Locations called `name`, ignoring case (names need not be unique).
    pub fn named(&self, name: &str) -> Vec<i64> {
        let name = name.to_lowercase();
        let mut ids: Vec<i64> = self
            .nodes
            .values()
            .filter(|n| n.name.to_lowercase() == name)
            .map(|n| n.locationid)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// `roots` and every location under them.
    pub fn with_descendants(&self, roots: &[i64]) -> Vec<i64> {
        let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
        for n in self.nodes.values() {
            if let Some(parent) = n.parentid {
                children.entry(parent).or_default().push(n.locationid);
            }
        }
        let mut seen: HashSet<i64> = HashSet::new();
        let mut stack: Vec<i64> = roots.to_vec();
        while let Some(id) = stack.pop() {
            if seen.insert(id) {
                stack.extend(children.get(&id).into_iter().flatten());
            }
        }
        let mut ids: Vec<i64> = seen.into_iter().collect();
        ids.sort_unstable();
        ids
    }

    /// The floor map `locationid` is drawn on: itself or the nearest location above it with a
    /// floor-plan image, else the topmost location above it.
    pub fn map_of(&self, locationid: Option<i64>) -> Option<i64> {
        let mut current = locationid?;
        let mut seen = HashSet::new();
        loop {
            let Some(node) = self.nodes.get(&current) else {
                return Some(current);
            };
            if node.has_floorplan || !seen.insert(current) {
                return Some(current);
            }
            match node.parentid {
                Some(parent) => current = parent,
                None => return Some(current),
            }
        }
    }
}

/// A resolved position and the floor map it is on.
#[derive(Clone, Debug)]
pub struct Placed {
    pub mapx: f64,
    pub mapy: f64,
    pub positionsource: &'static str,
    /// The floor map (a location id); `None` for assets placed without any location.
    pub maplocationid: Option<i64>,
}

/// Where asset `assetid` (at `locationid`, with its own coordinates `own` if any) sits, or
/// `None` when nothing places it.
pub async fn place(
    db: &Db,
    conn: &mut AnyConnection,
    tree: &LocationTree,
    assetid: i64,
    locationid: Option<i64>,
    own: Option<(f64, f64)>,
) -> anyhow::Result<Option<Placed>> {
    if let Some((mapx, mapy)) = own {
        return Ok(Some(Placed {
            mapx,
            mapy,
            positionsource: "self",
            maplocationid: tree.map_of(locationid),
        }));
    }
    let Some(Position {
        mapx: Some(mapx),
        mapy: Some(mapy),
        positionsource: Some(source),
        sourceassetid,
        ..
    }) = resolve_position(db, conn, assetid).await?
    else {
        return Ok(None);
    };
    let drawn_at = match (source, sourceassetid) {
        ("related", Some(related)) => store::asset_locationid(db, conn, related).await?,
        _ => locationid,
    };
    Ok(Some(Placed {
        mapx,
        mapy,
        positionsource: source,
        maplocationid: tree.map_of(drawn_at),
    }))
}

/// A printer with its place and distance from the PC.
pub struct Candidate {
    pub printer: MappingRow,
    pub placed: Placed,
    pub distance: f64,
}

/// Printers on the same floor map as `from`, nearest first (ties by asset number), and how
/// many printers were left out (no position, or on another map).
pub async fn nearest_printers(
    db: &Db,
    tree: &LocationTree,
    from: &Placed,
) -> anyhow::Result<(Vec<Candidate>, usize)> {
    let printers = store::list_mapping_rows(db, None).await?;
    let total = printers.len();
    let mut conn = db.pool().acquire().await?;
    let mut found = Vec::new();
    for printer in printers {
        let placed = place(
            db,
            &mut conn,
            tree,
            printer.assetid,
            printer.locationid,
            printer.own_position,
        )
        .await?;
        let Some(placed) = placed.filter(|p| p.maplocationid == from.maplocationid) else {
            continue;
        };
        let distance = (placed.mapx - from.mapx).hypot(placed.mapy - from.mapy);
        found.push(Candidate {
            printer,
            placed,
            distance,
        });
    }
    found.sort_by(|a, b| {
        a.distance
            .total_cmp(&b.distance)
            .then_with(|| a.printer.assetnumber.cmp(&b.printer.assetnumber))
    });
    let left_out = total - found.len();
    Ok((found, left_out))
}

/// A printer as print-mapping scripts read it.
pub fn mapping_json(p: &MappingRow) -> Value {
    let uncpath =
        match (&p.printserver, &p.queuename) {
            (Some(server), Some(queue)) if !server.is_empty() && !queue.is_empty() => Some(
                format!("\\\\{}\\{}", server.trim_start_matches('\\'), queue),
            ),
            _ => None,
        };
    json!({
        "assetid": p.assetid,
        "assetnumber": p.assetnumber,
        "printername": p.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| p.hostname.clone()),
        "hostname": p.hostname,
        "ipaddress": p.ipaddress,
        "printserver": p.printserver,
        "queuename": p.queuename,
        "uncpath": uncpath,
        "driver": p.driver,
        "printermodel": p.printermodel,
        "color": p.color,
        "duplex": p.duplex,
        "locationid": p.locationid,
        "location": p.location,
        "status": p.status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: i64, parent: Option<i64>, plan: bool) -> LocationNode {
        LocationNode {
            locationid: id,
            name: format!("L{id}"),
            parentid: parent,
            has_floorplan: plan,
        }
    }

    #[test]
    fn maps_are_the_nearest_floor_plan_or_the_top_location() {
        // 1 site ─ 2 hall (floor plan) ─ 3 cell;  1 ─ 4 office
        let tree = LocationTree::new(vec![
            node(1, None, false),
            node(2, Some(1), true),
            node(3, Some(2), false),
            node(4, Some(1), false),
        ]);
        assert_eq!(tree.map_of(Some(3)), Some(2));
        assert_eq!(tree.map_of(Some(2)), Some(2));
        assert_eq!(tree.map_of(Some(4)), Some(1));
        assert_eq!(tree.map_of(None), None);
        assert_eq!(tree.with_descendants(&[2]), vec![2, 3]);
        assert_eq!(tree.with_descendants(&[1]), vec![1, 2, 3, 4]);
        assert_eq!(tree.named("l4"), vec![4]);
    }

    #[test]
    fn a_cycle_in_locations_ends_the_walk() {
        let tree = LocationTree::new(vec![node(1, Some(2), false), node(2, Some(1), false)]);
        assert!(tree.map_of(Some(1)).is_some());
    }
}
