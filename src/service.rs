//! [`RestService`], its builder and its future.

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use tower_service::Service;

use crate::body::RestBody;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use percent_encoding::utf8_percent_encode;

use crate::db::{self, CallResult, Ending, MakeTls, Pool, ReadResult, RequestContext, WriteResult};
use crate::error::{Error, ErrorKind, ErrorMapper, Powabase};
use crate::layer::role_for;
use crate::layer::{ClaimPath, Claims, DbRole};
use crate::plan::{self, CallPlan, Plan, PlanConfig, ReadPlan, Returns, WriteKind, WritePlan};
use crate::request::{self, Count, Return, TxEnd};
use crate::schema::{Schema, SchemaCache};
use crate::sql;

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
            .field("anon_role", &self.shared.anon_role)
            .finish_non_exhaustive()
    }
}

struct Shared<T: MakeTls> {
    pool: Pool<T>,
    cache: SchemaCache,
    anon_role: Option<DbRole>,
    plan: PlanConfig,
    /// The exposed schemas, the default first.
    schemas: Vec<String>,
    /// The `search_path` of a request to each of `schemas`, in the same order.
    search_paths: Vec<String>,
    errors: Arc<dyn ErrorMapper>,
    body_limit: usize,
    /// `statement_timeout` of every request, e.g. `"5000ms"`.
    statement_timeout: Option<String>,
}

impl<T: MakeTls> RestService<T> {
    /// Starts building a service over `pool`.
    pub fn builder(pool: Pool<T>) -> RestServiceBuilder<T> {
        RestServiceBuilder {
            pool,
            schemas: vec!["public".to_owned()],
            anon_role: None,
            max_rows: None,
            cache: None,
            body_limit: DEFAULT_BODY_LIMIT,
            require_filter: false,
            tx_override: false,
            errors: Arc::new(Powabase),
            statement_timeout: None,
        }
    }

    /// The schema cache this service reads its snapshots from.
    pub fn schema_cache(&self) -> &SchemaCache {
        &self.shared.cache
    }
}

/// Builds a [`RestService`]; see [`RestService::builder`].
#[must_use]
pub struct RestServiceBuilder<T: MakeTls = tokio_postgres::NoTls> {
    pool: Pool<T>,
    schemas: Vec<String>,
    anon_role: Option<String>,
    max_rows: Option<u64>,
    cache: Option<SchemaCache>,
    body_limit: usize,
    require_filter: bool,
    tx_override: bool,
    errors: Arc<dyn ErrorMapper>,
    statement_timeout: Option<std::time::Duration>,
}

/// The default limit on request bodies: 16 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024 * 1024;

impl<T: MakeTls> fmt::Debug for RestServiceBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestServiceBuilder")
            .field("schemas", &self.schemas)
            .field("anon_role", &self.anon_role)
            .field("max_rows", &self.max_rows)
            .finish_non_exhaustive()
    }
}

impl<T: MakeTls> RestServiceBuilder<T> {
    /// The exposed schemas, the default one first (default: `public`).
    pub fn schemas(mut self, schemas: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.schemas = schemas.into_iter().map(Into::into).collect();
        self
    }

    /// The role of requests that carry no [`DbRole`]. Without one, such requests get 401.
    pub fn anon_role(mut self, role: impl Into<String>) -> Self {
        self.anon_role = Some(role.into());
        self
    }

    /// The most rows any read returns (PostgREST's `db-max-rows`).
    pub fn max_rows(mut self, max_rows: u64) -> Self {
        self.max_rows = Some(max_rows);
        self
    }

    /// The largest request body accepted, in bytes (default [`DEFAULT_BODY_LIMIT`]);
    /// larger ones get 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Refuses PATCH and DELETE without any filter (422) instead of letting them
    /// affect every row, as PostgREST does. Off by default.
    pub fn require_filter_on_mutation(mut self, require: bool) -> Self {
        self.require_filter = require;
        self
    }

    /// Honours `Prefer: tx=commit|rollback` (PostgREST's `db-tx-end =
    /// commit-allow-override`): a request may ask for its transaction to be
    /// rolled back, to try a write without keeping it. Off by default.
    pub fn allow_tx_override(mut self, allow: bool) -> Self {
        self.tx_override = allow;
        self
    }

