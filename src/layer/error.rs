//! [`ErrorMappingLayer`]: renders every error of the stack in one dialect.
//!
//! Each layer of this crate, and [`RestService`](crate::RestService), answers
//! an error with a response that carries the [`Error`] as an `Arc<Error>`
//! extension. Outermost, this layer renders those responses again with its
//! mapper, so that the JWT layer's 401s and the service's errors speak the same
//! dialect:
//!
//! ```
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_postgrest::layer::ErrorMappingLayer;
//! use tower_postgrest::{Error, ErrorKind};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let svc = ServiceBuilder::new()
//!     .layer(ErrorMappingLayer::postgrest())
//!     .service_fn(|_: http::Request<()>| async {
//!         let err = Error::new(ErrorKind::NotFound, "Could not find the table 'public.x' in the schema cache")
//!             .with_postgrest_code("PGRST205");
//!         Ok::<_, std::convert::Infallible>(err.to_response())
//!     });
//! let res = svc.oneshot(http::Request::new(())).await?;
//! assert_eq!(res.headers()["proxy-status"], "PostgREST; error=PGRST205");
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::RestBody;
use crate::error::{Error, ErrorMapper, PostgRest, Powabase};

/// The layer of [`ErrorMapping`]; see the [module docs](self).
#[derive(Clone)]
pub struct ErrorMappingLayer {
    mapper: Arc<dyn ErrorMapper>,
}

impl fmt::Debug for ErrorMappingLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorMappingLayer").finish_non_exhaustive()
    }
}

impl ErrorMappingLayer {
    /// Renders errors with `mapper`.
    pub fn new(mapper: impl ErrorMapper) -> Self {
        Self {
            mapper: Arc::new(mapper),
        }
    }

    /// PostgREST's codes, statuses and headers ([`PostgRest`]).
    pub fn postgrest() -> Self {
        Self::new(PostgRest)
    }

    /// This crate's default table ([`Powabase`]).
    pub fn powabase() -> Self {
        Self::new(Powabase)
    }
}

impl<S> Layer<S> for ErrorMappingLayer {
    type Service = ErrorMapping<S>;

    fn layer(&self, inner: S) -> ErrorMapping<S> {
        ErrorMapping {
            inner,
            mapper: Arc::clone(&self.mapper),
        }
    }
}

/// Renders the errors of the inner service with a mapper; see the [module docs](self).
#[derive(Clone)]
pub struct ErrorMapping<S> {
    inner: S,
    mapper: Arc<dyn ErrorMapper>,
}

impl<S: fmt::Debug> fmt::Debug for ErrorMapping<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorMapping")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<Request<B>> for ErrorMapping<S>
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
        ResponseFuture {
            inner: self.inner.call(req),
            mapper: Arc::clone(&self.mapper),
        }
    }
}

pin_project! {
    /// The future of [`ErrorMapping`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        mapper: Arc<dyn ErrorMapper>,
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
        let this = self.project();
        let res = ready!(this.inner.poll(cx))?;
        Poll::Ready(Ok(match res.extensions().get::<Arc<Error>>().cloned() {
            Some(error) => {
                let mut mapped = this.mapper.render(&error);
                mapped.extensions_mut().insert(error);
                mapped
            }
            None => res,
        }))
    }
}
