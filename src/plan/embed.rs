//! Planning resource embedding: `select=*,author:authors(name),comments(body)`.

use std::cmp::Ordering;

use compact_str::CompactString;

use super::{
    AggregateColumn, Conditions, PlannedCondition, PlannedOrder, Projection, ReadPlan,
    SelectColumn, plan_condition,
};
use crate::config::Config;
use crate::error::{Error, codes};
use crate::request::{
    Aggregate, ApiRequest, Condition, EmbeddedParam, IsValue, Operation, SelectItem,
};
use crate::schema::{Cardinality, Relationship, Schema, Table, TableKind};

/// An embedded resource: the relationship it follows and its own read plan.
#[derive(Clone, Debug)]
pub(crate) struct EmbedPlan<'r> {
    /// The key it gets in the parent's objects: its alias, or the relation's name.
    pub(crate) name: &'r str,
    /// The target as the select names it (a relation, a function, or a
    /// foreign key or its column): embedded parameters may use it for the
    /// embed as well as the alias.
    pub(crate) relation: &'r str,
    pub(crate) rel: &'r Relationship,
    pub(crate) node: ReadPlan<'r>,
    /// `!inner`: parents without a match are left out.
    pub(crate) inner: bool,
    /// `...rel(…)`: its columns are hoisted into the parent.
    pub(crate) spread: bool,
    /// `rel()`: joined only to filter, no key in the output.
    pub(crate) hidden: bool,
    /// `?rel=is.null` (`Some(true)`) / `?rel=not.is.null` (`Some(false)`).
    pub(crate) null_filter: Option<bool>,
    /// The aggregates of a to-one spread, computed by the parent over the
    /// values of the child's columns of the same names.
    pub(crate) hoisted: Vec<Hoisted<'r>>,
}

/// An aggregate of a to-one spread, done in the parent.
#[derive(Clone, Debug)]
pub(crate) struct Hoisted<'r> {
    pub(crate) name: &'r str,
    pub(crate) aggregate: Aggregate,
    pub(crate) cast: Option<&'r str>,
}

impl EmbedPlan<'_> {
    pub(crate) fn to_one(&self) -> bool {
        self.rel.cardinality.is_to_one()
    }
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("'{i}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `!inner` / `!left` (the last one wins) and the disambiguation hint among an embed's hints.
fn join_and_hint(hints: &[CompactString]) -> (bool, Option<&str>) {
    let mut join_inner = false;
    let mut hint = None;
    for h in hints {
        match h.as_str() {
            "inner" => join_inner = true,
            "left" => join_inner = false,
            other => hint = Some(other),
        }
    }
    (join_inner, hint)
}

/// The read plan of an embedded resource: a to-many one is capped at `max_rows`.
/// Whether an embed's rows show nothing: its select list is empty, or only
/// embeds that show nothing (`rel(inner())`). Such an embed only filters
/// (with `!inner`), and is left out of the answer, as in PostgREST.
fn shows_nothing(node: &ReadPlan<'_>) -> bool {
    node.select.iter().all(|p| match p {
        Projection::Embed(i) | Projection::Spread(i) => node.embeds[*i].hidden,
        _ => false,
    })
}

fn embed_node<'r>(
    target: &'r Table,
    select: Vec<Projection<'r>>,
    embeds: Vec<EmbedPlan<'r>>,
    rel: &Relationship,
    config: &Config,
) -> ReadPlan<'r> {
    ReadPlan {
        table: target,
        select,
        conditions: Conditions::new(),
        order: Vec::new(),
        limit: if rel.cardinality.is_to_one() {
            None
        } else {
            config.max_rows
        },
        offset: 0,
        media: crate::request::MediaType::Json,
        headers_only: false,
        count: None,
        max_rows: None,
        embeds,
        handler: None,
        distinct: None,
    }
}

/// Plans the select list of `table`: columns, and embeds with their own plans.
pub(super) fn plan_select<'r>(
    items: &'r [SelectItem],
    table: &'r Table,
    schema: &'r Schema,
    config: &Config,
) -> Result<(Vec<Projection<'r>>, Vec<EmbedPlan<'r>>), Error> {
    let mut select = Vec::with_capacity(items.len());
    let mut embeds = Vec::new();
    for item in items {
        match item {
            SelectItem::Star => select.push(Projection::Star),
            SelectItem::Column {
                aggregate: Some(_), ..
            }
            | SelectItem::Column { field: None, .. }
                if !config.aggregates =>
            {
                return Err(Error::pgrst(
                    codes::PGRST123,
                    "Use of aggregate functions is not allowed",
                ));
            }
            SelectItem::Column {
                alias,
                field: Some(field),
                cast,
                aggregate: None,
            } => select.push(Projection::Column(column(field, alias, cast, table))),
            SelectItem::Column {
                alias,
                field,
                cast,
                aggregate,
            } => {
                let (function, result_cast) = match aggregate {
                    Some((function, result_cast)) => (*function, result_cast.as_deref()),
                    None => (Aggregate::Count, None),
                };
                select.push(Projection::Aggregate(AggregateColumn {
                    aggregate: function,
                    input: field
                        .as_ref()
                        .map(|field| column(field, &None, cast, table)),
                    cast: result_cast,
                    name: alias.as_deref().unwrap_or(function.name()),
                }));
            }
            SelectItem::Embed {
                alias,
                relation,
                hints,
                spread,
                select: inner,
            } => {
                let (join_inner, hint) = join_and_hint(hints);
                let rel = resolve(schema, config, table, relation, hint)?;
                let target = schema
                    .table(&rel.foreign_schema, &rel.foreign_table)
                    .ok_or_else(|| no_relationship(schema, config, table, relation, hint))?;
                let (mut child_select, mut child_embeds) =
                    plan_select(inner, target, schema, config)?;
                let hoisted = match spread {
                    true => hoist_spread(&mut child_select, &mut child_embeds, rel)?,
                    false => Vec::new(),
                };
                let node = embed_node(target, child_select, child_embeds, rel, config);
                if *spread && alias.is_some() {
                    return Err(Error::pgrst(
                        codes::PGRST100,
                        "A spread embed (...rel) cannot have an alias",
                    ));
                }
                let index = embeds.len();
                select.push(if *spread {
                    Projection::Spread(index)
                } else {
                    Projection::Embed(index)
                });
                embeds.push(EmbedPlan {
                    name: alias.as_deref().unwrap_or(relation),
                    relation,
                    rel,
                    hidden: shows_nothing(&node),
                    node,
                    inner: join_inner,
                    spread: *spread,
                    null_filter: None,
                    hoisted,
                });
            }
        }
    }
    Ok((select, embeds))
}

