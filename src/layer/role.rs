//! [`SetRoleLayer`]: decides the database role of a request from its [`Claims`].
//!
//! The role is the claim at a configurable path (PostgREST's
//! `jwt-role-claim-key`, default `role`), or the anonymous role when the token
//! has none. The decision goes into the request's extensions as a [`DbRole`];
//! [`RestService`](crate::RestService) applies it in the request's transaction.
//! Without this layer, the service resolves `Claims` with the default path.
//!
//! ```
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_postgrest::layer::{Claims, ClaimPath, DbRole, SetRoleLayer};
//! use tower_postgrest::RestBody;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let svc = ServiceBuilder::new()
//!     .layer(SetRoleLayer::new().claim_path(ClaimPath::parse("$.app_metadata.role")?))
//!     .service_fn(|req: http::Request<()>| async move {
//!         let role = req.extensions().get::<DbRole>().unwrap().role().to_owned();
//!         Ok::<_, std::convert::Infallible>(http::Response::new(RestBody::from(role)))
//!     });
//! let mut req = http::Request::new(());
//! let claims = serde_json::json!({"app_metadata": {"role": "editor"}});
//! req.extensions_mut().insert(Claims::new(claims.as_object().unwrap().clone()));
//! let res = svc.oneshot(req).await?;
//! assert_eq!(http_body_util::BodyExt::collect(res.into_body()).await?.to_bytes(), "editor");
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use compact_str::CompactString;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::ResponseFuture;
use crate::body::RestBody;
use crate::error::{Error, ErrorKind, codes};

/// The verified claims of a request's token, as a JSON object.
///
/// [`JwtAuthLayer`](super::JwtAuthLayer) inserts them; an application's own
/// auth layer may insert them too. Cloning is cheap (the claims are shared),
/// and their JSON text is computed once, however many requests carry them.
#[derive(Clone, Default)]
pub struct Claims(Arc<ClaimsInner>);

#[derive(Default)]
struct ClaimsInner {
    map: serde_json::Map<String, serde_json::Value>,
    json: OnceLock<String>,
}

impl Claims {
    /// Claims from a JSON object.
    pub fn new(claims: serde_json::Map<String, serde_json::Value>) -> Self {
        Self(Arc::new(ClaimsInner {
            map: claims,
            json: OnceLock::new(),
        }))
    }

    /// The claim `name`.
    pub fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.0.map.get(name)
    }

    /// All claims.
    pub fn as_map(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0.map
    }

    /// The claims as JSON text, computed on first use.
    fn json(&self) -> &str {
        self.0
            .json
            .get_or_init(|| serde_json::to_string(&self.0.map).unwrap_or_else(|_| "{}".into()))
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Claims").field(&self.0.map).finish()
    }
}

impl PartialEq for Claims {
    fn eq(&self, other: &Self) -> bool {
        self.0.map == other.0.map
    }
}

impl Eq for Claims {}

/// The database role a request runs as, and the claims SQL sees.
///
/// Insert it into the request's extensions (any auth layer may) and
/// [`RestService`](crate::RestService) switches to `role` for the request's
/// transaction with `set_config('role', …, true)`, and exposes `claims` as
/// `current_setting('request.jwt.claims', true)` with `role` set to the
/// effective role. Without one, the service uses its anonymous role.
///
/// ```
/// use tower_postgrest::layer::DbRole;
///
/// let mut req = http::Request::new(());
/// req.extensions_mut().insert(DbRole::new("authenticated").with_claims(
///     serde_json::json!({"sub": "6f1c…", "email": "a@example.com"}),
/// ));
/// assert_eq!(req.extensions().get::<DbRole>().unwrap().role(), "authenticated");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbRole {
    /// Inline up to 24 bytes: choosing a role for a request allocates nothing.
    role: CompactString,
    claims: Claims,
}

impl DbRole {
    /// The role `role`, with no claims besides it.
    pub fn new(role: impl Into<String>) -> Self {
        Self {
            role: CompactString::from(role.into()),
            claims: Claims::default(),
        }
    }

    /// Sets the claims (a JSON object; anything else counts as no claims).
    #[must_use]
    pub fn with_claims(mut self, claims: serde_json::Value) -> Self {
        self.claims = match claims {
            serde_json::Value::Object(map) => Claims::new(map),
            _ => Claims::default(),
        };
        self
    }

    /// The role's name.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// The claims as the JSON text of `request.jwt.claims`: with `role` set to the effective role.
    /// Without a copy when the claims already name that role (the usual case).
    pub(crate) fn claims_json(&self) -> Cow<'_, str> {
        match self.claims.get("role") {
            Some(serde_json::Value::String(role)) if *role == self.role => {
                Cow::Borrowed(self.claims.json())
            }
            _ => {
                let mut claims = self.claims.as_map().clone();
                claims.insert(
                    "role".into(),
                    serde_json::Value::String(self.role.to_string()),
                );
                Cow::Owned(serde_json::Value::Object(claims).to_string())
            }
        }
    }
}

