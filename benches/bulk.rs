//! Writes beyond PostgREST: 1,000 rows changed by one bulk PATCH (a JSON
//! array, each element naming its row by primary key) beside the same
//! 1,000 changes as single PATCHes, through `RestService` on one connection,
//! in the same run. Prints the ratio of the two medians.
//!
//! Run with: `cargo bench --bench bulk`

#![allow(dead_code, unreachable_pub)]

#[path = "../tests/support/cluster.rs"]
mod cluster;
#[path = "support/medians.rs"]
mod medians;

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
             GRANT SELECT, UPDATE ON items TO anon;
             CREATE TABLE authors (id serial PRIMARY KEY, name text NOT NULL);
             CREATE TABLE books (id serial PRIMARY KEY, author_id int NOT NULL REFERENCES authors, title text NOT NULL);
             GRANT SELECT, INSERT ON authors, books TO anon;
             GRANT USAGE ON SEQUENCE authors_id_seq, books_id_seq TO anon;"
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

    // 1 parent × 100 children: one nested insert, or the parent then the children.
    let post = |uri: &'static str, prefer: &'static str, body: String| {
        let rest = rest.clone();
        async move {
            let req = http::Request::post(uri)
                .header("content-type", "application/json")
                .header("prefer", prefer)
                .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                .unwrap();
            let res = rest.oneshot(req).await.unwrap();
            assert_eq!(res.status(), 201);
            res.into_body().collect().await.unwrap().to_bytes()
        }
    };
    let children = |author: Option<i64>| -> Vec<String> {
        (0..100)
            .map(|i| match author {
                Some(a) => format!(r#"{{"author_id":{a},"title":"book {i}"}}"#),
                None => format!(r#"{{"title":"book {i}"}}"#),
            })
            .collect()
    };
    let nested = || {
        rt.block_on(post(
            "/authors",
            "return=minimal",
            format!(
                r#"{{"name":"nested","books":[{}]}}"#,
                children(None).join(",")
            ),
        ));
    };
    let two_requests = || {
        rt.block_on(async {
            let parent = post(
                "/authors",
                "return=representation",
                r#"{"name":"two"}"#.into(),
            )
            .await;
            let parent: serde_json::Value = serde_json::from_slice(&parent).unwrap();
            let id = parent[0]["id"].as_i64().unwrap();
            post(
                "/books",
                "return=minimal",
                format!("[{}]", children(Some(id)).join(",")),
            )
            .await;
        })
    };
    nested();
    two_requests();

    let mut group = criterion.benchmark_group("insert_1_parent_100_children");
    group.bench_function("nested_insert", |b| b.iter(nested));
    group.bench_function("two_requests", |b| b.iter(two_requests));
    group.finish();

    let mut group = criterion.benchmark_group("patch_1000_rows");
    group.bench_function("bulk_patch", |b| b.iter(bulk));
    group.bench_function("single_patches", |b| b.iter(singles));
    group.finish();
    criterion.final_summary();
    // `cargo test --benches` runs each benchmark once to check it: no medians then.
    if !medians::measured() {
        return;
    }

    let median = |name: &str| medians::median("patch_1000_rows", name);
    let median_of = medians::median;
    if let (Some(nested), Some(two)) = (
        median_of("insert_1_parent_100_children", "nested_insert"),
        median_of("insert_1_parent_100_children", "two_requests"),
    ) {
        println!(
            "1 parent × 100 children: one nested insert {:.2} ms, two requests {:.2} ms; two/nested = {:.2}",
            nested / 1e6,
            two / 1e6,
            two / nested
        );
    }
    if let (Some(bulk), Some(singles)) = (median("bulk_patch"), median("single_patches")) {
        println!(
            "1,000 rows: one bulk PATCH {:.1} ms, 1,000 PATCHes {:.1} ms; singles/bulk = {:.1}",
            bulk / 1e6,
            singles / 1e6,
            singles / bulk
        );
    }
}
