//! A request in one round trip with one `Sync`: the context and the
//! statements as `Bind`/`Execute` pairs in PostgreSQL's implicit transaction,
//! which commits at the `Sync` (see [`wire`](super::wire) for why, and how
//! the socket is shared).

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use fallible_iterator::FallibleIterator;
use postgres_protocol::IsNull;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use smallvec::SmallVec;

use super::RequestContext;
use super::codec::{Columns, missing_column, missing_row};
use super::wire::{Direct, Wire};
use crate::error::{DbFields, Error, ErrorKind};
use crate::sql;

/// The names of the context statements on every direct connection: read-write, and read-only.
const CONTEXTS: [(&str, &str); 2] = [
    ("tpg_context", sql::CONTEXT_SQL),
    ("tpg_context_ro", sql::CONTEXT_READ_ONLY_SQL),
];

/// A connection's state for direct reads: its socket, and the statements
/// prepared on it by name (a namespace apart from tokio-postgres's).
#[derive(Debug)]
pub(crate) struct DirectState {
    pub(crate) wire: Wire,
    /// Whether each of [`CONTEXTS`] is prepared.
    contexts: [bool; 2],
    /// Prepared statements: SQL text to name.
    statements: HashMap<String, String>,
    /// The number for the next statement name.
    next: u64,
    /// Statements to close with the next exchange.
    to_close: Vec<String>,
    /// Whether statements are prepared by name and kept; otherwise each is
    /// parsed unnamed on every request.
    named: bool,
    /// Which of the resets (`sql::session::RESETS`) are prepared: what a
    /// request set for its session goes back to the connection's defaults
    /// before the next request, `SET ROLE` included.
    reset: [bool; 3],
    /// Statements kept before the cache starts over.
    capacity: usize,
    /// The buffers of the last exchange, kept for the next one (the answer
    /// read into `input` is sliced, not copied, so it is reused only once
    /// every slice of it is gone); none over [`KEPT_BUFFER`] is kept.
    out: BytesMut,
    input: BytesMut,
}

/// The largest buffer a connection keeps between requests: what one
/// request read past it is freed with the request.
const KEPT_BUFFER: usize = 64 * 1024;

impl DirectState {
    pub(crate) fn new(wire: Wire, named: bool, capacity: usize) -> Self {
        Self {
            wire,
            contexts: [false; 2],
            statements: HashMap::new(),
            next: 0,
            to_close: Vec::new(),
            named,
            reset: [false; 3],
            capacity,
            out: BytesMut::new(),
            input: BytesMut::new(),
        }
    }

    /// Forgets every prepared statement but the context (which names no
    /// relation); they are closed with the next exchange.
    pub(crate) fn forget(&mut self) {
        self.to_close
            .extend(self.statements.drain().map(|(_, name)| name));
    }
}

/// What a `Parse` of the exchange prepares.
enum Parsed<'a> {
    /// The context statement, by its index in [`CONTEXTS`].
    Context(usize),
    /// A request's statement, by its SQL text.
    Statement(&'a str),
    /// An unnamed statement, kept nowhere.
    Unnamed,
    /// One of the resets, by its index.
    Reset(usize),
}

/// One row: each column's value in text format, or `None` for NULL. Inline
/// up to the widest row this crate's statements answer (a write's), so that
/// reading an answer allocates nothing.
pub(crate) type Row = SmallVec<[Option<Bytes>; 8]>;

/// The rows of an exchange, one per statement: inline for a statement and
/// its `EXPLAIN`.
pub(crate) type Rows = SmallVec<[Row; 2]>;

