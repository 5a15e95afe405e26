//! Running a nested insert's plan: each level of the [`InsertNode`] tree is
//! one statement (parents before their rows, children and links after),
//! every statement in the request's one transaction, each level's keys
//! copied into the next level's rows. The tree, its order and its bounds are
//! the plan's; this file only moves the keys.

use std::future::Future;
use std::pin::Pin;

use super::{Caller, Executor, Place};
use crate::db::{self, MakeTls, RequestContext, WriteResult};
use crate::error::{Error, ErrorKind};
use crate::plan::{self, InsertNode, JsonRow, Link, NestedPlan, Plan, Side};
use crate::request::{self, Return};
use crate::sql;

impl<T: MakeTls> Executor<'_, T> {
    /// Runs `nested` in its own transaction, or in the batch's, and checks
    /// the result before that transaction may end.
    pub(super) async fn nested(
        &self,
        plan: &Plan<'_>,
        nested: &NestedPlan<'_>,
        caller: &Caller<'_>,
        place: Place<'_, '_, T>,
    ) -> Result<WriteResult, Error> {
        let claims = caller.role.claims_json();
        let (headers, cookies) = request::headers_json(&caller.parts.headers);
        let ctx = self.context(plan, caller, &claims, &headers, &cookies);
        let started = std::time::Instant::now();
        let result = match place {
            Place::Shared(session) => run(session, &ctx, plan, nested).await,
            Place::Own => {
                let mut session = db::Session::open(self.pool, caller.schema.generation).await?;
                match run(&mut session, &ctx, plan, nested).await {
                    Ok(done) => session.end(plan.tx.end).await.map(|()| done),
                    Err(e) => {
                        session.end(request::TxEnd::Rollback).await.ok();
                        Err(e)
                    }
                }
            }
        };
        caller.stages.add_transaction(started.elapsed());
        result.map_err(|e| e.for_anonymous(self.anonymous(caller)))
    }
}

/// The statements of `nested` in `session`, and its checks.
async fn run<T: MakeTls>(
    session: &mut db::Session<'_, T>,
    ctx: &RequestContext<'_>,
    plan: &Plan<'_>,
    nested: &NestedPlan<'_>,
) -> Result<WriteResult, Error> {
    let inserted = insert(session, ctx, &nested.root, nested.rows.clone()).await?;
    let n = i64::try_from(inserted.len()).unwrap_or(i64::MAX);
    plan.checks.verify(n, n)?;
    let write = &nested.write;
    let body = match write.return_ {
        Return::Representation => {
            let conditions = plan::key_conditions(write.table(), &inserted)?;
            let read = plan::read_back(&write.shape, &conditions);
            let stmts = sql::render_read(&read)?;
            let rows = session.run(ctx, &[&stmts.main]).await?;
            <db::ReadResult as db::Outcome>::from_rows(&rows)?.body
        }
        _ => bytes::Bytes::new(),
    };
    let location = match (write.return_, inserted.as_slice()) {
        (Return::HeadersOnly, [row]) => Some(
            write
                .table()
                .primary_key
                .iter()
                .map(|k| match row.get(k) {
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(s)) => Some(s.clone()),
                    Some(other) => Some(other.to_string()),
                })
                .collect(),
        ),
        _ => None,
    };
    Ok(WriteResult {
        affected: n,
        page_total: n,
        body,
        location,
        inserted: Some(n),
        headers: None,
        status: None,
    })
}

