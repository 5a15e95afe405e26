//! Ceilings on what a request costs before it reaches the database: for each
//! body format (and the query string, and the "Perhaps you meant" hint) at
//! sizes up to the 16 MiB body limit, the bytes allocated per byte of input,
//! and the time of an input four times larger (at most 7 times the time:
//! linear is 4, quadratic 16; the room is for noise). A quadratic step, or one that copies a CSV
//! header into every row, fails here.
//!
//! Its own test binary: the counting allocator sees nothing but the parse.
//! Print the measurements with `cargo test --test ceilings -- --nocapture`.

use std::alloc::System;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower_postgrest::__private::{parse_request, render};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const MIB: usize = 1024 * 1024;
/// Bytes allocated (in all, reallocations included) per byte of input.
/// Measured at most 11.4, for a JSON object of tiny distinct keys
/// (`"k123":0,`: each 9-byte key costs a `String` and a set entry); the
/// quadratic key check and the CSV header copied into every row, which this
/// catches, were 1,000 times more.
const MAX_BYTES_PER_BYTE: f64 = 16.0;
/// The same for a query string, whose syntax tree of short tokens costs more
/// per byte (measured 20.5 for `or=(and(…),…)`), within its 60 KiB limit:
/// at most 2 MB.
const MAX_QUERY_BYTES_PER_BYTE: f64 = 32.0;
/// Time of 4× the input over time of 1×: linear is 4, quadratic 16.
/// Measured 3.8 to 5.1 (a JSON object of distinct keys, whose hash set grows
/// with it, is the highest); the room is for a loaded CI machine.
const MAX_TIME_RATIO: f64 = 7.0;

/// An input shape: a request made of about `n` bytes of it.
struct Shape {
    name: &'static str,
    /// The largest input the service accepts of this kind.
    limit: usize,
    method: Method,
    content_type: Option<&'static str>,
    make: fn(usize) -> (String, Option<String>),
}

fn json_keys(n: usize) -> (String, Option<String>) {
    let mut s = String::with_capacity(n + 32);
    s.push('{');
    let mut i = 0;
    while s.len() < n {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!("\"k{i}\":0"));
        i += 1;
    }
    s.push('}');
    (String::new(), Some(s))
}

fn json_rows(n: usize) -> (String, Option<String>) {
    let row = r#"{"name":"a name","price":1.5,"note":null,"tags":["x","y"]}"#;
    let mut s = String::with_capacity(n + row.len());
    s.push('[');
    while s.len() < n {
        if s.len() > 1 {
            s.push(',');
        }
        s.push_str(row);
    }
    s.push(']');
    (String::new(), Some(s))
}

/// The attack: a header of 200 names of 1,000 characters, then rows of commas.
fn csv_wide(n: usize) -> (String, Option<String>) {
    let mut s: String = (0..200)
        .map(|i| format!("{i:04}{}", "c".repeat(996)))
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    let row = format!("{}\n", ",".repeat(199));
    while s.len() < n {
        s.push_str(&row);
    }
    (String::new(), Some(s))
}

fn csv_tall(n: usize) -> (String, Option<String>) {
    let mut s = String::from("name,price,note\n");
    let mut i = 0;
    while s.len() < n {
        s.push_str(&format!("\"item, {i}\",{i}.5,NULL\n"));
        i += 1;
    }
    (String::new(), Some(s))
}

fn form(n: usize) -> (String, Option<String>) {
    let mut s = String::with_capacity(n + 32);
    let mut i = 0;
    while s.len() < n {
        if i > 0 {
            s.push('&');
        }
        s.push_str(&format!("k{i}=v%20{i}"));
        i += 1;
    }
    (String::new(), Some(s))
}

/// A long `or=(…)` of filters in the query string.
fn logic(n: usize) -> (String, Option<String>) {
    let mut q = String::from("or=(");
    let mut i = 0;
    while q.len() < n {
        if i > 0 {
            q.push(',');
        }
        q.push_str(&format!("and(price.gt.{i},name.like.*x{i}*)"));
        i += 1;
    }
    q.push(')');
    (q, None)
}

/// A long select list with casts, aliases and JSON paths.
fn select(n: usize) -> (String, Option<String>) {
    let mut q = String::from("select=");
    let mut i = 0;
    while q.len() < n {
        if i > 0 {
            q.push(',');
        }
        q.push_str(&format!("a{i}:details->x->>y{i},price::text"));
        i += 1;
    }
    (q, None)
}

