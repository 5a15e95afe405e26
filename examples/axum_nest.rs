//! An existing axum app — its own routes, state and tower-http layers (trace,
//! compression, timeout) — that nests the REST stack (JWT auth, role
//! switching, the service) at `/api/rest/v1`, with the API page for browsers.
//!
//! Run with: `cargo run --example axum_nest`
//!
//! Serves at `http://127.0.0.1:3004` (`PORT` picks another port), with the demo
//! data (a throwaway database when `DATABASE_URL` is unset). The API takes JWTs
//! signed with `JWT_SECRET` (required with `DATABASE_URL`; a random one with
//! the throwaway database) and serves requests without one as `anon`.

#[path = "support/allocator.rs"]
mod allocator;
#[path = "../tests/support/cluster.rs"]
mod cluster;
#[path = "support/demo_db.rs"]
mod demo_db;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tower_postgrest::layer::{JwtAuthLayer, SetRoleLayer};
use tower_postgrest::{ConnectionManager, RestService};

/// The app's own state.
#[derive(Clone, Default)]
struct AppState {
    visits: Arc<AtomicU64>,
}

/// 128 random bits from the operating system.
fn rand_seed() -> std::io::Result<u128> {
    use std::io::Read as _;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(u128::from_le_bytes(bytes))
}

async fn health() -> &'static str {
    "ok\n"
}

async fn visits(State(state): State<AppState>) -> String {
    format!("{}\n", state.visits.fetch_add(1, Ordering::Relaxed) + 1)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3004);
    let db = demo_db::start(&[]).await?;
    let secret = match std::env::var("JWT_SECRET") {
        Ok(secret) => secret,
        // Nobody else knows it: only anonymous requests get in.
        Err(_) if db.cluster.is_some() => format!("{:032x}", rand_seed()?),
        Err(_) => return Err(
            "JWT_SECRET is not set: with DATABASE_URL, give the secret your tokens are signed with"
                .into(),
        ),
    };
    let manager = ConnectionManager::from_url(&db.api_url, tokio_postgres::NoTls)?;
    let pool = manager.pool_builder().build(manager).await?;
    // A browser opening /api/rest/v1/ gets the API page.
    let rest = RestService::builder(pool)
        .anon_role("anon")
        .api_page(true)
        .build()
        .await?;
    let api = ServiceBuilder::new()
        .layer(JwtAuthLayer::secret(&secret)?)
        .layer(SetRoleLayer::new())
        .service(rest);

    let app = axum::Router::new()
        .route("/health", get(health))
        .route("/visits", get(visits))
        .with_state(AppState::default())
        .nest_service("/api/rest/v1", api)
        .layer(
            ServiceBuilder::new()
                // `x-request-id`: the client's or a new UUID, on the response and in the trace span.
                .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
                    tower_http::request_id::MakeRequestUuid,
                ))
                .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
                .layer(TraceLayer::new_for_http().make_span_with(
                    |req: &http::Request<axum::body::Body>| {
                        let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok());
                        tracing::info_span!("http", method = %req.method(), uri = %req.uri(), request_id = id)
                    },
                ))
                .layer(CompressionLayer::new())
                .layer(TimeoutLayer::with_status_code(
                    http::StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(30),
                )),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "Serving the REST API at http://{}/api/rest/v1",
        listener.local_addr()?
    );
    demo_db::raise_open_files();
    demo_db::serve(listener, app, demo_db::shutdown_signal()).await?;
    drop(db);
    Ok(())
}
