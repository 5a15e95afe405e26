//! Rendering plans as SQL.

use super::{Ident, Statement, Writer, array_literal};
use crate::error::Error;
use crate::plan::{PlannedFilter, Projection, ReadPlan};
use crate::request::{Field, JsonOp, JsonStep, MediaType, Operation};

/// The alias of the page sub-select that the body is aggregated from.
const PAGE: Ident<'static> = Ident::fixed("pgrst_page");

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

/// A read: one row of `(page_total bigint, body text)`.
///
/// ```sql
/// SELECT pg_catalog.count(*), coalesce(pg_catalog.json_agg("pgrst_page"), '[]')::text
/// FROM (SELECT "s"."t"."a" AS "a" FROM "s"."t" WHERE "s"."t"."x" > $1
///       ORDER BY "s"."t"."a" DESC LIMIT $2) AS "pgrst_page"
/// ```
pub(crate) fn render_read(plan: &ReadPlan<'_>) -> Result<Statement, Error> {
    let table = QualifiedTable {
        schema: Ident::new(&plan.table.schema)?,
        name: Ident::new(&plan.table.name)?,
    };
    let mut w = Writer::default();
    w.kw("SELECT pg_catalog.count(*), ");
    if plan.headers_only {
        w.kw("NULL::text");
    } else {
        match plan.media {
            MediaType::Json => {
                w.kw("coalesce(pg_catalog.json_agg(")
                    .ident(&PAGE)
                    .kw("), '[]')::text");
            }
            MediaType::SingularJson => {
                w.kw("coalesce((pg_catalog.json_agg(")
                    .ident(&PAGE)
                    .kw(") -> 0)::text, 'null')");
            }
        }
    }
    w.kw(" FROM (SELECT ");
    for (i, item) in plan.select.iter().enumerate() {
        if i > 0 {
            w.kw(", ");
        }
        match item {
            Projection::Star => {
                table.write(&mut w);
                w.kw(".*");
            }
            Projection::Column(c) => {
                if let Some(cast) = c.cast {
                    w.kw("CAST(");
                    field(&mut w, &table, c.field, c.column_type)?;
                    w.kw(" AS ");
                    sql_type(&mut w, cast)?;
                    w.kw(")");
                } else {
                    field(&mut w, &table, c.field, c.column_type)?;
                }
                w.kw(" AS ")
                    .ident(&Ident::new(c.alias.unwrap_or(c.field.output_name()))?);
            }
        }
    }
    w.kw(" FROM ");
    table.write(&mut w);
    for (i, f) in plan.filters.iter().enumerate() {
        w.kw(if i == 0 { " WHERE " } else { " AND " });
        filter(&mut w, &table, f)?;
    }
    for (i, (term, column_type)) in plan.order.iter().enumerate() {
        w.kw(if i == 0 { " ORDER BY " } else { ", " });
        field(&mut w, &table, &term.field, *column_type)?;
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
    w.kw(") AS ").ident(&PAGE);
    Ok(w.finish())
}

/// `"schema"."table"`
struct QualifiedTable<'a> {
    schema: Ident<'a>,
    name: Ident<'a>,
}

impl QualifiedTable<'_> {
    fn write(&self, w: &mut Writer) {
        w.ident(&self.schema).kw(".").ident(&self.name);
    }
}

/// A column reference, fully qualified so that PostgreSQL resolves computed
/// columns (`"s"."t"."full_name"` is `full_name(t)`), with its JSON path.
fn field(
    w: &mut Writer,
    table: &QualifiedTable<'_>,
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
fn filter(w: &mut Writer, table: &QualifiedTable<'_>, f: &PlannedFilter<'_>) -> Result<(), Error> {
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
