//! Boots the real application (the same `app::start` that `shopdb serve` uses) on a throwaway
//! database of each backend, and sends requests to it in-process.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use shopdb::app;
use shopdb_core::auth::{Actor, Role};
use shopdb_core::config::Config;
use shopdb_core::db::{Db, Dialect, SqlValue};
use shopdb_core::state::AppState;
use sqlx::{AnyConnection, Connection, Executor, Row};
use tower::ServiceExt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    MySql,
    Postgres,
}

fn server_url(backend: Backend) -> String {
    match backend {
        Backend::Sqlite => String::new(),
        Backend::MySql => std::env::var("SHOPDB_TEST_MYSQL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into()),
        Backend::Postgres => std::env::var("SHOPDB_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into()),
    }
}

/// In CI every backend must be there; elsewhere a missing server skips its tests.
fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
        || std::env::var("SHOPDB_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// A throwaway database, dropped when the guard goes.
pub struct Throwaway {
    pub backend: Backend,
    pub url: String,
    name: String,
    dir: Option<std::path::PathBuf>,
}

impl Throwaway {
    pub async fn create(backend: Backend) -> Option<Throwaway> {
        sqlx::any::install_default_drivers();
        let name = format!(
            "shopdbtest_{}",
            shopdb_core::util::random_token(9)
                .to_lowercase()
                .replace(['-', '_'], "x")
        );
        if backend == Backend::Sqlite {
            let dir = std::env::temp_dir().join(&name);
            std::fs::create_dir_all(&dir).expect("temp dir");
            return Some(Throwaway {
                backend,
                url: format!("sqlite://{}/test.sqlite", dir.display()),
                name,
                dir: Some(dir),
            });
        }
        let server = server_url(backend);
        let admin_db = if backend == Backend::MySql {
            "mysql"
        } else {
            "postgres"
        };
        let mut conn = match AnyConnection::connect(&format!("{server}/{admin_db}")).await {
            Ok(c) => c,
            Err(e) if !required() => {
                eprintln!(
                    "skipping {backend:?} test: {server} unreachable ({e}); set CI=1 to make this fail"
                );
                return None;
            }
            Err(e) => panic!("{backend:?} at {server} is unreachable and CI requires it: {e}"),
        };
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create test database");
        let _ = conn.close().await;
        Some(Throwaway {
            backend,
            url: format!("{server}/{name}"),
            name,
            dir: None,
        })
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
            return;
        }
        let (backend, name) = (self.backend, self.name.clone());
        let server = server_url(backend);
        // Drop runs outside async; a small runtime on its own thread removes the database.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let admin_db = if backend == Backend::MySql {
                    "mysql"
                } else {
                    "postgres"
                };
                if let Ok(mut conn) = AnyConnection::connect(&format!("{server}/{admin_db}")).await
                {
                    if backend == Backend::MySql {
                        // A test that panicked may leave pool connections holding locks.
                        use sqlx::Row;
                        let ids = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "SELECT id FROM information_schema.processlist WHERE db = '{name}'"
                        )))
                        .fetch_all(&mut conn)
                        .await
                        .unwrap_or_default();
                        for row in ids {
                            if let Ok(id) = row.try_get::<i64, _>(0) {
                                let _ = conn
                                    .execute(sqlx::AssertSqlSafe(format!("KILL {id}")))
                                    .await;
                            }
                        }
                    }
                    let sql = if backend == Backend::Postgres {
                        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                    } else {
                        format!("DROP DATABASE IF EXISTS {name}")
                    };
                    let _ = conn.execute(sqlx::AssertSqlSafe(sql)).await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// A response: status, parsed JSON body and headers.
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
    /// The body as sent (a file download).
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
}

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub backend: Backend,
    /// An admin's Bearer token.
    pub admin: String,
    // Declared last: the pool closes before the database is dropped.
    _db: Arc<Throwaway>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        static LOGS: std::sync::Once = std::sync::Once::new();
        // Server errors are logged, not answered; show them in a failing test's output.
        LOGS.call_once(|| {
            let _ = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::WARN)
                .with_test_writer()
                .try_init();
        });
        let throwaway = Throwaway::create(backend).await?;
        Some(TestApp::boot(throwaway, "testadmin").await)
    }

    /// The app on `throwaway` as it is (a restored database, say), logged in as a new admin
    /// named `restoreadmin…`.
    pub async fn on(throwaway: Throwaway) -> TestApp {
        let admin = format!(
            "restoreadmin{}",
            shopdb_core::util::random_token(6)
                .to_lowercase()
                .replace(['-', '_'], "x")
        );
        TestApp::boot(throwaway, &admin).await
    }

    async fn boot(throwaway: Throwaway, admin: &str) -> TestApp {
        let backend = throwaway.backend;
        let config = Config::for_database(&throwaway.url);
        let app = app::start(config)
            .await
            .expect("app starts on a fresh database");
        let mut test = TestApp {
            router: app.router,
            state: app.state,
            backend,
            admin: String::new(),
            _db: Arc::new(throwaway),
        };
        test.admin = test.login_as(admin, Role::Admin).await;
        test
    }

    /// Another server on the same database with `plugins` (a second process, in effect).
    pub async fn with_plugins(
        &self,
        plugins: Vec<shopdb_core::plugin::registry::Candidate>,
    ) -> TestApp {
        let config = Config::for_database(self.url());
        let app = app::start_with(config, plugins)
            .await
            .expect("app with plugins");
        TestApp {
            router: app.router,
            state: app.state,
            backend: self.backend,
            admin: self.admin.clone(),
            _db: self._db.clone(),
        }
    }

    /// Another server on the same database with the bundled plugins and the folder plugins
    /// in `dir` (a second process, in effect).
    pub async fn with_plugin_dir(&self, dir: &std::path::Path) -> TestApp {
        let mut config = Config::for_database(&self._db.url);
        config.plugin_dir = dir.to_path_buf();
        let app = app::start(config).await.expect("app with a plugin folder");
        TestApp {
            router: app.router,
            state: app.state,
            backend: self.backend,
            admin: self.admin.clone(),
            _db: self._db.clone(),
        }
    }

    /// Sends raw bytes with the admin's token.
    pub async fn post_bytes(&self, path: &str, token: &str, bytes: Vec<u8>) -> Reply {
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/zip")
            .body(Body::from(bytes))
            .expect("request");
        self.send(req).await
    }

    /// The URL of the app's database.
    pub fn url(&self) -> &str {
        &self._db.url
    }

    pub fn db(&self) -> &Db {
        &self.state.db
    }

    /// Creates a user with `role` and returns a Bearer token for it.
    pub async fn login_as(&self, name: &str, role: Role) -> String {
        let password = "a long test password";
        shopdb_core::users::create_user(self.db(), &Actor::system("tests"), name, role, password)
            .await
            .expect("create user");
        let reply = self
            .call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(serde_json::json!({"username": name, "password": password})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "login failed: {}", reply.body);
        reply.data()["token"].as_str().expect("token").to_string()
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            body,
            headers,
            bytes: bytes.to_vec(),
        }
    }

    /// Sends a request with an optional Bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        self.send(req).await
    }

    /// Posts `file` (named `filename`) and the text `fields` as multipart/form-data.
    pub async fn upload(
        &self,
        path: &str,
        token: &str,
        filename: &str,
        file: &[u8],
        fields: &[(&str, &str)],
    ) -> Reply {
        let boundary = "shopdbtestboundary7MA4YWxk";
        let mut body: Vec<u8> = Vec::new();
        for (name, value) in fields {
            body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
        }
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
        body.extend_from_slice(file);
        body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .expect("request");
        self.send(req).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, Some(&self.admin.clone()), None)
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(&self.admin.clone()), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(&self.admin.clone()), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, Some(&self.admin.clone()), None)
            .await
    }

    /// Runs a COUNT(*) query.
    pub async fn count(&self, table: &str) -> i64 {
        use sqlx::Row;
        self.db()
            .query(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(self.db().pool())
            .await
            .expect("count")
            .try_get(0)
            .expect("count value")
    }

    /// Creates an asset and returns it (asserting 201).
    pub async fn asset(&self, body: Value) -> Value {
        let mut body = body;
        if body.get("assettypeid").is_none() {
            body["assettypeid"] = serde_json::json!(1);
        }
        let reply = self.post("/api/assets", body).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "create asset: {}",
            reply.body
        );
        reply.data().clone()
    }
}

