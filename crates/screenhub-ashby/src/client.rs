//! The outbound Ashby client. It takes a `reqwest::Client` built by the hub (which
//! makes it SSRF-safe and sets its timeouts) and judges every answer, so the
//! delivery worker only has to record the outcome and act on its class.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use serde::Serialize;
use serde_json::Value;

use screenhub_core::clock::{Clock, SystemClock};
use screenhub_core::delivery::{parse_retry_after, Verdict};

use crate::public::{
    self, codes, parse_envelope, ApiKeyInfo, AssessmentUpdate, Envelope, ErrorInfo,
};

/// Ashby's legacy version selector, which every documented example sends.
pub const ACCEPT_VERSION_1: &str = "application/json; version=1";
/// The `X-RateLimit-Scope` of a 429 that throttles the partner across all customers.
pub const PARTNER_RATE_LIMIT_SCOPE: &str = "integration-partner";
/// Every permission the hub's key needs, in Ashby's words, as the connect page asks for them.
pub const REQUIRED_PERMISSIONS: &str = "API Keys → Read, Candidates → Read and Candidates → Write";
/// At most this much of a response is kept in an attempt record.
pub const EXCERPT_MAX_BYTES: usize = 1024;
/// At most this much of a response body is read at all.
const BODY_READ_LIMIT: usize = 64 * 1024;
/// The key check tries once more after a transient failure, after Ashby's
/// `Retry-After` or, without one, this pause.
const KEY_CHECK_RETRY_PAUSE: Duration = Duration::from_millis(300);
/// A `Retry-After` longer than this is not waited out: an admin is waiting
/// for the answer, and is better told to try again later.
const KEY_CHECK_RETRY_MAX_WAIT: Duration = Duration::from_secs(2);
/// The key check's whole budget, both attempts and the pause, unless the hub
/// sets its own ([`AshbyClient::with_key_check_budget`]).
const KEY_CHECK_DEFAULT_BUDGET: Duration = Duration::from_secs(10);

/// Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct AshbyClient {
    http: reqwest::Client,
    user_agent: String,
    key_check_budget: Duration,
}

/// One `apiKey.info` attempt that failed, and whether another may succeed.
struct KeyCheckFailure {
    error: AshbyError,
    /// A transient failure (408, 429, 5xx, a timeout, a lost connection).
    retryable: bool,
    /// Ashby's `Retry-After`, when it sent one.
    retry_after: Option<Duration>,
}

impl From<AshbyError> for KeyCheckFailure {
    fn from(error: AshbyError) -> Self {
        Self {
            error,
            retryable: false,
            retry_after: None,
        }
    }
}

/// How the delivery worker should treat one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptClass {
    /// HTTP 2xx and `success: true`.
    Delivered,
    /// 408, 429, 5xx, a timeout or a connection error: try again later.
    Retry,
    /// Ashby refused the update (`success: false`, or another 4xx); trying
    /// again would get the same answer.
    Permanent,
    /// HTTP 401 or 403: the account's Ashby key is bad or lacks a permission,
    /// which the employer has to fix.
    AuthRejected,
}

/// One HTTP attempt, as the delivery log records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptOutcome {
    pub class: AttemptClass,
    /// `None` when no HTTP answer came back (timeout, connection error).
    pub status: Option<u16>,
    pub duration_ms: u64,
    /// The start of the response body: at most 1 KiB, cut on a UTF-8 boundary.
    pub response_excerpt: String,
    /// What went wrong, for a person; `None` when delivered.
    pub error: Option<String>,
    /// Ashby's `errorInfo.code`, when it sent one.
    pub error_code: Option<String>,
    /// Ashby's `Retry-After`, in milliseconds.
    pub retry_after_ms: Option<i64>,
    /// A 429 with `X-RateLimit-Scope: integration-partner`: Ashby is throttling
    /// this partner across all customers, not just this account.
    pub partner_rate_limited: bool,
}

