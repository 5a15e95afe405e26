//! RPC: functions at /rpc/{function}, by POST and GET.

use serde_json::json;

use crate::support::{rows, scratch, send, send_body};

const FUNCTIONS: &str = r#"
CREATE TABLE films (id int PRIMARY KEY, title text NOT NULL, year int NOT NULL, rating numeric(3,1));
INSERT INTO films VALUES
  (1, 'Solaris', 1972, 8.1), (2, 'Stalker', 1979, 8.2), (3, 'Arrival', 2016, 7.9),
  (4, 'Annihilation', 2018, 6.8), (5, 'Moon', 2009, 7.8);
CREATE TABLE log (id serial PRIMARY KEY, msg text);

CREATE FUNCTION add(a int, b int DEFAULT 10) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$;
CREATE FUNCTION greet(name text) RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'hello ' || name $$;
CREATE FUNCTION greet(first text, last text) RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'hello ' || first || ' ' || last $$;
CREATE FUNCTION amb(x int) RETURNS int LANGUAGE sql AS $$ SELECT x $$;
CREATE FUNCTION amb(x text) RETURNS text LANGUAGE sql AS $$ SELECT x $$;
CREATE FUNCTION best_films(min_rating numeric DEFAULT 0) RETURNS SETOF films LANGUAGE sql STABLE AS
  $$ SELECT * FROM films WHERE rating >= min_rating $$;
CREATE FUNCTION titles() RETURNS SETOF text LANGUAGE sql STABLE AS $$ SELECT title FROM films ORDER BY id $$;
CREATE FUNCTION top_film() RETURNS films LANGUAGE sql STABLE AS $$ SELECT * FROM films ORDER BY rating DESC LIMIT 1 $$;
CREATE FUNCTION stats(OUT n int, OUT best numeric) LANGUAGE sql STABLE AS $$ SELECT count(*)::int, max(rating) FROM films $$;
CREATE FUNCTION decades() RETURNS TABLE (title text, decade int) LANGUAGE sql STABLE AS
  $$ SELECT title, year / 10 * 10 FROM films ORDER BY id $$;
CREATE FUNCTION log_it(msg text) RETURNS void LANGUAGE sql VOLATILE AS $$ INSERT INTO log (msg) VALUES (msg) $$;
CREATE FUNCTION sum_all(VARIADIC nums int[]) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT sum(n)::int FROM unnest(nums) n $$;
CREATE FUNCTION echo(json) RETURNS json LANGUAGE sql IMMUTABLE AS $$ SELECT $1 $$;
CREATE FUNCTION ids(xs int[]) RETURNS int[] LANGUAGE sql IMMUTABLE AS $$ SELECT xs $$;
CREATE FUNCTION whoami() RETURNS json LANGUAGE sql STABLE AS $$
  SELECT json_build_object('claims', current_setting('request.jwt.claims', true)::json,
                           'method', current_setting('request.method', true),
                           'path', current_setting('request.path', true)) $$;
CREATE FUNCTION pay() RETURNS void LANGUAGE plpgsql AS $$
  BEGIN RAISE SQLSTATE 'PT402' USING MESSAGE = 'Payment Required', DETAIL = 'Quota exceeded', HINT = 'Upgrade'; END $$;
CREATE FUNCTION teapot() RETURNS void LANGUAGE plpgsql AS $$
  BEGIN RAISE SQLSTATE 'PGRST' USING
    MESSAGE = '{"code":"T01","message":"I am a teapot","details":"short and stout","hint":null}',
    DETAIL = '{"status":418,"headers":{"X-Powered-By":"Tea"}}'; END $$;
CREATE FUNCTION fail(reason text) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '%', reason; END $$;
CREATE FUNCTION accepted() RETURNS json LANGUAGE plpgsql VOLATILE AS $$
  BEGIN
    PERFORM set_config('response.headers', '[{"X-Job":"42"},{"Set-Cookie":"a=1"},{"Set-Cookie":"b=2"}]', true);
    PERFORM set_config('response.status', '202', true);
    RETURN '{"queued": true}';
  END $$;
