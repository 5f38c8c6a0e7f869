//! The delivery worker: claims due deliveries under a lease, attempts them, and
//! records every attempt. It sleeps until new work is written (a notification:
//! in memory from this process, through PostgreSQL's LISTEN/NOTIFY from other
//! nodes), a retry falls due, or a lease expires, with a slow poll as the
//! safety net.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use screenhub_core::delivery::{
    parse_retry_after, verdict_for_status, DeliveryState, DeliveryTarget, Verdict,
};
use screenhub_core::event::EventType;
use screenhub_store::{
    Attempt, AttemptResult, ClaimedDelivery, Delivery, Heard, OutboxMessage, Recorded,
};
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::connectors::{connector, AttemptOutcome};
use crate::ops::webhook_body;
use crate::outbound::describe_transport_error;
use crate::state::AppState;
use crate::views::DeliveryView;

/// Even with nothing to do, look again this often (another node may have
/// written work without telling us).
const SAFETY_POLL: Duration = Duration::from_secs(5);
/// At most this much of a response is kept with an attempt.
const EXCERPT_BYTES: usize = 1024;

type Outcome = AttemptOutcome;

fn lease_ms(state: &AppState) -> i64 {
    // Longer than any attempt can take, so a live worker never loses its lease.
    state.config.outbound_timeout_ms as i64 + 5_000
}

/// Run until `shutdown`; then stop claiming and let attempts in flight finish.
pub async fn run(state: AppState, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(state.config.delivery_concurrency));
    let mut in_flight = JoinSet::new();
    tracing::info!(node = %state.node_id, "delivery worker started");
    // A JoinSet aborts its tasks when dropped: the listener ends with the
    // worker, even when the worker is aborted rather than shut down.
    let mut listener = JoinSet::new();
    listener.spawn(listen_to_other_nodes(state.clone(), shutdown.clone()));
    loop {
        while in_flight.try_join_next().is_some() {}
        let free = slots.available_permits();
        let now = state.now();
        if free > 0 {
            match state
                .store
                .claim_due(&state.node_id, now, lease_ms(&state), free as u32)
                .await
            {
                Ok(batch) => {
                    let full = batch.len() == free;
                    for claimed in batch {
                        let permit = slots
                            .clone()
                            .acquire_owned()
                            .await
                            .expect("the semaphore is never closed");
                        let state = state.clone();
                        in_flight
                            .spawn(async move { attempt(&state, claimed, Some(permit)).await });
                    }
                    if full {
                        continue;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "claiming deliveries failed; retrying shortly")
                }
            }
        }
        // While attempts are in flight (each wakes the worker when it ends),
        // only retries falling due need watching: one index probe. The full
        // look-ahead also finds leases expiring, but reads every pending
        // delivery, and ran after nearly every claim under load.
        let lookahead = if in_flight.is_empty() {
            state.store.next_wakeup_after(now).await
        } else {
            state.store.next_retry_after(now).await
        };
        let wait = match lookahead {
            Ok(Some(at)) => Duration::from_millis((at - now).max(1) as u64).min(SAFETY_POLL),
            Ok(None) => SAFETY_POLL,
            Err(e) => {
                tracing::error!(error = %e, "reading the delivery queue failed");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            _ = state.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => break,
        }
    }
    tracing::info!(
        in_flight = in_flight.len(),
        "delivery worker stopping; finishing attempts in flight"
    );
    while in_flight.join_next().await.is_some() {}
    listener.abort_all();
}

/// Announce new work to every node's worker (PostgreSQL only), once per burst:
/// requests made while a notification is being sent fold into the next one.
pub async fn announce_work(state: AppState, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = state.announce.notified() => {}
            _ = shutdown.cancelled() => return,
        }
        if let Err(e) = state.store.announce_work().await {
            // The other nodes' safety poll finds the work anyway.
            tracing::warn!(error = %e, "could not announce new work to other nodes");
        }
    }
}

/// Wake the local dispatcher when any node queues work (PostgreSQL only).
/// A lost connection is re-established, and the dispatcher woken, since
/// notifications sent meanwhile are gone; the safety poll covers the gap.
async fn listen_to_other_nodes(state: AppState, shutdown: CancellationToken) {
    const RECONNECT_DELAY: Duration = Duration::from_secs(1);
    while !shutdown.is_cancelled() {
        let mut listener = match state.store.listen_for_work().await {
            Ok(Some(listener)) => listener,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not listen for work from other nodes; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(RECONNECT_DELAY) => continue,
                    _ = shutdown.cancelled() => return,
                }
            }
        };
        state.wake_dispatcher();
        loop {
            let heard = tokio::select! {
                heard = listener.next() => heard,
                _ = shutdown.cancelled() => return,
            };
            match heard {
                Ok(Heard::Work) => state.wake_dispatcher(),
                Ok(Heard::Reconnected) => {
                    tracing::info!("reconnected the work listener");
                    state.wake_dispatcher();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the work listener failed; reconnecting");
                    break;
                }
            }
        }
    }
}

