//! Exact SQL for typical reads, and the property that no request value or
//! name can change the SQL text except as a bound value or a quoted identifier.

use compact_str::CompactString;
use http::{HeaderMap, Method};
use proptest::prelude::*;

use super::render_read;
use crate::config::Config;
use crate::plan::{PlanKind, plan};
use crate::request::{parse, quote, route};
use crate::schema::{Column, Schema, Table, TableKind};
use crate::sql::Statement;

fn schema() -> Schema {
    let col = |name: &str, ty: &str| Column {
        name: name.into(),
        data_type: ty.into(),
        base_type: None,
        nullable: true,
        default: None,
        as_json: None,
        from_text: None,
        from_json: None,
    };
    Schema::new(
        vec!["api".into()],
        vec![Table {
            schema: "api".into(),
            name: "films".into(),
            kind: TableKind::Table,
            columns: vec![
                col("id", "integer"),
                col("title", "text"),
                col("year", "integer"),
                col("data", "jsonb"),
                col("tags", "text[]"),
                col("doc", "tsvector"),
            ],
            primary_key: vec!["id".into()],
            unique_keys: vec![vec!["id".into()]],
            insertable: true,
            updatable: true,
            deletable: true,
            comment: None,
            estimated_bytes: 0,
        }],
        vec![],
        vec![],
    )
}

fn render(query: &str) -> Result<Statement, crate::Error> {
    render_with(query, &HeaderMap::new(), None)
}

fn render_with(
    query: &str,
    headers: &HeaderMap,
    max_rows: Option<u64>,
) -> Result<Statement, crate::Error> {
    let schema = schema();
    let req = parse(route(&Method::GET, "/films")?, Some(query), headers, None)?;
    let config = Config::for_tests(&["api"], max_rows);
    crate::plan::admit(&req, &schema, &config)?;
    match plan(&req, &schema, &config)?.kind {
        PlanKind::Read(plan) => render_read(&plan).map(|s| s.main),
        other => unreachable!("GET of a table plans a read: {other:?}"),
    }
}

fn params(values: &[&str]) -> Vec<Option<CompactString>> {
    values.iter().map(|v| Some((*v).into())).collect()
}

#[test]
fn select_filter_order_limit() {
    let s = render("select=id,t:title&year=gt.2000&order=title.desc.nullslast&limit=10&offset=5")
        .unwrap();
    assert_eq!(
        s.sql,
        r#"WITH "pgrst_page" AS (SELECT "api"."films"."id" AS "id", "api"."films"."title" AS "t" FROM "api"."films" WHERE "api"."films"."year" > $1 ORDER BY "api"."films"."title" DESC NULLS LAST LIMIT $2 OFFSET $3) SELECT NULL::int8, pg_catalog.count(*), coalesce(pg_catalog.json_agg("pgrst_page"), '[]')::text FROM "pgrst_page""#
    );
    assert_eq!(s.params, params(&["2000", "10", "5"]));
}

