//! A revealed secret value.
//!
//! The bytes live in a buffer that `zeroize` overwrites on drop, and
//! the type has a `Debug` that prints `<redacted>` and no `Display`, so
//! a value cannot reach a log or an error through formatting. Copies
//! made by libraries that hand the value over (an HTTP body buffer, a
//! Lua string) are outside this guarantee.

use std::fmt;

use zeroize::Zeroizing;

/// A revealed secret value, zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<Vec<u8>>);

impl SecretValue {
    /// Wraps revealed bytes. The vector is zeroed when the value drops.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Returns the revealed bytes. Callers must not log or print them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Returns the value as UTF-8 text, or `None` when it is not.
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// Length of the value in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&quire_proto::RevealedString> for SecretValue {
    fn from(value: &quire_proto::RevealedString) -> Self {
        Self::new(value.expose().as_bytes().to_vec())
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_value() {
        let value = SecretValue::new(b"hunter2-hunter2".to_vec());
        assert_eq!(format!("{value:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&value)), "Some(<redacted>)");
    }

    #[test]
    fn expose_returns_bytes() {
        let value = SecretValue::new(b"abc".to_vec());
        assert_eq!(value.expose(), b"abc");
        assert_eq!(value.expose_str(), Some("abc"));
        assert_eq!(value.len(), 3);
        let binary = SecretValue::new(vec![0xff, 0xfe]);
        assert_eq!(binary.expose_str(), None);
    }

    #[test]
    fn from_revealed_string() {
        let revealed = quire_proto::RevealedString::new("t0ken".into());
        assert_eq!(SecretValue::from(&revealed).expose(), b"t0ken");
    }
}
