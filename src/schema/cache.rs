//! [`SchemaCache`]: the current [`Schema`] snapshot behind an atomic pointer.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;

use super::Schema;
use super::introspect::load_schema;
use crate::db::{MakeTls, Pool};
use crate::error::Error;

/// A snapshot, and the catalog digest taken just before it was read (when it could be).
type LoadFuture = Pin<Box<dyn Future<Output = Result<(Schema, Option<String>), Error>> + Send>>;
type Loader = dyn Fn() -> LoadFuture + Send + Sync;
type FingerprintFuture = Pin<Box<dyn Future<Output = Result<String, Error>> + Send>>;
type Fingerprinter = dyn Fn() -> FingerprintFuture + Send + Sync;

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
    /// A cheap digest of the exposed schemas' catalog, for [`SchemaCache::watch_catalog`].
    fingerprint: Box<Fingerprinter>,
    generation: AtomicU64,
    last_load: std::sync::Mutex<Option<LoadStats>>,
    /// The catalog digest of the current snapshot (taken just before it was read).
    digest: std::sync::Mutex<Option<String>>,
}

/// How the last successful load went, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadStats {
    /// How long the catalog queries and the snapshot's construction took.
    pub duration: Duration,
    /// When it finished.
    pub finished_at: SystemTime,
    /// The snapshot's generation (1 for the first load).
    pub generation: u64,
    /// How many tables, views and functions the snapshot holds.
    pub relations: usize,
}

