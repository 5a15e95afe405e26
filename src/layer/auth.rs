//! [`JwtAuthLayer`]: verifies the request's JWT and inserts its [`Claims`].
//!
//! The token comes from `Authorization: Bearer <jwt>` or, when there is none,
//! from the `apikey` header (supabase clients send both). A valid token's
//! claims go into the request's extensions for [`SetRoleLayer`](super::SetRoleLayer);
//! a request without a token passes through untouched (the anonymous role, if
//! any, applies); a bad token is answered with 401 and never reaches the inner
//! service.
//!
//! ```
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_postgrest::layer::{Claims, JwtAuthLayer};
//! use tower_postgrest::RestBody;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = "a-development-secret-of-32-chars!";
//! let token = jsonwebtoken::encode(
//!     &jsonwebtoken::Header::default(),
//!     &serde_json::json!({"role": "authenticated", "sub": "42"}),
//!     &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
//! )?;
//! let svc = ServiceBuilder::new()
//!     .layer(JwtAuthLayer::secret(secret)?)
//!     .service_fn(|req: http::Request<()>| async move {
//!         let sub = req.extensions().get::<Claims>().and_then(|c| c.get("sub")).cloned();
//!         Ok::<_, std::convert::Infallible>(http::Response::new(RestBody::from(sub.unwrap().to_string())))
//!     });
//! let req = http::Request::get("/").header("authorization", format!("Bearer {token}")).body(())?;
//! assert_eq!(svc.clone().oneshot(req).await?.status(), 200);
//! let bad = http::Request::get("/").header("authorization", "Bearer nope").body(())?;
//! assert_eq!(svc.oneshot(bad).await?.status(), 401);
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use base64::Engine as _;
use http::{Request, Response};

use jsonwebtoken::{Algorithm, DecodingKey};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::api_keys::{self, ApiKey, Found};
use super::keys::{Key, KeySet, config_error, invalid_token, parse_jwks, verify_signature};
use super::token::{Cache, cookie_allowed, cookie_of, token_of};
use super::{Claims, DbRole, ResponseFuture};
use crate::body::RestBody;
use crate::error::Error;

/// Clock skew allowed on `exp`, `nbf` and `iat`, as PostgREST allows.
const LEEWAY_SECS: u64 = 30;

/// Verified tokens kept by default (PostgREST's `jwt-cache-max-entries`).
const DEFAULT_CACHE_SIZE: usize = 1000;

/// The current [`KeySet`], where a new one comes from, and fixed keys that
/// verify beside a URL's (a project moving from a shared secret to the
/// asymmetric keys it publishes trusts both for a while).
pub(super) struct Keys {
    current: Arc<ArcSwap<KeySet>>,
    #[cfg(feature = "jwks-url")]
    remote: Option<Arc<super::jwks::Remote>>,
    /// Fixed keys kept beside a URL's; empty otherwise.
    beside: Vec<Key>,
}

impl Keys {
    fn fixed(keys: Vec<Key>) -> Self {
        Self {
            current: Arc::new(ArcSwap::from_pointee(KeySet {
                keys,
                generation: 0,
            })),
            #[cfg(feature = "jwks-url")]
            remote: None,
            beside: Vec::new(),
        }
    }

    #[cfg(feature = "jwks-url")]
    fn remote(remote: Arc<super::jwks::Remote>, beside: Vec<Key>) -> Self {
        Self {
            current: Arc::clone(&remote.keys),
            remote: Some(remote),
            beside,
        }
    }
}

/// Configuration of [`JwtAuth`]; see the [module docs](self).
struct Config {
    keys: Arc<Keys>,
    audience: Option<String>,
    cache: Option<Mutex<Cache>>,
    /// Insert a [`JwtTiming`](super::JwtTiming) into each request.
    timing: bool,
    /// Every request needs an `apikey` that verifies.
    require_apikey: bool,
    /// The cookie that carries the token when no header does.
    cookie: Option<String>,
    /// Other origins whose pages may use the cookie token.
    cookie_origins: Vec<String>,
    /// Opaque API keys and their roles.
    api_keys: Vec<ApiKey>,
}

/// The layer of [`JwtAuth`]; see the [module docs](self).
#[derive(Clone)]
pub struct JwtAuthLayer {
    config: Arc<Config>,
}

impl fmt::Debug for JwtAuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthLayer")
            .field("keys", &self.config.keys.current.load().keys.len())
            .field("audience", &self.config.audience)
            .field("api_keys", &self.config.api_keys.len())
            .finish_non_exhaustive()
    }
}

