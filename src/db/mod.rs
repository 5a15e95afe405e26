//! The only module that talks to PostgreSQL: pool glue, the per-connection
//! statement cache, and the pipelined transaction that runs one request.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use bb8_postgres::PostgresConnectionManager;
use bytes::Bytes;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::types::{Format, FromSql, IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Socket, Statement};

use crate::error::{BoxError, Error, ErrorKind};
use crate::plan::Tx;
use crate::request::TxEnd;
use crate::sql;

mod connect;
mod conninfo;
mod direct;
mod stream;
#[cfg(feature = "rustls")]
pub(crate) mod tls;
mod wire;

use conninfo::SslMode;

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
    cancel: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Set when a request left the connection mid-transaction: the pool
    /// discards it instead of lending it again.
    abandoned: Arc<std::sync::atomic::AtomicBool>,
    /// The prepared [`sql::CONTEXT_SQL`]; it names no relation, so survives
    /// schema reloads. `None` when statements are not prepared
    /// ([`ConnectionManager::prepared_statements`]).
    context: Option<Statement>,
    statements: HashMap<String, Statement>,
    /// Statements kept before the cache starts over.
    cache_size: usize,
    generation: u64,
    /// The socket and statements of one-`Sync` reads, on connections the pool opened itself.
    direct: Option<direct::DirectState>,
    /// Its place in a connection budget shared by several pools, if any.
    _budget: Option<tokio::sync::OwnedSemaphorePermit>,
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
    fn sync_generation(&mut self, generation: u64) {
        if generation > self.generation {
            // Plans and result types may be stale.
            self.statements.clear();
            if let Some(direct) = &mut self.direct {
                direct.forget();
            }
            self.generation = generation;
        }
    }

    fn cached(&self, sql: &str) -> Option<Statement> {
        self.statements.get(sql).cloned()
    }

    fn remember(&mut self, sql: &str, stmt: Statement) {
        self.statements.insert(sql.to_owned(), stmt);
    }

    /// Makes room for `stmts` before a request starts: the cache starts over
    /// when they would not fit, so that nothing it uses is evicted mid-request.
    fn make_room(&mut self, stmts: &[&sql::Statement]) {
        let fresh = stmts
            .iter()
            .filter(|s| !self.statements.contains_key(&s.sql))
            .count();
        if self.statements.len() + fresh > self.cache_size {
            self.statements.clear();
        }
    }

    /// Retires the connection unless `end` (a `COMMIT` or `ROLLBACK`) was
    /// answered: only PostgreSQL's answer says the transaction is over (an
    /// error answer too: a failed `COMMIT` rolls back). A connection that may
    /// still be inside a transaction is never lent again.
    fn ended(&self, end: &Result<(), tokio_postgres::Error>) {
        if let Err(e) = end {
            if e.as_db_error().is_none() {
                self.retire();
            }
        }
    }

    /// Retires the connection: the pool discards it instead of lending it again.
    fn retire(&self) {
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

/// A parameter sent in text format, whatever type PostgreSQL inferred for it,
/// so that PostgreSQL parses it exactly as it would a literal of that type.
#[derive(Debug)]
pub(crate) struct TextParam<'a>(pub(crate) Option<&'a str>);

impl ToSql for TextParam<'_> {
    fn to_sql(&self, _: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match self.0 {
            Some(s) => {
                out.extend_from_slice(s.as_bytes());
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// A `text` or `json` result taken as raw bytes, without UTF-8 validation or a copy into a `String`.
struct RawText(Bytes);

impl<'a> FromSql<'a> for RawText {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Self(Bytes::copy_from_slice(raw)))
    }

    fn accepts(ty: &Type) -> bool {
        // json's binary form is its text.
        *ty == Type::TEXT || *ty == Type::JSON
    }
}

/// What a read returns: the total (when the statement counted), the page's
/// row count, the body PostgreSQL built, and the planner's row estimate (when
/// an `EXPLAIN` ran).
#[derive(Debug)]
pub(crate) struct ReadResult {
    pub(crate) total: Option<i64>,
    pub(crate) page_total: i64,
    pub(crate) body: Bytes,
    pub(crate) planned: Option<i64>,
}

pub(crate) use stream::{FIRST_BATCH, Shape, Streamed, stream_read};

/// The per-request settings, applied in the request's transaction.
#[derive(Debug)]
pub(crate) struct RequestContext<'a> {
    pub(crate) role: &'a str,
    pub(crate) claims: &'a str,
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) search_path: &'a str,
    pub(crate) headers: &'a str,
    pub(crate) cookies: &'a str,
    /// `statement_timeout` for the transaction (`None` keeps the session's).
    pub(crate) statement_timeout: Option<&'a str>,
    /// `timezone` for the transaction (`None` keeps the session's).
    pub(crate) timezone: Option<&'a str>,
    /// `db-pre-request`: called after the context, before the statements.
    pub(crate) pre_request: Option<PreRequest<'a>>,
}

