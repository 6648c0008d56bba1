//! The sandboxed Lua state of one pipeline: loading `.quire/ci.fnl`,
//! resolving `require`, and calling a job's function with its runtime
//! table under the run's limits.
//!
//! A `Runtime` is not `Send`: it is created and used on one thread for
//! its whole life, which for `quire-ci run` is the Lua thread.

pub mod job_table;
pub mod location;
pub mod modules;
pub mod sandbox;
pub mod value;

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

use mlua::{Function, HookTriggers, Lua, Value, VmState};

use crate::pipeline::{self, PipelineError, PipelineSpec, Registrations};
use job_table::{JobScope, runtime_table};
use location::{error_message, pipeline_caller, with_source_line};
use modules::{LoadError, Modules, QUIRE_DIR};

/// The pipeline file, relative to `.quire/`.
pub const PIPELINE_FILE: &str = "ci.fnl";

/// Instructions between two checks of a job's deadline.
const DEADLINE_CHECK_INTERVAL: u32 = 10_000;

/// A Lua state set up for one pipeline.
pub struct Runtime {
    lua: Lua,
    modules: Rc<Modules>,
    registrations: Rc<RefCell<Registrations>>,
    memory_limit_mib: usize,
}

/// A loaded and checked pipeline.
pub struct Pipeline {
    pub spec: PipelineSpec,
    /// Job functions, in registration order.
    functions: Vec<Function>,
}

/// A failure to load a pipeline. Each is a configuration error, so no
/// job has run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineLoadError {
    #[error(
        "no pipeline at {path}; write one there, or point --workspace at \
         a directory that contains {QUIRE_DIR}/{PIPELINE_FILE}"
    )]
    Missing { path: String },
    #[error("{0}")]
    Load(#[from] LoadError),
    /// Evaluating the pipeline raised an error.
    #[error("{0}")]
    Eval(String),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<PipelineError>),
    #[error("cannot set up the Lua state: {0}")]
    State(String),
}

/// The result of a job's function.
pub enum JobResult {
    /// It returned a table of outputs.
    Outputs(serde_json::Value),
    /// It returned nil.
    Skipped,
    /// It raised, or returned something else, as the message states.
    Failed(String),
}

impl Runtime {
    /// Creates the state for the pipeline in `workspace`.
    pub fn new(
        workspace: &Path,
        memory_limit_mib: usize,
    ) -> Result<Self, PipelineLoadError> {
        let state_error =
            |e: mlua::Error| PipelineLoadError::State(e.to_string());
        let lua = sandbox::new_state(memory_limit_mib.saturating_mul(1 << 20))
            .map_err(state_error)?;
        let registrations = Rc::new(RefCell::new(Registrations::default()));
        let ci = pipeline::ci_module(&lua, Rc::clone(&registrations))
            .map_err(state_error)?;
        // `require` is installed below; compiled code may call it.
        let mut globals = sandbox::global_names(&lua).map_err(state_error)?;
        globals.push("require".into());
        let modules = Rc::new(Modules::new(workspace, globals));
        modules::install_require(&lua, Rc::clone(&modules), ci)
            .map_err(state_error)?;
        Ok(Self {
            lua,
            modules,
            registrations,
            memory_limit_mib,
        })
    }

    /// Returns the Lua state.
    pub fn lua(&self) -> &Lua {
        &self.lua
    }

    /// Compiles and evaluates `.quire/ci.fnl`, then checks the graph.
    pub fn load_pipeline(&self) -> Result<Pipeline, PipelineLoadError> {
        let function = match self.modules.load_file(&self.lua, PIPELINE_FILE) {
            Err(LoadError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                let path = self.modules.quire_dir().join(PIPELINE_FILE);
                let path = path.display().to_string();
                return Err(PipelineLoadError::Missing { path });
            }
            other => other?,
        };
        self.evaluate(function)
    }

    /// Evaluates a pipeline given as Lua, shown in errors as
    /// `.quire/ci.fnl`. Tests use it to drive the runtime without the
    /// Fennel compiler.
    pub fn load_pipeline_lua(
        &self,
        code: &str,
    ) -> Result<Pipeline, PipelineLoadError> {
        let name = format!("{QUIRE_DIR}/{PIPELINE_FILE}");
        let function = modules::load_lua(&self.lua, &name, code)?;
        self.evaluate(function)
    }

    fn evaluate(
        &self,
        function: Function,
    ) -> Result<Pipeline, PipelineLoadError> {
        if let Err(e) = function.call::<Value>(()) {
            self.registrations.borrow_mut().closed = true;
            return Err(PipelineLoadError::Eval(self.describe(&e)));
        }
        let (spec, functions) = self
            .registrations
            .borrow_mut()
            .finish()
            .map_err(PipelineLoadError::Invalid)?;
        Ok(Pipeline { spec, functions })
    }

