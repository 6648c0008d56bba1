//! The tail of a stream that could still grow into a pattern.
//!
//! A stream only needs to hold back the longest suffix of its text that
//! is a proper prefix of some pattern: everything before it is final.
//! The decision shaped by long values (tens of KB) is to keep this
//! linear: a hash table of every proper prefix of every pattern,
//! built once per snapshot in time proportional to the pattern bytes,
//! and a [`Tail`] that rolls a polynomial hash over the suffix as
//! bytes arrive and leave. Its start only moves forward, because text
//! that is no prefix of a pattern never becomes one by growing. So a
//! push costs time in proportion to the bytes pushed, capped at the
//! longest pattern, plus one table lookup per byte the tail gives up.
//!
//! A hash collision can only make the tail longer than needed, which
//! delays output but never lets a value through.

use std::sync::OnceLock;

use zeroize::Zeroizing;

use super::Snapshot;

/// The Mersenne prime 2^61 − 1, the modulus of the rolling hash.
const MODULUS: u64 = (1 << 61) - 1;
/// The hash base. Any value in `2..MODULUS` works.
const BASE: u64 = 0x01d8_a5c3_f92e_7b41;
/// The inverse of [`BASE`] modulo [`MODULUS`], for removing a byte
/// from the front of a hashed suffix.
const BASE_INVERSE: u64 = pow_mod(BASE, MODULUS - 2);

/// The hashes of every proper prefix of every pattern, as an
/// open-addressing table. Zeroed on drop, because a prefix hash of
/// length `k + 1` can be matched against 256 guesses once the first
/// `k` bytes are known.
pub(super) struct PrefixTable {
    /// `hash | OCCUPIED`, or 0 for an empty slot.
    slots: Zeroizing<Vec<u64>>,
    mask: usize,
}

/// Marks a slot as used. Hashes are below 2^61, so this bit is free.
const OCCUPIED: u64 = 1 << 63;

impl PrefixTable {
    fn new(patterns: &[Zeroizing<Vec<u8>>]) -> Self {
        let prefixes: usize =
            patterns.iter().map(|p| p.len().saturating_sub(1)).sum();
        let size = (prefixes * 2).next_power_of_two().max(16);
        let mut table = Self {
            slots: Zeroizing::new(vec![0; size]),
            mask: size - 1,
        };
        for pattern in patterns {
            let mut hash = 0;
            for &byte in &pattern[..pattern.len().saturating_sub(1)] {
                hash = push_byte(hash, byte);
                table.insert(hash);
            }
        }
        table
    }

    fn insert(&mut self, hash: u64) {
        let mut at = self.slot(hash);
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                self.slots[at] = hash | OCCUPIED;
                return;
            }
            if slot == hash | OCCUPIED {
                return;
            }
            at = (at + 1) & self.mask;
        }
    }

    /// True when some proper prefix of a pattern has this hash.
    fn contains(&self, hash: u64) -> bool {
        let mut at = self.slot(hash);
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                return false;
            }
            if slot == hash | OCCUPIED {
                return true;
            }
            at = (at + 1) & self.mask;
        }
    }

    fn slot(&self, hash: u64) -> usize {
        (hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & self.mask
    }
}

impl Snapshot {
    /// Returns the prefix table of this snapshot's patterns, building it
    /// on first use because only streams need it.
    pub(super) fn prefixes(&self) -> &PrefixTable {
        self.prefixes
            .get_or_init(|| PrefixTable::new(&self.patterns))
    }
}

/// A lazily built [`PrefixTable`], as [`Snapshot`] stores it.
pub(super) type LazyPrefixes = OnceLock<PrefixTable>;

/// The earliest suffix of a stream's buffer that may still be a proper
/// prefix of a pattern.
#[derive(Debug)]
pub(super) struct Tail {
    /// Start of the suffix in the buffer.
    start: usize,
    /// Buffer length the hash covers.
    end: usize,
    /// Hash of `buf[start..end]`.
    hash: u64,
    /// `BASE^(end - start)`.
    weight: u64,
}

