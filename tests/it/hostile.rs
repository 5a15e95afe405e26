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