impl AttemptOutcome {
    /// The outcome in the delivery worker's terms. An auth rejection is permanent
    /// for this delivery; the worker also moves the account to `error`.
    pub fn verdict(&self) -> Verdict {
        match self.class {
            AttemptClass::Delivered => Verdict::Delivered,
            AttemptClass::Retry => Verdict::Retry {
                retry_after_ms: self.retry_after_ms,
            },
            AttemptClass::Permanent | AttemptClass::AuthRejected => Verdict::Permanent,
        }
    }
}

/// Why an Ashby API key could not be confirmed. The messages are shown to the
/// employer's admin on the connect page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AshbyError {
    #[error("Ashby rejected this API key (HTTP {status}). Check that the whole key was copied and that it is still active in Ashby.")]
    KeyRejected { status: u16 },
    #[error("Ashby accepted this API key, but the key lacks the {} permission ({permission}). In Ashby, open Admin → API Keys and give this key {}, or create a new key with {}.", public::permission_in_ashby_words(.permission), public::permission_in_ashby_words(.permission), REQUIRED_PERMISSIONS)]
    MissingPermission { permission: String },
    #[error("Ashby could not be reached: {0}")]
    Unreachable(String),
    #[error("Ashby did not answer in time. Try again in a minute.")]
    Timeout,
    #[error("Ashby gave an unexpected answer: {0}")]
    Unexpected(String),
}

impl AshbyError {
    /// A stable code for APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::KeyRejected { .. } => "ashby_key_rejected",
            Self::MissingPermission { .. } => "ashby_missing_permission",
            Self::Unreachable(_) => "ashby_unreachable",
            Self::Timeout => "ashby_timeout",
            Self::Unexpected(_) => "ashby_unexpected_answer",
        }
    }

    /// Worth trying again later without any change on the employer's side.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unreachable(_) | Self::Timeout)
    }
}

/// An HTTP answer, read up to [`BODY_READ_LIMIT`].
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
    duration_ms: u64,
}

/// No HTTP answer at all.
struct NoAnswer {
    timeout: bool,
    /// The request could not even be built (e.g. a malformed base URL).
    invalid_request: bool,
    message: String,
    duration_ms: u64,
}

impl AshbyClient {
    /// `http` should carry the hub's timeouts and SSRF protection.
    pub fn new(http: reqwest::Client, user_agent: impl Into<String>) -> Self {
        Self {
            http,
            user_agent: user_agent.into(),
            key_check_budget: KEY_CHECK_DEFAULT_BUDGET,
        }
    }

    /// Bound the key check, retry included, to `budget` (the hub's outbound timeout).
    pub fn with_key_check_budget(mut self, budget: Duration) -> Self {
        self.key_check_budget = budget;
        self
    }

    /// Check an Ashby API key with `apiKey.info`, which needs the key's
    /// `apiKeysRead` permission: a valid key without it is refused with 403
    /// `missing_endpoint_permission`. The answer lists no permissions, so the
    /// others the hub needs are not (and cannot be) checked here.
    /// A quick transient failure (408, 429, 5xx, a lost connection) is tried
    /// once more, after Ashby's `Retry-After` (at most 2 s) or a short pause,
    /// in what is left of the key check's budget. The first attempt may use
    /// the whole budget, so a slow Ashby that answers in time still connects
    /// the key (and a timeout leaves nothing to retry in). A rejected key or
    /// a missing permission is answered at once.
    pub async fn api_key_info(
        &self,
        base_url: &str,
        api_key: &str,
    ) -> Result<ApiKeyInfo, AshbyError> {
        let started = Instant::now();
        let budget = self.key_check_budget;
        let failure = match self.api_key_info_once(base_url, api_key, budget).await {
            Ok(info) => return Ok(info),
            Err(failure) => failure,
        };
        let pause = failure.retry_after.unwrap_or(KEY_CHECK_RETRY_PAUSE);
        let left = budget.saturating_sub(started.elapsed() + pause);
        if !failure.retryable || pause > KEY_CHECK_RETRY_MAX_WAIT || left.is_zero() {
            return Err(failure.error);
        }
        tokio::time::sleep(pause).await;
        self.api_key_info_once(base_url, api_key, left)
            .await
            .map_err(|failure| failure.error)
    }

