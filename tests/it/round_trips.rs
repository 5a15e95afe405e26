//! Round trips to PostgreSQL per request, counted by a TCP proxy between the
//! pool and the server: a *turn* is the client speaking after the server has.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_postgres::config::Host;

use crate::support::{database, get};

/// Counts turns, and the extended-protocol Execute and Sync messages, across all proxied connections.
#[derive(Default)]
struct Turns(AtomicU64, AtomicU64, AtomicU64);

async fn proxy(turns: Arc<Turns>) -> u16 {
    let upstream = database().url.parse::<tokio_postgres::Config>().unwrap();
    let host = match &upstream.get_hosts()[0] {
        Host::Tcp(h) => h.clone(),
        Host::Unix(_) => panic!("the round-trip test needs a TCP database URL"),
    };
    let port = upstream.get_ports().first().copied().unwrap_or(5432);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (client, _) = listener.accept().await.unwrap();
            let server = TcpStream::connect((host.as_str(), port)).await.unwrap();
            let turns = Arc::clone(&turns);
            tokio::spawn(pipe(client, server, turns));
        }
    });
    local
}

async fn pipe(client: TcpStream, server: TcpStream, turns: Arc<Turns>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    // Whether the server has spoken since the client last did.
    let server_spoke = Arc::new(AtomicBool::new(true));
    let spoke = Arc::clone(&server_spoke);
    let up = async move {
        let mut buf = vec![0; 64 * 1024];
        // The client's messages: the startup message has no type byte; then `type, length, body`.
        let mut stream: Vec<u8> = Vec::new();
        let mut started = false;
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if spoke.swap(false, Ordering::SeqCst) {
                turns.0.fetch_add(1, Ordering::SeqCst);
            }
            stream.extend_from_slice(&buf[..n]);
            loop {
                let (header, has_type) = if started { (5, true) } else { (4, false) };
                if stream.len() < header {
                    break;
                }
                let at = usize::from(has_type);
                let len = u32::from_be_bytes(stream[at..at + 4].try_into().unwrap()) as usize;
                if stream.len() < at + len {
                    break;
                }
                if has_type && stream[0] == b'E' {
                    turns.1.fetch_add(1, Ordering::SeqCst);
                }
                if has_type && stream[0] == b'S' {
                    turns.2.fetch_add(1, Ordering::SeqCst);
                }
                stream.drain(..at + len);
                started = true;
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let down = async move {
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            server_spoke.store(true, Ordering::SeqCst);
            if cw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(up, down);
}

/// The database URL's credentials, through the counting proxy on `port`.
fn proxied(port: u16) -> tokio_postgres::Config {
    let upstream = database().url.parse::<tokio_postgres::Config>().unwrap();
    let mut config = tokio_postgres::Config::new();
    config.host("127.0.0.1").port(port);
    if let Some(user) = upstream.get_user() {
        config.user(user);
    }
    if let Some(password) = upstream.get_password() {
        config.password(password);
    }
    if let Some(db) = upstream.get_dbname() {
        config.dbname(db);
    }
    config
}

/// Round trips and messages of reads on a one-connection pool from `manager`.
/// `first_turns` is what the first use of a statement takes; `syncs` is how
/// many `Sync`s a steady-state read sends; `executes` how many `Execute`s.
async fn reads_through(
    turns: Arc<Turns>,
    manager: tower_postgrest::ConnectionManager,
    first_turns: u64,
    syncs: u64,
    executes: u64,
) {
    let svc = tower_postgrest::RestService::builder(crate::support::one_connection(manager).await)
        .anon_role("anon")
        .build()
        .await
        .unwrap();

    let uri = "/items?select=id,name&price=gt.1&order=id&limit=10";
    let count = |turns: &Turns| turns.0.load(Ordering::SeqCst);

    let before = count(&turns);
    assert_eq!(get(&svc, uri).await.ids(), vec![1, 4, 6]);
    let first = count(&turns) - before;

    // Steady state: everything pipelined in one round trip.
    let mut steady = Vec::new();
    for _ in 0..5 {
        let (before, syncs_before) = (count(&turns), turns.2.load(Ordering::SeqCst));
        assert_eq!(get(&svc, uri).await.ids(), vec![1, 4, 6]);
        steady.push(count(&turns) - before);
        assert_eq!(turns.2.load(Ordering::SeqCst) - syncs_before, syncs);
    }
    // Other values, same shape: the same prepared statement.
    let before = count(&turns);
    assert_eq!(
        get(&svc, "/items?select=id,name&price=gt.5&order=id&limit=10")
            .await
            .ids(),
        vec![6]
    );
    steady.push(count(&turns) - before);

    eprintln!("round trips: first request {first}, then {steady:?}");
    assert_eq!(first, first_turns);
    assert!(steady.iter().all(|&n| n == 1), "{steady:?}");

    // A four-level embed is still one statement in one round trip.
    let deep = "/authors?select=name,items(name,reviews(body,items(name,authors(name))))&id=eq.1&items.order=id";
    let reply = get(&svc, deep).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let (turns_before, executes_before) = (count(&turns), turns.1.load(Ordering::SeqCst));
    let reply = get(&svc, deep).await;
    assert_eq!(
        reply.json()[0]["items"][0]["reviews"][0]["items"]["authors"]["name"],
        "Ursula K. Le Guin"
    );
    assert_eq!(count(&turns) - turns_before, 1);
    assert_eq!(turns.1.load(Ordering::SeqCst) - executes_before, executes);
}

#[tokio::test]
async fn a_get_is_one_round_trip_once_its_statement_is_prepared() {
    // Through tokio-postgres (a manager wrapping bb8-postgres's): the first
    // use takes BEGIN + context + Parse, then Execute + COMMIT; from then on
    // BEGIN, context, statement and COMMIT go together: BEGIN and COMMIT as
    // simple queries, the context and the statement with a Sync each.
    let turns = Arc::new(Turns::default());
    let port = proxy(Arc::clone(&turns)).await;
    let manager = tower_postgrest::ConnectionManager::new(
        bb8_postgres::PostgresConnectionManager::new(proxied(port), tokio_postgres::NoTls),
    );
    // Executes: the context and the statement (COMMIT and the session's reset are a simple query).
    reads_through(turns, manager, 2, 2, 2).await;
}

#[tokio::test]
async fn a_get_on_a_socket_the_pool_opened_is_one_round_trip_and_one_sync() {
    // The pool opens the socket itself: the context and the statement (with
    // its Parse, the first time) go before a single Sync, in one round trip
    // even on first use.
    let turns = Arc::new(Turns::default());
    let port = proxy(Arc::clone(&turns)).await;
    let manager =
        tower_postgrest::ConnectionManager::from_config(proxied(port), tokio_postgres::NoTls);
    // Executes: the context, the statement, and the session's `RESET ALL`
    // and `RESET ROLE`.
    reads_through(turns, manager, 1, 1, 4).await;
}

#[tokio::test]
async fn a_pre_request_goes_in_the_same_round_trip() {
    crate::support::admin()
        .await
        .batch_execute(
            // Not in `public`: the fixture's exposed schema stays as its snapshot says.
            "CREATE SCHEMA IF NOT EXISTS rt_hooks; GRANT USAGE ON SCHEMA rt_hooks TO anon;
             CREATE OR REPLACE FUNCTION rt_hooks.pre_request() RETURNS void LANGUAGE sql AS 'SELECT'",
        )
        .await
        .unwrap();
    for direct in [true, false] {
        let turns = Arc::new(Turns::default());
        let port = proxy(Arc::clone(&turns)).await;
        let manager = if direct {
            tower_postgrest::ConnectionManager::from_config(proxied(port), tokio_postgres::NoTls)
        } else {
            tower_postgrest::ConnectionManager::new(bb8_postgres::PostgresConnectionManager::new(
                proxied(port),
                tokio_postgres::NoTls,
            ))
        };
        let svc =
            tower_postgrest::RestService::builder(crate::support::one_connection(manager).await)
                .anon_role("anon")
                .pre_request("rt_hooks.pre_request")
                .build()
                .await
                .unwrap();
        let uri = "/items?select=id&price=gt.1&order=id";
        assert_eq!(get(&svc, uri).await.ids(), vec![1, 4, 6]);
        let (before, executes) = (
            turns.0.load(Ordering::SeqCst),
            turns.1.load(Ordering::SeqCst),
        );
        assert_eq!(get(&svc, uri).await.ids(), vec![1, 4, 6]);
        assert_eq!(
            turns.0.load(Ordering::SeqCst) - before,
            1,
            "direct: {direct}"
        );
        // One more Execute than without a pre-request: context, pre-request,
        // statement (and, direct, the two resets: `RESET ALL`, `RESET ROLE`).
        let want = if direct { 5 } else { 3 };
        assert_eq!(
            turns.1.load(Ordering::SeqCst) - executes,
            want,
            "direct: {direct}"
        );
    }
}

/// Writes and calls are one round trip too, once their statements are
/// prepared, on both paths; and what they did is in the database.
#[tokio::test]
async fn a_write_and_a_call_are_one_round_trip_each() {
    for direct in [true, false] {
        let turns = Arc::new(Turns::default());
        let port = proxy(Arc::clone(&turns)).await;
        let manager = if direct {
            tower_postgrest::ConnectionManager::from_config(proxied(port), tokio_postgres::NoTls)
        } else {
            tower_postgrest::ConnectionManager::new(bb8_postgres::PostgresConnectionManager::new(
                proxied(port),
                tokio_postgres::NoTls,
            ))
        };
        let (svc, db) = crate::support::scratch_on(
            crate::support::one_connection(manager).await,
            "CREATE TABLE w (id int PRIMARY KEY, n int NOT NULL);
             CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b';",
            |b| b.anon_role("anon"),
        )
        .await;
        let count = |turns: &Turns| turns.0.load(Ordering::SeqCst);
        let json = ("content-type", "application/json");
        for id in 0..4 {
            let before = count(&turns);
            let reply = crate::support::send_body(
                &svc,
                "POST",
                "/w",
                &[json],
                format!(r#"{{"id": {id}, "n": {id}}}"#),
            )
            .await;
            assert_eq!(reply.status, 201, "{}", reply.text);
            let write_turns = count(&turns) - before;
            let before = count(&turns);
            let reply =
                crate::support::send_body(&svc, "POST", "/rpc/add", &[json], r#"{"a": 2, "b": 3}"#)
                    .await;
            assert_eq!(reply.json(), 5);
            let call_turns = count(&turns) - before;
            // The first of each prepares its statement.
            if id > 0 {
                assert_eq!((write_turns, call_turns), (1, 1), "direct: {direct}");
            }
        }
        assert_eq!(
            crate::support::rows(&db, "SELECT id, n FROM w ORDER BY id").await,
            serde_json::json!([{"id": 0, "n": 0}, {"id": 1, "n": 1}, {"id": 2, "n": 2}, {"id": 3, "n": 3}])
        );
    }
}
