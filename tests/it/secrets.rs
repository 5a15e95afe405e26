//! Secrets stay secret: no 5xx body, error `details` or log line at info level
//! carries the database URL or password, the JWT secret or a full token.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;
use tower::ServiceBuilder;
use tower_postgrest::layer::{ErrorMappingLayer, JwtAuthLayer, SetRoleLayer};

use crate::support::{Reply, own_cluster, send_body, service_at};

const PASSWORD: &str = "pw-Zq81-never-shown";
const SECRET: &str = "jwt-secret-9f3b2c7d1e-never-shown-anywhere";

/// Everything logged at info level and above, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn token(claims: serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "{what} leaks {secret:?}: {text}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn no_secret_reaches_a_body_or_a_log_line() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let c = own_cluster(&format!(
        "ALTER ROLE postgres PASSWORD '{PASSWORD}';
         CREATE ROLE web NOLOGIN; GRANT web TO postgres;
         CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1);
         GRANT SELECT, INSERT ON public.t TO web;
         CREATE FUNCTION public.boom() RETURNS int LANGUAGE plpgsql AS
           $$BEGIN RAISE EXCEPTION 'boom' USING ERRCODE = 'XX000'; END$$;
         GRANT EXECUTE ON FUNCTION public.boom() TO web;"
    ))
    .await;
    let url = format!(
        "postgres://postgres:{PASSWORD}@127.0.0.1:{}/postgres",
        c.port()
    );
    let rest = service_at(&url, 2).await;
    let api = ServiceBuilder::new()
        .layer(ErrorMappingLayer::powabase())
        .layer(JwtAuthLayer::secret(SECRET).unwrap())
        .layer(SetRoleLayer::new())
        .service(rest);

    let exp = 4_000_000_000u64;
    let valid = token(json!({"role": "web", "exp": exp}), SECRET);
    let expired = token(json!({"role": "web", "exp": 1}), SECRET);
    let forged = token(
        json!({"role": "web", "exp": exp}),
        "some-other-secret-entirely",
    );
    let stranger = token(json!({"role": "postgres_superuser_x", "exp": exp}), SECRET);
    let secrets = [
        PASSWORD,
        SECRET,
        url.as_str(),
        valid.as_str(),
        expired.as_str(),
        forged.as_str(),
        stranger.as_str(),
    ];

    let call = |token: &str, method: &'static str, path: &'static str, body: &'static str| {
        let auth = format!("Bearer {token}");
        let api = api.clone();
        async move {
            send_body(
                &api,
                method,
                path,
                &[
                    ("authorization", auth.as_str()),
                    ("content-type", "application/json"),
                ],
                body,
            )
            .await
        }
    };
    let mut replies: Vec<(&str, Reply)> = Vec::new();
    replies.push(("valid", call(&valid, "GET", "/t?select=id", "").await));
    assert_eq!(replies[0].1.status.as_u16(), 200, "{}", replies[0].1.text);
    replies.push(("expired", call(&expired, "GET", "/t", "").await));
    replies.push(("forged", call(&forged, "GET", "/t", "").await));
    replies.push(("unknown role", call(&stranger, "GET", "/t", "").await));
    replies.push(("not a token", call("abc.def", "GET", "/t", "").await));
    replies.push(("internal", call(&valid, "POST", "/rpc/boom", "{}").await));
    replies.push(("conflict", call(&valid, "POST", "/t", r#"{"id": 1}"#).await));
    // PostgreSQL goes away: connection errors are 503s without the URL.
    c.psql("postgres", "CHECKPOINT").unwrap();
    c.stop_server().unwrap();
    replies.push(("database down", call(&valid, "GET", "/t", "").await));
    replies.push((
        "database down, write",
        call(&valid, "POST", "/t", r#"{"id": 2}"#).await,
    ));

    let statuses: Vec<(&str, u16)> = replies
        .iter()
        .map(|(w, r)| (*w, r.status.as_u16()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("valid", 200),
            ("expired", 401),
            ("forged", 401),
            ("unknown role", 401),
            ("not a token", 401),
            ("internal", 500),
            ("conflict", 409),
            ("database down", 503),
            ("database down, write", 503),
        ]
    );
    for (what, reply) in &replies {
        assert_clean(what, &reply.text, &secrets);
        for value in reply.headers.values() {
            assert_clean(what, &String::from_utf8_lossy(value.as_bytes()), &secrets);
        }
    }
    // The 500 and the 503s were logged, with none of the secrets.
    let logged = logs.text();
    assert!(logged.contains("ERROR"), "{logged}");
    assert_clean("the log", &logged, &secrets);

    // Building a service against a database that refuses the connection fails
    // with an error that names neither the URL nor the password either.
    let manager =
        tower_postgrest::ConnectionManager::from_url(&url, tokio_postgres::NoTls).unwrap();
    let pool = manager
        .pool_builder()
        .connection_timeout(Duration::from_millis(300))
        .build_unchecked(manager);
    let err = tower_postgrest::RestService::builder(pool)
        .build()
        .await
        .unwrap_err();
    assert_clean("the build error", &format!("{err} {err:?}"), &secrets);
    assert_clean("the log", &logs.text(), &secrets);
}
