//! Horizontal filtering: `key=value` where `key = [embed "."]* field` and
//! `value = ["not."] operator ["(" modifier ")"] "." operand`.

use super::cursor::Cursor;
use super::{Field, JsonOp, JsonStep, ParseError};

/// A comparison operator whose operand is one bound value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    Like,
    Ilike,
    Match,
    Imatch,
    IsDistinct,
    Contains,
    Contained,
    Overlaps,
    StrictlyLeft,
    StrictlyRight,
    NotExtendRight,
    NotExtendLeft,
    Adjacent,
}

impl CompareOp {
    /// The SQL operator.
    pub(crate) fn as_sql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Neq => "<>",
            Self::Gt => ">",
            Self::Gte => ">=",
            Self::Lt => "<",
            Self::Lte => "<=",
            Self::Like => "LIKE",
            Self::Ilike => "ILIKE",
            Self::Match => "~",
            Self::Imatch => "~*",
            Self::IsDistinct => "IS DISTINCT FROM",
            Self::Contains => "@>",
            Self::Contained => "<@",
            Self::Overlaps => "&&",
            Self::StrictlyLeft => "<<",
            Self::StrictlyRight => ">>",
            Self::NotExtendRight => "&<",
            Self::NotExtendLeft => "&>",
            Self::Adjacent => "-|-",
        }
    }

    /// Whether `(any)` / `(all)` may modify this operator.
    fn quantifiable(self) -> bool {
        matches!(
            self,
            Self::Eq
                | Self::Gt
                | Self::Gte
                | Self::Lt
                | Self::Lte
                | Self::Like
                | Self::Ilike
                | Self::Match
                | Self::Imatch
        )
    }
}

/// `any` / `all` applied to an array operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Quantifier {
    Any,
    All,
}

impl Quantifier {
    pub(crate) fn as_sql(self) -> &'static str {
        match self {
            Self::Any => "ANY",
            Self::All => "ALL",
        }
    }
}

/// Full-text search operators and the `tsquery` constructor each one uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FtsOp {
    Fts,
    Plain,
    Phrase,
    Websearch,
}

impl FtsOp {
    pub(crate) fn as_sql(self) -> &'static str {
        match self {
            Self::Fts => "to_tsquery",
            Self::Plain => "plainto_tsquery",
            Self::Phrase => "phraseto_tsquery",
            Self::Websearch => "websearch_to_tsquery",
        }
    }
}

/// The operand of `is`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IsValue {
    Null,
    NotNull,
    True,
    False,
    Unknown,
}

impl IsValue {
    pub(crate) fn as_sql(self) -> &'static str {
        match self {
            Self::Null => "IS NULL",
            Self::NotNull => "IS NOT NULL",
            Self::True => "IS TRUE",
            Self::False => "IS FALSE",
            Self::Unknown => "IS UNKNOWN",
        }
    }
}

/// What a filter tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    /// `field op value`, or `field op ANY|ALL (value)` with a quantifier.
    Compare {
        op: CompareOp,
        quantifier: Option<Quantifier>,
        value: String,
    },
    /// `field = ANY (list)`
    In(Vec<String>),
    /// `field IS …`
    Is(IsValue),
    /// `field @@ to_tsquery([language,] value)`
    Fts {
        op: FtsOp,
        language: Option<String>,
        value: String,
    },
}

/// One filter: `[not] field operation`, applied to the resource at `embed_path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Filter {
    pub(crate) embed_path: Vec<String>,
    pub(crate) field: Field,
    pub(crate) negated: bool,
    pub(crate) operation: Operation,
}

/// Parses one filter parameter.
pub(crate) fn parse_filter(key: &str, value: &str) -> Result<Filter, ParseError> {
    let (embed_path, field) = parse_key(key)?;
    let mut cur = Cursor::new(value, "filter");
    let negated = cur.eat("not.");
    let operation = operation(&mut cur, false)?;
    Ok(Filter {
        embed_path,
        field,
        negated,
        operation,
    })
}

/// `key = *( name "." ) field`
fn parse_key(key: &str) -> Result<(Vec<String>, Field), ParseError> {
    let mut cur = Cursor::new(key, "filter");
    let mut path = Vec::new();
    loop {
        let name = cur.name()?;
        if cur.eat(".") {
            path.push(name);
            continue;
        }
        let json_path = json_path(&mut cur)?;
        if !cur.at_end() {
            return Err(cur.error("\"->\", \"->>\" or end of input"));
        }
        return Ok((path, Field { name, json_path }));
    }
}

