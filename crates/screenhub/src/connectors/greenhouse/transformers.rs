//! Greenhouse's Assessment Partner API on the wire (snake_case, no envelope,
//! `null` for empty properties) and its conversions to and from the hub's
//! canonical shapes. Pure: no I/O. See `greenhouse/PARTNER_API.md`.

use indexmap::IndexMap;
use screenhub_core::clock::{rfc3339, Millis};
use screenhub_core::intake::{Candidate, Intake};
use screenhub_core::order::{OrderStatus, Outcome};
use screenhub_store::{Order, Package};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Number, Value};

/// How long Greenhouse's `resume_url` works after the request (documented).
pub const RESUME_URL_LIFETIME_MS: Millis = 7 * 24 * 3600 * 1000;
/// Longest text kept from any one field of a request (names, ids, URLs).
pub const MAX_FIELD_CHARS: usize = 2048;

/// One item of `list_tests`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestItem {
    pub partner_test_id: String,
    pub partner_test_name: String,
}

/// A package as Greenhouse lists it: its slug (stable) and its name.
pub fn test_item(p: &Package) -> TestItem {
    TestItem {
        partner_test_id: p.id.clone(),
        partner_test_name: p.name.clone(),
    }
}

/// An id Greenhouse may send as a number or a string; kept as a string.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum LooseId {
    Text(String),
    Number(Number),
    Other(Value),
}

