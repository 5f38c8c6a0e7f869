//! Flag receivers whose deliveries keep failing, and clear the flag on the
//! next success: webhook endpoints, and each account's ATS. The streak lives in
//! the store; this module decides what counts and says so in the logs.

use screenhub_core::delivery::DeliveryTarget;
use screenhub_store::{AttemptResult, Delivery, FailingPolicy, HealthFlip, Receiver};

use crate::ops::webhook_body;
use crate::state::AppState;

/// Count one attempt of `delivery` towards its receiver's health.
pub async fn note_attempt(
    state: &AppState,
    delivery: &Delivery,
    result: &AttemptResult,
    error: Option<&str>,
) {
    let receiver = match (delivery.target, &delivery.endpoint_id, &delivery.account_id) {
        (DeliveryTarget::Vendor, Some(endpoint), _) => Receiver::Endpoint(endpoint),
        (DeliveryTarget::Ats, _, Some(account)) => Receiver::Ats(account),
        _ => return,
    };
    let now = state.now();
    let webhook = |event, data| webhook_body(event, now, data);
    let noted = match result {
        AttemptResult::Succeeded => {
            state
                .store
                .note_receiver_success(receiver, now, webhook)
                .await
        }
        AttemptResult::RetryAt(_) | AttemptResult::Failed | AttemptResult::Dead => {
            let policy = FailingPolicy {
                after_attempts: state.config.failing_after_attempts,
                after_ms: state.config.failing_after_secs as i64 * 1000,
            };
            let error = error.unwrap_or("the attempt failed");
            state
                .store
                .note_receiver_failure(receiver, error, policy, now, webhook)
                .await
        }
    };
    match noted {
        Ok(None) => {}
        Ok(Some(flip)) => {
            match flip {
                HealthFlip::Failing => {
                    tracing::warn!(receiver = ?receiver, error, "deliveries keep failing; flagged")
                }
                HealthFlip::Recovered => {
                    tracing::info!(receiver = ?receiver, "deliveries succeed again; flag cleared")
                }
            }
            // The flip queued a webhook.
            state.work_added();
        }
        Err(e) => tracing::warn!(error = %e, "could not record the receiver's health"),
    }
}
