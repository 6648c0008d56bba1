//! The actor task: receives secret requests, fetches each name once at
//! a time, and replies to every caller waiting for it.
//!
//! Requests arrive on a crossbeam channel, which a synchronous caller
//! can use without a runtime, and the caller then rings a doorbell (a
//! `tokio::sync::Notify`) that wakes the actor to drain the channel.
//! An earlier version moved requests through a blocking bridge thread
//! onto a tokio channel instead. That extra thread hop added about 20
//! µs to each fetch over loopback, close to a bare HTTP GET's own time
//! (measured with the `secret_lookup` bench on a 2-core machine).
//!
//! The actor alone owns the table of fetches in progress, so coalescing
//! needs no lock. Each message is traced under the `quire_ci::secret`
//! target with its id, name, job and timings, and never with a value.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::sync::atomic::Ordering;

use crossbeam_channel::{Receiver, TryRecvError};
use tokio::task::JoinSet;

use super::client::{Fetched, HttpClient};
use super::handle::Doorbell;
use super::reply::ReplySender;

/// One caller's request for a secret.
pub(crate) struct FetchRequest {
    /// Unique per fetcher; ties the trace lines of one request together.
    pub id: u64,
    pub name: String,
    pub job: String,
    /// When the caller sent it, to trace the time spent queued.
    pub sent_at: Instant,
    pub reply: ReplySender,
}

/// A caller waiting for a fetch in progress.
struct Waiter {
    request: FetchRequest,
    queued: Duration,
}

/// Maximum time requests wait for the early connection before they
/// open their own. Connecting on loopback and serving `GET /healthz`
/// takes well under a millisecond, so only a server that is stuck or
/// far away reaches this limit.
const EARLY_CONNECT_LIMIT: Duration = Duration::from_millis(500);

/// Runs the actor until every request sender is gone or the fetcher
/// requests a stop.
///
/// Requests that arrive while the early connection is still being
/// opened are held until it is ready, so that they reuse it. Started
/// at once, the first fetch would find no idle connection in the pool
/// and open a second one beside it.
pub(super) async fn run(
    client: HttpClient,
    incoming: Receiver<FetchRequest>,
    doorbell: Arc<Doorbell>,
) {
    let client = Arc::new(client);
    let mut early = {
        let client = Arc::clone(&client);
        tokio::spawn(
            async move { client.connect_early(EARLY_CONNECT_LIMIT).await },
        )
    };
    let mut connecting = true;
    // Names waiting for the early connection, with when they arrived.
    let mut held: Vec<(String, Instant)> = Vec::new();
    let mut waiting: HashMap<String, Vec<Waiter>> = HashMap::new();
    let mut fetches: JoinSet<(String, Duration, Fetched)> = JoinSet::new();
    loop {
        let closed = loop {
            match incoming.try_recv() {
                Ok(request) => {
                    if let Some(name) = accept(request, &mut waiting) {
                        if connecting {
                            held.push((name, Instant::now()));
                        } else {
                            start(name, Instant::now(), &client, &mut fetches);
                        }
                    }
                }
                Err(TryRecvError::Empty) => break false,
                Err(TryRecvError::Disconnected) => break true,
            }
        };
        if closed || doorbell.stopping.load(Ordering::Acquire) {
            break;
        }
        tokio::select! {
            () = doorbell.notify.notified() => {}
            _ = &mut early, if connecting => {
                connecting = false;
                for (name, arrived) in held.drain(..) {
                    start(name, arrived, &client, &mut fetches);
                }
            }
            Some(done) = fetches.join_next(), if !fetches.is_empty() => {
                match done {
                    Ok((name, took, fetched)) => {
                        let waiters = waiting.remove(&name).unwrap_or_default();
                        answer(&name, took, fetched, waiters);
                    }
                    Err(err) => tracing::error!(
                        target: "quire_ci::secret",
                        error = %err,
                        "a secret fetch task failed"
                    ),
                }
            }
        }
    }

    // Callers still waiting get `Stopped` when their reply senders drop.
    early.abort();
    fetches.shutdown().await;
    for (name, waiters) in waiting {
        for waiter in waiters {
            tracing::debug!(
                target: "quire_ci::secret",
                id = waiter.request.id,
                secret = %name,
                job = %waiter.request.job,
                outcome = "stopped",
                "secret request abandoned at shutdown"
            );
        }
    }
}

/// Adds the caller to the waiters for its name. Returns the name when
/// no fetch for it is running yet, so the caller of this function
/// starts one.
fn accept(
    request: FetchRequest,
    waiting: &mut HashMap<String, Vec<Waiter>>,
) -> Option<String> {
    let queued = request.sent_at.elapsed();
    let coalesced = waiting.contains_key(&request.name);
    tracing::debug!(
        target: "quire_ci::secret",
        id = request.id,
        secret = %request.name,
        job = %request.job,
        queued_us = queued.as_micros() as u64,
        coalesced,
        "secret request received"
    );
    let name = request.name.clone();
    waiting
        .entry(name.clone())
        .or_default()
        .push(Waiter { request, queued });
    (!coalesced).then_some(name)
}

/// Starts the one HTTP fetch for `name`. Its traced time counts from
/// `started`, which for a held request is when it arrived, so that the
/// wait for the early connection is included.
fn start(
    name: String,
    started: Instant,
    client: &Arc<HttpClient>,
    fetches: &mut JoinSet<(String, Duration, Fetched)>,
) {
    let client = Arc::clone(client);
    fetches.spawn(async move {
        let fetched = client.fetch(&name).await;
        (name, started.elapsed(), fetched)
    });
}

/// Sends one fetch's result to every caller waiting for it.
fn answer(name: &str, took: Duration, fetched: Fetched, waiters: Vec<Waiter>) {
    let outcome = match &fetched.result {
        Ok(_) => "ok",
        Err(err) => err.kind(),
    };
    for waiter in waiters {
        let request = waiter.request;
        tracing::debug!(
            target: "quire_ci::secret",
            id = request.id,
            secret = %name,
            job = %request.job,
            queued_us = waiter.queued.as_micros() as u64,
            fetch_us = took.as_micros() as u64,
            status = fetched.status,
            retries = fetched.retries,
            outcome,
            "secret request answered"
        );
        // The caller may have timed out and gone; nothing to do then.
        request.reply.send(fetched.result.clone());
    }
}
