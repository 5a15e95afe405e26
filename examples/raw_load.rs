//! The baseline of the load test: raw tokio-postgres running the same
//! transactions the API runs — BEGIN, the context `set_config`s, the statement
//! tower-postgrest renders for a request, COMMIT — pipelined on each
//! connection, with no HTTP, no JWT and no planning.
//!
//! Run with: `cargo run --release --example raw_load -- URL CONNECTIONS SECONDS PATH QUERY`
//! e.g. `… raw_load -- postgres://authenticator@127.0.0.1:5432/demo 32 10 /things id=eq.42`.
//! Prints `requests/s`, and the 50th and 99th percentile latencies.

use std::time::{Duration, Instant};

use tokio_postgres::types::{Format, IsNull, ToSql, Type, to_sql_checked};
use tower_postgrest::__private::{parts, render_get};
use tower_postgrest::schema::Schema;

/// A value sent in text format whatever the parameter's type, as the API sends them.
#[derive(Debug)]
struct Text(String);

impl ToSql for Text {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    fn encode_format(&self, _: &Type) -> Format {
        Format::Text
    }
    to_sql_checked!();
}

const CONTEXT: &str = "SELECT pg_catalog.set_config('search_path', $1, true), \
     pg_catalog.set_config('role', $2, true), pg_catalog.set_config('request.jwt.claims', $3, true)";

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
        let (url, sql, params) = (url.clone(), sql.clone(), params.clone());
        tasks.push(tokio::spawn(async move {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            // Typed text: the same text parameters the API binds, prepared once.
            let context = client.prepare(CONTEXT).await.unwrap();
            client
                .batch_execute("BEGIN READ ONLY; SELECT set_config('role', 'anon', true)")
                .await
                .unwrap();
            let main = client.prepare(&sql).await.unwrap();
            client.batch_execute("COMMIT").await.unwrap();
            let params: Vec<Text> = params
                .iter()
                .map(|p| Text(p.clone().unwrap_or_default()))
                .collect();
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                let ctx: [&(dyn ToSql + Sync); 3] =
                    [&"\"public\"", &"anon", &"{\"role\":\"anon\"}"];
                let main_params: Vec<&(dyn ToSql + Sync)> =
                    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                let (b, c, m, e) = futures_util::join!(
                    client.batch_execute("BEGIN READ ONLY"),
                    client.query_one(&context, &ctx),
                    client.query_one(&main, &main_params),
                    client.batch_execute("COMMIT"),
                );
                b.unwrap();
                c.unwrap();
                m.unwrap();
                e.unwrap();
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