    /// Formats an error's message with the source line it points at.
    /// An error raised in a helper module also names the line of the
    /// pipeline that called into it.
    pub fn describe(&self, error: &mlua::Error) -> String {
        let message = error_message(error, self.memory_limit_mib);
        let sources = self.modules.sources();
        let mut described = with_source_line(&message, &sources);
        if let Some(caller) = pipeline_caller(&message, &error.to_string()) {
            described.push_str("\ncalled from ");
            described.push_str(&with_source_line(&caller, &sources));
        }
        described
    }

    /// Calls job `index`'s function with a runtime table over `scope`.
    pub fn call_job(
        &self,
        pipeline: &Pipeline,
        index: usize,
        scope: &Rc<JobScope>,
    ) -> JobResult {
        let result = self.call_job_inner(pipeline, index, scope);
        scope.finish();
        self.lua.remove_global_hook();
        self.lua.remove_hook();
        // Return the job's garbage now, so the next job starts with the
        // whole memory limit.
        let _ = self.lua.gc_collect();
        result
    }

    fn call_job_inner(
        &self,
        pipeline: &Pipeline,
        index: usize,
        scope: &Rc<JobScope>,
    ) -> JobResult {
        let table = match runtime_table(&self.lua, scope) {
            Ok(table) => table,
            Err(e) => return JobResult::Failed(self.describe(&e)),
        };
        if let Some(deadline) = scope.deadline {
            let hook =
                set_deadline_hook(&self.lua, deadline, scope.timeout_message());
            if let Err(e) = hook {
                return JobResult::Failed(self.describe(&e));
            }
        }
        let returned = pipeline.functions[index].call::<Value>(table);
        // A job that caught its timeout error, in a coroutine whose
        // thread the hook no longer runs in, can still return.
        if returned.is_ok()
            && scope.deadline.is_some_and(|at| Instant::now() >= at)
        {
            return JobResult::Failed(scope.timeout_message());
        }
        match returned {
            Ok(Value::Nil) => JobResult::Skipped,
            Ok(Value::Table(outputs)) => match value::to_json(&outputs) {
                Ok(json) => JobResult::Outputs(json),
                Err(reason) => JobResult::Failed(format!(
                    "the job's function returned outputs that are not plain \
                     data: {reason}"
                )),
            },
            Ok(other) => JobResult::Failed(format!(
                "the job's function returned {}; return a table of \
                 outputs, or nil to skip the job",
                location::type_name(&other)
            )),
            Err(e) => JobResult::Failed(explain_error_value(self.describe(&e))),
        }
    }
}

/// Adds a hint to the message of an error whose value was not a
/// string. Lua shows such a value only as its type (`table:
/// 0x55d0c0a4e2a0`, `nil`), which names neither what failed nor where.
fn explain_error_value(message: String) -> String {
    let shown_as_type = ["table: 0x", "function: 0x", "thread: 0x"]
        .iter()
        .any(|prefix| message.starts_with(prefix))
        || matches!(message.as_str(), "nil" | "true" | "false");
    if !shown_as_type {
        return message;
    }
    format!(
        "the job raised an error whose value is not a message ({message}); \
         raise a string instead, such as (error \"what failed\")"
    )
}

/// Installs the hook that fails a job once `deadline` has passed.
///
/// It is a global hook, because coroutines the job creates copy the
/// hook of the thread that creates them and must see the deadline too.
fn set_deadline_hook(
    lua: &Lua,
    deadline: Instant,
    message: String,
) -> mlua::Result<()> {
    let periodic =
        HookTriggers::new().every_nth_instruction(DEADLINE_CHECK_INTERVAL);
    lua.set_global_hook(periodic, move |lua, _| {
        if Instant::now() < deadline {
            return Ok(VmState::Continue);
        }
        Err(timeout_error(lua, message.clone()))
    })
}

/// Returns the error that ends a job whose time is up.
///
/// A timeout is an ordinary Lua error, which `pcall` or
/// `coroutine.resume` can catch. So the deadline hook is first
/// reinstalled to run before every instruction: code that catches the
/// error raises it again at its next instruction, until it reaches the
/// job's function.
pub(crate) fn timeout_error(lua: &Lua, message: String) -> mlua::Error {
    let every = HookTriggers::new().every_nth_instruction(1);
    let error = mlua::Error::RuntimeError(message.clone());
    match lua.set_global_hook(every, move |_, _| {
        Err(mlua::Error::RuntimeError(message.clone()))
    }) {
        Ok(()) => error,
        Err(e) => e,
    }
}
