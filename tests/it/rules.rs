//! Every rule × every kind of request: one test per rule (a row of the
//! table in `src/exec/mod.rs`), one labelled assertion per kind (its
//! columns: read, streamed read, write, call, plan, nested insert, batch).
//! The cells whose defects the one executor fixed have tests of their own in
//! `one_road.rs`; those cells are checked here again in their row.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Reply, rows, scratch_with, send, send_body};
use tower_postgrest::{PostgRest, RestService, RestServiceBuilder};

const LIBRARY: &str = r#"
CREATE TABLE authors (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE books (id serial PRIMARY KEY, author_id int NOT NULL REFERENCES authors, title text NOT NULL);
INSERT INTO authors (name) VALUES ('A'), ('B'), ('C');
INSERT INTO books (author_id, title) VALUES (1, 'a1'), (1, 'a2'), (2, 'b1');
CREATE TABLE secrets (id int PRIMARY KEY, note text);
CREATE FUNCTION author_list() RETURNS SETOF authors LANGUAGE sql STABLE AS 'SELECT * FROM authors ORDER BY id';
CREATE FUNCTION add_author(name text) RETURNS SETOF authors LANGUAGE sql AS
  'INSERT INTO authors (name) VALUES (name) RETURNING *';
CREATE FUNCTION secret_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM secrets';
CREATE VIEW slow_authors AS SELECT a.* FROM authors a, pg_sleep(30) AS s;
CREATE FUNCTION slow_list() RETURNS SETOF authors LANGUAGE sql STABLE AS
  'SELECT a.* FROM authors a, pg_sleep(30) AS s';
CREATE FUNCTION nap_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW.title = 'nap' THEN PERFORM pg_sleep(30); END IF; RETURN NEW; END $$;
CREATE TRIGGER nap BEFORE INSERT ON books FOR EACH ROW EXECUTE FUNCTION nap_on_insert();
CREATE FUNCTION deny() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('request.headers', true)::json->>'x-deny' = 'yes' THEN
    RAISE EXCEPTION 'denied by the pre-request';
  END IF;
END $$;
CREATE DOMAIN "text/plain" AS text;
CREATE FUNCTION names_step(state "text/plain", next authors) RETURNS "text/plain"
  LANGUAGE sql AS $$ SELECT coalesce(state, '') || next.name || ';' $$;
CREATE AGGREGATE names_agg(authors) (stype = "text/plain", sfunc = names_step);
CREATE FUNCTION greeting() RETURNS "text/plain" LANGUAGE sql AS $$ SELECT 'hello' $$;
"#;

const JSON: (&str, &str) = ("content-type", "application/json");
const NDJSON: (&str, &str) = ("accept", "application/x-ndjson");
const PLAN: (&str, &str) = ("accept", "application/vnd.pgrst.plan+json");

async fn library(
    f: impl FnOnce(RestServiceBuilder) -> RestServiceBuilder,
) -> (RestService, tokio_postgres::Client) {
    let (svc, db) = scratch_with(LIBRARY, |b| f(b.anon_role("anon").plans(true))).await;
    db.batch_execute("REVOKE ALL ON secrets FROM anon; REVOKE EXECUTE ON FUNCTION secret_count() FROM PUBLIC, anon")
        .await
        .unwrap();
    (svc, db)
}

/// The request of each kind, with `headers` added.
struct Kinds<'a> {
    svc: &'a RestService,
    headers: Vec<(&'a str, &'a str)>,
}

impl<'a> Kinds<'a> {
    fn new(svc: &'a RestService, headers: &[(&'a str, &'a str)]) -> Self {
        Self {
            svc,
            headers: headers.to_vec(),
        }
    }

    fn with(&self, more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut all = self.headers.clone();
        all.extend_from_slice(more);
        all
    }

    async fn read(&self, path: &str) -> Reply {
        send(self.svc, "GET", path, &self.headers).await
    }

    async fn stream(&self, path: &str) -> Reply {
        send(self.svc, "GET", path, &self.with(&[NDJSON])).await
    }

    async fn write(&self, method: &str, path: &str, body: Value) -> Reply {
        send_body(
            self.svc,
            method,
            path,
            &self.with(&[JSON]),
            body.to_string(),
        )
        .await
    }

