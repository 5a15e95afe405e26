//! The service's settings, checked once when it is built.
//!
//! [`RestServiceBuilder`] collects them and
//! [`Config::new`] validates them; from then on every part of the pipeline
//! reads the same values: the planner its limits and switches, the service the
//! exposed schemas and their search paths, the database its timeout. Each
//! setting is converted to the form its users need here, and only here.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::db::{MakeTls, Pool};
use crate::error::{Error, ErrorKind, ErrorMapper, codes};
use crate::layer::DbRole;
use crate::schema::SchemaCache;
use crate::sql;
#[cfg(doc)]
use crate::{PostgRest, Powabase, RestService};

/// The default limit on request bodies: 16 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Builds a [`RestService`]; see [`RestService::builder`].
#[must_use]
pub struct RestServiceBuilder<T: MakeTls = tokio_postgres::NoTls> {
    pub(crate) pool: Pool<T>,
    pub(crate) settings: Settings,
    pub(crate) cache: Option<SchemaCache>,
    pub(crate) errors: Arc<dyn ErrorMapper>,
}

impl<T: MakeTls> fmt::Debug for RestServiceBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestServiceBuilder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl<T: MakeTls> RestServiceBuilder<T> {
    /// The exposed schemas, the default one first (default: `public`).
    pub fn schemas(mut self, schemas: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.settings.schemas = schemas.into_iter().map(Into::into).collect();
        self
    }

    /// The role of requests that carry no [`DbRole`]. Without one, such requests get 401.
    pub fn anon_role(mut self, role: impl Into<String>) -> Self {
        self.settings.anon_role = Some(role.into());
        self
    }

    /// The most rows any read returns (PostgREST's `db-max-rows`).
    pub fn max_rows(mut self, max_rows: u64) -> Self {
        self.settings.max_rows = Some(max_rows);
        self
    }

    /// The largest request body accepted, in bytes (default [`DEFAULT_BODY_LIMIT`]);
    /// larger ones get 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.settings.body_limit = bytes;
        self
    }

    /// Refuses PATCH and DELETE without any filter (422) instead of letting them
    /// affect every row, as PostgREST does. Off by default.
    pub fn require_filter_on_mutation(mut self, require: bool) -> Self {
        self.settings.require_filter = require;
        self
    }

    /// Honours `Prefer: tx=commit|rollback` (PostgREST's `db-tx-end =
    /// commit-allow-override`): a request may ask for its transaction to be
    /// rolled back, to try a write without keeping it. Off by default.
    pub fn allow_tx_override(mut self, allow: bool) -> Self {
        self.settings.tx_override = allow;
        self
    }

    /// A `statement_timeout` for every request's transaction (504 when it
    /// passes). Without it, a role's own `ALTER ROLE … SET statement_timeout`
    /// applies, as in PostgREST.
    pub fn statement_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.settings.statement_timeout = Some(timeout);
        self
    }

    /// How errors become responses: [`Powabase`] (the default), [`PostgRest`](crate::PostgRest),
    /// or a mapper of your own (any `Fn(&Error) -> Response<RestBody>`).
    pub fn error_mapper(mut self, mapper: impl ErrorMapper) -> Self {
        self.errors = Arc::new(mapper);
        self
    }

    /// Uses an existing schema cache (e.g. one shared by several services)
    /// instead of loading one. It must cover every exposed schema.
    pub fn schema_cache(mut self, cache: SchemaCache) -> Self {
        self.cache = Some(cache);
        self
    }
}

/// The validated settings of a service.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// The exposed schemas, the default first; never empty.
    schemas: Vec<String>,
    /// The `search_path` of a request to each of `schemas`, in the same order.
    search_paths: Vec<String>,
    /// The role of requests that carry none.
    pub(crate) anon_role: Option<DbRole>,
    /// PostgREST's `db-max-rows`: the most rows a read (or an embed) returns.
    pub(crate) max_rows: Option<i64>,
    /// PATCH and DELETE need at least one filter.
    pub(crate) require_filter: bool,
    /// `Prefer: tx=commit|rollback` is honoured.
    pub(crate) tx_override: bool,
    /// The largest request body, in bytes.
    pub(crate) body_limit: usize,
    /// `statement_timeout` of every request, e.g. `"5000ms"`.
    pub(crate) statement_timeout: Option<String>,
}

/// The settings as the builder collected them, before [`Config::new`] checks them.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) schemas: Vec<String>,
    pub(crate) anon_role: Option<String>,
    pub(crate) max_rows: Option<u64>,
    pub(crate) require_filter: bool,
    pub(crate) tx_override: bool,
    pub(crate) body_limit: usize,
    pub(crate) statement_timeout: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            schemas: vec!["public".to_owned()],
            anon_role: None,
            max_rows: None,
            require_filter: false,
            tx_override: false,
            body_limit: DEFAULT_BODY_LIMIT,
            statement_timeout: None,
        }
    }
}