impl SchemaCache {
    /// Loads the first snapshot of `schemas` through `pool`.
    pub async fn load<T: MakeTls>(
        pool: Pool<T>,
        schemas: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Self, Error> {
        let schemas: Arc<[String]> = schemas.into_iter().map(Into::into).collect();
        let fingerprint = {
            let (pool, schemas) = (pool.clone(), Arc::clone(&schemas));
            move || -> FingerprintFuture {
                let (pool, schemas) = (pool.clone(), Arc::clone(&schemas));
                Box::pin(async move {
                    let conn = pool.get().await.map_err(crate::db::pool_error)?;
                    catalog_fingerprint(&conn.client, &schemas).await
                })
            }
        };
        let loader = move || -> LoadFuture {
            let pool = pool.clone();
            let schemas = Arc::clone(&schemas);
            Box::pin(async move {
                let conn = pool.get().await.map_err(crate::db::pool_error)?;
                // The digest first: a change made while the snapshot is read
                // then shows as a difference at the next check, never as none.
                let digest = catalog_fingerprint(&conn.client, &schemas).await.ok();
                let schema = load_schema(&conn.client, &schemas).await?;
                Ok((schema, digest))
            })
        };
        let started = Instant::now();
        let first = loader().await.inspect_err(|_| count_load("FAIL"))?;
        let cache = Self {
            inner: Arc::new(Inner {
                current: ArcSwap::from_pointee(Schema::default()),
                loader: Box::new(loader),
                fingerprint: Box::new(fingerprint),
                generation: AtomicU64::new(0),
                last_load: std::sync::Mutex::new(None),
                digest: std::sync::Mutex::new(None),
            }),
        };
        cache.install(first, started.elapsed());
        Ok(cache)
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Schema> {
        self.inner.current.load_full()
    }

    /// Loads a new snapshot and swaps it in. On error the old snapshot stays.
    pub async fn reload(&self) -> Result<(), Error> {
        let started = Instant::now();
        match (self.inner.loader)().await {
            Ok(schema) => {
                self.install(schema, started.elapsed());
                Ok(())
            }
            Err(e) => {
                count_load("FAIL");
                tracing::error!(error = %e, "schema cache reload failed; keeping the old snapshot");
                Err(e)
            }
        }
    }

    /// How the last successful load went.
    pub fn last_load(&self) -> Option<LoadStats> {
        self.inner.last_load.lock().ok().and_then(|l| *l)
    }

    /// Reloads when the catalog of the exposed schemas changed since the
    /// current snapshot was read: one cheap query (a digest of their
    /// relations, columns, functions and keys) when nothing changed, which
    /// is the usual case. Answers whether it reloaded. For a service that
    /// may have missed notifications (it was not listening), before it
    /// serves again.
    ///
    /// ```no_run
    /// # async fn demo(cache: tower_postgrest::SchemaCache) -> Result<(), tower_postgrest::Error> {
    /// if cache.refresh().await? {
    ///     println!("the schema changed while nobody was looking");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn refresh(&self) -> Result<bool, Error> {
        let now = (self.inner.fingerprint)().await?;
        self.reload_unless(&now).await
    }

    /// [`refresh`](Self::refresh), reading the digest on `client`.
    async fn refresh_on(&self, client: &tokio_postgres::Client) -> Result<bool, Error> {
        let schemas = self.snapshot().schemas.clone();
        let now = catalog_fingerprint(client, &schemas).await?;
        self.reload_unless(&now).await
    }

    /// Reloads unless `digest` is the current snapshot's.
    async fn reload_unless(&self, digest: &str) -> Result<bool, Error> {
        let same = self
            .inner
            .digest
            .lock()
            .ok()
            .is_some_and(|d| d.as_deref() == Some(digest));
        if same {
            return Ok(false);
        }
        self.reload().await.map(|()| true)
    }

    fn install(&self, (mut schema, digest): (Schema, Option<String>), duration: Duration) {
        schema.generation = self.inner.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let stats = LoadStats {
            duration,
            finished_at: SystemTime::now(),
            generation: schema.generation,
            relations: schema.tables.len() + schema.functions.len(),
        };
        tracing::debug!(
            tables = schema.tables.len(),
            generation = schema.generation,
            ms = duration.as_millis() as u64,
            "schema cache loaded"
        );
        self.inner.current.store(Arc::new(schema));
        if let Ok(mut d) = self.inner.digest.lock() {
            *d = digest;
        }
        count_load("SUCCESS");
        metrics::gauge!("pgrst_schema_cache_query_time_seconds").set(duration.as_secs_f64());
        if let Ok(mut last) = self.inner.last_load.lock() {
            *last = Some(stats);
        }
    }

    /// Reloads on `NOTIFY pgrst` (empty payload or `'reload schema'`), as PostgREST does.
    ///
    /// A dedicated connection (not one of the pool's) LISTENs on the channel
    /// `pgrst`; notifications are debounced (the reload runs once things are
    /// quiet for 100 ms), the connection is re-established with exponential
    /// backoff (1 s up to 32 s) when it drops, and the cache reloads after each
    /// reconnection, since notifications may have been missed. The listener
    /// stops when the returned handle is dropped.
    ///
    /// ```no_run
    /// # async fn demo(cache: tower_postgrest::SchemaCache) -> Result<(), Box<dyn std::error::Error>> {
    /// let config: tokio_postgres::Config = "postgres://authenticator@localhost/app".parse()?;
    /// let _listener = cache.listen(config, tokio_postgres::NoTls);
    /// // … then, after a migration: NOTIFY pgrst, 'reload schema';
    /// # Ok(()) }
    /// ```
    pub fn listen<T: MakeTls>(&self, config: tokio_postgres::Config, tls: T) -> ReloadListener
    where
        T::S: Unpin + tokio::io::AsyncRead + tokio::io::AsyncWrite,
    {
        self.listen_on(CHANNEL, config, tls)
    }

    /// [`listen`](Self::listen) on the channel `channel` instead of `pgrst`
    /// (PostgREST's `db-channel`), for several services on one database.
    ///
    /// ```no_run
    /// # async fn demo(cache: tower_postgrest::SchemaCache) -> Result<(), Box<dyn std::error::Error>> {
    /// let config: tokio_postgres::Config = "postgres://authenticator@localhost/app".parse()?;
    /// let _listener = cache.listen_on("pgrst_api_v2", config, tokio_postgres::NoTls);
    /// // … then: NOTIFY pgrst_api_v2, 'reload schema';
    /// # Ok(()) }
    /// ```
    pub fn listen_on<T: MakeTls>(
        &self,
        channel: &str,
        config: tokio_postgres::Config,
        tls: T,
    ) -> ReloadListener
    where
        T::S: Unpin + tokio::io::AsyncRead + tokio::io::AsyncWrite,
    {
        let cache = self.clone();
        ReloadListener {
            task: tokio::spawn(listen_forever(cache, Arc::from(channel), config, tls, None)),
        }
    }

    /// Keeps the snapshot current on any database, with no setting: the one
    /// call for "new tables are served". It [`listen`](Self::listen)s for
    /// `NOTIFY pgrst` on a connection of its own, and where the
    /// [`DDL_WATCH_SQL`](Self::DDL_WATCH_SQL) event triggers are not
    /// installed (they need a superuser; Supabase installs them under the
    /// same names), it also checks the catalog digest every second on that
    /// same connection (one query of about a millisecond; see
    /// BENCHMARKS.md), reloading when it changed. Created, dropped and
    /// altered tables, views and functions all count. Each (re)connection
    /// checks the digest first, so changes made while it was away are not
    /// missed. Stops, closing its connection, when the handle is dropped.
    ///
    /// ```no_run
    /// # async fn demo(cache: tower_postgrest::SchemaCache) -> Result<(), Box<dyn std::error::Error>> {
    /// let config: tokio_postgres::Config = "postgres://authenticator@localhost/app".parse()?;
    /// let _current = cache.keep_current(config, tokio_postgres::NoTls);
    /// // CREATE TABLE public.todos (…) — served within about a second.
    /// # Ok(()) }
    /// ```
    pub fn keep_current<T: MakeTls>(&self, config: tokio_postgres::Config, tls: T) -> ReloadListener
    where
        T::S: Unpin + tokio::io::AsyncRead + tokio::io::AsyncWrite,
    {
        self.keep_current_every(KEEP_CURRENT_PERIOD, config, tls)
    }

    /// [`keep_current`](Self::keep_current), checking the digest every
    /// `period` instead of every second where the triggers are missing.
    ///
    /// ```no_run
    /// # async fn demo(cache: tower_postgrest::SchemaCache) -> Result<(), Box<dyn std::error::Error>> {
    /// let config: tokio_postgres::Config = "postgres://authenticator@localhost/app".parse()?;
    /// let _current = cache.keep_current_every(std::time::Duration::from_secs(2), config, tokio_postgres::NoTls);
    /// # Ok(()) }
    /// ```
    pub fn keep_current_every<T: MakeTls>(
        &self,
        period: Duration,
        config: tokio_postgres::Config,
        tls: T,
    ) -> ReloadListener
    where
        T::S: Unpin + tokio::io::AsyncRead + tokio::io::AsyncWrite,
    {
        let cache = self.clone();
        let period = period.max(Duration::from_millis(10));
        ReloadListener {
            task: tokio::spawn(listen_forever(
                cache,
                Arc::from(CHANNEL),
                config,
                tls,
                Some(period),
            )),
        }
    }
}

impl SchemaCache {
    /// Reloads every `period` (for databases where `NOTIFY` cannot reach the
    /// service, e.g. behind a transaction pooler). Stops when the handle is dropped.
    pub fn reload_every(&self, period: Duration) -> ReloadListener {
        let cache = self.clone();
        ReloadListener {
            task: tokio::spawn(async move {
                let mut ticks = tokio::time::interval(period);
                ticks.tick().await;
                loop {
                    ticks.tick().await;
                    let _ = cache.reload().await;
                }
            }),
        }
    }
}

impl SchemaCache {
    /// Reloads when the exposed schemas' catalog changes, checked every
    /// `period` with one cheap query (a digest of their relations, columns,
    /// functions and foreign keys): new tables appear, and dropped ones go,
    /// without anyone sending `NOTIFY`. For databases where the
    /// [`DDL_WATCH_SQL`](Self::DDL_WATCH_SQL) event triggers cannot be
    /// installed (they need a superuser), and behind transaction poolers.
    /// Stops when the handle is dropped.
    ///
    /// ```no_run
    /// # fn demo(cache: tower_postgrest::SchemaCache) {
    /// let _watch = cache.watch_catalog(std::time::Duration::from_secs(2));
    /// # }
    /// ```
    pub fn watch_catalog(&self, period: Duration) -> ReloadListener {
        let cache = self.clone();
        ReloadListener {
            task: tokio::spawn(async move {
                let mut ticks = tokio::time::interval(period);
                loop {
                    ticks.tick().await;
                    if let Err(e) = cache.refresh().await {
                        tracing::warn!(error = %e, "could not check the catalog for changes");
                    }
                }
            }),
        }
    }

