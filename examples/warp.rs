//! The REST API routed by warp 0.4: a filter gathers the method, path, query,
//! headers and body into an `http::Request` and hands it to the service.
//!
//! Run with: `cargo run --example warp`
//!
//! Serves the demo data (a throwaway database when `DATABASE_URL` is unset) at
//! `http://127.0.0.1:3003/rest/v1` (`PORT` picks another port), as the
//! anonymous role, next to warp's own `GET /hello`.

#[path = "support/allocator.rs"]
mod allocator;
#[path = "../tests/support/cluster.rs"]
mod cluster;
#[path = "support/demo_db.rs"]
mod demo_db;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tower::ServiceExt;
use tower_postgrest::{ConnectionManager, RestService};
use warp::Filter;
use warp::filters::path::Tail;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3003);
    let db = demo_db::start(&[]).await?;
    let manager = ConnectionManager::from_url(&db.api_url, tokio_postgres::NoTls)?;
    let pool = manager.pool_builder().build(manager).await?;
    let rest = RestService::builder(pool).anon_role("anon").build().await?;

    // `/rest/v1/<tail>` → the service, with the prefix stripped.
    let api = warp::path("rest")
        .and(warp::path("v1"))
        .and(warp::path::tail())
        .and(warp::method())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes())
        .then(
            move |tail: Tail, method, query: String, headers, body: Bytes| {
                let rest = rest.clone();
                async move {
                    let mut uri = format!("/{}", tail.as_str());
                    if !query.is_empty() {
                        uri.push('?');
                        uri.push_str(&query);
                    }
                    let mut req = match http::Request::builder()
                        .method(method)
                        .uri(uri)
                        .body(Full::new(body))
                    {
                        Ok(req) => req,
                        Err(_) => {
                            return warp::reply::with_status(
                                "bad request",
                                http::StatusCode::BAD_REQUEST,
                            )
                            .into_response();
                        }
                    };
                    *req.headers_mut() = headers;
                    let res = match rest.oneshot(req).await {
                        Ok(res) => res,
                        Err(never) => match never {},
                    };
                    let (parts, body) = res.into_parts();
                    // Collected whole here; a read that streams and then
                    // fails ends as a 500 instead of a truncated document.
                    let bytes = match body.collect().await {
                        Ok(collected) => collected.to_bytes(),
                        Err(_) => {
                            return warp::reply::with_status(
                                "the database failed mid-response",
                                http::StatusCode::INTERNAL_SERVER_ERROR,
                            )
                            .into_response();
                        }
                    };
                    warp::reply::Response::from_parts(parts, bytes.into())
                }
            },
        );
    let hello = warp::path("hello").map(|| "hello from warp\n");

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "Serving the REST API at http://{}/rest/v1",
        listener.local_addr()?
    );
    warp::serve(hello.or(api))
        .incoming(listener)
        .graceful(demo_db::shutdown_signal())
        .run()
        .await;
    drop(db);
    Ok(())
}

use warp::Reply as _;
