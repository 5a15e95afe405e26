//! The crate's one error type and the mapping from an error to an HTTP response.

use std::borrow::Cow;
use std::fmt;

use http::{HeaderName, HeaderValue, StatusCode};

pub(crate) mod codes;
mod render;
pub(crate) use codes::Code;
use codes::sqlstate;
pub use render::{ErrorMapper, PostgRest, Powabase};

/// A boxed error, as tower and hyper use.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, in the terms of the error table; decides the HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request matches several resources (an overloaded function, an ambiguous embedding) (300).
    Ambiguous,
    /// Missing, malformed, expired or wrongly signed credentials (401).
    Unauthorized,
    /// Row Level Security or a privilege refused the operation (403).
    Forbidden,
    /// The table, view or function is not in the exposed schemas, or the path is not one (404).
    NotFound,
    /// The HTTP method is not allowed on this resource, or a write in a read-only transaction (405).
    MethodNotAllowed,
    /// The response cannot be produced in an acceptable media type or shape (406).
    NotAcceptable,
    /// A unique or foreign-key violation (409).
    Conflict,
    /// The request body is larger than the configured limit (413).
    PayloadTooLarge,
    /// The query string is longer than the limit (414).
    UriTooLong,
    /// The request's headers are larger than the limit (431).
    HeadersTooLarge,
    /// The requested range cannot be satisfied (416).
    RangeNotSatisfiable,
    /// Malformed syntax, unknown column, bad body, or a client-side SQLSTATE (422).
    InvalidRequest,
    /// Anything unexpected; the body reveals no internals (500).
    Internal,
    /// The request asks for something this version does not implement yet (501).
    NotImplemented,
    /// No database connection could be had, or the database is down (503).
    Unavailable,
    /// A statement ran past its timeout (504).
    Timeout,
    /// The database raised an error with a status of its own
    /// (`RAISE SQLSTATE 'PT402'`, or `'PGRST'` with a JSON description).
    Custom,
}

impl ErrorKind {
    /// The HTTP status of this kind in the default mapping.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Ambiguous => StatusCode::MULTIPLE_CHOICES,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Self::Conflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::InvalidRequest => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Custom => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The wire `code` of this kind in the default mapping.
    pub fn code(self) -> &'static str {
        match self {
            Self::Ambiguous => "ambiguous",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "rls_denied",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::NotAcceptable => "not_acceptable",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UriTooLong => "uri_too_long",
            Self::HeadersTooLarge => "headers_too_large",
            Self::RangeNotSatisfiable => "range_not_satisfiable",
            Self::InvalidRequest => "invalid_request",
            Self::Internal => "internal",
            Self::NotImplemented => "not_implemented",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Custom => "custom",
        }
    }
}

/// An error answered to the client.
///
/// Every failure, whether the request was malformed, the table is unknown or
/// PostgreSQL refused the statement, becomes an [`Error`]: a value with a
/// [`ErrorKind`], a message, optional details and hint, and, where
/// PostgreSQL raised it, the SQLSTATE. [`Error::to_response`] renders it with
/// the default (Powabase) mapping of the design's error table:
///
/// ```
/// use tower_postgrest::{Error, ErrorKind};
///
/// let err = Error::new(ErrorKind::NotFound, "Could not find the table 'public.nope' in the schema cache");
/// assert_eq!(err.status(), http::StatusCode::NOT_FOUND);
/// assert_eq!(err.code(), "not_found");
/// let body: serde_json::Value = serde_json::from_slice(&err.body_json()).unwrap();
/// assert_eq!(body["code"], "not_found");
/// assert_eq!(body["hint"], serde_json::Value::Null);
/// ```
///
/// Besides its kind it keeps PostgREST's own code for the same condition
/// (`PGRST205`, or the SQLSTATE for database errors) so that a PostgREST-style
/// mapper can speak that dialect.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    postgrest_code: Cow<'static, str>,
    message: String,
    details: Option<serde_json::Value>,
    hint: Option<String>,
    source: Option<BoxError>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// A status and code the database chose (`ErrorKind::Custom`).
    custom: Option<(StatusCode, String)>,
    /// Raised for a request of the anonymous role.
    anonymous: bool,
}

