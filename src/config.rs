//! The service's settings, checked once when it is built.
//!
//! [`RestServiceBuilder`] collects them and
//! [`Config::new`] validates them; from then on every part of the pipeline
//! reads the same values: the planner its limits and switches, the service the
//! exposed schemas and their search paths, the database its timeout. Each
//! setting is converted to the form its users need here, and only here.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::db::{MakeTls, Pool};
use crate::error::{Error, ErrorKind, ErrorMapper, codes};
use crate::layer::DbRole;
use crate::schema::SchemaCache;
use crate::sql;
#[cfg(doc)]
use crate::{PostgRest, Powabase, RestService};

/// The default limit on request bodies: 16 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// The default size above which reads of a relation stream: 8 MiB of rows on
/// disk ([`RestServiceBuilder::stream_reads_above`](crate::RestServiceBuilder::stream_reads_above)).
pub const DEFAULT_STREAM_ABOVE: u64 = 8 * 1024 * 1024;

/// Builds a [`RestService`]; see [`RestService::builder`].
#[must_use]
pub struct RestServiceBuilder<T: MakeTls = tokio_postgres::NoTls> {
    pub(crate) pool: Pool<T>,
    pub(crate) read_pool: Option<Pool<T>>,
    pub(crate) settings: Settings,
    pub(crate) cache: Option<SchemaCache>,
    pub(crate) errors: Arc<dyn ErrorMapper>,
}

impl<T: MakeTls> fmt::Debug for RestServiceBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestServiceBuilder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl<T: MakeTls> RestServiceBuilder<T> {
    /// The exposed schemas, the default one first (default: `public`).
    pub fn schemas(mut self, schemas: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.settings.schemas = schemas.into_iter().map(Into::into).collect();
        self
    }

    /// A pool of connections to read replicas: every request that runs
    /// read-only (`GET` and `HEAD` on relations, `OPTIONS`, the OpenAPI root,
    /// and calls of `STABLE` or `IMMUTABLE` functions by `GET` or `POST`)
    /// takes its connection there; writes and `VOLATILE` functions use the
    /// primary pool. When the read pool cannot give a working connection
    /// (the replica is down, or its pool timed out), the read is served by
    /// the primary instead of failing.
    ///
    /// A replica lags its primary: a read right after a write may not see
    /// it. A request carrying `X-Read-From: primary` (or the [`ReadFrom::Primary`](crate::ReadFrom)
    /// extension, which a host's layer can insert, for example for a
    /// session that has just written) reads from the primary.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use tower_postgrest::{ConnectionManager, RestService};
    ///
    /// let primary = ConnectionManager::rustls("postgres://authenticator@primary.internal/app")?;
    /// let replicas = ConnectionManager::rustls(
    ///     "postgres://authenticator@replica-1.internal,replica-2.internal/app?load_balance_hosts=random",
    /// )?;
    /// let pool = primary.pool_builder().build(primary).await?;
    /// // A short timeout: a replica that is away costs a read this much before the primary serves it.
    /// let read_pool = replicas
    ///     .pool_builder()
    ///     .connection_timeout(Duration::from_secs(1))
    ///     .build(replicas)
    ///     .await?;
    /// let rest = RestService::builder(pool).read_pool(read_pool).build().await?;
    /// # Ok(()) }
    /// ```
    pub fn read_pool(mut self, pool: Pool<T>) -> Self {
        self.read_pool = Some(pool);
        self
    }

    /// The role of requests that carry no [`DbRole`]. Without one, such requests get 401.
    pub fn anon_role(mut self, role: impl Into<String>) -> Self {
        self.settings.anon_role = Some(role.into());
        self
    }

    /// The most rows any read returns (PostgREST's `db-max-rows`): sets
    /// [`Limits::max_rows`].
    pub fn max_rows(mut self, max_rows: u64) -> Self {
        self.settings.limits.max_rows = Some(max_rows);
        self
    }

