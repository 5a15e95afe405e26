//! The pool: connection manager, the pooled connection with its statement
//! cache, and what a failed checkout answers.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use bb8_postgres::PostgresConnectionManager;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Socket, Statement};

use super::conninfo::SslMode;
#[cfg(feature = "rustls")]
use super::tls;
use super::{connect, conninfo, direct};
use crate::error::{BoxError, Error, ErrorKind};
use crate::sql;

/// The TLS connectors a pool can use: those of `bb8-postgres`
/// (`tokio_postgres::NoTls`, `postgres-native-tls`, `tokio-postgres-rustls`, ...).
pub trait MakeTls:
    MakeTlsConnect<Socket, Stream = Self::S, TlsConnect = Self::C> + Clone + Send + Sync + 'static
{
    #[doc(hidden)]
    type S: Send + Sync;
    #[doc(hidden)]
    type C: TlsConnect<Socket, Stream = Self::S, Future = Self::F> + Send;
    #[doc(hidden)]
    type F: Send;
}

impl<T> MakeTls for T
where
    T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    T::Stream: Send + Sync,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    type S = T::Stream;
    type C = T::TlsConnect;
    type F = <T::TlsConnect as TlsConnect<Socket>>::Future;
}

/// A `bb8` pool of connections with a prepared-statement cache each.
///
/// Build it from a [`ConnectionManager`]; see its docs.
pub type Pool<T = tokio_postgres::NoTls> = bb8::Pool<ConnectionManager<T>>;

/// A `bb8` connection manager: `bb8-postgres`'s, plus a statement cache per connection.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use tower_postgrest::ConnectionManager;
///
/// let manager = ConnectionManager::from_url("postgres://authenticator@localhost/app", tokio_postgres::NoTls)?;
/// let pool = manager.pool_builder().max_size(10).build(manager).await?;
/// # Ok(()) }
/// ```
pub struct ConnectionManager<T: MakeTlsConnect<Socket> = tokio_postgres::NoTls> {
    inner: PostgresConnectionManager<T>,
    /// For cancel requests, when known.
    tls: Option<T>,
    /// The settings, when the manager was built from them.
    config: Option<tokio_postgres::Config>,
    /// Whether connections keep named prepared statements.
    prepared: bool,
    /// Statements each connection keeps before its cache starts over.
    cache_size: usize,
    /// Where to open sockets for connections that run requests in one
    /// `Sync`, when the pool can (see [`from_config`](Self::from_config)).
    direct: Option<Arc<connect::Endpoint>>,
    /// Connections open across pools: each holds a permit while it lives.
    budget: Option<Arc<tokio::sync::Semaphore>>,
}

impl<T: MakeTls> ConnectionManager<T> {
    /// Wraps a `bb8-postgres` manager. Its TLS connector is not visible, so a
    /// request whose client goes away cannot cancel its query; prefer
    /// [`from_config`](Self::from_config) or [`from_url`](Self::from_url).
    ///
    /// Its connections run every statement through tokio-postgres, one `Sync`
    /// each; [`from_config`](Self::from_config) can do better.
    pub fn new(inner: PostgresConnectionManager<T>) -> Self {
        Self {
            inner,
            tls: None,
            config: None,
            prepared: true,
            cache_size: STATEMENT_CACHE_SIZE,
            direct: None,
            budget: None,
        }
    }

    /// A manager for `config`.
    ///
    /// When `config` names its hosts and `tls` is `tokio_postgres::NoTls`
    /// (or `sslmode=disable`) or the rustls connector of
    /// [`rustls`](ConnectionManager::rustls) (`tokio_postgres_rustls::MakeRustlsConnect`),
    /// the manager opens the sockets and negotiates TLS itself, and requests
    /// send their context and statement with a single `Sync`: one implicit
    /// transaction instead of `BEGIN`, two statements and `COMMIT`, which
    /// halves PostgreSQL's protocol work per request. (A write whose result
    /// decides between commit and rollback still runs a transaction block.)
    /// Several hosts, `hostaddr`, `load_balance_hosts=random` and
    /// `target_session_attrs` work as in libpq. Other TLS connectors run
    /// every statement through tokio-postgres.
    pub fn from_config(config: tokio_postgres::Config, tls: T) -> Self {
        let any: &dyn std::any::Any = &tls;
        let plain = any.is::<tokio_postgres::NoTls>()
            || config.get_ssl_mode() == tokio_postgres::config::SslMode::Disable;
        #[cfg(feature = "rustls")]
        let own_tls = any.downcast_ref::<connect::Tls>().cloned();
        #[cfg(not(feature = "rustls"))]
        let own_tls = None;
        let direct = if plain {
            let mut config = config.clone();
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
            connect::Endpoint::of(&config, None)
        } else {
            own_tls.and_then(|tls| connect::Endpoint::of(&config, Some(tls)))
        };
        Self {
            inner: PostgresConnectionManager::new(config.clone(), tls.clone()),
            tls: Some(tls),
            config: Some(config),
            prepared: true,
            cache_size: STATEMENT_CACHE_SIZE,
            direct: direct.map(Arc::new),
            budget: None,
        }
    }

