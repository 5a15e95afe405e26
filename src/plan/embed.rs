//! Planning resource embedding: `select=*,author:authors(name),comments(body)`.

use super::{PlannedCondition, PlannedOrder, Projection, ReadPlan, SelectColumn, plan_condition};
use crate::config::Config;
use crate::error::{Error, ErrorKind, codes};
use crate::request::{ApiRequest, Condition, EmbeddedParam, IsValue, Operation, SelectItem};
use crate::schema::{Cardinality, Relationship, Schema, Table};

/// An embedded resource: the relationship it follows and its own read plan.
#[derive(Clone, Debug)]
pub(crate) struct EmbedPlan<'r> {
    /// The key it gets in the parent's objects: its alias, or the relation's name.
    pub(crate) name: &'r str,
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
}

impl EmbedPlan<'_> {
    pub(crate) fn to_one(&self) -> bool {
        self.rel.cardinality.is_to_one()
    }
}

/// Embeds nested deeper than this are refused: the parser's limit on nesting.
const MAX_DEPTH: usize = crate::request::MAX_NESTING;

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("'{i}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Plans the select list of `table`: columns, and embeds with their own plans.
pub(super) fn plan_select<'r>(
    items: &'r [SelectItem],
    table: &'r Table,
    schema: &'r Schema,
    config: &Config,
    depth: usize,
) -> Result<(Vec<Projection<'r>>, Vec<EmbedPlan<'r>>), Error> {
    let mut select = Vec::with_capacity(items.len());
    let mut embeds = Vec::new();
    for item in items {
        match item {
            SelectItem::Star => select.push(Projection::Star),
            SelectItem::Column {
                aggregate: Some(_), ..
            }
            | SelectItem::Column { field: None, .. } => {
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
            } => select.push(Projection::Column(SelectColumn {
                field,
                alias: alias.as_deref(),
                cast: cast.as_deref(),
                column_type: table.column(&field.name).map(|c| c.resolved_type()),
            })),
            SelectItem::Embed {
                alias,
                relation,
                hints,
                spread,
                select: inner,
            } => {
                if depth >= MAX_DEPTH {
                    return Err(Error::new(
                        ErrorKind::InvalidRequest,
                        format!("Embedding is limited to {MAX_DEPTH} levels"),
                    ));
                }
                let mut join_inner = false;
                let mut hint = None;
                for h in hints {
                    match h.as_str() {
                        "inner" => join_inner = true,
                        "left" => join_inner = false,
                        other => hint = Some(other),
                    }
                }
                let rel = resolve(schema, table, relation, hint)?;
                let target = schema
                    .table(&rel.foreign_schema, &rel.foreign_table)
                    .ok_or_else(|| no_relationship(schema, table, relation))?;
                let (child_select, child_embeds) =
                    plan_select(inner, target, schema, config, depth + 1)?;
                let max_rows = config.max_rows;
                let node = ReadPlan {
                    table: target,
                    select: child_select,
                    conditions: Vec::new(),
                    order: Vec::new(),
                    limit: if rel.cardinality.is_to_one() {
                        None
                    } else {
                        max_rows
                    },
                    offset: 0,
                    media: crate::request::MediaType::Json,
                    headers_only: false,
                    count: None,
                    max_rows: None,
                    embeds: child_embeds,
                };
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
                    rel,
                    hidden: inner.is_empty(),
                    node,
                    inner: join_inner,
                    spread: *spread,
                    null_filter: None,
                });
            }
        }
    }
    Ok((select, embeds))
}

