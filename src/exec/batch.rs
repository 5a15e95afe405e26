//! Running a batch: each operation is planned as a request of its own and
//! run by [`Executor::execute`] in the batch's one transaction; the first
//! that fails rolls them all back and is the answer, its index in `details`.

use bytes::Bytes;
use http::Response;

use super::{Caller, Executor, Place, Stages};
use crate::body::RestBody;
use crate::db::{self, MakeTls};
use crate::error::{Error, ErrorKind};
use crate::layer::DbRole;
use crate::plan;
use crate::request::{self, BatchOperation, Target, TxEnd};
use crate::response;
use crate::schema::Schema;

impl<T: MakeTls> Executor<'_, T> {
    /// Runs the batch in `body` as `role`; its answer lists each operation's.
    pub(crate) async fn batch(
        &self,
        outer: &http::request::Parts,
        body: &[u8],
        role: &DbRole,
        schema: &Schema,
        stages: &Stages,
    ) -> Result<Response<RestBody>, Error> {
        let ops = request::parse_batch(body, self.config.batch_limit)?;
        // `Prefer: tx=` on the batch ends the batch's transaction.
        let end = match request::parse_prefer(&outer.headers)?.tx {
            Some(tx) if self.config.tx_override => Some(tx),
            _ => None,
        };
        // The batch's whole transaction is bounded by the statement timeout:
        // past it, the future is dropped, which cancels what runs and
        // retires the connection.
        let deadline = self
            .config
            .statement_timeout_ms(schema.role_timeouts.get(role.role()).map(String::as_str))
            .map(std::time::Duration::from_millis);
        let started = std::time::Instant::now();
        let run = self.operations(&ops, outer, role, schema, end);
        let answers = match deadline {
            Some(deadline) => tokio::time::timeout(deadline, run).await.unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Timeout,
                    "canceling statement due to statement timeout",
                )
                .with_details(format!(
                    "The batch took more than the statement timeout of {} ms, all of its operations together",
                    deadline.as_millis()
                )))
            }),
            None => run.await,
        };
        stages.add_transaction(started.elapsed());
        response::batch(&answers?, end)
    }

    /// The operations, in one session ended as `end` says (commit by
    /// default), their answers together at most `batch_answer` bytes.
    async fn operations(
        &self,
        ops: &[BatchOperation],
        outer: &http::request::Parts,
        role: &DbRole,
        schema: &Schema,
        end: Option<TxEnd>,
    ) -> Result<Vec<serde_json::Value>, Error> {
        let mut session = db::Session::open(self.pool, schema.generation).await?;
        let mut answers = Vec::with_capacity(ops.len());
        let mut size = 0usize;
        let limit = self.config.limits.batch_answer;
        for (i, op) in ops.iter().enumerate() {
            let answer = match self.operation(op, outer, role, schema, &mut session).await {
                Ok(res) => response::batch_entry(res, limit.saturating_sub(size)).await,
                Err(e) => Err(e),
            };
            match answer {
                Ok((answer, bytes)) => {
                    size += bytes;
                    answers.push(answer);
                }
                Err(e) => {
                    session.end(TxEnd::Rollback).await.ok();
                    return Err(op.failed(i, e));
                }
            }
        }
        session.end(end.unwrap_or(self.config.tx_default())).await?;
        Ok(answers)
    }

    /// One operation, planned and run in the batch's `session`.
    async fn operation(
        &self,
        op: &BatchOperation,
        outer: &http::request::Parts,
        role: &DbRole,
        schema: &Schema,
        session: &mut db::Session<'_, T>,
    ) -> Result<Response<RestBody>, Error> {
        let (parts, body): (_, Bytes) = op.request(&outer.headers)?;
        let (mut api, _) = plan::head(
            &parts.method,
            parts.uri.path(),
            parts.uri.query(),
            &parts.headers,
            schema,
            self.config,
        )?;
        if matches!(api.target, Target::Root) {
            return Err(super::batch_refuses(
                "A batch operation names a table, a view or a function",
            ));
        }
        if api.prefs.tx.is_some() {
            return Err(
                super::batch_refuses("An operation of a batch cannot end its transaction")
                    .with_hint(
                        "Send Prefer: tx=… with the batch: it ends the batch's one transaction",
                    ),
            );
        }
        if api.action.has_body() {
            api.attach_body(&parts.headers, body)?;
        }
        let plan = plan::plan(&api, schema, self.config)?;
        let stages = Stages::default();
        let caller = Caller {
            parts: &parts,
            role,
            schema,
            stages: &stages,
        };
        self.execute(&plan, &api, &caller, Place::Shared(session))
            .await
    }
}
