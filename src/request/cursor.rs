//! A byte cursor for the hand-written recursive-descent parsers of the query grammar.

use std::borrow::Cow;

use compact_str::CompactString;

use super::ParseError;

/// The deepest `select` embedding and `or`/`and` nesting the parser accepts;
/// deeper input is refused with a parse error instead of recursing further.
pub(crate) const MAX_NESTING: usize = 32;

/// One row of a grammar table: a word as the grammar spells it, what it parses
/// to, and the SQL text it renders as.
#[derive(Debug)]
pub(crate) struct Spelling<T: 'static> {
    /// How the grammar writes it (`eq`, `asc`, `null`, …).
    pub(crate) name: &'static str,
    /// What it parses to.
    pub(crate) parses_to: T,
    /// The SQL it renders as; empty where the renderer writes the SQL itself.
    pub(crate) sql: &'static str,
}

impl<T: Copy + PartialEq> Spelling<T> {
    /// A row: `name` parses to `parses_to` and renders as `sql`.
    pub(crate) const fn new(name: &'static str, parses_to: T, sql: &'static str) -> Self {
        Self {
            name,
            parses_to,
            sql,
        }
    }

    /// The row of `table` spelled exactly `name`.
    pub(crate) fn named(table: &'static [Self], name: &str) -> Option<&'static Self> {
        table.iter().find(|row| row.name == name)
    }

    /// The row of `table` that parses to `value`.
    pub(crate) fn of(table: &'static [Self], value: T) -> Option<&'static Self> {
        table.iter().find(|row| row.parses_to == value)
    }

    /// The name `value` has in `table` (empty if it has none; the tables' tests
    /// check that every value has one).
    pub(crate) fn name_of(table: &'static [Self], value: T) -> &'static str {
        Self::of(table, value).map_or("", |row| row.name)
    }

    /// The SQL `value` renders as in `table` (empty if it has no row; the tables'
    /// tests check that every value has one).
    pub(crate) fn sql_of(table: &'static [Self], value: T) -> &'static str {
        Self::of(table, value).map_or("", |row| row.sql)
    }
}

/// Characters that end an unquoted name: PostgREST's reserved characters plus
/// the ones that introduce an operator, alias, cast, hint or JSON path.
const NAME_END: &[u8] = b",.:()!>\"";

#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    input: &'a str,
    pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    /// A cursor over `input`, which is the value of the parameter `what` (for error messages).
    pub(crate) fn new(input: &'a str, what: &'static str) -> Self {
        Self {
            input,
            pos: 0,
            what,
        }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.input.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn peek_at(&self, n: usize) -> Option<u8> {
        self.input.as_bytes().get(self.pos + n).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    pub(crate) fn rest(&self) -> &'a str {
        &self.input[self.pos..]
    }

    pub(crate) fn take_rest(&mut self) -> &'a str {
        let rest = self.rest();
        self.pos = self.input.len();
        rest
    }

    pub(crate) fn bump(&mut self) {
        self.pos += 1;
    }

    /// Consumes `s` if the input continues with it.
    pub(crate) fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    pub(crate) fn expect(&mut self, s: &'static str) -> Result<(), ParseError> {
        if self.eat(s) {
            Ok(())
        } else {
            Err(self.error(Cow::Owned(format!("\"{s}\""))))
        }
    }

    pub(crate) fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    /// An error at the current position: `expected` says what would have been valid.
    pub(crate) fn error(&self, expected: impl Into<Cow<'static, str>>) -> ParseError {
        ParseError {
            what: self.what,
            input: self.input.to_owned(),
            offset: self.pos,
            found: self.pos,
            expected: expected.into(),
        }
    }

    /// The current position.
    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    /// `name = quoted / ident *( "-" ident )`, where `ident` is a run of
    /// characters other than the reserved ones, and a `-` that starts `->` ends the name.
    ///
    /// Surrounding spaces are trimmed from unquoted names.
    pub(crate) fn name(&mut self) -> Result<CompactString, ParseError> {
        self.skip_spaces();
        if self.peek() == Some(b'"') {
            let name = self.quoted()?;
            if name.is_empty() {
                return Err(self.error("a non-empty name"));
            }
            return Ok(name);
        }
        let start = self.pos;
        while let Some(b) = self.peek() {
            if NAME_END.contains(&b) || (b == b'-' && self.peek_at(1) == Some(b'>')) {
                break;
            }
            self.pos += 1;
        }
        let name = self.input[start..self.pos].trim();
        if name.is_empty() {
            self.pos = start;
            // PostgREST's words.
            return Err(self.error("field name (* or [a..z0..9_$])"));
        }
        Ok(name.into())
    }

    /// `quoted = DQUOTE *( any char but DQUOTE and "\" / "\" any char ) DQUOTE`
    pub(crate) fn quoted(&mut self) -> Result<CompactString, ParseError> {
        self.expect("\"")?;
        let mut out = CompactString::default();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, c)) => out.push(c),
                    None => break,
                },
                c => out.push(c),
            }
        }
        self.pos = self.input.len();
        Err(self.error("a closing double quote"))
    }
}