/// Runs the context and `stmts` in one implicit transaction, read-only or
/// not, through `exchange` (taken from `state.wire`); one row per statement.
///
/// On an I/O or protocol failure the connection's state is unknown: the
/// caller must not lend it again (`broken` is set).
pub(crate) async fn run(
    state: &mut DirectState,
    mut exchange: Direct,
    read_only: bool,
    ctx: &RequestContext<'_>,
    stmts: &[&sql::Statement],
    broken: &mut bool,
) -> Result<Rows, Error> {
    let mut out = std::mem::take(&mut state.out);
    out.clear();
    out.reserve(1024);
    let parsing = messages(state, read_only, ctx, stmts, &mut out)?;

    // Until the answers are all read, a failure leaves the socket mid-stream.
    *broken = true;
    exchange.write_all(&out).await.map_err(io_error)?;
    keep(&mut state.out, out);

    let mut input = std::mem::take(&mut state.input);
    input.clear();
    let mut parsed = 0;
    // Executes answered so far (the context is the first, then any
    // pre-request), and the rows of each statement.
    let mut executed = 0;
    let before = 1 + usize::from(ctx.pre_request.is_some());
    let mut rows: SmallVec<[Option<Row>; 2]> = smallvec::smallvec![None; stmts.len()];
    let mut failure: Option<Error> = None;
    let idle;
    loop {
        let message = match Message::parse(&mut input).map_err(protocol)? {
            Some(message) => message,
            None => {
                exchange.read_more(&mut input).await.map_err(io_error)?;
                continue;
            }
        };
        match message {
            Message::ParseComplete => {
                let Some((what, name)) = parsing.get(parsed) else {
                    return Err(unexpected());
                };
                match what {
                    Parsed::Context(which) => state.contexts[*which] = true,
                    Parsed::Statement(sql) => remember(state, sql, name),
                    Parsed::Unnamed => {}
                    Parsed::Reset(i) => state.reset[*i] = true,
                }
                parsed += 1;
            }
            Message::BindComplete | Message::CloseComplete => {}
            Message::DataRow(row) => {
                if executed == 0 {
                    continue;
                }
                let buffer = row.buffer_bytes();
                let mut values = Row::new();
                let mut ranges = row.ranges();
                while let Some(range) = ranges.next().map_err(protocol)? {
                    values.push(range.map(|r| buffer.slice(r)));
                }
                if executed < before {
                    if let Some(pre) = ctx.pre_request {
                        pre.record(&values)?;
                    }
                    continue;
                }
                let slot = rows.get_mut(executed - before).ok_or_else(unexpected)?;
                if slot.is_some() {
                    return Err(missing_row());
                }
                *slot = Some(values);
            }
            Message::CommandComplete(_) | Message::EmptyQueryResponse => executed += 1,
            Message::ErrorResponse(body) => {
                if failure.is_none() {
                    failure = Some(db_error(&body)?);
                }
            }
            Message::NoticeResponse(_)
            | Message::ParameterStatus(_)
            | Message::NotificationResponse(_) => {}
            Message::ReadyForQuery(body) => {
                idle = body.status() == b'I';
                break;
            }
            _ => return Err(unexpected()),
        }
    }
    // The exchange ended where it should: nothing more was sent, and
    // PostgreSQL is idle outside a transaction; otherwise the connection is
    // not lent again.
    *broken = !input.is_empty() || !idle;
    keep(&mut state.input, input);
    if let Some(e) = failure {
        return Err(e);
    }
    rows.into_iter()
        .map(|row| row.ok_or_else(missing_row))
        .collect()
}

