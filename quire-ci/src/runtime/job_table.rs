//! The runtime table a job's function receives: `sh`, `jobs`, `secret`
//! and `log`.
//!
//! Each job gets a fresh table whose functions share that job's
//! [`JobScope`]. Once the function returns, the scope is closed and
//! every later call raises, because a closure kept past its job would
//! otherwise record into a job that has ended. Errors raised here start
//! with the `file:line` of the call in the pipeline.

mod sh_request;

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use mlua::{FromLuaMulti, IntoLuaMulti, Lua, Table, Value, Variadic};
use quire_proto::{EventKind, LogStream};

use self::sh_request::parse_request;
use super::location::{call_site, type_name};
use crate::events::EventSink;
use crate::pipeline::{PUSH_SOURCE, suggest};
use crate::run::push::{PushInfo, PushSource};
use crate::run::terminal::Terminal;
use crate::secret::SecretRegistry;
use crate::sh::{self, ShError};

/// The state every job of a run shares.
pub struct RunShared {
    /// The workspace, with links resolved; commands run here.
    pub workspace: PathBuf,
    /// The directory of the `jobs/<job>/...` logs.
    pub out_dir: PathBuf,
    pub events: RefCell<EventSink>,
    pub registry: SecretRegistry,
    pub terminal: RefCell<Terminal>,
    /// Outputs of completed jobs, unredacted, for their dependents.
    pub outputs: RefCell<HashMap<String, serde_json::Value>>,
    pub push_source: PushSource,
    push: OnceCell<PushInfo>,
    /// The id of every job in the pipeline, to tell a misspelt id from
    /// a job that is not an input.
    pub job_ids: Vec<String>,
    /// The Lua state's memory limit in MiB, which also bounds the
    /// output a `sh` result may keep.
    pub memory_limit_mib: usize,
}

impl RunShared {
    // Each argument is a separate part of the run that the caller owns.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        workspace: PathBuf,
        out_dir: PathBuf,
        events: EventSink,
        registry: SecretRegistry,
        terminal: Terminal,
        push_source: PushSource,
        job_ids: Vec<String>,
        memory_limit_mib: usize,
    ) -> Self {
        Self {
            workspace,
            out_dir,
            events: RefCell::new(events),
            registry,
            terminal: RefCell::new(terminal),
            outputs: RefCell::default(),
            push_source,
            push: OnceCell::new(),
            job_ids,
            memory_limit_mib,
        }
    }

    /// Emits an event.
    pub fn emit(&self, kind: EventKind) {
        self.events.borrow_mut().emit(kind);
    }

    /// Redacts recorded text.
    pub fn redact(&self, text: &str) -> String {
        self.registry.redactor().redact_str(text)
    }

    /// Returns the directory of one job's logs.
    pub fn job_dir(&self, job: &str) -> PathBuf {
        self.out_dir.join("jobs").join(job)
    }

    fn push(&self) -> &PushInfo {
        self.push.get_or_init(|| match &self.push_source {
            PushSource::Known(info) => info.clone(),
            PushSource::Checkout(dir) => PushInfo::from_checkout(dir),
        })
    }
}

/// One job's view of the run while its function runs.
pub struct JobScope {
    pub job: String,
    /// Every job this one depends on, directly or not.
    pub upstream: BTreeSet<String>,
    /// When the job's time runs out, if it has a timeout.
    pub deadline: Option<Instant>,
    pub timeout: Option<Duration>,
    finished: Cell<bool>,
    sh_count: Cell<u32>,
    /// Secret names this job has resolved, for one event per name.
    resolved: RefCell<HashSet<String>>,
    log_file: RefCell<Option<File>>,
    run: Rc<RunShared>,
}

impl JobScope {
    pub fn new(
        job: String,
        upstream: BTreeSet<String>,
        timeout: Option<Duration>,
        run: Rc<RunShared>,
    ) -> Self {
        Self {
            job,
            upstream,
            deadline: timeout.map(|t| Instant::now() + t),
            timeout,
            finished: Cell::new(false),
            sh_count: Cell::new(0),
            resolved: RefCell::default(),
            log_file: RefCell::new(None),
            run,
        }
    }

    /// Ends the scope: later calls through its table raise.
    pub fn finish(&self) {
        self.finished.set(true);
        if let Some(file) = self.log_file.borrow_mut().as_mut() {
            let _ = file.flush();
        }
    }

