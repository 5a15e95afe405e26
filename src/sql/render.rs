//! Rendering plans as SQL.

use compact_str::CompactString;

use super::{CatalogType, Ident, SCALAR, Statement, Writer, array_literal};
use crate::error::Error;
use crate::plan::{
    EmbedPlan, PlannedCondition, PlannedFilter, PlannedOrder, Projection, ReadPlan, SelectColumn,
};
use crate::request::{Count, Field, JsonOp, JsonStep, MediaType, Operation};
use crate::schema::{HandlerTarget, MediaHandler};

/// The page of rows that the body is aggregated from.
pub(super) const PAGE: Ident<'static> = Ident::fixed("pgrst_page");
/// The rows of a capped count.
const CAPPED: Ident<'static> = Ident::fixed("pgrst_capped");
/// The groups of an aggregate read, counted.
const GROUPS: Ident<'static> = Ident::fixed("pgrst_groups");

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
    let mut next = 0;
    w.kw("WITH ").ident(&PAGE).kw(" AS (");
    page(&mut w, &table, plan, &mut next)?;
    w.kw(") SELECT ");

    // The total.
    let capped = matches!(plan.count, Some(Count::Estimated)) && plan.max_rows.is_some();
    match plan.count {
        // Grouped by aggregates: the total is the number of groups.
        Some(Count::Exact | Count::Estimated) if plan.total_needs_query() && plan.grouped() => {
            w.kw("(SELECT pg_catalog.count(*) FROM ");
            groups(&mut w, &table, plan, &mut next)?;
            w.kw(")");
        }
        Some(Count::Exact | Count::Estimated) if plan.total_needs_query() || capped => {
            w.kw("(SELECT pg_catalog.count(*) FROM ");
            if capped {
                w.kw("(SELECT 1 FROM ");
                table.write(&mut w);
                where_clause(&mut w, &table, plan, &mut next)?;
                let cap = plan.max_rows.unwrap_or(0).saturating_add(1);
                w.kw(" LIMIT ")
                    .param(cap.to_string())
                    .kw(") AS ")
                    .ident(&CAPPED);
            } else {
                table.write(&mut w);
                where_clause(&mut w, &table, plan, &mut next)?;
            }
            w.kw(")");
        }
        _ => {
            w.kw("NULL::int8");
        }
    }
    w.kw(", pg_catalog.count(*), ");
    body(&mut w, plan)?;
    w.kw(" FROM ").ident(&PAGE);

    let explain = match plan.count {
        Some(Count::Planned | Count::Estimated) => {
            let mut e = Writer::default();
            e.kw("EXPLAIN (FORMAT JSON) SELECT 1 FROM ");
            table.write(&mut e);
            where_clause(&mut e, &table, plan, &mut next)?;
            Some(e.finish())
        }
        _ => None,
    };
    Ok(ReadStatements {
        main: w.finish(),
        explain,
    })
}

/// A streamed read: a cursor's query answering each row of the page as
/// `(csv_header text, row text)`, and the `count(*)` over the same conditions
/// that `Prefer: count=exact` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StreamStatements {
    pub(crate) rows: Statement,
    pub(crate) count: Option<Statement>,
}

/// The statements of a streamed read; see [`StreamStatements`]. Each row is
/// rendered as the aggregate of [`render_read`] renders it, so the document
/// put together from them is the same to the byte: `row_to_json`, with
/// `json_strip_nulls` when stripped; for CSV PostgreSQL's record text and, on
/// the first row only, the header of its keys.
///
/// ```sql
/// WITH "pgrst_page" AS (SELECT … FROM "s"."t" WHERE … ORDER BY … LIMIT $1)
/// SELECT NULL::text, pg_catalog.row_to_json("pgrst_page")::text FROM "pgrst_page"
/// ```
pub(crate) fn render_stream(plan: &ReadPlan<'_>) -> Result<StreamStatements, Error> {
    let table = Source::table(plan.table)?;
    let mut w = Writer::default();
    let mut next = 0;
    w.kw("WITH ").ident(&PAGE).kw(" AS (");
    page(&mut w, &table, plan, &mut next)?;
    w.kw(") SELECT ");
    match plan.media {
        MediaType::Csv => {
            w.kw("CASE WHEN pg_catalog.row_number() OVER () = 1 THEN (SELECT coalesce(pg_catalog.string_agg(k, ','), '') FROM pg_catalog.json_object_keys(pg_catalog.row_to_json(")
                .ident(&PAGE)
                .kw(")) AS k) END, pg_catalog.substr(")
                .ident(&PAGE)
                .kw("::text, 2, pg_catalog.length(")
                .ident(&PAGE)
                .kw("::text) - 2)");
        }
        MediaType::JsonStripped => {
            w.kw("NULL::text, pg_catalog.json_strip_nulls(pg_catalog.row_to_json(")
                .ident(&PAGE)
                .kw("))::text");
        }
        _ => {
            w.kw("NULL::text, pg_catalog.row_to_json(")
                .ident(&PAGE)
                .kw(")::text");
        }
    }
    w.kw(" FROM ").ident(&PAGE);
    let count = match plan.count {
        Some(Count::Exact) => {
            let mut c = Writer::default();
            let mut next = 0;
            c.kw("SELECT pg_catalog.count(*) FROM ");
            if plan.grouped() {
                groups(&mut c, &table, plan, &mut next)?;
            } else {
                table.write(&mut c);
                where_clause(&mut c, &table, plan, &mut next)?;
            }
            Some(c.finish())
        }
        _ => None,
    };
    Ok(StreamStatements {
        rows: w.finish(),
        count,
    })
}

