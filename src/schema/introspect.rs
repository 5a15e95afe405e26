//! Catalog queries that build a [`Schema`].
//!
//! All of them run in one `READ ONLY` transaction, so the snapshot is consistent,
//! and are pipelined: after preparing them (one round trip), the load is one more.

use std::collections::HashMap;

use serde::Deserialize;
use tokio_postgres::{Client, Row};

use super::{
    Column, ForeignKey, Function, FunctionArg, HandlerTarget, MediaHandler, Schema, Table,
    TableKind, ViewColumn, Volatility,
};
use crate::error::{Error, ErrorKind};
use crate::sql::catalog;

#[derive(Deserialize)]
struct RawArg {
    name: String,
    data_type: String,
    mode: String,
}

/// The rows of every catalog query, read in one snapshot.
struct CatalogRows {
    relations: Vec<Row>,
    foreign_keys: Vec<Row>,
    functions: Vec<Row>,
    view_columns: Vec<Row>,
    role_timeouts: Vec<Row>,
    timezones: Vec<Row>,
    media_handlers: Vec<Row>,
    representations: Vec<Row>,
}

/// Loads a snapshot of `schemas`.
pub(crate) async fn load_schema(client: &Client, schemas: &[String]) -> Result<Schema, Error> {
    let rows = fetch_catalog(client, schemas).await?;
    let (tables, base_tables) = tables_from(rows.relations)?;
    let foreign_keys = foreign_keys_from(rows.foreign_keys);
    let functions = functions_from(rows.functions)?;
    let mut schema = Schema::new(schemas.to_vec(), tables, foreign_keys, functions);
    schema.base_tables = base_tables;
    schema.view_columns = lineage_from(rows.view_columns);
    view_keys(&mut schema);
    schema.role_timeouts = rows
        .role_timeouts
        .into_iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    schema.timezones = rows
        .timezones
        .into_iter()
        .map(|row| {
            let name: String = row.get(0);
            (name.to_lowercase(), name)
        })
        .collect();
    schema.media_handlers = rows.media_handlers.iter().map(handler_from).collect();
    schema.representations = rows
        .representations
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    schema.mark_representations();
    schema.reindex();
    Ok(schema)
}

/// A media-type handler, from a row of [`MEDIA_HANDLERS`].
fn handler_from(row: &Row) -> MediaHandler {
    let kind: &str = row.get(0);
    let target = match (
        kind,
        row.get::<_, Option<String>>(3),
        row.get::<_, Option<String>>(4),
    ) {
        ("f", Some(schema), Some(name)) => HandlerTarget::Function { schema, name },
        (_, Some(schema), Some(name)) => HandlerTarget::Relation { schema, name },
        _ => HandlerTarget::Any,
    };
    let media_type: String = row.get(5);
    let content_type = match media_type.as_str() {
        "*/*" => "application/octet-stream".to_owned(),
        other => other.to_owned(),
    };
    let aggregate = match (
        row.get::<_, Option<String>>(1),
        row.get::<_, Option<String>>(2),
    ) {
        (Some(schema), Some(name)) if kind == "a" => Some((schema, name)),
        _ => None,
    };
    MediaHandler {
        target,
        media_type,
        content_type,
        aggregate,
        binary: row.get(6),
    }
}

