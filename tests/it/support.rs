//! The harness: one database per test run, loaded with `tests/fixtures/schema.sql`,
//! and helpers to drive the full stack with `oneshot`.

#[path = "../support/cluster.rs"]
pub mod cluster;

use std::path::Path;
use std::sync::OnceLock;

use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use tower_postgrest::{ConnectionManager, RestService};

/// The test database: its URL and, when the harness started it, the cluster.
pub struct Database {
    /// What the service connects as (the `authenticator` role, or DATABASE_URL's user).
    pub url: String,
    /// A superuser (or DATABASE_URL's user), for setting up test cases.
    pub admin_url: String,
    /// Kept so the cluster lives as long as the test binary.
    #[allow(dead_code)]
    pub cluster: Option<cluster::Cluster>,
}

/// The database shared by all tests of this binary, started and loaded on first use.
pub fn database() -> &'static Database {
    static DB: OnceLock<Database> = OnceLock::new();
    DB.get_or_init(|| {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema.sql");
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => {
                cluster::psql(&url, &fixture).expect("loading the fixture into DATABASE_URL");
                Database {
                    admin_url: url.clone(),
                    url,
                    cluster: None,
                }
            }
            _ => {
                let c = cluster::Cluster::start().expect("starting a throwaway PostgreSQL");
                c.psql("postgres", "CREATE DATABASE fixture")
                    .expect("creating the fixture database");
                c.psql_file("fixture", &fixture)
                    .expect("loading the fixture");
                Database {
                    url: c.url("authenticator", "fixture"),
                    admin_url: c.url("postgres", "fixture"),
                    cluster: Some(c),
                }
            }
        }
    })
}

/// A pool for the test database (built in the calling test's runtime).
pub async fn pool() -> tower_postgrest::Pool {
    let manager =
        ConnectionManager::from_url(&database().url, tokio_postgres::NoTls).expect("database URL");
    manager
        .pool_builder()
        .max_size(4)
        .build(manager)
        .await
        .expect("pool")
}

/// A pool of exactly one connection from `manager`: every request shares it.
pub async fn one_connection(manager: ConnectionManager) -> tower_postgrest::Pool {
    manager
        .pool_builder()
        .max_size(1)
        .build(manager)
        .await
        .expect("pool")
}

/// The service as the demo server builds it: schema `public`, anon role `anon`.
pub async fn service() -> RestService {
    RestService::builder(pool().await)
        .schemas(["public"])
        .anon_role("anon")
        .build()
        .await
        .expect("building the service")
}

/// A key from `tests/fixtures/keys`.
pub fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/keys")
            .join(name),
    )
    .expect("key file")
}

/// A cluster of the calling test's own (to stop, start or break), with `setup` run in it.
pub async fn own_cluster(setup: &str) -> cluster::Cluster {
    let c = tokio::task::spawn_blocking(cluster::Cluster::start)
        .await
        .expect("cluster task")
        .expect("starting a cluster");
    c.psql("postgres", setup).expect("cluster setup");
    c
}

/// A service over `url` with anon role `web` and a pool of `size` connections
/// that gives up waiting for one after 500 ms.
pub async fn service_at(url: &str, size: u32) -> RestService {
    let manager = ConnectionManager::from_url(url, tokio_postgres::NoTls).expect("database URL");
    let pool = manager
        .pool_builder()
        .max_size(size)
        .connection_timeout(std::time::Duration::from_millis(500))
        .build(manager)
        .await
        .expect("pool");
    RestService::builder(pool)
        .anon_role("web")
        .build()
        .await
        .expect("building the service")
}

/// A response, with its body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .unwrap()
    }

    /// The `id`s of a JSON array body, in order.
    pub fn ids(&self) -> Vec<i64> {
        self.json()
            .as_array()
            .unwrap_or_else(|| panic!("not an array: {}", self.text))
            .iter()
            .map(|row| row["id"].as_i64().expect("an integer id"))
            .collect()
    }

    /// Asserts an error body with this status and code, and returns it.
    pub fn error(&self, status: u16, code: &str) -> serde_json::Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        let body = self.json();
        assert_eq!(body["code"], code, "body: {}", self.text);
        for key in ["message", "details", "hint"] {
            assert!(body.get(key).is_some(), "{key} missing from {}", self.text);
        }
        body
    }
}