/// The `db-pre-request` call of a request, and where its answer goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PreRequest<'a> {
    /// [`sql::render_pre_request`]'s statement.
    pub(crate) sql: &'a str,
    pub(crate) answer: &'a std::sync::OnceLock<PreAnswer>,
}

/// The `response.headers` and `response.status` set when the pre-request function returned.
#[derive(Debug, Default)]
pub(crate) struct PreAnswer {
    pub(crate) headers: Option<String>,
    pub(crate) status: Option<String>,
}

impl PreRequest<'_> {
    fn record(&self, row: &impl Columns) -> Result<(), Error> {
        let answer = PreAnswer {
            headers: row.string(1)?,
            status: row.string(2)?,
        };
        let _ = self.answer.set(answer);
        Ok(())
    }

    /// Records the answer of the pre-request's query.
    fn answered(
        &self,
        rows: Result<Vec<tokio_postgres::Row>, tokio_postgres::Error>,
    ) -> Result<(), Error> {
        let rows = rows.map_err(Error::from_pg)?;
        self.record(rows.first().ok_or_else(missing_row)?)
    }
}

/// The pre-request's query, if any, for a pipeline (`Ok` when there is none).
async fn pre_request(client: &Client, pre: Option<PreRequest<'_>>) -> Result<(), Error> {
    match pre {
        Some(pre) => pre.answered(client.query_typed(pre.sql, &[]).await),
        None => Ok(()),
    }
}

impl RequestContext<'_> {
    /// The context statement's parameters, `$1` to `$9`.
    fn values(&self) -> [Option<&str>; 9] {
        [
            Some(self.role),
            Some(self.claims),
            Some(self.method),
            Some(self.path),
            Some(self.search_path),
            Some(self.headers),
            Some(self.cookies),
            self.statement_timeout,
            self.timezone,
        ]
    }
}

/// Runs a read in its own transaction, in one round trip.
///
/// `BEGIN`, the context `set_config`s, the statements and `COMMIT` are written
/// to the connection together (tokio-postgres sends each request on its first
/// poll, and `join!` polls them in order). If any of them fails, PostgreSQL
/// turns the `COMMIT` into a rollback; the first error in statement order is
/// reported.
///
/// Statements not yet prepared on this connection are prepared *inside* the
/// transaction, after the role switch, because parsing checks schema
/// privileges as the current role: `BEGIN`, context and `Parse` go in one
/// round trip, the execution and `COMMIT` in a second. From then on the
/// statements are cached.
///
/// On a connection the pool opened itself, and while tokio-postgres is quiet
/// on it, the read goes [`direct`]ly instead: the read-only context and the
/// statements before a single `Sync`, in one round trip even on first use.
pub(crate) async fn run_read<T: MakeTls>(
    pool: &Pool<T>,
    generation: u64,
    ctx: &RequestContext<'_>,
    all: &[&sql::Statement],
) -> Result<ReadResult, Error> {
    let mut conn = pool.get().await.map_err(pool_error)?;
    if let Some(exchange) = conn.direct.as_ref().and_then(|d| d.wire.try_direct()) {
        let rows = checked_out(&mut conn, generation, |conn| {
            run_direct(conn, exchange, true, ctx, all)
        })
        .await?;
        return read_result(&rows);
    }
    let rows = checked_out(&mut conn, generation, |conn| {
        run_on(conn, true, ctx, all, TxEnd::Commit, None)
    })
    .await?;
    read_result(&rows)
}

/// Several requests' statements in one transaction on one connection (a
/// batch): each [`run`](Self::run) is one round trip (the first also sends
/// `BEGIN`), with that request's own context; [`commit`](Self::commit) or
/// [`rollback`](Self::rollback) ends it. Dropped without either (its
/// client went away), the connection's query is cancelled and the
/// connection retired, as any request's.
pub(crate) struct Session<'p, T: MakeTls> {
    conn: bb8::PooledConnection<'p, ConnectionManager<T>>,
    guard: CancelOnDrop,
    begun: bool,
}

