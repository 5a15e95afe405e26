//! Many projects, one process: the REST API of each project's own database at
//! `http://{project}.localhost:3000/rest/v1`, as hosted platforms serve them.
//!
//! ```sh
//! cargo run --example platform
//! curl http://alpha.localhost:3000/rest/v1/notes -H "apikey: $ALPHA_ANON_KEY"
//! ```
//!
//! | Variable | Default |
//! |---|---|
//! | `PGRST_PROJECTS_FILE` | unset: three throwaway projects (`alpha`, `beta`, `gamma`) on a throwaway cluster, their keys printed |
//! | `PGRST_SERVER_HOST`, `PGRST_SERVER_PORT` | `127.0.0.1`, `3000` |
//! | `PGRST_PROJECTS_IDLE` | `60`: seconds before an idle connection closes |
//! | `PGRST_PROJECTS_MAX` | `1000`: projects kept built, least recently used dropped past it |
//! | `PGRST_PROJECTS_CONNECTIONS` | unset: the most connections all projects hold together |
//!
//! `PGRST_PROJECTS_FILE` is JSON, project → settings, read again when it
//! changes (a changed or removed project is dropped and rebuilt on use):
//!
//! ```json
//! {"alpha": {"db_uri": "postgres://authenticator@db/alpha", "jwt_secret": "…32+ characters…", "anon_role": "anon",
//!            "api_keys": {"sb_publishable_…": "anon", "sb_secret_…": "service_role"}}}
//! ```

#[path = "support/allocator.rs"]
mod allocator;
#[path = "../tests/support/cluster.rs"]
mod cluster;
#[path = "support/demo_db.rs"]
mod demo_db;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use tower_postgrest::layer::JwtAuthLayer;
use tower_postgrest::projects::{ProjectConfig, ProjectResolver, Projects};

/// One project's settings, as the projects file gives them.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
struct Entry {
    db_uri: String,
    jwt_secret: String,
    #[serde(default)]
    anon_role: Option<String>,
    /// Opaque API keys, key → role (`sb_secret_…` ones are refused from browsers).
    #[serde(default)]
    api_keys: std::collections::BTreeMap<String, String>,
}

/// The project is the first label of the `Host`; its settings come from the table.
struct ByHost {
    table: Arc<RwLock<HashMap<String, Entry>>>,
}

impl ProjectResolver for ByHost {
    type Key = String;

    async fn project_of(&self, parts: &http::request::Parts) -> Option<String> {
        let host = parts.headers.get(http::header::HOST)?.to_str().ok()?;
        let project = host.split(['.', ':']).next()?.to_ascii_lowercase();
        self.table
            .read()
            .ok()?
            .contains_key(&project)
            .then_some(project)
    }

