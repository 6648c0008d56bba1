//! Per-run tokens.
//!
//! A token is 32 bytes from the operating system's random source,
//! handed to quire-ci once, hex-encoded, in `QUIRE_CI_TOKEN`. The
//! database keeps only its SHA-256; a presented token is hashed and
//! compared in constant time. A token is only accepted while its run
//! is `active` (the API checks that), so it stops working the moment
//! the run reaches a terminal state.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Length of a token in bytes.
pub const TOKEN_LEN: usize = 32;

/// A revealed token; zeroed on drop, hidden from `Debug`.
pub struct RunToken(Zeroizing<[u8; TOKEN_LEN]>);

/// The operating system's random source failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the system's random source: {0}")]
pub struct RandomError(String);

impl RunToken {
    /// Mints a new token.
    pub fn mint() -> Result<Self, RandomError> {
        let mut bytes = Zeroizing::new([0u8; TOKEN_LEN]);
        getrandom::fill(bytes.as_mut())
            .map_err(|e| RandomError(e.to_string()))?;
        Ok(Self(bytes))
    }

    /// Hashes the token with SHA-256, the only form that is stored.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_ref()).into()
    }

    /// Encodes the token as the hex text passed to quire-ci. Callers
    /// must not log it.
    pub fn to_hex(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(String::with_capacity(TOKEN_LEN * 2));
        for byte in self.0.iter() {
            text.push(hex_digit(byte >> 4));
            text.push(hex_digit(byte & 0xf));
        }
        text
    }
}

impl fmt::Debug for RunToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RunToken(<redacted>)")
    }
}

fn hex_digit(n: u8) -> char {
    char::from_digit(u32::from(n), 16).expect("a nibble is a hex digit")
}

/// Checks a presented hex token against a stored hash in constant
/// time. A token of the wrong length or with non-hex characters fails
/// without being hashed; that leaks only the length, which is public.
pub fn verify(presented_hex: &str, stored_hash: &[u8]) -> bool {
    let Some(bytes) = decode_hex(presented_hex) else {
        return false;
    };
    let hash: [u8; 32] = Sha256::digest(bytes.as_ref()).into();
    stored_hash.len() == hash.len() && bool::from(hash.ct_eq(stored_hash))
}

fn decode_hex(text: &str) -> Option<Zeroizing<[u8; TOKEN_LEN]>> {
    let text = text.as_bytes();
    if text.len() != TOKEN_LEN * 2 {
        return None;
    }
    let mut out = Zeroizing::new([0u8; TOKEN_LEN]);
    for (i, pair) in text.chunks_exact(2).enumerate() {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        out[i] = (high * 16 + low) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_differ_and_verify() {
        let a = RunToken::mint().unwrap();
        let b = RunToken::mint().unwrap();
        assert_ne!(a.to_hex().as_str(), b.to_hex().as_str());
        assert_eq!(a.to_hex().len(), 64);
        assert!(verify(&a.to_hex(), &a.hash()));
        assert!(!verify(&b.to_hex(), &a.hash()));
    }

    #[test]
    fn hash_is_sha256_of_raw_bytes() {
        let token = RunToken::mint().unwrap();
        let raw = decode_hex(&token.to_hex()).unwrap();
        let expected: [u8; 32] = Sha256::digest(raw.as_ref()).into();
        assert_eq!(token.hash(), expected);
        // The hash is not the token.
        assert_ne!(&token.hash()[..], &raw[..]);
    }

    #[test]
    fn malformed_tokens_rejected() {
        let token = RunToken::mint().unwrap();
        let hex = token.to_hex();
        let hash = token.hash();
        assert!(!verify("", &hash));
        assert!(!verify(&hex[..63], &hash));
        assert!(!verify(&format!("{}0", hex.as_str()), &hash));
        assert!(!verify(&format!("{}zz", &hex[..62]), &hash));
        // Upper-case hex of the same bytes is the same token.
        assert!(verify(&hex.to_uppercase(), &hash));
        assert!(!verify(&hex, &hash[..31]));
    }

    #[test]
    fn debug_hides_token() {
        let token = RunToken::mint().unwrap();
        let debug = format!("{token:?}");
        assert!(!debug.contains(token.to_hex().as_str()));
    }
}