    /// A manager for the connection string `url` (`postgres://…` or
    /// `key=value` form), with `tls` as the connector.
    ///
    /// `sslmode` may be `disable`, `allow`, `prefer`, `require`, `verify-ca`
    /// or `verify-full`, and `sslrootcert` a PEM file or `system`, as in libpq;
    /// with `tokio_postgres::NoTls`, a mode that needs TLS is an error here
    /// rather than at the first connection. [`rustls`](ConnectionManager::rustls)
    /// builds the connector from the string itself.
    pub fn from_url(url: &str, tls: T) -> Result<Self, Error> {
        let (config, settings) = conninfo::split(url)?;
        let any: &dyn std::any::Any = &tls;
        if any.is::<tokio_postgres::NoTls>()
            && !matches!(
                settings.effective_mode()?,
                SslMode::Disable | SslMode::Prefer
            )
        {
            return Err(Error::new(ErrorKind::Internal, "Invalid database connection string")
                .with_details(format!(
                    "sslmode={:?} needs TLS, and the connector is NoTls: build the manager with ConnectionManager::rustls",
                    settings.mode
                )));
        }
        Ok(Self::from_config(config, tls))
    }

    /// Whether connections prepare named statements and keep them for the
    /// next request (default `true`, PostgREST's `db-prepared-statements`).
    ///
    /// Turn it off behind a transaction pooler that does not carry prepared
    /// statements from one transaction to the next (PgBouncer before 1.21,
    /// or without `max_prepared_statements`; Supavisor in transaction mode):
    /// every statement is then sent unnamed, parsed again each time, still
    /// in one round trip per request and, where the request allows, one
    /// `Sync`. Run such a deployment without [`SchemaCache::listen`](crate::SchemaCache::listen)
    /// too (a pooler cannot carry `LISTEN`); [`SchemaCache::reload_every`](crate::SchemaCache::reload_every)
    /// is the alternative.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use tower_postgrest::ConnectionManager;
    ///
    /// let manager = ConnectionManager::rustls("postgres://authenticator@pooler.internal:6432/app")?
    ///     .prepared_statements(false);
    /// let pool = manager.pool_builder().build(manager).await?;
    /// # Ok(()) }
    /// ```
    pub fn prepared_statements(mut self, on: bool) -> Self {
        self.prepared = on;
        self
    }

    /// How many prepared statements each connection keeps (default 512);
    /// past it, the cache starts over before the next request that needs
    /// room, never in the middle of one. For tests of that boundary.
    #[doc(hidden)]
    pub fn statement_cache_size(mut self, statements: usize) -> Self {
        self.cache_size = statements.max(2);
        self
    }

    /// The connection settings and TLS connector the manager connects with
    /// (`None` when built by [`new`](Self::new)): for a connection of one's
    /// own to the same database, such as [`SchemaCache::listen`](crate::SchemaCache::listen)'s.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use tower_postgrest::{ConnectionManager, RestService};
    ///
    /// let manager = ConnectionManager::rustls("postgres://authenticator@db.example.com/app?sslmode=verify-full")?;
    /// let (config, tls) = manager.settings().expect("built from a URL");
    /// let pool = manager.pool_builder().build(manager).await?;
    /// let rest = RestService::builder(pool).build().await?;
    /// let _listener = rest.schema_cache().listen(config, tls);
    /// # Ok(()) }
    /// ```
    pub fn settings(&self) -> Option<(tokio_postgres::Config, T)> {
        Some((self.config.clone()?, self.tls.clone()?))
    }

