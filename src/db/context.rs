//! A request's context: the settings its transaction applies first, and
//! its `db-pre-request` call.

use tokio_postgres::Client;

use super::codec::{Columns, missing_row};
use crate::error::Error;

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
    pub(super) fn record(&self, row: &impl Columns) -> Result<(), Error> {
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
pub(super) async fn pre_request(client: &Client, pre: Option<PreRequest<'_>>) -> Result<(), Error> {
    match pre {
        Some(pre) => pre.answered(client.query_typed(pre.sql, &[]).await),
        None => Ok(()),
    }
}

impl RequestContext<'_> {
    /// The context statement's parameters, `$1` to `$9`.
    pub(super) fn values(&self) -> [Option<&str>; 9] {
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