impl LooseId {
    fn text(&self) -> Option<String> {
        let s = match self {
            Self::Text(s) => s.trim().to_owned(),
            Self::Number(n) => n.to_string(),
            Self::Other(_) => return None,
        };
        (!s.is_empty()).then_some(s)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct SendTestCandidate {
    pub id: Option<LooseId>,
    pub candidate_id: Option<LooseId>,
    pub application_id: Option<LooseId>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub preferred_name: Option<String>,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub resume_url: Option<String>,
    pub greenhouse_profile_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct IdHolder {
    pub id: Option<LooseId>,
}

/// The body of `send_test`. Every field may be `null`; unknown fields are
/// ignored (Greenhouse adds properties, never removes them).
#[derive(Debug, Default, Deserialize)]
pub struct SendTestRequest {
    pub partner_test_id: Option<LooseId>,
    pub candidate: Option<SendTestCandidate>,
    pub candidate_id: Option<LooseId>,
    pub application: Option<IdHolder>,
    pub application_id: Option<LooseId>,
    pub sent_by: Option<String>,
    pub url: Option<String>,
}

/// Why a `send_test` body cannot become an order.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

/// A `send_test` that can become an order.
#[derive(Debug, Clone, PartialEq)]
pub struct SendTest {
    pub partner_test_id: String,
    /// Where to PATCH when the order ends; also the dedupe key.
    pub url: Option<String>,
    pub intake: Intake,
}

fn text(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Candidate and application ids from a Greenhouse profile URL
/// (`https://app.greenhouse.io/people/{candidate}?application_id={application}`).
pub fn ids_from_profile_url(url: &str) -> (Option<String>, Option<String>) {
    let Ok(url) = url::Url::parse(url) else {
        return (None, None);
    };
    let numeric =
        |s: &str| (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.to_owned());
    let mut segments = url.path_segments().into_iter().flatten();
    let candidate = segments
        .by_ref()
        .skip_while(|s| *s != "people")
        .nth(1)
        .and_then(numeric);
    let application = url
        .query_pairs()
        .find(|(k, _)| k == "application_id")
        .and_then(|(_, v)| numeric(&v));
    (candidate, application)
}

/// Read and check a `send_test` body. `allowed_hosts` are the hosts a PATCH
/// `url` may name; `now` dates the resume link's expiry.
pub fn parse_send_test(
    body: &[u8],
    allowed_hosts: &[String],
    now: Millis,
) -> Result<SendTest, Refusal> {
    let request: SendTestRequest = serde_json::from_slice(body).map_err(|e| {
        Refusal::new(
            400,
            "bad_request",
            format!("the send_test body is not the JSON object Greenhouse sends: {e}"),
        )
    })?;
    let too_long = [request.sent_by.as_deref(), request.url.as_deref()]
        .into_iter()
        .chain(request.candidate.iter().flat_map(|c| {
            [
                c.first_name.as_deref(),
                c.last_name.as_deref(),
                c.preferred_name.as_deref(),
                c.email.as_deref(),
                c.phone_number.as_deref(),
                c.resume_url.as_deref(),
                c.greenhouse_profile_url.as_deref(),
            ]
        }))
        .flatten()
        .any(|s| s.chars().count() > MAX_FIELD_CHARS);
    if too_long {
        return Err(Refusal::new(
            422,
            "validation_failed",
            format!("a field of the send_test body is longer than {MAX_FIELD_CHARS} characters"),
        ));
    }
    let partner_test_id = request
        .partner_test_id
        .as_ref()
        .and_then(LooseId::text)
        .ok_or_else(|| {
            Refusal::new(
                422,
                "validation_failed",
                "partner_test_id is missing: the job's partner stage has no test selected. \
                 Edit the stage in Greenhouse, pick a test, and send it again.",
            )
        })?;
    let candidate = request.candidate.unwrap_or_default();
    let email = text(&candidate.email).ok_or_else(|| {
        Refusal::new(
            422,
            "validation_failed",
            "candidate.email is missing: the vendor needs the candidate's email address to send the test. \
             Add an email address to the candidate in Greenhouse and send the test again.",
        )
    })?;
    if !screenhub_ashby::partner::is_valid_email(&email) {
        return Err(Refusal::new(
            422,
            "validation_failed",
            "candidate.email is not a valid email address; correct it in Greenhouse and send the test again",
        ));
    }
    let url = match text(&request.url) {
        None => None,
        Some(url) => Some(check_patch_url(&url, allowed_hosts)?),
    };
    let profile_url = text(&candidate.greenhouse_profile_url)
        .filter(|u| screenhub_core::order::validate_http_url(u).is_ok());
    let (url_candidate, url_application) = profile_url
        .as_deref()
        .map(ids_from_profile_url)
        .unwrap_or_default();
    let explicit_candidate = [
        &candidate.id,
        &request.candidate_id,
        &candidate.candidate_id,
    ]
    .into_iter()
    .find_map(|id| id.as_ref().and_then(LooseId::text));
    let explicit_application = [
        &request.application.as_ref().and_then(|a| a.id.clone()),
        &request.application_id,
        &candidate.application_id,
    ]
    .into_iter()
    .find_map(|id| id.as_ref().and_then(LooseId::text));
    for (what, explicit, from_url) in [
        ("candidate", &explicit_candidate, &url_candidate),
        ("application", &explicit_application, &url_application),
    ] {
        if let (Some(e), Some(u)) = (explicit, from_url) {
            if e != u {
                tracing::warn!(
                    what,
                    "send_test: the explicit id and the profile URL disagree; the explicit id wins"
                );
            }
        }
    }
    let resume_url = text(&candidate.resume_url);
    let mut details = Map::new();
    details.insert("partner_test_id".into(), json!(partner_test_id));
    details.insert("patch_url".into(), json!(url));
    details.insert("sent_by".into(), json!(text(&request.sent_by)));
    details.insert("resume_url".into(), json!(resume_url));
    details.insert(
        "resume_url_expires_at".into(),
        json!(resume_url
            .as_ref()
            .map(|_| rfc3339(now + RESUME_URL_LIFETIME_MS))),
    );
    Ok(SendTest {
        partner_test_id,
        url,
        intake: Intake {
            candidate: Candidate {
                ats_id: explicit_candidate.or(url_candidate),
                ats_application_id: explicit_application.or(url_application),
                first_name: text(&candidate.first_name).unwrap_or_default(),
                last_name: text(&candidate.last_name).unwrap_or_default(),
                preferred_name: text(&candidate.preferred_name),
                email,
                phone: text(&candidate.phone_number),
                profile_url,
            },
            job: None,
            application_status: None,
            additional_fields: None,
            ats_details: Value::Object(details),
        },
    })
}

/// The PATCH `url` of a `send_test`, if it is one the credential may go to.
pub fn check_patch_url(url: &str, allowed_hosts: &[String]) -> Result<String, Refusal> {
    let parsed = screenhub_core::order::validate_http_url(url)
        .map_err(|e| Refusal::new(422, "validation_failed", format!("url {e}")))?;
    let host = parsed.host_str().unwrap_or_default();
    if !allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return Err(Refusal::new(
            422,
            "validation_failed",
            format!(
                "url is on host {host}, which is not a Greenhouse host this hub may call \
                 (greenhouse_patch_hosts / SCREENHUB_GREENHOUSE_PATCH_HOSTS: {})",
                allowed_hosts.join(", ")
            ),
        ));
    }
    Ok(parsed.to_string())
}

/// The answer to `test_status`: never `null`, optional keys left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestStatus {
    pub partner_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_profile_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_score: Option<Number>,
    /// Rows in the order a recruiter reads them: `Result` first, one per
    /// screening, then `Completed At`, as the protocol notes show.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// The first row of a name wins: a screening cannot hide `Result`.
pub type Metadata = IndexMap<String, Value>;

fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "Clear",
        Outcome::Fail => "Not clear",
        Outcome::Review => "Needs review",
        Outcome::None => "Complete",
    }
}

/// What Greenhouse is told about an order now. `status_page_url` is the
/// hub's candidate-free page for an order that ended without a report.
pub fn test_status(order: &Order, status_page_url: impl FnOnce() -> String) -> TestStatus {
    let not_finished = |s: &str| TestStatus {
        partner_status: s.into(),
        partner_profile_url: None,
        partner_score: None,
        metadata: None,
    };
    let ended_at = order.terminal_at.unwrap_or(order.updated_at);
    let ended_without_result = |label: &str, reason: &str| {
        let mut metadata = Metadata::new();
        metadata.insert("Result".into(), json!(label));
        metadata.insert("Reason".into(), json!(reason));
        metadata.insert("Ended At".into(), json!(rfc3339(ended_at)));
        TestStatus {
            partner_status: "complete".into(),
            partner_profile_url: Some(status_page_url()),
            partner_score: None,
            metadata: Some(metadata),
        }
    };
    match order.status {
        OrderStatus::Pending => not_finished("sent"),
        OrderStatus::InProgress => not_finished("in_progress"),
        OrderStatus::Cancelled => ended_without_result(
            "Cancelled",
            order
                .cancel_reason
                .as_deref()
                .unwrap_or("Cancelled by the vendor"),
        ),
        OrderStatus::Failed => ended_without_result(
            "Could not be completed",
            order.failure_reason.as_deref().unwrap_or("No reason given"),
        ),
        OrderStatus::Completed => match &order.result {
            // A completed order always has its result; if not, say so rather than guess.
            None => ended_without_result("Could not be completed", "The result is missing"),
            Some(result) => {
                let mut metadata = Metadata::new();
                metadata.insert("Result".into(), json!(outcome_label(result.outcome)));
                for s in &result.screenings {
                    let value = match &s.detail {
                        Some(d) => format!("{} ({d})", outcome_label(s.outcome)),
                        None => outcome_label(s.outcome).to_owned(),
                    };
                    metadata.entry(s.name.clone()).or_insert(json!(value));
                }
                if let Some(summary) = &result.summary {
                    metadata.entry("Summary".into()).or_insert(json!(summary));
                }
                metadata
                    .entry("Completed At".into())
                    .or_insert(json!(rfc3339(result.completed_at)));
                TestStatus {
                    partner_status: "complete".into(),
                    partner_profile_url: Some(result.report_url.clone()),
                    partner_score: result
                        .score
                        .as_ref()
                        .and_then(|s| Number::from_f64(s.value)),
                    metadata: Some(metadata),
                }
            }
        },
    }
}

/// A `response_error` report, read tolerantly: whatever arrives is recorded.
#[derive(Debug, Default, Deserialize)]
pub struct ResponseError {
    pub api_call: Option<String>,
    pub errors: Option<Vec<Value>>,
    pub partner_test_id: Option<LooseId>,
    pub partner_test_name: Option<String>,
    pub partner_interview_id: Option<LooseId>,
}

/// At most this many errors of at most this many characters are kept.
const MAX_REPORTED_ERRORS: usize = 20;
const MAX_ERROR_CHARS: usize = 1000;

fn clip(s: &str) -> String {
    s.chars().take(MAX_ERROR_CHARS).collect()
}

impl ResponseError {
    /// Read a report; a body that is not a JSON object is kept as text.
    pub fn parse(body: &[u8]) -> (Self, Option<String>) {
        match serde_json::from_slice(body) {
            Ok(report) => (report, None),
            Err(_) => (Self::default(), Some(clip(&String::from_utf8_lossy(body)))),
        }
    }