/// Runs every catalog query in one `READ ONLY` transaction: `BEGIN`, the
/// queries (unnamed statements, so that a transaction pooler can carry them)
/// and `COMMIT`, pipelined in one round trip.
async fn fetch_catalog(client: &Client, schemas: &[String]) -> Result<CatalogRows, Error> {
    use tokio_postgres::types::{ToSql, Type};
    let schemas_param = schemas.to_vec();
    // An empty search_path makes format_type() qualify every type outside pg_catalog.
    let begin = client.batch_execute(catalog::SNAPSHOT);
    let params: [(&(dyn ToSql + Sync), Type); 1] = [(&schemas_param, Type::TEXT_ARRAY)];
    let relations = client.query_typed(catalog::RELATIONS, &params);
    let fks = client.query_typed(catalog::FOREIGN_KEYS, &params);
    let functions = client.query_typed(catalog::FUNCTIONS, &params);
    let view_columns = client.query_typed(catalog::VIEW_COLUMNS, &params);
    let role_timeouts = client.query_typed(catalog::ROLE_TIMEOUTS, &params);
    let timezones = client.query_typed(catalog::TIMEZONES, &params);
    let handlers = client.query_typed(catalog::MEDIA_HANDLERS, &params);
    let representations = client.query_typed(catalog::REPRESENTATIONS, &params);
    let commit = client.batch_execute(crate::sql::session::COMMIT);
    let (
        begin,
        relations,
        fks,
        functions,
        view_columns,
        role_timeouts,
        timezones,
        handlers,
        representations,
        commit,
    ) = futures_util::join!(
        begin,
        relations,
        fks,
        functions,
        view_columns,
        role_timeouts,
        timezones,
        handlers,
        representations,
        commit
    );
    begin.map_err(Error::from_pg)?;
    let rows = CatalogRows {
        relations: relations.map_err(Error::from_pg)?,
        foreign_keys: fks.map_err(Error::from_pg)?,
        functions: functions.map_err(Error::from_pg)?,
        view_columns: view_columns.map_err(Error::from_pg)?,
        role_timeouts: role_timeouts.map_err(Error::from_pg)?,
        timezones: timezones.map_err(Error::from_pg)?,
        media_handlers: handlers.map_err(Error::from_pg)?,
        representations: representations.map_err(Error::from_pg)?,
    };
    commit.map_err(Error::from_pg)?;
    Ok(rows)
}

/// The exposed relations, and the tables of other schemas that foreign keys join.
fn tables_from(rows: Vec<Row>) -> Result<(Vec<Table>, Vec<Table>), Error> {
    let mut tables = Vec::with_capacity(rows.len());
    let mut base = Vec::new();
    for row in rows {
        let kind = match row.get::<_, String>(2).as_str() {
            "r" => TableKind::Table,
            "p" => TableKind::PartitionedTable,
            "v" => TableKind::View,
            "m" => TableKind::MaterializedView,
            _ => TableKind::ForeignTable,
        };
        let columns: Vec<Column> =
            serde_json::from_str(row.get::<_, &str>(7)).map_err(bad_catalog)?;
        let into = if row.get::<_, bool>(11) {
            &mut tables
        } else {
            &mut base
        };
        into.push(Table {
            schema: row.get(0),
            name: row.get(1),
            kind,
            comment: row.get(3),
            insertable: row.get(4),
            updatable: row.get(5),
            deletable: row.get(6),
            columns,
            primary_key: row.get(8),
            unique_keys: serde_json::from_str(row.get::<_, &str>(9)).map_err(bad_catalog)?,
            estimated_bytes: row.get(10),
        });
    }
    Ok((tables, base))
}

/// The foreign keys, from the rows of [`FOREIGN_KEYS`].
fn foreign_keys_from(rows: Vec<Row>) -> Vec<ForeignKey> {
    rows.into_iter()
        .map(|row| ForeignKey {
            name: row.get(0),
            schema: row.get(1),
            table: row.get(2),
            columns: row.get(3),
            foreign_schema: row.get(4),
            foreign_table: row.get(5),
            foreign_columns: row.get(6),
        })
        .collect()
}

/// The functions, from the rows of [`FUNCTIONS`].
fn functions_from(rows: Vec<Row>) -> Result<Vec<Function>, Error> {
    let mut fns = Vec::with_capacity(rows.len());
    for row in rows {
        let raw: Vec<RawArg> = serde_json::from_str(row.get::<_, &str>(7)).map_err(bad_catalog)?;
        let defaults = usize::try_from(row.get::<_, i32>(6)).unwrap_or(0);
        fns.push(Function {
            schema: row.get(0),
            name: row.get(1),
            volatility: match row.get::<_, String>(2).as_str() {
                "i" => Volatility::Immutable,
                "s" => Volatility::Stable,
                _ => Volatility::Volatile,
            },
            returns_set: row.get(3),
            return_type: row.get(4),
            returns_composite: row.get(5),
            args: input_args(raw, defaults),
            comment: row.get(8),
            single_row: row.get(9),
        });
    }
    Ok(fns)
}

