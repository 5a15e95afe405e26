//! [`SchemaCache`]: the current [`Schema`] snapshot behind an atomic pointer.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

use super::Schema;
use super::introspect::load_schema;
use crate::db::{MakeTls, Pool};
use crate::error::Error;

type LoadFuture = Pin<Box<dyn Future<Output = Result<Schema, Error>> + Send>>;
type Loader = dyn Fn() -> LoadFuture + Send + Sync;

/// The schema cache: an immutable [`Schema`] snapshot that [`reload`](Self::reload) swaps.
///
/// Cheap to clone; clones share the snapshot. Requests take an `Arc<Schema>`
/// when they start and keep it, so a reload never changes a request in flight,
/// and a failed reload keeps the old snapshot.
///
/// ```no_run
/// # async fn demo(pool: tower_postgrest::Pool) -> Result<(), tower_postgrest::Error> {
/// use tower_postgrest::SchemaCache;
///
/// let cache = SchemaCache::load(pool, ["public"]).await?;
/// assert!(cache.snapshot().table("public", "books").is_some());
/// cache.reload().await?; // after a migration
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SchemaCache {
    inner: Arc<Inner>,
}

struct Inner {
    current: ArcSwap<Schema>,
    loader: Box<Loader>,
    generation: AtomicU64,
}

impl SchemaCache {
    /// Loads the first snapshot of `schemas` through `pool`.
    pub async fn load<T: MakeTls>(
        pool: Pool<T>,
        schemas: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Self, Error> {
        let schemas: Arc<[String]> = schemas.into_iter().map(Into::into).collect();
        let loader = move || -> LoadFuture {
            let pool = pool.clone();
            let schemas = Arc::clone(&schemas);
            Box::pin(async move {
                let conn = pool.get().await.map_err(crate::db::pool_error)?;
                load_schema(&conn.client, &schemas).await
            })
        };
        let first = loader().await?;
        let cache = Self {
            inner: Arc::new(Inner {
                current: ArcSwap::from_pointee(Schema::default()),
                loader: Box::new(loader),
                generation: AtomicU64::new(0),
            }),
        };
        cache.install(first);
        Ok(cache)
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Schema> {
        self.inner.current.load_full()
    }

    /// Loads a new snapshot and swaps it in. On error the old snapshot stays.
    pub async fn reload(&self) -> Result<(), Error> {
        match (self.inner.loader)().await {
            Ok(schema) => {
                self.install(schema);
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "schema cache reload failed; keeping the old snapshot");
                Err(e)
            }
        }
    }

    fn install(&self, mut schema: Schema) {
        schema.generation = self.inner.generation.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(
            tables = schema.tables.len(),
            generation = schema.generation,
            "schema cache loaded"
        );
        self.inner.current.store(Arc::new(schema));
    }
}

impl fmt::Debug for SchemaCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snapshot = self.snapshot();
        f.debug_struct("SchemaCache")
            .field("schemas", &snapshot.schemas)
            .field("tables", &snapshot.tables.len())
            .field("generation", &snapshot.generation)
            .finish()
    }
}
