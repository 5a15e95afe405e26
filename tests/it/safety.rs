//! Safe on the open internet: credentials, route and relation before the
//! body; OPTIONS and OpenAPI behind credentials and privileges; a shared
//! schema cache reaches only the exposed schemas; limits on a request's shape;
//! saturating ranges; `Vary: Origin`. (The stricter statement timeout is in
//! `faults.rs`.)

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt;
use tower::{ServiceBuilder, ServiceExt};
use tower_postgrest::layer::{CorsLayer, DbRole};
use tower_postgrest::{Limits, OpenApiMode, RestService, SchemaCache};

use crate::support::{admin, pool, scratch, scratch_with, send, send_body};

/// A request body that counts the bytes the service pulled from it.
struct CountingBody {
    left: usize,
    read: Arc<AtomicUsize>,
}

impl http_body::Body for CountingBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(8192);
        self.left -= n;
        self.read.fetch_add(n, Ordering::SeqCst);
        // A JSON object padded with spaces: valid whatever its length.
        let mut chunk = vec![b' '; n];
        if self.read.load(Ordering::SeqCst) == n {
            chunk[0] = b'{';
        }
        if self.left == 0 {
            chunk[n - 1] = b'}';
        }
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
    }
}

/// Sends `method uri` with a counting body of `len` bytes (as `role`, when
/// given); the status, and how many body bytes the service read.
async fn counted(
    svc: &RestService,
    method: &str,
    uri: &str,
    role: Option<&str>,
    len: usize,
) -> (u16, usize, String) {
    let read = Arc::new(AtomicUsize::new(0));
    let mut req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(CountingBody {
            left: len,
            read: Arc::clone(&read),
        })
        .unwrap();
    if let Some(role) = role {
        req.extensions_mut().insert(DbRole::new(role));
    }
    let res = svc.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        read.load(Ordering::SeqCst),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[tokio::test]
async fn refused_requests_read_no_body() {
    // No anonymous role: a request without a role is 401.
    let (svc, _db) = scratch_with(
        "CREATE TABLE notes (id serial PRIMARY KEY, body text);
         CREATE FUNCTION echo(x int) RETURNS int LANGUAGE sql AS $$ SELECT x $$;",
        |b| b,
    )
    .await;
    const MB: usize = 1 << 20;
    let (status, read, text) = counted(&svc, "POST", "/notes", None, MB).await;
    assert_eq!((status, read), (401, 0), "{text}");
    // With a role: a relation that does not exist is 404, still unread.
    let (status, read, text) = counted(&svc, "POST", "/nope", Some("anon"), MB).await;
    assert_eq!((status, read), (404, 0), "{text}");
    // A bad query string or a shape over the limits: refused unread.
    let (status, read, text) = counted(&svc, "POST", "/notes?id=zz.1", Some("anon"), MB).await;
    assert_eq!((status, read), (422, 0), "{text}");
    let wide = (0..50)
        .map(|i| format!("n{i}:notes(id)"))
        .collect::<Vec<_>>()
        .join(",");
    let uri = format!("/notes?select=id,{wide}");
    let (status, read, text) = counted(&svc, "POST", &uri, Some("anon"), MB).await;
    assert_eq!((status, read), (422, 0), "{text}");
    // A schema that is not exposed: 406, unread.
    let read_count = Arc::new(AtomicUsize::new(0));
    let mut req = http::Request::post("/notes")
        .header("content-profile", "private")
        .body(CountingBody {
            left: MB,
            read: Arc::clone(&read_count),
        })
        .unwrap();
    req.extensions_mut().insert(DbRole::new("anon"));
    let res = svc.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), 406);
    assert_eq!(read_count.load(Ordering::SeqCst), 0);
    // An unknown function: at most 64 KiB, enough to name its arguments.
    let (status, read, text) = counted(&svc, "POST", "/rpc/nope", Some("anon"), MB).await;
    assert_eq!(status, 404, "{text}");
    assert!(read <= 64 * 1024 + 8192, "read {read} bytes");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["code"], "not_found");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .ends_with(".nope in the schema cache"),
        "{body}"
    );
    // A small one is read, and the 404 names its arguments as PostgREST's does.
    let (svc, _db) = scratch("CREATE TABLE notes (id serial PRIMARY KEY);").await;
    let reply = send_body(
        &svc,
        "POST",
        "/rpc/nope",
        &[("content-type", "application/json")],
        r#"{"a": 1}"#,
    )
    .await;
    let ns = svc.schema_cache().snapshot().schemas[0].clone();
    let body = reply.error(404, "not_found");
    assert_eq!(
        body["message"],
        format!("Could not find the function {ns}.nope(a) in the schema cache")
    );
    // An accepted request reads its whole body.
    let (status, read, text) = counted(&svc, "POST", "/notes", Some("service_role"), 4096).await;
    assert_eq!((status, read), (201, 4096), "{text}");
}

