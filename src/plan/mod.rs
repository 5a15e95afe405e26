//! [`ApiRequest`] + [`Schema`] → a plan: the only place names get resolved.
//!
//! Column names in `select`, filters and `order` are *not* checked here, as in
//! PostgREST: PostgreSQL resolves them, so computed columns (functions taking the
//! row type) work, and an unknown column is PostgreSQL's own 42703 error.

use http::Method;

use crate::error::{Error, ErrorKind};
use crate::request::{
    ApiRequest, BoolOp, Condition, Count, Field, Filter, MediaType, OrderTerm, Target,
};
use crate::schema::{Schema, Table};

mod embed;
mod rpc;
mod write;

pub(crate) use embed::EmbedPlan;
pub(crate) use rpc::{CallArgs, CallPlan, Returns};
pub(crate) use write::{WriteKind, WritePlan};

/// Settings of the service that shape plans.
#[derive(Clone, Debug, Default)]
pub(crate) struct PlanConfig {
    pub(crate) max_rows: Option<u64>,
    /// PATCH and DELETE need at least one filter.
    pub(crate) require_filter: bool,
    /// `Prefer: tx=commit|rollback` is honoured.
    pub(crate) tx_override: bool,
}

/// What a request does.
#[derive(Clone, Debug)]
pub(crate) enum Plan<'r> {
    Read(ReadPlan<'r>),
    Write(WritePlan<'r>),
    Call(CallPlan<'r>),
}

/// A selected column, with what the schema says about it.
#[derive(Clone, Debug)]
pub(crate) struct SelectColumn<'r> {
    pub(crate) field: &'r Field,
    pub(crate) alias: Option<&'r str>,
    pub(crate) cast: Option<&'r str>,
    /// The column's type with domains resolved, when it is a column of the table.
    pub(crate) column_type: Option<&'r str>,
}

/// An item of the planned select list.
#[derive(Clone, Debug)]
pub(crate) enum Projection<'r> {
    Star,
    Column(SelectColumn<'r>),
    /// The embed at this index of [`ReadPlan::embeds`], as one key.
    Embed(usize),
    /// The embed at this index, its columns hoisted into the parent.
    Spread(usize),
}

/// An `order` term, with its column's type and, for `rel(col)`, the to-one embed.
#[derive(Clone, Debug)]
pub(crate) struct PlannedOrder<'r> {
    pub(crate) term: &'r OrderTerm,
    pub(crate) column_type: Option<&'r str>,
    pub(crate) embed: Option<usize>,
}

/// A filter with the type of its column, when known.
#[derive(Clone, Debug)]
pub(crate) struct PlannedFilter<'r> {
    pub(crate) filter: &'r Filter,
    pub(crate) column_type: Option<&'r str>,
}

/// A condition with the column types of its filters.
#[derive(Clone, Debug)]
pub(crate) enum PlannedCondition<'r> {
    Filter(PlannedFilter<'r>),
    Group {
        negated: bool,
        op: BoolOp,
        children: Vec<PlannedCondition<'r>>,
    },
}

/// A planned read of one table or view.
#[derive(Clone, Debug)]
pub(crate) struct ReadPlan<'r> {
    pub(crate) table: &'r Table,
    pub(crate) select: Vec<Projection<'r>>,
    pub(crate) conditions: Vec<PlannedCondition<'r>>,
    pub(crate) order: Vec<PlannedOrder<'r>>,
    pub(crate) limit: Option<i64>,
    pub(crate) offset: i64,
    pub(crate) media: MediaType,
    /// HEAD: compute the page, not the body.
    pub(crate) headers_only: bool,
    pub(crate) count: Option<Count>,
    pub(crate) max_rows: Option<i64>,
    pub(crate) embeds: Vec<EmbedPlan<'r>>,
}

impl ReadPlan<'_> {
    /// Whether the total differs from the page's row count, so needs its own query.
    pub(crate) fn total_needs_query(&self) -> bool {
        self.limit.is_some() || self.offset > 0
    }
}