/// `json-path = *( ("->>" / "->") json-step )`
pub(super) fn json_path(cur: &mut Cursor<'_>) -> Result<Vec<(JsonOp, JsonStep)>, ParseError> {
    let mut path = Vec::new();
    loop {
        let op = if cur.eat("->>") {
            JsonOp::DoubleArrow
        } else if cur.eat("->") {
            JsonOp::Arrow
        } else {
            return Ok(path);
        };
        path.push((op, json_step(cur)?));
    }
}

/// `json-step = quoted / ["-"] 1*DIGIT / key-chars *( "-" key-chars )`
fn json_step(cur: &mut Cursor<'_>) -> Result<JsonStep, ParseError> {
    if cur.peek() == Some(b'"') {
        return cur.quoted().map(JsonStep::Key);
    }
    let rest = cur.rest();
    let mut end = 0;
    let bytes = rest.as_bytes();
    while end < bytes.len() {
        let b = bytes[end];
        let dash_continues = b == b'-' && bytes.get(end + 1) != Some(&b'>');
        if b"():.,>\"!".contains(&b) || (b == b'-' && !dash_continues) {
            break;
        }
        end += 1;
    }
    let step = &rest[..end];
    if step.is_empty() {
        return Err(cur.error("a JSON key or array index"));
    }
    if let Some(digits) = step.strip_prefix('-') {
        // A leading `-` starts a negative array index.
        let bad = digits
            .bytes()
            .position(|b| !b.is_ascii_digit())
            .or(digits.is_empty().then_some(0));
        if let Some(at) = bad {
            for _ in 0..=at {
                cur.bump();
            }
            return Err(cur.error("digit"));
        }
    }
    for _ in 0..end {
        cur.bump();
    }
    let digits = step.strip_prefix('-').unwrap_or(step);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = step.parse() {
            return Ok(JsonStep::Index(i));
        }
    }
    Ok(JsonStep::Key(step.to_owned()))
}

/// Every filter operator's name, as the grammar spells it.
pub(crate) const OPERATOR_NAMES: &[&str] = &[
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "like",
    "ilike",
    "match",
    "imatch",
    "in",
    "is",
    "isdistinct",
    "fts",
    "plfts",
    "phfts",
    "wfts",
    "cs",
    "cd",
    "ov",
    "sl",
    "sr",
    "nxr",
    "nxl",
    "adj",
];

