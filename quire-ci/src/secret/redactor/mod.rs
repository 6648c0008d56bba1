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
    /// [`DFA_AFTER_BYTES`]. A run that reveals values one by one, with
    /// output in between, rebuilds its automaton after each, so only a
    /// snapshot that lives long enough pays for the faster form.
    fast: OnceLock<AhoCorasick>,
    /// Bytes scanned with this snapshot so far.
    scanned: AtomicUsize,
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
            filter: None,
            overlapping: OnceLock::new(),
            patterns: Vec::new(),
            prefixes: OnceLock::new(),
            replacement: Vec::new(),
            max_len: 0,
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
            filter: QgramFilter::new(patterns.iter().map(|p| p.as_slice())),
            overlapping: OnceLock::new(),
            prefixes: OnceLock::new(),
            max_len: patterns.iter().map(|p| p.len()).max().unwrap_or(0),
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
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
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
