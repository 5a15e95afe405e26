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
/// The most allocations (and reallocations) one GET by primary key may
/// make. Measured: 125 before the per-request allocation work, 74 after it,
/// 37 once reads stopped going through tokio-postgres (its channels and
/// buffers for the four statements of the transaction), 41 with the API
/// keys and the spec-suite work, 30 once the default role claim path was
/// built once, common `Accept` types borrowed, the path split in place,
/// `Content-Range` written on the stack, `Content-Location` at its exact
/// length, and each connection's wire buffers kept for its next request.
/// Then 11: names, operands, parameters and the role inline (`CompactString`),
/// the request's conditions, select list and `Accept` offers and the
/// answer's rows inline (`SmallVec`), the SQL text, its parameters and the
/// `request.headers` JSON in buffers each thread reuses (`scratch`), and
/// media handlers looked up by borrowed names. What is left: the
/// extensions the JWT and role layers insert (4), the service's boxed
/// future (1), the plan's select list and conditions (2), the answer's
/// `Content-Location` (1) and header map (2), and one more than the test's
/// own in collecting the answer's body.
const MAX_PER_GET: usize = 12;
/// The same for a PATCH of one row by primary key (`return=minimal`).
/// Measured: 42, then 35, then 20 with the changes above.
const MAX_PER_WRITE: usize = 22;
/// The same for a call of a stable function by GET. Measured: 31, then 24,
/// then 13.
const MAX_PER_CALL: usize = 15;

#[test]
fn steady_state_requests_allocate_little() {
    let db = cluster::Cluster::start().expect("start a throwaway PostgreSQL");
    db.psql_file(
        "postgres",
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema.sql"),
    )
    .expect("load the fixture");
    db.psql(
        "postgres",
        "CREATE TABLE public.counters (id int PRIMARY KEY, n int);
         INSERT INTO public.counters VALUES (1, 0);
         GRANT SELECT, UPDATE ON public.counters TO anon;",
    )
    .expect("the write's table");
    let url = db.url("authenticator", "postgres");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let (_, mut svc) = stack::one_connection_stack(&rt, &url);
    let token = stack::anon_token();
    let bearer = format!("Bearer {token}");
    let request = |method: &str, uri: &str, body: &str| {
        let mut r = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", &bearer)
            .header("apikey", &token)
            .header("accept", "*/*")
            .header("user-agent", "allocations-test");
        if !body.is_empty() {
            r = r.header("content-type", "application/json");
        }
        r.body(body.to_owned()).unwrap()
    };
    // What the test itself allocates per request (building it, reading the
    // response), to subtract.
    let harness = |method: &str, uri: &str, body: &str| {
        let region = Region::new(GLOBAL);
        rt.block_on(async {
            for _ in 0..REQUESTS {
                let full = http_body_util::Full::new(bytes::Bytes::from_static(b"[]"));
                let response = http::Response::new(full);
                drop(request(method, uri, body));
                let _ = response.into_body().collect().await.unwrap().to_bytes();
            }
        });
        let c = region.change();
        c.allocations + c.reallocations
    };
    let mut measure = |what: &str, method: &str, uri: &str, body: &str, status: u16| {
        let mut run = |n: usize| {
            rt.block_on(async {
                for _ in 0..n {
                    let ready = ServiceExt::<http::Request<String>>::ready(&mut svc).await;
                    let response = ready
                        .unwrap()
                        .call(request(method, uri, body))
                        .await
                        .unwrap();
                    assert_eq!(response.status(), status, "{what}");
                    let _ = response.into_body().collect().await.unwrap().to_bytes();
                }
            })
        };
        // Warm: the connection, its prepared statements, the JWT cache.
        run(100);
        let own = harness(method, uri, body);
        let region = Region::new(GLOBAL);
        run(REQUESTS);
        let change = region.change();
        let per_request = (change.allocations + change.reallocations - own) / REQUESTS;
        println!(
            "{what}: {per_request} allocations (reallocations included) and {} bytes per request \
             (the test's own {} per request excluded)",
            change.bytes_allocated / REQUESTS,
            own / REQUESTS
        );
        per_request
    };

    let get = measure(
        "GET by primary key with a JWT",
        "GET",
        "/items?select=*&id=eq.4",
        "",
        200,
    );
    let write = measure(
        "PATCH of one row by primary key",
        "PATCH",
        "/counters?id=eq.1",
        r#"{"n": 1}"#,
        204,
    );
    let call = measure(
        "call of a stable function by GET",
        "GET",
        "/rpc/cheapest_item",
        "",
        200,
    );
    assert!(
        get <= MAX_PER_GET,
        "GET: {get} allocations per request, more than {MAX_PER_GET}"
    );
    assert!(
        write <= MAX_PER_WRITE,
        "PATCH: {write} allocations per request, more than {MAX_PER_WRITE}"
    );
    assert!(
        call <= MAX_PER_CALL,
        "call: {call} allocations per request, more than {MAX_PER_CALL}"
    );
}
