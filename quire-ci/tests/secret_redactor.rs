//! The redactor's contract: values and their encoded forms replaced by
//! `{{ name }}` in whole buffers and in streams cut anywhere, bounded
//! hold-back, overlapping values, and text without secrets unchanged.

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use quire_ci::secret::{
    RedactingMakeWriter, Redactor, StreamRedactor, encoded_forms,
};
use tracing_subscriber::fmt::MakeWriter;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn stream_in_chunks(
    redactor: &Arc<Redactor>,
    input: &[u8],
    cuts: &[usize],
) -> Vec<u8> {
    let mut stream = redactor.stream();
    let mut out = Vec::new();
    let mut start = 0;
    for &cut in cuts {
        let cut = cut.clamp(start, input.len());
        stream.push(&input[start..cut], &mut out);
        start = cut;
    }
    stream.push(&input[start..], &mut out);
    stream.finish(&mut out);
    out
}

#[test]
fn value_replaced_by_name() {
    let redactor = Redactor::new();
    assert!(redactor.register("token", b"s3cr3t-t0ken"));
    assert_eq!(
        redactor.redact_str("auth s3cr3t-t0ken ok s3cr3t-t0ken"),
        "auth {{ token }} ok {{ token }}"
    );
}

#[test]
fn short_value_not_registered() {
    let redactor = Redactor::new();
    assert!(!redactor.register("pin", b"1234567"));
    assert_eq!(redactor.pattern_count(), 0);
    assert_eq!(redactor.redact_str("pin 1234567"), "pin 1234567");
}

#[test]
fn no_values_passes_text_through() {
    let redactor = Redactor::new();
    let text = b"plain \x00\xff output\n".to_vec();
    assert_eq!(redactor.redact(&text), text);
    assert_eq!(stream_in_chunks(&redactor, &text, &[3, 7]), text);
}

#[test]
fn value_split_at_every_boundary() {
    let redactor = Redactor::new();
    redactor.register("key", b"abcdefghij-secret");
    let input = b"before abcdefghij-secret after";
    for cut in 0..=input.len() {
        let out = stream_in_chunks(&redactor, input, &[cut]);
        assert_eq!(out, b"before {{ key }} after", "cut at {cut}");
    }
}

#[test]
fn value_split_into_single_bytes() {
    let redactor = Redactor::new();
    redactor.register("key", b"abcdefghij-secret");
    let input = b"xx abcdefghij-secret yy abcdefghij-secret";
    let cuts: Vec<usize> = (1..input.len()).collect();
    let out = stream_in_chunks(&redactor, input, &cuts);
    assert_eq!(out, b"xx {{ key }} yy {{ key }}");
}

#[test]
fn multiline_pem_value_replaced() {
    let pem = "-----BEGIN KEY-----\nMIIBVwIBADANBgkqhkiG9w0BAQEF\n\
               AASCAUEwggE9AgEAAkEAq7BFUpkGp3\n-----END KEY-----";
    let redactor = Redactor::new();
    redactor.register("deploy_key", pem.as_bytes());
    let log = format!("writing key\n{pem}\ndone\n");
    let cuts: Vec<usize> = log
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .map(|(i, _)| i + 1)
        .collect();
    let out = stream_in_chunks(&redactor, log.as_bytes(), &cuts);
    assert_eq!(out, b"writing key\n{{ deploy_key }}\ndone\n");
}

#[test]
fn hold_back_below_longest_pattern() {
    let redactor = Redactor::new();
    redactor.register("key", b"0123456789abcdef");
    let longest = encoded_forms(b"0123456789abcdef")
        .iter()
        .map(|f| f.len())
        .max()
        .unwrap()
        .max(16);
    let mut stream = redactor.stream();
    let mut out = Vec::new();
    let text = b"log line without any secret in it at all\n".repeat(10);
    for chunk in text.chunks(7) {
        stream.push(chunk, &mut out);
        assert!(stream.held_back() < longest, "{}", stream.held_back());
    }
    stream.finish(&mut out);
    assert_eq!(stream.held_back(), 0);
    assert_eq!(out, text);
}

