//! Relationships between relations, derived from foreign keys: many-to-one and
//! its inverse one-to-many (one-to-one when the key columns are unique),
//! many-to-many through junction tables, and the same for every view that
//! projects the key columns (followed through chains of views).

use std::collections::{HashMap, HashSet};

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

    /// Whether it relates a relation to itself (a self-referencing foreign
    /// key, or a junction whose two keys point at the same relation).
    pub fn is_self(&self) -> bool {
        self.function.is_none()
            && self.schema == self.foreign_schema
            && self.table == self.foreign_table
    }

    /// The (source, target) column pair of a foreign key of one column.
    pub(crate) fn single_column(&self) -> Option<(&str, &str)> {
        match self.columns.as_slice() {
            [(source, target)] => Some((source, target)),
            _ => None,
        }
    }
}

/// A relation that shows a base table's columns: the table itself or a view,
/// with base column → own columns (a view may show one column under several
/// names, in the order of its columns).
struct Exposure {
    schema: String,
    name: String,
    columns: HashMap<String, Vec<String>>,
}

/// The most ways one relation may show the columns of one key: past it, the
/// combinations of a view that repeats a key's columns are not all related.
const MAX_KEY_SPELLINGS: usize = 64;

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

/// base table → the relations showing it (the table itself first).
type Exposures = HashMap<(String, String), Vec<Exposure>>;

/// Every relationship of `schema`: foreign keys both ways, junctions, computed ones.
pub(super) fn derive(schema: &Schema) -> Vec<Relationship> {
    let direct = view_sources(schema);
    let mut exposures = table_exposures(schema, &direct);
    add_view_exposures(schema, &direct, &mut exposures);
    let mut out = foreign_key_relationships(schema, &exposures);
    out.extend(many_to_many(schema, &exposures));
    out.extend(computed(schema));
    out
}

/// Where each view column comes from, one step.
fn view_sources(schema: &Schema) -> HashMap<ColumnKey<'_>, ColumnKey<'_>> {
    schema
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
        .collect()
}

/// Each relation without view lineage, as the one showing its own columns.
fn table_exposures(schema: &Schema, direct: &HashMap<ColumnKey<'_>, ColumnKey<'_>>) -> Exposures {
    let views: HashSet<(&str, &str)> = direct.keys().map(|(s, v, _)| (*s, *v)).collect();
    let mut exposures = Exposures::new();
    for t in &schema.tables {
        if views.contains(&(t.schema.as_str(), t.name.as_str())) {
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
                    .map(|c| (c.name.clone(), vec![c.name.clone()]))
                    .collect(),
            });
    }
    exposures
}

/// Adds each exposed view as showing the base-table columns it projects
/// (followed through chains of views).
fn add_view_exposures(
    schema: &Schema,
    direct: &HashMap<ColumnKey<'_>, ColumnKey<'_>>,
    exposures: &mut Exposures,
) {
    // view → base table → base column → view columns
    type Projections = HashMap<(String, String), HashMap<String, Vec<String>>>;
    let mut by_view: HashMap<(String, String), Projections> = HashMap::new();
    for c in &schema.view_columns {
        // A subquery's entry under a name the view does not have shows nothing.
        let shown = schema
            .table(&c.schema, &c.view)
            .is_some_and(|v| v.column(&c.column).is_some());
        if !shown {
            continue;
        }
        if let Some((bs, bt, bc)) = base_of(direct, (&c.schema, &c.view, &c.column)) {
            by_view
                .entry((c.schema.clone(), c.view.clone()))
                .or_default()
                .entry((bs.to_owned(), bt.to_owned()))
                .or_default()
                .entry(bc.to_owned())
                .or_default()
                .push(c.column.clone());
        }
    }
    for ((vs, vn), bases) in by_view {
        for (base, columns) in bases {
            exposures.entry(base).or_default().push(Exposure {
                schema: vs.clone(),
                name: vn.clone(),
                columns,
            });
        }
    }
}

/// The relations showing every one of `cols` of `base`, each with its own
/// names for them: a view showing a column under two names shows the key
/// twice, once with each (PostgREST's issue 2459).
fn covering<'e>(
    exposures: &'e Exposures,
    base: (&str, &str),
    cols: &[String],
) -> Vec<(&'e Exposure, Vec<String>)> {
    let Some(list) = exposures.get(&(base.0.to_owned(), base.1.to_owned())) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in list {
        let Some(names) = cols
            .iter()
            .map(|c| e.columns.get(c))
            .collect::<Option<Vec<&Vec<String>>>>()
        else {
            continue;
        };
        out.extend(spellings(&names).into_iter().map(|m| (e, m)));
    }
    out
}

