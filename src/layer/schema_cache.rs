//! [`SchemaSnapshotLayer`]: puts the current schema snapshot into each request.
//!
//! [`RestService`](crate::RestService) uses an `Arc<Schema>` it finds in the
//! request's extensions instead of its own cache. This layer inserts the
//! snapshot of a [`SchemaCache`] — one cache shared by several mounted services,
//! or a snapshot chosen once per request for everything behind the layer.
//!
//! ```no_run
//! # async fn demo(cache: tower_postgrest::SchemaCache, rest: tower_postgrest::RestService) {
//! use tower::ServiceBuilder;
//! use tower_postgrest::layer::SchemaSnapshotLayer;
//!
//! let api = ServiceBuilder::new()
//!     .layer(SchemaSnapshotLayer::new(cache))
//!     .service(rest);
//! # }
//! ```

use std::task::{Context, Poll};

use http::Request;
use tower_layer::Layer;
use tower_service::Service;

use crate::schema::SchemaCache;

/// The layer of [`SchemaSnapshot`]; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct SchemaSnapshotLayer {
    cache: SchemaCache,
}

impl SchemaSnapshotLayer {
    /// Inserts snapshots of `cache`.
    pub fn new(cache: SchemaCache) -> Self {
        Self { cache }
    }
}

impl<S> Layer<S> for SchemaSnapshotLayer {
    type Service = SchemaSnapshot<S>;

    fn layer(&self, inner: S) -> SchemaSnapshot<S> {
        SchemaSnapshot {
            inner,
            cache: self.cache.clone(),
        }
    }
}

/// Inserts the current schema snapshot into each request; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct SchemaSnapshot<S> {
    inner: S,
    cache: SchemaCache,
}

impl<S, B> Service<Request<B>> for SchemaSnapshot<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> S::Future {
        req.extensions_mut().insert(self.cache.snapshot());
        self.inner.call(req)
    }
}