impl<'p, T: MakeTls> Session<'p, T> {
    /// A connection for a session, brought up to the schema's `generation`.
    pub(crate) async fn open(pool: &'p Pool<T>, generation: u64) -> Result<Self, Error> {
        let mut conn = pool.get().await.map_err(pool_error)?;
        conn.sync_generation(generation);
        let guard = CancelOnDrop {
            cancel: conn.cancel.clone(),
            abandoned: Arc::clone(&conn.abandoned),
            armed: true,
        };
        Ok(Self {
            conn,
            guard,
            begun: false,
        })
    }

    /// Runs `stmts` (each answering one row) after `ctx`'s context and pre-request.
    pub(crate) async fn run(
        &mut self,
        ctx: &RequestContext<'_>,
        stmts: &[&sql::Statement],
    ) -> Result<Vec<tokio_postgres::Row>, Error> {
        let client = &self.conn.client;
        let ctx_params = ctx.values().map(TextParam);
        let ctx_typed: Vec<(&(dyn ToSql + Sync), Type)> = ctx_params
            .iter()
            .map(|p| (p as &(dyn ToSql + Sync), Type::UNKNOWN))
            .collect();
        let params: Vec<Vec<TextParam<'_>>> = stmts
            .iter()
            .map(|s| s.params.iter().map(|p| TextParam(p.as_deref())).collect())
            .collect();
        let typed: Vec<Vec<(&(dyn ToSql + Sync), Type)>> = params
            .iter()
            .map(|ps| {
                ps.iter()
                    .map(|p| (p as &(dyn ToSql + Sync), Type::UNKNOWN))
                    .collect()
            })
            .collect();
        let begin = futures_util::future::OptionFuture::from(
            (!self.begun).then(|| client.batch_execute("BEGIN")),
        );
        let runs = futures_util::future::join_all(
            stmts
                .iter()
                .zip(&typed)
                .map(|(s, t)| client.query_typed(&s.sql, t)),
        );
        let (begun, set, pre, runs) = futures_util::join!(
            begin,
            client.query_typed(sql::CONTEXT_SQL, &ctx_typed),
            pre_request(client, ctx.pre_request),
            runs,
        );
        if let Some(begun) = begun {
            begun.map_err(Error::from_pg)?;
            self.begun = true;
        }
        set.map_err(Error::from_pg)?;
        pre?;
        let mut rows = Vec::with_capacity(runs.len());
        for run in runs {
            let run = run.map_err(Error::from_pg)?;
            match <[_; 1]>::try_from(run) {
                Ok([row]) => rows.push(row),
                Err(_) => return Err(missing_row()),
            }
        }
        Ok(rows)
    }

    /// Ends the transaction as `end` says (a commit resets the session for
    /// the next request; a rollback undoes what ran).
    pub(crate) async fn end(mut self, end: TxEnd) -> Result<(), Error> {
        let ended = match (self.begun, end) {
            (false, _) => Ok(()),
            (true, end) => finish(&self.conn.client, end).await,
        };
        self.conn.ended(&ended);
        self.guard.armed = false;
        ended.map_err(Error::from_pg)
    }
}

/// Runs an `EXPLAIN` of a request's statement in its transaction (with its
/// context and pre-request), which always rolls back: the plan's rows, one
/// JSON document or the lines of the text form.
pub(crate) async fn run_explain<T: MakeTls>(
    pool: &Pool<T>,
    generation: u64,
    ctx: &RequestContext<'_>,
    stmt: &sql::Statement,
    read_only: bool,
) -> Result<Vec<Bytes>, Error> {
    let mut conn = pool.get().await.map_err(pool_error)?;
    checked_out(&mut conn, generation, |conn| async move {
        let client = &conn.client;
        let ctx_params = ctx.values().map(TextParam);
        let ctx_typed: Vec<(&(dyn ToSql + Sync), Type)> = ctx_params
            .iter()
            .map(|p| (p as &(dyn ToSql + Sync), Type::UNKNOWN))
            .collect();
        let params: Vec<TextParam<'_>> = stmt
            .params
            .iter()
            .map(|p| TextParam(p.as_deref()))
            .collect();
        let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
            .iter()
            .map(|p| (p as &(dyn ToSql + Sync), Type::UNKNOWN))
            .collect();
        let begin = if read_only {
            "BEGIN READ ONLY"
        } else {
            "BEGIN"
        };
        let (begun, set, pre, rows) = futures_util::join!(
            client.batch_execute(begin),
            client.query_typed(sql::CONTEXT_SQL, &ctx_typed),
            pre_request(client, ctx.pre_request),
            client.query_typed(&stmt.sql, &typed),
        );
        // Nothing a plan ran (EXPLAIN ANALYZE of a write) is kept.
        conn.ended(&client.batch_execute("ROLLBACK").await);
        begun.map_err(Error::from_pg)?;
        set.map_err(Error::from_pg)?;
        pre?;
        rows.map_err(Error::from_pg)?
            .iter()
            .map(|row| Ok(row.bytes(0)?.unwrap_or_default()))
            .collect()
    })
    .await
}

