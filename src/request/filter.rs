//! Horizontal filtering: `key=value` where `key = [embed "."]* field` and
//! `value = ["not."] operator ["(" modifier ")"] "." operand`.

use compact_str::CompactString;

use super::cursor::{Cursor, Spelling};
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
        Spelling::sql_of(OPERATORS, Operator::Compare(self))
    }

    /// The name the grammar gives it.
    #[cfg(test)]
    pub(crate) fn name(self) -> &'static str {
        Spelling::name_of(OPERATORS, Operator::Compare(self))
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
    /// The SQL keyword.
    pub(crate) fn as_sql(self) -> &'static str {
        Spelling::sql_of(QUANTIFIERS, self)
    }

    /// The name the grammar gives it (inside the parentheses of `op(any)`).
    #[cfg(test)]
    pub(crate) fn name(self) -> &'static str {
        Spelling::name_of(QUANTIFIERS, self)
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
    /// The `tsquery` constructor (a `pg_catalog` function).
    pub(crate) fn as_sql(self) -> &'static str {
        Spelling::sql_of(OPERATORS, Operator::Fts(self))
    }

    /// The name the grammar gives it.
    #[cfg(test)]
    pub(crate) fn name(self) -> &'static str {
        Spelling::name_of(OPERATORS, Operator::Fts(self))
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
    /// The SQL test.
    pub(crate) fn as_sql(self) -> &'static str {
        Spelling::sql_of(IS_VALUES, self)
    }

    /// The name the grammar gives it (matched without regard to case).
    #[cfg(test)]
    pub(crate) fn name(self) -> &'static str {
        Spelling::name_of(IS_VALUES, self)
    }
}

/// What an operator name parses to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operator {
    /// A comparison with one value.
    Compare(CompareOp),
    /// `in`: membership in a list.
    In,
    /// `is`: a test against an [`IsValue`].
    Is,
    /// A full-text search.
    Fts(FtsOp),
}

/// Every filter operator: its name in the grammar, what it parses to, and the
/// SQL operator (for full-text search, the `tsquery` constructor) it renders
/// as. `in` and `is` have no SQL of their own: the renderer writes it around
/// the operand.
pub(crate) const OPERATORS: &[Spelling<Operator>] = {
    use CompareOp as C;
    use Operator::{Compare, Fts};
    &[
        Spelling::new("eq", Compare(C::Eq), "="),
        Spelling::new("neq", Compare(C::Neq), "<>"),
        Spelling::new("gt", Compare(C::Gt), ">"),
        Spelling::new("gte", Compare(C::Gte), ">="),
        Spelling::new("lt", Compare(C::Lt), "<"),
        Spelling::new("lte", Compare(C::Lte), "<="),
        Spelling::new("like", Compare(C::Like), "LIKE"),
        Spelling::new("ilike", Compare(C::Ilike), "ILIKE"),
        Spelling::new("match", Compare(C::Match), "~"),
        Spelling::new("imatch", Compare(C::Imatch), "~*"),
        Spelling::new("in", Operator::In, ""),
        Spelling::new("is", Operator::Is, ""),
        Spelling::new("isdistinct", Compare(C::IsDistinct), "IS DISTINCT FROM"),
        Spelling::new("fts", Fts(FtsOp::Fts), "to_tsquery"),
        Spelling::new("plfts", Fts(FtsOp::Plain), "plainto_tsquery"),
        Spelling::new("phfts", Fts(FtsOp::Phrase), "phraseto_tsquery"),
        Spelling::new("wfts", Fts(FtsOp::Websearch), "websearch_to_tsquery"),
        Spelling::new("cs", Compare(C::Contains), "@>"),
        Spelling::new("cd", Compare(C::Contained), "<@"),
        Spelling::new("ov", Compare(C::Overlaps), "&&"),
        Spelling::new("sl", Compare(C::StrictlyLeft), "<<"),
        Spelling::new("sr", Compare(C::StrictlyRight), ">>"),
        Spelling::new("nxr", Compare(C::NotExtendRight), "&<"),
        Spelling::new("nxl", Compare(C::NotExtendLeft), "&>"),
        Spelling::new("adj", Compare(C::Adjacent), "-|-"),
    ]
};

/// The quantifiers of `op(any)` / `op(all)` and their SQL keywords.
pub(crate) const QUANTIFIERS: &[Spelling<Quantifier>] = &[
    Spelling::new("any", Quantifier::Any, "ANY"),
    Spelling::new("all", Quantifier::All, "ALL"),
];

