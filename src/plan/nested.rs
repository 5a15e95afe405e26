//! Planning nested inserts (beyond PostgREST): a POST whose objects name
//! relationships of their table beside its columns.
//!
//! The plan is a tree with one [`InsertNode`] per relationship path: which
//! table each level writes, and for each relationship key which side holds
//! the foreign key, so the executor knows the order — parents first (their
//! keys go into the rows), then the rows, then children (taking the rows'
//! keys) and many-to-many links (the targets, then a junction row for each).
//! Every relationship is resolved, and the shape limits are checked, before
//! any statement runs. The representation is the request's own read shape
//! ([`WritePlan::shape`]), narrowed to the inserted rows by primary key at run
//! time.

use super::write::{WriteKind, WritePlan, write_prefs, write_shape};
use super::{ReadPlan, over_limit};
use crate::config::Config;
use crate::error::{Error, ErrorKind, codes};
use crate::request::{ApiRequest, BoolOp, CompareOp, Condition, Field, Filter, Operation};
use crate::schema::{Cardinality, Relationship, Schema, Table};

/// A row of a nested insert: a JSON object.
pub(crate) type JsonRow = serde_json::Map<String, serde_json::Value>;

/// A planned nested insert.
#[derive(Clone, Debug)]
pub(crate) struct NestedPlan<'r> {
    /// The top level, as a plain insert would be planned: its preferences,
    /// `Preference-Applied`, transaction end and representation.
    pub(crate) write: WritePlan<'r>,
    /// What each level writes and in which order.
    pub(crate) root: InsertNode<'r>,
    /// The body's objects.
    pub(crate) rows: Vec<JsonRow>,
}

/// One level of a nested insert: a table and the relationships its objects name.
#[derive(Clone, Debug)]
pub(crate) struct InsertNode<'r> {
    pub(crate) table: &'r Table,
    pub(crate) links: Vec<Link<'r>>,
}

/// A key of a level's objects that names a relationship.
#[derive(Clone, Debug)]
pub(crate) struct Link<'r> {
    /// The key in the objects.
    pub(crate) key: String,
    pub(crate) rel: &'r Relationship,
    pub(crate) side: Side<'r>,
    /// The related table's level.
    pub(crate) node: InsertNode<'r>,
}

/// Which side of a relationship holds its key.
#[derive(Clone, Debug)]
pub(crate) enum Side<'r> {
    /// This table holds it: the related row goes in first, its key into this row.
    Parent,
    /// The related table holds it: its rows go in after, taking this row's key.
    Children,
    /// A junction holds both: the related rows, then a junction row for each.
    Linked(&'r Table),
}

impl Side<'_> {
    /// Whether the related rows go in before this level's.
    pub(crate) fn first(&self) -> bool {
        matches!(self, Side::Parent)
    }
}

/// Whether `req` is a nested insert into `table`: a JSON POST whose keys
/// name a relationship of the table that is not one of its columns.
pub(crate) fn is_nested(req: &ApiRequest, schema: &Schema, config: &Config, table: &Table) -> bool {
    let (crate::request::Action::Insert, Some(payload)) = (req.action, req.payload.as_ref()) else {
        return false;
    };
    !payload.csv
        && req.columns.is_none()
        && payload.keys.iter().any(|k| {
            table.column(k).is_none() && super::relationship(schema, config, table, k, None).is_ok()
        })
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidRequest, message)
}

/// Plans a nested insert into `table` (see [`is_nested`]).
pub(crate) fn plan_nested<'r>(
    req: &'r ApiRequest,
    table: &'r Table,
    schema: &'r Schema,
    config: &Config,
) -> Result<NestedPlan<'r>, Error> {
    if req.on_conflict.is_some() || req.prefs.resolution.is_some() {
        return Err(invalid("A nested insert cannot be an upsert")
            .with_hint("Upsert the related rows with requests of their own, or in a batch"));
    }
    let payload = req
        .payload
        .as_ref()
        .ok_or_else(|| Error::pgrst(codes::PGRST102, "Empty or invalid json"))?;
    let rows: Vec<JsonRow> = match serde_json::from_str::<serde_json::Value>(&payload.json) {
        Ok(serde_json::Value::Object(row)) => vec![row],
        Ok(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                serde_json::Value::Object(row) => Ok(row),
                _ => Err(invalid("Each element of the body is an object")),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(invalid("The body is an object or an array of objects")),
    };
    let mut paths = 0;
    let root = node(schema, config, table, &rows, 1, &mut paths)?;
    let shape = write_shape(req, table, schema, config)?;
    let mut applied = Vec::new();
    let prefs = write_prefs(req, config, &mut applied);
    let columns = root_columns(table, &rows);
    Ok(NestedPlan {
        write: WritePlan {
            kind: WriteKind::Insert {
                columns,
                conflict: None,
                put_key: Vec::new(),
            },
            payload: Some(payload),
            defaults: Vec::new(),
            shape,
            return_: prefs.return_,
            applied,
            max_affected: prefs.max_affected,
            tx_end: prefs.tx_end,
            count: req.prefs.count,
        },
        root,
        rows,
    })
}

/// The columns of `table` that the top-level objects name.
fn root_columns<'r>(table: &'r Table, rows: &[JsonRow]) -> Vec<&'r str> {
    table
        .columns
        .iter()
        .filter(|c| rows.iter().any(|r| r.contains_key(&c.name)))
        .map(|c| c.name.as_str())
        .collect()
}