/// Every group of an aggregate read, without its page's bounds, for their
/// count: `(SELECT … GROUP BY …) AS "pgrst_groups"`.
fn groups(
    w: &mut Writer,
    table: &Source<'_>,
    plan: &ReadPlan<'_>,
    next: &mut usize,
) -> Result<(), Error> {
    let whole = ReadPlan {
        limit: None,
        offset: 0,
        ..plan.clone()
    };
    w.kw("(");
    page(w, table, &whole, next)?;
    w.kw(") AS ").ident(&GROUPS);
    Ok(())
}

/// The page: `SELECT <projection> FROM <source> <embeds> [WHERE …] [ORDER BY …] [LIMIT …] [OFFSET …]`.
/// `next` numbers the aliases of embedded resources.
pub(super) fn page(
    w: &mut Writer,
    source: &Source<'_>,
    plan: &ReadPlan<'_>,
    next: &mut usize,
) -> Result<(), Error> {
    select_body(
        w,
        source,
        plan,
        next,
        &|w: &mut Writer| {
            source.write(w);
            Ok(())
        },
        &|_: &mut Writer, _: &mut bool| Ok(()),
    )
}

/// [`page`] over the rows of the CTE `cte`, typed as the relation `row_type`
/// (they are its rows: a write's `RETURNING` or a function's), so that
/// computed columns — functions of that row type, `cte.f` being `f(cte)` —
/// resolve on them as they do on the relation itself.
pub(super) fn typed_page(
    w: &mut Writer,
    cte: Ident<'static>,
    row_type: &crate::schema::Table,
    plan: &ReadPlan<'_>,
    next: &mut usize,
) -> Result<(), Error> {
    let relation = Source::table(row_type)?;
    let source = Source::Cte(cte.clone());
    select_body(
        w,
        &source,
        plan,
        next,
        &|w: &mut Writer| {
            w.kw("pg_catalog.unnest(ARRAY(SELECT ").ident(&cte).kw("::");
            relation.write(w);
            w.kw(" FROM ").ident(&cte).kw(")) AS ").ident(&cte);
            Ok(())
        },
        &|_: &mut Writer, _: &mut bool| Ok(()),
    )
}

/// Whether `plan` names something that is not a column of its table (a
/// computed column, resolved by PostgreSQL as a function of the row type).
pub(super) fn names_computed(plan: &ReadPlan<'_>) -> bool {
    let select = plan.select.iter().any(|p| {
        matches!(p, crate::plan::Projection::Column(c)
            if c.column_type.is_none() && plan.table.column(&c.field.name).is_none())
    });
    let order = plan.order.iter().any(|o| {
        o.embed.is_none()
            && o.column_type.is_none()
            && plan.table.column(&o.term.field.name).is_none()
    });
    select || order
}

/// Writes a `FROM` list.
type WriteFrom<'a> = &'a dyn Fn(&mut Writer) -> Result<(), Error>;
/// Writes join conditions, each after ` WHERE ` (the first) or ` AND `.
type WriteJoin<'a> = &'a dyn Fn(&mut Writer, &mut bool) -> Result<(), Error>;

/// Numbers the items of a select list as they are written, with their commas.
#[derive(Default)]
struct Items {
    count: usize,
}

