//! The hub's two peers under load, as fast as they can be while still doing
//! their real checks: the vendor's webhook receiver (verifies every Standard
//! Webhooks signature) and Ashby's `assessment.update` (strictly validated as
//! the simulator does; everything else falls through to the simulator).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hdrhistogram::Histogram;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

const SHARDS: usize = 64;

/// `key → when it was sent` (µs since the run began), sharded so that 64
/// clients and two receivers rarely wait on one lock.
pub struct SentTimes<K> {
    shards: Vec<Mutex<HashMap<K, u64>>>,
    hasher: RandomState,
}

impl<K: std::hash::Hash + Eq> SentTimes<K> {
    fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, key: &K) -> &Mutex<HashMap<K, u64>> {
        &self.shards[self.hasher.hash_one(key) as usize % SHARDS]
    }

    pub fn insert(&self, key: K, at: u64) {
        self.shard(&key)
            .lock()
            .expect("not poisoned")
            .insert(key, at);
    }

    pub fn take(&self, key: &K) -> Option<u64> {
        self.shard(key).lock().expect("not poisoned").remove(key)
    }
}

/// A latency histogram in microseconds, 1 µs to 100 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("valid bounds")
}

/// What the whole run observes.
pub struct Tracker {
    pub epoch: Instant,
    /// Only starts sent while this is set are measured (not the warm-up's).
    pub measuring: AtomicBool,
    /// Application number → when its start was sent.
    pub starts: SentTimes<u64>,
    /// Order id → when the vendor's result was sent.
    pub results: SentTimes<String>,
    /// Order id → when the vendor's status was sent.
    pub statuses: SentTimes<String>,
    pub start_to_webhook: Mutex<Histogram<u64>>,
    pub result_to_update: Mutex<Histogram<u64>>,
    pub status_to_update: Mutex<Histogram<u64>>,
    pub webhooks: AtomicU64,
    pub ats_updates: AtomicU64,
    pub bad_signatures: AtomicU64,
    pub refused_updates: AtomicU64,
    pub vendor_calls: AtomicU64,
    pub vendor_errors: AtomicU64,
}

impl Tracker {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            measuring: AtomicBool::new(false),
            starts: SentTimes::new(),
            results: SentTimes::new(),
            statuses: SentTimes::new(),
            start_to_webhook: Mutex::new(histogram()),
            result_to_update: Mutex::new(histogram()),
            status_to_update: Mutex::new(histogram()),
            webhooks: AtomicU64::new(0),
            ats_updates: AtomicU64::new(0),
            bad_signatures: AtomicU64::new(0),
            refused_updates: AtomicU64::new(0),
            vendor_calls: AtomicU64::new(0),
            vendor_errors: AtomicU64::new(0),
        })
    }

    pub fn micros(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    pub fn measuring(&self) -> bool {
        self.measuring.load(Ordering::Relaxed)
    }

    fn record(&self, histogram: &Mutex<Histogram<u64>>, sent: u64) {
        let elapsed = self.micros().saturating_sub(sent).max(1);
        histogram
            .lock()
            .expect("not poisoned")
            .saturating_record(elapsed);
    }
}

/// The application id of start number `n` (unique per run).
pub fn application_id(run: &str, n: u64) -> String {
    format!("bench-{run}-{n}")
}

fn application_number(id: &str) -> Option<u64> {
    id.rsplit('-').next()?.parse().ok()
}

struct VendorState {
    tracker: Arc<Tracker>,
    secret: String,
    /// Orders the vendor should act on (report status and/or result).
    act_on: Option<mpsc::UnboundedSender<String>>,
}

#[derive(Deserialize)]
struct WebhookBody {
    #[serde(rename = "type")]
    event_type: String,
    data: WebhookData,
}

#[derive(Deserialize)]
struct WebhookData {
    order: Option<WebhookOrder>,
}

#[derive(Deserialize)]
struct WebhookOrder {
    id: String,
    application: WebhookApplication,
}

#[derive(Deserialize)]
struct WebhookApplication {
    ats_id: String,
}

/// The vendor's webhook endpoint: `POST /webhooks`.
pub fn vendor_router(
    tracker: Arc<Tracker>,
    secret: &str,
    act_on: Option<mpsc::UnboundedSender<String>>,
) -> anyhow::Result<Router> {
    let state = Arc::new(VendorState {
        tracker,
        secret: secret.to_owned(),
        act_on,
    });
    Ok(Router::new()
        .route("/webhooks", post(receive_webhook))
        .with_state(state))
}

async fn receive_webhook(
    State(state): State<Arc<VendorState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let now = chrono::Utc::now().timestamp();
    if crate::webhooks::verify(&state.secret, &headers, &body, now).is_err() {
        state.tracker.bad_signatures.fetch_add(1, Ordering::Relaxed);
        return StatusCode::UNAUTHORIZED;
    }
    state.tracker.webhooks.fetch_add(1, Ordering::Relaxed);
    let Ok(webhook) = serde_json::from_slice::<WebhookBody>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if webhook.event_type != "order.created" {
        return StatusCode::NO_CONTENT;
    }
    let Some(order) = webhook.data.order else {
        return StatusCode::BAD_REQUEST;
    };
    let sent =
        application_number(&order.application.ats_id).and_then(|n| state.tracker.starts.take(&n));
    if let Some(sent) = sent {
        state.tracker.record(&state.tracker.start_to_webhook, sent);
        if let Some(act_on) = &state.act_on {
            let _ = act_on.send(order.id);
        }
    }
    StatusCode::NO_CONTENT
}

struct AshbyState {
    tracker: Arc<Tracker>,
    authorization: String,
}

/// Ashby's public API: a fast `assessment.update`, the simulator for the rest
/// (`apiKey.info` verifies the key when the account is connected).
pub fn ashby_router(tracker: Arc<Tracker>, sim: crate::sim::ashby::AshbySim, key: &str) -> Router {
    use base64::Engine;
    let authorization = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
    );
    let state = Arc::new(AshbyState {
        tracker,
        authorization,
    });
    Router::new()
        .route("/assessment.update", post(receive_update))
        .with_state(state)
        .fallback_service(crate::sim::ashby::router(sim))
}

fn ashby_error(message: String) -> Response {
    Json(json!({"success": false, "errorInfo": {"code": "invalid_input", "message": message}, "errors": [message]}))
        .into_response()
}

async fn receive_update(
    State(state): State<Arc<AshbyState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorised = headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == state.authorization.as_bytes());
    if !authorised {
        return (StatusCode::UNAUTHORIZED, "unknown API key").into_response();
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return ashby_error(format!("the body is not JSON: {e}")),
    };
    let update = match screenhub_ashby::validate_update(&value) {
        Ok(u) => u,
        Err(message) => {
            state
                .tracker
                .refused_updates
                .fetch_add(1, Ordering::Relaxed);
            return ashby_error(message);
        }
    };
    state.tracker.ats_updates.fetch_add(1, Ordering::Relaxed);
    let (sent, histogram) = if value.get("assessment_result").is_some() {
        (
            state.tracker.results.take(&update.assessment_id),
            &state.tracker.result_to_update,
        )
    } else {
        (
            state.tracker.statuses.take(&update.assessment_id),
            &state.tracker.status_to_update,
        )
    };
    if let Some(sent) = sent {
        state.tracker.record(histogram, sent);
    }
    Json(json!({"success": true, "results": {}})).into_response()
}
