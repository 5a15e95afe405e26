//! Rendering writes: the mutation in a CTE, the representation read from it.

use super::render::{PAGE, Source, body, conditions, names_computed, page, typed_page};
use super::{CatalogExpr, CatalogType, Ident, Statement, Writer};
use crate::error::Error;
use crate::plan::{PlannedCondition, WriteKind, WritePlan};
use crate::request::{Resolution, Return, Shape};

/// The rows the mutation returned.
const SOURCE: Ident<'static> = Ident::fixed("pgrst_source");
/// The mutated table, inside an INSERT.
const TARGET: Ident<'static> = Ident::fixed("pgrst_target");
/// The payload as rows of the table's type.
const BODY: Ident<'static> = Ident::fixed("pgrst_body");

/// Counts rows inserted minus rows updated by an upsert, in a transaction-local setting.
const COUNT_INSERT: &str = "pg_catalog.set_config('pgrst.inserted', (coalesce(nullif(pg_catalog.current_setting('pgrst.inserted', true), '')::int8, 0) + 1)::text, true) IS NOT NULL";
const COUNT_UPDATE: &str = "pg_catalog.set_config('pgrst.inserted', (coalesce(nullif(pg_catalog.current_setting('pgrst.inserted', true), '')::int8, 0) - 1)::text, true) IS NOT NULL";

/// A write: one row of `(affected bigint, page_total bigint, body text,
/// location json, inserted bigint, response_headers text, response_status text)`.
///
/// ```sql
/// WITH "pgrst_source" AS (
///   INSERT INTO "s"."t" AS "pgrst_target" ("a", "b")
///   SELECT "pgrst_body"."a", "pgrst_body"."b"
///   FROM pg_catalog.json_populate_recordset(NULL::"s"."t", $1::json) AS "pgrst_body"
///   RETURNING "pgrst_target".*),
/// "pgrst_page" AS (SELECT "pgrst_source".* FROM "pgrst_source")
/// SELECT (SELECT pg_catalog.count(*) FROM "pgrst_source"), pg_catalog.count(*), <body>, <location>, <inserted>,
///        <response.headers>, <response.status>
/// FROM "pgrst_page"
/// ```
pub(crate) fn render_write(plan: &WritePlan<'_>) -> Result<Statement, Error> {
    let table = Source::table(plan.table())?;
    let mut w = Writer::default();
    w.kw("WITH ").ident(&SOURCE).kw(" AS (");
    let mut counts_inserts = false;
    match &plan.kind {
        WriteKind::Insert {
            columns,
            conflict,
            put_key,
        } => counts_inserts = insert(&mut w, &table, plan, columns, conflict.as_ref(), put_key)?,
        WriteKind::Update {
            columns,
            conditions: conds,
            key,
        } => update(&mut w, &table, plan, columns, conds, key)?,
        WriteKind::Delete { conditions: conds } => {
            w.kw("DELETE FROM ");
            table.write(&mut w);
            conditions(&mut w, &table, conds)?;
            returning(&mut w, &table, plan)?;
        }
    }
    w.kw("), ").ident(&PAGE).kw(" AS (");
    if plan.return_ == Return::Representation {
        let mut next = 0;
        if names_computed(&plan.shape) {
            typed_page(&mut w, SOURCE, plan.table(), &plan.shape, &mut next)?;
        } else {
            page(&mut w, &Source::Cte(SOURCE), &plan.shape, &mut next)?;
        }
    } else {
        w.kw("SELECT 1 FROM ").ident(&SOURCE);
    }
    w.kw(") SELECT (SELECT pg_catalog.count(*) FROM ")
        .ident(&SOURCE)
        .kw("), pg_catalog.count(*), ");
    if plan.return_ == Return::Representation {
        body(&mut w, &plan.shape)?;
    } else {
        w.kw("NULL::text");
    }
    w.kw(", ");
    let key = &plan.table().primary_key;
    if answers_location(plan) {
        w.kw("(SELECT pg_catalog.json_build_array(");
        for (i, k) in key.iter().enumerate() {
            if i > 0 {
                w.kw(", ");
            }
            w.ident(&SOURCE).kw(".").ident(&Ident::new(k)?).kw("::text");
        }
        w.kw(") FROM ").ident(&SOURCE).kw(" LIMIT 1)");
    } else {
        w.kw("NULL::json");
    }
    if counts_inserts {
        w.kw(", nullif(pg_catalog.current_setting('pgrst.inserted', true), '')::int8");
    } else {
        w.kw(", NULL::int8");
    }
    // What a trigger set for the response (read once the rows are written).
    w.kw(", nullif(pg_catalog.current_setting('response.headers', true), '')")
        .kw(", nullif(pg_catalog.current_setting('response.status', true), '')");
    w.kw(" FROM ").ident(&PAGE);
    Ok(w.finish())
}