impl Items {
    /// Writes the separator before the next item; its 1-based position.
    fn next(&mut self, w: &mut Writer) -> usize {
        if self.count > 0 {
            w.kw(", ");
        }
        self.count += 1;
        self.count
    }
}

/// `[CAST(]pg_catalog.<function>(<input>)[ AS type)]`.
fn aggregate(
    w: &mut Writer,
    function: crate::request::Aggregate,
    cast: Option<&str>,
    input: &dyn Fn(&mut Writer) -> Result<(), Error>,
) -> Result<(), Error> {
    if cast.is_some() {
        w.kw("CAST(");
    }
    w.kw("pg_catalog.").kw(function.name()).kw("(");
    input(w)?;
    w.kw(")");
    if let Some(cast) = cast {
        w.kw(" AS ");
        sql_type(w, cast)?;
        w.kw(")");
    }
    Ok(())
}

/// A selected column's value: `field` or `CAST(field AS type)`.
fn column_value(w: &mut Writer, source: &Source<'_>, c: &SelectColumn<'_>) -> Result<(), Error> {
    if let Some(cast) = c.cast {
        w.kw("CAST(");
        field(w, source, c.field, c.column_type)?;
        w.kw(" AS ");
        sql_type(w, cast)?;
        w.kw(")");
    } else {
        field(w, source, c.field, c.column_type)?;
    }
    Ok(())
}

/// `value`, or `function(value)` when a data representation's function gives its JSON form.
fn json_form(
    w: &mut Writer,
    function: Option<&str>,
    value: &dyn Fn(&mut Writer) -> Result<(), Error>,
) -> Result<(), Error> {
    match function {
        Some(function) => {
            w.catalog_type(&CatalogType::function(function)).kw("(");
            value(w)?;
            w.kw(")");
        }
        None => value(w)?,
    }
    Ok(())
}

/// A selected column: `field [CAST(… AS type)] AS "name"`; a column of a
/// type with a JSON form (a data representation), without JSON path, in
/// that form (and any cast on top of it).
fn column(
    w: &mut Writer,
    source: &Source<'_>,
    c: &SelectColumn<'_>,
    table: &crate::schema::Table,
) -> Result<(), Error> {
    let form = c
        .field
        .json_path
        .is_empty()
        .then(|| table.column(&c.field.name))
        .flatten()
        .and_then(|col| col.as_json.as_deref());
    match (form, c.cast) {
        // A cast applies on top of the JSON form, as PostgREST's does.
        (Some(function), Some(cast)) => {
            w.kw("CAST(");
            json_form(w, Some(function), &|w| {
                field(w, source, c.field, c.column_type)
            })?;
            w.kw(" AS ");
            sql_type(w, cast)?;
            w.kw(")");
        }
        _ => json_form(w, form, &|w| column_value(w, source, c))?,
    }
    w.kw(" AS ")
        .ident(&Ident::new(c.alias.unwrap_or(c.field.output_name()))?);
    Ok(())
}

/// `ORDER BY` the plan's terms; a term on a to-one embed orders by its lateral's column.
fn order_by(
    w: &mut Writer,
    source: &Source<'_>,
    plan: &ReadPlan<'_>,
    laterals: &[usize],
) -> Result<(), Error> {
    let mut written = 0;
    let mut next_term = |w: &mut Writer| {
        w.kw(if written == 0 { " ORDER BY " } else { ", " });
        written += 1;
    };
    // `DISTINCT ON` columns lead, as PostgreSQL requires: in the direction
    // the request's own order gives them, ascending otherwise.
    let distinct_on = plan.distinct.unwrap_or_default();
    let on_column = |o: &PlannedOrder<'_>, c: &str| {
        o.embed.is_none() && o.term.field.json_path.is_empty() && o.term.field.name == c
    };
    for c in distinct_on {
        next_term(w);
        match plan.order.iter().find(|o| on_column(o, c)) {
            Some(o) => {
                field(w, source, &o.term.field, o.column_type)?;
                if let Some(d) = o.term.direction {
                    w.kw(" ").kw(d.as_sql());
                }
                if let Some(n) = o.term.nulls {
                    w.kw(" ").kw(n.as_sql());
                }
            }
            None => {
                source.write(w);
                w.kw(".").ident(&Ident::new(c)?);
            }
        }
    }
    for o in plan
        .order
        .iter()
        .filter(|o| !distinct_on.iter().any(|c| on_column(o, c)))
    {
        next_term(w);
        match o.embed {
            Some(e) => field(w, &Source::Alias(laterals[e]), &o.term.field, o.column_type)?,
            None => field(w, source, &o.term.field, o.column_type)?,
        }
        if let Some(d) = o.term.direction {
            w.kw(" ").kw(d.as_sql());
        }
        if let Some(n) = o.term.nulls {
            w.kw(" ").kw(n.as_sql());
        }
    }
    Ok(())
}