    /// A `statement_timeout` for every request's transaction (504 when it
    /// passes). Without it, a role's own `ALTER ROLE … SET statement_timeout`
    /// applies, as in PostgREST.
    pub fn statement_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.statement_timeout = Some(timeout);
        self
    }

    /// How errors become responses: [`Powabase`] (the default), [`PostgRest`](crate::PostgRest),
    /// or a mapper of your own (any `Fn(&Error) -> Response<RestBody>`).
    pub fn error_mapper(mut self, mapper: impl ErrorMapper) -> Self {
        self.errors = Arc::new(mapper);
        self
    }

    /// Uses an existing schema cache (e.g. one shared by several services)
    /// instead of loading one.
    pub fn schema_cache(mut self, cache: SchemaCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Checks the settings, loads the schema cache and returns the service.
    pub async fn build(self) -> Result<RestService<T>, Error> {
        if self.schemas.is_empty() {
            return Err(Error::new(
                ErrorKind::Internal,
                "At least one schema must be exposed",
            ));
        }
        for s in &self.schemas {
            if s.is_empty() || s.contains('\0') || s == "pg_catalog" || s == "information_schema" {
                return Err(Error::new(
                    ErrorKind::Internal,
                    format!("The schema \"{s}\" cannot be exposed"),
                ));
            }
        }
        let cache = match self.cache {
            Some(cache) => cache,
            None => SchemaCache::load(self.pool.clone(), self.schemas.iter().cloned()).await?,
        };
        Ok(RestService {
            shared: Arc::new(Shared {
                pool: self.pool,
                cache,
                anon_role: self.anon_role.map(DbRole::new),
                plan: PlanConfig {
                    max_rows: self.max_rows,
                    require_filter: self.require_filter,
                    tx_override: self.tx_override,
                },
                search_paths: self.schemas.iter().map(|s| sql::search_path(s)).collect(),
                schemas: self.schemas,
                errors: self.errors,
                body_limit: self.body_limit,
                statement_timeout: self
                    .statement_timeout
                    .map(|t| format!("{}ms", t.as_millis().max(1))),
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
        ResponseFuture {
            inner: Box::pin(async move {
                Ok(match shared.handle(req).await {
                    Ok(res) => res,
                    Err(e) => {
                        let e = Arc::new(e);
                        let mut res = shared.errors.render(&e);
                        res.extensions_mut().insert(e);
                        res
                    }
                })
            }),
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

static VARY: HeaderValue = HeaderValue::from_static("Accept, Prefer, Range");
const PREFERENCE_APPLIED: HeaderName = HeaderName::from_static("preference-applied");

impl<T: MakeTls> Shared<T> {
    async fn handle<B>(&self, req: Request<B>) -> Result<Response<RestBody>, Error>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<crate::error::BoxError>,
    {
        let (parts, body) = req.into_parts();
        let method = &parts.method;
        if method == Method::OPTIONS {
            return self.options(&parts);
        }
        let root = parts.uri.path().trim_start_matches('/').is_empty();
        if root && method != Method::GET && method != Method::HEAD {
            return Err(Error::new(
                ErrorKind::MethodNotAllowed,
                format!("Unsupported HTTP method: {method}"),
            )
            .with_postgrest_code("PGRST117"));
        }
        let has_body = match *method {
            Method::GET | Method::HEAD | Method::DELETE => false,
            Method::POST | Method::PUT | Method::PATCH => true,
            _ => {
                return Err(Error::new(
                    ErrorKind::MethodNotAllowed,
                    format!("Unsupported HTTP method: {method}"),
                )
                .with_postgrest_code("PGRST117"));
            }
        };
        let body = if has_body {
            Some(self.collect(body).await?)
        } else {
            None
        };
        let api = request::parse(
            method,
            parts.uri.path(),
            parts.uri.query(),
            &parts.headers,
            body,
        )?;
        let schema: Arc<Schema> = match parts.extensions.get::<Arc<Schema>>() {
            Some(s) => Arc::clone(s),
            None => self.cache.snapshot(),
        };
        let resolved;
        let role = match (
            parts.extensions.get::<DbRole>(),
            parts.extensions.get::<Claims>(),
        ) {
            (Some(role), _) => role,
            (None, Some(claims)) => {
                resolved = role_for(
                    &ClaimPath::default(),
                    claims,
                    self.anon_role.as_ref().map(DbRole::role),
                )?;
                &resolved
            }
            (None, None) => match &self.anon_role {
                Some(anon) => anon,
                None => {
                    return Err(Error::new(
                        ErrorKind::Unauthorized,
                        "Anonymous access is disabled",
                    )
                    .with_postgrest_code("PGRST302"));
                }
            },
        };
        // The schema of the request: its profile, which must be exposed, or the default.
        let exposed = match &api.profile {
            Some(p) => self.schemas.iter().position(|s| s == p),
            None => Some(0),
        };
        let Some(exposed) = exposed else {
            let p = api.profile.as_deref().unwrap_or_default();
            return Err(
                Error::new(ErrorKind::NotAcceptable, format!("Invalid schema: {p}"))
                    .with_hint(format!(
                        "Only the following schemas are exposed: {}",
                        self.schemas.join(", ")
                    ))
                    .with_postgrest_code("PGRST106"),
            );
        };
        let schema_name = self.schemas[exposed].as_str();
        let search_path = &self.search_paths[exposed];
        let anonymous = self
            .anon_role
            .as_ref()
            .is_some_and(|a| a.role() == role.role());
        let claims = role.claims_json();
        let (headers_json, cookies_json) = request_headers_json(&parts.headers);
        let ctx = RequestContext {
            role: role.role(),
            claims: &claims,
            method: method.as_str(),
            path: parts.uri.path(),
            search_path,
            headers: &headers_json,
            cookies: &cookies_json,
            statement_timeout: self
                .statement_timeout
                .as_deref()
                .or_else(|| schema.role_timeouts.get(role.role()).map(String::as_str)),
        };
        if api.target == request::Target::Root {
            let doc = crate::openapi::document(&schema, schema_name).to_string();
            let mut res = if method == Method::HEAD {
                Response::new(RestBody::empty())
            } else {
                Response::new(RestBody::from(doc))
            };
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/openapi+json; charset=utf-8"),
            );
            return Ok(res);
        }
        let mut res = match plan::plan(&api, &schema, &self.plan)? {
            Plan::Read(plan) => {
                let stmts = sql::render_read(&plan)?;
                let result = db::run_read(&self.pool, schema.generation, &ctx, &stmts)
                    .await
                    .map_err(|e| e.for_anonymous(anonymous))?;
                read_response(&plan, result, &parts.uri)?
            }
            Plan::Call(plan) => {
                let stmt = sql::render_call(&plan)?;
                let singular = plan.shape.media.is_singular()
                    && matches!(plan.returns, Returns::Composite { set: true });
                let decide = move |r: &CallResult| -> Result<(), Error> {
                    if singular && r.page_total != 1 {
                        return Err(not_singular(r.page_total));
                    }
                    Ok(())
                };
                // A read-only call has nothing to roll back: it is checked after.
                let decides = singular && !plan.read_only;
                let result = db::run_call(
                    &self.pool,
                    schema.generation,
                    plan.read_only,
                    &ctx,
                    &stmt,
                    decides.then_some(&decide as _),
                )
                .await
                .map_err(|e| e.for_anonymous(anonymous))?;
                decide(&result)?;
                call_response(&plan, result)?
            }
            Plan::Write(plan) => {
                let stmt = sql::render_write(&plan)?;
                let singular = plan.shape.media.is_singular();
                let max_affected = plan.max_affected;
                let decide = move |r: &WriteResult| -> Result<(), Error> {
                    if singular && r.page_total != 1 {
                        return Err(not_singular(r.page_total));
                    }
                    if let Some(max) = max_affected {
                        if r.affected > max {
                            return Err(Error::new(
                                ErrorKind::InvalidRequest,
                                "Query result exceeds max-affected preference constraint",
                            )
                            .with_details(format!("The query affects {} rows", r.affected))
                            .with_postgrest_code("PGRST124"));
                        }
                    }
                    Ok(())
                };
                let ending = match plan.tx_end {
                    TxEnd::Commit => Ending::Commit,
                    TxEnd::Rollback => Ending::Rollback,
                };
                let result = db::run_write(
                    &self.pool,
                    schema.generation,
                    &ctx,
                    &stmt,
                    ending,
                    plan.checks_result().then_some(&decide as _),
                )
                .await
                .map_err(|e| e.for_anonymous(anonymous))?;
                write_response(&plan, method, result)?
            }
        };
        if self.schemas.len() > 1 || api.profile.is_some() {
            if let Ok(v) = HeaderValue::from_str(schema_name) {
                res.headers_mut()
                    .insert(HeaderName::from_static("content-profile"), v);
            }
        }
        Ok(res)
    }

    /// `OPTIONS`: the methods a resource allows, from the schema cache alone.
    fn options(&self, parts: &http::request::Parts) -> Result<Response<RestBody>, Error> {
        let api = request::parse(&parts.method, parts.uri.path(), None, &parts.headers, None)?;
        let schema = match parts.extensions.get::<Arc<Schema>>() {
            Some(s) => Arc::clone(s),
            None => self.cache.snapshot(),
        };
        let ns = api.profile.as_deref().unwrap_or(&self.schemas[0]);
        let allow = match &api.target {
            request::Target::Root => "OPTIONS,GET,HEAD".to_owned(),
            request::Target::Function(name) => {
                let volatile = schema
                    .functions
                    .iter()
                    .filter(|f| f.schema == ns && &f.name == name)
                    .any(|f| f.volatility == crate::schema::Volatility::Volatile);
                if volatile {
                    "OPTIONS,POST".to_owned()
                } else {
                    "OPTIONS,GET,HEAD,POST".to_owned()
                }
            }
            request::Target::Relation(name) => {
                let Some(t) = schema.table(ns, name) else {
                    return Err(Error::new(
                        ErrorKind::NotFound,
                        format!("Could not find the table '{ns}.{name}' in the schema cache"),
                    )
                    .with_postgrest_code("PGRST205"));
                };
                let mut allow = String::from("OPTIONS,GET,HEAD");
                if t.insertable {
                    allow.push_str(",POST");
                }
                if t.insertable && t.updatable && !t.primary_key.is_empty() {
                    allow.push_str(",PUT");
                }
                if t.updatable {
                    allow.push_str(",PATCH");
                }
                if t.deletable {
                    allow.push_str(",DELETE");
                }
                allow
            }
        };
        let mut res = Response::new(RestBody::empty());
        res.headers_mut()
            .insert(header::ALLOW, header_value(&allow));
        Ok(res)
    }

    /// Collects a request body, refusing one over the configured limit.
    async fn collect<B>(&self, body: B) -> Result<Bytes, Error>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<crate::error::BoxError>,
    {
        match Limited::new(body, self.body_limit).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.is::<LengthLimitError>() => Err(Error::new(
                ErrorKind::PayloadTooLarge,
                format!(
                    "The request body is larger than the limit of {} bytes",
                    self.body_limit
                ),
            )),
            Err(e) => Err(Error::new(
                ErrorKind::InvalidRequest,
                "The request body could not be read",
            )
            .with_source(e)),
        }
    }
}

/// `request.headers` (names lower-cased, `cookie` left out, a repeated name's
/// last value kept) and `request.cookies`, as JSON objects.
///
/// Written straight into one buffer each: this runs for every request.
fn request_headers_json(headers: &http::HeaderMap) -> (String, Cow<'static, str>) {
    let size: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 6)
        .sum();
    let mut out = Vec::with_capacity(size + 2);
    out.push(b'{');
    let mut cookies = serde_json::Map::new();
    for name in headers.keys() {
        let values = headers.get_all(name);
        if name == header::COOKIE {
            for value in values.iter().filter_map(|v| v.to_str().ok()) {
                for pair in value.split(';') {
                    if let Some((k, v)) = pair.split_once('=') {
                        cookies.insert(
                            k.trim().to_owned(),
                            serde_json::Value::String(v.trim().to_owned()),
                        );
                    }
                }
            }
            continue;
        }
        let Some(value) = values.iter().filter_map(|v| v.to_str().ok()).next_back() else {
            continue;
        };
        if out.len() > 1 {
            out.push(b',');
        }
        json_string(&mut out, name.as_str());
        out.push(b':');
        json_string(&mut out, value);
    }
    out.push(b'}');
    let cookies = if cookies.is_empty() {
        Cow::Borrowed("{}")
    } else {
        Cow::Owned(serde_json::Value::Object(cookies).to_string())
    };
    // Only JSON text was written.
    (
        String::from_utf8(out).unwrap_or_else(|_| "{}".into()),
        cookies,
    )
}

/// Appends `s` as a JSON string.
fn json_string(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn not_singular(rows: i64) -> Error {
    Error::new(
        ErrorKind::NotAcceptable,
        "Cannot coerce the result to a single JSON object",
    )
    .with_details(format!("The result contains {rows} rows"))
    .with_postgrest_code("PGRST116")
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("*/*"))
}

/// [`header_value`] without copying `s`.
fn owned_header_value(s: String) -> HeaderValue {
    HeaderValue::from_maybe_shared(Bytes::from(s))
        .unwrap_or_else(|_| HeaderValue::from_static("*/*"))
}

/// `Content-Range`: `first-last/total`, `*/total` for an empty page, `*` for an unknown total.
fn content_range(offset: i64, rows: i64, total: Option<i64>) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(24);
    if rows > 0 {
        let _ = write!(out, "{}-{}/", offset, offset + rows - 1);
    } else {
        out.push_str("*/");
    }
    match total {
        Some(total) => {
            let _ = write!(out, "{total}");
        }
        None => out.push('*'),
    }
    out
}

fn read_response(
    plan: &ReadPlan<'_>,
    result: ReadResult,
    uri: &http::Uri,
) -> Result<Response<RestBody>, Error> {
    if plan.media.is_singular() && result.page_total != 1 {
        return Err(not_singular(result.page_total));
    }
    let counted = || result.total.unwrap_or(result.page_total);
    let total = match plan.count {
        None => None,
        Some(Count::Exact) => Some(counted()),
        Some(Count::Planned) => result.planned,
        // As PostgREST: the planner's estimate when the count passes max_rows —
        // and always without max_rows.
        Some(Count::Estimated) => match plan.max_rows {
            Some(max) if counted() <= max => Some(counted()),
            _ => Some(counted().max(result.planned.unwrap_or(0))),
        },
    };
    if let Some(total) = total {
        if plan.offset > total {
            return Err(Error::new(
                ErrorKind::RangeNotSatisfiable,
                "Requested range not satisfiable",
            )
            .with_details(format!(
                "An offset of {} was requested, but there are only {total} rows.",
                plan.offset
            ))
            .with_postgrest_code("PGRST103")
            .with_header(header::CONTENT_RANGE, header_value(&format!("*/{total}"))));
        }
    }
    let range = content_range(plan.offset, result.page_total, total);
    let body = if plan.headers_only {
        RestBody::empty()
    } else {
        RestBody::from(result.body)
    };
    let mut res = Response::new(body);
    *res.status_mut() = if total.is_some_and(|t| result.page_total < t) {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(plan.media.content_type()),
    );
    headers.insert(header::CONTENT_RANGE, owned_header_value(range));
    let location = Bytes::from(content_location(uri.path(), uri.query()));
    if let Ok(v) = HeaderValue::from_maybe_shared(location) {
        headers.insert(header::CONTENT_LOCATION, v);
    }
    if let Some(count) = plan.count {
        headers.insert(PREFERENCE_APPLIED, HeaderValue::from_static(count.as_str()));
    }
    headers.insert(header::VARY, VARY.clone());
    Ok(res)
}

fn call_response(plan: &CallPlan<'_>, result: CallResult) -> Result<Response<RestBody>, Error> {
    let shape = &plan.shape;
    let set = matches!(
        plan.returns,
        Returns::Composite { set: true } | Returns::Scalar { set: true }
    );
    // PostgREST counts function results exactly, and does not plan them.
    let total = match shape.count {
        Some(Count::Planned) | None => None,
        Some(_) => Some(result.total.unwrap_or(result.page_total)),
    };
    let mut status = match plan.returns {
        Returns::Void => StatusCode::NO_CONTENT,
        _ if total.is_some_and(|t| result.page_total < t) => StatusCode::PARTIAL_CONTENT,
        _ => StatusCode::OK,
    };
    if let Some(s) = result.status.as_deref() {
        status = s
            .trim()
            .parse::<u16>()
            .ok()
            .and_then(|n| StatusCode::from_u16(n).ok())
            .ok_or_else(|| {
                Error::new(ErrorKind::Internal, "Invalid response.status")
                    .with_details(format!("{s:?} is not an HTTP status code"))
                    .with_postgrest_code("PGRST112")
            })?;
    }
    let mut res = if plan.returns == Returns::Void || shape.headers_only {
        Response::new(RestBody::empty())
    } else {
        Response::new(RestBody::from(result.body))
    };
    *res.status_mut() = status;
    let headers = res.headers_mut();
    if plan.returns != Returns::Void {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(shape.media.content_type()),
        );
    }
    if set {
        let total_text = total.map_or_else(|| "*".to_owned(), |t| t.to_string());
        let range = if result.page_total > 0 {
            format!(
                "{}-{}/{total_text}",
                shape.offset,
                shape.offset + result.page_total - 1
            )
        } else {
            format!("*/{total_text}")
        };
        headers.insert(header::CONTENT_RANGE, header_value(&range));
    }
    if let Some(count) = shape.count {
        headers.insert(PREFERENCE_APPLIED, HeaderValue::from_static(count.as_str()));
    }
    headers.insert(header::VARY, VARY.clone());
    if let Some(raw) = result.headers.as_deref() {
        apply_response_headers(headers, raw)?;
    }
    Ok(res)
}

/// The `response.headers` a function set: a JSON array of one-key objects.
/// A name's first entry replaces the header this crate would send; later ones add to it.
fn apply_response_headers(headers: &mut http::HeaderMap, raw: &str) -> Result<(), Error> {
    let invalid = || {
        Error::new(ErrorKind::Internal, "Invalid response.headers")
            .with_details(
                "response.headers must be a JSON array of single-key objects with string values",
            )
            .with_postgrest_code("PGRST111")
    };
    let list: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(raw).map_err(|_| invalid())?;
    let mut seen: Vec<HeaderName> = Vec::new();
    for entry in list {
        let mut entry = entry.into_iter();
        let (Some((name, serde_json::Value::String(value))), None) = (entry.next(), entry.next())
        else {
            return Err(invalid());
        };
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let value = HeaderValue::from_str(&value).map_err(|_| invalid())?;
        if seen.contains(&name) {
            headers.append(name, value);
        } else {
            headers.insert(name.clone(), value);
            seen.push(name);
        }
    }
    Ok(())
}

fn write_response(
    plan: &WritePlan<'_>,
    method: &Method,
    result: WriteResult,
) -> Result<Response<RestBody>, Error> {
    let table = plan.table();
    let n = result.affected;
    if let WriteKind::Insert { put_key, .. } = &plan.kind {
        if !put_key.is_empty() && n == 0 {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                "Payload values do not match URL in primary key column(s)",
            )
            .with_postgrest_code("PGRST115"));
        }
    }
    let representation = plan.return_ == Return::Representation;
    let inserted = result.inserted.unwrap_or(n);
    let status = match *method {
        Method::POST if n > 0 && inserted == 0 => StatusCode::OK,
        Method::POST => StatusCode::CREATED,
        Method::PUT if representation && inserted > 0 => StatusCode::CREATED,
        _ if representation => StatusCode::OK,
        _ => StatusCode::NO_CONTENT,
    };
    let counted = plan.shape_count().is_some();
    let range = match *method {
        Method::PATCH if n > 0 => format!(
            "0-{}/{}",
            n - 1,
            if counted { n.to_string() } else { "*".into() }
        ),
        _ if counted => format!("*/{n}"),
        _ => "*/*".to_owned(),
    };
    let mut res = if representation {
        Response::new(RestBody::from(result.body))
    } else {
        Response::new(RestBody::empty())
    };
    *res.status_mut() = status;
    let headers = res.headers_mut();
    if representation {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(plan.shape.media.content_type()),
        );
    }
    headers.insert(header::CONTENT_RANGE, header_value(&range));
    if let (Some(key), 1) = (&result.location, n) {
        let mut location = format!("/{}?", utf8_percent_encode(&table.name, QUERY_COMPONENT));
        for (i, (column, value)) in table.primary_key.iter().zip(key).enumerate() {
            if i > 0 {
                location.push('&');
            }
            location.extend(utf8_percent_encode(column, QUERY_COMPONENT));
            match value {
                Some(v) => {
                    location.push_str("=eq.");
                    location.extend(utf8_percent_encode(v, QUERY_COMPONENT));
                }
                None => location.push_str("=is.null"),
            }
        }
        if let Ok(v) = HeaderValue::from_str(&location) {
            headers.insert(header::LOCATION, v);
        }
    }
    if !plan.applied.is_empty() {
        headers.insert(PREFERENCE_APPLIED, header_value(&plan.applied.join(", ")));
    }
    headers.insert(header::VARY, VARY.clone());
    Ok(res)
}

