//! Large reads sent as PostgreSQL produces them.
//!
//! A streamed read declares a cursor over the page's rows and fetches them in
//! batches, so that neither PostgreSQL nor this process ever holds the whole
//! document. The first round trip is pipelined as every read's is: `BEGIN READ
//! ONLY`, the request's context, the `count(*)` when one was asked for, the
//! `DECLARE` and the first `FETCH`. A result that fits in that first batch is
//! answered whole, like any other read (after a second round trip for the
//! `COMMIT`); a larger one is handed to a task that owns the connection,
//! fetches the next batch while the client reads the last, and ends the
//! transaction when the cursor runs dry.
//!
//! The body and the task meet through a channel of two chunks: a slow client
//! slows the fetching (memory stays at a few batches), and a client that goes
//! away is noticed at the next chunk (the transaction rolls back and the
//! connection goes back to the pool) or, while a `FETCH` runs, at once (the
//! query is cancelled and the connection retired, as when any request is
//! dropped mid-query). An error after the first chunk ends the body with that
//! error; see [`RestBody`].
//!
//! tokio-postgres runs the statements; the cursor is SQL's own (`DECLARE …
//! CURSOR`), because a protocol-level portal needs tokio-postgres's
//! `Transaction`, which borrows the client and so cannot move into the task.

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;
use tokio_postgres::types::{ToSql, Type};

use super::codec::{RawText, TextParam, missing_row};
use super::context::{RequestContext, pre_request};
use super::pool::{Connection, ConnectionManager, MakeTls, Pool, pool_error};
use super::run::{CancelOnDrop, finish};
use crate::body::{RestBody, StreamItem};
use crate::error::Error;
use crate::request::TxEnd;
use crate::sql::{self, StreamStatements};

/// Rows in the first batch, which also decides whether a read streams at all.
pub(crate) const FIRST_BATCH: usize = 1000;
/// Bounds of later batches, which grow or shrink to keep a chunk near [`CHUNK_BYTES`].
const MIN_BATCH: usize = 16;
const MAX_BATCH: usize = 20_000;
const CHUNK_BYTES: usize = 256 * 1024;
/// Chunks waiting for the client: the fetching runs at most this far ahead.
const AHEAD: usize = 2;

/// How rows are put together into the document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A JSON array, as `json_agg` writes it.
    Json,
    /// A JSON array of null-stripped objects, as `json_strip_nulls` writes it.
    JsonStripped,
    /// One object per line.
    NdJson,
    /// A header line (the first row's keys), then one line per row.
    Csv,
}

impl Shape {
    /// The document's opening, before any row.
    fn open(self) -> &'static [u8] {
        match self {
            Self::Json | Self::JsonStripped => b"[",
            Self::NdJson | Self::Csv => b"",
        }
    }

    /// What goes between two rows.
    fn separator(self) -> &'static [u8] {
        match self {
            // json_agg's: a comma, then a new line and a space before each composite.
            Self::Json => b", \n ",
            Self::JsonStripped => b",",
            Self::NdJson => b"",
            Self::Csv => b"\n",
        }
    }

    /// What follows each row.
    fn terminator(self) -> &'static [u8] {
        match self {
            Self::NdJson => b"\n",
            _ => b"",
        }
    }

    /// The document's end; `empty` when there were no rows.
    fn close(self, empty: bool) -> &'static [u8] {
        match (self, empty) {
            (Self::Json | Self::JsonStripped, _) => b"]",
            // A CSV of no rows is its empty header line.
            (Self::Csv, true) => b"\n",
            _ => b"",
        }
    }
}

/// Renders batches of `(header, row)` rows into the document's bytes.
struct Renderer {
    shape: Shape,
    rows: u64,
}

impl Renderer {
    fn chunk(&mut self, batch: &[tokio_postgres::Row], last: bool) -> Result<Bytes, Error> {
        let mut out = BytesMut::new();
        if self.rows == 0 {
            out.extend_from_slice(self.shape.open());
        }
        for row in batch {
            if self.rows == 0 {
                if self.shape == Shape::Csv {
                    let header: Option<RawText> = row.try_get(0).map_err(Error::from_pg)?;
                    out.extend_from_slice(header.map(|h| h.0).as_deref().unwrap_or_default());
                    out.extend_from_slice(b"\n");
                }
            } else {
                out.extend_from_slice(self.shape.separator());
            }
            let value: Option<RawText> = row.try_get(1).map_err(Error::from_pg)?;
            out.extend_from_slice(value.map(|v| v.0).as_deref().unwrap_or_default());
            out.extend_from_slice(self.shape.terminator());
            self.rows += 1;
        }
        if last {
            out.extend_from_slice(self.shape.close(self.rows == 0));
        }
        Ok(out.freeze())
    }
}

