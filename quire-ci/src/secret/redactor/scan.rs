//! The matching loop shared by whole-buffer and streaming redaction.
//!
//! Output is decided left to right, and a decision is made only once
//! every pattern that could change it is fully visible, so a stream
//! cut into any chunks produces the same bytes as the whole text. The
//! caller passes `hold`, and every pattern occurrence that runs past
//! the end of the buffer starts at or after it. At the end of the text
//! `hold` is the buffer's length. In a stream it is the start of the
//! longest suffix that is a proper prefix of a pattern.
//!
//! 1. From the cursor, find the leftmost-longest match. A match that
//!    starts before `hold` is final: every pattern that starts there,
//!    and every earlier one, ends inside the buffer.
//! 2. After a replacement that ends at `e`, look for a pattern that
//!    starts before `e` and ends after it (an overlapping value). If
//!    one does, replace the rest of it too, up to the furthest such
//!    end, and repeat. This is final once `e <= hold`.
//! 3. Plain text before the next possible match start is emitted.
//!
//! So the bytes held back between chunks are at most those from `hold`
//! on: the ones that could still begin or extend a match.

use std::cmp::Reverse;
use std::sync::atomic::Ordering;

use aho_corasick::{AhoCorasick, Anchored, Input, Match};

use super::Snapshot;
use super::prefilter::QGRAM;

/// The position of a scan in its buffer.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Cursor {
    /// First byte not yet emitted or replaced.
    pub pos: usize,
    /// True when the bytes just before `pos` were replaced, so a
    /// pattern overlapping them may still extend the replacement.
    pub in_region: bool,
    /// The next q-gram probe to examine. Every probe before it on the
    /// same grid has been ruled out, so a stream does not probe and
    /// search its held-back bytes again on each chunk. Used only while
    /// it is at or after `pos` and was set with the current snapshot.
    pub probe: usize,
    /// The generation of the snapshot `probe` was computed with.
    pub probe_generation: u64,
}

/// Emits the redacted form of `buf[cursor.pos..]` into `out`, up to the
/// point where later bytes could still change it. With `eof`, the end
/// of `buf` is the end of the text and everything is emitted. Without
/// it, any `max_len - 1` bytes at the end are held back.
pub(crate) fn scan(
    snapshot: &Snapshot,
    buf: &[u8],
    cursor: &mut Cursor,
    eof: bool,
    out: &mut Vec<u8>,
) {
    let hold = if eof {
        buf.len()
    } else {
        (buf.len() + 1).saturating_sub(snapshot.max_len)
    };
    scan_until(snapshot, buf, cursor, hold, out);
}

/// Emits the redacted form of `buf[cursor.pos..]` into `out`, given
/// that no pattern occurrence that starts before `hold` runs past the
/// end of `buf`.
pub(crate) fn scan_until(
    snapshot: &Snapshot,
    buf: &[u8],
    cursor: &mut Cursor,
    hold: usize,
    out: &mut Vec<u8>,
) {
    let Some(longest) = snapshot.searcher(buf.len() - cursor.pos) else {
        out.extend_from_slice(&buf[cursor.pos..]);
        cursor.pos = buf.len();
        cursor.in_region = false;
        return;
    };
    // Matches that start before `decided` are entirely inside `buf`.
    let decided = hold.min(buf.len());

    loop {
        if cursor.in_region {
            if cursor.pos > decided {
                return;
            }
            match furthest_overlap(snapshot, buf, cursor.pos) {
                Some((pattern, end)) => {
                    out.extend_from_slice(&snapshot.replacement[pattern]);
                    cursor.pos = end;
                    continue;
                }
                None => cursor.in_region = false,
            }
        }

        if cursor.pos >= decided {
            return;
        }
        match find_longest(snapshot, longest, buf, cursor, decided) {
            Some(found) if found.start() < decided => {
                out.extend_from_slice(&buf[cursor.pos..found.start()]);
                out.extend_from_slice(
                    &snapshot.replacement[found.pattern().as_usize()],
                );
                cursor.pos = found.end();
                cursor.in_region = true;
            }
            _ => {
                out.extend_from_slice(&buf[cursor.pos..decided]);
                cursor.pos = decided;
                return;
            }
        }
    }
}

