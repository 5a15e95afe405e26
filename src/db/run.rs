//! The drivers: one request's statements in one transaction, pipelined
//! through tokio-postgres (prepared or unnamed) or sent before one `Sync` on
//! the [`direct`](super::direct) path, and the checks that decide its end.

use std::sync::Arc;

use bytes::Bytes;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Statement};

use super::codec::{
    CallResult, Columns, FromRow, ReadResult, TextParam, WriteResult, missing_row, read_result,
};
use super::context::{PreRequest, RequestContext, pre_request};
use super::pool::{Connection, MakeTls, Pool, pool_error};
use super::{direct, wire};
use crate::error::{Error, ErrorKind};
use crate::plan::Tx;
use crate::request::TxEnd;
use crate::sql;

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
        let begin = sql::session::begin(read_only);
        let (begun, set, pre, rows) = futures_util::join!(
            client.batch_execute(begin),
            client.query_typed(sql::CONTEXT_SQL, &ctx_typed),
            pre_request(client, ctx.pre_request),
            client.query_typed(&stmt.sql, &typed),
        );
        // Nothing a plan ran (EXPLAIN ANALYZE of a write) is kept.
        conn.ended(&client.batch_execute(sql::session::ROLLBACK).await);
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

/// Runs `stmts` [`direct`]ly on a connection the pool opened itself: one
/// round trip, one `Sync`, PostgreSQL's implicit transaction.
async fn run_direct(
    conn: &mut Connection,
    exchange: wire::Direct,
    read_only: bool,
    ctx: &RequestContext<'_>,
    stmts: &[&sql::Statement],
) -> Result<direct::Rows, Error> {
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

pub(super) async fn finish(client: &Client, ending: TxEnd) -> Result<(), tokio_postgres::Error> {
    match ending {
        // What the request set for its session goes back to the connection's
        // defaults with the commit (a rollback undoes it by itself).
        TxEnd::Commit => client.batch_execute(sql::session::COMMIT_AND_RESET).await,
        TxEnd::Rollback => {
            // Two messages: the ROLLBACK runs even when the check fails.
            let (check, rollback) = futures_util::join!(
                client.batch_execute(sql::session::CHECK_DEFERRED),
                client.batch_execute(sql::session::ROLLBACK),
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
    let begin_sql = sql::session::begin(read_only);
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
        // First use on this connection: prepare inside the transaction, as the request's role.
        None => prepare_begun(conn, stmts, begin_sql, &context, &ctx_refs, ctx.pre_request).await?,
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

/// Begins the transaction with its context and pre-request, and prepares
/// the statements of `stmts` this connection has not prepared yet, in one
/// round trip: parsing checks privileges as the request's role. Rolls back on
/// failure.
async fn prepare_begun(
    conn: &mut Connection,
    stmts: &[&sql::Statement],
    begin_sql: &str,
    context: &Statement,
    ctx_refs: &[&(dyn ToSql + Sync); 9],
    pre: Option<PreRequest<'_>>,
) -> Result<Vec<Statement>, Error> {
    let client = &conn.client;
    let missing: Vec<&str> = stmts
        .iter()
        .map(|s| s.sql.as_str())
        .filter(|s| conn.cached(s).is_none())
        .collect();
    let (begin, set, pre, fresh) = futures_util::join!(
        client.batch_execute(begin_sql),
        client.query_one(context, ctx_refs),
        pre_request(client, pre),
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
            conn.ended(&client.batch_execute(sql::session::ROLLBACK).await);
            return Err(e);
        }
    };
    for (sql, stmt) in missing.into_iter().zip(fresh) {
        conn.remember(sql, stmt);
    }
    match stmts.iter().map(|s| conn.cached(&s.sql)).collect() {
        Some(prepared) => Ok(prepared),
        None => {
            conn.ended(&conn.client.batch_execute(sql::session::ROLLBACK).await);
            Err(Error::new(
                ErrorKind::Internal,
                "A prepared statement went missing",
            ))
        }
    }
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
pub(super) struct CancelOnDrop {
    pub(super) cancel: Option<Arc<dyn Fn() + Send + Sync>>,
    pub(super) abandoned: Arc<std::sync::atomic::AtomicBool>,
    pub(super) armed: bool,
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
            conn.ended(&client.batch_execute(sql::session::ROLLBACK).await);
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
                conn.ended(&client.batch_execute(sql::session::ROLLBACK).await);
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