/// A read's result from the rows of its statement and, if any, its `EXPLAIN`.
fn read_result(rows: &[impl Columns]) -> Result<ReadResult, Error> {
    let row = rows.first().ok_or_else(missing_row)?;
    let planned = match rows.get(1) {
        Some(plan) => Some(planned_rows(&plan.bytes(0)?.ok_or_else(missing_row)?)?),
        None => None,
    };
    Ok(ReadResult {
        total: row.int(0)?,
        page_total: row.required_int(1)?,
        body: row.bytes(2)?.unwrap_or_default(),
        planned,
    })
}

fn missing_row() -> Error {
    Error::new(
        ErrorKind::Internal,
        "A statement returned an unexpected number of rows",
    )
}

/// Runs `stmts` [`direct`]ly on a connection the pool opened itself: one
/// round trip, one `Sync`, PostgreSQL's implicit transaction.
async fn run_direct(
    conn: &mut Connection,
    exchange: wire::Direct,
    read_only: bool,
    ctx: &RequestContext<'_>,
    stmts: &[&sql::Statement],
) -> Result<Vec<direct::Row>, Error> {
    let Some(state) = conn.direct.as_mut() else {
        return Err(Error::new(ErrorKind::Internal, "Not a direct connection"));
    };
    let mut broken = false;
    let rows = direct::run(state, exchange, read_only, ctx, stmts, &mut broken).await;
    if broken {
        conn.abandoned
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
    rows
}

/// The columns of a result row, from tokio-postgres or (in text format) from
/// a [`direct`] exchange.
pub(crate) trait Columns {
    fn int(&self, i: usize) -> Result<Option<i64>, Error>;
    fn bytes(&self, i: usize) -> Result<Option<Bytes>, Error>;
    fn string(&self, i: usize) -> Result<Option<String>, Error>;

    fn required_int(&self, i: usize) -> Result<i64, Error> {
        self.int(i)?
            .ok_or_else(|| Error::new(ErrorKind::Internal, "The database sent NULL for a count"))
    }
}

impl Columns for tokio_postgres::Row {
    fn int(&self, i: usize) -> Result<Option<i64>, Error> {
        self.try_get(i).map_err(Error::from_pg)
    }

    fn bytes(&self, i: usize) -> Result<Option<Bytes>, Error> {
        let raw: Option<RawText> = self.try_get(i).map_err(Error::from_pg)?;
        Ok(raw.map(|r| r.0))
    }

    fn string(&self, i: usize) -> Result<Option<String>, Error> {
        self.try_get(i).map_err(Error::from_pg)
    }
}

impl Columns for direct::Row {
    fn int(&self, i: usize) -> Result<Option<i64>, Error> {
        text(self, i)?
            .map(|text| {
                text.parse().map_err(|_| {
                    Error::new(ErrorKind::Internal, "The database sent a malformed count")
                })
            })
            .transpose()
    }

    fn bytes(&self, i: usize) -> Result<Option<Bytes>, Error> {
        self.get(i).cloned().ok_or_else(missing_column)
    }

    fn string(&self, i: usize) -> Result<Option<String>, Error> {
        Ok(text(self, i)?.map(str::to_owned))
    }
}

/// Column `i` of a direct row as UTF-8.
fn text(row: &direct::Row, i: usize) -> Result<Option<&str>, Error> {
    let value = row.get(i).ok_or_else(missing_column)?;
    value
        .as_deref()
        .map(|v| {
            std::str::from_utf8(v).map_err(|e| {
                Error::new(ErrorKind::Internal, "The database sent invalid UTF-8").with_source(e)
            })
        })
        .transpose()
}

fn missing_column() -> Error {
    Error::new(ErrorKind::Internal, "A result row is missing a column")
}

/// The top plan node's "Plan Rows" of an `EXPLAIN (FORMAT JSON)` result.
fn planned_rows(raw: &[u8]) -> Result<i64, Error> {
    let plan: serde_json::Value = serde_json::from_slice(raw).map_err(|e| {
        Error::new(ErrorKind::Internal, "Could not read the query plan").with_source(e)
    })?;
    plan[0]["Plan"]["Plan Rows"]
        .as_f64()
        .map(|rows| rows as i64)
        .ok_or_else(|| Error::new(ErrorKind::Internal, "The query plan has no row estimate"))
}

/// What a function call returns: the total (when counted), the page's row
/// count, the body, and the `response.headers` / `response.status` the
/// function set.
#[derive(Debug)]
pub(crate) struct CallResult {
    pub(crate) total: Option<i64>,
    pub(crate) page_total: i64,
    pub(crate) body: Bytes,
    pub(crate) headers: Option<String>,
    pub(crate) status: Option<String>,
}

impl FromRow for CallResult {
    fn from_row(row: &impl Columns) -> Result<Self, Error> {
        Ok(Self {
            total: row.int(0)?,
            page_total: row.required_int(1)?,
            body: row.bytes(2)?.unwrap_or_default(),
            headers: row.string(3)?,
            status: row.string(4)?,
        })
    }
}

/// The result of a statement that answers one row.
pub(crate) trait FromRow: Sized {
    fn from_row(row: &impl Columns) -> Result<Self, Error>;
}

/// Runs one statement answering one row in its own transaction; `decide`, if
/// any, sees the row before the transaction ends.
async fn run_one<T: MakeTls, R: FromRow>(
    pool: &Pool<T>,
    generation: u64,
    read_only: bool,
    ctx: &RequestContext<'_>,
    stmts: &[&sql::Statement],
    ending: TxEnd,
    decide: Option<Decide<'_, R>>,
) -> Result<R, Error> {
    let mut conn = pool.get().await.map_err(pool_error)?;
    // Committed whatever it answers: one implicit transaction, in one `Sync`,
    // as reads are when the connection allows. A rollback, or a decision on
    // the result, needs a transaction block.
    let direct = (decide.is_none() && ending == TxEnd::Commit)
        .then(|| conn.direct.as_ref().and_then(|d| d.wire.try_direct()))
        .flatten();
    if let Some(exchange) = direct {
        let rows = checked_out(&mut conn, generation, |conn| {
            run_direct(conn, exchange, read_only, ctx, stmts)
        })
        .await?;
        return R::from_row(rows.first().ok_or_else(missing_row)?);
    }
    let decide_rows = decide.map(|d| {
        move |rows: &[tokio_postgres::Row]| -> Result<(), Error> {
            d(&R::from_row(rows.first().ok_or_else(missing_row)?)?)
        }
    });
    let rows = checked_out(&mut conn, generation, |conn| {
        run_on(
            conn,
            read_only,
            ctx,
            stmts,
            ending,
            decide_rows.as_ref().map(|d| d as _),
        )
    })
    .await?;
    R::from_row(rows.first().ok_or_else(missing_row)?)
}

/// Decides from a write's result whether it may end as planned; an error rolls it back.
pub(crate) type Decide<'a, R> = &'a (dyn Fn(&R) -> Result<(), Error> + Sync);

/// What a write returns: rows affected, the representation's body, the first
/// row's primary key (for `Location`), and how many rows an upsert inserted.
#[derive(Debug)]
pub(crate) struct WriteResult {
    pub(crate) affected: i64,
    pub(crate) page_total: i64,
    pub(crate) body: Bytes,
    pub(crate) location: Option<Vec<Option<String>>>,
    pub(crate) inserted: Option<i64>,
}

impl FromRow for WriteResult {
    fn from_row(row: &impl Columns) -> Result<Self, Error> {
        let location = match row.bytes(3)? {
            Some(raw) => Some(serde_json::from_slice(&raw).map_err(|e| {
                Error::new(ErrorKind::Internal, "Could not read the inserted key").with_source(e)
            })?),
            None => None,
        };
        Ok(Self {
            affected: row.required_int(0)?,
            page_total: row.required_int(1)?,
            body: row.bytes(2)?.unwrap_or_default(),
            location,
            inserted: row.int(4)?,
        })
    }
}

async fn finish(client: &Client, ending: TxEnd) -> Result<(), tokio_postgres::Error> {
    match ending {
        // What the request set for its session goes back to the connection's
        // defaults with the commit (a rollback undoes it by itself).
        TxEnd::Commit => client.batch_execute("COMMIT; RESET ALL; RESET ROLE").await,
        TxEnd::Rollback => {
            // Two messages: the ROLLBACK runs even when the check fails.
            let (check, rollback) = futures_util::join!(
                client.batch_execute("SET CONSTRAINTS ALL IMMEDIATE"),
                client.batch_execute("ROLLBACK"),
            );
            check.and(rollback)
        }
    }
}

/// Decides from the rows of the statements whether the transaction may end as planned.
type DecideRows<'a> = &'a (dyn Fn(&[tokio_postgres::Row]) -> Result<(), Error> + Sync);

/// Runs `work` on a checked-out connection, brought up to the schema's
/// `generation`.
///
/// If the request is dropped (the client went away) before `work` ends,
/// cancel what the database runs for it, and retire the connection so that
/// the cancel cannot reach another request.
async fn checked_out<'c, R, F>(
    conn: &'c mut Connection,
    generation: u64,
    work: impl FnOnce(&'c mut Connection) -> F,
) -> Result<R, Error>
where
    F: std::future::Future<Output = Result<R, Error>>,
{
    conn.sync_generation(generation);
    let mut cancel_on_drop = CancelOnDrop {
        cancel: conn.cancel.clone(),
        abandoned: Arc::clone(&conn.abandoned),
        armed: true,
    };
    let result = work(conn).await;
    cancel_on_drop.armed = false;
    result
}

/// [`run`] on a checked-out connection.
async fn run_on(
    conn: &mut Connection,
    read_only: bool,
    ctx: &RequestContext<'_>,
    stmts: &[&sql::Statement],
    ending: TxEnd,
    decide: Option<DecideRows<'_>>,
) -> Result<Vec<tokio_postgres::Row>, Error> {
    if !(1..=2).contains(&stmts.len()) {
        return Err(Error::new(
            ErrorKind::Internal,
            "A request runs one or two statements",
        ));
    }
    let ctx_params = ctx.values().map(TextParam);
    let ctx_refs: [&(dyn ToSql + Sync); 9] = std::array::from_fn(|i| &ctx_params[i] as _);
    let params: Vec<Vec<TextParam<'_>>> = stmts
        .iter()
        .map(|s| s.params.iter().map(|p| TextParam(p.as_deref())).collect())
        .collect();
    let param_refs: Vec<Vec<&(dyn ToSql + Sync)>> = params
        .iter()
        .map(|ps| ps.iter().map(|p| p as _).collect())
        .collect();
    let begin_sql = if read_only {
        "BEGIN READ ONLY"
    } else {
        "BEGIN"
    };
    let Some(context) = conn.context.clone() else {
        return run_unnamed(
            conn,
            begin_sql,
            ctx.pre_request,
            &ctx_refs,
            stmts,
            &param_refs,
            ending,
            decide,
        )
        .await;
    };

    conn.make_room(stmts);
    let cached: Option<Vec<Statement>> = stmts.iter().map(|s| conn.cached(&s.sql)).collect();
    let in_transaction = cached.is_none();
    let prepared = match cached {
        Some(prepared) => prepared,
        None => {
            // First use on this connection: prepare inside the transaction, as the request's role.
            let client = &conn.client;
            let missing: Vec<&str> = stmts
                .iter()
                .map(|s| s.sql.as_str())
                .filter(|s| conn.cached(s).is_none())
                .collect();
            let (begin, set, pre, fresh) = futures_util::join!(
                client.batch_execute(begin_sql),
                client.query_one(&context, &ctx_refs),
                pre_request(client, ctx.pre_request),
                futures_util::future::join_all(missing.iter().map(|s| client.prepare(s))),
            );
            let fresh = begin
                .and(set.map(drop))
                .map_err(Error::from_pg)
                .and(pre)
                .and_then(|()| {
                    fresh
                        .into_iter()
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(Error::from_pg)
                });
            let fresh = match fresh {
                Ok(fresh) => fresh,
                Err(e) => {
                    conn.ended(&client.batch_execute("ROLLBACK").await);
                    return Err(e);
                }
            };
            for (sql, stmt) in missing.into_iter().zip(fresh) {
                conn.remember(sql, stmt);
            }
            match stmts.iter().map(|s| conn.cached(&s.sql)).collect() {
                Some(prepared) => prepared,
                None => {
                    conn.ended(&conn.client.batch_execute("ROLLBACK").await);
                    return Err(Error::new(
                        ErrorKind::Internal,
                        "A prepared statement went missing",
                    ));
                }
            }
        }
    };
    let client = &conn.client;
    let runs = one_or_two(prepared.len(), |i| {
        client.query_one(&prepared[i], &param_refs[i])
    });
    // The end is pipelined too, unless the result decides it.
    let end = pipelined_end(client, ending, decide.is_some());
    let (started, runs, ended) = if in_transaction {
        let (runs, ended) = futures_util::join!(runs, end);
        (Ok(()), runs, ended)
    } else {
        let (begin, set, pre, runs, ended) = futures_util::join!(
            client.batch_execute(begin_sql),
            client.query_one(&context, &ctx_refs),
            pre_request(client, ctx.pre_request),
            runs,
            end,
        );
        (
            begin.and(set.map(|_| ())).map_err(Error::from_pg).and(pre),
            runs,
            ended,
        )
    };
    let outcome = started.and_then(|()| {
        runs.into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(Error::from_pg)
    });
    finish_run(conn, ending, outcome, ended, decide).await
}

/// `query(0)`, and `query(1)` for a request of two statements (a read and
/// its `EXPLAIN`), joined directly rather than through `join_all`, whose
/// vector of futures is a large allocation on every request.
async fn one_or_two<T, F, Fut>(count: usize, query: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let (first, second) = futures_util::join!(
        query(0),
        futures_util::future::OptionFuture::from((count > 1).then(|| query(1))),
    );
    let mut rows = vec![first];
    rows.extend(second);
    rows
}

/// The transaction's end, pipelined behind its statements unless the result
/// decides it (`None`: the caller ends it once it has seen the rows).
async fn pipelined_end(
    client: &Client,
    ending: TxEnd,
    decided: bool,
) -> Option<Result<(), tokio_postgres::Error>> {
    match decided {
        false => Some(finish(client, ending).await),
        true => None,
    }
}

/// [`run_on`] without named statements: `BEGIN`, the context, the
/// statements (each parsed unnamed, its parameters' types left to
/// PostgreSQL) and the end, pipelined as with prepared statements.
#[allow(clippy::too_many_arguments)]
async fn run_unnamed(
    conn: &Connection,
    begin_sql: &str,
    pre: Option<PreRequest<'_>>,
    ctx_refs: &[&(dyn ToSql + Sync); 9],
    stmts: &[&sql::Statement],
    param_refs: &[Vec<&(dyn ToSql + Sync)>],
    ending: TxEnd,
    decide: Option<DecideRows<'_>>,
) -> Result<Vec<tokio_postgres::Row>, Error> {
    let client = &conn.client;
    fn typed<'p>(refs: &[&'p (dyn ToSql + Sync)]) -> Vec<(&'p (dyn ToSql + Sync), Type)> {
        refs.iter().map(|p| (*p, Type::UNKNOWN)).collect()
    }
    let ctx_typed = typed(ctx_refs);
    let typed_params: Vec<_> = param_refs.iter().map(|refs| typed(refs)).collect();
    let runs = one_or_two(stmts.len(), |i| {
        client.query_typed(&stmts[i].sql, &typed_params[i])
    });
    let end = pipelined_end(client, ending, decide.is_some());
    let (begin, set, pre, runs, ended) = futures_util::join!(
        client.batch_execute(begin_sql),
        client.query_typed(sql::CONTEXT_SQL, &ctx_typed),
        pre_request(client, pre),
        runs,
        end,
    );
    let outcome = begin
        .and(set.map(|_| ()))
        .map_err(Error::from_pg)
        .and(pre)
        .and_then(|()| {
            runs.into_iter()
                .collect::<Result<Vec<_>, _>>()
                .map_err(Error::from_pg)
        })
        .and_then(|results| {
            // Each statement answers one row.
            results
                .into_iter()
                .map(|rows| match <[_; 1]>::try_from(rows) {
                    Ok([row]) => Ok(row),
                    Err(_) => Err(missing_row()),
                })
                .collect()
        });
    finish_run(conn, ending, outcome, ended, decide).await
}

