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

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use tokio::task::JoinSet;

use super::client::{Fetched, HttpClient};
use super::handle::Doorbell;
use crate::secret::error::SecretError;
use crate::secret::value::SecretValue;

/// One caller's request for a secret.
pub(crate) struct FetchRequest {
    /// Unique per fetcher; ties the trace lines of one request together.
    pub id: u64,
    pub name: String,
    pub job: String,
    /// When the caller sent it, to trace the time spent queued.
    pub sent_at: Instant,
    pub reply: Sender<Result<SecretValue, SecretError>>,
}

/// A caller waiting for a fetch in progress.
struct Waiter {
    request: FetchRequest,
    queued: Duration,
}

/// Runs the actor until every request sender is gone or the fetcher
/// requests a stop.
pub(super) async fn run(
    client: HttpClient,
    incoming: Receiver<FetchRequest>,
    doorbell: Arc<Doorbell>,
) {
    let client = Arc::new(client);
    let early = {
        let client = Arc::clone(&client);
        tokio::spawn(async move { client.connect_early().await })
    };
    let mut waiting: HashMap<String, Vec<Waiter>> = HashMap::new();
    let mut fetches: JoinSet<(String, Duration, Fetched)> = JoinSet::new();
    loop {
        let closed = loop {
            match incoming.try_recv() {
                Ok(request) => {
                    accept(request, &client, &mut waiting, &mut fetches);
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

/// Starts a fetch for a new name, or adds the caller to the one running.
fn accept(
    request: FetchRequest,
    client: &Arc<HttpClient>,
    waiting: &mut HashMap<String, Vec<Waiter>>,
    fetches: &mut JoinSet<(String, Duration, Fetched)>,
) {
    let queued = request.sent_at.elapsed();
    let name = request.name.clone();
    let coalesced = waiting.contains_key(&name);
    tracing::debug!(
        target: "quire_ci::secret",
        id = request.id,
        secret = %name,
        job = %request.job,
        queued_us = queued.as_micros() as u64,
        coalesced,
        "secret request received"
    );
    waiting
        .entry(name.clone())
        .or_default()
        .push(Waiter { request, queued });
    if coalesced {
        return;
    }
    let client = Arc::clone(client);
    fetches.spawn(async move {
        let started = Instant::now();
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
        let _ = request.reply.send(fetched.result.clone());
    }
}
