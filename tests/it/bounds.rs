//! Bounds on what one client can make a request cost, and on what one
//! request can leave behind for the next: each test fails without its bound.

use serde_json::json;

use crate::support::{database, one_connection, scratch, scratch_on, send, send_body};
use tower_postgrest::ConnectionManager;

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
