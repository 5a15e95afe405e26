//! The baseline of the load test: raw tokio-postgres running the same
//! transactions the API runs — BEGIN, the context `set_config`s, the statement
//! tower-postgrest renders for a request, COMMIT — pipelined on each
//! connection, with no HTTP, no JWT and no planning.
//!
//! Run with: `cargo run --release --example raw_load -- URL CONNECTIONS SECONDS PATH QUERY`
//! e.g. `… raw_load -- postgres://authenticator@127.0.0.1:5432/demo 32 10 /things id=eq.42`.
//! Prints `requests/s`, and the 50th and 99th percentile latencies.

#[path = "../tests/support/raw.rs"]
mod raw;

use std::time::{Duration, Instant};

use tower_postgrest::__private::{parts, render_get};
use tower_postgrest::schema::Schema;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, connections, seconds, path, query] = args.as_slice() else {
        return Err("usage: raw_load URL CONNECTIONS SECONDS PATH QUERY".into());
    };
    let connections: usize = connections.parse()?;
    let duration = Duration::from_secs(seconds.parse()?);

    // The statement the API renders for this request, from the live schema.
    let manager = tower_postgrest::ConnectionManager::from_url(url, tokio_postgres::NoTls)?;
    let pool = manager.pool_builder().max_size(1).build(manager).await?;
    let cache = tower_postgrest::SchemaCache::load(pool, ["public"]).await?;
    let schema: std::sync::Arc<Schema> = cache.snapshot();
    let stmt = render_get(&schema, path, query, &http::HeaderMap::new(), None)?;
    let (sql, params) = parts(&stmt);
    let (sql, params) = (sql.to_owned(), params.to_vec());

    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (url, sql, params, path) = (url.clone(), sql.clone(), params.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            let read =
                raw::RawRead::prepare(&client, &sql, &params, "anon", r#"{"role":"anon"}"#, &path)
                    .await
                    .unwrap();
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
