//! Fault injection on the public API: latency, errors, hung requests, dropped
//! connections and rate limiting, drawn from the sim's seedable generator.
//! The same settings and draw serve any test endpoint that must misbehave like
//! a real partner (the test suite's vendor webhook receiver uses them).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde::{Deserialize, Serialize};

use screenhub_ashby::public::codes;

use super::public_api::envelope_error;
use super::AshbySim;

/// What goes wrong, and how often. Posting a new set replaces the old one;
/// fields left out take their defaults (no faults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Share of requests (0..1) answered with `error_kind`.
    pub error_rate: f64,
    pub error_kind: ErrorKind,
    /// Added to every request before it is handled.
    pub latency_ms: u64,
    /// Share of requests held for `timeout_ms` and then answered 504, so the
    /// caller's own timeout fires first.
    pub timeout_rate: f64,
    pub timeout_ms: u64,
    /// Share of requests answered 429.
    pub rate_limit_rate: f64,
    /// Share of requests whose connection is closed without an answer.
    pub drop_rate: f64,
    /// Mark 429s with `X-RateLimit-Scope: integration-partner`.
    pub rate_limit_scope_partner: bool,
    /// `Retry-After` on 429s; none when absent.
    pub retry_after_secs: Option<u64>,
    /// Reseed the generator, for a reproducible run. Not echoed back.
    #[serde(skip_serializing)]
    pub seed: Option<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            error_rate: 0.0,
            error_kind: ErrorKind::Http500,
            latency_ms: 0,
            timeout_rate: 0.0,
            timeout_ms: 60_000,
            rate_limit_rate: 0.0,
            drop_rate: 0.0,
            rate_limit_scope_partner: false,
            retry_after_secs: None,
            seed: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// HTTP 500 with Ashby's error envelope.
    #[serde(rename = "http_500")]
    Http500,
    /// HTTP 200 with `success: false`, as Ashby answers most failures.
    SuccessFalse,
}

impl Faults {
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("error_rate", self.error_rate),
            ("timeout_rate", self.timeout_rate),
            ("rate_limit_rate", self.rate_limit_rate),
            ("drop_rate", self.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1 (got {rate})"));
            }
        }
        if self.latency_ms > 60_000 {
            return Err("latency_ms must be at most 60000".into());
        }
        if self.timeout_ms > 600_000 {
            return Err("timeout_ms must be at most 600000".into());
        }
        if self.retry_after_secs.is_some_and(|s| s > 86_400) {
            return Err("retry_after_secs must be at most 86400".into());
        }
        Ok(())
    }

    /// Draw what goes wrong with one request, if anything.
    pub fn draw(&self, rng: &mut impl Rng) -> Option<Fault> {
        let mut roll = |rate: f64| rate > 0.0 && rng.gen::<f64>() < rate;
        if roll(self.timeout_rate) {
            Some(Fault::Hang(Duration::from_millis(self.timeout_ms)))
        } else if roll(self.drop_rate) {
            Some(Fault::Drop)
        } else if roll(self.rate_limit_rate) {
            Some(Fault::RateLimit {
                partner: self.rate_limit_scope_partner,
                retry_after_secs: self.retry_after_secs,
            })
        } else if roll(self.error_rate) {
            Some(Fault::Error(self.error_kind))
        } else {
            None
        }
    }
}

/// How many faults were injected since the last reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounters {
    pub errors: u64,
    pub timeouts: u64,
    pub rate_limits: u64,
    pub drops: u64,
}

impl FaultCounters {
    pub fn count(&mut self, fault: &Fault) {
        match fault {
            Fault::Hang(_) => self.timeouts += 1,
            Fault::Drop => self.drops += 1,
            Fault::RateLimit { .. } => self.rate_limits += 1,
            Fault::Error(_) => self.errors += 1,
        }
    }
}

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Hold the request this long, then answer 504.
    Hang(Duration),
    /// Close the connection without answering.
    Drop,
    RateLimit {
        partner: bool,
        retry_after_secs: Option<u64>,
    },
    Error(ErrorKind),
}

/// A response that never reaches the client: its body fails before a byte is
/// written, so the server closes the connection without sending the head (the
/// client sees the connection closed, as when a partner's process dies).
pub fn dropped_connection() -> Response {
    let failing = futures::stream::once(async {
        Err::<axum::body::Bytes, _>(std::io::Error::other("connection dropped (simulated)"))
    });
    Response::new(axum::body::Body::from_stream(failing))
}

/// Middleware for the public API. The draw happens under the lock; the waiting
/// happens outside it.
pub async fn inject(State(sim): State<AshbySim>, request: Request, next: Next) -> Response {
    let (latency, fault) = {
        let mut state = sim.state();
        let faults = state.faults.clone();
        let fault = faults.draw(&mut state.rng);
        if let Some(fault) = &fault {
            state.fault_counters.count(fault);
        }
        (Duration::from_millis(faults.latency_ms), fault)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fault {
        None => next.run(request).await,
        Some(Fault::Hang(duration)) => {
            tokio::time::sleep(duration).await;
            (StatusCode::GATEWAY_TIMEOUT, "simulated timeout").into_response()
        }
        Some(Fault::Drop) => dropped_connection(),
        Some(Fault::RateLimit {
            partner,
            retry_after_secs,
        }) => {
            let mut response = envelope_error(
                StatusCode::TOO_MANY_REQUESTS,
                codes::RATE_LIMIT_EXCEEDED,
                "Rate limit exceeded (simulated)",
            );
            let headers = response.headers_mut();
            if let Some(secs) = retry_after_secs {
                headers.insert("retry-after", HeaderValue::from(secs));
            }
            if partner {
                headers.insert(
                    "x-ratelimit-scope",
                    HeaderValue::from_static("integration-partner"),
                );
            }
            response
        }
        Some(Fault::Error(ErrorKind::Http500)) => envelope_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL_ERROR,
            "Internal server error (simulated)",
        ),
        Some(Fault::Error(ErrorKind::SuccessFalse)) => envelope_error(
            StatusCode::OK,
            codes::INTERNAL_ERROR,
            "The request failed (simulated)",
        ),
    }
}