/// A plain insert of `rows` (a JSON array of objects) into `table`, taking
/// `columns`: one row of the inserted rows as a JSON array, in insertion
/// order (a nested insert's step).
pub(crate) fn render_rows_insert(
    table: &crate::schema::Table,
    columns: &[&str],
    rows: String,
) -> Result<Statement, Error> {
    let source = Source::table(table)?;
    let mut w = Writer::default();
    w.kw("WITH ").ident(&SOURCE).kw(" AS (INSERT INTO ");
    source.write(&mut w);
    w.kw(" (");
    idents(&mut w, columns)?;
    w.kw(") SELECT ");
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            w.kw(", ");
        }
        w.ident(&BODY).kw(".").ident(&Ident::new(c)?);
    }
    w.kw(" FROM pg_catalog.json_populate_recordset(NULL::");
    source.write(&mut w);
    w.kw(", ")
        .param(rows)
        .kw("::json) AS ")
        .ident(&BODY)
        .kw(" RETURNING ");
    source.write(&mut w);
    w.kw(".*) SELECT coalesce(pg_catalog.json_agg(")
        .ident(&SOURCE)
        .kw("), '[]')::text FROM ")
        .ident(&SOURCE);
    Ok(w.finish())
}

/// `INSERT … SELECT … FROM` the payload, with PUT's key filter and `ON CONFLICT`;
/// whether the statement counts the rows it inserted (an upsert that merges).
fn insert(
    w: &mut Writer,
    table: &Source<'_>,
    plan: &WritePlan<'_>,
    columns: &[&str],
    conflict: Option<&(Vec<&str>, Resolution)>,
    put_key: &[(&str, &str)],
) -> Result<bool, Error> {
    let mut counts_inserts = false;
    w.kw("INSERT INTO ");
    table.write(w);
    w.kw(" AS ").ident(&TARGET);
    if !columns.is_empty() {
        w.kw(" (");
        idents(w, columns)?;
        w.kw(")");
    }
    w.kw(" SELECT ");
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            w.kw(", ");
        }
        w.ident(&BODY).kw(".").ident(&Ident::new(c)?);
    }
    w.kw(" FROM ");
    payload_rows(w, table, plan, plan.payload.map(|p| p.shape))?;
    w.kw(" AS ").ident(&BODY);
    let mut first = true;
    let mut and = |w: &mut Writer| {
        w.kw(if first { " WHERE " } else { " AND " });
        first = false;
    };
    for (column, value) in put_key {
        and(w);
        w.ident(&BODY)
            .kw(".")
            .ident(&Ident::new(column)?)
            .kw(" = ")
            .param(*value);
    }
    let merge = matches!(conflict, Some((_, Resolution::MergeDuplicates)));
    if merge && !columns.is_empty() {
        counts_inserts = true;
        and(w);
        w.kw(COUNT_INSERT);
    }
    if let Some((target, resolution)) = conflict {
        w.kw(" ON CONFLICT (");
        idents(w, target)?;
        w.kw(")");
        if *resolution == Resolution::MergeDuplicates && !columns.is_empty() {
            w.kw(" DO UPDATE SET ");
            for (i, c) in columns.iter().enumerate() {
                if i > 0 {
                    w.kw(", ");
                }
                let c = Ident::new(c)?;
                w.ident(&c).kw(" = EXCLUDED.").ident(&c);
            }
            w.kw(" WHERE ").kw(COUNT_UPDATE);
        } else {
            w.kw(" DO NOTHING");
        }
    }
    returning(w, &Source::Cte(TARGET), plan)?;
    Ok(counts_inserts)
}

