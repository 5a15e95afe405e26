//! Writes: insert, bulk insert, upsert, PUT, PATCH, DELETE and their preferences.
//! Every test reads the table back with SQL, not through the API under test.

use serde_json::json;

use crate::support::{rows, scratch, scratch_with, send, send_body};

const BOOKS: &str = "
CREATE TABLE authors (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE books (
  id serial PRIMARY KEY,
  title text NOT NULL CHECK (title <> ''),
  isbn text UNIQUE,
  author_id int REFERENCES authors (id),
  price numeric(10,2) DEFAULT 9.99,
  tags text[] NOT NULL DEFAULT '{}'
);
INSERT INTO authors VALUES (1, 'Le Guin'), (2, 'Banks');
";

const JSON: (&str, &str) = ("content-type", "application/json");
const REPR: (&str, &str) = ("prefer", "return=representation");

#[tokio::test]
async fn insert_one_and_many() {
    let (svc, db) = scratch(BOOKS).await;
    let reply = send_body(
        &svc,
        "POST",
        "/books",
        &[JSON],
        r#"{"title": "Earthsea", "author_id": 1}"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.text, "");
    assert_eq!(reply.header("content-range"), "*/*");
    assert!(!reply.headers.contains_key("content-type"));

    let reply = send_body(
        &svc,
        "POST",
        "/books",
        &[JSON],
        r#"[{"title": "Excession", "author_id": 2, "tags": ["culture"]}, {"author_id": 2, "title": "Matter", "tags": []}]"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        rows(
            &db,
            "SELECT id, title, author_id, price::text, tags FROM books ORDER BY id"
        )
        .await,
        json!([
            {"id": 1, "title": "Earthsea", "author_id": 1, "price": "9.99", "tags": []},
            {"id": 2, "title": "Excession", "author_id": 2, "price": "9.99", "tags": ["culture"]},
            {"id": 3, "title": "Matter", "author_id": 2, "price": "9.99", "tags": []}
        ])
    );

    // An empty array inserts nothing.
    let reply = send_body(&svc, "POST", "/books", &[JSON], "[]").await;
    assert_eq!(reply.status, 201);
    // No Content-Type at all means JSON.
    let reply = send_body(&svc, "POST", "/books", &[], r#"{"title": "Inversions"}"#).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM books").await,
        json!([{"n": 4}])
    );
}

#[tokio::test]
async fn columns_parameter_plain_and_quoted() {
    let (svc, db) = scratch(BOOKS).await;
    // Keys outside `columns` are ignored; listed keys missing from an object are NULL.
    let reply = send_body(
        &svc,
        "POST",
        "/books?columns=title,isbn",
        &[JSON],
        r#"[{"title": "A", "isbn": "1", "ignored": true}, {"title": "B"}]"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    // The quoted form postgrest-js sends.
    let reply = send_body(
        &svc,
        "POST",
        "/books?columns=%22title%22,%22author_id%22",
        &[JSON],
        r#"[{"title": "C", "author_id": 1}]"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        rows(&db, "SELECT title, isbn, author_id FROM books ORDER BY id").await,
        json!([
            {"title": "A", "isbn": "1", "author_id": null},
            {"title": "B", "isbn": null, "author_id": null},
            {"title": "C", "isbn": null, "author_id": 1}
        ])
    );
    let body = send_body(
        &svc,
        "POST",
        "/books?columns=title,nope",
        &[JSON],
        r#"{"title": "D"}"#,
    )
    .await
    .error(422, "invalid_request");
    assert_eq!(
        body["message"],
        "Could not find the 'nope' column of 'books' in the schema cache"
    );
}

#[tokio::test]
async fn bad_bodies_are_422_and_write_nothing() {
    let (svc, db) = scratch(BOOKS).await;
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case<'_>] = &[
        (
            &[JSON],
            r#"{"title": "x", "nope": 1}"#,
            "Could not find the 'nope' column of 'books' in the schema cache",
        ),
        (
            &[JSON],
            r#"[{"title": "x"}, {"title": "y", "isbn": "2"}]"#,
            "All object keys must match",
        ),
        (&[JSON], "", "Empty or invalid json"),
        (&[JSON], "{\"title\": ", "Empty or invalid json"),
        (
            &[JSON],
            "42",
            "The request body must be a JSON object or an array of objects",
        ),
        (
            &[("content-type", "text/plain")],
            "title=x",
            "Content-Type not acceptable: text/plain",
        ),
    ];
    for (headers, body, message) in cases {
        let reply = send_body(&svc, "POST", "/books", headers, *body).await;
        let err = reply.error(422, "invalid_request");
        assert_eq!(err["message"], *message, "{body}");
    }
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM books").await,
        json!([{"n": 0}])
    );
}

