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

/// Body parsers against structured hostile shapes (not only random bytes):
/// JSON objects with many, duplicate, escaped and non-ASCII keys; arrays of
/// objects whose keys match or not; CSV with quotes, separators and line
/// breaks inside fields, CR LF, a BOM, ragged rows, `NULL`s; form bodies with
/// repeated keys and percent escapes; and random bytes under each
/// `Content-Type`. Never a panic; valid inputs parse, invalid ones are a
/// 4xx. Failing seeds are kept in `proptest-regressions/`.
mod bodies {
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue, Method};
    use proptest::prelude::*;
    use tower_postgrest::__private::parse_request;

    fn parse(content_type: &str, body: Vec<u8>) -> Result<(), tower_postgrest::Error> {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_str(content_type).unwrap());
        parse_request(
            &Method::POST,
            "/items",
            "",
            &headers,
            Some(Bytes::from(body)),
        )
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z]{1,3}",
            "[a-zA-Z0-9_ é\u{1F600}\"\\\\]{0,12}",
            Just(String::new()),
            Just("k".repeat(300)),
        ]
    }

    fn json_string(s: &str) -> String {
        serde_json::to_string(s).unwrap()
    }

    fn csv_field() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9 ]{0,6}",
            Just("NULL".to_owned()),
            Just("\"NULL\"".to_owned()),
            "[a-z,\"\r\n ]{0,8}".prop_map(|s| format!("\"{}\"", s.replace('"', "\"\""))),
            Just(String::new()),
        ]
    }

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 200,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn json_objects_with_any_keys_parse(keys in prop::collection::vec(key(), 0..200)) {
            let body = format!(
                "{{{}}}",
                keys.iter().map(|k| format!("{}: 1", json_string(k))).collect::<Vec<_>>().join(", ")
            );
            prop_assert!(parse("application/json", body.into_bytes()).is_ok());
        }

        #[test]
        fn arrays_of_objects_parse_only_when_their_keys_match(
            keys in prop::collection::hash_set("[a-z]{1,4}", 1..20),
            rows in 1usize..30,
            extra in prop::option::of("[A-Z]{1,3}"),
            at in any::<prop::sample::Index>(),
        ) {
            let keys: Vec<String> = keys.into_iter().collect();
            let bad_row = at.index(rows);
            let body = format!("[{}]", (0..rows).map(|r| {
                // Each row lists its keys in its own order.
                let mut row: Vec<String> = keys.iter().map(|k| format!("{}: {r}", json_string(k))).collect();
                row.rotate_left(r % keys.len());
                if let (Some(extra), true) = (&extra, r == bad_row) {
                    row.push(format!("{}: null", json_string(extra)));
                }
                format!("{{{}}}", row.join(","))
            }).collect::<Vec<_>>().join(","));
            let parsed = parse("application/json", body.into_bytes());
            // One row with an extra key is a mismatch when there is another row to differ from.
            match (extra, rows) {
                (Some(_), 2..) => {
                    prop_assert!(parsed.is_err());
                    let e = parsed.unwrap_err();
                    prop_assert_eq!(e.message(), "All object keys must match");
                    prop_assert!(e.status().is_client_error());
                }
                _ => prop_assert!(parsed.is_ok(), "{:?}", parsed),
            }
        }

        #[test]
        fn csv_parses_when_every_row_has_the_header_s_width(
            width in 1usize..12,
            rows in prop::collection::vec(prop::collection::vec(csv_field(), 1..12), 0..40),
            bom in any::<bool>(),
            crlf in any::<bool>(),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let header: Vec<String> = (0..width).map(|i| format!("c{i}")).collect();
            let mut body = String::new();
            if bom {
                body.push('\u{feff}');
            }
            body.push_str(&header.join(","));
            body.push_str(eol);
            for row in &rows {
                body.push_str(&row.join(","));
                body.push_str(eol);
            }
            let parsed = parse("text/csv", body.into_bytes());
            // A row of one empty field is a blank line, which CSV skips.
            let ragged = rows.iter().any(|r| r.len() != width && !(r.len() == 1 && r[0].is_empty()));
            if ragged {
                prop_assert!(parsed.is_err());
                let e = parsed.unwrap_err();
                prop_assert!(e.status().is_client_error(), "{:?}", e);
            } else {
                prop_assert!(parsed.is_ok(), "{:?}", parsed);
            }
        }

        #[test]
        fn form_bodies_parse(pairs in prop::collection::vec((key(), "[a-z%+0-9=&]{0,8}"), 0..100)) {
            let body = pairs.iter().map(|(k, v)| format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(k, percent_encoding::NON_ALPHANUMERIC),
                v
            )).collect::<Vec<_>>().join("&");
            prop_assert!(parse("application/x-www-form-urlencoded", body.into_bytes()).is_ok());
        }

        #[test]
        fn random_bytes_are_parsed_or_refused(
            body in prop::collection::vec(any::<u8>(), 0..512),
            content_type in prop::sample::select(vec!["application/json", "text/csv", "application/x-www-form-urlencoded"]),
        ) {
            if let Err(e) = parse(content_type, body) {
                prop_assert!(e.status().is_client_error(), "{:?}", e);
            }
        }
    }
}