/// A selected column of `table`, with its type when the table has it.
fn column<'r>(
    field: &'r crate::request::Field,
    alias: &'r Option<CompactString>,
    cast: &'r Option<CompactString>,
    table: &'r Table,
) -> SelectColumn<'r> {
    SelectColumn {
        field,
        alias: alias.as_deref(),
        cast: cast.as_deref(),
        column_type: table.column(&field.name).map(|c| c.resolved_type()),
    }
}

/// What a spread child's parent aggregates: the child's own aggregates
/// ([`hoist`]), and those its own to-one spreads hoisted, which go up too —
/// the rows are grouped by the first node that is not spread, as PostgREST
/// groups them.
fn hoist_spread<'r>(
    child_select: &mut [Projection<'r>],
    child_embeds: &mut [EmbedPlan<'r>],
    rel: &Relationship,
) -> Result<Vec<Hoisted<'r>>, Error> {
    let mut hoisted = hoist(child_select, rel)?;
    if rel.cardinality.is_to_one() {
        for e in child_embeds.iter_mut().filter(|e| e.spread) {
            hoisted.append(&mut e.hoisted);
        }
    }
    Ok(hoisted)
}

/// Aggregates in a to-one spread are the parent's: the child answers
/// their input (each aggregate becomes its input column, named as the
/// aggregate), and the parent aggregates what this returns.
fn hoist<'r>(
    child_select: &mut [Projection<'r>],
    rel: &Relationship,
) -> Result<Vec<Hoisted<'r>>, Error> {
    let mut hoisted = Vec::new();
    for item in child_select {
        let Projection::Aggregate(a) = item else {
            continue;
        };
        if !rel.cardinality.is_to_one() {
            return Err(
                Error::pgrst(codes::PGRST127, "Feature not implemented").with_details(
                    "Aggregates are not implemented for one-to-many or many-to-many spreads.",
                ),
            );
        }
        hoisted.push(Hoisted {
            name: a.name,
            aggregate: a.aggregate,
            cast: a.cast,
        });
        *item = match &a.input {
            Some(input) => Projection::Column(SelectColumn {
                alias: Some(a.name),
                ..input.clone()
            }),
            // count() of the rows: the parent counts where they are.
            None => Projection::Present(a.name),
        };
    }
    Ok(hoisted)
}

/// The relationship `relation!hint` names from `table`, by PostgREST's rules
/// (its `findRel`). Only relationships to (and through) the exposed schemas
/// count, whatever else the schema cache holds.
pub(crate) fn resolve<'r>(
    schema: &'r Schema,
    config: &Config,
    table: &Table,
    relation: &str,
    hint: Option<&str>,
) -> Result<&'r Relationship, Error> {
    let from_table: Vec<&Relationship> = schema
        .relationships
        .iter()
        .filter(|r| r.schema == table.schema && r.table == table.name)
        .filter(|r| {
            config.exposes(&r.foreign_schema)
                && r.junction
                    .as_ref()
                    .is_none_or(|j| config.exposes(&j.schema))
        })
        .collect();
    // A computed relationship overrides the detected ones to the relation of
    // its function's name.
    let computed: Vec<&(String, String)> = from_table
        .iter()
        .filter_map(|r| r.function.as_ref())
        .collect();
    let overridden = |r: &Relationship| {
        r.function.is_none()
            && computed
                .iter()
                .any(|(s, n)| *s == r.foreign_schema && *n == r.foreign_table)
    };
    let mut candidates: Vec<&Relationship> = from_table
        .into_iter()
        .filter(|r| !overridden(r))
        .filter(|r| names(schema, r, relation, hint))
        .collect();
    candidates.sort_by(|a, b| postgrest_order(a, b));
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(no_relationship(schema, config, table, relation, hint)),
        many => Err(ambiguous(table, relation, many)),
    }
}

/// Whether the embed `target` (with `hint`, the part after `!`) names `r`:
///
/// * a computed relationship by its function's name (the hint plays no part);
/// * on a self-reference, the table's own name is the one-to-many side (the
///   children), the name of the key's column the many-to-one side (the
///   parent), and `table!column` the one-to-many side whose children hold
///   `column`;
/// * otherwise without a hint the target's name, or (deprecated, and never
///   towards a view) the name of the foreign key or of its one column;
/// * otherwise with a hint the target's name, and the hint names the foreign
///   key, its one column on either side, or the junction table.
fn names(schema: &Schema, r: &Relationship, target: &str, hint: Option<&str>) -> bool {
    if let Some((_, function)) = &r.function {
        return function == target;
    }
    let is_fk = r.junction.is_none();
    let single = r.single_column();
    if r.is_self() {
        let children = r.foreign_table == target && r.cardinality == Cardinality::OneToMany;
        return match hint {
            None => {
                children
                    || (r.cardinality == Cardinality::ManyToOne
                        && single.is_some_and(|(source, _)| source == target))
            }
            Some(h) => children && single.is_some_and(|(_, child)| child == h),
        };
    }
    match hint {
        None => {
            r.foreign_table == target
                || (is_fk
                    && !is_view(schema, r)
                    && (r.constraint == target
                        || single.is_some_and(|(source, _)| source == target)))
        }
        Some(h) => {
            r.foreign_table == target
                && ((is_fk
                    && (r.constraint == h
                        || single.is_some_and(|(source, other)| source == h || other == h)))
                    || r.junction.as_ref().is_some_and(|j| j.table == h))
        }
    }
}

/// Whether the target of `r` is a view (or a materialized view).
fn is_view(schema: &Schema, r: &Relationship) -> bool {
    schema
        .table(&r.foreign_schema, &r.foreign_table)
        .is_some_and(|t| matches!(t.kind, TableKind::View | TableKind::MaterializedView))
}

