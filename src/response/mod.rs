//! [`Plan`] + the database's answer → [`http::Response`]: status, body and
//! PostgREST's headers (`Content-Range`, `Content-Location`, `Location`,
//! `Preference-Applied`, `Vary`, `Content-Profile`, and what a function set in
//! `response.headers` / `response.status`).

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use percent_encoding::utf8_percent_encode;

use crate::body::RestBody;
use crate::config::Exposed;
use crate::db::{CallResult, ReadResult, WriteResult};
use crate::error::{Error, codes};
use crate::plan::{Allow, CallPlan, Privileges, ReadPlan, Resource, Returns, WritePlan};
use crate::request::{Action, Count, MediaType, Return};
use crate::schema::Schema;

mod batch;
pub(crate) use batch::{batch, batch_entry};

static VARY: HeaderValue = HeaderValue::from_static("Accept, Prefer, Range");
const PREFERENCE_APPLIED: HeaderName = HeaderName::from_static("preference-applied");

/// Adds `applied` to the response's `Preference-Applied`.
pub(crate) fn preference_applied(res: &mut Response<RestBody>, applied: &str) {
    let headers = res.headers_mut();
    let value = match headers
        .get(&PREFERENCE_APPLIED)
        .and_then(|v| v.to_str().ok())
    {
        Some(existing) => format!("{existing}, {applied}"),
        None => applied.to_owned(),
    };
    headers.insert(PREFERENCE_APPLIED, owned_header_value(value));
}

/// The OpenAPI description of the schema `ns`; no body for HEAD.
pub(crate) fn describe(
    schema: &Schema,
    ns: &str,
    headers_only: bool,
    privileges: Option<&Privileges>,
) -> Response<RestBody> {
    let mut res = if headers_only {
        Response::new(RestBody::empty())
    } else {
        Response::new(RestBody::from(
            crate::openapi::document(schema, ns, privileges).to_string(),
        ))
    };
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openapi+json; charset=utf-8"),
    );
    res
}

/// `OPTIONS`: an empty 200 with `Allow`, narrowed to `privileges` when given
/// (404 for a resource the role may not use at all).
pub(crate) fn options(
    ns: &str,
    resource: Resource<'_>,
    allow: Allow,
    privileges: Option<&Privileges>,
) -> Result<Response<RestBody>, Error> {
    let allow = match (privileges, resource) {
        (None, _) | (_, Resource::Root) => allow,
        (Some(p), Resource::Relation(table)) => p.allow_table(ns, table)?,
        (Some(p), Resource::Function(name)) => p.allow_function(ns, name, allow)?,
    };
    let mut res = Response::new(RestBody::empty());
    res.headers_mut()
        .insert(header::ALLOW, header_value(&allow.header()));
    Ok(res)
}

/// `Content-Profile`: the schema, when the service exposes several or the request named one.
pub(crate) fn name_schema(res: &mut Response<RestBody>, schema: Exposed<'_>) {
    if let Ok(v) = HeaderValue::from_str(schema.name) {
        res.headers_mut()
            .insert(HeaderName::from_static("content-profile"), v);
    }
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("*/*"))
}

/// [`header_value`] without copying `s`.
fn owned_header_value(s: String) -> HeaderValue {
    HeaderValue::from_maybe_shared(Bytes::from(s))
        .unwrap_or_else(|_| HeaderValue::from_static("*/*"))
}

/// `Content-Range`: `first-last/total` for `rows` rows from `offset`, `*/total`
/// for none, `*` for an unknown total. Every response that has one gets it here.
fn content_range(offset: i64, rows: i64, total: Option<i64>) -> RangeText {
    use std::io::Write as _;
    let mut text = RangeText {
        buf: [0; 64],
        len: 0,
    };
    let mut out = &mut text.buf[..];
    // Three numbers of at most 20 characters each and two separators fit.
    let _ = if rows > 0 {
        let last = offset.saturating_add(rows - 1);
        write!(out, "{offset}-{last}/")
    } else {
        write!(out, "*/")
    };
    let _ = match total {
        Some(total) => write!(out, "{total}"),
        None => write!(out, "*"),
    };
    text.len = 64 - out.len();
    text
}

