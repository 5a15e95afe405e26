//! [`DbRole`]: the database role a request runs as.

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
    role: String,
    claims: serde_json::Map<String, serde_json::Value>,
}

impl DbRole {
    /// The role `role`, with no claims besides it.
    pub fn new(role: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            claims: serde_json::Map::new(),
        }
    }

    /// Sets the claims (a JSON object; anything else counts as no claims).
    #[must_use]
    pub fn with_claims(mut self, claims: serde_json::Value) -> Self {
        self.claims = match claims {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        self
    }

    /// The role's name.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// The claims as the JSON text of `request.jwt.claims`: with `role` set to the effective role.
    pub(crate) fn claims_json(&self) -> String {
        let mut claims = self.claims.clone();
        claims.insert("role".into(), serde_json::Value::String(self.role.clone()));
        serde_json::Value::Object(claims).to_string()
    }
}