#[tokio::test]
async fn options_and_the_root_need_credentials_but_preflights_do_not() {
    let (svc, _db) = scratch_with("CREATE TABLE notes (id int PRIMARY KEY);", |b| b).await;
    for (method, uri) in [("OPTIONS", "/notes"), ("OPTIONS", "/"), ("GET", "/")] {
        let reply = send(&svc, method, uri, &[]).await;
        assert_eq!(reply.status, 401, "{method} {uri}: {}", reply.text);
        assert!(!reply.headers.contains_key("allow"));
        assert!(!reply.text.contains("notes"), "{}", reply.text);
    }
    // A browser's preflight carries no credentials: the CORS layer answers it,
    // and the answer names nothing of the schema.
    let cors = ServiceBuilder::new()
        .layer(CorsLayer::new())
        .service(svc.clone());
    let reply = send(
        &cors,
        "OPTIONS",
        "/notes",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "POST"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(!reply.headers.contains_key("allow"));
    assert_eq!(reply.text, "");
    // An OPTIONS without Access-Control-Request-Method is no preflight.
    let reply = send(
        &cors,
        "OPTIONS",
        "/notes",
        &[("origin", "https://app.example")],
    )
    .await;
    assert_eq!(reply.status, 401);
}

/// A scratch schema where `anon` may read `open`, insert into and update
/// `inbox`, nothing on `hidden`, and execute `visible()` but not `secret()`.
const GRANTS: &str = "
    CREATE TABLE open (id int PRIMARY KEY, v text);
    CREATE TABLE inbox (id int PRIMARY KEY, v text);
    CREATE TABLE hidden (id int PRIMARY KEY, v text);
    CREATE FUNCTION visible() RETURNS int LANGUAGE sql STABLE AS $$ SELECT 1 $$;
    CREATE FUNCTION secret() RETURNS int LANGUAGE sql STABLE AS $$ SELECT 2 $$;";

async fn granted(mode: OpenApiMode) -> (RestService, tokio_postgres::Client) {
    let (svc, db) = scratch_with(GRANTS, |b| b.anon_role("anon").openapi_mode(mode)).await;
    let ns = svc.schema_cache().snapshot().schemas[0].clone();
    db.batch_execute(&format!(
        "REVOKE ALL ON ALL TABLES IN SCHEMA {ns} FROM anon;
         GRANT SELECT ON {ns}.open TO anon;
         GRANT INSERT, UPDATE (v) ON {ns}.inbox TO anon;
         REVOKE EXECUTE ON FUNCTION {ns}.secret() FROM PUBLIC;
         GRANT EXECUTE ON FUNCTION {ns}.secret() TO service_role;"
    ))
    .await
    .unwrap();
    (svc, db)
}

#[tokio::test]
async fn options_follow_the_role_s_privileges() {
    let (svc, _db) = granted(OpenApiMode::FollowPrivileges).await;
    let allow = |uri: &'static str| {
        let svc = svc.clone();
        async move {
            let reply = send(&svc, "OPTIONS", uri, &[]).await;
            assert_eq!(reply.status, 200, "{uri}: {}", reply.text);
            reply.header("allow").to_owned()
        }
    };
    assert_eq!(allow("/open").await, "OPTIONS,GET,HEAD");
    assert_eq!(allow("/inbox").await, "OPTIONS,POST,PUT,PATCH");
    assert_eq!(allow("/rpc/visible").await, "OPTIONS,GET,HEAD,POST");
    assert_eq!(allow("/").await, "OPTIONS,GET,HEAD");
    // What the role may not use at all does not exist for it.
    let body = send(&svc, "OPTIONS", "/hidden", &[])
        .await
        .error(404, "not_found");
    assert_eq!(body["hint"], serde_json::Value::Null);
    send(&svc, "OPTIONS", "/rpc/secret", &[])
        .await
        .error(404, "not_found");

    // Ignoring privileges, the schema cache alone answers.
    let (svc, _db) = granted(OpenApiMode::IgnorePrivileges).await;
    let reply = send(&svc, "OPTIONS", "/hidden", &[]).await;
    assert_eq!(
        reply.header("allow"),
        "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE"
    );
    let reply = send(&svc, "OPTIONS", "/rpc/secret", &[]).await;
    assert_eq!(reply.header("allow"), "OPTIONS,GET,HEAD,POST");
}

