//! Redacting 64 MiB of log text with 100 registered values, beside a
//! loop of `str::replace` per value over the same text.
//!
//! Run with `cargo bench -p quire-ci --bench redact`. Targets: at least
//! 1 GiB/s, and at least 20 times the `str::replace` loop. With the
//! argument `large` (`cargo bench -p quire-ci --bench redact -- large`)
//! it measures one large value instead, such as a key file.

use std::hint::black_box;
use std::time::{Duration, Instant};

use quire_ci::secret::Redactor;

const TEXT_BYTES: usize = 64 << 20;
const VALUES: usize = 100;
/// One value occurrence per this many bytes of text, on average.
const SECRET_EVERY: usize = 64 << 10;

/// A small deterministic generator, so every run measures the same text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn values(rng: &mut Rng) -> Vec<String> {
    const ALPHABET: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..VALUES)
        .map(|_| {
            let len = 20 + rng.below(21);
            (0..len)
                .map(|_| ALPHABET[rng.below(ALPHABET.len())] as char)
                .collect()
        })
        .collect()
}

/// Build-log-like lines with a value now and then.
fn log_text(rng: &mut Rng, values: &[String]) -> String {
    const WORDS: &[&str] = &[
        "Compiling",
        "serde",
        "v1.0.210",
        "Downloaded",
        "tokio",
        "test",
        "result:",
        "ok.",
        "passed;",
        "failed;",
        "running",
        "warning:",
        "unused",
        "variable",
        "npm",
        "install",
        "--frozen-lockfile",
        "added",
        "packages",
        "in",
        "3.2s",
        "Step",
        "RUN",
        "apt-get",
        "update",
        "Fetched",
        "kB",
        "docker",
        "push",
        "registry.local/app:latest",
        "sha256:9f86d081884c7d65",
        "Finished",
        "release",
        "target(s)",
    ];
    let mut text = String::with_capacity(TEXT_BYTES + 256);
    let mut next_secret = rng.below(2 * SECRET_EVERY);
    while text.len() < TEXT_BYTES {
        text.push_str("2026-12-04T15:00:00.000000000Z stdout F ");
        for _ in 0..(4 + rng.below(10)) {
            text.push_str(WORDS[rng.below(WORDS.len())]);
            text.push(' ');
        }
        if text.len() >= next_secret {
            text.push_str("token=");
            text.push_str(&values[rng.below(values.len())]);
            next_secret = text.len() + rng.below(2 * SECRET_EVERY);
        }
        text.push('\n');
    }
    text
}

/// Wall time and this thread's CPU time of one measurement. Other
/// processes on a busy machine slow the first; the second counts only
/// the time this thread ran.
#[derive(Clone, Copy)]
struct Took {
    wall: Duration,
    cpu: Duration,
}

fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to fill in.
    let rc =
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "clock_gettime failed");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Took, T) {
    let mut best = Took {
        wall: Duration::MAX,
        cpu: Duration::MAX,
    };
    let mut last = None;
    for _ in 0..runs {
        let cpu_started = thread_cpu_time();
        let started = Instant::now();
        let out = f();
        best.wall = best.wall.min(started.elapsed());
        best.cpu = best.cpu.min(thread_cpu_time() - cpu_started);
        last = Some(out);
    }
    (best, last.unwrap())
}

fn gib_per_s(bytes: usize, took: Duration) -> f64 {
    bytes as f64 / took.as_secs_f64() / (1u64 << 30) as f64
}

