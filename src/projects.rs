//! [`Projects`]: one process serving the REST API of many project databases,
//! as a hosting platform does (each project its own database, keys and
//! roles, all at `/rest/v1`).
//!
//! A [`ProjectResolver`] the host supplies names the project of a request
//! (from its `Host`, a path prefix, a header…) and gives its
//! [`ProjectConfig`]. A project's stack — [`JwtAuthLayer`] →
//! [`SetRoleLayer`] → [`RestService`], with its own pool, schema cache,
//! statement caches and JWT cache — is built on its first request (one
//! schema load however many first requests arrive together) and shared from
//! then on. Nothing is shared between projects but the process.
//!
//! Idle projects cost little: their pools keep no connection open past
//! [`ProjectsBuilder::idle_after`], and past
//! [`ProjectsBuilder::max_projects`] the least recently used project is
//! dropped whole (rebuilt on its next request). A
//! [`connection budget`](ProjectsBuilder::connection_budget) caps the
//! connections all projects hold together; a request that cannot have one
//! within [`ProjectsBuilder::connection_wait`] gets 503.
//!
//! ```no_run
//! use std::time::Duration;
//! use tower_postgrest::layer::JwtAuthLayer;
//! use tower_postgrest::projects::{ProjectConfig, ProjectResolver, Projects};
//!
//! /// The project is the first label of the Host: `acme.localhost:3000`.
//! struct ByHost;
//!
//! impl ProjectResolver for ByHost {
//!     type Key = String;
//!
//!     async fn project_of(&self, parts: &http::request::Parts) -> Option<String> {
//!         let host = parts.headers.get("host")?.to_str().ok()?;
//!         Some(host.split('.').next()?.to_owned())
//!     }
//!
//!     async fn config(&self, key: &String) -> Result<ProjectConfig, tower_postgrest::Error> {
//!         let url = format!("postgres://authenticator@localhost/{key}");
//!         let auth = JwtAuthLayer::secret("a-secret-of-at-least-32-characters!!")?;
//!         Ok(ProjectConfig::new(url, auth).anon_role("anon"))
//!     }
//! }
//!
//! let projects = Projects::builder(ByHost)
//!     .idle_after(Duration::from_secs(60))
//!     .max_projects(1000)
//!     .connection_budget(400)
//!     .build();
//! let app = axum::Router::new().nest_service("/rest/v1", projects);
//! # let _: axum::Router = app;
//! ```

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{Request, Response};
use tokio::sync::{OnceCell, Semaphore};
use tower_service::Service;

use crate::body::RestBody;
use crate::db::ConnectionManager;
use crate::error::{Error, ErrorKind};
use crate::layer::{JwtAuth, JwtAuthLayer, SetRole, SetRoleLayer};
use crate::service::RestService;

/// The TLS of project connections: rustls, as each URL's `sslmode` asks.
type Tls = tokio_postgres_rustls::MakeRustlsConnect;

/// A project's whole stack.
type Stack = JwtAuth<SetRole<RestService<Tls>>>;

/// Names the project of a request and gives its settings; see the
/// [module docs](self).
pub trait ProjectResolver: Send + Sync + 'static {
    /// What identifies a project.
    type Key: Clone + Eq + Hash + fmt::Debug + Send + Sync + 'static;

    /// The project a request is for; `None` answers it 404.
    fn project_of(
        &self,
        parts: &http::request::Parts,
    ) -> impl Future<Output = Option<Self::Key>> + Send;

    /// The settings of project `key`, when it is first used (or used again
    /// after it was dropped). An error answers the request with it.
    fn config(&self, key: &Self::Key) -> impl Future<Output = Result<ProjectConfig, Error>> + Send;
}

/// The settings of one project.
///
/// ```
/// use tower_postgrest::layer::JwtAuthLayer;
/// use tower_postgrest::projects::ProjectConfig;
///
/// let auth = JwtAuthLayer::secret("a-secret-of-at-least-32-characters!!").unwrap();
/// let config = ProjectConfig::new("postgres://authenticator@db/acme", auth)
///     .anon_role("anon")
///     .schemas(["public"])
///     .max_connections(5);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct ProjectConfig {
    /// Its database (`postgres://…`, `sslmode` and several hosts as libpq reads them).
    pub database_url: String,
    /// How its tokens are verified.
    pub auth: JwtAuthLayer,
    /// The role of requests without a token.
    pub anon_role: Option<String>,
    /// The exposed schemas (default `public`).
    pub schemas: Vec<String>,
    /// Its pool's size (default 10).
    pub max_connections: u32,
}