    /// Event triggers that send `NOTIFY pgrst, 'reload schema'` after every
    /// DDL command and every drop (as Supabase installs them), so that a
    /// [`listen`](Self::listen)ing cache reloads by itself. Run it once per
    /// database, as a superuser; it replaces earlier versions of itself.
    ///
    /// ```no_run
    /// # async fn demo(admin: tokio_postgres::Client) -> Result<(), tokio_postgres::Error> {
    /// admin.batch_execute(tower_postgrest::SchemaCache::DDL_WATCH_SQL).await?;
    /// # Ok(()) }
    /// ```
    pub const DDL_WATCH_SQL: &'static str = "
CREATE OR REPLACE FUNCTION public.pgrst_watch() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  NOTIFY pgrst, 'reload schema';
END $$;
DROP EVENT TRIGGER IF EXISTS pgrst_ddl_watch;
CREATE EVENT TRIGGER pgrst_ddl_watch ON ddl_command_end EXECUTE FUNCTION public.pgrst_watch();
DROP EVENT TRIGGER IF EXISTS pgrst_drop_watch;
CREATE EVENT TRIGGER pgrst_drop_watch ON sql_drop EXECUTE FUNCTION public.pgrst_watch();
";
}

/// A digest of what a snapshot of `schemas` is made of: relations and their
/// columns, functions and foreign keys (their oids, names and types).
async fn catalog_fingerprint(
    client: &tokio_postgres::Client,
    schemas: &[String],
) -> Result<String, Error> {
    use tokio_postgres::types::{ToSql, Type};

    let schemas = schemas.to_vec();
    let params: [(&(dyn ToSql + Sync), Type); 1] = [(&schemas, Type::TEXT_ARRAY)];
    let rows = client
        .query_typed(crate::sql::catalog::FINGERPRINT, &params)
        .await
        .map_err(Error::from_pg)?;
    rows.first()
        .and_then(|r| r.try_get::<_, String>(0).ok())
        .ok_or_else(|| Error::new(crate::ErrorKind::Internal, "No catalog fingerprint"))
}

/// Counts a schema cache load through the `metrics` facade, with
/// PostgREST's name and its `status` label.
fn count_load(status: &'static str) {
    metrics::counter!("pgrst_schema_cache_loads_total", "status" => status).increment(1);
}

/// The task reloading a [`SchemaCache`] on notifications or a timer; stops when dropped.
#[derive(Debug)]
pub struct ReloadListener {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ReloadListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `application_name` of the listener's connection, unless its configuration names one.
pub(crate) const LISTENER_NAME: &str = "tower-postgrest schema listener";
/// The notification channel, as PostgREST's default `db-channel`.
const CHANNEL: &str = "pgrst";
/// How often [`SchemaCache::keep_current`] checks the digest where no trigger notifies.
const KEEP_CURRENT_PERIOD: Duration = Duration::from_secs(1);
/// Notifications within this interval of each other cause one reload.
const DEBOUNCE: Duration = Duration::from_millis(100);
/// The longest a reload waits for notifications to stop coming.
const DEBOUNCE_MAX: Duration = Duration::from_secs(1);
/// The longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(32);

/// Whether the [`SchemaCache::DDL_WATCH_SQL`] event triggers (Supabase's
/// have the same names) are installed and enabled.
async fn ddl_triggers(client: &tokio_postgres::Client) -> bool {
    match client
        .query_one(crate::sql::catalog::DDL_TRIGGERS, &[])
        .await
    {
        Ok(row) => row.try_get::<_, bool>(0).unwrap_or(false),
        Err(_) => false,
    }
}

async fn listen_forever<T: MakeTls>(
    cache: SchemaCache,
    channel: Arc<str>,
    config: tokio_postgres::Config,
    tls: T,
    poll: Option<Duration>,
) where
    T::S: Unpin + tokio::io::AsyncRead + tokio::io::AsyncWrite,
{
    let mut backoff = Duration::from_secs(1);
    // Named, so that it shows for what it is in pg_stat_activity.
    let mut config = config;
    if config.get_application_name().is_none() {
        config.application_name(LISTENER_NAME);
    }
    loop {
        match config.connect(tls.clone()).await {
            Ok((client, mut connection)) => {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
                let ours = Arc::clone(&channel);
                let driver = tokio::spawn(async move {
                    let mut messages =
                        futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(message) = futures_util::StreamExt::next(&mut messages).await {
                        match message {
                            Ok(tokio_postgres::AsyncMessage::Notification(n))
                                if n.channel() == &*ours =>
                            {
                                if tx.send(n.payload().to_owned()).is_err() {
                                    break;
                                }
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                });
                let listen = crate::sql::catalog::listen(&channel);
                if let Err(e) = client.batch_execute(&listen).await {
                    tracing::warn!(error = %e, "could not LISTEN for schema reloads");
                    driver.abort();
                } else {
                    tracing::debug!(%channel, "listening for schema reloads");
                    backoff = Duration::from_secs(1);
                    // Where the DDL event triggers notify this channel, the
                    // notifications say it all; elsewhere the digest is
                    // polled on this same connection.
                    let poll = match poll {
                        Some(p) if !(&*channel == CHANNEL && ddl_triggers(&client).await) => {
                            Some(p)
                        }
                        _ => None,
                    };
                    serve_connection(&cache, &client, &mut rx, poll).await;
                    tracing::warn!("the schema reload listener lost its connection; reconnecting");
                }
                drop(client);
            }
            Err(e) => tracing::warn!(error = %e, "could not connect to listen for schema reloads"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One listening connection, until it is lost: reloads on the notifications
/// in `rx` (debounced), and with `poll`, checks the digest on `client` that often.
async fn serve_connection(
    cache: &SchemaCache,
    client: &tokio_postgres::Client,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    poll: Option<Duration>,
) {
    let mut ticks = poll.map(|p| {
        let mut t = tokio::time::interval(p);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    if ticks.is_none() {
        // Notifications may have been missed while not listening (through
        // the pool: this connection's last statement stays its LISTEN, for
        // operators).
        let _ = cache.refresh().await;
    }
    loop {
        let payload = match ticks.as_mut() {
            None => rx.recv().await,
            Some(ticks) => tokio::select! {
                payload = rx.recv() => payload,
                _ = ticks.tick() => {
                    if let Err(e) = cache.refresh_on(client).await {
                        tracing::warn!(error = %e, "could not check the catalog for changes");
                    }
                    continue;
                }
            },
        };
        let Some(payload) = payload else { return };
        let mut reload = wants_schema_reload(&payload);
        // Debounce: gather what arrives while things are busy, but never for
        // longer than DEBOUNCE_MAX (a steady stream of notifications must not
        // starve the reload).
        let until = tokio::time::Instant::now() + DEBOUNCE_MAX;
        loop {
            let wait = DEBOUNCE.min(until.saturating_duration_since(tokio::time::Instant::now()));
            match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(more)) => reload |= wants_schema_reload(&more),
                _ => break,
            }
        }
        if reload {
            let _ = cache.reload().await;
        }
    }
}

/// `NOTIFY pgrst` and `NOTIFY pgrst, 'reload schema'` reload the schema cache.
fn wants_schema_reload(payload: &str) -> bool {
    matches!(payload.trim(), "" | "reload schema")
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
