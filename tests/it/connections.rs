//! Production connections: TLS verified as libpq's `sslmode` asks, on the
//! one-`Sync` path; several hosts.

use tokio_postgres_rustls::MakeRustlsConnect;
use tower_postgrest::{ConnectionManager, RestService};

use crate::support::{get, own_cluster, send, send_body};

/// Whether every backend of `application_name` is on TLS (and there is one).
async fn all_on_tls(c: &crate::support::cluster::Cluster, application_name: &str) -> bool {
    let (admin, conn) =
        tokio_postgres::connect(&c.url("postgres", "postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(conn);
    admin
        .query_one(
            "SELECT coalesce(bool_and(ssl), false) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)
             WHERE application_name = $1",
            &[&application_name],
        )
        .await
        .unwrap()
        .get(0)
}

const SETUP: &str = "CREATE ROLE web NOLOGIN; CREATE TABLE public.t (id int PRIMARY KEY);
     INSERT INTO public.t VALUES (1); GRANT SELECT ON public.t TO web; GRANT web TO postgres;";

/// An error and its sources, as a startup log would print them.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// A certificate authority, and a server certificate it signed for `names`.
struct Certs {
    ca: String,
    server: String,
    key: String,
}

fn authority(names: &[&str]) -> Certs {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(
        DnType::CommonName,
        format!("tower-postgrest test CA for {}", names.join(" ")),
    );
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let server = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    Certs {
        ca: ca.pem(),
        server: server.pem(),
        key: key.serialize_pem(),
    }
}

/// Writes `pem` to a fresh file and gives its path.
fn pem_file(name: &str, pem: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("tpg-{}-{name}.pem", std::process::id()));
    std::fs::write(&path, pem).unwrap();
    path
}

async fn service(manager: ConnectionManager<MakeRustlsConnect>) -> RestService<MakeRustlsConnect> {
    let pool = manager
        .pool_builder()
        .max_size(2)
        .build(manager)
        .await
        .expect("pool");
    RestService::builder(pool)
        .anon_role("web")
        .build()
        .await
        .expect("service")
}

#[tokio::test]
async fn verify_full_serves_over_tls_on_the_one_sync_path() {
    let c = own_cluster(SETUP).await;
    let certs = authority(&["localhost", "127.0.0.1"]);
    c.enable_tls(&certs.server, &certs.key).unwrap();
    let ca = pem_file("ca", &certs.ca);
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}&application_name=full",
        c.port(),
        ca.display()
    );
    let manager = ConnectionManager::rustls(&url).unwrap();
    let pool = manager
        .pool_builder()
        .max_size(1)
        .build(manager)
        .await
        .unwrap();
    assert!(
        pool.get().await.unwrap().one_sync(),
        "TLS connections keep the one-Sync path"
    );
    assert!(all_on_tls(&c, "full").await, "the backend sees TLS");
    let svc = RestService::builder(pool)
        .anon_role("web")
        .build()
        .await
        .unwrap();
    assert_eq!(get(&svc, "/t?select=id").await.ids(), vec![1]);

    // verify-ca accepts a name the certificate does not carry; verify-full does not.
    let wrong_name = format!(
        "host=elsewhere.invalid hostaddr=127.0.0.1 port={} user=postgres dbname=postgres sslrootcert={}",
        c.port(),
        ca.display()
    );
    let svc =
        service(ConnectionManager::rustls(&format!("{wrong_name} sslmode=verify-ca")).unwrap())
            .await;
    assert_eq!(get(&svc, "/t?select=id").await.ids(), vec![1]);
    let manager = ConnectionManager::rustls(&format!("{wrong_name} sslmode=verify-full")).unwrap();
    let err = manager
        .pool_builder()
        .max_size(1)
        .min_idle(Some(1))
        .connection_timeout(std::time::Duration::from_secs(2))
        .build(manager)
        .await
        .unwrap_err();
    assert!(
        chain(&err).contains("not valid for name"),
        "{}",
        chain(&err)
    );
}

#[tokio::test]
async fn a_certificate_from_another_authority_fails_at_startup() {
    let c = own_cluster(SETUP).await;
    let certs = authority(&["localhost", "127.0.0.1"]);
    c.enable_tls(&certs.server, &certs.key).unwrap();
    let other = pem_file("other-ca", &authority(&["elsewhere.invalid"]).ca);
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=verify-full&sslrootcert={}",
        c.port(),
        other.display()
    );
    let manager = ConnectionManager::rustls(&url).unwrap();
    let err = manager
        .pool_builder()
        .max_size(1)
        .min_idle(Some(1))
        .connection_timeout(std::time::Duration::from_secs(2))
        .build(manager)
        .await
        .unwrap_err();
    let message = chain(&err);
    assert!(message.contains("UnknownIssuer"), "{message}");

    // `require` encrypts without checking; `disable` never encrypts.
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=require",
        c.port()
    );
    let svc = service(ConnectionManager::rustls(&url).unwrap()).await;
    assert_eq!(get(&svc, "/t?select=id").await.ids(), vec![1]);
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable&application_name=plain",
        c.port()
    );
    let manager = ConnectionManager::rustls(&url).unwrap();
    let pool = manager
        .pool_builder()
        .max_size(1)
        .build(manager)
        .await
        .unwrap();
    let conn = pool.get().await.unwrap();
    assert!(conn.one_sync());
    assert!(!all_on_tls(&c, "plain").await);
}

