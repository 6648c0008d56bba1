//! Redaction of a stream that arrives in chunks, such as a command's
//! output read from a pipe.
//!
//! The stream holds back only the longest suffix of its text that is a
//! proper prefix of some pattern (a value or an encoded form), because
//! only those bytes could begin a value that the next chunk completes.
//! A line of ordinary output is therefore emitted as soon as it is
//! pushed. A replacement that ends inside that suffix also waits, since
//! an overlapping value may still extend it. The stream keeps at least
//! `max_len - 1` already-emitted bytes before the cursor as context for
//! such overlaps. A stream picks up values registered after it was
//! opened at its next `push`.

use std::sync::Arc;

use super::prefixes::Tail;
use super::scan::{self, Cursor};
use super::{Redactor, Snapshot};

/// Redacts one stream. Output may be held back until a later chunk or
/// [`finish`](Self::finish) shows that it does not begin a value.
pub struct StreamRedactor {
    redactor: Arc<Redactor>,
    snapshot: Arc<Snapshot>,
    /// Context bytes before `cursor.pos`, then bytes held back.
    buf: Vec<u8>,
    cursor: Cursor,
    /// The suffix of `buf` that may still grow into a pattern.
    tail: Tail,
}

impl StreamRedactor {
    pub(super) fn new(redactor: Arc<Redactor>) -> Self {
        let snapshot = redactor.snapshot();
        Self {
            redactor,
            snapshot,
            buf: Vec::new(),
            cursor: Cursor::default(),
            tail: Tail::default(),
        }
    }

    /// Feeds a chunk and appends whatever can no longer change to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.refresh();
        self.buf.extend_from_slice(chunk);
        let hold = self.tail.update(&self.snapshot, &self.buf);
        scan::scan_until(
            &self.snapshot,
            &self.buf,
            &mut self.cursor,
            hold,
            out,
        );
        self.trim();
    }

    /// Ends the stream: appends everything still held back to `out`.
    /// The stream can then be reused for a new one.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.refresh();
        scan::scan(&self.snapshot, &self.buf, &mut self.cursor, true, out);
        self.buf.clear();
        self.cursor = Cursor::default();
        self.tail.reset(0);
    }

    /// Bytes received but not yet emitted.
    pub fn held_back(&self) -> usize {
        self.buf.len() - self.cursor.pos
    }

    fn refresh(&mut self) {
        if self.snapshot.generation != self.redactor.generation() {
            self.snapshot = self.redactor.snapshot();
            // New patterns can make earlier suffixes prefixes again.
            // Emitted plain text cannot begin a match any more, but
            // replaced text can still be overlapped.
            let from = if self.cursor.in_region {
                0
            } else {
                self.cursor.pos
            };
            self.tail.reset(from);
        }
    }

    /// Drops context older than a pattern's length before the cursor.
    /// The bytes are moved only once the part to drop is at least as
    /// long as the part kept, so with a long pattern and small chunks
    /// each byte is still moved a bounded number of times.
    fn trim(&mut self) {
        let keep = self.snapshot.max_len.saturating_sub(1);
        let drop = self.cursor.pos.saturating_sub(keep);
        if drop > 0 && drop >= self.buf.len() - drop {
            self.buf.drain(..drop);
            self.cursor.pos -= drop;
            self.cursor.probe = self.cursor.probe.saturating_sub(drop);
            self.tail.shift(drop);
        }
    }
}

impl Drop for StreamRedactor {
    fn drop(&mut self) {
        // Held-back bytes may be part of a value.
        zeroize::Zeroize::zeroize(&mut self.buf);
    }
}
