#![allow(unreachable_pub, dead_code)]

//! The whole tower stack as the benches and the allocation test drive it:
//! `JwtAuthLayer` → `SetRoleLayer` → `RestService`, over a pool of one
//! connection, with an anon token signed by [`SECRET`]. Included with
//! `#[path]` by `benches/e2e.rs` and `tests/allocations.rs`.

use serde_json::json;
use tower::ServiceBuilder;
use tower_postgrest::RestService;
use tower_postgrest::layer::{JwtAuth, JwtAuthLayer, SetRole, SetRoleLayer};

/// The HS256 secret of the stack's tokens.
pub const SECRET: &str = "reallyreallyreallyreallyverysafe";

/// The stack over `url` (the `authenticator` role), built on `rt`: the
/// service itself, for its schema cache, and the service behind both layers.
pub fn one_connection_stack(
    rt: &tokio::runtime::Runtime,
    url: &str,
) -> (RestService, JwtAuth<SetRole<RestService>>) {
    let manager = tower_postgrest::ConnectionManager::from_url(url, tokio_postgres::NoTls).unwrap();
    let pool = rt
        .block_on(manager.pool_builder().max_size(1).build(manager))
        .unwrap();
    let rest = rt
        .block_on(RestService::builder(pool).anon_role("anon").build())
        .unwrap();
    let stack = ServiceBuilder::new()
        .layer(JwtAuthLayer::secret(SECRET).unwrap())
        .layer(SetRoleLayer::new())
        .service(rest.clone());
    (rest, stack)
}

/// The claims of [`anon_token`].
pub fn anon_claims() -> serde_json::Value {
    json!({"role": "anon", "exp": 4_000_000_000u64})
}

/// An anon token, valid until 2096, signed with [`SECRET`].
pub fn anon_token() -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &anon_claims(),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}
