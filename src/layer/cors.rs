//! [`CorsLayer`]: CORS as PostgREST answers it.
//!
//! Only requests with an `Origin` get CORS headers. By default any origin is
//! allowed (`Access-Control-Allow-Origin: *`); with [`CorsLayer::allowed_origins`]
//! a listed origin is echoed with `Access-Control-Allow-Credentials: true` and
//! any other gets no CORS headers; every response then says `Vary: Origin`,
//! so that a cache does not serve one origin's answer to another. Preflights
//! (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) are answered
//! here, without the inner service: browsers send them without credentials,
//! and the answer says nothing about the schema. This layer is for parity with PostgREST; tower-http's `CorsLayer`
//! is the more configurable choice when you do not need it.
//!
//! ```
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_postgrest::layer::CorsLayer;
//! use tower_postgrest::RestBody;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let svc = ServiceBuilder::new()
//!     .layer(CorsLayer::new())
//!     .service_fn(|_: http::Request<()>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(RestBody::empty()))
//!     });
//! let req = http::Request::get("/").header("origin", "https://example.com").body(())?;
//! let res = svc.oneshot(req).await?;
//! assert_eq!(res.headers()["access-control-allow-origin"], "*");
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::header::{self, HeaderValue};
use http::{Method, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::RestBody;

const ALLOW_METHODS: &str = "GET, POST, PATCH, PUT, DELETE, OPTIONS, HEAD";
const EXPOSE_HEADERS: &str = "Content-Encoding, Content-Location, Content-Range, Content-Type, \
     Date, Location, Server, Transfer-Encoding, Range-Unit";
/// Headers browsers send without a preflight.
const SIMPLE_HEADERS: &str = "Accept, Accept-Language, Content-Language";

/// The layer of [`Cors`]; see the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct CorsLayer {
    /// `None`: any origin.
    origins: Option<Arc<[String]>>,
}

impl CorsLayer {
    /// Allows any origin, as PostgREST does by default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows only these origins (PostgREST's `server-cors-allowed-origins`).
    #[must_use]
    pub fn allowed_origins(mut self, origins: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.origins = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// The `Access-Control-Allow-Origin` for `origin`, and whether credentials are allowed.
    fn allow(&self, origin: &HeaderValue) -> Option<(HeaderValue, bool)> {
        match &self.origins {
            None => Some((HeaderValue::from_static("*"), false)),
            Some(list) => {
                let origin_str = origin.to_str().ok()?;
                list.iter()
                    .any(|o| o == origin_str)
                    .then(|| (origin.clone(), true))
            }
        }
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Cors<S> {
        Cors {
            inner,
            layer: self.clone(),
        }
    }
}

/// Adds CORS headers and answers preflights; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Cors<S> {
    inner: S,
    layer: CorsLayer,
}

impl<S, B> Service<Request<B>> for Cors<S>
where
    S: Service<Request<B>, Response = Response<RestBody>>,
{
    type Response = Response<RestBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let mut allowed = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| self.layer.allow(o));
        // Any origin allowed: an OPTIONS without `Origin` says so too, as PostgREST.
        if allowed.is_none()
            && self.layer.origins.is_none()
            && req.method() == Method::OPTIONS
            && !req.headers().contains_key(header::ORIGIN)
        {
            allowed = Some((HeaderValue::from_static("*"), false));
        }
        let preflight = req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if let (true, Some((origin, credentials))) = (preflight, &allowed) {
            let mut res = Response::new(RestBody::empty());
            let headers = res.headers_mut();
            allow_origin(headers, origin.clone(), *credentials);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOW_METHODS),
            );
            let requested = req
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.trim().is_empty());
            // As PostgREST: Authorization, the headers asked for, then the
            // simple ones (a JSON body's Content-Type is among those asked for).
            let allow_headers = match requested {
                Some(r) => {
                    let asked: Vec<&str> = r
                        .split(',')
                        .map(str::trim)
                        .filter(|h| !h.is_empty())
                        .collect();
                    format!("Authorization, {}, {SIMPLE_HEADERS}", asked.join(", "))
                }
                None => format!("Authorization, {SIMPLE_HEADERS}"),
            };
            if let Ok(v) = HeaderValue::from_str(&allow_headers) {
                headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
            }
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("86400"),
            );
            if self.layer.origins.is_some() {
                vary_origin(headers);
            }
            return ResponseFuture {
                state: State::Preflight { res: Some(res) },
            };
        }
        ResponseFuture {
            state: State::Inner {
                fut: self.inner.call(req),
                allowed,
                vary: self.layer.origins.is_some(),
            },
        }
    }
}

pin_project! {
    /// The future of [`Cors`].
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        // The inner service's answer, to which CORS headers are added.
        // `vary`: the answer depends on the origin (a list of origins is set).
        Inner { #[pin] fut: F, allowed: Option<(HeaderValue, bool)>, vary: bool },
        // A preflight answered by the layer.
        Preflight { res: Option<Response<RestBody>> },
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<RestBody>, E>>,
{
    type Output = Result<Response<RestBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Preflight { res } => match res.take() {
                Some(res) => Poll::Ready(Ok(res)),
                None => Poll::Pending,
            },
            StateProj::Inner { fut, allowed, vary } => {
                let mut res = ready!(fut.poll(cx))?;
                if *vary {
                    vary_origin(res.headers_mut());
                }
                if let Some((origin, credentials)) = allowed.take() {
                    let headers = res.headers_mut();
                    allow_origin(headers, origin, credentials);
                    headers.insert(
                        header::ACCESS_CONTROL_EXPOSE_HEADERS,
                        HeaderValue::from_static(EXPOSE_HEADERS),
                    );
                }
                Poll::Ready(Ok(res))
            }
        }
    }
}

/// Adds `Origin` to `Vary`, beside whatever the response varies on already.
fn vary_origin(headers: &mut http::HeaderMap) {
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

/// `Access-Control-Allow-Origin`, and `-Allow-Credentials` when they are allowed.
fn allow_origin(headers: &mut http::HeaderMap, origin: HeaderValue, credentials: bool) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    if credentials {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}
