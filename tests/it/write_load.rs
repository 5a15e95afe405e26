//! Writes at scale: a 10,000-row insert, an atomic failed bulk insert, concurrent upserts.

use std::time::Instant;

use serde_json::json;

use crate::support::{rows, scratch, send_body};

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn bulk_insert_of_10000_rows_in_one_request() {
    let (svc, db) = scratch(
        "CREATE TABLE events (id int PRIMARY KEY, kind text NOT NULL, payload jsonb);
         CREATE TABLE events_baseline (id int PRIMARY KEY, kind text NOT NULL, payload jsonb);",
    )
    .await;
    let n = 10_000;
    let body: Vec<serde_json::Value> = (0..n)
        .map(|i| json!({"id": i, "kind": format!("k{}", i % 7), "payload": {"i": i, "tags": ["a", "b"]}}))
        .collect();
    let body = serde_json::to_string(&body).unwrap();

    let started = Instant::now();
    let reply = send_body(&svc, "POST", "/events", &[JSON], body).await;
    let api = started.elapsed();
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        rows(&db, "SELECT count(*) AS n, count(DISTINCT kind) AS kinds, sum((payload->>'i')::int) AS total FROM events").await,
        json!([{"n": n, "kinds": 7, "total": (0..n).sum::<i64>()}])
    );

    // Baseline: the same rows with one prepared multi-row INSERT through tokio-postgres.
    let mut sql = String::from("INSERT INTO events_baseline (id, kind, payload) VALUES ");
    let mut values: Vec<Box<dyn tokio_postgres::types::ToSql + Sync>> = Vec::new();
    for i in 0..n {
        if i > 0 {
            sql.push(',');
        }
        let p = values.len();
        sql.push_str(&format!(
            "(${}, ${}, ${}::text::jsonb)",
            p + 1,
            p + 2,
            p + 3
        ));
        values.push(Box::new(i as i32));
        values.push(Box::new(format!("k{}", i % 7)));
        values.push(Box::new(json!({"i": i, "tags": ["a", "b"]}).to_string()));
    }
    let started = Instant::now();
    let stmt = db.prepare(&sql).await.unwrap();
    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        values.iter().map(|v| v.as_ref()).collect();
    db.execute(&stmt, &refs).await.unwrap();
    let baseline = started.elapsed();
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM events_baseline").await,
        json!([{"n": n}])
    );
    eprintln!(
        "bulk insert of {n} rows: tower-postgrest {:?} (request parsing included), prepared multi-row INSERT {:?}, ratio {:.2}",
        api,
        baseline,
        api.as_secs_f64() / baseline.as_secs_f64()
    );
}

#[tokio::test]
async fn a_failed_bulk_insert_leaves_the_table_untouched() {
    let (svc, db) = scratch(
        "CREATE TABLE readings (id int PRIMARY KEY, value numeric NOT NULL CHECK (value >= 0));
                              INSERT INTO readings VALUES (-1, 0);",
    )
    .await;
    let mut batch: Vec<serde_json::Value> =
        (0..1000).map(|i| json!({"id": i, "value": i})).collect();
    batch[737] = json!({"id": 737, "value": -5});
    let reply = send_body(
        &svc,
        "POST",
        "/readings",
        &[JSON],
        serde_json::to_string(&batch).unwrap(),
    )
    .await;
    let body = reply.error(422, "invalid_request");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("readings_value_check"),
        "{body}"
    );
    assert_eq!(
        rows(&db, "SELECT id FROM readings").await,
        json!([{"id": -1}])
    );

    // A duplicate key in the middle: 409, nothing written either.
    batch[737] = json!({"id": 5, "value": 1});
    let reply = send_body(
        &svc,
        "POST",
        "/readings",
        &[JSON],
        serde_json::to_string(&batch).unwrap(),
    )
    .await;
    reply.error(409, "conflict");
    assert_eq!(
        rows(&db, "SELECT id FROM readings").await,
        json!([{"id": -1}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_upserts_lose_nothing_and_duplicate_nothing() {
    let (svc, db) = scratch(
        "CREATE TABLE counters (key int PRIMARY KEY, value int NOT NULL, updates int NOT NULL DEFAULT 0);
         CREATE FUNCTION count_update() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN NEW.updates := OLD.updates + 1; RETURN NEW; END $$;
         CREATE TRIGGER counters_updates BEFORE UPDATE ON counters FOR EACH ROW EXECUTE FUNCTION count_update();",
    )
    .await;
    let (tasks, per_task, keys) = (8, 1000, 50);
    let mut handles = Vec::new();
    for t in 0..tasks {
        let svc = svc.clone();
        handles.push(tokio::spawn(async move {
            let (mut created, mut updated) = (0, 0);
            for i in 0..per_task {
                let body = json!({"key": (t * per_task + i) % keys, "value": t * per_task + i})
                    .to_string();
                let reply = send_body(
                    &svc,
                    "POST",
                    "/counters",
                    &[JSON, ("prefer", "resolution=merge-duplicates")],
                    body,
                )
                .await;
                match reply.status.as_u16() {
                    201 => created += 1,
                    200 => updated += 1,
                    other => panic!("{other}: {}", reply.text),
                }
            }
            (created, updated)
        }));
    }
    let (mut created, mut updated) = (0, 0);
    for h in handles {
        let (c, u) = h.await.unwrap();
        created += c;
        updated += u;
    }
    // Every key was inserted exactly once, every other request was an update,
    // and the table saw every update.
    assert_eq!(created, keys);
    assert_eq!(updated, tasks * per_task - keys);
    assert_eq!(
        rows(&db, "SELECT count(*) AS n, count(DISTINCT key) AS keys, sum(updates) AS updates FROM counters").await,
        json!([{"n": keys, "keys": keys, "updates": tasks * per_task - keys}])
    );
}
