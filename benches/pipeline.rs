//! Parse + plan + render of typical read requests, against the schema of the
//! test fixture (`benches/fixtures/schema.json`); no database.
//!
//! Run with: `cargo bench --bench pipeline`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::HeaderMap;
use std::hint::black_box;
use tower_postgrest::__private::{parts, render_get};
use tower_postgrest::schema::Schema;

const REQUESTS: &[(&str, &str)] = &[
    ("by_pk", "select=*&id=eq.4"),
    (
        "columns_filter_order_limit",
        "select=id,name,price&price=gt.1&order=price.desc&limit=20",
    ),
    (
        "aliases_casts_json",
        "select=id,title:name,cost:price::text,color:data->>color,w:data->size->w&active=is.true",
    ),
    (
        "in_list_and_like",
        "select=id,name&id=in.(1,2,3,4,5,6,7,8,9,10)&name=ilike.*an*&order=id&limit=10&offset=10",
    ),
    (
        "many_filters",
        "select=id&qty=gte.1&qty=lte.100&price=lt.5&note=not.is.null&tags=cs.{fruit}&period=sl.[20,30)&search=fts(english).fox&name=like(any).{a*,b*}",
    ),
];

fn pipeline(c: &mut Criterion) {
    let schema: Schema = serde_json::from_str(include_str!("fixtures/schema.json")).unwrap();
    let headers = HeaderMap::new();
    let mut group = c.benchmark_group("parse_plan_render");
    for (name, query) in REQUESTS {
        // Assert the output once before measuring.
        let stmt = render_get(&schema, "/items", query, &headers, Some(1000)).unwrap();
        let (sql, params) = parts(&stmt);
        assert!(sql.starts_with("SELECT pg_catalog.count(*)"), "{sql}");
        assert!(!params.is_empty());

        group.throughput(Throughput::Bytes(query.len() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| {
                render_get(
                    black_box(&schema),
                    "/items",
                    black_box(query),
                    &headers,
                    Some(1000),
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
