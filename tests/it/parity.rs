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
