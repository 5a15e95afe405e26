//! The only module that talks to PostgreSQL, one concern a file: the pool
//! and its connections (`pool`), parameters and results (`codec`), a
//! request's context and pre-request (`context`), the drivers that run one
//! request's transaction (`run`, with the one-`Sync` path in `direct` over
//! the shared socket of `wire`), a batch's session (`session`), streamed
//! reads (`stream`), and connecting (`connect`, `conninfo`, `tls`).

mod codec;
mod connect;
mod conninfo;
mod context;
mod direct;
mod pool;
mod run;
mod session;
mod stream;
#[cfg(feature = "rustls")]
pub(crate) mod tls;
mod wire;

pub(crate) use codec::{CallResult, ReadResult, WriteResult};
pub(crate) use context::{PreAnswer, PreRequest, RequestContext};
pub(crate) use pool::pool_error;
pub use pool::{Connection, ConnectionManager, MakeTls, Pool};
pub(crate) use run::{Check, Outcome, run, run_explain};
pub(crate) use session::Session;
pub(crate) use stream::{FIRST_BATCH, Shape, StreamBounds, Streamed, stream_read};