/// Every choice of one name per column, the first column varying slowest,
/// at most [`MAX_KEY_SPELLINGS`] of them.
fn spellings(names: &[&Vec<String>]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::with_capacity(names.len())];
    for options in names {
        let mut next = Vec::with_capacity(out.len() * options.len());
        'outer: for prefix in &out {
            for option in options.iter() {
                if next.len() == MAX_KEY_SPELLINGS {
                    break 'outer;
                }
                let mut chosen = prefix.clone();
                chosen.push(option.clone());
                next.push(chosen);
            }
        }
        out = next;
    }
    out
}

/// The relation `schema_name.table`: exposed, or a table of another schema
/// that foreign keys join.
fn any_table<'s>(schema: &'s Schema, schema_name: &str, table: &str) -> Option<&'s super::Table> {
    schema.table(schema_name, table).or_else(|| {
        schema
            .base_tables
            .iter()
            .find(|t| t.schema == schema_name && t.name == table)
    })
}

/// Whether `cols` are exactly one of the unique keys of `schema_name.table`.
fn is_unique_key(schema: &Schema, schema_name: &str, table: &str, cols: &[String]) -> bool {
    any_table(schema, schema_name, table).is_some_and(|t| {
        t.unique_keys
            .iter()
            .any(|k| k.len() == cols.len() && k.iter().all(|c| cols.contains(c)))
    })
}

/// For each foreign key and each pair of relations showing its two sides:
/// many-to-one (or one-to-one) from the holder, and its inverse.
fn foreign_key_relationships(schema: &Schema, exposures: &Exposures) -> Vec<Relationship> {
    let mut out = Vec::new();
    for fk in &schema.foreign_keys {
        let one_to_one = is_unique_key(schema, &fk.schema, &fk.table, &fk.columns);
        for (src, src_cols) in covering(exposures, (&fk.schema, &fk.table), &fk.columns) {
            for (dst, dst_cols) in covering(
                exposures,
                (&fk.foreign_schema, &fk.foreign_table),
                &fk.foreign_columns,
            ) {
                let pairs: Vec<(String, String)> = src_cols
                    .iter()
                    .cloned()
                    .zip(dst_cols.iter().cloned())
                    .collect();
                let (forward, inverse) = if one_to_one {
                    (Cardinality::OneToOne, Cardinality::OneToOne)
                } else {
                    (Cardinality::ManyToOne, Cardinality::OneToMany)
                };
                out.push(fk_relationship(src, dst, forward, fk, pairs.clone()));
                let flipped = pairs.into_iter().map(|(a, b)| (b, a)).collect();
                out.push(fk_relationship(dst, src, inverse, fk, flipped));
            }
        }
    }
    out
}

/// A relationship from `from` to `to` through the foreign key `fk`.
fn fk_relationship(
    from: &Exposure,
    to: &Exposure,
    cardinality: Cardinality,
    fk: &ForeignKey,
    columns: Vec<(String, String)>,
) -> Relationship {
    Relationship {
        schema: from.schema.clone(),
        table: from.name.clone(),
        foreign_schema: to.schema.clone(),
        foreign_table: to.name.clone(),
        cardinality,
        constraint: fk.name.clone(),
        columns,
        junction: None,
        function: None,
    }
}

/// Computed relationships: a function of one argument, a row of an exposed
/// relation, returning rows of another (`SETOF` is to-many, unless declared
/// `ROWS 1`).
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
                cardinality: if f.returns_set && !f.single_row {
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

/// Junctions: a table with foreign keys to two sides, whose key columns are
/// all in its primary key, as the relations showing it (itself when exposed,
/// the views over it) name it.
fn many_to_many(schema: &Schema, exposures: &Exposures) -> Vec<Relationship> {
    let mut out = Vec::new();
    for j in schema.tables.iter().chain(&schema.base_tables) {
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
                // The junction's own columns: `a`'s, then `b`'s.
                let key: Vec<String> = a.columns.iter().chain(&b.columns).cloned().collect();
                for (via, via_cols) in covering(exposures, (&j.schema, &j.name), &key) {
                    let (via_a, via_b) = via_cols.split_at(a.columns.len());
                    for (src, src_cols) in covering(
                        exposures,
                        (&a.foreign_schema, &a.foreign_table),
                        &a.foreign_columns,
                    ) {
                        for (dst, dst_cols) in covering(
                            exposures,
                            (&b.foreign_schema, &b.foreign_table),
                            &b.foreign_columns,
                        ) {
                            let ends = JunctionEnds {
                                via,
                                via_a,
                                via_b,
                                src,
                                src_cols: &src_cols,
                                dst,
                                dst_cols: &dst_cols,
                            };
                            out.push(through_junction(a, b, &ends));
                        }
                    }
                }
            }
        }
    }
    out
}

