//! One road: every kind of request (read, streamed read, write, call,
//! explain, nested insert, batch) is a plan the one executor runs, so the
//! rules of the table in `src/exec/mod.rs` apply to each kind or refuse it
//! clearly. Each test is named after its row and column; the first three
//! are the defects the side roads had (nested inserts committed under
//! `tx=rollback` and ignored the single-object media type; a batch gave the
//! anonymous caller another status than a lone request).

use serde_json::{Value, json};

use crate::support::{database, rows, scratch_with, send, send_body};
use tower_postgrest::{ConnectionManager, PostgRest, RestService};

const LIBRARY: &str = "
CREATE TABLE authors (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE books (id serial PRIMARY KEY, author_id int NOT NULL REFERENCES authors, title text NOT NULL);
CREATE TABLE chapters (id serial PRIMARY KEY, book_id int NOT NULL REFERENCES books, title text NOT NULL);
CREATE TABLE secrets (id int PRIMARY KEY, note text);
CREATE VIEW setting AS SELECT current_setting('random_page_cost') AS random_page_cost;
";

const JSON: (&str, &str) = ("content-type", "application/json");

async fn library(
    f: impl FnOnce(tower_postgrest::RestServiceBuilder) -> tower_postgrest::RestServiceBuilder,
) -> (RestService, tokio_postgres::Client) {
    let (svc, db) = scratch_with(LIBRARY, |b| f(b.anon_role("anon"))).await;
    db.batch_execute("REVOKE INSERT ON secrets FROM anon")
        .await
        .unwrap();
    (svc, db)
}

async fn counts(db: &tokio_postgres::Client) -> Value {
    rows(
        db,
        "SELECT (SELECT count(*) FROM authors) AS authors, (SELECT count(*) FROM books) AS books",
    )
    .await[0]
        .clone()
}

fn author_with_books(name: &str) -> Value {
    json!({"name": name, "books": [{"title": "One"}, {"title": "Two"}]})
}

#[tokio::test]
async fn tx_rollback_applies_to_a_nested_insert() {
    let (svc, db) = library(|b| b.tx_override(true)).await;
    let reply = send_body(
        &svc,
        "POST",
        "/authors?select=name,books(title)",
        &[JSON, ("prefer", "return=representation, tx=rollback")],
        author_with_books("Le Guin").to_string(),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json(), json!([author_with_books("Le Guin")]));
    assert!(
        reply.header("preference-applied").contains("tx=rollback"),
        "{:?}",
        reply.headers
    );
    assert_eq!(counts(&db).await, json!({"authors": 0, "books": 0}));
    // And tx=commit keeps it.
    let reply = send_body(
        &svc,
        "POST",
        "/authors",
        &[JSON, ("prefer", "tx=commit")],
        author_with_books("Le Guin").to_string(),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(counts(&db).await, json!({"authors": 1, "books": 2}));
}

#[tokio::test]
async fn the_single_object_rule_applies_to_a_nested_insert() {
    let (svc, db) = library(|b| b).await;
    let two = json!([author_with_books("Butler"), author_with_books("Jemisin")]);
    let reply = send_body(
        &svc,
        "POST",
        "/authors?select=name",
        &[
            JSON,
            ("accept", "application/vnd.pgrst.object+json"),
            ("prefer", "return=representation"),
        ],
        two.to_string(),
    )
    .await;
    let error = reply.error(406, "not_acceptable");
    assert_eq!(error["details"], "The result contains 2 rows");
    assert_eq!(counts(&db).await, json!({"authors": 0, "books": 0}));
    // One object is one object.
    let reply = send_body(
        &svc,
        "POST",
        "/authors?select=name,books(title)",
        &[
            JSON,
            ("accept", "application/vnd.pgrst.object+json"),
            ("prefer", "return=representation"),
        ],
        author_with_books("Butler").to_string(),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json(), author_with_books("Butler"));
}

#[tokio::test]
async fn the_anonymous_status_rule_applies_inside_a_batch() {
    let (svc, db) = library(|b| b.error_mapper(PostgRest)).await;
    let alone = send_body(&svc, "POST", "/secrets", &[JSON], r#"{"id": 1}"#).await;
    alone.error(401, "42501");
    let batch = send_body(
        &svc,
        "POST",
        "/",
        &[JSON],
        json!([{"method": "POST", "path": "/secrets", "body": {"id": 1}}]).to_string(),
    )
    .await;
    batch.error(401, "42501");
    let nested = send_body(
        &svc,
        "POST",
        "/",
        &[JSON],
        json!([{"method": "POST", "path": "/authors", "body": author_with_books("X")},
               {"method": "POST", "path": "/secrets", "body": {"id": 1}}])
        .to_string(),
    )
    .await;
    nested.error(401, "42501");
    assert_eq!(counts(&db).await, json!({"authors": 0, "books": 0}));
}

#[tokio::test]
async fn content_range_of_a_nested_insert_is_an_inserts() {
    let (svc, _db) = library(|b| b).await;
    let plain = send_body(&svc, "POST", "/authors", &[JSON], r#"{"name": "A"}"#).await;
    let nested = send_body(
        &svc,
        "POST",
        "/authors",
        &[JSON],
        author_with_books("B").to_string(),
    )
    .await;
    assert_eq!(plain.header("content-range"), "*/*");
    assert_eq!(
        nested.header("content-range"),
        plain.header("content-range")
    );
    let counted = send_body(
        &svc,
        "POST",
        "/authors",
        &[JSON, ("prefer", "count=exact")],
        json!([author_with_books("C"), author_with_books("D")]).to_string(),
    )
    .await;
    assert_eq!(counted.status, 201, "{}", counted.text);
    assert_eq!(counted.header("content-range"), "*/2");
    assert_eq!(counted.header("preference-applied"), "count=exact");
}

#[tokio::test]
async fn shape_limits_apply_to_a_nested_insert_before_any_statement() {
    let limits = tower_postgrest::Limits::default().max_depth(1);
    let (svc, db) = library(|b| b.limits(limits)).await;
    let deep = json!({"name": "A", "books": [{"title": "B", "chapters": [{"title": "C"}]}]});
    let reply = send_body(&svc, "POST", "/authors", &[JSON], deep.to_string()).await;
    let error = reply.error(422, "invalid_request");
    assert_eq!(error["details"], "The server's max_depth limit is 1");
    assert_eq!(counts(&db).await, json!({"authors": 0, "books": 0}));
    // One level is within the limit.
    let reply = send_body(
        &svc,
        "POST",
        "/authors",
        &[JSON],
        author_with_books("A").to_string(),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);

    let limits = tower_postgrest::Limits::default().max_embeds(1);
    let (svc, db) = library(|b| b.limits(limits)).await;
    let reply = send_body(&svc, "POST", "/authors", &[JSON], deep.to_string()).await;
    let error = reply.error(422, "invalid_request");
    assert_eq!(error["details"], "The server's max_embeds limit is 1");
    assert_eq!(counts(&db).await, json!({"authors": 0, "books": 0}));
}

#[tokio::test]
async fn an_upsert_is_refused_for_a_nested_insert() {
    let (svc, db) = library(|b| b).await;
    for (uri, prefer) in [
        ("/authors?on_conflict=id", "return=minimal"),
        ("/authors", "resolution=merge-duplicates"),
    ] {
        let reply = send_body(
            &svc,
            "POST",
            uri,
            &[JSON, ("prefer", prefer)],
            author_with_books("A").to_string(),
        )
        .await;
        let error = reply.error(422, "invalid_request");
        assert_eq!(
            error["message"], "A nested insert cannot be an upsert",
            "{uri}"
        );
    }
    assert_eq!(counts(&db).await, json!({"authors": 0, "books": 0}));
}

#[tokio::test]
async fn a_nested_insert_runs_inside_a_batch_and_rolls_back_with_it() {
    let (svc, db) = library(|b| b).await;
    let ok = send_body(
        &svc,
        "POST",
        "/",
        &[JSON],
        json!([{"method": "POST", "path": "/authors?select=name,books(title)",
                "headers": {"Prefer": "return=representation"}, "body": author_with_books("A")},
               {"method": "GET", "path": "/books?select=title&order=id"}])
        .to_string(),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let answers = ok.json();
    assert_eq!(answers[0]["status"], 201);
    assert_eq!(answers[0]["body"], json!([author_with_books("A")]));
    assert_eq!(
        answers[1]["body"],
        json!([{"title": "One"}, {"title": "Two"}])
    );
    let failed = send_body(
        &svc,
        "POST",
        "/",
        &[JSON],
        json!([{"method": "POST", "path": "/authors", "body": author_with_books("B")},
               {"method": "POST", "path": "/books", "body": {"author_id": 999, "title": "x"}}])
        .to_string(),
    )
    .await;
    assert_eq!(failed.status, 409, "{}", failed.text);
    assert_eq!(counts(&db).await, json!({"authors": 1, "books": 2}));
}

#[tokio::test]
async fn tx_rollback_applies_to_a_batch_and_not_to_its_operations() {
    let (svc, db) = library(|b| b.tx_override(true)).await;
    let ops = json!([{"method": "POST", "path": "/authors", "body": {"name": "A"}},
                     {"method": "GET", "path": "/authors?select=name"}]);
    let reply = send_body(
        &svc,
        "POST",
        "/",
        &[JSON, ("prefer", "tx=rollback")],
        ops.to_string(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()[1]["body"], json!([{"name": "A"}]));
    assert_eq!(reply.header("preference-applied"), "tx=rollback");
    assert_eq!(counts(&db).await, json!({"authors": 0, "books": 0}));
    let inner = json!([{"method": "POST", "path": "/authors", "body": {"name": "A"},
                        "headers": {"Prefer": "tx=rollback"}}]);
    let reply = send_body(&svc, "POST", "/", &[JSON], inner.to_string()).await;
    let error = reply.error(422, "invalid_request");
    assert_eq!(
        error["message"],
        "An operation of a batch cannot end its transaction"
    );
    assert_eq!(counts(&db).await, json!({"authors": 0, "books": 0}));
}

#[tokio::test]
async fn max_affected_and_the_single_object_rule_apply_inside_a_batch() {
    let (svc, db) = library(|b| b).await;
    db.batch_execute("INSERT INTO authors (name) VALUES ('A'), ('B'), ('C')")
        .await
        .unwrap();
    let ops = json!([{"method": "PATCH", "path": "/authors?id=gt.0", "body": {"name": "Z"},
                      "headers": {"Prefer": "handling=strict, max-affected=2"}}]);
    let reply = send_body(&svc, "POST", "/", &[JSON], ops.to_string()).await;
    let error = reply.error(422, "invalid_request");
    assert_eq!(
        error["details"],
        "Operation 0 of the batch (PATCH /authors?id=gt.0): The query affects 3 rows"
    );
    let ops = json!([{"method": "PATCH", "path": "/authors?id=gt.0", "body": {"name": "Z"},
                      "headers": {"Accept": "application/vnd.pgrst.object+json"}}]);
    let reply = send_body(&svc, "POST", "/", &[JSON], ops.to_string()).await;
    reply.error(406, "not_acceptable");
    assert_eq!(
        rows(&db, "SELECT name FROM authors ORDER BY id").await,
        json!([{"name": "A"}, {"name": "B"}, {"name": "C"}])
    );
}

#[tokio::test]
async fn explain_is_refused_inside_a_batch() {
    let (svc, _db) = library(|b| b.plans(true)).await;
    let ops = json!([{"method": "GET", "path": "/authors",
                      "headers": {"Accept": "application/vnd.pgrst.plan+json"}}]);
    let reply = send_body(&svc, "POST", "/", &[JSON], ops.to_string()).await;
    let error = reply.error(422, "invalid_request");
    assert_eq!(error["message"], "Plans are not available in a batch");
}

/// A pool on the test database whose sessions plan with `random_page_cost`
/// 7, so a plan with `settings` and a read of the `setting` view say which
/// pool ran them.
pub(crate) async fn marked_pool() -> tower_postgrest::Pool {
    let mut config: tokio_postgres::Config = database().url.parse().unwrap();
    config.options("-c random_page_cost=7");
    let manager = ConnectionManager::from_config(config, tokio_postgres::NoTls);
    manager
        .pool_builder()
        .max_size(2)
        .build(manager)
        .await
        .unwrap()
}

/// A pool whose server is away: nothing listens on its port.
async fn away_pool() -> tower_postgrest::Pool {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://authenticator@127.0.0.1:{port}/fixture");
    let manager = ConnectionManager::from_url(&url, tokio_postgres::NoTls).unwrap();
    manager
        .pool_builder()
        .max_size(2)
        .connection_timeout(std::time::Duration::from_millis(500))
        .build_unchecked(manager)
}

const NDJSON: (&str, &str) = ("accept", "application/x-ndjson");

/// The `random_page_cost` the `setting` view reads, streamed as NDJSON.
async fn streamed_setting(svc: &RestService, pin: &[(&str, &str)]) -> Value {
    let mut headers = vec![NDJSON];
    headers.extend_from_slice(pin);
    let reply = send(svc, "GET", "/setting", &headers).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("content-type"), "application/x-ndjson");
    serde_json::from_str(reply.text.trim()).unwrap()
}

/// The `random_page_cost` a plan (with `options=settings`) says it was
/// made under, when not the default.
async fn planned_settings(svc: &RestService, pin: &[(&str, &str)]) -> Value {
    let mut headers = vec![(
        "accept",
        "application/vnd.pgrst.plan+json; options=settings",
    )];
    headers.extend_from_slice(pin);
    let reply = send(svc, "GET", "/authors", &headers).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()[0]["Settings"]["random_page_cost"].clone()
}

#[tokio::test]
async fn read_pool_routing_applies_to_streamed_reads_and_plans() {
    let marked = marked_pool().await;
    let (svc, _db) = library(|b| b.plans(true).read_pool(marked)).await;
    assert_eq!(
        streamed_setting(&svc, &[]).await,
        json!({"random_page_cost": "7"}),
        "a streamed read goes to the read pool"
    );
    assert_eq!(
        streamed_setting(&svc, &[("x-read-from", "primary")]).await,
        json!({"random_page_cost": "4"}),
        "X-Read-From: primary pins it"
    );
    assert_eq!(
        planned_settings(&svc, &[]).await,
        "7",
        "a read's plan is made on the read pool"
    );
    assert_eq!(
        planned_settings(&svc, &[("x-read-from", "primary")]).await,
        Value::Null,
        "X-Read-From: primary pins it"
    );
}

#[tokio::test]
async fn read_pool_fallback_applies_to_streamed_reads_and_plans() {
    let away = away_pool().await;
    let (svc, _db) = library(|b| b.plans(true).read_pool(away)).await;
    assert_eq!(
        streamed_setting(&svc, &[]).await,
        json!({"random_page_cost": "4"}),
        "the primary streams when the read pool is away"
    );
    assert_eq!(planned_settings(&svc, &[]).await, Value::Null);
}

#[tokio::test]
async fn server_timing_applies_to_a_batch_as_a_whole_and_to_a_nested_insert() {
    let (svc, _db) = library(|b| b.server_timing(true)).await;
    let batch = send_body(
        &svc,
        "POST",
        "/",
        &[JSON],
        json!([{"method": "GET", "path": "/authors"}]).to_string(),
    )
    .await;
    assert_eq!(batch.status, 200, "{}", batch.text);
    let timing = batch.header("server-timing");
    assert!(
        timing.starts_with("jwt;dur=0.0, parse;dur=0.0, plan;dur=0.0, transaction;dur=")
            && timing.contains(", response;dur="),
        "{timing}"
    );
    let nested = send_body(
        &svc,
        "POST",
        "/authors",
        &[JSON],
        author_with_books("A").to_string(),
    )
    .await;
    assert_eq!(nested.status, 201, "{}", nested.text);
    assert!(
        nested.header("server-timing").contains("transaction;dur="),
        "{:?}",
        nested.headers
    );
}