/// `RETURNING`: every column for a representation; otherwise only what the
/// answer needs — the primary key for an insert's `Location`, else `1` (the
/// rows are counted) — so that a role may write what it may not read
/// (`INSERT` without `SELECT`, or `SELECT` on some columns only), as in
/// PostgREST.
fn returning(w: &mut Writer, table: &Source<'_>, plan: &WritePlan<'_>) -> Result<(), Error> {
    w.kw(" RETURNING ");
    if plan.return_ == Return::Representation {
        match representation_columns(plan) {
            // Only the columns the answer shows, so that a role that may
            // read those (and not the others) may write and see them.
            Some(names) => {
                for (i, name) in names.iter().enumerate() {
                    if i > 0 {
                        w.kw(", ");
                    }
                    table.write(w);
                    w.kw(".").ident(&Ident::new(name)?);
                }
            }
            None => {
                table.write(w);
                w.kw(".*");
            }
        }
        return Ok(());
    }
    if !answers_location(plan) {
        w.kw("1");
        return Ok(());
    }
    for (i, k) in plan.table().primary_key.iter().enumerate() {
        if i > 0 {
            w.kw(", ");
        }
        table.write(w);
        w.kw(".").ident(&Ident::new(k)?);
    }
    Ok(())
}

/// The columns a representation reads, when they are plain columns of the
/// table (no `*`, embeds, aggregates or computed columns, which read the
/// whole row): the selected ones and those it is ordered by, once each.
fn representation_columns<'p>(plan: &'p WritePlan<'_>) -> Option<Vec<&'p str>> {
    let table = plan.table();
    let mut names: Vec<&str> = Vec::new();
    let mut add = |name: &'p str| -> Option<()> {
        table.column(name)?;
        if !names.contains(&name) {
            names.push(name);
        }
        Some(())
    };
    for item in &plan.shape.select {
        match item {
            crate::plan::Projection::Column(c) => add(&c.field.name)?,
            _ => return None,
        }
    }
    for term in &plan.shape.order {
        if term.embed.is_some() {
            return None;
        }
        add(&term.term.field.name)?;
    }
    (!names.is_empty()).then_some(names)
}

/// Whether the write answers with a `Location`: an insert with
/// `return=headers-only` into a relation that has a key.
fn answers_location(plan: &WritePlan<'_>) -> bool {
    plan.return_ == Return::HeadersOnly
        && !plan.table().primary_key.is_empty()
        && matches!(plan.kind, WriteKind::Insert { .. })
}

/// `UPDATE … SET` the payload's columns `FROM` the payload `WHERE` the conditions.
fn update(
    w: &mut Writer,
    table: &Source<'_>,
    plan: &WritePlan<'_>,
    columns: &[&str],
    conds: &[PlannedCondition<'_>],
    key: &[&str],
) -> Result<(), Error> {
    if columns.is_empty() {
        // Nothing to set: a no-op that still has the table's row type (or,
        // when no representation is asked for, reads nothing).
        w.kw("SELECT ");
        if plan.return_ == Return::Representation {
            table.write(w);
            w.kw(".*");
        } else {
            w.kw("1");
        }
        w.kw(" FROM ");
        table.write(w);
        w.kw(" WHERE false");
    } else {
        w.kw("UPDATE ");
        table.write(w);
        w.kw(" SET ");
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                w.kw(", ");
            }
            let c = Ident::new(c)?;
            w.ident(&c).kw(" = ").ident(&BODY).kw(".").ident(&c);
        }
        w.kw(" FROM ");
        // A bulk PATCH joins each element to its row by the key.
        let bulk = (!key.is_empty()).then_some(Shape::Array);
        payload_rows(w, table, plan, bulk)?;
        w.kw(" AS ").ident(&BODY);
        let mut first = true;
        for k in key {
            w.kw(if first { " WHERE " } else { " AND " });
            first = false;
            let k = Ident::new(k)?;
            table.write(w);
            w.kw(".").ident(&k).kw(" = ").ident(&BODY).kw(".").ident(&k);
        }
        if first {
            conditions(w, table, conds)?;
        } else {
            for c in conds {
                w.kw(" AND ");
                super::render::condition_sql(w, table, c)?;
            }
        }
        returning(w, table, plan)?;
    }
    Ok(())
}

