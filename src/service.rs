//! [`RestService`], its builder and its future: wiring. Each step of a request
//! is a call into the module that owns it (`request`, `plan`, `sql`, `db`,
//! `response`); nothing here decides what a request means.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{Request, Response};
use tower_service::Service;
use tracing::Instrument;

use crate::body::RestBody;
pub use crate::config::RestServiceBuilder;
use crate::config::{Config, Settings};
pub use crate::config::{DEFAULT_BODY_LIMIT, DEFAULT_STREAM_ABOVE};
use crate::db::{MakeTls, Pool};
use crate::error::{Error, ErrorMapper, Powabase};
use crate::exec::{Caller, Executor, Place, ReadPool, Stages};
pub use crate::future::ResponseFuture;
use crate::layer::{ClaimPath, JwtTiming, Resolver, anonymous_disabled, choose_role};
use crate::plan::{self, Admitted};
use crate::request;
use crate::response;
use crate::schema::{Schema, SchemaCache};

/// The PostgREST API over one database, as a `tower::Service`.
///
/// Cheap to clone (an `Arc` inside), always ready, and infallible: every
/// failure is a response (with the [`Error`] in its extensions). Mount it in
/// any tower-based server:
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use tower_postgrest::{ConnectionManager, RestService};
///
/// let manager = ConnectionManager::from_url("postgres://authenticator@localhost/app", tokio_postgres::NoTls)?;
/// let pool = manager.pool_builder().build(manager).await?;
/// let rest = RestService::builder(pool)
///     .schemas(["public"])
///     .anon_role("anon")
///     .max_rows(1000)
///     .build()
///     .await?;
/// let app: axum::Router = axum::Router::new().nest_service("/rest/v1", rest);
/// # Ok(()) }
/// ```
pub struct RestService<T: MakeTls = tokio_postgres::NoTls> {
    pub(crate) shared: Arc<Shared<T>>,
}

impl<T: MakeTls> Clone for RestService<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: MakeTls> fmt::Debug for RestService<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestService")
            .field("cache", &self.shared.cache)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Shared<T: MakeTls> {
    pub(crate) pool: Pool<T>,
    read_pool: Option<Arc<ReadPool<T>>>,
    /// Places for streamed reads: a share of the pool's connections.
    streams: Arc<tokio::sync::Semaphore>,
    cache: SchemaCache,
    config: Config,
    errors: Arc<dyn ErrorMapper>,
}

impl<T: MakeTls> RestService<T> {
    /// Starts building a service over `pool`.
    pub fn builder(pool: Pool<T>) -> RestServiceBuilder<T> {
        RestServiceBuilder {
            pool,
            read_pool: None,
            settings: Settings::default(),
            cache: None,
            errors: Arc::new(Powabase),
        }
    }

    /// The schema cache this service reads its snapshots from.
    pub fn schema_cache(&self) -> &SchemaCache {
        &self.shared.cache
    }
}

impl<T: MakeTls> RestServiceBuilder<T> {
    /// Checks the settings, loads the schema cache and returns the service.
    ///
    /// Fails when a setting is invalid, or when a cache given with
    /// [`schema_cache`](Self::schema_cache) does not cover every exposed schema.
    pub async fn build(self) -> Result<RestService<T>, Error> {
        let config = Config::new(self.settings)?;
        let cache = match self.cache {
            Some(cache) => cache,
            None => SchemaCache::load(self.pool.clone(), config.schemas().iter().cloned()).await?,
        };
        config.covered_by(&cache.snapshot())?;
        let share = usize::from(config.limits.stream_share);
        let places = (self.pool.config().max_size as usize * share / 100).max(1);
        Ok(RestService {
            shared: Arc::new(Shared {
                streams: Arc::new(tokio::sync::Semaphore::new(places)),
                pool: self.pool,
                read_pool: self.read_pool.map(ReadPool::new),
                cache,
                config,
                errors: self.errors,
            }),
        })
    }
}

impl<T: MakeTls, B> Service<Request<B>> for RestService<T>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<crate::error::BoxError>,
{
    type Response = Response<RestBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> ResponseFuture {
        let shared = Arc::clone(&self.shared);
        // Fields are only computed when a subscriber wants the span.
        let span = tracing::info_span!(
            "request",
            method = %req.method(),
            path = req.uri().path(),
            request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()),
            role = tracing::field::Empty,
            relation = tracing::field::Empty,
            status = tracing::field::Empty,
        );
        let measured = shared
            .config
            .metrics
            .then(|| (Instant::now(), crate::metrics::metrics_method(req.method())));
        ResponseFuture {
            inner: Box::pin(
                async move {
                    let res = match shared.handle(req).await {
                        Ok(res) => res,
                        Err(e) => {
                            let e = Arc::new(e);
                            let mut res = shared.errors.render(&e);
                            res.extensions_mut().insert(e);
                            res
                        }
                    };
                    tracing::Span::current().record("status", res.status().as_u16());
                    if let Some((started, method)) = measured {
                        crate::metrics::record_request(started, method, res.status());
                    }
                    Ok(res)
                }
                .instrument(span),
            ),
        }
    }
}

