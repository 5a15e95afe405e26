//! Batches (beyond PostgREST): `POST /` with a JSON array of operations runs
//! them in order in one transaction; the first failure undoes them all.

use serde_json::{Value, json};

use crate::support::{rows, scratch, scratch_with, send_body};

const BANK: &str = "
CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL CHECK (balance >= 0));
INSERT INTO accounts VALUES (1, 'ada', 100), (2, 'bob', 20);
CREATE FUNCTION total() RETURNS bigint LANGUAGE sql AS 'SELECT sum(balance) FROM accounts';
";

const JSON: (&str, &str) = ("content-type", "application/json");

async fn batch(svc: &tower_postgrest::RestService, ops: Value) -> crate::support::Reply {
    send_body(svc, "POST", "/", &[JSON], ops.to_string()).await
}

#[tokio::test]
async fn a_batch_of_writes_and_reads_lands_in_one_transaction() {
    let (svc, db) = scratch(BANK).await;
    let reply = batch(
        &svc,
        json!([
            {"method": "POST", "path": "/accounts", "body": {"id": 3, "owner": "cy", "balance": 5}},
            {"method": "PATCH", "path": "/accounts?id=eq.1", "body": {"balance": 70},
             "headers": {"Prefer": "return=representation"}},
            {"method": "GET", "path": "/accounts?select=id,balance&order=id"},
            {"method": "POST", "path": "/rpc/total"}
        ]),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let answers = reply.json();
    assert_eq!(answers[0]["status"], 201);
    assert_eq!(answers[1]["status"], 200);
    assert_eq!(
        answers[1]["body"],
        json!([{"id": 1, "owner": "ada", "balance": 70}])
    );
    // The read sees the batch's own writes.
    let state = rows(&db, "SELECT id, balance FROM accounts ORDER BY id").await;
    assert_eq!(answers[2]["body"], state);
    assert_eq!(answers[2]["headers"]["content-range"], "0-2/*");
    assert_eq!(
        answers[3]["body"],
        rows(&db, "SELECT sum(balance)::int AS s FROM accounts").await[0]["s"]
    );
    assert_eq!(
        state,
        json!([{"id": 1, "balance": 70}, {"id": 2, "balance": 20}, {"id": 3, "balance": 5}])
    );
}

#[tokio::test]
async fn the_first_failure_undoes_the_batch_and_names_its_operation() {
    let (svc, db) = scratch(BANK).await;
    let before = rows(&db, "SELECT * FROM accounts ORDER BY id").await;
    // The second operation conflicts with an existing key: 409, nothing kept.
    let reply = batch(
        &svc,
        json!([
            {"method": "PATCH", "path": "/accounts?id=eq.1", "body": {"balance": 0}},
            {"method": "POST", "path": "/accounts", "body": {"id": 2, "owner": "again", "balance": 1}}
        ]),
    )
    .await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    let body = reply.json();
    assert!(
        body["details"]
            .as_str()
            .unwrap()
            .starts_with("Operation 1 of the batch (POST /accounts)"),
        "{body}"
    );
    assert_eq!(
        rows(&db, "SELECT * FROM accounts ORDER BY id").await,
        before
    );
    // A check violation in the third: the same.
    let reply = batch(
        &svc,
        json!([
            {"method": "PATCH", "path": "/accounts?id=eq.1", "body": {"balance": 50}},
            {"method": "PATCH", "path": "/accounts?id=eq.2", "body": {"balance": 70}},
            {"method": "PATCH", "path": "/accounts?id=eq.2", "body": {"balance": -1}}
        ]),
    )
    .await;
    assert!(reply.status.is_client_error(), "{}", reply.text);
    assert!(
        reply.json()["details"]
            .as_str()
            .unwrap()
            .starts_with("Operation 2"),
        "{}",
        reply.text
    );
    assert_eq!(
        rows(&db, "SELECT * FROM accounts ORDER BY id").await,
        before
    );
}

#[tokio::test]
async fn malformed_or_oversized_batches_are_refused() {
    let (svc, db) = scratch_with(BANK, |b| b.anon_role("anon").batch_limit(2)).await;
    let before = rows(&db, "SELECT * FROM accounts ORDER BY id").await;
    for (ops, message) in [
        (
            json!({"method": "GET"}),
            "A batch is a JSON array of operations",
        ),
        (json!([]), "A batch needs at least one operation"),
        (
            json!([{"method": "GET", "path": "/accounts"}, {"method": "GET", "path": "/accounts"}, {"method": "GET", "path": "/accounts"}]),
            "The batch has 3 operations, more than the limit of 2",
        ),
        (
            json!([{"method": "GET", "path": "accounts"}]),
            "An operation's path starts with /",
        ),
        (
            json!([{"method": "GET", "path": "/accounts", "extra": 1}]),
            "A batch is a JSON array of operations",
        ),
    ] {
        let reply = batch(&svc, ops).await;
        assert_eq!(reply.status, 422, "{}", reply.text);
        assert_eq!(reply.json()["message"], message);
    }
    assert_eq!(
        rows(&db, "SELECT * FROM accounts ORDER BY id").await,
        before
    );
    // Batches off: POST / is what it is in PostgREST.
    let (off, _db) = scratch_with(BANK, |b| b.anon_role("anon").batch_limit(0)).await;
    let reply = batch(&off, json!([{"method": "GET", "path": "/accounts"}])).await;
    assert!(reply.status.is_client_error(), "{}", reply.text);
    assert_ne!(reply.status, 200);
}
