//! A PostgREST-compatible REST API over PostgreSQL, as a [`tower::Service`].
//!
//! [`RestService`] answers PostgREST's URL grammar
//! (`GET /books?select=id,title&author_id=eq.1&order=title.desc&limit=20`)
//! from the tables and views of the exposed schemas. PostgreSQL builds the JSON,
//! every request value is a bind parameter, and a request is one pipelined
//! transaction on one pooled connection, running as the request's database role
//! so that Row Level Security applies.
//!
//! Mount it in axum (or hyper, or warp: it is a plain `tower::Service`):
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use tower_postgrest::{ConnectionManager, RestService};
//!
//! let manager = ConnectionManager::from_url(
//!     "postgres://authenticator@localhost/app",
//!     tokio_postgres::NoTls,
//! )?;
//! let pool = manager.pool_builder().max_size(10).build(manager).await?;
//! let rest = RestService::builder(pool).anon_role("anon").build().await?;
//!
//! let app = axum::Router::new().nest_service("/rest/v1", rest);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! See `examples/server.rs` for a runnable demo with a throwaway database.
//!
//! [`tower::Service`]: tower_service::Service

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(rustdoc::broken_intra_doc_links)]

mod body;
mod config;
mod db;
mod error;
mod exec;
mod future;
mod health;
pub mod layer;
mod metrics;
mod openapi;
mod page;
mod plan;
#[cfg(all(feature = "jwt", feature = "rustls"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "jwt", feature = "rustls"))))]
pub mod projects;
mod request;
mod response;
pub mod schema;
mod scratch;
mod service;
mod sql;

pub use body::RestBody;
pub use config::{Limits, OpenApiMode};
pub use db::{Connection, ConnectionManager, MakeTls, Pool};
pub use error::{BoxError, Error, ErrorKind, ErrorMapper, PostgRest, Powabase};
pub use exec::ReadFrom;
pub use schema::SchemaCache;
pub use service::{
    DEFAULT_BODY_LIMIT, DEFAULT_STREAM_ABOVE, ResponseFuture, RestService, RestServiceBuilder,
};

/// Internals exposed for benchmarks and property tests only; not a stable API.
#[doc(hidden)]
pub mod __private {
    use http::{HeaderMap, Method};

    use crate::config::Config;
    use crate::plan::{PlanKind, plan};
    use crate::request::{parse, route};
    pub use crate::schema::Schema;
    pub use crate::sql::Statement;

    /// Parses, plans and renders a GET request: the pure part of the pipeline.
    pub fn render_get(
        schema: &Schema,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        max_rows: Option<u64>,
    ) -> Result<Statement, crate::Error> {
        render(schema, &Method::GET, path, query, headers, None, max_rows)
    }

    /// Parses, plans and renders any request, with its body.
    pub fn render(
        schema: &Schema,
        method: &Method,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        body: Option<bytes::Bytes>,
        max_rows: Option<u64>,
    ) -> Result<Statement, crate::Error> {
        let config = config(max_rows)?;
        let (mut req, _) = crate::plan::head(method, path, Some(query), headers, schema, config)?;
        if let Some(body) = body {
            req.attach_body(headers, body)?;
        }
        match plan(&req, schema, config)?.kind {
            PlanKind::Read(plan) => crate::sql::render_read(&plan).map(|s| s.main),
            PlanKind::Write(plan) => crate::sql::render_write(&plan),
            PlanKind::Call(plan) => crate::sql::render_call(&plan),
            PlanKind::Nested(_) | PlanKind::Describe { .. } | PlanKind::Options { .. } => {
                Err(crate::Error::new(
                    crate::ErrorKind::InvalidRequest,
                    "This request runs no single statement",
                ))
            }
        }
    }

    /// Parses a request (route, query string, headers and body) without
    /// planning it: what every request costs before its relation is looked
    /// up. For the parsers' ceilings and fuzz tests.
    pub fn parse_request(
        method: &Method,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        body: Option<bytes::Bytes>,
    ) -> Result<(), crate::Error> {
        parse(route(method, path)?, Some(query), headers, body).map(drop)
    }

    /// The default settings with `max_rows`, built once per value (as a
    /// service builds its own once), so that a benchmark measures requests only.
    fn config(max_rows: Option<u64>) -> Result<&'static Config, crate::Error> {
        use std::sync::{Mutex, OnceLock};
        type Configs = Mutex<Vec<(Option<u64>, &'static Config)>>;
        static CONFIGS: OnceLock<Configs> = OnceLock::new();
        let mut configs = CONFIGS
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, config)) = configs.iter().find(|(m, _)| *m == max_rows) {
            return Ok(config);
        }
        let config: &'static Config = Box::leak(Box::new(Config::new(crate::config::Settings {
            limits: crate::Limits::default().max_rows(max_rows),
            ..Default::default()
        })?));
        configs.push((max_rows, config));
        Ok(config)
    }

    /// The per-request context statement the service runs after `BEGIN`, so a
    /// baseline can run the identical transaction. Its parameters, in order:
    /// role, claims, method, path, search path, headers, cookies, statement
    /// timeout and time zone (NULL keeps the session's).
    pub const CONTEXT_SQL: &str = crate::sql::CONTEXT_SQL;

    /// The role a pooled connection's session is in between requests (what
    /// `current_user` says outside any request's transaction): the login
    /// role, unless a request left another behind.
    pub async fn session_role<T: crate::MakeTls>(
        pool: &crate::Pool<T>,
    ) -> Result<String, crate::Error> {
        let conn = pool.get().await.map_err(crate::db::pool_error)?;
        let row = conn
            .client
            .query_one("SELECT current_user::text", &[])
            .await
            .map_err(crate::Error::from_pg)?;
        Ok(row.get(0))
    }

    /// The SQL text and the parameters of a statement (the parameters
    /// copied: a statement keeps short ones inline).
    pub fn parts(stmt: &Statement) -> (&str, Vec<Option<String>>) {
        let params = stmt
            .params
            .iter()
            .map(|p| p.as_deref().map(str::to_owned))
            .collect();
        (&stmt.sql, params)
    }
}