/// The order PostgREST lists candidates in: by target, self-references
/// last, one-to-many before many-to-one before one-to-one before
/// many-to-many, then by key (or junction) and columns; computed ones last.
fn postgrest_order<'a>(a: &'a Relationship, b: &'a Relationship) -> Ordering {
    fn rank(c: Cardinality) -> u8 {
        match c {
            Cardinality::OneToMany => 0,
            Cardinality::ManyToOne => 1,
            Cardinality::OneToOne => 2,
            Cardinality::ManyToMany => 3,
        }
    }
    let first = |r: &'a Relationship| {
        (
            r.function.is_some(),
            r.function.as_ref(),
            (r.foreign_schema.as_str(), r.foreign_table.as_str()),
            r.is_self(),
            rank(r.cardinality),
        )
    };
    let junction = |r: &'a Relationship| {
        r.junction.as_ref().map(|j| {
            (
                (j.schema.as_str(), j.table.as_str()),
                (j.source_constraint.as_str(), j.target_constraint.as_str()),
                j.source_columns.as_slice(),
            )
        })
    };
    // PostgREST keeps a junction's target columns as (target, junction).
    let junction_targets = |r: &'a Relationship| -> Vec<(&str, &str)> {
        r.junction
            .iter()
            .flat_map(|j| &j.target_columns)
            .map(|(junction, target)| (target.as_str(), junction.as_str()))
            .collect()
    };
    first(a)
        .cmp(&first(b))
        .then_with(|| junction(a).cmp(&junction(b)))
        .then_with(|| junction_targets(a).cmp(&junction_targets(b)))
        .then_with(|| (&a.constraint, &a.columns).cmp(&(&b.constraint, &b.columns)))
}

/// PGRST201: more than one relationship matches; the details list them and
/// the hint spells the embed that picks each.
fn ambiguous(table: &Table, relation: &str, many: &[&Relationship]) -> Error {
    let details: Vec<serde_json::Value> = many.iter().map(|r| described(r)).collect();
    let options: Vec<String> = many
        .iter()
        .filter(|r| r.function.is_none())
        .map(|r| {
            let hint = match &r.junction {
                Some(j) => &j.table,
                None => &r.constraint,
            };
            format!("{}!{hint}", r.foreign_table)
        })
        .collect();
    Error::pgrst(
        codes::PGRST201,
        format!(
            "Could not embed because more than one relationship was found for '{}' and '{relation}'",
            table.name
        ),
    )
    .with_details_json(serde_json::Value::Array(details))
    .with_hint(format!(
        "Try changing '{relation}' to one of the following: {}. Find the desired relationship in the 'details' key.",
        quoted_list(&options)
    ))
}

/// One candidate of an ambiguous embed, as PostgREST describes it.
fn described(r: &Relationship) -> serde_json::Value {
    if r.function.is_some() {
        return serde_json::json!({});
    }
    let list = |cols: Vec<&str>| format!("({})", cols.join(", "));
    let using = match &r.junction {
        Some(j) => format!(
            "{} using {}{} and {}{}",
            j.table,
            j.source_constraint,
            list(j.source_columns.iter().map(|(_, c)| c.as_str()).collect()),
            j.target_constraint,
            list(j.target_columns.iter().map(|(c, _)| c.as_str()).collect()),
        ),
        None => format!(
            "{} using {}{} and {}{}",
            r.constraint,
            r.table,
            list(r.columns.iter().map(|(s, _)| s.as_str()).collect()),
            r.foreign_table,
            list(r.columns.iter().map(|(_, t)| t.as_str()).collect()),
        ),
    };
    serde_json::json!({
        "cardinality": r.cardinality.as_str(),
        "embedding": format!("{} with {}", r.table, r.foreign_table),
        "relationship": using,
    })
}

/// PGRST200: nothing matches. The hint suggests a close name among the
/// relations `table` relates to, unless `relation` is one of them (then the
/// embed hint is what is wrong).
fn no_relationship(
    schema: &Schema,
    config: &Config,
    table: &Table,
    relation: &str,
    hint: Option<&str>,
) -> Error {
    let related: Vec<&str> = schema
        .relationships
        .iter()
        .filter(|r| r.schema == table.schema && r.table == table.name)
        .filter(|r| config.exposes(&r.foreign_schema))
        .map(Relationship::name)
        .collect();
    let using = hint
        .map(|h| format!("' using the hint '{h}"))
        .unwrap_or_default();
    let mut err = Error::pgrst(
        codes::PGRST200,
        format!(
            "Could not find a relationship between '{}' and '{relation}' in the schema cache",
            table.name
        ),
    )
    .with_details(format!(
        "Searched for a foreign key relationship between '{}' and '{relation}{using}' in the schema '{}', but no matches were found.",
        table.name, table.schema
    ));
    if !related.contains(&relation) {
        if let Some(close) = crate::schema::loosely_closest_name(relation, related.into_iter()) {
            err = err.with_hint(format!(
                "Perhaps you meant '{close}' instead of '{relation}'."
            ));
        }
    }
    err
}

fn not_embedded(name: &str) -> Error {
    Error::pgrst(
        codes::PGRST108,
        format!("'{name}' is not an embedded resource in this request"),
    )
    .with_hint(format!(
        "Verify that '{name}' is included in the 'select' query parameter."
    ))
}

/// The embed at `path` under `embeds`.
fn find<'p, 'r>(
    embeds: &'p mut [EmbedPlan<'r>],
    path: &[CompactString],
) -> Result<&'p mut EmbedPlan<'r>, Error> {
    let (first, rest) = path.split_first().ok_or_else(|| not_embedded(""))?;
    let embed = embeds
        .iter_mut()
        .find(|e| e.name == first || e.relation == first)
        .ok_or_else(|| not_embedded(first))?;
    if rest.is_empty() {
        Ok(embed)
    } else {
        find(&mut embed.node.embeds, rest)
    }
}

/// Applies the request's embedded parameters (`rel.col=…`, `rel.order`, …) to
/// the embeds they name, and turns root `rel=is.null` filters into null filters.
pub(super) fn apply_params<'r>(
    req: &'r ApiRequest,
    root_conditions: &mut Conditions<'r>,
    embeds: &mut [EmbedPlan<'r>],
    config: &Config,
) -> Result<(), Error> {
    let max_rows = config.max_rows;
    for e in &req.embedded {
        let embed = find(embeds, &e.path)?;
        let node = &mut embed.node;
        match &e.param {
            EmbeddedParam::Condition(c) => {
                // `?rel.child=[not.]is.null` tests the embed `child` of `rel`.
                let child = match c {
                    Condition::Filter(f) => null_test(f).and_then(|null| {
                        let child = node
                            .embeds
                            .iter_mut()
                            .find(|e| e.name == f.field.name || e.relation == f.field.name)?;
                        Some((child, null))
                    }),
                    _ => None,
                };
                match child {
                    Some((child, null)) => child.null_filter = Some(null),
                    None => node.conditions.push(plan_condition(c, node.table)),
                }
            }
            EmbeddedParam::Order(terms) => {
                node.order = terms
                    .iter()
                    .map(|t| PlannedOrder {
                        term: t,
                        column_type: node.table.column(&t.field.name).map(|c| c.resolved_type()),
                        embed: None,
                    })
                    .collect();
            }
            EmbeddedParam::Limit(n) => {
                node.limit = Some(max_rows.map_or(*n, |m| (*n).min(m)));
            }
            EmbeddedParam::Offset(n) => node.offset = *n,
            EmbeddedParam::Distinct(columns) => node.distinct = Some(columns),
        }
    }
    // `rel.is.null` inside logic trees, at the root and in the embeds.
    embed_nulls_in_trees(root_conditions, embeds);
    // `?rel=is.null` / `?rel=not.is.null` on an embedded resource.
    // Filtered in place: `root_conditions` lines up with `req.conditions`.
    let mut originals = req.conditions.iter();
    root_conditions.retain(|_| {
        let Some(Condition::Filter(f)) = originals.next() else {
            return true;
        };
        let Some(null) = null_test(f) else {
            return true;
        };
        match embeds
            .iter_mut()
            .find(|e| e.name == f.field.name || e.relation == f.field.name)
        {
            Some(embed) => {
                embed.null_filter = Some(null);
                false
            }
            None => true,
        }
    });
    Ok(())
}

