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

/// Tables, views, materialized views, foreign tables and partitioned tables
/// (not partitions), with their columns and primary keys.
const RELATIONS: &str = r#"
SELECT n.nspname::text,
       c.relname::text,
       c.relkind::text,
       pg_catalog.obj_description(c.oid, 'pg_class'),
       c.relkind IN ('r', 'p') OR (pg_catalog.pg_relation_is_updatable(c.oid::regclass, false) & 8) = 8,
       c.relkind IN ('r', 'p') OR (pg_catalog.pg_relation_is_updatable(c.oid::regclass, false) & 4) = 4,
       c.relkind IN ('r', 'p') OR (pg_catalog.pg_relation_is_updatable(c.oid::regclass, false) & 16) = 16,
       coalesce((
         SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                  'name', a.attname,
                  'data_type', pg_catalog.format_type(a.atttypid, a.atttypmod),
                  'base_type', CASE WHEN t.typtype = 'd'
                                    THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END,
                  'nullable', NOT a.attnotnull,
                  'default', CASE WHEN a.attgenerated = ''
                                  THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END)
                ORDER BY a.attnum)
         FROM pg_catalog.pg_attribute a
         JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       ), '[]')::text,
       coalesce((
         SELECT pg_catalog.array_agg(a.attname::text ORDER BY k.ord)
         FROM pg_catalog.pg_constraint con,
              unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
         WHERE con.conrelid = c.oid AND con.contype = 'p'
       ), '{}'),
       coalesce((
         SELECT pg_catalog.json_agg(u.cols)
         FROM (SELECT pg_catalog.array_agg(a.attname::text ORDER BY k.ord) AS cols
               FROM pg_catalog.pg_constraint con,
                    unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
               WHERE con.conrelid = c.oid AND con.contype IN ('p', 'u')
               GROUP BY con.oid) AS u
       ), '[]')::text,
       CASE c.relkind
         WHEN 'p' THEN (SELECT coalesce(sum(p.relpages), 0)::int8
                        FROM pg_catalog.pg_partition_tree(c.oid) AS t
                        JOIN pg_catalog.pg_class p ON p.oid = t.relid)
         ELSE c.relpages::int8
       END * pg_catalog.current_setting('block_size')::int8
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY ($1::text[])
  AND c.relkind IN ('r', 'v', 'm', 'f', 'p')
  AND NOT c.relispartition
ORDER BY n.nspname, c.relname
"#;

/// Foreign keys whose either side is in an exposed schema (not the copies on partitions).
const FOREIGN_KEYS: &str = r#"
SELECT con.conname::text,
       ns.nspname::text, cl.relname::text,
       pg_catalog.array_agg(a.attname::text ORDER BY k.ord),
       fns.nspname::text, fcl.relname::text,
       pg_catalog.array_agg(fa.attname::text ORDER BY k.ord)
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class cl ON cl.oid = con.conrelid
JOIN pg_catalog.pg_namespace ns ON ns.oid = cl.relnamespace
JOIN pg_catalog.pg_class fcl ON fcl.oid = con.confrelid
JOIN pg_catalog.pg_namespace fns ON fns.oid = fcl.relnamespace
CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(col, fcol, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.col
JOIN pg_catalog.pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = k.fcol
WHERE con.contype = 'f' AND con.conparentid = 0
  AND (ns.nspname = ANY ($1::text[]) OR fns.nspname = ANY ($1::text[]))
GROUP BY con.oid, con.conname, ns.nspname, cl.relname, fns.nspname, fcl.relname
ORDER BY ns.nspname, cl.relname, con.conname
"#;

/// Where the columns of views come from: for each target entry of a view's
/// query, its name and the table column it projects (`resorigtbl`,
/// `resorigcol` in the rewrite rule's node tree). Entries of subqueries print
/// before the top-level ones, so the last entry of a name is the view's own.
const VIEW_COLUMNS: &str = r#"
SELECT vn.nspname::text, vc.relname::text, m[1], tn.nspname::text, tc.relname::text, ta.attname::text
FROM pg_catalog.pg_rewrite r
JOIN pg_catalog.pg_class vc ON vc.oid = r.ev_class
JOIN pg_catalog.pg_namespace vn ON vn.oid = vc.relnamespace
CROSS JOIN LATERAL pg_catalog.regexp_matches(r.ev_action::text,
  ':resname (\S+) :ressortgroupref \d+ :resorigtbl (\d+) :resorigcol (\d+)', 'g')
  WITH ORDINALITY AS x(m, ord)
JOIN pg_catalog.pg_class tc ON tc.oid = m[2]::oid
JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
JOIN pg_catalog.pg_attribute ta ON ta.attrelid = tc.oid AND ta.attnum = m[3]::int2
WHERE vc.relkind IN ('v', 'm') AND r.rulename = '_RETURN' AND vn.nspname = ANY ($1::text[])
ORDER BY vn.nspname, vc.relname, x.ord
"#;

/// `statement_timeout` settings of roles (`ALTER ROLE … SET statement_timeout`),
/// for this database or all; this database's last, so they win.
const ROLE_TIMEOUTS: &str = r#"
SELECT r.rolname::text, substr(cfg, length('statement_timeout=') + 1)
FROM pg_catalog.pg_db_role_setting s
JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
CROSS JOIN LATERAL unnest(s.setconfig) AS cfg
WHERE s.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()))
  AND cfg LIKE 'statement_timeout=%'
  AND $1::text[] IS NOT NULL
