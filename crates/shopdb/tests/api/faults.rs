//! Faults from outside, with the real binary: a server killed (SIGKILL) in the middle of
//! collector batches, and several server processes on one database under concurrent edits and
//! pushes. What must hold afterwards is read from the database itself.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shopdb_core::db::Db;
use sqlx::Row;

use crate::support::{Backend, Throwaway};

const SECRET: &str = "faults-test-signing-key-of-at-least-32-bytes";
/// Records per collector batch: a batch is one transaction, so the table only ever grows by
/// whole batches.
const BATCH: usize = 50;

/// A throwaway database with the computers plugin, an admin and a collector token.
struct Site {
    db: Throwaway,
    dir: std::path::PathBuf,
    collector: String,
}

fn shopdb(site_dir: &std::path::Path, url: &str, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shopdb"))
        .current_dir(site_dir)
        .args(args)
        .env("DATABASE_URL", url)
        .env("SECRET_KEY", SECRET)
        .env("SHOPDB_ENV", "development")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("shopdb runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "shopdb {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Site {
    fn new(backend: Backend) -> Option<Site> {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let db = rt.block_on(Throwaway::create(backend))?;
        let dir = std::env::temp_dir().join(format!(
            "shopdb-faults-{}",
            shopdb_core::util::random_token(6).to_lowercase()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        shopdb(&dir, &db.url, &["plugin", "install", "computers"], None);
        shopdb(
            &dir,
            &db.url,
            &[
                "user",
                "create",
                "ops",
                "--role",
                "admin",
                "--password-stdin",
            ],
            Some("a long ops password\n"),
        );
        let collector = shopdb(
            &dir,
            &db.url,
            &[
                "token",
                "create",
                "--name",
                "inventory",
                "--plugin",
                "computers",
            ],
            None,
        );
        Some(Site { db, dir, collector })
    }

    fn serve(&self) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = self.dir.join(format!("server-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_shopdb"))
            .current_dir(&self.dir)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", &self.db.url)
            .env("SECRET_KEY", SECRET)
            .env("SHOPDB_ENV", "development")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while http(port, "GET", "/api/health", None, None).0 != 200 {
            assert!(
                Instant::now() < deadline,
                "server never became healthy: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    fn login(&self, port: u16) -> String {
        let (status, body) = http(
            port,
            "POST",
            "/api/auth/login",
            None,
            Some(&json!({"username": "ops", "password": "a long ops password"})),
        );
        assert_eq!(status, 200, "{body}");
        body["data"]["token"].as_str().unwrap().to_string()
    }

    async fn database(&self) -> Db {
        Db::connect(&self.db.url).await.unwrap()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// SIGKILL: no shutdown, no flush, open transactions cut off.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request; status 0 when the connection failed or was cut.
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, Value::Null);
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, Value::Null);
    }
    let mut answer = String::new();
    if stream.read_to_string(&mut answer).is_err() {
        return (0, Value::Null);
    }
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let json = answer
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

fn batch(first: usize) -> Value {
    let records: Vec<Value> = (first..first + BATCH)
        .map(|n| {
            json!({"hostname": format!("WJ-PC-{n:06}"), "serialnumber": format!("SN{n:08}"),
                   "macaddress": format!("00:1a:2b:{:02x}:{:02x}:{:02x}", n >> 16 & 255, n >> 8 & 255, n & 255),
                   "osname": "Windows 11 Enterprise", "currentuser": format!("user{}", n % 97)})
        })
        .collect();
    json!({"records": records})
}

async fn count(db: &Db, sql: &str) -> i64 {
    db.query(sql).fetch_one(db.pool()).await.unwrap().get(0)
}

/// Every PC is whole — its asset, its creation audit entry, its search entry — and the tables
/// grew by whole batches only.
async fn every_record_is_whole_or_absent(db: &Db) -> i64 {
    let computers = count(db, "SELECT COUNT(*) FROM computers").await;
    assert_eq!(
        computers % BATCH as i64,
        0,
        "{computers} PCs: a batch was cut in half"
    );
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM assets").await,
        computers,
        "assets without their PC row"
    );
    let orphans = [
        "SELECT COUNT(*) FROM computers c WHERE NOT EXISTS \
         (SELECT 1 FROM assets a WHERE a.assetid = c.assetid)",
        "SELECT COUNT(*) FROM computers c WHERE NOT EXISTS (SELECT 1 FROM auditlog l \
         WHERE l.entitytype = 'asset' AND l.entityid = c.assetid AND l.action = 'created')",
        "SELECT COUNT(*) FROM computers c WHERE NOT EXISTS \
         (SELECT 1 FROM searchindex s WHERE s.assetid = c.assetid)",
    ];
    for sql in orphans {
        assert_eq!(count(db, sql).await, 0, "{sql}");
    }
    let audits = count(
        db,
        "SELECT COUNT(*) FROM auditlog WHERE entitytype = 'asset' AND action = 'created'",
    )
    .await;
    assert_eq!(
        audits, computers,
        "a creation audit entry without its record"
    );
    computers
}

/// Waits (up to 30 s) until the killed server's sessions are gone from a database server: a
/// COMMIT it sent just before the kill may still be landing, and counting tables while it
/// does would see part of the database before it and part after.
async fn sessions_ended(db: &Db, backend: Backend) {
    let sql = match backend {
        Backend::Sqlite => return,
        Backend::Postgres => {
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        }
        Backend::MySql => {
            "SELECT COUNT(*) FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()"
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(db, sql).await > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The database's own check of its files, where it has one.
async fn integrity(db: &Db, backend: Backend) {
    match backend {
        Backend::Sqlite => {
            let row = db
                .query("PRAGMA integrity_check")
                .fetch_one(db.pool())
                .await
                .unwrap();
            assert_eq!(row.get::<String, _>(0), "ok");
        }
        Backend::MySql => {
            let rows = db
                .query("CHECK TABLE assets, computers, auditlog, searchindex")
                .fetch_all(db.pool())
                .await
                .unwrap();
            for row in rows {
                let (table, kind, text): (String, String, String) =
                    (row.get(0), row.get(2), row.get(3));
                assert!(
                    kind != "error" && (text == "OK" || kind == "note"),
                    "{table}: {kind} {text}"
                );
            }
        }
        // PostgreSQL has no file check of its own; its WAL makes a kill a crash it recovers
        // from, and the record checks above say whether the data is whole.
        Backend::Postgres => {}
    }
}

fn kill_during_collector_batches(backend: Backend) {
    let Some(site) = Site::new(backend) else {
        return;
    };
    let server = site.serve();
    let port = server.port;
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let pushers: Vec<_> = (0..2)
        .map(|k| {
            let (stop, sent, token) = (stop.clone(), sent.clone(), site.collector.clone());
            std::thread::spawn(move || {
                let mut n = k * 1_000_000;
                while !stop.load(Ordering::Relaxed) {
                    let (status, _) = http(
                        port,
                        "POST",
                        "/api/collector/computers",
                        Some(&token),
                        Some(&batch(n)),
                    );
                    if status == 0 {
                        break;
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                    n += BATCH;
                }
            })
        })
        .collect();
    // Let some batches land, then cut the server off while others are being written.
    let deadline = Instant::now() + Duration::from_secs(60);
    while sent.load(Ordering::Relaxed) < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(150));
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for p in pushers {
        p.join().unwrap();
    }

    let rt = tokio::runtime::Runtime::new().unwrap();
    let (before, stored) = rt.block_on(async {
        let db = site.database().await;
        sessions_ended(&db, backend).await;
        integrity(&db, backend).await;
        let whole = every_record_is_whole_or_absent(&db).await;
        let host: String = db
            .query("SELECT MIN(hostname) FROM computers")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get(0);
        (whole, host)
    });
    // The batch that PC came in with: batches are whole, so all of it is stored.
    let number: usize = stored.trim_start_matches("WJ-PC-").parse().unwrap();
    let stored_batch = number - number % BATCH;
    assert!(
        before >= (4 * BATCH) as i64,
        "batches answered before the kill are kept: {before}"
    );

    // A new server takes over: the same PCs again are no new records, new ones are added.
    let server = site.serve();
    let (status, body) = http(
        server.port,
        "POST",
        "/api/collector/computers",
        Some(&site.collector),
        Some(&batch(stored_batch)),
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body["data"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] != "created"),
        "{body}"
    );
    let (status, _) = http(
        server.port,
        "POST",
        "/api/collector/computers",
        Some(&site.collector),
        Some(&batch(5_000_000)),
    );
    assert_eq!(status, 200);
    let after =
        rt.block_on(async { every_record_is_whole_or_absent(&site.database().await).await });
    assert_eq!(after, before + BATCH as i64);
}

#[test]
fn killed_during_collector_batches_sqlite() {
    kill_during_collector_batches(Backend::Sqlite);
}

#[test]
fn killed_during_collector_batches_mysql() {
    kill_during_collector_batches(Backend::MySql);
}

#[test]
fn killed_during_collector_batches_postgres() {
    kill_during_collector_batches(Backend::Postgres);
}

/// Three server processes on one database: technicians editing the same PC through different
/// processes, and collectors pushing the same PCs through all of them.
fn several_processes(backend: Backend) {
    let Some(site) = Site::new(backend) else {
        return;
    };
    let servers: Vec<Server> = (0..3).map(|_| site.serve()).collect();
    let token = site.login(servers[0].port);
    let (status, created) = http(
        servers[0].port,
        "POST",
        "/api/computers",
        Some(&token),
        Some(&json!({"assetnumber": "PC-SHARED", "hostname": "WJ-PC-SHARED"})),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["assetid"].as_i64().unwrap();
    let version = created["data"]["version"].as_i64().unwrap();

    // Each process saves an edit made on the same version: exactly one wins, the others are
    // told the record changed (409), and the one saved is what the record says.
    let ports: Vec<u16> = servers.iter().map(|s| s.port).collect();
    let edits: Vec<_> = ports
        .iter()
        .enumerate()
        .map(|(i, &port)| {
            let token = token.clone();
            std::thread::spawn(move || {
                let body =
                    json!({"notes": format!("edited through process {i}"), "version": version});
                (
                    i,
                    http(
                        port,
                        "PUT",
                        &format!("/api/computers/{id}"),
                        Some(&token),
                        Some(&body),
                    )
                    .0,
                )
            })
        })
        .collect();
    let results: Vec<(usize, u16)> = edits.into_iter().map(|e| e.join().unwrap()).collect();
    let winners: Vec<usize> = results
        .iter()
        .filter(|(_, s)| *s == 200)
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results.iter().all(|(_, s)| *s == 200 || *s == 409),
        "{results:?}"
    );
    let (_, now) = http(
        ports[2],
        "GET",
        &format!("/api/computers/{id}"),
        Some(&token),
        None,
    );
    assert_eq!(
        now["data"]["notes"],
        format!("edited through process {}", winners[0])
    );
    assert_eq!(now["data"]["version"], version + 1);

    // The same 100 PCs pushed through all three processes at once, twice: 100 records.
    let pushes: Vec<_> = ports
        .iter()
        .flat_map(|&port| [(port, 0usize), (port, 50)])
        .map(|(port, first)| {
            let collector = site.collector.clone();
            std::thread::spawn(move || {
                for _ in 0..2 {
                    let (status, body) = http(
                        port,
                        "POST",
                        "/api/collector/computers",
                        Some(&collector),
                        Some(&batch(first)),
                    );
                    assert_eq!(status, 200, "{body}");
                }
            })
        })
        .collect();
    for p in pushes {
        p.join().unwrap();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = site.database().await;
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM computers WHERE hostname LIKE 'WJ-PC-0%'"
            )
            .await,
            100
        );
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM auditlog WHERE entitytype = 'asset' AND action = 'created'"
            )
            .await,
            101
        );
    });
}

#[test]
fn several_processes_on_one_database_sqlite() {
    several_processes(Backend::Sqlite);
}

#[test]
fn several_processes_on_one_database_mysql() {
    several_processes(Backend::MySql);
}

#[test]
fn several_processes_on_one_database_postgres() {
    several_processes(Backend::Postgres);
}

/// `shopdb import` of 10,000 PCs killed (SIGKILL) while it writes: every PC is whole or
/// absent, and the same file imported again brings every one in, once.
fn kill_during_an_import(backend: Backend) {
    let Some(site) = Site::new(backend) else {
        return;
    };
    let rows = 10_000;
    let mut csv = String::from("assetnumber,hostname,serialnumber,osname\n");
    for n in 0..rows {
        csv.push_str(&format!(
            "IMP-{n:06},WJ-IMP-{n:06},SN{n:08},Windows 11 Enterprise\n"
        ));
    }
    let file = site.dir.join("pcs.csv");
    std::fs::write(&file, csv).unwrap();
    let import = |dir: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_shopdb"))
            .current_dir(dir)
            .args(["import", "computers", "pcs.csv", "--key", "hostname"])
            .env("DATABASE_URL", &site.db.url)
            .env("SECRET_KEY", SECRET)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut running = import(&site.dir);
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Cut it off once it has written something (or after 20 s, whatever it has done).
    let deadline = Instant::now() + Duration::from_secs(20);
    rt.block_on(async {
        let db = site.database().await;
        while count(&db, "SELECT COUNT(*) FROM computers").await == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    running.kill().unwrap();
    running.wait().unwrap();
    let cut = rt.block_on(async {
        let db = site.database().await;
        integrity(&db, backend).await;
        every_record_is_whole_or_absent(&db).await
    });
    assert!(cut <= rows, "{cut}");

    let status = import(&site.dir).wait().unwrap();
    assert!(status.success(), "the second import of the same file fails");
    let after =
        rt.block_on(async { every_record_is_whole_or_absent(&site.database().await).await });
    assert_eq!(
        after, rows,
        "every PC once, whatever the first import had written"
    );
}

#[test]
fn killed_during_an_import_sqlite() {
    kill_during_an_import(Backend::Sqlite);
}

#[test]
fn killed_during_an_import_mysql() {
    kill_during_an_import(Backend::MySql);
}

#[test]
fn killed_during_an_import_postgres() {
    kill_during_an_import(Backend::Postgres);
}