    pub fn interview_id(&self) -> Option<String> {
        self.partner_interview_id.as_ref().and_then(LooseId::text)
    }

    /// What is recorded on the timeline and sent to the vendor (no
    /// candidate email: the order id already says whose test it was).
    pub fn event_data(&self, unreadable: Option<String>) -> Value {
        let errors: Vec<String> = self
            .errors
            .iter()
            .flatten()
            .take(MAX_REPORTED_ERRORS)
            .map(|e| {
                clip(
                    e.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| e.to_string())
                        .as_str(),
                )
            })
            .collect();
        json!({
            "api_call": self.api_call.as_deref().map(clip),
            "errors": errors,
            "partner_test_id": self.partner_test_id.as_ref().and_then(LooseId::text).map(|s| clip(&s)),
            "partner_test_name": self.partner_test_name.as_deref().map(clip),
            "partner_interview_id": self.interview_id().map(|s| clip(&s)),
            "unreadable_body": unreadable,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTS: &[&str] = &["app.greenhouse.io"];

    fn hosts() -> Vec<String> {
        HOSTS.iter().map(|h| h.to_string()).collect()
    }

    fn example() -> Value {
        json!({"partner_test_id": "bg-standard-us",
          "candidate": {"id": 17681532, "first_name": "Ada", "last_name": "Lovelace", "preferred_name": null,
            "resume_url": "https://app.greenhouse.io/x/resume.pdf?signature=1",
            "phone_number": "+1 415 555 0100", "email": "ada@example.com",
            "greenhouse_profile_url": "https://app.greenhouse.io/people/17681532?application_id=26234709"},
          "application": {"id": 26234709},
          "sent_by": "recruiter@acme.example",
          "url": "https://app.greenhouse.io/integrations/testing_partners/take_home_tests/998877"})
    }

    #[test]
    fn the_documented_example_becomes_a_normalized_candidate_without_a_job() {
        let t = parse_send_test(example().to_string().as_bytes(), &hosts(), 0).unwrap();
        assert_eq!(t.partner_test_id, "bg-standard-us");
        let c = &t.intake.candidate;
        assert_eq!(c.ats_id.as_deref(), Some("17681532"));
        assert_eq!(c.ats_application_id.as_deref(), Some("26234709"));
        assert_eq!(c.preferred_name, None);
        assert_eq!(c.phone.as_deref(), Some("+1 415 555 0100"));
        assert!(t.intake.job.is_none());
        assert_eq!(t.intake.ats_details["sent_by"], "recruiter@acme.example");
        assert_eq!(
            t.intake.ats_details["resume_url_expires_at"],
            "1970-01-08T00:00:00.000Z"
        );
    }

    #[test]
    fn ids_come_from_the_profile_url_when_not_sent() {
        let mut body = example();
        body["candidate"]["id"] = Value::Null;
        body.as_object_mut().unwrap().remove("application");
        let t = parse_send_test(body.to_string().as_bytes(), &hosts(), 0).unwrap();
        assert_eq!(t.intake.candidate.ats_id.as_deref(), Some("17681532"));
        assert_eq!(
            t.intake.candidate.ats_application_id.as_deref(),
            Some("26234709")
        );
    }

    #[test]
    fn refusals_are_clear() {
        let cases: [(&str, Value, u16); 5] = [
            ("not json", json!("x"), 400),
            (
                "no test",
                json!({"candidate": {"email": "a@b.example"}}),
                422,
            ),
            (
                "no email",
                json!({"partner_test_id": "t", "candidate": {"email": null}}),
                422,
            ),
            (
                "bad email",
                json!({"partner_test_id": "t", "candidate": {"email": "nope"}}),
                422,
            ),
            (
                "foreign url",
                json!({"partner_test_id": "t", "candidate": {"email": "a@b.example"}, "url": "https://evil.example/x"}),
                422,
            ),
        ];
        for (what, body, status) in cases {
            let e = parse_send_test(body.to_string().as_bytes(), &hosts(), 0).unwrap_err();
            assert_eq!(e.status, status, "{what}: {e:?}");
            assert!(!e.message.is_empty());
        }
    }
}
