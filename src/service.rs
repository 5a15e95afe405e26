//! [`RestService`], its builder and its future.

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
use crate::db::{self, MakeTls, Pool, RequestContext};
use crate::error::{Error, ErrorKind};
use crate::layer::DbRole;
use crate::plan::{self, PlanConfig};
use crate::request::{self, Count};
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
    /// `search_path` value: the exposed schemas, quoted.
    search_path: String,
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
}

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
        let search_path = self
            .schemas
            .iter()
            .map(|s| format!("\"{}\"", s.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(RestService {
            shared: Arc::new(Shared {
                pool: self.pool,
                cache,
                anon_role: self.anon_role.map(DbRole::new),
                plan: PlanConfig {
                    max_rows: self.max_rows,
                },
                search_path,
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
                    Err(e) => e.to_response(),
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

impl<T: MakeTls> Shared<T> {
    async fn handle<B>(&self, req: Request<B>) -> Result<Response<RestBody>, Error> {
        let method = req.method();
        if method != Method::GET && method != Method::HEAD {
            return Err(match *method {
                Method::POST | Method::PUT | Method::PATCH | Method::DELETE | Method::OPTIONS => {
                    Error::new(
                        ErrorKind::NotImplemented,
                        format!("The {method} method is not supported yet"),
                    )
                    .with_postgrest_code("PGRST127")
                }
                _ => Error::new(
                    ErrorKind::MethodNotAllowed,
                    format!("Unsupported HTTP method: {method}"),
                )
                .with_postgrest_code("PGRST117"),
            });
        }
        let api = request::parse(method, req.uri().path(), req.uri().query(), req.headers())?;
        let schema: Arc<Schema> = match req.extensions().get::<Arc<Schema>>() {
            Some(s) => Arc::clone(s),
            None => self.cache.snapshot(),
        };
        let role = match req.extensions().get::<DbRole>().or(self.anon_role.as_ref()) {
            Some(role) => role,
            None => {
                return Err(
                    Error::new(ErrorKind::Unauthorized, "Anonymous access is disabled")
                        .with_postgrest_code("PGRST302"),
                );
            }
        };
        let plan = plan::plan(&api, &schema, &self.plan)?;
        let stmts = sql::render_read(&plan)?;
        let claims = role.claims_json();
        let ctx = RequestContext {
            role: role.role(),
            claims: &claims,
            method: method.as_str(),
            path: req.uri().path(),
            search_path: &self.search_path,
        };
        let result = db::run_read(&self.pool, schema.generation, &ctx, &stmts).await?;

        if plan.media.is_singular() && result.page_total != 1 {
            return Err(Error::new(
                ErrorKind::NotAcceptable,
                "Cannot coerce the result to a single JSON object",
            )
            .with_details(format!("The result contains {} rows", result.page_total))
            .with_postgrest_code("PGRST116"));
        }

        let counted = || result.total.unwrap_or(result.page_total);
        let total = match plan.count {
            None => None,
            Some(Count::Exact) => Some(counted()),
            Some(Count::Planned) => result.planned,
            Some(Count::Estimated) => match plan.max_rows {
                Some(max) if counted() > max => Some(counted().max(result.planned.unwrap_or(0))),
                _ => Some(counted()),
            },
        };
        let total_text = total.map_or_else(|| "*".to_owned(), |t| t.to_string());
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
                .with_header(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("*/{total}"))
                        .unwrap_or(HeaderValue::from_static("*/*")),
                ));
            }
        }
        let range = if result.page_total > 0 {
            format!(
                "{}-{}/{total_text}",
                plan.offset,
                plan.offset + result.page_total - 1
            )
        } else {
            format!("*/{total_text}")
        };
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
        if let Ok(v) = HeaderValue::from_str(&range) {
            headers.insert(header::CONTENT_RANGE, v);
        }
        if let Ok(v) = HeaderValue::from_str(&content_location(req.uri().path(), req.uri().query()))
        {
            headers.insert(header::CONTENT_LOCATION, v);
        }
        if let Some(count) = plan.count {
            headers.insert(
                HeaderName::from_static("preference-applied"),
                HeaderValue::from_static(count.as_str()),
            );
        }
        headers.insert(header::VARY, VARY.clone());
        Ok(res)
    }
}

/// `Content-Location` as PostgREST writes it: the path, and the query
/// parameters sorted by name and percent-encoded.
fn content_location(path: &str, query: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    if pairs.is_empty() {
        return path.to_owned();
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::from(path);
    out.push('?');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.extend(percent_encoding::utf8_percent_encode(k, QUERY_COMPONENT));
        out.push('=');
        out.extend(percent_encoding::utf8_percent_encode(v, QUERY_COMPONENT));
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
}