/// `Content-Location` as PostgREST writes it: the path, and the query
/// parameters sorted by name and percent-encoded.
fn content_location(path: &str, query: Option<&str>) -> String {
    match query {
        // Already in that form (the usual case): as is.
        Some(q) if is_canonical_query(q) => {
            let mut out = String::with_capacity(path.len() + 1 + q.len());
            out.push_str(path);
            out.push('?');
            out.push_str(q);
            out
        }
        _ => canonical_location(path, query),
    }
}

/// Whether sorting and re-encoding `query` would give it back unchanged:
/// `name=value` pairs in name order, of ASCII letters, digits and `-_.~` only.
fn is_canonical_query(query: &str) -> bool {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
    let mut previous: Option<&str> = None;
    for pair in query.split('&') {
        let Some((name, value)) = pair.split_once('=') else {
            return false;
        };
        if !name.bytes().chain(value.bytes()).all(unreserved) || previous.is_some_and(|p| p > name)
        {
            return false;
        }
        previous = Some(name);
    }
    true
}

/// [`content_location`] the long way: decode, sort, encode.
fn canonical_location(path: &str, query: Option<&str>) -> String {
    let mut pairs: Vec<_> = form_urlencoded::parse(query.unwrap_or("").as_bytes()).collect();
    if pairs.is_empty() {
        return path.to_owned();
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::with_capacity(path.len() + 1 + query.map_or(0, |q| q.len() * 2));
    out.push_str(path);
    out.push('?');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.extend(utf8_percent_encode(k, QUERY_COMPONENT));
        out.push('=');
        out.extend(utf8_percent_encode(v, QUERY_COMPONENT));
    }
    out
}

/// Everything but ASCII letters, digits and `-_.~` is percent-encoded.
const QUERY_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_location_sorts_and_encodes() {
        assert_eq!(content_location("/books", None), "/books");
        assert_eq!(
            content_location(
                "/books",
                Some("select=id,title&author_id=eq.1&title=eq.a+b")
            ),
            "/books?author_id=eq.1&select=id%2Ctitle&title=eq.a%20b"
        );
    }

    #[test]
    fn the_short_cut_agrees_with_the_long_way() {
        for q in [
            "id=eq.42",
            "a=1&b=2",
            "b=2&a=1",
            "a=1&a=0",
            "a=1&&b=2",
            "a&b=1",
            "=x",
            "a=b=c",
            "a=1&",
            "",
            "select=id,name&id=eq.1",
            "x=%41",
            "x=a+b",
            "k.z=1&k=2",
        ] {
            assert_eq!(
                content_location("/t", Some(q)),
                canonical_location("/t", Some(q)),
                "{q}"
            );
        }
    }
}