ORDER BY s.setdatabase
"#;

/// The time zones the database knows, for `Prefer: timezone`.
const TIMEZONES: &str =
    "SELECT name FROM pg_catalog.pg_timezone_names WHERE $1::text[] IS NOT NULL";

/// Plain functions (not procedures, aggregates, trigger or event trigger functions) of the exposed schemas.
const FUNCTIONS: &str = r#"
SELECT n.nspname::text,
       p.proname::text,
       p.provolatile::text,
       p.proretset,
       pg_catalog.format_type(p.prorettype, NULL),
       t.typtype = 'c' OR (t.oid = 'record'::regtype AND p.proallargtypes IS NOT NULL),
       p.pronargdefaults::int4,
       coalesce((
         SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                  'name', coalesce(x.name, ''),
                  'data_type', pg_catalog.format_type(x.type, NULL),
                  'mode', coalesce(x.mode, 'i'))
                ORDER BY x.ord)
         FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]),
                     p.proargnames,
                     p.proargmodes::text[]) WITH ORDINALITY AS x(type, name, mode, ord)
       ), '[]')::text,
       pg_catalog.obj_description(p.oid, 'pg_proc')
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_type t ON t.oid = p.prorettype
WHERE n.nspname = ANY ($1::text[])
  AND p.prokind = 'f'
  AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
ORDER BY n.nspname, p.proname, p.oid
"#;

/// Media-type handlers: domains named after a media type (or `*/*`) that an
/// aggregate of the exposed schemas over one relation's rows (or
/// `anyelement`) returns, or that a function of the exposed schemas returns
/// (not as a set). Columns: kind (`a`/`f`), the aggregate's schema and name,
/// the target's schema and name, the media type, and whether it is `bytea`.
const MEDIA_HANDLERS: &str = r#"
WITH media AS (
  SELECT t.oid, pg_catalog.lower(t.typname::text) AS media, t.typbasetype = 'bytea'::regtype AS bin
  FROM pg_catalog.pg_type t
  WHERE t.typtype = 'd'
    AND (t.typname ~ '^[A-Za-z0-9.-]+/[A-Za-z0-9.+-]+$' OR t.typname = '*/*')
)
SELECT 'a', pn.nspname::text, p.proname::text,
       CASE WHEN at.oid = 'anyelement'::regtype THEN NULL ELSE an.nspname::text END,
       CASE WHEN at.oid = 'anyelement'::regtype THEN NULL ELSE rel.relname::text END,
       m.media, m.bin
FROM media m
JOIN pg_catalog.pg_proc p ON p.prorettype = m.oid AND p.prokind = 'a' AND p.pronargs = 1
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
JOIN pg_catalog.pg_type at ON at.oid = p.proargtypes[0]
LEFT JOIN pg_catalog.pg_class rel ON rel.oid = at.typrelid
LEFT JOIN pg_catalog.pg_namespace an ON an.oid = rel.relnamespace
WHERE pn.nspname = ANY ($1::text[])
  AND (at.oid = 'anyelement'::regtype OR rel.relkind IN ('r', 'v', 'm', 'f', 'p'))
UNION ALL
SELECT 'f', NULL, NULL, pn.nspname::text, p.proname::text, m.media, m.bin
FROM media m
JOIN pg_catalog.pg_proc p ON p.prorettype = m.oid AND p.prokind = 'f' AND NOT p.proretset
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
WHERE pn.nspname = ANY ($1::text[])
"#;

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
}

/// Loads a snapshot of `schemas`.
pub(crate) async fn load_schema(client: &Client, schemas: &[String]) -> Result<Schema, Error> {
    let rows = fetch_catalog(client, schemas).await?;
    let tables = tables_from(rows.relations)?;
    let foreign_keys = foreign_keys_from(rows.foreign_keys);
    let functions = functions_from(rows.functions)?;
    let mut schema = Schema::new(schemas.to_vec(), tables, foreign_keys, functions);
    schema.view_columns = lineage_from(rows.view_columns);
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
    let begin = client.batch_execute(
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL search_path TO ''",
    );
    let params: [(&(dyn ToSql + Sync), Type); 1] = [(&schemas_param, Type::TEXT_ARRAY)];
    let relations = client.query_typed(RELATIONS, &params);
    let fks = client.query_typed(FOREIGN_KEYS, &params);
    let functions = client.query_typed(FUNCTIONS, &params);
    let view_columns = client.query_typed(VIEW_COLUMNS, &params);
    let role_timeouts = client.query_typed(ROLE_TIMEOUTS, &params);
    let timezones = client.query_typed(TIMEZONES, &params);
    let handlers = client.query_typed(MEDIA_HANDLERS, &params);
    let commit = client.batch_execute("COMMIT");
    let (
        begin,
        relations,
        fks,
        functions,
        view_columns,
        role_timeouts,
        timezones,
        handlers,
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
    };
    commit.map_err(Error::from_pg)?;
    Ok(rows)
}

/// The relations, from the rows of [`RELATIONS`].
fn tables_from(rows: Vec<Row>) -> Result<Vec<Table>, Error> {
    let mut tables = Vec::with_capacity(rows.len());
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
        tables.push(Table {
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
    Ok(tables)
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

fn bad_catalog(e: serde_json::Error) -> Error {
    Error::new(ErrorKind::Internal, "Could not read the schema catalog").with_source(e)
}
