//! Container restart back-off, as the kubelet computes it (`CrashLoopBackOff`).
//!
//! The kubelet keys a `flowcontrol.Backoff` per container: the first restart is immediate,
//! the next waits 10s after the container finished, then 20s, 40s, … capped at 300s. The
//! delay starts over when the container ran for more than twice the cap (10 minutes) since
//! the last restart.

use std::time::{Duration, Instant};

/// The first back-off delay (kubelet: `initialBackOff`).
pub const INITIAL: Duration = Duration::from_secs(10);
/// The longest back-off delay (kubelet: `MaxContainerBackOff`).
pub const MAX: Duration = Duration::from_secs(300);

/// The back-off state of one container.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    entry: Option<Entry>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    delay: Duration,
    last_update: Instant,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(INITIAL, MAX)
    }
}

impl Backoff {
    /// A back-off that starts at `initial` and doubles up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            entry: None,
        }
    }

    fn expired(&self, entry: &Entry, event: Instant) -> bool {
        event.saturating_duration_since(entry.last_update) > self.max * 2
    }

    /// How much longer a container that finished at `finished` must wait at `now` before it
    /// may be restarted (`IsInBackOffSince`); `None` when it may restart now. Also returns
    /// the whole current delay, for the `back-off 20s restarting …` message.
    pub fn remaining(&self, finished: Instant, now: Instant) -> Option<(Duration, Duration)> {
        let entry = self.entry.as_ref()?;
        if self.expired(entry, finished) {
            return None;
        }
        let elapsed = now.saturating_duration_since(finished);
        (elapsed < entry.delay).then(|| (entry.delay - elapsed, entry.delay))
    }

    /// Records a restart of a container that finished at `finished` (`Next`): the delay
    /// starts at the initial value, or doubles up to the cap.
    pub fn next(&mut self, finished: Instant, now: Instant) {
        let delay = match self.entry {
            Some(entry) if !self.expired(&entry, finished) => (entry.delay * 2).min(self.max),
            _ => self.initial,
        };
        self.entry = Some(Entry {
            delay,
            last_update: now,
        });
    }
}

/// Formats a duration (whole seconds) the way Go's `time.Duration.String` does: `10s`,
/// `1m20s`, `5m0s`, `1h0m0s`.
pub fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let sec_part = format!("{s}s");
    if h > 0 {
        format!("{h}h{m}m{sec_part}")
    } else if m > 0 {
        format!("{m}m{sec_part}")
    } else {
        sec_part
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_as_kubelet() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        // First crash: no back-off, restart at once.
        assert_eq!(b.remaining(t0, t0), None);
        b.next(t0, t0);
        // Each further crash right after the restart waits the current delay.
        let mut now = t0;
        let mut seen = Vec::new();
        for _ in 0..8 {
            now += Duration::from_secs(1); // ran one second, crashed
            let (left, whole) = b.remaining(now, now).expect("in back-off");
            assert_eq!(left, whole);
            seen.push(whole.as_secs());
            now += whole;
            assert_eq!(
                b.remaining(now - whole, now),
                None,
                "back-off over after the delay"
            );
            b.next(now - whole, now);
        }
        assert_eq!(seen, vec![10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn partial_wait_and_reset_after_ten_minutes() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        b.next(t0, t0);
        let crash = t0 + Duration::from_secs(5);
        let (left, whole) = b
            .remaining(crash, crash + Duration::from_secs(4))
            .expect("waiting");
        assert_eq!((left.as_secs(), whole.as_secs()), (6, 10));
        b.next(crash, crash + Duration::from_secs(10)); // delay now 20s
        // The container then runs for 11 minutes: the back-off starts over.
        let late = crash + Duration::from_secs(10 + 660);
        assert_eq!(b.remaining(late, late), None);
        b.next(late, late);
        let again = late + Duration::from_secs(1);
        assert_eq!(b.remaining(again, again).map(|r| r.1.as_secs()), Some(10));
    }

    #[test]
    fn go_duration_table() {
        let cases = [
            (10, "10s"),
            (20, "20s"),
            (80, "1m20s"),
            (160, "2m40s"),
            (300, "5m0s"),
            (3600, "1h0m0s"),
            (0, "0s"),
        ];
        for (secs, want) in cases {
            assert_eq!(go_duration(Duration::from_secs(secs)), want);
        }
    }
}
