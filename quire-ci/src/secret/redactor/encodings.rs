//! The encoded forms of a value that the redactor also replaces.
//!
//! A command can print a secret without printing its bytes: inside a
//! base64 blob, a URL, a JSON document or a shell command line. Each
//! form below is what such output contains when it carries the value.
//! Forms equal to the raw value are left out by the caller's dedup.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};

/// Bytes that URL encoding keeps as they are: RFC 3986's unreserved
/// characters.
const URL_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Returns the encoded forms of `value`, raw value excluded.
pub fn encoded_forms(value: &[u8]) -> Vec<Vec<u8>> {
    let mut forms = Vec::with_capacity(7);
    for offset in 0..3 {
        let form = base64_at_offset(value, offset);
        if !form.is_empty() {
            forms.push(form);
        }
        if let Some(tail) = base64_at_end(value, offset) {
            forms.push(tail);
        }
    }
    let url = percent_encode(value, URL_UNRESERVED).to_string();
    if value.contains(&b' ') {
        // HTML forms and query strings also write a space as `+`.
        forms.push(url.replace("%20", "+").into_bytes());
    }
    forms.push(url.into_bytes());
    if let Some(json) = json_escaped(value) {
        forms.push(json);
    }
    if let Some(quoted) = shell_single_quoted(value) {
        forms.push(quoted);
    }
    forms
}

/// Returns the base64 characters that depend only on `value` when it
/// starts `offset` bytes (0, 1 or 2) into a base64-encoded stream.
///
/// Base64 maps 3 bytes to 4 characters, so a value inside a larger blob
/// is encoded in one of three alignments. The characters that also
/// carry bits of the neighbouring bytes are dropped at both ends, which
/// leaves the part that is the same whatever surrounds the value.
fn base64_at_offset(value: &[u8], offset: usize) -> Vec<u8> {
    let mut padded = vec![0u8; offset];
    padded.extend_from_slice(value);
    let encoded = STANDARD_NO_PAD.encode(&padded);
    padded.fill(0);

    // Character i carries bits [6i, 6i + 6) of the stream.
    let first = (8 * offset).div_ceil(6);
    let end = (8 * (offset + value.len())) / 6;
    if first >= end {
        return Vec::new();
    }
    encoded.as_bytes()[first..end].to_vec()
}

/// Returns the base64 of `value` at `offset` when the value ends the
/// encoded blob: the characters of [`base64_at_offset`] followed by the
/// last, partly filled character and the `=` padding. Without this
/// form, `printf %s VALUE | base64` would leave that character and so
/// a few bits of the value in the output. `None` when the value ends
/// on a 3-byte boundary, where there is no partial character.
fn base64_at_end(value: &[u8], offset: usize) -> Option<Vec<u8>> {
    if (offset + value.len()).is_multiple_of(3) {
        return None;
    }
    let mut padded = vec![0u8; offset];
    padded.extend_from_slice(value);
    let encoded = STANDARD.encode(&padded);
    padded.fill(0);
    let first = (8 * offset).div_ceil(6);
    Some(encoded.as_bytes()[first..].to_vec())
}

/// Returns the value's text as it appears inside a JSON string, when
/// it is UTF-8 and escaping changes it.
fn json_escaped(value: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(value).ok()?;
    let quoted = serde_json::to_string(text).ok()?;
    let inner = &quoted.as_bytes()[1..quoted.len() - 1];
    (inner != value).then(|| inner.to_vec())
}

/// Returns the value as written inside single quotes by a shell
/// quoting routine (`'` becomes `'\''`), when it contains a quote.
fn shell_single_quoted(value: &[u8]) -> Option<Vec<u8>> {
    if !value.contains(&b'\'') {
        return None;
    }
    let mut out = Vec::with_capacity(value.len() + 8);
    for &byte in value {
        if byte == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(byte);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn base64_forms_found_in_every_alignment() {
        let value = b"correct-horse-battery";
        let forms = encoded_forms(value);
        for prefix in ["", "a", "ab", "abc", "abcd"] {
            for suffix in ["", "z", "zy", "zyx"] {
                let mut blob = prefix.as_bytes().to_vec();
                blob.extend_from_slice(value);
                blob.extend_from_slice(suffix.as_bytes());
                let encoded = STANDARD.encode(&blob);
                assert!(
                    forms.iter().any(|f| contains(encoded.as_bytes(), f)),
                    "prefix {prefix:?} suffix {suffix:?}: {encoded}"
                );
            }
        }
    }

    #[test]
    fn base64_tail_forms_cover_whole_encoding() {
        let value = b"secret-value-1";
        let forms = encoded_forms(value);
        for prefix in ["", "a", "ab"] {
            let mut blob = prefix.as_bytes().to_vec();
            blob.extend_from_slice(value);
            let encoded = STANDARD.encode(&blob);
            // Every character that carries bits of the value is covered,
            // padding included.
            let first_value_char = (8 * prefix.len()).div_ceil(6);
            let covered = forms.iter().any(|f| {
                encoded.as_bytes().ends_with(f)
                    && f.len() >= encoded.len() - first_value_char
            });
            assert!(covered, "prefix {prefix:?}: {encoded}");
        }
    }

    #[test]
    fn url_form_escapes_reserved_bytes() {
        let forms = encoded_forms(b"p@ss word/1");
        assert!(forms.contains(&b"p%40ss%20word%2F1".to_vec()));
        assert!(forms.contains(&b"p%40ss+word%2F1".to_vec()));
    }

    #[test]
    fn json_form_escapes_quotes_and_newlines() {
        let forms = encoded_forms(b"line\"one\nline");
        assert!(forms.contains(&br#"line\"one\nline"#.to_vec()));
    }

    #[test]
    fn shell_form_only_with_quote() {
        let forms = encoded_forms(b"it's-a-secret");
        assert!(forms.contains(&br"it'\''s-a-secret".to_vec()));
        let plain = encoded_forms(b"no-quotes-here");
        assert!(!plain.iter().any(|f| contains(f, b"'\\''")));
    }

    #[test]
    fn non_utf8_value_has_no_json_form() {
        assert_eq!(json_escaped(&[0xff, 0x00, 0x41]), None);
    }
}