#[tokio::test]
async fn form_and_csv_bodies() {
    let (svc, db) = scratch(BOOKS).await;
    let reply = send_body(
        &svc,
        "POST",
        "/books",
        &[("content-type", "application/x-www-form-urlencoded")],
        "title=Use+of+Weapons&isbn=978-1",
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let reply = send_body(
        &svc,
        "POST",
        "/books",
        &[("content-type", "text/csv")],
        "title,isbn,author_id\n\"Feersum, Endjinn\",978-2,2\nThe Bridge,NULL,NULL\n",
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        rows(&db, "SELECT title, isbn, author_id FROM books ORDER BY id").await,
        json!([
            {"title": "Use of Weapons", "isbn": "978-1", "author_id": null},
            {"title": "Feersum, Endjinn", "isbn": "978-2", "author_id": 2},
            {"title": "The Bridge", "isbn": null, "author_id": null}
        ])
    );
}

#[tokio::test]
async fn return_preferences() {
    let (svc, db) = scratch(BOOKS).await;
    let reply = send_body(
        &svc,
        "POST",
        "/books?select=id,title,author_id&order=title.desc",
        &[JSON, REPR],
        r#"[{"title": "A", "author_id": 1}, {"title": "B", "author_id": 2}]"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!([{"id": 2, "title": "B", "author_id": 2}, {"id": 1, "title": "A", "author_id": 1}])
    );
    assert_eq!(
        reply.header("content-type"),
        "application/json; charset=utf-8"
    );
    assert_eq!(reply.header("preference-applied"), "return=representation");

    let reply = send_body(
        &svc,
        "POST",
        "/books",
        &[JSON, ("prefer", "return=headers-only")],
        r#"{"title": "C"}"#,
    )
    .await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.header("location"), "/books?id=eq.3");
    assert_eq!(reply.text, "");

    let reply = send_body(
        &svc,
        "POST",
        "/books",
        &[JSON, ("prefer", "return=minimal")],
        r#"{"title": "D"}"#,
    )
    .await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.text, "");
    assert_eq!(reply.header("preference-applied"), "return=minimal");
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM books").await,
        json!([{"n": 4}])
    );
}

#[tokio::test]
async fn missing_default_takes_column_defaults() {
    let (svc, db) = scratch(BOOKS).await;
    // As postgrest-js sends with `defaultToNull: false`: columns= and missing=default.
    let reply = send_body(
        &svc,
        "POST",
        "/books?columns=%22id%22,%22title%22,%22price%22",
        &[JSON, ("prefer", "missing=default, return=representation")],
        r#"[{"id": 10, "title": "A", "price": 1}, {"title": "B"}]"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        reply.header("preference-applied"),
        "missing=default, return=representation"
    );
    assert_eq!(
        rows(
            &db,
            "SELECT id, title, price::text, tags FROM books ORDER BY id"
        )
        .await,
        // Each object draws its defaults, so the first one's nextval() is spent too (as in PostgREST).
        json!([
            {"id": 2, "title": "B", "price": "9.99", "tags": []},
            {"id": 10, "title": "A", "price": "1.00", "tags": []}
        ])
    );
    // Without it, a listed key missing from an object is NULL.
    let reply = send_body(
        &svc,
        "POST",
        "/books?columns=title,price",
        &[JSON],
        r#"[{"title": "C"}]"#,
    )
    .await;
    assert_eq!(reply.status, 201);
    assert_eq!(
        rows(&db, "SELECT price FROM books WHERE title = 'C'").await,
        json!([{"price": null}])
    );
}