/// Cancels the connection's query, and marks the connection abandoned, when
/// dropped while armed.
struct CancelOnDrop {
    cancel: Option<Arc<dyn Fn() + Send + Sync>>,
    abandoned: Arc<std::sync::atomic::AtomicBool>,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.abandoned
                .store(true, std::sync::atomic::Ordering::SeqCst);
            if let Some(cancel) = &self.cancel {
                cancel();
            }
        }
    }
}

/// Ends a transaction whose statements ran: reports the first error, or lets
/// `decide` choose between commit and rollback.
async fn finish_run(
    conn: &Connection,
    ending: TxEnd,
    outcome: Result<Vec<tokio_postgres::Row>, Error>,
    ended: Option<Result<(), tokio_postgres::Error>>,
    decide: Option<DecideRows<'_>>,
) -> Result<Vec<tokio_postgres::Row>, Error> {
    let client = &conn.client;
    match (outcome, ended, decide) {
        (Err(e), Some(ended), _) => {
            conn.ended(&ended);
            Err(e)
        }
        (Ok(rows), Some(ended), _) => {
            conn.ended(&ended);
            ended.map_err(Error::from_pg)?;
            Ok(rows)
        }
        (Err(e), None, _) => {
            conn.ended(&client.batch_execute("ROLLBACK").await);
            Err(e)
        }
        (Ok(rows), None, Some(decide)) => match decide(&rows) {
            Ok(()) => {
                let ended = finish(client, ending).await;
                conn.ended(&ended);
                ended.map_err(Error::from_pg)?;
                Ok(rows)
            }
            Err(e) => {
                conn.ended(&client.batch_execute("ROLLBACK").await);
                Err(e)
            }
        },
        // Nothing decided and nothing pipelined cannot happen; end as planned all the same.
        (Ok(rows), None, None) => {
            let ended = finish(client, ending).await;
            conn.ended(&ended);
            ended.map_err(Error::from_pg)?;
            Ok(rows)
        }
    }
}

