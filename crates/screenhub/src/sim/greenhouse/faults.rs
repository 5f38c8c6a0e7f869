//! Faults Greenhouse's side can suffer: a `send_test` reply that is lost or
//! arrives too late (the recruiter clicks again, same `url`), and a PATCH
//! answered with a 5xx or 429 (the partner must retry).

use rand::Rng;
use serde::{Deserialize, Serialize};

/// How a lost `send_test` reply is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LostReply {
    /// The answer is thrown away as if the connection died.
    #[default]
    Drop,
    /// No answer within `send_test_delay_ms` (Greenhouse's timeout): the
    /// same request goes again while the first may still be in flight.
    Delay,
}

/// Posting a new set replaces the old one; fields left out take their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Lose the next this-many `send_test` replies; each loss is followed by
    /// the same request again (a second click on the same take-home test).
    pub lose_send_test_replies: u32,
    pub lost_reply: LostReply,
    pub send_test_delay_ms: u64,
    /// Answer the next this-many authenticated PATCHes with `patch_error_status`.
    pub patch_errors: u32,
    /// Share (0..1) of authenticated PATCHes answered with `patch_error_status`.
    pub patch_error_rate: f64,
    /// A 5xx or 429.
    pub patch_error_status: u16,
    /// `Retry-After` on those answers.
    pub retry_after_secs: Option<u64>,
    /// Reseed the generator, for a reproducible run. Not echoed back.
    #[serde(skip_serializing)]
    pub seed: Option<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            lose_send_test_replies: 0,
            lost_reply: LostReply::Drop,
            send_test_delay_ms: 1_000,
            patch_errors: 0,
            patch_error_rate: 0.0,
            patch_error_status: 503,
            retry_after_secs: None,
            seed: None,
        }
    }
}

impl Faults {
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.patch_error_rate) {
            return Err(format!(
                "patch_error_rate must be between 0 and 1 (got {})",
                self.patch_error_rate
            ));
        }
        if !(self.patch_error_status == 429 || (500..=599).contains(&self.patch_error_status)) {
            return Err(format!(
                "patch_error_status must be 429 or a 5xx (got {})",
                self.patch_error_status
            ));
        }
        if self.send_test_delay_ms > 60_000 {
            return Err("send_test_delay_ms must be at most 60000".into());
        }
        if self.lose_send_test_replies > 10 {
            return Err("lose_send_test_replies must be at most 10".into());
        }
        if self.retry_after_secs.is_some_and(|s| s > 86_400) {
            return Err("retry_after_secs must be at most 86400".into());
        }
        Ok(())
    }

    /// Whether this send_test reply is lost; counts it down.
    pub fn take_lost_reply(&mut self) -> Option<LostReply> {
        if self.lose_send_test_replies == 0 {
            return None;
        }
        self.lose_send_test_replies -= 1;
        Some(self.lost_reply)
    }

    /// The status an authenticated PATCH gets instead of 200, if any.
    pub fn take_patch_error(&mut self, rng: &mut impl Rng) -> Option<u16> {
        if self.patch_errors > 0 {
            self.patch_errors -= 1;
            return Some(self.patch_error_status);
        }
        (self.patch_error_rate > 0.0 && rng.gen::<f64>() < self.patch_error_rate)
            .then_some(self.patch_error_status)
    }
}
