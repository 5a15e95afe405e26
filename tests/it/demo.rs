//! The demo server, as a newcomer runs it: `cargo run --example server`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `target/<profile>/examples/server`, which `cargo test` builds before running tests.
fn demo_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    profile_dir.join("examples").join("server")
}

fn http_get(addr: &str, path: &str, apikey: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let key = apikey
        .map(|k| format!("apikey: {k}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{key}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// What a started demo server printed up to "Press Ctrl-C"; its output is
/// drained from then on, so that what it prints later finds an open pipe.
pub(crate) struct Started {
    pub(crate) child: std::process::Child,
    printed: Vec<String>,
}

impl Started {
    /// The rest of the first printed line that starts with `prefix`.
    pub(crate) fn said(&self, prefix: &str) -> Option<String> {
        self.printed
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::to_owned)
    }
}

/// Starts the demo server on a free port with `env` (a value of `None`
/// removes the variable).
fn start_demo(env: &[(&str, Option<&str>)]) -> Started {
    let bin = demo_binary();
    assert!(bin.exists(), "{} not built", bin.display());
    let mut cmd = Command::new(&bin);
    cmd.env("PGRST_SERVER_PORT", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (name, value) in env {
        match value {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut printed = Vec::new();
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        let done = line.starts_with("Press Ctrl-C");
        printed.push(line);
        if done {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    Started { child, printed }
}

/// The demo server on its own throwaway database.
fn start_throwaway() -> Started {
    start_throwaway_with(&[])
}

/// The demo server on its own throwaway database, with `extra` settings.
pub(crate) fn start_throwaway_with(extra: &[(&str, Option<&str>)]) -> Started {
    let mut env = vec![
        ("DATABASE_URL", None),
        ("PGRST_DB_URI", None),
        ("PGRST_JWT_SECRET", None),
    ];
    env.extend_from_slice(extra);
    start_demo(&env)
}

#[test]
fn demo_server_serves_the_demo_data_and_cleans_up() {
    let started = start_throwaway();
    let pg_url = started.said("PostgreSQL is running: ");
    let base = started
        .said("Serving the REST API at http://")
        .expect("the demo server announced its address");
    let anon_key = started
        .said("anon key: ")
        .expect("the demo server printed an anon key");
    let service_key = started
        .said("service_role key: ")
        .expect("the demo server printed a service_role key");
    let mut child = started.child;
    let (addr, prefix) = base.split_once('/').unwrap();

    // Without a key: 401, as the API it reproduces answers without an anonymous role.
    let (status, _) = http_get(addr, &format!("/{prefix}/books"), None);
    assert_eq!(status, 401);
    // RLS: anon sees published reviews only, the service role every review.
    let (_, body) = http_get(
        addr,
        &format!("/{prefix}/reviews?select=id"),
        Some(&anon_key),
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let (_, body) = http_get(
        addr,
        &format!("/{prefix}/reviews?select=id"),
        Some(&service_key),
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        4
    );

    let (status, body) = http_get(
        addr,
        &format!("/{prefix}/books?select=title,price&price=gt.10&order=price.desc&limit=2"),
        Some(&anon_key),
    );
    assert_eq!(status, 200, "{body}");
    let rows: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([
            {"title": "Solaris", "price": 12.00},
            {"title": "Consider Phlebas", "price": 11.25}
        ])
    );
    // PostgreSQL's own rendering of numeric(10,2).
    assert!(body.contains("12.00"), "{body}");

    // Ctrl-C stops the server and removes the throwaway cluster.
    let pid = child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let pg_port = pg_url
        .unwrap()
        .rsplit_once(':')
        .unwrap()
        .1
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        TcpStream::connect(format!("127.0.0.1:{pg_port}")).is_err(),
        "PostgreSQL still listening after the demo server stopped"
    );
}

/// `RestService` and its future have the bounds every tower host needs.
#[test]
fn service_bounds() {
    fn clone_send_sync_static<T: Clone + Send + Sync + 'static>() {}
    fn send<T: Send>() {}
    clone_send_sync_static::<tower_postgrest::RestService>();
    send::<tower_postgrest::ResponseFuture>();
    // axum takes it as is.
    let _ = |rest: tower_postgrest::RestService| {
        axum::Router::<()>::new().nest_service("/rest/v1", rest)
    };
}

/// One HTTP/1.1 exchange on a fresh connection.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    write!(stream, "{head}\r\n{body}").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn custom_auth_example_maps_its_own_credentials_to_roles() {
    let (mut child, base) = start_example("custom_auth");
    let (addr, prefix) = base.split_once('/').unwrap();
    let reviews = format!("/{prefix}/reviews?select=id,user_id&order=id");
    let count = |body: &str| {
        serde_json::from_str::<serde_json::Value>(body)
            .unwrap()
            .as_array()
            .unwrap()
            .len()
    };

    assert_eq!(http(addr, "GET", &reviews, &[], "").0, 401);
    assert_eq!(
        http(addr, "GET", &reviews, &[("x-api-key", "wrong")], "").0,
        401
    );
    // The API key is the service role: every review.
    let (status, body) = http(addr, "GET", &reviews, &[("x-api-key", "demo-api-key")], "");
    assert_eq!((status, count(&body)), (200, 4), "{body}");
    // The session is user 2: published reviews and their own draft.
    let session = [("cookie", "theme=dark; session=demo-session")];
    let (status, body) = http(
        addr,
        "GET",
        &format!("/{prefix}/reviews?select=id&published=is.false"),
        &session,
        "",
    );
    assert_eq!((status, body.as_str()), (200, "[{\"id\":4}]"));
    // RLS checks writes against the session's user.
    let json = ("content-type", "application/json");
    let own = r#"{"book_id": 3, "user_id": "00000000-0000-0000-0000-000000000002", "rating": 4}"#;
    assert_eq!(
        http(
            addr,
            "POST",
            &format!("/{prefix}/reviews"),
            &[session[0], json],
            own
        )
        .0,
        201
    );
    let forged =
        r#"{"book_id": 3, "user_id": "00000000-0000-0000-0000-000000000001", "rating": 1}"#;
    assert_eq!(
        http(
            addr,
            "POST",
            &format!("/{prefix}/reviews"),
            &[session[0], json],
            forged
        )
        .0,
        403
    );

    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// Starts `examples/<name>` on a free port; returns it and the base URL it announced.
fn start_example(name: &str) -> (std::process::Child, String) {
    let bin = demo_binary().with_file_name(name);
    assert!(bin.exists(), "{} not built", bin.display());
    let mut child = Command::new(&bin)
        .env_remove("DATABASE_URL")
        .env_remove("PGRST_DB_URI")
        .env("PORT", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix("Serving the REST API at http://") {
                    break url.to_owned();
                }
            }
            _ => {
                let mut why = String::new();
                if let Some(mut err) = child.stderr.take() {
                    let _ = err.read_to_string(&mut why);
                }
                panic!("{name} exited before serving: {why}");
            }
        }
    };
    // Its errors, if any, are not needed from here on.
    if let Some(err) = child.stderr.take() {
        std::thread::spawn(move || std::io::copy(&mut { err }, &mut std::io::sink()));
    }
    // Keep reading: a closed pipe would fail the example's next `println!`.
    std::thread::spawn(move || lines.for_each(drop));
    (child, base)
}

pub(crate) fn stop(mut child: std::process::Child) {
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}

const TWO_TITLES: &str =
    "[{\"title\":\"A Wizard of Earthsea\"}, \n {\"title\":\"The Left Hand of Darkness\"}]";

#[test]
fn hyper_example_serves_over_tcp() {
    let (child, base) = start_example("hyper");
    let (status, body) = http(
        &base,
        "GET",
        "/books?select=title&order=id&limit=2",
        &[],
        "",
    );
    assert_eq!((status, body.as_str()), (200, TWO_TITLES));
    stop(child);
}

#[test]
fn warp_example_serves_over_tcp() {
    let (child, base) = start_example("warp");
    let (addr, prefix) = base.split_once('/').unwrap();
    let (status, body) = http(
        addr,
        "GET",
        &format!("/{prefix}/books?select=title&order=id&limit=2"),
        &[],
        "",
    );
    assert_eq!((status, body.as_str()), (200, TWO_TITLES));
    let (status, body) = http(addr, "GET", &format!("/{prefix}/nope"), &[], "");
    assert_eq!(status, 404, "{body}");
    assert_eq!(http(addr, "GET", "/hello", &[], "").1, "hello from warp\n");
    stop(child);
}

#[test]
fn axum_nest_example_serves_over_tcp() {
    let (child, base) = start_example("axum_nest");
    let (addr, prefix) = base.split_once('/').unwrap();
    assert_eq!(
        http(addr, "GET", "/health", &[], ""),
        (200, "ok\n".to_owned())
    );
    assert_eq!(http(addr, "GET", "/visits", &[], "").1, "1\n");
    let (status, body) = http(
        addr,
        "GET",
        &format!("/{prefix}/books?select=title&order=id&limit=2"),
        &[],
        "",
    );
    assert_eq!((status, body.as_str()), (200, TWO_TITLES));
    // Nested at /api/rest/v1: a browser there gets the page, which reads
    // the document from where it was loaded.
    assert_eq!(prefix, "api/rest/v1");
    let (status, body) = http(
        addr,
        "GET",
        &format!("/{prefix}/"),
        &[("accept", "text/html,*/*;q=0.8")],
        "",
    );
    assert_eq!(status, 200);
    assert!(body.starts_with("<!doctype html>"), "{body:.100}");
    // The JWT layer is in front: a bad token never reaches the database.
    let (status, _) = http(
        addr,
        "GET",
        &format!("/{prefix}/books"),
        &[("authorization", "Bearer nope")],
        "",
    );
    assert_eq!(status, 401);
    stop(child);
}

/// The claims of a JWT, decoded without checking its signature.
fn claims(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn the_demo_refuses_a_real_database_without_a_secret() {
    let url = &crate::support::database().url;
    let out = Command::new(demo_binary())
        .env("DATABASE_URL", url)
        .env_remove("PGRST_JWT_SECRET")
        .env("PGRST_SERVER_PORT", "0")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("PGRST_JWT_SECRET is not set"), "{said}");
    assert!(!said.contains("key: ey"), "{said}");

    // With a secret it serves, and prints no keys: they would be real ones.
    let started = start_demo(&[
        ("DATABASE_URL", Some(url)),
        (
            "PGRST_JWT_SECRET",
            Some("a-secret-of-the-operator-s-own-32-chars"),
        ),
        ("PGRST_DB_ANON_ROLE", Some("anon")),
    ]);
    let printed = &started.printed;
    let base = started
        .said("Serving the REST API at http://")
        .expect("the demo server announced its address");
    assert!(
        printed.iter().all(|l| !l.contains(" key: ")),
        "{printed:#?}"
    );
    // The database has no role timeouts of its own here: the demo sets one.
    assert!(
        printed.iter().any(|l| l == "Statement timeout: 10000 ms"),
        "{printed:#?}"
    );
    let child = started.child;
    let (addr, prefix) = base.split_once('/').unwrap();
    let (status, body) = http(
        addr,
        "GET",
        &format!("/{prefix}/items?select=id&id=eq.1"),
        &[],
        "",
    );
    assert_eq!((status, body.as_str()), (200, r#"[{"id":1}]"#));
    // With default settings on a database without the DDL event triggers,
    // a table created, altered or dropped is served as it is within 5 s.
    let table = format!("demo_new_{}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ddl = |sql: String| {
        rt.block_on(async { crate::support::admin().await.batch_execute(&sql).await })
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    };
    let until = |path: String, want: u16| {
        let started = Instant::now();
        loop {
            let (status, body) = http(addr, "GET", &path, &[], "");
            if status == want {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{path}: still {status} after {:?}: {body}",
                started.elapsed()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    ddl(format!(
        "CREATE TABLE public.{table} (id int PRIMARY KEY); INSERT INTO public.{table} VALUES (7);
         GRANT SELECT ON public.{table} TO anon"
    ));
    until(format!("/{prefix}/{table}?select=id"), 200);
    ddl(format!(
        "ALTER TABLE public.{table} ADD COLUMN note text DEFAULT 'n'"
    ));
    until(format!("/{prefix}/{table}?select=note"), 200);
    ddl(format!("DROP TABLE public.{table}"));
    until(format!("/{prefix}/{table}?select=id"), 404);
    stop(child);
}

#[test]
fn the_demo_s_throwaway_keys_are_short_lived_and_its_own() {
    let started = start_throwaway();
    let base = started.said("Serving the REST API at http://").unwrap();
    let keys = ["anon key: ", "service_role key: "].map(|k| started.said(k).unwrap());
    let publishable = started
        .said("publishable key (anon): ")
        .expect("a publishable key");
    let secret = started
        .said("secret key (service_role): ")
        .expect("a secret key");
    let child = started.child;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for key in &keys {
        let exp = claims(key)["exp"].as_u64().expect("the key expires");
        assert!(exp > now && exp <= now + 3600 + 5, "exp {exp}, now {now}");
    }
    // Signed with a secret of this run's own, not a published one: a token
    // signed with the old development secret is refused.
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({"role": "service_role"}),
        &jsonwebtoken::EncodingKey::from_secret(
            b"super-secret-jwt-token-with-at-least-32-characters-long",
        ),
    )
    .unwrap();
    let (addr, prefix) = base.split_once('/').unwrap();
    let (status, _) = http(
        addr,
        "GET",
        &format!("/{prefix}/reviews?select=id"),
        &[("apikey", &forged)],
        "",
    );
    assert_eq!(status, 401);
    let (status, _) = http(
        addr,
        "GET",
        &format!("/{prefix}/reviews?select=id"),
        &[("apikey", &keys[1])],
        "",
    );
    assert_eq!(status, 200);
    // And an opaque pair of this run's own: the secret one works from a
    // server and is refused from a browser's page.
    assert!(publishable.starts_with("sb_publishable_") && secret.starts_with("sb_secret_"));
    let path = format!("/{prefix}/reviews?select=id");
    assert_eq!(
        http(addr, "GET", &path, &[("apikey", &publishable)], "").0,
        200
    );
    assert_eq!(http(addr, "GET", &path, &[("apikey", &secret)], "").0, 200);
    let (status, body) = http(
        addr,
        "GET",
        &path,
        &[("apikey", &secret), ("origin", "http://localhost:5173")],
        "",
    );
    assert_eq!(status, 401, "{body}");
    assert!(
        body.contains("Forbidden use of secret API key in browser"),
        "{body}"
    );
    stop(child);
}

/// The demo's `PGRST_*` settings each do what its table says, in one run:
/// max rows, PostgREST's error codes, OpenAPI off, the filter limit, the
/// statement timeout, a pre-request function, aggregates, plans, the API-key
/// gate and the JWT cookie.
#[test]
fn the_demo_s_settings_take_effect() {
    let extra = std::env::temp_dir().join(format!("demo-settings-{}.sql", std::process::id()));
    std::fs::write(
        &extra,
        "CREATE FUNCTION public.gate() RETURNS void LANGUAGE plpgsql AS $$
         BEGIN
           IF current_setting('request.headers', true)::json->>'x-block' = 'yes' THEN
             RAISE SQLSTATE 'PGRST' USING message = '{\"code\":\"P402\",\"message\":\"Blocked\"}',
               detail = '{\"status\":402,\"headers\":{}}';
           END IF;
         END $$;
         CREATE FUNCTION public.nap() RETURNS int LANGUAGE sql AS 'SELECT 1 FROM pg_sleep(5)';
         GRANT EXECUTE ON FUNCTION public.gate(), public.nap() TO anon, authenticated, service_role;",
    )
    .unwrap();
    let extra_path = extra.display().to_string();
    let mut started = start_demo(&[
        ("DATABASE_URL", None),
        ("PGRST_DB_URI", None),
        ("PGRST_JWT_SECRET", None),
        ("PGRST_DEMO_EXTRA_SQL", Some(&extra_path)),
        ("PGRST_DB_MAX_ROWS", Some("2")),
        ("PGRST_ERROR_STYLE", Some("postgrest")),
        ("PGRST_OPENAPI_MODE", Some("disabled")),
        ("PGRST_DB_MAX_FILTERS", Some("1")),
        ("PGRST_DB_STATEMENT_TIMEOUT", Some("300")),
        ("PGRST_DB_PRE_REQUEST", Some("public.gate")),
        ("PGRST_DB_AGGREGATES_ENABLED", Some("true")),
        ("PGRST_DB_PLAN_ENABLED", Some("true")),
        ("PGRST_API_KEY_REQUIRED", Some("true")),
        ("PGRST_JWT_COOKIE", Some("sb-access-token")),
        ("PGRST_SERVER_HEADER_TIMEOUT", Some("1")),
    ]);
    let base = started
        .said("Serving the REST API at http://")
        .expect("the demo says where it serves");
    let addr = base.split('/').next().unwrap().to_owned();
    let anon = started.said("anon key: ").expect("an anon key");
    let key = [("apikey", anon.as_str())];
    let get = |path: &str, headers: &[(&str, &str)]| {
        http(&addr, "GET", &format!("/rest/v1{path}"), headers, "")
    };
    // The API-key gate: nothing without an apikey, even with a token in the cookie.
    let cookie = format!("sb-access-token={anon}");
    let (status, body) = get("/books", &[("cookie", &cookie)]);
    assert_eq!(status, 401, "{body}");
    // The cookie carries the token when no header does: the apikey alone is anon too.
    let (status, body) = get(
        "/books?select=id",
        &[("apikey", &anon), ("cookie", &cookie)],
    );
    assert_eq!(status, 200, "{body}");
    // At most two rows.
    let rows: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2, "{body}");
    // PostgREST's error codes.
    let (status, body) = get("/nope", &key);
    assert_eq!(status, 404, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        error["code"].as_str().unwrap().starts_with("PGRST"),
        "{body}"
    );
    // OpenAPI off.
    let (status, body) = get("/", &key);
    assert_eq!(status, 404, "{body}");
    // One filter at most.
    let (status, body) = get("/books?id=gt.0&id=lt.100", &key);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("filters"), "{body}");
    // The statement timeout.
    let (status, body) = http(&addr, "POST", "/rest/v1/rpc/nap", &key, "");
    assert!(matches!(status, 500 | 504), "{status}: {body}");
    assert!(body.contains("statement timeout"), "{body}");
    // The pre-request function.
    let (status, body) = get("/books?select=id", &[("apikey", &anon), ("x-block", "yes")]);
    assert_eq!(status, 402, "{body}");
    // Aggregates and plans.
    let (status, body) = get("/books?select=count()", &key);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"count\""), "{body}");
    let (status, body) = get(
        "/books?select=id",
        &[
            ("apikey", &anon),
            ("accept", "application/vnd.pgrst.plan+json"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Total Cost"), "{body}");
    // A connection that never finishes its headers is closed after the
    // header timeout (it was kept forever), and so is an idle one.
    for sent in ["GET /rest/v1/books HTTP/1.1\r\nHost: demo\r\n", ""] {
        let mut half = std::net::TcpStream::connect(&addr).unwrap();
        half.write_all(sent.as_bytes()).unwrap();
        half.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 512];
        let closed = loop {
            match half.read(&mut buf) {
                Ok(0) => break true,
                // An answer (408) before the close is fine.
                Ok(_) => continue,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    break false;
                }
                Err(_) => break true,
            }
        };
        assert!(closed, "{sent:?}: still open after {:?}", started.elapsed());
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
    // Stopped as an orchestrator would: it removes its throwaway cluster.
    Command::new("kill")
        .args(["-TERM", &started.child.id().to_string()])
        .status()
        .unwrap();
    let exit = started.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let _ = std::fs::remove_file(extra);
}
