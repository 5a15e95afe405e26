//! Nothing lost under load: 32 clients mixing inserts, upserts, updates,
//! deletes and reads for a bounded time; every client keeps the state it was
//! acknowledged, and the table must equal their union exactly. They also
//! contend on the same four rows (an increment through a function): the
//! counters must equal the increments acknowledged, none lost.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::support::{get, rows, scratch, send, send_body};

const JSON: (&str, &str) = ("content-type", "application/json");
const CLIENTS: i64 = 32;
const RUN_FOR: Duration = Duration::from_secs(8);
/// Requests the run must at least make, or it says nothing about load.
const MIN_REQUESTS: u64 = 32 * 20;

/// A small deterministic generator per client.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: i64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % below as u64) as i64
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_writes_from_32_clients_lose_nothing() {
    let (svc, db) = scratch(
        "CREATE TABLE soak (key int PRIMARY KEY, owner int NOT NULL, value int NOT NULL);
             CREATE TABLE hot (k int PRIMARY KEY, n int NOT NULL);
             INSERT INTO hot SELECT k, 0 FROM generate_series(0, 3) AS k;
             CREATE FUNCTION bump(k int) RETURNS int LANGUAGE sql VOLATILE AS
               'UPDATE hot SET n = n + 1 WHERE hot.k = bump.k RETURNING n';",
    )
    .await;
    let deadline = Instant::now() + RUN_FOR;
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let svc = svc.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Lcg(client as u64 + 1);
            let mut mine: BTreeMap<i64, i64> = BTreeMap::new();
            let mut bumps = [0i64; 4];
            let (mut requests, mut errors) = (0u64, Vec::new());
            while Instant::now() < deadline {
                let key = client * 1000 + rng.next(50);
                let value = rng.next(1_000_000);
                let present = mine.contains_key(&key);
                let op = rng.next(6);
                requests += 1;
                let outcome = match (op, present) {
                    (0, false) => {
                        let r = send_body(
                            &svc,
                            "POST",
                            "/soak",
                            &[JSON],
                            format!(r#"{{"key":{key},"owner":{client},"value":{value}}}"#),
                        )
                        .await;
                        (r.status == 201)
                            .then(|| {
                                mine.insert(key, value);
                            })
                            .ok_or(r)
                    }
                    (1, _) => {
                        let r = send_body(
                            &svc,
                            "POST",
                            "/soak",
                            &[JSON, ("prefer", "resolution=merge-duplicates")],
                            format!(r#"{{"key":{key},"owner":{client},"value":{value}}}"#),
                        )
                        .await;
                        let expected = if present { 200 } else { 201 };
                        (r.status == expected)
                            .then(|| {
                                mine.insert(key, value);
                            })
                            .ok_or(r)
                    }
                    (2, true) => {
                        let r = send_body(
                            &svc,
                            "PATCH",
                            &format!("/soak?key=eq.{key}"),
                            &[JSON],
                            format!(r#"{{"value":{value}}}"#),
                        )
                        .await;
                        (r.status == 204 && r.header("content-range") == "0-0/*")
                            .then(|| {
                                mine.insert(key, value);
                            })
                            .ok_or(r)
                    }
                    (3, true) => {
                        let r = send(
                            &svc,
                            "DELETE",
                            &format!("/soak?key=eq.{key}"),
                            &[("prefer", "count=exact")],
                        )
                        .await;
                        (r.status == 204 && r.header("content-range") == "*/1")
                            .then(|| {
                                mine.remove(&key);
                            })
                            .ok_or(r)
                    }
                    (5, _) => {
                        // Every client on the same four rows.
                        let k = rng.next(4);
                        let r = send_body(
                            &svc,
                            "POST",
                            "/rpc/bump",
                            &[JSON],
                            format!(r#"{{"k":{k}}}"#),
                        )
                        .await;
                        (r.status == 200).then(|| bumps[k as usize] += 1).ok_or(r)
                    }
                    _ => {
                        let r = get(&svc, &format!("/soak?select=value&key=eq.{key}")).await;
                        let expected = match mine.get(&key) {
                            Some(v) => format!("[{{\"value\":{v}}}]"),
                            None => "[]".to_owned(),
                        };
                        (r.status == 200 && r.text == expected)
                            .then_some(())
                            .ok_or(r)
                    }
                };
                if let Err(reply) = outcome {
                    errors.push(format!("{} {}", reply.status, reply.text));
                }
            }
            (mine, bumps, requests, errors)
        }));
    }
    let mut expected: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    let (mut requests, mut errors) = (0, Vec::new());
    let mut bumped = [0i64; 4];
    for (client, task) in tasks.into_iter().enumerate() {
        let (mine, bumps, n, errs) = task.await.unwrap();
        for (total, b) in bumped.iter_mut().zip(bumps) {
            *total += b;
        }
        requests += n;
        errors.extend(errs);
        expected.extend(mine.into_iter().map(|(k, v)| (k, (client as i64, v))));
    }
    assert!(
        errors.is_empty(),
        "{} errors, e.g. {:?}",
        errors.len(),
        &errors[..errors.len().min(3)]
    );
    let actual = rows(&db, "SELECT key, owner, value FROM soak ORDER BY key").await;
    let expected: Vec<serde_json::Value> = expected
        .into_iter()
        .map(
            |(key, (owner, value))| serde_json::json!({"key": key, "owner": owner, "value": value}),
        )
        .collect();
    assert_eq!(actual, serde_json::Value::Array(expected));
    let hot = rows(&db, "SELECT n FROM hot ORDER BY k").await;
    let bumped: Vec<serde_json::Value> =
        bumped.iter().map(|n| serde_json::json!({"n": n})).collect();
    assert_eq!(
        hot,
        serde_json::Value::Array(bumped),
        "contended increments lost"
    );
    assert!(
        requests >= MIN_REQUESTS,
        "only {requests} requests in {RUN_FOR:?}: not a load"
    );
    eprintln!(
        "soak: {requests} requests from {CLIENTS} clients in {RUN_FOR:?}, 0 errors, final state exact"
    );
}