#[tokio::test]
async fn the_openapi_description_follows_the_role_s_privileges() {
    let (svc, _db) = granted(OpenApiMode::FollowPrivileges).await;
    let doc = send(&svc, "GET", "/", &[]).await.json();
    let paths = doc["paths"].as_object().unwrap();
    let mut names: Vec<&str> = paths.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["/", "/inbox", "/open", "/rpc/visible"]);
    let methods = |path: &str| {
        let mut m: Vec<String> = doc["paths"][path]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        m.sort();
        m
    };
    assert_eq!(methods("/open"), ["get"]);
    assert_eq!(methods("/inbox"), ["patch", "post"]);
    assert!(doc["components"]["schemas"].get("hidden").is_none());
    // HEAD asks nothing of the database, and sends nothing.
    let reply = send(&svc, "HEAD", "/", &[]).await;
    assert_eq!((reply.status.as_u16(), reply.text.as_str()), (200, ""));
    // The service role sees what it may use: everything here.
    let mut req = http::Request::get("/")
        .body(http_body_util::Full::new(Bytes::new()))
        .unwrap();
    req.extensions_mut().insert(DbRole::new("service_role"));
    let res = svc.clone().oneshot(req).await.unwrap();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    for path in ["/hidden", "/rpc/secret"] {
        assert!(doc["paths"].get(path).is_some(), "{path}");
    }

    let (svc, _db) = granted(OpenApiMode::IgnorePrivileges).await;
    let doc = send(&svc, "GET", "/", &[]).await.json();
    assert!(doc["paths"]["/hidden"]["delete"].is_object());
    assert!(doc["paths"].get("/rpc/secret").is_some());

    let (svc, _db) = granted(OpenApiMode::Disabled).await;
    let body = send(&svc, "GET", "/", &[]).await.error(404, "not_found");
    assert_eq!(body["message"], "Root endpoint metadata is disabled");
    let reply = send(&svc, "OPTIONS", "/open", &[]).await;
    assert_eq!(reply.header("allow"), "OPTIONS,GET,HEAD");
}

