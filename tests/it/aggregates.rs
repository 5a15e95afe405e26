//! Aggregates in `select` (`db-aggregates-enabled`), against the GROUP BY
//! queries PostgreSQL runs for the same question.

use serde_json::{Value, json};

use crate::support::{rows, scratch_with, send};

const SHOP: &str = "
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, city text, subscribed date NOT NULL);
CREATE TABLE orders (
  id int PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers,
  amount numeric NOT NULL,
  quantity int NOT NULL,
  observation text,
  order_date date NOT NULL,
  details jsonb
);
INSERT INTO customers VALUES
  (1, 'Ada', 'London', '2020-01-01'), (2, 'Grace', 'New York', '2016-02-11'), (3, 'Linus', NULL, '2023-10-15');
INSERT INTO orders VALUES
  (1, 1, 100.50, 2, 'fast', '2023-09-01', '{\"tax\": 10}'),
  (2, 1, 20.25, 1, NULL, '2023-09-01', '{\"tax\": 2.5}'),
  (3, 2, 300, 3, 'gift', '2023-09-02', '{\"tax\": 30}'),
  (4, 2, 5.75, 1, NULL, '2023-09-03', NULL),
  (5, 3, 42, 4, 'late', '2023-09-03', '{\"tax\": 4}');
";

async fn shop(enabled: bool) -> (tower_postgrest::RestService, tokio_postgres::Client) {
    scratch_with(SHOP, |b| b.anon_role("anon").aggregates(enabled)).await
}

async fn ok(svc: &tower_postgrest::RestService, uri: &str) -> Value {
    let reply = send(svc, "GET", uri, &[]).await;
    assert_eq!(reply.status, 200, "{uri}: {}", reply.text);
    reply.json()
}

#[tokio::test]
async fn aggregates_are_refused_unless_enabled() {
    let (svc, _db) = shop(false).await;
    for uri in ["/orders?select=amount.sum()", "/orders?select=count()"] {
        let reply = send(&svc, "GET", uri, &[]).await;
        assert_eq!(
            reply.json()["message"],
            "Use of aggregate functions is not allowed",
            "{uri}"
        );
        assert!(reply.status.is_client_error());
    }
}

#[tokio::test]
async fn aggregates_group_by_the_other_selected_columns() {
    let (svc, db) = shop(true).await;
    let cases: [(&str, &str); 8] = [
        (
            "/orders?select=amount.sum()",
            "SELECT sum(amount) AS sum FROM orders",
        ),
        (
            "/orders?select=amount.sum()&customer_id=eq.1",
            "SELECT sum(amount) AS sum FROM orders WHERE customer_id = 1",
        ),
        (
            "/orders?select=total:amount.sum(),avg_amount:amount.avg(),total_quantity:quantity.sum(),order_date&order=order_date",
            "SELECT sum(amount) AS total, avg(amount) AS avg_amount, sum(quantity) AS total_quantity, order_date FROM orders GROUP BY order_date ORDER BY order_date",
        ),
        (
            "/orders?select=count(),observation_count:observation.count(),order_date&order=order_date",
            "SELECT count(*) AS count, count(observation) AS observation_count, order_date FROM orders GROUP BY order_date ORDER BY order_date",
        ),
        (
            "/orders?select=amount.avg()::int",
            "SELECT avg(amount)::int AS avg FROM orders",
        ),
        (
            "/orders?select=details->tax::numeric.sum()",
            "SELECT sum((details -> 'tax')::numeric) AS sum FROM orders",
        ),
        (
            "/orders?select=amount.max(),amount.min(),customer_id&order=customer_id",
            "SELECT max(amount) AS max, min(amount) AS min, customer_id FROM orders GROUP BY customer_id ORDER BY customer_id",
        ),
        (
            "/orders?select=count()",
            "SELECT count(*) AS count FROM orders",
        ),
    ];
    for (uri, sql) in cases {
        assert_eq!(ok(&svc, uri).await, rows(&db, sql).await, "{uri}");
    }
}

/// The rows of `value` (a JSON array) sorted by their text, for results
/// whose order the request cannot set.
fn sorted(value: Value) -> Vec<String> {
    let mut rows: Vec<String> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_str(&r.to_string()).unwrap();
            v.to_string()
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn aggregates_with_embedded_resources() {
    let (svc, db) = shop(true).await;
    // Grouped by a to-one embed.
    let got = ok(&svc, "/orders?select=amount.sum(),customers(name)").await;
    let want = rows(
        &db,
        "SELECT sum(o.amount) AS sum, jsonb_build_object('name', c.name) AS customers
         FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.name",
    )
    .await;
    assert_eq!(sorted(got), sorted(want));
    // Inside an embed: per customer, by date.
    let got = ok(
        &svc,
        "/customers?select=name,orders(amount.sum(),order_date)&order=name&orders.order=order_date",
    )
    .await;
    let want = rows(
        &db,
        "SELECT c.name, coalesce((SELECT json_agg(g ORDER BY g.order_date) FROM (
             SELECT sum(amount) AS sum, order_date FROM orders o WHERE o.customer_id = c.id GROUP BY order_date) g), '[]') AS orders
         FROM customers c ORDER BY c.name",
    )
    .await;
    assert_eq!(got, want);
    let got = ok(&svc, "/customers?select=name,orders(count())&order=name").await;
    assert_eq!(
        got,
        json!([
            {"name": "Ada", "orders": [{"count": 2}]},
            {"name": "Grace", "orders": [{"count": 2}]},
            {"name": "Linus", "orders": [{"count": 1}]}
        ])
    );
    // Hoisted out of a to-one spread: the max and min over each date's orders' customers.
    let got = ok(
        &svc,
        "/orders?select=order_date,...customers(subscribed.max(),subscribed.min())&order=order_date",
    )
    .await;
    let want = rows(
        &db,
        "SELECT o.order_date, max(c.subscribed) AS max, min(c.subscribed) AS min
         FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY o.order_date ORDER BY o.order_date",
    )
    .await;
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_count_of_an_aggregate_read_counts_its_groups() {
    let (svc, db) = shop(true).await;
    let reply = send(
        &svc,
        "GET",
        "/orders?select=order_date,amount.sum()&order=order_date&limit=1",
        &[("prefer", "count=exact")],
    )
    .await;
    assert_eq!(reply.status, 206, "{}", reply.text);
    let groups = rows(&db, "SELECT count(DISTINCT order_date) AS n FROM orders").await;
    assert_eq!(
        reply.header("content-range"),
        format!("0-0/{}", groups[0]["n"])
    );
}
