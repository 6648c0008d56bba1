//! Secret values, the per-run registry and the redactor.
//!
//! PLACEHOLDER: a minimal, naive version that fixes the public
//! interface the runner builds against. The real redactor, the
//! registry's transports and the secret-fetch actor replace it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};

use quire_proto::SecretSource;
use zeroize::Zeroizing;

/// A revealed secret value, zeroed on drop; `Debug` hides it.
#[derive(Clone)]
pub struct SecretValue(Zeroizing<Vec<u8>>);

impl SecretValue {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Replaces registered values with `{{ name }}` in recorded text.
#[derive(Default)]
pub struct Redactor {
    values: RwLock<Vec<(String, Vec<u8>)>>,
}

impl Redactor {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Registers `value` under `name`.
    pub fn register(&self, name: &str, value: &[u8]) {
        self.values
            .write()
            .unwrap()
            .push((name.into(), value.to_vec()));
    }

    /// Redacts a complete buffer.
    pub fn redact(&self, input: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for (name, value) in self.values.read().unwrap().iter() {
            out = replace(&out, value, format!("{{{{ {name} }}}}").as_bytes());
        }
        out
    }

    /// Redacts a complete string.
    pub fn redact_str(&self, input: &str) -> String {
        String::from_utf8_lossy(&self.redact(input.as_bytes())).into_owned()
    }

    /// Starts redacting a stream that arrives in chunks.
    pub fn stream(self: &Arc<Self>) -> StreamRedactor {
        StreamRedactor {
            redactor: Arc::clone(self),
            pending: Vec::new(),
        }
    }
}

fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// Redacts one stream: output may be held back until a later chunk or
/// `finish` shows that it is not the start of a value.
pub struct StreamRedactor {
    redactor: Arc<Redactor>,
    pending: Vec<u8>,
}

impl StreamRedactor {
    /// Feeds a chunk; appends whatever is safe to emit to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        // Naive placeholder: buffers everything until `finish`.
        self.pending.extend_from_slice(chunk);
        let _ = out;
    }

    /// Ends the stream; appends everything still held back.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        out.extend(self.redactor.redact(&self.pending));
        self.pending.clear();
    }
}

/// Why a secret could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("unknown secret: {0}")]
    Unknown(String),
    #[error("{0}")]
    Failed(String),
}

/// A resolved value and where it came from.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub value: SecretValue,
    pub source: SecretSource,
    /// True when the registry already held the value.
    pub cached: bool,
}

/// The per-run registry of secret values.
pub struct SecretRegistry {
    declared: HashMap<String, SecretValue>,
    seen: Mutex<HashMap<String, ()>>,
    redactor: Arc<Redactor>,
}

impl SecretRegistry {
    /// A registry over values declared up front (the filesystem
    /// transport, or `--secrets` in a local run).
    pub fn with_declared(
        declared: BTreeMap<String, SecretValue>,
        redactor: Arc<Redactor>,
    ) -> Self {
        Self {
            declared: declared.into_iter().collect(),
            seen: Mutex::default(),
            redactor,
        }
    }

    /// Resolves `name` for `job`.
    pub fn resolve(
        &self,
        name: &str,
        _job: &str,
    ) -> Result<Resolution, SecretError> {
        let value = self
            .declared
            .get(name)
            .ok_or_else(|| SecretError::Unknown(name.to_string()))?;
        let cached = self
            .seen
            .lock()
            .unwrap()
            .insert(name.to_string(), ())
            .is_some();
        if !cached {
            self.redactor.register(name, value.expose());
        }
        Ok(Resolution {
            value: value.clone(),
            source: SecretSource::Declared,
            cached,
        })
    }

    pub fn redactor(&self) -> &Arc<Redactor> {
        &self.redactor
    }
}
