//! A throwaway PostgreSQL cluster started from the local server binaries.
//!
//! One implementation shared by the test harness (`tests/it/support.rs`) and the
//! demo server (`examples/server.rs`), which include this file with `#[path]`.
//!
//! The binaries are found on `PATH`, through `pg_config --bindir`, or under
//! `/usr/lib/postgresql/*/bin` (newest first). When running as root the server
//! runs as the `postgres` OS user (PostgreSQL refuses root). The cluster lives in
//! a fresh temporary directory on a free loopback port, and is removed when the
//! [`Cluster`] is dropped — and, through a small watchdog process, when the
//! process that started it exits in any other way (a panic, `exit`, a signal).

#![allow(dead_code, unreachable_pub)]

use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

/// A running throwaway cluster; see the module docs.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    bindir: PathBuf,
    port: u16,
    run_as: Option<String>,
    stopped: bool,
}

impl Cluster {
    /// Creates and starts a cluster whose superuser is `postgres`, with trust
    /// authentication on 127.0.0.1 only.
    pub fn start() -> io::Result<Self> {
        let bindir = find_bindir().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH, via pg_config, \
                 or under /usr/lib/postgresql/*/bin; install them or set DATABASE_URL",
            )
        })?;
        let run_as = is_root().then(|| "postgres".to_owned());
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("tower-postgrest-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut cluster = Self {
            dir,
            bindir,
            port: 0,
            run_as,
            stopped: false,
        };
        cluster.spawn_watchdog()?;
        if let Some(user) = &cluster.run_as {
            chown_to(&cluster.dir, user)?;
        }
        let data = cluster.data_dir();
        cluster.run_checked(
            "initdb",
            &[
                "-D",
                path_str(&data)?,
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
        )?;
        let mut last_err = None;
        for _ in 0..5 {
            cluster.port = free_port()?;
            match cluster.start_server() {
                Ok(()) => return Ok(cluster),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("could not start PostgreSQL")))
    }

    /// A streaming replica of this cluster (`pg_basebackup -R`), started on a port of its own.
    pub fn replica(&self) -> io::Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "tower-postgrest-replica-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir)?;
        let mut replica = Self {
            dir,
            bindir: self.bindir.clone(),
            port: 0,
            run_as: self.run_as.clone(),
            stopped: false,
        };
        replica.spawn_watchdog()?;
        if let Some(user) = &replica.run_as {
            chown_to(&replica.dir, user)?;
        }
        let data = replica.data_dir();
        let port = self.port.to_string();
        replica.run_checked(
            "pg_basebackup",
            &[
                "-D",
                path_str(&data)?,
                "-R",
                "-X",
                "stream",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "--no-sync",
            ],
        )?;
        let mut last_err = None;
        for _ in 0..5 {
            replica.port = free_port()?;
            match replica.start_server() {
                Ok(()) => return Ok(replica),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("could not start the replica")))
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for `user` to `database`.
    pub fn url(&self, user: &str, database: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{database}", self.port)
    }

    /// Stops the server (immediately, as a crash would), keeping the cluster.
    pub fn stop_server(&self) -> io::Result<()> {
        let data = self.data_dir();
        self.run_checked(
            "pg_ctl",
            &["-D", path_str(&data)?, "-m", "immediate", "-w", "stop"],
        )
        .map(drop)
    }

    /// Stops the server cleanly (what was committed stays) and starts it again.
    pub fn restart_server(&self) -> io::Result<()> {
        let data = self.data_dir();
        self.run_checked(
            "pg_ctl",
            &["-D", path_str(&data)?, "-m", "fast", "-w", "stop"],
        )?;
        self.start_server()
    }

    /// Starts the server on its port (again, after [`stop_server`](Self::stop_server)).
    pub fn start_server(&self) -> io::Result<()> {
        let data = self.data_dir();
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            self.port,
            path_str(&self.dir)?
        );
        let log = self.dir.join("server.log");
        self.run_checked(
            "pg_ctl",
            &[
                "-D",
                path_str(&data)?,
                "-o",
                &opts,
                "-l",
                path_str(&log)?,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .map(drop)
    }

    /// Serves TLS with `cert_pem` (a chain, the server's first) and
    /// `key_pem`, restarting the server; plain connections stay allowed.
    pub fn enable_tls(&self, cert_pem: &str, key_pem: &str) -> io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let data = self.data_dir();
        for (name, pem) in [("server.crt", cert_pem), ("server.key", key_pem)] {
            let path = data.join(name);
            std::fs::write(&path, pem)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            if let Some(user) = &self.run_as {
                chown_to(&path, user)?;
            }
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))?
            .write_all(
                b"\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
            )?;
        self.restart_server()
    }

    /// Stops the server and removes the cluster's directory.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let data = self.data_dir();
        if let Some(data) = data.to_str() {
            let _ = self.run("pg_ctl", &["-D", data, "-m", "immediate", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Runs a server binary, as the `postgres` OS user when we are root.
    fn run(&self, program: &str, args: &[&str]) -> io::Result<Output> {
        let exe = self.bindir.join(program);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        cmd.args(args)
            .stdin(Stdio::null())
            .env("LC_ALL", "C")
            .current_dir(&self.dir)
            .output()
    }

    fn run_checked(&self, program: &str, args: &[&str]) -> io::Result<Output> {
        let out = self.run(program, args)?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(io::Error::other(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )))
        }
    }

    /// A detached process that, once this process is gone, stops the server
    /// (SIGQUIT to the postmaster: immediate shutdown) and removes the directory.
    fn spawn_watchdog(&self) -> io::Result<()> {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             if [ -f '{dir}/data/postmaster.pid' ]; then \
               kill -QUIT \"$(head -n 1 '{dir}/data/postmaster.pid')\" 2>/dev/null; sleep 1; \
             fi; rm -rf '{dir}'",
            pid = std::process::id(),
            dir = path_str(&self.dir)?,
        );
        Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(|_| ())
    }

    /// Runs an SQL script with `psql` as the superuser, stopping at the first error.
    pub fn psql_file(&self, database: &str, file: &Path) -> io::Result<()> {
        psql(&self.url("postgres", database), file)
    }

    /// Runs SQL with `psql` as the superuser.
    pub fn psql(&self, database: &str, sql: &str) -> io::Result<()> {
        psql_command(&self.url("postgres", database), sql)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs an SQL script file with `psql` against `url`, stopping at the first error.
pub fn psql(url: &str, file: &Path) -> io::Result<()> {
    let out = Command::new(psql_exe())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
        .arg(file)
        .stdin(Stdio::null())
        .output()?;
    check(out, "psql")
}

/// Runs SQL with `psql` against `url`.
pub fn psql_command(url: &str, sql: &str) -> io::Result<()> {
    let out = Command::new(psql_exe())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .stdin(Stdio::null())
        .output()?;
    check(out, "psql")
}

fn check(out: Output, what: &str) -> io::Result<()> {
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

fn psql_exe() -> PathBuf {
    find_bindir()
        .map(|b| b.join("psql"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("psql"))
}

fn find_bindir() -> Option<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").exists() && dir.join("pg_ctl").exists();
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_server(&dir) {
                // Follow symlinks so that sibling tools (psql) come from the same installation.
                let real = std::fs::canonicalize(dir.join("initdb"))
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf))
                    .unwrap_or(dir);
                return Some(real);
            }
        }
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_server(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            has_server(&bin).then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn chown_to(dir: &Path, user: &str) -> io::Result<()> {
    let id = |flag: &str| -> io::Result<u32> {
        let out = Command::new("id").args([flag, user]).output()?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| io::Error::other(format!("no OS user {user}")))
    };
    std::os::unix::fs::chown(dir, Some(id("-u")?), Some(id("-g")?))
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn path_str(p: &Path) -> io::Result<&str> {
    p.to_str()
        .ok_or_else(|| io::Error::other("temporary directory path is not UTF-8"))
}
