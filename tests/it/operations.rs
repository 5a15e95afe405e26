//! Operations, over TCP against the demo server: Server-Timing, request ids,
//! the admin server's /live, /ready and /metrics, and graceful shutdown.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::own_cluster;

const SECRET: &str = "operations-test-secret-of-32-characters-or-more";

/// One HTTP/1.1 exchange: status, headers (lower-case names), body.
fn exchange(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    write!(stream, "{head}\r\n{body}").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The value of the Prometheus sample `name{labels}` (labels as rendered).
fn sample(metrics: &str, prefix: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn demo_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("server")
}

fn token(role: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({"role": role, "exp": 4_000_000_000u64}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

#[test]
fn server_timing_request_ids_health_metrics_and_a_graceful_shutdown() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let c = rt.block_on(own_cluster(
        "CREATE ROLE web NOLOGIN; CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1);
         GRANT SELECT ON public.t TO web; GRANT web TO postgres;
         CREATE FUNCTION public.sleepy(s float8) RETURNS int LANGUAGE sql VOLATILE AS 'SELECT 1 FROM pg_sleep(s)';",
    ));
    // The throwaway cluster runs without synchronous commit: make the setup survive the stop below.
    c.psql("postgres", "CHECKPOINT").unwrap();
    let bin = demo_binary();
    assert!(bin.exists(), "{} not built", bin.display());
    let mut child = Command::new(&bin)
        .env("DATABASE_URL", c.url("postgres", "postgres"))
        .env_remove("PGRST_DB_URI")
        .env("PGRST_JWT_SECRET", SECRET)
        .env("PGRST_DB_ANON_ROLE", "web")
        .env("PGRST_SERVER_PORT", "0")
        .env("PGRST_ADMIN_SERVER_PORT", "0")
        .env("PGRST_SERVER_TIMING_ENABLED", "true")
        .env("PGRST_DB_POOL_ACQUISITION_TIMEOUT", "2")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut api, mut admin) = (String::new(), String::new());
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(base) = line.strip_prefix("Serving the REST API at http://") {
            api = base.trim_end_matches("/rest/v1").to_owned();
        }
        if let Some(rest) = line.strip_prefix("Admin server (/live, /ready, /metrics) at http://") {
            admin = rest.to_owned();
        }
        if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    assert!(
        !api.is_empty() && !admin.is_empty(),
        "the demo did not start"
    );

    // Server-Timing: PostgREST's names, durations in milliseconds; `jwt` when a token was verified.
    let bearer = format!("Bearer {}", token("web"));
    let (status, headers, body) = exchange(
        &api,
        "GET",
        "/rest/v1/t?select=id",
        &[("authorization", &bearer)],
        "",
    );
    assert_eq!((status, body.as_str()), (200, r#"[{"id":1}]"#));
    let timing = header(&headers, "server-timing").expect("Server-Timing");
    let names: Vec<&str> = timing
        .split(", ")
        .map(|e| e.split(';').next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["jwt", "parse", "plan", "transaction", "response"],
        "{timing}"
    );
    for entry in timing.split(", ") {
        let dur: f64 = entry.split_once(";dur=").unwrap().1.parse().unwrap();
        assert!((0.0..10_000.0).contains(&dur), "{timing}");
    }
    let transaction: f64 = timing
        .split(", ")
        .find(|e| e.starts_with("transaction"))
        .unwrap()[16..]
        .parse()
        .unwrap();
    assert!(transaction > 0.0, "the database takes some time: {timing}");

    // Request ids: generated (a UUID), or the client's echoed.
    let generated = header(&headers, "x-request-id").expect("x-request-id");
    assert_eq!(generated.len(), 36, "{generated}");
    let (_, headers, _) = exchange(&api, "GET", "/rest/v1/t", &[("x-request-id", "req-42")], "");
    assert_eq!(header(&headers, "x-request-id"), Some("req-42"));
    let (_, other, _) = exchange(&api, "GET", "/rest/v1/t", &[], "");
    assert_ne!(
        header(&other, "x-request-id"),
        Some(generated),
        "a new id per request"
    );

    // Health.
    assert_eq!(exchange(&admin, "GET", "/live", &[], "").0, 200);
    assert_eq!(exchange(&admin, "GET", "/ready", &[], "").0, 200);

    // Metrics: every name, and a counter that moves.
    let (status, _, metrics) = exchange(&admin, "GET", "/metrics", &[], "");
    assert_eq!(status, 200);
    for name in [
        "pgrst_db_pool_max",
        "pgrst_db_pool_available",
        "pgrst_db_pool_waiting",
        "pgrst_db_pool_timeouts_total",
        "pgrst_schema_cache_loads_total",
        "pgrst_schema_cache_query_time_seconds",
        "pgrst_http_requests_total",
        "pgrst_http_request_duration_seconds",
    ] {
        assert!(metrics.contains(name), "{name} missing from\n{metrics}");
    }
    let ok_gets = r#"pgrst_http_requests_total{method="GET",status="200"}"#;
    let before = sample(&metrics, ok_gets).expect(ok_gets);
    assert!(before >= 3.0, "{metrics}");
    exchange(&api, "GET", "/rest/v1/t", &[], "");
    exchange(&api, "GET", "/rest/v1/nope", &[], "");
    let (_, _, metrics) = exchange(&admin, "GET", "/metrics", &[], "");
    assert_eq!(sample(&metrics, ok_gets), Some(before + 1.0));
    assert_eq!(
        sample(
            &metrics,
            r#"pgrst_http_requests_total{method="GET",status="404"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            r#"pgrst_schema_cache_loads_total{status="SUCCESS"}"#
        ),
        Some(1.0)
    );

    // /ready follows the database: 503 within seconds of it stopping, 200 again once it is back.
    c.stop_server().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while exchange(&admin, "GET", "/ready", &[], "").0 != 503 {
        assert!(
            Instant::now() < deadline,
            "/ready stayed 200 with the database down"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        exchange(&admin, "GET", "/live", &[], "").0,
        200,
        "still live"
    );
    c.start_server().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while exchange(&admin, "GET", "/ready", &[], "").0 != 200 {
        assert!(
            Instant::now() < deadline,
            "/ready did not come back with the database"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // SIGTERM during a 2-second request: the request gets its 200, the process exits 0.
    let slow = {
        let api = api.clone();
        std::thread::spawn(move || {
            exchange(
                &api,
                "POST",
                "/rest/v1/rpc/sleepy",
                &[("content-type", "application/json")],
                r#"{"s": 2}"#,
            )
        })
    };
    // The call is running in the database before the signal.
    let url = c.url("postgres", "postgres");
    rt.block_on(async {
        let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let running: i64 = db
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%sleepy%' AND pid <> pg_backend_pid()",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            if running > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "the slow call never started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let started = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let (status, _, body) = slow.join().unwrap();
    assert_eq!((status, body.as_str()), (200, "1"));
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
