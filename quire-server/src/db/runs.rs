//! The `runs` table: one row per run, and the checked state machine.
//!
//! ```text
//! pending ──▶ active ──▶ complete
//!    │           ├─────▶ failed
//!    ├──▶ failed └─────▶ superseded
//!    └──▶ superseded
//! ```
//!
//! `complete`, `failed` and `superseded` are terminal: nothing leaves
//! them. Every change is one `UPDATE ... WHERE state IN (...)`, so two
//! tasks racing to change one run cannot both win.

mod state;

use std::collections::HashMap;

use quire_proto::{PushMeta, TransportMode};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

pub use self::state::{RunState, TransitionError};

use super::{Db, DbError, now};

/// One row of `runs`, without the token hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    pub id: String,
    pub repo: String,
    #[serde(rename = "ref")]
    pub ref_name: String,
    pub sha: String,
    pub previous_sha: Option<String>,
    pub pushed_at: String,
    pub state: RunState,
    pub failure_reason: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub transport: TransportMode,
}

impl Run {
    /// Returns the push this run was created from.
    pub fn push_meta(&self) -> PushMeta {
        PushMeta {
            sha: self.sha.clone(),
            ref_name: self.ref_name.clone(),
            pushed_at: self.pushed_at.clone(),
            previous_sha: self.previous_sha.clone(),
            repo: self.repo.clone(),
        }
    }
}

const RUN_COLUMNS: &str = "id, repo, ref, sha, previous_sha, pushed_at, \
     state, failure_reason, created_at, started_at, finished_at, transport";

fn run_from_row(row: &Row<'_>) -> rusqlite::Result<Run> {
    let text_err = |index: usize, message: String| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            message.into(),
        )
    };
    let state: String = row.get(6)?;
    let transport: String = row.get(11)?;
    Ok(Run {
        id: row.get(0)?,
        repo: row.get(1)?,
        ref_name: row.get(2)?,
        sha: row.get(3)?,
        previous_sha: row.get(4)?,
        pushed_at: row.get(5)?,
        state: state.parse().map_err(|e| text_err(6, e))?,
        failure_reason: row.get(7)?,
        created_at: row.get(8)?,
        started_at: row.get(9)?,
        finished_at: row.get(10)?,
        transport: transport.parse().map_err(
            |e: quire_proto::UnknownTransport| text_err(11, e.to_string()),
        )?,
    })
}

/// The fields of a run that the token check reads.
#[derive(Debug, Clone)]
pub struct RunAuth {
    pub state: RunState,
    pub token_hash: Option<Vec<u8>>,
}

impl Db {
    /// Inserts a pending run for `push` and returns it.
    pub fn insert_run(
        &self,
        id: &str,
        push: &PushMeta,
        transport: TransportMode,
        token_hash: &[u8],
    ) -> Result<Run, DbError> {
        let conn = self.conn();
        conn.prepare_cached(
            "INSERT INTO runs (id, repo, ref, sha, previous_sha, pushed_at, \
             state, created_at, token_hash, transport) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8, ?9)",
        )?
        .execute(params![
            id,
            push.repo,
            push.ref_name,
            push.sha,
            push.previous_sha,
            push.pushed_at,
            now(),
            token_hash,
            transport.as_str(),
        ])?;
        drop(conn);
        self.run(id)?.ok_or_else(|| DbError::RunNotFound(id.into()))
    }

    /// Looks a run up by its full id.
    pub fn run(&self, id: &str) -> Result<Option<Run>, DbError> {
        let conn = self.conn();
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1");
        Ok(conn
            .prepare_cached(&sql)?
            .query_row([id], run_from_row)
            .optional()?)
    }