impl Error {
    /// An error of `kind` with a message and no details or hint.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                postgrest_code: Cow::Borrowed(""),
                message: message.into(),
                details: None,
                hint: None,
                source: None,
                headers: Vec::new(),
                custom: None,
                anonymous: false,
            }),
        }
    }

    /// An error of one of PostgREST's [`codes`]: its kind comes from the code.
    pub(crate) fn pgrst(code: Code, message: impl Into<String>) -> Self {
        Self::new(code.kind, message).with_postgrest_code(code.code)
    }

    /// Adds a header to the error response (e.g. `Content-Range` on a 416).
    #[must_use]
    pub(crate) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.inner.headers.push((name, value));
        self
    }

    /// Sets the details shown to the client.
    #[must_use]
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.inner.details = Some(serde_json::Value::String(details.into()));
        self
    }

    /// Sets structured details (PostgREST sends an array for ambiguous embeds).
    #[must_use]
    pub(crate) fn with_details_json(mut self, details: serde_json::Value) -> Self {
        self.inner.details = Some(details);
        self
    }

    /// Sets the hint shown to the client.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.inner.hint = Some(hint.into());
        self
    }

    /// Sets PostgREST's code for this condition (`PGRST100`, a SQLSTATE, ...).
    #[must_use]
    pub fn with_postgrest_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.inner.postgrest_code = code.into();
        self
    }

    /// Attaches the underlying cause, kept for logs and never sent to the client.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The HTTP status in the default mapping.
    pub fn status(&self) -> StatusCode {
        match &self.inner.custom {
            Some((status, _)) => *status,
            None => self.inner.kind.status(),
        }
    }

    /// The wire `code` in the default mapping (`not_found`, `invalid_request`,
    /// or the code a database function chose).
    pub fn code(&self) -> &str {
        match &self.inner.custom {
            Some((_, code)) => code,
            None => self.inner.kind.code(),
        }
    }

    /// PostgREST's code for the same condition: `PGRSTnnn`, or the SQLSTATE of a database error.
    pub fn postgrest_code(&self) -> &str {
        &self.inner.postgrest_code
    }

    /// The message shown to the client.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The details shown to the client, if any.
    pub fn details(&self) -> Option<&str> {
        self.inner
            .details
            .as_ref()
            .and_then(serde_json::Value::as_str)
    }

    /// The hint shown to the client, if any.
    pub fn hint(&self) -> Option<&str> {
        self.inner.hint.as_deref()
    }

    /// The JSON body `{"code","message","details","hint"}` of the default mapping.
    pub fn body_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.body_value()).unwrap_or_default()
    }

    fn body_value(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code(),
            "message": self.inner.message,
            "details": self.inner.details,
            "hint": self.inner.hint,
        })
    }

    /// Marks the error as raised for a request of the anonymous role (PostgREST
    /// answers 42501 with 401 then, and 403 otherwise).
    #[must_use]
    pub(crate) fn for_anonymous(mut self, anonymous: bool) -> Self {
        self.inner.anonymous = anonymous;
        self
    }

    /// Maps an error raised by PostgreSQL (or by the connection to it).
    ///
    /// The SQLSTATE decides the kind, following PostgREST's table with this
    /// crate's departures: 57014 (statement timeout) is a 504, and client-side
    /// errors are 422. Messages of server errors are PostgreSQL's own (they
    /// never contain SQL text); connection errors reveal nothing.
    pub(crate) fn from_pg(err: tokio_postgres::Error) -> Self {
        let Some(db) = err.as_db_error() else {
            let io = std::error::Error::source(&err).is_some_and(|s| s.is::<std::io::Error>());
            if err.is_closed() || io {
                return Self::new(ErrorKind::Unavailable, "Database connection error")
                    .with_details("The database is unavailable; try again later")
                    .with_postgrest_code("PGRST001")
                    .with_source(err);
            }
            return Self::new(ErrorKind::Internal, "Internal database client error")
                .with_postgrest_code("PGRSTX00")
                .with_source(err);
        };
        let fields = DbFields {
            code: db.code().code(),
            message: db.message(),
            detail: db.detail(),
            hint: db.hint(),
        };
        Self::from_db(&fields).with_source(err)
    }

    /// An error PostgreSQL reported, from its fields.
    pub(crate) fn from_db(db: &DbFields<'_>) -> Self {
        if let Some(custom) = Self::raised(db) {
            return custom;
        }
        let (kind, _) = sqlstate(db.code, db.message);
        let mut out = Self::new(kind, db.message).with_postgrest_code(db.code.to_owned());
        out.inner.details = db.detail.map(|d| serde_json::Value::String(d.to_owned()));
        out.inner.hint = db.hint.map(str::to_owned);
        out
    }
}

