//! What the README promises and no other test showed: each with what the
//! database holds as the oracle.

use serde_json::json;
use tower_postgrest::layer::{ErrorMappingLayer, JwtAuthLayer, SetRoleLayer};

use crate::support::{rows, scratch, scratch_with, send, send_body};

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn materialized_views_and_foreign_tables_are_read_like_tables() {
    let csv = std::env::temp_dir().join(format!("promises-{}.csv", std::process::id()));
    std::fs::write(&csv, "1,one\n2,two\n").unwrap();
    // The server reads the file as its own OS user.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&csv, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let (svc, db) = scratch(&format!(
        "CREATE TABLE base (id int PRIMARY KEY, name text);
         INSERT INTO base VALUES (1, 'a'), (2, 'b'), (3, 'c');
         CREATE MATERIALIZED VIEW summary AS SELECT count(*) AS n, max(id) AS top FROM base;
         CREATE SCHEMA IF NOT EXISTS fdw;
         CREATE EXTENSION IF NOT EXISTS file_fdw WITH SCHEMA fdw;
         CREATE SERVER IF NOT EXISTS files FOREIGN DATA WRAPPER file_fdw;
         CREATE FOREIGN TABLE numbers (id int, name text) SERVER files
           OPTIONS (filename '{}', format 'csv');
         GRANT SELECT ON summary, numbers TO anon;",
        csv.display()
    ))
    .await;
    let reply = send(&svc, "GET", "/summary", &[]).await;
    assert_eq!(reply.json(), rows(&db, "SELECT * FROM summary").await);
    let reply = send(&svc, "GET", "/numbers?id=gt.1", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        rows(&db, "SELECT * FROM numbers WHERE id > 1").await
    );
    let _ = std::fs::remove_file(csv);
}

#[tokio::test]
async fn a_junction_hint_picks_the_many_to_many() {
    let (svc, db) = scratch(
        "CREATE TABLE posts (id int PRIMARY KEY, title text);
         CREATE TABLE tags (id int PRIMARY KEY, name text);
         CREATE TABLE post_tags (post_id int REFERENCES posts, tag_id int REFERENCES tags, PRIMARY KEY (post_id, tag_id));
         CREATE TABLE post_pins (post_id int REFERENCES posts, tag_id int REFERENCES tags, PRIMARY KEY (post_id, tag_id));
         INSERT INTO posts VALUES (1, 'p');
         INSERT INTO tags VALUES (1, 'tagged'), (2, 'pinned');
         INSERT INTO post_tags VALUES (1, 1);
         INSERT INTO post_pins VALUES (1, 2);",
    )
    .await;
    // Two junctions: ambiguous without a hint.
    let reply = send(&svc, "GET", "/posts?select=tags(name)", &[]).await;
    assert_eq!(reply.status.as_u16(), 300, "{}", reply.text);
    for (junction, want) in [("post_tags", "tagged"), ("post_pins", "pinned")] {
        let reply = send(
            &svc,
            "GET",
            &format!("/posts?select=title,tags!{junction}(name)"),
            &[],
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let expected = rows(
            &db,
            &format!(
                "SELECT p.title, (SELECT json_agg(json_build_object('name', t.name)) FROM {junction} j JOIN tags t ON t.id = j.tag_id WHERE j.post_id = p.id) AS tags FROM posts p"
            ),
        )
        .await;
        assert_eq!(reply.json(), expected);
        assert_eq!(reply.json()[0]["tags"][0]["name"], want);
    }
}

#[tokio::test]
async fn the_same_key_twice_in_one_upsert_is_422_and_changes_nothing() {
    let (svc, db) =
        scratch("CREATE TABLE kv (k int PRIMARY KEY, v text); INSERT INTO kv VALUES (1, 'old');")
            .await;
    let reply = send_body(
        &svc,
        "POST",
        "/kv",
        &[JSON, ("prefer", "resolution=merge-duplicates")],
        r#"[{"k": 1, "v": "a"}, {"k": 1, "v": "b"}]"#,
    )
    .await;
    let body = reply.error(422, "invalid_request");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("cannot affect row a second time"),
        "{body}"
    );
    assert_eq!(
        rows(&db, "SELECT * FROM kv").await,
        json!([{"k": 1, "v": "old"}])
    );
}

#[tokio::test]
async fn hs384_and_hs512_tokens_verify() {
    let secret = "a-development-secret-of-32-chars!";
    let (svc, _db) = scratch_with(
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);",
        |b| b,
    )
    .await;
    let stack = tower::ServiceBuilder::new()
        .layer(JwtAuthLayer::secret(secret).unwrap())
        .layer(SetRoleLayer::new())
        .service(svc);
    for alg in [
        jsonwebtoken::Algorithm::HS256,
        jsonwebtoken::Algorithm::HS384,
        jsonwebtoken::Algorithm::HS512,
    ] {
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(alg),
            &json!({"role": "anon", "exp": 4_000_000_000u64}),
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        let reply = send(
            &stack,
            "GET",
            "/t",
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
        assert_eq!(reply.status, 200, "{alg:?}: {}", reply.text);
        assert_eq!(reply.json(), json!([{"id": 1}]));
    }
}

#[tokio::test]
async fn errors_are_json_with_a_charset_and_a_custom_mapper_decides_their_shape() {
    let (svc, _db) = scratch("CREATE TABLE t (id int PRIMARY KEY);").await;
    let reply = send(&svc, "GET", "/nope", &[]).await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.header("content-type"),
        "application/json; charset=utf-8"
    );
    // A mapper that is a plain function of the error.
    let mapped = tower::ServiceBuilder::new()
        .layer(ErrorMappingLayer::new(|e: &tower_postgrest::Error| {
            let mut res = http::Response::new(tower_postgrest::RestBody::from(format!(
                "oops: {}",
                e.message()
            )));
            *res.status_mut() = http::StatusCode::IM_A_TEAPOT;
            res
        }))
        .service(svc);
    let reply = send(&mapped, "GET", "/nope", &[]).await;
    assert_eq!(reply.status.as_u16(), 418);
    assert!(reply.text.starts_with("oops: "), "{}", reply.text);
}

#[tokio::test]
async fn the_default_body_limit_is_16_mib() {
    let (svc, db) = scratch("CREATE TABLE t (id int PRIMARY KEY, s text);").await;
    let filler = "x".repeat(16 * 1024 * 1024);
    let reply = send_body(
        &svc,
        "POST",
        "/t",
        &[JSON],
        format!(r#"{{"id": 1, "s": "{filler}"}}"#),
    )
    .await;
    assert_eq!(reply.status, 413, "{:.200}", reply.text);
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM t").await,
        json!([{"n": 0}])
    );
    // Just under it: accepted.
    let under = "x".repeat(16 * 1024 * 1024 - 64);
    let reply = send_body(
        &svc,
        "POST",
        "/t",
        &[JSON],
        format!(r#"{{"id": 2, "s": "{under}"}}"#),
    )
    .await;
    assert_eq!(reply.status, 201, "{:.200}", reply.text);
}
