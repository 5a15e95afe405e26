//! `distinct` (an extension beyond PostgREST): `SELECT DISTINCT` and
//! `DISTINCT ON`, at the root and in embeds, against the same SQL.

use serde_json::Value;

use crate::support::{get, rows, scratch};

const LIBRARY: &str = "
CREATE TABLE authors (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE books (id int PRIMARY KEY, author_id int NOT NULL REFERENCES authors, title text NOT NULL, year int NOT NULL);
INSERT INTO authors VALUES (1, 'Le Guin'), (2, 'Butler'), (3, 'Jemisin');
INSERT INTO books VALUES
  (1, 1, 'A Wizard of Earthsea', 1968), (2, 1, 'The Dispossessed', 1974), (3, 1, 'The Left Hand of Darkness', 1969),
  (4, 2, 'Kindred', 1979), (5, 2, 'Parable of the Sower', 1993), (6, 2, 'Dawn', 1987),
  (7, 3, 'The Fifth Season', 2015), (8, 3, 'The Obelisk Gate', 2016), (9, 3, 'The Stone Sky', 2017),
  (10, 3, 'The City We Became', 2020), (11, 1, 'Lavinia', 2008), (12, 2, 'Fledgling', 2005);
";

async fn ok(svc: &tower_postgrest::RestService, uri: &str) -> Value {
    let reply = get(svc, uri).await;
    assert_eq!(reply.status, 200, "{uri}: {}", reply.text);
    reply.json()
}

#[tokio::test]
async fn distinct_and_distinct_on_match_the_sql() {
    let (svc, db) = scratch(LIBRARY).await;
    let cases: [(&str, &str); 6] = [
        (
            "/books?select=author_id&distinct=&order=author_id",
            "SELECT DISTINCT author_id FROM books ORDER BY author_id",
        ),
        (
            "/books?select=decade:year&distinct=&order=year&year=lt.1990",
            "SELECT DISTINCT year AS decade FROM books WHERE year < 1990 ORDER BY year",
        ),
        // The latest book of each author.
        (
            "/books?select=author_id,title,year&distinct=author_id&order=author_id,year.desc",
            "SELECT DISTINCT ON (author_id) author_id, title, year FROM books ORDER BY author_id, year DESC",
        ),
        // The DISTINCT ON column leads the order even when the request puts it elsewhere.
        (
            "/books?select=author_id,title&distinct=author_id&order=year.desc",
            "SELECT DISTINCT ON (author_id) author_id, title FROM books ORDER BY author_id, year DESC",
        ),
        (
            "/books?select=author_id,title&distinct=author_id&order=author_id.desc,year",
            "SELECT DISTINCT ON (author_id) author_id, title FROM books ORDER BY author_id DESC, year",
        ),
        (
            "/books?select=author_id,year&distinct=author_id,year&order=year&limit=4",
            "SELECT DISTINCT ON (author_id, year) author_id, year FROM books ORDER BY author_id, year LIMIT 4",
        ),
    ];
    for (uri, sql) in cases {
        assert_eq!(ok(&svc, uri).await, rows(&db, sql).await, "{uri}");
    }
}

#[tokio::test]
async fn distinct_in_embeds_and_over_embeds() {
    let (svc, db) = scratch(LIBRARY).await;
    // Each author's first book, through the embed's own distinct.
    let got = ok(
        &svc,
        "/authors?select=name,books(title,year)&books.distinct=author_id&books.order=year&order=id",
    )
    .await;
    let want = rows(
        &db,
        "SELECT a.name, (SELECT json_agg(b) FROM (
             SELECT DISTINCT ON (author_id) title, year FROM books WHERE author_id = a.id ORDER BY author_id, year) b) AS books
         FROM authors a ORDER BY a.id",
    )
    .await;
    assert_eq!(got, want);
    // DISTINCT over rows holding a to-one embed.
    let got = ok(&svc, "/books?select=authors(name)&distinct=").await;
    let mut names: Vec<String> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["authors"]["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["Butler", "Jemisin", "Le Guin"]);
}

#[tokio::test]
async fn bad_distinct_parameters_are_client_errors() {
    let (svc, _db) = scratch(LIBRARY).await;
    let syntax = get(&svc, "/books?distinct=author_id,,year").await;
    assert_eq!(syntax.status, 422, "{}", syntax.text);
    assert!(
        syntax.json()["message"]
            .as_str()
            .unwrap()
            .contains("distinct parameter"),
        "{}",
        syntax.text
    );
    let unknown = get(&svc, "/books?distinct=nope").await;
    assert!(unknown.status.is_client_error(), "{}", unknown.text);
    assert!(unknown.text.contains("nope"), "{}", unknown.text);
}