#[tokio::test]
async fn upserts_merge_and_ignore() {
    let (svc, db) = scratch(BOOKS).await;
    let merge = ("prefer", "resolution=merge-duplicates");
    let reply = send_body(
        &svc,
        "POST",
        "/books",
        &[JSON, merge],
        r#"[{"id": 1, "title": "A"}, {"id": 2, "title": "B"}]"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        reply.header("preference-applied"),
        "resolution=merge-duplicates"
    );
    // Every row an update: 200.
    let reply = send_body(
        &svc,
        "POST",
        "/books",
        &[JSON, merge],
        r#"[{"id": 1, "title": "A2"}, {"id": 2, "title": "B2"}]"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // One new row among updates: 201.
    let reply = send_body(
        &svc,
        "POST",
        "/books",
        &[JSON, merge],
        r#"[{"id": 2, "title": "B3"}, {"id": 3, "title": "C"}]"#,
    )
    .await;
    assert_eq!(reply.status, 201);
    assert_eq!(
        rows(&db, "SELECT id, title FROM books ORDER BY id").await,
        json!([{"id": 1, "title": "A2"}, {"id": 2, "title": "B3"}, {"id": 3, "title": "C"}])
    );

    let ignore = (
        "prefer",
        "resolution=ignore-duplicates, return=representation",
    );
    let reply = send_body(
        &svc,
        "POST",
        "/books?select=id",
        &[JSON, ignore],
        r#"[{"id": 3, "title": "X"}, {"id": 4, "title": "D"}]"#,
    )
    .await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.json(), json!([{"id": 4}]));
    assert_eq!(
        rows(
            &db,
            "SELECT id, title FROM books WHERE id IN (3, 4) ORDER BY id"
        )
        .await,
        json!([{"id": 3, "title": "C"}, {"id": 4, "title": "D"}])
    );

    // on_conflict on a unique column.
    send_body(
        &svc,
        "POST",
        "/books",
        &[JSON],
        r#"{"id": 5, "title": "E", "isbn": "111"}"#,
    )
    .await;
    let reply = send_body(
        &svc,
        "POST",
        "/books?on_conflict=isbn",
        &[JSON, merge],
        r#"{"title": "E2", "isbn": "111"}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        rows(&db, "SELECT id, title FROM books WHERE isbn = '111'").await,
        json!([{"id": 5, "title": "E2"}])
    );
    // Without resolution, a duplicate is a conflict.
    send_body(
        &svc,
        "POST",
        "/books",
        &[JSON],
        r#"{"id": 5, "title": "dup"}"#,
    )
    .await
    .error(409, "conflict");
}

#[tokio::test]
async fn put_is_a_single_row_upsert() {
    let (svc, db) = scratch(BOOKS).await;
    let reply = send_body(
        &svc,
        "PUT",
        "/books?id=eq.7",
        &[JSON, REPR],
        r#"{"id": 7, "title": "New"}"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json()[0]["title"], "New");
    let reply = send_body(
        &svc,
        "PUT",
        "/books?id=eq.7",
        &[JSON, REPR],
        r#"{"id": 7, "title": "Replaced"}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = send_body(
        &svc,
        "PUT",
        "/books?id=eq.7",
        &[JSON],
        r#"{"id": 7, "title": "Again"}"#,
    )
    .await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        rows(&db, "SELECT id, title FROM books").await,
        json!([{"id": 7, "title": "Again"}])
    );

    let body = send_body(
        &svc,
        "PUT",
        "/books?id=eq.8",
        &[JSON],
        r#"{"id": 9, "title": "x"}"#,
    )
    .await
    .error(422, "invalid_request");
    assert_eq!(
        body["message"],
        "Payload values do not match URL in primary key column(s)"
    );
    for uri in [
        "/books",
        "/books?id=gt.1",
        "/books?title=eq.x",
        "/books?id=eq.1&title=eq.x",
        "/books?id=not.eq.1",
    ] {
        let body = send_body(&svc, "PUT", uri, &[JSON], r#"{"id": 1, "title": "x"}"#)
            .await
            .error(405, "method_not_allowed");
        assert_eq!(
            body["message"],
            "Filters must include all and only primary key columns with 'eq' operators",
            "{uri}"
        );
    }
    send_body(
        &svc,
        "PUT",
        "/books?id=eq.1&limit=1",
        &[JSON],
        r#"{"id": 1, "title": "x"}"#,
    )
    .await
    .error(422, "invalid_request");
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM books").await,
        json!([{"n": 1}])
    );
}