impl JwtAuthLayer {
    fn from_keys(keys: Vec<Key>) -> Self {
        Self::from_key_source(Arc::new(Keys::fixed(keys)))
    }

    fn from_key_source(keys: Arc<Keys>) -> Self {
        Self {
            config: Arc::new(Config {
                keys,
                audience: None,
                cache: Some(Mutex::new(Cache::new(DEFAULT_CACHE_SIZE))),
                timing: false,
                require_apikey: false,
                cookie: None,
                cookie_origins: Vec::new(),
                api_keys: Vec::new(),
            }),
        }
    }

    /// PostgREST's `jwt-secret`: an HMAC secret of at least 32 characters
    /// (HS256, HS384, HS512), or a JSON JWK or JWKS document.
    pub fn secret(secret: &str) -> Result<Self, Error> {
        let trimmed = secret.trim_start();
        if trimmed.starts_with('{') {
            return Self::jwks(trimmed);
        }
        if secret.chars().count() < 32 {
            return Err(config_error(
                "The JWT secret must be at least 32 characters long",
            ));
        }
        Ok(Self::hmac(secret.as_bytes()))
    }

    /// PostgREST's `jwt-secret` with `jwt-secret-is-base64 = true`.
    pub fn secret_base64(secret: &str) -> Result<Self, Error> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(secret.trim())
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(secret.trim()))
            .map_err(|_| config_error("The JWT secret is not valid base64"))?;
        if bytes.len() < 32 {
            return Err(config_error(
                "The JWT secret must be at least 32 bytes long",
            ));
        }
        Ok(Self::hmac(&bytes))
    }

    fn hmac(secret: &[u8]) -> Self {
        Self::from_keys(vec![Key {
            kid: None,
            algorithms: vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512],
            key: DecodingKey::from_secret(secret),
        }])
    }

    /// An RSA public key in PEM form (RS256/384/512, PS256/384/512).
    pub fn rsa_pem(pem: &[u8]) -> Result<Self, Error> {
        let key = DecodingKey::from_rsa_pem(pem)
            .map_err(|e| config_error("Invalid RSA public key").with_source(e))?;
        Ok(Self::from_keys(vec![Key {
            kid: None,
            algorithms: vec![
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ],
            key,
        }]))
    }

    /// An EC public key in PEM form (ES256, ES384).
    pub fn ec_pem(pem: &[u8]) -> Result<Self, Error> {
        let key = DecodingKey::from_ec_pem(pem)
            .map_err(|e| config_error("Invalid EC public key").with_source(e))?;
        Ok(Self::from_keys(vec![Key {
            kid: None,
            algorithms: vec![Algorithm::ES256, Algorithm::ES384],
            key,
        }]))
    }

    /// A JWK, or a JWKS document (`{"keys": [...]}`): a token with a `kid` is
    /// checked against that key only; one without is tried against each.
    pub fn jwks(json: &str) -> Result<Self, Error> {
        let keys = parse_jwks(json)?;
        if keys.is_empty() {
            return Err(config_error("The JWKS document has no usable key"));
        }
        Ok(Self::from_keys(keys))
    }

    /// Keys from a JWKS URL that rotate (an identity provider's
    /// `/.well-known/jwks.json`): read now (an error if the URL does not answer
    /// with a usable key set), then again every
    /// [`jwks_refresh`](Self::jwks_refresh) (5 minutes by default, sooner when
    /// the answer's `Cache-Control: max-age` says so, asked with
    /// `If-None-Match`/`If-Modified-Since`), and as soon as a token names a
    /// `kid` no current key has (at most once per
    /// [`jwks_min_refetch`](Self::jwks_min_refetch); that request waits for
    /// the answer). A key the provider removed stops verifying, cached
    /// verifications included; a failed refresh keeps the current keys.
    ///
    /// The URL must be `https` (verified against the system's roots), or
    /// `http` to a loopback host. Call it inside a Tokio runtime: a task keeps
    /// the keys fresh until the last layer and service holding them is dropped.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), tower_postgrest::Error> {
    /// use std::time::Duration;
    /// use tower_postgrest::layer::JwtAuthLayer;
    ///
    /// let auth = JwtAuthLayer::jwks_url("https://example.com/.well-known/jwks.json")
    ///     .await?
    ///     .jwks_refresh(Duration::from_secs(600));
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "jwks-url")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwks-url")))]
    pub async fn jwks_url(url: &str) -> Result<Self, Error> {
        super::jwks::connect(url)
            .await
            .map(|remote| Self::from_key_source(Arc::new(Keys::remote(remote, Vec::new()))))
    }

    /// Adds the keys of a JWKS URL (see [`jwks_url`](Self::jwks_url)) to
    /// this layer's own (a secret, a PEM key, a JWK or JWKS document):
    /// tokens signed by either verify. The URL's keys rotate as they do
    /// alone; this layer's stay as they are. For a project that keeps its
    /// legacy shared secret while it moves to the asymmetric keys it
    /// publishes.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), tower_postgrest::Error> {
    /// use tower_postgrest::layer::JwtAuthLayer;
    ///
    /// let auth = JwtAuthLayer::secret("the legacy secret of at least 32 characters")?
    ///     .and_jwks_url("https://example.com/auth/v1/.well-known/jwks.json")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "jwks-url")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwks-url")))]
    pub async fn and_jwks_url(mut self, url: &str) -> Result<Self, Error> {
        let remote = super::jwks::connect(url).await?;
        let mine = &self.config.keys;
        let mut beside = mine.current.load().keys.clone();
        beside.extend(mine.beside.iter().cloned());
        self.config_mut().keys = Arc::new(Keys::remote(remote, beside));
        Ok(self)
    }

    /// How often keys from [`jwks_url`](Self::jwks_url) are read again
    /// (PGRST_JWT_JWKS_REFRESH in the demo; default 5 minutes). No effect on
    /// fixed keys.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), tower_postgrest::Error> {
    /// let auth = tower_postgrest::layer::JwtAuthLayer::jwks_url("https://example.com/jwks.json")
    ///     .await?
    ///     .jwks_refresh(std::time::Duration::from_secs(60));
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "jwks-url")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwks-url")))]
    #[must_use]
    pub fn jwks_refresh(self, every: std::time::Duration) -> Self {
        if let Some(remote) = &self.config.keys.remote {
            remote.set_refresh(every);
        }
        self
    }

    /// The least time between the fetches that tokens with unknown `kid`s
    /// cause (default 10 seconds), so made-up `kid`s cannot flood the identity
    /// provider; a token with an unknown `kid` inside that time is 401. No
    /// effect on fixed keys.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), tower_postgrest::Error> {
    /// let auth = tower_postgrest::layer::JwtAuthLayer::jwks_url("https://example.com/jwks.json")
    ///     .await?
    ///     .jwks_min_refetch(std::time::Duration::from_secs(30));
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "jwks-url")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwks-url")))]
    #[must_use]
    pub fn jwks_min_refetch(self, every: std::time::Duration) -> Self {
        if let Some(remote) = &self.config.keys.remote {
            remote.set_min_refetch(every);
        }
        self
    }

    /// Requires the `aud` claim to be (or, as an array, contain) `audience`
    /// (PostgREST's `jwt-aud`). Without it, `aud` is not checked.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.config_mut().audience = Some(audience.into());
        self
    }

    /// Measures each token's verification and passes it on as a
    /// [`JwtTiming`](super::JwtTiming) request extension, for
    /// [`RestServiceBuilder::server_timing`](crate::RestServiceBuilder::server_timing)'s
    /// `jwt` entry. Off by default (an extension per request).
    ///
    /// ```
    /// let auth = tower_postgrest::layer::JwtAuthLayer::secret("a secret of at least 32 characters!!")
    ///     .unwrap()
    ///     .server_timing(true);
    /// ```
    #[must_use]
    pub fn server_timing(mut self, on: bool) -> Self {
        self.config_mut().timing = on;
        self
    }

    /// Requires every request to carry an `apikey` header that verifies as
    /// one of the keys (signature, expiry, audience), whatever its
    /// `Authorization`, as Supabase's gateway does: a request without one is
    /// 401 "No API key found in request", one whose key does not verify 401
    /// "Invalid API key". The Bearer token, when present, still decides the
    /// role. Off by default, for PostgREST clients that send only
    /// `Authorization`.
    ///
    /// ```
    /// let auth = tower_postgrest::layer::JwtAuthLayer::secret("a secret of at least 32 characters!!")
    ///     .unwrap()
    ///     .require_apikey(true);
    /// ```
    #[must_use]
    pub fn require_apikey(mut self, on: bool) -> Self {
        self.config_mut().require_apikey = on;
        self
    }

    /// Reads the token from the cookie `name` when neither `Authorization:
    /// Bearer` nor `apikey` carries one (browser apps that keep the session
    /// in a cookie; `PGRST_JWT_COOKIE` in the demo). The headers win when
    /// both are present. The token is never logged.
    ///
    /// A browser sends cookies with requests other sites make, so a cookie
    /// token is honoured only on requests no other site can make without
    /// the server's consent (a CORS preflight): `GET`, `HEAD` and `OPTIONS`
    /// (which read, and whose answers the browser keeps from the other
    /// site), `PUT`, `PATCH` and `DELETE` (always preflighted), and a `POST`
    /// whose `Content-Type` is not one a form can send (JSON, say). A `POST`
    /// of `text/plain`, a form or multipart, or of no type at all, is 403
    /// with a cookie token (the same request with `Authorization: Bearer`
    /// is not). And when the request names its `Origin`, that origin must
    /// be the server's own (its `Host`) or one of
    /// [`cookie_origins`](Self::cookie_origins).
    ///
    /// ```
    /// let auth = tower_postgrest::layer::JwtAuthLayer::secret("a secret of at least 32 characters!!")
    ///     .unwrap()
    ///     .cookie("sb-access-token");
    /// ```
    #[must_use]
    pub fn cookie(mut self, name: impl Into<String>) -> Self {
        self.config_mut().cookie = Some(name.into());
        self
    }

    /// Other origins whose pages may use the cookie token
    /// ([`cookie`](Self::cookie)), as `scheme://host[:port]`: those the CORS
    /// layer allows (`PGRST_SERVER_CORS_ALLOWED_ORIGINS` in the demo).
    ///
    /// ```
    /// let auth = tower_postgrest::layer::JwtAuthLayer::secret("a secret of at least 32 characters!!")
    ///     .unwrap()
    ///     .cookie("sb-access-token")
    ///     .cookie_origins(["https://app.example.com"]);
    /// ```
    #[must_use]
    pub fn cookie_origins(mut self, origins: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.config_mut().cookie_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// An opaque API key (Supabase's `sb_publishable_…`, `sb_secret_…`)
    /// that stands for `role`: a request whose `apikey` (or `Authorization:
    /// Bearer`) is `key` runs as `role`, with the claims `{"role": role}`,
    /// unless `Authorization` carries a user's JWT, which wins. A key that
    /// starts with `sb_secret_` is a secret key: refused (401) on a request
    /// from a browser. Keys are compared in constant time and never logged;
    /// an `sb_…` value in either header that is not a key is 401 `Invalid
    /// API key`. The attacks considered are written in
    /// `src/layer/api_keys.rs`.
    ///
    /// ```
    /// let auth = tower_postgrest::layer::JwtAuthLayer::secret("a secret of at least 32 characters!!")
    ///     .unwrap()
    ///     .api_key("sb_publishable_4Yx9…", "anon")
    ///     .api_key("sb_secret_Jq2w…", "service_role");
    /// ```
    #[must_use]
    pub fn api_key(mut self, key: impl AsRef<str>, role: impl AsRef<str>) -> Self {
        let key = ApiKey::new(key.as_ref(), role.as_ref(), false);
        self.config_mut().api_keys.push(key);
        self
    }

    /// A secret API key of any shape: as [`api_key`](Self::api_key), and
    /// refused from browsers whatever its prefix (for a key of a role that
    /// bypasses Row Level Security).
    ///
    /// ```
    /// let auth = tower_postgrest::layer::JwtAuthLayer::secret("a secret of at least 32 characters!!")
    ///     .unwrap()
    ///     .secret_api_key("internal-batch-job-key-8f3a…", "service_role");
    /// ```
    #[must_use]
    pub fn secret_api_key(mut self, key: impl AsRef<str>, role: impl AsRef<str>) -> Self {
        let key = ApiKey::new(key.as_ref(), role.as_ref(), true);
        self.config_mut().api_keys.push(key);
        self
    }

    /// How many verified tokens to keep (default 1000; 0 disables the cache).
    /// Expiry is still checked on every request.
    #[must_use]
    pub fn cache_size(mut self, entries: usize) -> Self {
        self.config_mut().cache = (entries > 0).then(|| Mutex::new(Cache::new(entries)));
        self
    }

    fn config_mut(&mut self) -> &mut Config {
        if Arc::get_mut(&mut self.config).is_none() {
            let c = &self.config;
            self.config = Arc::new(Config {
                keys: Arc::clone(&c.keys),
                audience: c.audience.clone(),
                cache: c.cache.as_ref().map(|m| {
                    Mutex::new(Cache::new(
                        m.lock().map(|c| c.capacity).unwrap_or(DEFAULT_CACHE_SIZE),
                    ))
                }),
                timing: c.timing,
                require_apikey: c.require_apikey,
                cookie: c.cookie.clone(),
                cookie_origins: c.cookie_origins.clone(),
                api_keys: c.api_keys.clone(),
            });
        }
        Arc::get_mut(&mut self.config).expect("just made unique")
    }
}

