//! Nothing outlives a request on a pooled connection: what a function sets
//! for its session, and a transaction left open, never reach the next
//! request, on both connection paths. Each test runs on a pool of one
//! connection, so every request shares it.

use tower_postgrest::ConnectionManager;

use crate::support::{database, one_connection, scratch_on};

/// A function any API role may call that sets session-level settings, and
/// one that reads them back.
const SETTERS: &str = "
CREATE TABLE notes (id serial PRIMARY KEY, body text);
CREATE FUNCTION set_session(tenant text, zone text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM set_config('app.tenant', tenant, false);
  PERFORM set_config('timezone', zone, false);
  EXECUTE 'SET search_path TO pg_catalog';
  PERFORM set_config('statement_timeout', '1ms', false);
  RETURN 'set';
END $$;
CREATE FUNCTION settings() RETURNS json LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'tenant', current_setting('app.tenant', true),
    'timezone', current_setting('timezone'),
    'statement_timeout', current_setting('statement_timeout'),
    'stamp', to_char('2024-01-01 12:00:00+00'::timestamptz, 'HH24:MI TZ'))
$$;
";

/// The two connection paths, each as a pool of one connection.
fn managers() -> [(&'static str, ConnectionManager); 2] {
    let url = &database().url;
    [
        (
            "one Sync (the pool's own socket)",
            ConnectionManager::from_url(url, tokio_postgres::NoTls).unwrap(),
        ),
        (
            "tokio-postgres",
            ConnectionManager::new(bb8_postgres::PostgresConnectionManager::new(
                url.parse().unwrap(),
                tokio_postgres::NoTls,
            )),
        ),
    ]
}

async fn call_as(
    svc: &tower_postgrest::RestService,
    role: Option<&str>,
    method: &str,
    uri: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let mut req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_owned(),
        )))
        .unwrap();
    if let Some(role) = role {
        req.extensions_mut()
            .insert(tower_postgrest::layer::DbRole::new(role));
    }
    let res = tower::ServiceExt::oneshot(svc.clone(), req).await.unwrap();
    let status = res.status().as_u16();
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn what_a_function_sets_for_its_session_does_not_reach_the_next_request() {
    for (path, manager) in managers() {
        let (svc, _db) = scratch_on(one_connection(manager).await, SETTERS, |b| {
            b.anon_role("anon")
        })
        .await;
        let (status, before) = call_as(&svc, None, "GET", "/rpc/settings", "").await;
        assert_eq!(status, 200, "{path}: {before}");
        assert_eq!(before["tenant"], serde_json::Value::Null, "{path}");

        // Alice's call sets her tenant, São Paulo's time zone, a search_path and a 1 ms timeout…
        let (status, set) = call_as(
            &svc,
            Some("authenticated"),
            "POST",
            "/rpc/set_session",
            r#"{"tenant": "tenant-alice", "zone": "America/Sao_Paulo"}"#,
        )
        .await;
        assert_eq!(
            (status, set.clone()),
            (200, serde_json::json!("set")),
            "{path}"
        );

        // …and the next request, anonymous, on the same connection sees none of it.
        let (status, after) = call_as(&svc, None, "GET", "/rpc/settings", "").await;
        assert_eq!(status, 200, "{path}: {after}");
        // (Once set, a custom setting stays defined: its default is the empty string.)
        assert_eq!(
            after["tenant"].as_str().unwrap_or(""),
            "",
            "{path}: {after}"
        );
        assert_eq!(after["timezone"], before["timezone"], "{path}: {after}");
        assert_eq!(after["stamp"], before["stamp"], "{path}: {after}");
        assert_eq!(
            after["statement_timeout"], before["statement_timeout"],
            "{path}: {after}"
        );
        // A write works too (the timeout and search_path did not stay).
        let (status, body) = call_as(&svc, None, "POST", "/notes", r#"{"body": "x"}"#).await;
        assert_eq!(status, 201, "{path}: {body}");
    }
}

#[tokio::test]
async fn a_statement_cache_that_fills_mid_request_leaves_no_transaction_open() {
    // 511 distinct statements fill all but one place of the 512-statement
    // cache; then a read with `count=planned` prepares two statements at once.
    // Its next request, a write, must not find itself in a read-only
    // transaction.
    for (path, manager) in managers() {
        let (svc, _db) = scratch_on(one_connection(manager).await, SETTERS, |b| {
            b.anon_role("anon")
        })
        .await;
        for i in 0..511 {
            let (status, body) = call_as(
                &svc,
                None,
                "GET",
                &format!("/notes?select=id,n{i}:body"),
                "",
            )
            .await;
            assert_eq!(status, 200, "{path}: {body}");
        }
        let mut req = http::Request::get("/notes?select=id,body&order=id")
            .header("prefer", "count=planned")
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        req.extensions_mut()
            .insert(tower_postgrest::layer::DbRole::new("anon"));
        let res = tower::ServiceExt::oneshot(svc.clone(), req).await.unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        let (status, body) = call_as(&svc, None, "POST", "/notes", r#"{"body": "after"}"#).await;
        assert_eq!(status, 201, "{path}: {body}");
    }
}
