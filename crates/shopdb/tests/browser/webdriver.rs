//! A minimal W3C WebDriver client (enough to drive headless Chromium through chromedriver):
//! JSON over HTTP/1.1 with the hyper client the workspace already builds.

use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

/// The key W3C WebDriver wraps element references in.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long one WebDriver command may take (page loads included).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A failed command: the WebDriver error code and message, or why the driver was not reached.
#[derive(Debug, Clone)]
pub struct Error {
    /// What was asked (`POST /session/…/element`).
    pub command: String,
    /// The W3C error code (`no such element`, `javascript error`, …) or `transport`.
    pub error: String,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.command, self.error, self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Talks to one chromedriver at `127.0.0.1:<port>`.
#[derive(Clone, Debug)]
pub struct Driver {
    port: u16,
}

impl Driver {
    pub fn new(port: u16) -> Driver {
        Driver { port }
    }

    /// One command: `body` as JSON (or none), the `value` of the answer back.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let command = format!("{method} {path}");
        let fail = |error: &str, message: String| Error {
            command: command.clone(),
            error: error.to_string(),
            message,
        };
        let exchange = async {
            let stream = TcpStream::connect(("127.0.0.1", self.port))
                .await
                .map_err(|e| fail("transport", format!("connect: {e}")))?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| fail("transport", format!("handshake: {e}")))?;
            tokio::spawn(conn);
            let payload = body.map(Value::to_string).unwrap_or_default();
            let request = Request::builder()
                .method(method)
                .uri(path)
                .header(HOST, format!("127.0.0.1:{}", self.port))
                .header(CONTENT_TYPE, "application/json; charset=utf-8")
                .body(Full::new(Bytes::from(payload)))
                .map_err(|e| fail("transport", format!("request: {e}")))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| fail("transport", format!("send: {e}")))?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| fail("transport", format!("read: {e}")))?
                .to_bytes();
            Ok((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(COMMAND_TIMEOUT, exchange)
            .await
            .map_err(|_| fail("timeout", format!("no answer in {COMMAND_TIMEOUT:?}")))??;
        let answer: Value = serde_json::from_slice(&bytes).map_err(|e| {
            fail(
                "transport",
                format!(
                    "HTTP {status}, not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                ),
            )
        })?;
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        if !status.is_success() {
            let text = |k: &str| value.get(k).and_then(Value::as_str).unwrap_or_default();
            return Err(fail(
                text("error"),
                format!("{} (HTTP {status})", text("message")),
            ));
        }
        Ok(value)
    }

    /// `DELETE path` without an async runtime (for `Drop`); waits for the answer.
    fn delete_blocking(&self, path: &str) -> std::io::Result<()> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        write!(
            stream,
            "DELETE {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            self.port
        )?;
        // Up to the end of the answer: chromedriver may keep the connection open.
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk)?;
            answer.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&answer);
            let complete = text.split_once("\r\n\r\n").is_some_and(|(head, body)| {
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                body.len() >= length
            });
            if n == 0 || complete {
                return Ok(());
            }
        }
    }

    /// True once the driver answers `GET /status` with `ready`.
    pub async fn ready(&self) -> bool {
        matches!(
            self.call("GET", "/status", None).await,
            Ok(v) if v["ready"] == json!(true)
        )
    }

    /// A new headless Chromium session. `binary` is the browser to start (chromedriver's own
    /// guess when `None`); the browser console is kept for [`Session::console_errors`].
    pub async fn new_session(&self, binary: Option<&Path>) -> Result<Session> {
        let mut options = json!({
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--window-size=1280,800",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--lang=en-US",
            ],
        });
        if let Some(b) = binary {
            options["binary"] = json!(b.display().to_string());
        }
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": options,
                    "goog:loggingPrefs": {"browser": "ALL"},
                    "timeouts": {"implicit": 0, "pageLoad": 30_000, "script": 15_000},
                    "unhandledPromptBehavior": "accept",
                }
            }
        });
        let value = self.call("POST", "/session", Some(&caps)).await?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| Error {
                command: "POST /session".into(),
                error: "transport".into(),
                message: format!("no sessionId in {value}"),
            })?
            .to_string();
        Ok(Session {
            driver: self.clone(),
            id,
            open: true,
        })
    }
}

