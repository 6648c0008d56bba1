//! The `quire.ci` module a pipeline requires: `ci.job` and `ci.image`.
//!
//! Both functions record into a shared [`Registrations`]. Errors a
//! single call can detect are raised at once, prefixed with the
//! `file:line` of the call.

use std::cell::RefCell;
use std::rc::Rc;

use mlua::{Function, Lua, Table, Value};

use super::{JobSpec, MAX_ID_BYTES, PipelineError, PipelineSpec, graph};
use crate::runtime::location::{call_site, type_name};

/// Jobs and image that a pipeline registered while it was loaded.
#[derive(Default)]
pub struct Registrations {
    /// The image name and where it was set.
    pub image: Option<String>,
    pub jobs: Vec<JobSpec>,
    /// Each job's function, in the order of `jobs`.
    pub functions: Vec<Function>,
    /// Set once loading ends; registering after that is an error.
    pub closed: bool,
}

impl Registrations {
    /// Checks the whole graph. Returns the pipeline and the job
    /// functions in registration order.
    pub fn finish(
        &mut self,
    ) -> Result<(PipelineSpec, Vec<Function>), Vec<PipelineError>> {
        self.closed = true;
        if self.jobs.is_empty() {
            return Err(vec![PipelineError::NoJobs]);
        }
        let graph = graph::check(&self.jobs)?;
        let spec = PipelineSpec {
            image: self.image.clone(),
            jobs: self.jobs.clone(),
            graph,
        };
        Ok((spec, std::mem::take(&mut self.functions)))
    }
}

/// Builds the `quire.ci` module table over `registrations`.
pub fn ci_module(
    lua: &Lua,
    registrations: Rc<RefCell<Registrations>>,
) -> mlua::Result<Table> {
    let module = lua.create_table()?;

    let regs = Rc::clone(&registrations);
    let job = lua.create_function(
        move |lua, (id, inputs, run): (Value, Value, Value)| {
            let at = call_site(lua);
            register_job(&mut regs.borrow_mut(), id, inputs, run, &at)
                .map_err(|e| raise(&at, e))
        },
    )?;
    module.set("job", job)?;

    let regs = registrations;
    let image = lua.create_function(move |lua, name: Value| {
        let at = call_site(lua);
        set_image(&mut regs.borrow_mut(), name).map_err(|e| raise(&at, e))
    })?;
    module.set("image", image)?;

    // A misspelt field such as `ci.jbo` would otherwise fail with
    // "attempt to call a nil value (field 'jbo')".
    let meta = lua.create_table()?;
    let missing = lua.create_function(|lua, (_, key): (Value, Value)| {
        let key = match key {
            Value::String(s) => s.to_string_lossy(),
            other => type_name(&other),
        };
        let at = call_site(lua);
        Err::<(), _>(mlua::Error::RuntimeError(format!(
            "{at}: quire.ci has no field {key:?}; it offers job and image, \
             as in (ci.job id inputs run-fn)"
        )))
    })?;
    meta.set("__index", missing)?;
    module.set_metatable(Some(meta))?;
    Ok(module)
}

fn raise(at: &str, error: PipelineError) -> mlua::Error {
    mlua::Error::RuntimeError(format!("{at}: {error}"))
}

fn register_job(
    regs: &mut Registrations,
    id: Value,
    inputs: Value,
    run: Value,
    at: &str,
) -> Result<(), PipelineError> {
    if regs.closed {
        return Err(PipelineError::RegisteredLate { call: "ci.job" });
    }
    let id = match id {
        Value::String(s) => s.to_string_lossy(),
        other => {
            return Err(PipelineError::InvalidId {
                got: type_name(&other),
            });
        }
    };
    if id.is_empty() {
        return Err(PipelineError::EmptyId);
    }
    if id.contains('/') {
        return Err(PipelineError::SlashInId { job: id });
    }
    if id.len() > MAX_ID_BYTES {
        return Err(PipelineError::LongId {
            start: id.chars().take(32).collect(),
            len: id.len(),
        });
    }
    if id == "." || id == ".." || id.chars().any(char::is_control) {
        return Err(PipelineError::UnusableId { job: id });
    }
    if let Some(first) = regs.jobs.iter().find(|j| j.id == id) {
        return Err(PipelineError::DuplicateId {
            job: id,
            first_at: first.at.clone(),
            at: at.to_string(),
        });
    }
    let inputs = read_inputs(&id, inputs)?;
    if inputs.is_empty() {
        return Err(PipelineError::EmptyInputs { job: id });
    }
    let repeated = inputs
        .iter()
        .enumerate()
        .find(|(i, input)| inputs[..*i].contains(input));
    if let Some((_, input)) = repeated {
        return Err(PipelineError::DuplicateInput {
            input: input.clone(),
            job: id,
        });
    }
    let Value::Function(function) = run else {
        return Err(PipelineError::InvalidRunFn {
            job: id,
            got: type_name(&run),
        });
    };
    regs.jobs.push(JobSpec {
        id,
        inputs,
        at: at.to_string(),
    });
    regs.functions.push(function);
    Ok(())
}

/// Reads a sequence of strings; anything else is an error naming the
/// job.
fn read_inputs(job: &str, inputs: Value) -> Result<Vec<String>, PipelineError> {
    let invalid = |got: String| PipelineError::InvalidInputs {
        job: job.to_string(),
        got,
    };
    let Value::Table(table) = inputs else {
        return Err(invalid(type_name(&inputs)));
    };
    let mut out = Vec::new();
    let len = table.raw_len();
    for pair in table.clone().pairs::<Value, Value>() {
        let (key, _) = pair.map_err(|e| invalid(e.to_string()))?;
        let in_sequence =
            matches!(key, Value::Integer(i) if i >= 1 && i as usize <= len);
        if !in_sequence {
            return Err(invalid("a table with non-sequence keys".into()));
        }
    }
    for i in 1..=len {
        match table.raw_get::<Value>(i) {
            Ok(Value::String(s)) => {
                let input = s.to_string_lossy();
                out.push(input);
            }
            Ok(other) => {
                return Err(invalid(format!(
                    "a sequence containing a {}",
                    type_name(&other)
                )));
            }
            Err(e) => return Err(invalid(e.to_string())),
        }
    }
    Ok(out)
}

fn set_image(
    regs: &mut Registrations,
    name: Value,
) -> Result<(), PipelineError> {
    if regs.closed {
        return Err(PipelineError::RegisteredLate { call: "ci.image" });
    }
    let Value::String(name) = name else {
        return Err(PipelineError::InvalidImage {
            got: type_name(&name),
        });
    };
    let name = name.to_string_lossy();
    if let Some(first) = &regs.image {
        return Err(PipelineError::SecondImage {
            first: first.clone(),
            second: name,
        });
    }
    regs.image = Some(name);
    Ok(())
}