/// The select list of a node: its columns, aggregates, embeds and spreads,
/// each numbered; answers the positions a grouped node groups by.
/// The select-list positions a grouped node groups by.
struct GroupBy {
    on: bool,
    at: Vec<usize>,
}

impl GroupBy {
    fn push(&mut self, at: usize) {
        if self.on {
            self.at.push(at);
        }
    }

    fn extend(&mut self, at: std::ops::Range<usize>) {
        if self.on {
            self.at.extend(at);
        }
    }
}

fn select_list(
    w: &mut Writer,
    source: &Source<'_>,
    plan: &ReadPlan<'_>,
    laterals: &[usize],
    jsonb_embeds: bool,
) -> Result<Vec<usize>, Error> {
    let mut items = Items::default();
    // The positions to group by, kept only when the node is grouped.
    let mut group_by = GroupBy {
        on: plan.grouped(),
        at: Vec::new(),
    };
    for item in &plan.select {
        match item {
            // Columns whose type has a JSON form are answered in it, named.
            Projection::Star if plan.table.columns.iter().any(|c| c.as_json.is_some()) => {
                for c in &plan.table.columns {
                    group_by.push(items.next(w));
                    let name = Ident::new(&c.name)?;
                    json_form(w, c.as_json.as_deref(), &|w| {
                        source.write(w);
                        w.kw(".").ident(&name);
                        Ok(())
                    })?;
                    w.kw(" AS ").ident(&name);
                }
            }
            Projection::Star => {
                let at = items.next(w);
                source.write(w);
                w.kw(".*");
                let columns = plan.table.columns.len().max(1);
                group_by.extend(at..at + columns);
                items.count += columns - 1;
            }
            Projection::Column(c) => {
                group_by.push(items.next(w));
                column(w, source, c, plan.table)?;
            }
            Projection::Present(name) => {
                group_by.push(items.next(w));
                w.kw("true AS ").ident(&Ident::new(name)?);
            }
            Projection::Aggregate(a) => {
                items.next(w);
                aggregate(w, a.aggregate, a.cast, &|w| match &a.input {
                    Some(c) => column_value(w, source, c),
                    None => {
                        w.kw("*");
                        Ok(())
                    }
                })?;
                w.kw(" AS ").ident(&Ident::new(a.name)?);
            }
            Projection::Embed(i) => {
                let e = &plan.embeds[*i];
                if e.hidden {
                    continue;
                }
                group_by.push(items.next(w));
                if e.to_one() {
                    w.kw("pg_catalog.row_to_json(")
                        .alias(laterals[*i])
                        .kw(".*)");
                } else {
                    w.kw("coalesce(")
                        .alias(laterals[*i])
                        .kw(".")
                        .ident(&AGG)
                        .kw(", '[]')");
                }
                if jsonb_embeds {
                    w.kw("::jsonb");
                }
                w.kw(" AS ").ident(&Ident::new(e.name)?);
            }
            Projection::Spread(i) => {
                spread_items(
                    w,
                    &plan.embeds[*i],
                    laterals[*i],
                    jsonb_embeds,
                    &mut items,
                    &mut group_by,
                )?;
            }
        }
    }
    Ok(group_by.at)
}

/// The columns a spread brings up from its lateral: hoisted aggregates, a
/// to-one spread's columns (grouped by), a to-many spread's lists.
fn spread_items(
    w: &mut Writer,
    e: &EmbedPlan<'_>,
    lateral: usize,
    jsonb_embeds: bool,
    items: &mut Items,
    group_by: &mut GroupBy,
) -> Result<(), Error> {
    for name in output_names(&e.node) {
        let ident = Ident::new(name)?;
        let at = items.next(w);
        if let Some(h) = e.hoisted.iter().find(|h| h.name == name) {
            aggregate(w, h.aggregate, h.cast, &|w| {
                w.alias(lateral).kw(".").ident(&ident);
                Ok(())
            })?;
        } else if e.to_one() {
            group_by.push(at);
            w.alias(lateral).kw(".").ident(&ident);
            // An embed the spread brings up is JSON: grouped, as jsonb.
            if jsonb_embeds && is_embed(&e.node, name) {
                w.kw("::jsonb");
            }
        } else {
            group_by.push(at);
            w.kw("coalesce(")
                .alias(lateral)
                .kw(".")
                .ident(&ident)
                .kw(", '[]')");
            if jsonb_embeds {
                w.kw("::jsonb");
            }
        }
        w.kw(" AS ").ident(&ident);
    }
    Ok(())
}

