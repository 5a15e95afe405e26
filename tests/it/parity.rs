//! PostgREST settings of the second parity round.

use crate::support::{admin, rows, scratch_with, send_body};

#[tokio::test]
async fn the_extra_search_path_resolves_extension_functions_unqualified() {
    let db = admin().await;
    let ext = format!("ext_{}", std::process::id());
    db.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {ext};
         CREATE OR REPLACE FUNCTION {ext}.twice(x int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT x * 2';
         GRANT USAGE ON SCHEMA {ext} TO anon;"
    ))
    .await
    .unwrap();
    // plpgsql resolves `twice` when it runs, on the request's search_path.
    let ddl = "CREATE FUNCTION use_twice(x int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN twice(x); END $$;";
    let expected = rows(&db, &format!("SELECT {ext}.twice(21) AS v")).await[0]["v"].clone();
    let json = [("content-type", "application/json")];

    let (svc, _db) = scratch_with(ddl, |b| b.anon_role("anon")).await;
    let reply = send_body(&svc, "POST", "/rpc/use_twice", &json, r#"{"x": 21}"#).await;
    assert_eq!(reply.status, 404, "without it: {}", reply.text);
    assert!(reply.text.contains("twice"), "{}", reply.text);

    let (svc, _db) = scratch_with(ddl, |b| {
        b.anon_role("anon")
            .extra_search_path(["public", ext.as_str()])
    })
    .await;
    let reply = send_body(&svc, "POST", "/rpc/use_twice", &json, r#"{"x": 21}"#).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), expected);
}

#[tokio::test]
async fn the_schema_cache_listens_on_the_channel_it_is_given() {
    let db = admin().await;
    let ns = format!("channel_{}", std::process::id());
    db.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {ns} CASCADE; CREATE SCHEMA {ns}; GRANT USAGE ON SCHEMA {ns} TO anon;"
    ))
    .await
    .unwrap();
    let svc = tower_postgrest::RestService::builder(crate::support::pool().await)
        .schemas([ns.as_str()])
        .anon_role("anon")
        .build()
        .await
        .unwrap();
    let config: tokio_postgres::Config = crate::support::database().url.parse().unwrap();
    // A name that needs quoting in LISTEN.
    let _listener = svc
        .schema_cache()
        .listen_on("API v2", config, tokio_postgres::NoTls);
    db.batch_execute(&format!(
        "CREATE TABLE {ns}.fresh (id int PRIMARY KEY); INSERT INTO {ns}.fresh VALUES (42);
         GRANT SELECT ON {ns}.fresh TO anon;"
    ))
    .await
    .unwrap();
    // Until the listener is connected a notification is lost: send it again until it lands.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        db.batch_execute(r#"NOTIFY "API v2", 'reload schema'"#)
            .await
            .unwrap();
        let reply = crate::support::get(&svc, "/fresh?select=id").await;
        if reply.status == 200 {
            assert_eq!(reply.ids(), vec![42]);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never reloaded: {}",
            reply.text
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn rpc_honours_max_affected_and_tx_rollback() {
    let ddl = "CREATE TABLE notes (id serial PRIMARY KEY, body text);
        CREATE FUNCTION add_notes(n int) RETURNS SETOF notes LANGUAGE sql VOLATILE AS
          $$ INSERT INTO notes (body) SELECT 'note ' || i FROM generate_series(1, n) i RETURNING * $$;";
    let (svc, db) = scratch_with(ddl, |b| b.anon_role("anon").tx_override(true)).await;
    let count =
        || async { rows(&db, "SELECT count(*)::int AS n FROM notes").await[0]["n"].clone() };
    let call = |n: i32, prefer: &'static str| {
        let svc = svc.clone();
        async move {
            let mut headers = vec![("content-type", "application/json")];
            if !prefer.is_empty() {
                headers.push(("prefer", prefer));
            }
            send_body(
                &svc,
                "POST",
                "/rpc/add_notes",
                &headers,
                format!(r#"{{"n": {n}}}"#),
            )
            .await
        }
    };

    // Over the limit under handling=strict: refused, and nothing written.
    let reply = call(3, "handling=strict, max-affected=2").await;
    assert!(
        reply.status.is_client_error(),
        "{} {}",
        reply.status,
        reply.text
    );
    assert_eq!(count().await, 0);
    // Within it: written, and the preferences applied.
    let reply = call(2, "handling=strict, max-affected=2").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.header("preference-applied"),
        "handling=strict, max-affected=2"
    );
    assert_eq!(count().await, 2);
    // Without handling=strict the limit is not applied (as PostgREST).
    assert_eq!(call(3, "max-affected=2").await.status, 200);
    assert_eq!(count().await, 5);
    // tx=rollback: the function's rows come back, and are not kept.
    let reply = call(4, "tx=rollback").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json().as_array().unwrap().len(), 4);
    assert_eq!(reply.header("preference-applied"), "tx=rollback");
    assert_eq!(count().await, 5);
}

