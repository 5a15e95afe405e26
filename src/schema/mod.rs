//! The schema cache: what the exposed schemas hold, as an immutable snapshot.
//!
//! A [`Schema`] is loaded from PostgreSQL's catalogs by [`SchemaCache`] and
//! swapped atomically on reload; requests keep the snapshot they started with.
//! It is serializable so that tests and benchmarks can load one from a file:
//!
//! ```
//! use tower_postgrest::schema::Schema;
//!
//! let schema: Schema = serde_json::from_str(r#"{
//!     "schemas": ["public"],
//!     "tables": [{"schema": "public", "name": "books", "kind": "table",
//!                 "columns": [{"name": "id", "data_type": "integer", "nullable": false}],
//!                 "primary_key": ["id"]}]
//! }"#).unwrap();
//! assert!(schema.table("public", "books").is_some());
//! assert!(schema.table("public", "nope").is_none());
//! ```

mod cache;
pub(crate) mod introspect;
mod relationships;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use cache::{LoadStats, ReloadListener, SchemaCache};
pub use relationships::{Cardinality, Relationship};

/// The kind of a relation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TableKind {
    /// An ordinary table.
    Table,
    /// A partitioned table.
    PartitionedTable,
    /// A view.
    View,
    /// A materialized view.
    MaterializedView,
    /// A foreign table.
    ForeignTable,
}

/// A column of a table or view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Column {
    /// The column's name.
    pub name: String,
    /// Its type as PostgreSQL formats it (`integer`, `text[]`, `numeric(10,2)`).
    pub data_type: String,
    /// For a domain, the base type; otherwise the same as `data_type`.
    #[serde(default)]
    pub base_type: Option<String>,
    /// Whether it may be NULL.
    #[serde(default)]
    pub nullable: bool,
    /// Its default expression, if any.
    #[serde(default)]
    pub default: Option<String>,
    /// The function of its type's data representation to `json` (PostgREST's):
    /// answers show the column through it.
    #[serde(default)]
    pub as_json: Option<String>,
    /// The function of its type's data representation from `text`: filter
    /// values are read through it.
    #[serde(default)]
    pub from_text: Option<String>,
    /// The function of its type's data representation from `json`: body
    /// values are read through it.
    #[serde(default)]
    pub from_json: Option<String>,
}

impl Column {
    /// The type with domains resolved to their base type.
    pub fn resolved_type(&self) -> &str {
        self.base_type.as_deref().unwrap_or(&self.data_type)
    }
}

/// A table, view, materialized view or foreign table of an exposed schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Table {
    /// The schema it lives in.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// What kind of relation it is.
    pub kind: TableKind,
    /// Its columns, in order.
    pub columns: Vec<Column>,
    /// The primary key columns, in key order (empty when there is none).
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// The column sets of the primary key and of each unique constraint.
    #[serde(default)]
    pub unique_keys: Vec<Vec<String>>,
    /// Whether rows can be inserted.
    #[serde(default)]
    pub insertable: bool,
    /// Whether rows can be updated.
    #[serde(default)]
    pub updatable: bool,
    /// Whether rows can be deleted.
    #[serde(default)]
    pub deletable: bool,
    /// `COMMENT ON` the relation.
    #[serde(default)]
    pub comment: Option<String>,
    /// The size of its rows on disk as of the last `VACUUM` or `ANALYZE`
    /// (`pg_class.relpages`; 0 for views and foreign tables): what decides
    /// whether a read of it is streamed. A statistic rather than a
    /// definition, so not written out with the schema.
    #[serde(default, skip_serializing)]
    pub estimated_bytes: i64,
}

impl Table {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// A foreign key constraint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ForeignKey {
    /// The constraint name.
    pub name: String,
    /// Schema of the referencing table.
    pub schema: String,
    /// The referencing table.
    pub table: String,
    /// The referencing columns.
    pub columns: Vec<String>,
    /// Schema of the referenced table.
    pub foreign_schema: String,
    /// The referenced table.
    pub foreign_table: String,
    /// The referenced columns, in the same order as `columns`.
    pub foreign_columns: Vec<String>,
}