/// `SELECT … FROM <from> <laterals> WHERE <join> AND <conditions> ORDER BY … LIMIT … OFFSET …`:
/// the rows of one read node, whose columns `source` qualifies.
fn select_body(
    w: &mut Writer,
    source: &Source<'_>,
    plan: &ReadPlan<'_>,
    next: &mut usize,
    from: WriteFrom<'_>,
    join: WriteJoin<'_>,
) -> Result<(), Error> {
    let laterals: Vec<usize> = plan
        .embeds
        .iter()
        .map(|_| {
            *next += 1;
            *next
        })
        .collect();
    w.kw("SELECT ");
    match plan.distinct {
        Some([]) => {
            w.kw("DISTINCT ");
        }
        Some(columns) => {
            w.kw("DISTINCT ON (");
            for (i, c) in columns.iter().enumerate() {
                if i > 0 {
                    w.kw(", ");
                }
                source.write(w);
                w.kw(".").ident(&Ident::new(c)?);
            }
            w.kw(") ");
        }
        None => {}
    }
    // With an aggregate, every other item is grouped by (its position), and
    // embeds are jsonb, which has equality, as PostgREST's.
    let grouped = plan.grouped();
    // Grouped or DISTINCT rows compare their embeds: as jsonb, which has equality.
    let jsonb_embeds = grouped || matches!(plan.distinct, Some([]));
    let group_by = select_list(w, source, plan, &laterals, jsonb_embeds)?;
    w.kw(" FROM ");
    from(w)?;
    // An embed that shows nothing only filters (through `EXISTS`): no join.
    for (e, lateral) in plan.embeds.iter().zip(&laterals).filter(|(e, _)| !e.hidden) {
        w.kw(" LEFT JOIN LATERAL (");
        embed_rows(w, source, e, next)?;
        w.kw(") AS ").alias(*lateral).kw(" ON TRUE");
    }
    let mut first_condition = true;
    join(w, &mut first_condition)?;
    conditions_after(
        w,
        source,
        &plan.conditions,
        &mut first_condition,
        &mut Some((&plan.embeds, &mut *next)),
    )?;
    embed_filters(w, source, plan, next, &mut first_condition)?;
    if grouped && !group_by.is_empty() {
        w.kw(" GROUP BY ");
        for (i, at) in group_by.into_iter().enumerate() {
            if i > 0 {
                w.kw(", ");
            }
            w.position(at);
        }
    }
    order_by(w, source, plan, &laterals)?;
    if let Some(limit) = plan.limit {
        w.kw(" LIMIT ").param(limit.to_string());
    }
    if plan.offset > 0 {
        w.kw(" OFFSET ").param(plan.offset.to_string());
    }
    Ok(())
}

/// The key the embedded rows are aggregated under.
const AGG: Ident<'static> = Ident::fixed("pgrst_agg");

/// Whether `name` is, among a node's keys, one of its embeds (its own, or
/// one a spread of it brings up).
fn is_embed(plan: &ReadPlan<'_>, name: &str) -> bool {
    plan.select.iter().any(|item| match item {
        Projection::Embed(i) => plan.embeds[*i].name == name,
        Projection::Spread(i) => is_embed(&plan.embeds[*i].node, name),
        _ => false,
    })
}

/// The keys a node's rows have: its columns, and its embeds' names.
fn output_names<'a>(plan: &'a ReadPlan<'_>) -> Vec<&'a str> {
    let mut names = Vec::new();
    for item in &plan.select {
        match item {
            Projection::Star => names.extend(plan.table.columns.iter().map(|c| c.name.as_str())),
            Projection::Column(c) => names.push(c.alias.unwrap_or(c.field.output_name())),
            Projection::Aggregate(a) => names.push(a.name),
            Projection::Present(name) => names.push(name),
            Projection::Embed(i) if !plan.embeds[*i].hidden => names.push(plan.embeds[*i].name),
            Projection::Embed(_) => {}
            Projection::Spread(i) => names.extend(output_names(&plan.embeds[*i].node)),
        }
    }
    names
}