impl<S> Layer<S> for JwtAuthLayer {
    type Service = JwtAuth<S>;

    fn layer(&self, inner: S) -> JwtAuth<S> {
        JwtAuth {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// Verifies the request's JWT; see the [module docs](self).
#[derive(Clone)]
pub struct JwtAuth<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S: fmt::Debug> fmt::Debug for JwtAuth<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuth")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S> JwtAuth<S> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, by value.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl Config {
    /// The request's `apikey`, present and verified as one of the keys.
    fn check_apikey<B>(&self, req: &Request<B>) -> Result<(), Error> {
        let key = req
            .headers()
            .get("apikey")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty());
        let Some(key) = key else {
            return Err(invalid_token("PGRST301", "No API key found in request")
                .with_hint("No `apikey` request header was found."));
        };
        if !self.api_keys.is_empty() {
            match api_keys::find(&self.api_keys, key) {
                Found::Key(k) => return api_keys::allowed(k, req).map(drop),
                Found::Unknown => return Err(api_keys::unknown()),
                Found::Token => {}
            }
        }
        self.verify(key).map(drop).map_err(|_| {
            invalid_token("PGRST301", "Invalid API key")
                .with_hint("Double check your `apikey` header.")
        })
    }

    /// What to do with `req`: pass it on with its token's claims (or none),
    /// reject it, or (`may_refetch`, a JWKS URL, a `kid` no current key has)
    /// fetch the keys again and then decide.
    fn verdict<B>(&self, req: &Request<B>, may_refetch: bool) -> Verdict {
        #[cfg(not(feature = "jwks-url"))]
        let _ = may_refetch;
        if !self.api_keys.is_empty() {
            // An opaque `apikey` is checked even when a user's JWT wins.
            if let Some(apikey) = req.headers().get("apikey").and_then(|v| v.to_str().ok()) {
                match api_keys::find(&self.api_keys, apikey.trim()) {
                    Found::Key(k) => {
                        if let Err(e) = api_keys::allowed(k, req) {
                            return Verdict::Reject(e);
                        }
                    }
                    Found::Unknown => return Verdict::Reject(api_keys::unknown()),
                    Found::Token => {}
                }
            }
        }
        let token = match token_of(req) {
            Ok(Some(token)) if !self.api_keys.is_empty() => {
                match api_keys::find(&self.api_keys, token) {
                    Found::Key(k) => {
                        return match api_keys::allowed(k, req) {
                            Ok(k) => Verdict::Key(k.role().clone(), k.claims().clone()),
                            Err(e) => Verdict::Reject(e),
                        };
                    }
                    Found::Unknown => return Verdict::Reject(api_keys::unknown()),
                    Found::Token => token,
                }
            }
            Ok(Some(token)) => token,
            Ok(None) => match self.cookie.as_deref().and_then(|name| cookie_of(req, name)) {
                Some(token) => match cookie_allowed(req, &self.cookie_origins) {
                    Ok(()) => token,
                    Err(e) => return Verdict::Reject(e),
                },
                None => return Verdict::Pass(None),
            },
            Err(e) => return Verdict::Reject(e),
        };
        match self.verify(token) {
            Ok(claims) => Verdict::Pass(Some(claims)),
            #[cfg(feature = "jwks-url")]
            Err(_)
                if may_refetch
                    && self
                        .keys
                        .remote
                        .as_ref()
                        .is_some_and(|r| super::jwks::wants_refetch(r, token)) =>
            {
                Verdict::Refetch
            }
            Err(e) => Verdict::Reject(e),
        }
    }

    /// Verifies `token`'s signature (or finds it in the cache) and checks its claims.
    fn verify(&self, token: &str) -> Result<Claims, Error> {
        let set = self.keys.current.load();
        let cached = self
            .cache
            .as_ref()
            .and_then(|c| c.lock().ok().and_then(|c| c.get(token, set.generation)));
        let claims = match cached {
            Some(claims) => claims,
            None => {
                let verified = match verify_signature(&set.keys, token) {
                    Err(e) if !self.keys.beside.is_empty() => {
                        verify_signature(&self.keys.beside, token).map_err(|_| e)
                    }
                    other => other,
                };
                let claims = Claims::new(verified?);
                if let Some(cache) = &self.cache {
                    if let Ok(mut cache) = cache.lock() {
                        cache.insert(token, claims.clone(), set.generation);
                    }
                }
                claims
            }
        };
        self.check_claims(claims.as_map())?;
        Ok(claims)
    }

    fn check_claims(
        &self,
        claims: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0) as f64;
        let leeway = LEEWAY_SECS as f64;
        let time = |name: &str| -> Result<Option<f64>, Error> {
            match claims.get(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(v) => v.as_f64().map(Some).ok_or_else(|| {
                    invalid_token(
                        "PGRST303",
                        &format!("The JWT '{name}' claim must be a number"),
                    )
                }),
            }
        };
        if let Some(exp) = time("exp")? {
            if now - leeway >= exp {
                return Err(invalid_token("PGRST303", "JWT expired"));
            }
        }
        if let Some(nbf) = time("nbf")? {
            if now + leeway < nbf {
                return Err(invalid_token("PGRST303", "JWT not yet valid"));
            }
        }
        if let Some(iat) = time("iat")? {
            if now + leeway < iat {
                return Err(invalid_token("PGRST303", "JWT issued at future"));
            }
        }
        // `aud` must be well-formed even when no audience is configured.
        let aud = claims.get("aud");
        let well_formed = match aud {
            None | Some(serde_json::Value::Null | serde_json::Value::String(_)) => true,
            Some(serde_json::Value::Array(list)) => list.iter().all(serde_json::Value::is_string),
            Some(_) => false,
        };
        if !well_formed {
            return Err(invalid_token(
                "PGRST303",
                "The JWT 'aud' claim must be a string or an array of strings",
            ));
        }
        if let Some(audience) = &self.audience {
            let ok = match aud {
                Some(serde_json::Value::String(a)) => a == audience,
                Some(serde_json::Value::Array(list)) => {
                    list.is_empty() || list.iter().any(|a| a.as_str() == Some(audience))
                }
                _ => true,
            };
            if !ok {
                return Err(invalid_token("PGRST303", "JWT not in audience"));
            }
        }
        Ok(())
    }
}