/// The fields of a PostgreSQL error this crate reads.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DbFields<'a> {
    /// The SQLSTATE.
    pub(crate) code: &'a str,
    pub(crate) message: &'a str,
    pub(crate) detail: Option<&'a str>,
    pub(crate) hint: Option<&'a str>,
}

impl Error {
    /// An error a function raised with a status of its own, as PostgREST reads them:
    /// `RAISE SQLSTATE 'PT402' USING MESSAGE = …` is a 402 with code `PT402`;
    /// `RAISE SQLSTATE 'PGRST' USING MESSAGE = '{"code":…,"message":…,"details":…,"hint":…}',
    /// DETAIL = '{"status":402,"headers":{…}}'` describes the whole response.
    fn raised(db: &DbFields<'_>) -> Option<Self> {
        let state = db.code;
        if let Some(digits) = state.strip_prefix("PT") {
            let status = digits
                .parse::<u16>()
                .ok()
                .and_then(|n| StatusCode::from_u16(n).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut e =
                Self::new(ErrorKind::Custom, db.message).with_postgrest_code(state.to_owned());
            e.inner.details = db.detail.map(|d| serde_json::Value::String(d.to_owned()));
            e.inner.hint = db.hint.map(str::to_owned);
            e.inner.custom = Some((status, state.to_owned()));
            return Some(e);
        }
        if state != "PGRST" {
            return None;
        }
        // PostgREST's words for each way the raise can be malformed.
        const MESSAGE_HINT: &str = "MESSAGE must be a JSON object with obligatory keys: 'code', 'message' and optional keys: 'details', 'hint'.";
        const DETAIL_HINT: &str = "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and optional key: 'status_text'.";
        let malformed = |details: String, hint: &str| {
            Self::new(
                ErrorKind::Internal,
                "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error",
            )
            .with_details(details)
            .with_hint(hint)
            .with_postgrest_code("PGRST121")
        };
        let message: serde_json::Value = match serde_json::from_str(db.message) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            _ => {
                return Some(malformed(
                    format!("Invalid JSON value for MESSAGE: '{}'", db.message),
                    MESSAGE_HINT,
                ));
            }
        };
        let detail: serde_json::Value = match db.detail.map(serde_json::from_str) {
            Some(Ok(v @ serde_json::Value::Object(_))) => v,
            None => {
                return Some(malformed(
                    "DETAIL is missing in the RAISE statement".to_owned(),
                    DETAIL_HINT,
                ));
            }
            Some(_) => {
                return Some(malformed(
                    format!(
                        "Invalid JSON value for DETAIL: '{}'",
                        db.detail.unwrap_or("")
                    ),
                    DETAIL_HINT,
                ));
            }
        };
        let invalid = || {
            malformed(
                "MESSAGE needs \"code\" and \"message\"; DETAIL needs \"status\" and \"headers\""
                    .to_owned(),
                MESSAGE_HINT,
            )
        };
        let (Some(code), Some(text), Some(status), Some(headers)) = (
            message["code"].as_str(),
            message["message"].as_str(),
            detail["status"].as_u64(),
            detail["headers"].as_object(),
        ) else {
            return Some(invalid());
        };
        let Some(status) = u16::try_from(status)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
        else {
            return Some(invalid());
        };
        let mut e = Self::new(ErrorKind::Custom, text).with_postgrest_code(code.to_owned());
        e.inner.details = message["details"]
            .as_str()
            .map(|d| serde_json::Value::String(d.to_owned()));
        e.inner.hint = message["hint"].as_str().map(str::to_owned);
        e.inner.custom = Some((status, code.to_owned()));
        for (name, value) in headers {
            let (Ok(name), Some(Ok(value))) = (
                HeaderName::from_bytes(name.as_bytes()),
                value.as_str().map(HeaderValue::from_str),
            ) else {
                return Some(invalid());
            };
            e.inner.headers.push((name, value));
        }
        Some(e)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("postgrest_code", &self.inner.postgrest_code)
            .field("message", &self.inner.message)
            .field("details", &self.inner.details)
            .field("hint", &self.inner.hint)
            .field("source", &self.inner.source)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.inner.kind.code(), self.inner.message)?;
        if let Some(d) = &self.inner.details {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source.as_deref().map(|e| e as _)
    }
}