/// The operands of `is` and the SQL tests they render as.
pub(crate) const IS_VALUES: &[Spelling<IsValue>] = &[
    Spelling::new("null", IsValue::Null, "IS NULL"),
    Spelling::new("not_null", IsValue::NotNull, "IS NOT NULL"),
    Spelling::new("true", IsValue::True, "IS TRUE"),
    Spelling::new("false", IsValue::False, "IS FALSE"),
    Spelling::new("unknown", IsValue::Unknown, "IS UNKNOWN"),
];

/// What a filter tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    /// `field op value`, or `field op ANY|ALL (value)` with a quantifier.
    Compare {
        op: CompareOp,
        quantifier: Option<Quantifier>,
        /// Inline up to 24 bytes: most operands allocate nothing.
        value: CompactString,
    },
    /// `field = ANY (list)`
    In(Vec<CompactString>),
    /// `field IS …`
    Is(IsValue),
    /// `field @@ to_tsquery([language,] value)`
    Fts {
        op: FtsOp,
        language: Option<CompactString>,
        value: CompactString,
    },
}

/// One filter: `[not] field operation`, applied to the resource at `embed_path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Filter {
    pub(crate) embed_path: Vec<CompactString>,
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
fn parse_key(key: &str) -> Result<(Vec<CompactString>, Field), ParseError> {
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
        if b"():.,>\"".contains(&b) || (b == b'-' && !dash_continues) {
            break;
        }
        end += 1;
    }
    let step = &rest[..end];
    if step.is_empty() {
        // PostgREST's words.
        return Err(cur.error("\"-\", digit or any non reserved character different from: .,>()"));
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
    Ok(JsonStep::Key(step.into()))
}

