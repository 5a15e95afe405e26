//! The one executor: every kind of request is a [`Plan`], and this module is
//! the only code that runs one.
//!
//! Given a plan, [`Executor::execute`] picks the pool (the read pool for a
//! read-only transaction, unless the request pins the primary, with the
//! primary as fallback when the read pool fails), builds the request's
//! context (role, claims, method, path, headers, cookies, search path,
//! statement timeout, time zone) and pre-request, runs the statements (one
//! `Sync` wherever the connection allows), applies the plan's [`Checks`]
//! (single object, `max-affected`, PUT's key rule) before the transaction
//! ends when a failure must undo work, ends the transaction as the plan says
//! (`tx=rollback` included), maps errors for anonymous callers, and hands
//! the outcome to [`response`]. A batch runs each operation's plan here too,
//! in one shared [`db::Session`].
//!
//! # Every rule × every kind
//!
//! Each cell applies, or is refused with a clear 4xx, or cannot arise (—).
//! `tests/it/rules.rs` has one test per row, asserting each of its cells;
//! `tests/it/one_road.rs` has the cells the side roads used to get wrong.
//!
//! | rule | read | streamed read | write | call | plan (EXPLAIN) | nested insert | batch |
//! |---|---|---|---|---|---|---|---|
//! | `Prefer: tx=` | applies (and is echoed) | applies | applies | applies | always rolls back | applies | the batch's own `tx=` ends it; an operation's is refused |
//! | `handling=strict` | applies | applies | applies | applies | applies | applies | applies, to the batch and each operation |
//! | `max-affected` | not bounded (as PostgREST) | not bounded | PATCH and DELETE | applies | — | not bounded (an insert) | applies per operation |
//! | single-object media type | applies (406) | never streams (406) | applies (406, rolled back) | applies | plans for it (`for=`) | applies (406, rolled back) | applies per operation |
//! | shape limits | applies | applies | applies | applies | applies | depth and relationship paths, before any statement | applies per operation |
//! | statement timeout | applies | applies | applies | applies | applies | applies | applies per statement |
//! | pre-request | applies | applies | applies | applies | applies | applies | applies per operation |
//! | `Preference-Applied` | applies | applies | applies | applies | — | applies | per operation (and `tx=` on the batch) |
//! | `Content-Range` and counts | applies | applies | applies | applies | — | as an insert's | per operation |
//! | read pool, primary fallback | read pool | read pool | primary | read pool when not volatile | read pool when read-only | primary | primary |
//! | anonymous status (PostgREST dialect) | applies | applies | applies | applies | applies | applies | applies |
//! | Server-Timing | applies | applies | applies | applies | applies | applies | the batch as a whole |
//! | metrics | applies | applies | applies | applies | applies | applies | the batch as a whole |
//! | media-type handlers | applies | never streams | — | applies | — | — | applies per operation |

mod batch;
mod nested;
mod replica;

pub(crate) use replica::ReadPool;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::Response;
use tracing::Instrument;

use crate::body::RestBody;
use crate::config::Config;
use crate::db::{self, MakeTls, Pool, RequestContext};
use crate::error::{Error, ErrorKind};
use crate::layer::DbRole;
use crate::plan::{self, Counted, Plan, PlanKind, Resource};
use crate::request::{self, ApiRequest};
use crate::response;
use crate::schema::Schema;
use crate::sql;

/// Where a read-only request reads, when the service has a
/// [`read_pool`](crate::RestServiceBuilder::read_pool).
///
/// A request reads from a replica unless it says otherwise: with the header
/// `X-Read-From: primary`, or with this type as a request extension (which
/// takes precedence over the header), for example inserted by a host's layer
/// for a session that has just written and must read what it wrote.
///
/// ```
/// use tower_postgrest::ReadFrom;
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(ReadFrom::Primary);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReadFrom {
    /// The read pool, when there is one (the default).
    #[default]
    Replica,
    /// The primary pool, whatever the request does.
    Primary,
}

impl ReadFrom {
    /// The request header that pins a read to the primary (`X-Read-From: primary`).
    pub const HEADER: &'static str = "x-read-from";

    fn of(parts: &http::request::Parts) -> Self {
        if let Some(choice) = parts.extensions.get::<Self>() {
            return *choice;
        }
        match parts.headers.get(Self::HEADER).map(|v| v.as_bytes()) {
            Some(v) if v.eq_ignore_ascii_case(b"primary") => Self::Primary,
            _ => Self::Replica,
        }
    }
}

/// Where a request's time went, for `Server-Timing`.
#[derive(Default)]
pub(crate) struct Stages {
    /// Nanoseconds in the database (all of a request's transactions).
    transaction: AtomicU64,
    /// What the `db-pre-request` function set for the response.
    pre: std::sync::OnceLock<db::PreAnswer>,
}