    /// The largest request body accepted, in bytes (default [`DEFAULT_BODY_LIMIT`]);
    /// larger ones get 413: sets [`Limits::body`].
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.settings.limits.body = bytes;
        self
    }

    /// Streams JSON and CSV reads of relations whose rows take at least
    /// `bytes` on disk (as of their last `VACUUM` or `ANALYZE`; default
    /// [`DEFAULT_STREAM_ABOVE`]), unless `limit` keeps the page to a thousand
    /// rows; `Some(0)` streams them all, `None` none. A streamed response is the same
    /// document, sent as PostgreSQL produces its rows, so that memory does not
    /// grow with it; it has no `Content-Range` unless `Prefer: count=exact`
    /// asked for the total, and no `Content-Length`. A result that turns out
    /// to fit in the first thousand rows is answered whole, as any other.
    /// `Accept: application/x-ndjson` always streams.
    ///
    /// ```no_run
    /// # async fn demo(pool: tower_postgrest::Pool) -> Result<(), tower_postgrest::Error> {
    /// use tower_postgrest::RestService;
    ///
    /// // Stream reads of relations of 64 MiB and more.
    /// let rest = RestService::builder(pool).stream_reads_above(Some(64 << 20)).build().await?;
    /// # Ok(()) }
    /// ```
    pub fn stream_reads_above(mut self, bytes: Option<u64>) -> Self {
        self.settings.stream_above = bytes;
        self
    }

    /// PostgREST's `db-aggregates-enabled`: `sum()`, `avg()`, `min()`,
    /// `max()` and `count()` in `select` (`amount.sum()`, `total:amount.sum()::text`,
    /// `count()`), grouped by the other selected columns and embeds, inside
    /// embeds, and hoisted out of to-one spreads. Off by default, as in
    /// PostgREST (they let a request scan and group a whole table): a
    /// request that uses one gets PGRST123.
    ///
    /// ```no_run
    /// # async fn demo(pool: tower_postgrest::Pool) -> Result<(), tower_postgrest::Error> {
    /// let rest = tower_postgrest::RestService::builder(pool).aggregates(true).build().await?;
    /// # Ok(()) }
    /// ```
    pub fn aggregates(mut self, on: bool) -> Self {
        self.settings.aggregates = on;
        self
    }

    /// Batches (beyond PostgREST): `POST` to the API root with a JSON array
    /// of operations (`{"method", "path", "headers"?, "body"?}`) runs them in
    /// order, in one transaction, as the request's role, one round trip
    /// each, and answers 200 with an array of `{"status", "headers",
    /// "body"}`; the first that fails rolls them all back and is the answer,
    /// its index in `details`. At most `operations` in a batch (default
    /// 100); 0 turns batches off (`POST /` is then 405, as in PostgREST).
    ///
    /// ```no_run
    /// # async fn demo(pool: tower_postgrest::Pool) -> Result<(), tower_postgrest::Error> {
    /// let rest = tower_postgrest::RestService::builder(pool).batch_limit(20).build().await?;
    /// # Ok(()) }
    /// ```
    pub fn batch_limit(mut self, operations: usize) -> Self {
        self.settings.limits.batch_operations = operations;
        self
    }

    /// PostgREST's `db-plan-enabled`: `Accept:
    /// application/vnd.pgrst.plan[+json|+text]; for="…"; options=analyze|verbose|settings|buffers|wal`
    /// answers a read's, write's or call's execution plan (`EXPLAIN`), as
    /// postgrest-js's `.explain()` asks. The transaction always rolls back,
    /// so a write explained with `analyze` changes nothing. Off by default,
    /// as in PostgREST (plans show the schema and the data's size): the plan
    /// types are then not available (406).
    ///
    /// ```no_run
    /// # async fn demo(pool: tower_postgrest::Pool) -> Result<(), tower_postgrest::Error> {
    /// let rest = tower_postgrest::RestService::builder(pool).plans(true).build().await?;
    /// # Ok(()) }
    /// ```
    pub fn plans(mut self, on: bool) -> Self {
        self.settings.plan_enabled = on;
        self
    }

    /// Answers a browser's `GET /` (an `Accept` that prefers `text/html`)
    /// with a page that describes the API: its tables, views and functions,
    /// their columns, keys and relationships, examples in curl, supabase-js
    /// and supabase-py, a diagram of the foreign keys, and a form that runs
    /// GET requests. The page holds no schema: it asks for a key, keeps it
    /// for the browser tab only, and reads the OpenAPI document with it, so
    /// it shows what that key may see. It is self-contained (nothing is
    /// fetched from elsewhere) and sent with a strict
    /// `Content-Security-Policy`. Off by default; off too when the OpenAPI
    /// document is ([`OpenApiMode::Disabled`]).
    ///
    /// ```no_run
    /// # async fn demo(pool: tower_postgrest::Pool) -> Result<(), tower_postgrest::Error> {
    /// let rest = tower_postgrest::RestService::builder(pool).api_page(true).build().await?;
    /// # Ok(()) }
    /// ```
    pub fn api_page(mut self, on: bool) -> Self {
        self.settings.api_page = on;
        self
    }

    /// The former name of [`plans`](Self::plans).
    #[deprecated(
        since = "0.1.0",
        note = "renamed `plans`, as the other switches are named"
    )]
    pub fn plan_enabled(self, on: bool) -> Self {
        self.plans(on)
    }

    /// PostgREST's `db-pre-request`: a function (`name` or `schema.name`,
    /// taking no arguments) called in every request's transaction after its
    /// context is set (role, claims, headers, …) and before its statement,
    /// in the same round trip. An exception it raises is the response, as
    /// any database error is (`RAISE SQLSTATE 'PGRST'` with a JSON message
    /// sets the status and headers); the `response.headers` and
    /// `response.status` it sets apply to the response.
    ///
    /// ```no_run
    /// # async fn demo(pool: tower_postgrest::Pool) -> Result<(), tower_postgrest::Error> {
    /// let rest = tower_postgrest::RestService::builder(pool)
    ///     .pre_request("public.check_request")
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn pre_request(mut self, function: impl Into<String>) -> Self {
        self.settings.pre_request = Some(function.into());
        self
    }

    /// Refuses PATCH and DELETE without any filter (422) instead of letting them
    /// affect every row, as PostgREST does. Off by default.
    ///
    /// ```no_run
    /// # async fn demo(pool: tower_postgrest::Pool) -> Result<(), tower_postgrest::Error> {
    /// let rest = tower_postgrest::RestService::builder(pool).require_filter(true).build().await?;
    /// # Ok(()) }
    /// ```
    pub fn require_filter(mut self, on: bool) -> Self {
        self.settings.require_filter = on;
        self
    }

    /// The former name of [`require_filter`](Self::require_filter).
    #[deprecated(
        since = "0.1.0",
        note = "renamed `require_filter`, as the other switches are named"
    )]
    pub fn require_filter_on_mutation(self, on: bool) -> Self {
        self.require_filter(on)
    }

    /// Honours `Prefer: tx=commit|rollback` (PostgREST's `db-tx-end =
    /// commit-allow-override`): a request may ask for its transaction to be
    /// rolled back, to try a write without keeping it. Off by default.
    ///
    /// ```no_run
    /// # async fn demo(pool: tower_postgrest::Pool) -> Result<(), tower_postgrest::Error> {
    /// let rest = tower_postgrest::RestService::builder(pool).tx_override(true).build().await?;
    /// # Ok(()) }
    /// ```
    pub fn tx_override(mut self, on: bool) -> Self {
        self.settings.tx_override = on;
        self
    }

    /// Ends every transaction in a rollback (PostgREST's `db-tx-end =
    /// rollback`): writes and calls answer as if they had happened, and the
    /// database keeps nothing of them, e.g. for a shared demo or a test
    /// database. With [`tx_override`](Self::tx_override) too (`db-tx-end =
    /// rollback-allow-override`), `Prefer: tx=commit` still commits. Off by
    /// default.
    ///
    /// ```no_run
    /// # async fn demo(pool: tower_postgrest::Pool) -> Result<(), tower_postgrest::Error> {
    /// let rest = tower_postgrest::RestService::builder(pool).tx_rollback(true).build().await?;
    /// # Ok(()) }
    /// ```
    pub fn tx_rollback(mut self, on: bool) -> Self {
        self.settings.tx_rollback = on;
        self
    }

    /// The former name of [`tx_override`](Self::tx_override).
    #[deprecated(
        since = "0.1.0",
        note = "renamed `tx_override`, as the other switches are named"
    )]
    pub fn allow_tx_override(self, on: bool) -> Self {
        self.tx_override(on)
    }

    /// A `statement_timeout` for every request's transaction (504 when it
    /// passes). A role's own `ALTER ROLE … SET statement_timeout` applies as in
    /// PostgREST; when both are set, the stricter one wins, so this can lower a
    /// role's limit but never raise it.
    pub fn statement_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.settings.statement_timeout = Some(timeout);
        self
    }

    /// How errors become responses: [`Powabase`] (the default), [`PostgRest`](crate::PostgRest),
    /// or a mapper of your own (any `Fn(&Error) -> Response<RestBody>`).
    pub fn error_mapper(mut self, mapper: impl ErrorMapper) -> Self {
        self.errors = Arc::new(mapper);
        self
    }

    /// Uses an existing schema cache (e.g. one shared by several services)
    /// instead of loading one. It must cover every exposed schema; whatever
    /// else it holds stays out of reach of this service's requests.
    pub fn schema_cache(mut self, cache: SchemaCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// What the OpenAPI description at the root and `OPTIONS` show
    /// (PostgREST's `openapi-mode`); default [`OpenApiMode::FollowPrivileges`].
    ///
    /// ```no_run
    /// # async fn demo(pool: tower_postgrest::Pool) -> Result<(), tower_postgrest::Error> {
    /// use tower_postgrest::{OpenApiMode, RestService};
    ///
    /// let rest = RestService::builder(pool)
    ///     .openapi_mode(OpenApiMode::Disabled)
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn openapi_mode(mut self, mode: OpenApiMode) -> Self {
        self.settings.openapi_mode = mode;
        self
    }

    /// Schemas put on every request's `search_path` after the exposed one,
    /// as PostgREST's `db-extra-search-path` (default `public`), so that
    /// functions, operators and types of extensions installed elsewhere
    /// resolve unqualified; Supabase uses `["public", "extensions"]`. Their
    /// tables are not exposed.
    ///
    /// ```no_run
    /// # async fn demo(pool: tower_postgrest::Pool) -> Result<(), tower_postgrest::Error> {
    /// let rest = tower_postgrest::RestService::builder(pool)
    ///     .extra_search_path(["public", "extensions"])
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn extra_search_path(
        mut self,
        schemas: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.settings.extra_search_path = schemas.into_iter().map(Into::into).collect();
        self
    }

    /// Adds `Server-Timing` to every response, as PostgREST's
    /// `server-timing-enabled`: `jwt` (when [`JwtAuthLayer::server_timing`](crate::layer::JwtAuthLayer::server_timing)
    /// measured it), `parse` (route, query string, headers and body),
    /// `plan`, `transaction` (the database's part, the round trip included)
    /// and `response` (rendering SQL and the response), each `dur=` in
    /// milliseconds. Off by default; when off it costs nothing.
    ///
    /// ```no_run
    /// # async fn demo(pool: tower_postgrest::Pool) -> Result<(), tower_postgrest::Error> {
    /// let rest = tower_postgrest::RestService::builder(pool).server_timing(true).build().await?;
    /// // Server-Timing: jwt;dur=0.1, parse;dur=0.0, plan;dur=0.0, transaction;dur=0.4, response;dur=0.0
    /// # Ok(()) }
    /// ```
    pub fn server_timing(mut self, on: bool) -> Self {
        self.settings.server_timing = on;
        self
    }

    /// Counts and times every request through the [`metrics`] facade, so
    /// that the host's recorder (Prometheus, StatsD, …) sees them:
    /// `pgrst_http_requests_total` (labels `method`, `status`) and the
    /// histogram `pgrst_http_request_duration_seconds` (label `method`).
    /// [`RestService::record_pool_metrics`] adds the pool's gauges. Off by
    /// default; when off it costs nothing.
    ///
    /// ```no_run
    /// # async fn demo(pool: tower_postgrest::Pool) -> Result<(), tower_postgrest::Error> {
    /// let rest = tower_postgrest::RestService::builder(pool).metrics(true).build().await?;
    /// # Ok(()) }
    /// ```
    pub fn metrics(mut self, on: bool) -> Self {
        self.settings.metrics = on;
        self
    }

    /// Every limit at once (replacing what `body_limit`, `max_rows` and
    /// `batch_limit` set before); see [`Limits`] for the defaults.
    ///
    /// ```no_run
    /// # async fn demo(pool: tower_postgrest::Pool) -> Result<(), tower_postgrest::Error> {
    /// use tower_postgrest::{Limits, RestService};
    ///
    /// let rest = RestService::builder(pool)
    ///     .limits(Limits::default().max_embeds(20))
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn limits(mut self, limits: Limits) -> Self {
        self.settings.limits = limits;
        self
    }
}

