//! The demo server: the REST API mounted at `/rest/v1` of an axum app.
//!
//! Run with: `cargo run --example server`
//!
//! Without `DATABASE_URL` (or `PGRST_DB_URI`) it starts a throwaway PostgreSQL
//! cluster from the local server binaries, loads `examples/demo.sql` (a small
//! bookstore), and removes the cluster on Ctrl-C. Configuration, with
//! PostgREST's names:
//!
//! | variable | default |
//! |---|---|
//! | `DATABASE_URL` / `PGRST_DB_URI` | a throwaway cluster; TLS (rustls) as its `sslmode`/`sslrootcert` ask |
//! | `PGRST_DB_READ_URI` | unset: read-only requests go to these replicas, and to the primary while they are away |
//! | `PGRST_DB_SCHEMAS` | `public` |
//! | `PGRST_DB_TX_END` | `commit`; `commit-allow-override` honours `Prefer: tx=rollback`; `rollback` ends every transaction in a rollback, `rollback-allow-override` unless `Prefer: tx=commit` |
//! | `PGRST_DB_AGGREGATES_ENABLED` | `false`: `true` allows `sum()`, `avg()`, `min()`, `max()`, `count()` in `select` |
//! | `PGRST_DB_PLAN_ENABLED` | `false`: `true` answers `Accept: application/vnd.pgrst.plan…` with the `EXPLAIN` (postgrest-js `.explain()`) |
//! | `PGRST_DB_PRE_REQUEST` | unset: a function (`schema.name`) called in each request's transaction before its statement |
//! | `PGRST_DB_EXTRA_SEARCH_PATH` | `public`: schemas after the exposed one on each request's `search_path` (Supabase: `public, extensions`) |
//! | `PGRST_DB_ANON_ROLE` | unset: requests without a key get 401 |
//! | `PGRST_DB_MAX_ROWS` | unlimited |
//! | `PGRST_DB_POOL` | `10` |
//! | `PGRST_DB_POOL_ACQUISITION_TIMEOUT` | `10` (seconds; then 503) |
//! | `PGRST_JWT_SECRET` | required with `DATABASE_URL`; a random one for the throwaway database (a JWK or JWKS document works too) |
//! | `PGRST_JWT_SECRET_IS_BASE64` | `false` |
//! | `PGRST_API_KEYS` | unset (a made-up pair on the throwaway database): opaque API keys as a JSON object, key → role, e.g. `{"sb_publishable_…": "anon", "sb_secret_…": "service_role"}`; a key of a role that bypasses RLS, or any `sb_secret_…`, is refused from browsers |
//! | `PGRST_API_KEY_REQUIRED` | `false`: `true` refuses (401) a request without an `apikey` that verifies, as Supabase's gateway |
//! | `PGRST_JWT_JWKS_URL` | unset: keys from this JWKS URL (https, or http to a loopback host), kept fresh, beside `PGRST_JWT_SECRET` when that is set too: tokens signed by either verify |
//! | `PGRST_JWT_JWKS_REFRESH` | `300`: seconds between reads of `PGRST_JWT_JWKS_URL` (sooner when its `max-age` says so) |
//! | `PGRST_JWT_COOKIE` | unset: the cookie that carries the token when no header does |
//! | `PGRST_JWT_AUD` | unset: `aud` is not checked |
//! | `PGRST_JWT_ROLE_CLAIM_KEY` | `.role` |
//! | `PGRST_SERVER_HOST` | `127.0.0.1` |
//! | `PGRST_SERVER_PORT` | `3000` |
//! | `PGRST_SERVER_WORKERS` | every core; half of them when PostgreSQL runs on this machine (the throwaway database, or loopback hosts): measured, BENCHMARKS.md |
//! | `PGRST_SERVER_CORS_ALLOWED_ORIGINS` | any origin (`Access-Control-Allow-Origin: *`) |
//! | `PGRST_ERROR_STYLE` | `powabase` (this crate's error table); `postgrest` for PostgREST's codes |
//! | `PGRST_DB_CHANNEL_ENABLED` | `true`: reload the schema cache on `NOTIFY pgrst` (`false` behind a transaction pooler, which cannot carry `LISTEN`) |
//! | `PGRST_DB_CATALOG_WATCH` | `1`: where no DDL event trigger notifies `pgrst` (the throwaway database has them; a database of yours may not), check the exposed schemas' catalog digest every so many seconds and reload when it changed, so new tables are served with no setting ([`SchemaCache::keep_current`]); `0` turns it off |
//! | `PGRST_DB_CHANNEL` | `pgrst`: the channel schema reloads are notified on |
//! | `PGRST_DB_PREPARED_STATEMENTS` | `true`; `false` behind a transaction pooler (PgBouncer before 1.21, Supavisor in transaction mode): unnamed statements only |
//! | `PGRST_DEMO_EXTRA_SQL` | unset: an SQL file to load after the demo data (throwaway database only) |
//! | `PGRST_OPENAPI_MODE` | `follow-privileges` (or `ignore-privileges`, `disabled`) |
//! | `PGRST_OPENAPI_PAGE` | `true`: a browser opening the API's root gets a page describing it (off with `false`, or with `PGRST_OPENAPI_MODE=disabled`) |
//! | `PGRST_DB_MAX_EMBEDS`, `PGRST_DB_MAX_EMBEDS_PER_LEVEL`, `PGRST_DB_MAX_EMBED_DEPTH`, `PGRST_DB_MAX_SELECT_ITEMS`, `PGRST_DB_MAX_FILTERS`, `PGRST_DB_MAX_JSON_PATH` | [`Limits::default`] |
//! | `PGRST_SERVER_TIMING_ENABLED` | `false`: `true` adds `Server-Timing` (`jwt`, `parse`, `plan`, `transaction`, `response`) |
//! | `PGRST_ADMIN_SERVER_PORT` | unset: on this port, `/live`, `/ready` and `/metrics` (Prometheus text) |
//! | `PGRST_LOG_LEVEL` | `info` (`crit`, `error`, `warn`, `info`, `debug`; `RUST_LOG` wins) |
//! | `PGRST_LOG_FORMAT` | `text`; `json` for one JSON object per line |
//! | `PGRST_SERVER_SHUTDOWN_TIMEOUT` | `30`: seconds requests in flight get after SIGTERM or Ctrl-C |
//! | `PGRST_SERVER_HEADER_TIMEOUT` | `30`: seconds a connection may take to send a request's headers, and stay idle between requests |
//! | `PGRST_SERVER_SEND_TIMEOUT` | `30`: seconds a streamed response waits for its client to take more, then gives up and frees its connection |
//! | `PGRST_DB_POOL_STREAM_SHARE` | `50`: the percent of the pool streamed reads may hold at once |
//! | `PGRST_SERVER_MAX_BODY` | 16 MiB: the largest request body, in bytes |
//! | `PGRST_BATCH_LIMIT`, `PGRST_BATCH_MAX_ANSWER` | `100` operations, 16 MiB of answers: the bounds of a batch (`PGRST_BATCH_LIMIT=0` turns batches off) |
//! | `PGRST_DB_STATEMENT_TIMEOUT` | milliseconds; `10000` when no role has an `ALTER ROLE … SET statement_timeout`, else unset (a role's stricter setting always wins) |
//!
//! With its throwaway database (and only then) it prints an anon key and a
//! service-role key, valid for an hour and signed with the secret, as
//! Supabase does: send one as `apikey` (and/or `Authorization: Bearer`).
//! Against `DATABASE_URL` it refuses to start without `PGRST_JWT_SECRET`: a
//! secret that anyone can read would let anyone mint a service-role key.

