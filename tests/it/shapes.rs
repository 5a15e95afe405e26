//! The query shapes of the SQL renderer's change-detector tests
//! (`src/sql/render/tests.rs`), each answered through the service and
//! checked against the same question written in SQL by hand.

use crate::support::{rows, scratch, scratch_with, send};

const BOOKS: &str = r#"
CREATE TABLE books (id int PRIMARY KEY, title text, year int, data jsonb, tags text[], doc tsvector);
INSERT INTO books VALUES
  (1, 'A cat', 1940, '{"a": ["x", "y"], "k": "v"}', '{a,b}', to_tsvector('english', 'the cat sat')),
  (2, 'b,c', 2001, '{"a": ["z"], "k": "w"}', '{a}', to_tsvector('english', 'a dog barked')),
  (3, NULL, 2010, NULL, '{a,b,c}', to_tsvector('english', 'cats and dogs')),
  (4, 'Another dog', 1999, '{"k": "v"}', NULL, to_tsvector('english', 'dog days')),
  (5, 'big dog', 2005, '{"a": ["q"], "k": "v"}', '{b}', to_tsvector('english', 'the cat came back')),
  (6, 'Zed', 2020, '{"k": null}', '{a,b}', NULL),
  (7, 'a', 1, NULL, '{}', NULL),
  (8, 'bee', 2003, '{"a": [], "k": "v"}', '{b,a}', to_tsvector('english', 'bees and cats')),
  (9, 'Cat dog', 2015, '{"k": "u"}', '{c}', to_tsvector('english', 'dog')),
  (10, 'apple', 2002, '{"a": ["r"]}', '{a,b}', to_tsvector('english', 'cat'));
"#;

#[tokio::test]
async fn each_rendered_shape_answers_what_sql_answers() {
    let (svc, db) = scratch(BOOKS).await;
    let cases: [(&str, &str); 7] = [
        (
            "/books?select=id,t:title&year=gt.2000&order=title.desc.nullslast,id&limit=10&offset=2",
            "SELECT id, title AS t FROM books WHERE year > 2000 ORDER BY title DESC NULLS LAST, id LIMIT 10 OFFSET 2",
        ),
        (
            "/books?select=id&title=not.in.(a,\"b,c\")&year=isdistinct.1&order=id",
            "SELECT id FROM books WHERE title NOT IN ('a', 'b,c') AND year IS DISTINCT FROM 1 ORDER BY id",
        ),
        (
            "/books?select=id&data=is.null&order=id",
            "SELECT id FROM books WHERE data IS NULL ORDER BY id",
        ),
        (
            "/books?select=v:data->a->>0,y:year::double precision,n:title::text&title=like(any).{A*,b*}&data->>k=eq.v&order=id",
            "SELECT data->'a'->>0 AS v, year::double precision AS y, title::text AS n FROM books
             WHERE title LIKE ANY (ARRAY['A%', 'b%']) AND data->>'k' = 'v' ORDER BY id",
        ),
        (
            "/books?select=id,x:tags->0&order=id",
            "SELECT id, to_jsonb(tags)->0 AS x FROM books ORDER BY id",
        ),
        (
            "/books?select=id&doc=fts(english).cat&title=wfts.dog&order=id",
            "SELECT id FROM books WHERE doc @@ to_tsquery('english', 'cat')
               AND to_tsvector(title) @@ websearch_to_tsquery('dog') ORDER BY id",
        ),
        (
            "/books?select=id&or=(year.lt.1950,and(title.like.A*,not.or(id.eq.1,data->>k.is.null)))&not.and=(id.gt.5,tags.cs.{a,b})&order=id",
            "SELECT id FROM books WHERE (year < 1950 OR (title LIKE 'A%' AND NOT (id = 1 OR data->>'k' IS NULL)))
               AND NOT (id > 5 AND tags @> '{a,b}') ORDER BY id",
        ),
    ];
    for (uri, sql) in cases {
        let reply = send(&svc, "GET", uri, &[]).await;
        assert_eq!(reply.status, 200, "{uri}: {}", reply.text);
        assert_eq!(reply.json(), rows(&db, sql).await, "{uri}");
    }
    // Counts: the total over the same conditions.
    let reply = send(
        &svc,
        "GET",
        "/books?select=id&id=gt.1&limit=5&order=id",
        &[("prefer", "count=exact")],
    )
    .await;
    let total = rows(&db, "SELECT count(*) AS n FROM books WHERE id > 1").await[0]["n"].clone();
    assert_eq!(reply.header("content-range"), format!("0-4/{total}"));
    assert_eq!(
        reply.json(),
        rows(&db, "SELECT id FROM books WHERE id > 1 ORDER BY id LIMIT 5").await
    );
}

#[tokio::test]
async fn singular_answers_and_max_rows() {
    let (svc, db) = scratch_with(BOOKS, |b| b.anon_role("anon").max_rows(3)).await;
    let reply = send(&svc, "GET", "/books?select=id&limit=50&order=id", &[]).await;
    assert_eq!(
        reply.json(),
        rows(&db, "SELECT id FROM books ORDER BY id LIMIT 3").await
    );
    let one = send(
        &svc,
        "GET",
        "/books?select=id,title&id=eq.4",
        &[("accept", "application/vnd.pgrst.object+json")],
    )
    .await;
    assert_eq!(
        one.json(),
        rows(&db, "SELECT id, title FROM books WHERE id = 4").await[0]
    );
    let none = send(
        &svc,
        "GET",
        "/books?id=eq.99",
        &[("accept", "application/vnd.pgrst.object+json")],
    )
    .await;
    assert_eq!(none.status, 406, "{}", none.text);
}
