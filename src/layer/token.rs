//! Tokens: where a request carries one (`Authorization: Bearer`, `apikey`,
//! a cookie), and the bounded cache of tokens already verified.

use std::collections::{HashMap, VecDeque};

use http::{Request, header};

use super::Claims;
use super::keys::invalid_token;
use crate::error::Error;

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
