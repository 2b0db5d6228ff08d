//! End-to-end tests: headless Chromium (through chromedriver) against a real `shopdb serve` on
//! a throwaway SQLite database, doing what a user does and checking what they see.
//!
//! Needs `chromium` and `chromedriver` on PATH (or `CHROME_BIN` / `CHROMEDRIVER`). Without them
//! the tests are skipped with a message, except in CI (`CI` set), where that is a failure.
//! Screenshots of the main pages are written to `screenshots/` at the repository root.

mod stories;
mod webdriver;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

use webdriver::{Driver, Session};

/// The account the tests log in with (an admin, created before the server starts).
pub const USER: &str = "tester";
pub const PASSWORD: &str = "a long browser test password";

/// Every bundled plugin, installed before the server starts.
const PLUGINS: &[&str] = &[
    "computers",
    "usb",
    "equipment",
    "network",
    "printers",
    "notifications",
];

/// How long to wait for something to show on a page.
pub const WAIT: Duration = Duration::from_secs(10);

/// Put in every page before its own scripts: keeps uncaught errors, failed loads, rejected
/// promises, `console.error` calls and Content-Security-Policy violations in
/// `window.__shopdbErrors`.
const ERROR_COLLECTOR: &str = r#"
(() => {
  const errors = (window.__shopdbErrors = []);
  window.addEventListener("error", (e) => {
    const t = e.target;
    const what = e.message || (t && (t.src || t.href) ? "failed to load " + (t.src || t.href) : "error event");
    errors.push(what + (e.filename ? " (" + e.filename + ":" + e.lineno + ")" : ""));
  }, true);
  document.addEventListener("securitypolicyviolation", (e) => {
    errors.push("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline") + (e.sourceFile ? " (" + e.sourceFile + ":" + e.lineNumber + ")" : ""));
  });
  window.addEventListener("unhandledrejection", (e) => {
    errors.push("unhandled rejection: " + (e.reason && e.reason.message ? e.reason.message : String(e.reason)));
  });
  const consoleError = console.error;
  console.error = function (...args) {
    errors.push("console.error: " + args.map(String).join(" "));
    return consoleError.apply(this, args);
  };
})();
"#;

/// One browser test at a time: Chromium and the server share two cores with the build.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// In CI (`CI` set, not `false`) the browser tests must run; elsewhere they may be skipped.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

/// A child process killed (and reaped) when dropped.
struct Process(Child);

impl Process {
    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A program on PATH (or the path in `env`), the first of `names` found.
fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Where screenshots go: `screenshots/` at the repository root.
pub fn screenshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../screenshots")
        .join(format!("{name}.png"))
}

