//! `shopdb backup` / `restore` / `plugin restore`: a database moved SQLite → MariaDB →
//! PostgreSQL → SQLite keeps every row of every table; restore refuses a database that is
//! not empty and undoes a failed load; a backup taken under writes is one moment; a plugin's
//! uninstall backup brings its records back with their ids.

use std::collections::BTreeSet;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use serde_json::{Value, json};
use shopdb::backup::{self, Manifest};
use shopdb::progress::Progress;
use shopdb_core::auth::Actor;
use shopdb_core::db::{Db, ValueKind, decode_column};
use shopdb_core::schema::Table;
use sqlx::Row;

use crate::backend_tests;
use crate::support::{Backend, TestApp, Throwaway};

const ALL: [&str; 6] = [
    "computers",
    "equipment",
    "network",
    "printers",
    "usb",
    "notifications",
];

/// A folder in the temp directory for a test's archives, removed when it goes.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "shopdb-backup-test-{}",
            shopdb_core::util::random_token(6).replace(['-', '_'], "x")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every row of every table, read column by column with the column's own type (bytes as
/// their SHA-256), in key order: what "the same data" means.
async fn contents(db: &Db, tables: &[Table]) -> Vec<(String, Vec<Vec<Value>>)> {
    let mut out = Vec::new();
    for table in tables {
        let sql = shopdb_core::portable::select_all_sql(table);
        let rows = db.query(&sql).fetch_all(db.pool()).await.unwrap();
        let rows = rows
            .iter()
            .map(|r| {
                table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| match c.ty.value_kind() {
                        ValueKind::Bytes => r
                            .try_get::<Option<Vec<u8>>, _>(i)
                            .unwrap()
                            .map_or(Value::Null, |b| shopdb_core::util::sha256_hex(&b).into()),
                        kind => decode_column(r, i, kind).unwrap(),
                    })
                    .collect()
            })
            .collect();
        out.push((table.name.clone(), rows));
    }
    out
}

async fn take_backup(app: &TestApp, file: &Path) -> backup::Summary {
    backup::backup(app.db(), &app.state.registry, file, &Progress::silent())
        .await
        .expect("backup")
}

async fn restore_into(backend: Backend, file: &Path) -> Option<Throwaway> {
    let target = Throwaway::create(backend).await?;
    let db = Db::connect(&target.url).await.unwrap();
    backup::restore(&db, &shopdb::app::registry(), file, &Progress::silent())
        .await
        .unwrap_or_else(|e| panic!("restore into {backend:?}: {e:#}"));
    db.close().await;
    Some(target)
}

