//! The `secret_accesses` table: every request for a secret, granted or
//! refused. It stores names and outcomes, never a value.
//!
//! Rows are written by one thread with its own connection, in batches:
//! a request only queues its row, and the thread commits whatever has
//! queued up in one transaction. A commit per request would cap the
//! secret endpoint at the rate of WAL appends. Reads through [`Db`]
//! flush the queue first, so this process always reads its own rows.
//! Another process reads them after the writer's next commit, which
//! starts as soon as a row is queued.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::{Connection, params};
use serde::Serialize;

use super::{Db, DbError, now};

/// The outcome of a request for a secret.
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

/// Rows committed in one transaction at most.
const MAX_BATCH: usize = 4096;

struct PendingRow {
    run_id: String,
    job: Option<String>,
    name: String,
    at: String,
    result: AccessResult,
}

enum Message {
    Row(PendingRow),
    /// Acknowledged once every row queued before it is committed.
    Flush(mpsc::SyncSender<()>),
}

/// The queue and thread that write access rows.
pub(super) struct AccessWriter {
    sender: mpsc::Sender<Message>,
    // Kept so the thread is not detached; it ends when `sender` drops.
    _thread: JoinHandle<()>,
}

impl AccessWriter {
    fn start(conn: Connection) -> Self {
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("secret-access-writer".into())
            .spawn(move || write_loop(conn, receiver))
            .expect("spawning the access writer thread");
        Self {
            sender,
            _thread: thread,
        }
    }
}

fn write_loop(mut conn: Connection, receiver: mpsc::Receiver<Message>) {
    while let Ok(first) = receiver.recv() {
        let mut rows = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Row(row) => rows.push(row),
                Message::Flush(done) => flushes.push(done),
            }
            next = if rows.len() < MAX_BATCH {
                receiver.try_recv().ok()
            } else {
                None
            };
        }
        if !rows.is_empty()
            && let Err(error) = insert_rows(&mut conn, &rows)
        {
            tracing::error!(
                %error,
                rows = rows.len(),
                "cannot record secret accesses"
            );
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

fn insert_rows(
    conn: &mut Connection,
    rows: &[PendingRow],
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO secret_accesses (run_id, job, name, at, result) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for row in rows {
            insert.execute(params![
                row.run_id,
                row.job,
                row.name,
                row.at,
                row.result.as_str()
            ])?;
        }
    }
    tx.commit()
}

impl Db {
    fn access_writer(&self) -> Result<&AccessWriter, DbError> {
        if let Some(writer) = self.accesses.get() {
            return Ok(writer);
        }
        let conn = super::connect(&self.path)?;
        Ok(self.accesses.get_or_init(|| AccessWriter::start(conn)))
    }

    /// Queues a record of one request for `name` by `run_id`.
    pub fn record_secret_access(
        &self,
        run_id: &str,
        job: Option<&str>,
        name: &str,
        result: AccessResult,
    ) -> Result<(), DbError> {
        let row = PendingRow {
            run_id: truncate(run_id, MAX_STORED_NAME).to_string(),
            job: job.map(str::to_string),
            name: truncate(name, MAX_STORED_NAME).to_string(),
            at: now(),
            result,
        };
        self.access_writer()?
            .sender
            .send(Message::Row(row))
            .map_err(|_| writer_gone())
    }

    /// Waits until every queued access row is committed.
    pub fn flush_secret_accesses(&self) -> Result<(), DbError> {
        let Some(writer) = self.accesses.get() else {
            return Ok(());
        };
        let (done, wait) = mpsc::sync_channel(1);
        writer
            .sender
            .send(Message::Flush(done))
            .map_err(|_| writer_gone())?;
        wait.recv().map_err(|_| writer_gone())
    }

    /// Fills in the job of a run's granted API accesses of `name` that
    /// do not name one yet; quire-ci reports the job in its events.
    pub fn attribute_secret_access(
        &self,
        run_id: &str,
        name: &str,
        job: &str,
    ) -> Result<(), DbError> {
        self.flush_secret_accesses()?;
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
        self.flush_secret_accesses()?;
        self.query_rows(
            "SELECT run_id, job, name, at, result FROM secret_accesses \
             WHERE run_id = ?1 ORDER BY id",
            [run_id],
            |row| {
                Ok(AccessRow {
                    run_id: row.get(0)?,
                    job: row.get(1)?,
                    name: row.get(2)?,
                    at: row.get(3)?,
                    result: row.get(4)?,
                })
            },
        )
    }
}

fn writer_gone() -> DbError {
    DbError::Query(rusqlite::Error::InvalidParameterName(
        "the secret access writer thread has stopped".into(),
    ))
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