impl ProjectConfig {
    /// A project on `database_url` whose tokens `auth` verifies.
    pub fn new(database_url: impl Into<String>, auth: JwtAuthLayer) -> Self {
        Self {
            database_url: database_url.into(),
            auth,
            anon_role: None,
            schemas: vec!["public".to_owned()],
            max_connections: 10,
        }
    }

    /// The role of requests without a token.
    #[must_use]
    pub fn anon_role(mut self, role: impl Into<String>) -> Self {
        self.anon_role = Some(role.into());
        self
    }

    /// The exposed schemas, the default first.
    #[must_use]
    pub fn schemas(mut self, schemas: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.schemas = schemas.into_iter().map(Into::into).collect();
        self
    }

    /// The most connections its pool opens.
    #[must_use]
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }
}

/// A built project, and when it last served.
struct Project {
    stack: Stack,
    rest: RestService<Tls>,
    last_used: AtomicU64,
    /// Keeps this project's schema cache current while it is in use
    /// ([`ProjectsBuilder::listen`]).
    keeper: Option<Keeper>,
}

/// A listening project's schema keeper: its own connection while the
/// project is in use, none while it is idle.
struct Keeper {
    settings: (tokio_postgres::Config, Tls),
    /// The running [`SchemaCache::keep_current`](crate::SchemaCache::keep_current);
    /// `None` while the project is idle.
    running: tokio::sync::Mutex<Option<crate::schema::ReloadListener>>,
    /// Whether `running` is `Some` (read without the lock on every request).
    awake: AtomicBool,
}

impl Project {
    /// Before a request is served: a project that went idle (its keeper
    /// closed) checks its schema is still current — one query, reloading
    /// when the catalog changed while nobody listened — and starts keeping
    /// it current again.
    async fn wake(self: &Arc<Self>, epoch: Instant, idle_after: Duration) {
        let Some(keeper) = &self.keeper else { return };
        if keeper.awake.load(Ordering::Acquire) {
            return;
        }
        let mut running = keeper.running.lock().await;
        if running.is_some() {
            return;
        }
        if let Err(e) = self.rest.schema_cache().refresh().await {
            tracing::warn!(error = %e, "could not check a waking project's schema");
        }
        self.keep(&mut running, epoch, idle_after);
    }

    /// Starts the keeper, and a watch that stops it once the project has
    /// served nothing for `idle_after`.
    fn keep(
        self: &Arc<Self>,
        running: &mut Option<crate::schema::ReloadListener>,
        epoch: Instant,
        idle_after: Duration,
    ) {
        let Some(keeper) = &self.keeper else { return };
        let (config, tls) = keeper.settings.clone();
        *running = Some(self.rest.schema_cache().keep_current(config, tls));
        keeper.awake.store(true, Ordering::Release);
        let project = Arc::downgrade(self);
        let every = (idle_after / 2).max(Duration::from_millis(10));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                // Dropped with the project: nothing to stop.
                let Some(project) = project.upgrade() else {
                    return;
                };
                let now = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
                let idle_ms = now.saturating_sub(project.last_used.load(Ordering::Relaxed));
                if Duration::from_millis(idle_ms) < idle_after {
                    continue;
                }
                let Some(keeper) = &project.keeper else {
                    return;
                };
                let mut running = keeper.running.lock().await;
                keeper.awake.store(false, Ordering::Release);
                // Dropping it aborts the task and closes its connection.
                running.take();
                return;
            }
        });
    }
}

/// A project's slot: built once, however many first requests wait for it.
type Slot = Arc<OnceCell<Arc<Project>>>;

struct Inner<R: ProjectResolver> {
    resolver: R,
    projects: Mutex<HashMap<R::Key, Slot>>,
    idle_after: Duration,
    max_projects: usize,
    budget: Option<Arc<Semaphore>>,
    connection_wait: Duration,
    loads: AtomicU64,
    epoch: Instant,
    metrics: bool,
    listen: bool,
}

/// Serves many projects; see the [module docs](self).
pub struct Projects<R: ProjectResolver> {
    inner: Arc<Inner<R>>,
}

impl<R: ProjectResolver> Clone for Projects<R> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<R: ProjectResolver> fmt::Debug for Projects<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Projects")
            .field("loaded", &self.loaded())
            .field("loads", &self.loads())
            .finish_non_exhaustive()
    }
}