/// Records whose values only a portable backup keeps: text beyond ASCII, NULLs, floats that
/// need every digit, a boolean, a date, and a location whose parent has a higher id.
async fn add_edge_values(app: &TestApp) {
    let hall = app
        .post(
            "/api/locations",
            json!({"name": "Halle Süd – 東京", "mapx": 0.1, "mapy": -1234.5678901234567}),
        )
        .await;
    assert_eq!(hall.status, StatusCode::CREATED, "{}", hall.body);
    let hall_id = hall.data()["locationid"].as_i64().unwrap();
    let wing = app
        .post(
            "/api/locations",
            json!({"name": "Wing 🚀", "mapx": 1e-300, "mapy": 1.7976931348623157e308}),
        )
        .await;
    let wing_id = wing.data()["locationid"].as_i64().unwrap();
    let moved = app
        .put(
            &format!("/api/locations/{hall_id}"),
            json!({"parentid": wing_id}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let asset = app
        .asset(json!({
            "assetnumber": "EDGE-1", "name": "Prüfstand \"Ω\"\nzweite Zeile", "locationid": hall_id,
            "serialnumber": null, "notes": "tab\there, backslash \\ and 'quotes'", "mapx": 2.5e-7, "mapy": 33.333333333333336
        }))
        .await;
    assert!(asset["serialnumber"].is_null());
    let printer = app
        .post("/api/printers", json!({"assetnumber": "EDGE-PRN", "hostname": "edge-prn", "color": true, "duplex": false}))
        .await;
    assert_eq!(printer.status, StatusCode::CREATED, "{}", printer.body);
    let machine = app
        .post("/api/equipment", json!({"assetnumber": "EDGE-CNC", "machinenumber": "M-Ω-1", "installdate": "2024-02-29"}))
        .await;
    assert_eq!(machine.status, StatusCode::CREATED, "{}", machine.body);
    shopdb_core::settings::set_setting(app.db(), "computers", "staledays", "14", "tests")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_database_moved_sqlite_mariadb_postgres_sqlite_keeps_every_row() {
    let Some(source) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    for p in ALL {
        let r = source
            .post(&format!("/api/plugins/{p}/install"), json!({}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{p}: {}", r.body);
    }
    shopdb::demo::seed(&source.state, 120)
        .await
        .expect("demo data");
    add_edge_values(&source).await;
    let tables = source.state.tables.clone();
    let expected = contents(source.db(), &tables).await;
    for (table, rows) in &expected {
        if [
            "assets",
            "floorplans",
            "locations",
            "auditlog",
            "searchindex",
            "settings",
            "plugins",
        ]
        .contains(&table.as_str())
            || ALL.contains(&table.as_str())
        {
            assert!(!rows.is_empty(), "the source has rows in {table}");
        }
    }

    let scratch = Scratch::new();
    let mut file = scratch.file("sqlite.zip");
    let summary = take_backup(&source, &file).await;
    assert_eq!(
        summary.tables,
        tables.len(),
        "every table is in the archive"
    );
    drop(source);
    for backend in [Backend::MySql, Backend::Postgres, Backend::Sqlite] {
        let Some(target) = restore_into(backend, &file).await else {
            return;
        };
        let db = Db::connect(&target.url).await.unwrap();
        let found = contents(&db, &tables).await;
        for ((table, want), (_, got)) in expected.iter().zip(&found) {
            assert_eq!(got, want, "{backend:?}: table {table} differs");
        }
        // The next hop starts from this database as restored.
        file = scratch.file(&format!("{backend:?}.zip"));
        backup::backup(&db, &shopdb::app::registry(), &file, &Progress::silent())
            .await
            .expect("backup of the restored database");
        db.close().await;
        // The restored database works: search finds the restored records, and new rows get
        // ids after the restored ones.
        let moved = TestApp::on(target).await;
        let hits = moved.get("/api/search?q=Pr%C3%BCfstand").await;
        assert!(
            hits.body.to_string().contains("EDGE-1"),
            "{backend:?}: {}",
            hits.body
        );
        let before_max: i64 = moved
            .db()
            .query("SELECT MAX(assetid) FROM assets")
            .fetch_one(moved.db().pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        let fresh = moved
            .asset(json!({"assetnumber": format!("NEW-{backend:?}")}))
            .await;
        assert!(
            fresh["assetid"].as_i64().unwrap() > before_max,
            "{backend:?}: {fresh}"
        );
        let location = moved
            .post("/api/locations", json!({"name": "after restore"}))
            .await;
        assert_eq!(
            location.status,
            StatusCode::CREATED,
            "{backend:?}: {}",
            location.body
        );
    }
}

/// Rewrites `file` with `line` added to the rows of `table`.
fn damage(file: &Path, table: &str, line: &str) -> PathBuf {
    let damaged = file.with_extension("damaged.zip");
    let mut archive = zip::ZipArchive::new(std::fs::File::open(file).unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(&damaged).unwrap());
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if name == format!("tables/{table}.jsonl") {
            bytes.extend_from_slice(line.as_bytes());
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap();
    damaged
}

/// The rows of `table` in the archive, as JSON arrays, with the manifest.
fn archive_rows(file: &Path, table: &str) -> (Manifest, Vec<Vec<Value>>) {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(file).unwrap()).unwrap();
    let manifest: Manifest =
        serde_json::from_reader(archive.by_name("manifest.json").unwrap()).unwrap();
    let entry = archive.by_name(&format!("tables/{table}.jsonl")).unwrap();
    let rows = std::io::BufReader::new(entry)
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    (manifest, rows)
}

fn column(manifest: &Manifest, table: &str, name: &str) -> usize {
    let t = manifest.tables.iter().find(|t| t.name == table).unwrap();
    t.columns.iter().position(|c| c.name == name).unwrap()
}

backend_tests! {
    async fn restore_refuses_a_database_that_is_not_empty_and_undoes_a_failed_load(app) {
        app.asset(json!({"assetnumber": "KEEP-1"})).await;
        let scratch = Scratch::new();
        let file = scratch.file("own.zip");
        take_backup(&app, &file).await;
        let before = app.count("assets").await;
        let refused = backup::restore(app.db(), &app.state.registry, &file, &Progress::silent()).await;
        let message = format!("{:#}", refused.expect_err("a database with tables is refused"));
        assert!(message.contains("restore needs an empty database"), "{message}");
        assert!(!message.contains('\n'), "one line: {message}");
        assert_eq!(app.count("assets").await, before, "nothing changed");

        // A damaged archive (a row of the wrong shape in the middle of the load) leaves the
        // target without a single table.
        let damaged = damage(&file, "assets", "[\"not\", \"an\", \"asset\"]\n");
        let target = Throwaway::create(app.backend).await.unwrap();
        let db = Db::connect(&target.url).await.unwrap();
        let failed = backup::restore(&db, &shopdb::app::registry(), &damaged, &Progress::silent()).await;
        let message = format!("{:#}", failed.expect_err("a damaged archive fails"));
        assert!(message.contains("table assets") && message.contains("empty again"), "{message}");
        for table in ["schemamigrations", "assets", "users", "statuses"] {
            assert!(shopdb_core::schema::live_columns(&db, table).await.unwrap().is_empty(), "{table} was dropped");
        }
        // The same archive, undamaged, then restores into that database.
        backup::restore(&db, &shopdb::app::registry(), &file, &Progress::silent()).await.expect("restore after a failed one");
        db.close().await;
        drop(target);

        // An existing file is never overwritten.
        let again = backup::backup(app.db(), &app.state.registry, &file, &Progress::silent()).await;
        assert!(format!("{:#}", again.expect_err("file exists")).contains("exists already"));
    }

    async fn floor_plans_of_megabytes_come_back_whole(app) {
        // Three 9 MB images: two of them are more than MySQL takes in one statement (16 MB).
        let mut sums = Vec::new();
        for n in 0..3u64 {
            let location = app.post("/api/locations", json!({"name": format!("Hall {n}")})).await;
            let id = location.data()["locationid"].as_i64().unwrap();
            let mut image = b"\x89PNG\r\n\x1a\n".to_vec();
            let mut x = 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(n + 1);
            image.extend((0..9 << 20).map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            }));
            sums.push((id, shopdb_core::util::sha256_hex(&image)));
            assert!(shopdb_core::floorplan::store(app.db(), &Actor::system("tests"), id, "image/png", image).await.unwrap());
        }
        let scratch = Scratch::new();
        let file = scratch.file("plans.zip");
        take_backup(&app, &file).await;
        let target = Throwaway::create(app.backend).await.unwrap();
        let db = Db::connect(&target.url).await.unwrap();
        backup::restore(&db, &shopdb::app::registry(), &file, &Progress::silent()).await.expect("restore");
        for (id, sum) in sums {
            let (kind, image) = shopdb_core::floorplan::load(&db, id).await.unwrap().expect("plan restored");
            assert_eq!((kind.as_str(), shopdb_core::util::sha256_hex(&image)), ("image/png", sum), "location {id}");
        }
        db.close().await;
    }

    async fn a_backup_taken_while_assets_are_written_shows_one_moment(app) {
        shopdb::demo::seed(&app.state, 300).await.expect("demo data");
        let state = app.state.clone();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop_writer = stop.clone();
        let writer = tokio::spawn(async move {
            let assets = state.resource("assets");
            let actor = Actor::system("writer");
            let mut n = 0;
            while !stop_writer.load(std::sync::atomic::Ordering::Relaxed) {
                let body = json!({"assetnumber": format!("W-{n}"), "name": format!("written {n}"), "assettypeid": 1, "statusid": 1});
                assets.create(&state.db, &actor, body.as_object().unwrap()).await.expect("write");
                n += 1;
            }
            n
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let scratch = Scratch::new();
        let file = scratch.file("busy.zip");
        take_backup(&app, &file).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let written = writer.await.unwrap();
        let (manifest, assets) = archive_rows(&file, "assets");
        let in_archive = assets.len() as i64;
        assert!(written > 0 && app.count("assets").await > in_archive, "writes went on during the backup");

        // Every asset the archive holds has its audit entry and search entry, and no entry
        // speaks of an asset the archive lacks: each write is in it whole or not at all.
        let id = column(&manifest, "assets", "assetid");
        let ids: BTreeSet<i64> = assets.iter().map(|r| r[id].as_i64().unwrap()).collect();
        let (_, audit) = archive_rows(&file, "auditlog");
        let (etype, eid, action) = (column(&manifest, "auditlog", "entitytype"), column(&manifest, "auditlog", "entityid"), column(&manifest, "auditlog", "action"));
        let created: BTreeSet<i64> = audit.iter()
            .filter(|r| r[etype] == "asset" && r[action] == "created")
            .map(|r| r[eid].as_i64().unwrap())
            .collect();
        assert!(created.len() >= 300, "audit entries of created assets: {}", created.len());
        let (_, search) = archive_rows(&file, "searchindex");
        let (stype, sid) = (column(&manifest, "searchindex", "entitytype"), column(&manifest, "searchindex", "entityid"));
        let indexed: BTreeSet<i64> = search.iter()
            .filter(|r| r[stype] == "asset")
            .map(|r| r[sid].as_i64().unwrap())
            .collect();
        let written_ids: BTreeSet<i64> = ids.iter().copied().filter(|i| created.contains(i)).collect();
        assert_eq!(created, written_ids, "audit entries of assets not in the archive");
        assert!(indexed.len() >= 75, "search entries of plain assets: {}", indexed.len());
        let plain: BTreeSet<i64> = ids.iter().copied().filter(|i| indexed.contains(i)).collect();
        assert_eq!(indexed, plain, "search entries of assets not in the archive");
        let last = app.count("assets").await;
        assert!(ids.len() as i64 == in_archive && in_archive < last);
        assert_eq!(manifest.tables.iter().find(|t| t.name == "assets").unwrap().rows, in_archive as u64);
    }

    async fn a_plugin_comes_back_from_its_uninstall_backup_with_the_same_ids(app) {
        let r = app.post("/api/plugins/computers/install", json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let mut ids = Vec::new();
        for (n, host) in ["lathe-pc-Ä", "mill-pc"].iter().enumerate() {
            let pc = app.post("/api/computers", json!({"assetnumber": format!("PC-{n}"), "hostname": host, "osname": "Windows 10 IoT", "macaddress": "00:1A:2B:3C:4D:5E"})).await;
            assert_eq!(pc.status, StatusCode::CREATED, "{}", pc.body);
            ids.push(pc.data()["assetid"].as_i64().unwrap());
        }
        let mut before = Vec::new();
        for id in &ids {
            before.push(app.get(&format!("/api/computers/{id}")).await.data().clone());
        }
        let scratch = Scratch::new();
        let dir = scratch.file("uninstalled");
        let done = shopdb_core::plugin::lifecycle::uninstall(app.db(), &app.state.registry, &Actor::system("tests"), "computers", false, &dir).await.unwrap();
        let file = done.backup.expect("uninstall wrote a backup");

        // A backup of another major version does not fit.
        let mut other: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        other["version"] = json!("2.0.0");
        let misfit = dir.with_file_name("v2.json");
        std::fs::write(&misfit, other.to_string()).unwrap();
        let refused = shopdb_core::plugin::restore::restore_plugin(app.db(), &app.state.registry, &Actor::system("tests"), &misfit).await;
        assert!(format!("{:#}", refused.expect_err("v2 refused")).contains("does not fit"));
        assert_eq!(shopdb_core::plugin::lifecycle::installed(app.db()).await.unwrap().get("computers"), None, "nothing was installed");

        let restored = shopdb_core::plugin::restore::restore_plugin(app.db(), &app.state.registry, &Actor::system("tests"), &file).await.expect("plugin restore");
        assert_eq!((restored.rows, restored.installed), (2, true));
        app.state.plugin_states.invalidate();
        for (id, was) in ids.iter().zip(&before) {
            let now = app.get(&format!("/api/computers/{id}")).await;
            assert_eq!(now.status, StatusCode::OK, "{}", now.body);
            assert_eq!(now.data(), was, "computer {id} is back as it was");
        }
        let hits = app.get("/api/search?q=mill-pc").await;
        assert!(hits.body.to_string().contains("/computers/"), "search finds the restored record: {}", hits.body);
        let fresh = app.post("/api/computers", json!({"assetnumber": "PC-NEW", "hostname": "new-pc"})).await;
        assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.body);

        // Now the plugin has rows: a second restore is refused and changes nothing.
        let again = shopdb_core::plugin::restore::restore_plugin(app.db(), &app.state.registry, &Actor::system("tests"), &file).await;
        assert!(format!("{:#}", again.expect_err("has rows")).contains("has 3 rows in computers"));
        assert_eq!(app.count("computers").await, 3);
    }
}
