//! Rendering plans as SQL.

use super::{Ident, Statement, Writer, array_literal};
use crate::error::Error;
use crate::plan::{PlannedCondition, PlannedFilter, Projection, ReadPlan};
use crate::request::{Count, Field, JsonOp, JsonStep, MediaType, Operation};

/// The page of rows that the body is aggregated from.
pub(super) const PAGE: Ident<'static> = Ident::fixed("pgrst_page");
/// The rows of a capped count.
const CAPPED: Ident<'static> = Ident::fixed("pgrst_capped");

/// Type names that are SQL keywords rather than `pg_type` names, so must not be quoted.
const KEYWORD_TYPES: &[&str] = &[
    "bigint",
    "bit",
    "bit varying",
    "boolean",
    "char",
    "character",
    "character varying",
    "dec",
    "decimal",
    "double precision",
    "float",
    "int",
    "integer",
    "interval",
    "national character",
    "national character varying",
    "nchar",
    "numeric",
    "real",
    "smallint",
    "time",
    "time with time zone",
    "time without time zone",
    "timestamp",
    "timestamp with time zone",
    "timestamp without time zone",
    "varchar",
];

/// The statements of a read: the main one, and the `EXPLAIN` that a planned
/// or estimated count also needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReadStatements {
    pub(crate) main: Statement,
    pub(crate) explain: Option<Statement>,
}

/// A read: one row of `(total bigint, page_total bigint, body text)`.
///
/// ```sql
/// WITH "pgrst_page" AS (SELECT "s"."t"."a" AS "a" FROM "s"."t" WHERE "s"."t"."x" > $1
///                       ORDER BY "s"."t"."a" DESC LIMIT $2)
/// SELECT NULL::int8, pg_catalog.count(*), coalesce(pg_catalog.json_agg("pgrst_page"), '[]')::text
/// FROM "pgrst_page"
/// ```
///
/// The total is `NULL` unless a count was asked for and the page may be
/// smaller than the whole (then it is a `count(*)` over the same conditions,
/// capped at `max_rows + 1` for an estimate).
pub(crate) fn render_read(plan: &ReadPlan<'_>) -> Result<ReadStatements, Error> {
    let table = Source::table(plan.table)?;
    let mut w = Writer::default();
    w.kw("WITH ").ident(&PAGE).kw(" AS (");
    page(&mut w, &table, plan)?;
    w.kw(") SELECT ");

    // The total.
    let capped = matches!(plan.count, Some(Count::Estimated)) && plan.max_rows.is_some();
    match plan.count {
        Some(Count::Exact | Count::Estimated) if plan.total_needs_query() || capped => {
            w.kw("(SELECT pg_catalog.count(*) FROM ");
            if capped {
                w.kw("(SELECT 1 FROM ");
                table.write(&mut w);
                conditions(&mut w, &table, &plan.conditions)?;
                let cap = plan.max_rows.unwrap_or(0).saturating_add(1);
                w.kw(" LIMIT ")
                    .param(cap.to_string())
                    .kw(") AS ")
                    .ident(&CAPPED);
            } else {
                table.write(&mut w);
                conditions(&mut w, &table, &plan.conditions)?;
            }
            w.kw(")");
        }
        _ => {
            w.kw("NULL::int8");
        }
    }
    w.kw(", pg_catalog.count(*), ");
    body(&mut w, plan);
    w.kw(" FROM ").ident(&PAGE);

    let explain = match plan.count {
        Some(Count::Planned | Count::Estimated) => {
            let mut e = Writer::default();
            e.kw("EXPLAIN (FORMAT JSON) SELECT 1 FROM ");
            table.write(&mut e);
            conditions(&mut e, &table, &plan.conditions)?;
            Some(e.finish())
        }
        _ => None,
    };
    Ok(ReadStatements {
        main: w.finish(),
        explain,
    })
}

