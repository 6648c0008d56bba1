//! The per-run registry: every `(secret name)` of a run goes through
//! it.
//!
//! A name is looked up in the declared values (the filesystem
//! transport, or `--secrets` in a local run) or sent to the
//! secret-fetch thread (the API transport). The result is cached, so
//! each name is revealed at most once per run. An unknown name is
//! cached too: asking again gives the same error without a request.
//! Timeouts, transport failures and a source the server cannot read
//! are not cached, so a later call may succeed once the cause is fixed.
//!
//! Every revealed value is registered with the redactor before it is
//! returned, whichever transport produced it. A value shorter than
//! [`MIN_REDACTED_LEN`] bytes is returned but cannot be redacted, and
//! the registry warns once per name.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use quire_proto::SecretSource;
use quire_proto::secret_api::validate_secret_name;

use super::error::SecretError;
use super::fetch::FetchHandle;
use super::redactor::{MIN_REDACTED_LEN, Redactor};
use super::value::SecretValue;

/// A resolved value and where it came from.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub value: SecretValue,
    pub source: SecretSource,
    /// True when the registry already held the value.
    pub cached: bool,
}

/// Source of values for names that are not cached yet.
enum Backend {
    /// Values known up front.
    Declared(HashMap<String, SecretValue>),
    /// Values fetched from the server through the secret-fetch thread.
    Api(FetchHandle),
}

/// Cache entry for a name: its value, or the fact that it is unknown.
enum Cached {
    Value(SecretValue),
    Unknown,
}

/// The per-run registry of secret values.
pub struct SecretRegistry {
    backend: Backend,
    /// Results so far. The lock is not held while fetching, so jobs on
    /// other threads are not blocked by one slow name.
    cache: Mutex<HashMap<String, Cached>>,
    /// Names whose value was too short to redact, warned about once.
    warned_short: Mutex<HashSet<String>>,
    redactor: Arc<Redactor>,
}

impl SecretRegistry {
    /// Creates a registry over values declared up front (the
    /// filesystem transport, or `--secrets` in a local run).
    pub fn with_declared(
        declared: BTreeMap<String, SecretValue>,
        redactor: Arc<Redactor>,
    ) -> Self {
        Self::new(Backend::Declared(declared.into_iter().collect()), redactor)
    }

    /// Creates a registry that fetches values from the server (the API
    /// transport) through a handle of the secret-fetch thread.
    pub fn with_fetcher(fetcher: FetchHandle, redactor: Arc<Redactor>) -> Self {
        Self::new(Backend::Api(fetcher), redactor)
    }

    fn new(backend: Backend, redactor: Arc<Redactor>) -> Self {
        Self {
            backend,
            cache: Mutex::default(),
            warned_short: Mutex::default(),
            redactor,
        }
    }

    /// Resolves `name` for `job`: from the cache, or else from the
    /// declared values or the server. Blocks the calling thread while a
    /// value is fetched, up to the fetcher's timeout.
    pub fn resolve(
        &self,
        name: &str,
        job: &str,
    ) -> Result<Resolution, SecretError> {
        validate_secret_name(name).map_err(SecretError::InvalidName)?;
        if let Some(cached) = lock(&self.cache).get(name) {
            return match cached {
                Cached::Value(value) => Ok(Resolution {
                    value: value.clone(),
                    source: self.source(),
                    cached: true,
                }),
                Cached::Unknown => Err(SecretError::Unknown(name.into())),
            };
        }

        let revealed = match &self.backend {
            Backend::Declared(values) => values
                .get(name)
                .cloned()
                .ok_or_else(|| SecretError::Unknown(name.to_string())),
            Backend::Api(fetcher) => fetcher.fetch(name, job),
        };
        let value = match revealed {
            Ok(value) => value,
            Err(SecretError::Unknown(name)) => {
                lock(&self.cache).insert(name.clone(), Cached::Unknown);
                return Err(SecretError::Unknown(name));
            }
            Err(err) => return Err(err),
        };

        self.register(name, &value);
        // Another thread may have resolved the name meanwhile; the
        // first value stored wins, and only the first caller reports
        // an uncached resolution.
        let mut cache = lock(&self.cache);
        let cached = match cache.get(name) {
            Some(Cached::Value(_)) => true,
            _ => {
                cache.insert(name.to_string(), Cached::Value(value.clone()));
                false
            }
        };
        Ok(Resolution {
            value,
            source: self.source(),
            cached,
        })
    }

    /// Returns the redactor that every resolved value is registered with.
    pub fn redactor(&self) -> &Arc<Redactor> {
        &self.redactor
    }

    fn source(&self) -> SecretSource {
        match self.backend {
            Backend::Declared(_) => SecretSource::Declared,
            Backend::Api(_) => SecretSource::Api,
        }
    }

    fn register(&self, name: &str, value: &SecretValue) {
        if self.redactor.register(name, value.expose()) {
            return;
        }
        if lock(&self.warned_short).insert(name.to_string()) {
            tracing::warn!(
                target: "quire_ci::secret",
                secret = name,
                len = value.len(),
                "secret {name} is shorter than {MIN_REDACTED_LEN} bytes, \
                 so it is not redacted: replacing every occurrence of so \
                 short a string would garble logs; use a longer value"
            );
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
