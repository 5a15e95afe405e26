//! Rendering function calls.

use super::render::{PAGE, Source, body, conditions, names_computed, page, typed_page};
use super::{CatalogType, Ident, SCALAR, Statement, Writer};
use crate::error::Error;
use crate::plan::{CallArgs, CallPlan, Returns};
use crate::request::MediaType;
use crate::schema::FunctionArg;

/// The rows the function returned.
const SOURCE: Ident<'static> = Ident::fixed("pgrst_source");
/// The arguments, as a record.
const ARGS: Ident<'static> = Ident::fixed("pgrst_args");
/// The call in `FROM`.
const CALL: Ident<'static> = Ident::fixed("pgrst_call");

/// A call: one row of `(total bigint, page_total bigint, body text,
/// response_headers text, response_status text)`.
///
/// ```sql
/// WITH "pgrst_source" AS (
///   SELECT "pgrst_call".* FROM pg_catalog.json_to_record($1::json) AS "pgrst_args"("year" integer),
///   LATERAL "api"."best_films"("year" := "pgrst_args"."year") AS "pgrst_call"),
/// "pgrst_page" AS (SELECT "pgrst_source".* FROM "pgrst_source" WHERE … ORDER BY … LIMIT …)
/// SELECT NULL::int8, pg_catalog.count(*), coalesce(pg_catalog.json_agg("pgrst_page"), '[]')::text,
///        nullif(current_setting('response.headers', true), ''), nullif(current_setting('response.status', true), '')
/// FROM "pgrst_page"
/// ```
pub(crate) fn render_call(plan: &CallPlan<'_>) -> Result<Statement, Error> {
    let f = plan.function;
    let function = Source::Table {
        schema: Ident::new(&f.schema)?,
        name: Ident::new(&f.name)?,
    };
    let mut w = Writer::default();
    w.kw("WITH ").ident(&SOURCE).kw(" AS (SELECT ");
    call_from(&mut w, plan, &function)?;
    w.kw("), ").ident(&PAGE).kw(" AS (");
    let source = Source::Cte(SOURCE);
    let mut next = 0;
    // Rows of a relation's type: computed columns of it resolve on them.
    let table = plan.shape.table;
    let of_relation = matches!(plan.returns, Returns::Composite { .. })
        && f.return_type == format!("{}.{}", table.schema, table.name);
    if of_relation && names_computed(&plan.shape) {
        typed_page(&mut w, SOURCE, table, &plan.shape, &mut next)?;
    } else {
        page(&mut w, &source, &plan.shape, &mut next)?;
    }
    w.kw(") SELECT ");
    let shape = &plan.shape;
    if shape.count.is_some() && shape.total_needs_query() {
        w.kw("(SELECT pg_catalog.count(*) FROM ").ident(&SOURCE);
        conditions(&mut w, &source, &shape.conditions)?;
        w.kw(")");
    } else {
        w.kw("NULL::int8");
    }
    w.kw(", pg_catalog.count(*), ");
    match plan.returns {
        _ if shape.headers_only => {
            w.kw("NULL::text");
        }
        Returns::Void => {
            w.kw("NULL::text");
        }
        _ if shape.media == MediaType::Custom => body(&mut w, shape)?,
        Returns::Composite { set: true } => body(&mut w, shape)?,
        Returns::Composite { set: false }
            if matches!(shape.media, MediaType::Csv | MediaType::NdJson) =>
        {
            body(&mut w, shape)?
        }
        Returns::Scalar { .. } if shape.media == MediaType::NdJson => {
            w.kw("coalesce(pg_catalog.string_agg(pg_catalog.to_json(")
                .ident(&PAGE)
                .kw(".")
                .ident(&SCALAR)
                .kw(")::text || E'\\n', ''), '')");
        }
        Returns::Composite { set: false } => {
            w.kw("coalesce((pg_catalog.json_agg(")
                .ident(&PAGE)
                .kw(") -> 0)::text, 'null')");
        }
        Returns::Scalar { set } => {
            w.kw(if set {
                "coalesce(pg_catalog.json_agg("
            } else {
                "coalesce((pg_catalog.json_agg("
            })
            .ident(&PAGE)
            .kw(".")
            .ident(&SCALAR)
            .kw(if set {
                "), '[]')::text"
            } else {
                ") -> 0)::text, 'null')"
            });
        }
    }
    w.kw(", nullif(pg_catalog.current_setting('response.headers', true), '')")
        .kw(", nullif(pg_catalog.current_setting('response.status', true), '')")
        .kw(" FROM ")
        .ident(&PAGE);
    Ok(w.finish())
}

