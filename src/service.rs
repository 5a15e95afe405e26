//! [`RestService`], its builder and its future: wiring. Each step of a request
//! is a call into the module that owns it (`request`, `plan`, `sql`, `db`,
//! `response`); nothing here decides what a request means.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{HeaderValue, Request, Response};
use tower_service::Service;
use tracing::Instrument;

use crate::body::RestBody;
pub use crate::config::RestServiceBuilder;
use crate::config::{Config, Settings};
pub use crate::config::{DEFAULT_BODY_LIMIT, DEFAULT_STREAM_ABOVE};
use crate::db::{self, MakeTls, Outcome, Pool, RequestContext};
use crate::error::{Error, ErrorKind, ErrorMapper, Powabase};
use crate::layer::{ClaimPath, DbRole, JwtTiming, anonymous_disabled, choose_role};
use crate::plan::{self, Admitted, Plan, PlanKind, Resource};
use crate::request;
use crate::response;
use crate::schema::{Schema, SchemaCache};
use crate::sql;

/// How much of the body of a call to a function of no known name is read,
/// to name its arguments in the 404 as PostgREST does.
const UNKNOWN_FUNCTION_BODY: usize = 64 * 1024;

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
    shared: Arc<Shared<T>>,
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

/// Where a read-only request reads, when the service has a
/// [`read_pool`](RestServiceBuilder::read_pool).
///
/// A request reads from a replica unless it says otherwise: with the header
/// `X-Read-From: primary`, or with this type as a request extension (which
/// takes precedence over the header), for example inserted by a host's layer
/// for a session that has just written and must read what it wrote.
///
/// ```
/// use tower_postgrest::ReadFrom;
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(ReadFrom::Primary);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReadFrom {
    /// The read pool, when there is one (the default).
    #[default]
    Replica,
    /// The primary pool, whatever the request does.
    Primary,
}

impl ReadFrom {
    /// The request header that pins a read to the primary (`X-Read-From: primary`).
    pub const HEADER: &'static str = "x-read-from";

    fn of(parts: &http::request::Parts) -> Self {
        if let Some(choice) = parts.extensions.get::<Self>() {
            return *choice;
        }
        match parts.headers.get(Self::HEADER).map(|v| v.as_bytes()) {
            Some(v) if v.eq_ignore_ascii_case(b"primary") => Self::Primary,
            _ => Self::Replica,
        }
    }
}

struct Shared<T: MakeTls> {
    pool: Pool<T>,
    read_pool: Option<Pool<T>>,
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
        let snapshot = cache.snapshot();
        if let Some(missing) = config
            .schemas()
            .iter()
            .find(|s| !snapshot.schemas.contains(s))
        {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("The schema cache does not cover the exposed schema \"{missing}\""),
            )
            .with_hint("Load the cache with every schema the service exposes"));
        }
        Ok(RestService {
            shared: Arc::new(Shared {
                pool: self.pool,
                read_pool: self.read_pool,
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
            .then(|| (Instant::now(), metrics_method(req.method())));
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
                        let status = res.status().as_u16().to_string();
                        metrics::counter!("pgrst_http_requests_total", "method" => method, "status" => status)
                            .increment(1);
                        metrics::histogram!("pgrst_http_request_duration_seconds", "method" => method)
                            .record(started.elapsed().as_secs_f64());
                    }
                    Ok(res)
                }
                .instrument(span),
            ),
        }
    }
}

/// The future of [`RestService`]: one allocation per request.
pub struct ResponseFuture {
    inner: Pin<Box<dyn Future<Output = Result<Response<RestBody>, Infallible>> + Send>>,
}

