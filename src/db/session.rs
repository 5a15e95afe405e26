//! A batch's session: several requests' statements in one transaction.

use std::sync::Arc;

use tokio_postgres::types::{ToSql, Type};

use super::codec::{TextParam, missing_row};
use super::context::{RequestContext, pre_request};
use super::pool::{ConnectionManager, MakeTls, Pool, pool_error};
use super::run::{CancelOnDrop, finish};
use crate::error::Error;
use crate::request::TxEnd;
use crate::sql;

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
            (!self.begun).then(|| client.batch_execute(sql::session::begin(false))),
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