/// What [`JwtAuth`] does with a request.
enum Verdict {
    Pass(Option<Claims>),
    /// An opaque API key: its role, and the claims SQL sees.
    Key(DbRole, Claims),
    Reject(Error),
    /// The token names a key the JWKS URL may have published since it was last read.
    #[cfg(feature = "jwks-url")]
    Refetch,
}

impl<S, B> Service<Request<B>> for JwtAuth<S>
where
    S: Service<Request<B>, Response = Response<RestBody>> + Clone,
{
    type Response = Response<RestBody>;
    type Error = S::Error;
    type Future = AuthFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let started = self.config.timing.then(std::time::Instant::now);
        if self.config.require_apikey {
            if let Err(e) = self.config.check_apikey(&req) {
                return AuthFuture::ready(ResponseFuture::reject(e.to_response()));
            }
        }
        match self.config.verdict(&req, true) {
            #[cfg(feature = "jwks-url")]
            Verdict::Refetch => {
                // The ready service goes with the request; its clone stays.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                let remote = self.config.keys.remote.clone();
                AuthFuture {
                    state: AuthState::Refetch {
                        wait: Box::pin(async move {
                            if let Some(remote) = remote {
                                super::jwks::refetch(&remote).await;
                            }
                        }),
                        inner: Some(inner),
                        req: Some(req),
                        config: Arc::clone(&self.config),
                        started,
                    },
                }
            }
            verdict => AuthFuture::ready(pass(&mut self.inner, req, verdict, started)),
        }
    }
}

