//! The JWT layer's cost per request, with and without its cache of verified tokens.
//!
//! Run with: `cargo bench --bench auth`

use std::convert::Infallible;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_postgrest::RestBody;
use tower_postgrest::layer::JwtAuthLayer;

const SECRET: &str = "a-development-secret-of-32-chars!";

fn claims() -> serde_json::Value {
    serde_json::json!({"role": "authenticated", "sub": "6f1c2c9e-0b8a-4c1e-9f0a-3c2b1a0d9e8f",
                       "aud": "authenticated", "exp": 4_102_444_800u64, "email": "someone@example.com"})
}

fn bench_layer(c: &mut Criterion, name: &str, layer: JwtAuthLayer, token: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut svc = ServiceBuilder::new()
        .layer(layer)
        .service_fn(|req: Request<()>| async move {
            black_box(req);
            Ok::<_, Infallible>(Response::new(RestBody::empty()))
        });
    let auth = format!("Bearer {token}");
    // Assert once before measuring: the token passes.
    rt.block_on(svc.ready()).unwrap();
    let req = Request::get("/")
        .header("authorization", &auth)
        .body(())
        .unwrap();
    assert_eq!(rt.block_on(svc.call(req)).unwrap().status(), 200);
    c.bench_function(name, |b| {
        b.iter(|| {
            let req = Request::get("/")
                .header("authorization", &auth)
                .body(())
                .unwrap();
            rt.block_on(svc.call(req)).unwrap()
        })
    });
}

fn auth(c: &mut Criterion) {
    let hs = jsonwebtoken::encode(
        &Header::default(),
        &claims(),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    bench_layer(
        c,
        "hs256/cached",
        JwtAuthLayer::secret(SECRET).unwrap(),
        &hs,
    );
    bench_layer(
        c,
        "hs256/uncached",
        JwtAuthLayer::secret(SECRET).unwrap().cache_size(0),
        &hs,
    );

    let keys = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys/");
    let private = std::fs::read(format!("{keys}rsa_private.pem")).unwrap();
    let public = std::fs::read(format!("{keys}rsa_public.pem")).unwrap();
    let rs = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &claims(),
        &EncodingKey::from_rsa_pem(&private).unwrap(),
    )
    .unwrap();
    bench_layer(
        c,
        "rs256/cached",
        JwtAuthLayer::rsa_pem(&public).unwrap(),
        &rs,
    );
    bench_layer(
        c,
        "rs256/uncached",
        JwtAuthLayer::rsa_pem(&public).unwrap().cache_size(0),
        &rs,
    );
}

criterion_group!(benches, auth);
criterion_main!(benches);