impl<T: MakeTls> Shared<T> {
    /// One request, in the order that makes a refused request cheap: the
    /// role (401), the route, the query string and headers, the relation or
    /// function and the request's shape (404, 400), and only then the body;
    /// then the plan, which the [`Executor`] runs and answers.
    async fn handle<B>(&self, req: Request<B>) -> Result<Response<RestBody>, Error>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<crate::error::BoxError>,
    {
        let started = self.config.server_timing.then(Instant::now);
        let (parts, body) = req.into_parts();
        // The API page holds no schema: it is anyone's, before any role.
        if self.config.api_page
            && crate::page::wanted(&parts.method, parts.uri.path(), &parts.headers)
        {
            return Ok(crate::page::response());
        }
        // The default claim path (`role`), built once rather than per request.
        static ROLE_CLAIM: std::sync::LazyLock<Resolver> =
            std::sync::LazyLock::new(|| Resolver::Path(ClaimPath::default()));
        let role = choose_role(
            &parts.extensions,
            &ROLE_CLAIM,
            self.config.anon_role.as_ref(),
        )?
        .ok_or_else(anonymous_disabled)?;
        let schema = self.snapshot(&parts);
        let exec = Executor {
            pool: &self.pool,
            read_pool: self.read_pool.as_ref(),
            streams: &self.streams,
            config: &self.config,
        };
        let stages = Stages::default();
        // A batch: `POST` to the root with a JSON array of operations.
        let batch = parts.method == http::Method::POST
            && matches!(parts.uri.path(), "/" | "")
            && self.config.batch_limit > 0;
        let (mut res, parsed, planned) = if batch {
            request::check_batch_media(&parts.headers)?;
            let bytes = crate::body::collect(body, self.config.body_limit).await?;
            let res = exec.batch(&parts, &bytes, &role, &schema, &stages).await?;
            (res, Duration::ZERO, Duration::ZERO)
        } else {
            let caller = Caller {
                parts: &parts,
                role: &role,
                schema: &schema,
                stages: &stages,
            };
            self.one(&exec, &caller, body, started).await?
        };
        if let Some(started) = started {
            let jwt = parts.extensions.get::<JwtTiming>().map(|t| t.0);
            let at = [parsed, planned, stages.transaction(), started.elapsed()];
            response::server_timing(&mut res, jwt, at);
        }
        Ok(res)
    }

    /// One request that is not a batch: its head, its body, its plan, run;
    /// and when it was parsed and planned, from `started`.
    async fn one<B>(
        &self,
        exec: &Executor<'_, T>,
        caller: &Caller<'_>,
        body: B,
        started: Option<Instant>,
    ) -> Result<(Response<RestBody>, Duration, Duration), Error>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<crate::error::BoxError>,
    {
        let (parts, schema) = (caller.parts, caller.schema);
        let (mut api, admitted) = tracing::debug_span!("parse").in_scope(|| {
            let (method, uri) = (&parts.method, &parts.uri);
            plan::head(
                method,
                uri.path(),
                uri.query(),
                &parts.headers,
                schema,
                &self.config,
            )
        })?;
        if api.action.has_body() {
            match crate::body::collect(body, admitted.body_limit(&self.config)).await {
                Ok(body) => api.attach_body(&parts.headers, body)?,
                Err(e) if admitted == Admitted::UnknownFunction => {
                    return Err(plan::unknown_function(&api, &self.config).unwrap_or(e));
                }
                Err(e) => return Err(e),
            }
        }
        let span = tracing::Span::current();
        span.record("role", caller.role.role());
        if let request::Target::Relation(name) | request::Target::Function(name) = &api.target {
            span.record("relation", name.as_str());
        }
        let since = || started.map_or(Duration::ZERO, |t| t.elapsed());
        let parsed = since();
        let plan =
            tracing::debug_span!("plan").in_scope(|| plan::plan(&api, schema, &self.config))?;
        let planned = since();
        let res = exec.execute(&plan, &api, caller, Place::Own).await?;
        Ok((res, parsed, planned))
    }

    /// The schema snapshot of a request: the one a layer pinned, or the cache's current one.
    fn snapshot(&self, parts: &http::request::Parts) -> Arc<Schema> {
        match parts.extensions.get::<Arc<Schema>>() {
            Some(s) => Arc::clone(s),
            None => self.cache.snapshot(),
        }
    }
}
