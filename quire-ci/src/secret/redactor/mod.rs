//! The redactor: replaces every registered secret value, and its
//! encoded forms, with `{{ name }}` in everything a run records.
//!
//! The search is an Aho-Corasick automaton (the `aho-corasick` crate)
//! over all patterns at once, so the cost per byte
//! does not grow with the number of secrets the way one substring
//! search per value would. Values can be registered at any time, also
//! while streams are open, because the API transport reveals them in
//! the middle of a run. Registering only records the value and bumps a
//! generation counter. The next redaction that finds a newer
//! generation rebuilds the automaton.
//!
//! Matching rules (see `scan` for how they hold across chunks):
//! - The longest pattern wins among those starting at the leftmost
//!   position.
//! - Patterns that overlap the replaced text are replaced as well, each
//!   by its own `{{ name }}`, so no fragment of an overlapping value is
//!   left to be stitched back together.
//! - Values shorter than [`MIN_REDACTED_LEN`] bytes are not registered:
//!   replacing every occurrence of a short string would mangle output
//!   without hiding much.
//!
//! Limits: the automaton's tables hold the pattern bytes and are not
//! zeroed on drop. Text already emitted before a value is registered
//! is not redacted again.

mod encodings;
mod prefilter;
mod prefixes;
mod scan;
mod stream;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use zeroize::Zeroizing;

use prefilter::QgramFilter;

pub use encodings::encoded_forms;
pub use stream::StreamRedactor;

/// Values shorter than this many bytes are not redacted.
pub const MIN_REDACTED_LEN: usize = 8;

/// Bytes a snapshot scans with its NFA before it builds its DFA.
const DFA_AFTER_BYTES: usize = 1 << 20;

/// Total pattern bytes above which no DFA is built. A DFA has about one
/// state per pattern byte and a table row per state, so its build time
/// and memory grow with the patterns times the alphabet. A single
/// 256 KiB value (with its encoded forms, about 1.7 MB of patterns)
/// took seconds and hundreds of megabytes. The q-gram filter keeps the
/// automaton off most text, so the NFA's slower search costs little.
/// 100 values of 20 to 40 bytes with their forms come to about 20 KiB.
const DFA_MAX_PATTERN_BYTES: usize = 32 << 10;

/// Replaces registered values with `{{ name }}` in recorded text.
pub struct Redactor {
    /// Every registered pattern; the source each snapshot is built from.
    patterns: Mutex<PatternSet>,
    /// Bumped under the `patterns` lock each time a pattern is added.
    generation: AtomicU64,
    /// The latest built automaton. Readers clone the `Arc` and search
    /// without holding the lock.
    snapshot: RwLock<Arc<Snapshot>>,
}

/// Registered patterns in registration order.
#[derive(Default)]
struct PatternSet {
    /// Pattern bytes; a value or one of its encoded forms.
    bytes: Vec<Zeroizing<Vec<u8>>>,
    /// Index into `replacements` for each pattern.
    replacement: Vec<usize>,
    /// `{{ name }}` for each registered name.
    replacements: Vec<Arc<[u8]>>,
    names: Vec<String>,
    /// The same bytes as `bytes`, for finding duplicates in O(1).
    seen: HashSet<PatternBytes>,
}

/// Pattern bytes that hash and compare by content, zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
struct PatternBytes(Zeroizing<Vec<u8>>);

impl std::hash::Hash for PatternBytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.as_slice().hash(state);
    }
}

/// An immutable automaton over the patterns of one generation.
pub(crate) struct Snapshot {
    generation: u64,
    /// Leftmost-longest search over every pattern, as a contiguous NFA,
    /// which builds in about a tenth of the DFA's time; `None` when
    /// empty.
    longest: Option<AhoCorasick>,
    /// The same search as a DFA, built once this snapshot has scanned
    /// [`DFA_AFTER_BYTES`], and only for patterns of at most
    /// [`DFA_MAX_PATTERN_BYTES`] in all. A run that reveals values one
    /// by one, with output in between, rebuilds its automaton after
    /// each, so only a snapshot that lives long enough pays for the
    /// faster form.
    fast: OnceLock<AhoCorasick>,
    /// Bytes scanned with this snapshot so far.
    scanned: AtomicUsize,
    /// Bytes the q-gram filter let through to the automaton, in the
    /// windows around probes that hit. Tests use it to check that a
    /// stream searches each byte a bounded number of times.
    searched: AtomicUsize,
    /// Skips text that no pattern can occur in; `None` when empty.
    filter: Option<QgramFilter>,
    /// Standard-semantics automaton for overlapping search, built the
    /// first time a match needs its overlaps checked.
    overlapping: OnceLock<AhoCorasick>,
    patterns: Vec<Zeroizing<Vec<u8>>>,
    /// Hashes of the patterns' proper prefixes, for streams.
    prefixes: prefixes::LazyPrefixes,
    /// `{{ name }}` per pattern.
    replacement: Vec<Arc<[u8]>>,
    /// Length of the longest pattern; 0 when there are none.
    max_len: usize,
    /// Whether the patterns are small enough for a DFA.
    dfa_allowed: bool,
}

