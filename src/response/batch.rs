//! A batch's answer: each operation's response as `{"status", "headers",
//! "body"}`, in order.

use http::Response;
use http::header::{self, HeaderValue};

use super::preference_applied;
use crate::body::RestBody;
use crate::error::{Error, ErrorKind};

/// One operation's answer in a batch's: `{"status", "headers", "body"}`,
/// the body as JSON when it is JSON, else as a string; and the bytes of its
/// body. A body of more than `room` bytes is not read: the batch's answer
/// would pass its limit (413).
pub(crate) async fn batch_entry(
    res: Response<RestBody>,
    room: usize,
) -> Result<(serde_json::Value, usize), Error> {
    let (parts, body) = res.into_parts();
    let too_large = || {
        Error::new(
            ErrorKind::PayloadTooLarge,
            "The batch's answer is larger than the limit",
        )
        .with_details(format!(
            "Its operations' answers together may take {} bytes more at this operation",
            room
        ))
        .with_hint("Ask for less in each operation (select, limit), or send fewer operations")
    };
    let bytes = match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, room))
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
        Err(e) => {
            return Err(
                Error::new(ErrorKind::Internal, "Could not read an operation's answer")
                    .with_source(e),
            );
        }
    };
    let mut headers = serde_json::Map::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(serde_json::Value::String(v)) => {
                v.push_str(", ");
                v.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), serde_json::Value::String(value));
            }
        }
    }
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    let text = || serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned());
    let body = if bytes.is_empty() {
        serde_json::Value::Null
    } else if is_json {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| text())
    } else {
        text()
    };
    let answer = serde_json::json!({
        "status": parts.status.as_u16(),
        "headers": headers,
        "body": body,
    });
    Ok((answer, bytes.len()))
}

/// A batch's answer: its operations' answers in order, and
/// `Preference-Applied` for the `tx=` that ended it.
pub(crate) fn batch(
    answers: &[serde_json::Value],
    tx: Option<crate::request::TxEnd>,
) -> Result<Response<RestBody>, Error> {
    let body = serde_json::to_vec(answers).map_err(|e| {
        Error::new(
            crate::error::ErrorKind::Internal,
            "Could not write the batch's answer",
        )
        .with_source(e)
    })?;
    let mut res = Response::new(RestBody::from(body));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Some(tx) = tx {
        preference_applied(&mut res, tx.as_str());
    }
    Ok(res)
}