    async fn config(&self, key: &String) -> Result<ProjectConfig, tower_postgrest::Error> {
        let entry = self
            .table
            .read()
            .ok()
            .and_then(|t| t.get(key).cloned())
            .ok_or_else(|| {
                tower_postgrest::Error::new(tower_postgrest::ErrorKind::NotFound, "Unknown project")
            })?;
        let mut auth = JwtAuthLayer::secret(&entry.jwt_secret)?;
        for (key, role) in &entry.api_keys {
            auth = auth.api_key(key, role);
        }
        let mut config = ProjectConfig::new(entry.db_uri, auth);
        if let Some(anon) = entry.anon_role {
            config = config.anon_role(anon);
        }
        Ok(config)
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn random_secret() -> std::io::Result<String> {
    use std::io::Read as _;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn read_file(path: &str) -> Result<HashMap<String, Entry>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    let table: HashMap<String, Entry> = serde_json::from_str(&text)?;
    Ok(table
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect())
}

/// Three projects on a throwaway cluster, each with its own `notes`.
fn throwaway()
-> Result<(cluster::Cluster, HashMap<String, Entry>), Box<dyn std::error::Error + Send + Sync>> {
    println!("PGRST_PROJECTS_FILE is not set: three throwaway projects on a throwaway cluster…");
    let c = cluster::Cluster::start()?;
    c.psql(
        "postgres",
        "CREATE ROLE anon NOLOGIN; CREATE ROLE authenticator LOGIN NOINHERIT; GRANT anon TO authenticator;",
    )?;
    let mut table = HashMap::new();
    for project in ["alpha", "beta", "gamma"] {
        c.psql("postgres", &format!("CREATE DATABASE {project}"))?;
        c.psql(
            project,
            &format!(
                "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);
                 INSERT INTO notes (body) VALUES ('a note of {project}');
                 GRANT SELECT, INSERT ON notes TO anon; GRANT USAGE ON SEQUENCE notes_id_seq TO anon;"
            ),
        )?;
        table.insert(
            project.to_owned(),
            Entry {
                db_uri: format!("{}?sslmode=disable", c.url("authenticator", project)),
                jwt_secret: random_secret()?,
                anon_role: Some("anon".to_owned()),
                api_keys: [(
                    format!("sb_publishable_{}", &random_secret()?[..32]),
                    "anon".to_owned(),
                )]
                .into(),
            },
        );
    }
    Ok((c, table))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let file = env("PGRST_PROJECTS_FILE");
    let (cluster, initial) = match &file {
        Some(path) => (None, read_file(path)?),
        None => {
            let (c, t) = tokio::task::spawn_blocking(throwaway)
                .await?
                .map_err(|e| e.to_string())?;
            (Some(c), t)
        }
    };
    let table = Arc::new(RwLock::new(initial.clone()));
    let mut builder = Projects::builder(ByHost {
        table: Arc::clone(&table),
    })
    .idle_after(Duration::from_secs(
        env("PGRST_PROJECTS_IDLE").map_or(Ok(60), |v| v.parse())?,
    ))
    .max_projects(env("PGRST_PROJECTS_MAX").map_or(Ok(1000), |v| v.parse())?)
    .listen(true);
    if let Some(n) = env("PGRST_PROJECTS_CONNECTIONS") {
        builder = builder.connection_budget(n.parse()?);
    }
    let projects = builder.build();

    // The projects file, read again when it changes.
    if let Some(path) = file.clone() {
        let projects = projects.clone();
        let table = Arc::clone(&table);
        tokio::spawn(async move {
            let modified = |p: &str| std::fs::metadata(p).and_then(|m| m.modified()).ok();
            let mut seen: Option<SystemTime> = modified(&path);
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let now = modified(&path);
                if now == seen {
                    continue;
                }
                seen = now;
                match read_file(&path) {
                    Ok(new) => {
                        let old = std::mem::replace(
                            &mut *table.write().expect("the project table"),
                            new.clone(),
                        );
                        for (key, entry) in &old {
                            if new.get(key) != Some(entry) {
                                projects.forget(key);
                            }
                        }
                        println!("{path} read again: {} projects", new.len());
                    }
                    Err(e) => eprintln!("{path} could not be read, the projects stay: {e}"),
                }
            }
        });
    }

    let host = env("PGRST_SERVER_HOST").unwrap_or_else(|| "127.0.0.1".into());
    let port: u16 = env("PGRST_SERVER_PORT").map_or(Ok(3000), |v| v.parse())?;
    let listener = tokio::net::TcpListener::bind((host.as_str(), port)).await?;
    let port = listener.local_addr()?.port();
    println!("Serving projects at http://{{project}}.localhost:{port}/rest/v1");
    if cluster.is_some() {
        let mut names: Vec<&String> = initial.keys().collect();
        names.sort();
        for name in names {
            let exp = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)?
                .as_secs()
                + 3600;
            let key = jsonwebtoken::encode(
                &jsonwebtoken::Header::default(),
                &serde_json::json!({"role": "anon", "exp": exp}),
                &jsonwebtoken::EncodingKey::from_secret(initial[name].jwt_secret.as_bytes()),
            )?;
            println!("{name} anon key (an hour): {key}");
            for (key, role) in &initial[name].api_keys {
                println!("{name} publishable key ({role}): {key}");
            }
            println!("  curl http://{name}.localhost:{port}/rest/v1/notes -H \"apikey: {key}\"");
        }
    }
    let app = axum::Router::new().nest_service("/rest/v1", projects);
    demo_db::raise_open_files();
    demo_db::serve(listener, app, demo_db::shutdown_signal()).await?;
    drop(cluster);
    Ok(())
}