    /// Formats the message of the job timeout error.
    pub fn timeout_message(&self) -> String {
        let secs = self.timeout.map(|t| t.as_secs_f64()).unwrap_or(0.0);
        format!(
            "job {:?} timed out after {secs} s; make it faster or raise \
             --job-timeout",
            self.job
        )
    }

    fn check_open(&self, lua: &Lua, function: &str) -> mlua::Result<()> {
        if self.finished.get() {
            return Err(raise(
                lua,
                format!(
                    "{function} was called after job {:?} finished; call it \
                     while the job's function runs",
                    self.job
                ),
            ));
        }
        Ok(())
    }
}

fn raise(lua: &Lua, message: String) -> mlua::Error {
    let at = call_site(lua);
    mlua::Error::RuntimeError(format!("{at}: {message}"))
}

/// Builds the table passed to a job's function.
pub fn runtime_table(lua: &Lua, scope: &Rc<JobScope>) -> mlua::Result<Table> {
    let table = lua.create_table()?;

    set_scoped(lua, &table, scope, "sh", |lua, s, (cmd, opts)| {
        run_sh(lua, s, cmd, opts)
    })?;
    set_scoped(lua, &table, scope, "jobs", read_job)?;
    set_scoped(lua, &table, scope, "secret", read_secret)?;
    set_scoped(lua, &table, scope, "log", write_log)?;
    Ok(table)
}

/// Adds the function `name` to a job's runtime table. Every call first
/// checks that the job's scope is still open, then runs `body`.
fn set_scoped<A, R>(
    lua: &Lua,
    table: &Table,
    scope: &Rc<JobScope>,
    name: &'static str,
    body: fn(&Lua, &JobScope, A) -> mlua::Result<R>,
) -> mlua::Result<()>
where
    A: FromLuaMulti + 'static,
    R: IntoLuaMulti + 'static,
{
    let s = Rc::clone(scope);
    table.set(
        name,
        lua.create_function(move |lua, args: A| {
            s.check_open(lua, name)?;
            body(lua, &s, args)
        })?,
    )
}

fn run_sh(
    lua: &Lua,
    scope: &JobScope,
    cmd: Value,
    opts: Value,
) -> mlua::Result<Table> {
    let run = &scope.run;
    let request = parse_request(scope, cmd, opts).map_err(|m| raise(lua, m))?;
    if scope.deadline.is_some_and(|at| Instant::now() >= at) {
        return Err(super::timeout_error(lua, scope.timeout_message()));
    }
    let n = scope.sh_count.get() + 1;
    scope.sh_count.set(n);
    let display = request.program.display();
    run.emit(EventKind::ShStarted {
        job: scope.job.clone(),
        n,
        cmd: run.redact(&display),
    });

    let dir = run.job_dir(&scope.job);
    let log_path = dir.join(format!("sh-{n}.log"));
    let mut terminal = run.terminal.borrow_mut();
    let echoes = terminal.echoes();
    let job = scope.job.as_str();
    let mut print = |stream: LogStream, partial: bool, line: &[u8]| {
        terminal.output_piece(job, stream, partial, line);
    };
    let echo: Option<sh::Echo<'_>> =
        if echoes { Some(&mut print) } else { None };
    let result = sh::run(&request, &log_path, run.registry.redactor(), echo);
    terminal.end_output(job);
    drop(terminal);

    let outcome = match result {
        Ok(outcome) => outcome,
        Err(error) => {
            run.emit(EventKind::ShFinished {
                job: scope.job.clone(),
                n,
                exit: None,
                timed_out: false,
            });
            let hint = match error {
                ShError::Spawn { .. } => {
                    "; check the program's name and that it is on PATH"
                }
                _ => "",
            };
            return Err(raise(lua, format!("sh: {error}{hint}")));
        }
    };
    run.emit(EventKind::ShFinished {
        job: scope.job.clone(),
        n,
        exit: outcome.exit,
        timed_out: outcome.timed_out || outcome.job_timed_out,
    });
    if outcome.job_timed_out {
        return Err(super::timeout_error(lua, scope.timeout_message()));
    }

    let result = lua.create_table()?;
    result.set("exit", outcome.exit)?;
    result.set("signal", outcome.signal)?;
    result.set("cmd", display)?;
    result.set("stdout", lua.create_string(&outcome.output.stdout)?)?;
    result.set("stderr", lua.create_string(&outcome.output.stderr)?)?;
    result.set("stdout-truncated", outcome.output.stdout_truncated)?;
    result.set("stderr-truncated", outcome.output.stderr_truncated)?;
    result.set("timed-out", outcome.timed_out)?;
    Ok(result)
}

