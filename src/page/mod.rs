//! The API page: what a browser gets at the root (`GET /` with an `Accept`
//! that prefers `text/html`), when [`api_page`](crate::RestServiceBuilder::api_page)
//! is on.
//!
//! The page (`api.html`, one file: its script and style inline, the system's
//! fonts, nothing fetched from elsewhere) holds no schema. It asks for a key,
//! keeps it in the tab's `sessionStorage`, and reads the OpenAPI document
//! from the URL it was loaded from, so it shows what that key may see. It is
//! sent with a `Content-Security-Policy` that allows its own script and
//! style by their SHA-256 (computed once, here), requests to its own origin
//! and nothing else: no other script, style, frame, form target or origin.
//! The page itself builds every element with `textContent`, never HTML from
//! the schema or a response, so a table named `<script>` stays text.

use std::sync::OnceLock;

use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method, Response, header};
use sha2::Digest as _;

use crate::body::RestBody;

/// The page.
const PAGE: &str = include_str!("api.html");

/// Whether a request to the root asks for the page: a `GET` whose `Accept`
/// names `text/html` with a quality no other type it names beats (the
/// first named wins a tie), as a browser's navigation does; `*/*` alone, or
/// JSON first, gets the OpenAPI document as before.
pub(crate) fn wanted(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    if method != Method::GET || !matches!(path, "/" | "") {
        return false;
    }
    let mut best: Option<(f32, bool)> = None;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut params = item.split(';');
            let media = params.next().unwrap_or("").trim();
            let q = params
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let html = media.eq_ignore_ascii_case("text/html");
            let named = html
                || media.eq_ignore_ascii_case("application/json")
                || media.eq_ignore_ascii_case("application/openapi+json");
            if named && q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, html));
            }
        }
    }
    best.is_some_and(|(_, html)| html)
}

/// The page's answer, with its security headers.
pub(crate) fn response() -> Response<RestBody> {
    let mut res = Response::new(RestBody::from(PAGE));
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(csp) = HeaderValue::from_str(policy()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    res
}

/// The `Content-Security-Policy`: the page's own script and style, by hash.
fn policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        format!(
            "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; img-src data:; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            hash(inline(PAGE, "script")),
            hash(inline(PAGE, "style")),
        )
    })
}

/// The text inside the page's one `<tag>` element.
fn inline<'p>(page: &'p str, tag: &str) -> &'p str {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    page.split_once(open.as_str())
        .and_then(|(_, rest)| rest.split_once(close.as_str()))
        .map_or("", |(inside, _)| inside)
}

/// A CSP source for `text`: `sha256-` and its digest in base64.
fn hash(text: &str) -> String {
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        wanted(&Method::GET, "/", &headers)
    }

    #[test]
    fn browsers_get_the_page_and_clients_the_document() {
        assert!(accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
        ));
        assert!(accept("text/html"));
        assert!(!accept("*/*"));
        assert!(!accept("application/openapi+json"));
        assert!(!accept("application/json, text/html"));
        assert!(accept("application/json;q=0.5, text/html"));
        assert!(!accept("text/html;q=0"));
        assert!(!wanted(&Method::GET, "/", &HeaderMap::new()));
        let mut html = HeaderMap::new();
        html.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        assert!(!wanted(&Method::GET, "/books", &html));
        assert!(!wanted(&Method::POST, "/", &html));
    }

    #[test]
    fn the_page_is_one_script_and_one_style_and_fetches_nothing() {
        assert_eq!(PAGE.matches("<script").count(), 1);
        assert_eq!(PAGE.matches("<style").count(), 1);
        assert!(!inline(PAGE, "script").is_empty() && !inline(PAGE, "style").is_empty());
        // No URL but the SVG namespace's (a name, never fetched).
        let page = PAGE.replace("'http://www.w3.org/2000/svg'", "");
        for banned in [
            " style=\"",
            "innerHTML",
            "localStorage",
            "eval(",
            "http://",
            "https://",
            " onclick=",
        ] {
            assert!(!page.contains(banned), "the page contains {banned:?}");
        }
        assert!(policy().starts_with("default-src 'none'; script-src 'sha256-"));
    }
}
