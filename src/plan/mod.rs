//! [`ApiRequest`] + [`Schema`] + [`Config`] → [`Plan`]: what a request means.
//!
//! The only place names get resolved, and the owner of every rule that
//! decides a request's outcome: which schema it addresses, which relation or
//! function it names, which transaction it runs in (read-only or not, how it
//! ends) and what must hold before that transaction may commit ([`Checks`]).
//!
//! Column names in `select`, filters and `order` are *not* checked here, as in
//! PostgREST: PostgreSQL resolves them, so computed columns (functions taking the
//! row type) work, and an unknown column is PostgreSQL's own 42703 error.

use crate::config::{Config, Exposed, Limits, OpenApiMode};
use crate::error::{Error, codes};
use crate::request::{
    Action, Aggregate, ApiRequest, BoolOp, Condition, Count, EmbeddedParam, Field, Filter,
    MediaType, OrderTerm, SelectItem, Target, TxEnd,
};
use crate::schema::{HandlerKey, MediaHandler, Schema, Table, Volatility};

mod embed;
pub(crate) use embed::resolve as relationship;
mod nested;
pub(crate) use nested::{
    InsertNode, JsonRow, Link, NestedPlan, Side, key_conditions, read_back, related_rows,
};
mod privileges;
mod rpc;
#[cfg(test)]
mod testing;
mod write;

pub(crate) use embed::EmbedPlan;
pub(crate) use privileges::{Allow, Privileges};

pub(crate) use rpc::{CallArgs, CallPlan, Returns, unknown_function};
pub(crate) use write::{WriteKind, WritePlan};

/// What a request does, where, in which transaction, and what its result must satisfy.
#[derive(Clone, Debug)]
pub(crate) struct Plan<'r> {
    /// The schema it addresses.
    pub(crate) schema: Exposed<'r>,
    pub(crate) kind: PlanKind<'r>,
    /// How its transaction runs, for the kinds that run one.
    pub(crate) tx: Tx,
    /// A read's honoured `tx=`, echoed in `Preference-Applied` (the other
    /// kinds list it with their own applied preferences).
    pub(crate) echo_tx: bool,
    pub(crate) checks: Checks,
    /// `Prefer: timezone`: the database's spelling of a zone it lists, else as asked.
    pub(crate) timezone: Option<std::borrow::Cow<'r, str>>,
}

/// How a request's transaction runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tx {
    pub(crate) read_only: bool,
    pub(crate) end: TxEnd,
}

