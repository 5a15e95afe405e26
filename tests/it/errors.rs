//! Error responses: status, code and body shape.

use crate::support::{get, send, service};

#[tokio::test]
async fn unknown_table_is_404_with_a_hint() {
    let svc = service().await;
    let body = get(&svc, "/itemz").await.error(404, "not_found");
    assert_eq!(
        body["message"],
        "Could not find the table 'public.itemz' in the schema cache"
    );
    assert_eq!(body["hint"], "Perhaps you meant the table 'public.items'");
    let body = get(&svc, "/zzzzzz").await.error(404, "not_found");
    assert_eq!(body["hint"], serde_json::Value::Null);
}

#[tokio::test]
async fn tables_of_other_schemas_are_not_exposed() {
    let svc = service().await;
    get(&svc, "/secrets").await.error(404, "not_found");
    get(&svc, "/private.secrets").await.error(404, "not_found");
    get(&svc, "/private%2Esecrets")
        .await
        .error(404, "not_found");
}

#[tokio::test]
async fn invalid_paths_are_404() {
    let svc = service().await;
    get(&svc, "/items/1").await.error(404, "not_found");
    get(&svc, "/a/b/c").await.error(404, "not_found");
}

#[tokio::test]
async fn malformed_requests_are_422() {
    let svc = service().await;
    // PostgREST's parse messages (its parser's position and expectation),
    // and the database's own for a value only it can judge.
    let cases: [(&str, &str, Option<&str>); 14] = [
        (
            "/items?id=eqq.1",
            r#""failed to parse filter (eqq.1)" (line 1, column 3)"#,
            Some(r#"unexpected "q" expecting operator (eq, gt, ...)"#),
        ),
        (
            "/items?id=1",
            r#""failed to parse filter (1)" (line 1, column 1)"#,
            Some(r#"unexpected "1" expecting "not" or operator (eq, gt, ...)"#),
        ),
        (
            "/items?id=in.(1,2",
            r#""failed to parse filter (in.(1,2)" (line 1, column 8)"#,
            Some(r#"unexpected end of input expecting "," or ")""#),
        ),
        (
            "/items?id=in.(",
            r#""failed to parse filter (in.()" (line 1, column 5)"#,
            Some(r#"unexpected end of input expecting "," or ")""#),
        ),
        (
            "/items?id=in.1,2",
            r#""failed to parse filter (in.1,2)" (line 1, column 4)"#,
            Some(r#"unexpected "1" expecting "(""#),
        ),
        (
            "/items?active=is.maybe",
            r#""failed to parse filter (is.maybe)" (line 1, column 4)"#,
            Some(r#"unexpected "m" expecting isVal: (null, not_null, true, false, unknown)"#),
        ),
        (
            "/items?select=id,",
            r#""failed to parse select parameter (id,)" (line 1, column 4)"#,
            Some("unexpected end of input expecting field name (* or [a..z0..9_$])"),
        ),
        (
            "/items?select=id::",
            r#""failed to parse select parameter (id::)" (line 1, column 5)"#,
            Some("unexpected end of input expecting a type name"),
        ),
        (
            "/items?select=name(",
            r#""failed to parse select parameter (name()" (line 1, column 6)"#,
            Some("unexpected end of input expecting field name (* or [a..z0..9_$])"),
        ),
        (
            "/items?order=id.ascending",
            r#""failed to parse order (id.ascending)" (line 1, column 4)"#,
            Some(r#"unexpected "a" expecting "asc", "desc", "nullsfirst" or "nullslast""#),
        ),
        (
            "/items?order=id.asc.desc",
            r#""failed to parse order (id.asc.desc)" (line 1, column 8)"#,
            Some(r#"unexpected "d" expecting "asc", "desc", "nullsfirst" or "nullslast""#),
        ),
        (
            "/items?limit=ten",
            r#""limit" must be a non-negative integer, got "ten""#,
            None,
        ),
        (
            "/items?offset=1.5",
            r#""offset" must be a non-negative integer, got "1.5""#,
            None,
        ),
        (
            "/items?id=eq(any).1",
            r#"malformed array literal: "1""#,
            Some(r#"Array value must start with "{" or dimension information."#),
        ),
    ];
    for (uri, message, details) in cases {
        let reply = get(&svc, uri).await;
        let body = reply.error(422, "invalid_request");
        assert_eq!(body["message"], message, "{uri}");
        assert_eq!(body["details"].as_str(), details, "{uri}");
    }
}

#[tokio::test]
async fn parse_errors_say_where_and_what() {
    let svc = service().await;
    let body = get(&svc, "/items?id=eqq.1")
        .await
        .error(422, "invalid_request");
    assert_eq!(
        body["message"],
        "\"failed to parse filter (eqq.1)\" (line 1, column 3)"
    );
    assert!(
        body["details"]
            .as_str()
            .unwrap()
            .starts_with("unexpected \"q\" expecting operator (eq, gt, ...)"),
        "{body}"
    );
}

#[tokio::test]
async fn unknown_columns_are_postgres_errors() {
    let svc = service().await;
    for uri in [
        "/items?select=nope",
        "/items?nope=eq.1",
        "/items?order=nope",
    ] {
        let body = get(&svc, uri).await.error(422, "invalid_request");
        assert_eq!(body["message"], "column items.nope does not exist", "{uri}");
    }
}

#[tokio::test]
async fn values_of_the_wrong_type_are_422() {
    let svc = service().await;
    let body = get(&svc, "/items?id=eq.abc")
        .await
        .error(422, "invalid_request");
    assert_eq!(
        body["message"],
        "invalid input syntax for type integer: \"abc\""
    );
}

#[tokio::test]
async fn privileges_are_the_database_s() {
    let svc = service().await;
    let body = get(&svc, "/staff_only").await.error(403, "rls_denied");
    assert_eq!(body["message"], "permission denied for table staff_only");
}

#[tokio::test]
async fn unacceptable_media_types_are_406() {
    let svc = service().await;
    let reply = send(&svc, "GET", "/items", &[("accept", "text/html")]).await;
    let body = reply.error(406, "not_acceptable");
    assert_eq!(
        body["message"],
        "None of these media types are available: text/html"
    );
}

#[tokio::test]
async fn embedding_and_unsupported_methods_answer_clearly() {
    let svc = service().await;
    let body = get(&svc, "/items?select=*,author(*)")
        .await
        .error(422, "invalid_request");
    assert_eq!(
        body["message"],
        "Could not find a relationship between 'items' and 'author' in the schema cache"
    );
    assert_eq!(
        body["hint"],
        "Perhaps you meant 'authors' instead of 'author'."
    );
    get(&svc, "/items?authors.id=eq.1")
        .await
        .error(422, "invalid_request");
    // A write without a body.
    send(&svc, "POST", "/items", &[])
        .await
        .error(422, "invalid_request");
    send(&svc, "PROPFIND", "/items", &[])
        .await
        .error(405, "method_not_allowed");
    send(&svc, "TRACE", "/items", &[])
        .await
        .error(405, "method_not_allowed");
}

#[tokio::test]
async fn database_down_is_503_without_internals() {
    // A pool pointed at a port where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://authenticator:s3cret@127.0.0.1:{port}/fixture");
    let manager =
        tower_postgrest::ConnectionManager::from_url(&url, tokio_postgres::NoTls).unwrap();
    let pool = manager
        .pool_builder()
        .connection_timeout(std::time::Duration::from_millis(500))
        .build_unchecked(manager);
    let svc = tower_postgrest::RestService::builder(pool.clone())
        .schema_cache(crate::support::service().await.schema_cache().clone())
        .anon_role("anon")
        .build()
        .await
        .unwrap();
    let reply = get(&svc, "/items").await;
    reply.error(503, "unavailable");
    assert!(reply.headers.contains_key("retry-after"));
    assert!(!reply.text.contains("s3cret"), "{}", reply.text);
    assert!(!reply.text.contains(&port.to_string()), "{}", reply.text);
    assert!(!reply.text.contains("SELECT"), "{}", reply.text);
}