/// Settings of [`Projects`]; see [`Projects::builder`].
#[derive(Debug)]
pub struct ProjectsBuilder<R> {
    resolver: R,
    idle_after: Duration,
    max_projects: usize,
    budget: Option<usize>,
    connection_wait: Duration,
    metrics: bool,
    listen: bool,
}

impl<R: ProjectResolver> ProjectsBuilder<R> {
    /// Each project keeps its own schema cache current while it is in use
    /// (default off), as [`SchemaCache::keep_current`](crate::SchemaCache::keep_current):
    /// `NOTIFY pgrst` on its database, and a check of the catalog digest
    /// every second where the DDL event triggers are not installed. That
    /// takes one connection of its own (outside its pool and the budget),
    /// closed with the pool's once the project has been idle for
    /// [`idle_after`](Self::idle_after): an idle project holds no connection
    /// of any kind. Its next request first checks the digest (one query) and
    /// reloads if the schema changed while it slept. Without it,
    /// [`Projects::service`] gives the schema cache to reload.
    ///
    /// ```
    /// # struct R; impl tower_postgrest::projects::ProjectResolver for R { type Key = u8;
    /// # async fn project_of(&self, _: &http::request::Parts) -> Option<u8> { None }
    /// # async fn config(&self, _: &u8) -> Result<tower_postgrest::projects::ProjectConfig, tower_postgrest::Error> { unimplemented!() } }
    /// let builder = tower_postgrest::projects::Projects::builder(R).listen(true);
    /// ```
    #[must_use]
    pub fn listen(mut self, on: bool) -> Self {
        self.listen = on;
        self
    }

    /// How long a connection may stay idle before it is closed (default 60
    /// seconds): an idle project holds no connection past it.
    ///
    /// ```
    /// # struct R; impl tower_postgrest::projects::ProjectResolver for R { type Key = u8;
    /// # async fn project_of(&self, _: &http::request::Parts) -> Option<u8> { None }
    /// # async fn config(&self, _: &u8) -> Result<tower_postgrest::projects::ProjectConfig, tower_postgrest::Error> { unimplemented!() } }
    /// let builder = tower_postgrest::projects::Projects::builder(R).idle_after(std::time::Duration::from_secs(30));
    /// ```
    #[must_use]
    pub fn idle_after(mut self, d: Duration) -> Self {
        self.idle_after = d.max(Duration::from_millis(10));
        self
    }

    /// The most projects kept built (default 1000); past it, the least
    /// recently used one is dropped (its pool and caches), and rebuilt on its
    /// next request.
    ///
    /// ```
    /// # struct R; impl tower_postgrest::projects::ProjectResolver for R { type Key = u8;
    /// # async fn project_of(&self, _: &http::request::Parts) -> Option<u8> { None }
    /// # async fn config(&self, _: &u8) -> Result<tower_postgrest::projects::ProjectConfig, tower_postgrest::Error> { unimplemented!() } }
    /// let builder = tower_postgrest::projects::Projects::builder(R).max_projects(200);
    /// ```
    #[must_use]
    pub fn max_projects(mut self, n: usize) -> Self {
        self.max_projects = n.max(1);
        self
    }

    /// The most connections all projects hold open together (default: no
    /// limit beyond each project's pool). A request that cannot have one
    /// within [`connection_wait`](Self::connection_wait) gets 503.
    ///
    /// ```
    /// # struct R; impl tower_postgrest::projects::ProjectResolver for R { type Key = u8;
    /// # async fn project_of(&self, _: &http::request::Parts) -> Option<u8> { None }
    /// # async fn config(&self, _: &u8) -> Result<tower_postgrest::projects::ProjectConfig, tower_postgrest::Error> { unimplemented!() } }
    /// let builder = tower_postgrest::projects::Projects::builder(R).connection_budget(400);
    /// ```
    #[must_use]
    pub fn connection_budget(mut self, connections: usize) -> Self {
        self.budget = Some(connections);
        self
    }