#[test]
fn lines_without_prefix_emitted_at_once() {
    let redactor = Redactor::new();
    redactor.register("tok", b"0123456789abcdef");
    let mut stream = redactor.stream();
    let mut out = Vec::new();
    for line in [&b"one\n"[..], b"two\n", b"three\n"] {
        out.clear();
        stream.push(line, &mut out);
        assert_eq!(out, line);
        assert_eq!(stream.held_back(), 0);
    }
}

#[test]
fn possible_value_start_held_until_decided() {
    let redactor = Redactor::new();
    redactor.register("tok", b"0123456789abcdef");
    let mut stream = redactor.stream();
    let mut out = Vec::new();
    stream.push(b"id 01234", &mut out);
    assert_eq!(out, b"id ");
    assert_eq!(stream.held_back(), 5);
    stream.push(b"5-not\n", &mut out);
    assert_eq!(out, b"id 012345-not\n");
    assert_eq!(stream.held_back(), 0);
}

#[test]
fn match_held_while_longer_value_possible() {
    let redactor = Redactor::new();
    redactor.register("short", b"password");
    redactor.register("long", b"password-extended");
    let mut stream = redactor.stream();
    let mut out = Vec::new();
    stream.push(b"a password", &mut out);
    assert_eq!(out, b"a ");
    stream.push(b"-ext", &mut out);
    assert_eq!(out, b"a ");
    stream.push(b"ra\n", &mut out);
    assert_eq!(out, b"a {{ short }}-extra\n");
}

#[test]
fn overlap_held_until_decided() {
    let redactor = Redactor::new();
    redactor.register("a", b"abcdef12");
    redactor.register("b", b"ef123456");
    let mut stream = redactor.stream();
    let mut out = Vec::new();
    stream.push(b"x abcdef12", &mut out);
    assert_eq!(out, b"x {{ a }}");
    stream.push(b"34", &mut out);
    assert_eq!(out, b"x {{ a }}");
    stream.push(b"56 y", &mut out);
    assert_eq!(out, b"x {{ a }}{{ b }} y");
}

#[test]
fn longest_match_wins() {
    let redactor = Redactor::new();
    redactor.register("short", b"password");
    redactor.register("long", b"password-extended");
    assert_eq!(
        redactor.redact_str("a password-extended b password c"),
        "a {{ long }} b {{ short }} c"
    );
}

#[test]
fn overlapping_values_leave_no_fragment() {
    let redactor = Redactor::new();
    redactor.register("a", b"abcdef12");
    redactor.register("b", b"ef123456");
    let out = redactor.redact_str("x abcdef123456 y");
    assert_eq!(out, "x {{ a }}{{ b }} y");
    for cut in 0..16 {
        let streamed = stream_in_chunks(&redactor, b"x abcdef123456 y", &[cut]);
        assert_eq!(streamed, out.as_bytes(), "cut at {cut}");
    }
}

#[test]
fn value_inside_another_value() {
    let redactor = Redactor::new();
    redactor.register("inner", b"middle-part");
    redactor.register("outer", b"start-middle-part-end");
    assert_eq!(
        redactor.redact_str("start-middle-part-end middle-part"),
        "{{ outer }} {{ inner }}"
    );
}

#[test]
fn base64_forms_replaced_in_every_alignment() {
    let value = b"correct-horse-battery-staple";
    let redactor = Redactor::new();
    redactor.register("pass", value);
    for prefix in ["", "u", "us", "use", "user:"] {
        let mut blob = prefix.as_bytes().to_vec();
        blob.extend_from_slice(value);
        let encoded = STANDARD.encode(&blob);
        let out = redactor.redact(encoded.as_bytes());
        assert!(contains(&out, b"{{ pass }}"), "prefix {prefix:?}");
        assert!(!contains(&out, &STANDARD.encode(value).as_bytes()[..12]));
    }
}