/// Where the role is in the claims: PostgREST's `jwt-role-claim-key`.
///
/// Accepts `role`, `.role` and `."https://example.com/role"` (PostgREST's
/// older form), and RFC 9535 JSONPath as PostgREST 16: `$.app_metadata.role`,
/// `$.roles[0]`, `$.roles[-1]`, `$['https://example.com/role']`,
/// `$..role`, filters such as `$.roles[?@ == 'admin']` or
/// `$.roles[?search(@, '^app_')]`; the first match is the role. Simple paths
/// are read without building a JSON value; the rest go through
/// `serde_json_path`.
///
/// ```
/// use tower_postgrest::layer::ClaimPath;
///
/// assert!(ClaimPath::parse("$.app_metadata.role").is_ok());
/// assert!(ClaimPath::parse("$.roles[?search(@, '^app_')]").is_ok());
/// let err = ClaimPath::parse("$.roles[").unwrap_err();
/// assert!(err.details().is_some(), "says what is wrong");
/// ```
#[derive(Clone, Debug)]
pub struct ClaimPath(Path);

#[derive(Clone, Debug)]
enum Path {
    /// Keys and indexes: read straight from the claims.
    Steps(Vec<Step>),
    /// Any other JSONPath, and its text.
    JsonPath(String, std::sync::Arc<serde_json_path::JsonPath>),
}

impl PartialEq for ClaimPath {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Path::Steps(a), Path::Steps(b)) => a == b,
            (Path::JsonPath(a, _), Path::JsonPath(b, _)) => a == b,
            _ => false,
        }
    }
}

impl Eq for ClaimPath {}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

impl Default for ClaimPath {
    fn default() -> Self {
        Self(Path::Steps(vec![Step::Key("role".into())]))
    }
}

impl ClaimPath {
    /// Parses a claim path; an error says which part is refused.
    pub fn parse(path: &str) -> Result<Self, Error> {
        match Self::parse_steps(path) {
            Ok(steps) => Ok(Self(Path::Steps(steps))),
            Err(e) if path.trim().starts_with('$') => {
                match serde_json_path::JsonPath::parse(path.trim()) {
                    Ok(p) => Ok(Self(Path::JsonPath(
                        path.trim().to_owned(),
                        std::sync::Arc::new(p),
                    ))),
                    Err(why) => Err(e.with_details(why.to_string())),
                }
            }
            Err(e) => Err(e.with_details(
                "Not a JSONPath (which starts with $), nor a .key, .\"key\" or [index] path",
            )),
        }
    }

    /// The older form and the simple JSONPath forms: keys and indexes.
    fn parse_steps(path: &str) -> Result<Vec<Step>, Error> {
        let bad = || {
            Error::new(
                ErrorKind::Internal,
                format!("Invalid role claim path: {path}"),
            )
        };
        let rest = path.trim();
        let mut rest = rest.strip_prefix('$').unwrap_or(rest);
        let mut steps = Vec::new();
        if !rest.starts_with(['.', '[']) {
            // A bare key: `role`.
            if rest.is_empty() {
                return Err(bad());
            }
            return Ok(vec![Step::Key(rest.to_owned())]);
        }
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('.') {
                if let Some(r) = r.strip_prefix('"') {
                    let end = r.find('"').ok_or_else(bad)?;
                    steps.push(Step::Key(r[..end].to_owned()));
                    rest = &r[end + 1..];
                } else {
                    let end = r.find(['.', '[']).unwrap_or(r.len());
                    if end == 0 {
                        return Err(bad());
                    }
                    steps.push(Step::Key(r[..end].to_owned()));
                    rest = &r[end..];
                }
            } else if let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']').ok_or_else(bad)?;
                let inner = r[..end].trim();
                if let Some(quoted) = inner.strip_prefix(['"', '\'']) {
                    steps.push(Step::Key(quoted.trim_end_matches(['"', '\'']).to_owned()));
                } else {
                    steps.push(Step::Index(inner.parse().map_err(|_| bad())?));
                }
                rest = &r[end + 1..];
            } else {
                return Err(bad());
            }
        }
        if steps.is_empty() {
            return Err(bad());
        }
        Ok(steps)
    }

    /// The value at this path; a string as is, another value JSON-encoded.
    fn role_in(&self, claims: &Claims) -> Option<CompactString> {
        let steps = match &self.0 {
            Path::Steps(steps) => steps,
            Path::JsonPath(_, path) => {
                let claims = serde_json::Value::Object(claims.as_map().clone());
                return path.query(&claims).first().and_then(role_text);
            }
        };
        let mut steps = steps.iter();
        let mut value = match steps.next()? {
            Step::Key(k) => claims.get(k)?,
            Step::Index(_) => return None,
        };
        for step in steps {
            value = match step {
                Step::Key(k) => value.get(k)?,
                Step::Index(i) => value.get(*i)?,
            };
        }
        role_text(value)
    }
}

