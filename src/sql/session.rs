//! The statements that begin, end and reset a request's transaction and
//! session, and a streamed read's cursor. Fixed text: no value of a request
//! is in them.

/// `BEGIN`, read-only or not.
pub(crate) fn begin(read_only: bool) -> &'static str {
    match read_only {
        true => "BEGIN READ ONLY",
        false => "BEGIN",
    }
}

/// Undoes the transaction.
pub(crate) const ROLLBACK: &str = "ROLLBACK";

/// Ends a snapshot.
pub(crate) const COMMIT: &str = "COMMIT";

/// Commits, and sets the session back to the connection's defaults: what a
/// request set for its session (`set_config(…, false)`, `SET`) and its role
/// (`SET ROLE`, which `RESET ALL` leaves alone).
pub(crate) const COMMIT_AND_RESET: &str = "COMMIT; RESET ALL; RESET ROLE";

/// Checks deferred constraints now, so that a transaction that will roll
/// back still reports their violations.
pub(crate) const CHECK_DEFERRED: &str = "SET CONSTRAINTS ALL IMMEDIATE";

/// The ends of the one-`Sync` path, each its own statement (the extended
/// protocol takes one a `Parse`), with the name it is prepared under: the
/// deferred constraints checked while the request's role is still set (a
/// transaction that may write only), then the resets. The implicit
/// transaction commits at the `Sync`, after them: checked there, a deferred
/// violation would be checked as the connection's own role, whose error
/// leaves out the key (PostgreSQL shows it only to a role that may read it).
pub(crate) const RESETS: [(&str, &str); 3] = [
    ("tpg_check_deferred", CHECK_DEFERRED),
    ("tpg_reset", "RESET ALL"),
    ("tpg_reset_role", "RESET ROLE"),
];

/// The cursor of a streamed read; one per transaction, closed by its end.
const CURSOR: &str = "pgrst_stream";

/// Declares the cursor over a read's statement.
pub(crate) fn declare_cursor(rows_sql: &str) -> String {
    format!("DECLARE {CURSOR} NO SCROLL CURSOR FOR {rows_sql}")
}

/// The next `rows` rows of the cursor.
pub(crate) fn fetch(rows: usize) -> String {
    format!("FETCH {rows} FROM {CURSOR}")
}