fn idents(w: &mut Writer, names: &[&str]) -> Result<(), Error> {
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            w.kw(", ");
        }
        w.ident(&Ident::new(n)?);
    }
    Ok(())
}

/// The payload as one JSON value (parenthesized): its text as a parameter,
/// or, for a CSV body, its header and rows (both parameters) paired by
/// PostgreSQL into an array of objects, so that the header travels once.
/// The payload, with the values of columns whose types read JSON through a
/// data representation (PostgREST's) passed through its function first, so
/// that the row type reads what it returns. Without such columns, the
/// payload as it is.
fn represented_payload(w: &mut Writer, plan: &WritePlan<'_>) {
    // Only the columns written: a key that `columns=` leaves out is never
    // read, so its value is never converted (nor refused).
    let written: Option<Vec<&str>> = match &plan.kind {
        WriteKind::Insert { columns, .. } => Some(columns.clone()),
        WriteKind::Update { columns, key, .. } => {
            Some(columns.iter().chain(key).copied().collect())
        }
        WriteKind::Delete { .. } => None,
    };
    let columns: Vec<(&str, &str)> = plan
        .table()
        .columns
        .iter()
        .filter(|c| {
            written
                .as_ref()
                .is_none_or(|w| w.contains(&c.name.as_str()))
        })
        .filter_map(|c| Some((c.name.as_str(), c.from_json.as_deref()?)))
        .collect();
    if columns.is_empty() {
        return written_payload(w, plan, written.as_deref());
    }
    // Each object: itself, with each such key that it has replaced by the
    // function's value (in its base type's JSON form).
    let object = |w: &mut Writer, v: &'static str| {
        w.kw("(").kw(v);
        for (name, function) in &columns {
            w.kw(" || CASE WHEN ")
                .kw(v)
                .kw(" ? ")
                .param(*name)
                .kw("::text THEN pg_catalog.jsonb_build_object(")
                .param(*name)
                .kw("::text, pg_catalog.to_jsonb(")
                .catalog_type(&CatalogType::function(function))
                .kw("((")
                .kw(v)
                .kw(" -> ")
                .param(*name)
                .kw("::text)::json))) ELSE '{}'::jsonb END");
        }
        w.kw(")");
    };
    w.kw("(SELECT CASE pg_catalog.jsonb_typeof(pgrst_j) WHEN 'array' THEN (SELECT coalesce(pg_catalog.jsonb_agg(");
    object(w, "pgrst_v");
    w.kw(" ORDER BY pgrst_n), '[]') FROM pg_catalog.jsonb_array_elements(pgrst_j) WITH ORDINALITY AS pgrst_e(pgrst_v, pgrst_n)) ELSE ");
    object(w, "pgrst_j");
    w.kw(" END FROM (SELECT ");
    written_payload(w, plan, written.as_deref());
    w.kw("::jsonb AS pgrst_j) AS pgrst_p)");
}