/// A streamed read's answer.
#[derive(Debug)]
pub(crate) struct Streamed {
    /// The `count(*)`, when one was asked for.
    pub(crate) total: Option<i64>,
    /// The rows of the page, when they all came in the first batch.
    pub(crate) page_total: Option<i64>,
    pub(crate) body: RestBody,
}

fn fetch_sql(rows: usize) -> String {
    sql::session::fetch(rows)
}

/// Runs a read through a cursor; see the [module docs](self).
pub(crate) async fn stream_read<T: MakeTls>(
    pool: &Pool<T>,
    generation: u64,
    ctx: &RequestContext<'_>,
    stmts: &StreamStatements,
    shape: Shape,
    bounds: &mut StreamBounds,
) -> Result<Streamed, Error> {
    let mut conn = pool.get_owned().await.map_err(pool_error)?;
    conn.sync_generation(generation);
    let mut guard = CancelOnDrop {
        cancel: conn.cancel.clone(),
        abandoned: std::sync::Arc::clone(&conn.abandoned),
        armed: true,
    };
    let first = first_batch(&conn, ctx, stmts).await;
    let (total, rows) = match first {
        Ok(first) => first,
        Err(e) => {
            conn.ended(&conn.client.batch_execute(sql::session::ROLLBACK).await);
            guard.armed = false;
            return Err(e);
        }
    };
    let mut renderer = Renderer { shape, rows: 0 };
    let last = rows.len() < FIRST_BATCH;
    let chunk = renderer.chunk(&rows, last);
    let chunk = match chunk {
        Ok(chunk) => chunk,
        Err(e) => {
            conn.ended(&conn.client.batch_execute(sql::session::ROLLBACK).await);
            guard.armed = false;
            return Err(e);
        }
    };
    if last {
        let ended = finish(&conn.client, TxEnd::Commit).await;
        conn.ended(&ended);
        guard.armed = false;
        ended.map_err(Error::from_pg)?;
        return Ok(Streamed {
            total,
            page_total: Some(rows.len() as i64),
            body: RestBody::from(chunk),
        });
    }
    drop(rows);
    guard.armed = false;
    let (sender, receiver) = mpsc::channel(AHEAD);
    let bounds = StreamBounds {
        permit: bounds.permit.take(),
        send_timeout: bounds.send_timeout,
    };
    tokio::spawn(produce(conn, renderer, sender, bounds));
    Ok(Streamed {
        total,
        page_total: None,
        body: RestBody::stream(chunk, receiver),
    })
}

/// The first round trip: the transaction, its context, the count, the
/// cursor and its first batch.
async fn first_batch(
    conn: &Connection,
    ctx: &RequestContext<'_>,
    stmts: &StreamStatements,
) -> Result<(Option<i64>, Vec<tokio_postgres::Row>), Error> {
    let client = &conn.client;
    let ctx_params = ctx.values().map(TextParam);
    let ctx_typed: Vec<(&(dyn ToSql + Sync), Type)> = ctx_params
        .iter()
        .map(|p| (p as &(dyn ToSql + Sync), Type::UNKNOWN))
        .collect();
    let row_params = text_params(&stmts.rows);
    let row_typed: Vec<(&(dyn ToSql + Sync), Type)> = row_params
        .iter()
        .map(|p| (p as &(dyn ToSql + Sync), Type::UNKNOWN))
        .collect();
    let count_params = stmts.count.as_ref().map(text_params).unwrap_or_default();
    let count_typed: Vec<(&(dyn ToSql + Sync), Type)> = count_params
        .iter()
        .map(|p| (p as &(dyn ToSql + Sync), Type::UNKNOWN))
        .collect();
    let declare = sql::session::declare_cursor(&stmts.rows.sql);
    let fetch = fetch_sql(FIRST_BATCH);
    let count = futures_util::future::OptionFuture::from(
        stmts
            .count
            .as_ref()
            .map(|c| client.query_typed(&c.sql, &count_typed)),
    );
    let (begin, set, pre, count, declared, rows) = futures_util::join!(
        client.batch_execute(sql::session::begin(true)),
        client.query_typed(sql::CONTEXT_SQL, &ctx_typed),
        pre_request(client, ctx.pre_request),
        count,
        client.query_typed(&declare, &row_typed),
        client.query_typed(&fetch, &[]),
    );
    begin.map_err(Error::from_pg)?;
    set.map_err(Error::from_pg)?;
    pre?;
    let total = match count {
        Some(rows) => {
            let rows = rows.map_err(Error::from_pg)?;
            let row = rows.first().ok_or_else(missing_row)?;
            Some(row.try_get::<_, i64>(0).map_err(Error::from_pg)?)
        }
        None => None,
    };
    declared.map_err(Error::from_pg)?;
    Ok((total, rows.map_err(Error::from_pg)?))
}

