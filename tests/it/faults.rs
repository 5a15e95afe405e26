//! Faults: timeouts, abandoned requests, an exhausted pool, the database going away.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{admin, get, own_cluster, rows, scratch_with, send_body, service_at};

const SLEEPY: &str = "
CREATE TABLE log (id serial PRIMARY KEY, note text);
CREATE FUNCTION sleepy(s float8) RETURNS int LANGUAGE sql VOLATILE AS $$ SELECT 1 FROM pg_sleep(s) $$;
CREATE FUNCTION slow_write(s float8) RETURNS int LANGUAGE plpgsql VOLATILE AS
  $$ BEGIN INSERT INTO log (note) VALUES ('started'); PERFORM pg_sleep(s); RETURN 1; END $$;
";
const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn statement_timeouts_are_504_and_roll_back() {
    let (svc, db) = scratch_with(SLEEPY, |b| {
        b.anon_role("anon")
            .statement_timeout(Duration::from_millis(200))
    })
    .await;
    let started = Instant::now();
    let reply = send_body(&svc, "POST", "/rpc/slow_write", &[JSON], r#"{"s": 30}"#).await;
    let body = reply.error(504, "timeout");
    assert_eq!(
        body["message"],
        "canceling statement due to statement timeout"
    );
    // Far less than the 30 s the call would take, however loaded the machine.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM log").await,
        json!([{"n": 0}])
    );
    // The connection is fine afterwards.
    let reply = send_body(&svc, "POST", "/rpc/sleepy", &[JSON], r#"{"s": 0}"#).await;
    assert_eq!(reply.text, "1");
}

/// A role the authenticator may switch to, with `ALTER ROLE … SET statement_timeout`.
async fn role_with_timeout(db: &tokio_postgres::Client, name: &str, timeout: &str) -> String {
    let role = format!("{name}_{}", std::process::id());
    db.batch_execute(&format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN CREATE ROLE {role} NOLOGIN; END IF; END $$;
         GRANT {role} TO authenticator; ALTER ROLE {role} SET statement_timeout = '{timeout}';"
    ))
    .await
    .unwrap();
    role
}

/// Calls `sleepy(s)` as `role`; the status and how long it took.
async fn sleep_as(svc: &tower_postgrest::RestService, role: &str, s: f64) -> (u16, Duration) {
    let mut req = http::Request::post("/rpc/sleepy")
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(format!(
            r#"{{"s": {s}}}"#
        ))))
        .unwrap();
    req.extensions_mut()
        .insert(tower_postgrest::layer::DbRole::new(role));
    let started = Instant::now();
    let res = tower::ServiceExt::oneshot(svc.clone(), req).await.unwrap();
    (res.status().as_u16(), started.elapsed())
}

#[tokio::test]
async fn a_role_s_own_statement_timeout_applies_unless_the_service_s_is_stricter() {
    let db = admin().await;
    let role = role_with_timeout(&db, "slowpoke", "150ms").await;
    // No service timeout, then a looser one: the role's own holds either way.
    for timeout in [None, Some(Duration::from_secs(30))] {
        let (svc, _db) = scratch_with(SLEEPY, |b| match timeout {
            Some(t) => b.anon_role("anon").statement_timeout(t),
            None => b.anon_role("anon"),
        })
        .await;
        db.batch_execute(&format!(
            "GRANT USAGE ON SCHEMA {} TO {role}",
            svc.schema_cache().snapshot().schemas[0]
        ))
        .await
        .unwrap();
        svc.schema_cache().reload().await.unwrap();
        let (status, took) = sleep_as(&svc, &role, 30.0).await;
        assert_eq!(status, 504, "service timeout {timeout:?}");
        assert!(took < Duration::from_secs(15), "{took:?}");
        // anon has no such setting.
        let (status, _) = sleep_as(&svc, "anon", 0.3).await;
        assert_eq!(status, 200);
    }
    // A stricter service timeout wins over a looser role setting.
    let lax = role_with_timeout(&db, "lax", "1h").await;
    let (svc, _db) = scratch_with(SLEEPY, |b| {
        b.anon_role("anon")
            .statement_timeout(Duration::from_millis(150))
    })
    .await;
    db.batch_execute(&format!(
        "GRANT USAGE ON SCHEMA {} TO {lax}",
        svc.schema_cache().snapshot().schemas[0]
    ))
    .await
    .unwrap();
    let (status, took) = sleep_as(&svc, &lax, 30.0).await;
    assert_eq!(status, 504);
    assert!(took < Duration::from_secs(15), "{took:?}");
}

