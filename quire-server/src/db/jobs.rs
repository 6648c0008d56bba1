//! The `jobs` and `sh_commands` tables, filled from a run's events.
//!
//! Rows are written with upserts keyed by (run, job) and (run, job, n),
//! so ingesting the same event file twice leaves the same rows.

use rusqlite::{Transaction, params};
use serde::Serialize;

use super::{Db, DbError};

/// One job of a run, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRow {
    pub name: String,
    /// `complete`, `failed` or `skipped`; `None` if it never finished.
    pub outcome: Option<String>,
    pub message: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

/// One command a job ran, as recorded. `cmd` was redacted by quire-ci.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShRow {
    pub job: String,
    pub n: u32,
    pub cmd: String,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub log_path: String,
}

/// Inserts or updates a job's start.
pub fn job_started(
    tx: &Transaction<'_>,
    run_id: &str,
    job: &str,
    at: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO jobs (run_id, name, started_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (run_id, name) DO UPDATE SET started_at = ?3",
    )?
    .execute(params![run_id, job, at])?;
    Ok(())
}

/// Inserts or updates a job's end.
pub fn job_finished(
    tx: &Transaction<'_>,
    run_id: &str,
    job: &str,
    outcome: &str,
    message: Option<&str>,
    at: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO jobs (run_id, name, outcome, message, finished_at) \
         VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (run_id, name) DO UPDATE SET outcome = ?3, \
         message = ?4, finished_at = ?5",
    )?
    .execute(params![run_id, job, outcome, message, at])?;
    Ok(())
}

/// Inserts or updates a command's start.
pub fn sh_started(
    tx: &Transaction<'_>,
    run_id: &str,
    job: &str,
    n: u32,
    cmd: &str,
    at: &str,
    log_path: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO sh_commands (run_id, job, n, cmd, started_at, log_path) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (run_id, job, n) DO UPDATE SET cmd = ?4, \
         started_at = ?5, log_path = ?6",
    )?
    .execute(params![run_id, job, n, cmd, at, log_path])?;
    Ok(())
}

/// Updates a command's end; a command whose start was never recorded
/// gets a row with an empty `cmd`.
#[allow(clippy::too_many_arguments)]
pub fn sh_finished(
    tx: &Transaction<'_>,
    run_id: &str,
    job: &str,
    n: u32,
    exit_code: Option<i32>,
    timed_out: bool,
    at: &str,
    log_path: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO sh_commands (run_id, job, n, cmd, exit_code, timed_out, \
         finished_at, log_path) VALUES (?1, ?2, ?3, '', ?4, ?5, ?6, ?7) \
         ON CONFLICT (run_id, job, n) DO UPDATE SET exit_code = ?4, \
         timed_out = ?5, finished_at = ?6",
    )?
    .execute(params![run_id, job, n, exit_code, timed_out, at, log_path])?;
    Ok(())
}

impl Db {
    /// Lists a run's jobs in the order they started.
    pub fn jobs(&self, run_id: &str) -> Result<Vec<JobRow>, DbError> {
        self.query_rows(
            "SELECT name, outcome, message, started_at, finished_at \
             FROM jobs WHERE run_id = ?1 \
             ORDER BY coalesce(started_at, finished_at), rowid",
            [run_id],
            |row| {
                Ok(JobRow {
                    name: row.get(0)?,
                    outcome: row.get(1)?,
                    message: row.get(2)?,
                    started_at: row.get(3)?,
                    finished_at: row.get(4)?,
                })
            },
        )
    }

    /// Lists a run's commands, by job and number.
    pub fn sh_commands(&self, run_id: &str) -> Result<Vec<ShRow>, DbError> {
        self.query_rows(
            "SELECT job, n, cmd, exit_code, timed_out, started_at, \
             finished_at, log_path FROM sh_commands WHERE run_id = ?1 \
             ORDER BY job, n",
            [run_id],
            |row| {
                Ok(ShRow {
                    job: row.get(0)?,
                    n: row.get(1)?,
                    cmd: row.get(2)?,
                    exit_code: row.get(3)?,
                    timed_out: row.get(4)?,
                    started_at: row.get(5)?,
                    finished_at: row.get(6)?,
                    log_path: row.get(7)?,
                })
            },
        )
    }
}
