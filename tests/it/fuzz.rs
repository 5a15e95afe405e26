//! Hostile input through the whole stack (path, query string, headers, body)
//! against the real database: never a panic, never a 5xx for a client's mistake.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::support::{scratch, send_body};

fn encoded(bytes: &[u8]) -> String {
    percent_encoding::percent_encode(bytes, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[test]
fn arbitrary_requests_get_clean_answers() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A schema of its own: the fuzzer's writes may land.
    let (svc, _db) = rt.block_on(scratch(
        "CREATE TABLE items (id int PRIMARY KEY, name text, tags text[], data jsonb, at date);
         CREATE TABLE authors (id int PRIMARY KEY, name text);
         CREATE TABLE parts (id int PRIMARY KEY, item_id int REFERENCES items (id), author_id int REFERENCES authors (id));
         CREATE VIEW cheap_items AS SELECT id, name FROM items;
         CREATE FUNCTION label(a int DEFAULT 1) RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'x' || a $$;
         INSERT INTO items VALUES (1, 'a', '{x}', '{\"k\": 1}', '2020-01-01'), (2, 'b', NULL, NULL, NULL);
         INSERT INTO authors VALUES (1, 'z');",
    ));
    let method = prop::sample::select(vec!["GET", "HEAD", "POST", "PATCH", "DELETE", "PUT"]);
    let path = prop_oneof![
        prop::sample::select(vec![
            "/items",
            "/authors",
            "/rpc/label",
            "/",
            "/items/1",
            "/rpc/nope",
            "/cheap_items"
        ])
        .prop_map(str::to_owned),
        prop::collection::vec(any::<u8>(), 0..20).prop_map(|b| format!("/{}", encoded(&b))),
    ];
    let query = prop_oneof![
        "[a-z_]{1,8}=(eq|gt|in|is|like|cs|fts|not\\.eq)\\.[a-zA-Z0-9(),\"{}*%]{0,12}",
        "select=[a-z*:(),!.>-]{0,24}",
        "order=[a-z.,]{0,16}",
        "or=\\([a-z.,()]{0,24}\\)",
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| encoded(&b)),
    ];
    let header = prop_oneof![
        Just(("accept", "application/vnd.pgrst.object+json".to_owned())),
        Just(("accept", "text/csv".to_owned())),
        "[ -~]{0,20}".prop_map(|v| ("accept", v)),
        "[ -~]{0,20}".prop_map(|v| ("prefer", v)),
        "[ -~]{0,12}".prop_map(|v| ("range", v)),
        "[ -~]{0,20}".prop_map(|v| ("content-type", v)),
    ];
    let body = prop_oneof![
        Just(Vec::new()),
        Just(br#"{"id": 99, "name": "x"}"#.to_vec()),
        Just(format!("{}1{}", "[".repeat(5000), "]".repeat(5000)).into_bytes()),
        prop::collection::vec(any::<u8>(), 0..64),
        "[ -~]{0,40}".prop_map(String::into_bytes),
    ];
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &(
                method,
                path,
                query,
                prop::collection::vec(header, 0..3),
                body,
            ),
            |(method, path, query, headers, body)| {
                let uri = format!("{path}?{query}");
                let headers: Vec<(&str, &str)> =
                    headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let reply = rt.block_on(send_body(&svc, method, &uri, &headers, body));
                prop_assert!(
                    reply.status.as_u16() < 500,
                    "{method} {uri} {headers:?}: {} {}",
                    reply.status,
                    reply.text
                );
                Ok(())
            },
        )
        .unwrap();
}