/// The length of the longest prefix `input` shares with one of `candidates`.
fn longest_prefix<'c>(
    input: &str,
    candidates: impl IntoIterator<Item = &'c str>,
    ignore_case: bool,
) -> usize {
    candidates
        .into_iter()
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
fn operand(cur: &mut Cursor<'_>, in_tree: bool) -> Result<CompactString, ParseError> {
    if !in_tree {
        return Ok(cur.take_rest().into());
    }
    match cur.peek() {
        Some(b'"') => cur.quoted(),
        Some(b'{') => {
            let rest = cur.rest();
            let Some(end) = rest.find('}') else {
                return Err(cur.error("\"}\" closing the array literal"));
            };
            let value = rest[..=end].into();
            for _ in 0..=end {
                cur.bump();
            }
            Ok(value)
        }
        _ => {
            let rest = cur.rest();
            let end = rest.find([',', ')']).unwrap_or(rest.len());
            // Spaces before the `,` or `)` that ends it are layout, as PostgREST reads them.
            let value = rest[..end].trim_end().into();
            for _ in 0..end {
                cur.bump();
            }
            Ok(value)
        }
    }
}

/// `operation = operator ["(" modifier ")"] "." operand`
fn operation(cur: &mut Cursor<'_>, in_tree: bool) -> Result<Operation, ParseError> {
    match operator(cur)? {
        Operator::Compare(op) => compare(cur, op, in_tree),
        Operator::Fts(op) => fts(cur, op, in_tree),
        Operator::In => {
            cur.expect(".")?;
            in_list(cur, in_tree).map(Operation::In)
        }
        Operator::Is => {
            cur.expect(".")?;
            is_value(cur, in_tree).map(Operation::Is)
        }
    }
}

/// `operator = 1*( %x61-7A )`, one of [`OPERATORS`]; consumed only when it is one.
fn operator(cur: &mut Cursor<'_>) -> Result<Operator, ParseError> {
    let start = cur.rest();
    let len = start.bytes().take_while(u8::is_ascii_lowercase).count();
    let Some(row) = Spelling::named(OPERATORS, &start[..len]) else {
        return Err(unknown_operator(cur));
    };
    for _ in 0..len {
        cur.bump();
    }
    Ok(row.parses_to)
}

/// The error for a word that is no operator. PostgREST's parser tries "not."
/// and each operator: it reports the character where the longest attempt failed.
fn unknown_operator(cur: &Cursor<'_>) -> ParseError {
    let start = cur.rest();
    let negatable = cur.offset() == 0;
    let op_len = longest_prefix(start, OPERATORS.iter().map(|row| row.name), false);
    let not_len = if negatable {
        longest_prefix(start, ["not."], false)
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
    err
}

/// After a comparison operator: `["(" quantifier ")"] "." operand`, with
/// `like`/`ilike`'s `*` wildcards turned into `%`.
fn compare(cur: &mut Cursor<'_>, op: CompareOp, in_tree: bool) -> Result<Operation, ParseError> {
    let mut quantifier = None;
    if op.quantifiable() && cur.peek() == Some(b'(') {
        quantifier = Some(parenthesized_quantifier(cur)?);
    }
    cur.expect(".")?;
    let mut value = operand(cur, in_tree)?;
    if matches!(op, CompareOp::Like | CompareOp::Ilike) {
        value = value.replace('*', "%").into();
    }
    Ok(Operation::Compare {
        op,
        quantifier,
        value,
    })
}

/// `"(" quantifier ")"`, one of [`QUANTIFIERS`]; consumed only when it is one.
fn parenthesized_quantifier(cur: &mut Cursor<'_>) -> Result<Quantifier, ParseError> {
    let rest = cur.rest();
    let inner = rest.strip_prefix('(').unwrap_or("");
    let found = QUANTIFIERS.iter().find(|row| {
        inner
            .strip_prefix(row.name)
            .is_some_and(|after| after.starts_with(')'))
    });
    let Some(row) = found else {
        return Err(cur.error("\"(any)\" or \"(all)\""));
    };
    for _ in 0..row.name.len() + 2 {
        cur.bump();
    }
    Ok(row.parses_to)
}

/// After a full-text search operator: `["(" language ")"] "." operand`.
fn fts(cur: &mut Cursor<'_>, op: FtsOp, in_tree: bool) -> Result<Operation, ParseError> {
    let mut language = None;
    if cur.eat("(") {
        let rest = cur.rest();
        let Some(close) = rest.find(')') else {
            return Err(cur.error("a language and \")\""));
        };
        if close == 0 {
            return Err(cur.error("a language"));
        }
        language = Some(rest[..close].into());
        for _ in 0..=close {
            cur.bump();
        }
    }
    cur.expect(".")?;
    Ok(Operation::Fts {
        op,
        language,
        value: operand(cur, in_tree)?,
    })
}

/// The operand of `is`: one of [`IS_VALUES`], in any case.
fn is_value(cur: &mut Cursor<'_>, in_tree: bool) -> Result<IsValue, ParseError> {
    let operand = operand(cur, in_tree)?;
    let operand = operand.as_str();
    if let Some(row) = IS_VALUES
        .iter()
        .find(|row| row.name.eq_ignore_ascii_case(operand))
    {
        return Ok(row.parses_to);
    }
    let mut err = cur.error("isVal: (null, not_null, true, false, unknown)");
    let start = err.offset.saturating_sub(operand.len());
    let matched = longest_prefix(operand, IS_VALUES.iter().map(|row| row.name), true);
    err.offset = start + matched;
    err.found = start + matched;
    Err(err)
}

/// `in-list = "(" item *( "," item ) ")"`, `item = quoted / *( any char but "," and ")" )`
///
/// As in PostgREST, spaces next to the parentheses are trimmed and spaces inside
/// unquoted items kept; a quoted item not followed by `,` or `)` is taken raw.
fn in_list(cur: &mut Cursor<'_>, in_tree: bool) -> Result<Vec<CompactString>, ParseError> {
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
        let (item, len) = quoted.unwrap_or_else(|| (rest[..raw_end].into(), raw_end));
        for _ in 0..len {
            cur.bump();
        }
        match cur.peek() {
            Some(b',') => {
                items.push(item);
                cur.bump();
            }
            Some(b')') => {
                items.push(item.trim_end_matches(' ').into());
                cur.bump();
                return end_of_list(cur, items, in_tree);
            }
            _ => return Err(cur.error("\",\" or \")\"")),
        }
    }
}

fn end_of_list(
    cur: &mut Cursor<'_>,
    items: Vec<CompactString>,
    in_tree: bool,
) -> Result<Vec<CompactString>, ParseError> {
    if in_tree {
        cur.skip_spaces();
    }
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

    /// Every comparison operator; the match fails to compile when one is added.
    fn all_compare_ops() -> [CompareOp; 19] {
        use CompareOp::*;
        let all = [
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
        ];
        match all[0] {
            Eq | Neq | Gt | Gte | Lt | Lte | Like | Ilike | Match | Imatch | IsDistinct
            | Contains | Contained | Overlaps | StrictlyLeft | StrictlyRight | NotExtendRight
            | NotExtendLeft | Adjacent => all,
        }
    }

    /// Every other value the operator table holds, checked exhaustively the same way.
    fn all_other_operators() -> Vec<Operator> {
        let fts = [FtsOp::Fts, FtsOp::Plain, FtsOp::Phrase, FtsOp::Websearch];
        match fts[0] {
            FtsOp::Fts | FtsOp::Plain | FtsOp::Phrase | FtsOp::Websearch => {}
        }
        let mut all = vec![Operator::In, Operator::Is];
        all.extend(fts.map(Operator::Fts));
        all
    }

    #[test]
    fn operator_table_has_each_operator_once() {
        let mut expected: Vec<Operator> = all_compare_ops()
            .into_iter()
            .map(Operator::Compare)
            .collect();
        expected.extend(all_other_operators());
        assert_eq!(OPERATORS.len(), expected.len());
        for want in expected {
            let rows = OPERATORS.iter().filter(|r| r.parses_to == want).count();
            assert_eq!(rows, 1, "{want:?}");
        }
        for (i, row) in OPERATORS.iter().enumerate() {
            assert!(
                OPERATORS[..i].iter().all(|other| other.name != row.name),
                "{} twice",
                row.name
            );
            let has_sql = matches!(row.parses_to, Operator::Compare(_) | Operator::Fts(_));
            assert_eq!(!row.sql.is_empty(), has_sql, "{}", row.name);
        }
    }

    #[test]
    fn every_operator_name_parses_to_its_row() {
        for row in OPERATORS {
            let operand = match row.parses_to {
                Operator::In => "(x)",
                Operator::Is => "null",
                _ => "x",
            };
            let parsed = op(&format!("{}.{operand}", row.name));
            let got = match parsed {
                Operation::Compare { op, .. } => Operator::Compare(op),
                Operation::Fts { op, .. } => Operator::Fts(op),
                Operation::In(_) => Operator::In,
                Operation::Is(_) => Operator::Is,
            };
            assert_eq!(got, row.parses_to, "{}", row.name);
        }
        for op in all_compare_ops() {
            assert!(!op.as_sql().is_empty() && !op.name().is_empty(), "{op:?}");
        }
    }

    #[test]
    fn quantifier_and_is_tables_are_complete() {
        for q in [Quantifier::Any, Quantifier::All] {
            match q {
                Quantifier::Any | Quantifier::All => {}
            }
            let rows = QUANTIFIERS.iter().filter(|r| r.parses_to == q).count();
            assert_eq!(rows, 1, "{q:?}");
            let parsed = op(&format!("eq({}).{{1}}", q.name()));
            assert!(
                matches!(parsed, Operation::Compare { quantifier: Some(got), .. } if got == q),
                "{q:?}"
            );
        }
        assert_eq!(QUANTIFIERS.len(), 2);
        let values = [
            IsValue::Null,
            IsValue::NotNull,
            IsValue::True,
            IsValue::False,
            IsValue::Unknown,
        ];
        for v in values {
            match v {
                IsValue::Null
                | IsValue::NotNull
                | IsValue::True
                | IsValue::False
                | IsValue::Unknown => {}
            }
            let rows = IS_VALUES.iter().filter(|r| r.parses_to == v).count();
            assert_eq!(rows, 1, "{v:?}");
            assert_eq!(op(&format!("is.{}", v.name())), Operation::Is(v));
            let upper = v.name().to_ascii_uppercase();
            assert_eq!(op(&format!("is.{upper}")), Operation::Is(v));
            assert!(v.as_sql().starts_with("IS "), "{v:?}");
        }
        assert_eq!(IS_VALUES.len(), values.len());
    }

    #[test]
    fn unknown_operator_points_at_the_longest_attempt() {
        // "eqq": "eq" matched two characters; "nox": "no" of "not." matched.
        let e = parse_filter("c", "eqq.1").unwrap_err();
        assert_eq!((e.offset, e.found), (2, 2));
        let e = parse_filter("c", "nox.1").unwrap_err();
        assert_eq!((e.offset, e.found), (0, 2));
        assert!(e.expected.contains("not"));
        let e = parse_filter("c", "eq(some).{1}").unwrap_err();
        assert_eq!(e.offset, 2);
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