/// The input arguments among all of a function's: IN, INOUT and VARIADIC ones,
/// of which the last `defaults` have defaults.
fn input_args(raw: Vec<RawArg>, defaults: usize) -> Vec<FunctionArg> {
    let mut args: Vec<FunctionArg> = raw
        .into_iter()
        .filter(|a| matches!(a.mode.as_str(), "i" | "b" | "v"))
        .map(|a| FunctionArg {
            variadic: a.mode == "v",
            name: a.name,
            data_type: a.data_type,
            has_default: false,
        })
        .collect();
    let first_default = args.len().saturating_sub(defaults);
    for arg in &mut args[first_default..] {
        arg.has_default = true;
    }
    args
}

/// Where each view column comes from, sorted by (schema, view, column), from
/// the rows of [`VIEW_COLUMNS`]: the last entry of a name is the view's own.
fn lineage_from(rows: Vec<Row>) -> Vec<ViewColumn> {
    let mut by_name: HashMap<(String, String, String), ViewColumn> = HashMap::new();
    for row in rows {
        let column = ViewColumn {
            schema: row.get(0),
            view: row.get(1),
            column: row.get(2),
            source_schema: row.get(3),
            source_table: row.get(4),
            source_column: row.get(5),
        };
        let key = (
            column.schema.clone(),
            column.view.clone(),
            column.column.clone(),
        );
        by_name.insert(key, column);
    }
    let mut lineage: Vec<ViewColumn> = by_name.into_values().collect();
    lineage.sort_by(|a, b| (&a.schema, &a.view, &a.column).cmp(&(&b.schema, &b.view, &b.column)));
    lineage
}

/// The primary key of each view without one, as PostgREST infers it: the
/// columns showing the primary key of each table the view shows whole
/// (every column of that key), in the view's column order. A view joining
/// two tables has both keys; its inserts then answer with a `Location`, and
/// upserts and `PUT` find their key, as for a table.
fn view_keys(schema: &mut Schema) {
    let mut found: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, view) in schema.tables.iter().enumerate() {
        let is_view = matches!(view.kind, TableKind::View | TableKind::MaterializedView);
        if !is_view || !view.primary_key.is_empty() {
            continue;
        }
        // Base table → its column → the view's column showing it.
        let mut shown: HashMap<(&str, &str), HashMap<&str, &str>> = HashMap::new();
        for c in schema
            .view_columns
            .iter()
            .filter(|c| c.schema == view.schema && c.view == view.name)
        {
            shown
                .entry((c.source_schema.as_str(), c.source_table.as_str()))
                .or_default()
                .insert(c.source_column.as_str(), c.column.as_str());
        }
        let mut key: Vec<&str> = Vec::new();
        for ((s, t), columns) in &shown {
            let base = schema.table(s, t).or_else(|| {
                schema
                    .base_tables
                    .iter()
                    .find(|b| b.schema == *s && b.name == *t)
            });
            let Some(base) = base.filter(|b| !b.primary_key.is_empty()) else {
                continue;
            };
            if let Some(names) = base
                .primary_key
                .iter()
                .map(|k| columns.get(k.as_str()).copied())
                .collect::<Option<Vec<&str>>>()
            {
                key.extend(names);
            }
        }
        if key.is_empty() {
            continue;
        }
        let ordered: Vec<String> = view
            .columns
            .iter()
            .filter(|c| key.contains(&c.name.as_str()))
            .map(|c| c.name.clone())
            .collect();
        found.push((i, ordered));
    }
    for (i, key) in found {
        schema.tables[i].primary_key = key;
    }
}

fn bad_catalog(e: serde_json::Error) -> Error {
    Error::new(ErrorKind::Internal, "Could not read the schema catalog").with_source(e)
}
