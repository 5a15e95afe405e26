//! Reads: select, every filter operator, order, limit/offset, singular objects, HEAD.

use serde_json::json;

use crate::support::{get, send, service};

/// The ids that `filter` selects from `items`, in id order.
async fn ids(filter: &str) -> Vec<i64> {
    let svc = service().await;
    let reply = get(&svc, &format!("/items?select=id&order=id&{filter}")).await;
    assert_eq!(reply.status, 200, "{filter}: {}", reply.text);
    reply.ids()
}

#[tokio::test]
async fn every_operator_selects_exactly_its_rows() {
    let cases: &[(&str, &[i64])] = &[
        ("name=eq.apple", &[1]),
        ("qty=neq.0", &[1, 3, 4, 5, 6]),
        ("price=gt.1", &[1, 4, 6]),
        ("qty=gte.12", &[3, 5]),
        ("price=lt.0.25", &[3]),
        ("price=lte.0.25", &[2, 3]),
        ("name=like.*an*", &[2]),
        ("name=like.D*", &[4]),
        ("name=ilike.d*", &[4]),
        ("name=match.^[ab]", &[1, 2]),
        ("name=imatch.^D", &[4]),
        ("id=in.(1,3,5)", &[1, 3, 5]),
        ("name=in.(\"egg, large\",apple)", &[1, 5]),
        ("id=in.()", &[]),
        ("note=is.null", &[2]),
        ("note=is.not_null", &[1, 3, 4, 5, 6]),
        ("active=is.true", &[1, 4]),
        ("active=is.false", &[2]),
        ("active=is.unknown", &[3, 5, 6]),
        ("active=is.NULL", &[3, 5, 6]),
        ("active=isdistinct.true", &[2, 3, 5, 6]),
        ("id=not.in.(1,2)", &[3, 4, 5, 6]),
        ("name=not.eq.apple", &[2, 3, 4, 5, 6]),
        ("note=not.is.null", &[1, 3, 4, 5, 6]),
        ("qty=gt.0&price=lt.1", &[3, 5]),
        ("note=eq.Long,comma", &[3]),
        ("note=eq.quote\"d", &[5]),
        ("data->>color=eq.red", &[1]),
        ("data->size->w=gt.2", &[1]),
        ("data->size->>w=eq.2", &[2]),
        ("data->list->0=eq.1", &[1]),
        ("tags=cs.{fruit}", &[1, 2, 4]),
        ("tags=cd.{fruit,red,yellow}", &[1, 2, 5]),
        ("tags=ov.{red,vegetable}", &[1, 3]),
        ("data=cs.{\"color\":\"red\"}", &[1]),
        ("period=sl.[20,30)", &[1, 2, 3]),
        ("period=sr.[2,4)", &[2, 3, 4]),
        ("period=adj.[5,7)", &[1]),
        ("period=nxr.[0,5)", &[1]),
        ("period=nxl.[20,25)", &[4]),
        ("period=ov.[8,12)", &[2, 3]),
        ("period=cs.[15,16)", &[3]),
        ("search=plfts.quick brown", &[1]),
        ("search=phfts(english).brown fox", &[1]),
        ("search=phfts(english).fox brown", &[]),
        ("search=wfts(english).\"lazy dogs\" -cats", &[2]),
        ("name=ilike(any).{A*,*RROT}", &[1, 3]),
        ("name=match(all).{^a,e$}", &[1]),
        ("qty=gt(all).{4,6}", &[1, 3, 5, 6]),
        ("search=fts.fox", &[1]),
        ("search=fts(english).jumping", &[2]),
        ("name=wfts.apple", &[1]),
        ("name=like(any).{a*,b*}", &[1, 2]),
        ("name=like(all).{*a*,*e*}", &[1, 4, 5]),
        ("qty=eq(any).{0,5}", &[2, 4]),
        ("label=eq.apple #1", &[1]),
    ];
    let svc = service().await;
    for (filter, expected) in cases {
        let reply = get(&svc, &format!("/items?select=id&order=id&{filter}")).await;
        assert_eq!(reply.status, 200, "{filter}: {}", reply.text);
        assert_eq!(reply.ids(), *expected, "{filter}");
    }
}

#[tokio::test]
async fn plus_in_the_query_string_is_a_space() {
    assert_eq!(ids("name=eq.egg,+large").await, vec![5]);
    assert_eq!(ids("name=eq.egg,%20large").await, vec![5]);
}

#[tokio::test]
async fn select_columns_aliases_casts_and_json_paths() {
    let svc = service().await;
    let reply = get(
        &svc,
        "/items?select=id,title:name,price,cost:price::text,data->size->w,c:data->>color,label&id=eq.1",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!([{"id": 1, "title": "apple", "price": 1.50, "cost": "1.50", "w": 3, "c": "red", "label": "apple #1"}])
    );
    // numeric keeps PostgreSQL's rendering, scale included.
    assert!(reply.text.contains("\"price\":1.50"), "{}", reply.text);
}