/// Calls `inner` with the verdict's claims, or answers the rejection.
fn pass<S, B>(
    inner: &mut S,
    mut req: Request<B>,
    verdict: Verdict,
    started: Option<std::time::Instant>,
) -> ResponseFuture<S::Future>
where
    S: Service<Request<B>, Response = Response<RestBody>>,
{
    match verdict {
        Verdict::Pass(claims) => {
            if let Some(claims) = claims {
                req.extensions_mut().insert(claims);
            }
            if let Some(started) = started {
                req.extensions_mut()
                    .insert(super::JwtTiming(started.elapsed()));
            }
            ResponseFuture::inner(inner.call(req))
        }
        Verdict::Key(role, claims) => {
            req.extensions_mut().insert(claims);
            req.extensions_mut().insert(role);
            if let Some(started) = started {
                req.extensions_mut()
                    .insert(super::JwtTiming(started.elapsed()));
            }
            ResponseFuture::inner(inner.call(req))
        }
        Verdict::Reject(e) => ResponseFuture::reject(e.to_response()),
        #[cfg(feature = "jwks-url")]
        Verdict::Refetch => ResponseFuture::reject(
            invalid_token("PGRST301", "No suitable key or wrong key type").to_response(),
        ),
    }
}

pin_project! {
    /// The future of [`JwtAuth`]: the inner service's, an answer of its own,
    /// or (with a JWKS URL) a wait for the keys to be fetched again first.
    pub struct AuthFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: AuthState<S, B>,
    }
}

