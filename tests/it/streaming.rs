//! Large reads streamed through a cursor: the same document to the byte, and
//! the transaction ends when the client goes away.

use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use tower_postgrest::RestService;

use crate::support::{Reply, encode_uri, pool, scratch_with, send};

const THINGS: &str = "
CREATE TABLE owners (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE things (
  id int PRIMARY KEY,
  owner_id int REFERENCES owners (id),
  name text NOT NULL,
  note text,
  tags text[],
  data jsonb,
  at timestamptz
);
INSERT INTO owners SELECT i, 'owner ' || i FROM generate_series(1, 40) AS i;
INSERT INTO things
SELECT i,
       CASE WHEN i % 7 = 0 THEN NULL ELSE i % 40 + 1 END,
       CASE i % 5 WHEN 0 THEN 'comma, ' || i WHEN 1 THEN 'quote \"' || i || '\"'
                  WHEN 2 THEN E'line\\nbreak ' || i ELSE 'plain ' || i END,
       CASE WHEN i % 3 = 0 THEN NULL ELSE 'note ' || i END,
       ARRAY['a' || i, 'b, c'],
       CASE WHEN i % 4 = 0 THEN NULL ELSE jsonb_build_object('n', i, 'nested', jsonb_build_object('x', NULL)) END,
       '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 minute'
FROM generate_series(1, 2500) AS i;
";

/// The scratch schema's service streaming every read, the same without
/// streaming, and an admin client.
async fn services() -> (RestService, RestService, tokio_postgres::Client) {
    let (streamed, db) =
        scratch_with(THINGS, |b| b.anon_role("anon").stream_reads_above(Some(0))).await;
    let schema: String = db
        .query_one("SELECT current_schema()::text", &[])
        .await
        .unwrap()
        .get(0);
    let whole = RestService::builder(pool().await)
        .schemas([schema.as_str()])
        .anon_role("anon")
        .stream_reads_above(None)
        .build()
        .await
        .unwrap();
    (streamed, whole, db)
}

#[tokio::test]
async fn streamed_documents_are_the_whole_ones_to_the_byte() {
    let (streamed, whole, _db) = services().await;
    let accepts = [
        "application/json",
        "application/vnd.pgrst.array+json;nulls=stripped",
        "text/csv",
    ];
    let queries = [
        "/things?order=id",
        "/things?select=id,name,note,owner:owners(name)&order=id.desc",
        "/things?select=id,name&name=like.*a*&order=id",
        "/things?order=id&limit=1500&offset=10",
        "/things?select=id,data->n,tags&order=id&id=gt.2400",
        "/things?id=lt.0",
    ];
    for accept in accepts {
        for query in queries {
            for count in [None, Some("count=exact")] {
                let mut headers = vec![("accept", accept)];
                if let Some(prefer) = count {
                    headers.push(("prefer", prefer));
                }
                let rows = send(&whole, "GET", query, &[])
                    .await
                    .json()
                    .as_array()
                    .unwrap()
                    .len();
                let a = send(&streamed, "GET", query, &headers).await;
                let b = send(&whole, "GET", query, &headers).await;
                let what = format!("{accept} {query} {count:?}");
                assert!(b.status.is_success(), "{what}: {}", b.text);
                assert_eq!(a.status, b.status, "{what}: {}", a.text);
                assert!(
                    a.text == b.text,
                    "{what}: bodies differ\nstreamed: {:.300}\nwhole:    {:.300}",
                    a.text,
                    b.text
                );
                assert_eq!(a.header("content-type"), b.header("content-type"), "{what}");
                let multi_batch = rows >= 1000;
                match (count, multi_batch) {
                    // Counted, or answered whole: the same range as PostgREST's.
                    (Some(_), _) | (None, false) => {
                        assert_eq!(
                            a.header("content-range"),
                            b.header("content-range"),
                            "{what}"
                        )
                    }
                    // Streamed without a count: the page's end is not known up front.
                    (None, true) => assert!(
                        a.headers.get("content-range").is_none(),
                        "{what}: {rows} rows"
                    ),
                }
            }
        }
    }
}

#[tokio::test]
async fn ndjson_is_one_object_per_line() {
    let (streamed, whole, _db) = services().await;
    for svc in [&streamed, &whole] {
        let nd = send(
            svc,
            "GET",
            "/things?select=id,name,note&order=id",
            &[("accept", "application/x-ndjson")],
        )
        .await;
        assert_eq!(nd.status, 200, "{}", nd.text);
        assert_eq!(nd.header("content-type"), "application/x-ndjson");
        assert!(nd.text.ends_with('\n'));
        let lines: Vec<Value> = nd
            .text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let json = send(&whole, "GET", "/things?select=id,name,note&order=id", &[]).await;
        assert_eq!(Value::Array(lines), json.json());
        // No rows: no lines.
        let none = send(
            svc,
            "GET",
            "/things?id=lt.0",
            &[("accept", "application/x-ndjson")],
        )
        .await;
        assert_eq!((none.status.as_u16(), none.text.as_str()), (200, ""));
    }
}

/// A request's body, read one frame.
async fn first_frame(
    svc: &RestService,
    uri: &str,
) -> (
    http::response::Parts,
    tower_postgrest::RestBody,
    bytes::Bytes,
) {
    let req = http::Request::get(encode_uri(uri))
        .header("accept", "application/x-ndjson")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let res = svc.clone().oneshot(req).await.unwrap();
    let (parts, mut body) = res.into_parts();
    let frame = body.frame().await.unwrap().unwrap().into_data().unwrap();
    (parts, body, frame)
}

/// Backends of the test database inside a streamed read's transaction.
async fn streaming_backends(db: &tokio_postgres::Client) -> i64 {
    db.query_one(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND state IN ('active', 'idle in transaction') AND query LIKE 'FETCH % FROM pgrst_stream'",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_ends_the_transaction() {
    let (streamed, _whole, db) = services().await;
    let (parts, body, first) = first_frame(&streamed, "/things?order=id").await;
    assert_eq!(parts.status, 200);
    assert!(first.starts_with(b"{\"id\":1,"), "{:?}", &first[..40]);
    // The transaction is open while the client has not read on.
    let start = Instant::now();
    while streaming_backends(&db).await == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no streaming transaction"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(body);
    let start = Instant::now();
    while streaming_backends(&db).await > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the transaction outlived its client"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "the streamed read's transaction ended {:?} after the client left",
        start.elapsed()
    );
    // The connection is usable again.
    let again = send(&streamed, "GET", "/things?id=eq.1&select=id", &[]).await;
    assert_eq!(again.json(), serde_json::json!([{"id": 1}]));
}

#[tokio::test]
async fn an_error_after_the_first_rows_ends_the_body_with_an_error() {
    let (streamed, _whole, db) = services().await;
    // A cast that fails on the last row a sequential scan reads (the last
    // one updated): after the first batch went out.
    db.batch_execute(
        "UPDATE things SET note = id::text; UPDATE things SET note = 'not a number' WHERE id = 2500",
    )
    .await
    .unwrap();
    let req = http::Request::get("/things?select=id,note::int")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let res = streamed.clone().oneshot(req).await.unwrap();
    let status = res.status();
    if status != 200 {
        let text = res.into_body().collect().await.unwrap().to_bytes();
        panic!("{status}: {text:?}");
    }
    let err = res.into_body().collect().await.unwrap_err();
    assert!(err.message().contains("invalid input syntax"), "{err:?}");
    // An error before the first byte is an ordinary error response.
    let reply: Reply = send(&streamed, "GET", "/things?select=id,name::int", &[]).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid input syntax")
    );
}
