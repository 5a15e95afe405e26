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
