//! Tokens: where a request carries one (`Authorization: Bearer`, `apikey`,
//! a cookie), and the bounded cache of tokens already verified.

use std::collections::{HashMap, VecDeque};

use http::{Method, Request, header};

use super::Claims;
use super::keys::invalid_token;
use crate::error::{Error, ErrorKind};

/// A bounded map from token to its signature-verified claims, evicting the oldest.
#[derive(Default)]
pub(super) struct Cache {
    pub(super) capacity: usize,
    /// Claims, and the key generation that verified them.
    map: HashMap<String, (Claims, u64)>,
    order: VecDeque<String>,
}

impl Cache {
    /// An empty cache of at most `capacity` tokens.
    /// How many tokens it holds.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ..Self::default()
        }
    }

    /// The claims of `token` if it was verified by keys of `generation`.
    pub(super) fn get(&self, token: &str, generation: u64) -> Option<Claims> {
        match self.map.get(token) {
            Some((claims, g)) if *g == generation => Some(claims.clone()),
            _ => None,
        }
    }

    pub(super) fn insert(&mut self, token: &str, claims: Claims, generation: u64) {
        if let Some(entry) = self.map.get_mut(token) {
            *entry = (claims, generation);
            return;
        }
        if self.capacity == 0 {
            return;
        }
        while self.map.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
        self.order.push_back(token.to_owned());
        self.map.insert(token.to_owned(), (claims, generation));
    }
}

/// The value of the cookie `name` (the first, if sent twice), if not empty.
pub(super) fn cookie_of<'r, B>(req: &'r Request<B>, name: &str) -> Option<&'r str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// The token of a request: `Authorization: Bearer …` first, else `apikey`.
pub(super) fn token_of<B>(req: &Request<B>) -> Result<Option<&str>, Error> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| invalid_token("PGRST301", "The Authorization header is not valid text"))?;
        let mut parts = value.splitn(2, ' ');
        let scheme = parts.next().unwrap_or("");
        if scheme.eq_ignore_ascii_case("bearer") {
            let token = parts.next().unwrap_or("").trim();
            if token.is_empty() {
                return Err(invalid_token(
                    "PGRST301",
                    "Empty JWT is sent in Authorization header",
                ));
            }
            return Ok(Some(token));
        }
    }
    match req.headers().get("apikey") {
        Some(v) => {
            let token = v
                .to_str()
                .map_err(|_| invalid_token("PGRST301", "The apikey header is not valid text"))?
                .trim();
            Ok((!token.is_empty()).then_some(token))
        }
        None => Ok(None),
    }
}

/// Whether a token from a cookie may be used for `req`: only on requests
/// another site cannot make without a CORS preflight (see
/// [`JwtAuthLayer::cookie`](super::JwtAuthLayer::cookie)), and, when the
/// request names its `Origin`, from the server's own origin or one of
/// `origins`.
///
/// The attack: a page on another site sends `fetch(api, {method: "POST",
/// mode: "no-cors", credentials: "include", body: "[…]"})`, or submits a
/// form; the browser adds the cookie and sends the request without asking
/// the server first. Its answer is hidden from the page, but what it
/// wrote stays written.
pub(super) fn cookie_allowed<B>(req: &Request<B>, origins: &[String]) -> Result<(), Error> {
    let refused = |why: &str| {
        Error::new(
            ErrorKind::Forbidden,
            format!("The token from the cookie is not accepted {why}"),
        )
        .with_hint("Send the token in the Authorization header, or send JSON")
    };
    // Methods a page can use without a preflight.
    let simple_method = matches!(*req.method(), Method::POST);
    if simple_method {
        let content_type = crate::request::content_media_type(req.headers());
        let form_type = match content_type.as_deref() {
            None | Some("") => true,
            Some(t) => matches!(
                t,
                "text/plain" | "application/x-www-form-urlencoded" | "multipart/form-data"
            ),
        };
        if form_type {
            return Err(refused(
                "on a POST another site could send (no Content-Type, text/plain, a form or multipart)",
            ));
        }
    }
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("null").trim();
    if origins
        .iter()
        .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return Ok(());
    }
    // The server's own origin: the host the request was sent to.
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let own = match (origin.split_once("://"), host) {
        (Some((_, origin_host)), Some(host)) => origin_host.eq_ignore_ascii_case(host),
        _ => false,
    };
    if own {
        return Ok(());
    }
    Err(refused(
        "from another site's page (its Origin is neither this server nor an allowed one)",
    ))
}