    async fn call(&self, path: &str, body: Value) -> Reply {
        send_body(
            self.svc,
            "POST",
            path,
            &self.with(&[JSON]),
            body.to_string(),
        )
        .await
    }

    async fn explain(&self, path: &str) -> Reply {
        send(self.svc, "GET", path, &self.with(&[PLAN])).await
    }

    async fn nested(&self, path: &str, body: Value) -> Reply {
        send_body(
            self.svc,
            "POST",
            path,
            &self.with(&[JSON]),
            body.to_string(),
        )
        .await
    }

    /// A batch of `ops`; the batch's own headers are the kind's headers.
    async fn batch(&self, ops: Value) -> Reply {
        send_body(self.svc, "POST", "/", &self.with(&[JSON]), ops.to_string()).await
    }
}

fn nested_author(name: &str) -> Value {
    json!({"name": name, "books": [{"title": "one"}]})
}

async fn authors(db: &tokio_postgres::Client) -> Value {
    rows(db, "SELECT name FROM authors ORDER BY id").await
}

fn applied(reply: &Reply) -> &str {
    reply.header("preference-applied")
}

#[tokio::test]
async fn tx_rollback() {
    let (svc, db) = library(|b| b.tx_override(true)).await;
    let before = authors(&db).await;
    let k = Kinds::new(&svc, &[("prefer", "tx=rollback")]);
    let read = k.read("/authors?select=name").await;
    assert_eq!(
        (read.status.as_u16(), applied(&read)),
        (200, "tx=rollback"),
        "read"
    );
    let stream = k.stream("/authors?select=name").await;
    assert_eq!(
        (stream.status.as_u16(), applied(&stream)),
        (200, "tx=rollback"),
        "stream"
    );
    let write = k.write("POST", "/authors", json!({"name": "W"})).await;
    assert_eq!(
        (write.status.as_u16(), applied(&write)),
        (201, "tx=rollback"),
        "write"
    );
    let call = k.call("/rpc/add_author", json!({"name": "C"})).await;
    assert_eq!(
        (call.status.as_u16(), applied(&call)),
        (200, "tx=rollback"),
        "call"
    );
    // A plan of a write, analysed: it ran, and nothing of it stays.
    let plan = send_body(
        &svc,
        "POST",
        "/authors",
        &[
            JSON,
            ("accept", "application/vnd.pgrst.plan+json; options=analyze"),
        ],
        r#"{"name": "E"}"#,
    )
    .await;
    assert_eq!(plan.status, 200, "explain: {}", plan.text);
    let nested = k.nested("/authors", nested_author("N")).await;
    assert_eq!(
        (nested.status.as_u16(), applied(&nested)),
        (201, "tx=rollback"),
        "nested"
    );
    let batch = k
        .batch(json!([{"method": "POST", "path": "/authors", "body": {"name": "B"}}]))
        .await;
    assert_eq!(
        (batch.status.as_u16(), applied(&batch)),
        (200, "tx=rollback"),
        "batch"
    );
    assert_eq!(authors(&db).await, before, "nothing was kept");
}

#[tokio::test]
async fn handling_strict() {
    let (svc, db) = library(|b| b).await;
    let before = authors(&db).await;
    // An unknown preference under handling=strict is refused, whatever the kind.
    let k = Kinds::new(&svc, &[("prefer", "handling=strict, foo=bar")]);
    let refused = |reply: &Reply, kind: &str| {
        let body = reply.error(422, "invalid_request");
        assert!(
            body["message"]
                .as_str()
                .unwrap_or("")
                .contains("Invalid preferences"),
            "{kind}: {}",
            reply.text
        );
    };
    refused(&k.read("/authors").await, "read");
    refused(&k.stream("/authors").await, "stream");
    refused(
        &k.write("POST", "/authors", json!({"name": "W"})).await,
        "write",
    );
    refused(
        &k.call("/rpc/add_author", json!({"name": "C"})).await,
        "call",
    );
    refused(&k.explain("/authors").await, "explain");
    refused(&k.nested("/authors", nested_author("N")).await, "nested");
    refused(
        &k.batch(json!([{"method": "GET", "path": "/authors"}]))
            .await,
        "batch",
    );
    let op = Kinds::new(&svc, &[])
        .batch(
            json!([{"method": "POST", "path": "/authors", "body": {"name": "B"},
                       "headers": {"Prefer": "handling=strict, foo=bar"}}]),
        )
        .await;
    refused(&op, "batch operation");
    assert_eq!(authors(&db).await, before);
}

