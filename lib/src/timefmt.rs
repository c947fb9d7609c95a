//! Timestamps: the hosts write RFC 3339 UTC strings; we store milliseconds since the epoch.
//! Hand-rolled because we only need UTC civil-date arithmetic, not a calendar library.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0')))
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]]` with `Z`, `±HH:MM` or no zone (UTC).
pub fn parse_iso_ms(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut ms = days_from_civil(y, mo, d) * 86_400_000;
    let rest = &b[10..];
    if rest.is_empty() {
        return Some(ms);
    }
    if !(rest[0] == b'T' || rest[0] == b't' || rest[0] == b' ') || rest.len() < 6 || rest[3] != b':'
    {
        return None;
    }
    let (h, mi) = (digits(&rest[1..3])?, digits(&rest[4..6])?);
    ms += (h * 3600 + mi * 60) * 1000;
    let mut i = 6;
    if rest.len() >= 9 && rest[6] == b':' {
        ms += digits(&rest[7..9])? * 1000;
        i = 9;
        if rest.len() > i && rest[i] == b'.' {
            let start = i + 1;
            let mut end = start;
            while end < rest.len() && rest[end].is_ascii_digit() {
                end += 1;
            }
            let frac = &rest[start..end.min(start + 3)];
            let mut v = digits(frac).unwrap_or(0);
            for _ in frac.len()..3 {
                v *= 10;
            }
            ms += v;
            i = end;
        }
    }
    match &rest[i..] {
        [] | [b'Z'] | [b'z'] => Some(ms),
        [sign @ (b'+' | b'-'), hh1, hh2, b':', mm1, mm2] => {
            let off = (digits(&[*hh1, *hh2])? * 60 + digits(&[*mm1, *mm2])?) * 60_000;
            Some(if *sign == b'+' { ms - off } else { ms + off })
        }
        _ => None,
    }
}

/// Formats milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.fffZ`.
pub fn format_iso_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s, f) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{f:03}Z")
}

/// `YYYYMMDDTHHMMSSfffZ`: [`format_iso_ms`] without separators, for file and job names.
pub fn compact_ms(ms: i64) -> String {
    format_iso_ms(ms)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// Parses a `--since`/`--until` value: an ISO date or time, or an age such as `7d`, `12h`, `30m`.
pub fn parse_when(s: &str, now: i64) -> Option<i64> {
    let s = s.trim();
    if let Some(v) = parse_iso_ms(s) {
        return Some(v);
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok()?;
    let unit_ms = match unit {
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    Some(now - n * unit_ms)
}

/// Like [`parse_when`], but a bare date means the end of that day: `--until 2026-02-23`
/// includes sessions of the 23rd.
pub fn parse_until(s: &str, now: i64) -> Option<i64> {
    let v = parse_when(s, now)?;
    Some(if s.trim().len() == 10 {
        v + 86_400_000 - 1
    } else {
        v
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_utc() {
        let ms = parse_iso_ms("2026-02-23T11:40:29.279Z").unwrap();
        assert_eq!(format_iso_ms(ms), "2026-02-23T11:40:29.279Z");
        assert_eq!(parse_iso_ms("1970-01-01T00:00:00Z"), Some(0));
    }

    #[test]
    fn applies_offsets_and_short_forms() {
        let z = parse_iso_ms("2026-02-23T12:19:38Z").unwrap();
        assert_eq!(parse_iso_ms("2026-02-23T13:19:38+01:00"), Some(z));
        assert_eq!(
            parse_iso_ms("2026-02-23"),
            Some(z - (12 * 3600 + 19 * 60 + 38) * 1000)
        );
        assert_eq!(parse_iso_ms("2026-02-23T12:19:38.5Z"), Some(z + 500));
        assert_eq!(parse_iso_ms("2026-02-23T12:19:38.123456Z"), Some(z + 123));
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-02-23T1",
            "2026-02-23T12:19:38Q",
        ] {
            assert_eq!(parse_iso_ms(s), None, "{s}");
        }
    }

    #[test]
    fn until_a_date_is_the_end_of_that_day() {
        let day = parse_iso_ms("2026-02-23").unwrap();
        assert_eq!(parse_until("2026-02-23", 0), Some(day + 86_400_000 - 1));
        assert_eq!(
            parse_until("2026-02-23T10:00:00Z", 0),
            parse_iso_ms("2026-02-23T10:00:00Z")
        );
    }

    #[test]
    fn parses_ages() {
        assert_eq!(parse_when("2d", 10 * 86_400_000), Some(8 * 86_400_000));
        assert_eq!(parse_when("3h", 4 * 3_600_000), Some(3_600_000));
        assert_eq!(parse_when("soon", 0), None);
    }
}
