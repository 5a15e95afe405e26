//! The `order` parameter.

use compact_str::CompactString;

use super::cursor::{Cursor, Spelling};
use super::filter::json_path;
use super::{Field, ParseError};

/// Sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Asc,
    Desc,
}

impl Direction {
    /// The SQL keyword.
    pub(crate) fn as_sql(self) -> &'static str {
        Spelling::sql_of(DIRECTIONS, self)
    }

    /// The name the grammar gives it.
    #[cfg(test)]
    pub(crate) fn name(self) -> &'static str {
        Spelling::name_of(DIRECTIONS, self)
    }
}

/// The sort directions of an order term and their SQL keywords.
pub(crate) const DIRECTIONS: &[Spelling<Direction>] = &[
    Spelling::new("asc", Direction::Asc, "ASC"),
    Spelling::new("desc", Direction::Desc, "DESC"),
];

/// Where NULLs sort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Nulls {
    First,
    Last,
}

impl Nulls {
    /// The SQL clause.
    pub(crate) fn as_sql(self) -> &'static str {
        Spelling::sql_of(NULLS_ORDERS, self)
    }

    /// The name the grammar gives it.
    #[cfg(test)]
    pub(crate) fn name(self) -> &'static str {
        Spelling::name_of(NULLS_ORDERS, self)
    }
}

/// Where an order term puts NULLs, and the SQL clauses.
pub(crate) const NULLS_ORDERS: &[Spelling<Nulls>] = &[
    Spelling::new("nullsfirst", Nulls::First, "NULLS FIRST"),
    Spelling::new("nullslast", Nulls::Last, "NULLS LAST"),
];

/// One term of `order`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OrderTerm {
    /// `rel(col)`: a column of a to-one embedded resource.
    pub(crate) relation: Option<CompactString>,
    pub(crate) field: Field,
    pub(crate) direction: Option<Direction>,
    pub(crate) nulls: Option<Nulls>,
}

/// `order = order-term *( "," order-term )`
pub(crate) fn parse_order(input: &str) -> Result<Vec<OrderTerm>, ParseError> {
    let mut cur = Cursor::new(input, "order");
    let mut terms = vec![order_term(&mut cur)?];
    while cur.eat(",") {
        terms.push(order_term(&mut cur)?);
    }
    if !cur.at_end() {
        return Err(cur.error("\",\" or end of input"));
    }
    Ok(terms)
}

/// `order-term = ( field / name "(" field ")" ) [ "." ("asc" / "desc") ] [ "." ("nullsfirst" / "nullslast") ]`
fn order_term(cur: &mut Cursor<'_>) -> Result<OrderTerm, ParseError> {
    let mut name = cur.name()?;
    let mut relation = None;
    if cur.eat("(") {
        relation = Some(name);
        name = cur.name()?;
    }
    let field = Field {
        name,
        json_path: json_path(cur)?,
    };
    if relation.is_some() {
        cur.expect(")")?;
    }
    let mut term = OrderTerm {
        relation,
        field,
        direction: None,
        nulls: None,
    };
    while cur.eat(".") {
        let word_len = cur
            .rest()
            .bytes()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        let word = &cur.rest()[..word_len];
        let direction = Spelling::named(DIRECTIONS, word);
        let nulls = Spelling::named(NULLS_ORDERS, word);
        match (direction, nulls) {
            (Some(d), _) if term.direction.is_none() && term.nulls.is_none() => {
                term.direction = Some(d.parses_to);
            }
            (_, Some(n)) if term.nulls.is_none() => term.nulls = Some(n.parses_to),
            _ => return Err(cur.error("\"asc\", \"desc\", \"nullsfirst\" or \"nullslast\"")),
        }
        for _ in 0..word_len {
            cur.bump();
        }
        if !matches!(cur.peek(), None | Some(b',' | b'.')) {
            return Err(cur.error("\",\" or end of input"));
        }
    }
    Ok(term)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms() {
        let t = parse_order("a.desc.nullslast,b,c.nullsfirst,data->>x.asc").unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t[0].direction, Some(Direction::Desc));
        assert_eq!(t[0].nulls, Some(Nulls::Last));
        assert_eq!((t[1].direction, t[1].nulls), (None, None));
        assert_eq!((t[2].direction, t[2].nulls), (None, Some(Nulls::First)));
        assert_eq!(t[3].field.name, "data");
        assert_eq!(t[3].direction, Some(Direction::Asc));
        let t = parse_order("author(name).desc,id").unwrap();
        assert_eq!(t[0].relation.as_deref(), Some("author"));
        assert_eq!(t[0].field.name, "name");
        assert_eq!(t[1].relation, None);
    }

    #[test]
    fn every_direction_and_nulls_name_parses_to_its_row() {
        for d in [Direction::Asc, Direction::Desc] {
            match d {
                Direction::Asc | Direction::Desc => {}
            }
            assert_eq!(DIRECTIONS.iter().filter(|r| r.parses_to == d).count(), 1);
            let t = parse_order(&format!("a.{}", d.name())).unwrap();
            assert_eq!((t[0].direction, t[0].nulls), (Some(d), None));
            assert!(!d.as_sql().is_empty());
        }
        for n in [Nulls::First, Nulls::Last] {
            match n {
                Nulls::First | Nulls::Last => {}
            }
            assert_eq!(NULLS_ORDERS.iter().filter(|r| r.parses_to == n).count(), 1);
            let t = parse_order(&format!("a.desc.{}", n.name())).unwrap();
            assert_eq!(
                (t[0].direction, t[0].nulls),
                (Some(Direction::Desc), Some(n))
            );
            assert!(n.as_sql().starts_with("NULLS "));
        }
        assert_eq!((DIRECTIONS.len(), NULLS_ORDERS.len()), (2, 2));
    }

    #[test]
    fn malformed() {
        for bad in [
            "",
            "id.ac",
            "id.descc",
            "id.asc.nullslasttt",
            "id.asc.desc",
            "id.nullsfirst.asc",
            "id,",
            "id::text",
            "rel(col",
            "rel()",
        ] {
            assert!(parse_order(bad).is_err(), "{bad}");
        }
    }
}
