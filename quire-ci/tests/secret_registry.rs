//! The registry over declared values, and declared sources read from
//! real files and environment variables.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use quire_ci::secret::{
    DeclaredSecret, Redactor, SecretError, SecretRegistry, SecretValue,
    SourceError,
};
use quire_proto::SecretSource;

fn registry(values: &[(&str, &str)]) -> SecretRegistry {
    let declared: BTreeMap<String, SecretValue> = values
        .iter()
        .map(|(n, v)| (n.to_string(), SecretValue::new(v.as_bytes().to_vec())))
        .collect();
    SecretRegistry::with_declared(declared, Redactor::new())
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn with_captured_logs<T>(f: impl FnOnce() -> T) -> (T, String) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    (result, captured.text())
}

#[test]
fn declared_value_resolved_then_cached() {
    let registry = registry(&[("token", "t0ken-value-1")]);
    let first = registry.resolve("token", "build").unwrap();
    assert_eq!(first.value.expose(), b"t0ken-value-1");
    assert_eq!(first.source, SecretSource::Declared);
    assert!(!first.cached);
    let second = registry.resolve("token", "deploy").unwrap();
    assert_eq!(second.value.expose(), b"t0ken-value-1");
    assert!(second.cached);
}

#[test]
fn unknown_name_error_text() {
    let registry = registry(&[("token", "t0ken-value-1")]);
    let err = registry.resolve("missing", "build").unwrap_err();
    assert_eq!(err, SecretError::Unknown("missing".into()));
    assert_eq!(err.to_string(), "unknown secret: missing");
    let again = registry.resolve("missing", "build").unwrap_err();
    assert_eq!(again.to_string(), "unknown secret: missing");
}

#[test]
fn invalid_name_rejected() {
    let registry = registry(&[]);
    let err = registry.resolve("../etc", "build").unwrap_err();
    assert!(matches!(err, SecretError::InvalidName(_)), "{err:?}");
    assert!(err.to_string().contains("invalid secret name"), "{err}");
}

#[test]
fn resolved_value_registered_for_redaction() {
    let registry =
        registry(&[("token", "t0ken-value-1"), ("other", "other-value-2")]);
    let redactor = Arc::clone(registry.redactor());
    assert_eq!(redactor.redact_str("t0ken-value-1"), "t0ken-value-1");
    registry.resolve("token", "build").unwrap();
    assert_eq!(redactor.redact_str("use t0ken-value-1"), "use {{ token }}");
    // A name never resolved is not registered.
    assert_eq!(redactor.redact_str("other-value-2"), "other-value-2");
}

#[test]
fn short_value_returned_with_one_warning() {
    let registry = registry(&[("pin", "1234"), ("code", "abc")]);
    let (results, logs) = with_captured_logs(|| {
        (
            registry.resolve("pin", "a").unwrap(),
            registry.resolve("pin", "b").unwrap(),
            registry.resolve("code", "a").unwrap(),
        )
    });
    assert_eq!(results.0.value.expose(), b"1234");
    assert_eq!(results.1.value.expose(), b"1234");
    assert_eq!(results.2.value.expose(), b"abc");
    assert_eq!(
        logs.matches("secret pin is shorter than 8 bytes").count(),
        1
    );
    assert_eq!(
        logs.matches("secret code is shorter than 8 bytes").count(),
        1
    );
    assert!(logs.contains("not redacted"), "{logs}");
    assert!(!logs.contains("1234"), "{logs}");
    assert_eq!(registry.redactor().redact_str("pin 1234"), "pin 1234");
}

#[test]
fn concurrent_resolves_report_one_uncached() {
    let registry = Arc::new(registry(&[("token", "t0ken-value-1")]));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let registry = Arc::clone(&registry);
            std::thread::spawn(move || {
                registry
                    .resolve("token", &format!("job{i}"))
                    .unwrap()
                    .cached
            })
        })
        .collect();
    let uncached = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|cached| !cached)
        .count();
    assert_eq!(uncached, 1);
}

#[test]
fn file_source_read_on_first_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deploy.key");
    let secret = DeclaredSecret::file(&path);

    let err = secret.reveal("deploy_key").unwrap_err();
    assert!(matches!(err, SourceError::ReadFile { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("deploy_key"), "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");

    std::fs::write(&path, "key-material\n\n").unwrap();
    let value = secret.reveal("deploy_key").unwrap();
    assert_eq!(value.expose(), b"key-material\n");

    // Kept after the first successful read.
    std::fs::write(&path, "changed").unwrap();
    assert_eq!(
        secret.reveal("deploy_key").unwrap().expose(),
        b"key-material\n"
    );
}

#[test]
fn env_source_read_on_first_use() {
    let var = "QUIRE_TEST_SECRET_ENV_SOURCE";
    let secret = DeclaredSecret::env(var);
    let err = secret.reveal("api_key").unwrap_err();
    assert_eq!(
        err.to_string(),
        "secret api_key: environment variable QUIRE_TEST_SECRET_ENV_SOURCE \
         is not set; set it in the environment of the process that reads \
         the secret"
    );
    // SAFETY: no other test reads or writes this variable.
    unsafe { std::env::set_var(var, "from-the-environment") };
    assert_eq!(
        secret.reveal("api_key").unwrap().expose(),
        b"from-the-environment"
    );
}

#[test]
fn literal_source_and_debug() {
    let secret = DeclaredSecret::literal("literal-value");
    assert_eq!(secret.reveal("x").unwrap().expose(), b"literal-value");
    let debug = format!("{secret:?}");
    assert!(!debug.contains("literal-value"), "{debug}");
}