/// The work of a [`Plan`].
#[derive(Clone, Debug)]
pub(crate) enum PlanKind<'r> {
    Read(ReadPlan<'r>),
    Write(WritePlan<'r>),
    Call(CallPlan<'r>),
    /// A POST whose objects name relationships (beyond PostgREST): several
    /// statements in one transaction, each level's keys feeding the next.
    Nested(NestedPlan<'r>),
    /// The OpenAPI description of the schema; `headers_only` for HEAD.
    Describe {
        headers_only: bool,
        /// Only what the role may use: its privileges are asked first.
        privileges: bool,
    },
    /// `OPTIONS`: the methods the resource allows by the schema cache.
    Options {
        resource: Resource<'r>,
        allow: Allow,
        /// Narrowed to the role's privileges, which are asked first.
        privileges: bool,
    },
}

/// What an `OPTIONS` request asks about.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Resource<'r> {
    Root,
    Relation(&'r Table),
    Function(&'r str),
}

impl Plan<'_> {
    /// Whether the result must be checked before the transaction ends, so that
    /// a failed check rolls the work back. A read-only transaction has nothing
    /// to undo: its checks run on the result alone.
    pub(crate) fn decides_commit(&self) -> bool {
        !self.tx.read_only && self.checks.before_commit()
    }
}

/// What a result must satisfy; each rule is written here and nowhere else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Checks {
    /// `Accept: application/vnd.pgrst.object+json`: exactly one row.
    pub(crate) singular: bool,
    /// `Prefer: handling=strict, max-affected=N`: at most N rows changed.
    pub(crate) max_affected: Option<i64>,
    /// PUT: the body's key must be the URL's, so the one row is written.
    pub(crate) put_key: bool,
}

impl Checks {
    /// Whether a failure would have to undo work. PUT's key rule fails only
    /// when nothing was written, so it is checked on the result alone.
    fn before_commit(self) -> bool {
        self.singular || self.max_affected.is_some()
    }

    /// Checks a result of `rows` rows in the response that changed `affected` rows.
    pub(crate) fn verify(self, rows: i64, affected: i64) -> Result<(), Error> {
        if self.singular && rows != 1 {
            return Err(Error::pgrst(
                codes::PGRST116,
                "Cannot coerce the result to a single JSON object",
            )
            .with_details(format!("The result contains {rows} rows")));
        }
        if self.max_affected.is_some_and(|max| affected > max) {
            return Err(Error::pgrst(
                codes::PGRST124,
                "Query result exceeds max-affected preference constraint",
            )
            .with_details(format!("The query affects {affected} rows")));
        }
        if self.put_key && affected == 0 {
            return Err(Error::pgrst(
                codes::PGRST115,
                "Payload values do not match URL in primary key column(s)",
            ));
        }
        Ok(())
    }
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

/// An aggregate of the select list: `[alias:] [field[::cast].]agg()[::cast]`.
#[derive(Clone, Debug)]
pub(crate) struct AggregateColumn<'r> {
    pub(crate) aggregate: Aggregate,
    /// What it aggregates (with its cast); `None` for `count()` of the rows.
    pub(crate) input: Option<SelectColumn<'r>>,
    /// The cast of its result.
    pub(crate) cast: Option<&'r str>,
    /// Its key: the alias, or the function's name.
    pub(crate) name: &'r str,
}

/// An item of the planned select list.
#[derive(Clone, Debug)]
pub(crate) enum Projection<'r> {
    Star,
    Column(SelectColumn<'r>),
    /// An aggregate: the node's other items are its `GROUP BY`.
    Aggregate(AggregateColumn<'r>),
    /// The embed at this index of [`ReadPlan::embeds`], as one key.
    Embed(usize),
    /// The embed at this index, its columns hoisted into the parent.
    Spread(usize),
    /// `true AS name`: the row is there. What a `count()` of a spread's
    /// rows counts, once hoisted into the node that groups them.
    Present(&'r str),
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
    /// The column, when its type reads filter values through a data
    /// representation from text.
    pub(crate) text_form: Option<&'r crate::schema::Column>,
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
    /// `rel.is.null` (`null`) or `rel.not.is.null` inside a logic tree:
    /// whether the row has no related rows in the embed at this index of
    /// its node's embeds.
    EmbedNull {
        embed: usize,
        null: bool,
    },
}

/// The conditions of a plan's node. A `Vec`, not a `SmallVec`: plans must
/// stay covariant in their lifetime (a nested insert reads back through a
/// plan borrowing its own conditions), and `SmallVec` is invariant.
pub(crate) type Conditions<'r> = Vec<PlannedCondition<'r>>;

/// A planned read of one table or view.
#[derive(Clone, Debug)]
pub(crate) struct ReadPlan<'r> {
    pub(crate) table: &'r Table,
    pub(crate) select: Vec<Projection<'r>>,
    pub(crate) conditions: Conditions<'r>,
    pub(crate) order: Vec<PlannedOrder<'r>>,
    pub(crate) limit: Option<i64>,
    pub(crate) offset: i64,
    pub(crate) media: MediaType,
    /// HEAD: compute the page, not the body.
    pub(crate) headers_only: bool,
    pub(crate) count: Option<Count>,
    pub(crate) max_rows: Option<i64>,
    pub(crate) embeds: Vec<EmbedPlan<'r>>,
    /// The media-type handler of the database that builds the body
    /// ([`MediaType::Custom`]).
    pub(crate) handler: Option<&'r MediaHandler>,
    /// `distinct=`: `SELECT DISTINCT` when empty, else `DISTINCT ON` these
    /// columns, which then lead the `ORDER BY`.
    pub(crate) distinct: Option<&'r [String]>,
}

impl ReadPlan<'_> {
    /// Whether the node aggregates (its other items are grouped by).
    pub(crate) fn grouped(&self) -> bool {
        self.select
            .iter()
            .any(|p| matches!(p, Projection::Aggregate(_)))
            || self.embeds.iter().any(|e| !e.hoisted.is_empty())
    }

    /// Whether the total differs from the page's row count, so needs its own query.
    pub(crate) fn total_needs_query(&self) -> bool {
        self.limit.is_some() || self.offset > 0
    }
}

/// Whether a request whose query and headers are parsed may go on to read
/// its body: what it names exists (404 otherwise) and its shape is within
/// [`Limits`] (400 otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admitted {
    /// Go on.
    Found,
    /// A function of no known name. Its 404 names the arguments the body
    /// gives, as PostgREST's does, so the service reads only a bounded prefix
    /// of the body to say so.
    UnknownFunction,
}

/// The steps of every request before its body is read: the route, the
/// query string and headers parsed, and what they name [`admit`]ted. The
/// service, a batch's operations and the benches all begin here.
pub(crate) fn head(
    method: &http::Method,
    path: &str,
    query: Option<&str>,
    headers: &http::HeaderMap,
    schema: &Schema,
    config: &Config,
) -> Result<(ApiRequest, Admitted), Error> {
    let route = crate::request::route(method, path)?;
    let req = crate::request::parse_query(route, query, headers)?;
    let admitted = admit(&req, schema, config)?;
    Ok((req, admitted))
}

/// How much of the body of a call to a function of no known name is read,
/// to name its arguments in the 404 as PostgREST does.
const UNKNOWN_FUNCTION_BODY: usize = 64 * 1024;

impl Admitted {
    /// How much of the body may be read.
    pub(crate) fn body_limit(self, config: &Config) -> usize {
        match self {
            Self::Found => config.body_limit,
            // Enough to name the arguments in the 404, no more.
            Self::UnknownFunction => UNKNOWN_FUNCTION_BODY.min(config.body_limit),
        }
    }
}

/// Checks what can be checked before the body is read; see [`Admitted`].
pub(crate) fn admit(req: &ApiRequest, schema: &Schema, config: &Config) -> Result<Admitted, Error> {
    let ns = config.exposed(req.profile.as_deref())?;
    check_limits(req, &config.limits)?;
    // Nothing this crate produces was asked for: only a handler of the
    // database's can answer, for a relation or a function.
    if req.accepted.builtin.is_none()
        && (schema.media_handlers.is_empty()
            || matches!(req.target, Target::Root)
            || req.action == Action::Options)
    {
        return Err(req.accepted.unavailable());
    }
    // A plan: only when enabled, and of a relation or a function.
    if req.accepted.explain.is_some()
        && (!config.plan_enabled
            || matches!(req.target, Target::Root)
            || req.action == Action::Options)
    {
        return Err(req.accepted.unavailable());
    }
    Ok(match &req.target {
        Target::Root => {
            if config.openapi_mode == OpenApiMode::Disabled && req.action != Action::Options {
                return Err(Error::pgrst(
                    codes::PGRST126,
                    "Root endpoint metadata is disabled",
                ));
            }
            Admitted::Found
        }
        Target::Relation(name) => {
            table(schema, ns.name, name)?;
            Admitted::Found
        }
        Target::Function(name) => {
            match schema
                .functions
                .iter()
                .any(|f| f.schema == ns.name && f.name == name)
            {
                true => Admitted::Found,
                false => Admitted::UnknownFunction,
            }
        }
    })
}

/// The request's shape is within `limits`: embeds in all and per select
/// list, embed depth, select items per list, and filters in all.
fn check_limits(req: &ApiRequest, limits: &Limits) -> Result<(), Error> {
    let mut embeds = 0;
    walk_select(&req.select, 1, limits, &mut embeds)?;
    let filters: usize = req.conditions.iter().map(Condition::filters).sum::<usize>()
        + req
            .embedded
            .iter()
            .map(|e| match &e.param {
                EmbeddedParam::Condition(c) => c.filters(),
                _ => 0,
            })
            .sum::<usize>();
    over_limit("filters", filters, limits.max_filters, "max_filters")?;
    over_limit(
        "steps in one JSON path",
        longest_json_path(req),
        limits.max_json_path,
        "max_json_path",
    )
}

/// The most steps of any JSON path in the request: in `select` (embeds
/// included), filters and logic trees, `order`, and embedded parameters.
fn longest_json_path(req: &ApiRequest) -> usize {
    fn select(items: &[SelectItem]) -> usize {
        items
            .iter()
            .map(|item| match item {
                SelectItem::Column { field: Some(f), .. } => f.json_path.len(),
                SelectItem::Embed { select: inner, .. } => select(inner),
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    }
    fn condition(c: &Condition) -> usize {
        match c {
            Condition::Filter(f) => f.field.json_path.len(),
            Condition::Group { children, .. } => children.iter().map(condition).max().unwrap_or(0),
        }
    }
    fn order(terms: &[OrderTerm]) -> usize {
        terms
            .iter()
            .map(|t| t.field.json_path.len())
            .max()
            .unwrap_or(0)
    }
    let embedded = req.embedded.iter().map(|e| match &e.param {
        EmbeddedParam::Condition(c) => condition(c),
        EmbeddedParam::Order(terms) => order(terms),
        _ => 0,
    });
    req.conditions
        .iter()
        .map(condition)
        .chain(embedded)
        .chain([select(&req.select), order(&req.order)])
        .max()
        .unwrap_or(0)
}

/// Counts the embeds of one select list and checks it and its embeds' lists.
fn walk_select(
    items: &[SelectItem],
    depth: usize,
    limits: &Limits,
    embeds: &mut usize,
) -> Result<(), Error> {
    over_limit(
        "items in one select list",
        items.len(),
        limits.max_select_items,
        "max_select_items",
    )?;
    let mut siblings = 0;
    for item in items {
        if let SelectItem::Embed { select, .. } = item {
            siblings += 1;
            *embeds += 1;
            over_limit(
                "embedded resources in one select list",
                siblings,
                limits.max_embeds_per_level,
                "max_embeds_per_level",
            )?;
            over_limit(
                "embedded resources",
                *embeds,
                limits.max_embeds,
                "max_embeds",
            )?;
            over_limit("levels of embedding", depth, limits.max_depth, "max_depth")?;
            walk_select(select, depth + 1, limits, embeds)?;
        }
    }
    Ok(())
}

/// A 400 naming the limit `name` when `count` passes `max`.
fn over_limit(what: &str, count: usize, max: usize, name: &str) -> Result<(), Error> {
    if count <= max {
        return Ok(());
    }
    Err(Error::pgrst(
        codes::PGRST100,
        format!("The request has more {what} than the limit of {max}"),
    )
    .with_details(format!("The server's {name} limit is {max}"))
    .with_hint("Ask for less in one request, or have the server's limit raised"))
}

/// Plans a request that [`head`] admitted (every caller parses through it;
/// the checks it made are not made again).
pub(crate) fn plan<'r>(
    req: &'r ApiRequest,
    schema: &'r Schema,
    config: &'r Config,
) -> Result<Plan<'r>, Error> {
    let ns = config.exposed(req.profile.as_deref())?;
    // A read ends as `tx=` asks too (it has nothing to undo), and says so.
    let mut read_applied = Vec::new();
    let read = Tx {
        read_only: true,
        end: write::tx_end(req, config, &mut read_applied),
    };
    let follow = config.openapi_mode != OpenApiMode::IgnorePrivileges;
    let (kind, tx, checks) = match (&req.target, req.action) {
        (_, Action::Options) => (
            options(&req.target, schema, ns.name, follow)?,
            read,
            Checks::default(),
        ),
        // The description is JSON: another type asked for is not available.
        (Target::Root, _)
            if !matches!(
                req.accept,
                MediaType::Json | MediaType::OpenApi | MediaType::JsonStripped
            ) =>
        {
            return Err(req.accepted.unavailable());
        }
        (Target::Root, action) => (
            PlanKind::Describe {
                headers_only: action.headers_only(),
                // HEAD sends no description, so needs no privileges.
                privileges: follow && !action.headers_only(),
            },
            read,
            Checks::default(),
        ),
        (Target::Function(name), _) => {
            let call = rpc::plan_call(req, schema, ns.name, name, config)?;
            let tx = Tx {
                read_only: call.read_only,
                end: call.tx_end,
            };
            let checks = Checks {
                singular: call.shape.media.is_singular()
                    && matches!(call.returns, Returns::Composite { set: true }),
                max_affected: call.max_affected,
                ..Checks::default()
            };
            (PlanKind::Call(call), tx, checks)
        }
        (Target::Relation(name), action) => {
            let table = table(schema, ns.name, name)?;
            if let Action::Read { .. } = action {
                let target = HandlerKey::Relation(&table.schema, &table.name);
                let read_plan = plan_shape(req, table, schema, config, Some(target))?;
                let checks = Checks {
                    singular: read_plan.media.is_singular(),
                    ..Checks::default()
                };
                (PlanKind::Read(read_plan), read, checks)
            } else if nested::is_nested(req, schema, config, table) {
                let nested = nested::plan_nested(req, table, schema, config)?;
                let tx = Tx {
                    read_only: false,
                    end: nested.write.tx_end,
                };
                let checks = Checks {
                    singular: nested.write.shape.media.is_singular(),
                    max_affected: nested.write.max_affected,
                    put_key: false,
                };
                (PlanKind::Nested(nested), tx, checks)
            } else {
                let write = write::plan_write(req, table, schema, config)?;
                let tx = Tx {
                    read_only: false,
                    end: write.tx_end,
                };
                let checks = Checks {
                    singular: write.shape.media.is_singular(),
                    max_affected: write.max_affected,
                    put_key: matches!(&write.kind, WriteKind::Insert { put_key, .. } if !put_key.is_empty()),
                };
                (PlanKind::Write(write), tx, checks)
            }
        }
    };
    Ok(Plan {
        schema: ns,
        echo_tx: matches!(kind, PlanKind::Read(_)) && !read_applied.is_empty(),
        kind,
        tx,
        checks,
        timezone: timezone(req, schema)?,
    })
}

/// The zone of `Prefer: timezone`: the database's spelling of a zone it
/// lists, else the value as asked, which PostgreSQL reads as it reads
/// `SET timezone` (a POSIX zone such as `+05:30`, an offset such as `-4`)
/// or refuses (22023), as PostgREST passes it on.
fn timezone<'r>(
    req: &'r ApiRequest,
    schema: &'r Schema,
) -> Result<Option<std::borrow::Cow<'r, str>>, Error> {
    let Some(asked) = req.prefs.timezone.as_deref() else {
        return Ok(None);
    };
    Ok(Some(match schema.timezone(asked) {
        Some(zone) => std::borrow::Cow::Borrowed(zone),
        None => std::borrow::Cow::Borrowed(asked),
    }))
}

