//! What crosses the wire besides SQL: parameters in text format, result
//! columns as raw bytes, and the results a request's statements answer.

use bytes::Bytes;
use tokio_postgres::types::{Format, FromSql, IsNull, ToSql, Type, to_sql_checked};

use crate::error::{BoxError, Error, ErrorKind};

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
pub(super) struct RawText(pub(super) Bytes);

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

/// A read's result from the rows of its statement and, if any, its `EXPLAIN`.
pub(super) fn read_result(rows: &[impl Columns]) -> Result<ReadResult, Error> {
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

pub(super) fn missing_row() -> Error {
    Error::new(
        ErrorKind::Internal,
        "A statement returned an unexpected number of rows",
    )
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

pub(super) fn missing_column() -> Error {
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

/// What a write returns: rows affected, the representation's body, the first
/// row's primary key (for `Location`), and how many rows an upsert inserted.
#[derive(Debug)]
pub(crate) struct WriteResult {
    pub(crate) affected: i64,
    pub(crate) page_total: i64,
    pub(crate) body: Bytes,
    pub(crate) location: Option<Vec<Option<String>>>,
    pub(crate) inserted: Option<i64>,
    /// `response.headers` and `response.status` as a trigger set them.
    pub(crate) headers: Option<String>,
    pub(crate) status: Option<String>,
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
            headers: row.string(5)?,
            status: row.string(6)?,
        })
    }
}

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
