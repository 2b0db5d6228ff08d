//! Demo data for a trial site and for the benchmark: a plant with four bays, each with a drawn
//! floor plan, and any number of assets placed on it. Every installed, enabled plugin gets
//! records that show what it does: PCs with their software (some not seen for weeks), CNC
//! machines with DNC settings driven by those PCs, switches and access points, the subnets
//! holding all their addresses, printers beside the PCs, USB drives on loan (one overdue) and
//! announcements, one of them for a bay. Records go through the same engine as the API
//! (validated, audited, indexed for search), in one transaction per chunk. Running it again
//! adds assets numbered after the highest there; what exists already is kept.

mod extras;
mod plan;
mod records;
mod values;

use std::collections::{HashMap, HashSet};

use anyhow::Context;
use serde_json::{Map, Value, json};
use shopdb_core::auth::Actor;
use shopdb_core::db::{Db, SqlValue};
use shopdb_core::resource::Resource;
use shopdb_core::state::AppState;
use sqlx::Row;

use crate::progress::Progress;
use records::Site;
use values::Kind;

/// Assets written per transaction.
const CHUNK: usize = 250;

const BAYS: [(&str, &str); 4] = [
    ("Bay A", "A"),
    ("Bay B", "B"),
    ("Bay C", "C"),
    ("Bay D", "D"),
];

fn body(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn id_of(record: &Map<String, Value>, key: &str) -> i64 {
    record.get(key).and_then(Value::as_i64).unwrap_or_default()
}

/// The id of the row of `res` whose `column` is `value`, if any.
async fn find(
    db: &Db,
    conn: &mut sqlx::AnyConnection,
    res: &Resource,
    column: &str,
    value: &str,
) -> anyhow::Result<Option<i64>> {
    Ok(SqlValue::text(value)
        .bind(db.query(&format!(
            "SELECT {} FROM {} WHERE {column} = ?",
            res.key(),
            res.table.name
        )))
        .fetch_optional(conn)
        .await?
        .map(|r| r.try_get::<i64, _>(0))
        .transpose()?)
}

/// The row of `res` named `name`, created from `v` when there is none.
async fn ensure(db: &Db, res: &Resource, actor: &Actor, v: Value) -> anyhow::Result<i64> {
    let b = body(v);
    let name = b
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut conn = db.pool().acquire().await?;
    if let Some(id) = find(db, &mut conn, res, "name", &name).await? {
        return Ok(id);
    }
    drop(conn);
    let record = res
        .create(db, actor, &b)
        .await
        .with_context(|| format!("cannot add demo {} '{name}'", res.entity))?;
    Ok(id_of(&record, res.key()))
}

/// The highest number `n` of an asset numbered `A<n>` (0 when there is none).
async fn highest_number(db: &Db) -> anyhow::Result<usize> {
    let rows = db
        .query("SELECT assetnumber FROM assets WHERE assetnumber LIKE 'A%'")
        .fetch_all(db.pool())
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>(0).ok())
        .filter_map(|n| n[1..].parse::<usize>().ok())
        .max()
        .unwrap_or(0))
}