/// The table or view `name` of the schema `ns`, or 404 with the closest name as a hint.
fn table<'r>(schema: &'r Schema, ns: &str, name: &str) -> Result<&'r Table, Error> {
    schema.table(ns, name).ok_or_else(|| {
        let err = table_not_found(ns, name);
        match schema.closest_table(ns, name) {
            Some(close) => err.with_hint(format!("Perhaps you meant the table '{ns}.{close}'")),
            None => err,
        }
    })
}

/// PostgREST's 404 for a relation it does not know.
fn table_not_found(ns: &str, name: &str) -> Error {
    Error::pgrst(
        codes::PGRST205,
        format!("Could not find the table '{ns}.{name}' in the schema cache"),
    )
}

/// `OPTIONS`: the methods `target` allows by the schema cache, to be narrowed
/// to the role's privileges when `follow`.
fn options<'r>(
    target: &'r Target,
    schema: &'r Schema,
    ns: &str,
    follow: bool,
) -> Result<PlanKind<'r>, Error> {
    let (resource, allow) = match target {
        Target::Root => (Resource::Root, Allow::root()),
        Target::Function(name) => {
            let mut same_name = schema
                .functions
                .iter()
                .filter(|f| f.schema == ns && f.name == name)
                .peekable();
            if same_name.peek().is_none() {
                return Err(Error::pgrst(
                    codes::PGRST202,
                    format!("Could not find the function {ns}.{name} in the schema cache"),
                ));
            }
            let volatile = same_name.any(|f| f.volatility == Volatility::Volatile);
            (Resource::Function(name), Allow::of_function(volatile))
        }
        Target::Relation(name) => {
            let t = table(schema, ns, name)?;
            (Resource::Relation(t), Allow::of_table(t))
        }
    };
    Ok(PlanKind::Options {
        resource,
        allow,
        privileges: follow && !matches!(resource, Resource::Root),
    })
}