#[tokio::test]
async fn a_server_without_tls_is_refused_when_tls_is_required() {
    let c = own_cluster(SETUP).await;
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=require",
        c.port()
    );
    let manager = ConnectionManager::rustls(&url).unwrap();
    let err = manager
        .pool_builder()
        .max_size(1)
        .min_idle(Some(1))
        .connection_timeout(std::time::Duration::from_secs(2))
        .build(manager)
        .await
        .unwrap_err();
    assert!(
        chain(&err).to_lowercase().contains("tls"),
        "{}",
        chain(&err)
    );
    // `prefer` (libpq's default) falls back to plain.
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", c.port());
    let svc = service(ConnectionManager::rustls(&url).unwrap()).await;
    assert_eq!(get(&svc, "/t?select=id").await.ids(), vec![1]);
    // NoTls cannot honour verify-full: refused when the manager is built.
    let url = format!("{url}?sslmode=verify-full");
    let err = ConnectionManager::from_url(&url, tokio_postgres::NoTls).unwrap_err();
    assert!(
        err.to_string()
            .contains("Invalid database connection string")
    );
}

#[tokio::test]
async fn several_hosts_serve_with_the_first_down() {
    let c = own_cluster(SETUP).await;
    // A port nothing listens on.
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!(
        "postgres://postgres@127.0.0.1:{down},127.0.0.1:{}/postgres?target_session_attrs=read-write&connect_timeout=2",
        c.port()
    );
    let manager = ConnectionManager::from_url(&url, tokio_postgres::NoTls).unwrap();
    let pool = manager
        .pool_builder()
        .max_size(1)
        .build(manager)
        .await
        .unwrap();
    assert!(
        pool.get().await.unwrap().one_sync(),
        "several hosts keep the one-Sync path"
    );
    let svc = RestService::builder(pool)
        .anon_role("web")
        .build()
        .await
        .unwrap();
    assert_eq!(get(&svc, "/t?select=id").await.ids(), vec![1]);
}

#[tokio::test]
async fn reads_go_to_the_replica_and_to_the_primary_when_it_is_away() {
    let primary = own_cluster(&format!(
        "{SETUP}
         GRANT INSERT ON public.t TO web;
         CREATE FUNCTION on_replica() RETURNS bool STABLE LANGUAGE sql AS 'SELECT pg_is_in_recovery()';
         CREATE FUNCTION on_replica_volatile() RETURNS bool VOLATILE LANGUAGE sql AS 'SELECT pg_is_in_recovery()';
         CHECKPOINT;"
    ))
    .await;
    let replica = primary.replica().expect("a replica");
    let pool_at = |url: String, timeout_ms: u64| async move {
        let manager = ConnectionManager::from_url(&url, tokio_postgres::NoTls).unwrap();
        manager
            .pool_builder()
            .max_size(2)
            .connection_timeout(std::time::Duration::from_millis(timeout_ms))
            .build(manager)
            .await
            .unwrap()
    };
    let svc = RestService::builder(pool_at(primary.url("postgres", "postgres"), 5000).await)
        .read_pool(pool_at(replica.url("postgres", "postgres"), 1000).await)
        .anon_role("web")
        .build()
        .await
        .unwrap();
    let json = [("content-type", "application/json")];
    let on_replica = |reply: crate::support::Reply| reply.json();
    assert_eq!(
        on_replica(get(&svc, "/rpc/on_replica").await),
        true,
        "a stable function by GET reads the replica"
    );
    assert_eq!(
        on_replica(send_body(&svc, "POST", "/rpc/on_replica", &json, "{}").await),
        true,
        "a stable function by POST reads the replica"
    );
    assert_eq!(
        on_replica(send_body(&svc, "POST", "/rpc/on_replica_volatile", &json, "{}").await),
        false,
        "a volatile function runs on the primary"
    );
    assert_eq!(
        on_replica(
            send(
                &svc,
                "GET",
                "/rpc/on_replica",
                &[("x-read-from", "primary")]
            )
            .await
        ),
        false,
        "X-Read-From: primary pins a read to the primary"
    );
    let wrote = send_body(&svc, "POST", "/t", &json, r#"{"id": 2}"#).await;
    assert_eq!(wrote.status, 201, "{:?}", wrote.json());
    // The write reaches the replica by streaming replication.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while get(&svc, "/t?select=id&order=id").await.ids() != vec![1, 2] {
        assert!(
            std::time::Instant::now() < deadline,
            "the replica never saw the write"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // With the replica away, every read is served by the primary, within the read pool's timeout.
    replica.stop_server().unwrap();
    for _ in 0..4 {
        let started = std::time::Instant::now();
        let reply = get(&svc, "/rpc/on_replica").await;
        assert_eq!(reply.status, 200, "{:?}", reply.json());
        assert_eq!(reply.json(), false);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(get(&svc, "/t?select=id&order=id").await.ids(), vec![1, 2]);
    }
}
