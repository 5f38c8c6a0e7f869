//! `/metrics` in Prometheus text format. Counters and histograms are recorded
//! where things happen (the request layer, the delivery worker); the queue's
//! depth and age are read from the store when scraped, so every node reports
//! the shared queue as it is.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use subtle::ConstantTimeEq;

use crate::state::AppState;

pub const HTTP_REQUEST_DURATION: &str = "screenhub_http_request_duration_seconds";
pub const DELIVERY_ATTEMPTS: &str = "screenhub_delivery_attempts_total";
pub const DELIVERY_ATTEMPT_DURATION: &str = "screenhub_delivery_attempt_duration_seconds";
pub const LEASE_TAKEOVERS: &str = "screenhub_delivery_lease_takeovers_total";
pub const QUEUE_DEPTH: &str = "screenhub_delivery_queue_depth";
pub const QUEUE_OLDEST_AGE: &str = "screenhub_delivery_queue_oldest_age_seconds";

/// Buckets from 0.5 ms to 10 s: the hot path answers in milliseconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The process-wide recorder (one per process, however many hubs it runs).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
            .expect("buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may be installed already (a host embedding the hub);
        // then this handle simply renders nothing of ours.
        let _ = metrics::set_global_recorder(recorder);
        metrics::describe_histogram!(
            HTTP_REQUEST_DURATION,
            metrics::Unit::Seconds,
            "HTTP request latency by method, matched route and status"
        );
        metrics::describe_counter!(
            DELIVERY_ATTEMPTS,
            "Delivery attempts by target (vendor, ats) and outcome"
        );
        metrics::describe_histogram!(
            DELIVERY_ATTEMPT_DURATION,
            metrics::Unit::Seconds,
            "Duration of one delivery attempt by target"
        );
        metrics::describe_counter!(
            LEASE_TAKEOVERS,
            "Attempts whose lease another worker took over before they were recorded"
        );
        metrics::describe_gauge!(QUEUE_DEPTH, "Deliveries waiting to be delivered");
        metrics::describe_gauge!(
            QUEUE_OLDEST_AGE,
            metrics::Unit::Seconds,
            "Age of the oldest delivery still waiting"
        );
        handle
    })
}

/// Time every request, labelled by the route that matched (never the raw
/// URI, which would carry ids and explode the label space).
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    metrics::histogram!(
        HTTP_REQUEST_DURATION,
        "method" => method,
        "route" => route,
        "status" => response.status().as_str().to_owned(),
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`, behind `Authorization: Bearer <metrics_token>` when one is set.
pub async fn render(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let expected = state.config.metrics_token.as_bytes();
    if !expected.is_empty() {
        let given = crate::extract::authorization(&headers, "Bearer").unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(expected)) {
            return crate::error::ApiError::unauthorized(
                "send `Authorization: Bearer <metrics_token>` (the metrics_token setting, SCREENHUB_METRICS_TOKEN)",
            )
            .into_response();
        }
    }
    let handle = handle();
    match state.store.queue_depth(state.now()).await {
        Ok((depth, oldest_ms)) => {
            metrics::gauge!(QUEUE_DEPTH).set(depth as f64);
            metrics::gauge!(QUEUE_OLDEST_AGE).set(oldest_ms.unwrap_or(0).max(0) as f64 / 1000.0);
        }
        Err(e) => tracing::warn!(error = %e, "could not read the delivery queue for /metrics"),
    }
    handle.run_upkeep();
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