/// Plans a request.
pub(crate) fn plan<'r>(
    req: &'r ApiRequest,
    schema: &'r Schema,
    config: &PlanConfig,
) -> Result<Plan<'r>, Error> {
    let default_schema = match &req.profile {
        Some(profile) => profile.as_str(),
        None => schema
            .schemas
            .first()
            .map(String::as_str)
            .unwrap_or("public"),
    };
    let name = match &req.target {
        Target::Relation(name) => name,
        Target::Function(name) => {
            return rpc::plan_call(req, schema, default_schema, name, config).map(Plan::Call);
        }
        Target::Root => {
            return Err(not_implemented(
                "The OpenAPI description at the root is not supported yet",
            ));
        }
    };
    let Some(table) = schema.table(default_schema, name) else {
        let mut err = Error::new(
            ErrorKind::NotFound,
            format!("Could not find the table '{default_schema}.{name}' in the schema cache"),
        )
        .with_postgrest_code("PGRST205");
        if let Some(close) = schema.closest_table(default_schema, name) {
            err = err.with_hint(format!(
                "Perhaps you meant the table '{default_schema}.{close}'"
            ));
        }
        return Err(err);
    };
    if req.method == Method::GET || req.method == Method::HEAD {
        plan_shape(req, table, schema, config).map(Plan::Read)
    } else {
        write::plan_write(req, table, schema, config).map(Plan::Write)
    }
}

/// Plans a read of `table`; for a write or a call, how its rows are represented.
fn plan_shape<'r>(
    req: &'r ApiRequest,
    table: &'r Table,
    schema: &'r Schema,
    config: &PlanConfig,
) -> Result<ReadPlan<'r>, Error> {
    if req.accept == MediaType::OpenApi {
        return Err(Error::new(
            ErrorKind::NotAcceptable,
            "None of these media types are available: application/openapi+json",
        )
        .with_postgrest_code("PGRST107"));
    }
    let (select, mut embeds) = embed::plan_select(&req.select, table, schema, config, 0)?;
    let mut conditions = req
        .conditions
        .iter()
        .map(|c| plan_condition(c, table))
        .collect();
    embed::apply_params(req, &mut conditions, &mut embeds, config)?;
    let mut order = Vec::with_capacity(req.order.len());
    for term in &req.order {
        order.push(match &term.relation {
            Some(relation) => {
                let index = embed::order_embed(&embeds, relation)?;
                let target = embeds[index].node.table;
                PlannedOrder {
                    term,
                    column_type: target.column(&term.field.name).map(|c| c.resolved_type()),
                    embed: Some(index),
                }
            }
            None => PlannedOrder {
                term,
                column_type: table.column(&term.field.name).map(|c| c.resolved_type()),
                embed: None,
            },
        });
    }

    let max_rows = config
        .max_rows
        .map(|m| i64::try_from(m).unwrap_or(i64::MAX));
    let (offset, limit) = plan_range(req, max_rows)?;
    Ok(ReadPlan {
        table,
        select,
        conditions,
        order,
        limit,
        offset,
        media: req.accept,
        headers_only: req.method == Method::HEAD,
        count: req.prefs.count,
        max_rows,
        embeds,
    })
}

fn plan_condition<'r>(c: &'r Condition, table: &'r Table) -> PlannedCondition<'r> {
    match c {
        Condition::Filter(f) => PlannedCondition::Filter(plan_filter(f, table)),
        Condition::Group {
            negated,
            op,
            children,
        } => PlannedCondition::Group {
            negated: *negated,
            op: *op,
            children: children.iter().map(|c| plan_condition(c, table)).collect(),
        },
    }
}

fn plan_filter<'r>(filter: &'r Filter, table: &'r Table) -> PlannedFilter<'r> {
    PlannedFilter {
        filter,
        column_type: table.column(&filter.field.name).map(|c| c.resolved_type()),
    }
}

/// The rows to return: `offset`/`limit`, intersected with the `Range` header,
/// capped by `max_rows`. Returns `(offset, limit)`.
fn plan_range(req: &ApiRequest, max_rows: Option<i64>) -> Result<(i64, Option<i64>), Error> {
    let mut offset = req.offset.unwrap_or(0);
    let mut limit = req.limit;
    if let Some((first, last)) = req.range {
        if last.is_some_and(|last| first > last) {
            return Err(Error::new(
                ErrorKind::RangeNotSatisfiable,
                "Requested range not satisfiable",
            )
            .with_details(
                "The lower boundary must be lower than or equal to the upper boundary in the Range header.",
            )
            .with_postgrest_code("PGRST103"));
        }
        let upper = match (limit.map(|l| offset.saturating_add(l) - 1), last) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        offset = offset.max(first);
        limit = upper.map(|u| (u - offset + 1).max(0));
    }
    if let Some(max) = max_rows {
        limit = Some(limit.map_or(max, |l| l.min(max)));
    }
    Ok((offset, limit))
}

fn not_implemented(message: &str) -> Error {
    Error::new(ErrorKind::NotImplemented, message).with_postgrest_code("PGRST127")
}
