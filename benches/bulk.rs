//! Writes beyond PostgREST: 1,000 rows changed by one bulk PATCH (a JSON
//! array, each element naming its row by primary key) beside the same
//! 1,000 changes as single PATCHes, through `RestService` on one connection,
//! in the same run. Prints the ratio of the two medians.
//!
//! Run with: `cargo bench --bench bulk`

#![allow(dead_code, unreachable_pub)]

#[path = "../tests/support/cluster.rs"]
mod cluster;

use std::time::Duration;

use criterion::Criterion;
use http_body_util::BodyExt;
use tower::ServiceExt;
use tower_postgrest::RestService;

const ROWS: usize = 1000;

fn main() {
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10))
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
             CREATE TABLE items (id int PRIMARY KEY, price numeric NOT NULL, stock int NOT NULL);
             INSERT INTO items SELECT i, i, 0 FROM generate_series(1, {ROWS}) AS i;
             GRANT SELECT, UPDATE ON items TO anon;"
        ),
    )
    .unwrap();
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
    let patch = |uri: String, body: String| {
        let rest = rest.clone();
        async move {
            let req = http::Request::patch(uri)
                .header("content-type", "application/json")
                .header("prefer", "count=exact")
                .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                .unwrap();
            let res = rest.oneshot(req).await.unwrap();
            assert_eq!(res.status(), 204);
            let range = res.headers()["content-range"].to_str().unwrap().to_owned();
            res.into_body().collect().await.unwrap();
            range
        }
    };
    let round = std::cell::Cell::new(0u32);
    let bulk = || {
        round.set(round.get() + 1);
        let round = round.get();
        let body: Vec<String> = (1..=ROWS)
            .map(|i| format!(r#"{{"id":{i},"stock":{round}}}"#))
            .collect();
        let range = rt.block_on(patch("/items".into(), format!("[{}]", body.join(","))));
        assert_eq!(range, format!("0-{}/{ROWS}", ROWS - 1));
    };
    let singles = || {
        round.set(round.get() + 1);
        let round = round.get();
        rt.block_on(async {
            for i in 1..=ROWS {
                let range = patch(
                    format!("/items?id=eq.{i}"),
                    format!(r#"{{"stock":{round}}}"#),
                )
                .await;
                assert_eq!(range, "0-0/1");
            }
        })
    };
    // Both change every row before anything is measured.
    bulk();
    singles();

    let mut group = criterion.benchmark_group("patch_1000_rows");
    group.bench_function("bulk_patch", |b| b.iter(bulk));
    group.bench_function("single_patches", |b| b.iter(singles));
    group.finish();
    criterion.final_summary();

    let median = |name: &str| -> Option<f64> {
        let dir = std::env::var("CARGO_TARGET_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").to_owned());
        let path = format!("{dir}/criterion/patch_1000_rows/{name}/new/estimates.json");
        let estimates: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        estimates["median"]["point_estimate"].as_f64()
    };
    if let (Some(bulk), Some(singles)) = (median("bulk_patch"), median("single_patches")) {
        println!(
            "1,000 rows: one bulk PATCH {:.1} ms, 1,000 PATCHes {:.1} ms; singles/bulk = {:.1}",
            bulk / 1e6,
            singles / 1e6,
            singles / bulk
        );
    }
}
