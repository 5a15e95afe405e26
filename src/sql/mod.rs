//! Plan → [`Statement`]: the only module that writes SQL text.
//!
//! The [`Writer`] has three ways to append text: a `&'static str` keyword, an
//! [`Ident`] (always double-quoted, quotes doubled), and a parameter (`$n`, the
//! value kept aside) — plus two for text PostgreSQL itself wrote into its
//! catalog, [`CatalogExpr`] (column defaults) and [`CatalogType`] (argument
//! types), which only the schema cache can make. Nothing from a request can
//! reach the SQL text any other way.

pub(crate) mod catalog;
mod render;
mod rpc;
pub(crate) mod session;
mod write;

use std::fmt::Write as _;

use compact_str::CompactString;

use crate::scratch::Scratch;

pub(crate) use render::{StreamStatements, render_read, render_stream};
pub(crate) use rpc::render_call;
pub(crate) use write::{render_rows_insert, render_write};

use crate::error::{Error, ErrorKind};

/// The column of a function's scalar result, which reads and calls both name.
pub(crate) const SCALAR: Ident<'static> = Ident::fixed("pgrst_scalar");

/// The context statement's text, with `$extra` settings at the end.
macro_rules! context_sql {
    ($extra:literal) => {
        concat!(
            "SELECT \
             pg_catalog.set_config('statement_timeout', \
               coalesce($8, pg_catalog.current_setting('statement_timeout')), true), \
             pg_catalog.set_config('search_path', $5, true), \
             pg_catalog.set_config('role', $1, true), \
             pg_catalog.set_config('request.jwt.claims', $2, true), \
             pg_catalog.set_config('request.method', $3, true), \
             pg_catalog.set_config('request.path', $4, true), \
             pg_catalog.set_config('request.headers', $6, true), \
             pg_catalog.set_config('request.cookies', $7, true), \
             pg_catalog.set_config('timezone', \
               coalesce($9, pg_catalog.current_setting('timezone')), true)",
            $extra
        )
    };
}

/// The per-request context statement: statement timeout (the builder's or the
/// role's; `NULL` keeps the session's), search path, role, claims, method,
/// path, headers and cookies, and the time zone of `Prefer: timezone` (`NULL`
/// keeps the session's), all transaction-local, all bound values, in
/// PostgREST's order.
pub(crate) const CONTEXT_SQL: &str = context_sql!("");

/// [`CONTEXT_SQL`], and the transaction made read-only: for a read that runs
/// in PostgreSQL's implicit transaction, which has no `BEGIN READ ONLY`.
/// Turning `transaction_read_only` on is allowed at any point of a transaction.
pub(crate) const CONTEXT_READ_ONLY_SQL: &str =
    context_sql!(", pg_catalog.set_config('transaction_read_only', 'on', true)");

