//! `Projects`: 200 project databases in one throwaway cluster, served by one
//! process. Its own test binary, so that the resident memory it measures is
//! this test's alone. Print the numbers with
//! `cargo test --test projects -- --nocapture`.

#[path = "support/cluster.rs"]
mod cluster;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use tower::ServiceExt;
use tower_postgrest::Error;
use tower_postgrest::layer::JwtAuthLayer;
use tower_postgrest::projects::{ProjectConfig, ProjectResolver, Projects};

const PROJECTS: u32 = 200;

/// The project is the `x-project` header; its database `p<n>`, its secret its own.
struct ByHeader {
    base: String,
    configs: Arc<AtomicUsize>,
}

fn secret(project: u32) -> String {
    format!("project-{project:04}-secret-of-at-least-32-characters")
}

impl ProjectResolver for ByHeader {
    type Key = u32;

    async fn project_of(&self, parts: &http::request::Parts) -> Option<u32> {
        parts.headers.get("x-project")?.to_str().ok()?.parse().ok()
    }

    async fn config(&self, key: &u32) -> Result<ProjectConfig, Error> {
        self.configs.fetch_add(1, Ordering::SeqCst);
        Ok(ProjectConfig::new(
            format!("{}/p{key}?sslmode=disable", self.base),
            JwtAuthLayer::secret(&secret(*key))?,
        )
        .anon_role("anon")
        .max_connections(2))
    }
}

fn token(project: u32) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({"role": "anon", "exp": 4_000_000_000u64}),
        &jsonwebtoken::EncodingKey::from_secret(secret(project).as_bytes()),
    )
    .unwrap()
}

async fn get(
    svc: &Projects<ByHeader>,
    project: Option<u32>,
    token_of: Option<u32>,
    path: &str,
) -> (u16, String) {
    let mut req = http::Request::get(path);
    if let Some(p) = project {
        req = req.header("x-project", p.to_string());
    }
    if let Some(t) = token_of {
        req = req.header("authorization", format!("Bearer {}", token(t)));
    }
    let req = req
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let res = svc.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: usize = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap();
    kb * 1024
}

