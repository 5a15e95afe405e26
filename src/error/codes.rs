//! Every PostgREST code this crate answers with, with its kind and
//! PostgREST's status, and the table of SQLSTATEs: each declared once.

use super::ErrorKind;

/// A PostgREST error code this crate answers with: its kind in the default
/// dialect (which decides that dialect's status and `code`) and its status in
/// PostgREST's. Each is declared once, in this module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Code {
    pub(crate) code: &'static str,
    pub(crate) kind: ErrorKind,
    /// PostgREST's status for it.
    pub(crate) postgrest: u16,
}

/// Declares each code as a constant of this module, and the list of all of them.
macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $kind:ident, $status:literal;)*) => {
            $(
                $(#[$doc])*
                pub(crate) const $name: Code = Code {
                    code: stringify!($name),
                    kind: ErrorKind::$kind,
                    postgrest: $status,
                };
            )*
            /// All of them, for looking one up by name.
            pub(crate) const ALL: &[Code] = &[$($name),*];
    };
}

codes! {
    /// The database cannot be reached.
    PGRST000 = Unavailable, 503;
    /// The connection to the database failed mid-request.
    PGRST001 = Unavailable, 503;
    /// The schema cache could not be loaded.
    PGRST002 = Unavailable, 503;
    /// No pooled connection within the pool timeout.
    PGRST003 = Unavailable, 504;
    /// A query-string parameter does not parse.
    PGRST100 = InvalidRequest, 400;
    /// A method that functions do not take.
    PGRST101 = MethodNotAllowed, 405;
    /// An invalid body.
    PGRST102 = InvalidRequest, 400;
    /// A range that cannot be satisfied.
    PGRST103 = RangeNotSatisfiable, 416;
    /// PUT's filters are not exactly the primary key.
    PGRST105 = MethodNotAllowed, 405;
    /// A profile names a schema that is not exposed.
    PGRST106 = NotAcceptable, 406;
    /// No acceptable media type.
    PGRST107 = NotAcceptable, 406;
    /// A parameter names a resource that is not embedded.
    PGRST108 = InvalidRequest, 400;
    /// An invalid `response.headers`.
    PGRST111 = Internal, 500;
    /// An invalid `response.status`.
    PGRST112 = Internal, 500;
    /// `limit` or `offset` on PUT.
    PGRST114 = InvalidRequest, 400;
    /// PUT's body names another key than its URL.
    PGRST115 = InvalidRequest, 400;
    /// Not exactly one row for a singular response.
    PGRST116 = NotAcceptable, 406;
    /// A method the resource does not take.
    PGRST117 = MethodNotAllowed, 405;
    /// Ordering by an embed that is not to-one.
    PGRST118 = InvalidRequest, 400;
    /// An invalid `RAISE SQLSTATE 'PGRST'`.
    PGRST121 = Internal, 500;
    /// Invalid preferences under `handling=strict`.
    PGRST122 = InvalidRequest, 400;
    /// Aggregates are disabled.
    PGRST123 = InvalidRequest, 400;
    /// More rows affected than `max-affected` allows.
    PGRST124 = InvalidRequest, 400;
    /// A path that names no resource.
    PGRST125 = NotFound, 404;
    /// The OpenAPI description is disabled.
    PGRST126 = NotFound, 404;
    /// Not implemented.
    PGRST127 = NotImplemented, 400;
    /// `max-affected` with `handling=strict` on a function that returns no set.
    PGRST128 = InvalidRequest, 400;
    /// No relationship between two embedded resources.
    PGRST200 = InvalidRequest, 400;
    /// More than one relationship between two embedded resources.
    PGRST201 = Ambiguous, 300;
    /// No function of that name and arguments.
    PGRST202 = NotFound, 404;
    /// More than one function of that name and arguments.
    PGRST203 = Ambiguous, 300;
    /// A column that the table does not have.
    PGRST204 = InvalidRequest, 400;
    /// No table or view of that name.
    PGRST205 = NotFound, 404;
    /// A token arrived and no key is configured.
    PGRST300 = Internal, 500;
    /// A malformed or wrongly signed token.
    PGRST301 = Unauthorized, 401;
    /// No role, and no anonymous role.
    PGRST302 = Unauthorized, 401;
    /// A token's claims are refused (expired, audience, …).
    PGRST303 = Unauthorized, 401;
    /// The database client failed.
    PGRSTX00 = Internal, 500;
}

impl Code {
    /// The code named `name`, if it is one of this module's.
    pub(crate) fn find(name: &str) -> Option<Self> {
        ALL.iter().copied().find(|c| c.code == name)
    }
}

/// The kind of a PostgreSQL error and PostgREST's status for it, by SQLSTATE,
/// in PostgREST's order of evaluation: the one table of SQLSTATEs. This
/// crate departs from PostgREST where its kind says so: a statement timeout is
/// a 504, and errors caused by the request's data are client errors.
pub(super) fn sqlstate(state: &str, message: &str) -> (ErrorKind, u16) {
    use ErrorKind::*;
    match state {
        "23503" | "23505" => return (Conflict, 409),
        "25006" => return (MethodNotAllowed, 405),
        // A cardinality violation comes from the request's data (the same key
        // twice in one upsert; pg-safeupdate's "requires a WHERE clause").
        "21000" if message.ends_with("requires a WHERE clause") => return (InvalidRequest, 400),
        "21000" => return (InvalidRequest, 500),
        "22023" if message.starts_with("role ") && message.ends_with("does not exist") => {
            return (Unauthorized, 401);
        }
        "53400" => return (Internal, 500),
        "57P01" => return (Unavailable, 503),
        "57014" => return (Timeout, 500),
        "42883" if message.starts_with("function xmlagg(") => return (NotFound, 406),
        "42883" | "42P01" => return (NotFound, 404),
        "42P17" => return (Internal, 500),
        "42501" => return (Forbidden, 403),
        "P0001" => return (InvalidRequest, 400),
        _ => {}
    }
    match state.get(..2).unwrap_or("") {
        "08" | "53" => (Unavailable, 503),
        "0L" | "0P" | "28" => (Forbidden, 403),
        "09" | "25" | "2D" | "38" | "39" | "3B" | "40" | "54" | "55" | "57" | "58" | "F0"
        | "HV" | "XX" | "P0" => (Internal, 500),
        _ => (InvalidRequest, 400),
    }
}