/// A stored-form timestamp `hours` from now (negative: in the past).
/// How the database would run `sql` (with `binds` as text values): one line per step.
pub async fn plan(app: &TestApp, sql: &str, binds: &[&str]) -> Vec<String> {
    let values: Vec<SqlValue> = binds.iter().map(|b| SqlValue::text(*b)).collect();
    plan_with(app, sql, &values).await
}

/// `plan` with values of any kind.
pub async fn plan_with(app: &TestApp, sql: &str, values: &[SqlValue]) -> Vec<String> {
    let db = app.db();
    let mut conn = db.pool().acquire().await.unwrap();
    let explain = match db.dialect() {
        Dialect::Sqlite => format!("EXPLAIN QUERY PLAN {sql}"),
        Dialect::MySql | Dialect::Postgres => format!("EXPLAIN {sql}"),
    };
    if db.dialect() == Dialect::Postgres {
        // With sequential scans priced out, a plan that still has one has no index to use
        // (a table this small would otherwise be read whole whatever its indexes).
        conn.execute("SET enable_seqscan = off").await.unwrap();
    }
    let rows = db
        .query_with(&explain, values)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    if db.dialect() == Dialect::Postgres {
        conn.execute("RESET enable_seqscan").await.unwrap();
    }
    rows.iter()
        .map(|r| match db.dialect() {
            Dialect::Sqlite => r.try_get::<String, _>(3).unwrap(),
            Dialect::Postgres => r.try_get::<String, _>(0).unwrap(),
            // table, access type, key, extra (filesort, temporary …)
            Dialect::MySql => format!(
                "table={} type={} key={} extra={}",
                text_at(r, 2),
                text_at(r, 3),
                text_at(r, 5),
                text_at(r, 9)
            ),
        })
        .collect()
}

