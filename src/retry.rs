//! When to try the Console again: jittered exponential backoff bounded by the run's deadline.
//!
//! This module owns the arithmetic of waiting and nothing else: it does not know HTTP and
//! does not decide which failures are worth another attempt (`console` does). A wait is drawn
//! uniformly from a window that doubles with each attempt ("full jitter"), so a fleet that
//! failed together comes back spread out. A `Retry-After` from the Console is a floor with
//! the same jitter on top, never an exact time, because every throttled host is told the
//! same value and would otherwise return in one wave.

use std::time::{Duration, Instant};

/// The first attempt's window; each later attempt doubles it.
const BASE: Duration = Duration::from_secs(1);
/// The first window after a throttled answer (one with `Retry-After`). Wider than [`BASE`]
/// because a throttled host is one of many: the fleet benchmark (`bench/fleet`) showed a
/// 1 s start sending 2.9 requests per token and retry waves 5x the rate limit, against 2.1
/// and 1.5x with 8 s.
const THROTTLED_BASE: Duration = Duration::from_secs(8);
/// The widest window, so a long outage is still probed about once a minute.
const CAP: Duration = Duration::from_secs(60);
/// The most attempts a run makes at one token, whatever time is left.
pub const MAX_ATTEMPTS: u32 = 15;
/// The least time worth starting another attempt with; less than this, give up instead.
const MIN_ATTEMPT_TIME: Duration = Duration::from_secs(1);
/// A `Retry-After` above this is treated as this, so a confused Console cannot park the
/// agent for hours (the deadline is usually far shorter anyway).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// What to do after a failed attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Wait this long, then try again.
    Wait(Duration),
    /// Stop; the text says why (for the final error line).
    GiveUp(String),
}

/// Decides the wait after failed attempt number `attempt` (1-based).
pub fn next(attempt: u32, retry_after: Option<Duration>, deadline: Instant) -> Next {
    if attempt >= MAX_ATTEMPTS {
        return Next::GiveUp(format!("{MAX_ATTEMPTS} attempts were made"));
    }
    let left = deadline.saturating_duration_since(Instant::now());
    let Some(usable) = left.checked_sub(MIN_ATTEMPT_TIME) else {
        return Next::GiveUp("the deadline passed".to_owned());
    };
    let floor = retry_after.map(|d| d.min(MAX_RETRY_AFTER));
    if let Some(floor) = floor.filter(|f| *f > usable) {
        let secs = floor.as_secs();
        return Next::GiveUp(format!(
            "the Console asked to wait {secs}s, past the deadline"
        ));
    }
    // A wait drawn past the deadline is cut short so the last attempt still happens.
    Next::Wait(delay(attempt, floor).min(usable))
}

/// Full jitter over the attempt's window, on top of the Console's floor if it gave one.
pub fn delay(attempt: u32, floor: Option<Duration>) -> Duration {
    let window = match floor {
        Some(_) => THROTTLED_BASE.saturating_mul(1 << attempt.saturating_sub(1).min(16)),
        None => BASE.saturating_mul(1 << attempt.min(16)),
    };
    floor.unwrap_or_default() + window.min(CAP).mul_f64(crate::random::fraction())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    #[test]
    fn waits_stay_within_the_doubling_window() {
        for attempt in 1..20 {
            let window = BASE.saturating_mul(1 << attempt.min(16)).min(CAP);
            assert!(delay(attempt, None) <= window, "attempt {attempt}");
        }
    }

    #[test]
    fn waits_are_spread_not_identical() {
        let waits: Vec<Duration> = (0..20).map(|_| delay(5, None)).collect();
        assert!(waits.iter().any(|w| *w != waits[0]), "{waits:?}");
    }

    #[test]
    fn retry_after_is_a_floor_with_jitter_on_top() {
        let floor = Duration::from_secs(7);
        for _ in 0..20 {
            let Next::Wait(wait) = next(1, Some(floor), far()) else {
                panic!("gave up")
            };
            assert!(wait >= floor && wait <= floor + THROTTLED_BASE, "{wait:?}");
        }
    }

    #[test]
    fn a_retry_after_past_the_deadline_gives_up_and_says_so() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let next = next(1, Some(Duration::from_secs(30)), deadline);
        assert!(
            matches!(&next, Next::GiveUp(why) if why.contains("30s")),
            "{next:?}"
        );
    }

    #[test]
    fn waits_are_cut_to_leave_time_for_a_last_attempt() {
        let deadline = Instant::now() + Duration::from_secs(3);
        let Next::Wait(wait) = next(10, None, deadline) else {
            panic!("gave up")
        };
        assert!(wait <= Duration::from_secs(2), "{wait:?}");
    }

    #[test]
    fn attempts_and_deadline_are_bounded() {
        assert!(matches!(next(MAX_ATTEMPTS, None, far()), Next::GiveUp(_)));
        let past = Instant::now();
        assert!(matches!(next(1, None, past), Next::GiveUp(_)));
    }
}