/// The payload, its objects cut to the `written` columns when `columns=`
/// named them (the body then was not read here, and a key it leaves out may
/// hold anything: PostgreSQL must not read it as the column's type).
fn written_payload(w: &mut Writer, plan: &WritePlan<'_>, written: Option<&[&str]>) {
    let not_inspected = plan.payload.is_some_and(|p| !p.csv && p.keys.is_empty());
    let Some(columns) = written.filter(|c| not_inspected && !c.is_empty()) else {
        return payload_json(w, plan);
    };
    let cut = |w: &mut Writer, v: &'static str, names: &str| {
        w.kw("(SELECT coalesce(pg_catalog.jsonb_object_agg(pgrst_k, pgrst_x), '{}') FROM pg_catalog.jsonb_each(")
            .kw(v)
            .kw(") AS pgrst_kv(pgrst_k, pgrst_x) WHERE pgrst_k = ANY (")
            .param(names.to_owned())
            .kw("::text[]))");
    };
    let names = super::array_literal(columns.iter().copied());
    w.kw("(SELECT CASE pg_catalog.jsonb_typeof(pgrst_w) WHEN 'array' THEN (SELECT coalesce(pg_catalog.jsonb_agg(");
    cut(w, "pgrst_o", &names);
    w.kw(" ORDER BY pgrst_i), '[]') FROM pg_catalog.jsonb_array_elements(pgrst_w) WITH ORDINALITY AS pgrst_a(pgrst_o, pgrst_i)) ELSE ");
    cut(w, "pgrst_w", &names);
    w.kw(" END FROM (SELECT ");
    payload_json(w, plan);
    w.kw("::jsonb AS pgrst_w) AS pgrst_wp)");
}

fn payload_json(w: &mut Writer, plan: &WritePlan<'_>) {
    match plan.payload {
        Some(p) if p.csv => {
            let header = serde_json::to_string(&p.keys).unwrap_or_else(|_| "[]".to_owned());
            w.kw("(SELECT pg_catalog.json_agg(pg_catalog.json_object(ARRAY(SELECT pg_catalog.json_array_elements_text(")
                .param(header)
                .kw("::json)), ARRAY(SELECT pg_catalog.json_array_elements_text(r.v))) ORDER BY r.n) FROM pg_catalog.json_array_elements(")
                .param(p.json.clone())
                .kw("::json) WITH ORDINALITY AS r(v, n))");
        }
        Some(p) => {
            w.kw("(").param(p.json.clone()).kw(")");
        }
        None => {
            w.kw("(").param("{}".to_owned()).kw(")");
        }
    }
}

/// The payload as rows of the table's row type. `shape` is the body's shape for
/// an INSERT; `None` (an UPDATE) takes one object, the first of an array.
fn payload_rows(
    w: &mut Writer,
    table: &Source<'_>,
    plan: &WritePlan<'_>,
    shape: Option<Shape>,
) -> Result<(), Error> {
    let data = |w: &mut Writer| represented_payload(w, plan);
    let body_is_array = plan.payload.is_some_and(|p| p.shape == Shape::Array);
    let set = shape == Some(Shape::Array);
    if plan.defaults.is_empty() {
        w.kw(if set {
            "pg_catalog.json_populate_recordset(NULL::"
        } else {
            "pg_catalog.json_populate_record(NULL::"
        });
        table.write(w);
        w.kw(", ");
        data(w);
        w.kw("::json");
        if !set && body_is_array {
            w.kw(" -> 0");
        }
        w.kw(")");
        return Ok(());
    }
    // missing=default: each object is laid over its columns' defaults.
    let defaults = |w: &mut Writer| -> Result<(), Error> {
        w.kw("pg_catalog.jsonb_build_object(");
        for (i, column) in plan.defaults.iter().enumerate() {
            if i > 0 {
                w.kw(", ");
            }
            w.param(column.name.as_str()).kw("::text, ");
            if let Some(default) = CatalogExpr::column_default(column) {
                w.catalog_expr(&default);
            } else {
                w.kw("NULL");
            }
        }
        w.kw(")");
        Ok(())
    };
    if set {
        w.kw("pg_catalog.jsonb_populate_recordset(NULL::");
        table.write(w);
        w.kw(", (SELECT pg_catalog.jsonb_agg(");
        defaults(w)?;
        w.kw(" || e) FROM pg_catalog.jsonb_array_elements(");
        data(w);
        w.kw("::jsonb) AS e))");
    } else {
        w.kw("pg_catalog.jsonb_populate_record(NULL::");
        table.write(w);
        w.kw(", ");
        defaults(w)?;
        w.kw(" || (");
        data(w);
        w.kw("::jsonb");
        if body_is_array {
            w.kw(" -> 0");
        }
        w.kw("))");
    }
    Ok(())
}