impl Redactor {
    /// Creates a redactor with no values registered.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            patterns: Mutex::default(),
            generation: AtomicU64::new(0),
            snapshot: RwLock::new(Arc::new(Snapshot::empty())),
        })
    }

    /// Registers `value` and its encoded forms under `name`. Returns
    /// false, registering nothing, for a value shorter than
    /// [`MIN_REDACTED_LEN`] bytes.
    pub fn register(&self, name: &str, value: &[u8]) -> bool {
        if value.len() < MIN_REDACTED_LEN {
            return false;
        }
        let mut set = lock(&self.patterns);
        let replacement = set.replacement_for(name);
        let mut added = set.add(value.to_vec(), replacement);
        for form in encoded_forms(value) {
            added |= set.add(form, replacement);
        }
        if added {
            self.generation.fetch_add(1, Ordering::Release);
        }
        true
    }

    /// Number of distinct patterns (values and encoded forms).
    pub fn pattern_count(&self) -> usize {
        lock(&self.patterns).bytes.len()
    }

    /// Redacts a complete buffer.
    pub fn redact(&self, input: &[u8]) -> Vec<u8> {
        let snapshot = self.snapshot();
        let mut out = Vec::with_capacity(input.len());
        let mut cursor = scan::Cursor::default();
        scan::scan(&snapshot, input, &mut cursor, true, &mut out);
        out
    }

    /// Redacts a complete string. Bytes of a non-UTF-8 value that split
    /// a character become U+FFFD.
    pub fn redact_str(&self, input: &str) -> String {
        match String::from_utf8(self.redact(input.as_bytes())) {
            Ok(text) => text,
            Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
        }
    }

    /// Starts redacting a stream that arrives in chunks.
    pub fn stream(self: &Arc<Self>) -> StreamRedactor {
        StreamRedactor::new(Arc::clone(self))
    }

    /// Returns the automaton for the current generation, building it
    /// when a value was registered since the last build.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        let wanted = self.generation.load(Ordering::Acquire);
        {
            let current = read(&self.snapshot);
            if current.generation == wanted {
                return Arc::clone(&current);
            }
        }
        let set = lock(&self.patterns);
        let generation = self.generation.load(Ordering::Acquire);
        let mut current = write(&self.snapshot);
        if current.generation != generation {
            *current = Arc::new(Snapshot::build(&set, generation));
        }
        Arc::clone(&current)
    }

    /// The generation the next snapshot will have.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

impl PatternSet {
    fn replacement_for(&mut self, name: &str) -> usize {
        if let Some(index) = self.names.iter().position(|n| n == name) {
            return index;
        }
        self.names.push(name.to_string());
        self.replacements
            .push(format!("{{{{ {name} }}}}").into_bytes().into());
        self.names.len() - 1
    }

    fn add(&mut self, bytes: Vec<u8>, replacement: usize) -> bool {
        // A value registered twice, or an encoding equal to the raw
        // value, adds one pattern; the first name registered keeps it.
        let bytes = PatternBytes(Zeroizing::new(bytes));
        if bytes.0.is_empty() || !self.seen.insert(bytes.clone()) {
            return false;
        }
        self.bytes.push(bytes.0);
        self.replacement.push(replacement);
        true
    }
}

impl Snapshot {
    fn empty() -> Self {
        Self {
            generation: 0,
            longest: None,
            fast: OnceLock::new(),
            scanned: AtomicUsize::new(0),
            searched: AtomicUsize::new(0),
            filter: None,
            overlapping: OnceLock::new(),
            patterns: Vec::new(),
            prefixes: OnceLock::new(),
            replacement: Vec::new(),
            max_len: 0,
            dfa_allowed: false,
        }
    }

    fn build(set: &PatternSet, generation: u64) -> Self {
        let patterns = set.bytes.clone();
        let longest = (!patterns.is_empty()).then(|| {
            leftmost_longest(&patterns, AhoCorasickKind::ContiguousNFA)
        });
        Self {
            generation,
            longest,
            fast: OnceLock::new(),
            scanned: AtomicUsize::new(0),
            searched: AtomicUsize::new(0),
            filter: QgramFilter::new(patterns.iter().map(|p| p.as_slice())),
            overlapping: OnceLock::new(),
            prefixes: OnceLock::new(),
            max_len: patterns.iter().map(|p| p.len()).max().unwrap_or(0),
            dfa_allowed: patterns.iter().map(|p| p.len()).sum::<usize>()
                <= DFA_MAX_PATTERN_BYTES,
            replacement: set
                .replacement
                .iter()
                .map(|&i| Arc::clone(&set.replacements[i]))
                .collect(),
            patterns,
        }
    }

