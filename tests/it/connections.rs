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

/// Why a pool for `url` cannot open its first connection.
async fn first_connection_error(url: &str) -> tokio_postgres::Error {
    let manager = ConnectionManager::rustls(url).unwrap();
    manager
        .pool_builder()
        .max_size(1)
        .min_idle(Some(1))
        .connection_timeout(std::time::Duration::from_secs(2))
        .build(manager)
        .await
        .unwrap_err()
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
    let err = first_connection_error(&format!("{wrong_name} sslmode=verify-full")).await;
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
    let err = first_connection_error(&url).await;
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
    let err = first_connection_error(&url).await;
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

    // Several hosts, the replica first: `target_session_attrs=read-write` skips it, on the one-Sync path.
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
        replica.port(),
        primary.port()
    );
    let manager = ConnectionManager::from_url(&url, tokio_postgres::NoTls).unwrap();
    let pool = manager
        .pool_builder()
        .max_size(1)
        .build(manager)
        .await
        .unwrap();
    assert!(pool.get().await.unwrap().one_sync());
    let writable = RestService::builder(pool)
        .anon_role("web")
        .build()
        .await
        .unwrap();
    assert_eq!(on_replica(get(&writable, "/rpc/on_replica").await), false);

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

/// A PgBouncer in transaction mode with `pool_size` server connections in
/// front of `port`; stopped when dropped.
struct PgBouncer {
    child: std::process::Child,
    dir: std::path::PathBuf,
    port: u16,
}

impl PgBouncer {
    fn start(upstream: u16, pool_size: u32) -> Self {
        let exe = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("pgbouncer is not installed (Debian's pgbouncer package; .ci/run installs it)");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("tpg-pgbouncer-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("users.txt"), "\"postgres\" \"\"\n").unwrap();
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\npostgres = host=127.0.0.1 port={upstream} dbname=postgres\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = trust\nauth_file = {users}\npool_mode = transaction\n\
                 default_pool_size = {pool_size}\nmax_client_conn = 200\n\
                 ignore_startup_parameters = extra_float_digits\n",
                users = dir.join("users.txt").display(),
            ),
        )
        .unwrap();
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .unwrap()
            .stdout
            == b"0\n";
        let mut command = if root {
            // PgBouncer refuses to run as root.
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--", exe]);
            std::process::Command::new("chown")
                .args(["-R", "postgres", dir.to_str().unwrap()])
                .status()
                .unwrap();
            c
        } else {
            std::process::Command::new(exe)
        };
        let child = command
            .arg(dir.join("pgbouncer.ini"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "pgbouncer did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Self { child, dir, port }
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("pkill")
            .args(["-f", self.dir.join("pgbouncer.ini").to_str().unwrap()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `clients` concurrent clients, each reading, inserting (in one `Sync`),
/// and inserting one row checked before commit (a transaction block); the
/// failed requests.
async fn hammer(svc: &RestService, clients: i32, rounds: i32) -> Vec<String> {
    let tasks = (0..clients).map(|c| {
        let svc = svc.clone();
        tokio::spawn(async move {
            let json = ("content-type", "application/json");
            let one = ("accept", "application/vnd.pgrst.object+json");
            let mut failed = Vec::new();
            for r in 0..rounds {
                let id = 1_000 + c * 1_000 + r * 2;
                let replies = [
                    get(&svc, "/t?select=id&id=eq.1").await,
                    send_body(&svc, "POST", "/t", &[json], format!(r#"{{"id": {id}}}"#)).await,
                    send_body(
                        &svc,
                        "POST",
                        "/t",
                        &[json, one],
                        format!(r#"{{"id": {}}}"#, id + 1),
                    )
                    .await,
                    get(&svc, "/rpc/on_replica").await,
                ];
                for reply in replies {
                    if !reply.status.is_success() {
                        failed.push(format!("{} {:?}", reply.status, reply.json()));
                    }
                }
            }
            failed
        })
    });
    let mut failed = Vec::new();
    for task in tasks {
        failed.extend(task.await.unwrap());
    }
    failed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_pooler_without_prepared_statements_loses_nothing() {
    let c = own_cluster(&format!(
        "{SETUP}
         GRANT INSERT ON public.t TO web;
         CREATE FUNCTION on_replica() RETURNS bool STABLE LANGUAGE sql AS 'SELECT pg_is_in_recovery()';"
    ))
    .await;
    let bouncer = PgBouncer::start(c.port(), 4);
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", bouncer.port);
    let service = |prepared: bool| {
        let url = url.clone();
        async move {
            let manager = ConnectionManager::from_url(&url, tokio_postgres::NoTls)
                .unwrap()
                .prepared_statements(prepared);
            // Every client connection open, and taken in turn.
            let pool = manager
                .pool_builder()
                .max_size(32)
                .min_idle(Some(32))
                .build(manager)
                .await
                .unwrap();
            RestService::builder(pool)
                .anon_role("web")
                .build()
                .await
                .unwrap()
        }
    };

    let svc = service(false).await;
    let failed = hammer(&svc, 32, 20).await;
    assert!(
        failed.is_empty(),
        "{} failed, first: {:?}",
        failed.len(),
        failed.first()
    );
    let (admin, conn) =
        tokio_postgres::connect(&c.url("postgres", "postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(conn);
    let count: i64 = admin
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1 + 32 * 20 * 2, "every write landed");

    // The same through named statements fails: the pooler really does move
    // transactions between server connections.
    admin
        .execute("DELETE FROM t WHERE id > 1", &[])
        .await
        .unwrap();
    let failed = hammer(&service(true).await, 32, 5).await;
    assert!(
        !failed.is_empty(),
        "named statements should not survive a transaction pooler"
    );
}