/// The page: `SELECT <projection> FROM <source> [WHERE …] [ORDER BY …] [LIMIT …] [OFFSET …]`.
pub(super) fn page(w: &mut Writer, source: &Source<'_>, plan: &ReadPlan<'_>) -> Result<(), Error> {
    w.kw("SELECT ");
    for (i, item) in plan.select.iter().enumerate() {
        if i > 0 {
            w.kw(", ");
        }
        match item {
            Projection::Star => {
                source.write(w);
                w.kw(".*");
            }
            Projection::Column(c) => {
                if let Some(cast) = c.cast {
                    w.kw("CAST(");
                    field(w, source, c.field, c.column_type)?;
                    w.kw(" AS ");
                    sql_type(w, cast)?;
                    w.kw(")");
                } else {
                    field(w, source, c.field, c.column_type)?;
                }
                w.kw(" AS ")
                    .ident(&Ident::new(c.alias.unwrap_or(c.field.output_name()))?);
            }
        }
    }
    w.kw(" FROM ");
    source.write(w);
    conditions(w, source, &plan.conditions)?;
    for (i, (term, column_type)) in plan.order.iter().enumerate() {
        w.kw(if i == 0 { " ORDER BY " } else { ", " });
        field(w, source, &term.field, *column_type)?;
        if let Some(d) = term.direction {
            w.kw(" ").kw(d.as_sql());
        }
        if let Some(n) = term.nulls {
            w.kw(" ").kw(n.as_sql());
        }
    }
    if let Some(limit) = plan.limit {
        w.kw(" LIMIT ").param(limit.to_string());
    }
    if plan.offset > 0 {
        w.kw(" OFFSET ").param(plan.offset.to_string());
    }
    Ok(())
}

/// The body built from the rows of [`PAGE`], in the plan's media type (`NULL` for HEAD).
pub(super) fn body(w: &mut Writer, plan: &ReadPlan<'_>) {
    if plan.headers_only {
        w.kw("NULL::text");
        return;
    }
    match plan.media {
        MediaType::Json => {
            w.kw("coalesce(pg_catalog.json_agg(")
                .ident(&PAGE)
                .kw("), '[]')::text");
        }
        MediaType::JsonStripped => {
            w.kw("coalesce(pg_catalog.json_strip_nulls(pg_catalog.json_agg(")
                .ident(&PAGE)
                .kw(")), '[]')::text");
        }
        MediaType::SingularJson { stripped: false } => {
            w.kw("coalesce((pg_catalog.json_agg(")
                .ident(&PAGE)
                .kw(") -> 0)::text, 'null')");
        }
        MediaType::SingularJson { stripped: true } => {
            w.kw("coalesce(pg_catalog.json_strip_nulls(pg_catalog.json_agg(")
                .ident(&PAGE)
                .kw(") -> 0)::text, 'null')");
        }
        MediaType::Csv => {
            // The header: the keys of the first row; then each row as
            // PostgreSQL renders a record, without its parentheses.
            w.kw("(SELECT coalesce(pg_catalog.string_agg(k, ','), '') FROM (SELECT pg_catalog.json_object_keys(pg_catalog.row_to_json(h)) AS k FROM (SELECT * FROM ")
                .ident(&PAGE)
                .kw(" LIMIT 1) AS h) AS keys) || E'\\n' || coalesce(pg_catalog.string_agg(pg_catalog.substr(")
                .ident(&PAGE)
                .kw("::text, 2, pg_catalog.length(")
                .ident(&PAGE)
                .kw("::text) - 2), E'\\n'), '')");
        }
    }
}

