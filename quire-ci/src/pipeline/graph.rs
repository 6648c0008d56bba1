//! The job graph: the checks that need every job registered (unknown
//! inputs, cycles, jobs that never reach a source) and the execution
//! order.
//!
//! The order is topological, and among the jobs that are ready at the
//! same time it is the order of registration, so a pipeline's jobs run
//! in the order a reader of `ci.fnl` expects.

use std::collections::{BTreeSet, HashMap};

use super::{JobSpec, PUSH_SOURCE, PipelineError, suggest};

/// A checked job graph.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Indices into the registered jobs, in execution order.
    pub order: Vec<usize>,
    /// For each job, the ids of every job it depends on, directly or
    /// not.
    pub upstream: Vec<BTreeSet<String>>,
}

/// Checks the graph of `jobs` and orders it. Every problem found is
/// returned, in registration order.
pub fn check(jobs: &[JobSpec]) -> Result<Graph, Vec<PipelineError>> {
    let index: HashMap<&str, usize> = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| (j.id.as_str(), i))
        .collect();
    let mut errors = Vec::new();

    // Edges to known jobs only; unknown inputs are reported here.
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); jobs.len()];
    let mut broken = vec![false; jobs.len()];
    for (i, job) in jobs.iter().enumerate() {
        for input in &job.inputs {
            if input == PUSH_SOURCE {
                continue;
            }
            match index.get(input.as_str()) {
                Some(&j) => edges[i].push(j),
                None => {
                    broken[i] = true;
                    let known =
                        jobs.iter().map(|j| j.id.as_str()).chain([PUSH_SOURCE]);
                    let suggestion =
                        suggest::closest(input, known).map(str::to_string);
                    errors.push(PipelineError::UnknownInput {
                        job: job.id.clone(),
                        input: input.clone(),
                        at: job.at.clone(),
                        suggestion,
                    });
                }
            }
        }
    }

    let cycles = find_cycles(&edges);
    let mut in_cycle = vec![false; jobs.len()];
    for cycle in &cycles {
        for &i in cycle {
            in_cycle[i] = true;
        }
        let mut path: Vec<String> =
            cycle.iter().map(|&i| jobs[i].id.clone()).collect();
        path.push(jobs[cycle[0]].id.clone());
        let at = cycle.iter().map(|&i| jobs[i].at.clone()).collect();
        errors.push(PipelineError::Cycle { path, at });
    }

    let reaches = reaches_source(jobs, &edges);
    for (i, job) in jobs.iter().enumerate() {
        if !reaches[i] && !in_cycle[i] && !broken[i] {
            errors.push(PipelineError::NoSource {
                job: job.id.clone(),
                at: job.at.clone(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let order = topological_order(&edges);
    let mut upstream: Vec<BTreeSet<String>> = vec![BTreeSet::new(); jobs.len()];
    for &i in &order {
        let mut all = BTreeSet::new();
        for &j in &edges[i] {
            all.insert(jobs[j].id.clone());
            all.extend(upstream[j].iter().cloned());
        }
        upstream[i] = all;
    }
    Ok(Graph { order, upstream })
}

/// Kahn's algorithm, taking the first registered ready job each time.
fn topological_order(edges: &[Vec<usize>]) -> Vec<usize> {
    let mut placed = vec![false; edges.len()];
    let mut order = Vec::with_capacity(edges.len());
    while order.len() < edges.len() {
        let next = (0..edges.len())
            .find(|&i| !placed[i] && edges[i].iter().all(|&j| placed[j]))
            .expect("an acyclic graph always has a ready job");
        placed[next] = true;
        order.push(next);
    }
    order
}

/// Finds each cycle once, as the job indices along it, starting from
/// the first registered job on it.
fn find_cycles(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit(
        i: usize,
        edges: &[Vec<usize>],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        cycles: &mut Vec<Vec<usize>>,
    ) {
        marks[i] = Mark::OnPath;
        path.push(i);
        for &j in &edges[i] {
            match marks[j] {
                Mark::New => visit(j, edges, marks, path, cycles),
                Mark::OnPath => {
                    let start = path.iter().position(|&p| p == j).unwrap();
                    let mut cycle = path[start..].to_vec();
                    let first = cycle
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, i)| **i)
                        .map(|(k, _)| k)
                        .unwrap();
                    cycle.rotate_left(first);
                    if !cycles.contains(&cycle) {
                        cycles.push(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks[i] = Mark::Done;
    }
    let mut marks = vec![Mark::New; edges.len()];
    let mut cycles = Vec::new();
    for i in 0..edges.len() {
        if marks[i] == Mark::New {
            visit(i, edges, &mut marks, &mut Vec::new(), &mut cycles);
        }
    }
    cycles
}

/// Marks each job that has a path of inputs ending at a source.
fn reaches_source(jobs: &[JobSpec], edges: &[Vec<usize>]) -> Vec<bool> {
    let mut reaches: Vec<bool> = jobs
        .iter()
        .map(|j| j.inputs.iter().any(|i| i == PUSH_SOURCE))
        .collect();
    loop {
        let mut changed = false;
        for i in 0..jobs.len() {
            if !reaches[i] && edges[i].iter().any(|&j| reaches[j]) {
                reaches[i] = true;
                changed = true;
            }
        }
        if !changed {
            return reaches;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, inputs: &[&str]) -> JobSpec {
        JobSpec {
            id: id.into(),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            at: format!(".quire/ci.fnl:{}", id.len()),
        }
    }

    fn ids(jobs: &[JobSpec], graph: &Graph) -> Vec<String> {
        graph.order.iter().map(|&i| jobs[i].id.clone()).collect()
    }

    #[test]
    fn order_is_topological_then_registration() {
        let jobs = [
            job("test", &["build"]),
            job("lint", &["quire/push"]),
            job("build", &["quire/push"]),
            job("deploy", &["test", "lint"]),
        ];
        let graph = check(&jobs).unwrap();
        assert_eq!(ids(&jobs, &graph), ["lint", "build", "test", "deploy"]);
        let deploy: Vec<&String> = graph.upstream[3].iter().collect();
        assert_eq!(deploy, ["build", "lint", "test"]);
    }

    #[test]
    fn cycle_path_printed() {
        let jobs = [
            job("a", &["quire/push", "c"]),
            job("b", &["a"]),
            job("c", &["b"]),
        ];
        let errors = check(&jobs).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            "jobs form a cycle: a -> c -> b -> a (each job lists the next \
             as an input; a is at .quire/ci.fnl:1, c at .quire/ci.fnl:1, b \
             at .quire/ci.fnl:1); remove one of these inputs so the jobs \
             can be ordered"
        );
    }

    #[test]
    fn dependent_of_sourceless_cycle_reported() {
        let jobs = [job("a", &["b"]), job("b", &["a"]), job("c", &["a"])];
        let errors: Vec<String> = check(&jobs)
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("jobs form a cycle: a -> b -> a"));
        assert_eq!(
            errors[1],
            "job \"c\" (.quire/ci.fnl:1) never reaches a source: none of \
             its inputs leads to quire/push; add quire/push or a job that \
             depends on it to its inputs"
        );
    }

    #[test]
    fn unknown_input_named() {
        let jobs = [job("build", &["quire/push"]), job("test", &["biuld"])];
        let errors = check(&jobs).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            "job \"test\" (.quire/ci.fnl:4) has an unknown input \"biuld\": \
             an input is the id of a job in this pipeline or the source \
             quire/push; did you mean \"build\"?"
        );
    }

    #[test]
    fn unknown_input_without_close_id() {
        let jobs = [job("build", &["quire/push"]), job("test", &["lint"])];
        let errors = check(&jobs).unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "job \"test\" (.quire/ci.fnl:4) has an unknown input \"lint\": \
             an input is the id of a job in this pipeline or the source \
             quire/push"
        );
    }
}