/// A `Content-Range` value, written on the stack.
struct RangeText {
    buf: [u8; 64],
    len: usize,
}

impl std::ops::Deref for RangeText {
    type Target = str;
    fn deref(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("*/*")
    }
}

impl RangeText {
    fn header_value(&self) -> HeaderValue {
        HeaderValue::from_str(self).unwrap_or_else(|_| HeaderValue::from_static("*/*"))
    }
}

/// The response of a read: its page, `Content-Range` and status (206 for a
/// partial page, 416 past the end).
pub(crate) fn read(
    plan: &ReadPlan<'_>,
    result: ReadResult,
    uri: &http::Uri,
) -> Result<Response<RestBody>, Error> {
    let counted = || result.total.unwrap_or(result.page_total);
    let total = match plan.count {
        None => None,
        Some(Count::Exact) => Some(counted()),
        Some(Count::Planned) => result.planned,
        // As PostgREST: the planner's estimate when the count passes max_rows —
        // and always without max_rows.
        Some(Count::Estimated) => match plan.max_rows {
            Some(max) if counted() <= max => Some(counted()),
            _ => Some(counted().max(result.planned.unwrap_or(0))),
        },
    };
    check_offset(plan, total)?;
    let body = if plan.headers_only {
        RestBody::empty()
    } else {
        RestBody::from(handled_body(plan, result.body)?)
    };
    Ok(read_response(
        plan,
        total,
        Some(result.page_total),
        body,
        uri,
    ))
}

/// 416 when the page starts past the last of `total` rows.
fn check_offset(plan: &ReadPlan<'_>, total: Option<i64>) -> Result<(), Error> {
    match total {
        Some(total) if plan.offset > total => Err(Error::pgrst(
            codes::PGRST103,
            "Requested range not satisfiable",
        )
        .with_details(format!(
            "An offset of {} was requested, but there are only {total} rows.",
            plan.offset
        ))
        .with_header(header::CONTENT_RANGE, header_value(&format!("*/{total}")))),
        _ => Ok(()),
    }
}

/// The response of a streamed read: [`read`]'s, with a `Content-Range` only
/// when the page's rows are known (they all came in the first batch, or a
/// count says how many there are).
pub(crate) fn read_streamed(
    plan: &ReadPlan<'_>,
    streamed: crate::db::Streamed,
    uri: &http::Uri,
) -> Result<Response<RestBody>, Error> {
    let total = streamed.total;
    check_offset(plan, total)?;
    let page_total = streamed.page_total.or_else(|| {
        total.map(|t| {
            let left = t.saturating_sub(plan.offset).max(0);
            plan.limit.map_or(left, |l| left.min(l))
        })
    });
    Ok(read_response(plan, total, page_total, streamed.body, uri))
}

fn read_response(
    plan: &ReadPlan<'_>,
    total: Option<i64>,
    page_total: Option<i64>,
    body: RestBody,
    uri: &http::Uri,
) -> Response<RestBody> {
    let mut res = Response::new(body);
    *res.status_mut() = match (page_total, total) {
        (Some(page), Some(t)) if page < t => StatusCode::PARTIAL_CONTENT,
        _ => StatusCode::OK,
    };
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type(plan));
    if let Some(page_total) = page_total {
        let range = content_range(plan.offset, page_total, total);
        headers.insert(header::CONTENT_RANGE, range.header_value());
    }
    let location = Bytes::from(content_location(uri.path(), uri.query()));
    if let Ok(v) = HeaderValue::from_maybe_shared(location) {
        headers.insert(header::CONTENT_LOCATION, v);
    }
    if let Some(count) = plan.count {
        headers.insert(PREFERENCE_APPLIED, HeaderValue::from_static(count.as_str()));
    }
    headers.insert(header::VARY, VARY.clone());
    res
}