#[tokio::test]
async fn max_affected() {
    let (svc, db) = library(|b| b).await;
    let before = authors(&db).await;
    let k = Kinds::new(&svc, &[("prefer", "handling=strict, max-affected=1")]);
    // Reads and inserts are not bounded by it, as in PostgREST.
    assert_eq!(
        k.read("/authors").await.json().as_array().map(Vec::len),
        Some(3),
        "read"
    );
    assert_eq!(k.stream("/authors").await.text.lines().count(), 3, "stream");
    let write = k
        .write("PATCH", "/authors?id=gt.0", json!({"name": "Z"}))
        .await;
    assert!(
        write.error(422, "invalid_request")["message"]
            .as_str()
            .unwrap_or("")
            .contains("max-affected"),
        "write"
    );
    let call = k.call("/rpc/author_list", json!({})).await;
    call.error(422, "invalid_request");
    let plan = k.explain("/authors").await;
    assert_eq!(plan.status, 200, "explain: {}", plan.text);
    let nested = k
        .nested(
            "/authors",
            json!([nested_author("N1"), nested_author("N2")]),
        )
        .await;
    assert_eq!(nested.status, 201, "nested: an insert: {}", nested.text);
    let batch = Kinds::new(&svc, &[])
        .batch(
            json!([{"method": "PATCH", "path": "/authors?id=gt.0", "body": {"name": "Z"},
                       "headers": {"Prefer": "handling=strict, max-affected=1"}}]),
        )
        .await;
    batch.error(422, "invalid_request");
    let mut expected = before.as_array().unwrap().clone();
    expected.extend([json!({"name": "N1"}), json!({"name": "N2"})]);
    assert_eq!(authors(&db).await, Value::Array(expected));
}

#[tokio::test]
async fn the_single_object_media_type() {
    let (svc, db) = library(|b| b).await;
    let before = authors(&db).await;
    let one = ("accept", "application/vnd.pgrst.object+json");
    let k = Kinds::new(&svc, &[one, ("prefer", "return=representation")]);
    k.read("/authors").await.error(406, "not_acceptable");
    assert_eq!(
        k.read("/authors?id=eq.1").await.json(),
        json!({"id": 1, "name": "A"})
    );
    // An object is one row, never a stream: the same 406.
    send(&svc, "GET", "/authors", &[one])
        .await
        .error(406, "not_acceptable");
    k.write("PATCH", "/authors?id=gt.0", json!({"name": "Z"}))
        .await
        .error(406, "not_acceptable");
    k.call("/rpc/author_list", json!({}))
        .await
        .error(406, "not_acceptable");
    // A plan is of the statement, whatever its rows.
    let plan = send(
        &svc,
        "GET",
        "/authors",
        &[(
            "accept",
            "application/vnd.pgrst.plan+json; for=\"application/vnd.pgrst.object+json\"",
        )],
    )
    .await;
    assert_eq!(plan.status, 200, "explain: {}", plan.text);
    k.nested(
        "/authors",
        json!([nested_author("N1"), nested_author("N2")]),
    )
    .await
    .error(406, "not_acceptable");
    Kinds::new(&svc, &[])
        .batch(json!([{"method": "GET", "path": "/authors",
                       "headers": {"Accept": "application/vnd.pgrst.object+json"}}]))
        .await
        .error(406, "not_acceptable");
    assert_eq!(authors(&db).await, before);
}

