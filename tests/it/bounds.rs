//! Bounds on what one client can make a request cost, and on what one
//! request can leave behind for the next: each test fails without its bound.

use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use crate::support::{database, one_connection, scratch, scratch_on, send, send_body};
use tower_postgrest::{ConnectionManager, Limits};

/// The attack: a JSON path of thousands of `->` steps reached PostgreSQL
/// and came back as a 500 (`stack depth limit exceeded`). It is refused
/// before PostgreSQL sees it, in a select, a filter and an order alike.
#[tokio::test]
async fn a_json_path_has_at_most_max_json_path_steps() {
    let (svc, _db) = scratch(
        r#"CREATE TABLE docs (id int PRIMARY KEY, body jsonb);
           INSERT INTO docs VALUES (1, '{"a": {"a": 1}}');"#,
    )
    .await;
    let steps = |n: usize| "->a".repeat(n);
    for uri in [
        format!("/docs?select=v:body{}", steps(5000)),
        format!("/docs?select=id&body{}=eq.1", steps(65)),
        format!("/docs?select=id&order=body{}", steps(65)),
        format!("/docs?select=id&or=(body{}.eq.1)", steps(65)),
    ] {
        let reply = send(&svc, "GET", &uri, &[]).await;
        let e = reply.error(422, "invalid_request");
        assert_eq!(
            e["details"], "The server's max_json_path limit is 64",
            "{uri}"
        );
    }
    // 64 steps reach PostgreSQL and answer.
    let reply = send(
        &svc,
        "GET",
        &format!("/docs?select=v:body{}", steps(64)),
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!([{"v": null}]));
}

/// `RESET ALL` leaves `role` alone: a function that sets the role for the
/// session left it on the pooled connection, for the next use outside a
/// request (schema reloads, a host's own queries). Every path ends a
/// request with `RESET ROLE` too.
#[tokio::test]
async fn a_role_a_function_sets_for_the_session_does_not_outlive_the_request() {
    let manager = ConnectionManager::from_url(&database().url, tokio_postgres::NoTls).unwrap();
    let pool = one_connection(manager).await;
    let (svc, _db) = scratch_on(
        pool.clone(),
        "CREATE FUNCTION keep_role() RETURNS text LANGUAGE plpgsql AS
           $$ BEGIN SET ROLE anon; RETURN current_user; END $$;",
        |b| b.anon_role("anon"),
    )
    .await;
    let login = tower_postgrest::__private::session_role(&pool)
        .await
        .unwrap();
    assert_eq!(login, "authenticator");
    for (method, body) in [("POST", "{}"), ("GET", "")] {
        let reply = send_body(
            &svc,
            method,
            "/rpc/keep_role",
            &[("content-type", "application/json")],
            body,
        )
        .await;
        assert_eq!(reply.json(), "anon", "{method}: {}", reply.text);
        assert_eq!(
            tower_postgrest::__private::session_role(&pool)
                .await
                .unwrap(),
            login,
            "{method}"
        );
    }
}

const BIG: &str = "
CREATE TABLE big (id int PRIMARY KEY, pad text NOT NULL);
INSERT INTO big SELECT i, repeat('x', 200) FROM generate_series(1, 60000) AS i;
CREATE TABLE small (id int PRIMARY KEY);
INSERT INTO small VALUES (1);
CREATE TABLE log (id serial PRIMARY KEY, at timestamptz DEFAULT now());
CREATE FUNCTION nap(s float8) RETURNS int LANGUAGE sql AS $$ INSERT INTO log DEFAULT VALUES; SELECT pg_sleep(s); SELECT 1 $$;
";

/// A pool of `size` connections to the test database, waiting at most a second for one.
async fn pool_of(size: u32) -> tower_postgrest::Pool {
    let manager = ConnectionManager::from_url(&database().url, tokio_postgres::NoTls).unwrap();
    manager
        .pool_builder()
        .max_size(size)
        .connection_timeout(Duration::from_secs(1))
        .build(manager)
        .await
        .unwrap()
}

/// Asks for a streamed read and reads nothing of its body.
async fn stalled(svc: &tower_postgrest::RestService) -> tower_postgrest::RestBody {
    let req = http::Request::get("/big?order=id")
        .header("accept", "application/x-ndjson")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let res = svc.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
    res.into_body()
}

/// Backends of the test database in a transaction, idle or working, whose
/// last statement mentions `what` (other tests share the database).
async fn in_transaction(db: &tokio_postgres::Client, what: &str) -> i64 {
    db.query_one(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND state IN ('active', 'idle in transaction') AND strpos(query, $1) > 0",
        &[&what],
    )
    .await
    .unwrap()
    .get(0)
}

/// The attack: clients that ask for a stream and never read held their
/// connections in a transaction forever, until the pool was gone. A stream
/// whose client takes nothing for `send_timeout` is given up: rolled back,
/// its connection back in the pool for others, its body cut short.
#[tokio::test]
async fn a_client_that_stops_reading_gives_its_connection_back() {
    let limits = Limits::default().send_timeout(Duration::from_millis(500));
    let (svc, db) = scratch_on(pool_of(1).await, BIG, |b| {
        b.anon_role("anon").limits(limits)
    })
    .await;
    let started = Instant::now();
    let mut body = stalled(&svc).await;
    // The one connection comes back: another request is served.
    let next = send(&svc, "GET", "/small", &[]).await;
    assert_eq!(next.status, 200, "{}", next.text);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        in_transaction(&db, "pgrst_stream").await,
        0,
        "no transaction is left open"
    );
    // What was sent is followed by an error, not by a clean end.
    let mut cut = false;
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            cut = true;
            break;
        }
    }
    assert!(cut, "the body ended as if whole");
}