#[tokio::test]
async fn patch_and_delete() {
    let (svc, db) = scratch(BOOKS).await;
    db.batch_execute("INSERT INTO books (title, author_id) VALUES ('A', 1), ('B', 1), ('C', 2)")
        .await
        .unwrap();
    let reply = send_body(
        &svc,
        "PATCH",
        "/books?author_id=eq.1",
        &[JSON],
        r#"{"price": 5}"#,
    )
    .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert_eq!(reply.header("content-range"), "0-1/*");
    let reply = send_body(
        &svc,
        "PATCH",
        "/books?or=(title.eq.A,title.eq.C)&select=title,price&order=title",
        &[JSON, REPR, ("prefer", "count=exact")],
        r#"{"price": 7.5, "tags": ["x"]}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!([{"title": "A", "price": 7.50}, {"title": "C", "price": 7.50}])
    );
    assert_eq!(reply.header("content-range"), "0-1/2");
    let reply = send_body(
        &svc,
        "PATCH",
        "/books?id=eq.999",
        &[JSON],
        r#"{"price": 1}"#,
    )
    .await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("content-range"), "*/*");
    assert_eq!(
        rows(
            &db,
            "SELECT title, price::text, tags FROM books ORDER BY id"
        )
        .await,
        json!([
            {"title": "A", "price": "7.50", "tags": ["x"]},
            {"title": "B", "price": "5.00", "tags": []},
            {"title": "C", "price": "7.50", "tags": ["x"]}
        ])
    );

    let reply = send(&svc, "DELETE", "/books?title=eq.B", &[]).await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("content-range"), "*/*");
    let reply = send(
        &svc,
        "DELETE",
        "/books?title=eq.C&select=title",
        &[REPR, ("prefer", "count=exact")],
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!([{"title": "C"}]));
    assert_eq!(reply.header("content-range"), "*/1");
    assert_eq!(
        rows(&db, "SELECT title FROM books").await,
        json!([{"title": "A"}])
    );

    // Without a filter, every row (as PostgREST).
    let reply = send_body(&svc, "PATCH", "/books", &[JSON], r#"{"isbn": "all"}"#).await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("content-range"), "0-0/*");
    let reply = send(&svc, "DELETE", "/books", &[]).await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM books").await,
        json!([{"n": 0}])
    );
}

#[tokio::test]
async fn require_filter_on_mutation_refuses_unfiltered_writes() {
    let (svc, db) = scratch_with(BOOKS, |b| b.anon_role("anon").require_filter(true)).await;
    db.batch_execute("INSERT INTO books (title) VALUES ('A'), ('B')")
        .await
        .unwrap();
    send(&svc, "DELETE", "/books", &[])
        .await
        .error(422, "invalid_request");
    send_body(&svc, "PATCH", "/books", &[JSON], r#"{"title": "Z"}"#)
        .await
        .error(422, "invalid_request");
    assert_eq!(
        rows(&db, "SELECT title FROM books ORDER BY id").await,
        json!([{"title": "A"}, {"title": "B"}])
    );
    assert_eq!(
        send(&svc, "DELETE", "/books?title=eq.A", &[]).await.status,
        204
    );
    assert_eq!(
        rows(&db, "SELECT title FROM books").await,
        json!([{"title": "B"}])
    );
}

#[tokio::test]
async fn singular_writes_roll_back_unless_one_row() {
    let (svc, db) = scratch(BOOKS).await;
    db.batch_execute("INSERT INTO books (title, author_id) VALUES ('A', 1), ('B', 1)")
        .await
        .unwrap();
    let object = ("accept", "application/vnd.pgrst.object+json");
    let body = send_body(
        &svc,
        "PATCH",
        "/books?author_id=eq.1",
        &[JSON, object],
        r#"{"price": 1}"#,
    )
    .await
    .error(406, "not_acceptable");
    assert_eq!(body["details"], "The result contains 2 rows");
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM books WHERE price = 1").await,
        json!([{"n": 0}])
    );
    let reply = send_body(
        &svc,
        "PATCH",
        "/books?title=eq.A&select=title,price",
        &[JSON, object, REPR],
        r#"{"price": 1}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"title": "A", "price": 1.00}));
    // Zero rows: the "0 rows" text postgrest-js's maybeSingle() looks for.
    let body = send(&svc, "DELETE", "/books?title=eq.none", &[object])
        .await
        .error(406, "not_acceptable");
    assert_eq!(body["details"], "The result contains 0 rows");
    let body = send_body(
        &svc,
        "POST",
        "/books",
        &[JSON, object],
        r#"[{"title": "C"}, {"title": "D"}]"#,
    )
    .await
    .error(406, "not_acceptable");
    assert_eq!(body["details"], "The result contains 2 rows");
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM books").await,
        json!([{"n": 2}])
    );
}