#[path = "support/allocator.rs"]
mod allocator;
#[path = "../tests/support/cluster.rs"]
mod cluster;
#[path = "support/demo_db.rs"]
mod demo_db;
#[path = "support/runtime.rs"]
mod runtime;

use tower::ServiceBuilder;
use tower_postgrest::layer::{ClaimPath, CorsLayer, ErrorMappingLayer, JwtAuthLayer, SetRoleLayer};
use tower_postgrest::{ConnectionManager, Limits, OpenApiMode, RestService, SchemaCache};

/// How long the keys printed for the throwaway database are valid.
const KEY_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3600);

/// The statement timeout when no role has one of its own.
const DEFAULT_STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A secret of 32 random bytes, hex-encoded, for the throwaway database.
fn random_secret() -> std::io::Result<String> {
    use std::io::Read as _;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The roles that bypass Row Level Security (superusers included): an API
/// key of one of them is secret.
async fn bypassing_roles(
    config: &tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT rolname::text FROM pg_roles WHERE rolbypassrls OR rolsuper",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// [`Limits`] with each `PGRST_DB_MAX_…` variable that is set.
fn limits() -> Result<Limits, String> {
    let mut limits = Limits::default();
    for (name, field) in [
        ("PGRST_DB_MAX_EMBEDS", &mut limits.max_embeds),
        (
            "PGRST_DB_MAX_EMBEDS_PER_LEVEL",
            &mut limits.max_embeds_per_level,
        ),
        ("PGRST_DB_MAX_EMBED_DEPTH", &mut limits.max_depth),
        ("PGRST_DB_MAX_SELECT_ITEMS", &mut limits.max_select_items),
        ("PGRST_DB_MAX_FILTERS", &mut limits.max_filters),
        ("PGRST_DB_MAX_JSON_PATH", &mut limits.max_json_path),
        ("PGRST_SERVER_MAX_BODY", &mut limits.body),
        ("PGRST_BATCH_LIMIT", &mut limits.batch_operations),
        ("PGRST_BATCH_MAX_ANSWER", &mut limits.batch_answer),
    ] {
        if let Some(n) = env_parse(name)? {
            *field = n;
        }
    }
    if let Some(secs) = env_parse::<u64>("PGRST_SERVER_SEND_TIMEOUT")? {
        limits.send_timeout = std::time::Duration::from_secs(secs);
    }
    if let Some(percent) = env_parse::<u8>("PGRST_DB_POOL_STREAM_SHARE")? {
        limits = limits.stream_share(percent);
    }
    Ok(limits)
}

/// An error and its sources, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_parse<T: std::str::FromStr>(name: &str) -> Result<Option<T>, String> {
    env(name)
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| format!("{name}={v:?} is not a valid number"))
        })
        .transpose()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")
        .or_else(|_| std::env::var("PGRST_DB_URI"))
        .ok();
    runtime::runtime(url.as_deref())?.block_on(serve())
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    // Logs: RUST_LOG wins; else PGRST_LOG_LEVEL (PostgREST's crit, error,
    // warn, info, debug); JSON lines with PGRST_LOG_FORMAT=json. Every line
    // of a request carries its span: method, path, request id, role, relation.
    let log_level = env("PGRST_LOG_LEVEL");
    let level = match log_level.as_deref() {
        None => "info,tower_postgrest=debug",
        Some("crit") => "error",
        Some(level @ ("error" | "warn" | "info" | "debug")) => level,
        Some(other) => {
            return Err(
                format!("PGRST_LOG_LEVEL={other:?}: use crit, error, warn, info or debug").into(),
            );
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    match env("PGRST_LOG_FORMAT").as_deref() {
        Some("json") => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init(),
        None | Some("text") => tracing_subscriber::fmt().with_env_filter(filter).init(),
        Some(other) => return Err(format!("PGRST_LOG_FORMAT={other:?}: use text or json").into()),
    }
    let server_timing = env("PGRST_SERVER_TIMING_ENABLED").is_some_and(|v| v == "true");
    let admin_port: Option<u16> = env_parse("PGRST_ADMIN_SERVER_PORT")?;
    // Metrics through the `metrics` facade, exported as Prometheus text by the admin server.
    let prometheus = match admin_port {
        Some(_) => Some(metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?),
        None => None,
    };

    let schemas: Vec<String> = env("PGRST_DB_SCHEMAS")
        .unwrap_or_else(|| "public".into())
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let anon_role = env("PGRST_DB_ANON_ROLE");
    let max_rows: Option<u64> = env_parse("PGRST_DB_MAX_ROWS")?;
    let pool_size: u32 = env_parse("PGRST_DB_POOL")?.unwrap_or(10);
    let host = env("PGRST_SERVER_HOST").unwrap_or_else(|| "127.0.0.1".into());
    let port: u16 = env_parse("PGRST_SERVER_PORT")?.unwrap_or(3000);
    let throwaway = env("DATABASE_URL").is_none() && env("PGRST_DB_URI").is_none();
    let jwks_url = env("PGRST_JWT_JWKS_URL");
    let secret = match env("PGRST_JWT_SECRET") {
        Some(secret) => secret,
        None if throwaway || jwks_url.is_some() => random_secret()?,
        None => {
            return Err(
                "PGRST_JWT_SECRET is not set. With DATABASE_URL the demo server needs \
                        the secret (or JWK/JWKS) your tokens are signed with; it will not \
                        invent one that others could read and use to mint service-role keys."
                    .into(),
            );
        }
    };
    let base64 = env("PGRST_JWT_SECRET_IS_BASE64").is_some_and(|v| v == "true");
    let fixed = if base64 {
        JwtAuthLayer::secret_base64(&secret)?
    } else {
        JwtAuthLayer::secret(&secret)?
    };
    // Both sources at once: the secret (when one is given, or the throwaway
    // database's, which signs the keys printed below) and the URL's keys.
    let keep_secret = throwaway || env("PGRST_JWT_SECRET").is_some();
    let mut auth = match &jwks_url {
        Some(url) => {
            let refresh: u64 = env_parse("PGRST_JWT_JWKS_REFRESH")?.unwrap_or(300);
            let auth = match keep_secret {
                true => fixed.and_jwks_url(url).await?,
                false => JwtAuthLayer::jwks_url(url).await?,
            };
            auth.jwks_refresh(std::time::Duration::from_secs(refresh))
        }
        None => fixed,
    };
    if let Some(aud) = env("PGRST_JWT_AUD") {
        auth = auth.audience(aud);
    }
    if let Some(cookie) = env("PGRST_JWT_COOKIE") {
        auth = auth.cookie(cookie);
    }
    auth = auth
        .server_timing(server_timing)
        .require_apikey(env("PGRST_API_KEY_REQUIRED").is_some_and(|v| v == "true"));
    let mut roles = SetRoleLayer::new();
    if let Some(path) = env("PGRST_JWT_ROLE_CLAIM_KEY") {
        roles = roles.claim_path(ClaimPath::parse(&path)?);
    }

    // A database: the one given, or a throwaway cluster with the demo data.
    let mut extra = Vec::new();
    if let Some(path) = env("PGRST_DEMO_EXTRA_SQL") {
        // More objects for the demo database (the client test suites use this).
        extra.push(std::fs::read_to_string(path)?);
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let db = demo_db::start(&extra).await?;
    let url = db.api_url.clone();

    // TLS as the URL's sslmode asks (libpq's default, prefer, uses it when the server offers it).
    let prepared = !matches!(
        env("PGRST_DB_PREPARED_STATEMENTS").as_deref(),
        Some("false")
    );
    let manager = ConnectionManager::rustls(&url)?.prepared_statements(prepared);
    let settings = manager.settings();
    let mut pool_builder = manager.pool_builder().max_size(pool_size);
    if let Some(secs) = env_parse::<u64>("PGRST_DB_POOL_ACQUISITION_TIMEOUT")? {
        pool_builder = pool_builder.connection_timeout(std::time::Duration::from_secs(secs));
    }
    // One connection up front, so that a database that cannot be reached, or
    // a certificate that does not verify, stops the server with the reason.
    let pool = pool_builder
        .min_idle(Some(1))
        .build(manager)
        .await
        .map_err(|e| format!("Could not connect to the database: {}", chain(&e)))?;
    // Read replicas: read-only requests take their connections here, and the
    // primary serves them when the replicas are away.
    let read_pool = match env("PGRST_DB_READ_URI") {
        Some(read_url) => {
            let manager = ConnectionManager::rustls(&read_url)?.prepared_statements(prepared);
            let timeout = env_parse::<u64>("PGRST_DB_POOL_ACQUISITION_TIMEOUT")?.unwrap_or(1);
            Some(
                manager
                    .pool_builder()
                    .max_size(pool_size)
                    .connection_timeout(std::time::Duration::from_secs(timeout))
                    .build(manager)
                    .await?,
            )
        }
        None => None,
    };
    let postgrest_errors = match env("PGRST_ERROR_STYLE").as_deref() {
        None | Some("powabase") => false,
        Some("postgrest") => true,
        Some(other) => {
            return Err(format!("PGRST_ERROR_STYLE={other:?}: use powabase or postgrest").into());
        }
    };
    // Load the schema cache first, to see whether the database bounds its
    // roles' statements itself.
    let cache = SchemaCache::load(pool.clone(), schemas.iter().cloned()).await?;
    let timeout = match env_parse::<u64>("PGRST_DB_STATEMENT_TIMEOUT")? {
        Some(0) => None,
        Some(ms) => Some(std::time::Duration::from_millis(ms)),
        None if cache.snapshot().role_timeouts.is_empty() => Some(DEFAULT_STATEMENT_TIMEOUT),
        None => None,
    };
    let mut builder = RestService::builder(pool)
        .server_timing(server_timing)
        .metrics(prometheus.is_some())
        .schemas(schemas)
        .schema_cache(cache)
        .limits(limits()?);
    match env("PGRST_DB_TX_END").as_deref() {
        None | Some("commit") => {}
        Some("commit-allow-override") => builder = builder.tx_override(true),
        Some("rollback") => builder = builder.tx_rollback(true),
        Some("rollback-allow-override") => builder = builder.tx_rollback(true).tx_override(true),
        Some(other) => {
            return Err(format!(
                "PGRST_DB_TX_END={other:?}: use commit, commit-allow-override, rollback or rollback-allow-override"
            )
            .into());
        }
    }
    if env("PGRST_DB_AGGREGATES_ENABLED").is_some_and(|v| v == "true") {
        builder = builder.aggregates(true);
    }
    if env("PGRST_DB_PLAN_ENABLED").is_some_and(|v| v == "true") {
        builder = builder.plans(true);
    }
    if let Some(function) = env("PGRST_DB_PRE_REQUEST") {
        builder = builder.pre_request(function);
    }
    if let Some(extra) = env("PGRST_DB_EXTRA_SEARCH_PATH") {
        builder = builder.extra_search_path(
            extra
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
    }
    if let Some(read_pool) = read_pool {
        builder = builder.read_pool(read_pool);
    }
    if let Some(mode) = env("PGRST_OPENAPI_MODE") {
        builder = builder.openapi_mode(mode.parse::<OpenApiMode>()?);
    }
    // The API page for browsers at the root, unless PGRST_OPENAPI_PAGE=false.
    builder = builder.api_page(env("PGRST_OPENAPI_PAGE").is_none_or(|v| v != "false"));
    if let Some(timeout) = timeout {
        builder = builder.statement_timeout(timeout);
    }
    if postgrest_errors {
        builder = builder.error_mapper(tower_postgrest::PostgRest);
    }
    if let Some(anon) = &anon_role {
        builder = builder.anon_role(anon.clone());
    }
    if let Some(max) = max_rows {
        builder = builder.max_rows(max);
    }
    let rest = builder.build().await?;
    // New tables served with no setting: `NOTIFY pgrst` (as PostgREST), and
    // where no DDL event trigger sends it (a database of the user's, as a
    // rule), a check of the catalog digest every PGRST_DB_CATALOG_WATCH
    // seconds (1 by default; 0 turns it off). Behind a transaction pooler,
    // which cannot carry LISTEN, the digest alone, through the pool.
    let watch = env_parse::<u64>("PGRST_DB_CATALOG_WATCH")?.unwrap_or(1);
    let period = std::time::Duration::from_secs(watch);
    let channel = env("PGRST_DB_CHANNEL").unwrap_or_else(|| "pgrst".to_owned());
    let cache = rest.schema_cache();
    let _keeper = match (env("PGRST_DB_CHANNEL_ENABLED").as_deref(), settings.clone()) {
        (Some("false"), _) | (_, None) => (watch > 0).then(|| vec![cache.watch_catalog(period)]),
        (_, Some((config, tls))) if channel == "pgrst" && watch > 0 => {
            Some(vec![cache.keep_current_every(period, config, tls)])
        }
        (_, Some((config, tls))) => {
            let mut keep = vec![cache.listen_on(&channel, config, tls)];
            if watch > 0 {
                keep.push(cache.watch_catalog(period));
            }
            Some(keep)
        }
    };
    let errors = if postgrest_errors {
        ErrorMappingLayer::postgrest()
    } else {
        ErrorMappingLayer::powabase()
    };
    let mut cors = CorsLayer::new();
    if let Some(origins) = env("PGRST_SERVER_CORS_ALLOWED_ORIGINS") {
        cors = cors.allowed_origins(origins.split(',').map(|o| o.trim().to_owned()));
    }
    let admin = match (admin_port, prometheus) {
        (Some(port), Some(prometheus)) => Some((port, admin_app(rest.clone(), prometheus))),
        _ => None,
    };
    // Opaque API keys (Supabase's `sb_publishable_…`, `sb_secret_…`): those
    // of PGRST_API_KEYS, or a pair made up for the throwaway database. A key
    // is secret (refused from browsers) by its `sb_secret_` prefix or when
    // its role bypasses Row Level Security.
    let api_keys: Vec<(String, String)> = match env("PGRST_API_KEYS") {
        Some(json) => serde_json::from_str::<std::collections::BTreeMap<String, String>>(&json)
            .map_err(|e| format!("PGRST_API_KEYS: {e} (a JSON object: key → role)"))?
            .into_iter()
            .collect(),
        None if throwaway => vec![
            (
                format!("sb_publishable_{}", random_secret()?),
                "anon".to_owned(),
            ),
            (
                format!("sb_secret_{}", random_secret()?),
                "service_role".to_owned(),
            ),
        ],
        None => Vec::new(),
    };
    if !api_keys.is_empty() {
        let bypass = match &settings {
            Some((config, tls)) => bypassing_roles(config, tls.clone()).await?,
            None => Vec::new(),
        };
        for (key, role) in &api_keys {
            auth = if bypass.contains(role) {
                auth.secret_api_key(key, role)
            } else {
                auth.api_key(key, role)
            };
        }
    }
    let api = ServiceBuilder::new()
        // `x-request-id`: the client's, or a new UUID; on the response, and in every log line.
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
            tower_http::request_id::MakeRequestUuid,
        ))
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(cors)
        .layer(errors)
        .layer(auth)
        .layer(roles)
        .service(rest);

    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(|| async { "tower-postgrest demo: the API is at /rest/v1\n" }),
        )
        .nest_service("/rest/v1", api);
    demo_db::raise_open_files();
    let listener = tokio::net::TcpListener::bind((host.as_str(), port)).await?;
    let base = format!("http://{}/rest/v1", listener.local_addr()?);
    println!("\nServing the REST API at {base}");
    if let Some((port, app)) = admin {
        let admin = tokio::net::TcpListener::bind((host.as_str(), port)).await?;
        println!(
            "Admin server (/live, /ready, /metrics) at http://{}",
            admin.local_addr()?
        );
        tokio::spawn(async move {
            if let Err(e) = demo_db::serve(admin, app, std::future::pending()).await {
                tracing::error!(error = %e, "the admin server stopped");
            }
        });
    }
    if let Some(timeout) = timeout {
        println!("Statement timeout: {} ms", timeout.as_millis());
    }
    if throwaway && jwks_url.is_none() && !secret.trim_start().starts_with('{') && !base64 {
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .saturating_add(KEY_LIFETIME)
            .as_secs();
        let key = |role: &str| {
            jsonwebtoken::encode(
                &jsonwebtoken::Header::default(),
                &serde_json::json!({"role": role, "iss": "tower-postgrest-demo", "exp": exp}),
                &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
            )
        };
        println!("Keys for the throwaway database, valid for an hour:");
        println!("anon key: {}", key("anon")?);
        println!("service_role key: {}", key("service_role")?);
        for (key, role) in &api_keys {
            let kind = if key.starts_with("sb_secret_") {
                "secret"
            } else {
                "publishable"
            };
            println!("{kind} key ({role}): {key}");
        }
        println!("\nTry (ANON_KEY is the anon key above):");
    } else {
        println!("\nTry (ANON_KEY is a token of yours with \"role\": \"anon\"):");
    }
    println!(
        "  curl -H \"apikey: $ANON_KEY\" '{base}/books?select=title,price&price=gt.10&order=price.desc&limit=2'"
    );
    println!(
        "  curl -H \"apikey: $ANON_KEY\" '{base}/authors?select=name,born&country=eq.US&order=born'"
    );
    println!(
        "  curl -G -H \"apikey: $ANON_KEY\" -H 'Accept: application/vnd.pgrst.object+json' '{base}/books' \\\n       --data-urlencode 'select=title,series:details->>series' --data-urlencode 'id=eq.4'"
    );
    if env("PGRST_OPENAPI_PAGE").is_none_or(|v| v != "false")
        && env("PGRST_OPENAPI_MODE").is_none_or(|m| m != "disabled")
    {
        println!("Open {base}/ in a browser to read the API (it asks for a key).");
    }
    println!("Press Ctrl-C to stop.");

    // On SIGTERM or Ctrl-C: stop accepting, let requests in flight finish
    // (at most PGRST_SERVER_SHUTDOWN_TIMEOUT seconds, 30 by default), then
    // close the pool and exit 0.
    let grace =
        std::time::Duration::from_secs(env_parse("PGRST_SERVER_SHUTDOWN_TIMEOUT")?.unwrap_or(30));
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let serve = demo_db::serve(listener, app, async move {
        shutdown_signal().await;
        println!("Shutting down: finishing the requests in flight…");
        let _ = stopping.send(());
    });
    let mut serve = std::pin::pin!(serve);
    tokio::select! {
        served = &mut serve => served?,
        () = async {
            let _ = stopped.await;
            tokio::time::sleep(grace).await;
        } => println!("Requests still running after {} s: stopping anyway", grace.as_secs()),
    }
    if let Some(mut c) = db.cluster {
        println!("Removing the throwaway cluster…");
        c.stop();
    }
    Ok(())
}

/// The admin server: `/live` (the process serves), `/ready` (the schema
/// cache is loaded and the database answers: 503 otherwise) and `/metrics`
/// (Prometheus text).
fn admin_app(
    rest: RestService<tokio_postgres_rustls::MakeRustlsConnect>,
    prometheus: metrics_exporter_prometheus::PrometheusHandle,
) -> axum::Router {
    use axum::http::StatusCode;
    let ready = rest.clone();
    axum::Router::new()
        .route("/live", axum::routing::get(|| async { "live\n" }))
        .route(
            "/ready",
            axum::routing::get(move || {
                let rest = ready.clone();
                async move {
                    match rest.probe(std::time::Duration::from_secs(2)).await {
                        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
                        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")),
                    }
                }
            }),
        )
        .route(
            "/metrics",
            axum::routing::get(move || {
                rest.record_pool_metrics();
                let text = prometheus.render();
                async move { text }
            }),
        )
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
