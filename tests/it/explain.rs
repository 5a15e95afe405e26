//! Execution plans (`db-plan-enabled`): `Accept: application/vnd.pgrst.plan…`
//! answers the plan of the statement the request would run.

use serde_json::Value;

use crate::support::{rows, scratch_with, send, send_body};

const SETUP: &str = "
CREATE TABLE projects (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO projects SELECT i, 'project ' || i FROM generate_series(1, 20) AS i;
CREATE FUNCTION all_projects() RETURNS SETOF projects LANGUAGE sql STABLE AS 'SELECT * FROM projects';
";

async fn service(enabled: bool) -> (tower_postgrest::RestService, tokio_postgres::Client) {
    scratch_with(SETUP, |b| b.anon_role("anon").plans(enabled)).await
}

fn total_cost(plan: &Value) -> f64 {
    plan[0]["Plan"]["Total Cost"]
        .as_f64()
        .unwrap_or_else(|| panic!("no total cost in {plan}"))
}

#[tokio::test]
async fn plans_are_not_available_unless_enabled() {
    let (svc, _db) = service(false).await;
    let reply = send(
        &svc,
        "GET",
        "/projects",
        &[("accept", "application/vnd.pgrst.plan+json")],
    )
    .await;
    assert_eq!(reply.status, 406, "{}", reply.text);
    assert_eq!(
        reply.json()["message"],
        "None of these media types are available: application/vnd.pgrst.plan+json"
    );
}

#[tokio::test]
async fn reads_writes_and_calls_answer_their_plans() {
    let (svc, db) = service(true).await;
    let read = send(
        &svc,
        "GET",
        "/projects?id=in.(1,2,3)",
        &[("accept", "application/vnd.pgrst.plan+json")],
    )
    .await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(
        read.header("content-type"),
        "application/vnd.pgrst.plan+json; for=\"application/json\"; charset=utf-8"
    );
    assert!(total_cost(&read.json()) > 0.0);

    // Text by default, and the `for` and options echoed.
    let text = send(
        &svc,
        "GET",
        "/projects",
        &[(
            "accept",
            "application/vnd.pgrst.plan; for=\"text/csv\"; options=verbose",
        )],
    )
    .await;
    assert_eq!(text.status, 200, "{}", text.text);
    assert_eq!(
        text.header("content-type"),
        "application/vnd.pgrst.plan+text; for=\"text/csv\"; options=verbose; charset=utf-8"
    );
    assert!(text.text.contains("Output:"), "{}", text.text);
    assert!(text.text.contains("cost="), "{}", text.text);

    let verbose = send(
        &svc,
        "GET",
        "/projects?select=id",
        &[(
            "accept",
            "application/vnd.pgrst.plan+json; options=verbose|settings",
        )],
    )
    .await;
    let plan = verbose.json();
    assert!(plan[0]["Plan"]["Output"].is_array(), "{plan}");
    assert!(plan[0]["Settings"].is_object(), "{plan}");

    // A write explained with analyze ran, and was rolled back.
    let insert = send_body(
        &svc,
        "POST",
        "/projects",
        &[
            ("accept", "application/vnd.pgrst.plan+json; options=analyze"),
            ("content-type", "application/json"),
        ],
        r#"{"id": 100, "name": "explained"}"#,
    )
    .await;
    assert_eq!(insert.status, 200, "{}", insert.text);
    let plan = insert.json();
    assert!(total_cost(&plan) > 0.0);
    assert!(plan[0]["Execution Time"].is_number(), "{plan}");
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM projects WHERE id = 100").await,
        serde_json::json!([{"n": 0}])
    );
    let delete = send(
        &svc,
        "DELETE",
        "/projects?id=lt.5",
        &[("accept", "application/vnd.pgrst.plan+json; options=analyze")],
    )
    .await;
    assert_eq!(delete.status, 200, "{}", delete.text);
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM projects").await,
        serde_json::json!([{"n": 20}])
    );

    let call = send(
        &svc,
        "GET",
        "/rpc/all_projects?id=in.(1,2,3)",
        &[("accept", "application/vnd.pgrst.plan+json")],
    )
    .await;
    assert_eq!(call.status, 200, "{}", call.text);
    assert!(total_cost(&call.json()) > 0.0);

    // An option EXPLAIN refuses is the database's error.
    let wal = send(
        &svc,
        "GET",
        "/projects",
        &[("accept", "application/vnd.pgrst.plan+json; options=wal")],
    )
    .await;
    assert!(wal.status.is_client_error(), "{}", wal.text);
}
