//! Relationships between relations, derived from foreign keys: many-to-one and
//! its inverse one-to-many (one-to-one when the key columns are unique),
//! many-to-many through junction tables, and the same for every view that
//! projects the key columns (followed through chains of views).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{ForeignKey, Schema};

/// How many rows of the target one row of the source relates to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Cardinality {
    /// The source holds the foreign key: at most one target row.
    ManyToOne,
    /// The target holds the foreign key: any number of target rows.
    OneToMany,
    /// A foreign key over unique columns, from either side: at most one row.
    OneToOne,
    /// Through a junction table holding foreign keys to both.
    ManyToMany,
}

impl Cardinality {
    /// Whether the target is at most one row (an object, not an array).
    pub fn is_to_one(self) -> bool {
        matches!(self, Self::ManyToOne | Self::OneToOne)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ManyToOne => "many-to-one",
            Self::OneToMany => "one-to-many",
            Self::OneToOne => "one-to-one",
            Self::ManyToMany => "many-to-many",
        }
    }
}

/// The junction of a many-to-many relationship.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Junction {
    /// Schema of the junction table.
    pub schema: String,
    /// The junction table.
    pub table: String,
    /// The junction's foreign key to the source.
    pub source_constraint: String,
    /// The junction's foreign key to the target.
    pub target_constraint: String,
    /// (source column, junction column) pairs.
    pub source_columns: Vec<(String, String)>,
    /// (junction column, target column) pairs.
    pub target_columns: Vec<(String, String)>,
}

/// A way to embed `foreign_table` rows in `table` rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Relationship {
    /// Schema of the source.
    pub schema: String,
    /// The source table or view.
    pub table: String,
    /// Schema of the target.
    pub foreign_schema: String,
    /// The target table or view.
    pub foreign_table: String,
    /// How many target rows one source row relates to.
    pub cardinality: Cardinality,
    /// The foreign key behind it (for many-to-many, the junction's key to the target).
    pub constraint: String,
    /// (source column, target column) pairs that join them (empty for many-to-many).
    pub columns: Vec<(String, String)>,
    /// The junction of a many-to-many relationship.
    pub junction: Option<Junction>,
    /// A computed relationship: the function (schema, name) taking a source row
    /// and returning target rows; embeds name it by the function's name.
    pub function: Option<(String, String)>,
}

impl Relationship {
    /// The name an embed uses for it: the function's, or the target's.
    pub fn name(&self) -> &str {
        match &self.function {
            Some((_, name)) => name,
            None => &self.foreign_table,
        }
    }
}

/// A relation that shows a base table's columns: the table itself or a view,
/// with base column → own column.
struct Exposure {
    schema: String,
    name: String,
    columns: HashMap<String, String>,
}

/// Views nested deeper than this are not followed.
const MAX_VIEW_DEPTH: usize = 16;

type ColumnKey<'a> = (&'a str, &'a str, &'a str);

/// Where a view column finally comes from: a base table's column (itself when not a view's).
fn base_of<'a>(
    direct: &HashMap<ColumnKey<'a>, ColumnKey<'a>>,
    mut key: ColumnKey<'a>,
) -> Option<ColumnKey<'a>> {
    for _ in 0..MAX_VIEW_DEPTH {
        match direct.get(&key) {
            Some(next) => key = *next,
            None => return Some(key),
        }
    }
    None
}

