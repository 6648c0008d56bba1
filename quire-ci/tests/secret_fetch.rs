//! The API transport: the secret-fetch thread against a real HTTP
//! server on 127.0.0.1.

mod secret_server;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use quire_ci::secret::{
    FetchConfig, FetchStartError, Redactor, RetryPolicy, SecretError,
    SecretFetcher, SecretRegistry, SecretValue,
};
use quire_proto::SecretSource;
use secret_server::{RUN_ID, SecretServer, TOKEN, closed_port_url};

/// Returns the buffer of every trace line of this test binary, at
/// debug level.
fn traces() -> &'static Arc<Mutex<Vec<u8>>> {
    static TRACES: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    TRACES.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buffer);
        tracing_subscriber::fmt()
            .with_env_filter("quire_ci::secret=debug")
            .with_ansi(false)
            .with_writer(move || TraceSink(Arc::clone(&sink)))
            .init();
        buffer
    })
}

struct TraceSink(Arc<Mutex<Vec<u8>>>);

impl Write for TraceSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 5,
        first_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
    }
}

fn fetcher(url: &str, token: &str, timeout: Duration) -> SecretFetcher {
    traces();
    let mut config = FetchConfig::new(
        url,
        RUN_ID,
        SecretValue::new(token.as_bytes().to_vec()),
        timeout,
    );
    config.retry = fast_retry();
    SecretFetcher::start(config).unwrap()
}

fn registry(fetcher: &SecretFetcher) -> SecretRegistry {
    SecretRegistry::with_fetcher(fetcher.handle(), Redactor::new())
}

const SECONDS: Duration = Duration::from_secs(10);

#[test]
fn ok_value_fetched_once() {
    let server = SecretServer::start(&[("deploy_key", "dk-value-0001")]);
    let fetcher = fetcher(&server.url, TOKEN, SECONDS);
    let registry = registry(&fetcher);

    let first = registry.resolve("deploy_key", "deploy").unwrap();
    assert_eq!(first.value.expose(), b"dk-value-0001");
    assert_eq!(first.source, SecretSource::Api);
    assert!(!first.cached);
    let second = registry.resolve("deploy_key", "test").unwrap();
    assert!(second.cached);
    assert_eq!(server.hits("deploy_key"), 1);
    assert_eq!(
        registry.redactor().redact_str("key dk-value-0001"),
        "key {{ deploy_key }}"
    );
}

#[test]
fn not_found_is_unknown_secret() {
    let server = SecretServer::start(&[]);
    let fetcher = fetcher(&server.url, TOKEN, SECONDS);
    let registry = registry(&fetcher);
    let err = registry.resolve("nope", "build").unwrap_err();
    assert_eq!(err.to_string(), "unknown secret: nope");
    let again = registry.resolve("nope", "build").unwrap_err();
    assert_eq!(again.to_string(), "unknown secret: nope");
    assert_eq!(server.hits("nope"), 1);
}

#[test]
fn wrong_token_is_refused() {
    let server = SecretServer::start(&[("deploy_key", "dk-value-0002")]);
    let fetcher = fetcher(&server.url, "wrong-token-aaaa", SECONDS);
    let err = registry(&fetcher)
        .resolve("deploy_key", "build")
        .unwrap_err();
    assert_eq!(
        err,
        SecretError::Refused {
            name: "deploy_key".into(),
            status: 401
        }
    );
    let text = err.to_string();
    assert!(text.contains("refused this run's token"), "{text}");
    assert!(!text.contains("wrong-token-aaaa"), "{text}");
    assert_eq!(server.hits("deploy_key"), 1, "401 is not retried");
}

#[test]
fn forbidden_is_refused() {
    let server = SecretServer::start(&[]);
    let fetcher = fetcher(&server.url, TOKEN, SECONDS);
    let err = registry(&fetcher).resolve("forbidden-x", "b").unwrap_err();
    assert!(
        matches!(err, SecretError::Refused { status: 403, .. }),
        "{err:?}"
    );
}

#[test]
fn server_error_then_ok_is_retried() {
    let server = SecretServer::start(&[]);
    let fetcher = fetcher(&server.url, TOKEN, SECONDS);
    let value = registry(&fetcher).resolve("flaky-1", "build").unwrap();
    assert_eq!(value.value.expose(), b"flaky-value!");
    assert_eq!(server.hits("flaky-1"), 2);
}

#[test]
fn server_errors_exhaust_retries() {
    let server = SecretServer::start(&[]);
    let fetcher = fetcher(&server.url, TOKEN, SECONDS);
    let err = registry(&fetcher).resolve("broken-1", "build").unwrap_err();
    let SecretError::Unavailable {
        name,
        server_url,
        attempts,
        last,
    } = &err
    else {
        panic!("expected Unavailable, got {err:?}");
    };
    assert_eq!(name, "broken-1");
    assert_eq!(server_url, &server.url);
    assert_eq!(*attempts, 5);
    assert_eq!(last, "HTTP 500: boom");
    assert_eq!(server.hits("broken-1"), 5);
    let text = err.to_string();
    assert!(text.contains(&server.url), "{text}");
    assert!(text.contains("after 5 tries"), "{text}");
}