impl Future for ResponseFuture {
    type Output = Result<Response<RestBody>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

/// A method as a metrics label (a fixed set, so the labels stay few).
fn metrics_method(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::POST => "POST",
        http::Method::PATCH => "PATCH",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Where a request's time went, for `Server-Timing`.
#[derive(Default)]
struct Stages {
    /// Nanoseconds in the database (all of a request's transactions).
    transaction: AtomicU64,
    /// What the `db-pre-request` function set for the response.
    pre: std::sync::OnceLock<db::PreAnswer>,
}

impl Stages {
    fn add_transaction(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.transaction.fetch_add(nanos, Ordering::Relaxed);
    }

    fn transaction(&self) -> Duration {
        Duration::from_nanos(self.transaction.load(Ordering::Relaxed))
    }
}

/// The `Server-Timing` value: PostgREST's names, `dur` in milliseconds.
fn server_timing(entries: &[(&str, Duration)]) -> Option<HeaderValue> {
    use std::fmt::Write;
    let mut value = String::with_capacity(96);
    for (name, d) in entries {
        if !value.is_empty() {
            value.push_str(", ");
        }
        let _ = write!(value, "{name};dur={:.1}", d.as_secs_f64() * 1000.0);
    }
    HeaderValue::from_str(&value).ok()
}

impl<T: MakeTls> RestService<T> {
    /// Whether the service can serve: its schema cache is loaded (always,
    /// once built) and a connection can be had and answers, within
    /// `timeout`. For a readiness probe (`/ready`); a liveness probe needs
    /// nothing but the process.
    ///
    /// ```no_run
    /// # async fn demo(rest: tower_postgrest::RestService) {
    /// let ready = rest.ready(std::time::Duration::from_secs(2)).await.is_ok();
    /// # }
    /// ```
    pub async fn ready(&self, timeout: Duration) -> Result<(), Error> {
        let check = async {
            let conn = self.shared.pool.get().await.map_err(db::pool_error)?;
            conn.client
                .simple_query("")
                .await
                .map(drop)
                .map_err(Error::from_pg)
        };
        match tokio::time::timeout(timeout, check).await {
            Ok(result) => result,
            Err(_) => Err(Error::new(
                ErrorKind::Unavailable,
                "The database did not answer in time",
            )),
        }
    }

    /// Sets the pool's gauges through the [`metrics`] facade, with
    /// PostgREST's names: `pgrst_db_pool_max`, `pgrst_db_pool_available`
    /// (idle connections), `pgrst_db_pool_waiting` (requests waiting for a
    /// connection) and `pgrst_db_pool_timeouts_total` (checkouts that timed
    /// out). Call it before each scrape.
    ///
    /// ```no_run
    /// # fn demo(rest: tower_postgrest::RestService) {
    /// rest.record_pool_metrics();
    /// // … then render the host's recorder (e.g. metrics-exporter-prometheus).
    /// # }
    /// ```
    pub fn record_pool_metrics(&self) {
        let shared = &self.shared;
        let state = shared.pool.state();
        metrics::gauge!("pgrst_db_pool_max").set(f64::from(shared.pool.config().max_size));
        metrics::gauge!("pgrst_db_pool_available").set(f64::from(state.idle_connections));
        metrics::gauge!("pgrst_db_pool_waiting").set(state.statistics.pending_gets() as f64);
        metrics::counter!("pgrst_db_pool_timeouts_total").absolute(state.statistics.get_timed_out);
    }

    /// The state of the primary pool (connections open and idle).
    #[cfg_attr(not(all(feature = "jwt", feature = "rustls")), allow(dead_code))]
    pub(crate) fn pool_state(&self) -> bb8::State {
        self.shared.pool.state()
    }
}

impl<T: MakeTls> Shared<T> {
    /// One request, in the order that makes a refused request cheap: the
    /// role (401), the route, the query string and headers, the relation or
    /// function and the request's shape (404, 400), and only then the body;
    /// then the plan, and [`respond`](Self::respond).
    async fn handle<B>(&self, req: Request<B>) -> Result<Response<RestBody>, Error>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<crate::error::BoxError>,
    {
        let started = self.config.server_timing.then(Instant::now);
        let (parts, body) = req.into_parts();
        let role = choose_role(
            &parts.extensions,
            &ClaimPath::default(),
            self.config.anon_role.as_ref(),
        )?
        .ok_or_else(anonymous_disabled)?;
        // A batch: `POST` to the root with a JSON array of operations.
        if parts.method == http::Method::POST
            && matches!(parts.uri.path(), "/" | "")
            && self.config.batch_limit > 0
        {
            let schema = self.snapshot(&parts);
            let role = role.into_owned();
            return self.batch(parts, body, role, schema).await;
        }
        let route = request::route(&parts.method, parts.uri.path())?;
        let schema = self.snapshot(&parts);
        let has_body = route.action.has_body();
        let (mut api, admitted) = tracing::debug_span!("parse").in_scope(|| {
            let api = request::parse_query(route, parts.uri.query(), &parts.headers)?;
            let admitted = plan::admit(&api, &schema, &self.config)?;
            Ok::<_, Error>((api, admitted))
        })?;
        if has_body {
            let limit = match admitted {
                Admitted::Found => self.config.body_limit,
                // Enough to name the arguments in the 404, no more.
                Admitted::UnknownFunction => UNKNOWN_FUNCTION_BODY.min(self.config.body_limit),
            };
            match crate::body::collect(body, limit).await {
                Ok(body) => api.attach_body(&parts.headers, body)?,
                Err(e) if admitted == Admitted::UnknownFunction => {
                    return Err(plan::unknown_function(&api, &self.config).unwrap_or(e));
                }
                Err(e) => return Err(e),
            }
        }
        if self.is_nested_insert(&api, &schema) {
            return self.nested_insert(&api, &parts, &role, &schema).await;
        }
        let span = tracing::Span::current();
        span.record("role", role.role());
        match &api.target {
            request::Target::Relation(name) | request::Target::Function(name) => {
                span.record("relation", name.as_str());
            }
            request::Target::Root => {}
        }
        let parsed = started.map(|t| t.elapsed());
        let plan =
            tracing::debug_span!("plan").in_scope(|| plan::plan(&api, &schema, &self.config))?;
        let planned = started.map(|t| t.elapsed());
        let stages = Stages::default();
        let mut res = self
            .respond(&plan, &api, &schema, &parts, &role, &stages)
            .await?;
        // A call's own statement reads what the pre-request set, with what the function set.
        if let (Some(pre), false) = (stages.pre.get(), matches!(plan.kind, PlanKind::Call(_))) {
            response::apply_pre_request(&mut res, pre)?;
        }
        // As PostgREST: the zone as the request named it.
        if let (Some(_), Some(asked)) = (&plan.timezone, api.prefs.timezone.as_deref()) {
            response::preference_applied(&mut res, &format!("timezone={asked}"));
        }
        if let (Some(started), Some(parsed), Some(planned)) = (started, parsed, planned) {
            let transaction = stages.transaction();
            let response = started
                .elapsed()
                .saturating_sub(planned)
                .saturating_sub(transaction);
            let jwt = parts.extensions.get::<JwtTiming>().map(|t| t.0);
            let all = [
                ("jwt", jwt.unwrap_or_default()),
                ("parse", parsed),
                ("plan", planned.saturating_sub(parsed)),
                ("transaction", transaction),
                ("response", response),
            ];
            let entries = if jwt.is_some() { &all[..] } else { &all[1..] };
            if let Some(value) = server_timing(entries) {
                res.headers_mut().insert("server-timing", value);
            }
        }
        Ok(res)
    }

    /// The schema snapshot of a request: the one a layer pinned, or the cache's current one.
    fn snapshot(&self, parts: &http::request::Parts) -> Arc<Schema> {
        match parts.extensions.get::<Arc<Schema>>() {
            Some(s) => Arc::clone(s),
            None => self.cache.snapshot(),
        }
    }

    /// Runs `plan` as `role` and builds its response.
    async fn respond(
        &self,
        plan: &Plan<'_>,
        api: &request::ApiRequest,
        schema: &Schema,
        parts: &http::request::Parts,
        role: &DbRole,
        stages: &Stages,
    ) -> Result<Response<RestBody>, Error> {
        if let Some(explain) = &api.accepted.explain {
            if matches!(
                plan.kind,
                PlanKind::Read(_) | PlanKind::Call(_) | PlanKind::Write(_)
            ) {
                return self
                    .explain(plan, schema, parts, role, stages, explain)
                    .await;
            }
        }
        let mut res = match &plan.kind {
            PlanKind::Options {
                resource,
                allow,
                privileges,
            } => {
                let only = match resource {
                    Resource::Relation(t) => Some(t.name.as_str()),
                    Resource::Function(f) => Some(*f),
                    Resource::Root => None,
                };
                let granted = match privileges {
                    true => Some(
                        self.privileges(plan, schema, parts, role, only, stages)
                            .await?,
                    ),
                    false => None,
                };
                return response::options(plan.schema.name, *resource, *allow, granted.as_ref());
            }
            PlanKind::Describe {
                headers_only,
                privileges,
            } => {
                let granted = match privileges {
                    true => Some(
                        self.privileges(plan, schema, parts, role, None, stages)
                            .await?,
                    ),
                    false => None,
                };
                response::describe(schema, plan.schema.name, *headers_only, granted.as_ref())
            }
            PlanKind::Read(read) if self.streams(read).is_some() => {
                let shape = self.streams(read).unwrap_or(db::Shape::Json);
                let stmts = sql::render_stream(read)?;
                let streamed = self
                    .stream(plan, schema, parts, role, &stmts, shape, stages)
                    .await?;
                response::read_streamed(read, streamed, &parts.uri)?
            }
            PlanKind::Read(read) => {
                let stmts = sql::render_read(read)?;
                let mut all = vec![&stmts.main];
                all.extend(stmts.explain.as_ref());
                let result: db::ReadResult =
                    self.run(plan, schema, parts, role, &all, stages).await?;
                response::read(read, result, &parts.uri)?
            }
            PlanKind::Call(call) => {
                let stmt = sql::render_call(call)?;
                let result = self
                    .run(plan, schema, parts, role, &[&stmt], stages)
                    .await?;
                response::call(call, result)?
            }
            PlanKind::Write(write) => {
                let stmt = sql::render_write(write)?;
                let result = self
                    .run(plan, schema, parts, role, &[&stmt], stages)
                    .await?;
                response::write(write, api.action, result)?
            }
        };
        if self.config.names_profile(api.profile.as_deref()) {
            response::name_schema(&mut res, plan.schema);
        }
        Ok(res)
    }

    /// The execution plan of `plan`'s statement, as `explain` asks.
    async fn explain(
        &self,
        plan: &Plan<'_>,
        schema: &Schema,
        parts: &http::request::Parts,
        role: &DbRole,
        stages: &Stages,
        explain: &request::Explain,
    ) -> Result<Response<RestBody>, Error> {
        let (stmt, media) = match &plan.kind {
            PlanKind::Read(read) => (sql::render_read(read)?.main, read.media),
            PlanKind::Call(call) => (sql::render_call(call)?, call.shape.media),
            PlanKind::Write(write) => (sql::render_write(write)?, write.shape.media),
            _ => {
                return Err(Error::new(
                    ErrorKind::Internal,
                    "Only reads, writes and calls have plans",
                ));
            }
        };
        let stmt = sql::explain(stmt, explain);
        let claims = role.claims_json();
        let (headers, cookies) = request::headers_json(&parts.headers);
        let ctx = self.context(
            plan, schema, parts, role, &claims, &headers, &cookies, stages,
        );
        let started = Instant::now();
        let rows = db::run_explain(
            &self.pool,
            schema.generation,
            &ctx,
            &stmt,
            plan.tx.read_only,
        )
        .await;
        stages.add_transaction(started.elapsed());
        let rows = rows?;
        let body = rows
            .iter()
            .map(|r| r.as_ref())
            .collect::<Vec<_>>()
            .join(&b"\n"[..]);
        let mut res = Response::new(RestBody::from(body));
        res.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_str(&explain.content_type(media))
                .unwrap_or(HeaderValue::from_static("text/plain")),
        );
        Ok(res)
    }

    /// How a read streams, if it does: NDJSON always; JSON and CSV when the
    /// relation is large and no small `limit` bounds the page. Planned and
    /// estimated counts need the whole-page path.
    fn streams(&self, read: &plan::ReadPlan<'_>) -> Option<db::Shape> {
        use request::{Count, MediaType};
        if read.headers_only || !matches!(read.count, None | Some(Count::Exact)) {
            return None;
        }
        let shape = match read.media {
            MediaType::NdJson => return Some(db::Shape::NdJson),
            MediaType::Json => db::Shape::Json,
            MediaType::JsonStripped => db::Shape::JsonStripped,
            MediaType::Csv => db::Shape::Csv,
            _ => return None,
        };
        let large = self
            .config
            .stream_above
            .is_some_and(|above| read.table.estimated_bytes >= above);
        let bounded = read.limit.is_some_and(|l| l <= db::FIRST_BATCH as i64);
        (large && !bounded).then_some(shape)
    }

    /// Runs a streamed read as `role`, with the request's context.
    #[allow(clippy::too_many_arguments)]
    async fn stream(
        &self,
        plan: &Plan<'_>,
        schema: &Schema,
        parts: &http::request::Parts,
        role: &DbRole,
        stmts: &sql::StreamStatements,
        shape: db::Shape,
        stages: &Stages,
    ) -> Result<db::Streamed, Error> {
        let claims = role.claims_json();
        let (headers, cookies) = request::headers_json(&parts.headers);
        let ctx = self.context(
            plan, schema, parts, role, &claims, &headers, &cookies, stages,
        );
        let anonymous = self
            .config
            .anon_role
            .as_ref()
            .is_some_and(|a| a.role() == role.role());
        let pool = match &self.read_pool {
            Some(read_pool) if ReadFrom::of(parts) == ReadFrom::Replica => read_pool,
            _ => &self.pool,
        };
        let started = Instant::now();
        let result = db::stream_read(pool, schema.generation, &ctx, stmts, shape)
            .instrument(tracing::debug_span!("transaction", streamed = true))
            .await;
        stages.add_transaction(started.elapsed());
        result.map_err(|e| e.for_anonymous(anonymous))
    }

    /// The request's context for its transaction.
    #[allow(clippy::too_many_arguments)]
    fn context<'a>(
        &'a self,
        plan: &'a Plan<'_>,
        schema: &'a Schema,
        parts: &'a http::request::Parts,
        role: &'a DbRole,
        claims: &'a str,
        headers: &'a str,
        cookies: &'a str,
        stages: &'a Stages,
    ) -> RequestContext<'a> {
        RequestContext {
            role: role.role(),
            claims,
            method: parts.method.as_str(),
            path: parts.uri.path(),
            search_path: plan.schema.search_path,
            headers,
            cookies,
            statement_timeout: self
                .config
                .statement_timeout(schema.role_timeouts.get(role.role()).map(String::as_str)),
            timezone: plan.timezone.as_deref(),
            pre_request: self
                .config
                .pre_request
                .as_deref()
                .map(|sql| db::PreRequest {
                    sql,
                    answer: &stages.pre,
                }),
        }
    }

    /// What `role` may use in the plan's schema (of `only`, when given), asked
    /// of PostgreSQL as that role.
    async fn privileges(
        &self,
        plan: &Plan<'_>,
        schema: &Schema,
        parts: &http::request::Parts,
        role: &DbRole,
        only: Option<&str>,
        stages: &Stages,
    ) -> Result<plan::Privileges, Error> {
        let stmt = sql::render_privileges(plan.schema.name, only);
        let result: db::ReadResult = self
            .run(plan, schema, parts, role, &[&stmt], stages)
            .await?;
        plan::Privileges::from_json(&result.body)
    }

    /// Runs the statements of `plan` in its transaction, as `role`, with the
    /// request's context, and checks the result: before the commit when the
    /// plan says so, after it otherwise.
    async fn run<R: Outcome + plan::Counted>(
        &self,
        plan: &Plan<'_>,
        schema: &Schema,
        parts: &http::request::Parts,
        role: &DbRole,
        stmts: &[&sql::Statement],
        stages: &Stages,
    ) -> Result<R, Error> {
        let claims = role.claims_json();
        let (headers, cookies) = request::headers_json(&parts.headers);
        let ctx = self.context(
            plan, schema, parts, role, &claims, &headers, &cookies, stages,
        );
        let checks = plan.checks;
        let check = move |r: &R| checks.verify(r.rows(), r.affected());
        let decide = plan.decides_commit().then_some(&check as db::Check<'_, R>);
        let anonymous = self
            .config
            .anon_role
            .as_ref()
            .is_some_and(|a| a.role() == role.role());
        let span = tracing::debug_span!(
            "transaction",
            statement = tracing::field::Empty,
            read_only = plan.tx.read_only,
            rows = tracing::field::Empty,
            database_ms = tracing::field::Empty,
        );
        if !span.is_disabled() {
            // The statement's identity, never its values.
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            for stmt in stmts {
                stmt.sql.hash(&mut hasher);
            }
            span.record("statement", format_args!("{:016x}", hasher.finish()));
        }
        let started = Instant::now();
        let replica = self
            .read_pool
            .as_ref()
            .filter(|_| plan.tx.read_only && ReadFrom::of(parts) == ReadFrom::Replica);
        let result = async {
            match replica {
            Some(read_pool) => {
                match db::run(read_pool, schema.generation, &ctx, stmts, plan.tx, decide).await {
                    // A read has no effect to undo: the primary can serve it.
                    Err(e) if e.kind() == ErrorKind::Unavailable => {
                        tracing::warn!(error = %e, "the read pool failed; reading from the primary");
                        db::run(&self.pool, schema.generation, &ctx, stmts, plan.tx, decide).await
                    }
                    other => other,
                }
            }
            None => db::run(&self.pool, schema.generation, &ctx, stmts, plan.tx, decide).await,
        }
        }
        .instrument(span.clone())
        .await;
        let elapsed = started.elapsed();
        stages.add_transaction(elapsed);
        span.record("database_ms", elapsed.as_secs_f64() * 1000.0);
        let result = result.map_err(|e| e.for_anonymous(anonymous))?;
        span.record("rows", result.rows());
        check(&result)?;
        Ok(result)
    }
}

