//! Vertical filtering: the `select` parameter.

use compact_str::CompactString;
use smallvec::{SmallVec, smallvec};

use super::cursor::{Cursor, MAX_NESTING, Spelling};
use super::filter::json_path;
use super::{Field, ParseError};

/// An aggregate function applied to a selected column (`col.sum()`) or to all rows (`count()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Aggregate {
    Sum,
    Avg,
    Max,
    Min,
    Count,
}

impl Aggregate {
    /// The name the grammar gives it (called with `()`): also its SQL
    /// function's, and the key of its result when it has no alias.
    pub(crate) fn name(self) -> &'static str {
        Spelling::name_of(AGGREGATES, self)
    }
}

/// The aggregate functions of `select`, called as `col.name()`; the planner
/// refuses them unless aggregates are enabled.
pub(crate) const AGGREGATES: &[Spelling<Aggregate>] = &[
    Spelling::new("sum", Aggregate::Sum, ""),
    Spelling::new("avg", Aggregate::Avg, ""),
    Spelling::new("max", Aggregate::Max, ""),
    Spelling::new("min", Aggregate::Min, ""),
    Spelling::new("count", Aggregate::Count, ""),
];

/// One item of `select`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SelectItem {
    /// `*`
    Star,
    /// `[alias:] field [::cast] [.agg() [::cast]]`, or `[alias:] count() [::cast]` with no field.
    Column {
        alias: Option<CompactString>,
        field: Option<Field>,
        cast: Option<CompactString>,
        aggregate: Option<(Aggregate, Option<CompactString>)>,
    },
    /// `[alias:] relation [!hint] [!inner|!left] "(" select ")"`, or a spread `...relation(...)`.
    Embed {
        alias: Option<CompactString>,
        relation: CompactString,
        hints: Vec<CompactString>,
        spread: bool,
        select: Vec<SelectItem>,
    },
}

/// A request's select list: one item is kept inline (`*`, the default).
pub(crate) type SelectList = SmallVec<[SelectItem; 1]>;

/// `select = [ item *( "," item ) ]`; an empty select means `*`.
pub(crate) fn parse_select(input: &str) -> Result<SelectList, ParseError> {
    let mut cur = Cursor::new(input, "select parameter");
    cur.skip_spaces();
    if cur.at_end() {
        return Ok(smallvec![SelectItem::Star]);
    }
    let items = items(&mut cur, 0)?;
    if !cur.at_end() {
        return Err(cur.error("\",\" or end of input"));
    }
    Ok(items)
}

/// The items of a list: the request's ([`SelectList`]) or an embed's (a `Vec`).
fn items<L: Default + Extend<SelectItem>>(
    cur: &mut Cursor<'_>,
    depth: usize,
) -> Result<L, ParseError> {
    let mut out = L::default();
    out.extend([item(cur, depth)?]);
    while cur.eat(",") {
        out.extend([item(cur, depth)?]);
    }
    Ok(out)
}

/// `item = "*" / "..." embed / [alias ":"] (embed / column / "count()")`
fn item(cur: &mut Cursor<'_>, depth: usize) -> Result<SelectItem, ParseError> {
    cur.skip_spaces();
    if cur.eat("*") {
        cur.skip_spaces();
        return Ok(SelectItem::Star);
    }
    if cur.eat("...") {
        let relation = cur.name()?;
        return embed(cur, None, relation, true, depth);
    }
    if cur.eat("count()") {
        return column(cur, None, None, Some(Aggregate::Count));
    }
    let mut name = cur.name()?;
    let mut alias = None;
    if cur.peek() == Some(b':') && cur.peek_at(1) != Some(b':') {
        cur.bump();
        alias = Some(name);
        cur.skip_spaces();
        if cur.eat("count()") {
            return column(cur, alias, None, Some(Aggregate::Count));
        }
        name = cur.name()?;
    }
    if matches!(cur.peek(), Some(b'(' | b'!')) {
        return embed(cur, alias, name, false, depth);
    }
    let json_path = json_path(cur)?;
    column(cur, alias, Some(Field { name, json_path }), None)
}

/// The tail of a column: `["::" cast] ["." agg "()" ["::" cast]]`.
fn column(
    cur: &mut Cursor<'_>,
    alias: Option<CompactString>,
    field: Option<Field>,
    count_all: Option<Aggregate>,
) -> Result<SelectItem, ParseError> {
    let mut cast_to = cast(cur)?;
    let mut aggregate = None;
    if let Some(agg) = count_all {
        aggregate = Some((agg, cast_to.take()));
    } else if cur.eat(".") {
        let agg = aggregate_call(cur)?;
        aggregate = Some((agg, cast(cur)?));
    }
    cur.skip_spaces();
    Ok(SelectItem::Column {
        alias,
        field,
        cast: cast_to,
        aggregate,
    })
}

/// `aggregate-call = name "()"`, one of [`AGGREGATES`]; consumed only when it is one.
fn aggregate_call(cur: &mut Cursor<'_>) -> Result<Aggregate, ParseError> {
    let rest = cur.rest();
    let found = AGGREGATES.iter().find(|row| {
        rest.strip_prefix(row.name)
            .is_some_and(|after| after.starts_with("()"))
    });
    let Some(row) = found else {
        return Err(cur.error("an aggregate (sum(), avg(), max(), min(), count())"));
    };
    for _ in 0..row.name.len() + 2 {
        cur.bump();
    }
    Ok(row.parses_to)
}