/// A claim's value as a role: a string as is, another value JSON-encoded.
fn role_text(value: &serde_json::Value) -> Option<CompactString> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.as_str().into()),
        other => Some(other.to_string().into()),
    }
}

/// Decides the role of a request from its claims: `Ok(None)` means "the token
/// names no role" (the anonymous role applies).
///
/// Implemented by [`ClaimPath`] and by closures
/// `Fn(&Claims) -> Result<Option<String>, Error>`.
pub trait ResolveRole: Send + Sync + 'static {
    /// The role named by `claims`, if any.
    fn resolve(&self, claims: &Claims) -> Result<Option<String>, Error>;
}

impl ResolveRole for ClaimPath {
    fn resolve(&self, claims: &Claims) -> Result<Option<String>, Error> {
        Ok(self.role_in(claims).map(String::from))
    }
}

/// How roles are read from claims: a claim path, read without a copy of the
/// role's name, or an application's [`ResolveRole`].
#[derive(Clone)]
pub(crate) enum Resolver {
    Path(ClaimPath),
    Custom(Arc<dyn ResolveRole>),
}

impl Resolver {
    /// The role `claims` name, if any.
    fn role(&self, claims: &Claims) -> Result<Option<CompactString>, Error> {
        match self {
            Self::Path(path) => Ok(path.role_in(claims)),
            Self::Custom(resolver) => Ok(resolver.resolve(claims)?.map(CompactString::from)),
        }
    }
}

impl<F> ResolveRole for F
where
    F: Fn(&Claims) -> Result<Option<String>, Error> + Send + Sync + 'static,
{
    fn resolve(&self, claims: &Claims) -> Result<Option<String>, Error> {
        self(claims)
    }
}

/// The role a request runs as: the one place it is chosen, for [`SetRole`]
/// and for the service's own fallback.
///
/// A [`DbRole`] already in `extensions` wins. Else, with [`Claims`], the role
/// `resolver` finds in them, or `anon` (with the same claims), or 401. Else
/// `anon`. `Ok(None)` when there is no role at all.
pub(crate) fn choose_role<'a>(
    extensions: &'a http::Extensions,
    resolver: &Resolver,
    anon: Option<&'a DbRole>,
) -> Result<Option<Cow<'a, DbRole>>, Error> {
    if let Some(role) = extensions.get::<DbRole>() {
        return Ok(Some(Cow::Borrowed(role)));
    }
    let Some(claims) = extensions.get::<Claims>() else {
        return Ok(anon.map(Cow::Borrowed));
    };
    // A layer found no role in the claims: the anonymous role, with them.
    let named = match extensions.get::<NoRoleClaim>() {
        Some(NoRoleClaim) => None,
        None => resolver.role(claims)?,
    };
    let role = match (named, anon) {
        (Some(role), _) => role,
        (None, Some(anon)) => anon.role.clone(),
        (None, None) => return Err(anonymous_disabled()),
    };
    Ok(Some(Cow::Owned(DbRole {
        role,
        claims: claims.clone(),
    })))
}

/// 401 for a request without a role when there is no anonymous role.
pub(crate) fn anonymous_disabled() -> Error {
    Error::pgrst(codes::PGRST302, "Anonymous access is disabled")
}

/// The layer of [`SetRole`]; see the [module docs](self).
#[derive(Clone)]
pub struct SetRoleLayer {
    resolver: Resolver,
    anon: Option<DbRole>,
}

impl fmt::Debug for SetRoleLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetRoleLayer")
            .field("anon", &self.anon)
            .finish_non_exhaustive()
    }
}

impl Default for SetRoleLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl SetRoleLayer {
    /// Roles from the `role` claim; no anonymous role of its own.
    pub fn new() -> Self {
        Self {
            resolver: Resolver::Path(ClaimPath::default()),
            anon: None,
        }
    }

    /// Takes the role from another claim path.
    #[must_use]
    pub fn claim_path(mut self, path: ClaimPath) -> Self {
        self.resolver = Resolver::Path(path);
        self
    }

    /// Decides roles with `resolver` (a closure or any [`ResolveRole`]).
    #[must_use]
    pub fn resolver(mut self, resolver: impl ResolveRole) -> Self {
        self.resolver = Resolver::Custom(Arc::new(resolver));
        self
    }

