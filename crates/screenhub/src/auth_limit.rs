//! Slows down guessing: a client (by IP address) that fails authentication too
//! often in a window has its further failures answered 429 until the window
//! passes. A valid credential is never held back: callers check the credential
//! first and consult the brake only for a failure, so a guesser behind the
//! same address (or load balancer) as Ashby cannot lock Ashby out. This is a
//! brake, not a correctness mechanism, so it lives in process memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Past this many tracked clients, expired windows are swept before adding one.
const SWEEP_AT: usize = 10_000;

pub struct FailedAuthLimiter {
    max_failures: u32,
    window: Duration,
    clients: Mutex<HashMap<IpAddr, Window>>,
}

struct Window {
    started: Instant,
    failures: u32,
}

impl FailedAuthLimiter {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Record a failed attempt: `Some(seconds to wait, at least 1)` when the
    /// client had already used up its failures and is to be answered 429
    /// rather than 401.
    pub fn failed(&self, ip: Option<IpAddr>) -> Option<u64> {
        let locked_out = self.check(ip).err();
        self.record_failure(ip);
        locked_out
    }

    /// `Err(seconds to wait, at least 1)` while the client is locked out. A
    /// client whose address is unknown is never held back. Only for attempts
    /// that cost something to check (a live call to the ATS); otherwise check
    /// the credential and call `failed`.
    pub fn check(&self, ip: Option<IpAddr>) -> Result<(), u64> {
        let Some(ip) = ip.filter(|_| self.max_failures > 0) else {
            return Ok(());
        };
        let clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        match clients.get(&ip) {
            Some(w) if w.failures >= self.max_failures => {
                let elapsed = w.started.elapsed();
                if elapsed < self.window {
                    Err((self.window - elapsed).as_secs().max(1))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    fn record_failure(&self, ip: Option<IpAddr>) {
        let Some(ip) = ip.filter(|_| self.max_failures > 0) else {
            return;
        };
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if clients.len() >= SWEEP_AT {
            let window = self.window;
            clients.retain(|_, w| w.started.elapsed() < window);
        }
        let window = clients.entry(ip).or_insert(Window {
            started: Instant::now(),
            failures: 0,
        });
        if window.started.elapsed() >= self.window {
            *window = Window {
                started: Instant::now(),
                failures: 0,
            };
        }
        window.failures += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_out_after_too_many_failures_then_lets_go() {
        let limiter = FailedAuthLimiter::new(3, Duration::from_millis(50));
        let ip: Option<IpAddr> = Some("127.0.0.1".parse().unwrap());
        let other: Option<IpAddr> = Some("127.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert_eq!(limiter.failed(ip), None);
        }
        assert!(
            limiter.failed(ip).is_some(),
            "the fourth failure is refused"
        );
        assert!(limiter.check(ip).is_err());
        assert!(
            limiter.check(other).is_ok(),
            "only the failing client is slowed"
        );
        assert!(
            limiter.check(None).is_ok(),
            "an unknown address is not held back"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert!(limiter.check(ip).is_ok());
    }
}
