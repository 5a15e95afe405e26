//! Planning writes: POST (insert, upsert), PUT, PATCH and DELETE.

use super::{PlannedCondition, ReadPlan, plan_condition, plan_shape};
use crate::config::Config;
use crate::error::{Error, ErrorKind, codes};
use crate::request::{
    Action, ApiRequest, CompareOp, Condition, Operation, Payload, Resolution, Return, Shape, TxEnd,
};
use crate::schema::{Column, Table};

/// What a write does to its table.
#[derive(Clone, Debug)]
pub(crate) enum WriteKind<'r> {
    /// `INSERT … SELECT … FROM json_populate_record[set]($1)`, maybe `ON CONFLICT`.
    Insert {
        columns: Vec<&'r str>,
        conflict: Option<(Vec<&'r str>, Resolution)>,
        /// PUT: the primary key values of the URL, which the body must carry.
        put_key: Vec<(&'r str, &'r str)>,
    },
    /// `UPDATE … SET` the payload's columns `WHERE` the conditions.
    Update {
        columns: Vec<&'r str>,
        conditions: Vec<PlannedCondition<'r>>,
    },
    /// `DELETE … WHERE` the conditions.
    Delete {
        conditions: Vec<PlannedCondition<'r>>,
    },
}

/// A planned write. `shape` says how the affected rows are represented in the
/// body (its `select`, `order` and media type); its conditions are empty.
#[derive(Clone, Debug)]
pub(crate) struct WritePlan<'r> {
    pub(crate) kind: WriteKind<'r>,
    pub(crate) payload: Option<&'r Payload>,
    /// `missing=default`: columns of the payload that have a default.
    pub(crate) defaults: Vec<&'r Column>,
    pub(crate) shape: ReadPlan<'r>,
    pub(crate) return_: Return,
    /// The preferences honoured, for `Preference-Applied`.
    pub(crate) applied: Vec<String>,
    /// `handling=strict` with `max-affected=N`.
    pub(crate) max_affected: Option<i64>,
    pub(crate) tx_end: TxEnd,
    pub(crate) count: Option<crate::request::Count>,
}

impl WritePlan<'_> {
    pub(crate) fn table(&self) -> &Table {
        self.shape.table
    }
}

fn missing_column(table: &Table, column: &str) -> Error {
    Error::pgrst(
        codes::PGRST204,
        format!(
            "Could not find the '{column}' column of '{}' in the schema cache",
            table.name
        ),
    )
}

/// Plans a write on `table`.
pub(crate) fn plan_write<'r>(
    req: &'r ApiRequest,
    table: &'r Table,
    schema: &'r crate::schema::Schema,
    config: &Config,
) -> Result<WritePlan<'r>, Error> {
    let mut shape = plan_shape(req, table, schema, config)?;
    // Root filters select the rows a PATCH or DELETE changes; the representation is those rows.
    shape.conditions.clear();
    // The representation of a write is every affected row: no paging.
    shape.limit = None;
    shape.offset = 0;
    shape.count = None;
    shape.max_rows = None;
    let prefs = &req.prefs;
    let mut applied: Vec<String> = Vec::new();
    let return_ = prefs.return_.unwrap_or_default();
    if let Some(r) = prefs.return_ {
        applied.push(r.as_str().into());
    }
    if let Some(c) = req.prefs.count {
        applied.push(c.as_str().into());
    }

    let payload = req.payload.as_ref();
    let payload_columns = || -> Result<Vec<&'r str>, Error> {
        let names: Vec<&'r str> = match (&req.columns, payload) {
            (Some(cols), _) => cols.iter().map(String::as_str).collect(),
            (None, Some(p)) => p.keys.iter().map(String::as_str).collect(),
            (None, None) => Vec::new(),
        };
        for name in &names {
            if table.column(name).is_none() {
                return Err(missing_column(table, name));
            }
        }
        Ok(names)
    };

    let kind = match req.action {
        Action::Insert => {
            let columns = payload_columns()?;
            let conflict_target: Option<Vec<&'r str>> = match &req.on_conflict {
                Some(cols) => {
                    for c in cols {
                        if table.column(c).is_none() {
                            return Err(missing_column(table, c));
                        }
                    }
                    Some(cols.iter().map(String::as_str).collect())
                }
                None if !table.primary_key.is_empty() => {
                    Some(table.primary_key.iter().map(String::as_str).collect())
                }
                None => None,
            };
            let conflict = match (prefs.resolution, conflict_target) {
                (Some(resolution), Some(target)) => {
                    applied.push(resolution.as_str().into());
                    Some((target, resolution))
                }
                _ => None,
            };
            WriteKind::Insert {
                columns,
                conflict,
                put_key: Vec::new(),
            }
        }
        Action::Upsert => plan_put(req, table, payload_columns()?)?,
        Action::Update => WriteKind::Update {
            columns: payload_columns()?,
            conditions: mutation_conditions(req, table, config)?,
        },
        Action::Delete => WriteKind::Delete {
            conditions: mutation_conditions(req, table, config)?,
        },
        other => {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("{} is not a write", other.verb()),
            ));
        }
    };

    let mut defaults = Vec::new();
    if prefs.missing_default && matches!(req.action, Action::Insert | Action::Update) {
        applied.push("missing=default".into());
        if let WriteKind::Insert { columns, .. } | WriteKind::Update { columns, .. } = &kind {
            for name in columns {
                if let Some(column) = table.column(name).filter(|c| c.default.is_some()) {
                    defaults.push(column);
                }
            }
        }
    }
    let mut max_affected = None;
    if prefs.strict {
        applied.push("handling=strict".into());
        if let Some(n) = prefs.max_affected {
            if matches!(req.action, Action::Update | Action::Delete) {
                max_affected = Some(n);
                applied.push(format!("max-affected={n}"));
            }
        }
    }
    let tx_end = match prefs.tx {
        Some(tx) if config.tx_override => {
            applied.push(tx.as_str().into());
            tx
        }
        _ => TxEnd::Commit,
    };
    if req.action.has_body() && payload.is_none() {
        return Err(Error::pgrst(codes::PGRST102, "Empty or invalid json"));
    }
    Ok(WritePlan {
        kind,
        payload,
        defaults,
        shape,
        return_,
        applied,
        max_affected,
        tx_end,
        count: prefs.count,
    })
}