/// One operation of a batch (`POST /` with a JSON array of them).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Operation {
    method: String,
    path: String,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    body: Option<serde_json::Value>,
}

/// A batch operation's failure, with its index in the details.
fn in_batch(e: Error, index: usize, op: &Operation) -> Error {
    let what = format!("Operation {index} of the batch ({} {})", op.method, op.path);
    let details = match e.details() {
        Some(d) => format!("{what}: {d}"),
        None => what,
    };
    e.with_details(details)
}

fn invalid_operation(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidRequest, message)
}

impl<T: MakeTls> Shared<T> {
    /// A batch (beyond PostgREST): the operations of the body run in order,
    /// in one transaction, as the request's role; the first that fails rolls
    /// them all back and is the answer, its index in `details`.
    async fn batch<B>(
        &self,
        parts: http::request::Parts,
        body: B,
        role: DbRole,
        schema: Arc<Schema>,
    ) -> Result<Response<RestBody>, Error>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<crate::error::BoxError>,
    {
        let bytes = crate::body::collect(body, self.config.body_limit).await?;
        let ops: Vec<Operation> = serde_json::from_slice(&bytes).map_err(|e| {
            invalid_operation("A batch is a JSON array of operations")
                .with_details(e.to_string())
                .with_hint(r#"Each operation is {"method": "POST", "path": "/table", "headers": {…}, "body": …}"#)
        })?;
        if ops.is_empty() {
            return Err(invalid_operation("A batch needs at least one operation"));
        }
        if ops.len() > self.config.batch_limit {
            return Err(invalid_operation(format!(
                "The batch has {} operations, more than the limit of {}",
                ops.len(),
                self.config.batch_limit
            )));
        }
        let mut session = db::Session::open(&self.pool, schema.generation).await?;
        let mut answers = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            match self
                .batch_operation(op, &parts, &role, &schema, &mut session)
                .await
            {
                Ok(answer) => answers.push(answer),
                Err(e) => {
                    session.rollback().await;
                    return Err(in_batch(e, i, op));
                }
            }
        }
        session.commit().await?;
        let body = serde_json::to_vec(&answers).map_err(|e| {
            Error::new(ErrorKind::Internal, "Could not write the batch's answer").with_source(e)
        })?;
        let mut res = Response::new(RestBody::from(body));
        res.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        Ok(res)
    }