#[tokio::test]
async fn a_shared_schema_cache_reaches_only_the_exposed_schemas() {
    let db = admin().await;
    let tag = format!("{}_{}", std::process::id(), line!());
    let (open, closed) = (format!("open_{tag}"), format!("closed_{tag}"));
    db.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {open} CASCADE; DROP SCHEMA IF EXISTS {closed} CASCADE;
         CREATE SCHEMA {open}; CREATE SCHEMA {closed};
         CREATE TABLE {closed}.vault (id int PRIMARY KEY, secret text);
         INSERT INTO {closed}.vault VALUES (1, 'the combination');
         CREATE TABLE {open}.things (id int PRIMARY KEY, vault_id int REFERENCES {closed}.vault);
         INSERT INTO {open}.things VALUES (1, 1);
         CREATE FUNCTION {closed}.peek() RETURNS text LANGUAGE sql AS $$ SELECT 'peeked' $$;
         GRANT USAGE ON SCHEMA {open}, {closed} TO anon;
         GRANT SELECT ON ALL TABLES IN SCHEMA {open}, {closed} TO anon;"
    ))
    .await
    .unwrap();
    let pool = pool().await;
    let cache = SchemaCache::load(pool.clone(), [open.clone(), closed.clone()])
        .await
        .unwrap();
    let svc = RestService::builder(pool)
        .schemas([open.as_str()])
        .anon_role("anon")
        .schema_cache(cache)
        .build()
        .await
        .unwrap();
    let reply = send(&svc, "GET", "/things?select=id,vault(secret)", &[]).await;
    let body = reply.error(422, "invalid_request");
    assert!(!reply.text.contains("combination"), "{body}");
    send(&svc, "GET", "/vault", &[])
        .await
        .error(404, "not_found");
    send(
        &svc,
        "GET",
        "/vault",
        &[("accept-profile", closed.as_str())],
    )
    .await
    .error(406, "not_acceptable");
    send(
        &svc,
        "POST",
        "/rpc/peek",
        &[("content-profile", closed.as_str())],
    )
    .await
    .error(406, "not_acceptable");
    send(&svc, "POST", "/rpc/peek", &[])
        .await
        .error(404, "not_found");
    let doc = send(&svc, "GET", "/", &[]).await.json();
    assert!(doc["paths"].get("/vault").is_none(), "{doc}");
    assert!(doc["paths"].get("/things").is_some(), "{doc}");
}

