//! PostgREST behaviours its own spec suite checks, written here from the
//! behaviour (issue 33): relationships of views over another schema's
//! tables, keys of views, `ROWS 1` computed relationships, a function's
//! single OUT parameter, data representations, computed columns on written
//! rows, writes a role may make without reading, and PostgREST's words.

use serde_json::json;

use crate::support::{scratch_with, send, send_body};

const JSON: (&str, &str) = ("content-type", "application/json");

/// A schema of its own for the tables the exposed views show.
fn private_schema() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "private_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

#[tokio::test]
async fn views_over_another_schema_s_tables_relate_and_have_their_keys() {
    let p = private_schema();
    let ddl = format!(
        "CREATE SCHEMA {p};
         CREATE TABLE {p}.authors (id int PRIMARY KEY, name text);
         CREATE TABLE {p}.books (id int PRIMARY KEY, title text, author_id int REFERENCES {p}.authors);
         CREATE TABLE {p}.readers (id int PRIMARY KEY, name text);
         CREATE TABLE {p}.loans (book_id int REFERENCES {p}.books, reader_id int REFERENCES {p}.readers,
                                 PRIMARY KEY (book_id, reader_id));
         INSERT INTO {p}.authors VALUES (1, 'Orwell');
         INSERT INTO {p}.books VALUES (1, '1984', 1), (2, 'Animal Farm', 1);
         INSERT INTO {p}.readers VALUES (7, 'Ann');
         INSERT INTO {p}.loans VALUES (2, 7);
         CREATE VIEW authors AS SELECT * FROM {p}.authors;
         CREATE VIEW books AS SELECT * FROM {p}.books;
         CREATE VIEW readers AS SELECT * FROM {p}.readers;
         CREATE VIEW loans AS SELECT * FROM {p}.loans;
         GRANT USAGE ON SCHEMA {p} TO anon;
         GRANT ALL ON ALL TABLES IN SCHEMA {p} TO anon;"
    );
    let (svc, _db) = scratch_with(&ddl, |b| b.anon_role("anon")).await;
    // Many-to-one and one-to-many through the views' foreign keys.
    let reply = send(
        &svc,
        "GET",
        "/books?select=title,authors(name)&order=id",
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!([{"title": "1984", "authors": {"name": "Orwell"}}, {"title": "Animal Farm", "authors": {"name": "Orwell"}}])
    );
    // Many-to-many through a junction that is itself a view.
    let reply = send(&svc, "GET", "/readers?select=name,books(title)", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!([{"name": "Ann", "books": [{"title": "Animal Farm"}]}])
    );
    // A view has its table's key: an insert answers with its Location.
    let reply = send_body(
        &svc,
        "POST",
        "/loans",
        &[JSON, ("prefer", "return=headers-only")],
        r#"{"book_id": 1, "reader_id": 7}"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        reply.header("location"),
        "/loans?book_id=eq.1&reader_id=eq.7"
    );
}

#[tokio::test]
async fn rows_1_computed_relationships_are_to_one_and_one_out_parameter_is_an_object() {
    let ddl = "CREATE TABLE designers (id int PRIMARY KEY, name text);
        CREATE TABLE games (id int PRIMARY KEY, name text, designer_id int);
        INSERT INTO designers VALUES (1, 'Sid');
        INSERT INTO games VALUES (1, 'Civ', 1);
        CREATE FUNCTION designer(games) RETURNS SETOF designers ROWS 1 LANGUAGE sql STABLE
          AS 'SELECT * FROM designers WHERE id = $1.designer_id';
        CREATE FUNCTION plus_one(num int, OUT num_plus_one int) LANGUAGE sql IMMUTABLE AS 'SELECT num + 1';";
    let (svc, _db) = scratch_with(ddl, |b| b.anon_role("anon")).await;
    let reply = send(&svc, "GET", "/games?select=name,designer(name)", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!([{"name": "Civ", "designer": {"name": "Sid"}}])
    );
    let reply = send(&svc, "GET", "/rpc/plus_one?num=5", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"num_plus_one": 6}));
}