    /// One `apiKey.info` call, given up after `limit`.
    async fn api_key_info_once(
        &self,
        base_url: &str,
        api_key: &str,
        limit: Duration,
    ) -> Result<ApiKeyInfo, KeyCheckFailure> {
        let transient = |error: AshbyError, retry_after: Option<Duration>| KeyCheckFailure {
            error,
            retryable: true,
            retry_after,
        };
        let call = self.post(base_url, api_key, "apiKey.info", "{}");
        let answer = match tokio::time::timeout(limit, call).await {
            Err(_) => return Err(transient(AshbyError::Timeout, None)),
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) if e.timeout => return Err(transient(AshbyError::Timeout, None)),
            Ok(Err(e)) if e.invalid_request => {
                return Err(AshbyError::Unreachable(e.message).into())
            }
            Ok(Err(e)) => return Err(transient(AshbyError::Unreachable(e.message), None)),
        };
        let missing_api_keys_read = || AshbyError::MissingPermission {
            permission: public::API_KEYS_READ.into(),
        };
        match answer.status {
            401 => Err(AshbyError::KeyRejected { status: 401 }.into()),
            403 if error_info(&answer.body)
                .is_some_and(|i| i.code == codes::MISSING_ENDPOINT_PERMISSION) =>
            {
                Err(missing_api_keys_read().into())
            }
            403 => Err(AshbyError::KeyRejected { status: 403 }.into()),
            408 | 429 | 500..=599 => Err(transient(
                AshbyError::Unreachable(format!(
                    "Ashby answered HTTP {}; try again in a few minutes",
                    answer.status
                )),
                retry_after(&answer.headers).map(|ms| Duration::from_millis(ms as u64)),
            )),
            200..=299 => match parse_envelope::<ApiKeyInfo>(&answer.body) {
                Ok(Envelope::Success { results, .. }) => Ok(results),
                Ok(Envelope::Failure(info)) if info.code == codes::MISSING_ENDPOINT_PERMISSION => {
                    Err(missing_api_keys_read().into())
                }
                Ok(Envelope::Failure(info)) => Err(AshbyError::Unexpected(format!(
                    "Ashby refused the request ({info})"
                ))
                .into()),
                Err(why) => {
                    Err(AshbyError::Unexpected(format!("HTTP {} but {why}", answer.status)).into())
                }
            },
            status => Err(AshbyError::Unexpected(format!("HTTP {status}")).into()),
        }
    }

    /// Send one `assessment.update` and judge the answer.
    pub async fn assessment_update(
        &self,
        base_url: &str,
        api_key: &str,
        update: &AssessmentUpdate,
    ) -> AttemptOutcome {
        let body = serde_json::to_string(update).expect("an update always serialises");
        self.call(base_url, api_key, "assessment.update", &body)
            .await
    }

    /// Call any Ashby method (e.g. `candidate.info`) and judge the answer the same
    /// way as an update.
    pub async fn call(
        &self,
        base_url: &str,
        api_key: &str,
        method: &str,
        body: &str,
    ) -> AttemptOutcome {
        match self.post(base_url, api_key, method, body).await {
            Ok(answer) => judge(answer),
            Err(e) => AttemptOutcome {
                // A request that can't be built will never work; anything else may.
                class: if e.invalid_request {
                    AttemptClass::Permanent
                } else {
                    AttemptClass::Retry
                },
                status: None,
                duration_ms: e.duration_ms,
                response_excerpt: String::new(),
                error: Some(e.message),
                error_code: None,
                retry_after_ms: None,
                partner_rate_limited: false,
            },
        }
    }

    async fn post(
        &self,
        base_url: &str,
        api_key: &str,
        method: &str,
        body: &str,
    ) -> Result<Answer, NoAnswer> {
        let url = format!("{}/{method}", base_url.trim_end_matches('/'));
        let started = Instant::now();
        let elapsed =
            |started: Instant| u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let fail = |e: reqwest::Error, started: Instant| NoAnswer {
            timeout: e.is_timeout(),
            invalid_request: e.is_builder(),
            message: describe_transport_error(&e, method),
            duration_ms: elapsed(started),
        };

        let response = self
            .http
            .post(&url)
            .header(
                AUTHORIZATION,
                format!("Basic {}", STANDARD.encode(format!("{api_key}:"))),
            )
            .header(ACCEPT, ACCEPT_VERSION_1)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, &self.user_agent)
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| fail(e, started))?;

        let status = response.status().as_u16();
        let headers = response.headers().clone();
        // Read at most BODY_READ_LIMIT: the base URL is configurable, and nothing
        // we keep needs more.
        let mut body = Vec::new();
        let mut response = response;
        while body.len() < BODY_READ_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return Err(fail(e, started)),
            }
        }
        body.truncate(BODY_READ_LIMIT);
        Ok(Answer {
            status,
            headers,
            body,
            duration_ms: elapsed(started),
        })
    }
}