/// The response of a function call, with the `response.status` and
/// `response.headers` the function set.
pub(crate) fn call(plan: &CallPlan<'_>, result: CallResult) -> Result<Response<RestBody>, Error> {
    let shape = &plan.shape;
    let set = matches!(
        plan.returns,
        Returns::Composite { set: true } | Returns::Scalar { set: true }
    );
    // PostgREST counts function results exactly, and does not plan them.
    let total = match shape.count {
        Some(Count::Planned) | None => None,
        Some(_) => Some(result.total.unwrap_or(result.page_total)),
    };
    if set {
        // Past the last row counted: 416, as a read.
        check_offset(shape, total)?;
    }
    let mut status = match plan.returns {
        Returns::Void => StatusCode::NO_CONTENT,
        _ if total.is_some_and(|t| result.page_total < t) => StatusCode::PARTIAL_CONTENT,
        _ => StatusCode::OK,
    };
    if let Some(s) = result.status.as_deref() {
        status = parse_status(s)?;
    }
    let mut res = if plan.returns == Returns::Void || shape.headers_only {
        Response::new(RestBody::empty())
    } else {
        Response::new(RestBody::from(handled_body(shape, result.body)?))
    };
    *res.status_mut() = status;
    let headers = res.headers_mut();
    if plan.returns != Returns::Void {
        headers.insert(header::CONTENT_TYPE, content_type(shape));
    }
    if set {
        let range = content_range(shape.offset, result.page_total, total);
        headers.insert(header::CONTENT_RANGE, range.header_value());
    } else if plan.returns != Returns::Void && total.is_some() {
        // One value, counted as PostgREST counts it.
        headers.insert(header::CONTENT_RANGE, HeaderValue::from_static("0-0/1"));
    }
    let applied: Vec<&str> = shape
        .count
        .map(|c| c.as_str())
        .into_iter()
        .chain(plan.applied.iter().map(String::as_str))
        .collect();
    if !applied.is_empty() {
        headers.insert(PREFERENCE_APPLIED, owned_header_value(applied.join(", ")));
    }
    headers.insert(header::VARY, VARY.clone());
    if let Some(raw) = result.headers.as_deref() {
        apply_response_headers(headers, raw)?;
    }
    Ok(res)
}

/// The `Content-Type` of a read's or call's answer: its media type's, or its
/// handler's (with a charset for the text types PostgREST gives one).
fn content_type(plan: &ReadPlan<'_>) -> HeaderValue {
    match (plan.media, plan.handler) {
        (MediaType::Custom, Some(h)) => {
            let charset = matches!(
                h.content_type.as_str(),
                "text/plain"
                    | "text/xml"
                    | "text/csv"
                    | "application/json"
                    | "application/geo+json"
            );
            let value = if charset {
                format!("{}; charset=utf-8", h.content_type)
            } else {
                h.content_type.clone()
            };
            HeaderValue::from_str(&value)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"))
        }
        (media, _) => HeaderValue::from_static(media.content_type()),
    }
}

/// The body a handler built: its text, or its bytes sent as hex.
fn handled_body(plan: &ReadPlan<'_>, body: Bytes) -> Result<Bytes, Error> {
    match plan.handler {
        Some(h) if plan.media == MediaType::Custom && h.binary => {
            let hex = body.as_ref();
            let digit = |b: u8| match b {
                b'0'..=b'9' => Some(b - b'0'),
                b'a'..=b'f' => Some(b - b'a' + 10),
                b'A'..=b'F' => Some(b - b'A' + 10),
                _ => None,
            };
            let bytes: Option<Vec<u8>> = hex
                .chunks(2)
                .map(|pair| match pair {
                    [hi, lo] => Some(digit(*hi)? << 4 | digit(*lo)?),
                    _ => None,
                })
                .collect();
            bytes.map(Bytes::from).ok_or_else(|| {
                Error::new(
                    crate::error::ErrorKind::Internal,
                    "The database sent a malformed binary body",
                )
            })
        }
        _ => Ok(body),
    }
}

/// What the `db-pre-request` function set: `response.status` replaces the
/// status, `response.headers` adds to (or replaces) the headers.
pub(crate) fn apply_pre_request(
    res: &mut Response<RestBody>,
    pre: &crate::db::PreAnswer,
) -> Result<(), Error> {
    if let Some(s) = pre.status.as_deref() {
        *res.status_mut() = parse_status(s)?;
    }
    if let Some(raw) = pre.headers.as_deref() {
        apply_response_headers(res.headers_mut(), raw)?;
    }
    Ok(())
}

