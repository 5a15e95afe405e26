//! Schema profiles: several exposed schemas, chosen per request.

use serde_json::json;

use crate::support::{admin, pool, rows, send, send_body};

#[tokio::test]
async fn accept_and_content_profile_pick_the_schema() {
    let (a, b) = (
        format!("pa{}", std::process::id()),
        format!("pb{}", std::process::id()),
    );
    let db = admin().await;
    for (ns, name) in [(&a, "from a"), (&b, "from b")] {
        db.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {ns} CASCADE; CREATE SCHEMA {ns};
             CREATE TABLE {ns}.things (id int PRIMARY KEY, name text);
             INSERT INTO {ns}.things VALUES (1, '{name}');
             CREATE FUNCTION {ns}.which() RETURNS text LANGUAGE sql AS $$ SELECT '{name}' $$;
             GRANT USAGE ON SCHEMA {ns} TO anon; GRANT ALL ON {ns}.things TO anon;"
        ))
        .await
        .unwrap();
    }
    let svc = tower_postgrest::RestService::builder(pool().await)
        .schemas([a.as_str(), b.as_str()])
        .anon_role("anon")
        .build()
        .await
        .unwrap();

    let reply = send(&svc, "GET", "/things?select=name", &[]).await;
    assert_eq!(reply.json(), json!([{"name": "from a"}]));
    assert_eq!(reply.header("content-profile"), a);
    let reply = send(
        &svc,
        "GET",
        "/things?select=name",
        &[("accept-profile", &b)],
    )
    .await;
    assert_eq!(reply.json(), json!([{"name": "from b"}]));
    assert_eq!(reply.header("content-profile"), b);

    let json = ("content-type", "application/json");
    let reply = send_body(
        &svc,
        "POST",
        "/things",
        &[json, ("content-profile", &b)],
        r#"{"id": 2, "name": "new"}"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        rows(&db, &format!("SELECT id FROM {b}.things ORDER BY id")).await,
        json!([{"id": 1}, {"id": 2}])
    );
    assert_eq!(
        rows(&db, &format!("SELECT id FROM {a}.things")).await,
        json!([{"id": 1}])
    );
    // Writes take Content-Profile, not Accept-Profile.
    send_body(
        &svc,
        "POST",
        "/things",
        &[json, ("accept-profile", &b)],
        r#"{"id": 3, "name": "x"}"#,
    )
    .await;
    assert_eq!(
        rows(&db, &format!("SELECT id FROM {a}.things ORDER BY id")).await,
        json!([{"id": 1}, {"id": 3}])
    );

    // Functions too: GET by Accept-Profile, POST by Content-Profile.
    assert_eq!(
        send(&svc, "GET", "/rpc/which", &[("accept-profile", &b)])
            .await
            .text,
        "\"from b\""
    );
    assert_eq!(
        send_body(
            &svc,
            "POST",
            "/rpc/which",
            &[json, ("content-profile", &b)],
            ""
        )
        .await
        .text,
        "\"from b\""
    );

    let reply = send(&svc, "GET", "/things", &[("accept-profile", "public")]).await;
    let body = reply.error(406, "not_acceptable");
    assert_eq!(body["message"], "Invalid schema: public");
    assert_eq!(
        body["hint"],
        format!("Only the following schemas are exposed: {a}, {b}")
    );
    db.batch_execute(&format!("DROP SCHEMA {a} CASCADE; DROP SCHEMA {b} CASCADE"))
        .await
        .unwrap();
}
