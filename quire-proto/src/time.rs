//! RFC 3339 timestamps without a date-time dependency.
//!
//! The log format needs UTC timestamps with nanoseconds and the push
//! metadata needs its `pushed_at` checked, so this module formats a
//! `SystemTime` and validates the RFC 3339 grammar. Dates are converted
//! with the proleptic Gregorian calendar, as RFC 3339 requires.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Formats `t` as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` in UTC.
///
/// Times before 1970 are clamped to the epoch.
pub fn format_rfc3339_nanos(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_nanos()
    )
}

/// Formats `t` as an RFC 3339 UTC timestamp with whole seconds.
pub fn format_rfc3339(t: SystemTime) -> String {
    let full = format_rfc3339_nanos(t);
    format!("{}Z", &full[..19])
}

/// Converts days since 1970-01-01 to a (year, month, day) triple.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Checks that `s` is an RFC 3339 date-time, such as
/// `2026-12-04T15:07:58Z` or `2026-12-04T15:07:58.123+01:00`.
///
/// Returns a reason when it is not.
pub fn validate_rfc3339(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let expect = |i: usize, chars: &[u8]| {
        b.get(i)
            .is_some_and(|c| chars.contains(&c.to_ascii_uppercase()))
    };

    let shape = "expected YYYY-MM-DDTHH:MM:SS with an optional fraction \
                 and a `Z` or `+HH:MM` offset";
    let (Some(year), Some(month), Some(day)) =
        (digits(0..4), digits(5..7), digits(8..10))
    else {
        return Err(shape.into());
    };
    if !(expect(4, b"-") && expect(7, b"-") && expect(10, b"T ")) {
        return Err(shape.into());
    }

    let (Some(hour), Some(minute), Some(second)) =
        (digits(11..13), digits(14..16), digits(17..19))
    else {
        return Err(shape.into());
    };
    if !(expect(13, b":") && expect(16, b":")) {
        return Err(shape.into());
    }

    if !(1..=12).contains(&month) {
        return Err(format!("month {month} is out of range"));
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day == 0 || day > month_days[month as usize - 1] {
        return Err(format!("day {day} is out of range for month {month}"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err("time of day is out of range".into());
    }

    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err("a fraction needs at least one digit".into());
        }
    }

    match b.get(i).map(u8::to_ascii_uppercase) {
        Some(b'Z') if i + 1 == b.len() => Ok(()),
        Some(b'+' | b'-') if b.len() == i + 6 => {
            match (digits(i + 1..i + 3), digits(i + 4..i + 6)) {
                (Some(h), Some(m))
                    if expect(i + 3, b":") && h < 24 && m < 60 =>
                {
                    Ok(())
                }
                _ => Err("invalid UTC offset".into()),
            }
        }
        _ => Err(shape.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_and_leap_day() {
        assert_eq!(
            format_rfc3339_nanos(UNIX_EPOCH),
            "1970-01-01T00:00:00.000000000Z"
        );
        // 2024-02-29T12:34:56.000000007Z
        let t = UNIX_EPOCH + Duration::new(1_709_210_096, 7);
        assert_eq!(format_rfc3339_nanos(t), "2024-02-29T12:34:56.000000007Z");
        assert_eq!(format_rfc3339(t), "2024-02-29T12:34:56Z");
    }

    #[test]
    fn formatted_times_validate() {
        let t = SystemTime::now();
        validate_rfc3339(&format_rfc3339_nanos(t)).unwrap();
        validate_rfc3339(&format_rfc3339(t)).unwrap();
    }

    #[test]
    fn accepts_offsets_and_fractions() {
        for ok in [
            "2026-12-04T15:07:58Z",
            "2026-12-04t15:07:58z",
            "2026-12-04T15:07:58.5+01:00",
            "2024-02-29T00:00:00-08:30",
        ] {
            assert_eq!(validate_rfc3339(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2026-12-04",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-12-04T24:00:00Z",
            "2026-12-04T15:07:58",
            "2026-12-04T15:07:58.Z",
            "2026-12-04T15:07:58+0100",
            "2026-12-04T15:07:58Zjunk",
        ] {
            assert!(validate_rfc3339(bad).is_err(), "{bad:?} accepted");
        }
    }
}