/// Whether `f` is `is.null` (`Some(true)`) or `not.is.null` (`Some(false)`) on a plain name.
fn null_test(f: &crate::request::Filter) -> Option<bool> {
    if !f.field.json_path.is_empty() {
        return None;
    }
    match (&f.operation, f.negated) {
        (Operation::Is(IsValue::Null), negated) => Some(!negated),
        (Operation::Is(IsValue::NotNull), negated) => Some(negated),
        _ => None,
    }
}

/// Turns `rel.is.null` and `rel.not.is.null` inside the logic trees of
/// `conds` (whose node has `embeds`) into tests of the embed, as PostgREST
/// does: `or=(clients.is.null,name.eq.x)`. Then the same in each embed.
fn embed_nulls_in_trees(conds: &mut [PlannedCondition<'_>], embeds: &mut [EmbedPlan<'_>]) {
    fn walk(children: &mut [PlannedCondition<'_>], embeds: &[EmbedPlan<'_>]) {
        for child in children {
            match child {
                PlannedCondition::Filter(pf) => {
                    let found = null_test(pf.filter).and_then(|null| {
                        let name = pf.filter.field.name.as_str();
                        embeds
                            .iter()
                            .position(|e| e.name == name || e.relation == name)
                            .map(|embed| (embed, null))
                    });
                    if let Some((embed, null)) = found {
                        *child = PlannedCondition::EmbedNull { embed, null };
                    }
                }
                PlannedCondition::Group { children, .. } => walk(children, embeds),
                PlannedCondition::EmbedNull { .. } => {}
            }
        }
    }
    for c in conds.iter_mut() {
        if let PlannedCondition::Group { children, .. } = c {
            walk(children, embeds);
        }
    }
    for e in embeds.iter_mut() {
        let node = &mut e.node;
        embed_nulls_in_trees(&mut node.conditions, &mut node.embeds);
    }
}