/// A `shopdb serve` and a chromedriver, both ended when this is dropped.
pub struct Harness {
    pub dir: PathBuf,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    port: u16,
    server: Process,
    chromedriver: Process,
    driver: Driver,
    chromium: Option<PathBuf>,
    /// Login token for seeding data through the API (no CSRF header needed with it).
    token: String,
    /// Set by [`Harness::finish`]; otherwise the directory with the logs is kept.
    passed: bool,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Harness {
    /// Starts everything for the test `name`; `None` (after saying why) when Chromium or
    /// chromedriver is missing outside CI.
    pub async fn start(name: &str) -> anyhow::Result<Option<Harness>> {
        let chromedriver = find_program("CHROMEDRIVER", &["chromedriver"]);
        let chromium = find_program(
            "CHROME_BIN",
            &[
                "chromium",
                "chromium-browser",
                "google-chrome",
                "google-chrome-stable",
            ],
        );
        let Some(chromedriver) = chromedriver.filter(|_| chromium.is_some()) else {
            let what =
                "chromium and chromedriver are needed (apt-get install chromium chromium-driver)";
            if in_ci() {
                bail!("{what}; CI is set, so this is a failure, not a skip");
            }
            eprintln!("skipping browser test {name}: {what}");
            return Ok(None);
        };
        let turn = ONE_AT_A_TIME.lock().await;
        let started = Instant::now();

        let dir =
            std::env::temp_dir().join(format!("shopdb-browser-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let database = format!("sqlite://{}/shopdb.sqlite", dir.display());

        let cli = |args: &[&str]| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_shopdb"));
            c.current_dir(&dir)
                .args(args)
                .env("DATABASE_URL", &database)
                .env_remove("SHOPDB_ENV")
                .env_remove("SECRET_KEY")
                .env_remove("COOKIE_SECURE")
                .env_remove("CORS_ORIGINS");
            c
        };
        let mut user = cli(&[
            "user",
            "create",
            USER,
            "--role",
            "admin",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("run shopdb user create")?;
        {
            use std::io::Write;
            let mut stdin = user.stdin.take().expect("stdin");
            writeln!(stdin, "{PASSWORD}")?;
        }
        let out = user.wait_with_output()?;
        ensure!(
            out.status.success(),
            "shopdb user create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for plugin in PLUGINS {
            let out = cli(&["plugin", "install", plugin]).output()?;
            ensure!(
                out.status.success(),
                "shopdb plugin install {plugin}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }

        let port = free_port();
        let server = Process(
            cli(&["serve", "--bind", &format!("127.0.0.1:{port}")])
                .stdout(std::fs::File::create(dir.join("server.out"))?)
                .stderr(std::fs::File::create(dir.join("server.log"))?)
                .spawn()
                .context("start shopdb serve")?,
        );
        let driver_port = free_port();
        let chromedriver = Process(
            Command::new(&chromedriver)
                .arg(format!("--port={driver_port}"))
                .arg(format!(
                    "--log-path={}",
                    dir.join("chromedriver.log").display()
                ))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("start {}", chromedriver.display()))?,
        );
        let mut h = Harness {
            dir,
            base: format!("http://127.0.0.1:{port}"),
            port,
            server,
            chromedriver,
            driver: Driver::new(driver_port),
            chromium,
            token: String::new(),
            passed: false,
            _turn: turn,
        };

        let deadline = Instant::now() + Duration::from_secs(30);
        while !matches!(h.http("GET", "/api/health", None, None).await, Ok((200, _))) {
            if let Some(status) = h.server.0.try_wait()? {
                bail!("shopdb serve exited ({status}):\n{}", h.server_log());
            }
            ensure!(
                Instant::now() < deadline,
                "server not healthy within 30 s:\n{}",
                h.server_log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        while !h.driver.ready().await {
            if let Some(status) = h.chromedriver.0.try_wait()? {
                bail!("chromedriver exited ({status})");
            }
            ensure!(
                Instant::now() < deadline,
                "chromedriver not ready within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (status, login) = h
            .http(
                "POST",
                "/api/auth/login",
                None,
                Some(json!({"username": USER, "password": PASSWORD})),
            )
            .await?;
        ensure!(status == 200, "API login: {status} {login}");
        h.token = login["data"]["token"]
            .as_str()
            .context("token in the login answer")?
            .to_string();
        eprintln!(
            "[{name}] server and chromedriver up in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(Some(h))
    }

    /// The end of a test that passed: everything is stopped and the directory removed.
    pub fn finish(mut self) -> anyhow::Result<()> {
        self.passed = true;
        Ok(())
    }

    fn server_log(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
        format!("{}{}", read("server.out"), read("server.log"))
    }

    /// A new headless browser session with a collector of script errors on every page.
    pub async fn browser(&self) -> anyhow::Result<Session> {
        let session = self.driver.new_session(self.chromium.as_deref()).await?;
        ensure!(
            session.add_init_script(ERROR_COLLECTOR).await?,
            "chromedriver cannot add scripts to pages (no DevTools passthrough)"
        );
        Ok(session)
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// One request to the server: status and the JSON answer (`Value::Null` when not JSON).
    async fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).await?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, format!("127.0.0.1:{}", self.port))
            .header(CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let response = sender
            .send_request(req.body(Full::new(Bytes::from(payload)))?)
            .await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// A GET without logging in: status and JSON answer.
    pub async fn get_raw(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        self.http("GET", path, None, None).await
    }

    /// A JSON API call as the test user; the answer's `data`, or an error with the answer
    /// when the status is not 2xx.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let (status, answer) = self.http(method, path, Some(&self.token), body).await?;
        ensure!(
            (200..300).contains(&status),
            "{method} {path}: {status} {answer}"
        );
        Ok(answer["data"].clone())
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.chromedriver.stop();
        self.server.stop();
        if self.passed {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!(
                "kept {} (server.log, chromedriver.log, the database)",
                self.dir.display()
            );
        }
    }
}

/// Logs in through the login form on the page the browser is at (which must be /login).
pub async fn log_in_with_form(b: &Session, user: &str, password: &str) -> anyhow::Result<()> {
    b.wait_find("form#login-form", WAIT).await?;
    let username = b.find("#login-form input[name=username]").await?;
    username.clear().await?;
    username.send_keys(user).await?;
    b.find("#login-form input[name=password]")
        .await?
        .send_keys(password)
        .await?;
    b.find("#login-form button[type=submit]")
        .await?
        .click()
        .await?;
    Ok(())
}

/// Opens /login and logs in as the test user; waits for the dashboard.
pub async fn log_in(h: &Harness, b: &Session) -> anyhow::Result<()> {
    b.goto(&h.url("/login")).await?;
    log_in_with_form(b, USER, PASSWORD).await?;
    b.wait_find("nav#nav", WAIT).await?;
    Ok(())
}

/// Waits until the browser's URL path (and query) is `path`.
pub async fn wait_for_path(h: &Harness, b: &Session, path: &str) -> anyhow::Result<()> {
    let want = h.url(path);
    b.wait_for(&format!("the page {path}"), WAIT, async |s| {
        Ok((s.current_url().await? == want).then_some(()))
    })
    .await?;
    Ok(())
}

/// Waits until the text of the element `css` contains `want`; returns the text.
pub async fn wait_for_text(b: &Session, css: &str, want: &str) -> anyhow::Result<String> {
    let text = b
        .wait_for(&format!("{css} saying “{want}”"), WAIT, async |s| {
            let Some(e) = s.find_maybe(css).await? else {
                return Ok(None);
            };
            let t = e.text().await?;
            Ok(t.contains(want).then_some(t))
        })
        .await?;
    Ok(text)
}

/// What the user must not see on any page: script errors, console errors other than the
/// `expected` ones (HTTP answers a test provokes on purpose, such as a refused login), and
/// requests to anything but the server under test.
pub async fn assert_page_clean(h: &Harness, b: &Session, expected: &[&str]) -> anyhow::Result<()> {
    let url = b.current_url().await?;
    let mut problems = Vec::new();
    if let Some(log) = b.browser_log().await? {
        for (level, message) in log {
            // The missing favicon is checked once, by the page tour.
            let favicon = message.contains(&format!("{}/favicon.ico ", h.base));
            if level == "SEVERE" && !favicon && !expected.iter().any(|e| message.contains(e)) {
                problems.push(format!("console {level}: {message}"));
            }
        }
    }
    let collected = b.execute("return window.__shopdbErrors;", vec![]).await?;
    let Some(collected) = collected.as_array() else {
        bail!("on {url}: the error collector is missing from the page");
    };
    for e in collected {
        let e = e.as_str().unwrap_or_default();
        if !expected.iter().any(|x| e.contains(x)) {
            problems.push(format!("script: {e}"));
        }
    }
    let resources = b
        .execute(
            "return [location.href].concat(performance.getEntriesByType('resource').map(e => e.name));",
            vec![],
        )
        .await?;
    let ours = format!("{}/", h.base);
    for r in resources.as_array().into_iter().flatten() {
        let r = r.as_str().unwrap_or_default();
        if !r.starts_with(&ours) {
            problems.push(format!("request to {r}"));
        }
    }
    ensure!(
        problems.is_empty(),
        "on {url}:\n  {}",
        problems.join("\n  ")
    );
    Ok(())
}

/// Saves a screenshot of the page as `screenshots/<name>.png`.
pub async fn screenshot(b: &Session, name: &str) -> anyhow::Result<()> {
    let path = screenshot_path(name);
    b.screenshot(&path).await?;
    Ok(())
}
