//! Logic trees: `or=(a.eq.1,and(b.gt.2,not.or(c.is.null,d.in.(1,2))))`.

use super::ParseError;
use super::cursor::{Cursor, MAX_NESTING, Spelling};
use super::filter::{Filter, tree_filter};

/// How the children of a group combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BoolOp {
    And,
    Or,
}

impl BoolOp {
    /// The SQL between two children, spaces included.
    pub(crate) fn as_sql(self) -> &'static str {
        Spelling::sql_of(BOOL_OPS, self)
    }

    /// The name the grammar gives it.
    pub(crate) fn name(self) -> &'static str {
        Spelling::name_of(BOOL_OPS, self)
    }
}

/// The logic operators of a group and the SQL that joins its children.
pub(crate) const BOOL_OPS: &[Spelling<BoolOp>] = &[
    Spelling::new("and", BoolOp::And, " AND "),
    Spelling::new("or", BoolOp::Or, " OR "),
];

/// A condition: a filter, or a (possibly negated) group of conditions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Condition {
    Filter(Filter),
    Group {
        negated: bool,
        op: BoolOp,
        children: Vec<Condition>,
    },
}

impl Condition {
    /// How many filters it holds, counting every one inside a group.
    pub(crate) fn filters(&self) -> usize {
        match self {
            Self::Filter(_) => 1,
            Self::Group { children, .. } => children.iter().map(Self::filters).sum(),
        }
    }
}

/// Parses the value of an `or`/`and`/`not.or`/`not.and` parameter into one group.
pub(crate) fn parse_logic(negated: bool, op: BoolOp, value: &str) -> Result<Condition, ParseError> {
    let mut cur = Cursor::new(value, "logic tree");
    let result = group_body(&mut cur, 1).and_then(|children| {
        if cur.at_end() {
            Ok(children)
        } else {
            Err(cur.error("end of input after \")\""))
        }
    });
    match result {
        Ok(children) => Ok(Condition::Group {
            negated,
            op,
            children,
        }),
        // PostgREST parses `or(…)`: its columns count the operator's letters.
        Err(mut e) => {
            let shift = op.name().len() + if negated { 4 } else { 0 };
            e.offset += shift;
            Err(e)
        }
    }
}

/// `group-body = "(" condition *( "," condition ) ")"`
fn group_body(cur: &mut Cursor<'_>, depth: usize) -> Result<Vec<Condition>, ParseError> {
    if depth > MAX_NESTING {
        return Err(cur.error(format!("at most {MAX_NESTING} levels of nested logic")));
    }
    cur.expect("(")?;
    let mut children = vec![condition(cur, depth)?];
    loop {
        // Spaces around `,` and `)` are layout (PostgREST accepts them).
        cur.skip_spaces();
        match cur.peek() {
            Some(b',') => {
                cur.bump();
                children.push(condition(cur, depth)?);
            }
            Some(b')') => {
                cur.bump();
                return Ok(children);
            }
            _ => return Err(cur.error("\",\" or \")\"")),
        }
    }
}

/// `condition = ["not."] ("and" / "or") group-body / filter`
fn condition(cur: &mut Cursor<'_>, depth: usize) -> Result<Condition, ParseError> {
    cur.skip_spaces();
    if matches!(cur.peek(), None | Some(b')' | b',')) {
        return Err(cur.error(
            "field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or)",
        ));
    }
    let rest = cur.rest();
    let (negated, after_not) = match rest.strip_prefix("not.") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let group = BOOL_OPS.iter().find(|row| {
        after_not
            .strip_prefix(row.name)
            .is_some_and(|r| r.trim_start_matches(' ').starts_with('('))
    });
    if let Some(row) = group {
        if negated {
            cur.expect("not.")?;
        }
        cur.expect(row.name)?;
        cur.skip_spaces();
        let children = group_body(cur, depth + 1)?;
        return Ok(Condition::Group {
            negated,
            op: row.parses_to,
            children,
        });
    }
    tree_filter(cur).map(Condition::Filter)
}

#[cfg(test)]
mod tests {
    use super::super::filter::{CompareOp, Operation};
    use super::*;

    fn leaf(c: &Condition) -> &Filter {
        match c {
            Condition::Filter(f) => f,
            other => panic!("not a filter: {other:?}"),
        }
    }