/// The two relations a junction links, with their names for the key columns,
/// and the relation showing the junction, with its names for `a`'s and `b`'s.
struct JunctionEnds<'e> {
    via: &'e Exposure,
    via_a: &'e [String],
    via_b: &'e [String],
    src: &'e Exposure,
    src_cols: &'e [String],
    dst: &'e Exposure,
    dst_cols: &'e [String],
}

/// The many-to-many relationship from `ends.src` to `ends.dst` through the
/// junction `ends.via`, whose key `a` points at the source and `b` at the target.
fn through_junction(a: &ForeignKey, b: &ForeignKey, ends: &JunctionEnds<'_>) -> Relationship {
    Relationship {
        schema: ends.src.schema.clone(),
        table: ends.src.name.clone(),
        foreign_schema: ends.dst.schema.clone(),
        foreign_table: ends.dst.name.clone(),
        cardinality: Cardinality::ManyToMany,
        constraint: b.name.clone(),
        columns: Vec::new(),
        junction: Some(Junction {
            schema: ends.via.schema.clone(),
            table: ends.via.name.clone(),
            source_constraint: a.name.clone(),
            target_constraint: b.name.clone(),
            source_columns: ends
                .src_cols
                .iter()
                .cloned()
                .zip(ends.via_a.iter().cloned())
                .collect(),
            target_columns: ends
                .via_b
                .iter()
                .cloned()
                .zip(ends.dst_cols.iter().cloned())
                .collect(),
        }),
        function: None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Column, Table, TableKind, ViewColumn};
    use super::*;

    fn table(name: &str, kind: TableKind, cols: &[&str], unique: &[&[&str]]) -> Table {
        let strings = |cs: &[&str]| cs.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
        Table {
            schema: "s".into(),
            name: name.into(),
            kind,
            columns: cols
                .iter()
                .map(|c| Column {
                    name: (*c).into(),
                    data_type: "int4".into(),
                    base_type: None,
                    nullable: false,
                    default: None,
                    as_json: None,
                    from_text: None,
                    from_json: None,
                })
                .collect(),
            primary_key: strings(&cols[..1]),
            unique_keys: unique.iter().map(|k| strings(k)).collect(),
            insertable: true,
            updatable: true,
            deletable: true,
            comment: None,
            estimated_bytes: 0,
        }
    }

    fn fk(name: &str, table: &str, col: &str, target: &str) -> ForeignKey {
        ForeignKey {
            name: name.into(),
            schema: "s".into(),
            table: table.into(),
            columns: vec![col.into()],
            foreign_schema: "s".into(),
            foreign_table: target.into(),
            foreign_columns: vec!["id".into()],
        }
    }

    /// authors ← books (many-to-one), authors ← profiles (one-to-one, unique
    /// key), and a view `v_books` (through a view `v0`) showing books' columns
    /// under other names.
    fn schema() -> Schema {
        let mut s = Schema::new(
            vec!["s".into()],
            vec![
                table("authors", TableKind::Table, &["id"], &[&["id"]]),
                table("books", TableKind::Table, &["id", "author_id"], &[&["id"]]),
                table(
                    "profiles",
                    TableKind::Table,
                    &["id", "author"],
                    &[&["author"]],
                ),
                table("v_books", TableKind::View, &["book", "writer"], &[]),
            ],
            vec![
                fk("books_fk", "books", "author_id", "authors"),
                fk("profiles_fk", "profiles", "author", "authors"),
            ],
            vec![],
        );
        let lineage = |view: &str, column: &str, table: &str, source: &str| ViewColumn {
            schema: "s".into(),
            view: view.into(),
            column: column.into(),
            source_schema: "s".into(),
            source_table: table.into(),
            source_column: source.into(),
        };
        s.view_columns = vec![
            lineage("v0", "i", "books", "id"),
            lineage("v0", "a", "books", "author_id"),
            lineage("v_books", "book", "v0", "i"),
            lineage("v_books", "writer", "v0", "a"),
        ];
        s.reindex();
        s
    }

    fn find<'s>(s: &'s Schema, from: &str, to: &str) -> Vec<&'s Relationship> {
        s.relationships
            .iter()
            .filter(|r| r.table == from && r.foreign_table == to)
            .collect()
    }

    #[test]
    fn foreign_keys_relate_both_ways() {
        let s = schema();
        let [r] = find(&s, "books", "authors")[..] else {
            panic!("{:?}", s.relationships)
        };
        assert_eq!(r.cardinality, Cardinality::ManyToOne);
        assert_eq!(r.columns, vec![("author_id".into(), "id".into())]);
        let [r] = find(&s, "authors", "books")[..] else {
            panic!()
        };
        assert_eq!(r.cardinality, Cardinality::OneToMany);
        assert_eq!(r.columns, vec![("id".into(), "author_id".into())]);
    }

    #[test]
    fn unique_key_columns_make_one_to_one() {
        let s = schema();
        for (from, to) in [("profiles", "authors"), ("authors", "profiles")] {
            let [r] = find(&s, from, to)[..] else {
                panic!("{from} → {to}")
            };
            assert_eq!(r.cardinality, Cardinality::OneToOne, "{from} → {to}");
        }
    }

    #[test]
    fn views_relate_through_chains_under_their_own_names() {
        let s = schema();
        let [r] = find(&s, "v_books", "authors")[..] else {
            panic!("{:?}", s.relationships)
        };
        assert_eq!(r.cardinality, Cardinality::ManyToOne);
        assert_eq!(r.columns, vec![("writer".into(), "id".into())]);
        // `v0` is not a relation of the schema: it shows nothing.
        assert!(s.relationships.iter().all(|r| r.table != "v0"));
    }

    /// PostgREST's issue 2459: a view showing `books.author_id` twice relates
    /// to `authors` once through each name; a subquery's entry under a name
    /// the view lacks shows nothing.
    #[test]
    fn a_view_showing_a_key_column_twice_relates_once_per_name() {
        let mut s = schema();
        s.tables
            .push(table("v_two", TableKind::View, &["a1", "a2"], &[]));
        let lineage = |column: &str, source: &str| ViewColumn {
            schema: "s".into(),
            view: "v_two".into(),
            column: column.into(),
            source_schema: "s".into(),
            source_table: "books".into(),
            source_column: source.into(),
        };
        s.view_columns.extend([
            lineage("a1", "author_id"),
            lineage("a2", "author_id"),
            lineage("ghost", "id"),
        ]);
        s.reindex();
        let mut columns: Vec<_> = find(&s, "v_two", "authors")
            .iter()
            .map(|r| (r.cardinality, r.columns.clone()))
            .collect();
        columns.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(
            columns,
            [
                (Cardinality::ManyToOne, vec![("a1".into(), "id".into())]),
                (Cardinality::ManyToOne, vec![("a2".into(), "id".into())]),
            ]
        );
        assert_eq!(find(&s, "authors", "v_two").len(), 2);
        assert!(
            s.relationships
                .iter()
                .all(|r| { r.columns.iter().all(|(a, b)| a != "ghost" && b != "ghost") })
        );
    }

    #[test]
    fn a_key_shown_under_many_names_is_spelled_a_bounded_number_of_ways() {
        let names: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
        let per_column = vec![&names; 3];
        let all = spellings(&per_column);
        assert_eq!(all.len(), MAX_KEY_SPELLINGS);
        assert_eq!(all[0], ["c0", "c0", "c0"]);
        assert_eq!(all[1], ["c0", "c0", "c1"]);
        let two = vec!["x".to_owned(), "y".to_owned()];
        assert_eq!(
            spellings(&[&two, &two]),
            [["x", "x"], ["x", "y"], ["y", "x"], ["y", "y"]]
        );
    }

    #[test]
    fn self_references_are_told_apart() {
        let mut s = schema();
        s.tables.push(table(
            "tree",
            TableKind::Table,
            &["id", "parent"],
            &[&["id"]],
        ));
        s.foreign_keys.push(fk("tree_fk", "tree", "parent", "tree"));
        s.reindex();
        let rels = find(&s, "tree", "tree");
        assert_eq!(rels.len(), 2);
        assert!(rels.iter().all(|r| r.is_self()));
        assert!(find(&s, "books", "authors").iter().all(|r| !r.is_self()));
    }
}
