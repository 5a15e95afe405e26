//! A PATCH of a JSON array (beyond PostgREST): each element updates the row
//! its primary key names, in one statement; checked against the same change
//! made by SQL on a copy of the table.

use serde_json::json;

use crate::support::{rows, scratch, send_body};

const ITEMS: &str = "
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric NOT NULL, stock int NOT NULL);
INSERT INTO items SELECT i, 'item ' || i, i * 1.5, i % 3 FROM generate_series(1, 10) AS i;
CREATE TABLE items_oracle AS SELECT * FROM items;
CREATE TABLE logs (at int, line text);
";

const JSON: (&str, &str) = ("content-type", "application/json");

async fn same_as_oracle(db: &tokio_postgres::Client) {
    assert_eq!(
        rows(db, "SELECT * FROM items ORDER BY id").await,
        rows(db, "SELECT * FROM items_oracle ORDER BY id").await
    );
}

#[tokio::test]
async fn each_element_updates_the_row_its_key_names() {
    let (svc, db) = scratch(ITEMS).await;
    let reply = send_body(
        &svc,
        "PATCH",
        "/items?select=id,price,name",
        &[JSON, ("prefer", "return=representation")],
        r#"[{"id": 1, "price": 10, "name": "first"}, {"id": 3, "price": 30, "name": "third"}, {"id": 99, "price": 1, "name": "none"}]"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let mut got: Vec<serde_json::Value> = reply.json().as_array().unwrap().clone();
    got.sort_by_key(|r| r["id"].as_i64());
    assert_eq!(
        serde_json::Value::Array(got),
        json!([{"id": 1, "price": 10, "name": "first"}, {"id": 3, "price": 30, "name": "third"}])
    );
    db.batch_execute(
        "UPDATE items_oracle SET price = v.price, name = v.name
         FROM (VALUES (1, 10, 'first'), (3, 30, 'third'), (99, 1, 'none')) AS v(id, price, name)
         WHERE items_oracle.id = v.id",
    )
    .await
    .unwrap();
    same_as_oracle(&db).await;
}

#[tokio::test]
async fn filters_counts_and_max_affected_apply_as_for_patch() {
    let (svc, db) = scratch(ITEMS).await;
    // The filter on top: item 3 has no stock, so it is left alone.
    let reply = send_body(
        &svc,
        "PATCH",
        "/items?stock=gt.0",
        &[JSON, ("prefer", "count=exact")],
        r#"[{"id": 2, "stock": 20}, {"id": 3, "stock": 30}, {"id": 4, "stock": 40}]"#,
    )
    .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert_eq!(reply.header("content-range"), "0-1/2");
    db.batch_execute(
        "UPDATE items_oracle SET stock = v.stock
         FROM (VALUES (2, 20), (3, 30), (4, 40)) AS v(id, stock)
         WHERE items_oracle.id = v.id AND items_oracle.stock > 0",
    )
    .await
    .unwrap();
    same_as_oracle(&db).await;

    // Over max-affected: nothing changes.
    let reply = send_body(
        &svc,
        "PATCH",
        "/items",
        &[JSON, ("prefer", "handling=strict, max-affected=1")],
        r#"[{"id": 5, "stock": 50}, {"id": 6, "stock": 60}]"#,
    )
    .await;
    assert!(reply.status.is_client_error(), "{}", reply.text);
    same_as_oracle(&db).await;
}

#[tokio::test]
async fn elements_without_the_key_are_refused() {
    let (svc, db) = scratch(ITEMS).await;
    let reply = send_body(
        &svc,
        "PATCH",
        "/items",
        &[JSON],
        r#"[{"price": 1}, {"price": 2}]"#,
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(
        reply.json()["message"],
        "Element 0 of the PATCH body has no value for the key column 'id'"
    );
    same_as_oracle(&db).await;
    // No primary key: no rows to name.
    let reply = send_body(&svc, "PATCH", "/logs", &[JSON], r#"[{"at": 1}, {"at": 2}]"#).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    // One object keeps PATCH's meaning: every filtered row gets its values.
    let reply = send_body(
        &svc,
        "PATCH",
        "/items?id=in.(7,8)",
        &[JSON],
        r#"{"stock": 0}"#,
    )
    .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    db.batch_execute("UPDATE items_oracle SET stock = 0 WHERE id IN (7, 8)")
        .await
        .unwrap();
    same_as_oracle(&db).await;
}
