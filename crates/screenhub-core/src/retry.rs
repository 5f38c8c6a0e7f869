//! The retry schedule: how long to wait before each attempt.

use serde::{Deserialize, Serialize};

use crate::clock::Millis;

/// Delays in milliseconds before attempt 1, 2, … A delivery whose attempts
/// outnumber the delays is dead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrySchedule(Vec<u64>);

impl Default for RetrySchedule {
    /// Immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about 28 hours in all).
    fn default() -> Self {
        const S: u64 = 1000;
        const M: u64 = 60 * S;
        const H: u64 = 60 * M;
        Self(vec![0, 5 * S, 5 * M, 30 * M, 2 * H, 5 * H, 10 * H, 10 * H])
    }
}

impl RetrySchedule {
    pub fn new(delays_ms: Vec<u64>) -> Result<Self, String> {
        if delays_ms.is_empty() {
            return Err("the retry schedule needs at least one delay".into());
        }
        if delays_ms.len() > 50 {
            return Err("the retry schedule may have at most 50 delays".into());
        }
        Ok(Self(delays_ms))
    }

    /// Parse `0,100,1000` (milliseconds).
    pub fn parse_csv(s: &str) -> Result<Self, String> {
        let delays = s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<u64>().map_err(|_| {
                    format!("`{p}` in the retry schedule is not a whole number of milliseconds")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(delays)
    }

    pub fn delays_ms(&self) -> &[u64] {
        &self.0
    }

    pub fn max_attempts(&self) -> usize {
        self.0.len()
    }

    /// When to try again after `attempts_made` attempts of this round have
    /// failed, or `None` when the schedule is used up. `jitter` in `[0, 1)`
    /// spreads retries ±10% so a burst of failures does not come back as a burst.
    /// A receiver's `Retry-After` is honoured when it asks for longer.
    pub fn next_attempt_at(
        &self,
        now: Millis,
        attempts_made: usize,
        retry_after_ms: Option<i64>,
        jitter: f64,
    ) -> Option<Millis> {
        let delay = *self.0.get(attempts_made)? as f64;
        let jittered = (delay * (0.9 + 0.2 * jitter.clamp(0.0, 1.0))) as i64;
        Some(now + jittered.max(retry_after_ms.unwrap_or(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_runs_out() {
        let s = RetrySchedule::parse_csv("0, 100,1000").unwrap();
        assert_eq!(s.next_attempt_at(0, 1, None, 0.5), Some(100));
        assert_eq!(s.next_attempt_at(0, 2, None, 0.5), Some(1000));
        assert_eq!(s.next_attempt_at(0, 3, None, 0.5), None);
    }

    #[test]
    fn jitter_and_retry_after() {
        let s = RetrySchedule::new(vec![0, 1000]).unwrap();
        assert_eq!(s.next_attempt_at(0, 1, None, 0.0), Some(900));
        assert_eq!(s.next_attempt_at(0, 1, None, 1.0), Some(1100));
        assert_eq!(s.next_attempt_at(0, 1, Some(5000), 0.5), Some(5000));
    }

    #[test]
    fn bad_schedules() {
        assert!(RetrySchedule::parse_csv("").is_err());
        assert!(RetrySchedule::parse_csv("1,x").unwrap_err().contains("`x`"));
        assert_eq!(RetrySchedule::default().max_attempts(), 8);
    }
}
