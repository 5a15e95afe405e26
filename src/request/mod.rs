//! The PostgREST grammar: method, path, query string and headers → [`ApiRequest`].
//!
//! Pure functions, no I/O and no schema: everything here is testable on its own.

mod batch;
mod body;
mod context;
mod cursor;
mod filter;
mod logic;
mod media;
mod order;
mod prefer;
#[cfg(test)]
mod roundtrip;
mod select;

/// `s` as a quoted name or value of the grammar, for tests that write requests.
#[cfg(test)]
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

use std::borrow::Cow;
use std::fmt;

use compact_str::CompactString;
use http::{HeaderMap, Method};
use smallvec::SmallVec;

pub(crate) use batch::{Operation as BatchOperation, check_batch_media, parse_batch};
pub(crate) use body::{CallBody, Payload, Shape, content_media_type};
pub(crate) use context::headers_json;
pub(crate) use cursor::MAX_NESTING;

pub(crate) use filter::{CompareOp, Filter, IsValue, Operation};
pub(crate) use logic::{BoolOp, Condition};
pub(crate) use media::{Explain, MediaType};
pub(crate) use order::OrderTerm;
pub(crate) use prefer::{Count, Preferences, Resolution, Return, TxEnd, parse_prefer};
pub(crate) use select::{Aggregate, SelectItem};

use crate::error::{Error, ErrorKind, codes};

/// `json-op = "->" / "->>"`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JsonOp {
    /// `->`: the result stays JSON.
    Arrow,
    /// `->>`: the result is text.
    DoubleArrow,
}

/// One step of a JSON path: an object key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum JsonStep {
    Key(CompactString),
    Index(i64),
}

/// A column name with an optional JSON path: `data->a->>b`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    /// Inline up to 24 bytes: most names allocate nothing.
    pub(crate) name: CompactString,
    pub(crate) json_path: Vec<(JsonOp, JsonStep)>,
}

impl Field {
    /// The key this field gets in the output: the last JSON key, or the column name.
    pub(crate) fn output_name(&self) -> &str {
        self.json_path
            .iter()
            .rev()
            .find_map(|(_, step)| match step {
                JsonStep::Key(k) => Some(k.as_str()),
                JsonStep::Index(_) => None,
            })
            .unwrap_or(&self.name)
    }
}

/// What the path names. Names are inline up to 24 bytes, so that most
/// paths allocate nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// `/{relation}`
    Relation(CompactString),
    /// `/rpc/{function}`
    Function(CompactString),
    /// `/`
    Root,
}

/// What a request asks for: the one place an HTTP method gets its meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// GET or HEAD on a relation.
    Read { headers_only: bool },
    /// POST on a relation: insert, or upsert with `Prefer: resolution=…`.
    Insert,
    /// PUT on a relation: insert or replace the one row its key filters name.
    Upsert,
    /// PATCH on a relation.
    Update,
    /// DELETE on a relation.
    Delete,
    /// A function: by GET or HEAD (arguments in the query, read-only), or by POST (a body).
    Call { by_get: bool, headers_only: bool },
    /// GET or HEAD on the root: the OpenAPI description.
    Describe { headers_only: bool },
    /// OPTIONS: the methods a resource allows.
    Options,
}

impl Action {
    /// What `method` means on `target`; 405 for a method the resource does not take.
    pub(crate) fn of(method: &Method, target: &Target) -> Result<Self, Error> {
        let head = method == Method::HEAD;
        let read = head || method == Method::GET;
        Ok(match (target, method) {
            (_, m) if m == Method::OPTIONS => Self::Options,
            (Target::Root, _) if read => Self::Describe { headers_only: head },
            (Target::Function(_), _) if read => Self::Call {
                by_get: true,
                headers_only: head,
            },
            (Target::Function(_), m) if m == Method::POST => Self::Call {
                by_get: false,
                headers_only: false,
            },
            (Target::Function(_), m) if is_standard(m) => {
                return Err(Error::pgrst(
                    codes::PGRST101,
                    format!("Cannot use the {m} method on RPC"),
                ));
            }
            (Target::Relation(_), _) if read => Self::Read { headers_only: head },
            (Target::Relation(_), m) if m == Method::POST => Self::Insert,
            (Target::Relation(_), m) if m == Method::PUT => Self::Upsert,
            (Target::Relation(_), m) if m == Method::PATCH => Self::Update,
            (Target::Relation(_), m) if m == Method::DELETE => Self::Delete,
            (_, m) => {
                return Err(Error::pgrst(
                    codes::PGRST117,
                    format!("Unsupported HTTP method: {m}"),
                ));
            }
        })
    }

