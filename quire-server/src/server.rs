//! Assembling a running server: config watcher, database, reconcile,
//! the hook socket, the run queue and the HTTP API.
//!
//! Tests and benchmarks start the same [`Server`] in-process that
//! `quire serve` starts, on a port the OS picks.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::{self, ApiState};
use crate::ci::{Ci, RunnerSettings};
use crate::config::{ConfigError, ConfigWatcher};
use crate::db::{Db, DbError};
use crate::hook;
use crate::lock::{DataDirLock, LockError};
use crate::paths::{DataDir, create_private_dir};

/// How to start a server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub data: DataDir,
    /// `ADDR:PORT`, or an address alone to use the config's port.
    /// `None` means 127.0.0.1 and the config's port.
    pub bind: Option<String>,
    /// The quire-ci program to start for each run.
    pub quire_ci: PathBuf,
    /// How often the config file is checked for edits.
    pub config_poll: Duration,
}

/// A failure to start the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot create the data directory {path}: {reason}")]
    DataDir { path: String, reason: String },
    #[error("refusing to start: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(
        "invalid --bind {0:?}: expected ADDR or ADDR:PORT, as in 127.0.0.1:3000"
    )]
    Bind(String),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("cannot open the hook socket {path}: {reason}")]
    Socket { path: String, reason: String },
    #[error("reconciling runs failed: {0}")]
    Reconcile(String),
    #[error("refusing to start: {0}")]
    Lock(#[from] LockError),
}

/// A running server; [`Server::stop`] shuts it down.
pub struct Server {
    addr: SocketAddr,
    ci: Ci,
    data: DataDir,
    shutdown: Option<oneshot::Sender<()>>,
    http: Option<JoinHandle<()>>,
    socket: JoinHandle<()>,
    queue: JoinHandle<()>,
    _watcher: ConfigWatcher,
    /// Held until the server is dropped, after [`Server::stop`].
    _lock: DataDirLock,
}

impl Server {
    /// Starts a server inside the current tokio runtime.
    pub async fn start(options: ServeOptions) -> Result<Server, ServeError> {
        let data = options.data;
        let mkdir = |dir: PathBuf| {
            // Owner-only, because the directory contains the database,
            // bootstrap files and run logs. Existing directories keep
            // their mode.
            create_private_dir(&dir).map_err(|e| ServeError::DataDir {
                path: dir.display().to_string(),
                reason: e.to_string(),
            })
        };
        mkdir(data.root().to_path_buf())?;
        // Before any state changes: a second server must not reconcile
        // (and so kill) the runs of the server that holds the lock.
        let lock = DataDirLock::acquire(&data.lock_file())?;
        mkdir(data.repos())?;
        mkdir(data.root().join("runs"))?;
        let (config, watcher) =
            ConfigWatcher::start(data.config_file(), options.config_poll)?;
        let db = Arc::new(Db::open(&data.database())?);

        let addr = bind_addr(options.bind.as_deref(), config.get().port)?;
        let listener =
            TcpListener::bind(addr)
                .await
                .map_err(|e| ServeError::Listen {
                    addr: addr.to_string(),
                    reason: e.to_string(),
                })?;
        let addr = listener.local_addr().map_err(|e| ServeError::Listen {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
        let runner = RunnerSettings {
            program: options.quire_ci,
            server_url: format!("http://{}", reachable(addr)),
        };

        let ci = Ci::new(Arc::clone(&db), config.clone(), data.clone(), runner);
        ci.reconcile()
            .map_err(|e| ServeError::Reconcile(e.to_string()))?;
        let socket_path = data.socket();
        let unix = hook::server::bind(&socket_path).map_err(|e| {
            ServeError::Socket {
                path: socket_path.display().to_string(),
                reason: e.to_string(),
            }
        })?;
        let socket = tokio::spawn(hook::server::serve(unix, ci.clone()));

        let router = api::router(Arc::new(ApiState { db, config }));
        let (shutdown, stopped) = oneshot::channel::<()>();
        let http = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the HTTP server failed");
            }
        });
        ci.pump();
        let queue = tokio::spawn(pump_every_second(ci.clone()));
        tracing::info!(
            %addr,
            data_dir = %data.root().display(),
            "quire started",
        );
        Ok(Server {
            addr,
            ci,
            data,
            shutdown: Some(shutdown),
            http: Some(http),
            socket,
            queue,
            _watcher: watcher,
            _lock: lock,
        })
    }

    /// Returns the address the API listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Returns the API's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", reachable(self.addr))
    }

    pub fn ci(&self) -> &Ci {
        &self.ci
    }

    /// Stops accepting pushes and requests and kills running quire-ci
    /// processes. Their runs stay `active` until the next start
    /// reconciles them.
    pub async fn stop(mut self) {
        self.socket.abort();
        self.queue.abort();
        let _ = std::fs::remove_file(self.data.socket());
        self.ci.shutdown();
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(http) = self.http.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), http).await;
        }
        if let Err(error) = self.ci.db().flush_secret_accesses() {
            tracing::warn!(%error, "cannot record the last secret accesses");
        }
        tracing::info!("quire stopped");
    }
}

/// Starts waiting runs now and then, so that raising
/// `max-concurrent-runs` in the config takes effect without a push.
async fn pump_every_second(ci: Ci) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticks.tick().await;
        ci.pump();
    }
}

/// Reads `--bind`: `ADDR:PORT`, or `ADDR` with the config's port.
fn bind_addr(bind: Option<&str>, port: u16) -> Result<SocketAddr, ServeError> {
    match bind {
        None => Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)),
        Some(text) => text
            .parse::<SocketAddr>()
            .or_else(|_| {
                text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, port))
            })
            .map_err(|_| ServeError::Bind(text.into())),
    }
}

/// Returns the address a local quire-ci uses to reach a listener on `addr`.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(
            "::1".parse().expect("a literal address"),
            addr.port(),
        ),
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_forms() {
        assert_eq!(
            bind_addr(None, 3000).unwrap().to_string(),
            "127.0.0.1:3000"
        );
        assert_eq!(
            bind_addr(Some("127.0.0.1:0"), 3000).unwrap().to_string(),
            "127.0.0.1:0"
        );
        assert_eq!(
            bind_addr(Some("::1"), 8080).unwrap().to_string(),
            "[::1]:8080"
        );
        let err = bind_addr(Some("localhost:x"), 1).unwrap_err().to_string();
        assert!(err.contains("invalid --bind \"localhost:x\""), "{err}");
    }

    #[test]
    fn unspecified_reached_on_loopback() {
        let any: SocketAddr = "0.0.0.0:4000".parse().unwrap();
        assert_eq!(reachable(any).to_string(), "127.0.0.1:4000");
    }
}