/// The body limit (16 MiB), less room for the last element a generator adds.
const BODY: usize = 16 * MIB - 4096;
/// The query string limit (60 KiB), less the same room.
const QUERY: usize = 60 * 1024 - 256;

const SHAPES: &[Shape] = &[
    Shape {
        limit: BODY,
        name: "JSON object, distinct keys",
        method: Method::POST,
        content_type: Some("application/json"),
        make: json_keys,
    },
    Shape {
        limit: BODY,
        name: "JSON array of objects",
        method: Method::POST,
        content_type: Some("application/json"),
        make: json_rows,
    },
    Shape {
        limit: BODY,
        name: "CSV, 200 names of 1,000 characters, rows of commas",
        method: Method::POST,
        content_type: Some("text/csv"),
        make: csv_wide,
    },
    Shape {
        limit: BODY,
        name: "CSV, tall",
        method: Method::POST,
        content_type: Some("text/csv"),
        make: csv_tall,
    },
    Shape {
        limit: BODY,
        name: "form, distinct keys",
        method: Method::POST,
        content_type: Some("application/x-www-form-urlencoded"),
        make: form,
    },
    Shape {
        limit: QUERY,
        name: "query string, or=(and(…),…)",
        method: Method::GET,
        content_type: None,
        make: logic,
    },
    Shape {
        limit: QUERY,
        name: "query string, select=…",
        method: Method::GET,
        content_type: None,
        make: select,
    },
];

/// Parses `shape` at `n` bytes: bytes allocated, and the best time of `runs`.
fn measure(shape: &Shape, n: usize, runs: usize) -> (usize, f64, Duration) {
    let (query, body) = (shape.make)(n);
    let input = query.len() + body.as_ref().map_or(0, String::len);
    let mut headers = HeaderMap::new();
    if let Some(ct) = shape.content_type {
        headers.insert("content-type", HeaderValue::from_static(ct));
    }
    let body = body.map(Bytes::from);
    let mut best = Duration::MAX;
    let mut allocated = 0;
    for _ in 0..runs {
        let body = body.clone();
        let region = Region::new(GLOBAL);
        let started = Instant::now();
        let parsed = parse_request(&shape.method, "/items", &query, &headers, body);
        let took = started.elapsed();
        allocated = region.change().bytes_allocated;
        // Parsing may refuse (a limit, a bad shape) but never panics; these inputs are valid.
        assert!(parsed.is_ok(), "{}: {:?}", shape.name, parsed.err());
        best = best.min(took);
    }
    (input, allocated as f64 / input as f64, best)
}

#[test]
fn every_format_parses_in_linear_time_and_bounded_memory() {
    let mut failures = Vec::new();
    for shape in SHAPES {
        let (input, per_byte, _) = measure(shape, shape.limit, 1);
        let (_, _, small) = measure(shape, shape.limit / 16, 5);
        let (_, _, large) = measure(shape, shape.limit / 4, 5);
        let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-6);
        println!(
            "{:<55} {:>9} B: {:>5.2} B allocated per byte; a quarter of it in {:>8.1?}, a sixteenth in {:>8.1?}: × {:.2}",
            shape.name, input, per_byte, large, small, ratio
        );
        let ceiling = if shape.limit == QUERY {
            MAX_QUERY_BYTES_PER_BYTE
        } else {
            MAX_BYTES_PER_BYTE
        };
        if per_byte > ceiling {
            failures.push(format!(
                "{}: {per_byte:.1} bytes allocated per byte",
                shape.name
            ));
        }
        if ratio > MAX_TIME_RATIO {
            failures.push(format!(
                "{}: 4× the input took {ratio:.1}× the time",
                shape.name
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_long_odd_name_costs_its_length_in_the_hint() {
    let schema: tower_postgrest::__private::Schema =
        serde_json::from_str(include_str!("../benches/fixtures/schema.json")).unwrap();
    let time = |n: usize| {
        let name = format!("item{}", "é".repeat(n / 2));
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let started = Instant::now();
            let err = render(
                &schema,
                &Method::GET,
                &format!("/{name}"),
                "",
                &HeaderMap::new(),
                None,
                None,
            )
            .unwrap_err();
            best = best.min(started.elapsed());
            assert_eq!(err.kind(), tower_postgrest::ErrorKind::NotFound);
        }
        best
    };
    let (small, large) = (time(256 * 1024), time(MIB));
    let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-6);
    println!("hint for a 1 MiB name: {large:.1?}, 256 KiB: {small:.1?}: × {ratio:.2}");
    assert!(ratio < MAX_TIME_RATIO, "× {ratio:.2}");
}