/// Waits up to `seconds` for other sessions to be running a query `LIKE
/// pattern` (`running`) or none to be (`!running`).
async fn until_running(db: &tokio_postgres::Client, pattern: &str, running: bool, seconds: u64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let count = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' \
                 AND query LIKE $1 AND pid <> pg_backend_pid()",
                &[&pattern],
            )
            .await
            .unwrap()
            .get::<_, i64>(0);
        if (count > 0) == running {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "a query like {pattern} is {}",
            if running {
                "not running"
            } else {
                "still running"
            }
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits up to 5 s for no other session to be running a query `LIKE pattern`.
async fn stops_running(db: &tokio_postgres::Client, pattern: &str) {
    until_running(db, pattern, false, 5).await;
}

/// Waits up to 10 s for another session to be running a query `LIKE pattern`.
async fn starts_running(db: &tokio_postgres::Client, pattern: &str) {
    until_running(db, pattern, true, 10).await;
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_its_query() {
    let (svc, db) = scratch_with(SLEEPY, |b| b.anon_role("anon")).await;
    let marker = format!("{}", std::process::id() * 7 + 3);
    let body = format!(r#"{{"s": 30.{marker}}}"#);
    let request = {
        let svc = svc.clone();
        tokio::spawn(async move { send_body(&svc, "POST", "/rpc/slow_write", &[JSON], body).await })
    };
    // The call is running in the database when its client goes away.
    starts_running(&db, "%slow_write%").await;
    assert!(
        !request.is_finished(),
        "the request should still be running"
    );
    request.abort();
    // The database stops working on it.
    stops_running(&db, "%slow_write%").await;
    // And its write is rolled back.
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM log").await,
        json!([{"n": 0}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_is_503_then_serves_again() {
    let manager = tower_postgrest::ConnectionManager::from_url(
        &crate::support::database().url,
        tokio_postgres::NoTls,
    )
    .unwrap();
    let one = manager
        .pool_builder()
        .max_size(1)
        .connection_timeout(Duration::from_millis(300))
        .build(manager)
        .await
        .unwrap();
    let (svc, db) = scratch_with(SLEEPY, |b| b.anon_role("anon")).await;
    let cache = svc.schema_cache().clone();
    let ns = cache.snapshot().schemas[0].clone();
    let svc = tower_postgrest::RestService::builder(one)
        .schemas(cache.snapshot().schemas.clone())
        .schema_cache(cache)
        .anon_role("anon")
        .build()
        .await
        .unwrap();
    let slow = {
        let svc = svc.clone();
        tokio::spawn(async move {
            send_body(&svc, "POST", "/rpc/sleepy", &[JSON], r#"{"s": 1.5}"#).await
        })
    };
    // The slow call holds the pool's only connection once PostgreSQL runs it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let running: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'
                   AND query LIKE '%' || $1 || '%sleepy%' AND pid <> pg_backend_pid()",
                &[&ns],
            )
            .await
            .unwrap()
            .get(0);
        if running > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the slow call never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    let reply = send_body(&svc, "POST", "/rpc/sleepy", &[JSON], r#"{"s": 0}"#).await;
    let waited = started.elapsed();
    reply.error(503, "unavailable");
    assert!(reply.headers.contains_key("retry-after"));
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    assert_eq!(slow.await.unwrap().text, "1");
    let reply = send_body(&svc, "POST", "/rpc/sleepy", &[JSON], r#"{"s": 0}"#).await;
    assert_eq!(reply.text, "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_going_away_is_503_and_the_service_recovers() {
    // A cluster of this test's own, to stop and start.
    let c = own_cluster(
        "CREATE ROLE web NOLOGIN; CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1);
         GRANT SELECT ON public.t TO web; GRANT web TO postgres;",
    )
    .await;
    let svc = service_at(&c.url("postgres", "postgres"), 4).await;
    assert_eq!(get(&svc, "/t?select=id").await.ids(), vec![1]);
    let config: tokio_postgres::Config = c.url("postgres", "postgres").parse().unwrap();
    let _listener = svc
        .schema_cache()
        .listen(config.clone(), tokio_postgres::NoTls);

    // The throwaway cluster runs without fsync: make the setup durable before the crash.
    c.psql("postgres", "CHECKPOINT").unwrap();
    tokio::task::block_in_place(|| c.stop_server()).unwrap();
    for _ in 0..5 {
        let started = Instant::now();
        let reply = get(&svc, "/t?select=id").await;
        reply.error(503, "unavailable");
        assert!(reply.headers.contains_key("retry-after"));
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert!(!reply.text.contains("127.0.0.1"), "{}", reply.text);
    }

    tokio::task::block_in_place(|| c.start_server()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = get(&svc, "/t?select=id").await;
        if reply.status == 200 {
            assert_eq!(reply.ids(), vec![1]);
            break;
        }
        assert!(Instant::now() < deadline, "not recovered: {}", reply.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The schema-cache listener reconnects on its own (backing off meanwhile)...
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listening: i64 = client
            .query_one(
                r#"SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN "pgrst"'"#,
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if listening == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the listener did not reconnect");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // ...and a NOTIFY sent after the restart reaches it.
    client
        .batch_execute(
            "CREATE TABLE public.after_restart (id int PRIMARY KEY); INSERT INTO public.after_restart VALUES (7);
             GRANT SELECT ON public.after_restart TO web; NOTIFY pgrst;",
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reply = get(&svc, "/after_restart?select=id").await;
        if reply.status == 200 {
            assert_eq!(reply.ids(), vec![7]);
            break;
        }
        reply.error(404, "not_found");
        assert!(
            Instant::now() < deadline,
            "the NOTIFY after the restart was lost"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_killed_mid_bulk_insert_leaves_no_rows() {
    let (svc, db) = scratch_with(
        "CREATE TABLE readings (id int PRIMARY KEY, value int);
         CREATE FUNCTION slow_row() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN PERFORM pg_sleep(0.002); RETURN NEW; END $$;
         CREATE TRIGGER slow BEFORE INSERT ON readings FOR EACH ROW EXECUTE FUNCTION slow_row();",
        |b| b.anon_role("anon"),
    )
    .await;
    let body: Vec<serde_json::Value> = (0..2000).map(|i| json!({"id": i, "value": i})).collect();
    let insert = {
        let svc = svc.clone();
        let body = serde_json::to_string(&body).unwrap();
        tokio::spawn(async move { send_body(&svc, "POST", "/readings", &[JSON], body).await })
    };
    // Kill the backend running the insert, halfway through.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let killed = rows(
            &db,
            "SELECT pg_terminate_backend(pid) AS k FROM pg_stat_activity
             WHERE state = 'active' AND query LIKE '%INSERT INTO%readings%' AND pid <> pg_backend_pid()",
        )
        .await;
        if killed.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        assert!(Instant::now() < deadline, "the insert never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reply = insert.await.unwrap();
    assert!(
        reply.status.is_server_error(),
        "{} {}",
        reply.status,
        reply.text
    );
    assert!(!reply.text.contains("INSERT"), "{}", reply.text);
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM readings").await,
        json!([{"n": 0}])
    );
    // The pool replaced the killed connection.
    let reply = send_body(
        &svc,
        "POST",
        "/readings",
        &[JSON],
        r#"{"id": 1, "value": 1}"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

/// A table with a slow computed column, for reads that take long.
const SLOW_READ: &str = "
CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);
CREATE FUNCTION slow(t) RETURNS int LANGUAGE sql VOLATILE AS $$ SELECT 1 FROM pg_sleep(30) $$;
";

#[tokio::test]
async fn a_slow_read_times_out_and_its_connection_serves_again() {
    let (svc, _db) = scratch_with(SLOW_READ, |b| {
        b.anon_role("anon")
            .statement_timeout(Duration::from_millis(200))
    })
    .await;
    let started = Instant::now();
    let body = get(&svc, "/t?select=id,slow").await.error(504, "timeout");
    assert_eq!(
        body["message"],
        "canceling statement due to statement timeout"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(get(&svc, "/t?select=id").await.ids(), vec![1]);
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_its_read() {
    let (svc, db) = scratch_with(SLOW_READ, |b| b.anon_role("anon")).await;
    let schema = svc.schema_cache().snapshot().schemas[0].clone();
    let request = {
        let svc = svc.clone();
        tokio::spawn(async move { get(&svc, "/t?select=id,slow").await })
    };
    starts_running(&db, &format!("%{schema}%slow%")).await;
    assert!(!request.is_finished(), "the read should still be running");
    request.abort();
    stops_running(&db, &format!("%{schema}%slow%")).await;
    assert_eq!(get(&svc, "/t?select=id").await.ids(), vec![1]);
}