/// Resolves `order=rel(col)` terms against the to-one embeds.
pub(super) fn order_embed(
    embeds: &[EmbedPlan<'_>],
    relation: &str,
    parent: &str,
) -> Result<usize, Error> {
    let index = embeds
        .iter()
        .position(|e| e.name == relation || e.relation == relation)
        .ok_or_else(|| not_embedded(relation))?;
    if !embeds[index].to_one() {
        return Err(Error::pgrst(
            codes::PGRST118,
            format!("A related order on '{relation}' is not possible"),
        )
        .with_details(format!(
            "'{parent}' and '{relation}' do not form a many-to-one or one-to-one relationship"
        )));
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::super::testing::{
        config, config_of, error_body, plan_error, plan_of, plan_with, read, request,
    };
    use super::super::{PlannedCondition, Projection};
    use super::*;
    use crate::config::Settings;
    use crate::request::ApiRequest;

    fn get(target: &str) -> ApiRequest {
        request(Method::GET, target, &[], None).expect("the request parses")
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    fn max_rows(n: u64) -> Config {
        config_of(Settings {
            limits: crate::config::Limits::default().max_rows(Some(n)),
            ..Settings::default()
        })
    }

    #[test]
    fn an_embed_by_table_name_follows_the_foreign_key_to_one() {
        let req = get("/items?select=id,authors(name)");
        let plan = plan_of(&req).unwrap();
        let read = read(&plan);
        assert!(matches!(
            read.select.as_slice(),
            [Projection::Column(c), Projection::Embed(0)] if c.field.name == "id"
        ));
        let [e] = read.embeds.as_slice() else {
            panic!("one embed: {:?}", read.embeds)
        };
        assert_eq!(e.name, "authors");
        assert_eq!(e.rel.table, "items");
        assert_eq!(e.rel.foreign_table, "authors");
        assert_eq!(e.rel.cardinality, Cardinality::ManyToOne);
        assert_eq!(e.rel.constraint, "items_author_id_fkey");
        assert_eq!(e.rel.columns, pairs(&[("author_id", "id")]));
        assert!(e.to_one());
        assert_eq!(e.node.table.name, "authors");
        assert!(matches!(
            e.node.select.as_slice(),
            [Projection::Column(c)] if c.field.name == "name" && c.column_type == Some("text")
        ));
        assert_eq!(e.node.limit, None);
        assert!(!e.inner && !e.spread && !e.hidden);
        assert_eq!(e.null_filter, None);
    }

    #[test]
    fn an_alias_names_the_key_and_the_relation_stays_the_table() {
        let req = get("/items?select=id,writer:authors(name)");
        let plan = plan_of(&req).unwrap();
        let e = &read(&plan).embeds[0];
        assert_eq!(e.name, "writer");
        assert_eq!(e.rel.foreign_table, "authors");
        assert_eq!(e.node.table.name, "authors");
    }

    #[test]
    fn to_many_embeds_are_one_to_many_and_inverse_keys() {
        let req = get("/items?select=id,reviews(body)");
        let plan = plan_of(&req).unwrap();
        let e = &read(&plan).embeds[0];
        assert_eq!(e.rel.cardinality, Cardinality::OneToMany);
        assert_eq!(e.rel.constraint, "reviews_item_id_fkey");
        assert_eq!(e.rel.columns, pairs(&[("id", "item_id")]));
        assert!(!e.to_one());
        assert_eq!(e.node.table.name, "reviews");
        // No max_rows configured: no limit.
        assert_eq!(e.node.limit, None);

        let req = get("/authors?select=name,items(name)");
        let plan = plan_of(&req).unwrap();
        let e = &read(&plan).embeds[0];
        assert_eq!(e.rel.cardinality, Cardinality::OneToMany);
        assert_eq!(e.rel.columns, pairs(&[("id", "author_id")]));
    }

    #[test]
    fn a_foreign_key_that_is_unique_is_one_to_one_from_both_sides() {
        let req = get("/items?select=id,item_details(summary)");
        let plan = plan_of(&req).unwrap();
        let e = &read(&plan).embeds[0];
        assert_eq!(e.rel.cardinality, Cardinality::OneToOne);
        assert_eq!(e.rel.constraint, "item_details_item_id_fkey");
        assert_eq!(e.rel.columns, pairs(&[("id", "item_id")]));
        assert!(e.to_one());

        let req = get("/item_details?select=summary,items(name)");
        let plan = plan_of(&req).unwrap();
        let e = &read(&plan).embeds[0];
        assert_eq!(e.rel.cardinality, Cardinality::OneToOne);
        assert_eq!(e.rel.columns, pairs(&[("item_id", "id")]));
        assert!(e.to_one());
    }

    #[test]
    fn many_to_many_goes_through_the_junction() {
        let req = get("/items?select=id,topics(name)");
        let plan = plan_of(&req).unwrap();
        let e = &read(&plan).embeds[0];
        assert_eq!(e.rel.cardinality, Cardinality::ManyToMany);
        assert_eq!(e.rel.foreign_table, "topics");
        assert_eq!(e.rel.constraint, "item_topics_topic_id_fkey");
        assert!(e.rel.columns.is_empty());
        let j = e.rel.junction.as_ref().expect("a junction");
        assert_eq!(j.table, "item_topics");
        assert_eq!(j.source_constraint, "item_topics_item_id_fkey");
        assert_eq!(j.target_constraint, "item_topics_topic_id_fkey");
        assert_eq!(j.source_columns, pairs(&[("id", "item_id")]));
        assert_eq!(j.target_columns, pairs(&[("topic_id", "id")]));
        assert!(!e.to_one());
        assert_eq!(e.node.table.name, "topics");

        // The junction's name is a hint; its keys' names are not (PostgREST
        // matches a constraint hint against direct foreign keys only).
        let req = get("/items?select=id,topics!item_topics(name)");
        let plan = plan_of(&req).unwrap();
        let e = &read(&plan).embeds[0];
        assert_eq!(e.rel.cardinality, Cardinality::ManyToMany);
        for hint in ["item_topics_item_id_fkey", "item_topics_topic_id_fkey"] {
            let err = plan_error(
                Method::GET,
                &format!("/items?select=id,topics!{hint}(name)"),
            );
            assert_eq!(err.postgrest_code(), "PGRST200", "{hint}");
        }
        // The junction itself is a plain one-to-many.
        let req = get("/topics?select=name,item_topics(item_id)");
        let plan = plan_of(&req).unwrap();
        assert_eq!(
            read(&plan).embeds[0].rel.cardinality,
            Cardinality::OneToMany
        );
    }

    #[test]
    fn two_keys_to_one_table_are_ambiguous_with_the_candidates_listed() {
        let err = plan_error(Method::GET, "/messages?select=body,people(name)");
        assert_eq!(err.postgrest_code(), "PGRST201");
        assert_eq!(err.status(), http::StatusCode::MULTIPLE_CHOICES);
        assert_eq!(
            err.message(),
            "Could not embed because more than one relationship was found for 'messages' and 'people'"
        );
        assert_eq!(
            err.hint(),
            Some(
                "Try changing 'people' to one of the following: 'people!messages_recipient_id_fkey', \
                 'people!messages_sender_id_fkey'. Find the desired relationship in the 'details' key."
            )
        );
        assert_eq!(
            error_body(&err)["details"],
            serde_json::json!([
                {
                    "cardinality": "many-to-one",
                    "embedding": "messages with people",
                    "relationship": "messages_recipient_id_fkey using messages(recipient_id) and people(id)",
                },
                {
                    "cardinality": "many-to-one",
                    "embedding": "messages with people",
                    "relationship": "messages_sender_id_fkey using messages(sender_id) and people(id)",
                },
            ])
        );
        // The other way round: two one-to-many candidates.
        let err = plan_error(Method::GET, "/people?select=name,messages(body)");
        assert_eq!(err.postgrest_code(), "PGRST201");
        let body = error_body(&err);
        assert_eq!(body["details"][0]["cardinality"], "one-to-many");
        assert_eq!(body["details"][0]["embedding"], "people with messages");
        assert_eq!(
            body["details"][1]["relationship"],
            "messages_sender_id_fkey using people(id) and messages(sender_id)"
        );
    }

    #[test]
    fn a_constraint_or_a_column_hint_picks_one_of_them() {
        let req = get(
            "/messages?select=id,from:people!messages_sender_id_fkey(name),to:people!recipient_id(name)",
        );
        let plan = plan_of(&req).unwrap();
        let [from, to] = read(&plan).embeds.as_slice() else {
            panic!("two embeds")
        };
        assert_eq!(from.name, "from");
        assert_eq!(from.rel.constraint, "messages_sender_id_fkey");
        assert_eq!(from.rel.columns, pairs(&[("sender_id", "id")]));
        assert_eq!(to.name, "to");
        assert_eq!(to.rel.constraint, "messages_recipient_id_fkey");
        assert_eq!(to.rel.columns, pairs(&[("recipient_id", "id")]));

        // From the referenced side, the hint names the children's column.
        let req = get("/people?select=name,sent:messages!sender_id(body)");
        let plan = plan_of(&req).unwrap();
        let e = &read(&plan).embeds[0];
        assert_eq!(e.rel.cardinality, Cardinality::OneToMany);
        assert_eq!(e.rel.constraint, "messages_sender_id_fkey");
        assert_eq!(e.rel.columns, pairs(&[("id", "sender_id")]));

        // A hint that names nothing: no relationship.
        let err = plan_error(Method::GET, "/messages?select=id,people!nope(name)");
        assert_eq!(err.postgrest_code(), "PGRST200");
        assert_eq!(
            err.message(),
            "Could not find a relationship between 'messages' and 'people' in the schema cache"
        );
    }

    #[test]
    fn inner_and_left_combine_with_a_hint_in_either_order() {
        for (select, inner) in [
            ("reviews!inner(id)", true),
            ("reviews!left(id)", false),
            ("reviews(id)", false),
        ] {
            let req = get(&format!("/items?select=id,{select}"));
            let plan = plan_of(&req).unwrap();
            let e = &read(&plan).embeds[0];
            assert_eq!(e.inner, inner, "{select}");
            assert_eq!(e.rel.foreign_table, "reviews", "{select}");
        }
        for select in [
            "people!sender_id!inner(name)",
            "people!inner!sender_id(name)",
        ] {
            let req = get(&format!("/messages?select=id,{select}"));
            let plan = plan_of(&req).unwrap();
            let e = &read(&plan).embeds[0];
            assert!(e.inner, "{select}");
            assert_eq!(e.rel.constraint, "messages_sender_id_fkey", "{select}");
        }
    }

    #[test]
    fn a_self_reference_by_its_own_name_is_the_children() {
        let req = get("/categories?select=id,categories(id)");
        let plan = plan_of(&req).unwrap();
        let e = &read(&plan).embeds[0];
        assert_eq!(e.rel.cardinality, Cardinality::OneToMany);
        assert_eq!(e.rel.constraint, "categories_parent_id_fkey");
        assert_eq!(e.rel.columns, pairs(&[("id", "parent_id")]));
        assert_eq!(e.node.table.name, "categories");
    }

    /// POSTGREST.md §1.2: on a self-reference, `table!fk_col` is one-to-many
    /// ("the hint names the referencing column of the children", PostgREST's
    /// `family_tree` spec: `childs:family_tree!parent(…)`).
    #[test]
    fn a_self_reference_with_its_key_column_hint_is_the_children() {
        let req = get("/categories?select=id,children:categories!parent_id(id)");
        let plan = plan_of(&req).unwrap();
        let e = &read(&plan).embeds[0];
        assert_eq!(e.name, "children");
        assert_eq!(e.relation, "categories");
        assert_eq!(e.rel.cardinality, Cardinality::OneToMany);
        assert_eq!(e.rel.columns, pairs(&[("id", "parent_id")]));
        assert!(!e.to_one());
    }

    /// PostgREST's `family_tree` spec: `parent(…)` names the parent.
    #[test]
    fn a_self_reference_by_its_key_column_is_the_parent() {
        let req = get("/categories?select=name,parent_id(name)");
        let plan = plan_of(&req).unwrap();
        let e = &read(&plan).embeds[0];
        assert_eq!(e.name, "parent_id");
        assert_eq!(e.relation, "parent_id");
        assert_eq!(e.rel.cardinality, Cardinality::ManyToOne);
        assert_eq!(e.rel.columns, pairs(&[("parent_id", "id")]));
        assert_eq!(e.node.table.name, "categories");
        assert!(e.to_one());
    }

    /// On a self-reference PostgREST takes a hint as the children's column
    /// only: a constraint hint, or the referenced column, names nothing.
    #[test]
    fn a_self_reference_takes_no_other_hint() {
        for select in [
            "categories!categories_parent_id_fkey(id)",
            "categories!id(id)",
            "parent_id!parent_id(id)",
            "categories_parent_id_fkey(id)",
        ] {
            let err = plan_error(Method::GET, &format!("/categories?select=id,{select}"));
            assert_eq!(err.postgrest_code(), "PGRST200", "{select}");
        }
    }

    /// Deprecated, still accepted: the foreign key's name, or its column's,
    /// as the target is the referenced relation.
    #[test]
    fn a_key_or_its_column_as_the_target_is_the_to_one_side() {
        for select in ["sender_id(name)", "messages_sender_id_fkey(name)"] {
            let req = get(&format!("/messages?select=id,{select}"));
            let plan = plan_of(&req).unwrap();
            let e = &read(&plan).embeds[0];
            assert_eq!(e.rel.cardinality, Cardinality::ManyToOne, "{select}");
            assert_eq!(e.rel.constraint, "messages_sender_id_fkey", "{select}");
            assert_eq!(e.node.table.name, "people", "{select}");
        }
        // From the referenced side, the key's name is the children.
        let req = get("/people?select=id,messages_recipient_id_fkey(body)");
        let plan = plan_of(&req).unwrap();
        let e = &read(&plan).embeds[0];
        assert_eq!(e.rel.cardinality, Cardinality::OneToMany);
        assert_eq!(e.rel.columns, pairs(&[("id", "recipient_id")]));
        // An embedded parameter names the embed as the select did.
        let req = get("/messages?select=id,sender_id(name)&sender_id.name=eq.x");
        let plan = plan_of(&req).unwrap();
        assert_eq!(read(&plan).embeds[0].node.conditions.len(), 1);
        let err = plan_error(
            Method::GET,
            "/messages?select=id,sender_id(name)&people.name=eq.x",
        );
        assert_eq!(err.postgrest_code(), "PGRST108");
    }

    /// `reviews.item_id` reaches `items` and the view `cheap_items`; a column
    /// as the target never names a view (PostgREST's issue 1643).
    #[test]
    fn a_column_as_the_target_never_names_a_view() {
        let req = get("/reviews?select=id,item_id(name)");
        let plan = plan_of(&req).unwrap();
        let e = &read(&plan).embeds[0];
        assert_eq!(e.node.table.name, "items");
        // By its name, with the column as the hint, the view is reached.
        let req = get("/reviews?select=id,cheap_items!item_id(id)");
        let plan = plan_of(&req).unwrap();
        let e = &read(&plan).embeds[0];
        assert_eq!(e.node.table.name, "cheap_items");
        assert_eq!(e.rel.cardinality, Cardinality::ManyToOne);
    }

    #[test]
    fn an_unknown_hint_is_named_in_the_details_without_a_suggestion() {
        let err = plan_error(Method::GET, "/messages?select=id,sender:people!space(name)");
        assert_eq!(err.postgrest_code(), "PGRST200");
        assert_eq!(
            err.details(),
            Some(
                "Searched for a foreign key relationship between 'messages' and 'people' using the hint 'space' in the schema 'public', but no matches were found."
            )
        );
        // `people` is related: the hint, not the name, is wrong.
        assert_eq!(err.hint(), None);
    }

    /// Views over an unexposed table with a self-referencing key, as
    /// PostgREST's `job` and `i2459_self_v1` spec cases: the view relates to
    /// itself, once per name it gives the key column.
    #[test]
    fn a_view_over_a_hidden_self_reference_relates_to_itself() {
        let schema: Schema = serde_json::from_value(serde_json::json!({
            "schemas": ["s"],
            "tables": [
                {"schema": "s", "name": "job", "kind": "view", "primary_key": [],
                 "columns": [{"name": "id", "data_type": "integer", "nullable": true},
                             {"name": "parent_id", "data_type": "integer", "nullable": true}]},
                {"schema": "s", "name": "self_v1", "kind": "view", "primary_key": [],
                 "columns": [{"name": "grandparent", "data_type": "integer", "nullable": true},
                             {"name": "parent", "data_type": "integer", "nullable": true},
                             {"name": "id", "data_type": "integer", "nullable": true}]}
            ],
            "foreign_keys": [
                {"name": "parent_fk", "schema": "private", "table": "internal_job",
                 "columns": ["parent_id"], "foreign_schema": "private",
                 "foreign_table": "internal_job", "foreign_columns": ["id"]},
                {"name": "self_t_parent_fkey", "schema": "private", "table": "self_t",
                 "columns": ["parent"], "foreign_schema": "private",
                 "foreign_table": "self_t", "foreign_columns": ["id"]}
            ],
            "view_columns": [
                {"schema": "s", "view": "job", "column": "id", "source_schema": "private",
                 "source_table": "internal_job", "source_column": "id"},
                {"schema": "s", "view": "job", "column": "parent_id", "source_schema": "private",
                 "source_table": "internal_job", "source_column": "parent_id"},
                {"schema": "s", "view": "self_v1", "column": "grandparent", "source_schema": "private",
                 "source_table": "self_t", "source_column": "parent"},
                {"schema": "s", "view": "self_v1", "column": "parent", "source_schema": "private",
                 "source_table": "self_t", "source_column": "parent"},
                {"schema": "s", "view": "self_v1", "column": "id", "source_schema": "private",
                 "source_table": "self_t", "source_column": "id"}
            ]
        }))
        .expect("the schema parses");
        let config = Config::for_tests(&["s"], None);
        let job = schema.table("s", "job").unwrap();
        let parent = resolve(&schema, &config, job, "parent_id", None).unwrap();
        assert_eq!(parent.cardinality, Cardinality::ManyToOne);
        assert_eq!(parent.columns, pairs(&[("parent_id", "id")]));
        let children = resolve(&schema, &config, job, "job", Some("parent_id")).unwrap();
        assert_eq!(children.cardinality, Cardinality::OneToMany);
        assert_eq!(children.columns, pairs(&[("id", "parent_id")]));

        let v1 = schema.table("s", "self_v1").unwrap();
        for name in ["parent", "grandparent"] {
            let r = resolve(&schema, &config, v1, name, None).unwrap();
            assert_eq!(r.cardinality, Cardinality::ManyToOne, "{name}");
            assert_eq!(r.columns, pairs(&[(name, "id")]), "{name}");
        }
        // By its own name, two ways to find the children.
        let err = resolve(&schema, &config, v1, "self_v1", None).unwrap_err();
        assert_eq!(err.postgrest_code(), "PGRST201");
    }

    #[test]
    fn no_relationship_says_where_it_looked_and_suggests_a_name() {
        let err = plan_error(Method::GET, "/items?select=id,author(name)");
        assert_eq!(err.postgrest_code(), "PGRST200");
        assert_eq!(err.status(), http::StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            err.message(),
            "Could not find a relationship between 'items' and 'author' in the schema cache"
        );
        assert_eq!(
            err.details(),
            Some(
                "Searched for a foreign key relationship between 'items' and 'author' in the schema 'public', but no matches were found."
            )
        );
        assert_eq!(
            err.hint(),
            Some("Perhaps you meant 'authors' instead of 'author'.")
        );
        // A table with no relationships at all has nothing to suggest.
        let err = plan_error(Method::GET, "/texts?select=id,items(id)");
        assert_eq!(err.postgrest_code(), "PGRST200");
        assert_eq!(err.hint(), None);
    }

    #[test]
    fn a_spread_hoists_its_columns_and_takes_no_alias() {
        let req = get("/items?select=id,...authors(name)");
        let plan = plan_of(&req).unwrap();
        let read_plan = read(&plan);
        assert!(matches!(
            read_plan.select.as_slice(),
            [Projection::Column(_), Projection::Spread(0)]
        ));
        let e = &read_plan.embeds[0];
        assert!(e.spread);
        assert_eq!(e.name, "authors");
        assert_eq!(e.rel.cardinality, Cardinality::ManyToOne);

        // The grammar has no alias for a spread; a request that had one is refused.
        let parsed = request(Method::GET, "/items?select=a:...authors(name)", &[], None);
        assert_eq!(parsed.unwrap_err().postgrest_code(), "PGRST100");
        let mut req = get("/items?select=...authors(name)");
        let SelectItem::Embed { alias, .. } = &mut req.select[0] else {
            panic!("an embed")
        };
        *alias = Some("a".into());
        let err = plan_of(&req).unwrap_err();
        assert_eq!(err.postgrest_code(), "PGRST100");
        assert_eq!(
            err.message(),
            "A spread embed (...rel) cannot have an alias"
        );
    }

    #[test]
    fn an_empty_select_hides_the_embed() {
        let req = get("/items?select=id,reviews()&reviews.approved=is.true");
        let plan = plan_of(&req).unwrap();
        let read_plan = read(&plan);
        let e = &read_plan.embeds[0];
        assert!(e.hidden);
        assert!(e.node.select.is_empty());
        assert_eq!(e.node.conditions.len(), 1);
        let req = get("/items?select=id,reviews(id)");
        let plan = plan_of(&req).unwrap();
        assert!(!read(&plan).embeds[0].hidden);
    }

    #[test]
    fn embedded_params_reach_their_embed_by_name_or_alias() {
        let req = get(
            "/items?select=id,reviews(id,body)&reviews.order=id.desc&reviews.body=eq.x&reviews.limit=2&reviews.offset=1",
        );
        let plan = plan_of(&req).unwrap();
        let read_plan = read(&plan);
        assert!(read_plan.conditions.is_empty());
        let node = &read_plan.embeds[0].node;
        assert_eq!(node.limit, Some(2));
        assert_eq!(node.offset, 1);
        let [o] = node.order.as_slice() else {
            panic!("one order term")
        };
        assert_eq!(o.term.field.name, "id");
        assert_eq!(o.column_type, Some("integer"));
        assert_eq!(o.embed, None);
        let [PlannedCondition::Filter(f)] = node.conditions.as_slice() else {
            panic!("one filter: {:?}", node.conditions)
        };
        assert_eq!(f.filter.field.name, "body");
        assert_eq!(f.column_type, Some("text"));

        // By alias, and by the relation's name under an alias.
        for param in ["r.limit=3", "reviews.limit=3"] {
            let req = get(&format!("/items?select=id,r:reviews(id)&{param}"));
            let plan = plan_of(&req).unwrap();
            assert_eq!(read(&plan).embeds[0].node.limit, Some(3), "{param}");
        }
        // A path two levels down.
        let req = get("/authors?select=id,items(id,reviews(id))&items.reviews.limit=1");
        let plan = plan_of(&req).unwrap();
        let items = &read(&plan).embeds[0].node;
        assert_eq!(items.limit, None);
        assert_eq!(items.embeds[0].node.limit, Some(1));
    }

    #[test]
    fn an_embedded_param_of_no_embed_is_refused() {
        for (target, name) in [
            ("/items?select=id&reviews.limit=1", "reviews"),
            ("/items?select=id,reviews(id)&authors.name=eq.x", "authors"),
            ("/authors?select=id,items(id)&items.nope.limit=1", "nope"),
        ] {
            let err = plan_error(Method::GET, target);
            assert_eq!(err.postgrest_code(), "PGRST108", "{target}");
            assert_eq!(
                err.message(),
                format!("'{name}' is not an embedded resource in this request"),
                "{target}"
            );
            assert_eq!(
                err.hint(),
                Some(
                    format!("Verify that '{name}' is included in the 'select' query parameter.")
                        .as_str()
                ),
                "{target}"
            );
        }
    }

    #[test]
    fn max_rows_caps_to_many_embeds_and_their_limits() {
        let capped = max_rows(5);
        let req =
            get("/items?select=id,authors(name),reviews(id),topics(id),item_details(summary)");
        let plan = plan_with(&req, &capped).unwrap();
        let limits: Vec<(&str, Option<i64>)> = read(&plan)
            .embeds
            .iter()
            .map(|e| (e.name, e.node.limit))
            .collect();
        assert_eq!(
            limits,
            [
                ("authors", None),
                ("reviews", Some(5)),
                ("topics", Some(5)),
                ("item_details", None),
            ]
        );
        for (limit, expected) in [(10, 5), (2, 2)] {
            let req = get(&format!(
                "/items?select=id,reviews(id)&reviews.limit={limit}"
            ));
            let plan = plan_with(&req, &capped).unwrap();
            assert_eq!(read(&plan).embeds[0].node.limit, Some(expected), "{limit}");
        }
        // Without max_rows, an embedded limit is taken as it is.
        let req = get("/items?select=id,reviews(id)&reviews.limit=10");
        let plan = plan_with(&req, config()).unwrap();
        assert_eq!(read(&plan).embeds[0].node.limit, Some(10));
    }

    #[test]
    fn is_null_on_an_embed_filters_the_parents_by_it() {
        for (filter, null) in [
            ("reviews=is.null", Some(true)),
            ("reviews=not.is.null", Some(false)),
            ("reviews=is.not_null", Some(false)),
            ("reviews=not.is.not_null", Some(true)),
            ("r=is.null", Some(true)),
        ] {
            let req = get(&format!("/items?select=id,r:reviews()&{filter}"));
            let plan = plan_of(&req).unwrap();
            let read_plan = read(&plan);
            assert_eq!(read_plan.embeds[0].null_filter, null, "{filter}");
            assert!(read_plan.conditions.is_empty(), "{filter}");
        }
        // A column of the parent stays a filter of the parent.
        let req = get("/items?select=id,reviews(id)&note=is.null&reviews=is.null");
        let plan = plan_of(&req).unwrap();
        let read_plan = read(&plan);
        assert_eq!(read_plan.embeds[0].null_filter, Some(true));
        let [PlannedCondition::Filter(f)] = read_plan.conditions.as_slice() else {
            panic!("one root filter: {:?}", read_plan.conditions)
        };
        assert_eq!(f.filter.field.name, "note");
        // Another operator on the embed's name is not a null filter.
        let req = get("/items?select=id,reviews(id)&reviews=eq.1");
        let plan = plan_of(&req).unwrap();
        assert_eq!(read(&plan).embeds[0].null_filter, None);
        assert_eq!(read(&plan).conditions.len(), 1);
    }

    #[test]
    fn order_by_a_column_of_a_to_one_embed() {
        let req = get("/items?select=id,writer:authors(name)&order=writer(name).desc,id");
        let plan = plan_of(&req).unwrap();
        let order = &read(&plan).order;
        assert_eq!(order.len(), 2);
        assert_eq!(order[0].embed, Some(0));
        assert_eq!(order[0].term.field.name, "name");
        assert_eq!(order[0].column_type, Some("text"));
        assert_eq!(order[1].embed, None);
        assert_eq!(order[1].column_type, Some("integer"));

        let err = plan_error(
            Method::GET,
            "/items?select=id,reviews(id)&order=reviews(id)",
        );
        assert_eq!(err.postgrest_code(), "PGRST118");
        assert_eq!(
            err.message(),
            "A related order on 'reviews' is not possible"
        );
        let err = plan_error(Method::GET, "/items?select=id&order=authors(name)");
        assert_eq!(err.postgrest_code(), "PGRST108");
    }

    fn nested_categories(levels: usize) -> String {
        let mut select = "id".to_owned();
        for _ in 0..levels {
            select = format!("id,categories({select})");
        }
        format!("/categories?select={select}")
    }

    #[test]
    fn embedding_is_limited_in_depth() {
        let max = crate::config::Limits::default().max_depth;
        let req = get(&nested_categories(max));
        let plan = plan_of(&req).unwrap();
        let mut depth = 0;
        let mut node = read(&plan);
        while let [e] = node.embeds.as_slice() {
            depth += 1;
            node = &e.node;
        }
        assert_eq!(depth, max);

        // One level further down is refused by the limit, naming it.
        let req = get(&nested_categories(max + 1));
        let err = plan_of(&req).unwrap_err();
        assert_eq!(err.postgrest_code(), "PGRST100");
        assert_eq!(
            err.message(),
            format!("The request has more levels of embedding than the limit of {max}")
        );
        assert_eq!(
            err.details(),
            Some(format!("The server's max_depth limit is {max}").as_str())
        );
        // The grammar itself stops at MAX_NESTING.
        let nesting = crate::request::MAX_NESTING;
        let err = request(Method::GET, &nested_categories(nesting + 1), &[], None).unwrap_err();
        assert_eq!(err.postgrest_code(), "PGRST100");
    }

    #[test]
    fn a_view_embeds_through_its_base_table_keys() {
        let req = get("/cheap_items?select=id,reviews(id)");
        let plan = plan_of(&req).unwrap();
        let e = &read(&plan).embeds[0];
        assert_eq!(e.rel.table, "cheap_items");
        assert_eq!(e.rel.cardinality, Cardinality::OneToMany);
        assert_eq!(e.rel.columns, pairs(&[("id", "item_id")]));
        // The view does not project author_id: no relationship to authors.
        let err = plan_error(Method::GET, "/cheap_items?select=id,authors(name)");
        assert_eq!(err.postgrest_code(), "PGRST200");
    }
}
