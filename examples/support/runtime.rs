//! The runtime of the demo server and of the load bench's raw baseline:
//! tokio's multi-threaded scheduler with `PGRST_SERVER_WORKERS` threads.
//!
//! The default, chosen by measurement (BENCHMARKS.md): every core when
//! PostgreSQL is elsewhere, half of them (at least one) when it runs on the
//! same machine (the throwaway database, or a URL whose hosts are all
//! loopback addresses or socket directories). There, a worker per core
//! leaves the threads handing each request over between themselves and
//! PostgreSQL: on two cores, one worker served GET by primary key with
//! 30 % less server CPU per request than two.

/// Builds the runtime for a server whose database is at `url` (`None`: a
/// throwaway database on this machine).
pub(crate) fn runtime(url: Option<&str>) -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let workers = std::env::var("PGRST_SERVER_WORKERS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(if database_here(url) {
            (cores / 2).max(1)
        } else {
            cores
        });
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
}

/// Whether PostgreSQL runs on this machine: no URL (a throwaway database),
/// or every host of it a socket directory or a loopback address.
fn database_here(url: Option<&str>) -> bool {
    use tokio_postgres::config::Host;
    let Some(url) = url else { return true };
    let Ok(config) = url.parse::<tokio_postgres::Config>() else {
        return false;
    };
    let loopback = |name: &str| {
        name == "localhost"
            || name
                .trim_matches(|c| c == '[' || c == ']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    !config.get_hosts().is_empty()
        && config.get_hosts().iter().all(|h| match h {
            Host::Tcp(name) => loopback(name),
            #[cfg(unix)]
            Host::Unix(_) => true,
        })
}