/// Where a column of a view comes from: the table (or view) column it projects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ViewColumn {
    /// Schema of the view.
    pub schema: String,
    /// The view.
    pub view: String,
    /// The view's column.
    pub column: String,
    /// Schema of the projected relation.
    pub source_schema: String,
    /// The projected table or view.
    pub source_table: String,
    /// The projected column.
    pub source_column: String,
}

/// Volatility of a function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Volatility {
    /// `IMMUTABLE`
    Immutable,
    /// `STABLE`
    Stable,
    /// `VOLATILE`
    Volatile,
}

/// An input argument of a function.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FunctionArg {
    /// Its name (empty when unnamed).
    pub name: String,
    /// Its type as PostgreSQL formats it.
    pub data_type: String,
    /// Whether it has a default and may be omitted.
    #[serde(default)]
    pub has_default: bool,
    /// Whether it is `VARIADIC`.
    #[serde(default)]
    pub variadic: bool,
}

/// A function of an exposed schema, callable at `/rpc/{name}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Function {
    /// The schema it lives in.
    pub schema: String,
    /// Its name (overloads share it).
    pub name: String,
    /// Its input arguments, in order.
    pub args: Vec<FunctionArg>,
    /// The return type as PostgreSQL formats it (`integer`, `books`, `void`, `record`).
    pub return_type: String,
    /// Whether it returns `SETOF` (or `TABLE`).
    pub returns_set: bool,
    /// Whether the return type is a composite (a row type, `TABLE`, or OUT parameters).
    pub returns_composite: bool,
    /// Whether it returns a set declared to hold one row (`ROWS 1`): a
    /// computed relationship through it is to-one, as PostgREST reads it.
    #[serde(default)]
    pub single_row: bool,
    /// Its volatility.
    pub volatility: Volatility,
    /// `COMMENT ON` the function.
    #[serde(default)]
    pub comment: Option<String>,
}

/// What a media-type handler answers for: a relation (by its row type), a
/// function (its own result), or any relation (`anyelement`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandlerTarget {
    /// The relation `schema.name`.
    Relation {
        /// Its schema.
        schema: String,
        /// Its name.
        name: String,
    },
    /// The function `schema.name`, which returns the media type's domain.
    Function {
        /// Its schema.
        schema: String,
        /// Its name.
        name: String,
    },
    /// Any relation: an aggregate over `anyelement`.
    Any,
}

/// A [`HandlerTarget`] looked up by borrowed names, so that negotiating a
/// request's media type copies nothing.
#[derive(Clone, Copy, Debug)]
pub(crate) enum HandlerKey<'a> {
    /// The relation `(schema, name)`.
    Relation(&'a str, &'a str),
    /// The function `(schema, name)`.
    Function(&'a str, &'a str),
    /// Any relation.
    Any,
}

impl HandlerKey<'_> {
    fn matches(self, target: &HandlerTarget) -> bool {
        match (self, target) {
            (Self::Relation(s, n), HandlerTarget::Relation { schema, name })
            | (Self::Function(s, n), HandlerTarget::Function { schema, name }) => {
                s == schema && n == name
            }
            (Self::Any, HandlerTarget::Any) => true,
            _ => false,
        }
    }
}

/// A media-type handler (PostgREST 12): a domain named after a media type
/// (`CREATE DOMAIN "text/html" AS text`) returned by an aggregate over a
/// relation's rows, or by a function.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MediaHandler {
    /// What it answers for.
    pub target: HandlerTarget,
    /// The media type it answers (`Accept`), in lower case; `*/*` for any.
    pub media_type: String,
    /// The `Content-Type` of its answers (`application/octet-stream` for `*/*`).
    pub content_type: String,
    /// The aggregate (`schema`, `name`) that builds the body from the rows;
    /// `None` for a function's own result.
    pub aggregate: Option<(String, String)>,
    /// Whether the domain is over `bytea` (the body is its bytes).
    pub binary: bool,
}

