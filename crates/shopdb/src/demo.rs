//! Demo data for trying ShopDB out and for the benchmark: locations, types, vendors and any
//! number of assets, written through the same audited path as the API.

use anyhow::Context;
use serde_json::{Map, Value, json};
use shopdb_core::auth::Actor;
use shopdb_core::catalog;
use shopdb_core::db::Db;
use sqlx::Row;

fn body(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

async fn ensure(
    db: &Db,
    res: &shopdb_core::resource::Resource,
    actor: &Actor,
    v: Value,
) -> anyhow::Result<i64> {
    let b = body(v);
    let name = b
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut conn = db.pool().acquire().await?;
    let existing: Option<i64> = shopdb_core::db::SqlValue::text(&name)
        .bind(db.query(&format!(
            "SELECT {} FROM {} WHERE name = ?",
            res.key(),
            res.table.name
        )))
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get::<i64, _>(0))
        .transpose()?;
    drop(conn);
    if let Some(id) = existing {
        return Ok(id);
    }
    let record = res
        .create(db, actor, &b)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", e.message, e.details))?;
    Ok(record
        .get(res.key())
        .and_then(Value::as_i64)
        .unwrap_or_default())
}

/// Adds `assets` demo assets (numbered after any already there) in batches of 1,000.
pub async fn seed(db: &Db, assets: usize) -> anyhow::Result<()> {
    let actor = Actor::system("demo data");
    let locations = catalog::locations();
    let plant = ensure(
        db,
        &locations,
        &actor,
        json!({"name": "Plant 1", "mapx": 0.0, "mapy": 0.0}),
    )
    .await?;
    let mut bays = Vec::new();
    for (i, bay) in ["Bay A", "Bay B", "Bay C", "Bay D"].iter().enumerate() {
        let x = 200.0 + 400.0 * i as f64;
        bays.push(
            ensure(
                db,
                &locations,
                &actor,
                json!({"name": bay, "parentid": plant, "mapx": x, "mapy": 300.0}),
            )
            .await?,
        );
    }
    let types = catalog::assettypes();
    let mut type_ids = Vec::new();
    for t in ["PC", "CNC Machine", "Switch", "Printer"] {
        type_ids.push(ensure(db, &types, &actor, json!({"name": t})).await?);
    }
    let vendors = catalog::vendors();
    let mut vendor_ids = Vec::new();
    for v in ["Dell", "Fanuc", "Okuma", "Cisco", "HP"] {
        vendor_ids.push(ensure(db, &vendors, &actor, json!({"name": v})).await?);
    }
    let statuses: Vec<i64> = {
        db.query("SELECT statusid FROM statuses ORDER BY statusid")
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| r.try_get::<i64, _>(0).unwrap_or_default())
            .collect()
    };
    let start: i64 = {
        db.query("SELECT COUNT(*) FROM assets")
            .fetch_one(db.pool())
            .await?
            .try_get(0)?
    };
    let res = catalog::assets();
    let names = [
        "Lathe",
        "Mill",
        "Shop PC",
        "Switch",
        "Label printer",
        "Grinder",
        "CMM",
        "Kiosk",
    ];
    let mut done = 0usize;
    while done < assets {
        let batch = (assets - done).min(1000);
        let mut tx = db.begin().await?;
        for i in 0..batch {
            let n = start as usize + done + i + 1;
            let placed = n.is_multiple_of(3);
            let record = body(json!({
                "assetnumber": format!("A{n:06}"),
                "name": format!("{} {}", names[n % names.len()], n),
                "assettypeid": type_ids[n % type_ids.len()],
                "statusid": statuses[n % statuses.len().max(1)],
                "locationid": bays[n % bays.len()],
                "vendorid": vendor_ids[n % vendor_ids.len()],
                "serialnumber": format!("SN{:08X}", n.wrapping_mul(2654435761) % 0xFFFF_FFFF),
                "mapx": if placed { json!((n % 1600) as f64) } else { Value::Null },
                "mapy": if placed { json!((n % 900) as f64) } else { Value::Null },
            }));
            let values = res
                .validate(db, &mut tx, &record, None)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {}", e.message, e.details))?;
            res.insert(db, &mut tx, &actor, values)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        }
        tx.commit().await.context("cannot commit demo batch")?;
        done += batch;
        if assets >= 10_000 && done.is_multiple_of(10_000) {
            eprintln!("{done} / {assets} assets");
        }
    }
    Ok(())
}
