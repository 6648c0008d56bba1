//! The `secret_accesses` table: every request for a secret, granted or
//! refused. It stores names and outcomes, never a value.

use rusqlite::params;
use serde::Serialize;

use super::{Db, DbError, now};

/// How a request for a secret ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessResult {
    /// The value was served over the API.
    Granted,
    /// The value was written into the run's bootstrap file.
    Bootstrap,
    /// Missing, wrong or dead token, or an unknown run.
    Unauthorized,
    /// The name breaks the secret name rule.
    InvalidName,
    /// The config declares no such name.
    UnknownSecret,
    /// The declared source could not be read.
    SourceError,
}

impl AccessResult {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessResult::Granted => "granted",
            AccessResult::Bootstrap => "bootstrap",
            AccessResult::Unauthorized => "unauthorized",
            AccessResult::InvalidName => "invalid_name",
            AccessResult::UnknownSecret => "unknown_secret",
            AccessResult::SourceError => "source_error",
        }
    }
}

/// One recorded request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessRow {
    pub run_id: String,
    pub job: Option<String>,
    pub name: String,
    pub at: String,
    pub result: String,
}

/// Names longer than this are cut before they are stored, so a client
/// cannot grow the table with huge refused names.
const MAX_STORED_NAME: usize = 200;

impl Db {
    /// Records one request for `name` by `run_id`.
    pub fn record_secret_access(
        &self,
        run_id: &str,
        job: Option<&str>,
        name: &str,
        result: AccessResult,
    ) -> Result<(), DbError> {
        let name = truncate(name, MAX_STORED_NAME);
        let run_id = truncate(run_id, MAX_STORED_NAME);
        self.conn()
            .prepare_cached(
                "INSERT INTO secret_accesses (run_id, job, name, at, result) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![run_id, job, name, now(), result.as_str()])?;
        Ok(())
    }

    /// Fills in the job of a run's granted API accesses of `name` that
    /// do not name one yet; quire-ci reports the job in its events.
    pub fn attribute_secret_access(
        &self,
        run_id: &str,
        name: &str,
        job: &str,
    ) -> Result<(), DbError> {
        self.conn()
            .prepare_cached(
                "UPDATE secret_accesses SET job = ?3 WHERE id = (\
                 SELECT id FROM secret_accesses WHERE run_id = ?1 \
                 AND name = ?2 AND job IS NULL AND result = 'granted' \
                 ORDER BY id LIMIT 1)",
            )?
            .execute(params![run_id, name, job])?;
        Ok(())
    }

    /// Lists a run's recorded requests, oldest first.
    pub fn secret_accesses(
        &self,
        run_id: &str,
    ) -> Result<Vec<AccessRow>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT run_id, job, name, at, result FROM secret_accesses \
             WHERE run_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([run_id], |row| {
            Ok(AccessRow {
                run_id: row.get(0)?,
                job: row.get(1)?,
                name: row.get(2)?,
                at: row.get(3)?,
                result: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_attributes() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("quire.db")).unwrap();
        db.record_secret_access("r1", None, "token", AccessResult::Granted)
            .unwrap();
        db.record_secret_access("r1", None, "x", AccessResult::UnknownSecret)
            .unwrap();
        db.record_secret_access("r2", None, "token", AccessResult::Granted)
            .unwrap();
        db.attribute_secret_access("r1", "token", "deploy").unwrap();
        let rows = db.secret_accesses("r1").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].job.as_deref(), Some("deploy"));
        assert_eq!(rows[0].result, "granted");
        assert_eq!(rows[1].job, None);
        assert_eq!(rows[1].result, "unknown_secret");
        assert_eq!(db.secret_accesses("r2").unwrap()[0].job, None);
    }

    #[test]
    fn long_names_cut() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("quire.db")).unwrap();
        let long = "é".repeat(300);
        db.record_secret_access("r", None, &long, AccessResult::InvalidName)
            .unwrap();
        let rows = db.secret_accesses("r").unwrap();
        assert!(rows[0].name.len() <= MAX_STORED_NAME);
    }
}
