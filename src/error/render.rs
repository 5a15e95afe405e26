//! From an [`Error`] to a response: the wire dialects ([`Powabase`], the
//! default, and [`PostgRest`]), any closure as a dialect of its own, and the
//! headers every error response carries.

use std::sync::Arc;

use http::{HeaderName, HeaderValue, Response, StatusCode, header};

use super::{Code, Error, ErrorKind, sqlstate};
use crate::body::RestBody;

impl Error {
    /// Renders the error as a response with the default mapping.
    ///
    /// The response carries the error itself as an `Arc<Error>` extension so
    /// that outer layers can log it or render it again
    /// ([`ErrorMappingLayer`](crate::layer::ErrorMappingLayer)).
    pub fn to_response(self) -> Response<RestBody> {
        let error = Arc::new(self);
        let mut res = Powabase.render(&error);
        res.extensions_mut().insert(error);
        res
    }

    /// Logs a server error, with its cause.
    fn log(&self) {
        if self.status().is_server_error() {
            match &self.inner.source {
                Some(source) => {
                    tracing::error!(code = %self.inner.postgrest_code, error = %source, "{}", self.inner.message)
                }
                None => {
                    tracing::error!(code = %self.inner.postgrest_code, "{}", self.inner.message)
                }
            }
        }
    }

    /// The response of `body` and `status`, with this error's own headers.
    fn response(&self, status: StatusCode, body: serde_json::Value) -> Response<RestBody> {
        let mut res = Response::new(RestBody::from(
            serde_json::to_vec(&body).unwrap_or_default(),
        ));
        *res.status_mut() = status;
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        for (name, value) in &self.inner.headers {
            headers.insert(name.clone(), value.clone());
        }
        if status == StatusCode::UNAUTHORIZED {
            headers
                .entry(header::WWW_AUTHENTICATE)
                .or_insert(HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers
                .entry(header::RETRY_AFTER)
                .or_insert(HeaderValue::from_static("1"));
        }
        res
    }
}

/// Turns an [`Error`] into a response: a wire dialect.
///
/// Two ship, [`Powabase`] (the default) and [`PostgRest`]; any
/// `Fn(&Error) -> Response<RestBody>` closure is one too.
///
/// ```
/// use tower_postgrest::{Error, ErrorKind, ErrorMapper, PostgRest, Powabase};
///
/// let err = Error::new(ErrorKind::NotFound, "Could not find the table 'public.x' in the schema cache")
///     .with_postgrest_code("PGRST205");
/// assert_eq!(Powabase.render(&err).status(), 404);
/// let res = PostgRest.render(&err);
/// assert_eq!(res.headers()["proxy-status"], "PostgREST; error=PGRST205");
/// let custom = |e: &Error| http::Response::new(tower_postgrest::RestBody::from(e.message().to_owned()));
/// assert_eq!(custom.render(&err).status(), 200);
/// ```
pub trait ErrorMapper: Send + Sync + 'static {
    /// The response for `err`.
    fn render(&self, err: &Error) -> Response<RestBody>;
}

impl<F> ErrorMapper for F
where
    F: Fn(&Error) -> Response<RestBody> + Send + Sync + 'static,
{
    fn render(&self, err: &Error) -> Response<RestBody> {
        self(err)
    }
}

/// The default dialect: the design's error table (`not_found`, `invalid_request`,
/// `rls_denied`, …; 422 for client errors).
#[derive(Clone, Copy, Debug, Default)]
pub struct Powabase;

impl ErrorMapper for Powabase {
    fn render(&self, err: &Error) -> Response<RestBody> {
        err.log();
        let mut res = err.response(err.status(), err.body_value());
        // RFC 9209, as PostgREST sends it: clients read the code from it when
        // there is no body (HEAD), and only from a member named PostgREST.
        if let Ok(v) = HeaderValue::from_str(&format!("PostgREST; error={}", err.code())) {
            res.headers_mut()
                .insert(HeaderName::from_static("proxy-status"), v);
        }
        res
    }
}