    /// Finds the runs whose id starts with `prefix`.
    pub fn runs_with_prefix(&self, prefix: &str) -> Result<Vec<Run>, DbError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs \
             WHERE substr(id, 1, length(?1)) = ?1 ORDER BY seq LIMIT 10"
        );
        self.query_rows(&sql, [prefix], run_from_row)
    }

    /// Lists runs, newest first, optionally of one repository.
    pub fn list_runs(
        &self,
        repo: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Run>, DbError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs \
             WHERE ?1 IS NULL OR repo = ?1 ORDER BY seq DESC LIMIT ?2"
        );
        self.query_rows(&sql, params![repo, limit as i64], run_from_row)
    }

    /// Lists runs in `state`, oldest push first.
    pub fn runs_in_state(&self, state: RunState) -> Result<Vec<Run>, DbError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE state = ?1 ORDER BY seq"
        );
        self.query_rows(&sql, [state.as_str()], run_from_row)
    }

    /// Lists the non-terminal runs of one repository and ref.
    pub fn live_runs_for_ref(
        &self,
        repo: &str,
        ref_name: &str,
    ) -> Result<Vec<Run>, DbError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE repo = ?1 AND ref = ?2 \
             AND state IN ('pending', 'active') ORDER BY seq"
        );
        self.query_rows(&sql, [repo, ref_name], run_from_row)
    }

    /// Returns the state and token hash of a run, for the API.
    ///
    /// Reads the cache first. Only the server process changes a run's
    /// state or token, so the cache cannot go stale.
    pub fn run_auth(&self, id: &str) -> Result<Option<RunAuth>, DbError> {
        if let Some(auth) = self.cached_auth().get(id) {
            return Ok(Some(auth.clone()));
        }
        let conn = self.conn();
        let row = conn
            .prepare_cached("SELECT state, token_hash FROM runs WHERE id = ?1")?
            .query_row([id], |row| Ok((row.get::<_, String>(0)?, row.get(1)?)))
            .optional()?;
        let auth = row.and_then(|(state, token_hash)| {
            Some(RunAuth {
                state: state.parse().ok()?,
                token_hash,
            })
        });
        // Still under the connection lock, so no change slips between
        // the query and the cache.
        if let Some(auth) = &auth {
            self.cached_auth_mut().insert(id.to_string(), auth.clone());
        }
        drop(conn);
        Ok(auth)
    }

    fn cached_auth(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, HashMap<String, RunAuth>> {
        self.auth_cache.read().unwrap_or_else(|e| e.into_inner())
    }

    fn cached_auth_mut(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<String, RunAuth>> {
        self.auth_cache.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves a run to `to`, refusing any change the state machine does
    /// not allow. Entering `active` sets `started_at`; entering a
    /// terminal state sets `finished_at` and, for `failed`, `reason`.
    pub fn transition(
        &self,
        id: &str,
        to: RunState,
        reason: Option<&str>,
    ) -> Result<(), DbError> {
        let from = RunState::predecessors(to);
        let placeholders = vec!["?"; from.len()].join(", ");
        let stamp = if to == RunState::Active {
            "started_at"
        } else {
            "finished_at"
        };
        let sql = format!(
            "UPDATE runs SET state = ?, {stamp} = ?, \
             failure_reason = coalesce(?, failure_reason) \
             WHERE id = ? AND state IN ({placeholders})"
        );
        let conn = self.conn();
        let mut values: Vec<&dyn rusqlite::ToSql> = Vec::new();
        let now = now();
        let to_str = to.as_str();
        values.push(&to_str);
        values.push(&now);
        values.push(&reason);
        values.push(&id);
        for state in &from {
            values.push(state);
        }
        let changed = conn.prepare_cached(&sql)?.execute(&values[..])?;
        if changed == 1 {
            if let Some(auth) = self.cached_auth_mut().get_mut(id) {
                auth.state = to;
            }
            return Ok(());
        }
        let current: Option<String> = conn
            .prepare_cached("SELECT state FROM runs WHERE id = ?1")?
            .query_row([id], |row| row.get(0))
            .optional()?;
        match current.and_then(|s| s.parse().ok()) {
            Some(current) => Err(TransitionError {
                run_id: id.into(),
                from: current,
                to,
            }
            .into()),
            None => Err(DbError::RunNotFound(id.into())),
        }
    }

    /// Replaces a run's token hash, for a run whose token was lost in
    /// a restart before it was handed out.
    pub fn set_token_hash(&self, id: &str, hash: &[u8]) -> Result<(), DbError> {
        let conn = self.conn();
        conn.prepare_cached("UPDATE runs SET token_hash = ?1 WHERE id = ?2")?
            .execute(params![hash, id])?;
        self.cached_auth_mut().remove(id);
        Ok(())
    }

    /// Records the process id of a run's quire-ci, which is also its
    /// process group id.
    pub fn set_runner_pid(
        &self,
        id: &str,
        pid: Option<u32>,
    ) -> Result<(), DbError> {
        self.conn()
            .prepare_cached("UPDATE runs SET runner_pid = ?1 WHERE id = ?2")?
            .execute(params![pid, id])?;
        Ok(())
    }

    /// Returns the recorded quire-ci process id of a run.
    pub fn runner_pid(&self, id: &str) -> Result<Option<u32>, DbError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT runner_pid FROM runs WHERE id = ?1")?
            .query_row([id], |row| row.get(0))
            .optional()?
            .flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("quire.db")).unwrap();
        (dir, db)
    }

    fn push() -> PushMeta {
        PushMeta::new(
            SHA.into(),
            "refs/heads/main".into(),
            "2026-12-04T15:07:58Z".into(),
            None,
            "widgets".into(),
        )
        .unwrap()
    }

    fn run_in(db: &Db, id: &str, state: RunState) {
        db.insert_run(id, &push(), TransportMode::Api, &[1; 32])
            .unwrap();
        let path: &[RunState] = match state {
            RunState::Pending => &[],
            RunState::Active => &[RunState::Active],
            RunState::Complete => &[RunState::Active, RunState::Complete],
            RunState::Failed => &[RunState::Failed],
            RunState::Superseded => &[RunState::Superseded],
        };
        for step in path {
            db.transition(id, *step, None).unwrap();
        }
        assert_eq!(db.run(id).unwrap().unwrap().state, state);
    }

    #[test]
    fn insert_and_read_back() {
        let (_dir, db) = db();
        let run = db
            .insert_run("r1", &push(), TransportMode::Filesystem, &[7; 32])
            .unwrap();
        assert_eq!(run.state, RunState::Pending);
        assert_eq!(run.repo, "widgets");
        assert_eq!(run.ref_name, "refs/heads/main");
        assert_eq!(run.sha, SHA);
        assert_eq!(run.transport, TransportMode::Filesystem);
        assert_eq!(run.push_meta(), push());
        let auth = db.run_auth("r1").unwrap().unwrap();
        assert_eq!(auth.token_hash.as_deref(), Some(&[7u8; 32][..]));
        assert!(db.run_auth("nope").unwrap().is_none());
    }

    #[test]
    fn every_transition_checked() {
        let (_dir, db) = db();
        let mut n = 0;
        for from in RunState::ALL {
            for to in RunState::ALL {
                n += 1;
                let id = format!("r{n}");
                run_in(&db, &id, from);
                let result = db.transition(&id, to, Some("why"));
                let after = db.run(&id).unwrap().unwrap();
                if from.can_become(to) {
                    assert!(result.is_ok(), "{from} -> {to}: {result:?}");
                    assert_eq!(after.state, to);
                } else {
                    let err = result.unwrap_err().to_string();
                    assert_eq!(
                        err,
                        format!("run {id} cannot change from {from} to {to}")
                    );
                    assert_eq!(after.state, from, "{from} -> {to} changed");
                }
            }
        }
    }

    #[test]
    fn allowed_transitions_exactly() {
        use RunState::*;
        let allowed: Vec<(RunState, RunState)> = RunState::ALL
            .into_iter()
            .flat_map(|a| RunState::ALL.into_iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.can_become(*b))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Pending, Active),
                (Pending, Failed),
                (Pending, Superseded),
                (Active, Complete),
                (Active, Failed),
                (Active, Superseded),
            ]
        );
        for state in [Complete, Failed, Superseded] {
            assert!(state.is_terminal());
            assert!(state.successors().is_empty());
        }
    }

    #[test]
    fn cached_auth_follows_changes() {
        let (_dir, db) = db();
        run_in(&db, "r1", RunState::Active);
        assert_eq!(db.run_auth("r1").unwrap().unwrap().state, RunState::Active);
        db.transition("r1", RunState::Complete, None).unwrap();
        let auth = db.run_auth("r1").unwrap().unwrap();
        assert_eq!(auth.state, RunState::Complete);
        db.set_token_hash("r1", &[9; 32]).unwrap();
        let auth = db.run_auth("r1").unwrap().unwrap();
        assert_eq!(auth.token_hash.as_deref(), Some(&[9u8; 32][..]));
    }

    #[test]
    fn timestamps_and_reason_set() {
        let (_dir, db) = db();
        run_in(&db, "r1", RunState::Active);
        let run = db.run("r1").unwrap().unwrap();
        assert!(run.started_at.is_some());
        assert!(run.finished_at.is_none());
        db.transition("r1", RunState::Failed, Some("server restarted"))
            .unwrap();
        let run = db.run("r1").unwrap().unwrap();
        assert!(run.finished_at.is_some());
        assert_eq!(run.failure_reason.as_deref(), Some("server restarted"));
    }

    #[test]
    fn unknown_run_transition() {
        let (_dir, db) = db();
        let err = db.transition("ghost", RunState::Active, None).unwrap_err();
        assert_eq!(err.to_string(), "run ghost not found");
    }

    #[test]
    fn queries_by_state_ref_and_prefix() {
        let (_dir, db) = db();
        run_in(&db, "aa1", RunState::Pending);
        run_in(&db, "aa2", RunState::Active);
        run_in(&db, "bb3", RunState::Complete);
        let pending = db.runs_in_state(RunState::Pending).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].id, "aa1");
        let live = db.live_runs_for_ref("widgets", "refs/heads/main").unwrap();
        let ids: Vec<_> = live.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["aa1", "aa2"]);
        assert_eq!(db.runs_with_prefix("aa").unwrap().len(), 2);
        let listed = db.list_runs(Some("widgets"), 10).unwrap();
        assert_eq!(listed[0].id, "bb3", "newest first");
        assert!(db.list_runs(Some("other"), 10).unwrap().is_empty());
    }
}