"#;

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn scalars_defaults_and_overloads() {
    let (svc, _) = scratch(FUNCTIONS).await;
    let reply = send_body(&svc, "POST", "/rpc/add", &[JSON], r#"{"a": 1, "b": 2}"#).await;
    assert_eq!((reply.status.as_u16(), reply.text.as_str()), (200, "3"));
    assert_eq!(
        reply.header("content-type"),
        "application/json; charset=utf-8"
    );
    assert_eq!(
        send_body(&svc, "POST", "/rpc/add", &[JSON], r#"{"a": 1}"#)
            .await
            .text,
        "11"
    );
    assert_eq!(send(&svc, "GET", "/rpc/add?a=1&b=2", &[]).await.text, "3");
    assert_eq!(send(&svc, "GET", "/rpc/add?a=5", &[]).await.text, "15");
    let head = send(&svc, "HEAD", "/rpc/add?a=5", &[]).await;
    assert_eq!((head.status.as_u16(), head.text.as_str()), (200, ""));

    assert_eq!(
        send_body(&svc, "POST", "/rpc/greet", &[JSON], r#"{"name": "Ann"}"#)
            .await
            .text,
        "\"hello Ann\""
    );
    assert_eq!(
        send(&svc, "GET", "/rpc/greet?first=Ann&last=Lee", &[])
            .await
            .text,
        "\"hello Ann Lee\""
    );

    let body = send_body(&svc, "POST", "/rpc/amb", &[JSON], r#"{"x": 1}"#)
        .await
        .error(300, "ambiguous");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Could not choose the best candidate function between:"),
        "{body}"
    );

    let body = send_body(&svc, "POST", "/rpc/add", &[JSON], r#"{"x": 1}"#)
        .await
        .error(404, "not_found");
    // The schema the service exposes, as its cache loaded it (not read out of the answer).
    let ns = svc.schema_cache().snapshot().schemas[0].clone();
    assert_eq!(
        body["message"],
        format!("Could not find the function {ns}.add(x) in the schema cache")
    );
    assert_eq!(
        body["hint"],
        format!("Perhaps you meant to call the function {ns}.add(a, b)")
    );
    assert_eq!(
        body["details"],
        format!(
            "Searched for the function {ns}.add with parameter x or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache."
        )
    );
    let body = send(&svc, "GET", "/rpc/addd?a=1", &[])
        .await
        .error(404, "not_found");
    assert_eq!(
        body["hint"],
        format!("Perhaps you meant to call the function {ns}.add")
    );
    send_body(&svc, "PATCH", "/rpc/add", &[JSON], "{}")
        .await
        .error(405, "method_not_allowed");
}

#[tokio::test]
async fn every_return_kind() {
    let (svc, _) = scratch(FUNCTIONS).await;
    let post = |f: &'static str| {
        let svc = svc.clone();
        async move { send_body(&svc, "POST", &format!("/rpc/{f}"), &[JSON], "").await }
    };
    assert_eq!(
        post("titles").await.json(),
        json!(["Solaris", "Stalker", "Arrival", "Annihilation", "Moon"])
    );
    assert_eq!(
        post("top_film").await.json(),
        json!({"id": 2, "title": "Stalker", "year": 1979, "rating": 8.2})
    );
    assert_eq!(post("stats").await.json(), json!({"n": 5, "best": 8.2}));
    assert_eq!(
        post("decades").await.json()[2],
        json!({"title": "Arrival", "decade": 2010})
    );
    let reply = post("best_films").await;
    assert_eq!(reply.json().as_array().unwrap().len(), 5);
    assert_eq!(reply.header("content-range"), "0-4/*");

    // void: 204, and it ran (POST of a volatile function runs READ WRITE).
    let (svc2, db) = scratch(FUNCTIONS).await;
    let reply = send_body(&svc2, "POST", "/rpc/log_it", &[JSON], r#"{"msg": "hi"}"#).await;
    assert_eq!((reply.status.as_u16(), reply.text.as_str()), (204, ""));
    assert!(!reply.headers.contains_key("content-type"));
    assert_eq!(
        rows(&db, "SELECT msg FROM log").await,
        json!([{"msg": "hi"}])
    );
    // A volatile function by GET: a read-only transaction, 405, nothing written.
    let body = send(&svc2, "GET", "/rpc/log_it?msg=again", &[])
        .await
        .error(405, "method_not_allowed");
    assert_eq!(
        body["message"],
        "cannot execute INSERT in a read-only transaction"
    );
    assert_eq!(
        rows(&db, "SELECT msg FROM log").await,
        json!([{"msg": "hi"}])
    );
}

#[tokio::test]
async fn table_results_take_select_filters_order_and_paging() {
    let (svc, _) = scratch(FUNCTIONS).await;
    // `min_rating=7.9` is an argument; `year=gt.2000` a filter on the result.
    let reply = send(
        &svc,
        "GET",
        "/rpc/best_films?min_rating=7.9&year=gt.2000&select=title,year&order=year.desc",
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!([{"title": "Arrival", "year": 2016}]));
    // POST takes filters from the query string too.
    let reply = send_body(
        &svc,
        "POST",
        "/rpc/best_films?select=title&or=(year.lt.1975,title.like.M*)&order=title",
        &[JSON],
        r#"{"min_rating": 7}"#,
    )
    .await;
    assert_eq!(
        reply.json(),
        json!([{"title": "Moon"}, {"title": "Solaris"}])
    );
    let reply = send(
        &svc,
        "GET",
        "/rpc/best_films?select=id&order=id&limit=2&offset=1",
        &[("prefer", "count=exact")],
    )
    .await;
    assert_eq!(reply.status, 206);
    assert_eq!(reply.json(), json!([{"id": 2}, {"id": 3}]));
    assert_eq!(reply.header("content-range"), "1-2/5");
    let object = ("accept", "application/vnd.pgrst.object+json");
    let reply = send(
        &svc,
        "GET",
        "/rpc/best_films?id=eq.3&select=title",
        &[object],
    )
    .await;
    assert_eq!(reply.json(), json!({"title": "Arrival"}));
    send(&svc, "GET", "/rpc/best_films?select=title", &[object])
        .await
        .error(406, "not_acceptable");
    let reply = send(
        &svc,
        "GET",
        "/rpc/best_films?select=title,year&id=lt.3&order=id",
        &[("accept", "text/csv")],
    )
    .await;
    assert_eq!(reply.text, "title,year\nSolaris,1972\nStalker,1979");
}

#[tokio::test]
async fn variadic_json_and_array_arguments() {
    let (svc, _) = scratch(FUNCTIONS).await;
    assert_eq!(
        send_body(
            &svc,
            "POST",
            "/rpc/sum_all",
            &[JSON],
            r#"{"nums": [1, 2, 3]}"#
        )
        .await
        .text,
        "6"
    );
    assert_eq!(
        send(&svc, "GET", "/rpc/sum_all?nums=4&nums=5", &[])
            .await
            .text,
        "9"
    );
    assert_eq!(
        send(&svc, "GET", "/rpc/sum_all?nums={1,2,3,4}", &[])
            .await
            .text,
        "10"
    );
    let reply = send_body(
        &svc,
        "POST",
        "/rpc/echo",
        &[JSON],
        r#"{"any": ["shape", 1]}"#,
    )
    .await;
    assert_eq!(reply.json(), json!({"any": ["shape", 1]}));
    assert_eq!(
        send_body(&svc, "POST", "/rpc/ids", &[JSON], r#"{"xs": [3, 1]}"#)
            .await
            .json(),
        json!([3, 1])
    );
    assert_eq!(
        send(&svc, "GET", "/rpc/ids?xs={7,8}", &[]).await.json(),
        json!([7, 8])
    );
    // Only the first object of an array body is used.
    assert_eq!(
        send_body(
            &svc,
            "POST",
            "/rpc/add",
            &[JSON],
            r#"[{"a": 1, "b": 1}, {"a": 9, "b": 9}]"#
        )
        .await
        .text,
        "2"
    );
}

#[tokio::test]
async fn request_context_reaches_functions() {
    let (svc, _) = scratch(FUNCTIONS).await;
    let mut req = http::Request::post("/rpc/whoami")
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
        .unwrap();
    req.extensions_mut().insert(
        tower_postgrest::layer::DbRole::new("authenticated")
            .with_claims(json!({"sub": "u-1", "email": "a@b.c"})),
    );
    let res = tower::ServiceExt::oneshot(svc.clone(), req).await.unwrap();
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v,
        json!({"claims": {"sub": "u-1", "email": "a@b.c", "role": "authenticated"}, "method": "POST", "path": "/rpc/whoami"})
    );
}

#[tokio::test]
async fn errors_statuses_and_headers_from_functions() {
    let (svc, _) = scratch(FUNCTIONS).await;
    let reply = send_body(&svc, "POST", "/rpc/pay", &[JSON], "").await;
    assert_eq!(reply.status, 402);
    assert_eq!(
        reply.json(),
        json!({"code": "PT402", "message": "Payment Required", "details": "Quota exceeded", "hint": "Upgrade"})
    );
    let reply = send_body(&svc, "POST", "/rpc/teapot", &[JSON], "").await;
    assert_eq!(reply.status, 418);
    assert_eq!(reply.header("x-powered-by"), "Tea");
    assert_eq!(
        reply.json(),
        json!({"code": "T01", "message": "I am a teapot", "details": "short and stout", "hint": null})
    );
    let body = send_body(
        &svc,
        "POST",
        "/rpc/fail",
        &[JSON],
        r#"{"reason": "not today"}"#,
    )
    .await
    .error(422, "invalid_request");
    assert_eq!(body["message"], "not today");

    let reply = send_body(&svc, "POST", "/rpc/accepted", &[JSON], "").await;
    assert_eq!(reply.status, 202);
    assert_eq!(reply.json(), json!({"queued": true}));
    assert_eq!(reply.header("x-job"), "42");
    let cookies: Vec<&str> = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
}