#[test]
fn unreadable_source_not_retried() {
    let server = SecretServer::start(&[]);
    let fetcher = fetcher(&server.url, TOKEN, SECONDS);
    let registry = registry(&fetcher);
    let err = registry.resolve("unreadable-key", "deploy").unwrap_err();
    let SecretError::SourceUnavailable { name, message } = &err else {
        panic!("expected SourceUnavailable, got {err:?}");
    };
    assert_eq!(name, "unreadable-key");
    assert_eq!(
        message,
        &secret_server::unreadable_message("unreadable-key")
    );
    assert_eq!(err.to_string(), *message);
    assert_eq!(server.hits("unreadable-key"), 1);

    // Not cached: once the operator fixes the source, a later call can
    // succeed, so each call requests the value from the server again.
    registry.resolve("unreadable-key", "deploy").unwrap_err();
    assert_eq!(server.hits("unreadable-key"), 2);
}

#[test]
fn nothing_listening_is_unavailable() {
    let url = closed_port_url();
    let fetcher = fetcher(&url, TOKEN, SECONDS);
    let err = registry(&fetcher).resolve("deploy_key", "b").unwrap_err();
    let SecretError::Unavailable { last, attempts, .. } = &err else {
        panic!("expected Unavailable, got {err:?}");
    };
    assert_eq!(*attempts, 5);
    assert!(last.to_lowercase().contains("connect"), "{last}");
    assert!(err.to_string().contains(&url), "{err}");
}

#[test]
fn slow_server_times_out() {
    let server = SecretServer::start(&[]);
    let fetcher = fetcher(&server.url, TOKEN, Duration::from_millis(300));
    let started = Instant::now();
    let err = registry(&fetcher).resolve("slow-3000-a", "b").unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(err, SecretError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("--secret-timeout"), "{err}");
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

#[test]
fn concurrent_requests_share_one_call() {
    let server = SecretServer::start(&[]);
    let fetcher = fetcher(&server.url, TOKEN, SECONDS);
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let handle = fetcher.handle();
            std::thread::spawn(move || {
                handle.fetch("slow-300-shared", &format!("job{i}"))
            })
        })
        .collect();
    for thread in threads {
        let value = thread.join().unwrap().unwrap();
        assert_eq!(value.expose(), b"slow-value!");
    }
    assert_eq!(server.hits("slow-300-shared"), 1);
}

#[test]
fn concurrent_registry_resolves_share_one_call() {
    let server = SecretServer::start(&[]);
    let fetcher = fetcher(&server.url, TOKEN, SECONDS);
    let registry = Arc::new(registry(&fetcher));
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let registry = Arc::clone(&registry);
            std::thread::spawn(move || {
                registry.resolve("slow-200-reg", &format!("j{i}")).unwrap()
            })
        })
        .collect();
    let uncached = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|r| !r.cached)
        .count();
    assert_eq!(uncached, 1);
    assert_eq!(server.hits("slow-200-reg"), 1);
}

#[test]
fn caller_thread_never_enters_runtime() {
    let server = SecretServer::start(&[("deploy_key", "dk-value-0003")]);
    let fetcher = fetcher(&server.url, TOKEN, SECONDS);
    let handle = fetcher.handle();

    let caller = std::thread::spawn(move || {
        let value = handle.fetch("deploy_key", "build").unwrap();
        assert!(tokio::runtime::Handle::try_current().is_err());
        (std::thread::current().id(), value)
    });
    let (caller_id, value) = caller.join().unwrap();
    assert_eq!(value.expose(), b"dk-value-0003");
    let runtime_threads = fetcher.runtime_threads();
    assert!(!runtime_threads.is_empty());
    assert!(!runtime_threads.contains(&caller_id));
    assert!(!runtime_threads.contains(&std::thread::current().id()));

    // A caller inside another runtime still works: the handle never
    // calls `block_on`, which would panic there.
    let outer = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let handle = fetcher.handle();
    let value = outer.block_on(async move { handle.fetch("deploy_key", "b") });
    assert_eq!(value.unwrap().expose(), b"dk-value-0003");
}