/// ` WHERE c1 AND c2 …`, or nothing.
pub(super) fn conditions(
    w: &mut Writer,
    table: &Source<'_>,
    conds: &[PlannedCondition<'_>],
) -> Result<(), Error> {
    for (i, c) in conds.iter().enumerate() {
        w.kw(if i == 0 { " WHERE " } else { " AND " });
        condition(w, table, c)?;
    }
    Ok(())
}

fn condition(w: &mut Writer, table: &Source<'_>, c: &PlannedCondition<'_>) -> Result<(), Error> {
    match c {
        PlannedCondition::Filter(f) => filter(w, table, f),
        PlannedCondition::Group {
            negated,
            op,
            children,
        } => {
            w.kw(if *negated { "NOT (" } else { "(" });
            for (i, child) in children.iter().enumerate() {
                if i > 0 {
                    w.kw(op.as_sql());
                }
                condition(w, table, child)?;
            }
            w.kw(")");
            Ok(())
        }
    }
}

/// Where columns come from: a table (`"schema"."table"`), or a CTE of the statement.
pub(super) enum Source<'a> {
    Table { schema: Ident<'a>, name: Ident<'a> },
    Cte(Ident<'static>),
}

impl<'a> Source<'a> {
    pub(super) fn table(table: &'a crate::schema::Table) -> Result<Self, Error> {
        Ok(Self::Table {
            schema: Ident::new(&table.schema)?,
            name: Ident::new(&table.name)?,
        })
    }

    pub(super) fn write(&self, w: &mut Writer) {
        match self {
            Self::Table { schema, name } => {
                w.ident(schema).kw(".").ident(name);
            }
            Self::Cte(name) => {
                w.ident(name);
            }
        }
    }
}

/// A column reference, fully qualified so that PostgreSQL resolves computed
/// columns (`"s"."t"."full_name"` is `full_name(t)`), with its JSON path.
fn field(
    w: &mut Writer,
    table: &Source<'_>,
    field: &Field,
    column_type: Option<&str>,
) -> Result<(), Error> {
    let column = Ident::new(&field.name)?;
    let direct = field.json_path.is_empty() || matches!(column_type, Some("json" | "jsonb"));
    if !direct {
        w.kw("pg_catalog.to_jsonb(");
    }
    table.write(w);
    w.kw(".").ident(&column);
    if !direct {
        w.kw(")");
    }
    for (op, step) in &field.json_path {
        w.kw(match op {
            JsonOp::Arrow => " -> ",
            JsonOp::DoubleArrow => " ->> ",
        });
        match step {
            JsonStep::Key(k) => w.param(k.as_str()).kw("::text"),
            JsonStep::Index(i) => w.param(i.to_string()).kw("::int4"),
        };
    }
    Ok(())
}

/// A type name: an SQL keyword type as is, any other name folded to lower case and quoted.
fn sql_type(w: &mut Writer, name: &str) -> Result<(), Error> {
    let folded = name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    match KEYWORD_TYPES.iter().find(|k| **k == folded) {
        Some(kw) => w.kw(kw),
        None => w.ident(&Ident::new(&folded)?),
    };
    Ok(())
}

/// One filter condition.
fn filter(w: &mut Writer, table: &Source<'_>, f: &PlannedFilter<'_>) -> Result<(), Error> {
    let filter = f.filter;
    if filter.negated {
        w.kw("NOT (");
    }
    match &filter.operation {
        Operation::Compare {
            op,
            quantifier,
            value,
        } => {
            field(w, table, &filter.field, f.column_type)?;
            w.kw(" ").kw(op.as_sql()).kw(" ");
            match quantifier {
                None => w.param(value.as_str()),
                Some(q) => w.kw(q.as_sql()).kw(" (").param(value.as_str()).kw(")"),
            };
        }
        Operation::In(items) => {
            field(w, table, &filter.field, f.column_type)?;
            w.kw(" = ANY (")
                .param(array_literal(items.iter().map(String::as_str)))
                .kw(")");
        }
        Operation::Is(v) => {
            field(w, table, &filter.field, f.column_type)?;
            w.kw(" ").kw(v.as_sql());
        }
        Operation::Fts {
            op,
            language,
            value,
        } => {
            let is_tsvector =
                f.column_type == Some("tsvector") && filter.field.json_path.is_empty();
            if !is_tsvector {
                w.kw("pg_catalog.to_tsvector(");
                if let Some(lang) = language {
                    w.param(lang.as_str()).kw("::regconfig, ");
                }
            }
            field(w, table, &filter.field, f.column_type)?;
            if !is_tsvector {
                w.kw(")");
            }
            w.kw(" @@ pg_catalog.").kw(op.as_sql()).kw("(");
            if let Some(lang) = language {
                w.param(lang.as_str()).kw("::regconfig, ");
            }
            w.param(value.as_str()).kw(")");
        }
    }
    if filter.negated {
        w.kw(")");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
