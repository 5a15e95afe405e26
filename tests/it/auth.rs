//! Auth and Row Level Security: JWTs pick the database role; policies read the claims.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tower::ServiceBuilder;
use tower_postgrest::layer::{JwtAuthLayer, SetRoleLayer};

use crate::support::{Stack, key_file, rows, scratch_with, send, send_body};

const SECRET: &str = "reallyreallyreallyreallyverysafe";
const ALICE: &str = "00000000-0000-0000-0000-00000000000a";
const BOB: &str = "00000000-0000-0000-0000-00000000000b";

const NOTES: &str = "
CREATE TABLE notes (
  id serial PRIMARY KEY,
  owner uuid NOT NULL,
  body text NOT NULL,
  public boolean NOT NULL DEFAULT false
);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY anyone_reads_public ON notes FOR SELECT TO anon, authenticated USING (public);
CREATE POLICY owner_reads ON notes FOR SELECT TO authenticated
  USING (owner::text = current_setting('request.jwt.claims', true)::json ->> 'sub');
CREATE POLICY owner_writes ON notes FOR INSERT TO authenticated
  WITH CHECK (owner::text = current_setting('request.jwt.claims', true)::json ->> 'sub');
CREATE POLICY owner_updates ON notes FOR UPDATE TO authenticated
  USING (owner::text = current_setting('request.jwt.claims', true)::json ->> 'sub');
INSERT INTO notes (owner, body, public) VALUES
  ('00000000-0000-0000-0000-00000000000a', 'alice public', true),
  ('00000000-0000-0000-0000-00000000000a', 'alice private', false),
  ('00000000-0000-0000-0000-00000000000b', 'bob private', false);
-- What SQL sees of the request.
CREATE FUNCTION context(notes) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'user', current_user,
    'claims', current_setting('request.jwt.claims', true)::json,
    'method', current_setting('request.method', true),
    'path', current_setting('request.path', true),
    'headers', current_setting('request.headers', true)::json,
    'cookies', current_setting('request.cookies', true)::json)
$$;
";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hs256(claims: Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn user(sub: &str) -> String {
    hs256(
        json!({"role": "authenticated", "sub": sub, "aud": "authenticated", "exp": now() + 3600}),
        SECRET,
    )
}

fn anon_key() -> String {
    hs256(json!({"role": "anon", "iss": "supabase"}), SECRET)
}

fn service_key() -> String {
    hs256(json!({"role": "service_role"}), SECRET)
}

/// The stack the demo server builds: JWT auth, role switching, the service.
async fn stack(anon: bool, auth: JwtAuthLayer) -> (impl Stack, tokio_postgres::Client) {
    let (svc, db) = scratch_with(NOTES, |b| if anon { b.anon_role("anon") } else { b }).await;
    // The service's anonymous role (or none) is the one that applies.
    let roles = SetRoleLayer::new();
    (
        ServiceBuilder::new().layer(auth).layer(roles).service(svc),
        db,
    )
}

/// The JWK of an RSA public key file under `tests/fixtures/keys` (its modulus read by openssl).
fn rsa_jwk(pem: &str, kid: &str) -> Value {
    let out = std::process::Command::new("openssl")
        .args(["rsa", "-pubin", "-noout", "-modulus", "-in"])
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/keys")
                .join(pem),
        )
        .output()
        .unwrap();
    let hex = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .trim_start_matches("Modulus=")
        .to_owned();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    use base64::Engine as _;
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": n, "e": "AQAB"})
}