#[test]
fn shutdown_answers_request_in_flight() {
    let server = SecretServer::start(&[]);
    let fetcher = fetcher(&server.url, TOKEN, SECONDS);
    let handle = fetcher.handle();
    let started = Instant::now();
    let caller =
        std::thread::spawn(move || handle.fetch("slow-5000-inflight", "b"));
    while server.hits("slow-5000-inflight") == 0 {
        assert!(started.elapsed() < SECONDS, "request never arrived");
        std::thread::sleep(Duration::from_millis(5));
    }
    fetcher.shutdown();
    let err = caller.join().unwrap().unwrap_err();
    assert_eq!(
        err,
        SecretError::Stopped {
            name: "slow-5000-inflight".into()
        }
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn fetch_after_shutdown_is_stopped() {
    let server = SecretServer::start(&[("deploy_key", "dk-value-0004")]);
    let fetcher = fetcher(&server.url, TOKEN, SECONDS);
    let handle = fetcher.handle();
    fetcher.shutdown();
    let err = handle.fetch("deploy_key", "b").unwrap_err();
    assert!(matches!(err, SecretError::Stopped { .. }), "{err:?}");
    assert_eq!(server.total_hits(), 0);
}

#[test]
fn connects_before_first_request() {
    let server = SecretServer::start(&[("deploy_key", "dk-value-0005")]);
    let fetcher = fetcher(&server.url, TOKEN, SECONDS);
    let started = Instant::now();
    while server.hits("/healthz") == 0 {
        assert!(started.elapsed() < SECONDS, "no early connection");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(server.total_hits(), 0);
    let value = fetcher.handle().fetch("deploy_key", "b").unwrap();
    assert_eq!(value.expose(), b"dk-value-0005");
    assert_eq!(server.hits("/healthz"), 1);
}

#[test]
fn first_request_reuses_early_connection() {
    let values: Vec<(String, String)> = (0..20)
        .map(|i| (format!("early{i}"), format!("early-value-{i:04}")))
        .collect();
    let borrowed: Vec<(&str, &str)> = values
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let server = SecretServer::start(&borrowed);
    let fetcher = fetcher(&server.url, TOKEN, SECONDS);
    let handle = fetcher.handle();

    // Asked at once, before the early connection can be open: the
    // request waits for it instead of opening a second one.
    for (name, value) in &values {
        assert_eq!(handle.fetch(name, "b").unwrap().expose(), value.as_bytes());
    }
    assert_eq!(server.hits("/healthz"), 1);
    assert_eq!(server.total_hits(), values.len());
    assert_eq!(server.connections(), 1);
}

#[test]
fn invalid_name_sends_no_request() {
    let server = SecretServer::start(&[]);
    let fetcher = fetcher(&server.url, TOKEN, SECONDS);
    for name in ["../x", "a/b", "", "sp ace"] {
        let err = fetcher.handle().fetch(name, "b").unwrap_err();
        assert!(matches!(err, SecretError::InvalidName(_)), "{name:?}");
    }
    assert_eq!(server.total_hits(), 0);
}

#[test]
fn start_rejects_bad_config() {
    let token = || SecretValue::new(b"tok".to_vec());
    let cases = [
        ("https://127.0.0.1:1", RUN_ID, "only plain http://"),
        ("127.0.0.1:1", RUN_ID, "invalid server URL"),
        ("http://127.0.0.1:1", "a/b", "invalid run id"),
    ];
    for (url, run, expected) in cases {
        let config = FetchConfig::new(url, run, token(), SECONDS);
        let err = SecretFetcher::start(config).err().unwrap();
        assert!(err.to_string().contains(expected), "{url} {run}: {err}");
    }
    let with_password = FetchConfig::new(
        "https://user:hunter2-pass@127.0.0.1:1",
        RUN_ID,
        token(),
        SECONDS,
    );
    let err = SecretFetcher::start(with_password).err().unwrap();
    assert!(!err.to_string().contains("hunter2-pass"), "{err}");
    let unparsable =
        FetchConfig::new("::u:hunter2@x", RUN_ID, token(), SECONDS);
    let err = SecretFetcher::start(unparsable).err().unwrap();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let empty = FetchConfig::new(
        "http://127.0.0.1:1",
        RUN_ID,
        SecretValue::new(Vec::new()),
        SECONDS,
    );
    let err = SecretFetcher::start(empty).err().unwrap();
    assert!(matches!(err, FetchStartError::InvalidToken(_)), "{err}");
}

#[test]
fn traces_carry_ids_but_no_values() {
    let server = SecretServer::start(&[("traced_key", "traced-value-77")]);
    let fetcher = fetcher(&server.url, TOKEN, SECONDS);
    fetcher.handle().fetch("traced_key", "trace-job").unwrap();
    fetcher.shutdown();

    let text = String::from_utf8(traces().lock().unwrap().clone()).unwrap();
    let answered: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("secret request answered"))
        .filter(|l| l.contains("secret=traced_key"))
        .collect();
    assert_eq!(answered.len(), 1, "{text}");
    let line = answered[0];
    for field in [
        "id=",
        "job=trace-job",
        "queued_us=",
        "fetch_us=",
        "status=200",
        "retries=0",
        "outcome=\"ok\"",
    ] {
        assert!(line.contains(field), "{field} missing in {line}");
    }
    assert!(text.contains("secret request received"), "{text}");
    for hidden in [TOKEN, "traced-value-77", "dk-value-000"] {
        assert!(!text.contains(hidden), "{hidden} leaked: {text}");
    }
}
