//! The live config: one parsed [`Config`] shared by every task, and a
//! watcher thread that swaps in a new one when the file changes.
//!
//! The watcher polls the file's metadata (modification time, length
//! and inode) once per interval instead of using inotify, because one
//! `stat` a second costs nothing and works on every file system. A
//! broken edit keeps the last good config and logs the error. Deleting
//! the file returns to the defaults, as a missing file does at start.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{Config, ConfigError};

/// A cheap, cloneable reference to the current config.
#[derive(Clone)]
pub struct ConfigHandle {
    current: Arc<RwLock<Arc<Config>>>,
}

impl ConfigHandle {
    pub fn new(config: Config) -> Self {
        Self {
            current: Arc::new(RwLock::new(Arc::new(config))),
        }
    }

    /// Returns the current config. Callers keep the `Arc` for one
    /// request or one dispatch, so a swap never changes a config
    /// under them.
    pub fn get(&self) -> Arc<Config> {
        let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
        Arc::clone(&guard)
    }

    /// Replaces the current config.
    pub fn set(&self, config: Config) {
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        *guard = Arc::new(config);
    }
}

/// File metadata that changes when the file is edited or replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified_ns: i128,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified_ns: i128::from(meta.mtime()) * 1_000_000_000
            + i128::from(meta.mtime_nsec()),
        len: meta.len(),
        inode: meta.ino(),
    })
}

/// The thread that reloads the config; stopped when dropped.
pub struct ConfigWatcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ConfigWatcher {
    /// Loads `path` once and starts watching it. Fails when the file
    /// exists but is broken, so `quire serve` refuses to start on it.
    pub fn start(
        path: PathBuf,
        interval: Duration,
    ) -> Result<(ConfigHandle, ConfigWatcher), ConfigError> {
        let mut last = stamp(&path);
        let handle = ConfigHandle::new(Config::load(&path)?);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let handle = handle.clone();
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("config-watch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(interval);
                        let now = stamp(&path);
                        if now != last {
                            last = now;
                            reload(&path, &handle);
                        }
                    }
                })
                .expect("spawning the config watcher thread")
        };
        Ok((
            handle,
            ConfigWatcher {
                stop,
                thread: Some(thread),
            },
        ))
    }
}

fn reload(path: &Path, handle: &ConfigHandle) {
    match Config::load(path) {
        Ok(config) => {
            let old_port = handle.get().port;
            if config.port != old_port {
                tracing::warn!(
                    old_port,
                    new_port = config.port,
                    "the port changes at the next restart"
                );
            }
            handle.set(config);
            tracing::info!(file = %path.display(), "config reloaded");
        }
        Err(error) => {
            tracing::error!(
                %error,
                "config edit rejected; keeping the last good config"
            );
        }
    }
}

impl Drop for ConfigWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use quire_proto::TransportMode;

    use super::*;

    /// Waits up to 5 s for `check` to hold on the current config.
    fn eventually(handle: &ConfigHandle, check: impl Fn(&Config) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !check(&handle.get()) {
            assert!(Instant::now() < deadline, "config never changed");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn edits_reloaded_broken_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.fnl");
        std::fs::write(&path, "{:ci {:max-concurrent-runs 2}}").unwrap();
        let (handle, _watcher) =
            ConfigWatcher::start(path.clone(), Duration::from_millis(20))
                .unwrap();
        assert_eq!(handle.get().max_concurrent_runs, 2);

        std::fs::write(&path, "{:ci {:transport :api}}").unwrap();
        eventually(&handle, |c| c.transport == TransportMode::Api);
        assert_eq!(handle.get().max_concurrent_runs, 1);

        // A broken edit keeps the last good config.
        std::fs::write(&path, "{:ci {:transport :api}").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(handle.get().transport, TransportMode::Api);
        std::fs::write(&path, "{:ci {:transport :bogus}}").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(handle.get().transport, TransportMode::Api);

        // Fixing it takes effect; deleting it returns to the defaults.
        std::fs::write(&path, "{:ci {:max-concurrent-runs 5 :transport :api}}")
            .unwrap();
        eventually(&handle, |c| c.max_concurrent_runs == 5);
        std::fs::remove_file(&path).unwrap();
        eventually(&handle, |c| c.transport == TransportMode::Filesystem);
        assert_eq!(handle.get().max_concurrent_runs, 1);
    }

    #[test]
    fn broken_file_rejected_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.fnl");
        std::fs::write(&path, "{:colour :blue}").unwrap();
        let err = ConfigWatcher::start(path, Duration::from_millis(20))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(":colour: unknown key"), "{err}");
    }

    #[test]
    fn handle_shared_across_clones() {
        let handle = ConfigHandle::new(Config::default());
        let other = handle.clone();
        let held = handle.get();
        other.set(Config {
            port: 9,
            ..Config::default()
        });
        assert_eq!(handle.get().port, 9);
        // A config already taken is not changed under its holder.
        assert_eq!(held.port, super::super::DEFAULT_PORT);
    }
}
