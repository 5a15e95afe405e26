//! What a host asks of a [`RestService`] beside requests: a readiness
//! probe and the pool's gauges.

use std::time::Duration;

use crate::db::{self, MakeTls};
use crate::error::{Error, ErrorKind};
use crate::service::RestService;

impl<T: MakeTls> RestService<T> {
    /// Whether the service can serve: its schema cache is loaded (always,
    /// once built) and a connection can be had and answers, within
    /// `timeout`. For a readiness probe (`/ready`); a liveness probe needs
    /// nothing but the process.
    ///
    /// ```no_run
    /// # async fn demo(rest: tower_postgrest::RestService) {
    /// let ready = rest.probe(std::time::Duration::from_secs(2)).await.is_ok();
    /// # }
    /// ```
    pub async fn probe(&self, timeout: Duration) -> Result<(), Error> {
        let check = async {
            let conn = self.shared.pool.get().await.map_err(db::pool_error)?;
            conn.client
                .simple_query("")
                .await
                .map(drop)
                .map_err(Error::from_pg)
        };
        match tokio::time::timeout(timeout, check).await {
            Ok(result) => result,
            Err(_) => Err(Error::new(
                ErrorKind::Unavailable,
                "The database did not answer in time",
            )),
        }
    }

    /// Sets the pool's gauges through the [`metrics`] facade, with
    /// PostgREST's names: `pgrst_db_pool_max`, `pgrst_db_pool_available`
    /// (idle connections), `pgrst_db_pool_waiting` (requests waiting for a
    /// connection) and `pgrst_db_pool_timeouts_total` (checkouts that timed
    /// out). Call it before each scrape.
    ///
    /// ```no_run
    /// # fn demo(rest: tower_postgrest::RestService) {
    /// rest.record_pool_metrics();
    /// // … then render the host's recorder (e.g. metrics-exporter-prometheus).
    /// # }
    /// ```
    pub fn record_pool_metrics(&self) {
        let shared = &self.shared;
        let state = shared.pool.state();
        metrics::gauge!("pgrst_db_pool_max").set(f64::from(shared.pool.config().max_size));
        metrics::gauge!("pgrst_db_pool_available").set(f64::from(state.idle_connections));
        metrics::gauge!("pgrst_db_pool_waiting").set(state.statistics.pending_gets() as f64);
        metrics::counter!("pgrst_db_pool_timeouts_total").absolute(state.statistics.get_timed_out);
    }

    /// The state of the primary pool (connections open and idle).
    #[cfg_attr(not(all(feature = "jwt", feature = "rustls")), allow(dead_code))]
    pub(crate) fn pool_state(&self) -> bb8::State {
        self.shared.pool.state()
    }
}