/// At most a share of the pool streams at once: a stream past it waits for
/// a place, then 503, while requests that do not stream are served.
#[tokio::test]
async fn streams_hold_at_most_their_share_of_the_pool() {
    let limits = Limits::default().stream_share(50);
    let (svc, _db) = scratch_on(pool_of(2).await, BIG, |b| {
        b.anon_role("anon").limits(limits)
    })
    .await;
    let held = stalled(&svc).await;
    let second = send(
        &svc,
        "GET",
        "/big?order=id",
        &[("accept", "application/x-ndjson")],
    )
    .await;
    let e = second.error(503, "unavailable");
    assert_eq!(e["message"], "Too many streamed reads at once");
    let plain = send(&svc, "GET", "/small", &[]).await;
    assert_eq!(plain.status, 200, "{}", plain.text);
    // The place comes back with the stream.
    drop(held);
    let start = Instant::now();
    loop {
        let again = send(
            &svc,
            "GET",
            "/big?order=id&limit=2000",
            &[("accept", "application/x-ndjson")],
        )
        .await;
        if again.status == 200 {
            assert_eq!(again.text.lines().count(), 2000);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{}", again.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The attack: one anonymous batch of reads of a large table grew the
/// server by gigabytes. The answer is bounded; past it the batch rolls back.
#[tokio::test]
async fn a_batch_answer_is_bounded() {
    let limits = Limits::default().batch_answer(100_000);
    let (svc, db) = scratch_on(pool_of(2).await, BIG, |b| {
        b.anon_role("anon").limits(limits)
    })
    .await;
    let ops = json!([
        {"method": "POST", "path": "/log", "body": {}},
        {"method": "GET", "path": "/big?limit=100"},
        {"method": "GET", "path": "/big"},
        {"method": "GET", "path": "/big"}
    ]);
    let reply = send_body(
        &svc,
        "POST",
        "/",
        &[("content-type", "application/json")],
        ops.to_string(),
    )
    .await;
    let e = reply.error(413, "payload_too_large");
    assert_eq!(e["message"], "The batch's answer is larger than the limit");
    assert!(
        e["details"]
            .as_str()
            .unwrap()
            .starts_with("Operation 2 of the batch"),
        "{e}"
    );
    assert_eq!(
        crate::support::rows(&db, "SELECT count(*) AS n FROM log").await,
        json!([{"n": 0}])
    );
    // Within the limit, the same reads answer.
    let ops = json!([{"method": "GET", "path": "/big?limit=100"}]);
    let reply = send_body(
        &svc,
        "POST",
        "/",
        &[("content-type", "application/json")],
        ops.to_string(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

/// A batch held its connection for the sum of its statements' timeouts.
/// The statement timeout bounds the whole batch: past it the batch is
/// cancelled, rolled back, and its connection freed.
#[tokio::test]
async fn a_batch_ends_at_the_statement_timeout() {
    let (svc, db) = scratch_on(pool_of(2).await, BIG, |b| {
        b.anon_role("anon")
            .statement_timeout(Duration::from_millis(800))
    })
    .await;
    // Each call is within the timeout; all of them are not.
    let ops: Vec<_> = (0..6)
        .map(|_| json!({"method": "POST", "path": "/rpc/nap", "body": {"s": 0.5}}))
        .collect();
    let started = Instant::now();
    let reply = send_body(
        &svc,
        "POST",
        "/",
        &[("content-type", "application/json")],
        json!(ops).to_string(),
    )
    .await;
    let e = reply.error(504, "timeout");
    assert!(e["details"].as_str().unwrap().contains("800 ms"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        crate::support::rows(&db, "SELECT count(*) AS n FROM log").await,
        json!([{"n": 0}])
    );
    let start = Instant::now();
    while in_transaction(&db, "nap").await > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the batch's backend still runs"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A read pool that is down cost every read its checkout timeout. It is
/// marked down at the first failure and skipped at once, probed in the
/// background, and used again once it answers.
#[tokio::test]
async fn a_read_pool_that_is_down_is_skipped_until_it_answers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let primary: tokio_postgres::Config = database().url.parse().unwrap();
    let mut replica = tokio_postgres::Config::new();
    replica
        .user(primary.get_user().unwrap())
        .dbname(primary.get_dbname().unwrap())
        .host("127.0.0.1")
        .port(port)
        .options("-c random_page_cost=7");
    let manager = ConnectionManager::from_config(replica, tokio_postgres::NoTls);
    let read_pool = manager
        .pool_builder()
        .max_size(2)
        .connection_timeout(Duration::from_secs(1))
        .build_unchecked(manager);
    let (svc, db) = scratch_on(pool_of(2).await, BIG, |b| {
        b.anon_role("anon").read_pool(read_pool)
    })
    .await;
    db.batch_execute(
        "CREATE VIEW cost AS SELECT current_setting('random_page_cost') AS c;
         GRANT SELECT ON cost TO anon;",
    )
    .await
    .unwrap();
    svc.schema_cache().reload().await.unwrap();
    let cost = |reply: crate::support::Reply| reply.json()[0]["c"].clone();
    // The first read finds the read pool away, and the primary answers.
    assert_eq!(cost(send(&svc, "GET", "/cost", &[]).await), "4");
    // The next ones do not wait for it.
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(cost(send(&svc, "GET", "/cost", &[]).await), "4");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
    }
    // The replica comes up (a proxy to the same server): reads go back to it.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let target = match (primary.get_hosts(), primary.get_ports()) {
        ([tokio_postgres::config::Host::Tcp(h), ..], [p, ..]) => format!("{h}:{p}"),
        _ => panic!("the test database is reached over TCP"),
    };
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    let start = Instant::now();
    loop {
        if cost(send(&svc, "GET", "/cost", &[]).await) == "7" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the read pool was not used again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