/// Sees the result before the transaction ends; an error rolls it back.
pub(crate) type Check<'a, R> = &'a (dyn Fn(&R) -> Result<(), Error> + Sync);

/// What a request's statements answer.
pub(crate) trait Outcome: Sized + Send {
    /// Runs `stmts` in a transaction as `tx` says.
    fn run<'a, T: MakeTls>(
        pool: &'a Pool<T>,
        generation: u64,
        ctx: &'a RequestContext<'a>,
        stmts: &'a [&'a sql::Statement],
        tx: Tx,
        check: Option<Check<'a, Self>>,
    ) -> impl std::future::Future<Output = Result<Self, Error>> + Send + 'a;

    /// The result from the rows of its statements, run in a [`Session`].
    fn from_rows(rows: &[tokio_postgres::Row]) -> Result<Self, Error>;
}

impl Outcome for ReadResult {
    fn run<'a, T: MakeTls>(
        pool: &'a Pool<T>,
        generation: u64,
        ctx: &'a RequestContext<'a>,
        stmts: &'a [&'a sql::Statement],
        _tx: Tx,
        _check: Option<Check<'a, Self>>,
    ) -> impl std::future::Future<Output = Result<Self, Error>> + Send + 'a {
        run_read(pool, generation, ctx, stmts)
    }

    fn from_rows(rows: &[tokio_postgres::Row]) -> Result<Self, Error> {
        read_result(rows)
    }
}