/// One browser session; [`Session::quit`] ends it (dropping it only forgets it: the driver
/// process ending takes the browser with it).
pub struct Session {
    driver: Driver,
    id: String,
    open: bool,
}

impl Session {
    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let path = format!("/session/{}{path}", self.id);
        self.driver.call(method, &path, body.as_ref()).await
    }

    /// Loads `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.cmd("POST", "/url", Some(json!({"url": url}))).await?;
        Ok(())
    }

    pub async fn refresh(&self) -> Result<()> {
        self.cmd("POST", "/refresh", Some(json!({}))).await?;
        Ok(())
    }

    pub async fn current_url(&self) -> Result<String> {
        let v = self.cmd("GET", "/url", None).await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    pub async fn title(&self) -> Result<String> {
        let v = self.cmd("GET", "/title", None).await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// The first element matching the CSS selector (error `no such element` when none does).
    pub async fn find(&self, css: &str) -> Result<Element<'_>> {
        let v = self
            .cmd(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await
            .map_err(|mut e| {
                e.message = format!("{css}: {}", e.message);
                e
            })?;
        Ok(self.element(&v))
    }

    /// Every element matching the CSS selector, in document order (maybe none).
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element<'_>>> {
        let v = self
            .cmd(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        Ok(v.as_array()
            .map(|a| a.iter().map(|e| self.element(e)).collect())
            .unwrap_or_default())
    }

    /// The first element matching the selector, if any.
    pub async fn find_maybe(&self, css: &str) -> Result<Option<Element<'_>>> {
        Ok(self.find_all(css).await?.into_iter().next())
    }

    fn element(&self, v: &Value) -> Element<'_> {
        Element {
            session: self,
            id: v[ELEMENT_KEY].as_str().unwrap_or_default().to_string(),
        }
    }

    /// Runs `script` as a function body with `args` (elements as `Element::arg()`); its return
    /// value back as JSON.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Like [`Session::execute`], the result being what the script passes to its last
    /// argument (the callback).
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.cmd(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// A W3C actions sequence (`{"actions": [...]}`), released afterwards.
    pub async fn perform_actions(&self, actions: Value) -> Result<()> {
        self.cmd("POST", "/actions", Some(json!({ "actions": actions })))
            .await?;
        self.cmd("DELETE", "/actions", None).await?;
        Ok(())
    }

    /// Presses the mouse on the middle of `from`, moves it by (`dx`, `dy`) CSS pixels in
    /// `steps` moves and lets go.
    pub async fn drag_by(&self, from: &Element<'_>, dx: i64, dy: i64, steps: i64) -> Result<()> {
        let mut moves = vec![
            json!({"type": "pointerMove", "duration": 0, "origin": from.arg(), "x": 0, "y": 0}),
            json!({"type": "pointerDown", "button": 0}),
            json!({"type": "pause", "duration": 50}),
        ];
        let steps = steps.max(1);
        for i in 1..=steps {
            let (x, y) = (
                dx * i / steps - dx * (i - 1) / steps,
                dy * i / steps - dy * (i - 1) / steps,
            );
            moves.push(
                json!({"type": "pointerMove", "duration": 20, "origin": "pointer", "x": x, "y": y}),
            );
        }
        moves.push(json!({"type": "pointerUp", "button": 0}));
        self.perform_actions(json!([{
            "type": "pointer",
            "id": "mouse",
            "parameters": {"pointerType": "mouse"},
            "actions": moves,
        }]))
        .await
    }

    /// A screenshot of the viewport as PNG, written to `path` (directories made as needed).
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let v = self.cmd("GET", "/screenshot", None).await?;
        let fail = |message: String| Error {
            command: "GET /screenshot".into(),
            error: "screenshot".into(),
            message,
        };
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .map_err(|e| fail(format!("not base64: {e}")))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
        }
        std::fs::write(path, png).map_err(|e| fail(format!("{}: {e}", path.display())))
    }

    /// The browser console since the last call (chromedriver's `browser` log), as
    /// `(level, message)` pairs. `None` when the driver does not keep that log.
    pub async fn browser_log(&self) -> Result<Option<Vec<(String, String)>>> {
        match self
            .cmd("POST", "/se/log", Some(json!({"type": "browser"})))
            .await
        {
            Ok(v) => Ok(Some(
                v.as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                        (s("level"), s("message"))
                    })
                    .collect(),
            )),
            Err(e) if e.error == "unknown command" || e.error == "unknown method" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Runs `source` in every page from now on, before the page's own scripts (Chromium's
    /// DevTools `Page.addScriptToEvaluateOnNewDocument`). `false` when the driver has no
    /// DevTools passthrough.
    pub async fn add_init_script(&self, source: &str) -> Result<bool> {
        let body = json!({
            "cmd": "Page.addScriptToEvaluateOnNewDocument",
            "params": {"source": source},
        });
        match self.cmd("POST", "/goog/cdp/execute", Some(body)).await {
            Ok(_) => Ok(true),
            Err(e) if e.error == "unknown command" || e.error == "unknown method" => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Ends the session (closes the browser).
    pub async fn quit(mut self) -> Result<()> {
        self.open = false;
        self.cmd("DELETE", "", None).await?;
        Ok(())
    }

    /// Polls `probe` every 100 ms until it gives `Some`, for at most `timeout`; the error
    /// names `what` and the last error the probe met.
    pub async fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut probe: impl AsyncFnMut(&Session) -> Result<Option<T>>,
    ) -> Result<T> {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        loop {
            match probe(self).await {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                Err(e) => last = format!(" (last error: {e})"),
            }
            if Instant::now() >= deadline {
                let url = self.current_url().await.unwrap_or_default();
                return Err(Error {
                    command: format!("wait at {url}"),
                    error: "timeout".into(),
                    message: format!("{what}: not within {timeout:?}{last}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until an element matches `css` and returns it.
    pub async fn wait_find(&self, css: &str, timeout: Duration) -> Result<Element<'_>> {
        let css = css.to_string();
        let found = self
            .wait_for(&format!("an element {css}"), timeout, async |s| {
                Ok(s.find_all(&css).await?.into_iter().next().map(|e| e.id))
            })
            .await?;
        Ok(Element {
            session: self,
            id: found,
        })
    }
}

impl Drop for Session {
    /// A test that stopped half-way ends its browser here: killing chromedriver would leave
    /// Chromium running.
    fn drop(&mut self) {
        if self.open
            && let Err(e) = self
                .driver
                .delete_blocking(&format!("/session/{}", self.id))
        {
            eprintln!("could not end browser session {}: {e}", self.id);
        }
    }
}

/// An element of the current page.
pub struct Element<'s> {
    session: &'s Session,
    id: String,
}

impl Element<'_> {
    /// The element as a script argument or action origin.
    pub fn arg(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        self.session
            .cmd(method, &format!("/element/{}{path}", self.id), body)
            .await
    }

    pub async fn click(&self) -> Result<()> {
        self.cmd("POST", "/click", Some(json!({}))).await?;
        Ok(())
    }

    /// Types `text` into the element (after what it holds already).
    pub async fn send_keys(&self, text: &str) -> Result<()> {
        self.cmd("POST", "/value", Some(json!({ "text": text })))
            .await?;
        Ok(())
    }

    pub async fn clear(&self) -> Result<()> {
        self.cmd("POST", "/clear", Some(json!({}))).await?;
        Ok(())
    }

    /// The rendered text (what a user reads), trimmed.
    pub async fn text(&self) -> Result<String> {
        let v = self.cmd("GET", "/text", None).await?;
        Ok(v.as_str().unwrap_or_default().trim().to_string())
    }

    /// An attribute (`None` when absent).
    pub async fn attr(&self, name: &str) -> Result<Option<String>> {
        let v = self.cmd("GET", &format!("/attribute/{name}"), None).await?;
        Ok(v.as_str().map(str::to_string))
    }

    /// A DOM property, such as `value` of an input.
    pub async fn prop(&self, name: &str) -> Result<Value> {
        self.cmd("GET", &format!("/property/{name}"), None).await
    }

    pub async fn displayed(&self) -> Result<bool> {
        let v = self.cmd("GET", "/displayed", None).await?;
        Ok(v.as_bool().unwrap_or(false))
    }

    /// Elements matching `css` inside this one.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element<'_>>> {
        let v = self
            .cmd(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        Ok(v.as_array()
            .map(|a| a.iter().map(|e| self.session.element(e)).collect())
            .unwrap_or_default())
    }
}