    /// Returns the leftmost-longest automaton for scanning `len` more
    /// bytes: the DFA once this snapshot has scanned enough to pay for
    /// building it, else the NFA. `None` when there are no patterns.
    fn searcher(&self, len: usize) -> Option<&AhoCorasick> {
        let nfa = self.longest.as_ref()?;
        if let Some(dfa) = self.fast.get() {
            return Some(dfa);
        }
        if !self.dfa_allowed {
            return Some(nfa);
        }
        let scanned = self.scanned.fetch_add(len, Ordering::Relaxed) + len;
        if scanned < DFA_AFTER_BYTES {
            return Some(nfa);
        }
        Some(self.fast.get_or_init(|| {
            leftmost_longest(&self.patterns, AhoCorasickKind::DFA)
        }))
    }

    fn overlapping(&self) -> &AhoCorasick {
        self.overlapping.get_or_init(|| {
            // Left to itself, the crate picks a DFA for a few patterns
            // whatever their length.
            let kind = if self.dfa_allowed {
                None
            } else {
                Some(AhoCorasickKind::ContiguousNFA)
            };
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .kind(kind)
                .build(self.patterns.iter().map(|p| p.as_slice()))
                .expect("patterns within the automaton's limits")
        })
    }
}

fn leftmost_longest(
    patterns: &[Zeroizing<Vec<u8>>],
    kind: AhoCorasickKind,
) -> AhoCorasick {
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .kind(Some(kind))
        .build(patterns.iter().map(|p| p.as_slice()))
        .expect("patterns within the automaton's limits")
}

/// Locks a mutex; a panic elsewhere never leaves pattern data half
/// written, so a poisoned lock is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Streams `bytes` of text past the redactor in 64 KiB chunks, more
    /// than a snapshot scans before it may build its DFA.
    fn stream_text(redactor: &Arc<Redactor>, bytes: usize) {
        let chunk = vec![b'x'; 64 << 10];
        let mut stream = redactor.stream();
        let mut out = Vec::new();
        for _ in 0..bytes / chunk.len() {
            stream.push(&chunk, &mut out);
            out.clear();
        }
        stream.finish(&mut out);
    }

    #[test]
    fn large_value_never_builds_dfa() {
        let redactor = Redactor::new();
        let value: Vec<u8> =
            (0..64 << 10).map(|i| b'a' + (i % 26) as u8).collect();
        redactor.register("key", &value);
        stream_text(&redactor, 4 * DFA_AFTER_BYTES);
        let snapshot = redactor.snapshot();
        let searcher = snapshot.searcher(0).unwrap();
        assert_eq!(searcher.kind(), AhoCorasickKind::ContiguousNFA);
        assert!(snapshot.fast.get().is_none());
        assert_eq!(
            snapshot.overlapping().kind(),
            AhoCorasickKind::ContiguousNFA
        );
    }

    #[test]
    fn stream_searches_each_byte_boundedly() {
        let redactor = Redactor::new();
        redactor.register("token", b"tok-0123456789abcdef0123456789ab");
        let value: Vec<u8> = (0..64 << 10)
            .map(|i: usize| b"0123456789abcdef"[(i * 7 + i / 16) % 16])
            .collect();
        redactor.register("key", &value);
        let line = b"2026-12-04T15:00:00Z stdout F Compiling serde\n";
        let mut text = Vec::new();
        while text.len() < 256 << 10 {
            text.extend_from_slice(line);
        }
        text.extend_from_slice(&value);
        while text.len() < 512 << 10 {
            text.extend_from_slice(line);
        }

        let mut stream = redactor.stream();
        let mut out = Vec::new();
        for chunk in text.chunks(512) {
            stream.push(chunk, &mut out);
        }
        stream.finish(&mut out);
        assert!(!out.windows(64).any(|w| w == &value[..64]));

        // Each of the value's probes searches a window of up to twice
        // the longest pattern, so about 2 * max_len * len / stride in
        // all. Searching the held-back bytes again on each 512-byte
        // chunk made it hundreds of times the text.
        let searched = redactor.snapshot().searched.load(Ordering::Relaxed);
        assert!(
            searched <= 8 * text.len(),
            "searched {searched} bytes for {} bytes of text",
            text.len()
        );
    }

    #[test]
    fn small_values_get_dfa_after_use() {
        let redactor = Redactor::new();
        for i in 0..100 {
            redactor
                .register(&format!("s{i}"), format!("value-{i:08}").as_bytes());
        }
        stream_text(&redactor, 2 * DFA_AFTER_BYTES);
        let snapshot = redactor.snapshot();
        assert_eq!(snapshot.searcher(0).unwrap().kind(), AhoCorasickKind::DFA);
    }
}
