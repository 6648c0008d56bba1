//! The bootstrap document: what the server hands `quire-ci` for one run.
//!
//! The server writes it as JSON to a file created exclusively with mode
//! 0600; `quire-ci` reads it and unlinks it at once. In the `api`
//! transport its `secrets` map is empty and values are fetched on
//! demand instead.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::push::PushMeta;
use crate::redacted::RevealedString;

/// One run's bootstrap document.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bootstrap {
    /// The push that created the run.
    pub meta: PushMeta,
    /// Path of the bare repository the run's commit came from.
    pub git_dir: String,
    /// Secret name to revealed value; empty in the `api` transport.
    #[serde(default)]
    pub secrets: BTreeMap<String, RevealedString>,
    /// Error-reporting handoff, when the operator configured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentry: Option<SentryHandoff>,
}

/// Error-report destination for `quire-ci`, and the trace to join.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentryHandoff {
    /// The DSN, which contains a credential.
    pub dsn: RevealedString,
    /// The trace the run belongs to.
    pub trace_id: String,
}

impl Bootstrap {
    /// Parses a bootstrap document, rejecting unknown fields by name.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Serialises the document as compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a bootstrap always serialises")
    }
}

impl fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&String> = self.secrets.keys().collect();
        f.debug_struct("Bootstrap")
            .field("meta", &self.meta)
            .field("git_dir", &self.git_dir)
            .field("secrets", &names)
            .field("sentry", &self.sentry)
            .finish()
    }
}

impl fmt::Debug for SentryHandoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentryHandoff")
            .field("dsn", &self.dsn)
            .field("trace_id", &self.trace_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn meta_json() -> String {
        format!(
            r#"{{"sha":"{SHA}","ref":"refs/heads/main","pushed_at":"2026-12-04T15:07:58Z","repo":"widgets"}}"#
        )
    }

    #[test]
    fn exact_json_round_trip() {
        let json = format!(
            r#"{{"meta":{},"git_dir":"/var/quire/repos/widgets.git","secrets":{{"deploy_key":"k3y-value","token":"t0ken-value"}},"sentry":{{"dsn":"https://pub@errors.invalid/1","trace_id":"abc123"}}}}"#,
            meta_json()
        );
        let boot = Bootstrap::from_json(&json).unwrap();
        assert_eq!(boot.secrets["token"].expose(), "t0ken-value");
        assert_eq!(boot.sentry.as_ref().unwrap().trace_id, "abc123");
        assert_eq!(boot.to_json(), json);
    }

    #[test]
    fn api_transport_shape() {
        let json = format!(
            r#"{{"meta":{},"git_dir":"/g.git","secrets":{{}}}}"#,
            meta_json()
        );
        let boot = Bootstrap::from_json(&json).unwrap();
        assert!(boot.secrets.is_empty());
        assert!(boot.sentry.is_none());
        assert_eq!(boot.to_json(), json);
    }

    #[test]
    fn unknown_field_named() {
        let json = format!(
            r#"{{"meta":{},"git_dir":"/g.git","secrets":{{}},"token":"x"}}"#,
            meta_json()
        );
        let err = Bootstrap::from_json(&json).unwrap_err().to_string();
        assert!(err.contains("unknown field `token`"), "{err}");
        let json = format!(
            r#"{{"meta":{},"git_dir":"/g.git","sentry":{{"dsn":"d","trace_id":"t","org":"o"}}}}"#,
            meta_json()
        );
        let err = Bootstrap::from_json(&json).unwrap_err().to_string();
        assert!(err.contains("unknown field `org`"), "{err}");
    }

    #[test]
    fn missing_field_named() {
        let json = format!(r#"{{"meta":{}}}"#, meta_json());
        let err = Bootstrap::from_json(&json).unwrap_err().to_string();
        assert!(err.contains("missing field `git_dir`"), "{err}");
    }

    #[test]
    fn debug_shows_names_not_values() {
        let json = format!(
            r#"{{"meta":{},"git_dir":"/g.git","secrets":{{"token":"t0ken-value"}},"sentry":{{"dsn":"https://pub@x/1","trace_id":"t"}}}}"#,
            meta_json()
        );
        let boot = Bootstrap::from_json(&json).unwrap();
        let debug = format!("{boot:?}");
        assert!(debug.contains("\"token\""), "{debug}");
        assert!(!debug.contains("t0ken-value"), "{debug}");
        assert!(!debug.contains("https://pub@x/1"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }
}
