//! The REST API served by plain hyper 1.x with hyper-util: no framework.
//!
//! Run with: `cargo run --example hyper`
//!
//! Serves the demo data (a throwaway database when `DATABASE_URL` is unset) at
//! the root of `http://127.0.0.1:3002` (`PORT` picks another port), as the
//! anonymous role: `curl 'http://127.0.0.1:3002/books?select=title&limit=2'`.

#[path = "support/allocator.rs"]
mod allocator;
#[path = "../tests/support/cluster.rs"]
mod cluster;
#[path = "support/demo_db.rs"]
mod demo_db;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tower_postgrest::{ConnectionManager, RestService};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3002);
    let db = demo_db::start(&[]).await.map_err(|e| e.to_string())?;
    let manager = ConnectionManager::from_url(&db.api_url, tokio_postgres::NoTls)?;
    let pool = manager.pool_builder().build(manager).await?;
    let rest = RestService::builder(pool).anon_role("anon").build().await?;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("Serving the REST API at http://{}", listener.local_addr()?);
    let shutdown = demo_db::shutdown_signal();
    tokio::pin!(shutdown);
    // Connections in flight finish their requests before the process exits.
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                // The service is cheap to clone: one per connection.
                let service = TowerToHyperService::new(rest.clone());
                let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
                // Headers within a bound, and idle connections closed after it.
                builder
                    .http1()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(demo_db::header_timeout());
                let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        eprintln!("connection error: {e}");
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    // At most 30 s for the requests in flight.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), graceful.shutdown()).await;
    drop(db);
    Ok(())
}