/// What the OpenAPI description and `OPTIONS` show, as PostgREST's `openapi-mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenApiMode {
    /// Only what the request's role may use: relations it holds a privilege
    /// on, the methods those privileges allow, and functions it may execute
    /// (one privilege query per request, as the role). The default.
    #[default]
    FollowPrivileges,
    /// Everything of the exposed schema, whatever the role may use, from the
    /// schema cache alone. Every caller with a usable role sees every table,
    /// function and column name.
    IgnorePrivileges,
    /// The root answers 404 (PGRST126); `OPTIONS` still follows privileges.
    Disabled,
}

impl std::str::FromStr for OpenApiMode {
    type Err = Error;

    /// PostgREST's spellings: `follow-privileges`, `ignore-privileges`, `disabled`.
    ///
    /// ```
    /// use tower_postgrest::OpenApiMode;
    ///
    /// assert_eq!("disabled".parse::<OpenApiMode>().unwrap(), OpenApiMode::Disabled);
    /// assert!("everything".parse::<OpenApiMode>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "follow-privileges" => Ok(Self::FollowPrivileges),
            "ignore-privileges" => Ok(Self::IgnorePrivileges),
            "disabled" => Ok(Self::Disabled),
            other => Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "Unknown OpenAPI mode \"{other}\": use follow-privileges, ignore-privileges or disabled"
                ),
            )),
        }
    }
}