pub(super) fn derive(schema: &Schema) -> Vec<Relationship> {
    // Where each view column comes from, one step.
    let direct: HashMap<ColumnKey<'_>, ColumnKey<'_>> = schema
        .view_columns
        .iter()
        .map(|c| {
            (
                (c.schema.as_str(), c.view.as_str(), c.column.as_str()),
                (
                    c.source_schema.as_str(),
                    c.source_table.as_str(),
                    c.source_column.as_str(),
                ),
            )
        })
        .collect();

    // base table → the relations showing it.
    let mut exposures: HashMap<(String, String), Vec<Exposure>> = HashMap::new();
    for t in &schema.tables {
        if direct
            .keys()
            .any(|(s, v, _)| *s == t.schema && *v == t.name)
        {
            continue;
        }
        exposures
            .entry((t.schema.clone(), t.name.clone()))
            .or_default()
            .push(Exposure {
                schema: t.schema.clone(),
                name: t.name.clone(),
                columns: t
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), c.name.clone()))
                    .collect(),
            });
    }
    // view → base table → base column → view column
    type Projections = HashMap<(String, String), HashMap<String, String>>;
    let mut by_view: HashMap<(String, String), Projections> = HashMap::new();
    for c in &schema.view_columns {
        if let Some((bs, bt, bc)) = base_of(&direct, (&c.schema, &c.view, &c.column)) {
            by_view
                .entry((c.schema.clone(), c.view.clone()))
                .or_default()
                .entry((bs.to_owned(), bt.to_owned()))
                .or_default()
                .insert(bc.to_owned(), c.column.clone());
        }
    }
    for ((vs, vn), bases) in by_view {
        if schema.table(&vs, &vn).is_none() {
            continue;
        }
        for (base, columns) in bases {
            exposures.entry(base).or_default().push(Exposure {
                schema: vs.clone(),
                name: vn.clone(),
                columns,
            });
        }
    }

    let unique = |fk_schema: &str, fk_table: &str, cols: &[String]| {
        schema.table(fk_schema, fk_table).is_some_and(|t| {
            t.unique_keys
                .iter()
                .any(|k| k.len() == cols.len() && k.iter().all(|c| cols.contains(c)))
        })
    };
    let covering = |base: (&str, &str), cols: &[String]| -> Vec<(&Exposure, Vec<String>)> {
        exposures
            .get(&(base.0.to_owned(), base.1.to_owned()))
            .map(|list| {
                list.iter()
                    .filter_map(|e| {
                        let mapped: Option<Vec<String>> =
                            cols.iter().map(|c| e.columns.get(c).cloned()).collect();
                        mapped.map(|m| (e, m))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };

    let mut out = Vec::new();
    for fk in &schema.foreign_keys {
        let one_to_one = unique(&fk.schema, &fk.table, &fk.columns);
        for (src, src_cols) in covering((&fk.schema, &fk.table), &fk.columns) {
            for (dst, dst_cols) in
                covering((&fk.foreign_schema, &fk.foreign_table), &fk.foreign_columns)
            {
                let pairs: Vec<(String, String)> = src_cols
                    .iter()
                    .cloned()
                    .zip(dst_cols.iter().cloned())
                    .collect();
                out.push(Relationship {
                    schema: src.schema.clone(),
                    table: src.name.clone(),
                    foreign_schema: dst.schema.clone(),
                    foreign_table: dst.name.clone(),
                    cardinality: if one_to_one {
                        Cardinality::OneToOne
                    } else {
                        Cardinality::ManyToOne
                    },
                    constraint: fk.name.clone(),
                    columns: pairs.clone(),
                    junction: None,
                    function: None,
                });
                out.push(Relationship {
                    schema: dst.schema.clone(),
                    table: dst.name.clone(),
                    foreign_schema: src.schema.clone(),
                    foreign_table: src.name.clone(),
                    cardinality: if one_to_one {
                        Cardinality::OneToOne
                    } else {
                        Cardinality::OneToMany
                    },
                    constraint: fk.name.clone(),
                    columns: pairs.into_iter().map(|(a, b)| (b, a)).collect(),
                    junction: None,
                    function: None,
                });
            }
        }
    }
    out.extend(many_to_many(schema, &covering));
    out.extend(computed(schema));
    out
}

/// Computed relationships: a function of one argument, a row of an exposed
/// relation, returning rows of another (`SETOF` is to-many).
fn computed(schema: &Schema) -> Vec<Relationship> {
    let relation = |qualified: &str| {
        let (s, t) = qualified.split_once('.')?;
        schema.table(s, t.trim_matches('"'))
    };
    schema
        .functions
        .iter()
        .filter(|f| f.returns_composite && f.args.len() == 1)
        .filter_map(|f| {
            let source = relation(&f.args[0].data_type)?;
            let target = relation(&f.return_type)?;
            Some(Relationship {
                schema: source.schema.clone(),
                table: source.name.clone(),
                foreign_schema: target.schema.clone(),
                foreign_table: target.name.clone(),
                cardinality: if f.returns_set {
                    Cardinality::OneToMany
                } else {
                    Cardinality::ManyToOne
                },
                constraint: f.name.clone(),
                columns: Vec::new(),
                junction: None,
                function: Some((f.schema.clone(), f.name.clone())),
            })
        })
        .collect()
}

type Covering<'a> = dyn Fn((&str, &str), &[String]) -> Vec<(&'a Exposure, Vec<String>)> + 'a;

/// Junctions: an exposed table with foreign keys to two sides, whose key
/// columns are all in its primary key.
fn many_to_many<'a>(schema: &'a Schema, covering: &Covering<'a>) -> Vec<Relationship> {
    let mut out = Vec::new();
    for j in &schema.tables {
        if j.primary_key.is_empty() {
            continue;
        }
        let fks: Vec<&ForeignKey> = schema
            .foreign_keys
            .iter()
            .filter(|fk| fk.schema == j.schema && fk.table == j.name)
            .filter(|fk| fk.columns.iter().all(|c| j.primary_key.contains(c)))
            .collect();
        for a in &fks {
            for b in &fks {
                if a.name == b.name {
                    continue;
                }
                for (src, src_cols) in
                    covering((&a.foreign_schema, &a.foreign_table), &a.foreign_columns)
                {
                    for (dst, dst_cols) in
                        covering((&b.foreign_schema, &b.foreign_table), &b.foreign_columns)
                    {
                        out.push(Relationship {
                            schema: src.schema.clone(),
                            table: src.name.clone(),
                            foreign_schema: dst.schema.clone(),
                            foreign_table: dst.name.clone(),
                            cardinality: Cardinality::ManyToMany,
                            constraint: b.name.clone(),
                            columns: Vec::new(),
                            junction: Some(Junction {
                                schema: j.schema.clone(),
                                table: j.name.clone(),
                                source_constraint: a.name.clone(),
                                target_constraint: b.name.clone(),
                                source_columns: src_cols
                                    .iter()
                                    .cloned()
                                    .zip(a.columns.iter().cloned())
                                    .collect(),
                                target_columns: b
                                    .columns
                                    .iter()
                                    .cloned()
                                    .zip(dst_cols.iter().cloned())
                                    .collect(),
                            }),
                            function: None,
                        });
                    }
                }
            }
        }
    }
    out
}