/// Writes the exchange's messages into `out`: closes of forgotten
/// statements, the context (and pre-request), the statements, the ends
/// and the `Sync`. Returns what each `Parse` sent names, in order.
fn messages<'s>(
    state: &mut DirectState,
    read_only: bool,
    ctx: &RequestContext<'s>,
    stmts: &[&'s sql::Statement],
    out: &mut BytesMut,
) -> Result<Vec<(Parsed<'s>, String)>, Error> {
    // What each Parse sent names, in order: ParseComplete answers them in turn.
    let mut parsing: Vec<(Parsed<'_>, String)> = Vec::new();
    // The cache starts over before a request, never in the middle of one.
    let fresh = stmts
        .iter()
        .filter(|s| !state.statements.contains_key(s.sql.as_str()))
        .count();
    if state.named && state.statements.len() + fresh > state.capacity {
        state.forget();
    }
    for name in state.to_close.drain(..) {
        frontend::close(b'S', &name, out).map_err(protocol)?;
    }
    let which = usize::from(read_only);
    let (context, context_sql) = CONTEXTS[which];
    if !state.named {
        // Unnamed statements: each Parse replaces the last, after its Execute.
        frontend::parse("", context_sql, None, out).map_err(protocol)?;
        parsing.push((Parsed::Unnamed, String::new()));
        bind("", ctx.values(), out)?;
        if let Some(pre) = ctx.pre_request {
            frontend::parse("", pre.sql, None, out).map_err(protocol)?;
            parsing.push((Parsed::Unnamed, String::new()));
            bind("", [], out)?;
        }
        for stmt in stmts {
            frontend::parse("", &stmt.sql, None, out).map_err(protocol)?;
            parsing.push((Parsed::Unnamed, String::new()));
            bind("", stmt.params.iter().map(Option::as_deref), out)?;
        }
    } else if !state.contexts[which] {
        frontend::parse(context, context_sql, None, out).map_err(protocol)?;
        parsing.push((Parsed::Context(which), context.to_owned()));
    }
    if state.named {
        bind(context, ctx.values(), out)?;
        if let Some(pre) = ctx.pre_request {
            if let Some(name) = state.statements.get(pre.sql) {
                bind(name, [], out)?;
            } else {
                let name = format!("tpg_{}", state.next);
                state.next += 1;
                frontend::parse(&name, pre.sql, None, out).map_err(protocol)?;
                bind(&name, [], out)?;
                parsing.push((Parsed::Statement(pre.sql), name));
            }
        }
    }
    for stmt in stmts.iter().filter(|_| state.named) {
        let values = stmt.params.iter().map(Option::as_deref);
        if let Some(name) = state.statements.get(stmt.sql.as_str()) {
            bind(name, values, out)?;
            continue;
        }
        let name = format!("tpg_{}", state.next);
        state.next += 1;
        frontend::parse(&name, &stmt.sql, None, out).map_err(protocol)?;
        bind(&name, values, out)?;
        parsing.push((Parsed::Statement(&stmt.sql), name));
    }
    let ends = crate::sql::session::RESETS.into_iter().enumerate();
    // Only a transaction that may write has deferred constraints to check.
    for (i, (reset, reset_sql)) in ends.skip(usize::from(read_only)) {
        if !state.named {
            frontend::parse("", reset_sql, None, out).map_err(protocol)?;
            parsing.push((Parsed::Unnamed, String::new()));
            bind("", [], out)?;
        } else {
            if !state.reset[i] {
                frontend::parse(reset, reset_sql, None, out).map_err(protocol)?;
                parsing.push((Parsed::Reset(i), reset.to_owned()));
            }
            bind(reset, [], out)?;
        }
    }
    frontend::sync(out);
    Ok(parsing)
}

/// Keeps `buffer` for the connection's next exchange, unless it grew past
/// [`KEPT_BUFFER`].
fn keep(kept: &mut BytesMut, buffer: BytesMut) {
    if buffer.capacity() <= KEPT_BUFFER {
        *kept = buffer;
    }
}

/// Appends a Bind of `statement` to the unnamed portal, every parameter and
/// result in text format, and its Execute.
fn bind<'a>(
    statement: &str,
    values: impl IntoIterator<Item = Option<&'a str>>,
    out: &mut BytesMut,
) -> Result<(), Error> {
    frontend::bind(
        "",
        statement,
        None,
        values,
        |value, buf| match value {
            Some(text) => {
                buf.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        },
        None,
        out,
    )
    .map_err(|e| match e {
        frontend::BindError::Conversion(e) => {
            Error::new(ErrorKind::Internal, "Could not send a parameter").with_source(e)
        }
        frontend::BindError::Serialization(e) => protocol(e),
    })?;
    frontend::execute("", 0, out).map_err(protocol)
}

fn remember(state: &mut DirectState, sql: &str, name: &str) {
    state.statements.insert(sql.to_owned(), name.to_owned());
}

/// The error an ErrorResponse carries.
fn db_error(body: &postgres_protocol::message::backend::ErrorResponseBody) -> Result<Error, Error> {
    let mut fields = body.fields();
    let mut text: [Option<String>; 4] = Default::default();
    while let Some(field) = fields.next().map_err(protocol)? {
        let slot = match field.type_() {
            b'C' => 0,
            b'M' => 1,
            b'D' => 2,
            b'H' => 3,
            _ => continue,
        };
        text[slot] = Some(String::from_utf8_lossy(field.value_bytes()).into_owned());
    }
    let [code, message, detail, hint] = text;
    Ok(Error::from_db(&DbFields {
        code: code.as_deref().unwrap_or("XX000"),
        message: message.as_deref().unwrap_or(""),
        detail: detail.as_deref(),
        hint: hint.as_deref(),
    }))
}

fn protocol(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Internal, "Internal database client error")
        .with_postgrest_code("PGRSTX00")
        .with_source(e)
}

fn unexpected() -> Error {
    protocol(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "unexpected message from the database",
    ))
}

fn io_error(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Unavailable, "Database connection error")
        .with_details("The database is unavailable; try again later")
        .with_postgrest_code("PGRST001")
        .with_source(e)
}

impl Columns for Row {
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
fn text(row: &Row, i: usize) -> Result<Option<&str>, Error> {
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