fn text_params(stmt: &sql::Statement) -> Vec<TextParam<'_>> {
    stmt.params
        .iter()
        .map(|p| TextParam(p.as_deref()))
        .collect()
}

/// What one streamed read may hold: its place among the streams (given
/// back when the stream ends), and how long its client may leave a chunk
/// untaken before the stream is given up.
pub(crate) struct StreamBounds {
    pub(crate) permit: Option<tokio::sync::OwnedSemaphorePermit>,
    pub(crate) send_timeout: std::time::Duration,
}

/// Fetches and sends the rest of the rows, then ends the transaction. A
/// client that takes no chunk for `bounds.send_timeout` is given up on: the
/// transaction rolls back (closing the cursor), the connection goes back to
/// the pool, and the body ends cut short.
async fn produce(
    mut conn: bb8::PooledConnection<'static, ConnectionManager<impl MakeTls>>,
    mut renderer: Renderer,
    sender: mpsc::Sender<StreamItem>,
    bounds: StreamBounds,
) {
    let conn: &mut Connection = &mut conn;
    let mut guard = CancelOnDrop {
        cancel: conn.cancel.clone(),
        abandoned: std::sync::Arc::clone(&conn.abandoned),
        armed: true,
    };
    let _permit = bounds.permit;
    let send = |item: StreamItem| tokio::time::timeout(bounds.send_timeout, sender.send(item));
    let mut batch = FIRST_BATCH;
    loop {
        let fetch = fetch_sql(batch);
        let rows = tokio::select! {
            rows = conn.client.query_typed(&fetch, &[]) => rows,
            // The client went away while the database works: cancel it
            // (the armed guard does, and retires the connection).
            () = sender.closed() => return,
        };
        let chunk = rows.map_err(Error::from_pg).and_then(|rows| {
            Ok((
                rows.len() < batch,
                renderer.chunk(&rows, rows.len() < batch)?,
            ))
        });
        let (last, chunk) = match chunk {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!(error = %e, "a streamed read failed after its first rows");
                conn.ended(&conn.client.batch_execute(sql::session::ROLLBACK).await);
                guard.armed = false;
                let _ = send(Err(e)).await;
                return;
            }
        };
        batch = if chunk.len() > CHUNK_BYTES {
            (batch / 2).max(MIN_BATCH)
        } else if chunk.len() < CHUNK_BYTES / 4 {
            (batch * 2).min(MAX_BATCH)
        } else {
            batch
        };
        match send(Ok(Some(chunk))).await {
            Ok(Ok(())) => {}
            // The client went away between batches: nothing runs; end the transaction.
            Ok(Err(_)) => {
                conn.ended(&conn.client.batch_execute(sql::session::ROLLBACK).await);
                guard.armed = false;
                return;
            }
            Err(_) => {
                tracing::warn!(
                    timeout_ms = bounds.send_timeout.as_millis() as u64,
                    "a streamed read's client took no data in time; the stream is given up"
                );
                crate::metrics::stream_given_up();
                conn.ended(&conn.client.batch_execute(sql::session::ROLLBACK).await);
                guard.armed = false;
                return;
            }
        }
        if last {
            let ended = finish(&conn.client, TxEnd::Commit).await;
            conn.ended(&ended);
            guard.armed = false;
            if let Err(e) = ended {
                tracing::warn!(error = %e, "a streamed read's commit failed");
            }
            // Whole: the body ends as a complete document.
            let _ = send(Ok(None)).await;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_documents_match_the_aggregates() {
        for (shape, empty) in [
            (Shape::Json, "[]"),
            (Shape::JsonStripped, "[]"),
            (Shape::NdJson, ""),
            (Shape::Csv, "\n"),
        ] {
            let mut r = Renderer { shape, rows: 0 };
            assert_eq!(r.chunk(&[], true).unwrap(), empty.as_bytes(), "{shape:?}");
        }
    }
}
