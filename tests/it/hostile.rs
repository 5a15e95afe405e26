//! Hostile input comes back as data, never as SQL.

use crate::support::{get, service};

#[tokio::test]
async fn hostile_values_are_data() {
    let svc = service().await;
    let cases: &[(&str, &[i64])] = &[
        ("name=eq.O'Reilly;+DROP+TABLE+items;+--", &[6]),
        ("name=eq.O%27Reilly%3B%20DROP%20TABLE%20items%3B%20--", &[6]),
        ("note=eq.$1+%5C+backslash", &[6]),
        ("name=eq.'); DELETE FROM items; --", &[]),
        ("name=in.(\"O'Reilly; DROP TABLE items; --\")", &[6]),
        ("tags=cs.{\"a,b\"}", &[6]),
        ("tags=cs.{\"c\\\"d\"}", &[6]),
        ("data->>k=eq.$1 \\ \"q\"", &[6]),
        (
            "data->>'; DROP TABLE items; --=is.null",
            &[1, 2, 3, 4, 5, 6],
        ),
        // `%` is LIKE's own wildcard, as in PostgREST.
        ("name=like.*%25*", &[1, 2, 3, 4, 5, 6]),
        ("name=eq.ünïcødé ☃", &[]),
    ];
    for (filter, expected) in cases {
        let reply = get(&svc, &format!("/items?select=id&order=id&{filter}")).await;
        assert_eq!(reply.status, 200, "{filter}: {}", reply.text);
        assert_eq!(reply.ids(), *expected, "{filter}");
    }
    // Nothing was dropped or deleted.
    assert_eq!(get(&svc, "/items?select=id").await.ids().len(), 6);
}

#[tokio::test]
async fn hostile_names_are_quoted_identifiers() {
    let svc = service().await;
    for uri in [
        "/items?select=\"id\\\"; DROP TABLE items; --\"",
        "/items?select=x:\"a\\\"b\"",
        "/items?\"id; DROP TABLE items\"=eq.1",
        "/items?order=\"id DESC; DROP TABLE items\"",
    ] {
        let reply = get(&svc, uri).await;
        let body = reply.error(422, "invalid_request");
        assert_eq!(body["code"], "invalid_request", "{uri}: {}", reply.text);
        assert!(
            body["message"].as_str().unwrap().contains("does not exist"),
            "{uri}: {}",
            reply.text
        );
    }
    // An alias is a quoted identifier too.
    let reply = get(&svc, "/items?select=\"x\\\"; --\":id&id=eq.1").await;
    assert_eq!(reply.json(), serde_json::json!([{"x\"; --": 1}]));
    let reply = get(
        &svc,
        "/items?select=\"id\"::\"text; DROP TABLE items\"&id=eq.1",
    )
    .await;
    reply.error(422, "invalid_request");
    // A NUL in a value is refused by PostgreSQL, not truncated.
    get(&svc, "/items?name=eq.a%00b")
        .await
        .error(422, "invalid_request");
    // A NUL in a name never reaches SQL.
    get(&svc, "/items?select=a%00b")
        .await
        .error(422, "invalid_request");
    assert_eq!(get(&svc, "/items?select=id").await.ids().len(), 6);
}

#[tokio::test]
async fn oversized_and_malformed_requests_are_clear_4xx() {
    let svc = service().await;
    let long = format!("/items?name=eq.{}", "x".repeat(62_000));
    get(&svc, &long).await.error(414, "uri_too_long");
    let big_header = "y".repeat(100 * 1024);
    crate::support::send(&svc, "GET", "/items", &[("x-big", &big_header)])
        .await
        .error(431, "headers_too_large");
    get(&svc, "/items?name=eq.%FF%FE")
        .await
        .error(422, "invalid_request");
    get(&svc, "/items?select=%C3%28")
        .await
        .error(422, "invalid_request");
    // Deep nesting is refused, not a stack overflow.
    let nested = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    crate::support::send_body(
        &svc,
        "POST",
        "/items",
        &[("content-type", "application/json")],
        nested,
    )
    .await
    .error(422, "invalid_request");
    let tree = format!(
        "/items?or=({}id.eq.1{})",
        "and(".repeat(10_000),
        ")".repeat(10_000)
    );
    get(&svc, &tree).await.error(422, "invalid_request");
    let select = format!(
        "/items?select={}id{}",
        "a(".repeat(10_000),
        ")".repeat(10_000)
    );
    get(&svc, &select).await.error(422, "invalid_request");
}

/// Sends `request` over a real socket and returns the response's status code.
async fn raw_status(addr: std::net::SocketAddr, request: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before the whole request is written.
    let _ = stream.write_all(request).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let head = String::from_utf8_lossy(&response);
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"))
}

#[tokio::test]
async fn a_megabyte_of_query_or_header_is_a_clear_4xx_over_http() {
    let app = axum::Router::new().nest_service("/rest/v1", service().await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mb = "x".repeat(1024 * 1024);
    let long_query = format!("GET /rest/v1/items?name=eq.{mb} HTTP/1.1\r\nhost: t\r\n\r\n");
    let status = raw_status(addr, long_query.as_bytes()).await;
    assert!(status == 414 || status == 431, "{status}");
    let long_header = format!(
        "GET /rest/v1/items HTTP/1.1\r\nhost: t\r\nx-big: {mb}\r\nconnection: close\r\n\r\n"
    );
    assert_eq!(raw_status(addr, long_header.as_bytes()).await, 431);
    // Just under the limits, the same server still answers normally.
    let fine = format!(
        "GET /rest/v1/items?name=eq.{} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n",
        "x".repeat(50_000)
    );
    assert_eq!(raw_status(addr, fine.as_bytes()).await, 200);
    server.abort();
}