/// What the current role may use in schema `$1` (of one relation or
/// function named `$2`, or of all when `$2` is NULL), in the shape of a read's
/// result: no total, no rows, and a JSON body
/// `{"relations": {name: [select, insert, update, delete]}, "functions": [name]}`.
/// A privilege on any column counts; without `USAGE` on the schema, nothing does.
pub(crate) const PRIVILEGES_SQL: &str = "\
SELECT NULL::bigint, 0::bigint, pg_catalog.json_build_object(
  'relations', (
    SELECT coalesce(pg_catalog.json_object_agg(c.relname, pg_catalog.json_build_array(
             pg_catalog.has_any_column_privilege(c.oid, 'SELECT'),
             pg_catalog.has_any_column_privilege(c.oid, 'INSERT'),
             pg_catalog.has_any_column_privilege(c.oid, 'UPDATE'),
             pg_catalog.has_table_privilege(c.oid, 'DELETE'))), '{}')
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'f', 'p')
      AND ($2::text IS NULL OR c.relname = $2::text)
      AND pg_catalog.has_schema_privilege(n.oid, 'USAGE')),
  'functions', (
    SELECT coalesce(pg_catalog.json_agg(DISTINCT p.proname), '[]')
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = $1
      AND ($2::text IS NULL OR p.proname = $2::text)
      AND pg_catalog.has_schema_privilege(n.oid, 'USAGE')
      AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE')))";

/// The call of `db-pre-request` function `function` (`name` or
/// `schema.name`), answering the `response.headers` and `response.status`
/// it set: `SELECT "s"."f"(), nullif(current_setting('response.headers', true), ''), …`.
/// The select list is evaluated in order, so the settings are read after the call.
pub(crate) fn render_pre_request(function: &str) -> Result<String, Error> {
    let mut w = Writer::default();
    w.kw("SELECT ");
    match function.split_once('.') {
        Some((schema, name)) => {
            w.ident(&Ident::new(schema)?)
                .kw(".")
                .ident(&Ident::new(name)?);
        }
        None => {
            w.ident(&Ident::new(function)?);
        }
    }
    w.kw("(), nullif(pg_catalog.current_setting('response.headers', true), ''), nullif(pg_catalog.current_setting('response.status', true), '')");
    Ok(w.finish().sql.to_string())
}

/// `stmt` under `EXPLAIN (FORMAT JSON|TEXT, <options>)`, with its parameters.
/// The options come from [`Explain`](crate::request::Explain)'s fixed set.
pub(crate) fn explain(stmt: Statement, explain: &crate::request::Explain) -> Statement {
    let mut sql = Scratch::take(String::new);
    sql.reserve(stmt.sql.len() + 64);
    sql.push_str(if explain.json {
        "EXPLAIN (FORMAT JSON"
    } else {
        "EXPLAIN (FORMAT TEXT"
    });
    for option in &explain.options {
        sql.push_str(", ");
        sql.push_str(&option.to_ascii_uppercase());
    }
    sql.push_str(") ");
    sql.push_str(&stmt.sql);
    Statement {
        sql,
        params: stmt.params,
    }
}

/// The [`PRIVILEGES_SQL`] statement for schema `ns`, narrowed to `only` when given.
pub(crate) fn render_privileges(ns: &str, only: Option<&str>) -> Statement {
    Statement {
        sql: Scratch::from(PRIVILEGES_SQL.to_owned()),
        params: Scratch::from(vec![Some(ns.into()), only.map(CompactString::from)]),
    }
}

/// SQL text and its parameters, each sent as text (`None` is NULL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// Reused from request to request ([`Scratch`]).
    pub(crate) sql: Scratch<String>,
    /// Inline up to 24 bytes each: most values of a request allocate nothing.
    pub(crate) params: Scratch<Vec<Option<CompactString>>>,
}

/// An SQL identifier: non-empty, without NUL, written only in double quotes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ident<'a>(&'a str);

impl<'a> Ident<'a> {
    pub(crate) fn new(name: &'a str) -> Result<Self, Error> {
        if name.is_empty() || name.contains('\0') {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                "Identifiers must be non-empty and must not contain NUL characters",
            )
            .with_postgrest_code("PGRST100"));
        }
        Ok(Self(name))
    }

    /// An identifier the crate itself chose; never empty and never with NUL.
    pub(crate) const fn fixed(name: &'static str) -> Ident<'static> {
        Ident(name)
    }
}

/// An SQL expression PostgreSQL itself wrote: a column's default as
/// `pg_get_expr` rendered it when the schema cache loaded (with an empty
/// `search_path`, so every name in it is qualified). It comes from the catalog
/// of the exposed schema, never from a request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CatalogExpr<'a>(&'a str);

impl<'a> CatalogExpr<'a> {
    pub(crate) fn column_default(column: &'a crate::schema::Column) -> Option<Self> {
        column.default.as_deref().map(Self)
    }
}

/// A type name PostgreSQL itself wrote: a function argument's type as
/// `format_type` rendered it when the schema cache loaded (qualified, as the
/// `search_path` was empty). It comes from the catalog, never from a request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CatalogType<'a>(&'a str);

impl<'a> CatalogType<'a> {
    /// An argument's type, where `character` and `bit` become their
    /// varying forms as PostgREST takes them: their length is the type's
    /// (1 unless written), which would cut or refuse any longer value.
    pub(crate) fn argument(arg: &'a crate::schema::FunctionArg) -> Self {
        Self(match arg.data_type.as_str() {
            "character" => "character varying",
            "character[]" => "character varying[]",
            "bit" => "bit varying",
            "bit[]" => "bit varying[]",
            other => other,
        })
    }

    /// A function's qualified name as the catalog writes it (`regproc`,
    /// quoted where it must be), e.g. a data representation's.
    pub(crate) fn function(name: &'a str) -> Self {
        Self(name)
    }
}