    /// Shares `budget` with other managers: each connection holds a permit
    /// of it while it is open, and opening one waits for a permit.
    #[cfg_attr(not(all(feature = "jwt", feature = "rustls")), allow(dead_code))]
    pub(crate) fn budget(mut self, budget: Arc<tokio::sync::Semaphore>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// A `bb8` pool builder with the settings this crate wants: no extra
    /// round trip to test a connection on checkout (broken connections are
    /// detected without one), and a 10 s connection timeout.
    pub fn pool_builder(&self) -> bb8::Builder<Self> {
        bb8::Pool::builder()
            .test_on_check_out(false)
            .connection_timeout(std::time::Duration::from_secs(10))
    }
}

#[cfg(feature = "rustls")]
impl ConnectionManager<tokio_postgres_rustls::MakeRustlsConnect> {
    /// A manager for the connection string `url` with TLS by rustls, as its
    /// `sslmode` and `sslrootcert` ask (libpq's meanings: `prefer`, the
    /// default, and `require` encrypt without checking the certificate;
    /// `verify-ca` checks it leads to a trusted root; `verify-full` also
    /// that it names the host). The roots are `sslrootcert`'s PEM file, or
    /// the system's store when there is none (or `sslrootcert=system`).
    ///
    /// The pool negotiates TLS itself, so requests keep the one-`Sync` path
    /// (see [`from_config`](Self::from_config)). A certificate that does not
    /// verify fails the pool's first connection with the reason (for
    /// example `invalid peer certificate: UnknownIssuer`).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use tower_postgrest::ConnectionManager;
    ///
    /// let manager = ConnectionManager::rustls(
    ///     "postgres://authenticator@db.example.com/app?sslmode=verify-full&sslrootcert=/etc/ssl/db-ca.pem",
    /// )?;
    /// let pool = manager.pool_builder().max_size(10).build(manager).await?;
    /// # Ok(()) }
    /// ```
    pub fn rustls(url: &str) -> Result<Self, Error> {
        let (config, settings) = conninfo::split(url)?;
        let tls = tls::connector(&settings)?;
        Ok(Self::from_config(config, tls))
    }
}

impl<T: MakeTlsConnect<Socket>> fmt::Debug for ConnectionManager<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionManager").finish_non_exhaustive()
    }
}

/// A pooled connection: the client and its prepared statements by SQL text.
pub struct Connection {
    pub(crate) client: Client,
    /// Sends a cancel request for whatever this connection runs.
    pub(super) cancel: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Set when a request left the connection mid-transaction: the pool
    /// discards it instead of lending it again.
    pub(super) abandoned: Arc<std::sync::atomic::AtomicBool>,
    /// The prepared [`sql::CONTEXT_SQL`]; it names no relation, so survives
    /// schema reloads. `None` when statements are not prepared
    /// ([`ConnectionManager::prepared_statements`]).
    pub(super) context: Option<Statement>,
    pub(super) statements: HashMap<String, Statement>,
    /// Statements kept before the cache starts over.
    pub(super) cache_size: usize,
    pub(super) generation: u64,
    /// The socket and statements of one-`Sync` reads, on connections the pool opened itself.
    pub(super) direct: Option<direct::DirectState>,
    /// Its place in a connection budget shared by several pools, if any.
    pub(super) _budget: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("statements", &self.statements.len())
            .field("generation", &self.generation)
            .finish()
    }
}

/// Statements kept per connection; past this the cache starts over.
const STATEMENT_CACHE_SIZE: usize = 512;

impl Connection {
    /// Whether requests on this connection take the one-`Sync` path (the
    /// pool opened its socket, and any TLS on it, itself).
    #[doc(hidden)]
    pub fn one_sync(&self) -> bool {
        self.direct.is_some()
    }

    /// Drops every prepared statement when the schema changed since they were prepared.
    pub(super) fn sync_generation(&mut self, generation: u64) {
        if generation > self.generation {
            // Plans and result types may be stale.
            self.statements.clear();
            if let Some(direct) = &mut self.direct {
                direct.forget();
            }
            self.generation = generation;
        }
    }

    pub(super) fn cached(&self, sql: &str) -> Option<Statement> {
        self.statements.get(sql).cloned()
    }

    pub(super) fn remember(&mut self, sql: &str, stmt: Statement) {
        self.statements.insert(sql.to_owned(), stmt);
    }

    /// Makes room for `stmts` before a request starts: the cache starts over
    /// when they would not fit, so that nothing it uses is evicted mid-request.
    pub(super) fn make_room(&mut self, stmts: &[&sql::Statement]) {
        let fresh = stmts
            .iter()
            .filter(|s| !self.statements.contains_key(s.sql.as_str()))
            .count();
        if self.statements.len() + fresh > self.cache_size {
            self.statements.clear();
        }
    }