#[tokio::test]
async fn the_shape_of_a_request_is_limited() {
    let (svc, _db) = scratch_with(
        "CREATE TABLE a (id int PRIMARY KEY, a_id int REFERENCES a);
         INSERT INTO a VALUES (1, NULL), (2, 1);",
        |b| {
            b.anon_role("anon").limits(
                Limits::default()
                    .max_embeds(6)
                    .max_embeds_per_level(3)
                    .max_depth(2)
                    .max_select_items(5)
                    .max_filters(4),
            )
        },
    )
    .await;
    let siblings = |n: usize| {
        (0..n)
            .map(|i| format!("e{i}:a!a_id(id)"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let ok = send(&svc, "GET", &format!("/a?select=id,{}", siblings(3)), &[]).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    for (query, limit, max) in [
        (format!("select=id,{}", siblings(4)), "max_embeds_per_level", 3),
        (
            "select=id,x:a!a_id(id,y:a!a_id(id,z:a!a_id(id)))".to_owned(),
            "max_depth",
            2,
        ),
        (
            "select=id,x:a!a_id(id,p:a!a_id(id),q:a!a_id(id)),y:a!a_id(id,p:a!a_id(id),q:a!a_id(id)),z:a!a_id(id)".to_owned(),
            "max_embeds",
            6,
        ),
        ("select=id,id,id,id,id,id".to_owned(), "max_select_items", 5),
        (
            "or=(id.eq.1,id.eq.2,and(id.eq.3,id.eq.4))&id=gt.0".to_owned(),
            "max_filters",
            4,
        ),
    ] {
        let reply = send(&svc, "GET", &format!("/a?{query}"), &[]).await;
        let body = reply.error(422, "invalid_request");
        assert_eq!(
            body["details"],
            format!("The server's {limit} limit is {max}"),
            "{query}"
        );
    }
}

#[tokio::test]
async fn the_default_limits_refuse_the_wide_embed_attack() {
    let svc = crate::support::service().await;
    // The attack: 400 sibling embeds, 12 KB of query string.
    let wide = (0..400)
        .map(|i| format!("a{i}:authors(name)"))
        .collect::<Vec<_>>()
        .join(",");
    let started = Instant::now();
    let reply = send(&svc, "GET", &format!("/items?select=id,{wide}"), &[]).await;
    let body = reply.error(422, "invalid_request");
    let limits = Limits::default();
    assert_eq!(
        body["details"],
        format!(
            "The server's max_select_items limit is {}",
            limits.max_select_items
        )
    );
    println!("400 sibling embeds refused in {:?}", started.elapsed());
    // As many as one select list may hold, still too many embeds.
    let wide = (0..limits.max_select_items - 1)
        .map(|i| format!("a{i}:authors(name)"))
        .collect::<Vec<_>>()
        .join(",");
    let reply = send(&svc, "GET", &format!("/items?select=id,{wide}"), &[]).await;
    let body = reply.error(422, "invalid_request");
    assert_eq!(
        body["details"],
        format!(
            "The server's max_embeds_per_level limit is {}",
            limits.max_embeds_per_level
        )
    );
}

#[tokio::test]
async fn any_range_is_a_page_or_416() {
    let (svc, _db) =
        scratch("CREATE TABLE n (id int PRIMARY KEY); INSERT INTO n SELECT generate_series(1, 5);")
            .await;
    let max = i64::MAX;
    for (range, status, ids) in [
        (format!("0-{max}"), 200, vec![1, 2, 3, 4, 5]),
        (format!("2-{max}"), 200, vec![3, 4, 5]),
        (format!("{max}-{max}"), 200, vec![]),
        (
            "0-99999999999999999999999".to_owned(),
            200,
            vec![1, 2, 3, 4, 5],
        ),
    ] {
        let reply = send(
            &svc,
            "GET",
            "/n?select=id&order=id",
            &[("range", range.as_str())],
        )
        .await;
        assert_eq!(reply.status.as_u16(), status, "{range}: {}", reply.text);
        assert_eq!(reply.ids(), ids, "{range}");
    }
    let reply = send(
        &svc,
        "GET",
        &format!("/n?select=id&order=id&offset={max}&limit={max}"),
        &[("range", "1-3"), ("prefer", "count=exact")],
    )
    .await;
    reply.error(416, "range_not_satisfiable");
    let reply = send(&svc, "GET", "/n?select=id", &[("range", "3-1")]).await;
    reply.error(416, "range_not_satisfiable");
}

#[tokio::test]
async fn cors_with_listed_origins_varies_on_origin() {
    let (svc, _db) = scratch("CREATE TABLE n (id int PRIMARY KEY);").await;
    let listed = ServiceBuilder::new()
        .layer(CorsLayer::new().allowed_origins(["https://app.example"]))
        .service(svc.clone());
    for origin in ["https://app.example", "https://evil.example"] {
        let reply = send(&listed, "GET", "/n", &[("origin", origin)]).await;
        let vary: Vec<&str> = reply
            .headers
            .get_all("vary")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert!(vary.contains(&"Origin"), "{origin}: {vary:?}");
        assert!(vary.iter().any(|v| v.contains("Accept")), "{vary:?}");
    }
    let reply = send(
        &listed,
        "OPTIONS",
        "/n",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "GET"),
        ],
    )
    .await;
    assert_eq!(reply.header("vary"), "Origin");
    assert_eq!(
        reply.header("access-control-allow-origin"),
        "https://app.example"
    );
    // Any origin: `*` does not vary.
    let any = ServiceBuilder::new().layer(CorsLayer::new()).service(svc);
    let reply = send(&any, "GET", "/n", &[("origin", "https://app.example")]).await;
    assert!(reply.headers.get_all("vary").iter().all(|v| v != "Origin"));
}