impl Stages {
    /// Adds `d` to the time spent in the database.
    pub(crate) fn add_transaction(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.transaction.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The time spent in the database so far.
    pub(crate) fn transaction(&self) -> Duration {
        Duration::from_nanos(self.transaction.load(Ordering::Relaxed))
    }
}

/// The pools and settings plans run with.
pub(crate) struct Executor<'s, T: MakeTls> {
    pub(crate) pool: &'s Pool<T>,
    pub(crate) read_pool: Option<&'s std::sync::Arc<ReadPool<T>>>,
    /// Places for streamed reads: a share of the pool.
    pub(crate) streams: &'s std::sync::Arc<tokio::sync::Semaphore>,
    pub(crate) config: &'s Config,
}

/// The request a plan runs for: who asks, with which headers, under which
/// schema snapshot, and where its time goes.
pub(crate) struct Caller<'a> {
    pub(crate) parts: &'a http::request::Parts,
    pub(crate) role: &'a DbRole,
    pub(crate) schema: &'a Schema,
    pub(crate) stages: &'a Stages,
}

/// Where a plan's statements run: a transaction of their own on a pooled
/// connection, or a batch's shared transaction.
pub(crate) enum Place<'c, 'p, T: MakeTls> {
    Own,
    Shared(&'c mut db::Session<'p, T>),
}