/// A `response.status` value.
fn parse_status(s: &str) -> Result<StatusCode, Error> {
    s.trim()
        .parse::<u16>()
        .ok()
        .and_then(|n| StatusCode::from_u16(n).ok())
        .ok_or_else(|| {
            // PostgREST's words; the value is not echoed.
            Error::pgrst(
                codes::PGRST112,
                "response.status guc must be a valid status code",
            )
        })
}

/// The `response.headers` a function set: a JSON array of one-key objects.
/// A name's first entry replaces the header this crate would send; later ones add to it.
fn apply_response_headers(headers: &mut http::HeaderMap, raw: &str) -> Result<(), Error> {
    let invalid = || {
        Error::pgrst(
            codes::PGRST111,
            "response.headers guc must be a JSON array composed of objects with a single key and a string value",
        )
    };
    let list: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(raw).map_err(|_| invalid())?;
    let mut seen: Vec<HeaderName> = Vec::new();
    for entry in list {
        let mut entry = entry.into_iter();
        let (Some((name, serde_json::Value::String(value))), None) = (entry.next(), entry.next())
        else {
            return Err(invalid());
        };
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let value = HeaderValue::from_str(&value).map_err(|_| invalid())?;
        if seen.contains(&name) {
            headers.append(name, value);
        } else {
            headers.insert(name.clone(), value);
            seen.push(name);
        }
    }
    Ok(())
}

/// Whether a POST merges duplicates (`Prefer: resolution=merge-duplicates`).
fn merges(plan: &WritePlan<'_>) -> bool {
    matches!(
        &plan.kind,
        crate::plan::WriteKind::Insert {
            conflict: Some((_, crate::request::Resolution::MergeDuplicates)),
            ..
        }
    )
}

/// The response of a write: 201, 200 or 204, `Content-Range` of the rows
/// affected, and `Location` of a single inserted row.
pub(crate) fn write(
    plan: &WritePlan<'_>,
    action: Action,
    result: WriteResult,
) -> Result<Response<RestBody>, Error> {
    let table = plan.table();
    let n = result.affected;
    let representation = plan.return_ == Return::Representation;
    let inserted = result.inserted.unwrap_or(n);
    let status = match action {
        // An upsert that inserted nothing (it merged, or had no rows): 200.
        Action::Insert if inserted == 0 && merges(plan) => StatusCode::OK,
        Action::Insert => StatusCode::CREATED,
        Action::Upsert if representation && inserted > 0 => StatusCode::CREATED,
        _ if representation => StatusCode::OK,
        _ => StatusCode::NO_CONTENT,
    };
    let total = plan.count.is_some().then_some(n);
    // PATCH lists the rows it changed; the other writes only count them.
    let listed = if action == Action::Update { n } else { 0 };
    let range = content_range(0, listed, total);
    let mut res = if representation {
        Response::new(RestBody::from(result.body))
    } else {
        Response::new(RestBody::empty())
    };
    *res.status_mut() = status;
    let headers = res.headers_mut();
    if representation {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(plan.shape.media.content_type()),
        );
    }
    headers.insert(header::CONTENT_RANGE, range.header_value());
    if let (Some(key), 1) = (&result.location, n) {
        let mut location = format!("/{}?", utf8_percent_encode(&table.name, QUERY_COMPONENT));
        for (i, (column, value)) in table.primary_key.iter().zip(key).enumerate() {
            if i > 0 {
                location.push('&');
            }
            location.extend(utf8_percent_encode(column, QUERY_COMPONENT));
            match value {
                Some(v) => {
                    location.push_str("=eq.");
                    location.extend(utf8_percent_encode(v, QUERY_COMPONENT));
                }
                None => location.push_str("=is.null"),
            }
        }
        if let Ok(v) = HeaderValue::from_str(&location) {
            headers.insert(header::LOCATION, v);
        }
    }
    if !plan.applied.is_empty() {
        headers.insert(PREFERENCE_APPLIED, header_value(&plan.applied.join(", ")));
    }
    headers.insert(header::VARY, VARY.clone());
    // What a trigger set, as a function may: `response.headers` add to (or
    // replace) the headers, `response.status` replaces the status.
    if let Some(raw) = result.headers.as_deref() {
        apply_response_headers(headers, raw)?;
    }
    if let Some(s) = result.status.as_deref() {
        *res.status_mut() = parse_status(s)?;
    }
    Ok(res)
}

