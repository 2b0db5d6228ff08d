//! `shopdb serve` (until a signal stops it) and `shopdb healthcheck`, the minimal client
//! of a running server's health.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use shopdb::app;
use shopdb_core::users::ensure_first_admin;

use crate::load_config;

pub(crate) async fn serve(bind: &str, strict: bool) -> anyhow::Result<ExitCode> {
    let config = load_config()?;
    let addr: SocketAddr = bind
        .parse()
        .with_context(|| format!("--bind {bind} is not an address like 127.0.0.1:5001"))?;
    let app = app::start(config).await?;
    let problems = app.state.registry.problems();
    if strict && !problems.is_empty() {
        bail!("--strict: quarantined plugins: {}", problems.join("; "));
    }
    for p in &problems {
        tracing::warn!("plugin quarantined: {p}");
    }
    if let Some(password) = ensure_first_admin(&app.state.db).await? {
        // Written to stdout only (never the log); a closed stdout must not stop the server.
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "No users yet: created user 'admin' with password: {password}"
        );
        let _ = writeln!(out, "This password is shown once. Log in and keep it safe.");
        let _ = out.flush();
    }
    // Planner statistics (SQLite, PostgreSQL) and SQLite's write-ahead log, kept current
    // while the server runs.
    tokio::spawn(app.state.db.clone().keep_statistics());
    tokio::spawn(app.state.db.clone().keep_checkpointing());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(
        "ShopDB listening on http://{addr} (database {})",
        app.state.db.display_url()
    );
    axum::serve(listener, app.router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    app.state.db.close().await;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}

/// A minimal HTTP/1.1 GET of `<url>/api/health`, enough for a container health check.
pub(crate) fn healthcheck(url: &str) -> anyhow::Result<ExitCode> {
    let rest = url
        .strip_prefix("http://")
        .context("--url must start with http://")?;
    let host = rest.split('/').next().unwrap_or(rest);
    let addr = host
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {host}"))?
        .next()
        .with_context(|| format!("cannot resolve {host}"))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .with_context(|| format!("no server at {url}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET /api/health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response.split_whitespace().nth(1).unwrap_or("none");
    if status == "200" {
        println!("healthy");
        Ok(ExitCode::SUCCESS)
    } else {
        bail!("{url} answered status {status}: unhealthy")
    }
}