#[test]
fn url_json_and_shell_forms_replaced() {
    let value = "it's a \"p@ss\"/word";
    let redactor = Redactor::new();
    redactor.register("pw", value.as_bytes());
    let cases = [
        "curl https://host/?p=it%27s%20a%20%22p%40ss%22%2Fword".to_string(),
        "q=it%27s+a+%22p%40ss%22%2Fword".to_string(),
        serde_json::json!({ "password": value }).to_string(),
        "sh -c 'echo it'\\''s a \"p@ss\"/word'".to_string(),
    ];
    for case in cases {
        let out = redactor.redact_str(&case);
        assert!(out.contains("{{ pw }}"), "{case} -> {out}");
        assert!(!out.contains("p@ss"), "{case} -> {out}");
        assert!(!out.contains("p%40ss"), "{case} -> {out}");
    }
}

#[test]
fn stream_sees_values_registered_later() {
    let redactor = Redactor::new();
    let mut stream = redactor.stream();
    let mut out = Vec::new();
    stream.push(b"first line\n", &mut out);
    redactor.register("late", b"late-value-123");
    stream.push(b"then late-value-123 appears\n", &mut out);
    stream.finish(&mut out);
    assert_eq!(out, b"first line\nthen {{ late }} appears\n");
}

#[test]
fn same_value_two_names_keeps_first() {
    let redactor = Redactor::new();
    redactor.register("one", b"shared-value-1");
    redactor.register("two", b"shared-value-1");
    assert_eq!(redactor.redact_str("shared-value-1"), "{{ one }}");
}

#[test]
fn redacting_writer_hides_value_in_event() {
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let redactor = Redactor::new();
    redactor.register("token", b"tok-1234567890");
    let make = RedactingMakeWriter::new(
        {
            let sink = sink.clone();
            move || sink.clone()
        },
        Arc::clone(&redactor),
    );

    // A value written in two pieces within one event is still found.
    {
        let mut writer = make.make_writer();
        writer.write_all(b"header tok-12345").unwrap();
        writer.write_all(b"67890 trailer\n").unwrap();
    }
    assert_eq!(
        String::from_utf8(sink.0.lock().unwrap().clone()).unwrap(),
        "header {{ token }} trailer\n"
    );

    let subscriber = tracing_subscriber::fmt()
        .with_writer(make)
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::warn!(detail = "tok-1234567890", "leaked tok-1234567890");
    });
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("leaked {{ token }}"), "{text}");
    assert!(!text.contains("tok-1234567890"), "{text}");
}

/// Generates values from a small alphabet, so they often overlap each
/// other and the filler. The alphabet has no `{`, `}` or space, so no
/// replacement text can complete a value.
fn value_strategy() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            Just(b'a'),
            Just(b'b'),
            Just(b'c'),
            Just(b'\''),
            Just(b'"'),
            Just(b'/'),
            Just(b'\n'),
            Just(0xc3),
        ],
        8..24,
    )
}

fn filler_strategy() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![Just(b'a'), Just(b'b'), Just(b'c'), Just(b'x'), Just(b' ')],
        0..20,
    )
}

/// Input bytes outside every occurrence of every pattern, in order:
/// what a redaction may leave of the input when no pattern contains a
/// brace.
fn uncovered(input: &[u8], patterns: &[Vec<u8>]) -> Vec<u8> {
    let mut covered = vec![false; input.len()];
    for pattern in patterns {
        for start in 0..input.len() {
            if input[start..].starts_with(pattern) {
                covered[start..start + pattern.len()].fill(true);
            }
        }
    }
    input
        .iter()
        .zip(covered)
        .filter(|(_, c)| !c)
        .map(|(b, _)| *b)
        .collect()
}

/// Output with every `{{ name }}` removed.
fn without_replacements(output: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    let mut rest = output;
    while let Some(at) = rest.windows(3).position(|w| w == b"{{ ") {
        plain.extend_from_slice(&rest[..at]);
        let end = rest[at..]
            .windows(3)
            .position(|w| w == b" }}")
            .expect("a replacement is closed");
        rest = &rest[at + end + 3..];
    }
    plain.extend_from_slice(rest);
    plain
}

