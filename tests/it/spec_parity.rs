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
    // A cast applies on top of the JSON form.
    let reply = send(&svc, "GET", "/labels?select=id,h:hue::text&id=eq.1", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!([{"id": 1, "h": "\"#000100\""}]));
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

/// How a call's arguments arrive decides the function, as in PostgREST:
/// a raw body for the one unnamed `text`/`xml`/`bytea` argument, a form body
/// and a query string as pairs (a variadic argument's repeats as its list,
/// any other's last value), a named `json` argument never takes the whole body.
#[tokio::test]
async fn a_call_s_body_and_query_decide_its_function_and_arguments() {
    let ddl = "CREATE DOMAIN \"text/plain\" AS text;
        CREATE DOMAIN \"text/xml\" AS xml;
        CREATE FUNCTION echo_text(text) RETURNS \"text/plain\" LANGUAGE sql AS 'SELECT $1';
        CREATE FUNCTION echo_xml(xml) RETURNS \"text/xml\" LANGUAGE sql AS 'SELECT $1';
        CREATE FUNCTION byte_count(bytea) RETURNS int LANGUAGE sql AS 'SELECT length($1)';
        CREATE FUNCTION first_byte(bytea) RETURNS int LANGUAGE sql AS 'SELECT get_byte($1, 0)';
        CREATE FUNCTION int_only(int) RETURNS int LANGUAGE sql AS 'SELECT $1';
        CREATE FUNCTION named_json(data json) RETURNS json LANGUAGE sql AS 'SELECT data';
        CREATE FUNCTION twin(json) RETURNS int LANGUAGE sql AS 'SELECT 1';
        CREATE FUNCTION twin(jsonb) RETURNS int LANGUAGE sql AS 'SELECT 2';
        CREATE FUNCTION listed(VARIADIC v text[] DEFAULT '{}') RETURNS text[] LANGUAGE sql AS 'SELECT v';
        CREATE FUNCTION hello(name text) RETURNS text LANGUAGE sql AS $$SELECT 'Hello, ' || name$$;
        CREATE FUNCTION hello_all(name text, VARIADIC v text[]) RETURNS text
          LANGUAGE sql AS $$SELECT 'Hello, ' || name || ' ' || array_length(v, 1)$$;
        CREATE FUNCTION pad(c char, cs char[], b bit, bs bit[]) RETURNS text
          LANGUAGE sql AS $$SELECT c || '/' || cs[2] || '/' || b::text || '/' || bs[2]::text$$;";
    let (svc, _db) = scratch_with(ddl, |b| b.anon_role("anon")).await;
    let text = [("content-type", "text/plain"), ("accept", "text/plain")];
    let reply = send_body(
        &svc,
        "POST",
        "/rpc/echo_text",
        &text,
        "as it is, {not json}",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.text, "as it is, {not json}");
    let xml = [("content-type", "text/xml"), ("accept", "text/xml")];
    let reply = send_body(&svc, "POST", "/rpc/echo_xml", &xml, "<a><b>1</b></a>").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.text, "<a><b>1</b></a>");
    let reply = send_body(&svc, "POST", "/rpc/echo_xml", &xml, "<").await;
    assert!(reply.status.is_client_error(), "{}", reply.text);
    assert_eq!(reply.json()["message"], "invalid XML content");
    let bytes = [("content-type", "application/octet-stream")];
    let body: &[u8] = &[0xff, 0, 1, 2, b'\\', b'x'];
    let reply = send_body(&svc, "POST", "/rpc/byte_count", &bytes, body).await;
    assert_eq!((reply.status.as_u16(), reply.text.as_str()), (200, "6"));
    let reply = send_body(&svc, "POST", "/rpc/first_byte", &bytes, body).await;
    assert_eq!(reply.text, "255");
    // No function takes a raw body of that type: PostgREST's words, no hint.
    let reply = send_body(
        &svc,
        "POST",
        "/rpc/int_only",
        &[("content-type", "text/plain")],
        "1",
    )
    .await;
    let err = reply.error(404, "not_found");
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    assert!(
        text(&err["message"]).ends_with(".int_only in the schema cache"),
        "{err}"
    );
    assert!(
        text(&err["details"]).ends_with(
            ".int_only with a single unnamed text parameter, but no matches were found in the schema cache."
        ),
        "{err}"
    );
    assert_eq!(err["hint"], serde_json::Value::Null);
    // A function of one unnamed int cannot be called; the hint names
    // another function rather than it.
    let reply = send_body(&svc, "POST", "/rpc/int_only", &[JSON], r#"{"x": 1}"#).await;
    let err = reply.error(404, "not_found");
    assert!(!text(&err["hint"]).contains("int_only"), "{err}");
    // A named json argument takes an object's keys, never the whole body.
    let reply = send_body(&svc, "POST", "/rpc/named_json", &[JSON], r#"{"a": 1}"#).await;
    reply.error(404, "not_found");
    // Two functions take the whole body: 300.
    let reply = send_body(&svc, "POST", "/rpc/twin", &[JSON], r#"{"a": 1}"#).await;
    let err = reply.error(300, "ambiguous");
    let message = text(&err["message"]);
    assert!(
        message.starts_with("Could not choose the best candidate function between: ")
            && message.contains(".twin( => json), ")
            && message.ends_with(".twin( => jsonb)"),
        "{message}"
    );
    // Pairs: a variadic argument's values as its list; others' last value.
    for (method, uri, form, expected) in [
        ("GET", "/rpc/listed", "", json!([])),
        ("GET", "/rpc/listed?v=hi", "", json!(["hi"])),
        (
            "GET",
            "/rpc/listed?v=hi&v=there",
            "",
            json!(["hi", "there"]),
        ),
        ("POST", "/rpc/listed", "", json!([])),
        ("POST", "/rpc/listed", "v=hi", json!(["hi"])),
        (
            "POST",
            "/rpc/listed",
            "v=hi&v=there",
            json!(["hi", "there"]),
        ),
        (
            "GET",
            "/rpc/hello?name=ignored&name=world",
            "",
            json!("Hello, world"),
        ),
        (
            "POST",
            "/rpc/hello",
            "name=ignored&name=world",
            json!("Hello, world"),
        ),
        (
            "GET",
            "/rpc/hello_all?name=a&name=b&v=1&v=2",
            "",
            json!("Hello, b 2"),
        ),
        (
            "GET",
            "/rpc/pad?c=abc&cs={x,yz}&b=101&bs={1,0110}",
            "",
            json!("abc/yz/101/0110"),
        ),
    ] {
        let headers = [("content-type", "application/x-www-form-urlencoded")];
        let headers: &[(&str, &str)] = if method == "POST" { &headers } else { &[] };
        let reply = send_body(&svc, method, uri, headers, form).await;
        assert_eq!(reply.status, 200, "{method} {uri} {form}: {}", reply.text);
        assert_eq!(reply.json(), expected, "{method} {uri} {form}");
    }
    // By POST, a query parameter is a filter, never an argument.
    let reply = send_body(
        &svc,
        "POST",
        "/rpc/hello?name=John",
        &[JSON],
        r#"{"name": "x"}"#,
    )
    .await;
    reply.error(422, "invalid_request");
}

/// Functions of an anonymous `record` answer their rows' columns, and one
/// of a domain over a row type embeds as that row type does.
#[tokio::test]
async fn records_and_row_domains_are_rows() {
    let ddl = "CREATE TABLE owners (id int PRIMARY KEY, name text);
        CREATE TABLE pets (id int PRIMARY KEY, name text, owner_id int REFERENCES owners);
        INSERT INTO owners VALUES (1, 'Ann');
        INSERT INTO pets VALUES (1, 'Rex', 1), (2, 'Tom', 1);
        CREATE FUNCTION a_pet() RETURNS record LANGUAGE sql AS 'SELECT * FROM pets ORDER BY id LIMIT 1';
        CREATE FUNCTION pets_named(pattern text) RETURNS SETOF record LANGUAGE sql
          AS 'SELECT * FROM pets WHERE name LIKE pattern ORDER BY id';
        CREATE DOMAIN pet_d AS pets;
        CREATE FUNCTION pets_d() RETURNS SETOF pet_d LANGUAGE sql AS 'SELECT p::pet_d FROM pets p ORDER BY id';
        GRANT SELECT ON owners, pets TO anon;";
    let (svc, _db) = scratch_with(ddl, |b| b.anon_role("anon")).await;
    let reply = send_body(&svc, "POST", "/rpc/a_pet", &[JSON], "{}").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"id": 1, "name": "Rex", "owner_id": 1}));
    let reply = send(&svc, "GET", "/rpc/pets_named?pattern=%25", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!([{"id": 1, "name": "Rex", "owner_id": 1}, {"id": 2, "name": "Tom", "owner_id": 1}])
    );
    let reply = send(
        &svc,
        "GET",
        "/rpc/pets_d?select=name,owners(name)&id=eq.2",
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!([{"name": "Tom", "owners": {"name": "Ann"}}])
    );
}