#[tokio::test]
async fn tx_rollback_and_max_affected() {
    let (svc, db) = scratch_with(BOOKS, |b| b.anon_role("anon").tx_override(true)).await;
    db.batch_execute("INSERT INTO books (title) VALUES ('A'), ('B'), ('C')")
        .await
        .unwrap();
    let reply = send_body(
        &svc,
        "POST",
        "/books?select=title",
        &[JSON, ("prefer", "tx=rollback, return=representation")],
        r#"{"title": "Tried"}"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json(), json!([{"title": "Tried"}]));
    assert_eq!(
        reply.header("preference-applied"),
        "return=representation, tx=rollback"
    );
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM books").await,
        json!([{"n": 3}])
    );

    let strict = ("prefer", "handling=strict, max-affected=2");
    let body = send(&svc, "DELETE", "/books?title=neq.x", &[strict])
        .await
        .error(422, "invalid_request");
    assert_eq!(body["details"], "The query affects 3 rows");
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM books").await,
        json!([{"n": 3}])
    );
    let reply = send(&svc, "DELETE", "/books?title=in.(A,B)", &[strict]).await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        reply.header("preference-applied"),
        "handling=strict, max-affected=2"
    );
    assert_eq!(
        rows(&db, "SELECT title FROM books").await,
        json!([{"title": "C"}])
    );
    send(
        &svc,
        "DELETE",
        "/books",
        &[("prefer", "handling=strict, bogus=1")],
    )
    .await
    .error(422, "invalid_request");

    // Without the builder option, tx=rollback is ignored.
    let (plain, db2) = scratch(BOOKS).await;
    let reply = send_body(
        &plain,
        "POST",
        "/books",
        &[JSON, ("prefer", "tx=rollback")],
        r#"{"title": "Kept"}"#,
    )
    .await;
    assert_eq!(reply.status, 201);
    assert!(!reply.headers.contains_key("preference-applied"));
    assert_eq!(
        rows(&db2, "SELECT title FROM books").await,
        json!([{"title": "Kept"}])
    );
}

