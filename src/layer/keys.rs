//! Key material: the keys that verify tokens, read from secrets, PEM keys
//! and JWK documents, and the check of a token's signature against them.

use std::collections::HashSet;

use http::{HeaderValue, header};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::error::{Error, ErrorKind};

/// Key material: which keys verify which algorithms.
#[derive(Clone)]
pub(super) struct Key {
    pub(super) kid: Option<String>,
    pub(super) algorithms: Vec<Algorithm>,
    pub(super) key: DecodingKey,
}

impl Key {
    /// Whether the key is a shared secret (an HMAC key, a JWK of type
    /// `oct`): whoever can read it can sign with it.
    #[cfg(feature = "jwks-url")]
    pub(super) fn is_shared_secret(&self) -> bool {
        self.algorithms
            .iter()
            .any(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
    }
}

/// The keys that verify tokens, as one version: a fixed set, or the latest
/// document of a JWKS URL.
pub(super) struct KeySet {
    pub(super) keys: Vec<Key>,
    /// Changes whenever the keys do; a cached verification made under another
    /// generation is not trusted.
    pub(super) generation: u64,
}

/// A setting that cannot be used.
pub(super) fn config_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Internal, message)
}

/// The keys of a JWK, or of a JWKS document (`{"keys": [...]}`); keys of an
/// algorithm this crate does not verify are left out.
pub(super) fn parse_jwks(json: &str) -> Result<Vec<Key>, Error> {
    let set: JwkSet = if json.contains("\"keys\"") {
        serde_json::from_str(json)
    } else {
        serde_json::from_str(json).map(|jwk| JwkSet { keys: vec![jwk] })
    }
    .map_err(|e| config_error("Invalid JWK or JWKS document").with_source(e))?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|e| config_error("Unsupported JWK").with_source(e))?;
        let algorithms = match jwk.common.key_algorithm {
            Some(alg) => match alg.to_string().parse::<Algorithm>() {
                Ok(a) => vec![a],
                Err(_) => continue,
            },
            None => match &jwk.algorithm {
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => {
                    vec![Algorithm::RS256, Algorithm::RS384, Algorithm::RS512]
                }
                jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => {
                    vec![Algorithm::ES256, Algorithm::ES384]
                }
                jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_) => {
                    vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]
                }
                _ => vec![Algorithm::EdDSA],
            },
        };
        keys.push(Key {
            kid: jwk.common.key_id.clone(),
            algorithms,
            key,
        });
    }
    Ok(keys)
}

/// PostgREST's words for a token whose header names no algorithm this crate
/// verifies: `none` (an unsigned token, never accepted), another unknown
/// one, or a header that is not base64url JSON at all.
fn unreadable_header(token: &str) -> Error {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap_or_default();
    let alg = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|h| h.get("alg").and_then(|a| a.as_str().map(str::to_owned)));
    match alg.as_deref() {
        Some("none") => invalid_token("PGRST301", "Wrong or unsupported encoding algorithm")
            .with_details("JWT is unsecured but expected 'alg' was not 'none'"),
        Some(_) => invalid_token("PGRST301", "Wrong or unsupported encoding algorithm"),
        None => invalid_token("PGRST301", "JWT cryptographic operation failed"),
    }
}

/// Checks `token`'s signature against `keys` (its `kid` picks the key; without
/// one, each key of its algorithm is tried) and returns its claims.
pub(super) fn verify_signature(
    keys: &[Key],
    token: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    let parts = token.split('.').count();
    if parts != 3 {
        return Err(invalid_token(
            "PGRST301",
            &format!("Expected 3 parts in JWT; got {parts}"),
        ));
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| unreadable_header(token))?;
    let candidates: Vec<&Key> = keys
        .iter()
        .filter(|k| k.algorithms.contains(&header.alg))
        .filter(|k| match (&header.kid, &k.kid) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        })
        .collect();
    let no_key = || {
        invalid_token("PGRST301", "No suitable key or wrong key type")
            .with_details("None of the keys was able to decode the JWT")
    };
    if candidates.is_empty() {
        return Err(no_key());
    }
    let mut validation = Validation::new(header.alg);
    // Claims are checked by `check_claims`, with PostgREST's rules.
    validation.required_spec_claims = HashSet::new();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    for key in candidates {
        if let Ok(data) = jsonwebtoken::decode::<serde_json::Value>(token, &key.key, &validation) {
            return match data.claims {
                serde_json::Value::Object(map) => Ok(map),
                _ => Err(invalid_token(
                    "PGRST303",
                    "The JWT claims are not a JSON object",
                )),
            };
        }
    }
    Err(no_key())
}

/// A 401 in PostgREST's words, with `WWW-Authenticate: Bearer error="invalid_token", …`.
pub(super) fn invalid_token(code: &'static str, message: &str) -> Error {
    let described = format!(
        "Bearer error=\"invalid_token\", error_description=\"{}\"",
        message.replace('"', "'")
    );
    Error::new(ErrorKind::Unauthorized, message)
        .with_postgrest_code(code)
        .with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&described).unwrap_or(HeaderValue::from_static("Bearer")),
        )
}