impl Default for Tail {
    fn default() -> Self {
        Self {
            start: 0,
            end: 0,
            hash: 0,
            weight: 1,
        }
    }
}

impl Tail {
    /// Starts tracking at `start` of `buf`, forgetting what was known
    /// about earlier positions (for a new stream or new patterns).
    pub fn reset(&mut self, start: usize) {
        *self = Self {
            start,
            end: start,
            ..Self::default()
        };
    }

    /// Moves the tail over `buf`, which has grown since the last call,
    /// and returns where the longest suffix of `buf` that is a proper
    /// prefix of a pattern starts (`buf.len()` when there is none).
    pub fn update(&mut self, snapshot: &Snapshot, buf: &[u8]) -> usize {
        let len = buf.len();
        let max_len = snapshot.max_len;
        if max_len <= 1 {
            self.reset(len);
            return len;
        }
        // A proper prefix is at most `max_len - 1` bytes long.
        let earliest = len - (len - self.start).min(max_len - 1);
        let added = len - self.end;
        if added >= max_len {
            // Rehash the last `max_len - 1` bytes rather than roll over
            // every added byte.
            self.reset(earliest);
            self.extend(&buf[earliest..]);
        } else {
            self.extend(&buf[self.end..]);
            while self.start < earliest {
                self.drop_front(buf[self.start]);
            }
        }
        let table = snapshot.prefixes();
        while self.start < len && !table.contains(self.hash) {
            self.drop_front(buf[self.start]);
        }
        self.start
    }

    /// Shifts positions after `count` bytes were removed from the front
    /// of the buffer. The tail itself must not be among them.
    pub fn shift(&mut self, count: usize) {
        debug_assert!(count <= self.start);
        self.start -= count;
        self.end -= count;
    }

    fn extend(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.hash = push_byte(self.hash, byte);
            self.weight = mul_mod(self.weight, BASE);
        }
        self.end += bytes.len();
    }

    fn drop_front(&mut self, byte: u8) {
        self.weight = mul_mod(self.weight, BASE_INVERSE);
        let part = mul_mod(u64::from(byte) + 1, self.weight);
        self.hash = if self.hash >= part {
            self.hash - part
        } else {
            self.hash + MODULUS - part
        };
        self.start += 1;
    }
}

/// Appends `byte` to a hashed string. Bytes count from 1, so leading
/// zero bytes still change the hash.
fn push_byte(hash: u64, byte: u8) -> u64 {
    let sum = mul_mod(hash, BASE) + u64::from(byte) + 1;
    if sum >= MODULUS { sum - MODULUS } else { sum }
}

/// Multiplies modulo 2^61 − 1, folding the high bits back in instead of
/// dividing, because 2^61 ≡ 1.
const fn mul_mod(a: u64, b: u64) -> u64 {
    let product = a as u128 * b as u128;
    let folded = (product as u64 & MODULUS) + (product >> 61) as u64;
    let folded = (folded & MODULUS) + (folded >> 61);
    if folded >= MODULUS {
        folded - MODULUS
    } else {
        folded
    }
}

const fn pow_mod(mut base: u64, mut exponent: u64) -> u64 {
    let mut result = 1;
    while exponent > 0 {
        if exponent & 1 == 1 {
            result = mul_mod(result, base);
        }
        base = mul_mod(base, base);
        exponent >>= 1;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_inverse_undoes_base() {
        assert_eq!(mul_mod(BASE, BASE_INVERSE), 1);
    }

    #[test]
    fn mul_mod_matches_division() {
        let values = [0, 1, 2, BASE, MODULUS - 1, MODULUS - 2, 1 << 60];
        for a in values {
            for b in values {
                let expected = (a as u128 * b as u128) % MODULUS as u128;
                assert_eq!(u128::from(mul_mod(a, b)), expected, "{a} * {b}");
            }
        }
    }
}