    /// One operation of a batch, run in `session`: its answer as
    /// `{"status", "headers", "body"}`.
    async fn batch_operation(
        &self,
        op: &Operation,
        outer: &http::request::Parts,
        role: &DbRole,
        schema: &Schema,
        session: &mut db::Session<'_, T>,
    ) -> Result<serde_json::Value, Error> {
        let method = http::Method::from_bytes(op.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| invalid_operation(format!("{:?} is not an HTTP method", op.method)))?;
        if !op.path.starts_with('/') {
            return Err(invalid_operation("An operation's path starts with /"));
        }
        let uri: http::Uri = op
            .path
            .parse()
            .map_err(|_| invalid_operation("An operation's path is not a valid URI path"))?;
        // The batch's headers (credentials, profiles), then the operation's own.
        let mut headers = outer.headers.clone();
        for name in [
            http::header::CONTENT_LENGTH,
            http::header::CONTENT_TYPE,
            http::header::ACCEPT,
            http::header::HeaderName::from_static("prefer"),
        ] {
            headers.remove(name);
        }
        for (name, value) in &op.headers {
            let name = http::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid_operation(format!("{name:?} is not a header name")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| invalid_operation(format!("The {name} header is not valid")))?;
            headers.insert(name, value);
        }
        if !headers.contains_key(http::header::CONTENT_TYPE) {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        let (mut parts, ()) = Request::builder()
            .method(method.clone())
            .uri(uri.clone())
            .body(())
            .map_err(|_| invalid_operation("The operation is not a valid request"))?
            .into_parts();
        parts.headers = headers;
        let route = request::route(&parts.method, parts.uri.path())?;
        if matches!(route.target, request::Target::Root) {
            return Err(invalid_operation(
                "A batch operation names a table, a view or a function",
            ));
        }
        let has_body = route.action.has_body();
        let mut api = request::parse_query(route, parts.uri.query(), &parts.headers)?;
        plan::admit(&api, schema, &self.config)?;
        if api.accepted.explain.is_some() {
            return Err(invalid_operation("Plans are not available in a batch"));
        }
        if has_body {
            let json = parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| ct.contains("json"));
            let body = match &op.body {
                None => bytes::Bytes::new(),
                Some(serde_json::Value::String(text)) if !json => bytes::Bytes::from(text.clone()),
                Some(value) => bytes::Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
            };
            api.attach_body(&parts.headers, body)?;
        }
        let plan = plan::plan(&api, schema, &self.config)?;
        let stages = Stages::default();
        let claims = role.claims_json();
        let (json_headers, cookies) = request::headers_json(&parts.headers);
        let ctx = self.context(
            &plan,
            schema,
            &parts,
            role,
            &claims,
            &json_headers,
            &cookies,
            &stages,
        );
        let checks = plan.checks;
        let mut res = match &plan.kind {
            PlanKind::Read(read) => {
                let stmts = sql::render_read(read)?;
                let mut all = vec![&stmts.main];
                all.extend(stmts.explain.as_ref());
                let rows = session.run(&ctx, &all).await?;
                let result = db::read_result_of(&rows)?;
                checks.verify(
                    plan::Counted::rows(&result),
                    plan::Counted::affected(&result),
                )?;
                response::read(read, result, &parts.uri)?
            }
            PlanKind::Write(write) => {
                let stmt = sql::render_write(write)?;
                let rows = session.run(&ctx, &[&stmt]).await?;
                let result: db::WriteResult = db::result_of(&rows)?;
                checks.verify(
                    plan::Counted::rows(&result),
                    plan::Counted::affected(&result),
                )?;
                response::write(write, api.action, result)?
            }
            PlanKind::Call(call) => {
                let stmt = sql::render_call(call)?;
                let rows = session.run(&ctx, &[&stmt]).await?;
                let result: db::CallResult = db::result_of(&rows)?;
                checks.verify(
                    plan::Counted::rows(&result),
                    plan::Counted::affected(&result),
                )?;
                response::call(call, result)?
            }
            _ => {
                return Err(invalid_operation(
                    "A batch operation reads, writes or calls a function",
                ));
            }
        };
        if let (Some(pre), false) = (stages.pre.get(), matches!(plan.kind, PlanKind::Call(_))) {
            response::apply_pre_request(&mut res, pre)?;
        }
        let (res_parts, body) = res.into_parts();
        let bytes = http_body_util::BodyExt::collect(body)
            .await
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default();
        let mut headers = serde_json::Map::new();
        for (name, value) in &res_parts.headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match headers.get_mut(name.as_str()) {
                Some(serde_json::Value::String(v)) => {
                    v.push_str(", ");
                    v.push_str(&value);
                }
                _ => {
                    headers.insert(name.as_str().to_owned(), serde_json::Value::String(value));
                }
            }
        }
        let is_json = res_parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("json"));
        let body = if bytes.is_empty() {
            serde_json::Value::Null
        } else if is_json {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
            })
        } else {
            serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
        };
        Ok(serde_json::json!({
            "status": res_parts.status.as_u16(),
            "headers": headers,
            "body": body,
        }))
    }
}