/// [`Outcome`] for the results of one statement answering one row.
macro_rules! one_row_outcome {
    ($($ty:ty),*) => {$(
        impl Outcome for $ty {
            fn run<'a, T: MakeTls>(
                pool: &'a Pool<T>,
                generation: u64,
                ctx: &'a RequestContext<'a>,
                stmts: &'a [&'a sql::Statement],
                tx: Tx,
                check: Option<Check<'a, Self>>,
            ) -> impl std::future::Future<Output = Result<Self, Error>> + Send + 'a {
                run_one(pool, generation, tx.read_only, ctx, stmts, tx.end, check)
            }

            fn from_rows(rows: &[tokio_postgres::Row]) -> Result<Self, Error> {
                Self::from_row(rows.first().ok_or_else(missing_row)?)
            }
        }
    )*};
}

one_row_outcome!(CallResult, WriteResult);

impl crate::plan::Counted for ReadResult {
    fn rows(&self) -> i64 {
        self.page_total
    }
}

impl crate::plan::Counted for CallResult {
    fn rows(&self) -> i64 {
        self.page_total
    }
}

impl crate::plan::Counted for WriteResult {
    fn rows(&self) -> i64 {
        self.page_total
    }

    fn affected(&self) -> i64 {
        self.affected
    }
}

/// Runs a request's statements.
pub(crate) async fn run<'a, T: MakeTls, R: Outcome>(
    pool: &'a Pool<T>,
    generation: u64,
    ctx: &'a RequestContext<'a>,
    stmts: &'a [&'a sql::Statement],
    tx: Tx,
    check: Option<Check<'a, R>>,
) -> Result<R, Error> {
    R::run(pool, generation, ctx, stmts, tx, check).await
}