/// Plans a read of `table`; for a write or a call, how its rows are represented.
fn plan_shape<'r>(
    req: &'r ApiRequest,
    table: &'r Table,
    schema: &'r Schema,
    config: &Config,
    target: Option<HandlerKey<'_>>,
) -> Result<ReadPlan<'r>, Error> {
    let (media, handler) = negotiate(req, schema, target)?;
    if req.accept == MediaType::OpenApi {
        return Err(Error::pgrst(
            codes::PGRST107,
            "None of these media types are available: application/openapi+json",
        ));
    }
    let (select, mut embeds) = embed::plan_select(&req.select, table, schema, config)?;
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
                let index = embed::order_embed(&embeds, relation, &table.name)?;
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

    let max_rows = config.max_rows;
    let (offset, limit) = plan_range(req, max_rows)?;
    Ok(ReadPlan {
        table,
        select,
        conditions,
        order,
        limit,
        offset,
        media,
        headers_only: req.action.headers_only(),
        count: req.prefs.count,
        max_rows,
        embeds,
        handler,
        distinct: req.distinct.as_deref(),
    })
}

/// The media type of an answer, as PostgREST negotiates it: for each type
/// `Accept` offers, in order, a handler of the database for `target` (its
/// `*/*` handler first, when the request selects the default columns), one
/// for any relation, then this crate's own; PostgREST's vendor types are
/// never overridden. Without handlers (or a `target`) only this crate's own
/// types count.
fn negotiate<'r>(
    req: &ApiRequest,
    schema: &'r Schema,
    target: Option<HandlerKey<'_>>,
) -> Result<(MediaType, Option<&'r MediaHandler>), Error> {
    let accepted = &req.accepted;
    let target = match target {
        Some(target) if !schema.media_handlers.is_empty() => target,
        _ => {
            return accepted
                .builtin
                .map(|m| (m, None))
                .ok_or_else(|| accepted.unavailable());
        }
    };
    let default_select = matches!(req.select.as_slice(), [] | [SelectItem::Star]);
    let relation = matches!(target, HandlerKey::Relation(..));
    let custom = |h: &'r MediaHandler| Ok((MediaType::Custom, Some(h)));
    for offer in &accepted.offers {
        if offer.is_vendor() {
            match offer.builtin() {
                Some(m) => return Ok((m, None)),
                None => continue,
            }
        }
        if default_select {
            if let Some(h) = schema.media_handler(target, "*/*") {
                return custom(h);
            }
            if let Some(h) = schema.media_handler(target, &offer.ty) {
                return custom(h);
            }
        }
        if relation {
            if let Some(h) = schema.media_handler(HandlerKey::Any, &offer.ty) {
                return custom(h);
            }
        }
        if let Some(m) = offer.builtin() {
            return Ok((m, None));
        }
    }
    Err(accepted.unavailable())
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
    let column = table.column(&filter.field.name);
    PlannedFilter {
        filter,
        column_type: column.map(|c| c.resolved_type()),
        text_form: column.filter(|c| c.from_text.is_some() && filter.field.json_path.is_empty()),
    }
}