#[tokio::test]
async fn shape_limits() {
    let limits = tower_postgrest::Limits::default().max_embeds(1);
    let (svc, db) = library(|b| b.limits(limits)).await;
    let before = authors(&db).await;
    let two = "select=name,b1:books(title),b2:books(title)";
    let k = Kinds::new(&svc, &[("prefer", "return=representation")]);
    let over = |reply: Reply, kind: &str| {
        let body = reply.error(422, "invalid_request");
        // A batch's details name the operation first.
        let details = body["details"].as_str().unwrap_or("");
        assert!(
            details.ends_with("The server's max_embeds limit is 1"),
            "{kind}: {details}"
        );
    };
    over(k.read(&format!("/authors?{two}")).await, "read");
    over(k.stream(&format!("/authors?{two}")).await, "stream");
    over(
        k.write(
            "PATCH",
            &format!("/authors?id=eq.1&{two}"),
            json!({"name": "A"}),
        )
        .await,
        "write",
    );
    over(
        k.call(&format!("/rpc/author_list?{two}"), json!({})).await,
        "call",
    );
    over(k.explain(&format!("/authors?{two}")).await, "explain");
    over(
        k.nested(
            "/authors",
            json!({"name": "N", "books": [{"title": "t", "authors": {"name": "M"}}]}),
        )
        .await,
        "nested",
    );
    over(
        k.batch(json!([{"method": "GET", "path": format!("/authors?{two}")}]))
            .await,
        "batch",
    );
    assert_eq!(authors(&db).await, before);
}

#[tokio::test]
async fn statement_timeout() {
    let (svc, db) = library(|b| b.statement_timeout(Duration::from_millis(300))).await;
    let before = rows(&db, "SELECT title FROM books ORDER BY id").await;
    let k = Kinds::new(&svc, &[]);
    let timed_out = |reply: Reply, kind: &str| {
        let body = reply.error(504, "timeout");
        assert_eq!(
            body["message"], "canceling statement due to statement timeout",
            "{kind}"
        );
    };
    timed_out(k.read("/slow_authors").await, "read");
    timed_out(k.stream("/slow_authors").await, "stream");
    timed_out(
        k.write("POST", "/books", json!({"author_id": 1, "title": "nap"}))
            .await,
        "write",
    );
    timed_out(k.call("/rpc/slow_list", json!({})).await, "call");
    timed_out(
        send(
            &svc,
            "GET",
            "/slow_authors",
            &[("accept", "application/vnd.pgrst.plan+json; options=analyze")],
        )
        .await,
        "explain",
    );
    timed_out(
        k.nested(
            "/authors",
            json!({"name": "N", "books": [{"title": "nap"}]}),
        )
        .await,
        "nested",
    );
    timed_out(
        k.batch(json!([{"method": "GET", "path": "/slow_authors"}]))
            .await,
        "batch",
    );
    assert_eq!(
        rows(&db, "SELECT title FROM books ORDER BY id").await,
        before
    );
    assert_eq!(
        authors(&db).await,
        json!([{"name": "A"}, {"name": "B"}, {"name": "C"}])
    );
}

#[tokio::test]
async fn pre_request() {
    let (svc, db) = library(|b| b.pre_request("deny")).await;
    let before = authors(&db).await;
    let k = Kinds::new(&svc, &[("x-deny", "yes")]);
    let denied = |reply: Reply, kind: &str| {
        let body = reply.error(422, "invalid_request");
        assert_eq!(body["message"], "denied by the pre-request", "{kind}");
    };
    denied(k.read("/authors").await, "read");
    denied(k.stream("/authors").await, "stream");
    denied(
        k.write("POST", "/authors", json!({"name": "W"})).await,
        "write",
    );
    denied(
        k.call("/rpc/add_author", json!({"name": "C"})).await,
        "call",
    );
    denied(k.explain("/authors").await, "explain");
    denied(k.nested("/authors", nested_author("N")).await, "nested");
    denied(
        k.batch(json!([{"method": "GET", "path": "/authors"}]))
            .await,
        "batch",
    );
    assert_eq!(authors(&db).await, before);
    // Without the header each kind runs.
    let k = Kinds::new(&svc, &[]);
    assert_eq!(k.read("/authors").await.status, 200);
    assert_eq!(k.explain("/authors").await.status, 200);
}

#[tokio::test]
async fn preference_applied() {
    let (svc, _db) = library(|b| b).await;
    let k = Kinds::new(&svc, &[("prefer", "count=exact")]);
    assert_eq!(applied(&k.read("/authors").await), "count=exact", "read");
    assert_eq!(
        applied(&k.stream("/authors").await),
        "count=exact",
        "stream"
    );
    let rep = Kinds::new(&svc, &[("prefer", "return=representation")]);
    assert_eq!(
        applied(
            &rep.write("PATCH", "/authors?id=eq.1", json!({"name": "A"}))
                .await
        ),
        "return=representation",
        "write"
    );
    let strict = Kinds::new(&svc, &[("prefer", "handling=strict")]);
    assert_eq!(
        applied(&strict.call("/rpc/author_list", json!({})).await),
        "handling=strict",
        "call"
    );
    assert_eq!(
        applied(&rep.nested("/authors", nested_author("N")).await),
        "return=representation",
        "nested"
    );
    let batch = Kinds::new(&svc, &[])
        .batch(json!([{"method": "GET", "path": "/authors",
                       "headers": {"Prefer": "count=exact"}}]))
        .await;
    assert_eq!(
        batch.json()[0]["headers"]["preference-applied"],
        "count=exact",
        "batch"
    );
}