/// A snapshot of the exposed schemas; see the [module docs](self).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "SchemaData", into = "SchemaData")]
#[non_exhaustive]
pub struct Schema {
    /// The exposed schemas, the default one first.
    pub schemas: Vec<String>,
    /// Tables, views, materialized views and foreign tables.
    pub tables: Vec<Table>,
    /// Foreign keys touching the exposed schemas, or the tables exposed
    /// views show (those relate the views).
    pub foreign_keys: Vec<ForeignKey>,
    /// Tables of other schemas that exposed views show: never served, but
    /// their keys decide the relationships of those views (one-to-one,
    /// junctions).
    pub base_tables: Vec<Table>,
    /// Functions of the exposed schemas.
    pub functions: Vec<Function>,
    /// Where the columns of views come from.
    pub view_columns: Vec<ViewColumn>,
    /// Relationships between the exposed relations, derived from the foreign
    /// keys (through views, and junction tables).
    pub relationships: Vec<Relationship>,
    /// `ALTER ROLE … SET statement_timeout` settings, by role.
    pub role_timeouts: HashMap<String, String>,
    /// The time zones the database knows (`pg_timezone_names`), by lower-case name.
    pub timezones: HashMap<String, String>,
    /// Media-type handlers (PostgREST 12's custom media types).
    pub media_handlers: Vec<MediaHandler>,
    /// Data representations (PostgREST's): implicit function casts between
    /// a domain and `json` or `text`, as (source type, target type,
    /// function). A column of such a domain is answered in its JSON form,
    /// read from JSON bodies and from text filters through them.
    pub representations: Vec<(String, String, String)>,
    /// Increases with every load; prepared statements older than it are discarded.
    pub(crate) generation: u64,
    /// schema → table name → position in `tables`.
    index: HashMap<String, HashMap<String, usize>>,
}

/// The serialized form of [`Schema`], without its index.
#[derive(Clone, Serialize, Deserialize)]
struct SchemaData {
    schemas: Vec<String>,
    tables: Vec<Table>,
    #[serde(default)]
    foreign_keys: Vec<ForeignKey>,
    #[serde(default)]
    functions: Vec<Function>,
    #[serde(default)]
    view_columns: Vec<ViewColumn>,
    #[serde(default)]
    base_tables: Vec<Table>,
}

impl From<SchemaData> for Schema {
    fn from(d: SchemaData) -> Self {
        let mut schema = Self::new(d.schemas, d.tables, d.foreign_keys, d.functions);
        schema.view_columns = d.view_columns;
        schema.base_tables = d.base_tables;
        schema.reindex();
        schema
    }
}

impl From<Schema> for SchemaData {
    fn from(s: Schema) -> Self {
        Self {
            schemas: s.schemas,
            tables: s.tables,
            foreign_keys: s.foreign_keys,
            functions: s.functions,
            view_columns: s.view_columns,
            base_tables: s.base_tables,
        }
    }
}

impl Schema {
    /// The database's spelling of the time zone `name` (matched without
    /// regard to case, as PostgreSQL does), if it knows it.
    pub(crate) fn timezone(&self, name: &str) -> Option<&str> {
        self.timezones.get(&name.to_lowercase()).map(String::as_str)
    }

    /// The function of the data representation `from` → `to`, if one exists
    /// (types as `format_type` writes them: `public.color`, `json`, `text`).
    fn representation(&self, from: &str, to: &str) -> Option<String> {
        self.representations
            .iter()
            .find(|(f, t, _)| f == from && t == to)
            .map(|(_, _, function)| function.clone())
    }

    /// Marks the columns whose types have data representations.
    pub(crate) fn mark_representations(&mut self) {
        if self.representations.is_empty() {
            return;
        }
        type Marks = [Option<String>; 3];
        let mut marks: Vec<(usize, usize, Marks)> = Vec::new();
        for (t, table) in self.tables.iter().enumerate() {
            for (c, col) in table.columns.iter().enumerate() {
                let ty = col.data_type.as_str();
                let found = [
                    self.representation(ty, "json"),
                    self.representation("text", ty),
                    self.representation("json", ty),
                ];
                if found.iter().any(Option::is_some) {
                    marks.push((t, c, found));
                }
            }
        }
        for (t, c, [as_json, from_text, from_json]) in marks {
            let column = &mut self.tables[t].columns[c];
            column.as_json = as_json;
            column.from_text = from_text;
            column.from_json = from_json;
        }
    }

    /// The handler of `media_type` for `target`, if one is defined.
    pub(crate) fn media_handler(
        &self,
        target: HandlerKey<'_>,
        media_type: &str,
    ) -> Option<&MediaHandler> {
        self.media_handlers
            .iter()
            .find(|h| target.matches(&h.target) && h.media_type == media_type)
    }

