//! An axum app with its own auth in front of the REST API: an API key
//! (`x-api-key` header) or a session cookie (`session=…`) is looked up in the
//! app's own table, and the app's middleware hands the database role to
//! `RestService` as a `DbRole` request extension. No JWT involved.
//!
//! Run with: `cargo run --example custom_auth`
//!
//! Without `DATABASE_URL` it starts a throwaway PostgreSQL with the demo data
//! (`examples/demo.sql`), plus the table of credentials in a schema the API
//! does not expose. `PORT` picks the port (default 3001).

#[path = "support/allocator.rs"]
mod allocator;
#[path = "../tests/support/cluster.rs"]
mod cluster;
#[path = "support/demo_db.rs"]
mod demo_db;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_postgrest::layer::DbRole;
use tower_postgrest::{ConnectionManager, RestService};

/// The app's own credentials: not exposed through the API.
const CREDENTIALS: &str = "
CREATE SCHEMA app;
CREATE TABLE app.credentials (
  secret  text PRIMARY KEY,
  kind    text NOT NULL CHECK (kind IN ('api_key', 'session')),
  role    text NOT NULL,
  user_id uuid
);
INSERT INTO app.credentials VALUES
  ('demo-api-key', 'api_key', 'service_role', NULL),
  ('demo-session', 'session', 'authenticated', '00000000-0000-0000-0000-000000000002');
";

/// The app's state: a connection for looking up credentials.
#[derive(Clone)]
struct App {
    db: Arc<tokio_postgres::Client>,
}

/// The secret of a request: its API key, else its session cookie.
fn credential(req: &Request) -> Option<(&'static str, String)> {
    if let Some(key) = req.headers().get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(("api_key", key.to_owned()));
    }
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix("session=").map(str::to_owned))
        .map(|s| ("session", s))
}

/// The app's auth middleware: credentials → `DbRole`, or 401.
async fn authenticate(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let Some((kind, secret)) = credential(&req) else {
        return (
            StatusCode::UNAUTHORIZED,
            "an API key or a session is required\n",
        )
            .into_response();
    };
    let found = app
        .db
        .query_opt(
            "SELECT role, user_id::text FROM app.credentials WHERE kind = $1 AND secret = $2",
            &[&kind, &secret],
        )
        .await;
    match found {
        Ok(Some(row)) => {
            let role: String = row.get(0);
            let user: Option<String> = row.get(1);
            req.extensions_mut()
                .insert(DbRole::new(role).with_claims(serde_json::json!({ "sub": user })));
            next.run(req).await
        }
        Ok(None) => (StatusCode::UNAUTHORIZED, "unknown credentials\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "credential lookup failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3001);

    let demo = demo_db::start(&[CREDENTIALS]).await?;
    let (api_url, admin_url) = (demo.api_url.clone(), demo.admin_url.clone());

    let (db, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let app = App { db: Arc::new(db) };

    let manager = ConnectionManager::from_url(&api_url, tokio_postgres::NoTls)?;
    let pool = manager.pool_builder().build(manager).await?;
    // No anonymous role: every request goes through the app's own auth.
    let rest = RestService::builder(pool).build().await?;

    let router = axum::Router::new()
        .nest_service("/rest/v1", rest)
        .layer(middleware::from_fn_with_state(app.clone(), authenticate));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let base = format!("http://{}/rest/v1", listener.local_addr()?);
    println!("Serving the REST API at {base}");
    println!("  curl -H 'x-api-key: demo-api-key' '{base}/reviews'");
    println!("  curl -H 'Cookie: session=demo-session' '{base}/reviews'");
    demo_db::raise_open_files();
    demo_db::serve(listener, router, demo_db::shutdown_signal()).await?;
    drop(demo);
    Ok(())
}
