//! The schema cache: introspection of the fixture, and reloading.

use std::path::Path;

use crate::support::{cluster, database, get, service};

#[tokio::test]
async fn introspection_sees_tables_views_keys_and_functions() {
    let svc = service().await;
    let schema = svc.schema_cache().snapshot();
    assert_eq!(schema.schemas, vec!["public".to_owned()]);

    let items = schema.table("public", "items").expect("items");
    assert_eq!(items.primary_key, vec!["id".to_owned()]);
    assert_eq!(
        items.comment.as_deref(),
        Some("Things with every kind of column")
    );
    let price = items.column("price").unwrap();
    assert_eq!(price.data_type, "numeric(10,2)");
    assert!(price.nullable);
    assert_eq!(items.column("tags").unwrap().data_type, "text[]");
    assert!(!items.column("id").unwrap().nullable);
    assert!(items.insertable && items.updatable && items.deletable);

    let view = schema.table("public", "cheap_items").expect("the view");
    assert_eq!(view.kind, tower_postgrest::schema::TableKind::View);
    assert_eq!(view.columns.len(), 3);

    assert!(schema.table("private", "secrets").is_none());
    assert!(schema.table("public", "secrets").is_none());

    let fk = schema
        .foreign_keys
        .iter()
        .find(|fk| fk.table == "items")
        .expect("items.author_id references authors");
    assert_eq!(fk.columns, vec!["author_id".to_owned()]);
    assert_eq!(fk.foreign_table, "authors");
    assert_eq!(fk.foreign_columns, vec!["id".to_owned()]);

    let label = schema
        .functions
        .iter()
        .find(|f| f.name == "label")
        .expect("label()");
    assert_eq!(label.return_type, "text");
    assert_eq!(label.args.len(), 1);
    assert_eq!(label.args[0].data_type, "public.items");
    assert!(!label.returns_set);
}

/// The bench fixture is the introspected test fixture; `UPDATE_FIXTURES=1` rewrites it.
#[tokio::test]
async fn bench_fixture_matches_the_introspected_schema() {
    let svc = service().await;
    let schema = svc.schema_cache().snapshot();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/fixtures/schema.json");
    let actual = serde_json::to_value(&*schema).unwrap();
    // Compared with the file as it was: rewriting it never makes this pass.
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    if actual != expected && std::env::var_os("UPDATE_FIXTURES").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
        panic!(
            "{} was out of date and is rewritten: run again",
            path.display()
        );
    }
    assert_eq!(
        actual,
        expected,
        "run with UPDATE_FIXTURES=1 to refresh {}",
        path.display()
    );
}