/// Smaller readings of PostgREST's: a negative offset is none, an upsert
/// that inserted nothing is 200, a PATCH of one element without the key is
/// that object, JSON keys take any unreserved character, an embed that
/// shows nothing (`rel(inner())`) is left out, a deferred constraint's
/// violation names its key, and a bad `response.status` says so.
#[tokio::test]
async fn smaller_readings_of_postgrest_s() {
    let ddl = "CREATE TABLE kinds (id int PRIMARY KEY, name text);
        CREATE TABLE things (id int PRIMARY KEY, name text, kind_id int REFERENCES kinds, data jsonb);
        CREATE TABLE parts (id int PRIMARY KEY, thing_id int REFERENCES things);
        INSERT INTO kinds VALUES (1, 'k');
        INSERT INTO things VALUES (1, 'a', 1, '{\"!@#$%^&*_k\": {\"x\": 3}}'), (2, 'b', 1, '{}'), (3, 'c', 1, '{}');
        INSERT INTO parts VALUES (1, 1), (2, 1);
        CREATE TABLE once (col int UNIQUE DEFERRABLE);
        CREATE FUNCTION twice(deferred bool DEFAULT false) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
          IF deferred THEN SET CONSTRAINTS ALL DEFERRED; END IF;
          INSERT INTO once VALUES (1), (1);
        END $$;
        CREATE FUNCTION bad_status() RETURNS int LANGUAGE plpgsql AS $$
        BEGIN PERFORM set_config('response.status', 'bad', true); RETURN 1; END $$;
        GRANT ALL ON kinds, things, parts, once TO anon;";
    let (svc, db) = scratch_with(ddl, |b| b.anon_role("anon")).await;
    let reply = send(&svc, "GET", "/things?select=id&offset=-4&order=id", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.ids(), [1, 2, 3]);

    let merge = (
        "prefer",
        "return=representation,resolution=merge-duplicates",
    );
    let reply = send_body(&svc, "POST", "/things", &[JSON, merge], "[]").await;
    assert_eq!((reply.status.as_u16(), reply.text.as_str()), (200, "[]"));
    let reply = send_body(
        &svc,
        "POST",
        "/things",
        &[JSON, merge],
        r#"[{"id": 1, "name": "a"}]"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = send_body(
        &svc,
        "POST",
        "/things",
        &[JSON, merge],
        r#"[{"id": 9, "name": "z"}]"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);

    // One element without the key is the object; none, or an empty one, changes nothing.
    let reply = send_body(
        &svc,
        "PATCH",
        "/things?id=lt.3",
        &[JSON],
        r#"[{"name": "same"}]"#,
    )
    .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    let names = crate::support::rows(&db, "SELECT name FROM things ORDER BY id").await;
    assert_eq!(
        names,
        json!([{"name": "same"}, {"name": "same"}, {"name": "c"}, {"name": "z"}])
    );
    for body in ["[]", "[{}]"] {
        let reply = send_body(&svc, "PATCH", "/things", &[JSON], body).await;
        assert_eq!(reply.status, 204, "{body}: {}", reply.text);
    }
    // Two elements without the key are still a bulk PATCH that needs it.
    let reply = send_body(
        &svc,
        "PATCH",
        "/things",
        &[JSON],
        r#"[{"name": "x"}, {"name": "y"}]"#,
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.text);

    let reply = send(
        &svc,
        "GET",
        "/things?select=data->!@%23$%25^%26*_k->>x&data->!@%23$%25^%26*_k->>x=eq.3",
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!([{"x": "3"}]));

    // Embeds that show nothing, however deep, are left out.
    let reply = send(&svc, "GET", "/kinds?select=*,things(parts())", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!([{"id": 1, "name": "k"}]));
    let reply = send(
        &svc,
        "GET",
        "/kinds?select=*,things!inner(parts!inner())&things.parts.id=eq.7",
        &[],
    )
    .await;
    assert_eq!(reply.json(), json!([]), "{}", reply.text);

    for deferred in ["false", "true"] {
        let reply = send_body(
            &svc,
            "POST",
            "/rpc/twice",
            &[JSON],
            format!(r#"{{"deferred": {deferred}}}"#),
        )
        .await;
        let err = reply.error(409, "conflict");
        assert_eq!(
            err["details"], "Key (col)=(1) already exists.",
            "deferred: {deferred}"
        );
    }

    let reply = send(&svc, "GET", "/rpc/bad_status", &[]).await;
    let err = reply.error(500, "internal");
    assert_eq!(
        err["message"],
        "response.status guc must be a valid status code"
    );
}

/// `db-tx-end = rollback`: writes answer as if made and leave nothing,
/// unless overriding is allowed and asked for.
#[tokio::test]
async fn every_transaction_can_end_in_a_rollback() {
    let ddl = "CREATE TABLE notes (id int PRIMARY KEY, body text); GRANT ALL ON notes TO anon;";
    let (svc, db) = scratch_with(ddl, |b| b.anon_role("anon").tx_rollback(true)).await;
    let reply = send_body(
        &svc,
        "POST",
        "/notes",
        &[JSON, ("prefer", "return=representation")],
        r#"{"id": 1, "body": "x"}"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json(), json!([{"id": 1, "body": "x"}]));
    let reply = send_body(
        &svc,
        "POST",
        "/notes",
        &[JSON, ("prefer", "tx=commit")],
        r#"{"id": 2}"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        crate::support::rows(&db, "SELECT id FROM notes").await,
        json!([])
    );
    let (svc, db) = scratch_with(ddl, |b| {
        b.anon_role("anon").tx_rollback(true).tx_override(true)
    })
    .await;
    let reply = send_body(
        &svc,
        "POST",
        "/notes",
        &[JSON, ("prefer", "tx=commit")],
        r#"{"id": 3}"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        crate::support::rows(&db, "SELECT id FROM notes").await,
        json!([{"id": 3}])
    );
}

/// A trigger's `response.headers` and `response.status` shape a write's
/// answer, as a function's shape a call's.
#[tokio::test]
async fn a_trigger_s_response_settings_shape_a_write_s_answer() {
    let ddl = "CREATE TABLE boxes (id int PRIMARY KEY, name text);
        CREATE FUNCTION mark() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM set_config('response.headers',
            format('[{\"Location\": \"/boxes?id=eq.%s&marked=true\"}, {\"X-Box\": \"%s\"}]', NEW.id, NEW.name), true);
          IF TG_OP = 'UPDATE' THEN PERFORM set_config('response.status', '205', true); END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER mark BEFORE INSERT OR UPDATE ON boxes FOR EACH ROW EXECUTE FUNCTION mark();";
    let (svc, _db) = scratch_with(ddl, |b| b.anon_role("anon")).await;
    let reply = send_body(&svc, "POST", "/boxes", &[JSON], r#"{"id": 2, "name": "b"}"#).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.header("location"), "/boxes?id=eq.2&marked=true");
    assert_eq!(reply.header("x-box"), "b");
    let reply = send_body(&svc, "PATCH", "/boxes?id=eq.2", &[JSON], r#"{"name": "c"}"#).await;
    assert_eq!(reply.status, 205, "{}", reply.text);
    assert_eq!(reply.header("x-box"), "c");
}

/// `columns=` names what a write reads: a key it leaves out may hold
/// anything, and a domain's default fills a column `missing=default` leaves.
#[tokio::test]
async fn columns_leave_other_keys_unread_and_domain_defaults_apply() {
    let ddl = "CREATE DOMAIN lucky AS int DEFAULT 7;
        CREATE TABLE events (id lucky, name text, at timestamptz);
        CREATE TABLE keyed (id int PRIMARY KEY, name text, at timestamptz);
        INSERT INTO keyed VALUES (1, 'a', now());";
    let (svc, db) = scratch_with(ddl, |b| b.anon_role("anon")).await;
    let reply = send_body(
        &svc,
        "POST",
        "/events?columns=name",
        &[JSON, ("prefer", "return=representation,missing=default")],
        r#"[{"name": "x", "at": "not a time"}, {"at": "nor this", "name": "y"}]"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        crate::support::rows(&db, "SELECT id, name, at FROM events ORDER BY name").await,
        json!([{"id": 7, "name": "x", "at": null}, {"id": 7, "name": "y", "at": null}])
    );
    let reply = send_body(
        &svc,
        "PATCH",
        "/keyed?id=eq.1&columns=name",
        &[JSON],
        r#"{"name": "b", "at": "not a time"}"#,
    )
    .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert_eq!(
        crate::support::rows(&db, "SELECT name FROM keyed").await,
        json!([{"name": "b"}])
    );
}

/// A representation reads only the columns it shows, so a role that may
/// read just those may write and see them; a null test of an embed of an
/// embed filters, and a spread that shows nothing multiplies nothing.
#[tokio::test]
async fn writes_read_only_what_they_show_and_hidden_embeds_only_filter() {
    let ddl = "CREATE TABLE members (id int PRIMARY KEY, email text, secret text);
        INSERT INTO members VALUES (1, 'a@x', 's1'), (2, 'b@x', 's2');
        CREATE TABLE teams (id int PRIMARY KEY, name text);
        CREATE TABLE squads (id int PRIMARY KEY, team_id int REFERENCES teams, name text);
        CREATE TABLE players (id int PRIMARY KEY, squad_id int REFERENCES squads);
        INSERT INTO teams VALUES (1, 't1'), (2, 't2');
        INSERT INTO squads VALUES (1, 1, 's1'), (2, 1, 's2'), (3, 2, 's3');
        INSERT INTO players VALUES (1, 1);";
    let (svc, db) = scratch_with(ddl, |b| b.anon_role("anon")).await;
    db.batch_execute(
        "REVOKE SELECT ON members FROM anon; GRANT SELECT (id, email) ON members TO anon;",
    )
    .await
    .unwrap();
    let reply = send(
        &svc,
        "DELETE",
        "/members?id=eq.1&select=id,email",
        &[("prefer", "return=representation")],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!([{"id": 1, "email": "a@x"}]));
    let reply = send_body(
        &svc,
        "POST",
        "/members?select=id",
        &[JSON, ("prefer", "return=representation")],
        r#"{"id": 3, "email": "c@x", "secret": "s3"}"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json(), json!([{"id": 3}]));
    // Every column (`*`) still needs every column's privilege.
    let reply = send(
        &svc,
        "DELETE",
        "/members?id=eq.2",
        &[("prefer", "return=representation")],
    )
    .await;
    assert!(reply.status.is_client_error(), "{}", reply.text);

    let reply = send(
        &svc,
        "GET",
        "/teams?select=name,squads(name,players())&squads.players=not.is.null&squads=not.is.null",
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!([{"name": "t1", "squads": [{"name": "s1"}]}])
    );
    let reply = send(&svc, "GET", "/teams?select=name,...squads()&order=id", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!([{"name": "t1"}, {"name": "t2"}]));
}
