//! The demo server, as a newcomer runs it: `cargo run --example server`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `target/<profile>/examples/server`, which `cargo test` builds before running tests.
fn demo_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    profile_dir.join("examples").join("server")
}

fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn demo_server_serves_the_demo_data_and_cleans_up() {
    let bin = demo_binary();
    assert!(bin.exists(), "{} not built", bin.display());
    let mut child = Command::new(&bin)
        .env_remove("DATABASE_URL")
        .env_remove("PGRST_DB_URI")
        .env("PGRST_SERVER_PORT", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut base = None;
    let mut pg_url = None;
    while base.is_none() && Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(url) = line.strip_prefix("PostgreSQL is running: ") {
            pg_url = Some(url.to_owned());
        }
        if let Some(url) = line.strip_prefix("Serving the REST API at http://") {
            base = Some(url.to_owned());
        }
    }
    let base = base.expect("the demo server announced its address");
    let (addr, prefix) = base.split_once('/').unwrap();

    let (status, body) = http_get(
        addr,
        &format!("/{prefix}/books?select=title,price&price=gt.10&order=price.desc&limit=2"),
    );
    assert_eq!(status, 200, "{body}");
    let rows: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([
            {"title": "Solaris", "price": 12.00},
            {"title": "Consider Phlebas", "price": 11.25}
        ])
    );
    // PostgreSQL's own rendering of numeric(10,2).
    assert!(body.contains("12.00"), "{body}");

    // Ctrl-C stops the server and removes the throwaway cluster.
    let pid = child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let pg_port = pg_url
        .unwrap()
        .rsplit_once(':')
        .unwrap()
        .1
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        TcpStream::connect(format!("127.0.0.1:{pg_port}")).is_err(),
        "PostgreSQL still listening after the demo server stopped"
    );
}

/// `RestService` and its future have the bounds every tower host needs.
#[test]
fn service_bounds() {
    fn clone_send_sync_static<T: Clone + Send + Sync + 'static>() {}
    fn send<T: Send>() {}
    clone_send_sync_static::<tower_postgrest::RestService>();
    send::<tower_postgrest::ResponseFuture>();
    // axum takes it as is.
    let _ = |rest: tower_postgrest::RestService| {
        axum::Router::<()>::new().nest_service("/rest/v1", rest)
    };
}