fn all_patterns(values: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut patterns = Vec::new();
    for value in values {
        patterns.push(value.clone());
        patterns.extend(encoded_forms(value));
    }
    patterns
}

/// Length of the longest suffix of `text` that is a proper prefix of
/// one of `patterns`: what a stream may have to hold back.
fn longest_prefix_suffix(text: &[u8], patterns: &[Vec<u8>]) -> usize {
    patterns
        .iter()
        .flat_map(|p| {
            (1..p.len().min(text.len() + 1))
                .filter(|&k| text.ends_with(&p[..k]))
                .max()
        })
        .max()
        .unwrap_or(0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn hold_back_within_prefix_suffix(
        values in proptest::collection::vec(value_strategy(), 1..5),
        pieces in proptest::collection::vec(
            (filler_strategy(), 0usize..5, 0usize..7, 0usize..24), 1..8),
        cuts in proptest::collection::vec(0usize..400, 0..16),
    ) {
        let redactor = Redactor::new();
        for (i, value) in values.iter().enumerate() {
            redactor.register(&format!("v{i}"), value);
        }
        let patterns = all_patterns(&values);
        // Filler, then a value or form cut short at a random length, so
        // chunks often end inside a possible match.
        let mut input = Vec::new();
        for (filler, which, form, keep) in &pieces {
            input.extend_from_slice(filler);
            let value = &values[which % values.len()];
            let forms = encoded_forms(value);
            let piece = if *form == 0 || forms.is_empty() {
                value.clone()
            } else {
                forms[(form - 1) % forms.len()].clone()
            };
            input.extend_from_slice(&piece[..(*keep).min(piece.len())]);
        }
        let mut cuts = cuts;
        cuts.push(input.len());
        cuts.sort_unstable();

        let mut stream = redactor.stream();
        let mut out = Vec::new();
        let mut start = 0;
        for cut in cuts {
            let cut = cut.clamp(start, input.len());
            stream.push(&input[start..cut], &mut out);
            start = cut;
            let limit = longest_prefix_suffix(&input[..cut], &patterns);
            prop_assert!(
                stream.held_back() <= limit,
                "held {} of {:?}, limit {}",
                stream.held_back(),
                String::from_utf8_lossy(&input[..cut]),
                limit
            );
        }
        stream.finish(&mut out);
        prop_assert_eq!(&out, &redactor.redact(&input));
    }

    #[test]
    fn no_value_or_encoding_survives(
        values in proptest::collection::vec(value_strategy(), 1..5),
        pieces in proptest::collection::vec(
            (filler_strategy(), 0usize..5, 0usize..7), 1..8),
        cuts in proptest::collection::vec(0usize..400, 0..12),
    ) {
        let redactor = Redactor::new();
        for (i, value) in values.iter().enumerate() {
            redactor.register(&format!("v{i}"), value);
        }
        let patterns = all_patterns(&values);
        // Text of filler with values and encoded forms in between.
        let mut input = Vec::new();
        for (filler, which, form) in &pieces {
            input.extend_from_slice(filler);
            let value = &values[which % values.len()];
            let forms = encoded_forms(value);
            if *form == 0 || forms.is_empty() {
                input.extend_from_slice(value);
            } else {
                input.extend_from_slice(&forms[(form - 1) % forms.len()]);
            }
        }
        let mut cuts = cuts;
        cuts.sort_unstable();

        let whole = redactor.redact(&input);
        let streamed = stream_in_chunks(&redactor, &input, &cuts);
        for pattern in &patterns {
            prop_assert!(!contains(&whole, pattern));
            prop_assert!(!contains(&streamed, pattern));
        }
        prop_assert_eq!(without_replacements(&whole), uncovered(&input, &patterns));
        prop_assert_eq!(&streamed, &whole);
    }

    #[test]
    fn overlapping_windows_never_survive(
        base in proptest::collection::vec(
            prop_oneof![Just(b'a'), Just(b'b'), Just(b'c')], 24..60),
        windows in proptest::collection::vec((0usize..40, 8usize..20), 2..6),
        repeats in proptest::collection::vec((0usize..60, 0usize..60), 0..6),
        cuts in proptest::collection::vec(0usize..300, 0..12),
    ) {
        // Values are windows of one base string, and the text contains
        // the base and slices of it, so values overlap in the text.
        let values: Vec<Vec<u8>> = windows
            .iter()
            .map(|&(start, len)| {
                let start = start % (base.len() - 8);
                let end = (start + len).min(base.len());
                base[start..end].to_vec()
            })
            .filter(|v| v.len() >= 8)
            .collect();
        prop_assume!(!values.is_empty());
        let redactor = Redactor::new();
        for (i, value) in values.iter().enumerate() {
            redactor.register(&format!("v{i}"), value);
        }
        let mut input = b"x ".to_vec();
        input.extend_from_slice(&base);
        for &(a, b) in &repeats {
            let (start, end) = (a.min(b) % base.len(), a.max(b) % base.len());
            input.push(b' ');
            input.extend_from_slice(&base[start.min(end)..end.max(start)]);
        }
        let mut cuts = cuts;
        cuts.sort_unstable();

        let whole = redactor.redact(&input);
        let streamed = stream_in_chunks(&redactor, &input, &cuts);
        for value in &values {
            prop_assert!(!contains(&whole, value));
        }
        // Every byte of every occurrence is replaced, overlaps included,
        // so no fragment of a value is left beside a replacement.
        let patterns = all_patterns(&values);
        prop_assert_eq!(without_replacements(&whole), uncovered(&input, &patterns));
        prop_assert_eq!(&streamed, &whole);
    }

    #[test]
    fn text_without_values_unchanged(
        values in proptest::collection::vec(value_strategy(), 1..5),
        text in proptest::collection::vec(any::<u8>(), 0..400),
        cuts in proptest::collection::vec(0usize..400, 0..12),
    ) {
        let patterns = all_patterns(&values);
        prop_assume!(!patterns.iter().any(|p| contains(&text, p)));
        let redactor = Redactor::new();
        for (i, value) in values.iter().enumerate() {
            redactor.register(&format!("v{i}"), value);
        }
        let mut cuts = cuts;
        cuts.sort_unstable();
        prop_assert_eq!(&redactor.redact(&text), &text);
        prop_assert_eq!(&stream_in_chunks(&redactor, &text, &cuts), &text);
    }
}

#[test]
fn stream_redactor_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<StreamRedactor>();
}

