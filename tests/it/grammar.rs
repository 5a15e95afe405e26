//! The rest of the read grammar: logic trees, counting, Range, CSV, stripped nulls.

use serde_json::json;

use crate::support::{get, send, service};

#[tokio::test]
async fn logic_trees_select_exactly_their_rows() {
    let svc = service().await;
    let cases: &[(&str, &[i64])] = &[
        ("or=(id.eq.1,id.eq.3)", &[1, 3]),
        ("and=(qty.gt.0,price.lt.1)", &[3, 5]),
        ("not.or=(active.is.true,active.is.null)", &[2]),
        ("not.and=(qty.gt.5,price.lt.5)", &[2, 4, 6]),
        // Three levels deep.
        (
            "or=(id.eq.6,and(price.lt.1,not.or(name.eq.carrot,data->>color.eq.white)))",
            &[2, 6],
        ),
        (
            "or=(name.eq.\"egg, large\",note.eq.\"Long,comma\")",
            &[3, 5],
        ),
        ("or=(id.in.(1,2),tags.cs.{vegetable})", &[1, 2, 3]),
        ("or=(note.is.null,id.not.in.(1,2,3,4,5))", &[2, 6]),
        ("or=(data->size->w.gt.2,name.ilike.d*)", &[1, 4]),
        (
            "or=(search.fts(english).jumping,label.eq.\"apple #1\")",
            &[1, 2],
        ),
        ("or=(period.sl.\"[20,30)\",qty.eq(any).{5})", &[1, 2, 3, 4]),
        // Several trees and filters AND together.
        ("or=(id.eq.1,id.eq.2)&or=(id.eq.2,id.eq.3)&qty=gte.0", &[2]),
    ];
    for (query, expected) in cases {
        let reply = get(&svc, &format!("/items?select=id&order=id&{query}")).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.text);
        assert_eq!(reply.ids(), *expected, "{query}");
    }
    for bad in [
        "or=(id.eq.1",
        "or=id.eq.1",
        "or=(id.eqq.1)",
        "or=()",
        "and=(id.eq.1,)",
    ] {
        get(&svc, &format!("/items?{bad}"))
            .await
            .error(422, "invalid_request");
    }
    let deep = format!("/items?or=({}id.eq.1{})", "and(".repeat(40), ")".repeat(40));
    let body = get(&svc, &deep).await.error(422, "invalid_request");
    assert!(
        body["details"].as_str().unwrap().contains("levels"),
        "{body}"
    );
}

#[tokio::test]
async fn order_by_computed_columns() {
    let svc = service().await;
    let reply = get(&svc, "/items?select=id,label&order=label.desc&limit=2").await;
    // C collation: lower case sorts after upper case.
    assert_eq!(
        reply.json(),
        json!([{"id": 5, "label": "egg, large #5"}, {"id": 3, "label": "carrot #3"}])
    );
}

#[tokio::test]
async fn exact_planned_and_estimated_counts() {
    let svc = service().await;
    let exact = [("prefer", "count=exact")];
    let reply = send(&svc, "GET", "/big?select=id&order=id&limit=10", &exact).await;
    assert_eq!(reply.status, 206);
    assert_eq!(reply.header("content-range"), "0-9/100000");
    assert_eq!(reply.header("preference-applied"), "count=exact");
    assert_eq!(reply.ids(), (1..=10).collect::<Vec<_>>());

    let reply = send(
        &svc,
        "GET",
        "/big?select=id&bucket=eq.3&order=id&offset=9990",
        &exact,
    )
    .await;
    assert_eq!(reply.status, 206);
    assert_eq!(reply.header("content-range"), "9990-9999/10000");

    // The whole table in one page: 200, and the count is the page's.
    let reply = send(&svc, "GET", "/items?select=id", &exact).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-range"), "0-5/6");

    let reply = send(
        &svc,
        "GET",
        "/big?select=id&limit=1",
        &[("prefer", "count=planned")],
    )
    .await;
    assert_eq!(reply.status, 206);
    let planned: i64 = reply
        .header("content-range")
        .split('/')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!((90_000..=110_000).contains(&planned), "planned {planned}");

    // Estimated: exact below max_rows, the planner's estimate above it.
    let capped = tower_postgrest::RestService::builder(crate::support::pool().await)
        .anon_role("anon")
        .max_rows(1000)
        .build()
        .await
        .unwrap();
    let estimated = [("prefer", "count=estimated")];
    let reply = send(&capped, "GET", "/items?select=id", &estimated).await;
    assert_eq!(reply.header("content-range"), "0-5/6");
    let reply = send(&capped, "GET", "/big?select=id", &estimated).await;
    assert_eq!(reply.status, 206);
    let (range, total) = reply.header("content-range").split_once('/').unwrap();
    assert_eq!(range, "0-999");
    let total: i64 = total.parse().unwrap();
    assert!((90_000..=110_000).contains(&total), "estimated {total}");
    let reply = send(
        &capped,
        "GET",
        "/big?select=id&bucket=eq.1&id=lt.500",
        &estimated,
    )
    .await;
    assert_eq!(reply.header("content-range"), "0-49/50");
}

