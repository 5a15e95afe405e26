#![allow(unreachable_pub)]

//! Raw tokio-postgres running the very transaction tower-postgrest runs for a
//! read: `BEGIN READ ONLY`, the crate's context statement, the statement it
//! renders, `COMMIT`, pipelined on one connection. The baseline of
//! `examples/raw_load.rs` and `benches/e2e.rs`, which include this file with
//! `#[path]`.

use tokio_postgres::types::{Format, IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Row, Statement};
use tower_postgrest::__private::CONTEXT_SQL;

/// A value sent in text format whatever the parameter's type, as the API sends them.
#[derive(Debug)]
struct Text(String);

impl ToSql for Text {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    fn encode_format(&self, _: &Type) -> Format {
        Format::Text
    }
    to_sql_checked!();
}

fn texts(values: &[Option<String>]) -> Vec<Option<Text>> {
    values.iter().map(|v| v.clone().map(Text)).collect()
}

fn refs(values: &[Option<Text>]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

/// A read prepared on one connection, ready to run again and again.
pub struct RawRead {
    context: Statement,
    main: Statement,
    context_params: Vec<Option<Text>>,
    params: Vec<Option<Text>>,
}

impl RawRead {
    /// Prepares the context and `sql` on `client`, as `role` (inside a
    /// transaction, as the API prepares them), for a GET of `path`.
    pub async fn prepare(
        client: &Client,
        sql: &str,
        params: &[Option<String>],
        role: &str,
        claims: &str,
        path: &str,
    ) -> Result<Self, tokio_postgres::Error> {
        let context = client.prepare(CONTEXT_SQL).await?;
        client.batch_execute("BEGIN READ ONLY").await?;
        client
            .execute("SELECT pg_catalog.set_config('role', $1, true)", &[&role])
            .await?;
        let main = client.prepare(sql).await?;
        client.batch_execute("COMMIT").await?;
        let context_params = [
            Some(role),
            Some(claims),
            Some("GET"),
            Some(path),
            Some("\"public\""),
            Some("{}"),
            Some("{}"),
            None,
            None,
        ]
        .map(|v| v.map(str::to_owned));
        Ok(Self {
            context,
            main,
            context_params: texts(&context_params),
            params: texts(params),
        })
    }

    /// Runs the transaction in one round trip; returns the statement's row.
    pub async fn run(&self, client: &Client) -> Result<Row, tokio_postgres::Error> {
        let (context_params, params) = (refs(&self.context_params), refs(&self.params));
        let (begin, context, main, commit) = futures_util::join!(
            client.batch_execute("BEGIN READ ONLY"),
            client.query_one(&self.context, &context_params),
            client.query_one(&self.main, &params),
            client.batch_execute("COMMIT"),
        );
        begin?;
        context?;
        commit?;
        main
    }
}