    /// Whether the request has a body to read: writes that send rows, and calls by POST.
    pub(crate) fn has_body(self) -> bool {
        matches!(
            self,
            Self::Insert | Self::Upsert | Self::Update | Self::Call { by_get: false, .. }
        )
    }

    /// Whether it only reads: `Accept-Profile` names its schema (else `Content-Profile`),
    /// and a `Range` header applies.
    pub(crate) fn is_read(self) -> bool {
        matches!(
            self,
            Self::Read { .. } | Self::Describe { .. } | Self::Call { by_get: true, .. }
        )
    }

    /// HEAD: the response has headers and no body.
    pub(crate) fn headers_only(self) -> bool {
        matches!(
            self,
            Self::Read { headers_only: true }
                | Self::Describe { headers_only: true }
                | Self::Call {
                    headers_only: true,
                    ..
                }
        )
    }

    /// The verb PostgREST's messages use for it (`"PATCH requires a filter"`).
    pub(crate) fn verb(self) -> &'static str {
        match self {
            Self::Read { headers_only: true }
            | Self::Describe { headers_only: true }
            | Self::Call {
                headers_only: true, ..
            } => "HEAD",
            Self::Read { .. } | Self::Describe { .. } | Self::Call { by_get: true, .. } => "GET",
            Self::Insert | Self::Call { .. } => "POST",
            Self::Upsert => "PUT",
            Self::Update => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
        }
    }
}

/// The methods of RFC 9110 that a function answers with 405 PGRST101 rather than PGRST117.
fn is_standard(m: &Method) -> bool {
    [Method::PUT, Method::PATCH, Method::DELETE].contains(m)
}

/// Where a request goes and what it does there: decided from the method and
/// path alone, before any header or body is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) target: Target,
    pub(crate) action: Action,
}

/// Routes a request: `path` is the path the service sees (after any prefix a router stripped).
pub(crate) fn route(method: &Method, path: &str) -> Result<Route, Error> {
    let target = parse_path(path)?;
    let action = Action::of(method, &target)?;
    Ok(Route { target, action })
}

/// A parsed request: everything the planner needs, owned.
#[derive(Clone, Debug)]
pub(crate) struct ApiRequest {
    pub(crate) action: Action,
    pub(crate) target: Target,
    pub(crate) select: select::SelectList,
    /// Filters and logic trees of the root resource, ANDed.
    /// Two kept inline: most requests filter on one or two columns.
    pub(crate) conditions: SmallVec<[Condition; 2]>,
    pub(crate) order: Vec<OrderTerm>,
    pub(crate) limit: Option<i64>,
    pub(crate) offset: Option<i64>,
    /// Parameters that address an embedded resource (`rel.col=…`, `rel.order`,
    /// `rel.limit`, `rel.or`…), in request order.
    pub(crate) embedded: Vec<Embedded>,
    /// The first media type of `Accept` this crate produces by itself
    /// (`application/json` when there is none: then only a handler can answer).
    pub(crate) accept: MediaType,
    /// All of `Accept`, for media-type handlers.
    pub(crate) accepted: media::Accepted,
    pub(crate) prefs: Preferences,
    /// The `Range` header of a GET: first row and, when bounded, last row.
    pub(crate) range: Option<(i64, Option<i64>)>,
    /// `columns=a,b`: the columns a write takes from its body.
    pub(crate) columns: Option<Vec<String>>,
    /// `distinct=` (all the selected columns, when empty) or `distinct=a,b`
    /// (`DISTINCT ON`): an extension beyond PostgREST.
    pub(crate) distinct: Option<Vec<String>>,
    /// `on_conflict=a,b`: the conflict target of an upsert.
    pub(crate) on_conflict: Option<Vec<String>>,
    /// The body of a POST, PUT or PATCH.
    pub(crate) payload: Option<Payload>,
    /// Arguments of a function called with GET or HEAD (from the query
    /// string) or by POST with a form body, in request order, repeats kept.
    pub(crate) args: Vec<(String, String)>,
    /// How the body of a call by POST passes its arguments.
    pub(crate) call_body: CallBody,
    /// The body of a call by POST as its one unnamed argument's text
    /// ([`CallBody::Raw`]).
    pub(crate) raw_arg: Option<String>,
    /// The schema asked for with `Accept-Profile` (reads) or `Content-Profile` (writes).
    pub(crate) profile: Option<String>,
}

