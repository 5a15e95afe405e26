//! Tower layers around [`RestService`](crate::RestService), and the request
//! extensions through which they talk to it.
//!
//! Every layer is optional. An auth layer of the application's own only has to
//! insert a [`DbRole`] into the request's extensions; without one, the service
//! uses its anonymous role.

mod role;

pub use role::DbRole;