/// The relationship `relation` names from `table`, narrowed by `hint` (a
/// constraint, a column on either side, or a junction table).
fn resolve<'r>(
    schema: &'r Schema,
    table: &Table,
    relation: &str,
    hint: Option<&str>,
) -> Result<&'r Relationship, Error> {
    let mut candidates: Vec<&Relationship> = schema
        .relationships
        .iter()
        .filter(|r| r.schema == table.schema && r.table == table.name && r.name() == relation)
        .collect();
    // A computed relationship overrides the detected ones of the same name.
    if candidates.iter().any(|r| r.function.is_some()) {
        candidates.retain(|r| r.function.is_some());
    }
    if let Some(h) = hint {
        let on_source = |r: &&Relationship| r.columns.iter().any(|(s, _)| s == h);
        let matches = |r: &&Relationship| {
            r.constraint == h
                || r.columns.iter().any(|(s, t)| s == h || t == h)
                || r.junction.as_ref().is_some_and(|j| {
                    j.table == h || j.source_constraint == h || j.target_constraint == h
                })
        };
        candidates.retain(matches);
        // A column hint names the foreign key column of the parent first.
        if candidates.len() > 1 && candidates.iter().any(on_source) {
            candidates.retain(on_source);
        }
    } else if candidates.len() > 1 && table.name == relation {
        // A self-reference by the table's own name is the one-to-many side.
        candidates.retain(|r| r.cardinality == Cardinality::OneToMany);
    }
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(no_relationship(schema, table, relation)),
        many => {
            let details: Vec<serde_json::Value> = many
                .iter()
                .map(|r| {
                    let using = match &r.junction {
                        Some(j) => format!(
                            "{}.{} using {}, {}",
                            j.schema, j.table, j.source_constraint, j.target_constraint
                        ),
                        None => {
                            let (s, t): (Vec<String>, Vec<String>) =
                                r.columns.iter().cloned().unzip();
                            format!(
                                "{} using {}({}) and {}({})",
                                r.constraint,
                                r.table,
                                s.join(", "),
                                r.foreign_table,
                                t.join(", ")
                            )
                        }
                    };
                    serde_json::json!({
                        "cardinality": r.cardinality.as_str(),
                        "embedding": format!("{} with {}", r.table, r.foreign_table),
                        "relationship": using,
                    })
                })
                .collect();
            let options: Vec<String> = many
                .iter()
                .map(|r| {
                    let hint = match &r.junction {
                        Some(j) => j.table.clone(),
                        None => r.constraint.clone(),
                    };
                    format!("{relation}!{hint}")
                })
                .collect();
            Err(Error::pgrst(codes::PGRST201,
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
            )
        }
    }
}

fn no_relationship(schema: &Schema, table: &Table, relation: &str) -> Error {
    let related = schema
        .relationships
        .iter()
        .filter(|r| r.schema == table.schema && r.table == table.name)
        .map(Relationship::name);
    let mut err = Error::pgrst(codes::PGRST200,
        format!(
            "Could not find a relationship between '{}' and '{relation}' in the schema cache",
            table.name
        ),
    )
    .with_details(format!(
        "Searched for a foreign key relationship between '{}' and '{relation}' in the schema '{}', but no matches were found.",
        table.name, table.schema
    ))
    ;
    if let Some(close) = crate::schema::closest_name(relation, related) {
        err = err.with_hint(format!(
            "Perhaps you meant '{close}' instead of '{relation}'."
        ));
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
    path: &[String],
) -> Result<&'p mut EmbedPlan<'r>, Error> {
    let (first, rest) = path.split_first().ok_or_else(|| not_embedded(""))?;
    let embed = embeds
        .iter_mut()
        .find(|e| e.name == first || e.rel.name() == first)
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
    root_conditions: &mut Vec<PlannedCondition<'r>>,
    embeds: &mut [EmbedPlan<'r>],
    config: &Config,
) -> Result<(), Error> {
    let max_rows = config.max_rows;
    for e in &req.embedded {
        let embed = find(embeds, &e.path)?;
        let node = &mut embed.node;
        match &e.param {
            EmbeddedParam::Condition(c) => node.conditions.push(plan_condition(c, node.table)),
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
        }
    }
    // `?rel=is.null` / `?rel=not.is.null` on an embedded resource.
    let mut kept = Vec::with_capacity(req.conditions.len());
    for (planned, original) in root_conditions.drain(..).zip(&req.conditions) {
        if let Condition::Filter(f) = original {
            let null = match (&f.operation, f.negated) {
                (Operation::Is(IsValue::Null), negated) => Some(!negated),
                (Operation::Is(IsValue::NotNull), negated) => Some(negated),
                _ => None,
            };
            if let (Some(null), true) = (null, f.field.json_path.is_empty()) {
                if let Some(embed) = embeds
                    .iter_mut()
                    .find(|e| e.name == f.field.name || e.rel.name() == f.field.name)
                {
                    embed.null_filter = Some(null);
                    continue;
                }
            }
        }
        kept.push(planned);
    }
    *root_conditions = kept;
    Ok(())
}

/// Resolves `order=rel(col)` terms against the to-one embeds.
pub(super) fn order_embed(embeds: &[EmbedPlan<'_>], relation: &str) -> Result<usize, Error> {
    let index = embeds
        .iter()
        .position(|e| e.name == relation || e.rel.name() == relation)
        .ok_or_else(|| not_embedded(relation))?;
    if !embeds[index].to_one() {
        return Err(Error::pgrst(
            codes::PGRST118,
            format!("A related order on '{relation}' is not possible"),
        )
        .with_hint("Only to-one relationships can be used to order the parent"));
    }
    Ok(index)
}