/// A service-role request reads every note (RLS bypassed), in order.
async fn all_notes(api: &impl Stack, authorization: &str) {
    let reply = send(
        api,
        "GET",
        "/notes?select=body&order=id",
        &[("authorization", authorization)],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        bodies(&reply),
        ["alice public", "alice private", "bob private"]
    );
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn bodies(reply: &crate::support::Reply) -> Vec<String> {
    reply
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn anon_user_and_service_role_see_what_rls_allows() {
    let (api, db) = stack(true, JwtAuthLayer::secret(SECRET).unwrap()).await;
    let uri = "/notes?select=body&order=id";

    // No credentials at all: the anonymous role.
    assert_eq!(bodies(&send(&api, "GET", uri, &[]).await), ["alice public"]);
    // The anon key, as supabase clients send it (apikey + Bearer).
    let anon = anon_key();
    let headers = [("apikey", anon.as_str()), ("authorization", &bearer(&anon))];
    assert_eq!(
        bodies(&send(&api, "GET", uri, &headers).await),
        ["alice public"]
    );

    // A user sees public rows and their own.
    let alice = user(ALICE);
    let as_alice = [
        ("apikey", anon.as_str()),
        ("authorization", &bearer(&alice)),
    ];
    assert_eq!(
        bodies(&send(&api, "GET", uri, &as_alice).await),
        ["alice public", "alice private"]
    );
    let bob = user(BOB);
    assert_eq!(
        bodies(&send(&api, "GET", uri, &[("authorization", &bearer(&bob))]).await),
        ["alice public", "bob private"]
    );
    // The apikey alone decides when there is no Bearer token.
    assert_eq!(
        bodies(&send(&api, "GET", uri, &[("apikey", alice.as_str())]).await),
        ["alice public", "alice private"]
    );

    // A user inserts their own rows, and no one else's.
    let json = ("content-type", "application/json");
    let reply = send_body(
        &api,
        "POST",
        "/notes",
        &[as_alice[1], json],
        format!(r#"{{"owner": "{ALICE}", "body": "mine"}}"#),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let body = send_body(
        &api,
        "POST",
        "/notes",
        &[as_alice[1], json],
        format!(r#"{{"owner": "{BOB}", "body": "forged"}}"#),
    )
    .await
    .error(403, "rls_denied");
    assert_eq!(
        body["message"],
        "new row violates row-level security policy for table \"notes\""
    );
    // anon may not insert at all.
    send_body(
        &api,
        "POST",
        "/notes",
        &[json],
        format!(r#"{{"owner": "{ALICE}", "body": "anon"}}"#),
    )
    .await
    .error(403, "rls_denied");
    // A user's update only reaches their rows.
    let reply = send_body(
        &api,
        "PATCH",
        "/notes?body=like.*private",
        &[as_alice[1], json],
        r#"{"public": true}"#,
    )
    .await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("content-range"), "0-0/*");

    // The service role bypasses RLS: it sees and changes everything.
    let service = service_key();
    let as_service = [
        ("apikey", service.as_str()),
        ("authorization", &bearer(&service)),
    ];
    assert_eq!(
        bodies(&send(&api, "GET", uri, &as_service).await),
        ["alice public", "alice private", "bob private", "mine"]
    );
    let reply = send_body(
        &api,
        "PATCH",
        "/notes",
        &[as_service[1], json],
        r#"{"body": "redacted"}"#,
    )
    .await;
    assert_eq!(reply.header("content-range"), "0-3/*");

    assert_eq!(
        rows(
            &db,
            "SELECT owner::text, body, public FROM notes ORDER BY id"
        )
        .await,
        json!([
            {"owner": ALICE, "body": "redacted", "public": true},
            {"owner": ALICE, "body": "redacted", "public": true},
            {"owner": BOB, "body": "redacted", "public": false},
            {"owner": ALICE, "body": "redacted", "public": false}
        ])
    );
}

#[tokio::test]
async fn bad_credentials_are_401_and_change_nothing() {
    let (api, db) = stack(
        false,
        JwtAuthLayer::secret(SECRET)
            .unwrap()
            .audience("authenticated"),
    )
    .await;
    let other_secret = hs256(
        json!({"role": "authenticated", "sub": ALICE}),
        "another-secret-another-secret-123",
    );
    let expired = hs256(
        json!({"role": "authenticated", "sub": ALICE, "exp": now() - 120}),
        SECRET,
    );
    let future = hs256(
        json!({"role": "authenticated", "sub": ALICE, "nbf": now() + 600}),
        SECRET,
    );
    let wrong_aud = hs256(
        json!({"role": "authenticated", "sub": ALICE, "aud": "someone-else"}),
        SECRET,
    );
    // `alg: none`: an unsigned token.
    let b64 = |v: Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(json!({"role": "service_role"}))
    );
    let rs256 = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &json!({"role": "service_role"}),
        &EncodingKey::from_rsa_pem(&key_file("rsa_private.pem")).unwrap(),
    )
    .unwrap();
    let cases: Vec<(String, &str)> = vec![
        ("garbage".into(), "Expected 3 parts in JWT; got 1"),
        // Not a header at all; PostgREST's words.
        ("a.b.c".into(), "JWT cryptographic operation failed"),
        (other_secret, "No suitable key or wrong key type"),
        (expired, "JWT expired"),
        (future, "JWT not yet valid"),
        (wrong_aud, "JWT not in audience"),
        (none, "Wrong or unsupported encoding algorithm"),
        (rs256, "No suitable key or wrong key type"),
    ];
    let json_ct = ("content-type", "application/json");
    for (token, message) in &cases {
        let auth = bearer(token);
        let reply = send_body(
            &api,
            "POST",
            "/notes",
            &[("authorization", &auth), json_ct],
            format!(r#"{{"owner": "{ALICE}", "body": "x"}}"#),
        )
        .await;
        let body = reply.error(401, "unauthorized");
        assert_eq!(body["message"], *message, "{token}");
        if token.ends_with('.') {
            assert_eq!(
                body["details"],
                "JWT is unsecured but expected 'alg' was not 'none'"
            );
        }
        let www = reply.header("www-authenticate");
        assert!(
            www.starts_with("Bearer error=\"invalid_token\", error_description=\""),
            "{www}"
        );
    }
    let body = send(&api, "GET", "/notes", &[("authorization", "Bearer ")])
        .await
        .error(401, "unauthorized");
    assert_eq!(body["message"], "Empty JWT is sent in Authorization header");

    // No credentials and no anonymous role.
    let reply = send(&api, "GET", "/notes", &[]).await;
    let body = reply.error(401, "unauthorized");
    assert_eq!(body["message"], "Anonymous access is disabled");
    assert_eq!(reply.header("www-authenticate"), "Bearer");
    // A token without a role claim, and no anonymous role.
    let no_role = hs256(json!({"sub": ALICE}), SECRET);
    send(
        &api,
        "GET",
        "/notes",
        &[("authorization", &bearer(&no_role))],
    )
    .await
    .error(401, "unauthorized");
    // A role the database does not know.
    let ghost = hs256(json!({"role": "ghost"}), SECRET);
    let body = send(&api, "GET", "/notes", &[("authorization", &bearer(&ghost))])
        .await
        .error(401, "unauthorized");
    assert_eq!(body["message"], "role \"ghost\" does not exist");

    assert_eq!(
        rows(&db, "SELECT count(*) AS n FROM notes").await,
        json!([{"n": 3}])
    );
    // The right audience passes.
    let alice = user(ALICE);
    assert_eq!(
        send(&api, "GET", "/notes", &[("authorization", &bearer(&alice))])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn asymmetric_keys_and_jwks() {
    let token = |alg: Algorithm, key: EncodingKey, kid: Option<&str>| {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(
            &header,
            &json!({"role": "service_role", "exp": now() + 60}),
            &key,
        )
        .unwrap()
    };
    let rsa = || EncodingKey::from_rsa_pem(&key_file("rsa_private.pem")).unwrap();
    let rsa_other = || EncodingKey::from_rsa_pem(&key_file("rsa_other_private.pem")).unwrap();
    let ec = || EncodingKey::from_ec_pem(&key_file("ec_private.pem")).unwrap();

    let (api, _) = stack(
        false,
        JwtAuthLayer::rsa_pem(&key_file("rsa_public.pem")).unwrap(),
    )
    .await;
    let ok = bearer(&token(Algorithm::RS256, rsa(), None));
    all_notes(&api, &ok).await;
    let wrong = bearer(&token(Algorithm::RS256, rsa_other(), None));
    send(&api, "GET", "/notes", &[("authorization", &wrong)])
        .await
        .error(401, "unauthorized");

    let (api, _) = stack(
        false,
        JwtAuthLayer::ec_pem(&key_file("ec_public.pem")).unwrap(),
    )
    .await;
    let ok = bearer(&token(Algorithm::ES256, ec(), None));
    all_notes(&api, &ok).await;

    // A JWKS: the token's kid picks the key.
    let jwks =
        json!({"keys": [rsa_jwk("rsa_other_public.pem", "old"), rsa_jwk("rsa_public.pem", "current")]})
            .to_string();
    let (api, _) = stack(false, JwtAuthLayer::secret(&jwks).unwrap()).await;
    let current = bearer(&token(Algorithm::RS256, rsa(), Some("current")));
    all_notes(&api, &current).await;
    let old = bearer(&token(Algorithm::RS256, rsa_other(), Some("old")));
    all_notes(&api, &old).await;
    // Signed by one key but naming the other.
    let mislabeled = bearer(&token(Algorithm::RS256, rsa(), Some("old")));
    send(&api, "GET", "/notes", &[("authorization", &mislabeled)])
        .await
        .error(401, "unauthorized");
    // No kid: every key is tried.
    let unlabeled = bearer(&token(Algorithm::RS256, rsa(), None));
    all_notes(&api, &unlabeled).await;
}

#[tokio::test]
async fn claims_method_path_headers_and_cookies_are_visible_to_sql() {
    let (api, _) = stack(true, JwtAuthLayer::secret(SECRET).unwrap()).await;
    let alice = user(ALICE);
    let reply = send(
        &api,
        "GET",
        "/notes?select=context&id=eq.1",
        &[
            ("authorization", &bearer(&alice)),
            ("x-request-id", "abc-123"),
            ("cookie", "session=s3cr3t; theme=dark"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let ctx = &reply.json()[0]["context"];
    assert_eq!(ctx["user"], "authenticated");
    assert_eq!(ctx["claims"]["sub"], ALICE);
    assert_eq!(ctx["claims"]["role"], "authenticated");
    assert_eq!(ctx["method"], "GET");
    assert_eq!(ctx["path"], "/notes");
    assert_eq!(ctx["headers"]["x-request-id"], "abc-123");
    assert_eq!(ctx["headers"]["authorization"], bearer(&alice));
    assert!(ctx["headers"].get("cookie").is_none());
    assert_eq!(
        ctx["cookies"],
        json!({"session": "s3cr3t", "theme": "dark"})
    );

    // Anonymous requests see their role in the claims too.
    let reply = send(&api, "GET", "/notes?select=context&id=eq.1", &[]).await;
    assert_eq!(
        reply.json()[0]["context"]["claims"],
        json!({"role": "anon"})
    );
    assert_eq!(reply.json()[0]["context"]["user"], "anon");
}

#[tokio::test]
async fn custom_claim_paths_and_resolvers() {
    let (svc, _) = scratch_with(NOTES, |b| b.anon_role("anon")).await;
    let api =
        ServiceBuilder::new()
            .layer(JwtAuthLayer::secret(SECRET).unwrap())
            .layer(SetRoleLayer::new().claim_path(
                tower_postgrest::layer::ClaimPath::parse("$.app_metadata.role").unwrap(),
            ))
            .service(svc.clone());
    let token = hs256(
        json!({"role": "anon", "sub": ALICE, "app_metadata": {"role": "authenticated"}}),
        SECRET,
    );
    let reply = send(
        &api,
        "GET",
        "/notes?select=body",
        &[("authorization", &bearer(&token))],
    )
    .await;
    assert_eq!(reply.json().as_array().unwrap().len(), 2);

    // PostgREST 16's JSONPath: the first role that a filter selects.
    let api = ServiceBuilder::new()
        .layer(JwtAuthLayer::secret(SECRET).unwrap())
        .layer(
            SetRoleLayer::new().claim_path(
                tower_postgrest::layer::ClaimPath::parse(
                    "$.app_metadata.roles[?search(@, '^auth')]",
                )
                .unwrap(),
            ),
        )
        .service(svc.clone());
    let token = hs256(
        json!({"role": "anon", "sub": ALICE, "app_metadata": {"roles": ["viewer", "authenticated"]}}),
        SECRET,
    );
    let reply = send(
        &api,
        "GET",
        "/notes?select=body",
        &[("authorization", &bearer(&token))],
    )
    .await;
    assert_eq!(reply.json().as_array().unwrap().len(), 2, "{}", reply.text);

    let api = ServiceBuilder::new()
        .layer(JwtAuthLayer::secret(SECRET).unwrap())
        .layer(
            SetRoleLayer::new().resolver(|claims: &tower_postgrest::layer::Claims| {
                Ok(claims.get("admin").and_then(Value::as_bool).map(|admin| {
                    if admin {
                        "service_role".to_owned()
                    } else {
                        "authenticated".to_owned()
                    }
                }))
            }),
        )
        .service(svc);
    let token = hs256(json!({"admin": true}), SECRET);
    let reply = send(
        &api,
        "GET",
        "/notes?select=body",
        &[("authorization", &bearer(&token))],
    )
    .await;
    assert_eq!(reply.json().as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn the_api_key_gate_needs_a_verified_apikey_and_the_bearer_still_decides() {
    let (svc, _db) = stack(
        true,
        JwtAuthLayer::secret(SECRET).unwrap().require_apikey(true),
    )
    .await;
    let alice = bearer(&user(ALICE));
    let anon = anon_key();
    let forged = hs256(json!({"role": "anon"}), "another-secret-of-32-characters!!");

    // No apikey: refused, whatever the Bearer.
    for headers in [vec![], vec![("authorization", alice.as_str())]] {
        let reply = send(&svc, "GET", "/notes?select=body&order=id", &headers).await;
        assert_eq!(reply.status, 401, "{}", reply.text);
        assert_eq!(reply.json()["message"], "No API key found in request");
    }
    // An apikey that does not verify: refused, even with a valid Bearer.
    for key in ["garbage", forged.as_str()] {
        let reply = send(
            &svc,
            "GET",
            "/notes?select=body&order=id",
            &[("apikey", key), ("authorization", alice.as_str())],
        )
        .await;
        assert_eq!(reply.status, 401, "{}", reply.text);
        assert_eq!(reply.json()["message"], "Invalid API key");
    }
    // The anon key alone: anon's rows; with Alice's Bearer: Alice's.
    let reply = send(
        &svc,
        "GET",
        "/notes?select=body&order=id",
        &[("apikey", anon.as_str())],
    )
    .await;
    assert_eq!(bodies(&reply), ["alice public"]);
    let reply = send(
        &svc,
        "GET",
        "/notes?select=body&order=id",
        &[("apikey", anon.as_str()), ("authorization", alice.as_str())],
    )
    .await;
    assert_eq!(bodies(&reply), ["alice public", "alice private"]);

    // Off (the default): a Bearer alone is enough, as for PostgREST clients.
    let (svc, _db) = stack(true, JwtAuthLayer::secret(SECRET).unwrap()).await;
    let reply = send(
        &svc,
        "GET",
        "/notes?select=body&order=id",
        &[("authorization", alice.as_str())],
    )
    .await;
    assert_eq!(bodies(&reply), ["alice public", "alice private"]);
}

#[tokio::test]
async fn a_token_in_a_cookie_authenticates_and_the_headers_win() {
    let (svc, _db) = stack(
        true,
        JwtAuthLayer::secret(SECRET)
            .unwrap()
            .cookie("sb-access-token"),
    )
    .await;
    let alice = user(ALICE);
    let cookie = format!("theme=dark; sb-access-token={alice}; other=1");
    let reply = send(
        &svc,
        "GET",
        "/notes?select=body&order=id",
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(
        bodies(&reply),
        ["alice public", "alice private"],
        "RLS as Alice"
    );
    // A header's token wins over the cookie's.
    let anon = anon_key();
    let reply = send(
        &svc,
        "GET",
        "/notes?select=body&order=id",
        &[("cookie", &cookie), ("apikey", &anon)],
    )
    .await;
    assert_eq!(bodies(&reply), ["alice public"]);
    // A cookie that does not verify is 401, as a header's would be.
    let forged = hs256(
        json!({"role": "authenticated", "sub": ALICE}),
        "another-secret-of-32-characters!!",
    );
    let reply = send(
        &svc,
        "GET",
        "/notes?select=body",
        &[("cookie", &format!("sb-access-token={forged}"))],
    )
    .await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    // Without `.cookie(…)`, cookies are not credentials.
    let (svc, _db) = stack(true, JwtAuthLayer::secret(SECRET).unwrap()).await;
    let reply = send(
        &svc,
        "GET",
        "/notes?select=body&order=id",
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(bodies(&reply), ["alice public"]);
}

/// A JWKS endpoint on 127.0.0.1 whose document a test replaces. It answers
/// with an `ETag` (and `If-None-Match` with 304), an optional
/// `Cache-Control`, and counts what it was asked.
struct JwksServer {
    url: String,
    doc: Arc<Mutex<(Value, u64)>>,
    fetches: Arc<AtomicUsize>,
    not_modified: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(keys: Value, cache_control: Option<&'static str>) -> Self {
        let doc = Arc::new(Mutex::new((json!({ "keys": keys }), 1)));
        let fetches = Arc::new(AtomicUsize::new(0));
        let not_modified = Arc::new(AtomicUsize::new(0));
        let (d, f, n) = (doc.clone(), fetches.clone(), not_modified.clone());
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move |headers: http::HeaderMap| {
                let (d, f, n) = (d.clone(), f.clone(), n.clone());
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    let (doc, version) = d.lock().unwrap().clone();
                    let etag = format!("\"v{version}\"");
                    let mut res = if headers
                        .get("if-none-match")
                        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
                    {
                        n.fetch_add(1, Ordering::SeqCst);
                        http::Response::builder()
                            .status(304)
                            .body(axum::body::Body::empty())
                    } else {
                        http::Response::builder()
                            .header("content-type", "application/json")
                            .body(axum::body::Body::from(doc.to_string()))
                    }
                    .unwrap();
                    res.headers_mut().insert("etag", etag.parse().unwrap());
                    if let Some(cc) = cache_control {
                        res.headers_mut()
                            .insert("cache-control", cc.parse().unwrap());
                    }
                    res
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            doc,
            fetches,
            not_modified,
        }
    }

    fn publish(&self, keys: Value) {
        let mut doc = self.doc.lock().unwrap();
        *doc = (json!({ "keys": keys }), doc.1 + 1);
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// An RS256 token for Alice, signed by a fixture key and naming `kid`.
fn alice_rs256(private_pem: &str, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    bearer(
        &jsonwebtoken::encode(
            &header,
            &json!({"role": "authenticated", "sub": ALICE, "exp": now() + 600}),
            &EncodingKey::from_rsa_pem(&key_file(private_pem)).unwrap(),
        )
        .unwrap(),
    )
}

/// Sends `token` until the status is `want`, for at most `deadline`; the time it took.
async fn until_status(api: &impl Stack, token: &str, want: u16, deadline: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let reply = send(
            api,
            "GET",
            "/notes?select=body",
            &[("authorization", token)],
        )
        .await;
        if reply.status == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < deadline,
            "still {} after {:?}, wanted {want}: {}",
            reply.status,
            start.elapsed(),
            reply.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn keys_from_a_jwks_url_rotate_and_a_new_kid_is_fetched_at_once() {
    let server = JwksServer::start(json!([rsa_jwk("rsa_other_public.pem", "old")]), None).await;
    let auth = JwtAuthLayer::jwks_url(&server.url)
        .await
        .unwrap()
        .jwks_min_refetch(Duration::ZERO);
    assert_eq!(server.fetches(), 1, "read once at startup");
    let (api, _db) = stack(false, auth).await;
    let old = alice_rs256("rsa_other_private.pem", "old");
    let reply = send(
        &api,
        "GET",
        "/notes?select=body&order=id",
        &[("authorization", &old)],
    )
    .await;
    assert_eq!(
        bodies(&reply),
        ["alice public", "alice private"],
        "RLS as Alice"
    );

    // The provider rotates in a key: its first token is fetched for and accepted.
    server.publish(json!([
        rsa_jwk("rsa_other_public.pem", "old"),
        rsa_jwk("rsa_public.pem", "current")
    ]));
    let current = alice_rs256("rsa_private.pem", "current");
    let reply = send(
        &api,
        "GET",
        "/notes?select=body&order=id",
        &[("authorization", &current)],
    )
    .await;
    assert_eq!(
        bodies(&reply),
        ["alice public", "alice private"],
        "{}",
        reply.text
    );
    assert_eq!(server.fetches(), 2, "one fetch for the unknown kid");

    // A kid the provider does not have is still 401, after one more look.
    let made_up = alice_rs256("rsa_private.pem", "made-up");
    send(&api, "GET", "/notes", &[("authorization", &made_up)])
        .await
        .error(401, "unauthorized");
    assert_eq!(server.fetches(), 3);
    // Known kids cause no fetch.
    send(&api, "GET", "/notes", &[("authorization", &current)]).await;
    assert_eq!(server.fetches(), 3);
}

#[tokio::test]
async fn a_removed_key_stops_verifying_within_the_refresh_interval() {
    let server = JwksServer::start(
        json!([
            rsa_jwk("rsa_other_public.pem", "old"),
            rsa_jwk("rsa_public.pem", "current")
        ]),
        None,
    )
    .await;
    let refresh = Duration::from_secs(1);
    let auth = JwtAuthLayer::jwks_url(&server.url)
        .await
        .unwrap()
        .jwks_refresh(refresh)
        .jwks_min_refetch(Duration::from_secs(3600));
    let (api, _db) = stack(false, auth).await;
    let old = alice_rs256("rsa_other_private.pem", "old");
    // Verified now, and so cached.
    until_status(&api, &old, 200, Duration::ZERO).await;
    until_status(&api, &old, 200, Duration::ZERO).await;

    // Unchanged documents are asked for conditionally and answered 304.
    let start = Instant::now();
    while server.not_modified.load(Ordering::SeqCst) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no conditional refresh"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Made-up kids cause no fetch beyond the interval's, whatever their number.
    let before = server.fetches();
    let start = Instant::now();
    for i in 0..50 {
        let forged = alice_rs256("rsa_private.pem", &format!("made-up-{i}"));
        send(&api, "GET", "/notes", &[("authorization", &forged)])
            .await
            .error(401, "unauthorized");
    }
    let intervals = start.elapsed().as_secs() as usize + 2;
    let caused = server.fetches() - before;
    assert!(
        caused <= intervals,
        "{caused} fetches for 50 unknown kids in {:?}",
        start.elapsed()
    );

    // The provider removes the old key: its tokens (cached) stop verifying.
    server.publish(json!([rsa_jwk("rsa_public.pem", "current")]));
    let took = until_status(&api, &old, 401, Duration::from_secs(20)).await;
    println!("a removed key was refused {took:?} after removal (refresh every {refresh:?})");
    // A key added under the rate limit appears with the next refresh.
    server.publish(json!([
        rsa_jwk("rsa_public.pem", "current"),
        rsa_jwk("rsa_other_public.pem", "next")
    ]));
    let next = alice_rs256("rsa_other_private.pem", "next");
    let took = until_status(&api, &next, 200, Duration::from_secs(20)).await;
    println!("a rotated key was accepted {took:?} after publication");
    let current = alice_rs256("rsa_private.pem", "current");
    until_status(&api, &current, 200, Duration::ZERO).await;
}

#[tokio::test]
async fn a_short_max_age_brings_the_refresh_forward() {
    let server = JwksServer::start(
        json!([
            rsa_jwk("rsa_other_public.pem", "old"),
            rsa_jwk("rsa_public.pem", "current")
        ]),
        Some("public, max-age=1"),
    )
    .await;
    // An hour between refreshes, but the provider says its answer lasts a second.
    let auth = JwtAuthLayer::jwks_url(&server.url)
        .await
        .unwrap()
        .jwks_refresh(Duration::from_secs(3600))
        .jwks_min_refetch(Duration::from_secs(3600));
    let (api, _db) = stack(false, auth).await;
    let old = alice_rs256("rsa_other_private.pem", "old");
    until_status(&api, &old, 200, Duration::ZERO).await;
    server.publish(json!([rsa_jwk("rsa_public.pem", "current")]));
    until_status(&api, &old, 401, Duration::from_secs(20)).await;
}

#[tokio::test]
async fn a_jwks_url_must_answer_with_keys_and_be_https_elsewhere() {
    let e = JwtAuthLayer::jwks_url("http://example.com/jwks.json")
        .await
        .unwrap_err();
    assert_eq!(e.message(), "The JWKS URL must be https");
    let server = JwksServer::start(json!([]), None).await;
    let e = JwtAuthLayer::jwks_url(&server.url).await.unwrap_err();
    assert_eq!(e.message(), "The JWKS document has no usable key");
    // Nothing listens there.
    let e = JwtAuthLayer::jwks_url("http://127.0.0.1:9/jwks.json")
        .await
        .unwrap_err();
    assert_eq!(e.message(), "The JWKS URL did not answer");
}

/// The attack: a JWKS URL that publishes a shared secret (`oct`) lets
/// anyone who reads the URL sign tokens. Such keys are ignored (with a
/// warning), a document with nothing else is refused at start, and a token
/// signed with the published secret is 401 beside an RSA key that verifies.
#[tokio::test]
async fn a_jwks_url_never_trusts_a_published_shared_secret() {
    use base64::Engine as _;
    let oct = |kid: &str| {
        json!({"kty": "oct", "kid": kid, "alg": "HS256",
               "k": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SECRET)})
    };
    let server = JwksServer::start(json!([oct("shared")]), None).await;
    let e = JwtAuthLayer::jwks_url(&server.url).await.unwrap_err();
    assert_eq!(e.message(), "The JWKS document has no usable key");

    let server = JwksServer::start(
        json!([oct("shared"), rsa_jwk("rsa_public.pem", "rsa")]),
        None,
    )
    .await;
    let auth = JwtAuthLayer::jwks_url(&server.url).await.unwrap();
    let (api, _db) = stack(false, auth).await;
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("shared".to_owned());
    let forged = jsonwebtoken::encode(
        &header,
        &json!({"role": "authenticated", "sub": ALICE, "exp": now() + 600}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let reply = send(
        &api,
        "GET",
        "/notes?select=body",
        &[("authorization", &bearer(&forged))],
    )
    .await;
    reply.error(401, "unauthorized");
    let genuine = alice_rs256("rsa_private.pem", "rsa");
    until_status(&api, &genuine, 200, Duration::ZERO).await;
}

/// The attack on cookie tokens: a page on another site makes the browser
/// send a request with the cookie, without a preflight (`fetch(api,
/// {method: "POST", mode: "no-cors", credentials: "include", body})` or a
/// form). Each such request is refused before it reaches the database,
/// and nothing is written; the same requests with the token in
/// `Authorization` (which no other site can add) still work, and so do the
/// cookie's own safe uses.
#[tokio::test]
async fn a_cookie_token_is_refused_on_requests_another_site_can_send() {
    let auth = JwtAuthLayer::secret(SECRET)
        .unwrap()
        .cookie("sb-access-token")
        .cookie_origins(["https://app.example.com"]);
    let (svc, db) = stack(true, auth).await;
    let alice = user(ALICE);
    let cookie = format!("sb-access-token={alice}");
    let note = format!(r#"{{"owner": "{ALICE}", "body": "forged"}}"#);
    let batch = format!(r#"[{{"method": "POST", "path": "/notes", "body": {note}}}]"#);
    let count = || async { rows(&db, "SELECT count(*) AS n FROM notes").await[0]["n"].clone() };
    let before = count().await;
    for (path, content_type, body) in [
        ("/notes", Some("text/plain"), note.as_str()),
        (
            "/notes",
            Some("application/x-www-form-urlencoded"),
            "owner=x&body=forged",
        ),
        ("/notes", Some("multipart/form-data; boundary=x"), "--x--"),
        ("/notes", None, note.as_str()),
        ("/", Some("text/plain"), batch.as_str()),
        ("/rpc/anything", Some("text/plain;charset=UTF-8"), "{}"),
    ] {
        let mut headers = vec![("cookie", cookie.as_str())];
        headers.extend(content_type.map(|t| ("content-type", t)));
        let reply = send_body(&svc, "POST", path, &headers, body.to_owned()).await;
        let e = reply.error(403, "rls_denied");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .starts_with("The token from the cookie is not accepted"),
            "{path} {content_type:?}: {}",
            reply.text
        );
    }
    // A JSON POST from another site's page (its Origin) is refused too.
    let json = ("content-type", "application/json");
    let reply = send_body(
        &svc,
        "POST",
        "/notes",
        &[
            ("cookie", &cookie),
            json,
            ("origin", "https://evil.example"),
        ],
        note.clone(),
    )
    .await;
    reply.error(403, "rls_denied");
    assert_eq!(count().await, before, "nothing was written");

    // The same requests with the token in a header work.
    let bearer_alice = bearer(&alice);
    let reply = send_body(
        &svc,
        "POST",
        "/notes",
        &[
            ("authorization", &bearer_alice),
            ("content-type", "text/plain"),
        ],
        note.clone(),
    )
    .await;
    // text/plain is not a body format a table takes: refused by the parser, not for credentials.
    assert_eq!(reply.status, 422, "{}", reply.text);
    let reply = send_body(
        &svc,
        "POST",
        "/notes",
        &[
            ("authorization", &bearer_alice),
            json,
            ("origin", "https://evil.example"),
        ],
        note.clone(),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    // The cookie from the server's own page, an allowed origin, or no origin.
    for origin in [
        None,
        Some("http://localhost"),
        Some("https://app.example.com"),
    ] {
        let mut headers = vec![("cookie", cookie.as_str()), json, ("host", "localhost")];
        headers.extend(origin.map(|o| ("origin", o)));
        let reply = send_body(&svc, "POST", "/notes", &headers, note.clone()).await;
        assert_eq!(reply.status, 201, "{origin:?}: {}", reply.text);
    }
    // A read with the cookie: its answer is for this server's pages (CORS keeps it from others).
    let reply = send(
        &svc,
        "GET",
        "/notes?select=body&order=id&limit=1",
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

/// Both key sources at once: a project's legacy shared secret and the
/// asymmetric keys it publishes. Tokens signed by either verify; rotating
/// the URL's keys leaves the secret's tokens alone.
#[tokio::test]
async fn a_secret_and_a_jwks_url_verify_together() {
    let server = JwksServer::start(json!([rsa_jwk("rsa_public.pem", "current")]), None).await;
    let auth = JwtAuthLayer::secret(SECRET)
        .unwrap()
        .and_jwks_url(&server.url)
        .await
        .unwrap()
        .jwks_min_refetch(Duration::ZERO);
    let (api, _db) = stack(false, auth).await;
    let legacy = bearer(&user(ALICE));
    let published = alice_rs256("rsa_private.pem", "current");
    until_status(&api, &legacy, 200, Duration::ZERO).await;
    until_status(&api, &published, 200, Duration::ZERO).await;
    // The provider rotates: the old key is gone, a new one comes.
    server.publish(json!([rsa_jwk("rsa_other_public.pem", "next")]));
    let next = alice_rs256("rsa_other_private.pem", "next");
    until_status(&api, &next, 200, Duration::from_secs(20)).await;
    until_status(&api, &published, 401, Duration::from_secs(20)).await;
    until_status(&api, &legacy, 200, Duration::ZERO).await;
    // A token signed with neither is refused.
    let forged = bearer(&hs256(
        json!({"role": "authenticated", "sub": ALICE, "exp": now() + 600}),
        "another-secret-of-32-characters!!",
    ));
    until_status(&api, &forged, 401, Duration::ZERO).await;
}

#[tokio::test]
async fn opaque_api_keys_run_as_their_roles_and_a_secret_one_never_from_a_browser() {
    const PUBLISHABLE: &str = "sb_publishable_5xTq0yJb2Wm8RkLp3Nc7Vd";
    const SECRET_KEY: &str = "sb_secret_Hq4nZ1uYt6Ls9Xe2Pw0Ja8";
    let auth = JwtAuthLayer::secret(SECRET)
        .unwrap()
        .api_key(PUBLISHABLE, "anon")
        .api_key(SECRET_KEY, "service_role")
        .secret_api_key("internal-job-key-7f3a91c2", "service_role");
    // No anonymous role: a request runs as anon only through the key.
    let (api, _db) = stack(false, auth).await;
    let uri = "/notes?select=body&order=id";
    let get = |headers: Vec<(&'static str, String)>| {
        let api = &api;
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            send(api, "GET", uri, &headers).await
        }
    };
    let everything = ["alice public", "alice private", "bob private"];

    // The publishable key, alone or as supabase-js sends it without a
    // session (apikey + the same key as Bearer): anon, under RLS.
    for headers in [
        vec![("apikey", PUBLISHABLE.to_owned())],
        vec![
            ("apikey", PUBLISHABLE.to_owned()),
            ("authorization", bearer(PUBLISHABLE)),
        ],
        vec![("authorization", bearer(PUBLISHABLE))],
    ] {
        assert_eq!(bodies(&get(headers).await), ["alice public"]);
    }
    // The secret key bypasses RLS, from a server.
    for headers in [
        vec![("apikey", SECRET_KEY.to_owned())],
        vec![
            ("apikey", SECRET_KEY.to_owned()),
            ("authorization", bearer(SECRET_KEY)),
        ],
        vec![
            ("apikey", SECRET_KEY.to_owned()),
            ("user-agent", "node".to_owned()),
        ],
        vec![("apikey", "internal-job-key-7f3a91c2".to_owned())],
    ] {
        assert_eq!(bodies(&get(headers).await), everything);
    }
    // A user's JWT wins over the publishable key.
    let alice = bearer(&user(ALICE));
    let reply = get(vec![
        ("apikey", PUBLISHABLE.to_owned()),
        ("authorization", alice.clone()),
    ])
    .await;
    assert_eq!(bodies(&reply), ["alice public", "alice private"]);

    // A secret key from a browser (its Origin, or a browser's User-Agent) is
    // 401, whatever else the request carries.
    let browser_ua =
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36";
    for headers in [
        vec![
            ("apikey", SECRET_KEY.to_owned()),
            ("origin", "https://app.example.com".to_owned()),
        ],
        vec![
            ("apikey", SECRET_KEY.to_owned()),
            ("user-agent", browser_ua.to_owned()),
        ],
        vec![
            ("authorization", bearer(SECRET_KEY)),
            ("origin", "http://localhost:5173".to_owned()),
        ],
        vec![
            ("apikey", SECRET_KEY.to_owned()),
            ("authorization", alice.clone()),
            ("origin", "https://app.example.com".to_owned()),
        ],
        vec![
            ("apikey", "internal-job-key-7f3a91c2".to_owned()),
            ("user-agent", browser_ua.to_owned()),
        ],
    ] {
        let reply = get(headers.clone()).await;
        assert_eq!(reply.status, 401, "{headers:?}: {}", reply.text);
        assert_eq!(
            reply.json()["message"],
            "Forbidden use of secret API key in browser"
        );
        assert!(!reply.text.contains(SECRET_KEY), "the key is never echoed");
    }
    // The publishable key from a browser is what it is for.
    let reply = get(vec![
        ("apikey", PUBLISHABLE.to_owned()),
        ("origin", "https://app.example.com".to_owned()),
    ])
    .await;
    assert_eq!(bodies(&reply), ["alice public"]);

    // Unknown `sb_` keys, in either header, are 401 and name no key.
    for headers in [
        vec![("apikey", "sb_publishable_5xTq0yJb2Wm8RkLp3Nc7Ve".to_owned())],
        vec![
            ("apikey", "sb_secret_nope".to_owned()),
            ("authorization", alice.clone()),
        ],
        vec![("authorization", bearer("sb_publishable_"))],
    ] {
        let reply = get(headers.clone()).await;
        assert_eq!(reply.status, 401, "{headers:?}: {}", reply.text);
        assert_eq!(reply.json()["message"], "Invalid API key");
    }
    // A malformed JWT keeps PostgREST's message.
    let reply = get(vec![("authorization", bearer("not-a-token"))]).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["message"], "Expected 3 parts in JWT; got 1");
}

#[tokio::test]
async fn the_api_key_gate_takes_opaque_keys_too() {
    let auth = JwtAuthLayer::secret(SECRET)
        .unwrap()
        .require_apikey(true)
        .api_key("sb_publishable_gate0000000000000000", "anon");
    let (api, _db) = stack(false, auth).await;
    let alice = bearer(&user(ALICE));
    let reply = send(
        &api,
        "GET",
        "/notes?select=body&order=id",
        &[
            ("apikey", "sb_publishable_gate0000000000000000"),
            ("authorization", &alice),
        ],
    )
    .await;
    assert_eq!(bodies(&reply), ["alice public", "alice private"]);
    let reply = send(
        &api,
        "GET",
        "/notes?select=body&order=id",
        &[("authorization", &alice)],
    )
    .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["message"], "No API key found in request");
}
