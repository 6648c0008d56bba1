//! A string that contains a revealed secret or token.
//!
//! `Debug` prints `<redacted>` and there is no `Display`, so formatting a
//! struct that contains one cannot leak the value. The buffer is
//! overwritten with zeros when the value is dropped. This crate may not
//! depend on `zeroize`, so the wipe is done here with volatile writes,
//! which the optimiser may not remove.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A revealed secret value or token, wiped from memory on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct RevealedString(String);

impl RevealedString {
    /// Wraps a revealed value.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// Returns the revealed value. Callers must not log or print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RevealedString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Drop for RevealedString {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Overwrites the initialised bytes of `s` with zeros.
pub fn wipe(s: &mut str) {
    // SAFETY: zero bytes are valid UTF-8, so the string stays valid, and
    // every written byte is within the string's length.
    unsafe {
        for byte in s.as_bytes_mut() {
            std::ptr::write_volatile(byte, 0);
        }
    }
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

impl Serialize for RevealedString {
    fn serialize<S: Serializer>(
        &self,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RevealedString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_value() {
        let value = RevealedString::new("hunter2-hunter2".into());
        assert_eq!(format!("{value:?}"), "<redacted>");
    }

    #[test]
    fn serde_round_trip() {
        let value = RevealedString::new("s3cr3t".into());
        let json = serde_json::to_string(&value).unwrap();
        assert_eq!(json, "\"s3cr3t\"");
        let back: RevealedString = serde_json::from_str(&json).unwrap();
        assert_eq!(back.expose(), "s3cr3t");
    }

    #[test]
    fn wipe_zeroes_bytes() {
        let mut s = String::from("abc");
        wipe(&mut s);
        assert_eq!(s.as_bytes(), &[0, 0, 0]);
    }
}