/// How many records of each kind one run added, for the closing line.
#[derive(Default)]
struct Tally(Vec<(&'static str, usize)>);

impl Tally {
    fn add(&mut self, what: &'static str, n: usize) {
        match self.0.iter_mut().find(|(w, _)| *w == what) {
            Some((_, count)) => *count += n,
            None => self.0.push((what, n)),
        }
    }

    fn line(&self) -> String {
        self.0
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(w, n)| format!("{n} {w}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Adds the demo site and `assets` assets (numbered after any already there), printing
/// progress lines to stdout.
pub async fn seed(state: &AppState, assets: usize) -> anyhow::Result<()> {
    seed_with_progress(state, assets, &Progress::silent()).await
}

/// Like `seed`, counting the assets added on `progress`.
pub async fn seed_with_progress(
    state: &AppState,
    assets: usize,
    progress: &Progress,
) -> anyhow::Result<()> {
    let db = &state.db;
    let actor = Actor::system("demo data");
    let enabled = state.plugin_states.enabled(db).await;
    let on = |plugin: &str| enabled.contains(plugin);
    let mut plugins: Vec<&str> = [
        "computers",
        "equipment",
        "network",
        "printers",
        "usb",
        "notifications",
    ]
    .into_iter()
    .filter(|p| on(p))
    .collect();
    plugins.sort_unstable();
    println!(
        "demo data: {} (plugins: {})",
        shopdb_core::db::redact_url(db.display_url()),
        if plugins.is_empty() {
            "none installed".to_string()
        } else {
            plugins.join(", ")
        }
    );

    let locations = state.resource("locations");
    let plant = ensure(
        db,
        &locations,
        &actor,
        json!({"name": "Plant 1", "mapx": 0.0, "mapy": 0.0}),
    )
    .await?;
    let mut bays = Vec::new();
    let mut drawn = Vec::new();
    for (i, (bay, prefix)) in BAYS.iter().enumerate() {
        let x = 200.0 + 400.0 * i as f64;
        let id = ensure(
            db,
            &locations,
            &actor,
            json!({"name": bay, "parentid": plant, "mapx": x, "mapy": 300.0}),
        )
        .await?;
        if shopdb_core::floorplan::load(db, id).await?.is_none() {
            let svg = plan::svg("Plant 1", bay, prefix);
            shopdb_core::floorplan::store(db, &actor, id, "image/svg+xml", svg.into_bytes())
                .await
                .with_context(|| format!("cannot store the floor plan of {bay}"))?;
            drawn.push(*bay);
        }
        bays.push((id, *bay, *prefix));
    }
    println!(
        "locations: Plant 1 with {}; floor plans drawn: {}",
        BAYS.map(|b| b.0).join(", "),
        if drawn.is_empty() {
            "none (every bay has one)".to_string()
        } else {
            drawn.join(", ")
        }
    );

    let site = Site::load(state, &actor, bays, &enabled).await?;
    let start = highest_number(db).await? + 1;
    let mut tally = Tally::default();
    let mut subnets_seen: HashSet<String> = HashSet::new();
    let mut pcs: HashMap<usize, i64> = HashMap::new();
    let mut drives = Vec::new();
    let mut printers = Vec::new();
    let subnets = on("network").then(|| state.resource("network/subnets"));
    let mut done = 0usize;
    while done < assets {
        let batch = (assets - done).min(CHUNK);
        let mut tx = db.begin().await?;
        for n in start + done..start + done + batch {
            let kind = Kind::of(n);
            if let (Some(subnets), Some(net)) = (&subnets, site.subnet_for(n, kind)) {
                let cidr = net["cidr"].as_str().unwrap_or_default().to_string();
                if !subnets_seen.contains(&cidr) {
                    if find(db, &mut tx, subnets, "cidr", &cidr).await?.is_none() {
                        let values = subnets
                            .validate(db, &mut tx, &body(net), None)
                            .await
                            .with_context(|| format!("cannot add demo subnet {cidr}"))?;
                        subnets
                            .insert(db, &mut tx, &actor, values)
                            .await
                            .with_context(|| format!("cannot add demo subnet {cidr}"))?;
                        tally.add("subnets", 1);
                    }
                    subnets_seen.insert(cidr);
                }
            }
            let controller = match kind {
                Kind::Machine(_) => match pcs.get(&(n - 8)) {
                    Some(id) => Some(*id),
                    None if n >= 8 => {
                        let assets = state.resource("assets");
                        find(db, &mut tx, &assets, "assetnumber", &values::number(n - 8)).await?
                    }
                    None => None,
                },
                _ => None,
            };
            let (res, record, what) = site.record(n, controller);
            let values = res
                .validate(db, &mut tx, &record, None)
                .await
                .with_context(|| format!("cannot add demo {what} {}", values::number(n)))?;
            let created = res
                .insert(db, &mut tx, &actor, values)
                .await
                .with_context(|| format!("cannot add demo {what} {}", values::number(n)))?;
            let id = id_of(&created, "assetid");
            match kind {
                Kind::ControlPc(_) => {
                    pcs.insert(n, id);
                }
                Kind::Usb if on("usb") => drives.push(id),
                Kind::Printer if on("printers") => printers.push((id, n)),
                _ => {}
            }
            tally.add(what, 1);
        }
        tx.commit().await.context("cannot commit demo batch")?;
        db.forget_counts();
        done += batch;
        progress.add(batch as u64);
    }

    if on("printers") {
        extras::read_supplies(db, &printers).await?;
    }
    if on("usb") {
        let loans = extras::lend(db, &actor, &drives).await?;
        tally.add("USB loans", loans);
    }
    if on("notifications") {
        let added = site.announce(state, &actor).await?;
        tally.add("announcements", added);
    }
    let summary = tally.line();
    println!(
        "added {assets} demo assets{}",
        if summary.is_empty() {
            String::new()
        } else {
            format!(": {summary}")
        }
    );
    Ok(())
}