/// The length of the longest prefix `input` shares with one of `candidates`.
fn longest_prefix(input: &str, candidates: &[&str], ignore_case: bool) -> usize {
    candidates
        .iter()
        .map(|c| {
            input
                .bytes()
                .zip(c.bytes())
                .take_while(|(a, b)| {
                    if ignore_case {
                        a.eq_ignore_ascii_case(b)
                    } else {
                        a == b
                    }
                })
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// A filter inside a logic tree: `field [json-path] "." ["not."] operation`.
pub(super) fn tree_filter(cur: &mut Cursor<'_>) -> Result<Filter, ParseError> {
    let name = cur.name()?;
    let json_path = json_path(cur)?;
    cur.expect(".")?;
    let negated = cur.eat("not.");
    let operation = operation(cur, true)?;
    Ok(Filter {
        embed_path: Vec::new(),
        field: Field { name, json_path },
        negated,
        operation,
    })
}

/// An operand. At the top level it is the rest of the parameter, verbatim; in
/// a logic tree it ends at `,` or `)` unless double-quoted (quotes stripped,
/// `\` escapes) or a `{…}` array literal.
fn operand(cur: &mut Cursor<'_>, in_tree: bool) -> Result<String, ParseError> {
    if !in_tree {
        return Ok(cur.take_rest().to_owned());
    }
    match cur.peek() {
        Some(b'"') => cur.quoted(),
        Some(b'{') => {
            let rest = cur.rest();
            let Some(end) = rest.find('}') else {
                return Err(cur.error("\"}\" closing the array literal"));
            };
            let value = rest[..=end].to_owned();
            for _ in 0..=end {
                cur.bump();
            }
            Ok(value)
        }
        _ => {
            let rest = cur.rest();
            let end = rest.find([',', ')']).unwrap_or(rest.len());
            let value = rest[..end].to_owned();
            for _ in 0..end {
                cur.bump();
            }
            Ok(value)
        }
    }
}

/// `operation = operator ["(" modifier ")"] "." operand`
fn operation(cur: &mut Cursor<'_>, in_tree: bool) -> Result<Operation, ParseError> {
    let start = cur.rest();
    let len = start.bytes().take_while(|b| b.is_ascii_lowercase()).count();
    let word = &start[..len];
    let compare = match word {
        "eq" => Some(CompareOp::Eq),
        "neq" => Some(CompareOp::Neq),
        "gt" => Some(CompareOp::Gt),
        "gte" => Some(CompareOp::Gte),
        "lt" => Some(CompareOp::Lt),
        "lte" => Some(CompareOp::Lte),
        "like" => Some(CompareOp::Like),
        "ilike" => Some(CompareOp::Ilike),
        "match" => Some(CompareOp::Match),
        "imatch" => Some(CompareOp::Imatch),
        "isdistinct" => Some(CompareOp::IsDistinct),
        "cs" => Some(CompareOp::Contains),
        "cd" => Some(CompareOp::Contained),
        "ov" => Some(CompareOp::Overlaps),
        "sl" => Some(CompareOp::StrictlyLeft),
        "sr" => Some(CompareOp::StrictlyRight),
        "nxr" => Some(CompareOp::NotExtendRight),
        "nxl" => Some(CompareOp::NotExtendLeft),
        "adj" => Some(CompareOp::Adjacent),
        _ => None,
    };
    let fts = match word {
        "fts" => Some(FtsOp::Fts),
        "plfts" => Some(FtsOp::Plain),
        "phfts" => Some(FtsOp::Phrase),
        "wfts" => Some(FtsOp::Websearch),
        _ => None,
    };
    if compare.is_none() && fts.is_none() && word != "in" && word != "is" {
        // PostgREST's parser tries "not." and each operator: it reports the
        // character where the longest attempt failed.
        let negatable = cur.offset() == 0;
        let op_len = longest_prefix(start, OPERATOR_NAMES, false);
        let not_len = if negatable {
            longest_prefix(start, &["not."], false)
        } else {
            0
        };
        let via_not = negatable && not_len >= op_len;
        let mut err = cur.error(if via_not || (negatable && op_len == 0) {
            "\"not\" or operator (eq, gt, ...)"
        } else {
            "operator (eq, gt, ...)"
        });
        err.found += op_len.max(not_len);
        if !via_not {
            err.offset += op_len;
        }
        return Err(err);
    }
    for _ in 0..len {
        cur.bump();
    }
    if let Some(op) = compare {
        let mut quantifier = None;
        if op.quantifiable() && cur.peek() == Some(b'(') {
            quantifier = Some(if cur.eat("(any)") {
                Quantifier::Any
            } else if cur.eat("(all)") {
                Quantifier::All
            } else {
                return Err(cur.error("\"(any)\" or \"(all)\""));
            });
        }
        cur.expect(".")?;
        let mut value = operand(cur, in_tree)?;
        if matches!(op, CompareOp::Like | CompareOp::Ilike) {
            value = value.replace('*', "%");
        }
        return Ok(Operation::Compare {
            op,
            quantifier,
            value,
        });
    }
    if let Some(op) = fts {
        let mut language = None;
        if cur.eat("(") {
            let rest = cur.rest();
            let Some(close) = rest.find(')') else {
                return Err(cur.error("a language and \")\""));
            };
            if close == 0 {
                return Err(cur.error("a language"));
            }
            language = Some(rest[..close].to_owned());
            for _ in 0..=close {
                cur.bump();
            }
        }
        cur.expect(".")?;
        return Ok(Operation::Fts {
            op,
            language,
            value: operand(cur, in_tree)?,
        });
    }
    cur.expect(".")?;
    if word == "in" {
        return in_list(cur, in_tree).map(Operation::In);
    }
    let operand = operand(cur, in_tree)?;
    let operand = operand.as_str();
    let is = match operand.to_ascii_lowercase().as_str() {
        "null" => IsValue::Null,
        "not_null" => IsValue::NotNull,
        "true" => IsValue::True,
        "false" => IsValue::False,
        "unknown" => IsValue::Unknown,
        _ => {
            let mut err = cur.error("isVal: (null, not_null, true, false, unknown)");
            let start = err.offset.saturating_sub(operand.len());
            let matched = longest_prefix(
                operand,
                &["null", "not_null", "true", "false", "unknown"],
                true,
            );
            err.offset = start + matched;
            err.found = start + matched;
            return Err(err);
        }
    };
    Ok(Operation::Is(is))
}

/// `in-list = "(" item *( "," item ) ")"`, `item = quoted / *( any char but "," and ")" )`
///
/// As in PostgREST, spaces next to the parentheses are trimmed and spaces inside
/// unquoted items kept; a quoted item not followed by `,` or `)` is taken raw.
fn in_list(cur: &mut Cursor<'_>, in_tree: bool) -> Result<Vec<String>, ParseError> {
    cur.expect("(")?;
    cur.skip_spaces();
    let mut items = Vec::new();
    if cur.eat(")") {
        return end_of_list(cur, items, in_tree);
    }
    loop {
        let rest = cur.rest();
        let raw_end = rest.find([',', ')']).unwrap_or(rest.len());
        let mut quoted = None;
        if rest.starts_with('"') {
            let mut probe = Cursor::new(rest, "filter");
            if let Ok(q) = probe.quoted() {
                if matches!(probe.peek(), Some(b',' | b')')) {
                    quoted = Some((q, rest.len() - probe.rest().len()));
                }
            }
        }
        let (item, len) = quoted.unwrap_or_else(|| (rest[..raw_end].to_owned(), raw_end));
        for _ in 0..len {
            cur.bump();
        }
        match cur.peek() {
            Some(b',') => {
                items.push(item);
                cur.bump();
            }
            Some(b')') => {
                items.push(item.trim_end_matches(' ').to_owned());
                cur.bump();
                return end_of_list(cur, items, in_tree);
            }
            _ => return Err(cur.error("\",\" or \")\"")),
        }
    }
}

fn end_of_list(
    cur: &Cursor<'_>,
    items: Vec<String>,
    in_tree: bool,
) -> Result<Vec<String>, ParseError> {
    if cur.at_end() || (in_tree && matches!(cur.peek(), Some(b',' | b')'))) {
        Ok(items)
    } else {
        Err(cur.error("end of input after \")\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(value: &str) -> Operation {
        parse_filter("c", value).unwrap().operation
    }

    fn cmp(op: CompareOp, value: &str) -> Operation {
        Operation::Compare {
            op,
            quantifier: None,
            value: value.into(),
        }
    }

    #[test]
    fn operators() {
        assert_eq!(op("eq.1"), cmp(CompareOp::Eq, "1"));
        assert_eq!(op("neq.a.b"), cmp(CompareOp::Neq, "a.b"));
        assert_eq!(op("like.*a*"), cmp(CompareOp::Like, "%a%"));
        assert_eq!(op("ilike.A*"), cmp(CompareOp::Ilike, "A%"));
        assert_eq!(op("isdistinct.x"), cmp(CompareOp::IsDistinct, "x"));
        assert_eq!(op("eq."), cmp(CompareOp::Eq, ""));
        assert_eq!(op("eq.\"q\""), cmp(CompareOp::Eq, "\"q\""));
        assert_eq!(op("is.NULL"), Operation::Is(IsValue::Null));
        assert_eq!(op("is.not_null"), Operation::Is(IsValue::NotNull));
        assert_eq!(op("is.true"), Operation::Is(IsValue::True));
        assert_eq!(
            op("like(any).{a*,b*}"),
            Operation::Compare {
                op: CompareOp::Like,
                quantifier: Some(Quantifier::Any),
                value: "{a%,b%}".into()
            }
        );
        assert_eq!(
            op("fts(english).cat"),
            Operation::Fts {
                op: FtsOp::Fts,
                language: Some("english".into()),
                value: "cat".into()
            }
        );
    }

    #[test]
    fn negation() {
        let f = parse_filter("c", "not.in.(1,2)").unwrap();
        assert!(f.negated);
        assert_eq!(f.operation, Operation::In(vec!["1".into(), "2".into()]));
    }

    #[test]
    fn in_list_keeps_quoted_comma() {
        assert_eq!(
            op(r#"in.( a,"b,c","d\"e",f g )"#),
            Operation::In(vec!["a".into(), "b,c".into(), "d\"e".into(), "f g".into()])
        );
        assert_eq!(op("in.()"), Operation::In(vec![]));
        assert_eq!(op("in.(\"\")"), Operation::In(vec!["".into()]));
    }

    #[test]
    fn malformed() {
        for bad in [
            "eqq.1",
            "eq1",
            "in.(",
            "in.(a",
            "in.(a))",
            "in.a",
            "is.maybe",
            "fts(.x",
            "neq(any).{1}",
            "eq(some).{1}",
            "",
            "not.",
        ] {
            assert!(parse_filter("c", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys() {
        let f = parse_filter("data->a->>b", "eq.1").unwrap();
        assert_eq!(f.field.name, "data");
        assert_eq!(
            f.field.json_path,
            vec![
                (JsonOp::Arrow, JsonStep::Key("a".into())),
                (JsonOp::DoubleArrow, JsonStep::Key("b".into()))
            ]
        );
        let f = parse_filter("arr->-1", "eq.1").unwrap();
        assert_eq!(
            f.field.json_path,
            vec![(JsonOp::Arrow, JsonStep::Index(-1))]
        );
        let f = parse_filter("rel.sub.col", "eq.1").unwrap();
        assert_eq!(f.embed_path, vec!["rel".to_owned(), "sub".to_owned()]);
        let f = parse_filter("\"information.cpe\"", "eq.1").unwrap();
        assert_eq!(f.field.name, "information.cpe");
        let f = parse_filter("first-name", "eq.1").unwrap();
        assert_eq!(f.field.name, "first-name");
        assert!(parse_filter("a::text", "eq.1").is_err());
    }
}
