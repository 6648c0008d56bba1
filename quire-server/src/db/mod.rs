//! SQLite storage: opening the database, migrations, and the typed
//! queries each table needs.
//!
//! One connection behind a mutex serves the whole server. Every query
//! is short and uses a cached prepared statement, so holding a std
//! mutex for its duration costs less than handing work to a pool.
//! The database runs in WAL mode, so `quire ci list` and `quire ci show`
//! can read it from another process while the server writes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock, RwLock};
use std::time::Duration;

use rusqlite::Connection;

pub mod jobs;
pub mod runs;
pub mod secret_access;

/// Schema migrations, applied in order. `PRAGMA user_version` stores
/// how many have been applied; a migration is never edited once
/// released, only followed by a new one.
const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_initial.sql")];

/// A database failure, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("cannot create database {path}: {reason}")]
    Create { path: String, reason: String },
    #[error("database migration {version} failed: {source}")]
    Migrate {
        version: usize,
        source: rusqlite::Error,
    },
    #[error(
        "database {path} has schema version {found}, newer than this \
         quire knows ({known}); use a newer quire"
    )]
    TooNew {
        path: String,
        found: usize,
        known: usize,
    },
    #[error("database query failed: {0}")]
    Query(#[from] rusqlite::Error),
    #[error(transparent)]
    Transition(#[from] runs::TransitionError),
    #[error("run {0} not found")]
    RunNotFound(String),
}

/// The database connection, shared by the server's tasks.
pub struct Db {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// The writer of secret access rows, started on first use.
    accesses: OnceLock<secret_access::AccessWriter>,
    /// State and token hash of runs the API has looked up, so the
    /// secret endpoint does not query SQLite per request. Entries are
    /// filled and changed only while `conn` is locked, so they always
    /// match the table as this process wrote it.
    auth_cache: RwLock<HashMap<String, runs::RunAuth>>,
}

impl Db {
    /// Opens (creating if needed) the database at `path` and applies
    /// any pending migrations.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let mut conn = connect(path)?;
        migrate(&mut conn, path)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            accesses: OnceLock::new(),
            auth_cache: RwLock::default(),
        })
    }

    /// Locks the connection for one short query or transaction.
    pub fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable:
        // SQLite rolls back an unfinished transaction itself.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a cached `SELECT` and converts every row it returns with
    /// `from_row`, failing on the first row that does not convert.
    fn query_rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        from_row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Creates an empty database file with mode 0600 unless it exists.
/// SQLite treats an empty file as a new database, and it gives the
/// `-wal` and `-shm` files the database file's mode.
fn create_private_file(path: &Path) -> Result<(), DbError> {
    use std::os::unix::fs::OpenOptionsExt;
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match created {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(DbError::Create {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

/// Opens one connection with the settings every connection uses.
fn connect(path: &Path) -> Result<Connection, DbError> {
    let open_err = |source| DbError::Open {
        path: path.display().to_string(),
        source,
    };
    create_private_file(path)?;
    let conn = Connection::open(path).map_err(open_err)?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(open_err)?;
    conn.pragma_update(None, "journal_mode", "wal")
        .map_err(open_err)?;
    conn.pragma_update(None, "synchronous", "normal")
        .map_err(open_err)?;
    conn.pragma_update(None, "foreign_keys", "on")
        .map_err(open_err)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), DbError> {
    let applied: usize =
        conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if applied > MIGRATIONS.len() {
        return Err(DbError::TooNew {
            path: path.display().to_string(),
            found: applied,
            known: MIGRATIONS.len(),
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = index + 1;
        let fail = |source| DbError::Migrate { version, source };
        let tx = conn.transaction().map_err(fail)?;
        tx.execute_batch(sql).map_err(fail)?;
        tx.pragma_update(None, "user_version", version)
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}

/// Returns the current time as stored in the database.
pub fn now() -> String {
    quire_proto::time::format_rfc3339_nanos(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_applied_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quire.db");
        let db = Db::open(&path).unwrap();
        let version: usize = db
            .conn()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len());
        drop(db);
        // Reopening applies nothing and keeps the schema.
        let db = Db::open(&path).unwrap();
        let tables: i64 = db
            .conn()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' \
                 AND name IN ('runs', 'jobs', 'sh_commands', \
                 'secret_accesses')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 4);
    }

    #[test]
    fn wal_mode_enabled() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("quire.db")).unwrap();
        let mode: String = db
            .conn()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn newer_schema_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quire.db");
        drop(Db::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = Db::open(&path).err().unwrap().to_string();
        assert!(err.contains("schema version 99"), "{err}");
    }
}
