//! The baselines of the load test: raw tokio-postgres running the same
//! transactions the API runs — BEGIN, the context `set_config`s, the statement
//! tower-postgrest renders for a request, COMMIT — pipelined on each
//! connection, with no JWT, no parsing and no planning.
//!
//! Two ways to run it:
//!
//! - `raw_load URL CONNECTIONS SECONDS PATH QUERY` drives the database
//!   directly from CONNECTIONS tasks (no HTTP at all) and prints `requests/s`
//!   and the 50th and 99th percentile latencies.
//! - `raw_load --http URL POOL PATH QUERY` serves that transaction over HTTP
//!   on a pool of POOL connections, mounted in axum at `/rest/v1` as the demo
//!   server mounts the API, answering every request with the statement's JSON
//!   body. The same wrk command then drives it and tower-postgrest, so the
//!   difference between the two is what the crate adds (JWT, parsing,
//!   planning, rendering, the pool, the response headers). Prints `Serving
//!   raw tokio-postgres at URL`.
//!
//! e.g. `cargo run --release --example raw_load -- postgres://authenticator@127.0.0.1:5432/demo 32 10 /things id=eq.42`.

#[path = "support/allocator.rs"]
mod allocator;
#[path = "../tests/support/raw.rs"]
mod raw;
#[path = "support/runtime.rs"]
mod runtime;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_postgres::Client;
use tower_postgrest::__private::{parts, render_get};
use tower_postgrest::schema::Schema;

/// The role and claims the baselines run as: the demo's anon key.
const ROLE: &str = "anon";
const CLAIMS: &str = r#"{"role":"anon"}"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The load bench's database is on this machine, as the demo server's.
    runtime::runtime(None)?.block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.as_slice() {
        [_, flag, url, pool, path, query] if flag == "--http" => {
            serve(url, pool.parse()?, path, query).await
        }
        [_, url, connections, seconds, path, query] => {
            let duration = Duration::from_secs(seconds.parse()?);
            drive(url, connections.parse()?, duration, path, query).await
        }
        _ => Err("usage: raw_load URL CONNECTIONS SECONDS PATH QUERY\n   or: raw_load --http URL POOL PATH QUERY".into()),
    }
}

/// The statement and parameters the API renders for `path?query`, from the live schema.
async fn statement(
    url: &str,
    path: &str,
    query: &str,
) -> Result<(String, Vec<Option<String>>), Box<dyn std::error::Error>> {
    let manager = tower_postgrest::ConnectionManager::from_url(url, tokio_postgres::NoTls)?;
    let pool = manager.pool_builder().max_size(1).build(manager).await?;
    let cache = tower_postgrest::SchemaCache::load(pool, ["public"]).await?;
    let schema: Arc<Schema> = cache.snapshot();
    let stmt = render_get(&schema, path, query, &http::HeaderMap::new(), None)?;
    let (sql, params) = parts(&stmt);
    Ok((sql.to_owned(), params))
}

/// A connection with the read prepared on it.
async fn connect(
    url: &str,
    sql: &str,
    params: &[Option<String>],
    path: &str,
) -> Result<(Client, raw::RawRead), tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let read = raw::RawRead::prepare(&client, sql, params, ROLE, CLAIMS, path).await?;
    Ok((client, read))
}

/// Runs the read from `connections` tasks for `duration`, without HTTP.
async fn drive(
    url: &str,
    connections: usize,
    duration: Duration,
    path: &str,
    query: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let (sql, params) = statement(url, path, query).await?;
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, read) = connect(url, &sql, &params, path).await?;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                read.run(&client).await.unwrap();
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    println!(
        "raw tokio-postgres {path}?{query}: {:.0} requests/s, p50 {:?}, p99 {:?}",
        all.len() as f64 / duration.as_secs_f64(),
        pct(0.5),
        pct(0.99)
    );
    Ok(())
}

/// The smallest pool that works: idle connections on a stack, and a
/// semaphore with one permit per connection.
struct RawPool {
    idle: Mutex<Vec<(Client, raw::RawRead)>>,
    permits: tokio::sync::Semaphore,
}

impl RawPool {
    async fn run(&self) -> Result<bytes::Bytes, tokio_postgres::Error> {
        let _permit = self.permits.acquire().await.expect("never closed");
        let lent = Lent {
            pool: self,
            conn: self.idle.lock().unwrap().pop(),
        };
        let (client, read) = lent.conn.as_ref().expect("one per permit");
        // All four messages are written on the first poll, so a request
        // dropped mid-way (wrk closing its connections) still leaves the
        // connection outside any transaction once they complete.
        let body: Option<String> = read.run(client).await?.get(2);
        Ok(body.unwrap_or_default().into())
    }
}

/// A connection out of the pool, back in on drop, whatever happens.
struct Lent<'a> {
    pool: &'a RawPool,
    conn: Option<(Client, raw::RawRead)>,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.idle.lock().unwrap().push(conn);
        }
    }
}

/// Serves the read over plain hyper until killed.
async fn serve(
    url: &str,
    size: usize,
    path: &str,
    query: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let (sql, params) = statement(url, path, query).await?;
    let mut idle = Vec::new();
    for _ in 0..size {
        idle.push(connect(url, &sql, &params, path).await?);
    }
    let pool = Arc::new(RawPool {
        idle: Mutex::new(idle),
        permits: tokio::sync::Semaphore::new(size),
    });
    // Mounted the way the demo server mounts the API, so that both sides
    // pay the same for axum and hyper.
    let service = tower::service_fn(move |_: axum::extract::Request| {
        let pool = Arc::clone(&pool);
        async move {
            let response = match pool.run().await {
                Ok(body) => hyper::Response::builder()
                    .header("content-type", "application/json; charset=utf-8")
                    .body(http_body_util::Full::new(body)),
                Err(e) => hyper::Response::builder()
                    .status(500)
                    .body(http_body_util::Full::new(e.to_string().into())),
            };
            Ok::<_, Infallible>(response.expect("a valid response"))
        }
    });
    let app = axum::Router::new().nest_service("/rest/v1", service);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    println!(
        "Serving raw tokio-postgres at http://{}/rest/v1",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}
