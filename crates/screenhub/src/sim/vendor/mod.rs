//! The reference vendor: a small, complete integration with Screenhub's vendor
//! API, written to be read. It
//!
//! 1. publishes its catalog (`PUT /v1/packages`) and registers its webhook
//!    endpoint (`POST /v1/webhook-endpoints`), keeping the signing secret;
//! 2. verifies every webhook's Standard Webhooks signature and rejects bad ones
//!    with 401, and ignores a `webhook-id` it has already handled (delivery is
//!    at least once);
//! 3. on `order.created`, reports `in_progress`, then after a delay completes
//!    the order (or fails or cancels it) with per-screening results;
//! 4. on `order.cancelled`, stops working on the order;
//! 5. serves the report page its `report_url` points to.
//!
//! A real vendor keeps its state in a database; this one keeps it in memory.

mod hub_api;
pub mod plan;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;
use serde_json::Value;

use screenhub_core::clock::{rfc3339, Clock, SystemClock};

pub use hub_api::{HubApi, HubApiError};
pub use plan::{OutcomePolicy, ResultPlan, Scenario, CATALOG};

#[derive(Debug, Clone)]
pub struct VendorConfig {
    /// The hub's base URL, e.g. `http://127.0.0.1:8080`.
    pub hub_url: String,
    /// A vendor API key (`screenhub keys create`).
    pub api_key: String,
    /// Where the hub and browsers reach this vendor; default `http://<listen address>`.
    pub public_url: Option<String>,
    /// From `order.created` to `in_progress`.
    pub progress_after: Duration,
    /// From `in_progress` to the result.
    pub complete_after: Duration,
    pub policy: OutcomePolicy,
    /// Makes the random choices the same on every run.
    pub seed: Option<u64>,
}

/// What the vendor knows about one order.
#[derive(Debug, Clone, Serialize)]
pub struct VendorOrder {
    pub id: String,
    /// The ATS the order came from (`ashby`, `greenhouse`): the vendor reads
    /// every order the same way, whatever the ATS.
    pub ats: String,
    pub candidate_name: String,
    pub package_id: String,
    pub package_name: String,
    /// What the vendor decided when the order arrived.
    pub scenario: Scenario,
    /// The result it reported (or will report).
    pub result: Option<ResultPlan>,
    pub report_url: String,
    /// Ashby cancelled it (`order.cancelled`).
    pub cancelled_by_ats: bool,
    /// What the vendor did, with times, for the report page and the demo.
    pub log: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct WebhookCounters {
    pub accepted: u64,
    pub duplicates: u64,
    pub bad_signatures: u64,
}

struct VendorState {
    /// Every `webhook-id` handled, for dedupe.
    seen: HashSet<String>,
    orders: HashMap<String, VendorOrder>,
    counters: WebhookCounters,
    rng: StdRng,
}

struct Inner {
    config: VendorConfig,
    hub: HubApi,
    public_url: String,
    /// Set once the endpoint is registered.
    verifier: Mutex<Option<standardwebhooks::Webhook>>,
    state: Mutex<VendorState>,
}

/// A running reference vendor. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct ReferenceVendor {
    inner: Arc<Inner>,
}

impl ReferenceVendor {
    /// Serve on `listener`, publish the catalog and register the webhook endpoint.
    pub async fn start(
        listener: tokio::net::TcpListener,
        config: VendorConfig,
    ) -> anyhow::Result<Self> {
        let addr = listener.local_addr()?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_owned();
        let vendor = Self::new(config, public_url);
        let app = router(vendor.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });

