//! Batches (beyond PostgREST): `POST /` with a JSON array of operations,
//! each `{"method", "path", "headers", "body"}`, parsed here into the parts
//! and body of a request of their own.

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};

use crate::error::{Error, ErrorKind};

/// One operation of a batch.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Operation {
    method: String,
    path: String,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    body: Option<serde_json::Value>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidRequest, message)
}

/// A batch is sent as `application/json`, whatever else a table takes: a
/// page on another site can send `text/plain` or a form without asking the
/// server first, and a batch does anything any of its operations does.
/// Checked before the body is read.
pub(crate) fn check_batch_media(headers: &http::HeaderMap) -> Result<(), Error> {
    let media = super::content_media_type(headers);
    match media.as_deref() {
        Some("application/json") => Ok(()),
        other => Err(invalid(format!(
            "Content-Type not acceptable: {}",
            other.unwrap_or("none")
        ))
        .with_hint("A batch is sent as application/json")),
    }
}

/// The operations of a batch's body: at least one, at most `limit`.
pub(crate) fn parse_batch(body: &[u8], limit: usize) -> Result<Vec<Operation>, Error> {
    let ops: Vec<Operation> = serde_json::from_slice(body).map_err(|e| {
        invalid("A batch is a JSON array of operations")
            .with_details(e.to_string())
            .with_hint(
                r#"Each operation is {"method": "POST", "path": "/table", "headers": {…}, "body": …}"#,
            )
    })?;
    if ops.is_empty() {
        return Err(invalid("A batch needs at least one operation"));
    }
    if ops.len() > limit {
        return Err(invalid(format!(
            "The batch has {} operations, more than the limit of {limit}",
            ops.len()
        )));
    }
    Ok(ops)
}

impl Operation {
    /// The operation as a request of its own: the batch's headers
    /// (credentials, profiles) under the operation's own, and its body
    /// (JSON, or a string sent as is under a non-JSON `Content-Type`).
    pub(crate) fn request(
        &self,
        outer: &http::HeaderMap,
    ) -> Result<(http::request::Parts, Bytes), Error> {
        let method = http::Method::from_bytes(self.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| invalid(format!("{:?} is not an HTTP method", self.method)))?;
        if !self.path.starts_with('/') {
            return Err(invalid("An operation's path starts with /"));
        }
        let uri: http::Uri = self
            .path
            .parse()
            .map_err(|_| invalid("An operation's path is not a valid URI path"))?;
        let mut headers = outer.clone();
        for name in [
            header::CONTENT_LENGTH,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("prefer"),
        ] {
            headers.remove(name);
        }
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("{name:?} is not a header name")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| invalid(format!("The {name} header is not valid")))?;
            headers.insert(name, value);
        }
        let json = match headers.get(header::CONTENT_TYPE) {
            Some(ct) => ct.to_str().is_ok_and(|ct| ct.contains("json")),
            None => {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                true
            }
        };
        let (mut parts, ()) = http::Request::builder()
            .method(method)
            .uri(uri)
            .body(())
            .map_err(|_| invalid("The operation is not a valid request"))?
            .into_parts();
        parts.headers = headers;
        let body = match &self.body {
            None => Bytes::new(),
            Some(serde_json::Value::String(text)) if !json => Bytes::from(text.clone()),
            Some(value) => Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
        };
        Ok((parts, body))
    }

    /// The operation's failure, with its index and request in the details.
    pub(crate) fn failed(&self, index: usize, e: Error) -> Error {
        let what = format!(
            "Operation {index} of the batch ({} {})",
            self.method, self.path
        );
        let details = match e.details() {
            Some(d) => format!("{what}: {d}"),
            None => what,
        };
        e.with_details(details)
    }
}
