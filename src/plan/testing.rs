//! For the planner's unit tests: the fixture schema (`benches/fixtures/schema.json`,
//! no database needed) and requests parsed and planned against it.

use std::sync::OnceLock;

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::{CallPlan, Plan, PlanKind, ReadPlan, WritePlan, plan};
use crate::config::{Config, Settings};
use crate::error::Error;
use crate::request::{self, ApiRequest};
use crate::schema::Schema;

/// The fixture schema: `items`, `authors`, `reviews`, … and their relationships.
pub(crate) fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        serde_json::from_str(include_str!("../../benches/fixtures/schema.json"))
            .expect("the fixture schema parses")
    })
}

/// The default settings.
pub(crate) fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        Config::for_tests(
            &schema()
                .schemas
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            None,
        )
    })
}

/// A parsed request: `target` is the path and query (`/items?select=id`),
/// `headers` name/value pairs, `body` the JSON body of a write or call.
pub(crate) fn request(
    method: Method,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<ApiRequest, Error> {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
            HeaderValue::from_str(value).expect("a header value"),
        );
    }
    if body.is_some() && !map.contains_key(http::header::CONTENT_TYPE) {
        map.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    let route = request::route(&method, path)?;
    let body = body.map(|b| bytes::Bytes::copy_from_slice(b.as_bytes()));
    request::parse(route, query, &map, body)
}

/// Plans `req` against the fixture schema with the default settings.
pub(crate) fn plan_of(req: &ApiRequest) -> Result<Plan<'_>, Error> {
    super::admit(req, schema(), config())?;
    plan(req, schema(), config())
}

/// The read plan of `plan`; panics (failing the test) for any other kind.
pub(crate) fn read<'p, 'r>(plan: &'p Plan<'r>) -> &'p ReadPlan<'r> {
    match &plan.kind {
        PlanKind::Read(read) => read,
        other => panic!("not a read: {other:?}"),
    }
}

/// Plans `req` against the fixture schema with `config`.
pub(crate) fn plan_with<'r>(req: &'r ApiRequest, config: &'r Config) -> Result<Plan<'r>, Error> {
    plan(req, schema(), config)
}

/// A validated config of `settings` (the fixture's schema is `public`, the default).
pub(crate) fn config_of(settings: Settings) -> Config {
    Config::new(settings).expect("valid settings")
}

/// Plans `method target` (no headers, no body) and returns its error; panics if it plans.
pub(crate) fn plan_error(method: Method, target: &str) -> Error {
    let req = request(method, target, &[], None).expect("the request parses");
    match plan_of(&req) {
        Ok(plan) => panic!("{target} planned: {:?}", plan.kind),
        Err(err) => err,
    }
}

/// The JSON body of `err` in the default mapping (`details` may be structured).
pub(crate) fn error_body(err: &Error) -> serde_json::Value {
    serde_json::from_slice(&err.body_json()).expect("an error body is JSON")
}

/// The write plan of `plan`; panics (failing the test) for any other kind.
pub(crate) fn write<'p, 'r>(plan: &'p Plan<'r>) -> &'p WritePlan<'r> {
    match &plan.kind {
        PlanKind::Write(write) => write,
        other => panic!("not a write: {other:?}"),
    }
}

/// The call plan of `plan`; panics (failing the test) for any other kind.
pub(crate) fn call<'p, 'r>(plan: &'p Plan<'r>) -> &'p CallPlan<'r> {
    match &plan.kind {
        PlanKind::Call(call) => call,
        other => panic!("not a call: {other:?}"),
    }
}

/// [`request`], for a request the test knows to be well-formed.
pub(crate) fn req(
    method: Method,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> ApiRequest {
    request(method, target, headers, body).expect("the request parses")
}