fn describe_transport_error(e: &reqwest::Error, method: &str) -> String {
    if e.is_timeout() {
        format!("{method} timed out before Ashby answered")
    } else if e.is_builder() {
        format!("the Ashby base URL is not usable: {e}")
    } else if e.is_connect() {
        format!("could not connect to Ashby: {}", root_cause(e))
    } else {
        format!("{method} failed: {}", root_cause(e))
    }
}

/// reqwest's own message is "error sending request for url (…)"; the useful part
/// is at the end of the source chain.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// `Retry-After`, in milliseconds.
fn retry_after(headers: &HeaderMap) -> Option<i64> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemClock.now_ms()))
}

fn judge(answer: Answer) -> AttemptOutcome {
    let status = answer.status;
    let retry_after_ms = retry_after(&answer.headers);
    let partner_rate_limited = status == 429
        && answer
            .headers
            .get("x-ratelimit-scope")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case(PARTNER_RATE_LIMIT_SCOPE));
    let info = error_info(&answer.body);

    let (class, error) = match status {
        200..=299 => match parse_envelope::<Value>(&answer.body) {
            Ok(Envelope::Success { .. }) => (AttemptClass::Delivered, None),
            Ok(Envelope::Failure(info)) => (
                AttemptClass::Permanent,
                Some(format!("Ashby refused the update: {info}")),
            ),
            Err(why) => (
                AttemptClass::Permanent,
                Some(format!(
                    "Ashby answered HTTP {status} without its success envelope: {why}"
                )),
            ),
        },
        401 | 403 => {
            let detail = info.as_ref().map(|i| format!(": {i}")).unwrap_or_default();
            let what = if info
                .as_ref()
                .is_some_and(|i| i.code == codes::MISSING_ENDPOINT_PERMISSION)
            {
                "Ashby says the account's API key lacks a permission this call needs (assessment.update needs Candidates → Write)"
            } else {
                "Ashby rejected the account's API key"
            };
            (
                AttemptClass::AuthRejected,
                Some(format!("{what} (HTTP {status}){detail}")),
            )
        }
        429 => {
            let scope = if partner_rate_limited {
                ", for the whole integration"
            } else {
                ""
            };
            (
                AttemptClass::Retry,
                Some(format!("Ashby rate-limited the request (HTTP 429{scope})")),
            )
        }
        408 | 500..=599 => (
            AttemptClass::Retry,
            Some(with_info(format!("Ashby answered HTTP {status}"), &info)),
        ),
        _ => (
            AttemptClass::Permanent,
            Some(with_info(format!("Ashby answered HTTP {status}"), &info)),
        ),
    };

    AttemptOutcome {
        class,
        status: Some(status),
        duration_ms: answer.duration_ms,
        response_excerpt: excerpt(&answer.body),
        error,
        error_code: info.map(|i| i.code),
        retry_after_ms,
        partner_rate_limited,
    }
}