/// Appends `name` as a double-quoted identifier, inner quotes doubled: the one
/// place identifiers are quoted.
pub(crate) fn push_quoted(out: &mut String, name: &str) {
    out.reserve(name.len() + 2);
    out.push('"');
    for ch in name.chars() {
        if ch == '"' {
            out.push('"');
        }
        out.push(ch);
    }
    out.push('"');
}

/// The `search_path` of a request to `schema`, as PostgREST sets it: that
/// schema, then `public` for the objects of extensions.
pub(crate) fn search_path(schema: &str, extra: &[String]) -> String {
    let mut out = String::new();
    push_quoted(&mut out, schema);
    for s in extra.iter().filter(|s| s.as_str() != schema) {
        out.push_str(", ");
        push_quoted(&mut out, s);
    }
    out
}

/// Builds a [`Statement`]; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct Writer {
    sql: Scratch<String>,
    params: Scratch<Vec<Option<CompactString>>>,
}

impl Default for Writer {
    /// A buffer a finished statement of this thread gave back, or room for a
    /// typical statement, so that writing it does not reallocate again and again.
    fn default() -> Self {
        Self {
            sql: Scratch::take(|| String::with_capacity(512)),
            params: Scratch::take(|| Vec::with_capacity(4)),
        }
    }
}

impl Writer {
    pub(crate) fn kw(&mut self, kw: &'static str) -> &mut Self {
        self.sql.push_str(kw);
        self
    }

    pub(crate) fn ident(&mut self, id: &Ident<'_>) -> &mut Self {
        push_quoted(&mut self.sql, id.0);
        self
    }

    /// A generated alias, `"pgrst_<n>"`.
    pub(crate) fn alias(&mut self, n: usize) -> &mut Self {
        let _ = write!(self.sql, "\"pgrst_{n}\"");
        self
    }

    /// An output column's position (`GROUP BY 1, 2`).
    pub(crate) fn position(&mut self, n: usize) -> &mut Self {
        let _ = write!(self.sql, "{n}");
        self
    }

    /// A catalog expression, parenthesized.
    pub(crate) fn catalog_expr(&mut self, e: &CatalogExpr<'_>) -> &mut Self {
        self.sql.push('(');
        self.sql.push_str(e.0);
        self.sql.push(')');
        self
    }

    /// A catalog type name, as is.
    pub(crate) fn catalog_type(&mut self, t: &CatalogType<'_>) -> &mut Self {
        self.sql.push_str(t.0);
        self
    }

    pub(crate) fn param(&mut self, value: impl Into<CompactString>) -> &mut Self {
        self.params.push(Some(value.into()));
        let _ = write!(self.sql, "${}", self.params.len());
        self
    }

    pub(crate) fn finish(self) -> Statement {
        Statement {
            sql: self.sql,
            params: self.params,
        }
    }
}

/// A PostgreSQL array literal (`{"a","b\"c"}`) holding `items` as elements.
pub(crate) fn array_literal<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from("{");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for ch in item.chars() {
            if ch == '"' || ch == '\\' {
                out.push('\\');
            }
            out.push(ch);
        }
        out.push('"');
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_paths_quote_the_schema_and_end_with_public() {
        let public = ["public".to_owned()];
        assert_eq!(search_path("public", &public), r#""public""#);
        assert_eq!(
            search_path(r#"my "api""#, &public),
            r#""my ""api""", "public""#
        );
        let supabase = ["public".to_owned(), "extensions".to_owned()];
        assert_eq!(
            search_path("api", &supabase),
            r#""api", "public", "extensions""#
        );
        assert_eq!(search_path("api", &[]), r#""api""#);
    }

    #[test]
    fn identifiers_are_quoted() {
        let mut w = Writer::default();
        w.ident(&Ident::new("a\"b").unwrap())
            .kw(" = ")
            .param("x'; DROP TABLE t; --");
        let s = w.finish();
        assert_eq!(s.sql, r#""a""b" = $1"#);
        assert_eq!(s.params, vec![Some("x'; DROP TABLE t; --".into())]);
        assert!(Ident::new("").is_err());
        assert!(Ident::new("a\0b").is_err());
    }

    #[test]
    fn array_literals_escape() {
        assert_eq!(
            array_literal(["a", "b,c", "d\"e", "f\\g", ""]),
            r#"{"a","b,c","d\"e","f\\g",""}"#
        );
        assert_eq!(array_literal([]), "{}");
    }
}
