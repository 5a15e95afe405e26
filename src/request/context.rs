//! `request.headers` and `request.cookies`: the request's headers as the JSON
//! objects SQL reads with `current_setting('request.headers', true)::json`.

use std::borrow::Cow;

use http::header;

use crate::scratch::Scratch;

/// `request.headers` (names lower-cased, `cookie` left out, a repeated name's
/// last value kept) and `request.cookies`, as JSON objects.
///
/// Written straight into one buffer each: this runs for every request, so
/// the headers' buffer is one this thread reuses ([`Scratch`]).
pub(crate) fn headers_json(headers: &http::HeaderMap) -> (Scratch<String>, Cow<'static, str>) {
    let size: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 6)
        .sum();
    let mut text = Scratch::take(String::new);
    // Written as bytes (serde_json writes to `io::Write`), in the same buffer.
    let mut out = std::mem::take(&mut *text).into_bytes();
    out.reserve(size + 2);
    out.push(b'{');
    let mut cookies = serde_json::Map::new();
    for name in headers.keys() {
        let values = headers.get_all(name);
        if name == header::COOKIE {
            for value in values.iter().filter_map(|v| v.to_str().ok()) {
                for pair in value.split(';') {
                    if let Some((k, v)) = pair.split_once('=') {
                        cookies.insert(
                            k.trim().to_owned(),
                            serde_json::Value::String(v.trim().to_owned()),
                        );
                    }
                }
            }
            continue;
        }
        let Some(value) = values.iter().filter_map(|v| v.to_str().ok()).next_back() else {
            continue;
        };
        if out.len() > 1 {
            out.push(b',');
        }
        json_string(&mut out, name.as_str());
        out.push(b':');
        json_string(&mut out, value);
    }
    out.push(b'}');
    let cookies = if cookies.is_empty() {
        Cow::Borrowed("{}")
    } else {
        Cow::Owned(serde_json::Value::Object(cookies).to_string())
    };
    // Only JSON text was written.
    *text = String::from_utf8(out).unwrap_or_else(|_| "{}".into());
    (text, cookies)
}

/// Appends `s` as a JSON string.
fn json_string(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}
