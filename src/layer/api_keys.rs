//! Opaque API keys, as Supabase issues them today: `sb_publishable_…` for
//! the anonymous role, `sb_secret_…` for a role that bypasses Row Level
//! Security. A key is not a token: it names a role and nothing else, so a
//! request that carries one runs as that role with the claims `{"role": …}`.
//!
//! Where one may arrive, and what wins:
//! - `apikey: <key>` alone: the key's role.
//! - `apikey: <key>` and `Authorization: Bearer <a user's JWT>`: the JWT,
//!   verified as ever (the key only says which application is calling).
//! - `Authorization: Bearer <key>` (supabase-js sends its key there when no
//!   user is signed in): the key's role.
//! - A value shaped like Supabase's keys (`sb_…`) that is not a configured
//!   key, in either header: 401 `Invalid API key`. Anything else is
//!   verified as a JWT, with PostgREST's errors when it is not one.
//!
//! The attacks, and what stops them:
//! - **Guessing a key by timing.** Every configured key is compared with the
//!   presented one in constant time ([`subtle`]), all of them on every
//!   request, so neither the position of a match nor the length of a common
//!   prefix shows in the answer's timing. Keys are never logged: the layer's
//!   `Debug` prints how many there are, and the error names no key.
//! - **A secret key shipped to a browser.** A page's scripts are anyone's to
//!   read, so a key of a role that bypasses RLS must never be used from one.
//!   A request that presents a secret key (in either header) and comes from
//!   a browser, by its `Origin` header or a browser's `User-Agent`
//!   (`Mozilla/…`), is 401 `Forbidden use of secret API key in browser`,
//!   whatever else it carries. (A determined client can hide both headers;
//!   the check catches the common mistake, as Supabase's gateway does, and
//!   the key is then to be rotated.)

use http::{Request, header};
use subtle::ConstantTimeEq as _;

use super::keys::invalid_token;
use super::{Claims, DbRole};
use crate::error::Error;

/// One configured key and the role it stands for.
#[derive(Clone)]
pub(super) struct ApiKey {
    key: Box<[u8]>,
    role: DbRole,
    claims: Claims,
    secret: bool,
}

/// Never the key itself: its role and kind only.
impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("role", &self.role.role())
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

impl ApiKey {
    /// `key` standing for `role`; `secret` when the role bypasses RLS (or
    /// the key is one of Supabase's `sb_secret_…`).
    pub(super) fn new(key: &str, role: &str, secret: bool) -> Self {
        let mut claims = serde_json::Map::new();
        claims.insert("role".into(), serde_json::Value::String(role.to_owned()));
        Self {
            key: key.as_bytes().into(),
            role: DbRole::new(role).with_claims(serde_json::Value::Object(claims.clone())),
            claims: Claims::new(claims),
            secret: secret || key.starts_with("sb_secret_"),
        }
    }

    /// The role a request with this key runs as.
    pub(super) fn role(&self) -> &DbRole {
        &self.role
    }

    /// The claims SQL sees for this key (`{"role": …}`).
    pub(super) fn claims(&self) -> &Claims {
        &self.claims
    }
}

/// What a header's value is, against the configured keys.
pub(super) enum Found<'k> {
    /// One of the keys.
    Key(&'k ApiKey),
    /// Shaped like one of Supabase's keys (`sb_…`) but none of them: refused.
    Unknown,
    /// Anything else: verified as a JWT (with PostgREST's errors when it is not one).
    Token,
}

/// Looks `value` up among `keys`, comparing it with each in constant time.
pub(super) fn find<'k>(keys: &'k [ApiKey], value: &str) -> Found<'k> {
    let mut found = None;
    for key in keys {
        if bool::from(key.key.as_ref().ct_eq(value.as_bytes())) {
            found = Some(key);
        }
    }
    match found {
        Some(key) => Found::Key(key),
        None if value.starts_with("sb_") => Found::Unknown,
        None => Found::Token,
    }
}

/// 401 for a value that is neither a key nor a token.
pub(super) fn unknown() -> Error {
    invalid_token("PGRST301", "Invalid API key").with_hint("Double check your `apikey` header.")
}

/// The key, refused when it is secret and `req` comes from a browser.
pub(super) fn allowed<'k, B>(key: &'k ApiKey, req: &Request<B>) -> Result<&'k ApiKey, Error> {
    if key.secret && from_browser(req) {
        return Err(
            invalid_token("PGRST301", "Forbidden use of secret API key in browser").with_hint(
                "Secret API keys are for servers; a browser uses the publishable key (and the user's JWT)",
            ),
        );
    }
    Ok(key)
}

/// Whether `req` looks like a browser's: it names its `Origin`, or its
/// `User-Agent` is a browser's.
fn from_browser<B>(req: &Request<B>) -> bool {
    req.headers().contains_key(header::ORIGIN)
        || req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ua| ua.trim_start().starts_with("Mozilla/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<ApiKey> {
        vec![
            ApiKey::new("sb_publishable_abc", "anon", false),
            ApiKey::new("sb_secret_xyz", "service_role", false),
            ApiKey::new("plain-key", "admin", true),
        ]
    }

    #[test]
    fn keys_are_found_and_others_sorted() {
        let keys = keys();
        assert!(
            matches!(find(&keys, "sb_publishable_abc"), Found::Key(k) if k.role().role() == "anon" && !k.secret)
        );
        assert!(matches!(find(&keys, "sb_secret_xyz"), Found::Key(k) if k.secret));
        assert!(matches!(find(&keys, "plain-key"), Found::Key(k) if k.secret));
        assert!(matches!(find(&keys, "sb_publishable_ab"), Found::Unknown));
        assert!(matches!(find(&keys, "sb_publishable_abcd"), Found::Unknown));
        assert!(matches!(find(&keys, "a.b.c"), Found::Token));
        assert!(matches!(find(&keys, "not-a-token"), Found::Token));
        assert!(matches!(find(&[], "sb_x"), Found::Unknown));
    }

    #[test]
    fn secret_keys_are_refused_from_browsers_only() {
        let keys = keys();
        let Found::Key(secret) = find(&keys, "sb_secret_xyz") else {
            panic!("configured")
        };
        let server = Request::get("/")
            .header("user-agent", "node")
            .body(())
            .unwrap();
        assert!(allowed(secret, &server).is_ok());
        let page = Request::get("/")
            .header("origin", "https://app.example")
            .body(())
            .unwrap();
        let e = allowed(secret, &page).unwrap_err();
        assert_eq!(e.message(), "Forbidden use of secret API key in browser");
        let browser = Request::get("/")
            .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131")
            .body(())
            .unwrap();
        assert!(allowed(secret, &browser).is_err());
        let Found::Key(public) = find(&keys, "sb_publishable_abc") else {
            panic!("configured")
        };
        assert!(allowed(public, &page).is_ok());
        assert!(
            !format!("{secret:?}").contains("xyz"),
            "Debug never shows a key"
        );
    }
}
