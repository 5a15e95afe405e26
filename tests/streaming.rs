//! The memory a large read costs the server: 300,000 rows (about 30 MB of
//! JSON) as NDJSON, CSV and JSON, each streamed with the process's peak
//! resident memory (`VmHWM`, reset before each read through
//! `/proc/self/clear_refs`) growing by less than [`CEILING`] (its own test
//! binary, so that nothing else runs in the process while it measures); and
//! the same JSON answered whole, to show the measure sees the difference.
//! Print the numbers with `cargo test --test streaming -- --nocapture`.

#[path = "support/cluster.rs"]
mod cluster;

use http_body_util::BodyExt;
use tower::ServiceExt;
use tower_postgrest::RestService;

/// The process's peak resident memory (`VmHWM`), in bytes.
fn peak_rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kb: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kb * 1024
}

/// Starts a new peak at the current resident memory, and returns it.
fn reset_peak() -> usize {
    std::fs::write("/proc/self/clear_refs", "5")
        .expect("reset VmHWM through /proc/self/clear_refs");
    peak_rss()
}

const ROWS: usize = 300_000;
/// The most the peak resident memory may grow while a streamed read is answered.
const CEILING: usize = 16 * 1024 * 1024;

/// Reads `accept` of the big table through `svc` frame by frame, keeping
/// nothing but a count: (bytes, rows, heap growth at its peak).
async fn measure(svc: &RestService, accept: &str) -> (usize, usize, usize, Vec<u8>) {
    let before = reset_peak();
    let req = http::Request::get("/big?order=id")
        .header("accept", accept)
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let res = svc.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.into_body();
    let (mut bytes, mut newlines) = (0, 0);
    let mut head = Vec::new();
    while let Some(frame) = body.frame().await {
        let data = frame.expect("no error mid-stream").into_data().unwrap();
        if head.len() < 64 {
            head.extend_from_slice(&data[..data.len().min(64)]);
        }
        bytes += data.len();
        newlines += data.iter().filter(|&&b| b == b'\n').count();
    }
    let peak = peak_rss().saturating_sub(before);
    (bytes, newlines, peak, head)
}

#[test]
fn a_large_read_streams_in_flat_memory() {
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
    .expect("load the table");
    db.psql("postgres", "VACUUM ANALYZE big").expect("vacuum");
    let url = db.url("authenticator", "postgres");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let service = |stream: bool| {
        let manager =
            tower_postgrest::ConnectionManager::from_url(&url, tokio_postgres::NoTls).unwrap();
        rt.block_on(async {
            let pool = manager
                .pool_builder()
                .max_size(1)
                .build(manager)
                .await
                .unwrap();
            let builder = RestService::builder(pool).anon_role("anon");
            // The default threshold: the table's rows take about 25 MB.
            let builder = if stream {
                builder
            } else {
                builder.stream_reads_above(None)
            };
            builder.build().await.unwrap()
        })
    };
    let streamed = service(true);
    let whole = service(false);
    // Warm up (connections, statement caches, the runtime's own buffers).
    rt.block_on(measure(&streamed, "application/x-ndjson"));
    rt.block_on(measure(&whole, "application/json"));

    let (json_bytes, json_lines, json_peak, json_head) =
        rt.block_on(measure(&streamed, "application/json"));
    let (nd_bytes, nd_lines, nd_peak, _) = rt.block_on(measure(&streamed, "application/x-ndjson"));
    let (csv_bytes, csv_lines, csv_peak, csv_head) = rt.block_on(measure(&streamed, "text/csv"));
    let (whole_bytes, whole_lines, whole_peak, _) =
        rt.block_on(measure(&whole, "application/json"));
    let mb = |b: usize| b as f64 / (1024.0 * 1024.0);
    println!("300,000 rows, peak resident memory growth while answering:");
    println!(
        "  JSON streamed   {:6.1} MB of {:6.1} MB sent",
        mb(json_peak),
        mb(json_bytes)
    );
    println!(
        "  NDJSON streamed {:6.1} MB of {:6.1} MB sent",
        mb(nd_peak),
        mb(nd_bytes)
    );
    println!(
        "  CSV streamed    {:6.1} MB of {:6.1} MB sent",
        mb(csv_peak),
        mb(csv_bytes)
    );
    println!(
        "  JSON whole      {:6.1} MB of {:6.1} MB sent",
        mb(whole_peak),
        mb(whole_bytes)
    );

    // Complete: every row, and the same document as the whole one.
    assert_eq!(nd_lines, ROWS, "one line per row");
    assert_eq!(json_lines, ROWS - 1, "json_agg's line break between rows");
    assert_eq!((json_bytes, json_lines), (whole_bytes, whole_lines));
    assert!(
        json_head.starts_with(b"[{\"id\":1,\"name\":\"name 1\""),
        "{json_head:?}"
    );
    assert_eq!(csv_lines, ROWS, "a header, then a row per line");
    assert!(
        csv_head.starts_with(b"id,name,digest,at,amount\n1,\"name 1\","),
        "{csv_head:?}"
    );
    assert!(json_bytes > 25 * 1024 * 1024, "the document is large");
    // Flat: the streamed reads stay under the ceiling; the whole one cannot.
    for (what, peak) in [("JSON", json_peak), ("NDJSON", nd_peak), ("CSV", csv_peak)] {
        assert!(
            peak < CEILING,
            "{what} streamed grew the peak memory by {:.1} MB",
            mb(peak)
        );
    }
    assert!(
        whole_peak > 2 * CEILING,
        "the measure sees a whole document ({:.1} MB)",
        mb(whole_peak)
    );
}