/// Every limit of a service: what one request may ask of it and of
/// PostgreSQL. A request past any of them is refused with an error naming
/// the limit, and the shape limits before its body is read or the database
/// is asked anything.
///
/// The shape limits' defaults are ten times what the supabase clients' test
/// suites and this crate's embedding tests use (at most 3 embeds in a
/// request, 3 levels deep, 7 select items, 3 filters), and keep what
/// PostgreSQL spends on the largest request they allow to about 70 MB and
/// 0.1 s (`BENCHMARKS.md`; 400 sibling embeds took 3.4 GB and 7 s).
///
/// New limits may be added: build one from [`Limits::default`] and its setters.
///
/// ```
/// use tower_postgrest::Limits;
///
/// let strict = Limits::default().max_depth(3).body(1 << 20);
/// assert_eq!(strict.max_depth, 3);
/// assert_eq!(strict.max_embeds, Limits::default().max_embeds);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Embedded resources in the whole request (`PGRST_DB_MAX_EMBEDS`); default 32.
    /// A nested insert's relationship paths count as embeds.
    pub max_embeds: usize,
    /// Embedded resources in one select list, i.e. siblings (`PGRST_DB_MAX_EMBEDS_PER_LEVEL`); default 16.
    pub max_embeds_per_level: usize,
    /// How deep embeds nest (`PGRST_DB_MAX_EMBED_DEPTH`); default 8, and
    /// never more than the grammar's 32. A nested insert's levels count too.
    pub max_depth: usize,
    /// Items in one select list (`PGRST_DB_MAX_SELECT_ITEMS`); default 200.
    pub max_select_items: usize,
    /// Filters in the whole request, counting each one inside `or`/`and`
    /// trees and on embeds (`PGRST_DB_MAX_FILTERS`); default 200.
    pub max_filters: usize,
    /// Steps in one JSON path (`col->a->b` has two) anywhere in the request:
    /// select, filters, order (`PGRST_DB_MAX_JSON_PATH`); default 64. Past
    /// a few thousand PostgreSQL's own stack gives out.
    pub max_json_path: usize,
    /// The largest request body, in bytes (413 past it; `PGRST_SERVER_MAX_BODY`);
    /// default [`DEFAULT_BODY_LIMIT`].
    pub body: usize,
    /// The most rows any read returns (PostgREST's `db-max-rows`,
    /// `PGRST_DB_MAX_ROWS`); default none.
    pub max_rows: Option<u64>,
    /// The most operations in a batch (`PGRST_BATCH_LIMIT`); default 100, and
    /// 0 turns batches off.
    pub batch_operations: usize,
    /// The largest answer of a batch, its operations' answers together, in
    /// bytes (`PGRST_BATCH_MAX_ANSWER`); default [`DEFAULT_BODY_LIMIT`]. Past
    /// it the batch rolls back and answers 413.
    pub batch_answer: usize,
    /// How long a streamed response waits for its client to take the next
    /// chunk before it gives up, rolls back and returns its connection
    /// (`PGRST_SERVER_SEND_TIMEOUT`, in seconds); default 30 s.
    pub send_timeout: Duration,
    /// The share of the pool's connections, in percent, that streamed reads
    /// may hold at once (`PGRST_DB_POOL_STREAM_SHARE`); default 50, at least
    /// one connection. A read that would stream past it waits for a stream
    /// to end (up to the pool's connection timeout, then 503); requests that
    /// do not stream never wait for streams.
    pub stream_share: u8,
}