/// Inserts `rows` into `node`'s table with their related rows; the rows as inserted.
fn insert<'a, T: MakeTls>(
    session: &'a mut db::Session<'_, T>,
    ctx: &'a RequestContext<'a>,
    node: &'a InsertNode<'a>,
    mut rows: Vec<JsonRow>,
) -> Pin<Box<dyn Future<Output = Result<Vec<JsonRow>, Error>> + Send + 'a>> {
    Box::pin(async move {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        // Parents first: their keys go into these rows.
        for link in node.links.iter().filter(|l| l.side.first()) {
            let owners: Vec<usize> = rows
                .iter()
                .enumerate()
                .filter(|(_, r)| r.get(&link.key).is_some_and(serde_json::Value::is_object))
                .map(|(i, _)| i)
                .collect();
            let parents = plan::related_rows(&rows, &link.key, true)?;
            let parents = insert(session, ctx, &link.node, parents).await?;
            for (i, parent) in owners.into_iter().zip(parents) {
                for (column, foreign) in &link.rel.columns {
                    let value = parent.get(foreign).cloned().unwrap_or_default();
                    rows[i].insert(column.clone(), value);
                }
            }
        }
        // The rows themselves, without their relationships' keys.
        let mut later: Vec<JsonRow> = vec![JsonRow::new(); rows.len()];
        for (row, pending) in rows.iter_mut().zip(&mut later) {
            for link in &node.links {
                if let Some(value) = row.remove(&link.key) {
                    if !link.side.first() {
                        pending.insert(link.key.clone(), value);
                    }
                }
            }
        }
        let inserted = insert_rows(session, ctx, node.table, &rows).await?;
        // Then children and links, taking these rows' keys.
        for link in node.links.iter().filter(|l| !l.side.first()) {
            insert_children(session, ctx, link, &later, &inserted).await?;
        }
        Ok(inserted)
    })
}

/// One statement: `rows` into `table`, with the columns they name.
async fn insert_rows<T: MakeTls>(
    session: &mut db::Session<'_, T>,
    ctx: &RequestContext<'_>,
    table: &crate::schema::Table,
    rows: &[JsonRow],
) -> Result<Vec<JsonRow>, Error> {
    let columns: Vec<&str> = table
        .columns
        .iter()
        .filter(|c| rows.iter().any(|r| r.contains_key(&c.name)))
        .map(|c| c.name.as_str())
        .collect();
    if columns.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            format!(
                "A row of '{}' in a nested insert needs at least one column",
                table.name
            ),
        ));
    }
    let body = serde_json::to_string(rows).unwrap_or_else(|_| "[]".to_owned());
    let stmt = sql::render_rows_insert(table, &columns, body)?;
    let answer = session.run(ctx, &[&stmt]).await?;
    let text: String = answer
        .first()
        .and_then(|row| row.try_get::<_, String>(0).ok())
        .unwrap_or_else(|| "[]".to_owned());
    let inserted: Vec<JsonRow> = serde_json::from_str(&text).map_err(|e| {
        Error::new(ErrorKind::Internal, "Could not read the inserted rows").with_source(e)
    })?;
    if inserted.len() != rows.len() {
        return Err(Error::new(
            ErrorKind::Internal,
            "The insert answered another number of rows",
        ));
    }
    Ok(inserted)
}

/// The rows `link` names in each of `pending` (the keys the inserted rows
/// held back), with the key of their row in `inserted`; for a many-to-many
/// link, a junction row for each.
async fn insert_children<'a, T: MakeTls>(
    session: &mut db::Session<'_, T>,
    ctx: &'a RequestContext<'a>,
    link: &'a Link<'a>,
    pending: &[JsonRow],
    inserted: &[JsonRow],
) -> Result<(), Error> {
    let mut owners = Vec::new();
    let mut children = Vec::new();
    for (i, held) in pending.iter().enumerate() {
        for mut child in plan::related_rows(std::slice::from_ref(held), &link.key, false)? {
            if let Side::Children = link.side {
                for (column, foreign) in &link.rel.columns {
                    let value = inserted[i].get(column).cloned().unwrap_or_default();
                    child.insert(foreign.clone(), value);
                }
            }
            owners.push(i);
            children.push(child);
        }
    }
    let done = insert(session, ctx, &link.node, children).await?;
    let (Side::Linked(junction_table), Some(junction)) = (&link.side, &link.rel.junction) else {
        return Ok(());
    };
    let copy = |row: &JsonRow, pairs: &[(String, String)], from_first: bool| {
        pairs
            .iter()
            .map(|(a, b)| {
                let (from, to) = if from_first { (a, b) } else { (b, a) };
                (to.clone(), row.get(from).cloned().unwrap_or_default())
            })
            .collect::<Vec<_>>()
    };
    let links: Vec<JsonRow> = owners
        .iter()
        .zip(&done)
        .map(|(&i, child)| {
            let mut row: JsonRow = copy(&inserted[i], &junction.source_columns, true)
                .into_iter()
                .collect();
            row.extend(copy(child, &junction.target_columns, false));
            row
        })
        .collect();
    let junction_node = InsertNode {
        table: junction_table,
        links: Vec::new(),
    };
    insert(session, ctx, &junction_node, links).await?;
    Ok(())
}
