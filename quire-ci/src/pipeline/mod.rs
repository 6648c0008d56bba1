//! Pipelines: the jobs a `.quire/ci.fnl` registers through the
//! `quire.ci` module, the checks on them and their execution order.
//!
//! Registration is split in two. What one call can get wrong (a
//! duplicate or malformed id, empty inputs, a second image) fails that
//! call, so the error points at its line. What needs the whole graph
//! (unknown inputs, cycles, jobs that never reach a source) is checked
//! once `ci.fnl` has finished, so jobs may name inputs registered
//! further down.

pub mod graph;
pub mod module;
pub mod suggest;

use std::fmt;

pub use graph::Graph;
pub use module::{Registrations, ci_module};

/// The one source a job can take as input: the push that made the run.
pub const PUSH_SOURCE: &str = "quire/push";

/// Maximum job id length in bytes. Each id names a log directory, so
/// this is the maximum file name length of ext4 and most Linux file
/// systems.
pub const MAX_ID_BYTES: usize = 255;

/// A registered job, without its function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub id: String,
    /// Job ids and sources, in the order given.
    pub inputs: Vec<String>,
    /// Location of the `ci.job` call, as `file:line`.
    pub at: String,
}

/// A pipeline that is wrong, with what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    #[error(
        "job {job:?} is registered twice ({first_at} and {at}); give \
         each job a unique id"
    )]
    DuplicateId {
        job: String,
        first_at: String,
        at: String,
    },
    #[error(
        "job id {job:?} contains \"/\"; ids may not contain \"/\" because \
         it marks sources such as quire/push"
    )]
    SlashInId { job: String },
    #[error(
        "job id {job:?} cannot name a log directory; use letters, \
         digits and punctuation other than \"/\""
    )]
    UnusableId { job: String },
    #[error(
        "job id {start:?}... is {len} bytes long; ids are at most \
         {MAX_ID_BYTES} bytes because each names a log directory"
    )]
    LongId { start: String, len: usize },
    #[error("job id must not be empty")]
    EmptyId,
    #[error(
        "job {job:?} has no inputs; list at least one job id or the \
         source quire/push"
    )]
    EmptyInputs { job: String },
    #[error(
        "job {job:?} lists the input {input:?} twice; list each input \
         once"
    )]
    DuplicateInput { job: String, input: String },
    #[error(
        "job {job:?} ({at}) has an unknown input {input:?}: an input is \
         the id of a job in this pipeline or the source quire/push{}",
        suggest::did_you_mean(suggestion)
    )]
    UnknownInput {
        job: String,
        input: String,
        at: String,
        /// The closest existing id, when one is close enough.
        suggestion: Option<String>,
    },
    #[error(
        "jobs form a cycle: {} (each job lists the next as an input; {}); \
         remove one of these inputs so the jobs can be ordered",
        path.join(" -> "),
        cycle_sites(path, at)
    )]
    Cycle {
        /// The jobs along the cycle, the first repeated at the end.
        path: Vec<String>,
        /// Registration location of each job in `path` except the last.
        at: Vec<String>,
    },
    #[error(
        "job {job:?} ({at}) never reaches a source: none of its inputs \
         leads to quire/push; add quire/push or a job that depends on it \
         to its inputs"
    )]
    NoSource { job: String, at: String },
    #[error(
        "ci.image is called twice ({first:?}, then {second:?}); a \
         pipeline has one image, so keep one call"
    )]
    SecondImage { first: String, second: String },
    #[error("ci.job expects a string or keyword id, got {got}")]
    InvalidId { got: String },
    #[error(
        "job {job:?}: inputs must be a sequence of job ids and sources, \
         such as [:quire/push], got {got}"
    )]
    InvalidInputs { job: String, got: String },
    #[error(
        "job {job:?}: the third argument of ci.job must be the job's \
         function, got {got}"
    )]
    InvalidRunFn { job: String, got: String },
    #[error("ci.image expects the image name as a string, got {got}")]
    InvalidImage { got: String },
    #[error(
        "{call} was called while jobs run; register jobs and the image \
         at the top level of the pipeline"
    )]
    RegisteredLate { call: &'static str },
    #[error(
        "the pipeline registers no jobs; add at least one (ci.job ...) \
         call"
    )]
    NoJobs,
}

/// Formats `a is at FILE:LINE, b at FILE:LINE` for a cycle's jobs.
fn cycle_sites(path: &[String], at: &[String]) -> String {
    path.iter()
        .zip(at)
        .enumerate()
        .map(|(i, (job, at))| {
            if i == 0 {
                format!("{job} is at {at}")
            } else {
                format!("{job} at {at}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A checked pipeline, without its functions.
#[derive(Debug, Clone)]
pub struct PipelineSpec {
    /// The image from `ci.image`, if any. Only recorded: commands run
    /// on the host.
    pub image: Option<String>,
    /// Jobs in registration order.
    pub jobs: Vec<JobSpec>,
    pub graph: Graph,
}

impl PipelineSpec {
    /// Iterates over the jobs in execution order.
    pub fn ordered(&self) -> impl Iterator<Item = &JobSpec> {
        self.graph.order.iter().map(|&i| &self.jobs[i])
    }
}

impl fmt::Display for PipelineSpec {
    /// Formats the listing that `quire-ci validate` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.image {
            Some(image) => writeln!(f, "image: {image}")?,
            None => writeln!(f, "image: none")?,
        }
        writeln!(f, "jobs, in execution order:")?;
        let width = self.jobs.iter().map(|j| j.id.len()).max().unwrap_or(0);
        for (n, job) in self.ordered().enumerate() {
            writeln!(
                f,
                "{:>3}. {:<width$}  <- {}",
                n + 1,
                job.id,
                job.inputs.join(", ")
            )?;
        }
        Ok(())
    }
}