#[tokio::test]
async fn prefer_timezone_renders_timestamps_in_the_zone_asked_for() {
    let ddl = "CREATE TABLE events (id int PRIMARY KEY, at timestamptz);
        INSERT INTO events VALUES (1, '2024-07-01 12:00:00+00');";
    let (svc, db) = scratch_with(ddl, |b| b.anon_role("anon")).await;
    let rendered_after = |set: String| {
        let db = &db;
        async move {
            db.batch_execute(&set).await.unwrap();
            let v = rows(
                db,
                "SELECT to_json('2024-07-01 12:00:00+00'::timestamptz) AS v",
            )
            .await[0]["v"]
                .clone();
            db.batch_execute("RESET timezone").await.unwrap();
            v
        }
    };
    let rendered = |zone: &'static str| rendered_after(format!("SET timezone TO '{zone}'"));
    let get_at = |prefer: &'static str| {
        let svc = svc.clone();
        async move {
            crate::support::send(&svc, "GET", "/events?select=at", &[("prefer", prefer)]).await
        }
    };

    let reply = get_at("timezone=america/los_angeles").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()[0]["at"], rendered("America/Los_Angeles").await);
    // Echoed as asked, as PostgREST does.
    assert_eq!(
        reply.header("preference-applied"),
        "timezone=america/los_angeles"
    );

    // Any other value goes to PostgreSQL as `SET timezone` reads it (a POSIX
    // zone such as `+05:30` is west of UTC; an offset such as `-4`), as PostgREST.
    for asked in ["05:30", "-4", "+05:30", "-03:45"] {
        let reply = crate::support::send(
            &svc,
            "GET",
            "/events?select=at",
            &[("prefer", &format!("timezone={asked}"))],
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let want = rendered_after(format!("SET timezone TO '{asked}'")).await;
        assert_eq!(reply.json()[0]["at"], want, "{asked}");
        assert_eq!(
            reply.header("preference-applied"),
            format!("timezone={asked}")
        );
    }
    // One PostgreSQL refuses is its error (22023), with or without handling=strict.
    let session = crate::support::get(&svc, "/events?select=at").await.json()[0]["at"].clone();
    for prefer in [
        "timezone=Mars/Olympus_Mons",
        "handling=strict, timezone=Mars/Olympus_Mons",
        "timezone=05:30:15",
    ] {
        let reply = get_at(prefer).await;
        assert_eq!(reply.status, 422, "{prefer}: {}", reply.text);
        assert!(
            reply.text.contains("time zone") || reply.text.contains("TimeZone"),
            "{prefer}: {}",
            reply.text
        );
    }

    // With another preference, both are applied; the zone does not outlive the request.
    let reply = get_at("count=exact, timezone=Asia/Kolkata").await;
    assert_eq!(reply.json()[0]["at"], rendered("Asia/Kolkata").await);
    assert_eq!(
        reply.header("preference-applied"),
        "count=exact, timezone=Asia/Kolkata"
    );
    assert_eq!(
        crate::support::get(&svc, "/events?select=at").await.json()[0]["at"],
        session
    );
}

