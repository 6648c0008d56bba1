//! The data directory's exclusive lock, `<data-dir>/server.lock`.
//!
//! One server owns a data directory at a time. `quire serve` takes an
//! exclusive `flock(2)` on this file before it touches anything else
//! (the database, the reconcile, the socket), so a second server on
//! the same directory is rejected without changing any state. The
//! kernel releases the lock when the process exits, even on a crash,
//! so a stale lock file never blocks a restart.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A failure to take the data directory's lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another quire server is running on this data directory (it \
         holds the lock {path}); stop it first, or use another --data-dir"
    )]
    Held { path: String },
    #[error("cannot lock {path}: {reason}")]
    Io { path: String, reason: String },
}

/// The held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the exclusive lock on `path` without waiting, creating the
    /// file (mode 0600) when it does not exist.
    pub fn acquire(path: &Path) -> Result<DataDirLock, LockError> {
        let io_err = |e: std::io::Error| LockError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        // std opens with O_CLOEXEC, so quire-ci processes never inherit
        // the lock and cannot keep it after the server exits.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(io_err)?;
        // SAFETY: flock(2) on a descriptor this function owns; it
        // touches no memory of this process.
        let rc = unsafe {
            libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB)
        };
        if rc != 0 {
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Err(LockError::Held {
                    path: path.display().to_string(),
                });
            }
            return Err(io_err(error));
        }
        Ok(DataDirLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_rejected_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.lock");
        let first = DataDirLock::acquire(&path).unwrap();
        let err = DataDirLock::acquire(&path).unwrap_err();
        assert!(matches!(err, LockError::Held { .. }), "{err:?}");
        drop(first);
        assert!(DataDirLock::acquire(&path).is_ok());
    }
}