fn main() {
    if std::env::args().any(|arg| arg == "large") {
        large_values();
        return;
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let values = values(&mut rng);
    let text = log_text(&mut rng, &values);
    let names: Vec<String> = (0..VALUES)
        .map(|i| format!("{{{{ secret_{i} }}}}"))
        .collect();

    let redactor = Redactor::new();
    for (i, value) in values.iter().enumerate() {
        redactor.register(&format!("secret_{i}"), value.as_bytes());
    }
    let build_started = Instant::now();
    redactor.redact(b"warm up: builds the automaton");
    let build = build_started.elapsed();

    let (whole, redacted) = best_of(5, || redactor.redact(text.as_bytes()));
    // As a log writer does: redact a chunk, hand it on, reuse the
    // buffer. `sink` replaces the write to a file.
    let stream_through = |sink: &mut dyn FnMut(&[u8])| {
        let mut stream = redactor.stream();
        let mut out = Vec::with_capacity(128 << 10);
        for chunk in text.as_bytes().chunks(64 << 10) {
            stream.push(chunk, &mut out);
            sink(&out);
            out.clear();
        }
        stream.finish(&mut out);
        sink(&out);
    };
    let (streamed, _) = best_of(5, || {
        let mut written = 0;
        stream_through(&mut |bytes| written += black_box(bytes).len());
        written
    });
    let mut streamed_out = Vec::with_capacity(text.len());
    stream_through(&mut |bytes| streamed_out.extend_from_slice(bytes));
    let (baseline, replaced) = best_of(1, || {
        let mut out = text.clone();
        for (value, name) in values.iter().zip(&names) {
            out = out.replace(value.as_str(), name);
        }
        out
    });

    assert_eq!(redacted, streamed_out);
    assert_eq!(redacted, replaced.as_bytes(), "same output as the baseline");
    black_box((&redacted, &replaced));

    let mib = text.len() as f64 / (1 << 20) as f64;
    println!(
        "redact: {mib:.0} MiB of log text, {VALUES} values, {} patterns \
         (values and encoded forms), automaton built in {:.1} ms",
        redactor.pattern_count(),
        build.as_secs_f64() * 1e3
    );
    println!("  {:<34} {:>17} {:>17}", "", "wall", "thread CPU");
    let row = |label: &str, took: Took| {
        println!(
            "  {label:<34} {:>7.1} ms {:>5.2} GiB/s {:>7.1} ms {:>5.2} GiB/s",
            took.wall.as_secs_f64() * 1e3,
            gib_per_s(text.len(), took.wall),
            took.cpu.as_secs_f64() * 1e3,
            gib_per_s(text.len(), took.cpu),
        );
    };
    row("StreamRedactor, 64 KiB chunks", streamed);
    row("Redactor::redact, new 64 MiB Vec", whole);
    row(&format!("baseline: str::replace x{VALUES}"), baseline);
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!(
        "  ratio to the baseline: stream {:.0}x wall, {:.0}x CPU; \
         redact {:.0}x wall, {:.0}x CPU (target >= 20x and >= 1 GiB/s)",
        ratio(baseline.wall, streamed.wall),
        ratio(baseline.cpu, streamed.cpu),
        ratio(baseline.wall, whole.wall),
        ratio(baseline.cpu, whole.cpu),
    );
}

/// Measures registering one large value (a key file) beside a 32-byte
/// token, then streaming log text with the value in the middle, at
/// several value sizes. Each size runs in two chunk sizes: 64 KiB, as a
/// pipe delivers a fast writer's output, and 512 bytes, as it delivers
/// a command that writes a line at a time. Each row's time per value byte is compared
/// with the smallest size's, so a ratio near 1 means the cost grows
/// linearly with the value.
///
/// Run with `cargo bench -p quire-ci --bench redact -- large`.
fn large_values() {
    const SIZES: [usize; 4] = [4 << 10, 16 << 10, 64 << 10, 256 << 10];
    const LOG_BYTES: usize = 1 << 20;
    const CHUNKS: [usize; 2] = [64 << 10, 512];
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let line = b"2026-12-04T15:00:00.000000000Z stdout F Compiling serde\n";
    println!(
        "redact, one large value and a 32-byte token: register them, \
         then stream {} MiB of log text with the value in the middle",
        LOG_BYTES >> 20
    );
    println!(
        "  {:>8} {:>12} {:>16} {:>16} {:>16}",
        "value", "register", "stream 64 KiB", "stream 512 B", "per byte vs 4K"
    );
    let mut base_per_byte = None;
    for size in SIZES {
        // A PEM-like value: base64 characters in 64-byte lines.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ\
            abcdefghijklmnopqrstuvwxyz0123456789+/";
        let value: Vec<u8> = (0..size)
            .map(|i| {
                if i % 65 == 64 {
                    b'\n'
                } else {
                    ALPHABET[rng.below(ALPHABET.len())]
                }
            })
            .collect();
        let mut text = Vec::with_capacity(LOG_BYTES + size);
        while text.len() < LOG_BYTES / 2 {
            text.extend_from_slice(line);
        }
        text.extend_from_slice(&value);
        while text.len() < LOG_BYTES + size {
            text.extend_from_slice(line);
        }

        let redactor = Redactor::new();
        let started = Instant::now();
        redactor.register("token", b"tok-0123456789abcdef0123456789ab");
        redactor.register("key", &value);
        redactor.redact(b"builds the automaton");
        let register = started.elapsed();

        let mut streamed = [Duration::ZERO; CHUNKS.len()];
        for (took, chunk_len) in streamed.iter_mut().zip(CHUNKS) {
            let started = Instant::now();
            let mut stream = redactor.stream();
            let mut out = Vec::with_capacity(text.len());
            for chunk in text.chunks(chunk_len) {
                stream.push(chunk, &mut out);
            }
            stream.finish(&mut out);
            *took = started.elapsed();
            assert!(
                !out.windows(64).any(|w| w == &value[..64]),
                "the value survived"
            );
            black_box(&out);
        }

        let total = register + streamed.iter().sum::<Duration>();
        let per_byte = total.as_secs_f64() / size as f64;
        let base = *base_per_byte.get_or_insert(per_byte);
        println!(
            "  {:>6} K {:>9.1} ms {:>13.1} ms {:>13.1} ms {:>15.2}x",
            size >> 10,
            register.as_secs_f64() * 1e3,
            streamed[0].as_secs_f64() * 1e3,
            streamed[1].as_secs_f64() * 1e3,
            per_byte / base,
        );
    }
}