/// Setters, one a limit.
impl Limits {
    /// Sets [`max_embeds`](Self::max_embeds).
    pub fn max_embeds(mut self, n: usize) -> Self {
        self.max_embeds = n;
        self
    }

    /// Sets [`max_embeds_per_level`](Self::max_embeds_per_level).
    pub fn max_embeds_per_level(mut self, n: usize) -> Self {
        self.max_embeds_per_level = n;
        self
    }

    /// Sets [`max_depth`](Self::max_depth).
    pub fn max_depth(mut self, n: usize) -> Self {
        self.max_depth = n;
        self
    }

    /// Sets [`max_select_items`](Self::max_select_items).
    pub fn max_select_items(mut self, n: usize) -> Self {
        self.max_select_items = n;
        self
    }

    /// Sets [`max_filters`](Self::max_filters).
    pub fn max_filters(mut self, n: usize) -> Self {
        self.max_filters = n;
        self
    }

    /// Sets [`max_json_path`](Self::max_json_path).
    pub fn max_json_path(mut self, steps: usize) -> Self {
        self.max_json_path = steps;
        self
    }

    /// Sets [`body`](Self::body).
    pub fn body(mut self, bytes: usize) -> Self {
        self.body = bytes;
        self
    }

    /// Sets [`max_rows`](Self::max_rows).
    pub fn max_rows(mut self, rows: Option<u64>) -> Self {
        self.max_rows = rows;
        self
    }