fn text_at(row: &sqlx::any::AnyRow, i: usize) -> String {
    row.try_get::<Option<String>, _>(i)
        .ok()
        .flatten()
        .or_else(|| {
            row.try_get::<Option<Vec<u8>>, _>(i)
                .ok()
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        })
        .unwrap_or_else(|| "NULL".into())
}

/// True when no step of the plan reads a whole table. Reading what an earlier step found (a
/// subquery's rows, SQLite's full-text index asked for a term) is not reading a table.
pub fn uses_indexes(dialect: Dialect, plan: &[String]) -> bool {
    plan.iter().all(|step| match dialect {
        Dialect::Sqlite => {
            !step.starts_with("SCAN")
                || step.starts_with("SCAN (subquery")
                || step.contains("VIRTUAL TABLE INDEX")
        }
        Dialect::Postgres => !step.contains("Seq Scan"),
        Dialect::MySql => {
            step.starts_with("table=<")
                || (!step.contains("type=ALL") && !step.contains("key=NULL"))
        }
    })
}

pub fn hours_from_now(hours: i64) -> String {
    shopdb_core::util::format_timestamp(
        shopdb_core::time::OffsetDateTime::now_utc() + shopdb_core::time::Duration::hours(hours),
    )
}

/// Defines `mod NAME { sqlite, mysql, postgres }` tests that run the same body on each backend.
#[macro_export]
macro_rules! backend_tests {
    ($(async fn $name:ident($app:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                use $crate::support::{Backend, TestApp};

                async fn run($app: TestApp) $body

                #[tokio::test]
                async fn sqlite() {
                    if let Some(app) = TestApp::spawn(Backend::Sqlite).await { run(app).await }
                }
                #[tokio::test]
                async fn mysql() {
                    if let Some(app) = TestApp::spawn(Backend::MySql).await { run(app).await }
                }
                #[tokio::test]
                async fn postgres() {
                    if let Some(app) = TestApp::spawn(Backend::Postgres).await { run(app).await }
                }
            }
        )*
    };
}