/// The select list and `FROM` of a call's rows: the function applied to the arguments, named
/// (through `json_to_record`) or as the one whole-body argument. A function
/// of an anonymous `record` is called in the select list instead, where
/// PostgreSQL needs no column definitions: `SELECT f(…) AS pgrst_scalar
/// [FROM json_to_record(…) AS pgrst_args(…)]`.
fn call_from(w: &mut Writer, plan: &CallPlan<'_>, function: &Source<'_>) -> Result<(), Error> {
    let anonymous_record =
        plan.function.return_type == "record" && !plan.function.returns_composite;
    let named = match &plan.args {
        CallArgs::Named(args) if !args.is_empty() => Some(args),
        _ => None,
    };
    if anonymous_record {
        call_expression(w, plan, function)?;
        w.kw(" AS ").ident(&SCALAR);
        if let Some(args) = named {
            w.kw(" FROM ");
            arguments(w, plan, args)?;
        }
        return Ok(());
    }
    match plan.returns {
        Returns::Scalar { .. } => {
            w.ident(&CALL).kw(".").ident(&SCALAR);
        }
        Returns::Composite { .. } => {
            w.ident(&CALL).kw(".*");
        }
        Returns::Void => {
            w.kw("1 AS ").ident(&SCALAR);
        }
    }
    w.kw(" FROM ");
    if let Some(args) = named {
        arguments(w, plan, args)?;
        w.kw(", LATERAL ");
    }
    call_expression(w, plan, function)?;
    w.kw(" AS ").ident(&CALL);
    if matches!(plan.returns, Returns::Scalar { .. }) {
        w.kw("(").ident(&SCALAR).kw(")");
    }
    Ok(())
}

/// The JSON text of the arguments, as a parameter.
fn json_argument(w: &mut Writer, plan: &CallPlan<'_>) {
    w.param(plan.json.as_str()).kw("::json");
    if plan.first_of_array {
        w.kw(" -> 0");
    }
}

/// `json_to_record($1::json) AS pgrst_args(a type, …)`.
fn arguments(w: &mut Writer, plan: &CallPlan<'_>, args: &[&FunctionArg]) -> Result<(), Error> {
    w.kw("pg_catalog.json_to_record(");
    json_argument(w, plan);
    w.kw(") AS ").ident(&ARGS).kw("(");
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            w.kw(", ");
        }
        w.ident(&Ident::new(&a.name)?)
            .kw(" ")
            .catalog_type(&CatalogType::argument(a));
    }
    w.kw(")");
    Ok(())
}

/// `f(a := pgrst_args.a, …)`, `f($1::json)` or `f($1::text)`.
fn call_expression(
    w: &mut Writer,
    plan: &CallPlan<'_>,
    function: &Source<'_>,
) -> Result<(), Error> {
    function.write(w);
    w.kw("(");
    match &plan.args {
        CallArgs::Named(args) => {
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    w.kw(", ");
                }
                if a.variadic {
                    w.kw("VARIADIC ");
                }
                let name = Ident::new(&a.name)?;
                w.ident(&name).kw(" := ").ident(&ARGS).kw(".").ident(&name);
            }
        }
        CallArgs::SingleJson(a) => {
            json_argument(w, plan);
            w.kw("::").catalog_type(&CatalogType::argument(a));
        }
        CallArgs::SingleRaw(a) => {
            // Qualified: a relation of the schema may be named `xml`.
            let cast = match a.data_type.as_str() {
                "xml" => "::pg_catalog.xml",
                "bytea" => "::pg_catalog.bytea",
                _ => "::pg_catalog.text",
            };
            w.param(plan.json.as_str()).kw(cast);
        }
    }
    w.kw(")");
    Ok(())
}
