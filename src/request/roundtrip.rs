//! Property tests of the whole query-string grammar: any input parses or is a
//! clean error, and parse → render → parse gives the same request.

use std::fmt::Write as _;

use http::{HeaderMap, Method};
use proptest::prelude::*;

use super::cursor::Spelling;
use super::filter::{IS_VALUES, OPERATORS, Operator};
use super::logic::BOOL_OPS;
use super::order::{DIRECTIONS, NULLS_ORDERS};
use super::select::AGGREGATES;
use super::*;
use crate::error::ErrorKind;

fn field(f: &Field) -> String {
    let mut out = quote(&f.name);
    for (op, step) in &f.json_path {
        out.push_str(match op {
            JsonOp::Arrow => "->",
            JsonOp::DoubleArrow => "->>",
        });
        match step {
            JsonStep::Key(k) => out.push_str(&quote(k)),
            JsonStep::Index(i) => {
                let _ = write!(out, "{i}");
            }
        }
    }
    out
}

/// The operation part of a filter; values quoted when inside a logic tree.
fn operation(op: &Operation, in_tree: bool) -> String {
    let value = |v: &str| if in_tree { quote(v) } else { v.to_owned() };
    match op {
        Operation::Compare {
            op,
            quantifier,
            value: v,
        } => {
            let q = quantifier
                .map(|q| format!("({})", q.name()))
                .unwrap_or_default();
            format!("{}{q}.{}", op.name(), value(v))
        }
        Operation::In(items) => {
            let items: Vec<String> = items.iter().map(|i| quote(i)).collect();
            format!("in.({})", items.join(","))
        }
        Operation::Is(v) => format!("is.{}", v.name()),
        Operation::Fts {
            op,
            language,
            value: v,
        } => {
            let name = op.name();
            let lang = language
                .as_ref()
                .map(|l| format!("({l})"))
                .unwrap_or_default();
            format!("{name}{lang}.{}", value(v))
        }
    }
}

fn condition(c: &Condition) -> String {
    match c {
        Condition::Filter(f) => format!(
            "{}.{}{}",
            field(&f.field),
            if f.negated { "not." } else { "" },
            operation(&f.operation, true)
        ),
        Condition::Group {
            negated,
            op,
            children,
        } => {
            let children: Vec<String> = children.iter().map(condition).collect();
            format!(
                "{}{}({})",
                if *negated { "not." } else { "" },
                op.name(),
                children.join(",")
            )
        }
    }
}

fn select_item(item: &SelectItem) -> String {
    match item {
        SelectItem::Star => "*".into(),
        SelectItem::Column {
            alias,
            field: f,
            cast,
            aggregate,
        } => {
            let mut out = alias.as_ref().map(|a| quote(a) + ":").unwrap_or_default();
            match f {
                Some(f) => out.push_str(&field(f)),
                None => out.push_str("count()"),
            }
            if let Some(c) = cast {
                let _ = write!(out, "::{c}");
            }
            if let Some((agg, cast)) = aggregate {
                if f.is_some() {
                    let _ = write!(out, ".{}()", agg.name());
                }
                if let Some(c) = cast {
                    let _ = write!(out, "::{c}");
                }
            }
            out
        }
        SelectItem::Embed {
            alias,
            relation,
            hints,
            spread,
            select,
        } => {
            let mut out = String::new();
            if *spread {
                out.push_str("...");
            }
            if let Some(a) = alias {
                out.push_str(&quote(a));
                out.push(':');
            }
            out.push_str(&quote(relation));
            for h in hints {
                out.push('!');
                out.push_str(&quote(h));
            }
            let inner: Vec<String> = select.iter().map(select_item).collect();
            let _ = write!(out, "({})", inner.join(","));
            out
        }
    }
}

