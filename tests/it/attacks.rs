//! Auth attacks: every one is 401 or 403, and nothing runs as the role it claims.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tower::ServiceBuilder;
use tower_postgrest::layer::{JwtAuthLayer, SetRoleLayer};

use crate::support::{Stack, key_file, rows, scratch_with, send_body};

const SECRET: &str = "reallyreallyreallyreallyverysafe";

fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

async fn stack(auth: JwtAuthLayer) -> (impl Stack, tokio_postgres::Client) {
    let (svc, db) = scratch_with(
        "CREATE TABLE ledger (id serial PRIMARY KEY, who text NOT NULL DEFAULT current_user);",
        |b| b.anon_role("anon"),
    )
    .await;
    (
        ServiceBuilder::new()
            .layer(auth)
            .layer(SetRoleLayer::new())
            .service(svc),
        db,
    )
}

async fn attempt(api: &impl Stack, token: &str) -> crate::support::Reply {
    let auth = format!("Bearer {token}");
    send_body(
        api,
        "POST",
        "/ledger",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        "{}",
    )
    .await
}

#[tokio::test]
async fn forged_and_confused_tokens_are_401() {
    let public_pem = key_file("rsa_public.pem");
    let (api, db) = stack(JwtAuthLayer::rsa_pem(&public_pem).unwrap()).await;
    let claims = json!({"role": "service_role"});
    // Algorithm confusion: HS256 "signed" with the RSA public key as the HMAC secret.
    let confused = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&public_pem),
    )
    .unwrap();
    // A valid RS256 token whose payload is then swapped.
    let valid = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &json!({"role": "anon"}),
        &EncodingKey::from_rsa_pem(&key_file("rsa_private.pem")).unwrap(),
    )
    .unwrap();
    let parts: Vec<&str> = valid.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    );
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    );
    let none_signed = format!(
        "{}.{}.{}",
        b64(br#"{"alg":"none"}"#),
        b64(claims.to_string().as_bytes()),
        parts[2]
    );
    for token in [&confused, &tampered, &none, &none_signed] {
        let reply = attempt(&api, token).await;
        let body = reply.error(401, "unauthorized");
        // No error repeats the token or the key.
        assert!(!reply.text.contains(token.as_str()), "{}", reply.text);
        assert!(
            !body["message"]
                .as_str()
                .unwrap()
                .contains("BEGIN PUBLIC KEY")
        );
    }
    // Only the real token wrote, as the role it names: the ledger records who.
    assert_eq!(attempt(&api, &valid).await.status, 201);
    assert_eq!(
        rows(&db, "SELECT who FROM ledger").await,
        json!([{"who": "anon"}])
    );
}

#[tokio::test]
async fn a_kid_pointing_nowhere_is_401() {
    let jwks =
        json!({"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": b64(SECRET.as_bytes())}]})
            .to_string();
    let (api, _) = stack(JwtAuthLayer::secret(&jwks).unwrap()).await;
    let token = |kid: &str| {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(kid.to_owned());
        jsonwebtoken::encode(
            &h,
            &json!({"role": "anon"}),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    };
    assert_eq!(attempt(&api, &token("k1")).await.status, 201);
    attempt(&api, &token("nowhere"))
        .await
        .error(401, "unauthorized");
}

#[tokio::test]
async fn roles_the_authenticator_cannot_become_run_nothing() {
    let (api, db) = stack(JwtAuthLayer::secret(SECRET).unwrap()).await;
    let sign = |claims: Value| {
        jsonwebtoken::encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    };
    // A superuser, and a role that exists but is not granted to the authenticator.
    db.batch_execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'not_granted') THEN CREATE ROLE not_granted; END IF; END $$;",
    )
    .await
    .unwrap();
    for role in ["postgres", "not_granted", "pg_read_all_data"] {
        let reply = attempt(&api, &sign(json!({"role": role}))).await;
        assert!(
            matches!(reply.status.as_u16(), 401 | 403),
            "{role}: {} {}",
            reply.status,
            reply.text
        );
        assert!(!reply.text.contains(SECRET));
    }
    // The authenticator itself has no privileges on the API's tables.
    let reply = attempt(&api, &sign(json!({"role": "authenticator"}))).await;
    assert!(matches!(reply.status.as_u16(), 401 | 403), "{}", reply.text);
    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM ledger").await,
        json!([{"n": 0}])
    );
}