/// Any service stack the tests drive: RestService, alone or behind layers.
pub trait Stack:
    tower::Service<
        Request<http_body_util::Full<bytes::Bytes>>,
        Response = http::Response<tower_postgrest::RestBody>,
        Error = std::convert::Infallible,
        Future: Send,
    > + Clone
    + Send
{
}

impl<S> Stack for S where
    S: tower::Service<
            Request<http_body_util::Full<bytes::Bytes>>,
            Response = http::Response<tower_postgrest::RestBody>,
            Error = std::convert::Infallible,
            Future: Send,
        > + Clone
        + Send
{
}

/// Sends `method uri` with `headers` through `svc`.
pub async fn send<S: Stack>(svc: &S, method: &str, uri: &str, headers: &[(&str, &str)]) -> Reply {
    send_body(svc, method, uri, headers, bytes::Bytes::new()).await
}

/// `GET uri`.
pub async fn get<S: Stack>(svc: &S, uri: &str) -> Reply {
    send(svc, "GET", uri, &[]).await
}

/// Percent-encodes the characters a URI may not hold literally (space, quotes,
/// braces, `#`, non-ASCII…), leaving `&`, `=`, `+` and `%` to mean what they mean.
pub fn encode_uri(uri: &str) -> String {
    let mut out = String::with_capacity(uri.len());
    for b in uri.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A client connected as the superuser (or DATABASE_URL's user), for setting
/// up cases and reading tables back with SQL.
pub async fn admin() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&database().admin_url, tokio_postgres::NoTls)
        .await
        .expect("admin connection");
    tokio::spawn(conn);
    client
}

/// A schema of the test's own: `ddl` runs in it (unqualified names land there),
/// anon may use everything in it, and the returned service exposes only it.
pub async fn scratch(ddl: &str) -> (RestService, tokio_postgres::Client) {
    scratch_with(ddl, |b| b.anon_role("anon")).await
}

/// [`scratch`], with the builder adjusted by `f` (which sets the anon role, if any).
pub async fn scratch_with(
    ddl: &str,
    f: impl FnOnce(tower_postgrest::RestServiceBuilder) -> tower_postgrest::RestServiceBuilder,
) -> (RestService, tokio_postgres::Client) {
    scratch_on(pool().await, ddl, f).await
}

/// [`scratch_with`], on `pool`.
pub async fn scratch_on(
    pool: tower_postgrest::Pool,
    ddl: &str,
    f: impl FnOnce(tower_postgrest::RestServiceBuilder) -> tower_postgrest::RestServiceBuilder,
) -> (RestService, tokio_postgres::Client) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let schema = format!(
        "t{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let client = admin().await;
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path TO {schema};\n\
             {ddl}\n\
             GRANT USAGE ON SCHEMA {schema} TO anon, authenticated, service_role;\n\
             GRANT ALL ON ALL TABLES IN SCHEMA {schema} TO anon, authenticated, service_role;\n\
             GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO anon, authenticated, service_role;\n\
             SET search_path TO {schema}, public;"
        ))
        .await
        .unwrap_or_else(|e| panic!("scratch schema: {e:?}"));
    let svc = f(RestService::builder(pool).schemas([schema.as_str()]))
        .build()
        .await
        .expect("building the service");
    (svc, client)
}

/// The rows of `query` (run by `client`) as a JSON array, in the query's order.
pub async fn rows(client: &tokio_postgres::Client, query: &str) -> serde_json::Value {
    let row = client
        .query_one(
            &format!("SELECT coalesce(json_agg(q), '[]')::text FROM ({query}) AS q"),
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{query}: {e:?}"));
    serde_json::from_str(row.get::<_, &str>(0)).unwrap()
}

/// Sends `method uri` with a body.
pub async fn send_body<S: Stack>(
    svc: &S,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl Into<bytes::Bytes>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(encode_uri(uri));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(http_body_util::Full::new(body.into())).unwrap();
    let res = svc.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        text: String::from_utf8(bytes.to_vec()).expect("UTF-8 body"),
    }
}
