//! Faults the simulated Teamtailor can inject, to prove a partner copes.

use serde::{Deserialize, Serialize};

/// What happens to a webhook reply the fault takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LostReply {
    /// The reply is thrown away: the partner took the order, Teamtailor never knows.
    #[default]
    Drop,
    /// The reply is held `webhook_delay_ms` before it is read (past the
    /// timeout, the order is lost).
    Delay,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Lose the next N webhook replies.
    pub lose_webhook_replies: u32,
    pub lost_reply: LostReply,
    pub webhook_delay_ms: u64,
    /// Sign the next N webhooks with a wrong secret.
    pub bad_signatures: u32,
    /// Sign the next N webhooks with a `t` ten minutes old.
    pub stale_signatures: u32,
    /// Send the next N webhooks without `Teamtailor-Signature`.
    pub unsigned_webhooks: u32,
    /// Send the next N webhooks and clicks with a provider key signed by a wrong key.
    pub wrong_provider_keys: u32,
    /// Answer the next N valid Partner API writes with `api_error_status`.
    pub api_errors: u32,
    /// Share (0–1) of valid writes answered with `api_error_status`.
    pub api_error_rate: f64,
    /// 429 or a 5xx.
    pub api_error_status: u16,
    /// `Retry-After` on those answers, in seconds.
    pub retry_after_secs: Option<u64>,
    /// Reseed the random draws (not kept).
    pub seed: Option<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            lose_webhook_replies: 0,
            lost_reply: LostReply::Drop,
            webhook_delay_ms: 1_000,
            bad_signatures: 0,
            stale_signatures: 0,
            unsigned_webhooks: 0,
            wrong_provider_keys: 0,
            api_errors: 0,
            api_error_rate: 0.0,
            api_error_status: 503,
            retry_after_secs: None,
            seed: None,
        }
    }
}

impl Faults {
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.api_error_rate) {
            return Err("api_error_rate must be between 0 and 1".into());
        }
        if self.api_error_status != 429 && !(500..=599).contains(&self.api_error_status) {
            return Err("api_error_status must be 429 or a 5xx".into());
        }
        if self.webhook_delay_ms > 600_000 {
            return Err("webhook_delay_ms must be at most 600000".into());
        }
        Ok(())
    }
}

/// Take one from a countdown: true while it lasts.
pub fn take(counter: &mut u32) -> bool {
    if *counter > 0 {
        *counter -= 1;
        true
    } else {
        false
    }
}
