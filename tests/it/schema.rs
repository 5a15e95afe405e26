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
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
    }
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
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
