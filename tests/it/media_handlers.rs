//! Media-type handlers (PostgREST 12): domains named after a media type,
//! returned by functions (their raw value) and by aggregates over a
//! relation's rows (the body of a read of it).

use crate::support::{scratch, send};

const SETUP: &str = r#"
CREATE DOMAIN "text/plain" AS text;
CREATE DOMAIN "text/html" AS text;
CREATE DOMAIN "application/vnd.bin" AS bytea;
CREATE DOMAIN "application/vnd.names" AS text;
CREATE DOMAIN "application/geo+json" AS jsonb;
CREATE DOMAIN "*/*" AS text;
CREATE TABLE lines (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO lines VALUES (1, 'line-1'), (2, 'line-2'), (3, 'line-3');
CREATE VIEW "lines.txt" AS SELECT * FROM lines;

CREATE FUNCTION welcome() RETURNS "text/plain" LANGUAGE sql AS $$ SELECT 'Welcome to PostgREST' $$;
CREATE FUNCTION page() RETURNS "text/html" LANGUAGE sql AS $$ SELECT '<h1>hi</h1>' $$;
CREATE FUNCTION blob() RETURNS "application/vnd.bin" LANGUAGE sql AS $$ SELECT '\x00ff10'::bytea $$;
CREATE FUNCTION nothing() RETURNS "text/plain" LANGUAGE sql AS $$ SELECT NULL::text $$;

CREATE FUNCTION names_step(state "application/vnd.names", next lines) RETURNS "application/vnd.names"
  LANGUAGE sql AS $$ SELECT coalesce(state, '') || next.name || ';' $$;
CREATE AGGREGATE names_agg(lines) (stype = "application/vnd.names", sfunc = names_step);

CREATE FUNCTION geo_step(state "application/geo+json", next anyelement) RETURNS "application/geo+json"
  LANGUAGE sql AS $$
    SELECT jsonb_build_object('type', 'FeatureCollection', 'features',
      coalesce(state -> 'features', '[]'::jsonb)
        || jsonb_build_array(jsonb_build_object('type', 'Feature', 'properties', to_jsonb(next))))
  $$;
CREATE AGGREGATE geo_agg(anyelement) (stype = "application/geo+json", sfunc = geo_step);

CREATE FUNCTION txt_step(state "*/*", next "lines.txt") RETURNS "*/*"
  LANGUAGE sql AS $$ SELECT coalesce(state, '') || next.id || '=' || next.name || E'\n' $$;
CREATE AGGREGATE txt_agg("lines.txt") (stype = "*/*", sfunc = txt_step);
"#;

#[tokio::test]
async fn functions_returning_a_media_domain_answer_their_raw_value() {
    let (svc, _db) = scratch(SETUP).await;
    let plain = send(&svc, "GET", "/rpc/welcome", &[("accept", "text/plain")]).await;
    assert_eq!(plain.status, 200, "{}", plain.text);
    assert_eq!(plain.text, "Welcome to PostgREST");
    assert_eq!(plain.header("content-type"), "text/plain; charset=utf-8");
    // Without asking for it, the value is JSON as before.
    let json = send(&svc, "GET", "/rpc/welcome", &[]).await;
    assert_eq!(json.json(), "Welcome to PostgREST");
    // A type no handler gives is 406.
    let xml = send(&svc, "GET", "/rpc/welcome", &[("accept", "text/xml")]).await;
    assert_eq!(xml.status, 406, "{}", xml.text);
    assert_eq!(
        xml.json()["message"],
        "None of these media types are available: text/xml"
    );
    let html = send(&svc, "POST", "/rpc/page", &[("accept", "text/html")]).await;
    assert_eq!(
        (html.status.as_u16(), html.text.as_str()),
        (200, "<h1>hi</h1>")
    );
    assert_eq!(html.header("content-type"), "text/html");
    // Binary domains answer their bytes.
    let req = http::Request::get("/rpc/blob")
        .header("accept", "application/vnd.bin")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let res = tower::ServiceExt::oneshot(svc.clone(), req).await.unwrap();
    assert_eq!(res.headers()["content-type"], "application/vnd.bin");
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(body.as_ref(), [0x00, 0xff, 0x10]);
    // No value: an empty body.
    let none = send(&svc, "GET", "/rpc/nothing", &[("accept", "text/plain")]).await;
    assert_eq!((none.status.as_u16(), none.text.as_str()), (200, ""));
}

#[tokio::test]
async fn aggregates_over_a_relation_are_its_handlers() {
    let (svc, db) = scratch(SETUP).await;
    let expected = |sql: &str| {
        let db = &db;
        let sql = sql.to_owned();
        async move { db.query_one(&sql, &[]).await.unwrap().get::<_, String>(0) }
    };
    // The relation's own aggregate, over the page's rows, filters applying.
    let names = send(
        &svc,
        "GET",
        "/lines?order=id",
        &[("accept", "application/vnd.names")],
    )
    .await;
    assert_eq!(names.status, 200, "{}", names.text);
    assert_eq!(names.header("content-type"), "application/vnd.names");
    assert_eq!(
        names.text,
        expected("SELECT names_agg(l ORDER BY id)::text FROM lines l").await
    );
    let one = send(
        &svc,
        "GET",
        "/lines?id=eq.2",
        &[("accept", "application/vnd.names")],
    )
    .await;
    assert_eq!(one.text, "line-2;");
    // An anyelement aggregate answers for every relation: .geojson() in postgrest-js.
    let geo = send(
        &svc,
        "GET",
        "/lines?order=id",
        &[("accept", "application/geo+json")],
    )
    .await;
    assert_eq!(geo.status, 200, "{}", geo.text);
    assert_eq!(
        geo.header("content-type"),
        "application/geo+json; charset=utf-8"
    );
    let want: serde_json::Value =
        serde_json::from_str(&expected("SELECT geo_agg(l ORDER BY id)::text FROM lines l").await)
            .unwrap();
    assert_eq!(geo.json(), want);
    // No handler for this type and relation: 406; builtin types still work.
    let plain = send(&svc, "GET", "/lines", &[("accept", "text/plain")]).await;
    assert_eq!(plain.status, 406, "{}", plain.text);
    let json = send(
        &svc,
        "GET",
        "/lines?select=id&order=id",
        &[("accept", "application/json")],
    )
    .await;
    assert_eq!(
        json.json(),
        serde_json::json!([{"id": 1}, {"id": 2}, {"id": 3}])
    );
    // In order of preference: the first type with a handler wins.
    let both = send(
        &svc,
        "GET",
        "/lines?order=id",
        &[(
            "accept",
            "text/plain, application/vnd.names;q=0.9, application/json;q=0.5",
        )],
    )
    .await;
    assert_eq!(both.header("content-type"), "application/vnd.names");
}

#[tokio::test]
async fn an_any_handler_answers_every_request_of_its_relation() {
    let (svc, db) = scratch(SETUP).await;
    let want: String = db
        .query_one(
            "SELECT txt_agg(l ORDER BY id)::text FROM \"lines.txt\" l",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    for accept in [
        None,
        Some("*/*"),
        Some("application/json"),
        Some("text/xml"),
    ] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
        let reply = send(&svc, "GET", "/lines.txt?order=id", &headers).await;
        assert_eq!(reply.status, 200, "{accept:?}: {}", reply.text);
        assert_eq!(reply.text, want, "{accept:?}");
        assert_eq!(reply.header("content-type"), "application/octet-stream");
    }
    // Not with a select of its own: then the builtin JSON answers.
    let chosen = send(&svc, "GET", "/lines.txt?select=id&order=id&limit=1", &[]).await;
    assert_eq!(chosen.json(), serde_json::json!([{"id": 1}]));
}
