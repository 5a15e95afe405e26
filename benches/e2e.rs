//! End to end: a GET by primary key with a JWT through the whole tower stack
//! (`JwtAuthLayer` → `SetRoleLayer` → `RestService`) against a throwaway
//! PostgreSQL loaded with the test fixture, beside raw tokio-postgres running
//! the identical pipelined transaction on one connection in the same run.
//! Prints the ratio of the two medians at the end.
//!
//! Run with: `cargo bench --bench e2e`

#![allow(dead_code, unreachable_pub)]

#[path = "../tests/support/cluster.rs"]
mod cluster;
#[path = "support/medians.rs"]
mod medians;
#[path = "../tests/support/raw.rs"]
mod raw;
#[path = "../tests/support/stack.rs"]
mod stack;

use std::path::Path;
use std::time::Duration;

use criterion::Criterion;
use http_body_util::BodyExt;
use tower::{Service, ServiceExt};
use tower_postgrest::__private::{parts, render_get};

const PATH: &str = "/items";
const QUERY: &str = "select=*&id=eq.4";

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = cluster::Cluster::start().expect("start a throwaway PostgreSQL");
    db.psql_file(
        "postgres",
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema.sql"),
    )
    .unwrap();
    let url = db.url("authenticator", "postgres");

    // The service, over a pool of one connection.
    let (rest, mut svc) = stack::one_connection_stack(&rt, &url);
    let schema = rest.schema_cache().snapshot();
    let claims = stack::anon_claims();
    let token = stack::anon_token();
    let bearer = format!("Bearer {token}");
    let request = || {
        http::Request::get(format!("{PATH}?{QUERY}"))
            .header("authorization", &bearer)
            .body(String::new())
            .unwrap()
    };
    let mut through_stack = || {
        rt.block_on(async {
            let ready = ServiceExt::<http::Request<String>>::ready(&mut svc).await;
            let response = ready.unwrap().call(request()).await.unwrap();
            assert_eq!(response.status(), 200);
            response.into_body().collect().await.unwrap().to_bytes()
        })
    };
    let from_stack = through_stack();

    // Raw tokio-postgres: the same statement, parameters and context, pipelined.
    let (client, connection) = rt
        .block_on(tokio_postgres::connect(&url, tokio_postgres::NoTls))
        .unwrap();
    rt.spawn(connection);
    let stmt = render_get(&schema, PATH, QUERY, &http::HeaderMap::new(), None).unwrap();
    let (sql, params) = parts(&stmt);
    let claims_text = claims.to_string();
    let read = rt
        .block_on(raw::RawRead::prepare(
            &client,
            sql,
            &params,
            "anon",
            &claims_text,
            PATH,
        ))
        .unwrap();
    let raw = || rt.block_on(read.run(&client)).unwrap();
    // Both answer the same row before anything is measured.
    let raw_body: Option<String> = raw().get(2);
    let stack_json: serde_json::Value = serde_json::from_slice(&from_stack).unwrap();
    let raw_json: serde_json::Value = serde_json::from_str(&raw_body.unwrap()).unwrap();
    assert_eq!(stack_json, raw_json);

    let mut group = criterion.benchmark_group("e2e_get_by_pk");
    group.bench_function("raw_tokio_postgres", |b| b.iter(raw));
    group.bench_function("tower_stack_with_jwt", |b| b.iter(&mut through_stack));
    group.finish();
    criterion.final_summary();
    // `cargo test --benches` runs each benchmark once to check it: no medians then.
    if !medians::measured() {
        return;
    }

    let median = |name: &str| medians::median("e2e_get_by_pk", name);
    if let (Some(raw), Some(stack)) = (median("raw_tokio_postgres"), median("tower_stack_with_jwt"))
    {
        println!(
            "e2e GET by PK: raw {:.1} µs, stack {:.1} µs; raw/stack = {:.2} (1.00 = as fast as raw)",
            raw / 1000.0,
            stack / 1000.0,
            raw / stack
        );
    }
}
