//! The run lifecycle: create (with its token), supersede, queue,
//! dispatch, wait, ingest, and reconcile after a crash.
//!
//! [`Ci`] is the one owner of runs in the server. The database stores
//! each run's state, and this type keeps what only a live server has:
//! which runs have a quire-ci process, its process group, and the
//! tokens of runs that have not been handed out yet. One mutex guards
//! that table, and every supersede and every dispatch takes it, so a
//! run is never killed and started at the same moment.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use quire_proto::PushMeta;

use crate::config::ConfigHandle;
use crate::db::runs::{Run, RunState};
use crate::db::{Db, DbError};
use crate::paths::{DataDir, validate_repo_name};

pub mod dispatch;
pub mod ingest;
mod outcome;
pub mod reconcile;
pub mod token;
pub mod workspace;

pub use dispatch::RunnerSettings;
pub use outcome::REASON_UNFINISHED;
use outcome::{Ended, final_state};
use token::RunToken;

/// How often a running run's new events are recorded.
const EVENT_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// The failure reason of a run that was active when the server died.
pub const REASON_RESTARTED: &str = "server restarted";

/// A failure to create or change a run.
#[derive(Debug, thiserror::Error)]
pub enum CiError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Random(#[from] token::RandomError),
    #[error(
        "repository {0} does not exist; create it with `quire repo new {0}`"
    )]
    UnknownRepo(String),
    #[error(transparent)]
    Git(#[from] workspace::GitError),
    #[error("{0}")]
    InvalidRepo(String),
}

/// The run manager; cheap to clone.
#[derive(Clone)]
pub struct Ci {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<Db>,
    config: ConfigHandle,
    data: DataDir,
    runner: RunnerSettings,
    slots: Mutex<Slots>,
    /// Set by [`Ci::shutdown`]: no run starts or ends after it.
    stopping: AtomicBool,
}

#[derive(Default)]
struct Slots {
    /// Runs being dispatched or running, by id.
    active: HashMap<String, ActiveRun>,
    /// Tokens minted at creation, waiting for their run's dispatch.
    tokens: HashMap<String, RunToken>,
}

#[derive(Default)]
struct ActiveRun {
    /// quire-ci's process group, once it has started.
    pgid: Option<u32>,
}

/// One updated ref from a push: git's `old new ref` line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefUpdate {
    pub old: String,
    pub new: String,
    #[serde(rename = "ref")]
    pub ref_name: String,
}

const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

