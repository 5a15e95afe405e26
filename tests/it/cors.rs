//! OPTIONS and CORS, as PostgREST answers them.

use tower::ServiceBuilder;
use tower_postgrest::layer::CorsLayer;
use tower_postgrest::{OpenApiMode, RestService};

use crate::support::{send, service};

#[tokio::test]
async fn options_lists_the_allowed_methods() {
    // From the schema cache alone (PostgREST's answer); following privileges,
    // `safety.rs` shows the same narrowed to the role's grants.
    let svc = RestService::builder(crate::support::pool().await)
        .schemas(["public"])
        .anon_role("anon")
        .openapi_mode(OpenApiMode::IgnorePrivileges)
        .build()
        .await
        .unwrap();
    let allow = |uri: &'static str| {
        let svc = svc.clone();
        async move {
            let reply = send(&svc, "OPTIONS", uri, &[]).await;
            assert_eq!(reply.status, 200, "{uri}: {}", reply.text);
            reply.header("allow").to_owned()
        }
    };
    assert_eq!(
        allow("/items").await,
        "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE"
    );
    // A view showing its table's primary key has that key (PostgREST infers
    // it the same way), so it takes PUT too.
    assert_eq!(
        allow("/cheap_items").await,
        "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE"
    );
    assert_eq!(allow("/").await, "OPTIONS,GET,HEAD");
    assert_eq!(allow("/rpc/label").await, "OPTIONS,GET,HEAD,POST");
    send(&svc, "OPTIONS", "/nope", &[])
        .await
        .error(404, "not_found");
    // anon may only read the fixture's tables.
    let svc = service().await;
    let reply = send(&svc, "OPTIONS", "/items", &[]).await;
    assert_eq!(reply.header("allow"), "OPTIONS,GET,HEAD");
}

#[tokio::test]
async fn cors_headers_and_preflights() {
    let rest = service().await;
    let any = ServiceBuilder::new()
        .layer(CorsLayer::new())
        .service(rest.clone());
    let reply = send(
        &any,
        "GET",
        "/items?select=id&limit=1",
        &[("origin", "https://app.example")],
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("access-control-allow-origin"), "*");
    assert!(
        reply
            .header("access-control-expose-headers")
            .contains("Content-Range")
    );
    // No Origin, no CORS headers.
    let reply = send(&any, "GET", "/items?select=id&limit=1", &[]).await;
    assert!(!reply.headers.contains_key("access-control-allow-origin"));

    let preflight = [
        ("origin", "https://app.example"),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "apikey, x-client-info"),
    ];
    let reply = send(&any, "OPTIONS", "/items", &preflight).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("access-control-allow-methods"),
        "GET, POST, PATCH, PUT, DELETE, OPTIONS, HEAD"
    );
    // PostgREST's list: Authorization, the headers asked for, the simple ones.
    assert_eq!(
        reply.header("access-control-allow-headers"),
        "Authorization, apikey, x-client-info, Accept, Accept-Language, Content-Language"
    );
    assert_eq!(reply.header("access-control-max-age"), "86400");

    let listed = ServiceBuilder::new()
        .layer(CorsLayer::new().allowed_origins(["https://app.example"]))
        .service(rest);
    let reply = send(
        &listed,
        "GET",
        "/items?select=id&limit=1",
        &[("origin", "https://app.example")],
    )
    .await;
    assert_eq!(
        reply.header("access-control-allow-origin"),
        "https://app.example"
    );
    assert_eq!(reply.header("access-control-allow-credentials"), "true");
    let reply = send(
        &listed,
        "GET",
        "/items?select=id&limit=1",
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(!reply.headers.contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn the_root_describes_the_api_in_openapi_3_1() {
    let svc = service().await;
    let reply = send(&svc, "GET", "/", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        "application/openapi+json; charset=utf-8"
    );
    let doc = reply.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["schemas"]["items"]["description"],
        "Things with every kind of column"
    );
    assert!(doc["paths"]["/cheap_items"]["get"].is_object());
    assert!(doc["paths"].get("/secrets").is_none());
    // POST / is a batch (an extension: PostgREST answers 405); an empty one is refused.
    assert!(doc["paths"]["/"]["post"].is_object());
    let empty = send(&svc, "POST", "/", &[("content-type", "application/json")]).await;
    assert_eq!(
        empty.error(422, "invalid_request")["message"],
        "A batch is a JSON array of operations"
    );
    // A batch is JSON, always (a page on another site can send text/plain).
    let plain = send(&svc, "POST", "/", &[("content-type", "text/plain")]).await;
    assert_eq!(
        plain.error(422, "invalid_request")["message"],
        "Content-Type not acceptable: text/plain"
    );
    send(&svc, "PUT", "/", &[])
        .await
        .error(405, "method_not_allowed");
    send(
        &svc,
        "GET",
        "/items",
        &[("accept", "application/openapi+json")],
    )
    .await
    .error(406, "not_acceptable");
}