pin_project! {
    #[project = AuthStateProj]
    enum AuthState<S, B>
    where
        S: Service<Request<B>>,
    {
        Ready { #[pin] fut: ResponseFuture<S::Future> },
        Refetch {
            wait: Pin<Box<dyn Future<Output = ()> + Send>>,
            inner: Option<S>,
            req: Option<Request<B>>,
            config: Arc<Config>,
            started: Option<std::time::Instant>,
        },
    }
}

impl<S, B> AuthFuture<S, B>
where
    S: Service<Request<B>>,
{
    fn ready(fut: ResponseFuture<S::Future>) -> Self {
        Self {
            state: AuthState::Ready { fut },
        }
    }
}

impl<S, B> Future for AuthFuture<S, B>
where
    S: Service<Request<B>, Response = Response<RestBody>>,
{
    type Output = Result<Response<RestBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            let next = match state.as_mut().project() {
                AuthStateProj::Ready { fut } => return fut.poll(cx),
                AuthStateProj::Refetch {
                    wait,
                    inner,
                    req,
                    config,
                    started,
                } => {
                    if wait.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    let (Some(mut inner), Some(req)) = (inner.take(), req.take()) else {
                        return Poll::Pending;
                    };
                    let verdict = config.verdict(&req, false);
                    pass(&mut inner, req, verdict, *started)
                }
            };
            state.set(AuthState::Ready { fut: next });
        }
    }
}

