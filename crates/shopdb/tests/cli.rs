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
        ],
    );
    assert_eq!(good.status.code(), Some(0), "{}", text(&good.stdout));

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
    assert!(
        stdout.contains("chain core: version 3")
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