#[tokio::test]
async fn reload_picks_up_new_tables_and_keeps_serving() {
    // A schema of its own, so that no other test sees it change.
    let admin = &database().admin_url;
    let ns = format!("reload_{}", std::process::id());
    cluster::psql_command(
        admin,
        &format!("DROP SCHEMA IF EXISTS {ns} CASCADE; CREATE SCHEMA {ns}; GRANT USAGE ON SCHEMA {ns} TO anon;"),
    )
    .unwrap();
    let svc = tower_postgrest::RestService::builder(crate::support::pool().await)
        .schemas([ns.as_str()])
        .anon_role("anon")
        .build()
        .await
        .unwrap();
    get(&svc, "/things").await.error(404, "not_found");

    cluster::psql_command(
        admin,
        &format!(
            "CREATE TABLE {ns}.things (id int PRIMARY KEY, name text); \
             INSERT INTO {ns}.things VALUES (7, 'seven'); GRANT SELECT ON {ns}.things TO anon;"
        ),
    )
    .unwrap();
    // Not visible until the cache reloads: nothing is introspected per request.
    get(&svc, "/things").await.error(404, "not_found");
    let before = svc.schema_cache().snapshot();
    svc.schema_cache().reload().await.unwrap();
    let reply = get(&svc, "/things?select=id,name").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        serde_json::json!([{"id": 7, "name": "seven"}])
    );
    // The old snapshot is still whole for whoever holds it.
    assert!(before.table(&ns, "things").is_none());

    // A column type change behind a cached statement: the reload discards the
    // connection's prepared statements, so the same request shape works.
    cluster::psql_command(
        admin,
        &format!("ALTER TABLE {ns}.things ALTER COLUMN name TYPE integer USING 7"),
    )
    .unwrap();
    svc.schema_cache().reload().await.unwrap();
    let reply = get(&svc, "/things?select=id,name").await;
    assert_eq!(reply.json(), serde_json::json!([{"id": 7, "name": 7}]));

    cluster::psql_command(admin, &format!("DROP SCHEMA {ns} CASCADE")).unwrap();
    svc.schema_cache().reload().await.unwrap();
    get(&svc, "/things").await.error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_reloads_while_requests_keep_running() {
    let admin = crate::support::admin().await;
    let ns = format!("notify_{}", std::process::id());
    admin
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {ns} CASCADE; CREATE SCHEMA {ns}; GRANT USAGE ON SCHEMA {ns} TO anon;
             CREATE TABLE {ns}.base (id int PRIMARY KEY); INSERT INTO {ns}.base VALUES (1);
             GRANT SELECT ON {ns}.base TO anon;"
        ))
        .await
        .unwrap();
    let svc = tower_postgrest::RestService::builder(crate::support::pool().await)
        .schemas([ns.as_str()])
        .anon_role("anon")
        .build()
        .await
        .unwrap();
    let config: tokio_postgres::Config = database().url.parse().unwrap();
    let _listener = svc.schema_cache().listen(config, tokio_postgres::NoTls);
    let first = svc.schema_cache().last_load().unwrap();
    // Wait until the listener's LISTEN is in place (PostgreSQL shows it).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let listening: i64 = admin
            .query_one(
                r#"SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN "pgrst"'"#,
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if listening > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the listener never listened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Requests run the whole time; none may fail.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (svc, stop) = (svc.clone(), stop.clone());
        tokio::spawn(async move {
            let mut served = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let reply = get(&svc, "/base?select=id").await;
                assert_eq!(reply.status, 200, "{}", reply.text);
                served += 1;
            }
            served
        })
    };
    admin
        .batch_execute(&format!(
            "CREATE TABLE {ns}.fresh (id int PRIMARY KEY); INSERT INTO {ns}.fresh VALUES (42);
             GRANT SELECT ON {ns}.fresh TO anon; NOTIFY pgrst, 'reload schema';"
        ))
        .await
        .unwrap();
    let notified = std::time::Instant::now();
    let mut seen = None;
    // A generous bound for a loaded machine; the time it took is printed.
    while notified.elapsed() < std::time::Duration::from_secs(15) {
        let reply = get(&svc, "/fresh?select=id").await;
        if reply.status == 200 {
            assert_eq!(reply.ids(), vec![42]);
            seen = Some(notified.elapsed());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let served = load.await.unwrap();
    let seen = seen.expect("the new table is served within 15 s of the NOTIFY");
    let last = svc.schema_cache().last_load().unwrap();
    assert!(last.generation > first.generation);
    eprintln!(
        "new table served {seen:?} after NOTIFY; {served} concurrent requests, none failed; reload took {:?}",
        last.duration
    );
    admin
        .batch_execute(&format!("DROP SCHEMA {ns} CASCADE"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failed_reload_keeps_the_old_snapshot_serving() {
    // The cache loads through its own pool of one connection; holding that
    // connection makes the next load time out.
    let manager =
        tower_postgrest::ConnectionManager::from_url(&database().url, tokio_postgres::NoTls)
            .unwrap();
    let loader_pool = manager
        .pool_builder()
        .max_size(1)
        .connection_timeout(std::time::Duration::from_millis(300))
        .build(manager)
        .await
        .unwrap();
    let cache = tower_postgrest::SchemaCache::load(loader_pool.clone(), ["public"])
        .await
        .unwrap();
    let svc = tower_postgrest::RestService::builder(crate::support::pool().await)
        .schema_cache(cache.clone())
        .anon_role("anon")
        .build()
        .await
        .unwrap();
    let held = loader_pool.get().await.unwrap();
    let before = cache.snapshot();
    let err = cache.reload().await.unwrap_err();
    assert_eq!(err.kind(), tower_postgrest::ErrorKind::Unavailable);
    assert!(std::sync::Arc::ptr_eq(&before, &cache.snapshot()));
    assert_eq!(get(&svc, "/items?select=id&id=eq.1").await.ids(), vec![1]);
    drop(held);
    cache.reload().await.unwrap();
    assert!(!std::sync::Arc::ptr_eq(&before, &cache.snapshot()));
}

/// The load time of a large schema: 1,000 tables, 10,000 columns, 2,000 foreign
/// keys. Printed (run with `--nocapture`), not asserted: timings vary.
#[tokio::test]
async fn large_schema_load_time() {
    let admin = crate::support::admin().await;
    let ns = format!("large_{}", std::process::id());
    admin
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {ns} CASCADE; CREATE SCHEMA {ns};
             DO $$
             BEGIN
               FOR i IN 1..1000 LOOP
                 EXECUTE format('CREATE TABLE {ns}.t%s (id int PRIMARY KEY, a int, b int, c text, d text,
                                 e jsonb, f date, g numeric, h boolean, i int)', i);
               END LOOP;
               FOR i IN 1..1000 LOOP
                 EXECUTE format('ALTER TABLE {ns}.t%s ADD FOREIGN KEY (a) REFERENCES {ns}.t%s (id),
                                 ADD FOREIGN KEY (b) REFERENCES {ns}.t%s (id)',
                                i, (i % 1000) + 1, ((i + 500) % 1000) + 1);
               END LOOP;
             END $$;"
        ))
        .await
        .unwrap();
    let pool = crate::support::pool().await;
    let cache = tower_postgrest::SchemaCache::load(pool, [ns.as_str()])
        .await
        .unwrap();
    let snapshot = cache.snapshot();
    assert_eq!(snapshot.tables.len(), 1000);
    assert_eq!(
        snapshot
            .tables
            .iter()
            .map(|t| t.columns.len())
            .sum::<usize>(),
        10_000
    );
    assert_eq!(snapshot.foreign_keys.len(), 2000);
    assert_eq!(snapshot.relationships.len(), 4000);
    let first = cache.last_load().unwrap().duration;
    cache.reload().await.unwrap();
    let second = cache.last_load().unwrap().duration;
    eprintln!(
        "schema of 1,000 tables, 10,000 columns, 2,000 foreign keys: first load {first:?}, reload {second:?}"
    );
    admin
        .batch_execute(&format!("DROP SCHEMA {ns} CASCADE"))
        .await
        .unwrap();
}

#[tokio::test]
async fn one_cache_shared_through_the_snapshot_layer_and_a_timer() {
    use tower::ServiceBuilder;
    let pool = crate::support::pool().await;
    let cache = tower_postgrest::SchemaCache::load(pool.clone(), ["public"])
        .await
        .unwrap();
    // Two services, one cache: the layer hands its snapshot to both.
    let a = tower_postgrest::RestService::builder(pool.clone())
        .schema_cache(cache.clone())
        .anon_role("anon")
        .build()
        .await
        .unwrap();
    let api = ServiceBuilder::new()
        .layer(tower_postgrest::layer::SchemaSnapshotLayer::new(
            cache.clone(),
        ))
        .service(a);
    assert_eq!(get(&api, "/items?select=id&id=eq.2").await.ids(), vec![2]);
    let generation = cache.last_load().unwrap().generation;
    let _timer = cache.reload_every(std::time::Duration::from_millis(100));
    // Two timer reloads, however long a loaded machine takes to run them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while cache.last_load().unwrap().generation < generation + 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the timer never reloaded twice"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(get(&api, "/items?select=id&id=eq.2").await.ids(), vec![2]);
}

/// Reads (which take the socket from tokio-postgres), writes and reloads
/// (which go through tokio-postgres, and leave it closing dropped statements
/// in the background) interleaved on a single connection: every answer must
/// still be the right one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_writes_and_reloads_on_one_connection_keep_their_answers_apart() {
    let manager =
        tower_postgrest::ConnectionManager::from_url(&database().url, tokio_postgres::NoTls)
            .unwrap();
    let (svc, db) = crate::support::scratch_on(
        crate::support::one_connection(manager).await,
        "CREATE TABLE fixed (id int PRIMARY KEY, name text);
         INSERT INTO fixed SELECT i, 'n' || i FROM generate_series(1, 20) i;
         CREATE TABLE log (id serial PRIMARY KEY, n int);",
        |b| b.anon_role("anon"),
    )
    .await;

    let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let reads = {
        let svc = svc.clone();
        tokio::spawn(async move {
            let mut n = 0;
            // At least once, however late the task starts on a loaded machine.
            while n == 0 || std::time::Instant::now() < until {
                // Shapes vary, so that statements keep being prepared.
                let id = n % 20 + 1;
                let uri = match n % 3 {
                    0 => format!("/fixed?id=eq.{id}"),
                    1 => format!("/fixed?select=id&id=eq.{id}"),
                    _ => format!("/fixed?select=name,id&id=gte.{id}&limit=1"),
                };
                let reply = get(&svc, &uri).await;
                assert_eq!(reply.status, 200, "{uri}: {}", reply.text);
                assert_eq!(reply.ids(), vec![id], "{uri}");
                n += 1;
            }
            n
        })
    };
    let writes = {
        let svc = svc.clone();
        tokio::spawn(async move {
            let mut n = 0;
            // At least once, however late the task starts on a loaded machine.
            while n == 0 || std::time::Instant::now() < until {
                let reply = crate::support::send_body(
                    &svc,
                    "POST",
                    "/log",
                    &[("content-type", "application/json")],
                    format!(r#"{{"n": {n}}}"#),
                )
                .await;
                assert_eq!(reply.status, 201, "{}", reply.text);
                n += 1;
            }
            n
        })
    };
    let mut reloads = 0;
    // At least six reloads, however long they take.
    while reloads < 6 || std::time::Instant::now() < until {
        svc.schema_cache().reload().await.unwrap();
        reloads += 1;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (read, written) = (reads.await.unwrap(), writes.await.unwrap());
    let logged = db
        .query_one("SELECT count(*) FROM log", &[])
        .await
        .unwrap()
        .get::<_, i64>(0);
    eprintln!("{read} reads, {written} writes and {reloads} reloads on one connection");
    assert_eq!(logged, written as i64);
    assert!(read > 0 && written > 0 && reloads > 5);
}

/// The snapshot layer's snapshot is the one a request uses: a service built
/// on an older cache answers with the layer's newer one, and without the
/// layer does not know the table.
#[tokio::test]
async fn the_snapshot_layer_decides_what_a_request_sees() {
    use tower::ServiceBuilder;
    let admin = crate::support::admin().await;
    let ns = format!("snap_{}", std::process::id());
    admin
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {ns} CASCADE; CREATE SCHEMA {ns}; GRANT USAGE ON SCHEMA {ns} TO anon;"
        ))
        .await
        .unwrap();
    let pool = crate::support::pool().await;
    let old = tower_postgrest::SchemaCache::load(pool.clone(), [ns.as_str()])
        .await
        .unwrap();
    admin
        .batch_execute(&format!(
            "CREATE TABLE {ns}.later (id int PRIMARY KEY); INSERT INTO {ns}.later VALUES (7);
             GRANT SELECT ON {ns}.later TO anon;"
        ))
        .await
        .unwrap();
    let new = tower_postgrest::SchemaCache::load(pool.clone(), [ns.as_str()])
        .await
        .unwrap();
    let service = tower_postgrest::RestService::builder(pool)
        .schemas([ns.as_str()])
        .schema_cache(old)
        .anon_role("anon")
        .build()
        .await
        .unwrap();
    assert_eq!(
        get(&service, "/later").await.status,
        404,
        "the old cache has no such table"
    );
    let layered = ServiceBuilder::new()
        .layer(tower_postgrest::layer::SchemaSnapshotLayer::new(new))
        .service(service);
    assert_eq!(get(&layered, "/later?select=id").await.ids(), vec![7]);
    admin
        .batch_execute(&format!("DROP SCHEMA {ns} CASCADE"))
        .await
        .unwrap();
}
