//! Error dialects through the full stack: this crate's table and PostgREST's.

use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;
use tower::ServiceBuilder;
use tower_postgrest::layer::{ErrorMappingLayer, JwtAuthLayer, SetRoleLayer};
use tower_postgrest::{PostgRest, Powabase, RestService};

use crate::support::{Stack, pool, send};

const SECRET: &str = "reallyreallyreallyreallyverysafe";

async fn stack(postgrest: bool) -> impl Stack {
    let mut builder = RestService::builder(pool().await).anon_role("anon");
    builder = if postgrest {
        builder.error_mapper(PostgRest)
    } else {
        builder.error_mapper(Powabase)
    };
    let rest = builder.build().await.unwrap();
    ServiceBuilder::new()
        .layer(if postgrest {
            ErrorMappingLayer::postgrest()
        } else {
            ErrorMappingLayer::powabase()
        })
        .layer(JwtAuthLayer::secret(SECRET).unwrap())
        .layer(SetRoleLayer::new())
        .service(rest)
}

fn token(role: &str) -> String {
    let t = jsonwebtoken::encode(
        &Header::default(),
        &json!({"role": role}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    format!("Bearer {t}")
}

#[tokio::test]
async fn postgrest_dialect() {
    let api = stack(true).await;
    let reply = send(&api, "GET", "/itemz", &[]).await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.json(),
        json!({"code": "PGRST205", "message": "Could not find the table 'public.itemz' in the schema cache",
               "details": null, "hint": "Perhaps you meant the table 'public.items'"})
    );
    assert_eq!(reply.header("proxy-status"), "PostgREST; error=PGRST205");

    let reply = send(&api, "GET", "/items?id=eqq.1", &[]).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "PGRST100");

    // 42501: 401 for the anonymous role, 403 for any other.
    let reply = send(&api, "GET", "/staff_only", &[]).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["code"], "42501");
    assert_eq!(reply.header("www-authenticate"), "Bearer");
    let reply = send(
        &api,
        "GET",
        "/staff_only",
        &[("authorization", &token("authenticated"))],
    )
    .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json()["code"], "42501");
    assert!(!reply.headers.contains_key("www-authenticate"));

    // The JWT layer's errors speak the same dialect.
    let reply = send(
        &api,
        "GET",
        "/items",
        &[("authorization", "Bearer not.a.jwt")],
    )
    .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["code"], "PGRST301");
    assert_eq!(reply.header("proxy-status"), "PostgREST; error=PGRST301");
    assert!(reply.header("www-authenticate").contains("invalid_token"));

    let reply = send(
        &api,
        "GET",
        "/items?id=in.(1,2)",
        &[("accept", "application/vnd.pgrst.object+json")],
    )
    .await;
    assert_eq!(reply.status, 406);
    assert_eq!(
        reply.json(),
        json!({"code": "PGRST116", "message": "Cannot coerce the result to a single JSON object",
               "details": "The result contains 2 rows", "hint": null})
    );
    let reply = send(&api, "GET", "/items?id=eq.abc", &[]).await;
    assert_eq!(
        (reply.status.as_u16(), reply.json()["code"].as_str()),
        (400, Some("22P02"))
    );
}

#[tokio::test]
async fn powabase_dialect() {
    let api = stack(false).await;
    let reply = send(&api, "GET", "/itemz", &[]).await;
    reply.error(404, "not_found");
    assert_eq!(reply.header("proxy-status"), "PostgREST; error=not_found");
    send(&api, "GET", "/items?id=eqq.1", &[])
        .await
        .error(422, "invalid_request");
    send(&api, "GET", "/staff_only", &[])
        .await
        .error(403, "rls_denied");
    let reply = send(
        &api,
        "GET",
        "/items",
        &[("authorization", "Bearer not.a.jwt")],
    )
    .await;
    reply.error(401, "unauthorized");
    assert!(reply.header("www-authenticate").contains("invalid_token"));
}