/// Attempt everything due now, one at a time, until nothing is left to claim.
/// For tests and tools that drive time themselves. Returns the attempts made.
pub async fn run_once(state: &AppState) -> anyhow::Result<usize> {
    let mut attempts = 0;
    loop {
        let batch = state
            .store
            .claim_due(&state.node_id, state.now(), lease_ms(state), 100)
            .await?;
        if batch.is_empty() {
            return Ok(attempts);
        }
        for claimed in batch {
            attempt(state, claimed, None).await;
            attempts += 1;
        }
    }
}

/// One attempt of one delivery, recorded whatever happens. `slot` is given
/// back as soon as the request is over, not when its record is durable: the
/// lease keeps the delivery ours until then, and the worker can meanwhile
/// send more (recording waits for a group commit, sending does not).
pub async fn attempt(
    state: &AppState,
    claimed: ClaimedDelivery,
    slot: Option<OwnedSemaphorePermit>,
) {
    let delivery = &claimed.delivery;
    let started_at = state.now();
    let clock = Instant::now();
    let outcome = match delivery.target {
        DeliveryTarget::Vendor => send_webhook(state, delivery, &claimed.payload).await,
        DeliveryTarget::Ats => send_to_ats(state, delivery, &claimed.payload).await,
    };
    let elapsed = clock.elapsed();
    if let Some(slot) = slot {
        drop(slot);
        state.wake_dispatcher();
    }
    let duration_ms = elapsed.as_millis() as i64;
    let now = state.now();
    let attempts_this_round = (delivery.attempts - delivery.round_start + 1).max(1) as usize;
    let result = match outcome.verdict {
        Verdict::Delivered => AttemptResult::Succeeded,
        Verdict::Permanent => AttemptResult::Failed,
        Verdict::Retry { retry_after_ms } => {
            let jitter = rand::thread_rng().gen::<f64>();
            match state
                .schedule
                .next_attempt_at(now, attempts_this_round, retry_after_ms, jitter)
            {
                Some(at) => AttemptResult::RetryAt(at),
                None => AttemptResult::Dead,
            }
        }
    };
    if let Some(reason) = &outcome.credential_problem {
        if let Some(account) = &delivery.account_id {
            if let Err(e) = state.store.set_account_error(account, reason, now).await {
                tracing::error!(error = %e, "could not flag the account");
            }
        }
    }
    let record = Attempt {
        attempt: delivery.attempts + 1,
        started_at,
        duration_ms,
        status_code: outcome.status.map(i64::from),
        error: outcome.error.clone(),
        response_excerpt: outcome.excerpt,
    };
    record_metrics(delivery.target, &result, elapsed);
    let announce = announcement(delivery, &result, &record, now);
    match state
        .store
        .record_attempt(delivery, &state.node_id, &record, &result, now, announce)
        .await
    {
        Ok(Recorded::Done) => {
            // The record may unblock the next update of this order (per-order
            // FIFO): wake the worker again, now that it is committed.
            state.wake_dispatcher();
        }
        Ok(Recorded::LeaseLost) => {
            metrics::counter!(crate::metrics::LEASE_TAKEOVERS).increment(1);
            tracing::warn!(delivery_id = %delivery.id, "lease was taken over while attempting; the other worker's result stands")
        }
        Err(e) => {
            tracing::error!(delivery_id = %delivery.id, error = %e, "could not record a delivery attempt; it will be retried when its lease expires")
        }
    }
    crate::health::note_attempt(state, delivery, &result, record.error.as_deref()).await;
    match &result {
        AttemptResult::Succeeded => {
            tracing::debug!(delivery_id = %delivery.id, target = delivery.target.as_str(), duration_ms, "delivered")
        }
        other => tracing::info!(
            delivery_id = %delivery.id,
            target = delivery.target.as_str(),
            status = ?outcome.status,
            error = outcome.error.as_deref().unwrap_or(""),
            result = ?other,
            "delivery attempt did not succeed"
        ),
    }
}

fn record_metrics(target: DeliveryTarget, result: &AttemptResult, elapsed: Duration) {
    let outcome = match result {
        AttemptResult::Succeeded => "delivered",
        AttemptResult::RetryAt(_) => "retry",
        AttemptResult::Failed => "failed",
        AttemptResult::Dead => "dead",
    };
    let target = target.as_str();
    metrics::counter!(crate::metrics::DELIVERY_ATTEMPTS, "target" => target, "outcome" => outcome)
        .increment(1);
    metrics::histogram!(crate::metrics::DELIVERY_ATTEMPT_DURATION, "target" => target)
        .record(elapsed.as_secs_f64());
}