/// Renders the query-string part of a request back into the grammar.
fn render_query(req: &ApiRequest) -> String {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let items: Vec<String> = req.select.iter().map(select_item).collect();
    pairs.push(("select".into(), items.join(",")));
    for c in &req.conditions {
        match c {
            Condition::Filter(f) => pairs.push((
                field(&f.field),
                format!(
                    "{}{}",
                    if f.negated { "not." } else { "" },
                    operation(&f.operation, false)
                ),
            )),
            Condition::Group {
                negated,
                op,
                children,
            } => {
                let key = format!("{}{}", if *negated { "not." } else { "" }, op.name());
                let children: Vec<String> = children.iter().map(condition).collect();
                pairs.push((key, format!("({})", children.join(","))));
            }
        }
    }
    if !req.order.is_empty() {
        let terms: Vec<String> = req
            .order
            .iter()
            .map(|t| {
                let mut s = match &t.relation {
                    Some(r) => format!("{}({})", quote(r), field(&t.field)),
                    None => field(&t.field),
                };
                if let Some(d) = t.direction {
                    let _ = write!(s, ".{}", d.name());
                }
                if let Some(n) = t.nulls {
                    let _ = write!(s, ".{}", n.name());
                }
                s
            })
            .collect();
        pairs.push(("order".into(), terms.join(",")));
    }
    if let Some(l) = req.limit {
        pairs.push(("limit".into(), l.to_string()));
    }
    if let Some(o) = req.offset {
        pairs.push(("offset".into(), o.to_string()));
    }
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn parse_query(q: &str) -> Result<ApiRequest, crate::Error> {
    parse(
        super::route(&Method::GET, "/t")?,
        Some(q),
        &HeaderMap::new(),
        None,
    )
}

/// The parts of a request the query string decides, for comparing.
fn shape(r: &ApiRequest) -> String {
    format!(
        "{:?} {:?} {:?} {:?} {:?}",
        r.select, r.conditions, r.order, r.limit, r.offset
    )
}

/// Query strings built from the grammar's own pieces, hostile values included.
fn query_strings() -> impl Strategy<Value = String> {
    // Not a parameter the grammar reserves (a filter on a column named `or`
    // is a logic tree): proptest found `or=eq.`.
    const RESERVED: &[&str] = &[
        "select",
        "order",
        "limit",
        "offset",
        "or",
        "and",
        "not",
        "columns",
        "on_conflict",
        "distinct",
    ];
    let name = prop_oneof![
        "[a-z_][a-z0-9_]{0,8}"
            .prop_filter("a reserved parameter", |n| !RESERVED.contains(&n.as_str())),
        "[a-z ,.:()\"\\\\!>-]{1,8}".prop_map(|n| quote(&n)),
    ];
    let value = prop_oneof!["[a-z0-9 ,.()*{}\"\\\\%-]{0,10}", any::<String>()];
    // Every operator whose value is plain text (`in` and `is` have generators
    // of their own), and some with modifiers.
    let op = prop::sample::select(
        plain_operators()
            .chain(["fts(english)", "eq(any)", "like(all)"])
            .collect::<Vec<_>>(),
    );
    let leaf = (name.clone(), any::<bool>(), op, value.clone())
        .prop_map(|(n, not, op, v)| (n, format!("{}{op}.{v}", if not { "not." } else { "" })));
    let in_filter =
        (name.clone(), prop::collection::vec(value.clone(), 0..4)).prop_map(|(n, vs)| {
            let items: Vec<String> = vs.iter().map(|v| quote(v)).collect();
            (n, format!("in.({})", items.join(",")))
        });
    let is_filter = (name.clone(), names(IS_VALUES), any::<bool>()).prop_map(|(n, v, upper)| {
        let v = if upper {
            v.to_ascii_uppercase()
        } else {
            v.to_owned()
        };
        (n, format!("is.{v}"))
    });
    let logic = logic_pair(name.clone(), value.clone());
    let select = prop::collection::vec(
        prop_oneof![
            Just("*".to_owned()),
            name.clone(),
            (name.clone(), name.clone()).prop_map(|(a, c)| format!("{a}:{c}::text")),
            (name.clone(), "[a-z]{1,4}").prop_map(|(c, k)| format!("{c}->{k}->>0")),
            (name.clone(), names(AGGREGATES)).prop_map(|(c, agg)| format!("{c}.{agg}()")),
        ],
        1..4,
    )
    .prop_map(|items| ("select".to_owned(), items.join(",")));
    let order = (
        name,
        prop::option::of(names(DIRECTIONS)),
        prop::option::of(names(NULLS_ORDERS)),
    )
        .prop_map(|(n, d, nulls)| {
            let mut term = n;
            for word in [d, nulls].into_iter().flatten() {
                term.push('.');
                term.push_str(word);
            }
            ("order".to_owned(), term)
        });
    let pair = prop_oneof![leaf, in_filter, is_filter, logic, select, order];
    prop::collection::vec(pair, 0..6).prop_map(|pairs| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    })
}