/// How an embed's rows join their parent: the aliases of the target (and junction).
struct EmbedJoin<'e> {
    child: usize,
    junction: Option<usize>,
    rel: &'e crate::schema::Relationship,
}

impl<'e> EmbedJoin<'e> {
    fn new(e: &EmbedPlan<'e>, next: &mut usize) -> Self {
        *next += 1;
        let child = *next;
        let junction = e.rel.junction.as_ref().map(|_| {
            *next += 1;
            *next
        });
        Self {
            child,
            junction,
            rel: e.rel,
        }
    }

    /// `"s"."target" AS "pgrst_c" [, "s"."junction" AS "pgrst_j"]`, or for a
    /// computed relationship `"s"."function"(<parent row>) AS "pgrst_c"`.
    fn write_from(&self, w: &mut Writer, parent: &Source<'_>) -> Result<(), Error> {
        if let Some((schema, name)) = &self.rel.function {
            w.ident(&Ident::new(schema)?)
                .kw(".")
                .ident(&Ident::new(name)?)
                .kw("(");
            parent.write(w);
            w.kw(".*) AS ").alias(self.child);
            return Ok(());
        }
        w.ident(&Ident::new(&self.rel.foreign_schema)?)
            .kw(".")
            .ident(&Ident::new(&self.rel.foreign_table)?)
            .kw(" AS ")
            .alias(self.child);
        if let (Some(j), Some(alias)) = (&self.rel.junction, self.junction) {
            w.kw(", ")
                .ident(&Ident::new(&j.schema)?)
                .kw(".")
                .ident(&Ident::new(&j.table)?)
                .kw(" AS ")
                .alias(alias);
        }
        Ok(())
    }

    /// The conditions joining the target to `parent`.
    fn write_join(
        &self,
        w: &mut Writer,
        parent: &Source<'_>,
        first: &mut bool,
    ) -> Result<(), Error> {
        let mut and = |w: &mut Writer| {
            w.kw(if *first { " WHERE " } else { " AND " });
            *first = false;
        };
        if self.rel.function.is_some() {
            // A function returning one row type yields a row of NULLs for "none".
            if self.rel.cardinality.is_to_one() {
                and(w);
                w.kw("NOT (").alias(self.child).kw(" IS NULL)");
            }
            return Ok(());
        }
        match (&self.rel.junction, self.junction) {
            (Some(j), Some(jalias)) => {
                for (source_col, junction_col) in &j.source_columns {
                    and(w);
                    w.alias(jalias)
                        .kw(".")
                        .ident(&Ident::new(junction_col)?)
                        .kw(" = ");
                    parent.write(w);
                    w.kw(".").ident(&Ident::new(source_col)?);
                }
                for (junction_col, target_col) in &j.target_columns {
                    and(w);
                    w.alias(jalias)
                        .kw(".")
                        .ident(&Ident::new(junction_col)?)
                        .kw(" = ");
                    w.alias(self.child).kw(".").ident(&Ident::new(target_col)?);
                }
            }
            _ => {
                for (source_col, target_col) in &self.rel.columns {
                    and(w);
                    w.alias(self.child)
                        .kw(".")
                        .ident(&Ident::new(target_col)?)
                        .kw(" = ");
                    parent.write(w);
                    w.kw(".").ident(&Ident::new(source_col)?);
                }
            }
        }
        Ok(())
    }
}

/// The rows of an embed, for its lateral join: a to-one embed's row, or a
/// to-many embed's rows aggregated into one JSON array (one per column for a spread).
fn embed_rows(
    w: &mut Writer,
    parent: &Source<'_>,
    e: &EmbedPlan<'_>,
    next: &mut usize,
) -> Result<(), Error> {
    let join = EmbedJoin::new(e, next);
    let child_source = Source::Alias(join.child);
    let from = |w: &mut Writer| join.write_from(w, parent);
    let on = |w: &mut Writer, first: &mut bool| join.write_join(w, parent, first);
    if e.to_one() {
        return select_body(w, &child_source, &e.node, next, &from, &on);
    }
    *next += 1;
    let rows = *next;
    w.kw("SELECT ");
    if e.spread {
        for (i, name) in output_names(&e.node).into_iter().enumerate() {
            if i > 0 {
                w.kw(", ");
            }
            let name = Ident::new(name)?;
            w.kw("pg_catalog.json_agg(")
                .alias(rows)
                .kw(".")
                .ident(&name)
                .kw(") AS ")
                .ident(&name);
        }
    } else {
        w.kw("pg_catalog.json_agg(")
            .alias(rows)
            .kw(") AS ")
            .ident(&AGG);
    }
    w.kw(" FROM (");
    select_body(w, &child_source, &e.node, next, &from, &on)?;
    w.kw(") AS ").alias(rows);
    Ok(())
}