#[tokio::test]
async fn constraint_violations_map_and_roll_back() {
    let (svc, db) = scratch(BOOKS).await;
    send_body(
        &svc,
        "POST",
        "/books",
        &[JSON],
        r#"{"id": 1, "title": "A", "isbn": "1"}"#,
    )
    .await;
    let cases: &[(&str, u16, &str, &str)] = &[
        (
            r#"[{"id": 2, "title": "B", "isbn": "2"}, {"id": 3, "title": "C", "isbn": "1"}]"#,
            409,
            "conflict",
            "23505",
        ),
        (
            r#"{"id": 4, "title": "D", "author_id": 99}"#,
            409,
            "conflict",
            "23503",
        ),
        (
            r#"{"id": 5, "title": null}"#,
            422,
            "invalid_request",
            "23502",
        ),
        (r#"{"id": 6, "title": ""}"#, 422, "invalid_request", "23514"),
        (
            r#"{"id": 7, "title": "x", "price": "cheap"}"#,
            422,
            "invalid_request",
            "22P02",
        ),
    ];
    for (body, status, code, state) in cases {
        let reply = send_body(&svc, "POST", "/books", &[JSON], *body).await;
        let err = reply.error(*status, code);
        // The oracle: the same rows inserted by SQL fail with this SQLSTATE and message.
        let array = if body.starts_with('[') {
            body.to_string()
        } else {
            format!("[{body}]")
        };
        let sql = db
            .execute(
                "INSERT INTO books (id, title, isbn, author_id, price)
                 SELECT id, title, isbn, author_id, price
                 FROM json_populate_recordset(NULL::books, $1::text::json)",
                &[&array],
            )
            .await
            .expect_err("the oracle insert fails too");
        let sql = sql.as_db_error().expect("a database error");
        assert_eq!(sql.code().code(), *state, "{body}");
        assert_eq!(err["message"], sql.message(), "{body}");
        assert_eq!(
            rows(&db, "SELECT id FROM books").await,
            json!([{"id": 1}]),
            "{body}"
        );
    }
    let body = send_body(
        &svc,
        "POST",
        "/books",
        &[JSON],
        r#"{"id": 8, "title": "E", "isbn": "1"}"#,
    )
    .await
    .error(409, "conflict");
    assert_eq!(
        body["message"],
        "duplicate key value violates unique constraint \"books_isbn_key\""
    );
    assert_eq!(body["details"], "Key (isbn)=(1) already exists.");
    assert_eq!(rows(&db, "SELECT id FROM books").await, json!([{"id": 1}]));
}

#[tokio::test]
async fn body_limit_is_413() {
    let (svc, db) = scratch_with(BOOKS, |b| b.anon_role("anon").body_limit(64)).await;
    let big = format!(r#"{{"title": "{}"}}"#, "x".repeat(100));
    send_body(&svc, "POST", "/books", &[JSON], big)
        .await
        .error(413, "payload_too_large");
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM books").await,
        json!([{"n": 0}])
    );
}

#[tokio::test]
async fn reads_run_read_only_and_writes_read_write() {
    let (svc, db) = scratch(
        "CREATE TABLE log (id serial PRIMARY KEY, note text);
         CREATE TABLE things (id int PRIMARY KEY);
         INSERT INTO things VALUES (1);
         -- A computed column that writes: only a READ WRITE transaction may call it.
         CREATE FUNCTION noisy(things) RETURNS int LANGUAGE sql VOLATILE AS
           $$ INSERT INTO log (note) VALUES ('called') RETURNING id $$;",
    )
    .await;
    let body = send(&svc, "GET", "/things?select=id,noisy", &[])
        .await
        .error(405, "method_not_allowed");
    assert_eq!(
        body["message"],
        "cannot execute INSERT in a read-only transaction"
    );
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM log").await,
        json!([{"n": 0}])
    );
    // The same function in a write's representation runs.
    let reply = send_body(
        &svc,
        "PATCH",
        "/things?id=eq.1&select=id,noisy",
        &[JSON, REPR],
        r#"{"id": 1}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test]
async fn deferred_constraints_fail_the_write_at_commit_and_at_rollback() {
    // The foreign key is checked when the transaction ends, after the
    // statement has answered: the violation must still reach the client, and
    // nothing may be written.
    let (svc, db) = scratch_with(
        "CREATE TABLE parents (id int PRIMARY KEY);
         CREATE TABLE children (id int PRIMARY KEY,
           parent int REFERENCES parents DEFERRABLE INITIALLY DEFERRED);
         INSERT INTO parents VALUES (1);",
        |b| b.anon_role("anon").tx_override(true),
    )
    .await;
    for prefer in ["return=minimal", "tx=rollback"] {
        let body = send_body(
            &svc,
            "POST",
            "/children",
            &[JSON, ("prefer", prefer)],
            r#"{"id": 1, "parent": 99}"#,
        )
        .await
        .error(409, "conflict");
        assert_eq!(body["code"], "conflict", "{prefer}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("violates foreign key constraint"),
            "{prefer}: {body}"
        );
        assert_eq!(
            rows(&db, "SELECT count(*) AS n FROM children").await,
            json!([{"n": 0}]),
            "{prefer}"
        );
    }
    // A valid row commits.
    let reply = send_body(
        &svc,
        "POST",
        "/children",
        &[JSON],
        r#"{"id": 2, "parent": 1}"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        rows(&db, "SELECT id FROM children").await,
        json!([{"id": 2}])
    );
}