#[test]
fn star_in_is_and_negation() {
    let s = render("id=not.in.(1,\"2,3\")&title=is.null&year=isdistinct.1").unwrap();
    assert_eq!(
        s.sql,
        r#"WITH "pgrst_page" AS (SELECT "api"."films".* FROM "api"."films" WHERE NOT ("api"."films"."id" = ANY ($1)) AND "api"."films"."title" IS NULL AND "api"."films"."year" IS DISTINCT FROM $2) SELECT NULL::int8, pg_catalog.count(*), coalesce(pg_catalog.json_agg("pgrst_page"), '[]')::text FROM "pgrst_page""#
    );
    assert_eq!(s.params, params(&[r#"{"1","2,3"}"#, "1"]));
}

#[test]
fn json_paths_casts_and_quantifiers() {
    let s = render("select=data->a->>0,y:year::double precision,n:title::Text&title=like(any).{a*,b*}&data->>k=eq.v").unwrap();
    assert_eq!(
        s.sql,
        r#"WITH "pgrst_page" AS (SELECT "api"."films"."data" -> $1::text ->> $2::int4 AS "a", CAST("api"."films"."year" AS double precision) AS "y", CAST("api"."films"."title" AS "text") AS "n" FROM "api"."films" WHERE "api"."films"."title" LIKE ANY ($3) AND "api"."films"."data" ->> $4::text = $5) SELECT NULL::int8, pg_catalog.count(*), coalesce(pg_catalog.json_agg("pgrst_page"), '[]')::text FROM "pgrst_page""#
    );
    assert_eq!(s.params, params(&["a", "0", "{a%,b%}", "k", "v"]));
}

#[test]
fn non_json_columns_are_wrapped_for_paths() {
    let s = render("select=tags->0").unwrap();
    assert!(
        s.sql
            .contains(r#"pg_catalog.to_jsonb("api"."films"."tags") -> $1::int4 AS "tags""#),
        "{}",
        s.sql
    );
}

#[test]
fn full_text_search() {
    let s = render("doc=fts(english).cat&title=wfts.dog").unwrap();
    assert!(
        s.sql.contains(r#"WHERE "api"."films"."doc" @@ pg_catalog.to_tsquery($1::regconfig, $2) AND pg_catalog.to_tsvector("api"."films"."title") @@ pg_catalog.websearch_to_tsquery($3)"#),
        "{}",
        s.sql
    );
    assert_eq!(s.params, params(&["english", "cat", "dog"]));
}

#[test]
fn singular_and_max_rows() {
    let mut headers = HeaderMap::new();
    headers.insert(
        "accept",
        "application/vnd.pgrst.object+json".parse().unwrap(),
    );
    let s = render_with("limit=50", &headers, Some(20)).unwrap();
    assert!(
        s.sql.ends_with(r#"SELECT NULL::int8, pg_catalog.count(*), coalesce((pg_catalog.json_agg("pgrst_page") -> 0)::text, 'null') FROM "pgrst_page""#),
        "{}",
        s.sql
    );
    assert_eq!(s.params, params(&["20"]));
}

#[test]
fn logic_trees() {
    let s = render("or=(year.lt.1950,and(title.like.A*,not.or(id.eq.1,data->>k.is.null)))&not.and=(id.gt.5,tags.cs.{a,b})").unwrap();
    assert!(
        s.sql.contains(r#"WHERE ("api"."films"."year" < $1 OR ("api"."films"."title" LIKE $2 AND NOT ("api"."films"."id" = $3 OR "api"."films"."data" ->> $4::text IS NULL))) AND NOT ("api"."films"."id" > $5 AND "api"."films"."tags" @> $6)"#),
        "{}",
        s.sql
    );
    assert_eq!(s.params, params(&["1950", "A%", "1", "k", "5", "{a,b}"]));
}

#[test]
fn counts() {
    let mut headers = HeaderMap::new();
    headers.insert("prefer", "count=exact".parse().unwrap());
    let s = render_with("id=gt.1&limit=5", &headers, None).unwrap();
    assert!(
        s.sql.contains(r#"SELECT (SELECT pg_catalog.count(*) FROM "api"."films" WHERE "api"."films"."id" > $3), pg_catalog.count(*)"#),
        "{}",
        s.sql
    );
    assert_eq!(s.params, params(&["1", "5", "1"]));
    // Without a limit the page is the whole: no second count.
    let s = render_with("id=gt.1", &headers, None).unwrap();
    assert!(
        s.sql.contains("SELECT NULL::int8, pg_catalog.count(*)"),
        "{}",
        s.sql
    );

    headers.insert("prefer", "count=estimated".parse().unwrap());
    let schema = schema();
    let req = parse(
        route(&Method::GET, "/films").unwrap(),
        Some("id=gt.1"),
        &headers,
        None,
    )
    .unwrap();
    let config = Config::for_tests(&["api"], Some(100));
    crate::plan::admit(&req, &schema, &config).unwrap();
    let PlanKind::Read(plan) = plan(&req, &schema, &config).unwrap().kind else {
        panic!("GET plans a read")
    };
    let stmts = render_read(&plan).unwrap();
    assert!(
        stmts.main.sql.contains(r#"SELECT (SELECT pg_catalog.count(*) FROM (SELECT 1 FROM "api"."films" WHERE "api"."films"."id" > $3 LIMIT $4) AS "pgrst_capped")"#),
        "{}",
        stmts.main.sql
    );
    assert_eq!(stmts.main.params, params(&["1", "100", "1", "101"]));
    let explain = stmts.explain.unwrap();
    assert_eq!(
        explain.sql,
        r#"EXPLAIN (FORMAT JSON) SELECT 1 FROM "api"."films" WHERE "api"."films"."id" > $1"#
    );
}

#[test]
fn same_shape_same_sql() {
    let a = render("title=eq.a&id=in.(1,2,3)").unwrap();
    let b = render("title=eq.zzz&id=in.(9)").unwrap();
    assert_eq!(a.sql, b.sql);
}

/// The SQL text with every quoted identifier replaced by `"?"`, and the identifiers in order.
fn skeleton(sql: &str) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut idents = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '"' {
            out.push(c);
            continue;
        }
        let mut ident = String::new();
        loop {
            match chars.next() {
                Some('"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    ident.push('"');
                }
                Some('"') => break,
                Some(c) => ident.push(c),
                None => panic!("unterminated identifier in {sql}"),
            }
        }
        out.push_str("\"?\"");
        idents.push(ident);
    }
    (out, idents)
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        "[\"';$\\\\\\x00(),.:*%_{}\\[\\] a-zA-Zé☃-]{0,24}",
        Just("'; DROP TABLE films; --".to_owned()),
        Just("$1".to_owned()),
        Just("\" OR 1=1 --".to_owned()),
        Just("\\".to_owned()),
        Just("\0".to_owned()),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A value never reaches the SQL text: the text is the one a benign value
    /// gives, and the value is among the parameters.
    #[test]
    fn values_are_parameters(v in hostile()) {
        let benign = |v: &str| format!(
            "title=eq.{v}&year=neq.{v}&title=like.{v}&tags=cs.{v}&doc=fts(english).{v}&data->{k}->>{k}=eq.{v}&id=in.({q},{q})",
            v = encode(v), k = encode(&quote(v)), q = encode(&quote(v)),
        );
        let hostile_stmt = render(&benign(&v)).unwrap();
        let plain = render(&benign("x")).unwrap();
        prop_assert_eq!(&hostile_stmt.sql, &plain.sql);
        prop_assert!(hostile_stmt.params.iter().any(|p| p.as_deref() == Some(v.as_str())));
        prop_assert_eq!(hostile_stmt.params.len(), plain.params.len());
    }

    /// A name only ever reaches the SQL text as one quoted identifier.
    #[test]
    fn names_are_quoted_identifiers(n in hostile().prop_filter("names are non-empty", |n| !n.trim().is_empty())) {
        let query = |n: &str| format!(
            "select={a}:{c},{c}::text&{c}=eq.1&order={c}.desc",
            a = encode(&quote(n)), c = encode(&quote(n)),
        );
        match render(&query(&n)) {
            Ok(stmt) => {
                let (shape, idents) = skeleton(&stmt.sql);
                let (plain_shape, _) = skeleton(&render(&query("x")).unwrap().sql);
                prop_assert_eq!(shape, plain_shape);
                prop_assert!(idents.contains(&n));
                prop_assert!(!stmt.params.iter().any(|p| p.as_deref() == Some(n.as_str())));
            }
            // Only a name PostgreSQL could never hold is refused.
            Err(e) => prop_assert!(n.contains('\0'), "{e}"),
        }
    }
}
