//! A 300,000-row export: the table as NDJSON through `RestService` (streamed
//! through a cursor) beside `COPY (SELECT … ORDER BY id) TO STDOUT` of the
//! same rows over raw tokio-postgres, in the same run, each read to the last
//! byte and counted. Prints the ratio of the two medians at the end.
//!
//! Run with: `cargo bench --bench export`

#![allow(dead_code, unreachable_pub)]

#[path = "../tests/support/cluster.rs"]
mod cluster;
#[path = "support/medians.rs"]
mod medians;

use std::time::Duration;

use criterion::Criterion;
use futures_util::StreamExt;
use http_body_util::BodyExt;
use tower::ServiceExt;
use tower_postgrest::RestService;

const ROWS: usize = 300_000;

fn main() {
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(15))
        .configure_from_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = cluster::Cluster::start().expect("start a throwaway PostgreSQL");
    db.psql(
        "postgres",
        &format!(
            "CREATE ROLE anon NOLOGIN;
             CREATE ROLE authenticator LOGIN NOINHERIT;
             GRANT anon TO authenticator;
             CREATE TABLE big (id int PRIMARY KEY, name text, digest text, at timestamptz, amount numeric);
             INSERT INTO big SELECT i, 'name ' || i, md5(i::text), '2026-01-01'::timestamptz + i * interval '1 s', i / 100.0
             FROM generate_series(1, {ROWS}) AS i;
             GRANT SELECT ON big TO anon;"
        ),
    )
    .unwrap();
    db.psql("postgres", "VACUUM ANALYZE big").unwrap();
    let url = db.url("authenticator", "postgres");

    let manager =
        tower_postgrest::ConnectionManager::from_url(&url, tokio_postgres::NoTls).unwrap();
    let rest = rt.block_on(async {
        let pool = manager
            .pool_builder()
            .max_size(1)
            .build(manager)
            .await
            .unwrap();
        RestService::builder(pool)
            .anon_role("anon")
            .build()
            .await
            .unwrap()
    });
    let api = || {
        rt.block_on(async {
            let req = http::Request::get("/big?order=id")
                .header("accept", "application/x-ndjson")
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap();
            let mut body = rest.clone().oneshot(req).await.unwrap().into_body();
            let (mut bytes, mut lines) = (0, 0);
            while let Some(frame) = body.frame().await {
                let data = frame.unwrap().into_data().unwrap();
                bytes += data.len();
                lines += data.iter().filter(|&&b| b == b'\n').count();
            }
            (bytes, lines)
        })
    };

    let (client, connection) = rt
        .block_on(tokio_postgres::connect(&url, tokio_postgres::NoTls))
        .unwrap();
    rt.spawn(connection);
    rt.block_on(client.batch_execute("SET ROLE anon")).unwrap();
    let copy = || {
        rt.block_on(async {
            let stream = client
                .copy_out("COPY (SELECT * FROM big ORDER BY id) TO STDOUT")
                .await
                .unwrap();
            let mut stream = std::pin::pin!(stream);
            let (mut bytes, mut lines) = (0, 0);
            while let Some(chunk) = stream.next().await {
                let data = chunk.unwrap();
                bytes += data.len();
                lines += data.iter().filter(|&&b| b == b'\n').count();
            }
            (bytes, lines)
        })
    };
    // Both read every row before anything is measured.
    let (api_bytes, api_lines) = api();
    let (copy_bytes, copy_lines) = copy();
    assert_eq!((api_lines, copy_lines), (ROWS, ROWS));
    println!("export of {ROWS} rows: NDJSON {api_bytes} bytes, COPY text {copy_bytes} bytes");

    let mut group = criterion.benchmark_group("export_300k");
    group.bench_function("copy_to_stdout", |b| b.iter(copy));
    group.bench_function("api_ndjson", |b| b.iter(api));
    group.finish();
    criterion.final_summary();
    // `cargo test --benches` runs each benchmark once to check it: no medians then.
    if !medians::measured() {
        return;
    }

    let median = |name: &str| medians::median("export_300k", name);
    if let (Some(copy), Some(api)) = (median("copy_to_stdout"), median("api_ndjson")) {
        println!(
            "300k-row export: COPY {:.0} ms, API NDJSON {:.0} ms; copy/api = {:.2} (1.00 = as fast as COPY)",
            copy / 1e6,
            api / 1e6,
            copy / api
        );
    }
}
