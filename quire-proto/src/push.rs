//! The metadata of one push: which commit, which ref, when, and where.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::validate_rfc3339;

/// Ref update from a push. A run is created from one of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawPush")]
pub struct PushMeta {
    /// The pushed commit, 40 lowercase or uppercase hex digits.
    pub sha: String,
    /// The full ref name, such as `refs/heads/main`.
    #[serde(rename = "ref")]
    pub ref_name: String,
    /// When the server received the push, RFC 3339.
    pub pushed_at: String,
    /// The commit the ref pointed at before; absent for a new ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_sha: Option<String>,
    /// The repository's name on the server.
    pub repo: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPush {
    sha: String,
    #[serde(rename = "ref")]
    ref_name: String,
    pushed_at: String,
    #[serde(default)]
    previous_sha: Option<String>,
    repo: String,
}

impl TryFrom<RawPush> for PushMeta {
    type Error = PushError;

    fn try_from(raw: RawPush) -> Result<Self, PushError> {
        PushMeta::new(
            raw.sha,
            raw.ref_name,
            raw.pushed_at,
            raw.previous_sha,
            raw.repo,
        )
    }
}

/// A push field that fails its format rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushError {
    /// `sha` or `previous_sha` is not 40 hex digits.
    InvalidSha { field: &'static str, value: String },
    /// `ref` is not a full ref name.
    InvalidRef { value: String, reason: &'static str },
    /// `pushed_at` is not RFC 3339.
    InvalidPushedAt { value: String, reason: String },
    /// `repo` is empty.
    EmptyRepo,
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::InvalidSha { field, value } => write!(
                f,
                "invalid {field} {value:?}: expected 40 hexadecimal digits"
            ),
            PushError::InvalidRef { value, reason } => {
                write!(f, "invalid ref {value:?}: {reason}")
            }
            PushError::InvalidPushedAt { value, reason } => {
                write!(f, "invalid pushed_at {value:?}: {reason}")
            }
            PushError::EmptyRepo => f.write_str("repo must not be empty"),
        }
    }
}

impl std::error::Error for PushError {}

impl PushMeta {
    /// Builds push metadata, checking every field's format.
    pub fn new(
        sha: String,
        ref_name: String,
        pushed_at: String,
        previous_sha: Option<String>,
        repo: String,
    ) -> Result<Self, PushError> {
        check_sha("sha", &sha)?;
        if let Some(prev) = &previous_sha {
            check_sha("previous_sha", prev)?;
        }
        check_ref(&ref_name)?;
        validate_rfc3339(&pushed_at).map_err(|reason| {
            PushError::InvalidPushedAt {
                value: pushed_at.clone(),
                reason,
            }
        })?;
        if repo.is_empty() {
            return Err(PushError::EmptyRepo);
        }
        Ok(Self {
            sha,
            ref_name,
            pushed_at,
            previous_sha,
            repo,
        })
    }

    /// Returns the branch name when the ref is under `refs/heads/`.
    pub fn branch(&self) -> Option<&str> {
        self.ref_name.strip_prefix("refs/heads/")
    }

    /// Returns the tag name when the ref is under `refs/tags/`.
    pub fn tag(&self) -> Option<&str> {
        self.ref_name.strip_prefix("refs/tags/")
    }
}

/// Returns true for a 40-digit hexadecimal object name.
pub fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn check_sha(field: &'static str, value: &str) -> Result<(), PushError> {
    if is_sha(value) {
        Ok(())
    } else {
        Err(PushError::InvalidSha {
            field,
            value: value.to_string(),
        })
    }
}