/// Returns a string argument as text, or raises `expected` followed by
/// the type of what was passed instead.
fn string_argument(
    lua: &Lua,
    value: Value,
    expected: &str,
) -> mlua::Result<String> {
    let Value::String(text) = value else {
        return Err(raise(
            lua,
            format!("{expected}, got {}", type_name(&value)),
        ));
    };
    Ok(text.to_string_lossy())
}

fn read_job(lua: &Lua, scope: &JobScope, name: Value) -> mlua::Result<Value> {
    let name =
        string_argument(lua, name, "jobs expects a job id or :quire/push")?;
    if name == PUSH_SOURCE {
        return push_table(lua, scope.run.push()).map(Value::Table);
    }
    if !scope.run.job_ids.contains(&name) {
        let known = scope
            .run
            .job_ids
            .iter()
            .map(String::as_str)
            .chain([PUSH_SOURCE]);
        let suggestion = suggest::closest(&name, known).map(str::to_string);
        return Err(raise(
            lua,
            format!(
                "job {:?} reads the outputs of {name:?}, but no job has that \
                 id{}",
                scope.job,
                suggest::did_you_mean(&suggestion)
            ),
        ));
    }
    if !scope.upstream.contains(&name) {
        return Err(raise(
            lua,
            format!(
                "job {:?} cannot read the outputs of {name:?}: it is not an \
                 input of {:?}, directly or through other jobs; add it to \
                 the job's inputs",
                scope.job, scope.job
            ),
        ));
    }
    let outputs = scope.run.outputs.borrow();
    match outputs.get(&name) {
        Some(value) => super::value::from_json(lua, value),
        None => Err(raise(
            lua,
            format!("job {name:?} has no outputs because it did not complete"),
        )),
    }
}

fn push_table(lua: &Lua, push: &PushInfo) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("sha", push.sha.as_str())?;
    t.set("ref", push.ref_name.as_deref())?;
    t.set("branch", push.branch.as_deref())?;
    t.set("tag", push.tag.as_deref())?;
    t.set("previous-sha", push.previous_sha.as_deref())?;
    t.set("pushed-at", push.pushed_at.as_str())?;
    t.set("repo", push.repo.as_str())?;
    t.set("git-dir", push.git_dir.as_deref())?;
    Ok(t)
}

fn read_secret(
    lua: &Lua,
    scope: &JobScope,
    name: Value,
) -> mlua::Result<mlua::String> {
    let name = string_argument(
        lua,
        name,
        "secret expects a secret name such as :deploy-key",
    )?;
    let resolution = scope
        .run
        .registry
        .resolve(&name, &scope.job)
        .map_err(|e| raise(lua, e.to_string()))?;
    if scope.resolved.borrow_mut().insert(name.clone()) {
        scope.run.emit(EventKind::SecretResolved {
            job: scope.job.clone(),
            name,
            source: resolution.source,
            cached: resolution.cached,
        });
    }
    lua.create_string(resolution.value.expose())
}

fn write_log(
    lua: &Lua,
    scope: &JobScope,
    parts: Variadic<Value>,
) -> mlua::Result<()> {
    let mut text = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        match part {
            Value::String(s) => text.push_str(&s.to_string_lossy()),
            // Lua's own text for a table is only its address.
            Value::Table(_) => text.push_str(&crate::fennel::view::view(part)),
            other => text.push_str(&other.to_string()?),
        }
    }
    let text = scope.run.redact(&text);

    let mut file = scope.log_file.borrow_mut();
    if file.is_none() {
        let path = scope.run.job_dir(&scope.job).join("job.log");
        let opened = OpenOptions::new().create(true).append(true).open(&path);
        *file = Some(opened.map_err(|e| {
            raise(lua, format!("log: cannot open {}: {e}", path.display()))
        })?);
    }
    let mut out = Vec::new();
    let at = SystemTime::now();
    for line in text.split('\n') {
        quire_proto::cri::write_line(
            &mut out,
            at,
            LogStream::Stdout,
            false,
            line.as_bytes(),
        );
        scope.run.terminal.borrow_mut().output_line(
            &scope.job,
            LogStream::Stdout,
            line.as_bytes(),
        );
    }
    if let Some(file) = file.as_mut() {
        file.write_all(&out).map_err(|e| {
            raise(lua, format!("log: cannot write the job log: {e}"))
        })?;
    }
    Ok(())
}
