//! Tower layers around [`RestService`](crate::RestService), and the request
//! extensions through which they talk to it.
//!
//! Every layer is optional. An auth layer of the application's own only has to
//! insert [`Claims`] (then [`SetRoleLayer`] picks the role) or a [`DbRole`]
//! into the request's extensions; without either, the service uses its
//! anonymous role, or answers 401 when it has none.
//!
//! ```no_run
//! # async fn demo(rest: tower_postgrest::RestService) -> Result<(), tower_postgrest::Error> {
//! use tower::ServiceBuilder;
//! use tower_postgrest::layer::{JwtAuthLayer, SetRoleLayer};
//!
//! let api = ServiceBuilder::new()
//!     .layer(JwtAuthLayer::secret("a-development-secret-of-32-chars!")?)
//!     .layer(SetRoleLayer::new().anon_role("anon"))
//!     .service(rest);
//! let app: axum::Router = axum::Router::new().nest_service("/rest/v1", api);
//! # Ok(()) }
//! ```

#[cfg(feature = "jwt")]
mod api_keys;
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub mod auth;
pub mod cors;
pub mod error;
#[cfg(feature = "jwks-url")]
mod jwks;
#[cfg(feature = "jwt")]
mod keys;
pub mod role;
pub mod schema_cache;
#[cfg(feature = "jwt")]
mod token;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

#[cfg(feature = "jwt")]
pub use auth::{JwtAuth, JwtAuthLayer};
pub use cors::{Cors, CorsLayer};
pub use error::{ErrorMapping, ErrorMappingLayer};
pub use role::{ClaimPath, Claims, DbRole, ResolveRole, SetRole, SetRoleLayer};
pub(crate) use role::{Resolver, anonymous_disabled, choose_role};
pub use schema_cache::{SchemaSnapshot, SchemaSnapshotLayer};

use crate::body::RestBody;

/// How long the auth layer took to verify a request's token: a request
/// extension that [`RestService`](crate::RestService)'s `Server-Timing`
/// reports as `jwt` (inserted by `JwtAuthLayer::server_timing`, or by a
/// host's own auth layer).
///
/// ```
/// use std::time::Duration;
/// use tower_postgrest::layer::JwtTiming;
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(JwtTiming(Duration::from_micros(80)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JwtTiming(pub std::time::Duration);

pin_project! {
    /// The future of this module's layers: the inner service's, or an answer of the layer's own.
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Inner { #[pin] fut: F },
        Reject { res: Option<Response<RestBody>> },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn inner(fut: F) -> Self {
        Self {
            state: State::Inner { fut },
        }
    }

    pub(crate) fn reject(res: Response<RestBody>) -> Self {
        Self {
            state: State::Reject { res: Some(res) },
        }
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<RestBody>, E>>,
{
    type Output = Result<Response<RestBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { fut } => fut.poll(cx),
            StateProj::Reject { res } => match res.take() {
                Some(res) => Poll::Ready(Ok(res)),
                None => Poll::Pending,
            },
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
