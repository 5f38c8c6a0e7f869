//! Slows down guessing: a client (by IP address) that fails authentication too
//! often in a window is refused with 429 until the window passes. This is a
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

    /// `Err(retry_after)` while `ip` is locked out.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        if self.max_failures == 0 {
            return Ok(());
        }
        let clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        match clients.get(&ip) {
            Some(w) if w.failures >= self.max_failures => {
                let elapsed = w.started.elapsed();
                if elapsed < self.window {
                    Err(self.window - elapsed)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    pub fn record_failure(&self, ip: IpAddr) {
        if self.max_failures == 0 {
            return;
        }
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
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(limiter.check(ip).is_ok());
            limiter.record_failure(ip);
        }
        assert!(limiter.check(ip).is_err());
        assert!(
            limiter.check(other).is_ok(),
            "only the failing client is slowed"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert!(limiter.check(ip).is_ok());
    }
}