/// Tell the vendor when an update to the ATS or an order's webhook was given
/// up (the vendor may retry it by hand once its endpoint is back). A webhook's
/// news goes to the vendor's other endpoints, and never about a webhook that is
/// itself an announcement, which would announce itself forever.
fn announcement(
    delivery: &Delivery,
    result: &AttemptResult,
    attempt: &Attempt,
    now: i64,
) -> Vec<OutboxMessage> {
    if delivery.target == DeliveryTarget::Vendor && !delivery.event_type.starts_with("order.") {
        return vec![];
    }
    let (event, state) = match result {
        AttemptResult::Dead => (EventType::DeliveryExhausted, DeliveryState::Dead),
        AttemptResult::Failed => (EventType::DeliveryFailed, DeliveryState::Failed),
        _ => return vec![],
    };
    // The delivery as this attempt leaves it, which is what the event announces.
    let view = DeliveryView::from(delivery).after_attempt(attempt, state, now);
    let payload = webhook_body(event, now, json!({ "delivery": view }));
    vec![match &delivery.endpoint_id {
        Some(endpoint) => OutboxMessage::VendorElsewhere {
            event,
            payload,
            except: endpoint.clone(),
        },
        None => OutboxMessage::Vendor { event, payload },
    }]
}

async fn send_webhook(state: &AppState, delivery: &Delivery, payload: &str) -> Outcome {
    let Some(endpoint_id) = &delivery.endpoint_id else {
        return Outcome::permanent("this webhook has no endpoint");
    };
    let (url, secrets) = match state.store.endpoint_secrets(endpoint_id, state.now()).await {
        Ok(Some(found)) => found,
        Ok(None) => return Outcome::permanent("the webhook endpoint was deleted"),
        Err(e) => {
            return Outcome {
                verdict: Verdict::Retry {
                    retry_after_ms: None,
                },
                status: None,
                error: Some(format!("could not read the endpoint: {e}")),
                excerpt: None,
                credential_problem: None,
            }
        }
    };
    if let Err(e) = state.policy.check_url(&url) {
        return Outcome::permanent(e);
    }
    let body = payload.as_bytes().to_vec();
    let timestamp = state.now() / 1000;
    let signature = match crate::webhooks::sign(&secrets, delivery.id.as_str(), timestamp, &body) {
        Ok(s) => s,
        Err(e) => return Outcome::permanent(format!("could not sign the webhook: {e}")),
    };
    let response = state
        .http
        .post(&url)
        .header("content-type", "application/json")
        .header("webhook-id", delivery.id.as_str())
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    match response {
        Ok(response) => {
            let (status, verdict) = http_verdict(state, &response);
            let excerpt = read_excerpt(response).await;
            let error = (verdict != Verdict::Delivered)
                .then(|| format!("the endpoint answered HTTP {status}"));
            Outcome {
                verdict,
                status: Some(status),
                error,
                excerpt,
                credential_problem: None,
            }
        }
        Err(e) => Outcome {
            verdict: Verdict::Retry {
                retry_after_ms: None,
            },
            status: None,
            error: Some(describe_transport_error(&e)),
            excerpt: None,
            credential_problem: None,
        },
    }
}

/// Hand an ATS delivery to the connector of the account's ATS.
async fn send_to_ats(state: &AppState, delivery: &Delivery, payload: &str) -> Outcome {
    let Some(account) = &delivery.account_id else {
        return Outcome::permanent("this update has no account");
    };
    let connection = match state.store.ats_connection(account).await {
        Ok(Some(c)) => c,
        Ok(None) => return Outcome::permanent("the account no longer exists"),
        Err(e) => return Outcome::retry(format!("could not read the account's credentials: {e}")),
    };
    connector(connection.ats)
        .deliver(state, connection, delivery, payload)
        .await
}

/// A receiver's HTTP status and what it means for the delivery
/// (`Retry-After` honoured).
pub(crate) fn http_verdict(state: &AppState, response: &reqwest::Response) -> (u16, Verdict) {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, state.now()));
    (status, verdict_for_status(status, retry_after))
}

/// The start of a response body, cut on a character boundary.
pub(crate) async fn read_excerpt(mut response: reqwest::Response) -> Option<String> {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_BYTES * 4 {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    if bytes.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut end = text.len().min(EXCERPT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(text[..end].to_owned())
}
