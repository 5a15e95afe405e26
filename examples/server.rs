//! The demo server: the REST API mounted at `/rest/v1` of an axum app.
//!
//! Run with: `cargo run --example server`
//!
//! Without `DATABASE_URL` (or `PGRST_DB_URI`) it starts a throwaway PostgreSQL
//! cluster from the local server binaries, loads `examples/demo.sql` (a small
//! bookstore), and removes the cluster on Ctrl-C. Configuration, with
//! PostgREST's names:
//!
//! | variable | default |
//! |---|---|
//! | `DATABASE_URL` / `PGRST_DB_URI` | a throwaway cluster |
//! | `PGRST_DB_SCHEMAS` | `public` |
//! | `PGRST_DB_ANON_ROLE` | `anon` |
//! | `PGRST_DB_MAX_ROWS` | unlimited |
//! | `PGRST_DB_POOL` | `10` |
//! | `PGRST_JWT_SECRET` | unset (JWT auth is not implemented yet) |
//! | `PGRST_SERVER_HOST` | `127.0.0.1` |
//! | `PGRST_SERVER_PORT` | `3000` |

#[path = "../tests/support/cluster.rs"]
mod cluster;

use std::path::Path;

use tower_postgrest::{ConnectionManager, RestService};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_parse<T: std::str::FromStr>(name: &str) -> Result<Option<T>, String> {
    env(name)
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| format!("{name}={v:?} is not a valid number"))
        })
        .transpose()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_postgrest=debug".into()),
        )
        .init();

    let schemas: Vec<String> = env("PGRST_DB_SCHEMAS")
        .unwrap_or_else(|| "public".into())
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let anon_role = env("PGRST_DB_ANON_ROLE").unwrap_or_else(|| "anon".into());
    let max_rows: Option<u64> = env_parse("PGRST_DB_MAX_ROWS")?;
    let pool_size: u32 = env_parse("PGRST_DB_POOL")?.unwrap_or(10);
    let host = env("PGRST_SERVER_HOST").unwrap_or_else(|| "127.0.0.1".into());
    let port: u16 = env_parse("PGRST_SERVER_PORT")?.unwrap_or(3000);
    if env("PGRST_JWT_SECRET").is_some() {
        tracing::warn!(
            "PGRST_JWT_SECRET is set, but JWT auth is not implemented yet: every request runs as {anon_role}"
        );
    }

    // A database: the one given, or a throwaway cluster with the demo data.
    let mut throwaway = None;
    let url = match env("DATABASE_URL").or_else(|| env("PGRST_DB_URI")) {
        Some(url) => url,
        None => {
            println!("DATABASE_URL is not set: starting a throwaway PostgreSQL cluster…");
            let c = tokio::task::spawn_blocking(cluster::Cluster::start).await??;
            c.psql("postgres", "CREATE DATABASE demo")?;
            c.psql_file(
                "demo",
                &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo.sql"),
            )?;
            let url = c.url("authenticator", "demo");
            println!("PostgreSQL is running: {}", c.url("postgres", "demo"));
            throwaway = Some(c);
            url
        }
    };

    let manager = ConnectionManager::from_url(&url, tokio_postgres::NoTls)?;
    let pool = manager
        .pool_builder()
        .max_size(pool_size)
        .build(manager)
        .await?;
    let mut builder = RestService::builder(pool)
        .schemas(schemas)
        .anon_role(anon_role);
    if let Some(max) = max_rows {
        builder = builder.max_rows(max);
    }
    let rest = builder.build().await?;

    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(|| async { "tower-postgrest demo: the API is at /rest/v1\n" }),
        )
        .nest_service("/rest/v1", rest);
    let listener = tokio::net::TcpListener::bind((host.as_str(), port)).await?;
    let base = format!("http://{}/rest/v1", listener.local_addr()?);
    println!("\nServing the REST API at {base}\nTry:");
    println!("  curl '{base}/books?select=title,price&price=gt.10&order=price.desc&limit=2'");
    println!("  curl '{base}/authors?select=name,born&country=eq.US&order=born'");
    println!(
        "  curl -G -H 'Accept: application/vnd.pgrst.object+json' '{base}/books' \\\n       --data-urlencode 'select=title,series:details->>series' --data-urlencode 'id=eq.4'"
    );
    println!("Press Ctrl-C to stop.");

    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    if let Some(mut c) = throwaway {
        println!("Removing the throwaway cluster…");
        c.stop();
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
