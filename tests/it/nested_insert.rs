//! Nested inserts (beyond PostgREST): a POST whose objects name relationships
//! inserts the related rows too, in one transaction; checked with SQL.

use serde_json::{Value, json};

use crate::support::{rows, scratch, send_body};

const LIBRARY: &str = "
CREATE TABLE addresses (id serial PRIMARY KEY, street text NOT NULL);
CREATE TABLE authors (id serial PRIMARY KEY, name text NOT NULL, address_id int REFERENCES addresses);
CREATE TABLE books (id serial PRIMARY KEY, author_id int NOT NULL REFERENCES authors, title text NOT NULL CHECK (title <> ''));
CREATE TABLE tags (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE book_tags (book_id int REFERENCES books, tag_id int REFERENCES tags, PRIMARY KEY (book_id, tag_id));
";

const JSON: (&str, &str) = ("content-type", "application/json");

/// Every author with their address, books and tags, as SQL sees them.
async fn library(db: &tokio_postgres::Client) -> Value {
    rows(
        db,
        "SELECT a.name,
                (SELECT json_build_object('street', ad.street) FROM addresses ad WHERE ad.id = a.address_id) AS addresses,
                coalesce((SELECT json_agg(json_build_object('title', b.title, 'tags',
                    coalesce((SELECT json_agg(json_build_object('name', t.name) ORDER BY t.id)
                              FROM book_tags bt JOIN tags t ON t.id = bt.tag_id WHERE bt.book_id = b.id), '[]'))
                    ORDER BY b.id) FROM books b WHERE b.author_id = a.id), '[]') AS books
         FROM authors a ORDER BY a.id",
    )
    .await
}

#[tokio::test]
async fn a_two_level_nested_insert_with_to_one_to_many_and_many_to_many() {
    let (svc, db) = scratch(LIBRARY).await;
    let reply = send_body(
        &svc,
        "POST",
        "/authors?select=name,addresses(street),books(title,tags(name))&books.order=id&books.tags.order=id",
        &[JSON, ("prefer", "return=representation")],
        json!({
            "name": "Le Guin",
            "addresses": {"street": "Portland"},
            "books": [
                {"title": "A Wizard of Earthsea", "tags": [{"name": "fantasy"}, {"name": "classic"}]},
                {"title": "The Dispossessed", "tags": [{"name": "sf"}]}
            ]
        })
        .to_string(),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let state = library(&db).await;
    assert_eq!(
        state,
        json!([{"name": "Le Guin", "addresses": {"street": "Portland"}, "books": [
            {"title": "A Wizard of Earthsea", "tags": [{"name": "fantasy"}, {"name": "classic"}]},
            {"title": "The Dispossessed", "tags": [{"name": "sf"}]}
        ]}])
    );
    // The representation is the rows as the database holds them.
    assert_eq!(reply.json(), state);
    // As any insert's: no count asked for, none given.
    assert_eq!(reply.header("content-range"), "*/*");
}

#[tokio::test]
async fn a_bulk_nested_insert_gives_each_parent_its_children() {
    let (svc, db) = scratch(LIBRARY).await;
    let reply = send_body(
        &svc,
        "POST",
        "/authors",
        &[JSON],
        json!([
            {"name": "Butler", "books": [{"title": "Kindred"}]},
            {"name": "Jemisin", "books": [{"title": "The Fifth Season"}, {"title": "The Obelisk Gate"}]},
            {"name": "Nobody", "books": []}
        ])
        .to_string(),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.text, "");
    assert_eq!(
        library(&db).await,
        json!([
            {"name": "Butler", "addresses": null, "books": [{"title": "Kindred", "tags": []}]},
            {"name": "Jemisin", "addresses": null, "books": [
                {"title": "The Fifth Season", "tags": []}, {"title": "The Obelisk Gate", "tags": []}]},
            {"name": "Nobody", "addresses": null, "books": []}
        ])
    );
}

#[tokio::test]
async fn a_child_that_fails_leaves_no_parent() {
    let (svc, db) = scratch(LIBRARY).await;
    let reply = send_body(
        &svc,
        "POST",
        "/authors",
        &[JSON],
        json!({"name": "Half", "addresses": {"street": "Nowhere"}, "books": [{"title": "ok"}, {"title": ""}]})
            .to_string(),
    )
    .await;
    assert!(reply.status.is_client_error(), "{}", reply.text);
    assert_eq!(
        rows(
            &db,
            "SELECT (SELECT count(*) FROM authors) AS authors, (SELECT count(*) FROM addresses) AS addresses, (SELECT count(*) FROM books) AS books"
        )
        .await,
        json!([{"authors": 0, "addresses": 0, "books": 0}])
    );
    // A key that is neither a column nor a relationship is the usual error.
    let reply = send_body(
        &svc,
        "POST",
        "/authors",
        &[JSON],
        json!({"name": "X", "books": [{"title": "t", "nope": 1}]}).to_string(),
    )
    .await;
    assert!(reply.status.is_client_error(), "{}", reply.text);
    assert!(reply.text.contains("nope"), "{}", reply.text);
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM authors").await,
        json!([{"n": 0}])
    );
}
