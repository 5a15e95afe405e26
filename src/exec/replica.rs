//! The read pool's health. A read pool that fails (no connection within its
//! timeout, or its server refuses) is marked down and skipped at once, so
//! that reads go to the primary without waiting for the read pool's
//! timeout again; a background probe asks it again, backing off, until it
//! answers, and then reads go back to it. Each change is logged and counted
//! (`pgrst_db_read_pool_changes_total{state="down"|"up"}`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::db::{MakeTls, Pool};
use crate::error::Error;

/// The first wait before asking a read pool that is down again; it doubles
/// up to [`LONGEST_WAIT`].
const FIRST_WAIT: Duration = Duration::from_millis(200);
const LONGEST_WAIT: Duration = Duration::from_secs(10);

/// A read pool, and whether it is down.
pub(crate) struct ReadPool<T: MakeTls> {
    pool: Pool<T>,
    down: AtomicBool,
}

impl<T: MakeTls> ReadPool<T> {
    pub(crate) fn new(pool: Pool<T>) -> Arc<Self> {
        Arc::new(Self {
            pool,
            down: AtomicBool::new(false),
        })
    }

    /// The pool, unless it is down.
    pub(crate) fn usable(&self) -> Option<&Pool<T>> {
        (!self.down.load(Ordering::Acquire)).then_some(&self.pool)
    }

    /// Marks the pool down after `error`, and starts probing it (once).
    pub(crate) fn failed(self: &Arc<Self>, error: &Error) {
        if self.down.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::warn!(error = %error, "the read pool failed; reads go to the primary until it answers again");
        metrics::counter!("pgrst_db_read_pool_changes_total", "state" => "down").increment(1);
        tokio::spawn(probe(Arc::downgrade(self)));
    }
}

/// Asks the read pool for a connection that answers, backing off, until
/// one does (or the service is gone).
async fn probe<T: MakeTls>(read_pool: Weak<ReadPool<T>>) {
    let mut wait = FIRST_WAIT;
    loop {
        tokio::time::sleep(wait).await;
        let Some(this) = read_pool.upgrade() else {
            return;
        };
        let answered = async {
            let conn = this.pool.get().await.ok()?;
            conn.client.simple_query("").await.ok()
        };
        if tokio::time::timeout(LONGEST_WAIT, answered)
            .await
            .ok()
            .flatten()
            .is_some()
        {
            this.down.store(false, Ordering::Release);
            tracing::info!("the read pool answers again; reads go back to it");
            metrics::counter!("pgrst_db_read_pool_changes_total", "state" => "up").increment(1);
            return;
        }
        wait = (wait * 2).min(LONGEST_WAIT);
    }
}