/// The conditions of a PATCH or DELETE; with `require_filter`, at least one.
fn mutation_conditions<'r>(
    req: &'r ApiRequest,
    table: &'r Table,
    config: &Config,
) -> Result<Vec<PlannedCondition<'r>>, Error> {
    if config.require_filter && req.conditions.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            format!("{} requires a filter", req.action.verb()),
        )
        .with_hint(format!(
            "Add a filter such as ?id=eq.1; to affect every row of '{}', filter on a condition every row meets",
            table.name
        )));
    }
    Ok(req
        .conditions
        .iter()
        .map(|c| plan_condition(c, table))
        .collect())
}

/// `PUT /t?pk=eq.v`: the filters are exactly the primary key, with `eq`.
fn plan_put<'r>(
    req: &'r ApiRequest,
    table: &'r Table,
    columns: Vec<&'r str>,
) -> Result<WriteKind<'r>, Error> {
    let invalid = || {
        Error::pgrst(
            codes::PGRST105,
            "Filters must include all and only primary key columns with 'eq' operators",
        )
    };
    if req.limit.is_some() || req.offset.is_some() {
        return Err(Error::pgrst(
            codes::PGRST114,
            "limit/offset querystring parameters are not allowed for PUT",
        ));
    }
    if table.primary_key.is_empty() {
        return Err(invalid());
    }
    let mut put_key = Vec::new();
    for c in &req.conditions {
        match c {
            Condition::Filter(f)
                if !f.negated
                    && f.field.json_path.is_empty()
                    && table.primary_key.contains(&f.field.name) =>
            {
                match &f.operation {
                    Operation::Compare {
                        op: CompareOp::Eq,
                        quantifier: None,
                        value,
                    } => put_key.push((f.field.name.as_str(), value.as_str())),
                    _ => return Err(invalid()),
                }
            }
            _ => return Err(invalid()),
        }
    }
    let mut named: Vec<&str> = put_key.iter().map(|(k, _)| *k).collect();
    named.sort_unstable();
    named.dedup();
    if named.len() != put_key.len() || named.len() != table.primary_key.len() {
        return Err(invalid());
    }
    if let Some(p) = &req.payload {
        if p.shape == Shape::Array && p.rows != 1 {
            return Err(Error::pgrst(
                codes::PGRST102,
                "PUT takes a single object, or an array of exactly one",
            ));
        }
    }
    let conflict: Vec<&'r str> = table.primary_key.iter().map(String::as_str).collect();
    Ok(WriteKind::Insert {
        columns,
        conflict: Some((conflict, Resolution::MergeDuplicates)),
        put_key,
    })
}