impl<T: MakeTls> Executor<'_, T> {
    /// Runs `plan` for `caller` and builds its response.
    pub(crate) async fn execute(
        &self,
        plan: &Plan<'_>,
        api: &ApiRequest,
        caller: &Caller<'_>,
        mut place: Place<'_, '_, T>,
    ) -> Result<Response<RestBody>, Error> {
        let parts = caller.parts;
        if let (Some(explain), Place::Own) = (&api.accepted.explain, &place) {
            return self.explain(plan, caller, explain).await;
        }
        if api.accepted.explain.is_some() {
            return Err(batch_refuses("Plans are not available in a batch"));
        }
        let mut res = match &plan.kind {
            PlanKind::Options {
                resource,
                allow,
                privileges,
            } => {
                let only = match resource {
                    Resource::Relation(t) => Some(t.name.as_str()),
                    Resource::Function(f) => Some(*f),
                    Resource::Root => None,
                };
                let granted = match privileges {
                    true => Some(self.privileges(plan, caller, only, &mut place).await?),
                    false => None,
                };
                return response::options(plan.schema.name, *resource, *allow, granted.as_ref());
            }
            PlanKind::Describe {
                headers_only,
                privileges,
            } => {
                let granted = match privileges {
                    true => Some(self.privileges(plan, caller, None, &mut place).await?),
                    false => None,
                };
                response::describe(
                    caller.schema,
                    plan.schema.name,
                    *headers_only,
                    granted.as_ref(),
                )
            }
            PlanKind::Read(read) => match (self.streams(read), &place) {
                (Some(shape), Place::Own) => {
                    let streamed = self.stream(plan, caller, read, shape).await?;
                    response::read_streamed(read, streamed, &parts.uri)?
                }
                _ => {
                    let stmts = sql::render_read(read)?;
                    let (one, both);
                    let all: &[&sql::Statement] = match &stmts.explain {
                        Some(explain) => {
                            both = [&stmts.main, explain];
                            &both
                        }
                        None => {
                            one = [&stmts.main];
                            &one
                        }
                    };
                    let result: db::ReadResult =
                        self.statements(plan, caller, all, &mut place).await?;
                    response::read(read, result, &parts.uri)?
                }
            },
            PlanKind::Call(call) => {
                let stmt = sql::render_call(call)?;
                let result = self.statements(plan, caller, &[&stmt], &mut place).await?;
                response::call(call, result)?
            }
            PlanKind::Write(write) => {
                let stmt = sql::render_write(write)?;
                let result = self.statements(plan, caller, &[&stmt], &mut place).await?;
                response::write(write, api.action, result)?
            }
            PlanKind::Nested(nested) => {
                let result = self.nested(plan, nested, caller, place).await?;
                response::write(&nested.write, api.action, result)?
            }
        };
        response::finish(
            &mut res,
            plan,
            api,
            caller.stages.pre.get(),
            self.config.names_profile(api.profile.as_deref()),
        )?;
        Ok(res)
    }

    /// The request's context for its transaction.
    fn context<'a>(
        &'a self,
        plan: &'a Plan<'_>,
        caller: &'a Caller<'a>,
        claims: &'a str,
        headers: &'a str,
        cookies: &'a str,
    ) -> RequestContext<'a> {
        let role = caller.role.role();
        RequestContext {
            role,
            claims,
            method: caller.parts.method.as_str(),
            path: caller.parts.uri.path(),
            search_path: plan.schema.search_path,
            headers,
            cookies,
            statement_timeout: self
                .config
                .statement_timeout(caller.schema.role_timeouts.get(role).map(String::as_str)),
            timezone: plan.timezone.as_deref(),
            pre_request: self
                .config
                .pre_request
                .as_deref()
                .map(|sql| db::PreRequest {
                    sql,
                    answer: &caller.stages.pre,
                }),
        }
    }

    /// Whether the caller is the anonymous role: its privilege errors are 401.
    fn anonymous(&self, caller: &Caller<'_>) -> bool {
        self.config
            .anon_role
            .as_ref()
            .is_some_and(|a| a.role() == caller.role.role())
    }

    /// The read pool, for a read-only transaction the caller lets read from
    /// a replica, unless it is down.
    fn replica(&self, read_only: bool, caller: &Caller<'_>) -> Option<&Pool<T>> {
        self.read_pool
            .filter(|_| read_only && ReadFrom::of(caller.parts) == ReadFrom::Replica)
            .and_then(|r| r.usable())
    }

    /// Whether `result` of the read pool means it failed (then it is marked
    /// down, and the primary serves the request).
    fn replica_failed<R>(&self, result: &Result<R, Error>) -> bool {
        match (result, self.read_pool) {
            (Err(e), Some(read_pool)) if e.kind() == ErrorKind::Unavailable => {
                read_pool.failed(e);
                true
            }
            _ => false,
        }
    }

    /// Runs `plan`'s statements (one transaction, or in the batch's), checks
    /// the result — before the commit when a failure must undo work — and
    /// maps the error for the caller.
    async fn statements<R: db::Outcome + Counted>(
        &self,
        plan: &Plan<'_>,
        caller: &Caller<'_>,
        stmts: &[&sql::Statement],
        place: &mut Place<'_, '_, T>,
    ) -> Result<R, Error> {
        let claims = caller.role.claims_json();
        let (headers, cookies) = request::headers_json(&caller.parts.headers);
        let ctx = self.context(plan, caller, &claims, &headers, &cookies);
        let checks = plan.checks;
        let check = move |r: &R| checks.verify(r.rows(), r.affected());
        let decide = plan.decides_commit().then_some(&check as db::Check<'_, R>);
        let span = tracing::debug_span!(
            "transaction",
            statement = tracing::field::Empty,
            read_only = plan.tx.read_only,
            rows = tracing::field::Empty,
            database_ms = tracing::field::Empty,
        );
        if !span.is_disabled() {
            // The statement's identity, never its values.
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            for stmt in stmts {
                stmt.sql.hash(&mut hasher);
            }
            span.record("statement", format_args!("{:016x}", hasher.finish()));
        }
        let started = Instant::now();
        let generation = caller.schema.generation;
        let result = async {
            match place {
                Place::Shared(session) => {
                    let rows = session.run(&ctx, stmts).await?;
                    R::from_rows(&rows)
                }
                Place::Own => match self.replica(plan.tx.read_only, caller) {
                    Some(read_pool) => {
                        let read =
                            db::run(read_pool, generation, &ctx, stmts, plan.tx, decide).await;
                        // A read has no effect to undo: the primary can serve it.
                        match self.replica_failed(&read) {
                            true => {
                                db::run(self.pool, generation, &ctx, stmts, plan.tx, decide).await
                            }
                            false => read,
                        }
                    }
                    None => db::run(self.pool, generation, &ctx, stmts, plan.tx, decide).await,
                },
            }
        }
        .instrument(span.clone())
        .await;
        let elapsed = started.elapsed();
        caller.stages.add_transaction(elapsed);
        span.record("database_ms", elapsed.as_secs_f64() * 1000.0);
        let result = result.map_err(|e| e.for_anonymous(self.anonymous(caller)))?;
        span.record("rows", result.rows());
        check(&result)?;
        Ok(result)
    }

    /// How a read streams, if it does: NDJSON always; JSON and CSV when the
    /// relation is large and no small `limit` bounds the page. Planned and
    /// estimated counts need the whole-page path.
    fn streams(&self, read: &plan::ReadPlan<'_>) -> Option<db::Shape> {
        use request::{Count, MediaType};
        if read.headers_only || !matches!(read.count, None | Some(Count::Exact)) {
            return None;
        }
        let shape = match read.media {
            MediaType::NdJson => return Some(db::Shape::NdJson),
            MediaType::Json => db::Shape::Json,
            MediaType::JsonStripped => db::Shape::JsonStripped,
            MediaType::Csv => db::Shape::Csv,
            _ => return None,
        };
        let large = self
            .config
            .stream_above
            .is_some_and(|above| read.table.estimated_bytes >= above);
        let bounded = read.limit.is_some_and(|l| l <= db::FIRST_BATCH as i64);
        (large && !bounded).then_some(shape)
    }

    /// A place among the streamed reads: at most a share of the pool streams
    /// at once, so that streams never hold every connection. Waits for one
    /// as long as the pool would wait for a connection, then 503.
    async fn stream_place(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Error> {
        let timeout = self.pool.config().connection_timeout;
        match tokio::time::timeout(timeout, std::sync::Arc::clone(self.streams).acquire_owned())
            .await
        {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(
                Error::new(ErrorKind::Unavailable, "Too many streamed reads at once")
                    .with_details(format!(
                        "At most {}% of the pool's connections serve streamed reads at once",
                        self.config.limits.stream_share
                    ))
                    .with_hint("Try again later, or read in pages (limit and offset)"),
            ),
        }
    }

    /// Runs a streamed read, from the read pool when it may (the primary
    /// when the read pool fails).
    async fn stream(
        &self,
        plan: &Plan<'_>,
        caller: &Caller<'_>,
        read: &plan::ReadPlan<'_>,
        shape: db::Shape,
    ) -> Result<db::Streamed, Error> {
        let stmts = sql::render_stream(read)?;
        let claims = caller.role.claims_json();
        let (headers, cookies) = request::headers_json(&caller.parts.headers);
        let ctx = self.context(plan, caller, &claims, &headers, &cookies);
        let generation = caller.schema.generation;
        let started = Instant::now();
        let mut bounds = db::StreamBounds {
            permit: Some(self.stream_place().await?),
            send_timeout: self.config.limits.send_timeout,
        };
        let result = async {
            if let Some(read_pool) = self.replica(plan.tx.read_only, caller) {
                let read =
                    db::stream_read(read_pool, generation, &ctx, &stmts, shape, &mut bounds).await;
                if !self.replica_failed(&read) {
                    return read;
                }
            }
            db::stream_read(self.pool, generation, &ctx, &stmts, shape, &mut bounds).await
        }
        .instrument(tracing::debug_span!("transaction", streamed = true))
        .await;
        caller.stages.add_transaction(started.elapsed());
        result.map_err(|e| e.for_anonymous(self.anonymous(caller)))
    }

    /// The execution plan of `plan`'s statement, as `explain` asks: run in
    /// a transaction that always rolls back, on the read pool when the plan
    /// is read-only.
    async fn explain(
        &self,
        plan: &Plan<'_>,
        caller: &Caller<'_>,
        explain: &request::Explain,
    ) -> Result<Response<RestBody>, Error> {
        let (stmt, media) = match &plan.kind {
            PlanKind::Read(read) => (sql::render_read(read)?.main, read.media),
            PlanKind::Call(call) => (sql::render_call(call)?, call.shape.media),
            PlanKind::Write(write) => (sql::render_write(write)?, write.shape.media),
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidRequest,
                    "Only reads, writes and calls have plans",
                )
                .with_hint("Ask for the plan of each statement's request on its own"));
            }
        };
        let stmt = sql::explain(stmt, explain);
        let claims = caller.role.claims_json();
        let (headers, cookies) = request::headers_json(&caller.parts.headers);
        let ctx = self.context(plan, caller, &claims, &headers, &cookies);
        let generation = caller.schema.generation;
        let read_only = plan.tx.read_only;
        let started = Instant::now();
        let rows = async {
            if let Some(read_pool) = self.replica(read_only, caller) {
                let planned = db::run_explain(read_pool, generation, &ctx, &stmt, read_only).await;
                if !self.replica_failed(&planned) {
                    return planned;
                }
            }
            db::run_explain(self.pool, generation, &ctx, &stmt, read_only).await
        }
        .await;
        caller.stages.add_transaction(started.elapsed());
        let rows = rows.map_err(|e| e.for_anonymous(self.anonymous(caller)))?;
        Ok(response::explain(&rows, &explain.content_type(media)))
    }

    /// What the caller's role may use in the plan's schema (of `only`, when
    /// given), asked of PostgreSQL as that role.
    async fn privileges(
        &self,
        plan: &Plan<'_>,
        caller: &Caller<'_>,
        only: Option<&str>,
        place: &mut Place<'_, '_, T>,
    ) -> Result<plan::Privileges, Error> {
        let stmt = sql::render_privileges(plan.schema.name, only);
        let result: db::ReadResult = self.statements(plan, caller, &[&stmt], place).await?;
        plan::Privileges::from_json(&result.body)
    }
}

/// A request kind a batch does not run, refused with a 400.
pub(super) fn batch_refuses(message: &str) -> Error {
    Error::new(ErrorKind::InvalidRequest, message.to_owned())
}
