//! The retry schedule: pure functions of the receive count, the receiver's pushback and a jitter
//! draw, so they are tested without clocks or queues.
//!
//! A message with a failed endpoint is made invisible for [`retry_delay`] seconds, so SQS brings
//! it back then; the template's `maxReceiveCount` (8) sends it to the DLQ after the eighth try.
//! The delays grow like Svix's (docs/EVENTS.md's yardstick: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h)
//! with one more early step, since most failures are blips: 5 s, 1 min, 5 min, 30 min, 2 h, 5 h,
//! 10 h — about 17.6 h from first try to the DLQ, well inside the queue's 4-day retention.

use keygate_core::kernel::clock::UnixSeconds;

/// Delay after the n-th failed receive (index n-1); the last entry repeats.
pub const SCHEDULE: [u32; 7] = [5, 60, 300, 1_800, 7_200, 18_000, 36_000];
/// SQS refuses a visibility timeout of 12 h (43 200 s) or more from the receive; stay under it.
pub const MAX_DELAY: u32 = 42_900;
/// The most a `Retry-After` may stretch a delay (a receiver cannot park its events for days).
pub const MAX_RETRY_AFTER: u32 = 3_600;

/// What the receiver said about when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Pushback {
    /// Nothing: the schedule decides.
    #[default]
    None,
    /// Overloaded (a timeout, a `429` without `Retry-After`): one step further down the schedule.
    SlowDown,
    /// `Retry-After` in seconds (clamped to [`MAX_RETRY_AFTER`]); never sooner than the schedule.
    After(u32),
}

/// Seconds to wait before the next try of a message that failed on its `receive_count`-th
/// receive (1 = first). `jitter` is a uniform draw from `[0, 1)` spreading the delay over ±20%,
/// so endpoints that failed together do not come back together.
pub fn retry_delay(receive_count: u32, pushback: Pushback, jitter: f64) -> u32 {
    let mut step = receive_count.max(1) as usize - 1;
    if pushback == Pushback::SlowDown {
        step += 1;
    }
    let base = SCHEDULE[step.min(SCHEDULE.len() - 1)];
    let j = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let jittered = (f64::from(base) * (0.8 + 0.4 * j)).round() as u32;
    let delay = match pushback {
        Pushback::After(s) => jittered.max(s.min(MAX_RETRY_AFTER)),
        _ => jittered,
    };
    delay.clamp(1, MAX_DELAY)
}

/// A `Retry-After` header value as seconds from `now`: delta-seconds, or an IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`, the HTTP-date form senders must generate). `None` if it is
/// neither.
pub fn parse_retry_after(value: &str, now: UnixSeconds) -> Option<u32> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(
            v.parse::<u64>()
                .map_or(u32::MAX, |s| u32::try_from(s).unwrap_or(u32::MAX)),
        );
    }
    let at = parse_imf_fixdate(v)?;
    Some(u32::try_from((at - now).max(0)).unwrap_or(u32::MAX))
}

fn parse_imf_fixdate(s: &str) -> Option<UnixSeconds> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let b = s.as_bytes();
    if b.len() != 29 || s.get(3..5) != Some(", ") || s.get(25..) != Some(" GMT") {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| Some(*m) == s.get(8..11))? as i64 + 1;
    let (day, year) = (num(5..7)?, num(12..16)?);
    let (h, m, sec) = (num(17..19)?, num(20..22)?, num(23..25)?);
    if b[7] != b' ' || b[11] != b' ' || b[16] != b' ' || b[19] != b':' || b[22] != b':' {
        return None;
    }
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3_600 + m * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_grows_and_stays_under_twelve_hours() {
        let mid: Vec<u32> = (1..=9)
            .map(|n| retry_delay(n, Pushback::None, 0.5))
            .collect();
        assert_eq!(
            mid,
            [5, 60, 300, 1_800, 7_200, 18_000, 36_000, 36_000, 36_000]
        );
        assert!(mid.windows(2).all(|w| w[0] <= w[1]));
        for n in 0..100 {
            for j in [0.0, 0.3, 0.999, 1.0, f64::NAN, -4.0, f64::INFINITY] {
                let d = retry_delay(n, Pushback::After(u32::MAX), j);
                assert!((1..=MAX_DELAY).contains(&d), "{n} {j} {d}");
            }
        }
        assert_eq!(retry_delay(0, Pushback::None, 0.5), 5, "0 is read as 1");
    }

    #[test]
    fn jitter_spreads_twenty_percent_either_way() {
        assert_eq!(retry_delay(1, Pushback::None, 0.0), 4);
        assert_eq!(retry_delay(1, Pushback::None, 1.0), 6);
        assert_eq!(retry_delay(4, Pushback::None, 0.0), 1_440);
        assert_eq!(retry_delay(4, Pushback::None, 1.0), 2_160);
        // 10 h + 20% would pass SQS's 12 h: clamped.
        assert_eq!(retry_delay(7, Pushback::None, 1.0), MAX_DELAY);
    }

    #[test]
    fn pushback_waits_longer_never_shorter() {
        assert_eq!(retry_delay(1, Pushback::SlowDown, 0.5), 60);
        assert_eq!(retry_delay(1, Pushback::After(120), 0.5), 120);
        assert_eq!(retry_delay(1, Pushback::After(1), 0.5), 5);
        assert_eq!(
            retry_delay(1, Pushback::After(86_400), 0.5),
            MAX_RETRY_AFTER
        );
        assert_eq!(retry_delay(5, Pushback::After(600), 0.5), 7_200);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(parse_retry_after(" 120 ", 0), Some(120));
        assert_eq!(parse_retry_after("99999999999999999999", 0), Some(u32::MAX));
        // 1994-11-06T08:49:37Z = 784111777.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777 - 30),
            Some(30)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777 + 30),
            Some(0),
            "a date in the past means now"
        );
        for junk in [
            "",
            "-5",
            "1.5",
            "soon",
            "Sun, 06 Xyz 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 36 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:3é GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(junk, 0), None, "{junk}");
        }
    }

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 11, 26) * 86_400, 1_795_651_200);
    }
}