/// Finds the leftmost-longest match in `buf[cursor.pos..]` among the
/// matches that start before `before`; a later match may be returned
/// too, and the caller ignores it.
///
/// With a q-gram filter, the automaton runs only around probes that
/// hit. Probes are `stride` apart, and every pattern is at least
/// `stride + QGRAM - 1` bytes long, so an occurrence contains the first
/// probe at or after its start. An occurrence containing the q-gram
/// at probe `i` lies in `[i + QGRAM - max_len, i + max_len)`, and so
/// does every longer alternative at its start. A search of that window
/// that finds a match starting at or before `i` has found the leftmost
/// one, since any earlier occurrence would contain an earlier probe,
/// and those were ruled out. A search that finds none, or only a later
/// match, rules the probe out once the window is complete in `buf`.
///
/// `cursor.probe` carries the first probe not ruled out from one call
/// to the next, so each probe is searched about once however the text
/// is cut into chunks. Probes past `before + stride` cannot be the
/// first probe of an occurrence that starts before `before`, so they
/// wait for a later call.
fn find_longest(
    snapshot: &Snapshot,
    longest: &AhoCorasick,
    buf: &[u8],
    cursor: &mut Cursor,
    before: usize,
) -> Option<Match> {
    let len = buf.len();
    let from = cursor.pos;
    let Some(filter) = &snapshot.filter else {
        let input = Input::new(buf).span(from..len).anchored(Anchored::No);
        return longest.find(input);
    };
    let max_len = snapshot.max_len;
    let resume =
        cursor.probe >= from && cursor.probe_generation == snapshot.generation;
    let mut probe = if resume { cursor.probe } else { from };
    cursor.probe_generation = snapshot.generation;
    // The first probe whose window was cut short by the end of `buf`.
    let mut unresolved = None;
    while probe + QGRAM <= len && probe < before + filter.stride {
        if filter.may_match(buf, probe) {
            // NOTE: a false positive of the filter still searches up to
            // 2 * max_len bytes. Values of hundreds of KiB fill the
            // filter's table to its size cap, so false positives then
            // grow more frequent, and text costs more per byte.
            let start = (probe + QGRAM).saturating_sub(max_len).max(from);
            let end = (probe + max_len).min(len);
            let input = Input::new(buf).span(start..end);
            snapshot.searched.fetch_add(end - start, Ordering::Relaxed);
            let found = longest.find(input);
            if let Some(found) = found
                && found.start() <= probe
            {
                cursor.probe = unresolved.unwrap_or(probe);
                return Some(found);
            }
            if end < probe + max_len && unresolved.is_none() {
                unresolved = Some(probe);
            }
        }
        probe += filter.stride;
    }
    cursor.probe = unresolved.unwrap_or(probe);
    None
}

/// Finds the pattern that starts before `pos` and ends furthest after
/// it; returns its index and end. Ties go to the earlier start, then to
/// the lower pattern index, so the choice does not depend on chunking.
fn furthest_overlap(
    snapshot: &Snapshot,
    buf: &[u8],
    pos: usize,
) -> Option<(usize, usize)> {
    let reach = snapshot.max_len - 1;
    let from = pos.saturating_sub(reach);
    let to = (pos + reach).min(buf.len());
    let input = Input::new(buf).span(from..to);
    snapshot
        .overlapping()
        .find_overlapping_iter(input)
        .filter(|m| m.start() < pos && m.end() > pos)
        .max_by_key(|m| (m.end(), Reverse(m.start()), Reverse(m.pattern())))
        .map(|m| (m.pattern().as_usize(), m.end()))
}