    /// Sets [`batch_operations`](Self::batch_operations).
    pub fn batch_operations(mut self, n: usize) -> Self {
        self.batch_operations = n;
        self
    }

    /// Sets [`batch_answer`](Self::batch_answer).
    pub fn batch_answer(mut self, bytes: usize) -> Self {
        self.batch_answer = bytes;
        self
    }

    /// Sets [`send_timeout`](Self::send_timeout).
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout;
        self
    }

    /// Sets [`stream_share`](Self::stream_share) (at most 100).
    pub fn stream_share(mut self, percent: u8) -> Self {
        self.stream_share = percent.min(100);
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_embeds: 32,
            max_embeds_per_level: 16,
            max_depth: 8,
            max_select_items: 200,
            max_filters: 200,
            max_json_path: 64,
            body: DEFAULT_BODY_LIMIT,
            max_rows: None,
            batch_operations: 100,
            batch_answer: DEFAULT_BODY_LIMIT,
            send_timeout: Duration::from_secs(30),
            stream_share: 50,
        }
    }
}

/// The validated settings of a service.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// The exposed schemas, the default first; never empty.
    schemas: Vec<String>,
    /// The `search_path` of a request to each of `schemas`, in the same order.
    search_paths: Vec<String>,
    /// The role of requests that carry none.
    pub(crate) anon_role: Option<DbRole>,
    /// PostgREST's `db-max-rows`: the most rows a read (or an embed) returns.
    pub(crate) max_rows: Option<i64>,
    /// PATCH and DELETE need at least one filter.
    pub(crate) require_filter: bool,
    /// `Prefer: tx=commit|rollback` is honoured.
    pub(crate) tx_override: bool,
    /// Transactions end in a rollback unless a request overrides it.
    pub(crate) tx_rollback: bool,
    /// The largest request body, in bytes.
    pub(crate) body_limit: usize,
    /// `statement_timeout` of every request, e.g. `"5000ms"`, and in milliseconds.
    statement_timeout: Option<(String, u64)>,
    pub(crate) openapi_mode: OpenApiMode,
    pub(crate) limits: Limits,
    /// Responses carry `Server-Timing`.
    pub(crate) server_timing: bool,
    /// Requests are counted and timed through the `metrics` facade.
    pub(crate) metrics: bool,
    /// JSON and CSV reads of relations larger than this many bytes stream.
    pub(crate) stream_above: Option<i64>,
    /// The `db-pre-request` call, rendered.
    pub(crate) pre_request: Option<String>,
    /// `db-aggregates-enabled`.
    pub(crate) aggregates: bool,
    /// `db-plan-enabled`.
    pub(crate) plan_enabled: bool,
    /// The most operations in a batch (`POST /`); 0 turns batches off.
    pub(crate) batch_limit: usize,
    /// A browser's `GET /` answers the API page.
    pub(crate) api_page: bool,
}

/// The settings as the builder collected them, before [`Config::new`] checks them.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) schemas: Vec<String>,
    pub(crate) anon_role: Option<String>,
    pub(crate) require_filter: bool,
    pub(crate) tx_override: bool,
    pub(crate) tx_rollback: bool,
    pub(crate) statement_timeout: Option<Duration>,
    pub(crate) openapi_mode: OpenApiMode,
    pub(crate) limits: Limits,
    pub(crate) server_timing: bool,
    pub(crate) metrics: bool,
    pub(crate) extra_search_path: Vec<String>,
    pub(crate) stream_above: Option<u64>,
    pub(crate) pre_request: Option<String>,
    pub(crate) aggregates: bool,
    pub(crate) plan_enabled: bool,
    pub(crate) api_page: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            schemas: vec!["public".to_owned()],
            anon_role: None,
            require_filter: false,
            tx_override: false,
            tx_rollback: false,
            statement_timeout: None,
            openapi_mode: OpenApiMode::default(),
            limits: Limits::default(),
            server_timing: false,
            metrics: false,
            extra_search_path: vec!["public".to_owned()],
            stream_above: Some(DEFAULT_STREAM_ABOVE),
            pre_request: None,
            aggregates: false,
            plan_enabled: false,
            api_page: false,
        }
    }
}

/// One of the exposed schemas, as a request resolved it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Exposed<'c> {
    pub(crate) name: &'c str,
    /// Its `search_path`, quoted.
    pub(crate) search_path: &'c str,
}