        let hub = &vendor.inner.hub;
        hub.sync_packages().await?;
        let secret = hub
            .register_webhook_endpoint(&format!("{}/webhooks", vendor.url()))
            .await?;
        vendor.set_secret(&secret)?;
        Ok(vendor)
    }

    fn new(config: VendorConfig, public_url: String) -> Self {
        let rng = config
            .seed
            .map_or_else(StdRng::from_entropy, StdRng::seed_from_u64);
        Self {
            inner: Arc::new(Inner {
                hub: HubApi::new(&config.hub_url, &config.api_key),
                config,
                public_url,
                verifier: Mutex::new(None),
                state: Mutex::new(VendorState {
                    seen: HashSet::new(),
                    orders: HashMap::new(),
                    counters: WebhookCounters::default(),
                    rng,
                }),
            }),
        }
    }

    fn set_secret(&self, secret: &str) -> anyhow::Result<()> {
        let verifier = standardwebhooks::Webhook::new(secret)
            .map_err(|e| anyhow::anyhow!("the hub's signing secret is not usable: {e:?}"))?;
        *self
            .inner
            .verifier
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(verifier);
        Ok(())
    }

    pub fn url(&self) -> &str {
        &self.inner.public_url
    }

    fn state(&self) -> MutexGuard<'_, VendorState> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn order(&self, id: &str) -> Option<VendorOrder> {
        self.state().orders.get(id).cloned()
    }

    pub fn orders(&self) -> Vec<VendorOrder> {
        self.state().orders.values().cloned().collect()
    }

    pub fn counters(&self) -> WebhookCounters {
        self.state().counters
    }

    fn note(&self, order_id: &str, what: impl AsRef<str>) {
        if let Some(order) = self.state().orders.get_mut(order_id) {
            order.log.push(format!(
                "{} {}",
                rfc3339(SystemClock.now_ms()),
                what.as_ref()
            ));
        }
    }

    fn is_cancelled(&self, order_id: &str) -> bool {
        self.state()
            .orders
            .get(order_id)
            .is_some_and(|o| o.cancelled_by_ats)
    }

    /// `order.created`: decide now, work later.
    fn accept(&self, order: &Value) {
        let Some(id) = order["id"].as_str().map(str::to_owned) else {
            return;
        };
        let package_id = order["package_id"].as_str().unwrap_or_default().to_owned();
        let email = order["candidate"]["email"].as_str().unwrap_or_default();
        // The candidate in the hub's one shape: the name they go by, if the ATS knows it.
        let candidate = &order["candidate"];
        let candidate_name = format!(
            "{} {}",
            candidate["preferred_name"]
                .as_str()
                .or(candidate["first_name"].as_str())
                .unwrap_or_default(),
            candidate["last_name"].as_str().unwrap_or_default()
        );
        {
            let mut state = self.state();
            if state.orders.contains_key(&id) {
                return;
            }
            let scenario = self
                .inner
                .config
                .policy
                .choose(email, &package_id, &mut state.rng);
            let result = plan::result_for(scenario, &package_id, &mut state.rng);
            state.orders.insert(
                id.clone(),
                VendorOrder {
                    id: id.clone(),
                    ats: order["ats"].as_str().unwrap_or_default().to_owned(),
                    candidate_name,
                    package_name: order["package_name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    package_id,
                    scenario,
                    result,
                    report_url: format!("{}/reports/{id}", self.inner.public_url),
                    cancelled_by_ats: false,
                    log: Vec::new(),
                },
            );
        }
        self.note(&id, "order received");
        tokio::spawn(self.clone().work_on(id));
    }

    async fn work_on(self, id: String) {
        let Some(order) = self.order(&id) else { return };
        let hub = self.inner.hub.clone();
        tokio::time::sleep(self.inner.config.progress_after).await;
        if self.is_cancelled(&id) {
            return;
        }
        let eta = i64::try_from(self.inner.config.complete_after.as_secs() / 60).unwrap_or(0) + 1;
        if !self
            .step(&id, "reported in_progress", || {
                hub.in_progress(&id, "Candidate invited", eta)
            })
            .await
        {
            return;
        }
        if order.scenario == Scenario::Hold {
            self.note(&id, "waiting for the candidate");
            return;
        }
        tokio::time::sleep(self.inner.config.complete_after).await;
        if self.is_cancelled(&id) {
            return;
        }
        match (&order.result, order.scenario) {
            (Some(result), _) => {
                self.step(&id, format!("reported result `{}`", result.outcome), || {
                    hub.result(&id, result, &order.report_url)
                })
                .await
            }
            (None, Scenario::VendorCancel) => {
                self.step(&id, "cancelled the order", || {
                    hub.cancel(&id, "The candidate withdrew consent")
                })
                .await
            }
            (None, _) => {
                self.step(&id, "reported the order failed", || {
                    hub.failed(&id, "The candidate's identity could not be verified")
                })
                .await
            }
        };
    }

    /// One call to the hub, retried a few times when the hub cannot be reached
    /// or fails; false when the order should not be worked on further.
    async fn step<F, Fut>(&self, id: &str, done: impl AsRef<str>, call: F) -> bool
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), HubApiError>>,
    {
        let mut delay = Duration::from_millis(200);
        for attempt in 1..=5 {
            match call().await {
                Ok(()) => {
                    self.note(id, done);
                    return true;
                }
                Err(e @ HubApiError::AlreadyEnded(_)) => {
                    self.note(id, format!("stopped: {e}"));
                    return false;
                }
                Err(HubApiError::Refused { status, message }) if status < 500 => {
                    self.note(id, format!("the hub refused: HTTP {status}: {message}"));
                    return false;
                }
                Err(e) if attempt < 5 => {
                    tracing::warn!(order_id = id, error = %e, "retrying a call to the hub");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => {
                    self.note(id, format!("gave up: {e}"));
                }
            }
        }
        false
    }

    /// `order.cancelled`: Ashby ended it; stop working on it.
    fn cancelled(&self, order: &Value) {
        let Some(id) = order["id"].as_str() else {
            return;
        };
        // The hub also confirms a cancellation the vendor made itself.
        if order["cancellation"]["by"] != "ats" {
            self.note(id, "cancellation confirmed by the hub");
            return;
        }
        if let Some(o) = self.state().orders.get_mut(id) {
            o.cancelled_by_ats = true;
        }
        self.note(id, "cancelled in Ashby");
    }
}