/// One of the exposed schemas, as a request resolved it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Exposed<'c> {
    pub(crate) name: &'c str,
    /// Its `search_path`, quoted.
    pub(crate) search_path: &'c str,
}

impl Config {
    /// Checks `settings`: at least one schema, and none that cannot be exposed.
    pub(crate) fn new(settings: Settings) -> Result<Self, Error> {
        if settings.schemas.is_empty() {
            return Err(Error::new(
                ErrorKind::Internal,
                "At least one schema must be exposed",
            ));
        }
        if let Some(s) = settings.schemas.iter().find(|s| {
            s.is_empty() || s.contains('\0') || *s == "pg_catalog" || *s == "information_schema"
        }) {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("The schema \"{s}\" cannot be exposed"),
            ));
        }
        Ok(Self {
            search_paths: settings
                .schemas
                .iter()
                .map(|s| sql::search_path(s))
                .collect(),
            schemas: settings.schemas,
            anon_role: settings.anon_role.map(DbRole::new),
            max_rows: settings
                .max_rows
                .map(|m| i64::try_from(m).unwrap_or(i64::MAX)),
            require_filter: settings.require_filter,
            tx_override: settings.tx_override,
            body_limit: settings.body_limit,
            statement_timeout: settings
                .statement_timeout
                .map(|t| format!("{}ms", t.as_millis().max(1))),
        })
    }

    /// The exposed schemas, the default first.
    pub(crate) fn schemas(&self) -> &[String] {
        &self.schemas
    }

    /// The schema a request addresses: the one its profile header names, which
    /// must be exposed (406 otherwise), or the default.
    pub(crate) fn exposed(&self, profile: Option<&str>) -> Result<Exposed<'_>, Error> {
        let index = match profile {
            None => Some(0),
            Some(p) => self.schemas.iter().position(|s| s == p),
        };
        let Some(i) = index else {
            return Err(Error::pgrst(
                codes::PGRST106,
                format!("Invalid schema: {}", profile.unwrap_or_default()),
            )
            .with_hint(format!(
                "Only the following schemas are exposed: {}",
                self.schemas.join(", ")
            )));
        };
        Ok(Exposed {
            name: &self.schemas[i],
            search_path: &self.search_paths[i],
        })
    }

    /// Whether responses name their schema in `Content-Profile`: when there is
    /// a choice, or the request made one.
    pub(crate) fn names_profile(&self, profile: Option<&str>) -> bool {
        self.schemas.len() > 1 || profile.is_some()
    }
}

#[cfg(test)]
impl Config {
    /// The default settings, with `schemas` exposed and `max_rows`: for planner tests.
    pub(crate) fn for_tests(schemas: &[&str], max_rows: Option<u64>) -> Self {
        Self::new(Settings {
            schemas: schemas.iter().map(|s| (*s).to_owned()).collect(),
            max_rows,
            ..Settings::default()
        })
        .expect("the default settings are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_schemas(schemas: &[&str]) -> Result<Config, Error> {
        Config::new(Settings {
            schemas: schemas.iter().map(|s| (*s).to_owned()).collect(),
            ..Settings::default()
        })
    }

    #[test]
    fn schemas_are_checked_once() {
        assert!(with_schemas(&[]).is_err());
        for bad in ["", "pg_catalog", "information_schema", "a\0b"] {
            assert!(with_schemas(&["public", bad]).is_err(), "{bad:?}");
        }
        let config = with_schemas(&["api", "public"]).unwrap();
        assert_eq!(
            config.exposed(None).unwrap(),
            Exposed {
                name: "api",
                search_path: r#""api", "public""#
            }
        );
        assert_eq!(config.exposed(Some("public")).unwrap().name, "public");
        let err = config.exposed(Some("private")).unwrap_err();
        assert_eq!(err.postgrest_code(), "PGRST106");
        assert_eq!(
            err.hint(),
            Some("Only the following schemas are exposed: api, public")
        );
    }

    #[test]
    fn conversions_saturate() {
        let config = Config::new(Settings {
            max_rows: Some(u64::MAX),
            statement_timeout: Some(Duration::from_micros(10)),
            ..Settings::default()
        })
        .unwrap();
        assert_eq!(config.max_rows, Some(i64::MAX));
        assert_eq!(config.statement_timeout.as_deref(), Some("1ms"));
    }
}