#[test]
fn large_text_matches_plain_replace() {
    // Values of mixed lengths spread through a long text exercise the
    // q-gram skipping far from the start of the buffer.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let alphabet =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let values: Vec<String> = (0..50)
        .map(|_| {
            let len = 8 + next(60);
            (0..len)
                .map(|_| alphabet[next(alphabet.len())] as char)
                .collect()
        })
        .collect();
    let mut text = String::new();
    // Past 1 MiB a snapshot switches from its NFA to its DFA, so this
    // covers both.
    while text.len() < 3 << 20 {
        text.push_str("compiling crate v1.2.3 -- output line ");
        if next(8) == 0 {
            text.push_str(&values[next(values.len())]);
        }
        text.push('\n');
    }
    let redactor = Redactor::new();
    let mut expected = text.clone();
    for (i, value) in values.iter().enumerate() {
        redactor.register(&format!("s{i}"), value.as_bytes());
        expected = expected.replace(value.as_str(), &format!("{{{{ s{i} }}}}"));
    }
    assert_eq!(redactor.redact_str(&text), expected);
    let cuts: Vec<usize> = (1..700).map(|i| i * 4093).collect();
    let streamed = stream_in_chunks(&redactor, text.as_bytes(), &cuts);
    assert_eq!(String::from_utf8(streamed).unwrap(), expected);
}