/// Applies the parts of git's ref-name rules that matter here.
fn check_ref(value: &str) -> Result<(), PushError> {
    let reason = if !value.starts_with("refs/") {
        Some("a full ref name starts with `refs/`, as in refs/heads/main")
    } else if value.ends_with('/') || value.split('/').any(str::is_empty) {
        Some("a ref name has no empty path component")
    } else if value.contains("..") || value.contains("@{") {
        Some("a ref name may not contain `..` or `@{`")
    } else if value
        .split('/')
        .any(|c| c.starts_with('.') || c.ends_with(".lock"))
    {
        Some("a component may not start with `.` or end with `.lock`")
    } else if value
        .bytes()
        .any(|b| b.is_ascii_control() || b" ~^:?*[\\".contains(&b))
    {
        Some(
            "a ref name may not contain spaces, control characters or any of ~^:?*[\\",
        )
    } else if value.ends_with('.') {
        Some("a ref name may not end with `.`")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(PushError::InvalidRef {
            value: value.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
    const PREV: &str = "89abcdef0123456789abcdef0123456789abcdef";

    fn push(ref_name: &str) -> PushMeta {
        PushMeta::new(
            SHA.into(),
            ref_name.into(),
            "2026-12-04T15:07:58Z".into(),
            Some(PREV.into()),
            "widgets".into(),
        )
        .unwrap()
    }

    #[test]
    fn exact_json_round_trip() {
        let json = format!(
            r#"{{"sha":"{SHA}","ref":"refs/heads/main","pushed_at":"2026-12-04T15:07:58Z","previous_sha":"{PREV}","repo":"widgets"}}"#
        );
        let meta: PushMeta = serde_json::from_str(&json).unwrap();
        assert_eq!(meta, push("refs/heads/main"));
        assert_eq!(serde_json::to_string(&meta).unwrap(), json);
    }

    #[test]
    fn new_ref_omits_previous_sha() {
        let json = format!(
            r#"{{"sha":"{SHA}","ref":"refs/tags/v1.0","pushed_at":"2026-12-04T15:07:58Z","repo":"widgets"}}"#
        );
        let meta: PushMeta = serde_json::from_str(&json).unwrap();
        assert_eq!(meta.previous_sha, None);
        assert_eq!(serde_json::to_string(&meta).unwrap(), json);
    }

    #[test]
    fn branch_and_tag() {
        let main = push("refs/heads/feature/x");
        assert_eq!(main.branch(), Some("feature/x"));
        assert_eq!(main.tag(), None);
        let tag = push("refs/tags/v1.0");
        assert_eq!(tag.branch(), None);
        assert_eq!(tag.tag(), Some("v1.0"));
        let other = push("refs/notes/commits");
        assert_eq!(other.branch(), None);
        assert_eq!(other.tag(), None);
    }

    #[test]
    fn malformed_sha_names_field() {
        let err = PushMeta::new(
            "abc".into(),
            "refs/heads/main".into(),
            "2026-12-04T15:07:58Z".into(),
            None,
            "r".into(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid sha \"abc\": expected 40 hexadecimal digits"
        );
        let err = PushMeta::new(
            SHA.into(),
            "refs/heads/main".into(),
            "2026-12-04T15:07:58Z".into(),
            Some(format!("{}g", &SHA[..39])),
            "r".into(),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("invalid previous_sha"), "{err}");
    }

    #[test]
    fn malformed_refs_rejected() {
        for bad in [
            "main",
            "refs/heads/",
            "refs//heads",
            "refs/heads/a..b",
            "refs/heads/.hidden",
            "refs/heads/x.lock",
            "refs/heads/a b",
            "refs/heads/a~1",
            "refs/heads/a@{1}",
            "refs/heads/end.",
        ] {
            let err = PushMeta::new(
                SHA.into(),
                bad.into(),
                "2026-12-04T15:07:58Z".into(),
                None,
                "r".into(),
            )
            .unwrap_err();
            assert!(
                matches!(err, PushError::InvalidRef { .. }),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn malformed_pushed_at_and_repo() {
        let err = PushMeta::new(
            SHA.into(),
            "refs/heads/main".into(),
            "yesterday".into(),
            None,
            "r".into(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid pushed_at \"yesterday\"")
        );
        let err = PushMeta::new(
            SHA.into(),
            "refs/heads/main".into(),
            "2026-12-04T15:07:58Z".into(),
            None,
            String::new(),
        )
        .unwrap_err();
        assert_eq!(err, PushError::EmptyRepo);
    }

    #[test]
    fn serde_rejects_unknown_field_and_bad_sha() {
        let json = format!(
            r#"{{"sha":"{SHA}","ref":"refs/heads/main","pushed_at":"2026-12-04T15:07:58Z","repo":"w","branch":"main"}}"#
        );
        let err = serde_json::from_str::<PushMeta>(&json).unwrap_err();
        assert!(err.to_string().contains("unknown field `branch`"), "{err}");
        let json = r#"{"sha":"x","ref":"refs/heads/main","pushed_at":"2026-12-04T15:07:58Z","repo":"w"}"#;
        let err = serde_json::from_str::<PushMeta>(json).unwrap_err();
        assert!(err.to_string().contains("invalid sha \"x\""), "{err}");
    }
}
