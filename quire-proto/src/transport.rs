//! Transport modes that deliver secret values to `quire-ci`: in the
//! bootstrap file, or from the server's API on demand.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The secret transport a run uses.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum TransportMode {
    /// Values are written into the run's bootstrap file.
    #[default]
    Filesystem,
    /// Values are fetched from `GET /api/runs/{run}/secrets/{name}`.
    Api,
}

impl TransportMode {
    /// Returns the name used in config files, flags and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportMode::Filesystem => "filesystem",
            TransportMode::Api => "api",
        }
    }
}

impl fmt::Display for TransportMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transport word that is neither `filesystem` nor `api`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTransport(pub String);

impl fmt::Display for UnknownTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown secret transport {:?}: expected `filesystem` or `api`",
            self.0
        )
    }
}

impl std::error::Error for UnknownTransport {}

impl FromStr for TransportMode {
    type Err = UnknownTransport;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "filesystem" => Ok(TransportMode::Filesystem),
            "api" => Ok(TransportMode::Api),
            other => Err(UnknownTransport(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_both_words() {
        for (word, mode) in [
            ("filesystem", TransportMode::Filesystem),
            ("api", TransportMode::Api),
        ] {
            assert_eq!(word.parse::<TransportMode>().unwrap(), mode);
            assert_eq!(mode.to_string(), word);
            let json = serde_json::to_string(&mode).unwrap();
            assert_eq!(json, format!("\"{word}\""));
            assert_eq!(
                serde_json::from_str::<TransportMode>(&json).unwrap(),
                mode
            );
        }
    }

    #[test]
    fn default_is_filesystem() {
        assert_eq!(TransportMode::default(), TransportMode::Filesystem);
    }

    #[test]
    fn unknown_word_lists_both() {
        let err = "vault".parse::<TransportMode>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown secret transport \"vault\": expected `filesystem` or `api`"
        );
    }

    #[test]
    fn unknown_word_rejected_by_serde() {
        let err = serde_json::from_str::<TransportMode>("\"API\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `API`"), "{err}");
    }
}
