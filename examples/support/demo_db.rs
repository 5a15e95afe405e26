#![allow(dead_code, unreachable_pub)]

//! The examples' database: `DATABASE_URL` when set, otherwise a throwaway
//! PostgreSQL cluster loaded with `examples/demo.sql` (and any extra SQL).
//!
//! Included by each example with `#[path]`, beside `tests/support/cluster.rs`.

use std::path::Path;

use crate::cluster::Cluster;

/// Where the example's database is.
pub struct DemoDb {
    /// What the API connects as: the `authenticator` role (or `DATABASE_URL`'s user).
    pub api_url: String,
    /// A superuser (or `DATABASE_URL`'s user), for the example's own queries.
    pub admin_url: String,
    /// The throwaway cluster, removed when dropped.
    pub cluster: Option<Cluster>,
}

/// `DATABASE_URL` (or `PGRST_DB_URI`) as is, or a throwaway cluster with the
/// demo data and then each of `extra` (SQL text) loaded.
pub async fn start(extra: &[&str]) -> Result<DemoDb, Box<dyn std::error::Error>> {
    let given = ["DATABASE_URL", "PGRST_DB_URI"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()));
    if let Some(url) = given {
        return Ok(DemoDb {
            api_url: url.clone(),
            admin_url: url,
            cluster: None,
        });
    }
    println!("DATABASE_URL is not set: starting a throwaway PostgreSQL cluster…");
    let c = tokio::task::spawn_blocking(Cluster::start).await??;
    c.psql("postgres", "CREATE DATABASE demo")?;
    c.psql_file(
        "demo",
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo.sql"),
    )?;
    for sql in extra {
        c.psql("demo", sql)?;
    }
    // New tables appear by themselves: DDL sends `NOTIFY pgrst` (as Supabase does).
    c.psql("demo", tower_postgrest::SchemaCache::DDL_WATCH_SQL)?;
    println!("PostgreSQL is running: {}", c.url("postgres", "demo"));
    Ok(DemoDb {
        api_url: c.url("authenticator", "demo"),
        admin_url: c.url("postgres", "demo"),
        cluster: Some(c),
    })
}

/// Resolves on SIGTERM (what an orchestrator sends) or Ctrl-C: the examples
/// then stop accepting, let the requests in flight finish, and exit 0.
#[allow(dead_code)]
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// How long a connection may take to send a request's headers, which is
/// also how long an idle keep-alive connection stays open
/// (`PGRST_SERVER_HEADER_TIMEOUT`, in seconds; 30 by default). A client
/// that opens connections and never finishes a request cannot keep them.
pub fn header_timeout() -> std::time::Duration {
    let secs = std::env::var("PGRST_SERVER_HEADER_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(30);
    std::time::Duration::from_secs(secs.max(1))
}

/// Raises the process's open-file limit to its hard limit: each connection
/// is a file, and the usual soft limit (1024) is a few hundred clients.
pub fn raise_open_files() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets the
/// requests in flight finish. Each connection must send its request's
/// headers within [`header_timeout`] (and is closed after that long idle
/// between requests), which `axum::serve` does not bound.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;

    // HTTP/1 only: the header timeout then runs from the first byte
    // awaited (a connection that sends nothing is closed too), where the
    // HTTP/2 detection would wait for bytes without a bound.
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(accepted) => accepted,
                    // Out of files or the like: wait a moment rather than spin.
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(app.clone());
                let connection = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