/// The longest query string accepted (414 past it); below `http::Uri`'s own
/// 65,534-byte cap so the limit is ours, with a PostgREST-style body.
const MAX_QUERY: usize = 60 * 1024;
/// The most header bytes accepted (431 past them).
const MAX_HEADERS: usize = 64 * 1024;

/// A parameter of an embedded resource: `path` names the embed (by alias or
/// relation name) from the root, e.g. `["author", "books"]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Embedded {
    pub(crate) path: Vec<CompactString>,
    pub(crate) param: EmbeddedParam,
}

/// What an [`Embedded`] parameter sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum EmbeddedParam {
    Condition(Condition),
    Order(Vec<OrderTerm>),
    Limit(i64),
    Offset(i64),
    Distinct(Vec<String>),
}

/// A syntax error in one query parameter, with where it happened and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParseError {
    /// Which grammar failed: "filter", "select", "order", ...
    pub(crate) what: &'static str,
    pub(crate) input: String,
    /// Where the message says the error is (PostgREST's column, minus one).
    pub(crate) offset: usize,
    /// The offending character, for the details (PostgREST may report it
    /// further on than the column, after backtracking).
    pub(crate) found: usize,
    pub(crate) expected: Cow<'static, str>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "failed to parse {} ({}) at character {}",
            self.what,
            self.input,
            self.offset + 1
        )
    }
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        let found = match e.input.get(e.found..).and_then(|s| s.chars().next()) {
            Some(c) => format!("unexpected \"{c}\""),
            None => "unexpected end of input".to_owned(),
        };
        Error::pgrst(
            codes::PGRST100,
            format!(
                "\"failed to parse {} ({})\" (line 1, column {})",
                e.what,
                e.input,
                e.offset + 1
            ),
        )
        .with_details(format!("{found} expecting {}", e.expected))
    }
}

/// Parses a routed request into an [`ApiRequest`]: [`parse_query`], then
/// [`ApiRequest::attach_body`].
///
/// `query` is the raw query string without `?`, `body` the collected body
/// when [`Action::has_body`].
pub(crate) fn parse(
    route: Route,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Option<bytes::Bytes>,
) -> Result<ApiRequest, Error> {
    let mut req = parse_query(route, query, headers)?;
    if let Some(body) = body {
        req.attach_body(headers, body)?;
    }
    Ok(req)
}

/// Parses everything of a routed request but its body: the query string and
/// the headers. The service does this before it reads the body, so that a
/// request it will refuse costs no body.
pub(crate) fn parse_query(
    route: Route,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<ApiRequest, Error> {
    let Route { target, action } = route;
    check_sizes(query, headers)?;
    let accepted = media::accepted(headers)?;
    let mut req = ApiRequest {
        action,
        target,
        select: select::SelectList::new(),
        conditions: SmallVec::new(),
        order: Vec::new(),
        limit: None,
        offset: None,
        embedded: Vec::new(),
        accept: accepted.builtin.unwrap_or(MediaType::Json),
        accepted,
        prefs: prefer::parse_prefer(headers)?,
        range: if action.is_read() && !action.headers_only() {
            parse_range(headers)
        } else {
            None
        },
        columns: None,
        distinct: None,
        on_conflict: None,
        payload: None,
        args: Vec::new(),
        call_body: CallBody::Json,
        raw_arg: None,
        profile: profile(action, headers)?,
    };
    let mut select = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        apply_param(&mut req, &mut select, key, value)?;
    }
    req.select = match select {
        Some(s) => select::parse_select(&s)?,
        None => smallvec::smallvec![SelectItem::Star],
    };
    Ok(req)
}

impl ApiRequest {
    /// Parses the body of a write or a call by POST into its payload.
    pub(crate) fn attach_body(
        &mut self,
        headers: &HeaderMap,
        mut body: bytes::Bytes,
    ) -> Result<(), Error> {
        if matches!(self.target, Target::Function(_)) {
            self.call_body = body::call_body(headers).unwrap_or_default();
            match self.call_body {
                CallBody::Raw(raw) => {
                    self.raw_arg = Some(raw.argument_text(&body)?);
                    return Ok(());
                }
                CallBody::Form => {
                    self.args = body::form_pairs(&body);
                    return Ok(());
                }
                // An empty body calls a function without arguments.
                CallBody::Json if body.iter().all(u8::is_ascii_whitespace) => {
                    body = bytes::Bytes::from_static(b"{}");
                }
                CallBody::Json | CallBody::Csv => {}
            }
        }
        self.payload = Some(body::parse_payload(headers, body, self.columns.is_none())?);
        Ok(())
    }
}