#[tokio::test]
async fn select_star_returns_every_column_as_postgres_renders_it() {
    let svc = service().await;
    let reply = get(&svc, "/items?id=eq.2").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!([{
            "id": 2, "name": "banana", "price": 0.25, "qty": 0, "tags": ["fruit", "yellow"],
            "data": {"color": "yellow", "size": {"w": 2}}, "note": null, "active": false,
            "period": "[5,10)", "search": "'dog':2 'jump':3 'lazi':1", "author_id": 1
        }])
    );
    assert_eq!(
        reply.header("content-type"),
        "application/json; charset=utf-8"
    );
    assert_eq!(reply.header("content-range"), "0-0/*");
}

#[tokio::test]
async fn order_limit_offset_and_content_range() {
    let svc = service().await;
    let reply = get(&svc, "/items?select=id,price&order=price.desc&limit=2").await;
    assert_eq!(
        reply.json(),
        json!([{"id": 6, "price": 9.99}, {"id": 4, "price": 3.00}])
    );
    assert_eq!(reply.header("content-range"), "0-1/*");

    let reply = get(&svc, "/items?select=id&order=price.asc&limit=2&offset=1").await;
    assert_eq!(reply.ids(), vec![2, 5]);
    assert_eq!(reply.header("content-range"), "1-2/*");

    let reply = get(&svc, "/items?select=id&order=active.desc.nullslast,id.desc").await;
    assert_eq!(reply.ids(), vec![4, 1, 2, 6, 5, 3]);
    let reply = get(&svc, "/items?select=id&order=active.nullsfirst,id").await;
    assert_eq!(reply.ids(), vec![3, 5, 6, 2, 1, 4]);
    let reply = get(
        &svc,
        "/items?select=id&order=data->>color.desc.nullslast,id",
    )
    .await;
    assert_eq!(reply.ids(), vec![2, 5, 1, 3, 4, 6]);

    let reply = get(&svc, "/items?limit=0").await;
    assert_eq!(reply.json(), json!([]));
    assert_eq!(reply.header("content-range"), "*/*");
    let reply = get(&svc, "/items?id=eq.999").await;
    assert_eq!(reply.json(), json!([]));
    assert_eq!(reply.header("content-range"), "*/*");
}

#[tokio::test]
async fn max_rows_caps_every_read() {
    let svc = tower_postgrest::RestService::builder(crate::support::pool().await)
        .anon_role("anon")
        .max_rows(2)
        .build()
        .await
        .unwrap();
    let reply = get(&svc, "/items?select=id&order=id").await;
    assert_eq!(reply.ids(), vec![1, 2]);
    let reply = get(&svc, "/items?select=id&order=id&limit=5").await;
    assert_eq!(reply.ids(), vec![1, 2]);
    let reply = get(&svc, "/items?select=id&order=id&limit=1").await;
    assert_eq!(reply.ids(), vec![1]);
}

#[tokio::test]
async fn singular_object() {
    let svc = service().await;
    let object = [("accept", "application/vnd.pgrst.object+json")];
    let reply = send(&svc, "GET", "/items?select=id,name&id=eq.3", &object).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"id": 3, "name": "carrot"}));
    assert_eq!(
        reply.header("content-type"),
        "application/vnd.pgrst.object+json; charset=utf-8"
    );

    let reply = send(&svc, "GET", "/items?id=eq.999", &object).await;
    let body = reply.error(406, "not_acceptable");
    assert_eq!(
        body["message"],
        "Cannot coerce the result to a single JSON object"
    );
    assert_eq!(body["details"], "The result contains 0 rows");

    let reply = send(&svc, "GET", "/items?id=in.(1,2)", &object).await;
    let body = reply.error(406, "not_acceptable");
    assert_eq!(body["details"], "The result contains 2 rows");
}

#[tokio::test]
async fn head_has_the_headers_and_no_body() {
    let svc = service().await;
    let reply = send(&svc, "HEAD", "/items?select=id&order=id&limit=3", &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text, "");
    assert_eq!(reply.header("content-range"), "0-2/*");
    assert_eq!(
        reply.header("content-type"),
        "application/json; charset=utf-8"
    );
}

#[tokio::test]
async fn views_and_row_level_security() {
    let svc = service().await;
    assert_eq!(
        get(&svc, "/cheap_items?select=id&order=id").await.ids(),
        vec![2, 3, 5]
    );
    // anon only sees approved reviews: the request really runs as the anon role.
    assert_eq!(
        get(&svc, "/reviews?select=id&order=id").await.ids(),
        vec![1, 3]
    );

    let mut req = http::Request::get("/reviews?select=id&order=id")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    req.extensions_mut()
        .insert(tower_postgrest::layer::DbRole::new("authenticated"));
    let res = tower::ServiceExt::oneshot(svc.clone(), req).await.unwrap();
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let rows: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(rows, json!([{"id": 1}, {"id": 2}, {"id": 3}]));
}

#[tokio::test]
async fn content_location_and_vary() {
    let svc = service().await;
    let reply = get(&svc, "/items?select=id&id=eq.1&limit=1").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-location"),
        "/items?id=eq.1&limit=1&select=id"
    );
    assert_eq!(reply.header("vary"), "Accept, Prefer, Range");
}