    /// Retires the connection unless `end` (a `COMMIT` or `ROLLBACK`) was
    /// answered: only PostgreSQL's answer says the transaction is over (an
    /// error answer too: a failed `COMMIT` rolls back). A connection that may
    /// still be inside a transaction is never lent again.
    pub(super) fn ended(&self, end: &Result<(), tokio_postgres::Error>) {
        if let Err(e) = end {
            if e.as_db_error().is_none() {
                self.retire();
            }
        }
    }

    /// Retires the connection: the pool discards it instead of lending it again.
    pub(super) fn retire(&self) {
        self.abandoned
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl<T: MakeTls> bb8::ManageConnection for ConnectionManager<T> {
    type Connection = Connection;
    type Error = tokio_postgres::Error;

    async fn connect(&self) -> Result<Connection, Self::Error> {
        // A connection of a budget waits for its place first (bounded by the
        // pool's connection timeout).
        let budget = match &self.budget {
            Some(budget) => Arc::clone(budget).acquire_owned().await.ok(),
            None => None,
        };
        // A connection the pool opened itself, or else tokio-postgres's own
        // (which reports any failure properly).
        let opened = match &self.direct {
            Some(endpoint) => match endpoint.connect().await {
                Ok(opened) => Some((opened, endpoint)),
                Err(e) => {
                    tracing::debug!(error = %e, "opening a connection directly failed");
                    None
                }
            },
            None => None,
        };
        let (client, direct, cancel) = match opened {
            Some((opened, endpoint)) => {
                let cancel = direct_cancel(&opened.client, Arc::clone(endpoint), opened.target);
                let state = direct::DirectState::new(opened.wire, self.prepared, self.cache_size);
                (opened.client, Some(state), Some(cancel))
            }
            None => {
                let client = self.inner.connect().await?;
                let cancel = self.tls.clone().map(|tls| {
                    let token = client.cancel_token();
                    Arc::new(move || {
                        let (token, tls) = (token.clone(), tls.clone());
                        tokio::spawn(async move {
                            if let Err(e) = token.cancel_query(tls).await {
                                tracing::warn!(error = %e, "could not cancel an abandoned query");
                            }
                        });
                    }) as Arc<dyn Fn() + Send + Sync>
                });
                (client, None, cancel)
            }
        };
        // Every request uses the context statement: prepare it with the connection.
        let context = match self.prepared {
            true => Some(client.prepare(sql::CONTEXT_SQL).await?),
            false => None,
        };
        Ok(Connection {
            client,
            cancel,
            abandoned: Arc::default(),
            context,
            statements: HashMap::new(),
            cache_size: self.cache_size,
            generation: 0,
            direct,
            _budget: budget,
        })
    }

    async fn is_valid(&self, conn: &mut Connection) -> Result<(), Self::Error> {
        self.inner.is_valid(&mut conn.client).await
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        conn.client.is_closed() || conn.abandoned.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Cancels what a connection opened at `endpoint`'s host `target` runs,
/// through a socket of its own.
fn direct_cancel(
    client: &Client,
    endpoint: Arc<connect::Endpoint>,
    target: usize,
) -> Arc<dyn Fn() + Send + Sync> {
    let token = client.cancel_token();
    Arc::new(move || {
        let (token, endpoint) = (token.clone(), Arc::clone(&endpoint));
        tokio::spawn(async move {
            let cancelled = match endpoint.open(target).await {
                Ok(io) => token
                    .cancel_query_raw(io, tokio_postgres::NoTls)
                    .await
                    .map_err(BoxError::from),
                Err(e) => Err(e.into()),
            };
            if let Err(e) = cancelled {
                tracing::warn!(error = %e, "could not cancel an abandoned query");
            }
        });
    })
}

/// A pool checkout failure as the client sees it.
pub(crate) fn pool_error(e: bb8::RunError<tokio_postgres::Error>) -> Error {
    match e {
        bb8::RunError::User(e) => {
            Error::new(ErrorKind::Unavailable, "Could not connect to the database")
                .with_details("The database is unavailable; try again later")
                .with_postgrest_code("PGRST000")
                .with_source(e)
        }
        bb8::RunError::TimedOut => Error::new(
            ErrorKind::Unavailable,
            "Timed out acquiring a database connection",
        )
        .with_details("Every connection of the pool is busy; try again later")
        .with_postgrest_code("PGRST003"),
    }
}