/// `cast = "::" 1*( ALPHA / DIGIT / "_" / "$" / " " )`
fn cast(cur: &mut Cursor<'_>) -> Result<Option<CompactString>, ParseError> {
    if !cur.eat("::") {
        return Ok(None);
    }
    let rest = cur.rest();
    let len = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$' || c == ' '))
        .unwrap_or(rest.len());
    let ty = rest[..len].trim();
    if ty.is_empty() {
        return Err(cur.error("a type name"));
    }
    let ty = ty.into();
    for _ in 0..len {
        cur.bump();
    }
    Ok(Some(ty))
}

/// `embed = *( "!" hint ) "(" [ select ] ")"`
fn embed(
    cur: &mut Cursor<'_>,
    alias: Option<CompactString>,
    relation: CompactString,
    spread: bool,
    depth: usize,
) -> Result<SelectItem, ParseError> {
    if depth >= MAX_NESTING {
        return Err(cur.error(format!("at most {MAX_NESTING} levels of embedding")));
    }
    let mut hints = Vec::new();
    while cur.eat("!") {
        hints.push(cur.name()?);
    }
    cur.expect("(")?;
    cur.skip_spaces();
    let select = if cur.peek() == Some(b')') {
        Vec::new()
    } else {
        items(cur, depth + 1)?
    };
    cur.expect(")")?;
    cur.skip_spaces();
    Ok(SelectItem::Embed {
        alias,
        relation,
        hints,
        spread,
        select,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{JsonOp, JsonStep};
    use super::*;

    fn col(name: &str) -> SelectItem {
        SelectItem::Column {
            alias: None,
            field: Some(Field {
                name: name.into(),
                json_path: vec![],
            }),
            cast: None,
            aggregate: None,
        }
    }

    #[test]
    fn columns_aliases_casts() {
        assert_eq!(parse_select("").unwrap().into_vec(), vec![SelectItem::Star]);
        assert_eq!(
            parse_select("id, name ,*").unwrap().into_vec(),
            vec![col("id"), col("name"), SelectItem::Star]
        );
        assert_eq!(
            parse_select("n:name::text").unwrap().into_vec(),
            vec![SelectItem::Column {
                alias: Some("n".into()),
                field: Some(Field {
                    name: "name".into(),
                    json_path: vec![]
                }),
                cast: Some("text".into()),
                aggregate: None
            }]
        );
        assert_eq!(
            parse_select("data->a->>0").unwrap().into_vec(),
            vec![SelectItem::Column {
                alias: None,
                field: Some(Field {
                    name: "data".into(),
                    json_path: vec![
                        (JsonOp::Arrow, JsonStep::Key("a".into())),
                        (JsonOp::DoubleArrow, JsonStep::Index(0))
                    ]
                }),
                cast: None,
                aggregate: None
            }]
        );
        assert_eq!(
            parse_select("\"a,b\"").unwrap().into_vec(),
            vec![col("a,b")]
        );
    }

    #[test]
    fn embeds() {
        let items = parse_select("*,author:authors!fk(name),...tags()").unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(
            items[1],
            SelectItem::Embed {
                alias: Some("author".into()),
                relation: "authors".into(),
                hints: vec!["fk".into()],
                spread: false,
                select: vec![col("name")]
            }
        );
        assert!(
            matches!(&items[2], SelectItem::Embed { spread: true, select, .. } if select.is_empty())
        );
    }

    #[test]
    fn aggregates() {
        let items = parse_select("total:amount.sum()::int,count()").unwrap();
        assert!(matches!(
            &items[0],
            SelectItem::Column { aggregate: Some((Aggregate::Sum, Some(c))), .. } if c == "int"
        ));
        assert!(matches!(
            &items[1],
            SelectItem::Column {
                field: None,
                aggregate: Some((Aggregate::Count, None)),
                ..
            }
        ));
    }

    #[test]
    fn every_aggregate_name_parses_to_its_row() {
        use Aggregate::*;
        for agg in [Sum, Avg, Max, Min, Count] {
            match agg {
                Sum | Avg | Max | Min | Count => {}
            }
            assert_eq!(AGGREGATES.iter().filter(|r| r.parses_to == agg).count(), 1);
            let items = parse_select(&format!("a.{}()", agg.name())).unwrap();
            assert!(
                matches!(&items[0], SelectItem::Column { aggregate: Some((got, None)), .. } if *got == agg)
            );
        }
        assert_eq!(AGGREGATES.len(), 5);
        assert!(parse_select("a.sum").is_err());
        assert!(parse_select("a.summ()").is_err());
    }

    #[test]
    fn malformed() {
        for bad in [
            "id,",
            ",id",
            "a(",
            "a(b",
            "id::",
            "a:",
            "id.nope()",
            "id)",
            "a!(b)",
            "\"unterminated",
            "id::int[]",
        ] {
            assert!(parse_select(bad).is_err(), "{bad}");
        }
        let deep = "a(".repeat(40) + &")".repeat(40);
        assert!(parse_select(&deep).is_err());
    }
}