#[tokio::test]
async fn range_header_and_416() {
    let svc = service().await;
    let reply = send(&svc, "GET", "/big?select=id&order=id", &[("range", "0-4")]).await;
    assert_eq!(reply.ids(), vec![1, 2, 3, 4, 5]);
    assert_eq!(reply.header("content-range"), "0-4/*");
    let reply = send(&svc, "GET", "/items?select=id&order=id", &[("range", "4-")]).await;
    assert_eq!(reply.ids(), vec![5, 6]);
    assert_eq!(reply.header("content-range"), "4-5/*");
    // The header and limit/offset intersect.
    let reply = send(
        &svc,
        "GET",
        "/big?select=id&order=id&limit=3&offset=5",
        &[("range", "0-6")],
    )
    .await;
    assert_eq!(reply.ids(), vec![6, 7]);
    assert_eq!(reply.header("content-range"), "5-6/*");
    let reply = send(
        &svc,
        "GET",
        "/items?select=id&order=id&offset=1",
        &[("range", "0-2")],
    )
    .await;
    assert_eq!(reply.ids(), vec![2, 3]);
    // Ignored when malformed, and on HEAD.
    let reply = send(&svc, "GET", "/items?select=id", &[("range", "items=0-1")]).await;
    assert_eq!(reply.ids().len(), 6);
    let reply = send(&svc, "HEAD", "/items?select=id", &[("range", "0-1")]).await;
    assert_eq!(reply.header("content-range"), "0-5/*");

    let body = send(&svc, "GET", "/items", &[("range", "5-2")])
        .await
        .error(416, "range_not_satisfiable");
    assert_eq!(
        body["details"],
        "The lower boundary must be lower than or equal to the upper boundary in the Range header."
    );
    let reply = send(
        &svc,
        "GET",
        "/items?offset=100",
        &[("prefer", "count=exact")],
    )
    .await;
    let body = reply.error(416, "range_not_satisfiable");
    assert_eq!(
        body["details"],
        "An offset of 100 was requested, but there are only 6 rows."
    );
    assert_eq!(reply.header("content-range"), "*/6");
    let body = get(&svc, "/items?limit=-1")
        .await
        .error(416, "range_not_satisfiable");
    assert_eq!(
        body["details"],
        "Limit should be greater than or equal to zero."
    );
    // At the end exactly: an empty page, not an error.
    let reply = send(&svc, "GET", "/items?offset=6", &[("prefer", "count=exact")]).await;
    assert_eq!(reply.status, 206);
    assert_eq!(reply.header("content-range"), "*/6");
    assert_eq!(reply.json(), json!([]));
}

#[tokio::test]
async fn head_with_counts() {
    let svc = service().await;
    let reply = send(
        &svc,
        "HEAD",
        "/big?bucket=eq.0&limit=5",
        &[("prefer", "count=exact")],
    )
    .await;
    assert_eq!(reply.status, 206);
    assert_eq!(reply.text, "");
    assert_eq!(reply.header("content-range"), "0-4/10000");
}

#[tokio::test]
async fn csv_is_postgres_text_rendering() {
    let svc = service().await;
    let reply = send(
        &svc,
        "GET",
        "/texts?select=id,body,n,flag,arr&order=id",
        &[("accept", "text/csv")],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("content-type"), "text/csv; charset=utf-8");
    let expected = concat!(
        "id,body,n,flag,arr\n",
        "1,plain,1.50,t,\"{1,2}\"\n",
        "2,\"a,b\",,f,{}\n",
        "3,\"say \"\"hi\"\"\",0,,\n",
        "4,\"line1\nline2\",-2.5,t,{3}\n",
        "5,\"\",,,\"{NULL,4}\"\n",
        "6,\" spaced \",10,f,\n",
        "7,\"back\\\\slash (x)\",7,t,{7}",
    );
    assert_eq!(reply.text, expected);
    // The oracle: PostgreSQL's record text of the same rows, without the parentheses.
    let db = crate::support::admin().await;
    let lines: String = db
        .query_one(
            "SELECT string_agg(substr(t::text, 2, length(t::text) - 2), E'\\n' ORDER BY t.id)
             FROM (SELECT id, body, n, flag, arr FROM texts) AS t",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(reply.text, format!("id,body,n,flag,arr\n{lines}"));

    let reply = send(&svc, "GET", "/texts?id=eq.0", &[("accept", "text/csv")]).await;
    assert_eq!(reply.text, "\n");
}

#[tokio::test]
async fn stripped_nulls() {
    let svc = service().await;
    let reply = send(
        &svc,
        "GET",
        "/texts?select=id,n,flag&id=in.(2,3)&order=id",
        &[("accept", "application/vnd.pgrst.array+json;nulls=stripped")],
    )
    .await;
    assert_eq!(
        reply.json(),
        json!([{"id": 2, "flag": false}, {"id": 3, "n": 0}])
    );
    assert_eq!(
        reply.header("content-type"),
        "application/vnd.pgrst.array+json;nulls=stripped; charset=utf-8"
    );
    let reply = send(
        &svc,
        "GET",
        "/texts?select=id,n,flag&id=eq.5",
        &[("accept", "application/vnd.pgrst.object+json;nulls=stripped")],
    )
    .await;
    assert_eq!(reply.json(), json!({"id": 5}));
}