/// The query string and the headers are within their limits (414, 431), and
/// the query string is UTF-8 once percent-decoded.
fn check_sizes(query: Option<&str>, headers: &HeaderMap) -> Result<(), Error> {
    if let Some(q) = query {
        if q.len() > MAX_QUERY {
            return Err(Error::new(
                ErrorKind::UriTooLong,
                format!("The query string is longer than {MAX_QUERY} bytes"),
            ));
        }
        // Percent-decoding must give UTF-8 (form decoding would replace bad
        // bytes silently). `+` decodes to a space, which cannot change that.
        if percent_encoding::percent_decode_str(q)
            .decode_utf8()
            .is_err()
        {
            return Err(Error::pgrst(
                codes::PGRST100,
                "The query string is not valid UTF-8 once percent-decoded",
            ));
        }
    }
    let header_bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if header_bytes > MAX_HEADERS {
        return Err(Error::new(
            ErrorKind::HeadersTooLarge,
            format!("The request's headers are larger than {MAX_HEADERS} bytes"),
        ));
    }
    Ok(())
}

/// Applies one query parameter to `req` (`select` is parsed last, once known).
fn apply_param<'q>(
    req: &mut ApiRequest,
    select: &mut Option<Cow<'q, str>>,
    key: Cow<'q, str>,
    value: Cow<'q, str>,
) -> Result<(), Error> {
    match key.as_ref() {
        "select" => *select = Some(value),
        "order" => req.order = order::parse_order(&value)?,
        "limit" => req.limit = Some(parse_count("limit", &value)?),
        "offset" => req.offset = Some(parse_count("offset", &value)?),
        "columns" => req.columns = Some(parse_names("columns parameter", &value)?),
        "distinct" => req.distinct = Some(parse_distinct(&value)?),
        "on_conflict" => req.on_conflict = Some(parse_names("on_conflict parameter", &value)?),
        "or" | "and" | "not.or" | "not.and" => {
            let negated = key.starts_with("not.");
            let op = if key.ends_with("or") {
                BoolOp::Or
            } else {
                BoolOp::And
            };
            req.conditions
                .push(logic::parse_logic(negated, op, &value)?);
        }
        _ => {
            if let Some((path, last @ ("order" | "limit" | "offset" | "or" | "and" | "distinct"))) =
                key.rsplit_once('.')
            {
                let (path, negated) = match path.strip_suffix(".not") {
                    Some(p) if matches!(last, "or" | "and") => (p, true),
                    _ => (path, false),
                };
                let param = match last {
                    "order" => EmbeddedParam::Order(order::parse_order(&value)?),
                    "limit" => EmbeddedParam::Limit(parse_count("limit", &value)?),
                    "offset" => EmbeddedParam::Offset(parse_count("offset", &value)?),
                    "distinct" => EmbeddedParam::Distinct(parse_distinct(&value)?),
                    _ => EmbeddedParam::Condition(logic::parse_logic(
                        negated,
                        if last == "or" {
                            BoolOp::Or
                        } else {
                            BoolOp::And
                        },
                        &value,
                    )?),
                };
                req.embedded.push(Embedded {
                    path: parse_path_names(path)?,
                    param,
                });
                return Ok(());
            }
            let filter = match filter::parse_filter(&key, &value) {
                Ok(filter) => filter,
                // PostgREST's rule for functions: a parameter that is not a
                // filter is an argument (only GET and HEAD take them so; by
                // POST, it is a filter that does not parse).
                Err(_)
                    if matches!(req.target, Target::Function(_))
                        && matches!(req.action, Action::Call { by_get: true, .. }) =>
                {
                    req.args.push((key.into_owned(), value.into_owned()));
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            };
            if filter.embed_path.is_empty() {
                req.conditions.push(Condition::Filter(filter));
            } else {
                let mut filter = filter;
                let path = std::mem::take(&mut filter.embed_path);
                req.embedded.push(Embedded {
                    path,
                    param: EmbeddedParam::Condition(Condition::Filter(filter)),
                });
            }
        }
    }
    Ok(())
}

/// `path = name *( "." name )`: the embed path of an embedded parameter.
fn parse_path_names(value: &str) -> Result<Vec<CompactString>, ParseError> {
    let mut cur = cursor::Cursor::new(value, "embedded resource path");
    let mut names = vec![cur.name()?];
    while cur.eat(".") {
        names.push(cur.name()?);
    }
    if !cur.at_end() {
        return Err(cur.error("\".\" or end of input"));
    }
    Ok(names)
}

/// `names = name *( "," name )`, names plain or double-quoted.
/// `distinct=` (empty: every selected column) or `distinct=a,b`.
fn parse_distinct(value: &str) -> Result<Vec<String>, ParseError> {
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    parse_names("distinct parameter", value)
}

fn parse_names(what: &'static str, value: &str) -> Result<Vec<String>, ParseError> {
    let mut cur = cursor::Cursor::new(value, what);
    let mut names = vec![cur.name()?.into()];
    while cur.eat(",") {
        names.push(cur.name()?.into());
    }
    if !cur.at_end() {
        return Err(cur.error("\",\" or end of input"));
    }
    Ok(names)
}

/// The schema a request names: `Accept-Profile` on GET and HEAD, `Content-Profile` otherwise.
fn profile(action: Action, headers: &HeaderMap) -> Result<Option<String>, Error> {
    let name = if action.is_read() {
        "accept-profile"
    } else {
        "content-profile"
    };
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(|s| Some(s.trim().to_owned())).map_err(|_| {
            Error::new(
                ErrorKind::InvalidRequest,
                format!("The {name} header is not valid text"),
            )
        }),
    }
}

