//! A run as `quire ci show --json` prints it.
//!
//! The view reads the JSON by key, so a test states which fields it
//! relies on, and a renamed field fails with the key in the message.

use serde_json::Value;

/// One run: its row, jobs with their commands and logs, and the secret
/// accesses the server recorded.
#[derive(Debug, Clone)]
pub struct RunView {
    pub json: Value,
}

impl RunView {
    pub fn new(json: Value) -> RunView {
        RunView { json }
    }

    fn run_field(&self, key: &str) -> Option<&str> {
        self.json["run"][key].as_str()
    }

    pub fn id(&self) -> &str {
        self.run_field("id").expect("the run has an id")
    }

    /// `pending`, `active`, `complete`, `failed` or `superseded`.
    pub fn state(&self) -> &str {
        self.run_field("state").expect("the run has a state")
    }

    pub fn sha(&self) -> &str {
        self.run_field("sha").expect("the run has a sha")
    }

    pub fn failure_reason(&self) -> Option<&str> {
        self.run_field("failure_reason")
    }

    pub fn transport(&self) -> &str {
        self.run_field("transport")
            .expect("the run has a transport")
    }

    /// Path of quire-ci's own output for this run.
    pub fn runner_log_path(&self) -> &str {
        self.json["runner_log"].as_str().expect("runner_log")
    }

    /// quire-ci's own output, or an empty string when there is none.
    pub fn runner_log(&self) -> String {
        std::fs::read_to_string(self.runner_log_path()).unwrap_or_default()
    }

    pub fn jobs(&self) -> Vec<&Value> {
        match self.json["jobs"].as_array() {
            Some(jobs) => jobs.iter().collect(),
            None => Vec::new(),
        }
    }

    pub fn job_names(&self) -> Vec<&str> {
        self.jobs()
            .into_iter()
            .filter_map(|job| job["name"].as_str())
            .collect()
    }

    /// Returns the job called `name`.
    ///
    /// Panics with the list of job names when there is no such job.
    pub fn job(&self, name: &str) -> &Value {
        self.jobs()
            .into_iter()
            .find(|job| job["name"] == name)
            .unwrap_or_else(|| {
                panic!("no job {name} in run; jobs: {:?}", self.job_names())
            })
    }

    /// `complete`, `failed` or `skipped`; `None` if it never finished.
    pub fn job_outcome(&self, name: &str) -> Option<&str> {
        self.job(name)["outcome"].as_str()
    }

    pub fn job_message(&self, name: &str) -> String {
        self.job(name)["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Returns the commands that a job ran, in order.
    pub fn commands(&self, name: &str) -> Vec<&Value> {
        match self.job(name)["commands"].as_array() {
            Some(commands) => commands.iter().collect(),
            None => Vec::new(),
        }
    }

    /// Joins the output of every command of a job, in order.
    pub fn job_log(&self, name: &str) -> String {
        self.commands(name)
            .into_iter()
            .filter_map(|command| command["log"].as_str())
            .collect()
    }

    /// Returns the recorded secret accesses as `(name, result)`, oldest
    /// first.
    pub fn accesses(&self) -> Vec<(String, String)> {
        let Some(rows) = self.json["secret_accesses"].as_array() else {
            return Vec::new();
        };
        rows.iter()
            .map(|row| {
                (
                    row["name"].as_str().unwrap_or_default().to_string(),
                    row["result"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// Counts the accesses of `name` that ended with `result`.
    pub fn access_count(&self, name: &str, result: &str) -> usize {
        self.accesses()
            .iter()
            .filter(|(n, r)| n == name && r == result)
            .count()
    }

    /// True for the states nothing leaves.
    pub fn is_terminal(&self) -> bool {
        matches!(self.state(), "complete" | "failed" | "superseded")
    }
}