fn with_info(message: String, info: &Option<ErrorInfo>) -> String {
    match info {
        Some(info) => format!("{message}: {info}"),
        None => message,
    }
}

/// Ashby's `errorInfo`, if the body is a failure envelope.
fn error_info(body: &[u8]) -> Option<ErrorInfo> {
    match parse_envelope::<Value>(body) {
        Ok(Envelope::Failure(info)) => Some(info),
        _ => None,
    }
}

/// At most [`EXCERPT_MAX_BYTES`] of the body as text, cut on a character boundary.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(EXCERPT_MAX_BYTES * 2)]);
    let mut end = text.len().min(EXCERPT_MAX_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::public::DataValue;
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap as AxumHeaders, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use serde_json::json;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[derive(Default, Clone)]
    struct Seen(Arc<Mutex<Vec<(String, AxumHeaders, Value)>>>);

    async fn fake_ashby(
        State(seen): State<Seen>,
        Path((scenario, method)): Path<(String, String)>,
        headers: AxumHeaders,
        body: axum::body::Bytes,
    ) -> Response {
        let parsed = serde_json::from_slice(&body).unwrap_or(Value::Null);
        seen.0
            .lock()
            .unwrap()
            .push((format!("/{scenario}/{method}"), headers, parsed));
        let failure = |code: &str| json!({"success": false, "errorInfo": {"code": code, "message": format!("{code} happened"), "requestId": "01REQ"}, "errors": [code]});
        let json = |status: u16, body: Value| {
            (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
        };
        match scenario.as_str() {
            "ok" => json(200, json!({"success": true, "results": {}})),
            "refused" => json(200, failure("invalid_input")),
            "legacy_refused" => json(
                200,
                json!({"success": false, "errors": ["assessment_not_found"]}),
            ),
            "unauth" => json(401, failure("missing_api_key")),
            "forbidden" => json(403, failure("invalid_api_key")),
            "no_permission" => json(403, failure("missing_endpoint_permission")),
            "rate_partner" => (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    ("retry-after", "7"),
                    ("x-ratelimit-scope", "integration-partner"),
                ],
                "slow down",
            )
                .into_response(),
            "rate_key" => (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "2")],
                "slow down",
            )
                .into_response(),
            "down" => (StatusCode::SERVICE_UNAVAILABLE, "down").into_response(),
            "server_error" => json(500, failure("internal_error")),
            "request_timeout" => StatusCode::REQUEST_TIMEOUT.into_response(),
            "not_found" => (StatusCode::NOT_FOUND, "<html>nope</html>").into_response(),
            "html" => (StatusCode::OK, "<html>hello</html>").into_response(),
            "big" => json(
                200,
                json!({"success": false, "errorInfo": {"code": "x", "message": "é".repeat(5000)}}),
            ),
            "slow" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                json(200, json!({"success": true}))
            }
            "key_ok" => json(
                200,
                json!({"success": true, "results": {"title": "Screenhub", "createdAt": "2024-05-01T10:00:00.000Z"}}),
            ),
            // A permissions list is not Ashby's; it must not sway the check.
            "key_listing_permissions" => json(
                200,
                json!({"success": true, "results": {"title": "RO", "createdAt": "x", "permissions": ["candidatesRead"]}}),
            ),
            "no_permission_at_200" => json(200, failure("missing_endpoint_permission")),
            _ => StatusCode::IM_A_TEAPOT.into_response(),
        }
    }

    async fn server() -> (String, Seen) {
        let seen = Seen::default();
        let app = axum::Router::new()
            .route("/{scenario}/{method}", post(fake_ashby))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), seen)
    }

    fn client() -> AshbyClient {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        AshbyClient::new(
            http,
            "Screenhub/test (+https://github.com/screenhub/screenhub)",
        )
    }

    fn update() -> AssessmentUpdate {
        let mut u =
            AssessmentUpdate::new("0190f5c2-7a1e-7b3c-9d4e-5f6a7b8c9d0e", 1_700_000_000_000);
        u.assessment_status = Some(DataValue::string("status", "Status", "Started"));
        u
    }

    async fn send(scenario: &str) -> AttemptOutcome {
        let (base, _) = server().await;
        client()
            .assessment_update(&format!("{base}/{scenario}"), "key", &update())
            .await
    }

    #[tokio::test]
    async fn sends_ashby_headers_and_body() {
        let (base, seen) = server().await;
        // A base URL with a path and a trailing slash.
        let out = client()
            .assessment_update(&format!("{base}/ok/"), "ashby-key", &update())
            .await;
        assert_eq!(out.class, AttemptClass::Delivered, "{out:?}");
        assert_eq!(out.status, Some(200));
        assert_eq!(out.error, None);
        assert_eq!(out.verdict(), Verdict::Delivered);
        assert!(out.response_excerpt.contains("\"success\":true"));

        let seen = seen.0.lock().unwrap();
        let (path, headers, body) = &seen[0];
        assert_eq!(path, "/ok/assessment.update");
        assert_eq!(
            headers["authorization"],
            format!("Basic {}", STANDARD.encode("ashby-key:"))
        );
        assert_eq!(headers["accept"], "application/json; version=1");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(
            headers["user-agent"],
            "Screenhub/test (+https://github.com/screenhub/screenhub)"
        );
        assert_eq!(body, &update().to_json());
    }

    #[tokio::test]
    async fn success_false_is_permanent_with_ashby_error() {
        let out = send("refused").await;
        assert_eq!(out.class, AttemptClass::Permanent);
        assert_eq!(out.status, Some(200));
        assert_eq!(out.error_code.as_deref(), Some("invalid_input"));
        assert_eq!(
            out.error.as_deref(),
            Some("Ashby refused the update: invalid_input: invalid_input happened (request 01REQ)")
        );
        let out = send("legacy_refused").await;
        assert_eq!(out.class, AttemptClass::Permanent);
        assert_eq!(out.error_code.as_deref(), Some("assessment_not_found"));
    }

    #[tokio::test]
    async fn auth_failures() {
        for (scenario, status) in [("unauth", 401), ("forbidden", 403), ("no_permission", 403)] {
            let out = send(scenario).await;
            assert_eq!(out.class, AttemptClass::AuthRejected, "{scenario}");
            assert_eq!(out.status, Some(status));
            assert_eq!(out.verdict(), Verdict::Permanent);
        }
        let out = send("no_permission").await;
        assert!(out.error.unwrap().contains("lacks a permission"));
        assert_eq!(
            out.error_code.as_deref(),
            Some("missing_endpoint_permission")
        );
        assert!(send("forbidden")
            .await
            .error
            .unwrap()
            .starts_with("Ashby rejected the account's API key (HTTP 403)"));
    }

    #[tokio::test]
    async fn retryable_answers() {
        let out = send("rate_partner").await;
        assert_eq!(out.class, AttemptClass::Retry);
        assert_eq!(out.retry_after_ms, Some(7000));
        assert!(out.partner_rate_limited);
        assert_eq!(
            out.verdict(),
            Verdict::Retry {
                retry_after_ms: Some(7000)
            }
        );
        assert_eq!(out.response_excerpt, "slow down");

        let out = send("rate_key").await;
        assert_eq!(
            (out.class, out.retry_after_ms, out.partner_rate_limited),
            (AttemptClass::Retry, Some(2000), false)
        );

        for scenario in ["down", "server_error", "request_timeout"] {
            let out = send(scenario).await;
            assert_eq!(out.class, AttemptClass::Retry, "{scenario}");
            assert!(out.error.unwrap().starts_with("Ashby answered HTTP"));
        }
        assert!(send("server_error")
            .await
            .error
            .unwrap()
            .contains("internal_error"));
    }

    #[tokio::test]
    async fn other_answers_are_permanent() {
        let out = send("not_found").await;
        assert_eq!(
            (out.class, out.status),
            (AttemptClass::Permanent, Some(404))
        );
        let out = send("html").await;
        assert_eq!(out.class, AttemptClass::Permanent);
        assert!(out.error.unwrap().contains("without its success envelope"));
    }

    #[tokio::test]
    async fn excerpts_are_short_and_valid_utf8() {
        let out = send("big").await;
        assert!(out.response_excerpt.len() <= EXCERPT_MAX_BYTES);
        assert!(out.response_excerpt.len() > 1000);
        assert!(out.response_excerpt.ends_with('é'));
        assert_eq!(excerpt("aé".as_bytes()), "aé");
        let cut = excerpt(&"é".repeat(600).into_bytes());
        assert_eq!(cut.len(), 1024);
    }

    #[tokio::test]
    async fn transport_failures_retry() {
        let out = send("slow").await;
        assert_eq!((out.class, out.status), (AttemptClass::Retry, None));
        assert!(
            out.error.as_deref().unwrap().contains("timed out"),
            "{out:?}"
        );
        assert!(out.duration_ms >= 400);

        // A port nothing listens on.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let out = client()
            .assessment_update(&format!("http://{addr}"), "k", &update())
            .await;
        assert_eq!((out.class, out.status), (AttemptClass::Retry, None));
        assert!(
            out.error
                .as_deref()
                .unwrap()
                .starts_with("could not connect to Ashby"),
            "{out:?}"
        );

        let out = client()
            .assessment_update("not a url", "k", &update())
            .await;
        assert_eq!(out.class, AttemptClass::Permanent, "{out:?}");
    }

    async fn key_info(scenario: &str) -> Result<ApiKeyInfo, AshbyError> {
        let (base, _) = server().await;
        client()
            .api_key_info(&format!("{base}/{scenario}"), "key")
            .await
    }

    #[tokio::test]
    async fn api_key_info_outcomes() {
        let info = key_info("key_ok").await.unwrap();
        assert_eq!(info.title.as_deref(), Some("Screenhub"));
        assert_eq!(info.created_at.as_deref(), Some("2024-05-01T10:00:00.000Z"));
        assert!(key_info("key_listing_permissions").await.is_ok());

        let lacks = AshbyError::MissingPermission {
            permission: "apiKeysRead".into(),
        };
        assert_eq!(key_info("no_permission").await.unwrap_err(), lacks);
        assert_eq!(key_info("no_permission_at_200").await.unwrap_err(), lacks);
        assert_eq!(
            lacks.to_string(),
            "Ashby accepted this API key, but the key lacks the API Keys → Read permission (apiKeysRead). \
             In Ashby, open Admin → API Keys and give this key API Keys → Read, or create a new key with \
             API Keys → Read, Candidates → Read and Candidates → Write."
        );

        let rejected = key_info("unauth").await.unwrap_err();
        assert_eq!(rejected, AshbyError::KeyRejected { status: 401 });
        assert!(rejected
            .to_string()
            .starts_with("Ashby rejected this API key"));
        assert_eq!(
            key_info("forbidden").await.unwrap_err(),
            AshbyError::KeyRejected { status: 403 }
        );

        assert!(matches!(
            key_info("down").await.unwrap_err(),
            AshbyError::Unreachable(_)
        ));
        assert_eq!(key_info("slow").await.unwrap_err(), AshbyError::Timeout);
        assert!(AshbyError::Timeout.is_transient());
        let e = key_info("refused").await.unwrap_err();
        assert!(
            matches!(&e, AshbyError::Unexpected(m) if m.contains("invalid_input")),
            "{e}"
        );
        assert!(matches!(
            key_info("html").await.unwrap_err(),
            AshbyError::Unexpected(_)
        ));
        assert!(matches!(
            key_info("teapot").await.unwrap_err(),
            AshbyError::Unexpected(_)
        ));

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let e = client()
            .api_key_info(&format!("http://{addr}"), "k")
            .await
            .unwrap_err();
        assert!(matches!(e, AshbyError::Unreachable(_)), "{e}");
        assert_eq!(e.code(), "ashby_unreachable");
    }
}
