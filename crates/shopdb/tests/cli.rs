//! The `shopdb` binary as an operator uses it: exit codes and one-line messages.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn shopdb(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shopdb"));
    cmd.current_dir(dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("SHOPDB_ENV")
        .env_remove("SECRET_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run shopdb")
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("shopdb-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `args` in a new empty folder and checks it stayed empty: no `data/`, no database.
fn shopdb_in_empty_folder(name: &str, args: &[&str]) -> Output {
    let dir = temp_dir(name);
    let out = shopdb(&dir, args, &[]);
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "shopdb {args:?} left {left:?} behind (it must not open a database)"
    );
    assert!(
        !text(&out.stderr).contains("SECRET_KEY"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    out
}

#[test]
fn a_mistyped_command_is_refused_without_touching_a_database() {
    let out = shopdb_in_empty_folder("typo", &["servee"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("unrecognized subcommand 'servee'") && stderr.contains("'serve'"),
        "{stderr}"
    );
    let out = shopdb_in_empty_folder("plugin-typo", &["usb", "overdeu"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("'overdue'"),
        "{}",
        text(&out.stderr)
    );
    let out = shopdb_in_empty_folder("plugin-arg", &["computers", "stale", "--days", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid value 'soon' for '--days <N>'"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn help_lists_core_and_plugin_commands_without_touching_a_database() {
    let out = shopdb_in_empty_folder("help", &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for line in ["serve ", "plugin ", "completions ", "computers ", "usb "] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(line)),
            "{line}: {help}"
        );
    }
    let out = shopdb_in_empty_folder("help-plugin", &["computers", "stale", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("--days <N>"),
        "{}",
        text(&out.stdout)
    );
    let out = shopdb_in_empty_folder("help-sub", &["plugin", "enable", "--help"]);
    assert!(text(&out.stdout).starts_with("Turn an installed plugin on"));
}

#[test]
fn every_command_and_subcommand_has_a_help_line() {
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for sub in cmd.get_subcommands() {
            let path = format!("{path} {}", sub.get_name());
            if sub.get_about().is_none() {
                missing.push(path.clone());
            }
            walk(sub, &path, missing);
        }
    }
    let mut missing = Vec::new();
    walk(&shopdb::cli::command(), "shopdb", &mut missing);
    assert!(missing.is_empty(), "no help line: {missing:?}");
}

#[test]
fn completions_are_printed_for_each_shell_without_touching_a_database() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = shopdb_in_empty_folder(&format!("completions-{shell}"), &["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(
            script.contains("shopdb")
                && script.contains("overdue")
                && script.contains("upgrade-all"),
            "{shell}: {script}"
        );
    }
    let out = shopdb_in_empty_folder("completions-bad", &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn config_check_lists_every_production_problem() {
    let dir = temp_dir("config");
    let out = shopdb(
        &dir,
        &["config", "check"],
        &[
            ("SHOPDB_ENV", "production"),
            ("SECRET_KEY", "short"),
            ("CORS_ORIGINS", "*"),
            ("COOKIE_SECURE", "false"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(
        stdout.contains("SECRET_KEY")
            && stdout.contains("CORS_ORIGINS")
            && stdout.contains("COOKIE_SECURE")
    );
    assert!(
        !stdout.contains("short"),
        "the secret itself is never printed"
    );

    let good = shopdb(
        &dir,
        &["config", "check"],
        &[
            ("SHOPDB_ENV", "production"),
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("SHOPDB_BIN", "0.0.0.0:5001"),
        ],
    );
    assert_eq!(good.status.code(), Some(0), "{}", text(&good.stdout));
    assert!(
        text(&good.stdout).contains("note: SHOPDB_BIN is not a ShopDB variable"),
        "a misspelt variable is pointed out: {}",
        text(&good.stdout)
    );

    let refused = shopdb(
        &dir,
        &["serve", "--bind", "127.0.0.1:0"],
        &[("SHOPDB_ENV", "production")],
    );
    assert_eq!(refused.status.code(), Some(1));
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("refusing to start in production")
            && stderr.contains("SECRET_KEY is missing"),
        "{stderr}"
    );
    assert!(!dir.join("data").exists(), "nothing was created");
}

#[test]
fn bad_database_urls_are_one_line_errors_without_passwords() {
    let dir = temp_dir("urls");
    let unknown = shopdb(
        &dir,
        &["db", "upgrade"],
        &[("DATABASE_URL", "oracle://scott:tiger@db/orcl")],
    );
    assert_eq!(unknown.status.code(), Some(1));
    let stderr = text(&unknown.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("unsupported") && !stderr.contains("tiger"),
        "{stderr}"
    );

    let unreachable = shopdb(
        &dir,
        &["db", "upgrade"],
        &[("DATABASE_URL", "postgres://shop:hunter2@127.0.0.1:1/shopdb")],
    );
    assert_eq!(unreachable.status.code(), Some(1));
    let stderr = text(&unreachable.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("postgres://shop:***@127.0.0.1:1/shopdb"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn db_upgrade_is_repeatable_and_status_shows_the_chain() {
    let dir = temp_dir("upgrade");
    let first = shopdb(&dir, &["db", "upgrade"], &[]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(text(&first.stdout).contains("applied core 1 baseline"));
    assert!(
        dir.join("data/shopdb.sqlite").exists(),
        "the default SQLite file is created"
    );
    let second = shopdb(&dir, &["db", "upgrade"], &[]);
    assert!(second.status.success());
    assert_eq!(text(&second.stdout).trim(), "database is up to date");
    let status = shopdb(&dir, &["db", "status"], &[]);
    let stdout = text(&status.stdout);
    let latest = shopdb_core::core_schema::core_chain().migrations.len();
    assert!(
        stdout.contains(&format!("chain core: version {latest}"))
            && stdout.contains("applied")
            && !stdout.contains("pending"),
        "{stdout}"
    );

    let user = shopdb(&dir, &["user", "create", "Maria", "--role", "editor"], &[]);
    assert!(user.status.success(), "{}", text(&user.stderr));
    assert!(text(&user.stdout).contains("created user maria (editor)"));
    let again = shopdb(&dir, &["user", "create", "maria", "--role", "editor"], &[]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("already exists"));
}

#[test]
fn plugin_commands_and_tokens_name_what_is_missing_in_one_line() {
    let dir = temp_dir("missing-plugin");
    let overdue = shopdb(&dir, &["usb", "overdue"], &[]);
    assert_eq!(overdue.status.code(), Some(1));
    let stderr = text(&overdue.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("shopdb:"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        stderr.contains("plugin usb is not installed")
            && stderr.contains("shopdb plugin install usb"),
        "{stderr}"
    );
    assert!(!stderr.contains("no such table"), "{stderr}");

    let token = shopdb(
        &dir,
        &[
            "token", "create", "--name", "scanner", "--plugin", "computrs",
        ],
        &[],
    );
    assert_eq!(token.status.code(), Some(1));
    let stderr = text(&token.stderr);
    assert!(
        stderr.contains("no plugin named 'computrs'") && stderr.contains("computers"),
        "{stderr}"
    );
    assert!(text(&token.stdout).is_empty(), "no token printed");

    assert!(
        shopdb(&dir, &["plugin", "install", "usb"], &[])
            .status
            .success()
    );
    let overdue = shopdb(&dir, &["usb", "overdue"], &[]);
    assert!(overdue.status.success(), "{}", text(&overdue.stderr));
    assert!(
        shopdb(&dir, &["plugin", "disable", "usb"], &[])
            .status
            .success()
    );
    let disabled = shopdb(&dir, &["usb", "overdue"], &[]);
    assert!(
        disabled.status.success(),
        "a disabled plugin's data can still be read: {}",
        text(&disabled.stderr)
    );
}

#[test]
fn first_serve_prints_the_admin_password_once_and_answers_health_checks() {
    let dir = temp_dir("serve");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let bind = format!("127.0.0.1:{port}");
    let url = format!("http://{bind}");
    let start = |dir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_shopdb"))
            .current_dir(dir)
            .args(["serve", "--bind", &bind])
            .env_remove("DATABASE_URL")
            .env_remove("SHOPDB_ENV")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start server")
    };
    let wait_healthy = |url: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if shopdb(&dir, &["healthcheck", "--url", url], &[])
                .status
                .success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "server never became healthy");
            std::thread::sleep(Duration::from_millis(200));
        }
    };

    let mut server = start(&dir);
    let mut first_line = String::new();
    let mut reader = BufReader::new(server.stdout.take().unwrap());
    reader.read_line(&mut first_line).unwrap();
    assert!(
        first_line.contains("created user 'admin' with password: "),
        "{first_line}"
    );
    wait_healthy(&url);
    server.kill().unwrap();
    server.wait().unwrap();
    drop(reader);

    let mut again = start(&dir);
    wait_healthy(&url);
    again.kill().unwrap();
    let out = again.wait_with_output().unwrap();
    assert!(
        !text(&out.stdout).contains("password"),
        "the password is printed only on the first start"
    );

    let down = shopdb(&dir, &["healthcheck", "--url", &url], &[]);
    assert_eq!(down.status.code(), Some(1), "no server, unhealthy");
}

#[test]
fn a_scaffolded_plugin_builds_and_passes_its_tests() {
    let dir = temp_dir("scaffold");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plugin_dir = dir.join("cameras");
    let made = shopdb(
        repo,
        &[
            "plugin",
            "new",
            "cameras",
            "--description",
            "Tracks shop-floor cameras",
            "--rust",
            "--dir",
            plugin_dir.to_str().unwrap(),
        ],
        &[],
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    assert!(text(&made.stdout).contains("next steps"));
    for file in [
        "Cargo.toml",
        "manifest.json",
        "src/lib.rs",
        "tests/contract.rs",
        "README.md",
    ] {
        assert!(plugin_dir.join(file).exists(), "{file} missing");
    }

    let again = shopdb(
        repo,
        &[
            "plugin",
            "new",
            "cameras",
            "--description",
            "x",
            "--rust",
            "--dir",
            plugin_dir.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("--overwrite"),
        "{}",
        text(&again.stderr)
    );
    for (bad, why) in [
        ("my_cams", "_ or -"),
        ("Cams", "not a plugin name"),
        ("search", "reserved"),
    ] {
        let out = shopdb(
            repo,
            &[
                "plugin",
                "new",
                bad,
                "--description",
                "x",
                "--rust",
                "--dir",
                dir.join(bad).to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(
            text(&out.stderr).contains(why),
            "{bad}: {}",
            text(&out.stderr)
        );
    }

    // Its own target directory: the outer `cargo test` holds the lock on the shared one.
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(|t| format!("{t}-scaffold"))
        .unwrap_or_else(|_| dir.join("target").display().to_string());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let tested = Command::new(cargo)
        .args([
            "test",
            "--offline",
            "--manifest-path",
            plugin_dir.join("Cargo.toml").to_str().unwrap(),
        ])
        .env("CARGO_TARGET_DIR", target)
        .output()
        .expect("run cargo");
    let out = format!("{}{}", text(&tested.stdout), text(&tested.stderr));
    assert!(tested.status.success(), "{out}");
    assert!(
        out.contains("cameras_keeps_the_plugin_contract ... ok"),
        "{out}"
    );
}

/// A minimal HTTP/1.1 client for talking to a real `shopdb serve`.
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Logs in over HTTP and gives the token of the answer.
fn login_token(port: u16, user: &str, password: &str) -> String {
    let body = format!(r#"{{"username":"{user}","password":"{password}"}}"#);
    let (status, login) = http(port, "POST", "/api/auth/login", None, Some(&body));
    assert_eq!(status, 200, "{login}");
    login
        .split("\"token\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `check` holds, for at most `secs` seconds.
fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn two_server_processes_agree_on_plugin_state_without_a_restart() {
    let dir = temp_dir("twoproc");
    let mut user = Command::new(env!("CARGO_BIN_EXE_shopdb"))
        .current_dir(&dir)
        .args([
            "user",
            "create",
            "ops",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        user.stdin
            .take()
            .unwrap()
            .write_all(b"a long ops password\n")
            .unwrap();
    }
    assert!(user.wait().unwrap().success());
    let ports = [free_port(), free_port()];
    let mut servers: Vec<_> = ports
        .iter()
        .map(|port| {
            Command::new(env!("CARGO_BIN_EXE_shopdb"))
                .current_dir(&dir)
                .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
                .env_remove("DATABASE_URL")
                .env_remove("SHOPDB_ENV")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join(format!("server-{port}.log"))).unwrap())
                .spawn()
                .unwrap()
        })
        .collect();
    for port in ports {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !shopdb(
            &dir,
            &["healthcheck", "--url", &format!("http://127.0.0.1:{port}")],
            &[],
        )
        .status
        .success()
        {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.join(format!("server-{port}.log")))
                    .unwrap_or_default();
                panic!("server on {port} never became healthy; its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let token = login_token(ports[0], "ops", "a long ops password");
    let computers = |port: u16| {
        let (status, body) = http(port, "GET", "/api/computers", Some(&token), None);
        eprintln!(
            "{port}: {status} {}",
            body.chars().take(120).collect::<String>()
        );
        status
    };
    assert_eq!(computers(ports[1]), 404, "not installed yet");

    // A third process (the command line) installs the plugin; both servers pick it up.
    let installed = shopdb(&dir, &["plugin", "install", "computers"], &[]);
    assert!(installed.status.success(), "{}", text(&installed.stderr));
    let listed = shopdb(&dir, &["plugin", "list"], &[]);
    assert!(
        text(&listed.stdout).contains("computers 1.0.0 [Enabled]"),
        "{}",
        text(&listed.stdout)
    );
    for port in ports {
        // The cache refreshes every 2 s; the margin is for a busy CI machine.
        eventually(20, "install seen", || computers(port) == 200);
    }
    let (status, body) = http(
        ports[0],
        "POST",
        "/api/computers",
        Some(&token),
        Some(r#"{"assetnumber":"PC-0001","hostname":"WJ-LATHE-4471"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let (_, found) = http(
        ports[1],
        "GET",
        "/api/search?q=lathe-44",
        Some(&token),
        None,
    );
    assert!(found.contains("\"type\":\"computer\""), "{found}");

    assert!(
        shopdb(&dir, &["plugin", "disable", "computers"], &[])
            .status
            .success()
    );
    for port in ports {
        eventually(20, "disable seen", || computers(port) == 404);
    }
    let stale = shopdb(&dir, &["computers", "stale", "--days", "0"], &[]);
    assert!(
        text(&stale.stdout).contains("WJ-LATHE-4471"),
        "{}",
        text(&stale.stdout)
    );
    for mut s in servers.drain(..) {
        s.kill().unwrap();
        s.wait().unwrap();
    }
}

#[test]
fn demo_data_fills_the_plugins_and_a_failure_says_what_failed() {
    let dir = temp_dir("demo");
    let url = format!("sqlite://{}/demo.sqlite", dir.display());
    let env = [("DATABASE_URL", url.as_str())];
    for p in ["computers", "network"] {
        let out = shopdb(&dir, &["plugin", "install", p], &env);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let out = shopdb(&dir, &["demo-data", "--assets", "30"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("floor plans drawn: Bay A")
            && stdout.contains("added 30 demo assets: ")
            && stdout.contains("computers")
            && stdout.contains("subnets"),
        "{stdout}"
    );

    let out = shopdb(&dir, &["computers", "stale", "--days", "30"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("WJ-PC-"),
        "a PC not seen for weeks: {}",
        text(&out.stdout)
    );

    // A table the engine writes to refuses every row: the command names what it was adding
    // and the database's reason, in one line, instead of a server message.
    let db = dir.join("demo.sqlite");
    let status = Command::new("sqlite3")
        .arg(&db)
        .arg("CREATE TRIGGER refuse AFTER INSERT ON computers BEGIN SELECT RAISE(ABORT, 'computers are frozen'); END;")
        .status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("sqlite3 is not installed: the failure half of this test is skipped");
        return;
    }
    let out = shopdb(&dir, &["demo-data", "--assets", "20"], &env);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.contains(" WARN ")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("shopdb: cannot add demo computers A000040: ")
            && lines[0].contains("computers are frozen"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("could not complete the request"),
        "{stderr}"
    );
}

/// Sends raw request `head` (request line and headers, without the blank line) and returns
/// the status, the lower-cased response header lines and the body.
fn http_raw(port: u16, head: &str, body: &str) -> (u16, Vec<(String, String)>, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        stream,
        "{head}\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn every_answer_over_http_carries_the_security_headers_and_secure_cookies_are_host_only() {
    let dir = temp_dir("headers");
    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_shopdb"))
        .current_dir(&dir)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env_remove("DATABASE_URL")
        .env_remove("SHOPDB_ENV")
        .env("COOKIE_SECURE", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start server");
    let mut first_line = String::new();
    let mut reader = BufReader::new(server.stdout.take().unwrap());
    reader.read_line(&mut first_line).unwrap();
    let password = first_line.trim().rsplit(": ").next().unwrap().to_string();
    eventually(30, "server healthy", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && http(port, "GET", "/api/health", None, None).0 == 200
    });

    for (path, status) in [
        ("/api/health", 200),          // an API route
        ("/login", 200),               // a page
        ("/static/shopdb.js", 200),    // a static file
        ("/static/usb/desk.js", 200),  // a plugin's static file
        ("/api/no-such-route", 404),   // an API error
        ("/no/such/page/at/all", 404), // a page error
        ("/api/assets", 401),          // refused
    ] {
        let (got, headers, _) = http_raw(port, &format!("GET {path} HTTP/1.1"), "");
        assert_eq!(got, status, "{path}");
        let csp =
            header(&headers, "content-security-policy").unwrap_or_else(|| panic!("{path}: CSP"));
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(
            header(&headers, "x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            header(&headers, "referrer-policy"),
            Some("same-origin"),
            "{path}"
        );
        assert!(
            header(&headers, "permissions-policy").is_some_and(|p| p.contains("camera=()")),
            "{path}"
        );
        assert_eq!(header(&headers, "x-frame-options"), Some("DENY"), "{path}");
        assert!(
            header(&headers, "strict-transport-security")
                .is_some_and(|h| h.starts_with("max-age=")),
            "{path}: HSTS with Secure cookies"
        );
    }

    let login = format!(r#"{{"username":"admin","password":"{password}"}}"#);
    let (status, headers, body) = http_raw(
        port,
        "POST /api/auth/login HTTP/1.1\r\nContent-Type: application/json",
        &login,
    );
    assert_eq!(status, 200, "{body}");
    let cookies: Vec<&str> = headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("__Host-shopdb_session="))
        .unwrap_or_else(|| panic!("a __Host- session cookie: {cookies:?}"));
    assert!(
        session.contains("; Secure") && session.contains("Path=/") && session.contains("HttpOnly"),
        "{session}"
    );
    assert!(
        !session.to_ascii_lowercase().contains("domain="),
        "{session}"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("__Host-shopdb_csrf=")),
        "{cookies:?}"
    );
    let value = session.split(';').next().unwrap();
    let (status, _, body) = http_raw(
        port,
        &format!("GET /api/auth/me HTTP/1.1\r\nCookie: {value}"),
        "",
    );
    assert_eq!(status, 200, "the server reads the cookie it sets: {body}");
    let plain = value.trim_start_matches("__Host-");
    let (status, _, _) = http_raw(
        port,
        &format!("GET /api/auth/me HTTP/1.1\r\nCookie: {plain}"),
        "",
    );
    assert_eq!(
        status, 401,
        "without the prefix the cookie is not the login cookie"
    );

    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn plugin_migrate_plans_then_applies_a_model_step_and_db_status_shows_it() {
    let dir = temp_dir("evolve");
    let installed = shopdb(&dir, &["plugin", "install", "usb"], &[]);
    assert!(installed.status.success(), "{}", text(&installed.stderr));
    assert!(
        text(&installed.stdout).contains("applied usb.model 1 create table usbdevices"),
        "{}",
        text(&installed.stdout)
    );
    let plan = shopdb(&dir, &["plugin", "migrate", "usb", "--plan"], &[]);
    assert_eq!(text(&plan.stdout).trim(), "usb is up to date");

    // A site whose usbdevices table predates the capacitygb field, installed before models
    // were recorded (the model is then read from the live table).
    let status = Command::new("sqlite3")
        .arg(dir.join("data/shopdb.sqlite"))
        .arg("DELETE FROM pluginmodels; ALTER TABLE usbdevices DROP COLUMN capacitygb;")
        .status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("sqlite3 is not installed: the rest of this test is skipped");
        return;
    }
    let plan = shopdb(&dir, &["plugin", "migrate", "usb", "--plan"], &[]);
    assert!(plan.status.success(), "{}", text(&plan.stderr));
    let steps = text(&plan.stdout);
    assert!(
        steps.trim().ends_with("add column usbdevices.capacitygb") && steps.lines().count() == 1,
        "{steps}"
    );
    let migrated = shopdb(&dir, &["plugin", "migrate", "usb"], &[]);
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));
    assert!(
        text(&migrated.stdout).contains("add column usbdevices.capacitygb"),
        "{}",
        text(&migrated.stdout)
    );
    let status = shopdb(&dir, &["db", "status"], &[]);
    let stdout = text(&status.stdout);
    assert!(status.status.success(), "{stdout}");
    assert!(
        stdout.contains("chain usb.model: version 3")
            && stdout.contains("add column usbdevices.capacitygb")
            && !stdout.contains("pending"),
        "{stdout}"
    );
    let again = shopdb(&dir, &["plugin", "migrate", "usb"], &[]);
    assert_eq!(text(&again.stdout).trim(), "usb is up to date");
}

/// A throwaway database on the MariaDB or PostgreSQL server at `server` (dropped with the
/// guard); None when the server is not there and CI does not require it.
struct ThrowawayDb {
    server: String,
    admin: &'static str,
    name: String,
}

impl ThrowawayDb {
    fn create(server: &str, admin: &'static str) -> Option<ThrowawayDb> {
        use sqlx::{Connection, Executor};
        let name = format!("shopdbcli{}", std::process::id());
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let made = runtime.block_on(async {
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(&format!("{server}/{admin}")).await?;
            conn.execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name}"
            )))
            .await?;
            conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .await?;
            conn.close().await
        });
        let required = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        match made {
            Ok(()) => Some(ThrowawayDb {
                server: server.into(),
                admin,
                name,
            }),
            Err(e) if !required => {
                eprintln!("skipping: {server} unreachable ({e}); CI=true makes this fail");
                None
            }
            Err(e) => panic!("{server} is unreachable and CI requires it: {e}"),
        }
    }

    fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }
}

impl Drop for ThrowawayDb {
    fn drop(&mut self) {
        use sqlx::{Connection, Executor};
        let (server, admin, name) = (self.server.clone(), self.admin, self.name.clone());
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            if let Ok(mut conn) = sqlx::AnyConnection::connect(&format!("{server}/{admin}")).await {
                let _ = conn
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name}"
                    )))
                    .await;
            }
        });
    }
}

/// The ```toml block of the quickstart, as a reader copies it.
fn quickstart_model(doc: &str) -> String {
    toml_block(doc, 0)
}

/// The `n`th (from 0) ```toml block of `doc`.
fn toml_block(doc: &str, n: usize) -> String {
    let block = doc.split("```toml\n").nth(n + 1).expect("a toml block");
    block[..block.find("```").expect("its end")].to_string()
}

/// Asserts that every line of `out` appears in the quickstart as printed there.
fn shown_in(doc: &str, out: &[u8]) {
    for line in text(out).lines().filter(|l| !l.trim().is_empty()) {
        assert!(doc.contains(line), "the quickstart does not show: {line}");
    }
}

/// docs/PLUGIN-QUICKSTART.md followed as written, with the real binary and a running server.
fn folder_plugin_quickstart(name: &str, database_url: Option<String>) {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/PLUGIN-QUICKSTART.md"),
    )
    .unwrap();
    let dir = temp_dir(name);
    let env: Vec<(&str, &str)> = database_url
        .as_deref()
        .map(|u| vec![("DATABASE_URL", u)])
        .unwrap_or_default();
    let run = |args: &[&str]| shopdb(&dir, args, &env);

    // 1. Make the plugin.
    let made = run(&[
        "plugin",
        "new",
        "cameras",
        "--description",
        "Network cameras on the shop floor",
    ]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    assert!(doc.contains(
        r#"$ shopdb plugin new cameras --description "Network cameras on the shop floor""#
    ));
    shown_in(&doc, &made.stdout);
    assert!(dir.join("plugins.d/model.schema.json").is_file());
    let generated = run(&["plugin", "check", "cameras"]);
    assert!(
        generated.status.success(),
        "as generated: {}",
        text(&generated.stderr)
    );

    // 2. Describe a camera; 3. check it (and the mistake the quickstart shows).
    let model_file = dir.join("plugins.d/cameras/model.toml");
    let model = quickstart_model(&doc);
    std::fs::write(
        &model_file,
        model.replace("type = \"url\"", "type = \"strng\""),
    )
    .unwrap();
    let wrong = run(&["plugin", "check", "cameras"]);
    assert_eq!(wrong.status.code(), Some(1));
    shown_in(&doc, &wrong.stderr);
    std::fs::write(&model_file, &model).unwrap();
    let checked = run(&["plugin", "check", "cameras"]);
    assert!(checked.status.success(), "{}", text(&checked.stderr));
    assert!(doc.contains("$ shopdb plugin check cameras"));
    shown_in(&doc, &checked.stdout);

    // 4. Install it on the running server.
    let mut user = Command::new(env!("CARGO_BIN_EXE_shopdb"))
        .current_dir(&dir)
        .args([
            "user",
            "create",
            "admin",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .envs(env.iter().copied())
        .env_remove("SHOPDB_ENV")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        user.stdin
            .take()
            .unwrap()
            .write_all(b"a long admin password\n")
            .unwrap();
    }
    assert!(user.wait().unwrap().success());
    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_shopdb"))
        .current_dir(&dir)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .envs(env.iter().copied())
        .env_remove("SHOPDB_ENV")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("server.log")).unwrap())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    eventually(30, "server healthy", || {
        run(&["healthcheck", "--url", &url]).status.success()
    });
    let token = login_token(port, "admin", "a long admin password");
    assert_eq!(http(port, "GET", "/api/cameras", Some(&token), None).0, 404);
    let installed = run(&["plugin", "install", "cameras"]);
    assert!(installed.status.success(), "{}", text(&installed.stderr));
    assert!(doc.contains("$ shopdb plugin install cameras\n"));
    shown_in(&doc, &installed.stdout);
    eventually(20, "the running server serves cameras", || {
        http(port, "GET", "/api/cameras", Some(&token), None).0 == 200
    });

    // 5. Use it: the bodies and queries of the quickstart.
    let body = r#"{"assetnumber": "CAM-0001", "name": "Gate camera", "hostname": "cam-gate-01", "streamurl": "rtsp://10.20.0.15/stream1", "resolution": "1080p", "fps": 25, "poeport": "Gi1/0/12"}"#;
    assert!(doc.contains(body));
    let (status, created) = http(port, "POST", "/api/cameras", Some(&token), Some(body));
    assert_eq!(status, 201, "{created}");
    let (status, bad) = http(
        port,
        "POST",
        "/api/cameras",
        Some(&token),
        Some(r#"{"assetnumber": "CAM-0002", "hostname": "cam-x", "fps": 0}"#),
    );
    assert_eq!(status, 422, "{bad}");
    assert!(bad.contains(r#""fps":"must be at least 1""#), "{bad}");
    let (_, listed) = http(
        port,
        "GET",
        "/api/cameras?resolution=1080p",
        Some(&token),
        None,
    );
    assert!(listed.contains(r#""total":1"#), "{listed}");
    let (_, found) = http(port, "GET", "/api/search?q=cam-gate", Some(&token), None);
    assert!(found.contains(r#""type":"cameras""#), "{found}");
    let minted = run(&[
        "token",
        "create",
        "--name",
        "camera scanner",
        "--plugin",
        "cameras",
    ]);
    assert!(minted.status.success(), "{}", text(&minted.stderr));
    assert!(doc.contains(r#"$ shopdb token create --name "camera scanner" --plugin cameras"#));
    let collector_token = text(&minted.stdout).trim().to_string();
    let push =
        r#"{"hostname": "cam-dock-02", "macaddress": "00:1A:2B:3C:4D:5E", "resolution": "4K"}"#;
    assert!(doc.contains(push));
    let (status, pushed) = http(
        port,
        "POST",
        "/api/collector/cameras",
        Some(&collector_token),
        Some(push),
    );
    assert_eq!(status, 200, "{pushed}");
    assert!(pushed.contains("created"), "{pushed}");
    let (status, page) = http(port, "GET", "/cameras", Some(&token), None);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("cam-gate-01") && page.contains("cam-dock-02"),
        "{page}"
    );

    // 6. MIGRATE: add a field, see the plan, apply it; the data is kept, the field served.
    let id = created
        .split("\"assetid\":")
        .nth(1)
        .and_then(|r| r.split([',', '}']).next())
        .unwrap()
        .to_string();
    // Inserted after the macaddress field, as the quickstart says.
    let edited = model.replacen("\n[nav]", &format!("\n{}\n[nav]", toml_block(&doc, 1)), 1);
    assert_ne!(edited, model);
    std::fs::write(&model_file, &edited).unwrap();
    let plan = run(&["plugin", "migrate", "cameras", "--plan"]);
    assert!(plan.status.success(), "{}", text(&plan.stderr));
    assert!(doc.contains("$ shopdb plugin migrate cameras --plan\n"));
    assert_eq!(
        text(&plan.stdout).trim(),
        "cameras.model 2 add column cameras.firmware"
    );
    shown_in(&doc, &plan.stdout);
    let camera_path = format!("/api/cameras/{id}");
    let (_, before) = http(port, "GET", &camera_path, Some(&token), None);
    assert!(
        !before.contains("firmware"),
        "--plan changed nothing: {before}"
    );
    // A lossy edit (a shorter host name) is refused naming the field; nothing changes.
    let narrowed = edited.replacen("length = 100", "length = 50", 1);
    assert_ne!(narrowed, edited);
    std::fs::write(&model_file, narrowed).unwrap();
    let refusals = [
        &["plugin", "migrate", "cameras", "--plan"][..],
        &["plugin", "migrate", "cameras"],
    ];
    for args in refusals {
        let refused = run(args);
        assert_eq!(refused.status.code(), Some(1));
        assert!(
            text(&refused.stderr).contains("cameras.hostname: narrowing string(100) to string(50)"),
            "{}",
            text(&refused.stderr)
        );
        shown_in(&doc, &refused.stderr);
    }
    // A folder that does not pass the check is refused before anything is planned.
    std::fs::write(
        &model_file,
        edited.replace("type = \"url\"", "type = \"strng\""),
    )
    .unwrap();
    let broken = run(&["plugin", "migrate", "cameras"]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        text(&broken.stderr).contains("does not pass the check, nothing was changed")
            && text(&broken.stderr).contains("unknown type 'strng'"),
        "{}",
        text(&broken.stderr)
    );
    std::fs::write(&model_file, &edited).unwrap();
    let migrated = run(&["plugin", "migrate", "cameras"]);
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));
    assert!(doc.contains("$ shopdb plugin migrate cameras\n"));
    assert_eq!(
        text(&migrated.stdout).trim(),
        "applied cameras.model 2 add column cameras.firmware"
    );
    shown_in(&doc, &migrated.stdout);
    eventually(20, "the running server serves firmware", || {
        let (_, camera) = http(port, "GET", &camera_path, Some(&token), None);
        camera.contains(r#""firmware":null"#)
    });
    let (_, camera) = http(port, "GET", &camera_path, Some(&token), None);
    for kept in [
        r#""hostname":"cam-gate-01""#,
        r#""fps":25"#,
        r#""poeport":"Gi1/0/12""#,
    ] {
        assert!(camera.contains(kept), "{kept} kept in {camera}");
    }
    let with_firmware =
        r#"{"assetnumber": "CAM-0003", "hostname": "cam-hall-03", "firmware": "5.7.3"}"#;
    assert!(doc.contains(with_firmware));
    let (status, created) = http(
        port,
        "POST",
        "/api/cameras",
        Some(&token),
        Some(with_firmware),
    );
    assert_eq!(status, 201, "{created}");
    assert!(created.contains(r#""firmware":"5.7.3""#), "{created}");
    // A page template added later needs no table change; migrate stores it, and the next
    // run finds the stored copy equal to the folder.
    let template = model_file
        .parent()
        .unwrap()
        .join("templates/records/cameras/detail.html");
    std::fs::create_dir_all(template.parent().unwrap()).unwrap();
    std::fs::write(
        &template,
        r#"{% extends "detail.html" %}{% block extra %}<a href="{{ record.streamurl }}">Stream</a>{% endblock %}"#,
    )
    .unwrap();
    let stored = run(&["plugin", "migrate", "cameras"]);
    assert!(stored.status.success(), "{}", text(&stored.stderr));
    assert_eq!(
        text(&stored.stdout).trim(),
        "cameras: the tables need no change; stored the edited files"
    );
    let again = run(&["plugin", "migrate", "cameras"]);
    assert_eq!(text(&again.stdout).trim(), "cameras is up to date");
    let status = run(&["db", "status"]);
    assert!(status.status.success(), "{}", text(&status.stdout));
    assert!(
        text(&status.stdout).contains("chain cameras.model: version 2"),
        "{}",
        text(&status.stdout)
    );

    server.kill().unwrap();
    server.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_folder_plugin_quickstart_works_as_written_on_sqlite() {
    folder_plugin_quickstart("quickstart-sqlite", None);
}

#[test]
fn the_folder_plugin_quickstart_works_as_written_on_mariadb() {
    let server =
        std::env::var("SHOPDB_TEST_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
    if let Some(db) = ThrowawayDb::create(&server, "mysql") {
        folder_plugin_quickstart("quickstart-mariadb", Some(db.url()));
    }
}

#[test]
fn the_folder_plugin_quickstart_works_as_written_on_postgresql() {
    let server = std::env::var("SHOPDB_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    if let Some(db) = ThrowawayDb::create(&server, "postgres") {
        folder_plugin_quickstart("quickstart-postgres", Some(db.url()));
    }
}

#[test]
fn a_broken_folder_plugin_is_listed_with_its_line_and_strict_serve_refuses_to_start() {
    let dir = temp_dir("broken-folder");
    let made = shopdb(
        &dir,
        &["plugin", "new", "kiosks", "--description", "Kiosk PCs"],
        &[],
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    let model = dir.join("plugins.d/kiosks/model.toml");
    let broken = std::fs::read_to_string(&model)
        .unwrap()
        .replace("name = \"model\"", "name = \"Model_Name\"");
    std::fs::write(&model, broken).unwrap();
    let checked = shopdb(&dir, &["plugin", "check", "kiosks"], &[]);
    assert_eq!(checked.status.code(), Some(1));
    assert!(
        text(&checked.stderr)
            .contains("plugins.d/kiosks/model.toml:24: table.kiosks.field.Model_Name.name"),
        "{}",
        text(&checked.stderr)
    );
    let listed = shopdb(&dir, &["plugin", "list"], &[]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let line = text(&listed.stdout)
        .lines()
        .find(|l| l.starts_with("kiosks"))
        .unwrap_or_default()
        .to_string();
    assert!(
        line.contains("[Quarantined]") && line.contains("model.toml:24"),
        "{}",
        text(&listed.stdout)
    );
    let strict = shopdb(&dir, &["serve", "--strict", "--bind", "127.0.0.1:1"], &[]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(
        text(&strict.stderr).contains("kiosks"),
        "{}",
        text(&strict.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Lines of stderr other than log lines and progress lines.
fn messages(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| !l.contains(" WARN ") && !l.contains(" done in "))
        .collect()
}

#[test]
fn backup_restore_and_plugin_restore_from_the_command_line() {
    let dir = temp_dir("backup");
    let source = format!("sqlite://{}/source.sqlite", dir.display());
    let env = [("DATABASE_URL", source.as_str())];
    let out = shopdb(&dir, &["plugin", "install", "computers"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = shopdb(&dir, &["demo-data", "--assets", "20"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let out = shopdb(&dir, &["backup", "site.zip"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("backup written to site.zip: "),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("backup: "),
        "progress on stderr: {}",
        text(&out.stderr)
    );
    let again = shopdb(&dir, &["backup", "site.zip"], &env);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        messages(&text(&again.stderr)),
        ["shopdb: site.zip exists already: choose another file name"]
    );

    let target = format!("sqlite://{}/target.sqlite", dir.display());
    let env = [("DATABASE_URL", target.as_str())];
    let out = shopdb(&dir, &["restore", "site.zip"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("restored site.zip into "),
        "{}",
        text(&out.stdout)
    );
    let listed = shopdb(&dir, &["plugin", "list"], &env);
    assert!(
        text(&listed.stdout).contains("computers 1.0.0 [Enabled]"),
        "{}",
        text(&listed.stdout)
    );

    let refused = shopdb(&dir, &["restore", "site.zip"], &env);
    assert_eq!(refused.status.code(), Some(1));
    let lines = messages(&text(&refused.stderr)).join("\n");
    assert!(
        lines.starts_with("shopdb: restore needs an empty database") && !lines.contains('\n'),
        "{lines}"
    );
    std::fs::write(dir.join("notes.txt"), "not an archive").unwrap();
    let junk = shopdb(
        &dir,
        &["restore", "notes.txt"],
        &[(
            "DATABASE_URL",
            &format!("sqlite://{}/other.sqlite", dir.display()),
        )],
    );
    assert_eq!(junk.status.code(), Some(1));
    assert!(
        text(&junk.stderr).contains("notes.txt is not a ShopDB backup"),
        "{}",
        text(&junk.stderr)
    );

    let out = shopdb(&dir, &["plugin", "uninstall", "computers"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let file = stdout
        .split(" backed up to ")
        .nth(1)
        .expect("backup file")
        .trim();
    let out = shopdb(&dir, &["plugin", "restore", file], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("rows of computers (installed it first)"),
        "{}",
        text(&out.stdout)
    );
    let again = shopdb(&dir, &["plugin", "restore", file], &env);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("a backup is only restored into a plugin without records"),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn import_export_and_undo_as_an_operator_runs_them() {
    let dir = temp_dir("import");
    std::fs::write(
        dir.join("plant.csv"),
        "Asset Number;Name;Asset Type;Location\nM-1;Lathe;Other;Bay 1\nM-2;Mill;Other;Bay 9\n",
    )
    .unwrap();
    let dry = shopdb(
        &dir,
        &[
            "import",
            "assets",
            "plant.csv",
            "--key",
            "assetnumber",
            "--dry-run",
        ],
        &[],
    );
    let stdout = text(&dry.stdout);
    assert_eq!(
        dry.status.code(),
        Some(1),
        "rows in error: exit 1: {stdout}"
    );
    assert!(
        stdout.contains("line 2: error M-1: locationname there is no location named 'Bay 1'"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 rows: 0 created, 0 updated, 0 unchanged, 2 in error")
            && stdout.contains("dry run: nothing was changed"),
        "{stdout}"
    );

    let applied = shopdb(
        &dir,
        &[
            "import",
            "assets",
            "plant.csv",
            "--key",
            "assetnumber",
            "--create-missing",
        ],
        &[],
    );
    let stdout = text(&applied.stdout);
    assert!(
        applied.status.success(),
        "{stdout}{}",
        text(&applied.stderr)
    );
    assert!(
        stdout.contains("line 3: create M-2") && stdout.contains("2 created"),
        "{stdout}"
    );
    let batch = stdout
        .split("applied as import batch ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a batch id")
        .to_string();

    let export = shopdb(
        &dir,
        &["export", "assets", "q=Mill", "--output", "out.csv"],
        &[],
    );
    assert!(export.status.success(), "{}", text(&export.stderr));
    let csv = std::fs::read_to_string(dir.join("out.csv")).unwrap();
    assert!(
        csv.starts_with("assetid,assetnumber,name,")
            && csv.contains(",M-2,Mill,Other,In Service,Bay 9,")
            && !csv.contains("M-1"),
        "{csv}"
    );
    let again = shopdb(
        &dir,
        &["import", "assets", "out.csv", "--key", "assetid"],
        &[],
    );
    assert!(
        again.status.success()
            && text(&again.stdout).contains("1 unchanged")
            && text(&again.stdout).contains("nothing to change"),
        "{}",
        text(&again.stdout)
    );

    let undo = shopdb(&dir, &["import", "undo", &batch], &[]);
    assert!(undo.status.success(), "{}", text(&undo.stderr));
    assert!(
        text(&undo.stdout).contains("4 records deleted, 0 records restored"),
        "two assets and the two locations: {}",
        text(&undo.stdout)
    );
    let twice = shopdb(&dir, &["import", "undo", &batch], &[]);
    assert_eq!(twice.status.code(), Some(1));
    assert!(
        text(&twice.stderr).contains("was undone at"),
        "{}",
        text(&twice.stderr)
    );
    let missing = shopdb(
        &dir,
        &["import", "assets", "nosuch.csv", "--key", "assetnumber"],
        &[],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        text(&missing.stderr).lines().count(),
        1,
        "{}",
        text(&missing.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
