//! Parse + plan + render of typical requests (reads, a bulk insert, an RPC), against the schema of the
//! test fixture (`benches/fixtures/schema.json`); no database.
//!
//! Run with: `cargo bench --bench pipeline`

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method};
use tower_postgrest::__private::{parts, render, render_get};
use tower_postgrest::schema::Schema;

/// (name, path, query string)
const REQUESTS: &[(&str, &str, &str)] = &[
    ("by_pk", "/items", "select=*&id=eq.4"),
    (
        "columns_filter_order_limit",
        "/items",
        "select=id,name,price&price=gt.1&order=price.desc&limit=20",
    ),
    (
        "aliases_casts_json",
        "/items",
        "select=id,title:name,cost:price::text,color:data->>color,w:data->size->w&active=is.true",
    ),
    (
        "in_list_and_like",
        "/items",
        "select=id,name&id=in.(1,2,3,4,5,6,7,8,9,10)&name=ilike.*an*&order=id&limit=10&offset=10",
    ),
    (
        "many_filters",
        "/items",
        "select=id&qty=gte.1&qty=lte.100&price=lt.5&note=not.is.null&tags=cs.{fruit}&period=sl.[20,30)&search=fts(english).fox&name=like(any).{a*,b*}",
    ),
    (
        "embed_3_levels",
        "/authors",
        "select=name,items(name,price,reviews(body))&items.order=price.desc&items.limit=5&items.reviews.approved=is.true",
    ),
];

fn pipeline(c: &mut Criterion) {
    let schema: Schema = serde_json::from_str(include_str!("fixtures/schema.json")).unwrap();
    let headers = HeaderMap::new();
    let mut group = c.benchmark_group("parse_plan_render");
    for (name, path, query) in REQUESTS {
        // Assert the output once before measuring.
        let stmt = render_get(&schema, path, query, &headers, Some(1000)).unwrap();
        let (sql, params) = parts(&stmt);
        assert!(sql.starts_with("WITH \"pgrst_page\" AS (SELECT "), "{sql}");
        assert!(!params.is_empty());

        group.throughput(Throughput::Bytes(query.len() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| {
                render_get(
                    black_box(&schema),
                    path,
                    black_box(query),
                    &headers,
                    Some(1000),
                )
                .unwrap()
            })
        });
    }

    // Writes and calls: the body is part of the input.
    let mut json = HeaderMap::new();
    json.insert("content-type", HeaderValue::from_static("application/json"));
    json.insert("prefer", HeaderValue::from_static("return=representation"));
    let rows: Vec<String> = (0..100)
        .map(|i| {
            format!(r#"{{"id":{i},"name":"item {i}","price":{i}.5,"qty":{i},"tags":["a","b"]}}"#)
        })
        .collect();
    let bulk = Bytes::from(format!("[{}]", rows.join(",")));
    let writes: &[(&str, Method, &str, &str, Bytes)] = &[
        (
            "bulk_insert_100",
            Method::POST,
            "/items",
            "select=id,name",
            bulk,
        ),
        (
            "upsert_one",
            Method::POST,
            "/items",
            "on_conflict=id",
            Bytes::from_static(br#"{"id":1,"name":"a","price":2}"#),
        ),
        (
            "rpc_filtered",
            Method::POST,
            "/rpc/items_under",
            "select=id,name&order=price.desc&limit=10",
            Bytes::from_static(br#"{"max_price":10,"min_qty":2}"#),
        ),
    ];
    for (name, method, path, query, body) in writes {
        let stmt = render(
            &schema,
            method,
            path,
            query,
            &json,
            Some(body.clone()),
            None,
        )
        .unwrap();
        let (sql, params) = parts(&stmt);
        assert!(!sql.is_empty() && !params.is_empty(), "{sql}");
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| {
                render(
                    black_box(&schema),
                    method,
                    path,
                    black_box(query),
                    &json,
                    Some(body.clone()),
                    None,
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