/// `Range: first-[last]`; anything else is ignored, as in PostgREST.
fn parse_range(headers: &HeaderMap) -> Option<(i64, Option<i64>)> {
    let value = headers.get(http::header::RANGE)?.to_str().ok()?.trim();
    let (first, last) = value.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(first) || !(last.is_empty() || digits(last)) {
        return None;
    }
    let first = first.parse().ok()?;
    let last = if last.is_empty() {
        None
    } else {
        Some(last.parse().ok()?)
    };
    Some((first, last))
}

/// `limit` and `offset`: a non-negative integer.
fn parse_count(name: &'static str, value: &str) -> Result<i64, Error> {
    match value.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        // A negative offset is no offset, as in PostgREST.
        Ok(_) if name == "offset" => Ok(0),
        Ok(_) if name == "limit" => Err(Error::pgrst(
            codes::PGRST103,
            "Requested range not satisfiable",
        )
        .with_details("Limit should be greater than or equal to zero.")),
        _ => Err(Error::pgrst(
            codes::PGRST100,
            format!("\"{name}\" must be a non-negative integer, got \"{value}\""),
        )),
    }
}

/// `path = "/" [ relation / "rpc/" function ]`, each segment percent-decoded.
fn parse_path(path: &str) -> Result<Target, Error> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let decode = |s: &str| -> Result<CompactString, Error> {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(CompactString::from)
            .map_err(|_| invalid_path())
    };
    // At most two segments, looked at in place.
    let mut segments = trimmed.split('/');
    match (
        trimmed.is_empty(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) {
        (true, ..) => Ok(Target::Root),
        (false, Some(name), None, _) if !name.is_empty() => Ok(Target::Relation(decode(name)?)),
        (false, Some("rpc"), Some(name), None) if !name.is_empty() => {
            Ok(Target::Function(decode(name)?))
        }
        _ => Err(invalid_path()),
    }
}