impl<S, B> fmt::Debug for AuthFuture<S, B>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthFuture").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tower::{ServiceBuilder, ServiceExt};

    use super::*;

    const SECRET: &str = "a-development-secret-of-32-chars!";

    fn token(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    /// Sends `headers` through the layer to an inner service that counts its calls.
    async fn call(layer: &JwtAuthLayer, headers: &[(&str, &str)]) -> (u16, usize, Option<Claims>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(None));
        let (c, s) = (Arc::clone(&calls), Arc::clone(&seen));
        let svc = ServiceBuilder::new()
            .layer(layer.clone())
            .service_fn(move |req: Request<()>| {
                c.fetch_add(1, Ordering::SeqCst);
                *s.lock().unwrap() = req.extensions().get::<Claims>().cloned();
                async { Ok::<_, Infallible>(Response::new(RestBody::empty())) }
            });
        let mut req = Request::builder();
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = svc.oneshot(req.body(()).unwrap()).await.unwrap();
        let claims = seen.lock().unwrap().clone();
        (res.status().as_u16(), calls.load(Ordering::SeqCst), claims)
    }

    #[tokio::test]
    async fn rejected_requests_never_reach_the_inner_service() {
        let layer = JwtAuthLayer::secret(SECRET).unwrap();
        let expired = token(serde_json::json!({"role": "x", "exp": 1}));
        for headers in [
            vec![("authorization", "Bearer nope")],
            vec![("authorization", "Bearer ")],
            vec![("authorization", "Bearer a.b.c")],
            vec![("apikey", "not.a.jwt")],
            vec![("authorization", &*format!("Bearer {expired}"))],
        ] {
            let (status, calls, _) = call(&layer, &headers).await;
            assert_eq!((status, calls), (401, 0), "{headers:?}");
        }
    }

    #[tokio::test]
    async fn valid_tokens_pass_with_their_claims() {
        let layer = JwtAuthLayer::secret(SECRET).unwrap();
        let t = token(serde_json::json!({"role": "authenticated", "sub": "1"}));
        let (status, calls, claims) =
            call(&layer, &[("authorization", &format!("bearer {t}"))]).await;
        assert_eq!((status, calls), (200, 1));
        assert_eq!(claims.unwrap().get("sub"), Some(&serde_json::json!("1")));
        // The Bearer token wins over the apikey.
        let key = token(serde_json::json!({"role": "anon"}));
        let (_, _, claims) = call(
            &layer,
            &[("apikey", &key), ("authorization", &format!("Bearer {t}"))],
        )
        .await;
        assert_eq!(
            claims.unwrap().get("role"),
            Some(&serde_json::json!("authenticated"))
        );
        // No credentials: through, without claims.
        let (status, calls, claims) = call(&layer, &[]).await;
        assert_eq!((status, calls, claims), (200, 1, None));
    }

    #[tokio::test]
    async fn the_cache_still_checks_expiry() {
        let layer = JwtAuthLayer::secret(SECRET).unwrap();
        let soon = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - LEEWAY_SECS
            + 2;
        // Valid for at least a second from now: the first call is cached as valid…
        let t = token(serde_json::json!({"role": "r", "exp": soon}));
        let auth = format!("Bearer {t}");
        assert_eq!(call(&layer, &[("authorization", &auth)]).await.0, 200);
        // …and the cached token is refused once it expires (within a few seconds).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while call(&layer, &[("authorization", &auth)]).await.0 != 401 {
            assert!(
                std::time::Instant::now() < deadline,
                "the cached token never expired"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    #[test]
    fn secrets_are_checked() {
        assert!(JwtAuthLayer::secret("short").is_err());
        assert!(JwtAuthLayer::secret(SECRET).is_ok());
        assert!(JwtAuthLayer::secret_base64("c2hvcnQ=").is_err());
        // The base64 secret is the decoded bytes: a token signed with them verifies.
        let b64 = base64::engine::general_purpose::STANDARD.encode(SECRET);
        let layer = JwtAuthLayer::secret_base64(&b64).unwrap();
        let claims = layer
            .config
            .verify(&token(
                serde_json::json!({"role": "x", "exp": 4_000_000_000u64}),
            ))
            .expect("signed with the decoded secret");
        assert_eq!(claims.get("role").and_then(|v| v.as_str()), Some("x"));
        // …and the base64 text itself is not the key.
        let as_text = JwtAuthLayer::secret(&b64).unwrap();
        assert!(
            as_text
                .config
                .verify(&token(serde_json::json!({"role": "x"})))
                .is_err()
        );
        assert!(JwtAuthLayer::jwks("{\"keys\": []}").is_err());
    }

    #[test]
    fn cache_size_bounds_the_verified_tokens_and_zero_turns_the_cache_off() {
        let layer = JwtAuthLayer::secret(SECRET).unwrap().cache_size(2);
        for role in ["a", "b", "c"] {
            layer
                .config
                .verify(&token(serde_json::json!({"role": role})))
                .unwrap();
        }
        let kept = |l: &JwtAuthLayer| l.config.cache.as_ref().map(|c| c.lock().unwrap().len());
        assert_eq!(kept(&layer), Some(2));
        let off = JwtAuthLayer::secret(SECRET).unwrap().cache_size(0);
        off.config
            .verify(&token(serde_json::json!({"role": "a"})))
            .unwrap();
        assert_eq!(kept(&off), None);
        let default = JwtAuthLayer::secret(SECRET).unwrap();
        assert_eq!(
            default
                .config
                .cache
                .as_ref()
                .map(|c| c.lock().unwrap().capacity),
            Some(DEFAULT_CACHE_SIZE)
        );
    }

    #[test]
    fn the_cache_is_bounded() {
        let mut cache = Cache::new(2);
        let claims = Claims::default();
        for t in ["a", "b", "c"] {
            cache.insert(t, claims.clone(), 0);
        }
        assert!(cache.get("a", 0).is_none());
        assert!(cache.get("b", 0).is_some() && cache.get("c", 0).is_some());
        assert_eq!(cache.len(), 2);
        // What other keys verified is not trusted.
        assert!(cache.get("b", 1).is_none());
        cache.insert("b", claims, 1);
        assert!(cache.get("b", 1).is_some() && cache.get("b", 0).is_none());
        assert_eq!(cache.len(), 2);
    }
}