    /// How long a request waits for a connection (default 5 seconds).
    ///
    /// ```
    /// # struct R; impl tower_postgrest::projects::ProjectResolver for R { type Key = u8;
    /// # async fn project_of(&self, _: &http::request::Parts) -> Option<u8> { None }
    /// # async fn config(&self, _: &u8) -> Result<tower_postgrest::projects::ProjectConfig, tower_postgrest::Error> { unimplemented!() } }
    /// let builder = tower_postgrest::projects::Projects::builder(R)
    ///     .connection_wait(std::time::Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn connection_wait(mut self, d: Duration) -> Self {
        self.connection_wait = d;
        self
    }

    /// Counts requests and errors per project (label `project`), and the
    /// projects loaded, through the `metrics` facade.
    ///
    /// ```
    /// # struct R; impl tower_postgrest::projects::ProjectResolver for R { type Key = u8;
    /// # async fn project_of(&self, _: &http::request::Parts) -> Option<u8> { None }
    /// # async fn config(&self, _: &u8) -> Result<tower_postgrest::projects::ProjectConfig, tower_postgrest::Error> { unimplemented!() } }
    /// let builder = tower_postgrest::projects::Projects::builder(R).metrics(true);
    /// ```
    #[must_use]
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = on;
        self
    }

    /// The service.
    ///
    /// ```
    /// # struct R; impl tower_postgrest::projects::ProjectResolver for R { type Key = u8;
    /// # async fn project_of(&self, _: &http::request::Parts) -> Option<u8> { None }
    /// # async fn config(&self, _: &u8) -> Result<tower_postgrest::projects::ProjectConfig, tower_postgrest::Error> { unimplemented!() } }
    /// let projects = tower_postgrest::projects::Projects::builder(R).build();
    /// ```
    pub fn build(self) -> Projects<R> {
        Projects {
            inner: Arc::new(Inner {
                resolver: self.resolver,
                projects: Mutex::new(HashMap::new()),
                idle_after: self.idle_after,
                max_projects: self.max_projects,
                budget: self.budget.map(|n| Arc::new(Semaphore::new(n))),
                connection_wait: self.connection_wait,
                loads: AtomicU64::new(0),
                epoch: Instant::now(),
                metrics: self.metrics,
                listen: self.listen,
            }),
        }
    }
}

impl<R: ProjectResolver> Projects<R> {
    /// A builder with `resolver`.
    ///
    /// ```
    /// # struct R; impl tower_postgrest::projects::ProjectResolver for R { type Key = u8;
    /// # async fn project_of(&self, _: &http::request::Parts) -> Option<u8> { None }
    /// # async fn config(&self, _: &u8) -> Result<tower_postgrest::projects::ProjectConfig, tower_postgrest::Error> { unimplemented!() } }
    /// let projects = tower_postgrest::projects::Projects::builder(R).build();
    /// ```
    pub fn builder(resolver: R) -> ProjectsBuilder<R> {
        ProjectsBuilder {
            resolver,
            idle_after: Duration::from_secs(60),
            max_projects: 1000,
            budget: None,
            connection_wait: Duration::from_secs(5),
            metrics: false,
            listen: false,
        }
    }

    /// How many schema loads (project builds) there have been.
    pub fn loads(&self) -> u64 {
        self.inner.loads.load(Ordering::Relaxed)
    }

    /// How many projects are built now.
    pub fn loaded(&self) -> usize {
        self.inner
            .projects
            .lock()
            .map(|p| p.values().filter(|s| s.initialized()).count())
            .unwrap_or(0)
    }

    /// Drops project `key` (its pool and caches); its next request rebuilds
    /// it with its resolver's settings then, e.g. after they changed.
    pub fn forget(&self, key: &R::Key) {
        if let Ok(mut projects) = self.inner.projects.lock() {
            projects.remove(key);
        }
    }

    /// The built service of project `key`, if it is built: for its schema
    /// cache (`reload()` after `NOTIFY`) or its pool's metrics.
    pub fn service(&self, key: &R::Key) -> Option<RestService<Tls>> {
        let slot = self.inner.projects.lock().ok()?.get(key).cloned()?;
        slot.get().map(|p| p.rest.clone())
    }
}