/// An `or`/`and` parameter (possibly negated) holding up to three levels of groups.
fn logic_pair(
    name: impl Strategy<Value = String> + Clone + 'static,
    value: impl Strategy<Value = String> + Clone + 'static,
) -> impl Strategy<Value = (String, String)> {
    let tree_leaf = (name.clone(), op_simple(), value.clone())
        .prop_map(|(n, op, v)| format!("{n}.{op}.{}", quote(&v)));
    let tree = tree_leaf.prop_recursive(3, 12, 4, |inner| {
        (
            any::<bool>(),
            names(BOOL_OPS),
            prop::collection::vec(inner, 1..4),
        )
            .prop_map(|(not, op, cs)| {
                format!("{}{op}({})", if not { "not." } else { "" }, cs.join(","))
            })
    });
    (
        any::<bool>(),
        names(BOOL_OPS),
        prop::collection::vec(tree, 1..3),
    )
        .prop_map(|(not, op, cs)| {
            (
                format!("{}{op}", if not { "not." } else { "" }),
                format!("({})", cs.join(",")),
            )
        })
}

/// Any name of a grammar table.
fn names<T: Copy + PartialEq>(
    table: &'static [Spelling<T>],
) -> impl Strategy<Value = &'static str> {
    prop::sample::select(table.iter().map(|row| row.name).collect::<Vec<_>>())
}

/// The names of the operators whose operand is one plain value (not `in`'s
/// list or `is`'s keyword).
fn plain_operators() -> impl Iterator<Item = &'static str> {
    OPERATORS
        .iter()
        .filter(|row| !matches!(row.parses_to, Operator::In | Operator::Is))
        .map(|row| row.name)
}

fn op_simple() -> impl Strategy<Value = &'static str> {
    prop::sample::select(plain_operators().collect::<Vec<_>>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary bytes as a query string: a request or a 4xx, never a panic.
    #[test]
    fn arbitrary_input_parses_or_is_a_client_error(q in "\\PC{0,80}", raw in prop::collection::vec(any::<u8>(), 0..60)) {
        for input in [q, percent_encoding::percent_encode(&raw, percent_encoding::NON_ALPHANUMERIC).to_string()] {
            if let Err(e) = parse_query(&input) {
                prop_assert!(
                    matches!(e.kind(), ErrorKind::InvalidRequest | ErrorKind::RangeNotSatisfiable),
                    "{input}: {e}"
                );
            }
        }
    }

    /// Requests built from the grammar parse, render back, and parse to the same request.
    #[test]
    fn parse_render_parse_round_trips(q in query_strings()) {
        let first = parse_query(&q).unwrap_or_else(|e| panic!("{q} does not parse: {e}"));
        let rendered = render_query(&first);
        let second = parse_query(&rendered)
            .unwrap_or_else(|e| panic!("{q} rendered as {rendered} does not parse: {e}"));
        prop_assert_eq!(shape(&first), shape(&second), "rendered as {}", rendered);
    }
}

#[test]
fn round_trip_examples() {
    for q in [
        "select=id,t:title::text,data->a->>0&id=not.in.(1,\"2,3\")&or=(a.eq.1,and(b.gt.2,not.or(c.is.null,d.cs.{1,2})))&order=a.desc.nullslast,b&limit=5&offset=2",
        "name=like(any).{a*,b*}&doc=fts(english).cat&x->>y=eq.\"quoted\"",
        "select=*,author:authors!fk(name,books(*))",
    ] {
        let first = parse_query(q).unwrap();
        let second = parse_query(&render_query(&first)).unwrap();
        assert_eq!(shape(&first), shape(&second), "{q}");
    }
}