    /// The role of requests whose token names none, and of requests
    /// without a token, decided here rather than by the service behind.
    /// Without it, such requests go on with their claims and the service's
    /// [`anon_role`](crate::RestServiceBuilder::anon_role) applies: one place
    /// for the anonymous role. Only for an inner service that is not a
    /// [`RestService`](crate::RestService).
    #[deprecated(
        since = "0.1.0",
        note = "the service's anon_role applies to requests this layer finds no role for"
    )]
    #[must_use]
    pub fn anon_role(mut self, role: impl Into<String>) -> Self {
        self.anon = Some(DbRole::new(role));
        self
    }

    /// Whether `req` carries claims that name no role by this layer's rule.
    fn names_no_role<B>(&self, req: &Request<B>) -> bool {
        req.extensions()
            .get::<Claims>()
            .is_some_and(|c| matches!(self.resolver.role(c), Ok(None)))
    }
}

/// Set by [`SetRole`] on a request whose claims name no role when it has
/// no anonymous role of its own: the service's anonymous role applies.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NoRoleClaim;

impl<S> Layer<S> for SetRoleLayer {
    type Service = SetRole<S>;

    fn layer(&self, inner: S) -> SetRole<S> {
        SetRole {
            inner,
            layer: self.clone(),
        }
    }
}

/// Decides the request's [`DbRole`]; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct SetRole<S> {
    inner: S,
    layer: SetRoleLayer,
}

impl<S> SetRole<S> {
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

impl<S, B> Service<Request<B>> for SetRole<S>
where
    S: Service<Request<B>, Response = Response<RestBody>>,
{
    type Response = Response<RestBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        if req.extensions().get::<DbRole>().is_none() {
            let chosen = choose_role(
                req.extensions(),
                &self.layer.resolver,
                self.layer.anon.as_ref(),
            )
            .map(|role| role.map(Cow::into_owned));
            match chosen {
                Ok(Some(role)) => {
                    req.extensions_mut().insert(role);
                }
                Ok(None) => {}
                // The token names no role and this layer has no anonymous
                // role: the service's decides (it is the one place for it).
                Err(_) if self.layer.anon.is_none() && self.layer.names_no_role(&req) => {
                    req.extensions_mut().insert(NoRoleClaim);
                }
                Err(e) => return ResponseFuture::reject(e.to_response()),
            }
        }
        ResponseFuture::inner(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(v: serde_json::Value) -> Claims {
        Claims::new(v.as_object().unwrap().clone())
    }

    #[test]
    fn claim_paths() {
        let c = claims(serde_json::json!({
            "role": "r", "app_metadata": {"role": "nested", "roles": ["first", "second"]},
            "https://example.com/role": "namespaced", "n": 5
        }));
        let role = |p: &str| ClaimPath::parse(p).unwrap().role_in(&c);
        assert_eq!(role("role").as_deref(), Some("r"));
        assert_eq!(role(".role").as_deref(), Some("r"));
        assert_eq!(role("$.role").as_deref(), Some("r"));
        assert_eq!(role("$.app_metadata.role").as_deref(), Some("nested"));
        assert_eq!(role("$.app_metadata.roles[1]").as_deref(), Some("second"));
        assert_eq!(
            role("$.\"https://example.com/role\"").as_deref(),
            Some("namespaced")
        );
        assert_eq!(
            role("$[\"https://example.com/role\"]").as_deref(),
            Some("namespaced")
        );
        assert_eq!(role("$.n").as_deref(), Some("5"));
        assert_eq!(role("$.missing"), None);
        // RFC 9535 beyond keys and indexes (PostgREST 16).
        assert_eq!(role("$.app_metadata.roles[-1]").as_deref(), Some("second"));
        assert_eq!(role("$..roles[0]").as_deref(), Some("first"));
        assert_eq!(
            role("$.app_metadata.roles[?@ == 'second']").as_deref(),
            Some("second")
        );
        assert_eq!(
            role("$.app_metadata.roles[?search(@, '^fir')]").as_deref(),
            Some("first")
        );
        assert_eq!(
            role("$['https://example.com/role']").as_deref(),
            Some("namespaced")
        );
        for bad in ["", "$.", "$[x]", "$.a[", "$.roles[?@ ==]"] {
            let err = ClaimPath::parse(bad).unwrap_err();
            assert!(err.details().is_some(), "{bad}: says why");
        }
    }

    #[test]
    fn claims_json_carries_the_effective_role() {
        let role = DbRole::new("anon").with_claims(serde_json::json!({"sub": "1", "role": "x"}));
        let v: serde_json::Value = serde_json::from_str(&role.claims_json()).unwrap();
        assert_eq!(v, serde_json::json!({"sub": "1", "role": "anon"}));
    }
}