/// PostgREST's own dialect: its codes (`PGRSTnnn`, SQLSTATEs) and statuses,
/// 42501 as 401 for the anonymous role and 403 otherwise, and its
/// `Proxy-Status`, `WWW-Authenticate` and `Retry-After` headers.
#[derive(Clone, Copy, Debug, Default)]
pub struct PostgRest;

impl ErrorMapper for PostgRest {
    fn render(&self, err: &Error) -> Response<RestBody> {
        err.log();
        let code = if err.inner.postgrest_code.is_empty() {
            err.code().to_owned()
        } else {
            err.inner.postgrest_code.to_string()
        };
        let status = match &err.inner.custom {
            Some((status, _)) => *status,
            None => postgrest_status(&code, &err.inner.message, err.inner.anonymous)
                .unwrap_or_else(|| err.status()),
        };
        let body = serde_json::json!({
            "code": code,
            "message": err.inner.message,
            "details": err.inner.details,
            "hint": err.inner.hint,
        });
        let mut res = err.response(status, body);
        if let Ok(v) = HeaderValue::from_str(&format!("PostgREST; error={code}")) {
            res.headers_mut()
                .insert(HeaderName::from_static("proxy-status"), v);
        }
        res
    }
}

/// PostgREST's status for one of its codes or a SQLSTATE (`POSTGREST.md` §2.2–2.3).
fn postgrest_status(code: &str, message: &str, anonymous: bool) -> Option<StatusCode> {
    let n = match Code::find(code) {
        Some(known) => known.postgrest,
        None if code.starts_with("PGRST") => 400,
        None if code.len() == 5 => match sqlstate(code, message) {
            // PostgREST asks for credentials when the anonymous role is refused.
            (ErrorKind::Forbidden, 403) if code == "42501" && anonymous => 401,
            (_, status) => status,
        },
        None => return None,
    };
    StatusCode::from_u16(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::*;

    #[test]
    fn sqlstates_map_to_kinds() {
        let cases = [
            ("23505", "", ErrorKind::Conflict),
            ("23503", "", ErrorKind::Conflict),
            ("42501", "", ErrorKind::Forbidden),
            ("42P01", "", ErrorKind::NotFound),
            ("42703", "", ErrorKind::InvalidRequest),
            ("22P02", "", ErrorKind::InvalidRequest),
            ("08006", "", ErrorKind::Unavailable),
            ("57P01", "", ErrorKind::Unavailable),
            ("57014", "", ErrorKind::Timeout),
            ("25006", "", ErrorKind::MethodNotAllowed),
            (
                "22023",
                "role \"x\" does not exist",
                ErrorKind::Unauthorized,
            ),
            ("22023", "bad value", ErrorKind::InvalidRequest),
            ("XX000", "", ErrorKind::Internal),
            ("P0004", "", ErrorKind::Internal),
            ("P0001", "", ErrorKind::InvalidRequest),
        ];
        for (state, msg, kind) in cases {
            assert_eq!(sqlstate(state, msg).0, kind, "{state}");
        }
    }

    const KINDS: [ErrorKind; 16] = [
        ErrorKind::UriTooLong,
        ErrorKind::HeadersTooLarge,
        ErrorKind::Ambiguous,
        ErrorKind::Unauthorized,
        ErrorKind::Forbidden,
        ErrorKind::NotFound,
        ErrorKind::MethodNotAllowed,
        ErrorKind::NotAcceptable,
        ErrorKind::Conflict,
        ErrorKind::PayloadTooLarge,
        ErrorKind::RangeNotSatisfiable,
        ErrorKind::InvalidRequest,
        ErrorKind::Internal,
        ErrorKind::NotImplemented,
        ErrorKind::Unavailable,
        ErrorKind::Timeout,
    ];

    fn body(res: Response<RestBody>) -> (StatusCode, http::HeaderMap, serde_json::Value) {
        use http_body::Body as _;
        let (parts, body) = res.into_parts();
        let bytes = match std::pin::pin!(body)
            .poll_frame(&mut std::task::Context::from_waker(std::task::Waker::noop()))
        {
            std::task::Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
            _ => bytes::Bytes::new(),
        };
        (
            parts.status,
            parts.headers,
            serde_json::from_slice(&bytes).unwrap(),
        )
    }

    #[test]
    fn every_kind_in_both_dialects() {
        for kind in KINDS {
            let err = Error::new(kind, "m").with_details("d").with_hint("h");
            let (status, headers, v) = body(Powabase.render(&err));
            assert_eq!(status, kind.status(), "{kind:?}");
            assert_eq!(v["code"], kind.code());
            assert_eq!(
                (
                    v["message"].as_str(),
                    v["details"].as_str(),
                    v["hint"].as_str()
                ),
                (Some("m"), Some("d"), Some("h"))
            );
            assert_eq!(
                headers.contains_key(header::WWW_AUTHENTICATE),
                kind == ErrorKind::Unauthorized
            );
            assert_eq!(
                headers.contains_key(header::RETRY_AFTER),
                kind == ErrorKind::Unavailable
            );
            assert_eq!(
                headers["proxy-status"],
                format!("PostgREST; error={}", kind.code())
            );

            // Without a PostgREST code, the PostgREST dialect keeps the kind's status.
            let (status, headers, v) = body(PostgRest.render(&err));
            assert_eq!(status, kind.status(), "{kind:?}");
            assert_eq!(v["code"], kind.code());
            assert_eq!(
                headers["proxy-status"],
                format!("PostgREST; error={}", kind.code())
            );
        }
    }

    #[test]
    fn postgrest_codes_and_sqlstates() {
        let cases = [
            ("PGRST100", ErrorKind::InvalidRequest, "", false, 400),
            ("PGRST116", ErrorKind::NotAcceptable, "", false, 406),
            ("PGRST205", ErrorKind::NotFound, "", false, 404),
            ("PGRST201", ErrorKind::Ambiguous, "", false, 300),
            ("PGRST301", ErrorKind::Unauthorized, "", false, 401),
            ("PGRST003", ErrorKind::Unavailable, "", false, 504),
            ("23505", ErrorKind::Conflict, "", false, 409),
            ("42501", ErrorKind::Forbidden, "", true, 401),
            ("42501", ErrorKind::Forbidden, "", false, 403),
            ("42703", ErrorKind::InvalidRequest, "", false, 400),
            ("57014", ErrorKind::Timeout, "", false, 500),
            ("P0001", ErrorKind::InvalidRequest, "", false, 400),
            (
                "22023",
                ErrorKind::Unauthorized,
                "role \"x\" does not exist",
                false,
                401,
            ),
            ("08006", ErrorKind::Unavailable, "", false, 503),
        ];
        for (code, kind, message, anonymous, status) in cases {
            let err = Error::new(kind, message)
                .with_postgrest_code(code)
                .for_anonymous(anonymous);
            let (got, headers, v) = body(PostgRest.render(&err));
            assert_eq!(got.as_u16(), status, "{code}");
            assert_eq!(v["code"], code);
            assert_eq!(headers["proxy-status"], format!("PostgREST; error={code}"));
            assert_eq!(
                headers.contains_key(header::WWW_AUTHENTICATE),
                status == 401,
                "{code}"
            );
        }
    }

    #[test]
    fn every_code_once_with_its_statuses() {
        let mut names: Vec<&str> = codes::ALL.iter().map(|c| c.code).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), codes::ALL.len());
        for code in codes::ALL {
            let err = Error::pgrst(*code, "m");
            assert_eq!(err.kind(), code.kind, "{}", code.code);
            let (status, _, v) = body(PostgRest.render(&err));
            assert_eq!(status.as_u16(), code.postgrest, "{}", code.code);
            assert_eq!(v["code"], code.code);
            let (status, _, v) = body(Powabase.render(&err));
            assert_eq!(status, code.kind.status(), "{}", code.code);
            assert_eq!(v["code"], code.kind.code());
        }
    }

    #[test]
    fn response_has_json_body_and_headers() {
        let res = Error::new(ErrorKind::Unavailable, "down").to_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[header::RETRY_AFTER], "1");
        assert!(res.extensions().get::<Arc<Error>>().is_some());
    }
}