pub fn router(vendor: ReferenceVendor) -> Router {
    Router::new()
        .route("/webhooks", post(receive_webhook))
        .route("/reports/{id}", get(report_page))
        .route("/static/sim.css", get(crate::sim::stylesheet))
        .with_state(vendor)
}

async fn receive_webhook(
    State(vendor): State<ReferenceVendor>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let verified = match &*vendor
        .inner
        .verifier
        .lock()
        .unwrap_or_else(|p| p.into_inner())
    {
        // Not registered yet: the hub retries.
        None => return StatusCode::SERVICE_UNAVAILABLE,
        Some(verifier) => verifier.verify(&body, &headers).is_ok(),
    };
    if !verified {
        vendor.state().counters.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let Some(webhook_id) = headers.get("webhook-id").and_then(|v| v.to_str().ok()) else {
        return StatusCode::BAD_REQUEST;
    };
    {
        let mut state = vendor.state();
        if !state.seen.insert(webhook_id.to_owned()) {
            state.counters.duplicates += 1;
            return StatusCode::NO_CONTENT;
        }
        state.counters.accepted += 1;
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let order = &event["data"]["order"];
    match event["type"].as_str() {
        Some("order.created") => vendor.accept(order),
        Some("order.cancelled") => vendor.cancelled(order),
        _ => {}
    }
    StatusCode::NO_CONTENT
}

#[derive(Template)]
#[template(path = "sim/vendor_report.html")]
struct ReportPage<'a> {
    order: &'a VendorOrder,
    result: Option<&'a ResultPlan>,
}

async fn report_page(State(vendor): State<ReferenceVendor>, Path(id): Path<String>) -> Response {
    let Some(order) = vendor.order(&id) else {
        return (
            StatusCode::NOT_FOUND,
            Html("<h1>No such report</h1>".to_owned()),
        )
            .into_response();
    };
    let page = ReportPage {
        order: &order,
        result: order.result.as_ref(),
    };
    crate::sim::render(&page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn vendor(secret: &str) -> ReferenceVendor {
        let config = VendorConfig {
            hub_url: "http://127.0.0.1:9".into(),
            api_key: "unused".into(),
            public_url: None,
            progress_after: Duration::from_secs(60),
            complete_after: Duration::from_secs(60),
            policy: OutcomePolicy::default(),
            seed: Some(1),
        };
        let v = ReferenceVendor::new(config, "http://vendor.test".into());
        v.set_secret(secret).unwrap();
        v
    }

    fn signed(secret: &str, id: &str, body: &[u8]) -> HeaderMap {
        let ts = SystemClock.now_ms() / 1000;
        let signature = standardwebhooks::Webhook::new(secret)
            .unwrap()
            .sign(id, ts, body)
            .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_str(id).unwrap());
        headers.insert("webhook-timestamp", HeaderValue::from(ts));
        headers.insert(
            "webhook-signature",
            HeaderValue::from_str(&signature).unwrap(),
        );
        headers
    }

    #[tokio::test]
    async fn bad_signatures_are_refused_and_a_repeated_webhook_id_is_handled_once() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let v = vendor(secret);
        let body = Bytes::from_static(br#"{"type":"order.cancelled","data":{"order":{"id":"o1","cancellation":{"by":"ats"}}}}"#);

        let forged = signed(
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "dlv_1",
            &body,
        );
        let status = receive_webhook(State(v.clone()), forged, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        let headers = signed(secret, "dlv_1", &body);
        for _ in 0..2 {
            let status = receive_webhook(State(v.clone()), headers.clone(), body.clone()).await;
            assert_eq!(status, StatusCode::NO_CONTENT);
        }
        let c = v.counters();
        assert_eq!((c.accepted, c.duplicates, c.bad_signatures), (1, 1, 1));
    }
}