impl Config {
    /// How a transaction ends when its request does not say (or may not).
    pub(crate) fn tx_default(&self) -> crate::request::TxEnd {
        if self.tx_rollback {
            crate::request::TxEnd::Rollback
        } else {
            crate::request::TxEnd::Commit
        }
    }

    /// Checks `settings`: at least one schema, and none that cannot be exposed.
    pub(crate) fn new(settings: Settings) -> Result<Self, Error> {
        if settings.schemas.is_empty() {
            return Err(Error::new(
                ErrorKind::Internal,
                "At least one schema must be exposed",
            ));
        }
        if let Some(s) = settings.schemas.iter().find(|s| {
            s.is_empty() || s.contains('\0') || *s == "pg_catalog" || *s == "information_schema"
        }) {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("The schema \"{s}\" cannot be exposed"),
            ));
        }
        if let Some(s) = settings
            .extra_search_path
            .iter()
            .find(|s| s.is_empty() || s.contains('\0'))
        {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("The schema {s:?} cannot be on the search path"),
            ));
        }
        Ok(Self {
            search_paths: settings
                .schemas
                .iter()
                .map(|s| sql::search_path(s, &settings.extra_search_path))
                .collect(),
            schemas: settings.schemas,
            anon_role: settings.anon_role.map(DbRole::new),
            max_rows: settings
                .limits
                .max_rows
                .map(|m| i64::try_from(m).unwrap_or(i64::MAX)),
            require_filter: settings.require_filter,
            tx_override: settings.tx_override,
            tx_rollback: settings.tx_rollback,
            body_limit: settings.limits.body,
            statement_timeout: settings.statement_timeout.map(|t| {
                let ms = u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1);
                (format!("{ms}ms"), ms)
            }),
            openapi_mode: settings.openapi_mode,
            server_timing: settings.server_timing,
            metrics: settings.metrics,
            aggregates: settings.aggregates,
            plan_enabled: settings.plan_enabled,
            api_page: settings.api_page && settings.openapi_mode != OpenApiMode::Disabled,
            batch_limit: settings.limits.batch_operations,
            pre_request: settings
                .pre_request
                .as_deref()
                .map(sql::render_pre_request)
                .transpose()?,
            stream_above: settings
                .stream_above
                .map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
            limits: Limits {
                // The grammar nests no deeper.
                max_depth: settings.limits.max_depth.min(crate::request::MAX_NESTING),
                ..settings.limits
            },
        })
    }

    /// Whether `schema` is one of the exposed schemas: the one rule for what a
    /// request may reach, whatever else the schema cache holds.
    pub(crate) fn exposes(&self, schema: &str) -> bool {
        self.schemas.iter().any(|s| s == schema)
    }

    /// The `statement_timeout` of a request whose role has `role`'s own
    /// setting (`ALTER ROLE … SET statement_timeout`): the stricter of that and
    /// the service's; `None` keeps the session's.
    ///
    /// A role's setting that cannot be read is kept as it is: PostgreSQL
    /// accepted it, and it is the role owner's own limit.
    pub(crate) fn statement_timeout<'a>(&'a self, role: Option<&'a str>) -> Option<&'a str> {
        match (&self.statement_timeout, role) {
            (None, role) => role,
            (Some((ours, _)), None) => Some(ours),
            (Some((ours, ms)), Some(role)) => match timeout_ms(role) {
                // 0 disables the timeout: ours is stricter.
                Some(theirs) if theirs == 0 || theirs >= *ms => Some(ours),
                _ => Some(role),
            },
        }
    }

    /// [`statement_timeout`](Self::statement_timeout) in milliseconds, when
    /// it is one: what a batch's whole transaction may take.
    pub(crate) fn statement_timeout_ms(&self, role: Option<&str>) -> Option<u64> {
        self.statement_timeout(role)
            .and_then(timeout_ms)
            .filter(|ms| *ms > 0)
    }

    /// The exposed schemas, the default first.
    pub(crate) fn schemas(&self) -> &[String] {
        &self.schemas
    }

    /// The schema a request addresses: the one its profile header names, which
    /// must be exposed (406 otherwise), or the default.
    pub(crate) fn exposed(&self, profile: Option<&str>) -> Result<Exposed<'_>, Error> {
        let index = match profile {
            None => Some(0),
            Some(p) => self.schemas.iter().position(|s| s == p),
        };
        let Some(i) = index else {
            return Err(Error::pgrst(
                codes::PGRST106,
                format!("Invalid schema: {}", profile.unwrap_or_default()),
            )
            .with_hint(format!(
                "Only the following schemas are exposed: {}",
                self.schemas.join(", ")
            )));
        };
        Ok(Exposed {
            name: &self.schemas[i],
            search_path: &self.search_paths[i],
        })
    }

    /// Whether responses name their schema in `Content-Profile`: when there is
    /// a choice, or the request made one.
    pub(crate) fn names_profile(&self, profile: Option<&str>) -> bool {
        self.schemas.len() > 1 || profile.is_some()
    }

    /// Fails unless `snapshot` describes every exposed schema.
    pub(crate) fn covered_by(&self, snapshot: &crate::schema::Schema) -> Result<(), Error> {
        match self.schemas.iter().find(|s| !snapshot.schemas.contains(s)) {
            None => Ok(()),
            Some(missing) => Err(Error::new(
                crate::error::ErrorKind::Internal,
                format!("The schema cache does not cover the exposed schema \"{missing}\""),
            )
            .with_hint("Load the cache with every schema the service exposes")),
        }
    }
}

