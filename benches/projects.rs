//! One hot project through `Projects` (resolver, project table, its own
//! `JwtAuthLayer` → `SetRoleLayer` → `RestService`) beside the same stack
//! mounted bare, on one connection each, against the same database in the
//! same run: a GET by primary key with a JWT. Prints the ratio of the two
//! medians (goal: within 5 %).
//!
//! Run with: `cargo bench --bench projects`

#![allow(dead_code, unreachable_pub)]

#[path = "../tests/support/cluster.rs"]
mod cluster;
#[path = "support/medians.rs"]
mod medians;
#[path = "../tests/support/stack.rs"]
mod stack;

use std::path::Path;
use std::time::Duration;

use criterion::Criterion;
use http_body_util::BodyExt;
use tower::{Service, ServiceExt};
use tower_postgrest::layer::JwtAuthLayer;
use tower_postgrest::projects::{ProjectConfig, ProjectResolver, Projects};

struct One {
    url: String,
}

impl ProjectResolver for One {
    type Key = String;

    async fn project_of(&self, parts: &http::request::Parts) -> Option<String> {
        let host = parts.headers.get("host")?.to_str().ok()?;
        Some(host.split('.').next()?.to_owned())
    }

    async fn config(&self, _: &String) -> Result<ProjectConfig, tower_postgrest::Error> {
        Ok(
            ProjectConfig::new(self.url.clone(), JwtAuthLayer::secret(stack::SECRET)?)
                .anon_role("anon")
                .max_connections(1),
        )
    }
}

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
    let (_, mut bare) = stack::one_connection_stack(&rt, &url);
    let mut projects = Projects::builder(One {
        url: format!("{url}?sslmode=disable"),
    })
    .build();
    let bearer = format!("Bearer {}", stack::anon_token());
    let request = || {
        http::Request::get("/items?select=*&id=eq.4")
            .header("host", "acme.localhost")
            .header("authorization", &bearer)
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap()
    };
    let mut through_bare = || {
        rt.block_on(async {
            let ready =
                ServiceExt::<http::Request<http_body_util::Full<bytes::Bytes>>>::ready(&mut bare)
                    .await
                    .unwrap();
            let res = ready.call(request()).await.unwrap();
            assert_eq!(res.status(), 200);
            res.into_body().collect().await.unwrap().to_bytes()
        })
    };
    let mut through_projects = || {
        rt.block_on(async {
            let ready = ServiceExt::<http::Request<http_body_util::Full<bytes::Bytes>>>::ready(
                &mut projects,
            )
            .await
            .unwrap();
            let res = ready.call(request()).await.unwrap();
            assert_eq!(res.status(), 200);
            res.into_body().collect().await.unwrap().to_bytes()
        })
    };
    // Both answer the same row before anything is measured.
    assert_eq!(through_bare(), through_projects());

    let mut group = criterion.benchmark_group("one_hot_project");
    group.bench_function("bare_rest_service", |b| b.iter(&mut through_bare));
    group.bench_function("through_projects", |b| b.iter(&mut through_projects));
    group.finish();
    criterion.final_summary();
    // `cargo test --benches` runs each benchmark once to check it: no medians then.
    if !medians::measured() {
        return;
    }

    let median = |name: &str| medians::median("one_hot_project", name);
    if let (Some(bare), Some(projects)) = (median("bare_rest_service"), median("through_projects"))
    {
        println!(
            "one hot project: bare {:.1} µs, through Projects {:.1} µs; bare/projects = {:.3} (1.000 = no cost)",
            bare / 1000.0,
            projects / 1000.0,
            bare / projects
        );
    }
}