/// `EXISTS (…)` / `NOT EXISTS (…)` for `!inner` embeds and `rel=[not.]is.null` filters.
fn embed_filters(
    w: &mut Writer,
    source: &Source<'_>,
    plan: &ReadPlan<'_>,
    next: &mut usize,
    first: &mut bool,
) -> Result<(), Error> {
    for e in &plan.embeds {
        let exists = match (e.inner, e.null_filter) {
            (_, Some(null)) => !null,
            (true, None) => true,
            (false, None) => continue,
        };
        w.kw(if *first { " WHERE " } else { " AND " });
        *first = false;
        embed_exists(w, source, e, next, exists)?;
    }
    Ok(())
}

/// `[NOT] EXISTS (SELECT 1 FROM <the embed's rows of this row>)`.
fn embed_exists(
    w: &mut Writer,
    source: &Source<'_>,
    e: &EmbedPlan<'_>,
    next: &mut usize,
    exists: bool,
) -> Result<(), Error> {
    w.kw(if exists {
        "EXISTS (SELECT 1 FROM "
    } else {
        "NOT EXISTS (SELECT 1 FROM "
    });
    let join = EmbedJoin::new(e, next);
    join.write_from(w, source)?;
    let mut inner_first = true;
    join.write_join(w, source, &mut inner_first)?;
    conditions_after(
        w,
        &Source::Alias(join.child),
        &e.node.conditions,
        &mut inner_first,
        &mut Some((&e.node.embeds, &mut *next)),
    )?;
    // The embed's own `!inner` embeds (and null filters) leave out its rows
    // too: two levels down, a filter still filters the top.
    embed_filters(
        w,
        &Source::Alias(join.child),
        &e.node,
        next,
        &mut inner_first,
    )?;
    w.kw(")");
    Ok(())
}

/// The embeds a node's logic trees may test (`rel.is.null`), and the
/// counter that numbers the aliases of the subqueries that test them.
type EmbedScope<'s, 'p> = Option<(&'s [EmbedPlan<'p>], &'s mut usize)>;

/// ` WHERE <conditions> <embed filters>` of a node, for its count.
pub(super) fn where_clause(
    w: &mut Writer,
    source: &Source<'_>,
    plan: &ReadPlan<'_>,
    next: &mut usize,
) -> Result<(), Error> {
    let mut first = true;
    conditions_after(
        w,
        source,
        &plan.conditions,
        &mut first,
        &mut Some((&plan.embeds, &mut *next)),
    )?;
    embed_filters(w, source, plan, next, &mut first)
}