/// The rows to return: `offset`/`limit`, intersected with the `Range` header,
/// capped by `max_rows`. Returns `(offset, limit)`.
fn plan_range(req: &ApiRequest, max_rows: Option<i64>) -> Result<(i64, Option<i64>), Error> {
    let mut offset = req.offset.unwrap_or(0);
    let mut limit = req.limit;
    if let Some((first, last)) = req.range {
        if last.is_some_and(|last| first > last) {
            return Err(Error::pgrst(codes::PGRST103,
                "Requested range not satisfiable",
            )
            .with_details(
                "The lower boundary must be lower than or equal to the upper boundary in the Range header.",
            )
            );
        }
        // Every step saturates: a range up to i64::MAX is a page, not an overflow.
        let upper = match (
            limit.map(|l| offset.saturating_add(l.saturating_sub(1))),
            last,
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        offset = offset.max(first);
        limit = upper.map(|u| u.saturating_sub(offset).saturating_add(1).max(0));
    }
    if let Some(max) = max_rows {
        limit = Some(limit.map_or(max, |l| l.min(max)));
    }
    Ok((offset, limit))
}

/// The counts of a result that [`Checks`] look at.
pub(crate) trait Counted {
    /// Rows in the response.
    fn rows(&self) -> i64;
    /// Rows changed.
    fn affected(&self) -> i64 {
        self.rows()
    }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::testing::{self, plan_of, read, request};
    use super::*;

    #[test]
    fn a_read_is_read_only_and_checks_one_row_only_when_asked() {
        let req = request(Method::GET, "/items?select=id&id=eq.1", &[], None).unwrap();
        let plan = plan_of(&req).unwrap();
        assert_eq!(plan.schema.name, "public");
        assert_eq!(
            plan.tx,
            Tx {
                read_only: true,
                end: TxEnd::Commit
            }
        );
        assert_eq!(read(&plan).table.name, "items");
        assert_eq!(plan.checks, Checks::default());
        assert!(!plan.decides_commit());

        let accept = [("accept", "application/vnd.pgrst.object+json")];
        let req = request(Method::GET, "/items?id=eq.1", &accept, None).unwrap();
        let plan = plan_of(&req).unwrap();
        assert!(plan.checks.singular);
        // Nothing to undo in a read: checked on the result alone.
        assert!(!plan.decides_commit());
    }

    #[test]
    fn checks_are_one_rule_each() {
        let singular = Checks {
            singular: true,
            ..Checks::default()
        };
        assert!(singular.verify(1, 1).is_ok());
        let err = singular.verify(2, 2).unwrap_err();
        assert_eq!(err.postgrest_code(), "PGRST116");
        assert_eq!(err.details(), Some("The result contains 2 rows"));
        let capped = Checks {
            max_affected: Some(3),
            ..Checks::default()
        };
        assert!(capped.verify(0, 3).is_ok());
        assert_eq!(
            capped.verify(0, 4).unwrap_err().postgrest_code(),
            "PGRST124"
        );
        let put = Checks {
            put_key: true,
            ..Checks::default()
        };
        assert_eq!(put.verify(0, 0).unwrap_err().postgrest_code(), "PGRST115");
        assert!(!put.before_commit());
    }

    #[test]
    fn unknown_relations_and_schemas() {
        let req = request(Method::GET, "/itemz", &[], None).unwrap();
        let err = plan_of(&req).unwrap_err();
        assert_eq!(err.postgrest_code(), "PGRST205");
        assert_eq!(
            err.hint(),
            Some("Perhaps you meant the table 'public.items'")
        );
        let req = request(
            Method::GET,
            "/items",
            &[("accept-profile", "private")],
            None,
        )
        .unwrap();
        assert_eq!(plan_of(&req).unwrap_err().postgrest_code(), "PGRST106");
    }

    #[test]
    fn options_list_what_the_relation_allows() {
        let req = request(Method::OPTIONS, "/items", &[], None).unwrap();
        let PlanKind::Options { allow, .. } = plan_of(&req).unwrap().kind else {
            panic!("OPTIONS plans options")
        };
        assert_eq!(allow.header(), "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE");
        let req = request(Method::OPTIONS, "/rpc/items_under", &[], None).unwrap();
        let PlanKind::Options { allow, .. } = plan_of(&req).unwrap().kind else {
            panic!("OPTIONS plans options")
        };
        assert_eq!(allow.header(), "OPTIONS,GET,HEAD,POST");
    }

    fn paged(target: &str, headers: &[(&str, &str)], max_rows: Option<u64>) -> (i64, Option<i64>) {
        let req = request(Method::GET, target, headers, None).unwrap();
        let config = Config::for_tests(&["public"], max_rows);
        admit(&req, testing::schema(), &config).unwrap();
        let plan = plan(&req, testing::schema(), &config).unwrap();
        let read = read(&plan);
        assert_eq!(read.max_rows, max_rows.map(|m| m as i64));
        (read.offset, read.limit)
    }

    #[test]
    fn limit_and_offset_page_the_rows() {
        assert_eq!(paged("/items", &[], None), (0, None));
        assert_eq!(paged("/items?limit=5", &[], None), (0, Some(5)));
        assert_eq!(paged("/items?offset=3", &[], None), (3, None));
        assert_eq!(paged("/items?limit=5&offset=10", &[], None), (10, Some(5)));
        assert_eq!(paged("/items?limit=0", &[], None), (0, Some(0)));

        let req = request(Method::GET, "/items", &[], None).unwrap();
        assert!(!read(&plan_of(&req).unwrap()).total_needs_query());
        for target in ["/items?limit=5", "/items?offset=1"] {
            let req = request(Method::GET, target, &[], None).unwrap();
            assert!(
                read(&plan_of(&req).unwrap()).total_needs_query(),
                "{target}"
            );
        }
    }

    #[test]
    fn the_range_header_is_intersected_with_limit_and_offset() {
        let range = |v: &'static str| [("range", v)];
        assert_eq!(paged("/items", &range("0-9"), None), (0, Some(10)));
        assert_eq!(paged("/items", &range("10-"), None), (10, None));
        assert_eq!(paged("/items", &range("5-5"), None), (5, Some(1)));
        assert_eq!(paged("/items?limit=5", &range("0-9"), None), (0, Some(5)));
        assert_eq!(paged("/items?limit=20", &range("0-9"), None), (0, Some(10)));
        assert_eq!(
            paged("/items?offset=5&limit=10", &range("0-9"), None),
            (5, Some(5))
        );
        assert_eq!(paged("/items?offset=2", &range("5-"), None), (5, None));
        // Disjoint: nothing.
        assert_eq!(paged("/items?limit=2", &range("5-9"), None), (5, Some(0)));
        // The largest bounds are a page, not an overflow.
        let max = i64::MAX.to_string();
        let whole = format!("0-{max}");
        assert_eq!(
            paged("/items", &[("range", &whole)], None),
            (0, Some(i64::MAX))
        );
        let last = format!("{max}-{max}");
        assert_eq!(
            paged("/items", &[("range", &last)], None),
            (i64::MAX, Some(1))
        );
        let past = format!("{max}-");
        assert_eq!(
            paged(
                &format!("/items?offset={max}&limit={max}"),
                &[("range", &past)],
                None
            ),
            (i64::MAX, Some(1))
        );
        // Not a range PostgREST reads: ignored.
        assert_eq!(paged("/items", &range("items=0-9"), None), (0, None));
    }

    #[test]
    fn a_reversed_range_is_416() {
        let req = request(Method::GET, "/items", &[("range", "20-10")], None).unwrap();
        let err = plan_of(&req).unwrap_err();
        assert_eq!(err.status(), http::StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(err.postgrest_code(), "PGRST103");
        assert_eq!(err.message(), "Requested range not satisfiable");
        assert_eq!(
            err.details(),
            Some(
                "The lower boundary must be lower than or equal to the upper boundary in the Range header."
            )
        );
    }

    #[test]
    fn max_rows_caps_every_page() {
        assert_eq!(paged("/items", &[], Some(3)), (0, Some(3)));
        assert_eq!(paged("/items?limit=10", &[], Some(3)), (0, Some(3)));
        assert_eq!(paged("/items?limit=2", &[], Some(3)), (0, Some(2)));
        assert_eq!(paged("/items?offset=4", &[], Some(3)), (4, Some(3)));
        assert_eq!(paged("/items", &[("range", "0-9")], Some(3)), (0, Some(3)));
        // Reads of a function are paged alike.
        let req = request(
            Method::GET,
            "/rpc/items_under?max_price=5&limit=4&offset=1",
            &[],
            None,
        )
        .unwrap();
        let config = Config::for_tests(&["public"], Some(2));
        admit(&req, testing::schema(), &config).unwrap();
        let p = plan(&req, testing::schema(), &config).unwrap();
        let PlanKind::Call(call) = &p.kind else {
            panic!("a call")
        };
        assert_eq!((call.shape.offset, call.shape.limit), (1, Some(2)));
    }

    #[test]
    fn the_count_preference_is_carried() {
        for (prefer, count) in [
            ("count=exact", Some(Count::Exact)),
            ("count=planned", Some(Count::Planned)),
            ("count=estimated", Some(Count::Estimated)),
            ("return=minimal", None),
        ] {
            let req = request(Method::GET, "/items", &[("prefer", prefer)], None).unwrap();
            let plan = plan_of(&req).unwrap();
            assert_eq!(read(&plan).count, count, "{prefer}");
        }
        let req = request(Method::HEAD, "/items", &[("prefer", "count=exact")], None).unwrap();
        let plan = plan_of(&req).unwrap();
        let read = read(&plan);
        assert!(read.headers_only);
        assert_eq!(read.count, Some(Count::Exact));
    }

    #[test]
    fn the_root_describes_the_schema_and_tables_do_not() {
        for (method, headers_only) in [(Method::GET, false), (Method::HEAD, true)] {
            let req = request(method, "/", &[], None).unwrap();
            let plan = plan_of(&req).unwrap();
            assert!(
                matches!(plan.kind, PlanKind::Describe { headers_only: h, privileges } if h == headers_only && privileges != h)
            );
            assert!(plan.tx.read_only);
        }
        let req = request(
            Method::GET,
            "/items",
            &[("accept", "application/openapi+json")],
            None,
        )
        .unwrap();
        let err = plan_of(&req).unwrap_err();
        assert_eq!(err.postgrest_code(), "PGRST107");
        assert_eq!(err.status(), http::StatusCode::NOT_ACCEPTABLE);
    }

    #[test]
    fn options_of_a_volatile_function_and_of_a_view() {
        let req = request(Method::OPTIONS, "/rpc/volatile_noop", &[], None).unwrap();
        let PlanKind::Options { allow, .. } = plan_of(&req).unwrap().kind else {
            panic!("OPTIONS plans options")
        };
        assert_eq!(allow.header(), "OPTIONS,POST");
        // A view showing its table's key has it (as PostgREST infers it): PUT too.
        let req = request(Method::OPTIONS, "/cheap_items", &[], None).unwrap();
        let PlanKind::Options { allow, .. } = plan_of(&req).unwrap().kind else {
            panic!("OPTIONS plans options")
        };
        assert_eq!(allow.header(), "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE");
        let req = request(Method::OPTIONS, "/nope", &[], None).unwrap();
        assert_eq!(plan_of(&req).unwrap_err().postgrest_code(), "PGRST205");
    }
}