impl Ci {
    pub fn new(
        db: Arc<Db>,
        config: ConfigHandle,
        data: DataDir,
        runner: RunnerSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                config,
                data,
                runner,
                slots: Mutex::default(),
                stopping: AtomicBool::new(false),
            }),
        }
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.inner.db
    }

    pub fn config(&self) -> &ConfigHandle {
        &self.inner.config
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        self.inner.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates one run per updated ref of a push to `repo`; a deleted
    /// ref creates none. Returns the new runs.
    pub fn push(
        &self,
        repo: &str,
        updates: &[RefUpdate],
    ) -> Result<Vec<Run>, CiError> {
        validate_repo_name(repo).map_err(CiError::InvalidRepo)?;
        if !self.inner.data.repo(repo).is_dir() {
            return Err(CiError::UnknownRepo(repo.into()));
        }
        let pushed_at = crate::db::now();
        let mut runs = Vec::new();
        for update in updates {
            if update.new == ZERO_SHA {
                continue;
            }
            let previous = (update.old != ZERO_SHA).then(|| update.old.clone());
            let meta = PushMeta::new(
                update.new.clone(),
                update.ref_name.clone(),
                pushed_at.clone(),
                previous,
                repo.into(),
            );
            match meta {
                Ok(meta) => runs.push(self.create_run(meta)?),
                Err(error) => {
                    tracing::warn!(
                        repo,
                        %error,
                        "ignoring a malformed ref update",
                    );
                }
            }
        }
        Ok(runs)
    }

    /// Starts a run by hand for `reference` (HEAD's branch when `None`).
    pub fn run_ref(
        &self,
        repo: &str,
        reference: Option<&str>,
    ) -> Result<Run, CiError> {
        validate_repo_name(repo).map_err(CiError::InvalidRepo)?;
        let git_dir = self.inner.data.repo(repo);
        if !git_dir.is_dir() {
            return Err(CiError::UnknownRepo(repo.into()));
        }
        let (ref_name, sha) = workspace::resolve_ref(&git_dir, reference)?;
        let meta = PushMeta {
            sha,
            ref_name,
            pushed_at: crate::db::now(),
            previous_sha: None,
            repo: repo.into(),
        };
        self.create_run(meta)
    }

    /// Creates a pending run, superseding the live runs of the same
    /// repository and ref, and starts whatever the queue allows.
    pub fn create_run(&self, meta: PushMeta) -> Result<Run, CiError> {
        let token = RunToken::mint()?;
        let id = uuid::Uuid::now_v7().to_string();
        let transport = self.inner.config.get().transport;
        let run = {
            let mut slots = self.slots();
            self.supersede_locked(&mut slots, &meta.repo, &meta.ref_name, &id)?;
            let run = self.inner.db.insert_run(
                &id,
                &meta,
                transport,
                &token.hash(),
            )?;
            slots.tokens.insert(id.clone(), token);
            run
        };
        tracing::info!(
            run_id = %run.id,
            repo = %run.repo,
            git_ref = %run.ref_name,
            sha = %run.sha,
            "run created"
        );
        self.pump();
        Ok(run)
    }

    fn supersede_locked(
        &self,
        slots: &mut Slots,
        repo: &str,
        ref_name: &str,
        newer_id: &str,
    ) -> Result<(), CiError> {
        let db = &self.inner.db;
        let reason = format!("superseded by run {newer_id}");
        for old in db.live_runs_for_ref(repo, ref_name)? {
            match db.transition(&old.id, RunState::Superseded, Some(&reason)) {
                Ok(()) => {}
                // It ended while we looked; nothing to supersede.
                Err(DbError::Transition(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            slots.tokens.remove(&old.id);
            if let Some(pgid) = slots.active.get(&old.id).and_then(|a| a.pgid) {
                dispatch::kill_group(pgid);
            }
            tracing::info!(
                run_id = %old.id,
                newer_run_id = newer_id,
                "run superseded by a newer push",
            );
        }
        Ok(())
    }

    /// Starts pending runs, oldest first, while fewer than
    /// `max-concurrent-runs` are active.
    pub fn pump(&self) {
        if self.inner.stopping.load(Ordering::SeqCst) {
            return;
        }
        let max = self.inner.config.get().max_concurrent_runs;
        let mut slots = self.slots();
        if slots.active.len() >= max {
            return;
        }
        let pending = match self.inner.db.runs_in_state(RunState::Pending) {
            Ok(pending) => pending,
            Err(error) => {
                tracing::error!(%error, "cannot read the run queue");
                return;
            }
        };
        for run in pending {
            if slots.active.len() >= max {
                break;
            }
            if let Err(error) =
                self.inner.db.transition(&run.id, RunState::Active, None)
            {
                tracing::warn!(run_id = %run.id, %error, "cannot start run");
                continue;
            }
            let token = slots.tokens.remove(&run.id);
            slots.active.insert(run.id.clone(), ActiveRun::default());
            let ci = self.clone();
            tokio::spawn(async move { ci.execute(run, token).await });
        }
    }

    /// Carries one active run from dispatch to its final state.
    async fn execute(self, mut run: Run, token: Option<RunToken>) {
        run.state = RunState::Active;
        let run_id = run.id.clone();
        let outcome = self.dispatch_and_wait(&run, token).await;
        let finished =
            matches!(&outcome, Ok(ended) if ended.summary.outcome.is_some());
        if !finished && self.inner.stopping.load(Ordering::SeqCst) {
            // Killed by the shutdown, not finished: leave the run to
            // the next start's reconcile.
            self.slots().active.remove(&run_id);
            return;
        }
        let (state, reason) = match outcome {
            Ok(ended) => final_state(&ended),
            Err(reason) => (RunState::Failed, Some(reason)),
        };
        match self.inner.db.transition(&run_id, state, reason.as_deref()) {
            Ok(()) => tracing::info!(
                run_id = %run_id,
                state = %state,
                reason = reason.as_deref().unwrap_or(""),
                "run finished"
            ),
            // Superseded while it ran, so that state is kept.
            Err(DbError::Transition(_)) => {}
            Err(error) => {
                tracing::error!(
                    run_id = %run_id,
                    %error,
                    "cannot record the run's end",
                );
            }
        }
        self.slots().active.remove(&run_id);
        self.pump();
    }

    async fn dispatch_and_wait(
        &self,
        run: &Run,
        token: Option<RunToken>,
    ) -> Result<Ended, String> {
        let db = &self.inner.db;
        let token = match token {
            Some(token) => token,
            // The server restarted after the run was created: mint a
            // fresh token, since only the old one's hash survived.
            None => {
                let token = RunToken::mint().map_err(|e| e.to_string())?;
                db.set_token_hash(&run.id, &token.hash())
                    .map_err(|e| e.to_string())?;
                token
            }
        };
        let config = self.inner.config.get();
        let data = self.inner.data.clone();
        let prepared = {
            let run = run.clone();
            tokio::task::spawn_blocking(move || {
                dispatch::prepare(&data, &run, &config)
            })
            .await
            .map_err(|e| format!("dispatch task failed: {e}"))?
        };
        let dir = prepared.map_err(|e| e.to_string())?;

        let mut child = {
            let mut slots = self.slots();
            if self.is_terminal(&run.id) {
                drop(slots);
                remove_bootstrap(&dir);
                return Err("superseded before quire-ci started".into());
            }
            let child =
                match dispatch::spawn(run, &dir, &self.inner.runner, &token) {
                    Ok(child) => child,
                    Err(e) => {
                        drop(slots);
                        remove_bootstrap(&dir);
                        return Err(e.to_string());
                    }
                };
            drop(token);
            let pid = child.id();
            if let Some(active) = slots.active.get_mut(&run.id) {
                active.pgid = pid;
            }
            if let Err(error) = db.set_runner_pid(&run.id, pid) {
                tracing::warn!(
                    run_id = %run.id,
                    %error,
                    "cannot record quire-ci's pid",
                );
            }
            child
        };
        let pgid = child.id();
        tracing::info!(run_id = %run.id, pid = pgid, "quire-ci started");

        let mut ingester = ingest::Ingester::new(&run.id, dir.clone());
        let mut ticks = tokio::time::interval(EVENT_POLL);
        let status = loop {
            tokio::select! {
                status = child.wait() => break status,
                _ = ticks.tick() => {
                    if let Err(error) = ingester.poll(db) {
                        tracing::warn!(
                            run_id = %run.id,
                            %error,
                            "cannot record events yet",
                        );
                    }
                }
            }
        };
        // The job's commands share quire-ci's process group. Whatever
        // ended quire-ci (even SIGKILL), none of them may outlive it.
        if let Some(pgid) = pgid {
            dispatch::kill_group(pgid);
        }
        remove_bootstrap(&dir);
        match &status {
            Ok(status) => {
                tracing::debug!(run_id = %run.id, %status, "quire-ci exited")
            }
            Err(error) => {
                tracing::warn!(
                    run_id = %run.id,
                    %error,
                    "cannot wait for quire-ci",
                )
            }
        }
        let _ = db.set_runner_pid(&run.id, None);
        let summary = ingester
            .finish(db)
            .map_err(|e| format!("cannot record the run's events: {e}"))?;
        Ok(Ended {
            summary,
            status: status.ok(),
            dir,
        })
    }

    fn is_terminal(&self, run_id: &str) -> bool {
        match self.inner.db.run(run_id) {
            Ok(Some(run)) => run.state.is_terminal(),
            _ => false,
        }
    }

    /// Returns the ids of runs that have a slot now, for tests and shutdown.
    pub fn active_runs(&self) -> Vec<String> {
        self.slots().active.keys().cloned().collect()
    }

    /// Stops for a server shutdown: starts no more runs and kills every
    /// running quire-ci. Their runs stay `active`, so the next start
    /// reconciles them as it would after a crash ("server restarted").
    pub fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.kill_all();
    }

    /// Kills every running quire-ci; their runs end `failed`.
    pub fn kill_all(&self) {
        for active in self.slots().active.values() {
            if let Some(pgid) = active.pgid {
                dispatch::kill_group(pgid);
            }
        }
    }

    pub(crate) fn data(&self) -> &DataDir {
        &self.inner.data
    }
}

/// Removes a run's bootstrap file if quire-ci left it behind.
fn remove_bootstrap(dir: &crate::paths::RunDir) {
    match std::fs::remove_file(dir.bootstrap()) {
        Ok(()) => {
            tracing::debug!(
                path = %dir.bootstrap().display(),
                "removed a leftover bootstrap file",
            )
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => tracing::warn!(
            path = %dir.bootstrap().display(),
            %error,
            "cannot remove the bootstrap file"
        ),
    }
}
