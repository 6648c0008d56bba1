//! The reply channel of one secret request: a single value passed from
//! the actor to the caller waiting for it, with a timeout.
//!
//! A crossbeam `bounded(1)` channel, used here before, wakes the
//! waiting thread while it still holds the lock of its waiter list.
//! The woken caller then blocks at once on that lock, so every reply
//! cost two extra wake-ups and three extra `futex` calls (seen with
//! `strace -f` on `quire-ci run`). Here the sender stores the reply,
//! releases the lock and only then notifies a condition variable, so
//! the caller wakes to a free lock.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::secret::error::SecretError;
use crate::secret::value::SecretValue;

/// The actor's reply: the value, or the error that kept it back.
pub(crate) type Reply = Result<SecretValue, SecretError>;

/// Why [`ReplyReceiver::recv_timeout`] returned without a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplyError {
    /// The timeout passed first.
    Timeout,
    /// The sender was dropped without sending, as at shutdown.
    Disconnected,
}

enum State {
    Waiting,
    Sent(Reply),
    Dropped,
    Received,
}

struct Slot {
    state: Mutex<State>,
    ready: Condvar,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The actor's end: sends one reply, or reports a disconnect when
/// dropped unsent.
pub(crate) struct ReplySender {
    slot: Arc<Slot>,
}

/// The caller's end: waits for the one reply.
pub(crate) struct ReplyReceiver {
    slot: Arc<Slot>,
}

/// Creates the two ends of one reply channel.
pub(crate) fn reply_channel() -> (ReplySender, ReplyReceiver) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State::Waiting),
        ready: Condvar::new(),
    });
    (
        ReplySender {
            slot: Arc::clone(&slot),
        },
        ReplyReceiver { slot },
    )
}

impl ReplySender {
    /// Stores the reply and wakes the caller. A caller that has timed
    /// out never reads it. The reply is then dropped with the channel,
    /// which zeroes a value in it.
    pub(crate) fn send(self, reply: Reply) {
        self.finish(State::Sent(reply));
    }

    /// Moves a waiting channel to `next` and wakes the caller. Does
    /// nothing once a reply was sent.
    fn finish(&self, next: State) {
        {
            let mut state = self.slot.lock();
            if !matches!(*state, State::Waiting) {
                return;
            }
            *state = next;
        }
        // Notified after the lock is released, so the caller does not
        // wake only to wait for it.
        self.slot.ready.notify_one();
    }
}

impl Drop for ReplySender {
    fn drop(&mut self) {
        self.finish(State::Dropped);
    }
}

impl ReplyReceiver {
    /// Waits at most `timeout` for the reply.
    pub(crate) fn recv_timeout(
        self,
        timeout: Duration,
    ) -> Result<Reply, ReplyError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.slot.lock();
        loop {
            match std::mem::replace(&mut *state, State::Received) {
                State::Sent(reply) => return Ok(reply),
                State::Dropped => return Err(ReplyError::Disconnected),
                waiting => *state = waiting,
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ReplyError::Timeout);
            }
            state = self
                .slot
                .ready
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_sent_first_is_received() {
        let (sender, receiver) = reply_channel();
        sender.send(Ok(SecretValue::new(b"value-0001".to_vec())));
        let reply = receiver.recv_timeout(Duration::from_secs(1)).unwrap();
        assert_eq!(reply.unwrap().expose(), b"value-0001");
    }

    #[test]
    fn reply_from_other_thread_wakes_caller() {
        let (sender, receiver) = reply_channel();
        let actor = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            sender.send(Err(SecretError::Unknown("x".into())));
        });
        let reply = receiver.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(reply.unwrap_err(), SecretError::Unknown("x".into()));
        actor.join().unwrap();
    }

    #[test]
    fn dropped_sender_is_disconnected() {
        let (sender, receiver) = reply_channel();
        let actor = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(sender);
        });
        let started = Instant::now();
        let err = receiver.recv_timeout(Duration::from_secs(5)).unwrap_err();
        assert_eq!(err, ReplyError::Disconnected);
        assert!(started.elapsed() < Duration::from_secs(4));
        actor.join().unwrap();
    }

    #[test]
    fn no_reply_times_out() {
        let (_sender, receiver) = reply_channel();
        let started = Instant::now();
        let err = receiver
            .recv_timeout(Duration::from_millis(50))
            .unwrap_err();
        assert_eq!(err, ReplyError::Timeout);
        assert!(started.elapsed() >= Duration::from_millis(50));
    }
}