#[tokio::test]
async fn data_representations_shape_answers_filters_and_bodies() {
    // A colour stored as an integer, written and shown as "#rrggbb".
    let ddl = r#"
        CREATE DOMAIN colour AS integer CHECK (VALUE BETWEEN 0 AND 16777215);
        CREATE FUNCTION colour(text) RETURNS colour LANGUAGE sql IMMUTABLE
          AS $$ SELECT (('x' || lpad(ltrim($1, '#'), 8, '0'))::bit(32)::int)::colour $$;
        CREATE FUNCTION colour(json) RETURNS colour LANGUAGE sql IMMUTABLE AS $$ SELECT colour($1 #>> '{}') $$;
        CREATE FUNCTION json(colour) RETURNS json LANGUAGE sql IMMUTABLE
          AS $$ SELECT to_json('#' || lpad(upper(to_hex($1)), 6, '0')) $$;
        CREATE CAST (colour AS json) WITH FUNCTION json(colour) AS IMPLICIT;
        CREATE CAST (json AS colour) WITH FUNCTION colour(json) AS IMPLICIT;
        CREATE CAST (text AS colour) WITH FUNCTION colour(text) AS IMPLICIT;
        CREATE TABLE labels (id int PRIMARY KEY, hue colour);
        INSERT INTO labels VALUES (1, 256), (2, 123456);
    "#;
    let (svc, _db) = scratch_with(ddl, |b| b.anon_role("anon")).await;
    let reply = send(&svc, "GET", "/labels?order=id", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!([{"id": 1, "hue": "#000100"}, {"id": 2, "hue": "#01E240"}])
    );
    let reply = send(
        &svc,
        "GET",
        "/labels?select=id&hue=in.(000100,01E240)&order=id",
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!([{"id": 1}, {"id": 2}]));
    let reply = send(&svc, "GET", "/labels?select=id&hue=eq.%2301E240", &[]).await;
    assert_eq!(reply.json(), json!([{"id": 2}]));
    let reply = send_body(
        &svc,
        "POST",
        "/labels?select=id,hue",
        &[JSON, ("prefer", "return=representation")],
        r##"[{"id": 3, "hue": "#FF0000"}]"##,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json(), json!([{"id": 3, "hue": "#FF0000"}]));
}

#[tokio::test]
async fn written_rows_answer_computed_columns_and_a_role_may_write_what_it_cannot_read() {
    let ddl = "CREATE TABLE items (id int PRIMARY KEY, name text, secret text);
        INSERT INTO items VALUES (1, 'one', 's');
        CREATE FUNCTION shout(items) RETURNS text LANGUAGE sql STABLE AS 'SELECT upper($1.name)';
        CREATE TABLE inbox (v text NOT NULL);
        CREATE TABLE channels (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                               data jsonb DEFAULT '{\"a\": 1}', slug text);";
    let (svc, db) = scratch_with(ddl, |b| b.anon_role("anon")).await;
    // A computed column of a PATCH's rows.
    let reply = send_body(
        &svc,
        "PATCH",
        "/items?id=eq.1&select=id,shout",
        &[JSON, ("prefer", "return=representation")],
        r#"{"name": "uno"}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!([{"id": 1, "shout": "UNO"}]));
    // INSERT without SELECT, and DELETE with SELECT on some columns only.
    db.batch_execute(
        "REVOKE SELECT ON inbox FROM anon; REVOKE SELECT ON items FROM anon;
         GRANT SELECT (id, name) ON items TO anon;",
    )
    .await
    .unwrap();
    let reply = send_body(&svc, "POST", "/inbox", &[JSON], r#"{"v": "hello"}"#).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let reply = send(&svc, "DELETE", "/items?id=eq.1", &[]).await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    // missing=default takes an identity column's next value.
    let reply = send_body(
        &svc,
        "POST",
        "/channels?columns=id,data,slug&select=data,slug",
        &[JSON, ("prefer", "return=representation, missing=default")],
        r#"{"slug": "foo"}"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json(), json!([{"data": {"a": 1}, "slug": "foo"}]));
    assert_eq!(
        reply.header("preference-applied"),
        "missing=default, return=representation"
    );
}

#[tokio::test]
async fn postgrest_s_words_and_preferences() {
    let ddl = "CREATE TABLE items (id int PRIMARY KEY);
        INSERT INTO items VALUES (1), (2);
        CREATE FUNCTION add_them(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
        CREATE FUNCTION bad_raise() RETURNS void LANGUAGE plpgsql
          AS $$ BEGIN RAISE SQLSTATE 'PGRST' USING MESSAGE = 'INVALID'; END $$;";
    let (svc, _db) = scratch_with(ddl, |b| b.anon_role("anon")).await;
    let reply = send_body(&svc, "POST", "/items", &[JSON], "}{ x = 2").await;
    let body = reply.error(422, "invalid_request");
    assert_eq!(body["message"], "Empty or invalid json");
    let reply = send_body(&svc, "POST", "/items", &[JSON], r#"[{"id": 3}, 4]"#).await;
    assert_eq!(reply.json()["message"], "All object keys must match");
    let reply = send_body(
        &svc,
        "POST",
        "/items",
        &[("content-type", "text/csv")],
        "id\n5\n6,7",
    )
    .await;
    assert_eq!(
        reply.json()["message"],
        "All lines must have same number of fields"
    );
    let reply = send(&svc, "GET", "/rpc/bad_raise", &[]).await;
    assert_eq!(
        reply.json()["message"],
        "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error"
    );
    assert_eq!(
        reply.json()["details"],
        "Invalid JSON value for MESSAGE: 'INVALID'"
    );
    // A lenient handling is echoed, in PostgREST's order of preferences.
    let reply = send(
        &svc,
        "DELETE",
        "/items?id=eq.2",
        &[("prefer", "return=minimal, handling=lenient")],
    )
    .await;
    assert_eq!(
        reply.header("preference-applied"),
        "return=minimal, handling=lenient"
    );
    // One value, counted.
    let reply = send(
        &svc,
        "GET",
        "/rpc/add_them?a=3&b=4",
        &[("prefer", "count=exact")],
    )
    .await;
    assert_eq!(
        (reply.text.as_str(), reply.header("content-range")),
        ("7", "0-0/1")
    );
    // The description is JSON: CSV is not available at the root.
    send(&svc, "GET", "/", &[("accept", "text/csv")])
        .await
        .error(406, "not_acceptable");
}

#[tokio::test]
async fn inner_two_levels_down_filters_the_top_and_spread_aggregates_group_at_the_top() {
    let ddl = "CREATE TABLE clients (id int PRIMARY KEY, name text);
        CREATE TABLE projects (id int PRIMARY KEY, client_id int REFERENCES clients, kind text);
        CREATE TABLE costs (project_id int PRIMARY KEY REFERENCES projects, amount int);
        CREATE TABLE tasks (id int PRIMARY KEY, project_id int REFERENCES projects);
        INSERT INTO clients VALUES (1, 'a'), (2, 'b');
        INSERT INTO projects VALUES (10, 1, 'x'), (20, 2, 'x'), (30, 2, 'y');
        INSERT INTO costs VALUES (10, 5), (20, 7), (30, 11);
        INSERT INTO tasks VALUES (1, 10), (2, 20), (3, 30), (4, 30);";
    let (svc, _db) = scratch_with(ddl, |b| b.anon_role("anon").aggregates(true)).await;
    // `!inner` two levels down: tasks of client 2's projects only.
    let reply = send(
        &svc,
        "GET",
        "/tasks?select=id,projects!inner(id,clients!inner(id))&projects.clients.id=eq.2&order=id",
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let ids: Vec<i64> = reply
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [2, 3, 4]);
    // An aggregate of a spread in a spread is grouped by the top's columns.
    let reply = send(
        &svc,
        "GET",
        "/tasks?select=...projects(kind,...costs(amount.sum()))&order=projects(kind)",
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!([{"kind": "x", "sum": 12}, {"kind": "y", "sum": 22}])
    );
    // count() of a spread's rows.
    let reply = send(
        &svc,
        "GET",
        "/tasks?select=...projects(kind,count())&order=projects(kind)",
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!([{"kind": "x", "count": 2}, {"kind": "y", "count": 2}])
    );
}

#[tokio::test]
async fn function_results_have_ranges_and_max_affected_needs_a_set() {
    let ddl = "CREATE FUNCTION numbers(n int) RETURNS SETOF int LANGUAGE sql STABLE
          AS 'SELECT generate_series(1, n)';
        CREATE FUNCTION nothing() RETURNS void LANGUAGE sql AS 'SELECT';";
    let (svc, _db) = scratch_with(ddl, |b| b.anon_role("anon")).await;
    let reply = send(
        &svc,
        "GET",
        "/rpc/numbers?n=3&offset=5",
        &[("prefer", "count=exact")],
    )
    .await;
    let body = reply.error(416, "range_not_satisfiable");
    assert_eq!(
        body["details"],
        "An offset of 5 was requested, but there are only 3 rows."
    );
    let reply = send(
        &svc,
        "POST",
        "/rpc/nothing",
        &[("prefer", "handling=strict, max-affected=2")],
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(
        reply.json()["message"],
        "Function must return SETOF or TABLE when max-affected preference is used with handling=strict"
    );
}