impl<R: ProjectResolver> Inner<R> {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The project of `key`, built now if it is not.
    async fn project(&self, key: &R::Key) -> Result<Arc<Project>, Error> {
        let slot = {
            let mut projects = self
                .projects
                .lock()
                .map_err(|_| Error::new(ErrorKind::Internal, "The project table is poisoned"))?;
            let slot = Arc::clone(projects.entry(key.clone()).or_default());
            if projects.len() > self.max_projects {
                self.evict(&mut projects, key);
            }
            slot
        };
        let project = slot.get_or_try_init(|| self.build(key)).await;
        match project {
            Ok(project) => {
                project.last_used.store(self.now_ms(), Ordering::Relaxed);
                project.wake(self.epoch, self.idle_after).await;
                Ok(Arc::clone(project))
            }
            Err(e) => {
                // Not kept: the next request tries again.
                if let Ok(mut projects) = self.projects.lock() {
                    if projects.get(key).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                        projects.remove(key);
                    }
                }
                Err(e)
            }
        }
    }

    /// Drops the least recently used built project other than `keep`.
    fn evict(&self, projects: &mut HashMap<R::Key, Slot>, keep: &R::Key) {
        let oldest = projects
            .iter()
            .filter(|(k, _)| *k != keep)
            .filter_map(|(k, s)| s.get().map(|p| (k, p.last_used.load(Ordering::Relaxed))))
            .min_by_key(|(_, used)| *used)
            .map(|(k, _)| k.clone());
        if let Some(oldest) = oldest {
            projects.remove(&oldest);
        }
    }

    async fn build(&self, key: &R::Key) -> Result<Arc<Project>, Error> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        let config = self.resolver.config(key).await?;
        let mut manager = ConnectionManager::rustls(&config.database_url)?;
        let settings = manager.settings();
        if let Some(budget) = &self.budget {
            manager = manager.budget(Arc::clone(budget));
        }
        let pool = manager
            .pool_builder()
            .max_size(config.max_connections)
            .min_idle(Some(0))
            .idle_timeout(Some(self.idle_after))
            .reaper_rate(self.idle_after.min(Duration::from_secs(30)) / 2)
            .connection_timeout(self.connection_wait)
            .build_unchecked(manager);
        let mut rest = RestService::builder(pool).schemas(config.schemas.iter().cloned());
        if let Some(anon) = &config.anon_role {
            rest = rest.anon_role(anon.clone());
        }
        let rest = rest.build().await?;
        let keeper = match (self.listen, settings) {
            (true, Some(settings)) => Some(Keeper {
                settings,
                running: tokio::sync::Mutex::new(None),
                awake: AtomicBool::new(false),
            }),
            _ => None,
        };
        // The service's anonymous role is the one that applies.
        let roles = SetRoleLayer::new();
        let stack = tower_layer::Layer::layer(
            &config.auth,
            tower_layer::Layer::layer(&roles, rest.clone()),
        );
        let project = Arc::new(Project {
            stack,
            rest,
            last_used: AtomicU64::new(self.now_ms()),
            keeper,
        });
        // Just loaded: current, so the keeper starts without a check.
        if let Some(keeper) = &project.keeper {
            if let Ok(mut running) = keeper.running.try_lock() {
                project.keep(&mut running, self.epoch, self.idle_after);
            }
        }
        Ok(project)
    }
}

impl<R, B> Service<Request<B>> for Projects<R>
where
    R: ProjectResolver,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<crate::error::BoxError>,
{
    type Response = Response<RestBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<RestBody>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let Some(key) = inner.resolver.project_of(&parts).await else {
                return Ok(Error::new(ErrorKind::NotFound, "Unknown project")
                    .with_hint("The request names no project this server knows")
                    .to_response());
            };
            let label = inner.metrics.then(|| format!("{key:?}"));
            let project = match inner.project(&key).await {
                Ok(project) => project,
                Err(e) => {
                    tracing::warn!(project = ?key, error = %e, "a project could not be built");
                    return Ok(e.to_response());
                }
            };
            if inner.metrics {
                metrics::gauge!("pgrst_projects_loaded")
                    .set(inner.projects.lock().map(|p| p.len()).unwrap_or(0) as f64);
            }
            let mut stack = project.stack.clone();
            std::future::poll_fn(|cx| Service::<Request<B>>::poll_ready(&mut stack, cx)).await?;
            let res = stack.call(Request::from_parts(parts, body)).await?;
            if let Some(label) = label {
                metrics::counter!("pgrst_project_requests_total", "project" => label.clone())
                    .increment(1);
                if res.status().is_client_error() || res.status().is_server_error() {
                    metrics::counter!("pgrst_project_errors_total", "project" => label.clone())
                        .increment(1);
                }
                let state = project.rest.pool_state();
                metrics::gauge!("pgrst_project_pool_connections", "project" => label)
                    .set(f64::from(state.connections));
            }
            Ok(res)
        })
    }
}