/// A `statement_timeout` setting in milliseconds, as PostgreSQL reads it: a
/// number and an optional unit (`us`, `ms`, `s`, `min`, `h`, `d`; none is
/// milliseconds), rounded down.
fn timeout_ms(value: &str) -> Option<u64> {
    let value = value.trim().trim_matches('\'').trim();
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    let per_unit = match unit.trim() {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1_000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    let ms = number * per_unit;
    // A fraction of a millisecond still times out: PostgreSQL rounds it up to 1.
    Some(if ms > 0.0 && ms < 1.0 { 1 } else { ms as u64 })
}

#[cfg(test)]
impl Config {
    /// The default settings, with `schemas` exposed and `max_rows`: for planner tests.
    pub(crate) fn for_tests(schemas: &[&str], max_rows: Option<u64>) -> Self {
        Self::new(Settings {
            schemas: schemas.iter().map(|s| (*s).to_owned()).collect(),
            limits: Limits::default().max_rows(max_rows),
            ..Settings::default()
        })
        .expect("the default settings are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_schemas(schemas: &[&str]) -> Result<Config, Error> {
        Config::new(Settings {
            schemas: schemas.iter().map(|s| (*s).to_owned()).collect(),
            ..Settings::default()
        })
    }

    #[test]
    fn schemas_are_checked_once() {
        assert!(with_schemas(&[]).is_err());
        for bad in ["", "pg_catalog", "information_schema", "a\0b"] {
            assert!(with_schemas(&["public", bad]).is_err(), "{bad:?}");
        }
        let config = with_schemas(&["api", "public"]).unwrap();
        assert_eq!(
            config.exposed(None).unwrap(),
            Exposed {
                name: "api",
                search_path: r#""api", "public""#
            }
        );
        assert_eq!(config.exposed(Some("public")).unwrap().name, "public");
        let err = config.exposed(Some("private")).unwrap_err();
        assert_eq!(err.postgrest_code(), "PGRST106");
        assert_eq!(
            err.hint(),
            Some("Only the following schemas are exposed: api, public")
        );
    }

    #[test]
    fn conversions_saturate() {
        let config = Config::new(Settings {
            limits: Limits::default().max_rows(Some(u64::MAX)),
            statement_timeout: Some(Duration::from_micros(10)),
            ..Settings::default()
        })
        .unwrap();
        assert_eq!(config.max_rows, Some(i64::MAX));
        assert_eq!(config.statement_timeout(None), Some("1ms"));
    }

    #[test]
    fn the_stricter_statement_timeout_wins() {
        let config = |t: Option<u64>| {
            Config::new(Settings {
                statement_timeout: t.map(Duration::from_millis),
                ..Settings::default()
            })
            .unwrap()
        };
        let ours = config(Some(2_000));
        for (role, expected) in [
            (None, Some("2000ms")),
            (Some("150ms"), Some("150ms")),
            (Some("1s"), Some("1s")),
            (Some("1500"), Some("1500")),
            (Some("2s"), Some("2000ms")),
            (Some("1min"), Some("2000ms")),
            (Some("0"), Some("2000ms")),
            (Some("500us"), Some("500us")),
            (Some("1.5s"), Some("1.5s")),
            (Some("'1h'"), Some("2000ms")),
            (Some("weird"), Some("weird")),
        ] {
            assert_eq!(ours.statement_timeout(role), expected, "{role:?}");
        }
        let none = config(None);
        assert_eq!(none.statement_timeout(Some("3s")), Some("3s"));
        assert_eq!(none.statement_timeout(None), None);
        assert_eq!(timeout_ms("2d"), Some(172_800_000));
        assert_eq!(timeout_ms("10 s"), Some(10_000));
    }
}