/// The level of `table` for `rows`: every key of them that is not a column
/// is a relationship, resolved, and its related objects planned in turn.
fn node<'r>(
    schema: &'r Schema,
    config: &Config,
    table: &'r Table,
    rows: &[JsonRow],
    depth: usize,
    paths: &mut usize,
) -> Result<InsertNode<'r>, Error> {
    let limits = &config.limits;
    let mut keys: Vec<&str> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for row in rows {
        for k in row.keys() {
            if table.column(k).is_none() && seen.insert(k.as_str()) {
                keys.push(k);
            }
        }
    }
    let mut links = Vec::with_capacity(keys.len());
    for key in keys {
        let rel = super::relationship(schema, config, table, key, None).map_err(|_| {
            Error::pgrst(
                codes::PGRST204,
                format!(
                    "Could not find the '{key}' column or relationship of '{}' in the schema cache",
                    table.name
                ),
            )
        })?;
        *paths += 1;
        over_limit(
            "relationship paths in a nested insert",
            *paths,
            limits.max_embeds,
            "max_embeds",
        )?;
        over_limit(
            "levels in a nested insert",
            depth,
            limits.max_depth,
            "max_depth",
        )?;
        let holds_key = schema.foreign_keys.iter().any(|fk| {
            fk.name == rel.constraint && fk.schema == rel.schema && fk.table == rel.table
        });
        let side = match rel.cardinality {
            Cardinality::ManyToMany => {
                let junction = rel
                    .junction
                    .as_ref()
                    .and_then(|j| schema.table(&j.schema, &j.table))
                    .ok_or_else(|| {
                        invalid(format!("'{key}' has no junction table to insert into"))
                    })?;
                Side::Linked(junction)
            }
            Cardinality::ManyToOne => Side::Parent,
            Cardinality::OneToOne if holds_key => Side::Parent,
            _ => Side::Children,
        };
        if rel.function.is_some() {
            return Err(invalid(format!(
                "'{key}' is a computed relationship: rows cannot be inserted through it"
            )));
        }
        let target = schema
            .table(&rel.foreign_schema, &rel.foreign_table)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "A related table went missing"))?;
        let related = related_rows(rows, key, side.first())?;
        let node = node(schema, config, target, &related, depth + 1, paths)?;
        links.push(Link {
            key: key.to_owned(),
            rel,
            side,
            node,
        });
    }
    Ok(InsertNode { table, links })
}

/// The objects under `key` in `rows`: one object each for a to-one
/// relationship (`parent`), an array of objects (or one object) for a
/// to-many one; `null` is none.
pub(crate) fn related_rows(
    rows: &[JsonRow],
    key: &str,
    parent: bool,
) -> Result<Vec<JsonRow>, Error> {
    let mut out = Vec::new();
    for row in rows {
        match (row.get(key), parent) {
            (None | Some(serde_json::Value::Null), _) => {}
            (Some(serde_json::Value::Object(one)), _) => out.push(one.clone()),
            (Some(serde_json::Value::Array(items)), false) => {
                for item in items {
                    match item {
                        serde_json::Value::Object(one) => out.push(one.clone()),
                        _ => return Err(to_many(key)),
                    }
                }
            }
            (Some(_), true) => {
                return Err(invalid(format!(
                    "'{key}' is a to-one relationship: its value is an object"
                )));
            }
            (Some(_), false) => return Err(to_many(key)),
        }
    }
    Ok(out)
}

fn to_many(key: &str) -> Error {
    invalid(format!(
        "'{key}' is a to-many relationship: its value is an array of objects"
    ))
}

/// The conditions that pick `rows` of `table` by primary key.
pub(crate) fn key_conditions(table: &Table, rows: &[JsonRow]) -> Result<Vec<Condition>, Error> {
    if table.primary_key.is_empty() {
        return Err(invalid(format!(
            "The representation of a nested insert into '{}' needs its primary key",
            table.name
        )));
    }
    let text = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let filter = |column: &str, operation| {
        Condition::Filter(Filter {
            embed_path: Vec::new(),
            field: Field {
                name: column.into(),
                json_path: Vec::new(),
            },
            negated: false,
            operation,
        })
    };
    Ok(match table.primary_key.as_slice() {
        [key] => vec![filter(
            key,
            Operation::In(rows.iter().map(|r| text(r.get(key)).into()).collect()),
        )],
        keys => vec![Condition::Group {
            negated: false,
            op: BoolOp::Or,
            children: rows
                .iter()
                .map(|r| Condition::Group {
                    negated: false,
                    op: BoolOp::And,
                    children: keys
                        .iter()
                        .map(|k| {
                            let value = text(r.get(k));
                            filter(
                                k,
                                Operation::Compare {
                                    op: CompareOp::Eq,
                                    quantifier: None,
                                    value: value.into(),
                                },
                            )
                        })
                        .collect(),
                })
                .collect(),
        }],
    })
}

/// `shape` narrowed to `conditions`: the read of a nested insert's rows.
pub(crate) fn read_back<'a>(shape: &ReadPlan<'a>, conditions: &'a [Condition]) -> ReadPlan<'a> {
    let mut read = shape.clone();
    read.conditions = conditions
        .iter()
        .map(|c| super::plan_condition(c, shape.table))
        .collect();
    read
}
