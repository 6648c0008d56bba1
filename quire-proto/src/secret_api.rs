//! The secret API both processes use: the route, the name rule and the
//! JSON error body.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Maximum length in bytes of an accepted secret name.
pub const MAX_SECRET_NAME_LEN: usize = 128;

/// A name that breaks the secret name rule, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSecretName {
    /// The rejected name, escaped when shown.
    pub name: String,
    /// Reason for the rejection.
    pub reason: &'static str,
}

impl fmt::Display for InvalidSecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid secret name {:?}: {}", self.name, self.reason)
    }
}

impl std::error::Error for InvalidSecretName {}

/// Checks the secret name rule: 1 to 128 ASCII letters, digits, `_`,
/// `-` or `.`, and neither `.` nor `..`.
///
/// The rule keeps every valid name safe to put in a URL path segment
/// and a file name without escaping.
pub fn validate_secret_name(name: &str) -> Result<(), InvalidSecretName> {
    let reason = if name.is_empty() {
        Some("a name needs at least one character")
    } else if name.len() > MAX_SECRET_NAME_LEN {
        Some("a name has at most 128 characters")
    } else if name == "." || name == ".." {
        Some("`.` and `..` are not names")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    {
        Some("use only ASCII letters, digits, `_`, `-` and `.`")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(InvalidSecretName {
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Builds `/api/runs/{run_id}/secrets/{name}` after checking the name.
pub fn secret_path(
    run_id: &str,
    name: &str,
) -> Result<String, InvalidSecretName> {
    validate_secret_name(name)?;
    Ok(format!("/api/runs/{run_id}/secrets/{name}"))
}

/// The JSON body of every 4xx and 5xx response from the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiError {
    /// A sentence for people, such as "unknown secret: deploy_key".
    pub error: String,
    /// A machine word, such as `unknown_secret` or `unauthorized`.
    pub code: String,
}

impl ApiError {
    /// Builds an error body.
    pub fn new(code: impl Into<String>, error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            code: code.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        for name in ["a", "DEPLOY_KEY", "npm-token.v2", "x..y", "...", "_"] {
            assert_eq!(validate_secret_name(name), Ok(()), "{name}");
        }
        let longest = "n".repeat(128);
        assert_eq!(validate_secret_name(&longest), Ok(()));
    }

    #[test]
    fn invalid_names_with_reasons() {
        let cases = [
            ("", "a name needs at least one character"),
            (".", "`.` and `..` are not names"),
            ("..", "`.` and `..` are not names"),
            ("../x", "use only ASCII letters, digits, `_`, `-` and `.`"),
            ("a/b", "use only ASCII letters, digits, `_`, `-` and `.`"),
            ("%2e%2e", "use only ASCII letters, digits, `_`, `-` and `.`"),
            ("sp ace", "use only ASCII letters, digits, `_`, `-` and `.`"),
            ("é", "use only ASCII letters, digits, `_`, `-` and `.`"),
        ];
        for (name, reason) in cases {
            let err = validate_secret_name(name).unwrap_err();
            assert_eq!(err.reason, reason, "{name:?}");
        }
        let too_long = "n".repeat(129);
        let err = validate_secret_name(&too_long).unwrap_err();
        assert_eq!(err.reason, "a name has at most 128 characters");
    }

    #[test]
    fn error_message_names_the_name() {
        let err = validate_secret_name("a/b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid secret name \"a/b\": use only ASCII letters, digits, \
             `_`, `-` and `.`"
        );
    }

    #[test]
    fn path_built_and_checked() {
        assert_eq!(
            secret_path("0193-abc", "token").unwrap(),
            "/api/runs/0193-abc/secrets/token"
        );
        assert!(secret_path("r", "../x").is_err());
    }

    #[test]
    fn api_error_exact_json() {
        let body = ApiError::new("unknown_secret", "unknown secret: x");
        let json = serde_json::to_string(&body).unwrap();
        assert_eq!(
            json,
            r#"{"error":"unknown secret: x","code":"unknown_secret"}"#
        );
        assert_eq!(serde_json::from_str::<ApiError>(&json).unwrap(), body);
    }
}