    #[test]
    fn nested_groups() {
        let c = parse_logic(
            false,
            BoolOp::Or,
            "(a.eq.1,and(b.gt.2,not.or(c.is.null,d.in.(1,\"2,3\"))),e.not.like.*x*)",
        )
        .unwrap();
        let Condition::Group { op, children, .. } = &c else {
            panic!()
        };
        assert_eq!(*op, BoolOp::Or);
        assert_eq!(children.len(), 3);
        assert_eq!(leaf(&children[0]).field.name, "a");
        let Condition::Group {
            op,
            children: inner,
            ..
        } = &children[1]
        else {
            panic!()
        };
        assert_eq!(*op, BoolOp::And);
        let Condition::Group {
            negated: true,
            op: BoolOp::Or,
            children: deepest,
        } = &inner[1]
        else {
            panic!("{:?}", inner[1])
        };
        assert_eq!(
            leaf(&deepest[1]).operation,
            Operation::In(vec!["1".into(), "2,3".into()])
        );
        assert!(leaf(&children[2]).negated);
    }

    #[test]
    fn quoted_values_and_array_literals() {
        let c = parse_logic(
            false,
            BoolOp::And,
            "(name.eq.\"a,b (c)\",tags.cs.{x,y},data->>k.eq.v)",
        )
        .unwrap();
        let Condition::Group { children, .. } = &c else {
            panic!()
        };
        let value = |i: usize| match &leaf(&children[i]).operation {
            Operation::Compare { value, .. } => value.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(value(0), "a,b (c)");
        assert_eq!(value(1), "{x,y}");
        assert_eq!(value(2), "v");
        assert!(matches!(
            leaf(&children[1]).operation,
            Operation::Compare {
                op: CompareOp::Contains,
                ..
            }
        ));
        assert_eq!(leaf(&children[2]).field.json_path.len(), 1);
    }

    #[test]
    fn every_bool_op_name_parses_to_its_row() {
        for op in [BoolOp::And, BoolOp::Or] {
            match op {
                BoolOp::And | BoolOp::Or => {}
            }
            assert_eq!(BOOL_OPS.iter().filter(|r| r.parses_to == op).count(), 1);
            let c = parse_logic(false, BoolOp::Or, &format!("(not.{}(a.eq.1))", op.name()));
            let Ok(Condition::Group { children, .. }) = c else {
                panic!("{op:?}: {c:?}")
            };
            assert!(
                matches!(&children[0], Condition::Group { negated: true, op: got, .. } if *got == op)
            );
            assert_eq!(op.as_sql().trim(), op.name().to_ascii_uppercase());
        }
        assert_eq!(BOOL_OPS.len(), 2);
    }

    #[test]
    fn error_offsets_count_the_operator_name() {
        // PostgREST reports columns of `or(…)` / `not.and(…)`.
        let e = parse_logic(false, BoolOp::Or, "(a.eq.1").unwrap_err();
        assert_eq!(e.offset, 7 + 2);
        let e = parse_logic(true, BoolOp::And, "(a.eq.1").unwrap_err();
        assert_eq!(e.offset, 7 + 3 + 4);
    }

    #[test]
    fn spaces_around_the_parts_are_layout() {
        let c = parse_logic(
            false,
            BoolOp::And,
            "( and ( id.in.(1,2,3) , id.eq.3 ) , or ( id.eq.2 , id.eq.3 ) )",
        )
        .unwrap();
        let Condition::Group { children, .. } = c else {
            panic!("a group")
        };
        assert_eq!(children.len(), 2);
        let Condition::Group {
            children: first, ..
        } = &children[0]
        else {
            panic!("a nested group")
        };
        assert_eq!(first.len(), 2);
    }

    #[test]
    fn malformed() {
        for bad in [
            "",
            "()",
            "(a.eq.1",
            "a.eq.1",
            "(a.eq.1))",
            "(a.eqq.1)",
            "(and())",
            "(a)",
            "(a.eq.1,)",
        ] {
            assert!(parse_logic(false, BoolOp::Or, bad).is_err(), "{bad}");
        }
        let deep = "(".to_owned() + &"and(".repeat(40) + "a.eq.1" + &")".repeat(41);
        assert!(parse_logic(false, BoolOp::Or, &deep).is_err());
        let ok = "(".to_owned() + &"and(".repeat(10) + "a.eq.1" + &")".repeat(11);
        assert!(parse_logic(false, BoolOp::Or, &ok).is_ok());
    }
}
