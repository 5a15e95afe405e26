//! Opening connections the one-`Sync` path can share: the pool connects the
//! socket, negotiates TLS, and picks the host itself, so that what it hands
//! tokio-postgres (a [`Wire`](super::wire::Wire)) is the plaintext protocol
//! stream whatever the transport.
//!
//! It follows libpq's rules for what tokio-postgres would otherwise do: the
//! hosts in order (shuffled with `load_balance_hosts=random`), `hostaddr`
//! for the address and `host` for the certificate's name, one port for all
//! or one per host, `connect_timeout` per host, the `SSLRequest` exchange
//! before TLS, and `target_session_attrs` checked once connected.

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

#[cfg(feature = "rustls")]
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio_postgres::config::{Config, Host, LoadBalanceHosts, SslMode, TargetSessionAttrs};
#[cfg(feature = "rustls")]
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Connection, NoTls};

use super::wire::{Io, Wire};

/// The TLS connector the pool can drive itself.
#[cfg(feature = "rustls")]
pub(crate) type Tls = tokio_postgres_rustls::MakeRustlsConnect;
/// Without the `rustls` feature the pool opens plain sockets only.
#[cfg(not(feature = "rustls"))]
pub(crate) type Tls = std::convert::Infallible;

/// Where connections go when the pool opens their sockets itself.
pub(crate) struct Endpoint {
    targets: Vec<Target>,
    /// The config tokio-postgres authenticates with over the opened stream
    /// (TLS is already done: its mode is `disable`).
    pub(crate) config: Config,
    ssl: SslMode,
    #[cfg_attr(not(feature = "rustls"), allow(dead_code))]
    tls: Option<Tls>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("targets", &self.targets)
            .field("ssl", &self.ssl)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// One host to try.
#[derive(Debug, Clone)]
struct Target {
    address: Address,
    /// The name TLS verifies (the `host`, even when `hostaddr` is the address).
    name: String,
}

#[derive(Debug, Clone)]
enum Address {
    Tcp(String, u16),
    Ip(IpAddr, u16),
    Unix(PathBuf),
}

/// A connection opened at an endpoint: the client, its connection task, and
/// the host's index (cancel requests go to the same host).
pub(crate) struct Opened {
    pub(crate) client: Client,
    pub(crate) wire: Wire,
    pub(crate) target: usize,
}

impl Endpoint {
    /// The endpoint of `config`, or `None` when the pool should leave the
    /// connection to tokio-postgres (no host given, so libpq's defaults
    /// apply; ports that pair with no host; direct TLS negotiation; or TLS
    /// the pool cannot do itself).
    pub(crate) fn of(config: &Config, tls: Option<Tls>) -> Option<Self> {
        let hosts = config.get_hosts();
        let addrs = config.get_hostaddrs();
        let count = hosts.len().max(addrs.len());
        if count == 0 || (!hosts.is_empty() && !addrs.is_empty() && hosts.len() != addrs.len()) {
            return None;
        }
        let ports = config.get_ports();
        let port = |i: usize| match ports {
            [] => Some(5432),
            [port] => Some(*port),
            ports => ports.get(i).copied().filter(|_| ports.len() == count),
        };
        let ssl = config.get_ssl_mode();
        if ssl != SslMode::Disable
            && (config.get_ssl_negotiation() != tokio_postgres::config::SslNegotiation::Postgres
                || tls.is_none())
        {
            return None;
        }
        let mut targets = Vec::with_capacity(count);
        for i in 0..count {
            let port = port(i)?;
            let (address, name) = match (addrs.get(i), hosts.get(i)) {
                (Some(ip), host) => {
                    let name = match host {
                        Some(Host::Tcp(name)) => name.clone(),
                        _ => ip.to_string(),
                    };
                    (Address::Ip(*ip, port), name)
                }
                (None, Some(Host::Tcp(name))) => (Address::Tcp(name.clone(), port), name.clone()),
                (None, Some(Host::Unix(dir))) => (
                    Address::Unix(dir.join(format!(".s.PGSQL.{port}"))),
                    String::new(),
                ),
                (None, None) => return None,
            };
            targets.push(Target { address, name });
        }
        let mut config = config.clone();
        config.ssl_mode(SslMode::Disable);
        Some(Self {
            targets,
            config,
            ssl,
            tls: (ssl != SslMode::Disable).then_some(tls).flatten(),
        })
    }