#[tokio::test]
async fn content_range_and_counts() {
    let (svc, _db) = library(|b| b).await;
    let k = Kinds::new(&svc, &[("prefer", "count=exact")]);
    assert_eq!(
        k.read("/authors?limit=2").await.header("content-range"),
        "0-1/3",
        "read"
    );
    assert_eq!(
        k.stream("/authors?limit=2").await.header("content-range"),
        "0-1/3",
        "stream"
    );
    assert_eq!(
        k.write("PATCH", "/authors?id=lt.3", json!({"name": "X"}))
            .await
            .header("content-range"),
        "0-1/2",
        "write"
    );
    assert_eq!(
        k.call("/rpc/author_list?limit=2", json!({}))
            .await
            .header("content-range"),
        "0-1/3",
        "call"
    );
    assert_eq!(
        k.nested(
            "/authors",
            json!([nested_author("N1"), nested_author("N2")])
        )
        .await
        .header("content-range"),
        "*/2",
        "nested"
    );
    let batch = Kinds::new(&svc, &[])
        .batch(json!([{"method": "GET", "path": "/authors?limit=2",
                       "headers": {"Prefer": "count=exact"}}]))
        .await;
    assert_eq!(
        batch.json()[0]["headers"]["content-range"],
        "0-1/5",
        "batch"
    );
}

#[tokio::test]
async fn the_anonymous_status_rule() {
    let (svc, db) = library(|b| b.error_mapper(PostgRest)).await;
    let k = Kinds::new(&svc, &[]);
    k.read("/secrets").await.error(401, "42501");
    k.stream("/secrets").await.error(401, "42501");
    k.write("POST", "/secrets", json!({"id": 1}))
        .await
        .error(401, "42501");
    k.call("/rpc/secret_count", json!({}))
        .await
        .error(401, "42501");
    k.explain("/secrets").await.error(401, "42501");
    let nested = k.nested("/authors", nested_author("N")).await;
    assert_eq!(
        nested.status, 201,
        "the anonymous role may insert: {}",
        nested.text
    );
    db.batch_execute("REVOKE INSERT ON books FROM anon")
        .await
        .unwrap();
    k.nested("/authors", nested_author("N"))
        .await
        .error(401, "42501");
    k.batch(json!([{"method": "GET", "path": "/secrets"}]))
        .await
        .error(401, "42501");
}

#[tokio::test]
async fn server_timing() {
    let (svc, _db) = library(|b| b.server_timing(true)).await;
    let k = Kinds::new(&svc, &[]);
    let timed = |reply: Reply, kind: &str| {
        assert!(reply.status.is_success(), "{kind}: {}", reply.text);
        let timing = reply.header("server-timing");
        assert!(
            timing.contains("transaction;dur=") && timing.contains("response;dur="),
            "{kind}: {timing:?}"
        );
    };
    timed(k.read("/authors").await, "read");
    timed(k.stream("/authors").await, "stream");
    timed(
        k.write("POST", "/authors", json!({"name": "W"})).await,
        "write",
    );
    timed(k.call("/rpc/author_list", json!({})).await, "call");
    timed(k.explain("/authors").await, "explain");
    timed(k.nested("/authors", nested_author("N")).await, "nested");
    timed(
        k.batch(json!([{"method": "GET", "path": "/authors"}]))
            .await,
        "batch",
    );
}