/// Hostile names where a write or a call takes them: body keys, `columns=`,
/// `on_conflict=` and function argument names. Each is a 4xx (an unknown
/// column or argument), never a 5xx, and the database is as it was: the
/// canary table and its row are still there.
#[test]
fn hostile_names_in_writes_and_calls_change_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (svc, db) = rt.block_on(scratch(
        "CREATE TABLE items (id int PRIMARY KEY, name text);
         CREATE TABLE canary (id int PRIMARY KEY); INSERT INTO canary VALUES (1);
         CREATE FUNCTION echo(x int) RETURNS int LANGUAGE sql AS 'SELECT x';",
    ));
    let name = prop_oneof![
        Just("id\"; DROP TABLE canary; --".to_owned()),
        Just("x' OR '1'='1".to_owned()),
        Just("a\\\"b".to_owned()),
        Just("\"".to_owned()),
        Just("name\" text); DROP TABLE canary; --".to_owned()),
        "[ -~]{1,24}".prop_filter("not a real name", |n| !["id", "name", "x"]
            .contains(&n.as_str())),
        "\\PC{1,12}".prop_filter("not a real name", |n| !["id", "name", "x"]
            .contains(&n.as_str())),
    ];
    let mut runner = TestRunner::new(Config {
        cases: 120,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(name, 0..4usize), |(name, how)| {
            let key = serde_json::to_string(&name).unwrap();
            let q = encoded(name.as_bytes());
            let (method, uri, body) = match how {
                0 => (
                    "POST",
                    "/items".to_owned(),
                    format!(r#"{{"id": 5, {key}: 1}}"#),
                ),
                1 => (
                    "POST",
                    format!("/items?columns={q}"),
                    r#"{"id": 5}"#.to_owned(),
                ),
                2 => (
                    "POST",
                    format!("/items?on_conflict={q}"),
                    r#"{"id": 5, "name": "n"}"#.to_owned(),
                ),
                _ => ("POST", "/rpc/echo".to_owned(), format!(r#"{{{key}: 1}}"#)),
            };
            let reply = rt.block_on(send_body(
                &svc,
                method,
                &uri,
                &[
                    ("content-type", "application/json"),
                    ("prefer", "resolution=merge-duplicates"),
                ],
                body,
            ));
            prop_assert!(
                reply.status.is_client_error(),
                "{method} {uri} ({name:?}): {} {}",
                reply.status,
                reply.text
            );
            let canary = rt.block_on(crate::support::rows(&db, "SELECT id FROM canary"));
            prop_assert_eq!(canary, serde_json::json!([{"id": 1}]));
            let items = rt.block_on(crate::support::rows(&db, "SELECT count(*) AS n FROM items"));
            prop_assert_eq!(items, serde_json::json!([{"n": 0}]));
            Ok(())
        })
        .unwrap();
}
