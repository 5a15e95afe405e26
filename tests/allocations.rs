//! Heap allocations per steady-state request, counted by a counting global
//! allocator (its own test binary, so that nothing else runs in the process
//! while it counts): a GET by primary key with a JWT through `JwtAuthLayer` →
//! `SetRoleLayer` → `RestService`, against a throwaway PostgreSQL, on a
//! current-thread runtime, so the count includes the connection task's work.
//!
//! Counts are deterministic, unlike timings: the test fails when a change
//! brings back a per-request allocation storm. Print them with
//! `cargo test --test allocations -- --nocapture`.

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/stack.rs"]
mod stack;

use std::alloc::System;
use std::path::Path;

use http_body_util::BodyExt;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower::{Service, ServiceExt};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const REQUESTS: usize = 1000;
/// The most allocations (and reallocations) one request may make. Measured:
/// 125 before the per-request allocation work, 74 after it, 37 once reads
/// stopped going through tokio-postgres (its channels and buffers for the
/// four statements of the transaction); the margin is for dependency updates.
const MAX_ALLOCATIONS_PER_REQUEST: usize = 50;

#[test]
fn a_steady_state_get_allocates_little() {
    let db = cluster::Cluster::start().expect("start a throwaway PostgreSQL");
    db.psql_file(
        "postgres",
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema.sql"),
    )
    .expect("load the fixture");
    let url = db.url("authenticator", "postgres");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let (_, mut svc) = stack::one_connection_stack(&rt, &url);
    let token = stack::anon_token();
    let bearer = format!("Bearer {token}");
    let request = || {
        http::Request::get("/items?select=*&id=eq.4")
            .header("authorization", &bearer)
            .header("apikey", &token)
            .header("accept", "*/*")
            .header("user-agent", "allocations-test")
            .body(String::new())
            .unwrap()
    };
    let mut get = |n: usize| {
        rt.block_on(async {
            for _ in 0..n {
                let ready = ServiceExt::<http::Request<String>>::ready(&mut svc).await;
                let response = ready.unwrap().call(request()).await.unwrap();
                assert_eq!(response.status(), 200);
                let body = response.into_body().collect().await.unwrap().to_bytes();
                assert!(body.starts_with(b"[{\"id\":4"));
            }
        })
    };
    // Warm: the connection, its prepared statements, the JWT cache.
    get(100);

    // What the test itself allocates per request (building it, reading the
    // response), to subtract.
    let region = Region::new(GLOBAL);
    rt.block_on(async {
        for _ in 0..REQUESTS {
            let body = http_body_util::Full::new(bytes::Bytes::from_static(b"[]"));
            let response = http::Response::new(body);
            drop(request());
            let _ = response.into_body().collect().await.unwrap().to_bytes();
        }
    });
    let harness = {
        let c = region.change();
        c.allocations + c.reallocations
    };

    let region = Region::new(GLOBAL);
    get(REQUESTS);
    let change = region.change();
    let per_request = (change.allocations + change.reallocations - harness) / REQUESTS;
    let bytes = change.bytes_allocated / REQUESTS;
    println!(
        "GET by primary key with a JWT: {per_request} allocations (reallocations included) and \
         {bytes} bytes per request (the test's own {} per request excluded)",
        harness / REQUESTS
    );
    assert!(
        per_request <= MAX_ALLOCATIONS_PER_REQUEST,
        "{per_request} allocations per request, more than {MAX_ALLOCATIONS_PER_REQUEST}"
    );
}
