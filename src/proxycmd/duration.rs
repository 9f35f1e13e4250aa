//! Go's `time.ParseDuration`, for kubectl's duration flags (`--keepalive=30s`, `1m30s`, `-1s`).

use std::time::Duration;

/// A parsed Go duration: its magnitude and whether it was negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoDuration {
    /// The magnitude.
    pub duration: Duration,
    /// Whether a `-` sign was given (and the magnitude is not zero).
    pub negative: bool,
}

/// Parses `[-+]` followed by number-unit pairs (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), or `0`.
pub fn parse_go_duration(s: &str) -> Option<GoDuration> {
    let (negative, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(GoDuration {
            duration: Duration::ZERO,
            negative: false,
        });
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += n * scale;
    }
    let duration = Duration::try_from_secs_f64(total).ok()?;
    Some(GoDuration {
        negative: negative && !duration.is_zero(),
        duration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let d = |s: &str| parse_go_duration(s).map(|g| (g.duration, g.negative));
        assert_eq!(d("0"), Some((Duration::ZERO, false)));
        assert_eq!(d("30s"), Some((Duration::from_secs(30), false)));
        assert_eq!(d("1m30s"), Some((Duration::from_secs(90), false)));
        assert_eq!(d("1.5h"), Some((Duration::from_secs(5400), false)));
        assert_eq!(d("250ms"), Some((Duration::from_millis(250), false)));
        assert_eq!(d("-1s"), Some((Duration::from_secs(1), true)));
        assert_eq!(d("10"), None, "Go needs a unit");
        assert_eq!(d(""), None);
        assert_eq!(d("5x"), None);
    }
}
