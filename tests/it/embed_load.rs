//! A to-many embed at scale, beside the same document built by hand-written SQL.
//!
//! The timing is printed, not asserted (`--nocapture` shows it); the documents
//! must be equal.

use std::time::Instant;

use crate::support::{get, scratch};

#[tokio::test]
async fn embed_of_100_parents_by_10_children_against_hand_written_sql() {
    let (svc, db) = scratch(
        "CREATE TABLE parents (id int PRIMARY KEY, name text NOT NULL);
         CREATE TABLE children (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parents (id), name text NOT NULL);
         CREATE INDEX ON children (parent_id);
         INSERT INTO parents SELECT g, 'parent ' || g FROM generate_series(1, 100) g;
         INSERT INTO children SELECT g, (g - 1) / 10 + 1, 'child ' || g FROM generate_series(1, 1000) g;
         ANALYZE parents; ANALYZE children;",
    )
    .await;
    let uri = "/parents?select=id,name,children(id,name)&order=id&children.order=id";
    let hand = "SELECT coalesce(json_agg(p ORDER BY p.id), '[]')::text FROM (
                  SELECT parents.id, parents.name,
                         coalesce((SELECT json_agg(c ORDER BY c.id) FROM (SELECT children.id, children.name
                                    FROM children WHERE children.parent_id = parents.id) c), '[]') AS children
                  FROM parents) p";
    let expected: serde_json::Value =
        serde_json::from_str(db.query_one(hand, &[]).await.unwrap().get::<_, &str>(0)).unwrap();
    assert_eq!(get(&svc, uri).await.json(), expected);
    assert_eq!(expected.as_array().unwrap().len(), 100);

    let runs = 30;
    let started = Instant::now();
    for _ in 0..runs {
        assert_eq!(get(&svc, uri).await.status, 200);
    }
    let api = started.elapsed() / runs;
    let stmt = db.prepare(hand).await.unwrap();
    let started = Instant::now();
    for _ in 0..runs {
        db.query_one(&stmt, &[]).await.unwrap();
    }
    let baseline = started.elapsed() / runs;
    eprintln!(
        "GET 100 parents x 10 children: tower-postgrest {api:?} per request, hand-written SQL via tokio-postgres {baseline:?}, ratio {:.2}",
        api.as_secs_f64() / baseline.as_secs_f64()
    );
}