fn invalid_path() -> Error {
    Error::pgrst(codes::PGRST125, "Invalid path specified in request URL")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, query: &str) -> Result<ApiRequest, Error> {
        parse(
            route(&Method::GET, path)?,
            Some(query),
            &HeaderMap::new(),
            None,
        )
    }

    #[test]
    fn methods_mean_one_action_each() {
        let action = |m: Method, path: &str| route(&m, path).map(|r| r.action);
        assert_eq!(
            action(Method::HEAD, "/t").unwrap(),
            Action::Read { headers_only: true }
        );
        assert_eq!(action(Method::PUT, "/t").unwrap(), Action::Upsert);
        assert_eq!(
            action(Method::GET, "/rpc/f").unwrap(),
            Action::Call {
                by_get: true,
                headers_only: false
            }
        );
        assert!(action(Method::POST, "/rpc/f").unwrap().has_body());
        assert!(!action(Method::GET, "/rpc/f").unwrap().has_body());
        assert!(!action(Method::DELETE, "/t").unwrap().has_body());
        assert_eq!(action(Method::OPTIONS, "/").unwrap(), Action::Options);
        for (m, path, code) in [
            (Method::PATCH, "/rpc/f", "PGRST101"),
            (Method::POST, "/", "PGRST117"),
            (Method::TRACE, "/t", "PGRST117"),
            (Method::CONNECT, "/rpc/f", "PGRST117"),
        ] {
            let err = action(m.clone(), path).unwrap_err();
            assert_eq!(
                (err.kind(), err.postgrest_code()),
                (ErrorKind::MethodNotAllowed, code),
                "{m} {path}"
            );
        }
        for a in [
            Action::Insert,
            Action::Update,
            Action::Delete,
            Action::Upsert,
        ] {
            assert!(!a.is_read() && !a.headers_only(), "{a:?}");
        }
    }

    #[test]
    fn columns_plain_and_quoted() {
        assert_eq!(
            parse_names("columns parameter", "a, b").unwrap(),
            vec!["a".to_owned(), "b".to_owned()]
        );
        assert_eq!(
            parse_names("columns parameter", "\"id\",\"first name\"").unwrap(),
            vec!["id".to_owned(), "first name".to_owned()]
        );
        assert!(parse_names("columns parameter", "a,").is_err());
    }

    #[test]
    fn paths() {
        assert_eq!(parse_path("/").unwrap(), Target::Root);
        assert_eq!(parse_path("").unwrap(), Target::Root);
        assert_eq!(
            parse_path("/my%20table").unwrap(),
            Target::Relation("my table".into())
        );
        assert_eq!(
            parse_path("/rpc/add").unwrap(),
            Target::Function("add".into())
        );
        for bad in ["/a/b", "/rpc/a/b", "/a/", "//"] {
            assert_eq!(
                parse_path(bad).unwrap_err().kind(),
                ErrorKind::NotFound,
                "{bad}"
            );
        }
    }

    #[test]
    fn plus_is_a_space() {
        let req = get("/books", "title=eq.Iain+Banks").unwrap();
        match &req.conditions[0] {
            Condition::Filter(Filter {
                operation: Operation::Compare { value, .. },
                ..
            }) => assert_eq!(value, "Iain Banks"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn range_header() {
        let range = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(http::header::RANGE, v.parse().unwrap());
            parse_range(&h)
        };
        assert_eq!(range("0-19"), Some((0, Some(19))));
        assert_eq!(range("10-"), Some((10, None)));
        for ignored in ["items=0-1", "-5", "a-b", "1-2-3", ""] {
            assert_eq!(range(ignored), None, "{ignored}");
        }
    }

    #[test]
    fn limit_and_offset() {
        let req = get("/t", "limit=10&offset=5").unwrap();
        assert_eq!((req.limit, req.offset), (Some(10), Some(5)));
        assert_eq!(
            get("/t", "limit=-1").unwrap_err().kind(),
            ErrorKind::RangeNotSatisfiable
        );
        assert_eq!(
            get("/t", "limit=ten").unwrap_err().kind(),
            ErrorKind::InvalidRequest
        );
    }

    #[test]
    fn embedded_params_are_set_aside() {
        let req = get(
            "/t",
            "comments.approved=eq.true&id=eq.1&comments.or=(a.eq.1)",
        )
        .unwrap();
        assert_eq!(req.conditions.len(), 1);
        assert_eq!(req.embedded.len(), 2);
        assert!(req.embedded.iter().all(|e| e.path == ["comments"]));
        let req = get("/t", "a.b.order=id.desc&a.not.or=(x.eq.1)&a.b.limit=2").unwrap();
        assert_eq!(req.embedded[0].path, ["a", "b"]);
        assert!(matches!(req.embedded[0].param, EmbeddedParam::Order(_)));
        assert!(matches!(
            req.embedded[1].param,
            EmbeddedParam::Condition(Condition::Group { negated: true, .. })
        ));
        assert_eq!(req.embedded[2].param, EmbeddedParam::Limit(2));
    }

    #[test]
    fn parse_error_message() {
        let err = get("/t", "id=eqq.1").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert_eq!(err.postgrest_code(), "PGRST100");
        assert!(
            err.message().contains("failed to parse filter (eqq.1)"),
            "{}",
            err.message()
        );
    }
}