    /// Opens a connection at the first host that answers and has the
    /// session attributes asked for, and spawns its connection task.
    pub(crate) async fn connect(&self) -> io::Result<Opened> {
        let mut order: Vec<usize> = (0..self.targets.len()).collect();
        if self.config.get_load_balance_hosts() == LoadBalanceHosts::Random {
            shuffle(&mut order);
        }
        let mut last = None;
        for target in order {
            match self.connect_to(target).await {
                Ok(opened) => return Ok(opened),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no host to connect to")))
    }

    async fn connect_to(&self, target: usize) -> io::Result<Opened> {
        let io = self.open(target).await?;
        let wire = Wire::new(io);
        let (client, connection) = self
            .config
            .connect_raw(wire.clone(), NoTls)
            .await
            .map_err(io::Error::other)?;
        wire.track();
        spawn(connection);
        let wanted = match self.config.get_target_session_attrs() {
            TargetSessionAttrs::ReadWrite => Some("off"),
            TargetSessionAttrs::ReadOnly => Some("on"),
            _ => None,
        };
        if let Some(wanted) = wanted {
            let rows = client
                .simple_query("SHOW transaction_read_only")
                .await
                .map_err(io::Error::other)?;
            let read_only = rows.iter().find_map(|message| match message {
                tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0),
                _ => None,
            });
            if read_only != Some(wanted) {
                return Err(io::Error::other(
                    "the server does not have the target_session_attrs asked for",
                ));
            }
        }
        Ok(Opened {
            client,
            wire,
            target,
        })
    }

    /// Opens a socket to host `target` as libpq would: `TCP_NODELAY`,
    /// keepalives when configured, TLS as `sslmode` asks, all within the
    /// connect timeout.
    pub(crate) async fn open(&self, target: usize) -> io::Result<Io> {
        let target = self
            .targets
            .get(target)
            .ok_or_else(|| io::Error::other("no such host"))?;
        let connect = async {
            let stream = match &target.address {
                Address::Tcp(host, port) => TcpStream::connect((host.as_str(), *port)).await?,
                Address::Ip(ip, port) => TcpStream::connect((*ip, *port)).await?,
                Address::Unix(path) => return Ok(Io::Unix(UnixStream::connect(path).await?)),
            };
            self.tune(&stream)?;
            self.negotiate(stream, &target.name).await
        };
        match self.config.get_connect_timeout() {
            Some(limit) if *limit > Duration::ZERO => {
                tokio::time::timeout(*limit, connect)
                    .await
                    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connection timed out"))?
            }
            _ => connect.await,
        }
    }

    fn tune(&self, stream: &TcpStream) -> io::Result<()> {
        let config = &self.config;
        stream.set_nodelay(true)?;
        if config.get_keepalives() {
            let mut keepalive =
                socket2::TcpKeepalive::new().with_time(config.get_keepalives_idle());
            if let Some(interval) = config.get_keepalives_interval() {
                keepalive = keepalive.with_interval(interval);
            }
            if let Some(retries) = config.get_keepalives_retries() {
                keepalive = keepalive.with_retries(retries);
            }
            socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive)?;
        }
        Ok(())
    }

    /// PostgreSQL's `SSLRequest`, then the TLS handshake when the server
    /// agrees (or plain, when it does not and `sslmode` allows it).
    #[cfg_attr(not(feature = "rustls"), allow(unused_variables, unused_mut))]
    async fn negotiate(&self, mut stream: TcpStream, name: &str) -> io::Result<Io> {
        #[cfg(feature = "rustls")]
        if let Some(tls) = &self.tls {
            // Length 8, then the request code 1234.5679.
            stream
                .write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
                .await?;
            let mut answer = [0u8; 1];
            stream.read_exact(&mut answer).await?;
            return match answer[0] {
                b'S' => {
                    let connect = <Tls as MakeTlsConnect<TcpStream>>::make_tls_connect(
                        &mut tls.clone(),
                        name,
                    )
                    .map_err(io::Error::other)?;
                    let tls = connect.connect(stream).await.map_err(io::Error::other)?;
                    Ok(Io::Tls(Box::new(tls)))
                }
                b'N' if self.ssl == SslMode::Prefer => Ok(Io::Tcp(stream)),
                b'N' => Err(io::Error::other("the server does not support TLS")),
                _ => Err(io::Error::other(
                    "the server answered the TLS request with an error",
                )),
            };
        }
        Ok(Io::Tcp(stream))
    }
}

fn spawn(connection: Connection<Wire, tokio_postgres::tls::NoTlsStream>) {
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "database connection closed");
        }
    });
}

/// Shuffles `order` (Fisher–Yates, seeded by the process's hasher keys).
fn shuffle(order: &mut [usize]) {
    use std::hash::{BuildHasher, RandomState};
    let state = RandomState::new();
    for i in (1..order.len()).rev() {
        let j = (state.hash_one(i) % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
}