#[tokio::test(flavor = "current_thread")]
async fn metrics() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (svc, _db) = library(|b| b.metrics(true)).await;
    let k = Kinds::new(&svc, &[]);
    let sent = [
        k.read("/authors").await,
        k.stream("/authors").await,
        k.write("POST", "/authors", json!({"name": "W"})).await,
        k.call("/rpc/author_list", json!({})).await,
        k.explain("/authors").await,
        k.nested("/authors", nested_author("N")).await,
        k.batch(json!([{"method": "GET", "path": "/authors"}]))
            .await,
    ];
    for reply in &sent {
        assert!(reply.status.is_success(), "{}", reply.text);
    }
    let text = handle.render();
    let count = |method: &str, status: &str| -> f64 {
        text.lines()
            .find(|l| {
                l.starts_with("pgrst_http_requests_total{")
                    && l.contains(&format!("method=\"{method}\""))
                    && l.contains(&format!("status=\"{status}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    // read, stream, plan; write, call, nested insert; batch.
    assert_eq!(count("GET", "200"), 3.0, "{text}");
    assert_eq!(count("POST", "201"), 2.0, "{text}");
    assert_eq!(count("POST", "200"), 2.0, "{text}");
}

#[tokio::test]
async fn media_type_handlers() {
    let (svc, _db) = library(|b| b).await;
    let plain = ("accept", "text/plain");
    let read = send(&svc, "GET", "/authors?order=id", &[plain]).await;
    assert_eq!(
        (read.status.as_u16(), read.text.as_str()),
        (200, "A;B;C;"),
        "read"
    );
    // A handler's body is the aggregate: never streamed, whatever the size.
    let (big, _db) = library(|b| b.stream_reads_above(Some(0))).await;
    let streamed = send(&big, "GET", "/authors?order=id", &[plain]).await;
    assert_eq!(streamed.text, "A;B;C;", "stream");
    let call = send(&svc, "GET", "/rpc/greeting", &[plain]).await;
    assert_eq!(
        (call.status.as_u16(), call.text.as_str()),
        (200, "hello"),
        "call"
    );
    let batch = send_body(
        &svc,
        "POST",
        "/",
        &[JSON],
        json!([{"method": "GET", "path": "/authors?order=id", "headers": {"Accept": "text/plain"}}])
            .to_string(),
    )
    .await;
    assert_eq!(batch.json()[0]["body"], "A;B;C;", "batch");
}

#[tokio::test]
async fn read_pool_routing() {
    // The read pool's sessions plan with random_page_cost 7, the primary's with 4.
    let marked = crate::one_road::marked_pool().await;
    let (svc, db) = library(|b| b.read_pool(marked)).await;
    db.batch_execute(
        "CREATE FUNCTION cost(authors) RETURNS text LANGUAGE sql STABLE AS
           $$ SELECT current_setting('random_page_cost') $$;
         CREATE FUNCTION cost_now() RETURNS text LANGUAGE sql STABLE AS
           $$ SELECT current_setting('random_page_cost') $$;
         CREATE FUNCTION cost_volatile() RETURNS text LANGUAGE sql VOLATILE AS
           $$ SELECT current_setting('random_page_cost') $$;",
    )
    .await
    .unwrap();
    svc.schema_cache().reload().await.unwrap();
    let rep = ("prefer", "return=representation");
    let k = Kinds::new(&svc, &[rep]);
    let cost = |reply: &Reply| -> Value {
        let v = reply.json();
        v.get(0).map_or(v.clone(), |first| first["cost"].clone())
    };
    assert_eq!(
        cost(&k.read("/authors?select=cost&id=eq.1").await),
        "7",
        "read"
    );
    let stream = k.stream("/authors?select=cost&id=eq.1").await;
    assert_eq!(stream.text.trim(), r#"{"cost":"7"}"#, "stream");
    let write = k
        .write(
            "PATCH",
            "/authors?id=eq.1&select=cost",
            json!({"name": "A"}),
        )
        .await;
    assert_eq!(cost(&write), "4", "write: the primary");
    assert_eq!(
        k.call("/rpc/cost_now", json!({})).await.json(),
        "7",
        "stable call"
    );
    assert_eq!(
        k.call("/rpc/cost_volatile", json!({})).await.json(),
        "4",
        "volatile call: the primary"
    );
    let nested = k.nested("/authors?select=cost", nested_author("N")).await;
    assert_eq!(cost(&nested), "4", "nested: the primary");
    let batch = k
        .batch(json!([{"method": "GET", "path": "/authors?select=cost&id=eq.1"}]))
        .await;
    assert_eq!(
        batch.json()[0]["body"][0]["cost"],
        "4",
        "batch: the primary"
    );
}