/// `Content-Location` as PostgREST writes it: the path, and the query
/// parameters sorted by name and percent-encoded.
fn content_location(path: &str, query: Option<&str>) -> String {
    match query {
        // Already in that form (the usual case): as is.
        Some(q) if is_canonical_query(q) => {
            let mut out = String::with_capacity(path.len() + 1 + q.len());
            out.push_str(path);
            out.push('?');
            out.push_str(q);
            out
        }
        _ => canonical_location(path, query),
    }
}

/// Whether sorting and re-encoding `query` would give it back unchanged:
/// `name=value` pairs in name order, of ASCII letters, digits and `-_.~` only.
fn is_canonical_query(query: &str) -> bool {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
    let mut previous: Option<&str> = None;
    for pair in query.split('&') {
        let Some((name, value)) = pair.split_once('=') else {
            return false;
        };
        if !name.bytes().chain(value.bytes()).all(unreserved) || previous.is_some_and(|p| p > name)
        {
            return false;
        }
        previous = Some(name);
    }
    true
}

/// [`content_location`] the long way: decode, sort, encode.
fn canonical_location(path: &str, query: Option<&str>) -> String {
    let query = query.unwrap_or("");
    let mut pairs: smallvec::SmallVec<[_; 8]> = form_urlencoded::parse(query.as_bytes()).collect();
    if pairs.is_empty() {
        return path.to_owned();
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let encoded =
        |s: &str| -> usize { utf8_percent_encode(s, QUERY_COMPONENT).map(str::len).sum() };
    // The exact length, so that the header takes the text without a copy.
    let len = path.len()
        + pairs
            .iter()
            .map(|(k, v)| 2 + encoded(k) + encoded(v))
            .sum::<usize>();
    let mut out = String::with_capacity(len);
    out.push_str(path);
    for (i, (k, v)) in pairs.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.extend(utf8_percent_encode(k, QUERY_COMPONENT));
        out.push('=');
        out.extend(utf8_percent_encode(v, QUERY_COMPONENT));
    }
    out
}

/// Everything but ASCII letters, digits and `-_.~` is percent-encoded.
const QUERY_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// What every planned response gets last: `Content-Profile` when the
/// service names its schema (`profile`), what the `db-pre-request`
/// function set (a call's own statement has read it already, with what the
/// function set), and `Preference-Applied: timezone=…` as the request
/// named the zone.
pub(crate) fn finish(
    res: &mut Response<RestBody>,
    plan: &crate::plan::Plan<'_>,
    req: &crate::request::ApiRequest,
    pre: Option<&crate::db::PreAnswer>,
    profile: bool,
) -> Result<(), Error> {
    if profile {
        name_schema(res, plan.schema);
    }
    if let (Some(pre), false) = (pre, matches!(plan.kind, crate::plan::PlanKind::Call(_))) {
        apply_pre_request(res, pre)?;
    }
    if plan.echo_tx {
        preference_applied(res, plan.tx.end.as_str());
    }
    // A read's handling, as a write's and a call's plan already say theirs.
    if matches!(plan.kind, crate::plan::PlanKind::Read(_)) {
        if req.prefs.strict {
            preference_applied(res, "handling=strict");
        } else if req.prefs.lenient {
            preference_applied(res, "handling=lenient");
        }
    }
    if let (Some(_), Some(asked)) = (&plan.timezone, req.prefs.timezone.as_deref()) {
        preference_applied(res, &format!("timezone={asked}"));
    }
    order_applied(res);
    Ok(())
}