/// A row of a nested insert: a JSON object.
type JsonRow = serde_json::Map<String, serde_json::Value>;

/// How a key of a nested insert's object relates its table to another.
enum Nested<'s> {
    /// The table holds the key: the other row goes in first, its key into this row.
    Parent(&'s crate::schema::Relationship),
    /// The other table holds the key: its rows go in after, taking this row's.
    Children(&'s crate::schema::Relationship),
    /// Through a junction: the other rows, then a junction row for each.
    Linked(&'s crate::schema::Relationship),
}

/// A value for a PostgREST `in.(…)` list: double-quoted, as its grammar allows.
fn in_list_value(value: &serde_json::Value) -> String {
    let text = match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

impl<T: MakeTls> Shared<T> {
    /// Whether a POST's body names relationships of its table (and not its
    /// columns): then it is a nested insert (beyond PostgREST).
    fn is_nested_insert(&self, api: &request::ApiRequest, schema: &Schema) -> bool {
        let (request::Action::Insert, request::Target::Relation(name), Some(payload)) =
            (api.action, &api.target, api.payload.as_ref())
        else {
            return false;
        };
        if payload.csv || api.columns.is_some() {
            return false;
        }
        let Ok(ns) = self.config.exposed(api.profile.as_deref()) else {
            return false;
        };
        let Some(table) = schema.table(ns.name, name) else {
            return false;
        };
        payload.keys.iter().any(|k| {
            table.column(k).is_none()
                && plan::relationship(schema, &self.config, table, k, None).is_ok()
        })
    }

    /// A nested insert: the rows of the body and, for each key that names a
    /// relationship, the related rows (parents first, then the rows, then
    /// children and many-to-many links), at any depth, one statement per
    /// table and level, in one transaction; then the representation, read
    /// with the request's `select`.
    async fn nested_insert(
        &self,
        api: &request::ApiRequest,
        parts: &http::request::Parts,
        role: &DbRole,
        schema: &Schema,
    ) -> Result<Response<RestBody>, Error> {
        let ns = self.config.exposed(api.profile.as_deref())?;
        let request::Target::Relation(name) = &api.target else {
            return Err(invalid_operation("A nested insert is a POST to a table"));
        };
        let table = schema
            .table(ns.name, name)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "The table went missing"))?;
        let payload = api
            .payload
            .as_ref()
            .ok_or_else(|| invalid_operation("A nested insert needs a body"))?;
        let rows: Vec<JsonRow> = match serde_json::from_str::<serde_json::Value>(&payload.json) {
            Ok(serde_json::Value::Object(row)) => vec![row],
            Ok(serde_json::Value::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    serde_json::Value::Object(row) => Ok(row),
                    _ => Err(invalid_operation("Each element of the body is an object")),
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(invalid_operation(
                    "The body is an object or an array of objects",
                ));
            }
        };
        let plan = plan::plan_context(api, schema, &self.config)?;
        let stages = Stages::default();
        let claims = role.claims_json();
        let (json_headers, cookies) = request::headers_json(&parts.headers);
        let ctx = self.context(
            &plan,
            schema,
            parts,
            role,
            &claims,
            &json_headers,
            &cookies,
            &stages,
        );
        let mut session = db::Session::open(&self.pool, schema.generation).await?;
        let outcome = async {
            let inserted = self
                .insert_tree(&mut session, &ctx, schema, table, rows)
                .await?;
            let representation = api.prefs.return_ == Some(request::Return::Representation);
            let body = if representation {
                Some(
                    self.read_inserted(&mut session, api, parts, role, schema, table, &inserted)
                        .await?,
                )
            } else {
                None
            };
            Ok::<_, Error>((inserted.len(), body))
        }
        .await;
        let (count, body) = match outcome {
            Ok(done) => done,
            Err(e) => {
                session.rollback().await;
                return Err(e);
            }
        };
        session.commit().await?;
        let mut res = Response::new(match body {
            Some(body) => RestBody::from(body),
            None => RestBody::empty(),
        });
        *res.status_mut() = http::StatusCode::CREATED;
        let headers = res.headers_mut();
        if let Some(r) = api.prefs.return_ {
            headers.insert("preference-applied", HeaderValue::from_static(r.as_str()));
            if r == request::Return::Representation {
                headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=utf-8"),
                );
            }
        }
        if let Ok(range) = HeaderValue::from_str(&format!("*/{count}")) {
            headers.insert(http::header::CONTENT_RANGE, range);
        }
        Ok(res)
    }

    /// Inserts `rows` into `table` with their related rows; the rows as inserted.
    fn insert_tree<'a>(
        &'a self,
        session: &'a mut db::Session<'_, T>,
        ctx: &'a RequestContext<'a>,
        schema: &'a Schema,
        table: &'a crate::schema::Table,
        mut rows: Vec<JsonRow>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<JsonRow>, Error>> + Send + 'a>> {
        Box::pin(async move {
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            // What each key is: a column, or a relationship.
            let mut keys: Vec<String> = Vec::new();
            for row in &rows {
                for k in row.keys() {
                    if !keys.contains(k) {
                        keys.push(k.clone());
                    }
                }
            }
            let mut columns: Vec<String> = Vec::new();
            let mut related: Vec<(String, Nested<'a>)> = Vec::new();
            for key in keys {
                if table.column(&key).is_some() {
                    columns.push(key);
                    continue;
                }
                let rel = plan::relationship(schema, &self.config, table, &key, None)
                    .map_err(|_| {
                        Error::pgrst(
                            crate::error::codes::PGRST204,
                            format!(
                                "Could not find the '{key}' column or relationship of '{}' in the schema cache",
                                table.name
                            ),
                        )
                    })?;
                let holds_key = schema.foreign_keys.iter().any(|fk| {
                    fk.name == rel.constraint && fk.schema == rel.schema && fk.table == rel.table
                });
                let kind = match rel.cardinality {
                    crate::schema::Cardinality::ManyToMany => Nested::Linked(rel),
                    crate::schema::Cardinality::ManyToOne => Nested::Parent(rel),
                    crate::schema::Cardinality::OneToOne if holds_key => Nested::Parent(rel),
                    _ => Nested::Children(rel),
                };
                related.push((key, kind));
            }
            let target_of = |rel: &crate::schema::Relationship| {
                schema
                    .table(&rel.foreign_schema, &rel.foreign_table)
                    .ok_or_else(|| Error::new(ErrorKind::NotFound, "A related table went missing"))
            };
            // Parents first: their keys go into these rows.
            for (key, kind) in &related {
                let Nested::Parent(rel) = kind else { continue };
                let mut owners = Vec::new();
                let mut parents = Vec::new();
                for (i, row) in rows.iter_mut().enumerate() {
                    match row.remove(key) {
                        Some(serde_json::Value::Object(parent)) => {
                            owners.push(i);
                            parents.push(parent);
                        }
                        Some(serde_json::Value::Null) | None => {}
                        Some(_) => {
                            return Err(invalid_operation(format!(
                                "'{key}' is a to-one relationship: its value is an object"
                            )));
                        }
                    }
                }
                let inserted = self
                    .insert_tree(session, ctx, schema, target_of(rel)?, parents)
                    .await?;
                for (i, parent) in owners.into_iter().zip(inserted) {
                    for (column, foreign) in &rel.columns {
                        let value = parent.get(foreign).cloned().unwrap_or_default();
                        rows[i].insert(column.clone(), value);
                        if !columns.contains(column) {
                            columns.push(column.clone());
                        }
                    }
                }
            }
            // The rows themselves, without their related keys.
            let mut later: Vec<Vec<(String, serde_json::Value)>> = vec![Vec::new(); rows.len()];
            for (i, row) in rows.iter_mut().enumerate() {
                for (key, kind) in &related {
                    if matches!(kind, Nested::Parent(_)) {
                        continue;
                    }
                    if let Some(value) = row.remove(key) {
                        later[i].push((key.clone(), value));
                    }
                }
            }
            if columns.is_empty() {
                return Err(invalid_operation(format!(
                    "A row of '{}' in a nested insert needs at least one column",
                    table.name
                )));
            }
            let names: Vec<&str> = columns.iter().map(String::as_str).collect();
            let body = serde_json::to_string(&rows).unwrap_or_else(|_| "[]".to_owned());
            let stmt = sql::render_rows_insert(table, &names, body)?;
            let answer = session.run(ctx, &[&stmt]).await?;
            let text: String = answer
                .first()
                .and_then(|row| row.try_get::<_, String>(0).ok())
                .unwrap_or_else(|| "[]".to_owned());
            let inserted: Vec<JsonRow> = serde_json::from_str(&text).map_err(|e| {
                Error::new(ErrorKind::Internal, "Could not read the inserted rows").with_source(e)
            })?;
            if inserted.len() != rows.len() {
                return Err(Error::new(
                    ErrorKind::Internal,
                    "The insert answered another number of rows",
                ));
            }
            // Then children and links, taking these rows' keys.
            for (key, kind) in &related {
                let (rel, linked) = match kind {
                    Nested::Parent(_) => continue,
                    Nested::Children(rel) => (*rel, false),
                    Nested::Linked(rel) => (*rel, true),
                };
                let mut owners = Vec::new();
                let mut children = Vec::new();
                for (i, pending) in later.iter_mut().enumerate() {
                    let Some(pos) = pending.iter().position(|(k, _)| k == key) else {
                        continue;
                    };
                    let (_, value) = pending.swap_remove(pos);
                    let items = match value {
                        serde_json::Value::Array(items) => items,
                        serde_json::Value::Object(one) => vec![serde_json::Value::Object(one)],
                        serde_json::Value::Null => Vec::new(),
                        _ => {
                            return Err(invalid_operation(format!(
                                "'{key}' is a to-many relationship: its value is an array of objects"
                            )));
                        }
                    };
                    for item in items {
                        let serde_json::Value::Object(mut child) = item else {
                            return Err(invalid_operation(format!(
                                "'{key}' is a to-many relationship: its value is an array of objects"
                            )));
                        };
                        if !linked {
                            for (column, foreign) in &rel.columns {
                                let value = inserted[i].get(column).cloned().unwrap_or_default();
                                child.insert(foreign.clone(), value);
                            }
                        }
                        owners.push(i);
                        children.push(child);
                    }
                }
                let done = self
                    .insert_tree(session, ctx, schema, target_of(rel)?, children)
                    .await?;
                if let (true, Some(junction)) = (linked, &rel.junction) {
                    let links: Vec<JsonRow> = owners
                        .iter()
                        .zip(&done)
                        .map(|(&i, child)| {
                            let mut link = JsonRow::new();
                            for (source, column) in &junction.source_columns {
                                link.insert(
                                    column.clone(),
                                    inserted[i].get(source).cloned().unwrap_or_default(),
                                );
                            }
                            for (column, target) in &junction.target_columns {
                                link.insert(
                                    column.clone(),
                                    child.get(target).cloned().unwrap_or_default(),
                                );
                            }
                            link
                        })
                        .collect();
                    let junction_table = schema
                        .table(&junction.schema, &junction.table)
                        .ok_or_else(|| {
                            Error::new(ErrorKind::NotFound, "A junction went missing")
                        })?;
                    self.insert_tree(session, ctx, schema, junction_table, links)
                        .await?;
                }
            }
            Ok(inserted)
        })
    }

    /// The representation of the rows a nested insert made: a read of them by
    /// primary key with the request's `select`, in the same transaction.
    #[allow(clippy::too_many_arguments)]
    async fn read_inserted(
        &self,
        session: &mut db::Session<'_, T>,
        api: &request::ApiRequest,
        parts: &http::request::Parts,
        role: &DbRole,
        schema: &Schema,
        table: &crate::schema::Table,
        inserted: &[JsonRow],
    ) -> Result<bytes::Bytes, Error> {
        if table.primary_key.is_empty() {
            return Err(invalid_operation(format!(
                "The representation of a nested insert into '{}' needs its primary key",
                table.name
            )));
        }
        let select = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .find(|(k, _)| k == "select")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| "*".to_owned());
        let query = {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("select", &select);
            if let [key] = table.primary_key.as_slice() {
                let values: Vec<String> = inserted
                    .iter()
                    .map(|row| in_list_value(row.get(key).unwrap_or(&serde_json::Value::Null)))
                    .collect();
                query.append_pair(key, &format!("in.({})", values.join(",")));
            } else {
                let rows: Vec<String> = inserted
                    .iter()
                    .map(|row| {
                        let terms: Vec<String> = table
                            .primary_key
                            .iter()
                            .map(|k| {
                                format!(
                                    "{k}.eq.{}",
                                    in_list_value(row.get(k).unwrap_or(&serde_json::Value::Null))
                                )
                            })
                            .collect();
                        format!("and({})", terms.join(","))
                    })
                    .collect();
                query.append_pair("or", &format!("({})", rows.join(",")));
            }
            query.finish()
        };
        let path = parts.uri.path().to_owned();
        let route = request::route(&http::Method::GET, &path)?;
        let mut headers = parts.headers.clone();
        headers.remove(http::header::CONTENT_TYPE);
        let read_api = request::parse_query(route, Some(&query), &headers)?;
        let _ = api;
        let plan = plan::plan(&read_api, schema, &self.config)?;
        let PlanKind::Read(read) = &plan.kind else {
            return Err(Error::new(ErrorKind::Internal, "Not a read"));
        };
        let stages = Stages::default();
        let claims = role.claims_json();
        let (json_headers, cookies) = request::headers_json(&headers);
        let ctx = self.context(
            &plan,
            schema,
            parts,
            role,
            &claims,
            &json_headers,
            &cookies,
            &stages,
        );
        let stmts = sql::render_read(read)?;
        let rows = session.run(&ctx, &[&stmts.main]).await?;
        Ok(db::read_result_of(&rows)?.body)
    }
}