    /// Builds a snapshot from its parts.
    pub fn new(
        schemas: Vec<String>,
        tables: Vec<Table>,
        foreign_keys: Vec<ForeignKey>,
        functions: Vec<Function>,
    ) -> Self {
        let mut schema = Self {
            schemas,
            tables,
            foreign_keys,
            functions,
            base_tables: Vec::new(),
            view_columns: Vec::new(),
            relationships: Vec::new(),
            role_timeouts: HashMap::new(),
            timezones: HashMap::new(),
            media_handlers: Vec::new(),
            representations: Vec::new(),
            generation: 0,
            index: HashMap::new(),
        };
        schema.reindex();
        schema
    }

    /// Rebuilds the lookup index and the relationships.
    pub(crate) fn reindex(&mut self) {
        self.index.clear();
        for (i, t) in self.tables.iter().enumerate() {
            self.index
                .entry(t.schema.clone())
                .or_default()
                .insert(t.name.clone(), i);
        }
        self.relationships = relationships::derive(self);
    }

    /// The table (or view) `schema.name`, if it is exposed.
    pub fn table(&self, schema: &str, name: &str) -> Option<&Table> {
        let i = *self.index.get(schema)?.get(name)?;
        self.tables.get(i)
    }

    /// The name of the table in `schema` most similar to `name`, when one is similar enough.
    pub(crate) fn closest_table(&self, schema: &str, name: &str) -> Option<&str> {
        closest_name(
            name,
            self.tables
                .iter()
                .filter(|t| t.schema == schema)
                .map(|t| t.name.as_str()),
        )
    }
}

/// The candidate most similar to `name` (at least 0.75), as PostgREST's hints
/// of table and function names; none among 500 candidates or more, where the
/// search would cost too much.
pub(crate) fn closest_name<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    closest(name, candidates, 0.75, similarity)
}

/// As [`closest_name`], at least 0.33 similar by edit distance alone, as
/// PostgREST's hints of relationships and argument lists (which name only
/// what the caller's own tables relate to, or a function's own arguments).
pub(crate) fn loosely_closest_name<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    closest(name, candidates, 0.33, |a, b| {
        strsim::normalized_levenshtein(&a.to_lowercase(), &b.to_lowercase())
    })
}

fn closest<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
    at_least: f64,
    score: impl Fn(&str, &str) -> f64,
) -> Option<&'a str> {
    const MAX_CANDIDATES_FOR_HINTS: usize = 500;
    let candidates: Vec<&str> = candidates.collect();
    if candidates.len() >= MAX_CANDIDATES_FOR_HINTS {
        return None;
    }
    candidates
        .into_iter()
        .map(|c| (score(name, c), c))
        .filter(|(score, _)| *score >= at_least)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// 1 − normalized Levenshtein distance (`strsim`), case-insensitive; 0
/// without computing it when the lengths alone rule out 0.75, so that a long
/// or odd name costs its length, not its length times every candidate's.
fn similarity(a: &str, b: &str) -> f64 {
    let (la, lb) = (a.chars().count(), b.chars().count());
    let longest = la.max(lb);
    if longest == 0 {
        return 1.0;
    }
    if la.abs_diff(lb) * 4 > longest {
        return 0.0;
    }
    strsim::normalized_levenshtein(&a.to_lowercase(), &b.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_table_names() {
        let t = |name: &str| Table {
            schema: "public".into(),
            name: name.into(),
            kind: TableKind::Table,
            columns: vec![],
            primary_key: vec![],
            unique_keys: vec![],
            insertable: true,
            updatable: true,
            deletable: true,
            comment: None,
            estimated_bytes: 0,
        };
        let s = Schema::new(
            vec!["public".into()],
            vec![t("projects"), t("books")],
            vec![],
            vec![],
        );
        assert_eq!(s.closest_table("public", "projectx"), Some("projects"));
        assert_eq!(s.closest_table("public", "projecxx"), Some("projects"));
        assert_eq!(s.closest_table("public", "projxxxx"), None);
        assert_eq!(s.closest_table("public", "book"), Some("books"));
        assert_eq!(s.closest_table("other", "books"), None);
    }
}