/// `Preference-Applied` in PostgREST's fixed order, whatever order the
/// request named them in: resolution, missing, return, count, tx, handling,
/// timezone, max-affected.
fn order_applied(res: &mut Response<RestBody>) {
    const ORDER: [&str; 8] = [
        "resolution=",
        "missing=",
        "return=",
        "count=",
        "tx=",
        "handling=",
        "timezone=",
        "max-affected=",
    ];
    let headers = res.headers_mut();
    let Some(value) = headers
        .get(&PREFERENCE_APPLIED)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    if !value.contains(',') {
        return;
    }
    let mut items: Vec<&str> = value.split(',').map(str::trim).collect();
    let rank = |item: &str| {
        ORDER
            .iter()
            .position(|p| item.starts_with(p))
            .unwrap_or(ORDER.len())
    };
    items.sort_by_key(|item| rank(item));
    let ordered = items.join(", ");
    headers.insert(PREFERENCE_APPLIED, owned_header_value(ordered));
}

/// The plan of a statement (`Accept: application/vnd.pgrst.plan`): its rows,
/// one JSON document or the lines of the text form.
pub(crate) fn explain(rows: &[Bytes], content_type: &str) -> Response<RestBody> {
    let body = rows
        .iter()
        .map(|r| r.as_ref())
        .collect::<Vec<_>>()
        .join(&b"\n"[..]);
    let mut res = Response::new(RestBody::from(body));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("text/plain")),
    );
    res
}

/// `Server-Timing`: PostgREST's names, `dur` in milliseconds. `at` holds
/// the time since the request began when it was parsed, when it was planned,
/// the time spent in the database, and the time now; `jwt` the time the
/// token took to verify, when a layer did.
pub(crate) fn server_timing(
    res: &mut Response<RestBody>,
    jwt: Option<std::time::Duration>,
    at: [std::time::Duration; 4],
) {
    use std::fmt::Write;
    let [parsed, planned, transaction, now] = at;
    let response = now.saturating_sub(planned).saturating_sub(transaction);
    let all = [
        ("jwt", jwt.unwrap_or_default()),
        ("parse", parsed),
        ("plan", planned.saturating_sub(parsed)),
        ("transaction", transaction),
        ("response", response),
    ];
    // PostgREST always names the JWT step, which takes no time without a token.
    let entries = &all[..];
    let mut value = String::with_capacity(96);
    for (name, d) in entries {
        if !value.is_empty() {
            value.push_str(", ");
        }
        let _ = write!(value, "{name};dur={:.1}", d.as_secs_f64() * 1000.0);
    }
    if let Ok(value) = HeaderValue::from_str(&value) {
        res.headers_mut().insert("server-timing", value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(&*content_range(0, 3, None), "0-2/*");
        assert_eq!(&*content_range(10, 5, Some(100)), "10-14/100");
        assert_eq!(&*content_range(0, 0, Some(7)), "*/7");
        assert_eq!(&*content_range(5, 0, None), "*/*");
        assert_eq!(
            &*content_range(i64::MAX, 2, None),
            format!("{}-{}/*", i64::MAX, i64::MAX)
        );
        assert_eq!(
            &*content_range(i64::MIN, 0, Some(i64::MIN)),
            format!("*/{}", i64::MIN)
        );
    }

    #[test]
    fn content_location_sorts_and_encodes() {
        assert_eq!(content_location("/books", None), "/books");
        assert_eq!(
            content_location(
                "/books",
                Some("select=id,title&author_id=eq.1&title=eq.a+b")
            ),
            "/books?author_id=eq.1&select=id%2Ctitle&title=eq.a%20b"
        );
    }

    #[test]
    fn the_short_cut_agrees_with_the_long_way() {
        for q in [
            "id=eq.42",
            "a=1&b=2",
            "b=2&a=1",
            "a=1&a=0",
            "a=1&&b=2",
            "a&b=1",
            "=x",
            "a=b=c",
            "a=1&",
            "",
            "select=id,name&id=eq.1",
            "x=%41",
            "x=a+b",
            "k.z=1&k=2",
        ] {
            assert_eq!(
                content_location("/t", Some(q)),
                canonical_location("/t", Some(q)),
                "{q}"
            );
        }
    }
}