/// The conditions, each after ` WHERE ` or ` AND `.
fn conditions_after(
    w: &mut Writer,
    source: &Source<'_>,
    conds: &[PlannedCondition<'_>],
    first: &mut bool,
    scope: &mut EmbedScope<'_, '_>,
) -> Result<(), Error> {
    for c in conds {
        w.kw(if *first { " WHERE " } else { " AND " });
        *first = false;
        condition(w, source, c, scope)?;
    }
    Ok(())
}

/// The body built from the rows of [`PAGE`], in the plan's media type (`NULL` for HEAD).
pub(super) fn body(w: &mut Writer, plan: &ReadPlan<'_>) -> Result<(), Error> {
    if plan.headers_only {
        w.kw("NULL::text");
        return Ok(());
    }
    match plan.media {
        MediaType::Custom => {
            let Some(handler) = plan.handler else {
                return Err(Error::new(
                    crate::error::ErrorKind::Internal,
                    "A custom media type without its handler",
                ));
            };
            w.kw("coalesce(");
            let (open, close) = handler_encoding(handler);
            w.kw(open);
            match &handler.aggregate {
                Some((schema, name)) => {
                    w.ident(&Ident::new(schema)?)
                        .kw(".")
                        .ident(&Ident::new(name)?)
                        .kw("(")
                        .ident(&PAGE);
                    if let HandlerTarget::Relation { schema, name } = &handler.target {
                        w.kw("::")
                            .ident(&Ident::new(schema)?)
                            .kw(".")
                            .ident(&Ident::new(name)?);
                    }
                    w.kw(")");
                }
                // A function's own value: the one row's.
                None => {
                    w.kw("(pg_catalog.array_agg(")
                        .ident(&PAGE)
                        .kw(".")
                        .ident(&SCALAR)
                        .kw("))[1]");
                }
            }
            w.kw(close).kw(", '')");
        }
        MediaType::Json | MediaType::OpenApi => {
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
        MediaType::NdJson => {
            w.kw("coalesce(pg_catalog.string_agg(pg_catalog.row_to_json(")
                .ident(&PAGE)
                .kw(")::text || E'\\n', ''), '')");
        }
        MediaType::GeoJson => {
            // PostGIS's function, found on the search path (its schema is
            // among the extra ones, as PostgREST expects).
            w.kw("pg_catalog.json_build_object('type', 'FeatureCollection', 'features', coalesce(pg_catalog.json_agg(ST_AsGeoJSON(")
                .ident(&PAGE)
                .kw(")::json), '[]'))::text");
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
    Ok(())
}

/// How a handler's value becomes the body's text: as text, or as
/// its bytes in hex (decoded before it is sent).
pub(super) fn handler_encoding(handler: &MediaHandler) -> (&'static str, &'static str) {
    if handler.binary {
        ("pg_catalog.encode(", "::bytea, 'hex')")
    } else {
        ("(", ")::text")
    }
}

/// ` WHERE c1 AND c2 …`, or nothing.
pub(super) fn conditions(
    w: &mut Writer,
    table: &Source<'_>,
    conds: &[PlannedCondition<'_>],
) -> Result<(), Error> {
    let mut first = true;
    conditions_after(w, table, conds, &mut first, &mut None)
}

/// One condition, outside any read (a write's filters).
pub(super) fn condition_sql(
    w: &mut Writer,
    table: &Source<'_>,
    c: &PlannedCondition<'_>,
) -> Result<(), Error> {
    condition(w, table, c, &mut None)
}

fn condition(
    w: &mut Writer,
    table: &Source<'_>,
    c: &PlannedCondition<'_>,
    scope: &mut EmbedScope<'_, '_>,
) -> Result<(), Error> {
    match c {
        PlannedCondition::Filter(f) => filter(w, table, f),
        PlannedCondition::EmbedNull { embed, null } => match scope {
            Some((embeds, next)) => {
                let e = embeds.get(*embed).ok_or_else(|| {
                    Error::new(crate::error::ErrorKind::Internal, "An embed went missing")
                })?;
                embed_exists(w, table, e, next, !*null)
            }
            None => Err(Error::pgrst(
                crate::error::codes::PGRST100,
                "A test of an embedded resource cannot be used here",
            )),
        },
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
                condition(w, table, child, scope)?;
            }
            w.kw(")");
            Ok(())
        }
    }
}

/// Where columns come from: a table (`"schema"."table"`), or a CTE of the statement.
pub(super) enum Source<'a> {
    Table {
        schema: Ident<'a>,
        name: Ident<'a>,
    },
    Cte(Ident<'static>),
    /// A generated alias, `"pgrst_<n>"`.
    Alias(usize),
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
            Self::Alias(n) => {
                w.alias(*n);
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
            match (quantifier, f.text_form.and_then(|c| c.from_text.as_deref())) {
                // The column's type reads its text form through its function.
                (None, Some(function)) => w
                    .catalog_type(&CatalogType::function(function))
                    .kw("(")
                    .param(value.as_str())
                    .kw("::text)"),
                (None, None) => w.param(value.as_str()),
                (Some(q), _) => w.kw(q.as_sql()).kw(" (").param(value.as_str()).kw(")"),
            };
        }
        Operation::In(items) => {
            field(w, table, &filter.field, f.column_type)?;
            w.kw(" = ANY (");
            match f.text_form.and_then(|c| c.from_text.as_deref()) {
                Some(function) => {
                    w.kw("ARRAY(SELECT ")
                        .catalog_type(&CatalogType::function(function))
                        .kw("(pgrst_v) FROM pg_catalog.unnest(")
                        .param(array_literal(items.iter().map(CompactString::as_str)))
                        .kw("::text[]) AS pgrst_v)");
                }
                None => {
                    w.param(array_literal(items.iter().map(CompactString::as_str)));
                }
            }
            w.kw(")");
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