/// Polls `path` on `svc` until it answers `status`, for at most `seconds`.
async fn until_status(svc: &tower_postgrest::RestService, path: &str, status: u16, seconds: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        let reply = crate::support::get(svc, path).await;
        if reply.status == status {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} still {} after {seconds} s: {}",
            reply.status,
            reply.text
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

const WATCHED: &str =
    "CREATE ROLE web NOLOGIN; GRANT web TO postgres; GRANT USAGE ON SCHEMA public TO web;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO web;";

#[tokio::test]
async fn new_tables_appear_by_the_ddl_event_triggers() {
    let c = crate::support::own_cluster(WATCHED).await;
    c.psql("postgres", tower_postgrest::SchemaCache::DDL_WATCH_SQL)
        .unwrap();
    let url = c.url("postgres", "postgres");
    let svc = crate::support::service_at(&url, 2).await;
    let _listener = svc
        .schema_cache()
        .listen(url.parse().unwrap(), tokio_postgres::NoTls);
    // The listener's LISTEN must be in place before the DDL (a notification
    // sent earlier reaches nobody): wait until PostgreSQL shows it, or the
    // digest check that follows it.
    let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let n: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tower-postgrest schema listener'
                 AND (query LIKE 'LISTEN%' OR query LIKE '%pg_catalog.md5%')",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if n > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the listener never listened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // No NOTIFY from here on: the event triggers send it.
    db.batch_execute("CREATE TABLE public.fresh (id int PRIMARY KEY)")
        .await
        .unwrap();
    until_status(&svc, "/fresh", 200, 5).await;
    db.batch_execute("DROP TABLE public.fresh").await.unwrap();
    until_status(&svc, "/fresh", 404, 5).await;
}

#[tokio::test]
async fn new_tables_appear_by_the_catalog_watch() {
    let c = crate::support::own_cluster(WATCHED).await;
    let url = c.url("postgres", "postgres");
    let svc = crate::support::service_at(&url, 2).await;
    let _watch = svc
        .schema_cache()
        .watch_catalog(std::time::Duration::from_millis(200));
    let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    db.batch_execute("CREATE TABLE public.fresh (id int PRIMARY KEY)")
        .await
        .unwrap();
    until_status(&svc, "/fresh", 200, 5).await;
    // A new column too.
    db.batch_execute("ALTER TABLE public.fresh ADD COLUMN note text")
        .await
        .unwrap();
    until_status(&svc, "/fresh?select=note", 200, 5).await;
    db.batch_execute("DROP TABLE public.fresh").await.unwrap();
    until_status(&svc, "/fresh", 404, 5).await;
}

/// Transactions committed in the cluster's `postgres` database so far.
async fn commits(db: &tokio_postgres::Client) -> i64 {
    // The statistics are per backend until flushed: ask for fresh ones.
    db.batch_execute("SELECT pg_stat_clear_snapshot()")
        .await
        .unwrap();
    db.query_one(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn keep_current_serves_new_tables_views_and_functions_with_no_setting() {
    // No event triggers: the digest it checks every second notices.
    let c = crate::support::own_cluster(WATCHED).await;
    let url = c.url("postgres", "postgres");
    let svc = crate::support::service_at(&url, 2).await;
    let _current = svc
        .schema_cache()
        .keep_current(url.parse().unwrap(), tokio_postgres::NoTls);
    let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    db.batch_execute(
        "CREATE TABLE public.fresh (id int PRIMARY KEY); INSERT INTO public.fresh VALUES (1)",
    )
    .await
    .unwrap();
    until_status(&svc, "/fresh", 200, 5).await;
    db.batch_execute("ALTER TABLE public.fresh ADD COLUMN note text")
        .await
        .unwrap();
    until_status(&svc, "/fresh?select=note", 200, 5).await;
    db.batch_execute("CREATE VIEW public.fresh_ids AS SELECT id FROM public.fresh")
        .await
        .unwrap();
    until_status(&svc, "/fresh_ids", 200, 5).await;
    db.batch_execute(
        "CREATE FUNCTION public.twice(n int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 2 * n';
         GRANT EXECUTE ON FUNCTION public.twice(int) TO web",
    )
    .await
    .unwrap();
    until_status(&svc, "/rpc/twice?n=4", 200, 5).await;
    db.batch_execute("DROP VIEW public.fresh_ids; DROP TABLE public.fresh")
        .await
        .unwrap();
    until_status(&svc, "/fresh", 404, 5).await;
    until_status(&svc, "/fresh_ids", 404, 5).await;
}

#[tokio::test]
async fn keep_current_relies_on_the_event_triggers_where_they_are_installed() {
    let c = crate::support::own_cluster(WATCHED).await;
    c.psql("postgres", tower_postgrest::SchemaCache::DDL_WATCH_SQL)
        .unwrap();
    let url = c.url("postgres", "postgres");
    let svc = crate::support::service_at(&url, 2).await;
    let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    // Polled every 100 ms if it polled at all.
    let _current = svc.schema_cache().keep_current_every(
        std::time::Duration::from_millis(100),
        url.parse().unwrap(),
        tokio_postgres::NoTls,
    );
    // Settled: connected, listening, its first check done.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let before = commits(&db).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let polls = commits(&db).await - before;
    // Our own two statistics reads commit; twenty polls would show.
    assert!(
        polls <= 4,
        "{polls} transactions in 2 s with the triggers installed"
    );
    db.batch_execute("CREATE TABLE public.fresh (id int PRIMARY KEY)")
        .await
        .unwrap();
    until_status(&svc, "/fresh", 200, 5).await;
}