async fn connections(admin: &tokio_postgres::Client) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'p%' AND usename = 'authenticator'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[test]
fn two_hundred_projects_in_one_process() {
    let db = cluster::Cluster::start().expect("start a throwaway PostgreSQL");
    db.psql(
        "postgres",
        "CREATE ROLE anon NOLOGIN; CREATE ROLE authenticator LOGIN NOINHERIT; GRANT anon TO authenticator;",
    )
    .unwrap();
    db.psql("postgres", "CREATE DATABASE tmpl").unwrap();
    db.psql(
        "tmpl",
        "CREATE VIEW whoami AS SELECT current_database()::text AS project;
         GRANT SELECT ON whoami TO anon;
         CREATE FUNCTION slow() RETURNS int LANGUAGE sql AS 'SELECT 1 FROM pg_sleep(1.5)';
         GRANT EXECUTE ON FUNCTION slow() TO anon;",
    )
    .unwrap();
    let script = std::env::temp_dir().join(format!("projects-{}.sql", std::process::id()));
    let creates: String = (0..PROJECTS)
        .map(|i| format!("CREATE DATABASE p{i} TEMPLATE tmpl;\n"))
        .collect();
    std::fs::write(&script, creates).unwrap();
    db.psql_file("postgres", &script).unwrap();
    let _ = std::fs::remove_file(&script);
    let base = format!("postgres://authenticator@127.0.0.1:{}", db.port());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (admin, conn) = tokio_postgres::connect(&db.url("postgres", "postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let configs = Arc::new(AtomicUsize::new(0));
        let projects = Projects::builder(ByHeader {
            base: base.clone(),
            configs: Arc::clone(&configs),
        })
        .idle_after(Duration::from_millis(500))
        .build();

        // No project named: 404.
        let (status, body) = get(&projects, None, None, "/whoami").await;
        assert_eq!(status, 404, "{body}");

        // A cold start: the first request of an untouched project.
        let started = Instant::now();
        let (status, body) = get(&projects, Some(0), None, "/whoami").await;
        let cold = started.elapsed();
        assert_eq!((status, body.as_str()), (200, r#"[{"project":"p0"}]"#));

        // Concurrent first requests to one project: one schema load.
        let loads = projects.loads();
        let together: Vec<_> = (0..16)
            .map(|_| {
                let projects = projects.clone();
                tokio::spawn(async move { get(&projects, Some(1), Some(1), "/whoami").await })
            })
            .collect();
        for handle in together {
            let (status, body) = handle.await.unwrap();
            assert_eq!((status, body.as_str()), (200, r#"[{"project":"p1"}]"#));
        }
        assert_eq!(projects.loads() - loads, 1, "16 first requests, one load");

        // Every project answers its own rows, with its own key.
        let before = rss();
        for p in 2..PROJECTS {
            let (status, body) = get(&projects, Some(p), Some(p), "/whoami").await;
            assert_eq!(status, 200, "p{p}: {body}");
            assert_eq!(body, format!(r#"[{{"project":"p{p}"}}]"#));
        }
        let per_project = rss().saturating_sub(before) / (PROJECTS as usize - 2);
        assert_eq!(projects.loaded(), PROJECTS as usize);
        println!(
            "{PROJECTS} projects: {:.0} KiB of resident memory per touched project; a cold start took {cold:?}",
            per_project as f64 / 1024.0
        );
        assert!(per_project < 4 << 20, "{per_project} bytes per project");

        // A token signed with another project's key is 401.
        let (status, body) = get(&projects, Some(5), Some(6), "/whoami").await;
        assert_eq!(status, 401, "{body}");

        // Idle projects hold no connection after the idle interval.
        let start = Instant::now();
        let mut open = connections(&admin).await;
        while open > 0 {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{open} connections left after {:?}",
                start.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            open = connections(&admin).await;
        }
        println!("idle projects held no connection {:?} after the last request", start.elapsed());
        // And serve again.
        let (status, body) = get(&projects, Some(7), None, "/whoami").await;
        assert_eq!((status, body.as_str()), (200, r#"[{"project":"p7"}]"#));

        // Past max_projects, the least recently used go; they come back on use.
        let few = Projects::builder(ByHeader {
            base: base.clone(),
            configs: Arc::clone(&configs),
        })
        .max_projects(3)
        .build();
        for p in [10, 11, 12, 13] {
            assert_eq!(get(&few, Some(p), None, "/whoami").await.0, 200);
        }
        assert_eq!(few.loaded(), 3);
        assert!(few.service(&10).is_none(), "the least recently used was dropped");
        assert_eq!(get(&few, Some(10), None, "/whoami").await.0, 200);
        assert_eq!(few.loads(), 5);

        // With listen(true), each project keeps its own schema current: a
        // NOTIFY reloads that project alone, and with no NOTIFY at all (these
        // databases have no DDL event triggers) the catalog digest notices.
        let listening = Projects::builder(ByHeader {
            base: base.clone(),
            configs: Arc::clone(&configs),
        })
        .listen(true)
        .idle_after(Duration::from_millis(500))
        .build();
        for p in [30, 31] {
            assert_eq!(get(&listening, Some(p), None, "/whoami").await.0, 200);
        }
        let in_use = |dbs: &'static str| {
            let admin = &admin;
            async move {
                let n: i64 = admin
                    .query_one(
                        &format!("SELECT count(*) FROM pg_stat_activity WHERE datname IN ({dbs})"),
                        &[],
                    )
                    .await
                    .unwrap()
                    .get(0);
                n
            }
        };
        for p in ["p30", "p31"] {
            db.psql(p, "CREATE TABLE fresh (id int); GRANT SELECT ON fresh TO anon;")
                .unwrap();
        }
        db.psql("p30", "NOTIFY pgrst, 'reload schema'").unwrap();
        let start = Instant::now();
        while get(&listening, Some(30), None, "/fresh").await.0 != 200 {
            assert!(start.elapsed() < Duration::from_secs(5), "p30 never reloaded");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        while get(&listening, Some(31), None, "/fresh").await.0 != 200 {
            assert!(start.elapsed() < Duration::from_secs(5), "p31 never noticed its new table");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Idle: no connection of any kind to either database, the keepers' included.
        let start = Instant::now();
        while in_use("'p30', 'p31'").await > 0 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{} connections to idle projects after {:?}",
                in_use("'p30', 'p31'").await,
                start.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A table created while p30 slept is served on its very next request.
        db.psql("p30", "CREATE TABLE slept (id int); GRANT SELECT ON slept TO anon;")
            .unwrap();
        assert_eq!(get(&listening, Some(30), None, "/slept").await.0, 200);
        assert_eq!(get(&listening, Some(31), None, "/slept").await.0, 404);

        // A connection budget: one connection for all; a second project
        // waiting past the connection wait gets 503.
        let budgeted = Projects::builder(ByHeader {
            base: base.clone(),
            configs,
        })
        .connection_budget(1)
        .connection_wait(Duration::from_millis(300))
        .idle_after(Duration::from_millis(200))
        .build();
        let slow = {
            let budgeted = budgeted.clone();
            tokio::spawn(async move { get(&budgeted, Some(20), None, "/rpc/slow").await })
        };
        // Wait until the slow call holds the one connection.
        let start = Instant::now();
        loop {
            let running: i64 = admin
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = 'p20' AND query LIKE '%slow%' AND state = 'active'",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            if running > 0 {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "the slow call never ran");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (status, body) = get(&budgeted, Some(21), None, "/whoami").await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(slow.await.unwrap().0, 200);
        // Once the slow call's connection is idle past the interval, the budget frees.
        let start = Instant::now();
        loop {
            let (status, body) = get(&budgeted, Some(21), None, "/whoami").await;
            if status == 200 {
                assert_eq!(body, r#"[{"project":"p21"}]"#);
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{status}: {body}");
        }
    });
}
