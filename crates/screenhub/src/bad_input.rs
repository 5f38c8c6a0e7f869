//! Properties that hold for any input, whatever its bytes. The fuzz targets in
//! `fuzz/` (run by `scripts/fuzz`) call these with generated input, and a plain
//! test feeds them every committed corpus file, crashes found included. Each
//! function runs the same parse and validate code as the handlers, and panics
//! when a property breaks.

use arbitrary::{Arbitrary, Unstructured};
use axum::http::{HeaderMap, HeaderValue};
use screenhub_ashby::mapping::{assessment_update, UpdateKind};
use screenhub_ashby::partner::{is_valid_email, CustomFieldsResponse};
use screenhub_ashby::validate::{MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS};
use screenhub_ashby::{parse_cancel_request, parse_start_request, validate_update};
use screenhub_core::order::{Change, Outcome, Score, ScreeningResult};
use screenhub_core::package::PackageKind;
use screenhub_store::EndpointSecrets;
use serde::de::DeserializeOwned;

use crate::api::v1::{accounts, connect_sessions, custom_fields, orders, webhook_endpoints};
use crate::connectors::presented_token;
use crate::error::ApiError;
use crate::extract::parse_json;
use crate::manage::{self, PackageBody, PackagePatch};
use crate::outbound::OutboundPolicy;

/// Some time in 2026, in milliseconds: a plausible "now" that keeps runs reproducible.
const NOW_MS: i64 = 1_780_000_000_000;
const ASSESSMENT_ID: uuid::Uuid = uuid::Uuid::from_u128(0x0190_f5c2_7a1e_7b3c_9d4e_5f6a_7b8c_9d0e);

/// A refusal must be a 4xx that says something.
fn assert_clear_refusal(e: &ApiError) {
    assert!(e.status.is_client_error(), "a refusal must be a 4xx: {e}");
    assert!(!e.message.trim().is_empty(), "a refusal must say why: {e}");
}

/// The first byte picks the variant, the rest is the body.
fn split(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(first, rest)| (*first, rest))
}

// ---- (a) the partner API: what Ashby sends the hub -----------------------

/// `assessment.start` and `assessment.cancel` bodies, the `Authorization`
/// header Ashby presents, and the custom fields `customField.list` returns.
pub fn partner_request(data: &[u8]) {
    let Some((which, body)) = split(data) else {
        return;
    };
    match which % 4 {
        0 => match parse_start_request(body) {
            Ok(request) => {
                assert!(is_valid_email(&request.candidate.email));
                for id in [
                    &request.assessment_type_id,
                    &request.candidate.ashby_id,
                    &request.application.ashby_id,
                    &request.job.ashby_id,
                ] {
                    assert!(!id.trim().is_empty());
                }
                for url in [
                    &request.candidate.ashby_profile_url,
                    &request.job.ashby_job_url,
                ] {
                    assert!(screenhub_core::order::validate_http_url(url).is_ok());
                }
                // The handler keeps the body as sent: it is one JSON document.
                assert!(serde_json::from_slice::<serde_json::Value>(body).is_ok());
            }
            Err(r) => assert!(!r.message.trim().is_empty()),
        },
        1 => match parse_cancel_request(body) {
            Ok(request) => assert!(!request.assessment_id.trim().is_empty()),
            Err(r) => assert!(!r.message.trim().is_empty()),
        },
        2 => {
            let Ok(value) = HeaderValue::from_bytes(body) else {
                return;
            };
            let mut headers = HeaderMap::new();
            headers.insert(axum::http::header::AUTHORIZATION, value);
            if let Some(token) = presented_token(&headers) {
                assert!(!token.is_empty());
            }
        }
        _ => custom_fields_round_trip(body),
    }
}

/// Fields the vendor may store come back from `customField.list` as they went in.
fn custom_fields_round_trip(body: &[u8]) {
    let Some(fields) = parsed::<custom_fields::CustomFields>(body) else {
        return;
    };
    if refused(custom_fields::validate_custom_fields(&fields.fields)) {
        return;
    }
    let sent = serde_json::to_vec(&CustomFieldsResponse::new(fields.fields.clone()))
        .expect("custom fields serialise");
    let back: CustomFieldsResponse = serde_json::from_slice(&sent).expect("and read back");
    assert_eq!(back.fields, fields.fields);
}

// ---- (b) the vendor API bodies -------------------------------------------

/// Parse a body as the vendor API's `ApiJson` does; a refusal must be clear.
fn parsed<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    parse_json(body).map_err(|e| assert_clear_refusal(&e)).ok()
}

/// Did validation refuse (clearly)?
fn refused<T>(result: Result<T, ApiError>) -> bool {
    match result {
        Ok(_) => false,
        Err(e) => {
            assert_clear_refusal(&e);
            true
        }
    }
}

/// A validated value, or `None` after checking that the refusal was clear.
fn accepted<T>(result: Result<T, ApiError>) -> Option<T> {
    result.map_err(|e| assert_clear_refusal(&e)).ok()
}

fn sample_package() -> PackageBody {
    PackageBody {
        id: "basic".into(),
        kind: PackageKind::BackgroundCheck,
        name: "Basic background check".into(),
        description: String::new(),
        screenings: vec!["Identity".into()],
        account_ids: None,
        active: true,
    }
}

/// Every vendor API request body: parsed, validated, and what is accepted is
/// usable (URLs are http(s), and a reported change makes an `assessment.update`
/// that passes Ashby's validation).
pub fn vendor_request(data: &[u8]) {
    let Some((which, body)) = split(data) else {
        return;
    };
    // The tests' outbound policy: loopback allowed, as in development.
    let policy = OutboundPolicy::new(vec!["127.0.0.0/8".parse().expect("a network")]);
    match which % 15 {
        0 => {
            let Some(b) = parsed::<accounts::CreateAccount>(body) else {
                return;
            };
            if let Some(new) = accepted(b.validate("https://api.ashbyhq.com", &policy)) {
                assert!(policy.check_url(&new.ats_api_base_url).is_ok());
                assert!((1..=200).contains(&new.name.chars().count()));
            }
        }
        1 => {
            let Some(b) = parsed::<accounts::UpdateAccount>(body) else {
                return;
            };
            accepted(b.validate());
        }
        2 => {
            let Some(b) = parsed::<accounts::RotateToken>(body) else {
                return;
            };
            accepted(b.grace_secs());
        }
        3 => {
            let Some(b) = parsed::<accounts::AtsCredentials>(body) else {
                return;
            };
            if let Some(key) = b.api_key.as_deref() {
                if let Some(key) = accepted(crate::connectors::ashby::validate_ats_key(key)) {
                    assert!(!key.is_empty() && key.trim() == key);
                }
            }
        }
        4 => {
            let Some(b) = parsed::<PackageBody>(body) else {
                return;
            };
            accepted(manage::validate_package(b));
        }
        5 => {
            let Some(b) = parsed::<Vec<PackageBody>>(body) else {
                return;
            };
            accepted(manage::validate_package_set(b));
        }
        6 => {
            let Some(b) = parsed::<PackagePatch>(body) else {
                return;
            };
            accepted(manage::validate_package(b.apply_to(sample_package())));
        }
        7 => custom_fields_round_trip(body),
        8 => {
            let Some(b) = parsed::<manage::CreateEndpoint>(body) else {
                return;
            };
            if let Some(url) = accepted(manage::validate_url(&policy, &b.url)) {
                assert!(policy.check_url(&url).is_ok());
            }
            if let Some(events) = &b.events {
                accepted(manage::validate_events(events));
            }
        }
        9 => {
            let Some(b) = parsed::<manage::UpdateEndpoint>(body) else {
                return;
            };
            if let Some(url) = &b.url {
                accepted(manage::validate_url(&policy, url));
            }
            if let Some(Some(events)) = &b.events {
                accepted(manage::validate_events(events));
            }
        }
        10 => {
            let Some(b) = parsed::<webhook_endpoints::RotateSecret>(body) else {
                return;
            };
            accepted(crate::api::v1::grace_period(
                b.grace_period_seconds,
                manage::MAX_SECRET_GRACE_SECS,
                "7 days",
            ));
        }
        11 => {
            let Some(b) = parsed::<orders::StatusReport>(body) else {
                return;
            };
            if let Some(change) = accepted(b.into_change()) {
                assert_ashby_accepts(&change, NOW_MS);
            }
        }
        12 => {
            let Some(b) = parsed::<orders::ResultReport>(body) else {
                return;
            };
            if let Some(result) = accepted(b.into_result(NOW_MS)) {
                assert_ashby_accepts(&Change::Complete(result), NOW_MS);
            }
        }
        13 => {
            let Some(b) = parsed::<orders::CancelRequest>(body) else {
                return;
            };
            if let Some(change) = accepted(b.into_change()) {
                assert_ashby_accepts(&change, NOW_MS);
            }
        }
        _ => {
            let Some(b) = parsed::<connect_sessions::CreateConnectSession>(body) else {
                return;
            };
            accepted(b.account_id());
            accepted(crate::ops::connect_link_lifetime(b.expires_in));
        }
    }
}

// ---- (c) the assessment.update mapping -----------------------------------

/// The update the hub sends Ashby for a change the vendor API accepted.
fn update_kind(change: &Change) -> UpdateKind<'_> {
    match change {
        Change::Progress { label, eta_minutes } => UpdateKind::Progress {
            label: label.as_deref(),
            eta_minutes: *eta_minutes,
        },
        Change::Complete(result) => UpdateKind::Completed(result),
        Change::Cancel { reason, .. } => UpdateKind::Cancelled {
            reason: reason.as_str(),
        },
        Change::Fail { reason } => UpdateKind::Failed {
            reason: reason.as_str(),
        },
    }
}

/// Ashby's own validation accepts the update, and reads it back unchanged.
fn assert_ashby_accepts_kind(kind: UpdateKind<'_>, timestamp: i64) {
    let update = assessment_update(ASSESSMENT_ID, timestamp, kind);
    let json = update.to_json();
    match validate_update(&json) {
        Ok(read) => assert_eq!(read, update, "Ashby reads back what was sent"),
        Err(e) => panic!("Ashby would refuse the update for {kind:?}: {e}\n{json:#}"),
    }
}

fn assert_ashby_accepts(change: &Change, timestamp: i64) {
    assert_ashby_accepts_kind(update_kind(change), timestamp);
}

/// What a vendor might report, built from fuzz input.
#[derive(Debug, Arbitrary)]
struct Report {
    kind: ReportKind,
    /// A valid timestamp is picked from this unless `raw_timestamp` is set.
    timestamp_offset: u32,
    raw_timestamp: Option<i64>,
}

#[derive(Debug, Arbitrary)]
enum ReportKind {
    Started,
    Progress {
        status: String,
        label: Option<String>,
        eta_minutes: Option<i64>,
        reason: Option<String>,
    },
    Result {
        outcome: u8,
        /// Appended to a valid report URL unless `raw_url` is set.
        url_tail: String,
        raw_url: Option<String>,
        summary: Option<String>,
        score: Option<(f64, Option<f64>)>,
        screenings: Vec<(String, u8, Option<String>)>,
    },
    Cancel {
        reason: String,
    },
}

fn outcome(n: u8) -> Outcome {
    [Outcome::Pass, Outcome::Fail, Outcome::Review, Outcome::None][usize::from(n % 4)]
}

/// `assessment_update` never panics, whatever it is given; for any report
/// the vendor API accepts, Ashby's validation accepts the update it makes.
pub fn assessment_update_mapping(data: &[u8]) {
    let Ok(report) = Report::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let valid_timestamp = NOW_MS + i64::from(report.timestamp_offset);
    let timestamp = report.raw_timestamp.unwrap_or(valid_timestamp);
    let acceptable = (MIN_TIMESTAMP_MS..=MAX_TIMESTAMP_MS).contains(&timestamp);
    let change = match report.kind {
        ReportKind::Started => {
            let update = assessment_update(ASSESSMENT_ID, timestamp, UpdateKind::Started);
            if acceptable {
                assert_ashby_accepts_kind(UpdateKind::Started, timestamp);
            } else {
                assert!(validate_update(&update.to_json()).is_err());
            }
            return;
        }
        ReportKind::Progress {
            status,
            label,
            eta_minutes,
            reason,
        } => {
            // Unvalidated, straight into the mapping: it must not panic.
            let _ = assessment_update(
                ASSESSMENT_ID,
                timestamp,
                UpdateKind::Progress {
                    label: label.as_deref(),
                    eta_minutes,
                },
            );
            orders::StatusReport {
                status,
                label,
                eta_minutes,
                reason,
            }
            .into_change()
        }
        ReportKind::Result {
            outcome: verdict,
            url_tail,
            raw_url,
            summary,
            score,
            screenings,
        } => orders::ResultReport {
            outcome: outcome(verdict),
            report_url: raw_url
                .unwrap_or_else(|| format!("https://vendor.example/reports/{url_tail}")),
            summary,
            score: score.map(|(value, max)| Score { value, max }),
            screenings: screenings
                .into_iter()
                .map(|(name, verdict, detail)| ScreeningResult {
                    name,
                    outcome: outcome(verdict),
                    detail,
                })
                .collect(),
            completed_at: None,
        }
        .into_result(NOW_MS)
        .map(|result| {
            // Unvalidated results may not make a valid update, but never a panic.
            let _ = assessment_update(ASSESSMENT_ID, timestamp, UpdateKind::Completed(&result));
            Change::Complete(result)
        }),
        ReportKind::Cancel { reason } => {
            let _ = assessment_update(
                ASSESSMENT_ID,
                timestamp,
                UpdateKind::Cancelled { reason: &reason },
            );
            let _ = assessment_update(
                ASSESSMENT_ID,
                timestamp,
                UpdateKind::Failed { reason: &reason },
            );
            orders::CancelRequest { reason }.into_change()
        }
    };
    if let Some(change) = accepted(change) {
        assert_ashby_accepts(&change, valid_timestamp);
    }
}

// ---- (d) webhook signatures ----------------------------------------------

/// A webhook as it might arrive, built from fuzz input.
#[derive(Debug, Arbitrary)]
struct Delivery {
    /// Raw secret text, or (if absent) a well-formed secret from these bytes.
    raw_secret: Option<String>,
    key: [u8; 24],
    previous_key: Option<[u8; 24]>,
    msg_id: String,
    body: Vec<u8>,
    /// Header values as sent; `None` leaves the header out.
    id_header: Option<Vec<u8>>,
    timestamp_header: Option<Timestamp>,
    signature_header: Option<Vec<u8>>,
}

#[derive(Debug, Arbitrary)]
enum Timestamp {
    Seconds(i64),
    /// Seconds from now.
    Offset(i16),
    Raw(Vec<u8>),
}

fn secret_from(key: &[u8]) -> String {
    use base64::Engine;
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// Verification never panics on any headers, body or secret; what the hub
/// signs verifies, with our verifier and with the reference implementation
/// (`standardwebhooks`), under the current secret and, during a rotation, the
/// previous one; a stranger's secret or a changed body never verifies.
pub fn webhook_signature(data: &[u8]) {
    use crate::webhooks::{sign, verify};
    let Ok(d) = Delivery::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let now = chrono::Utc::now().timestamp();

    // Whatever arrives, verification answers.
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &[u8]| {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.insert(name, v);
        }
    };
    if let Some(id) = &d.id_header {
        put("webhook-id", id);
    }
    if let Some(ts) = &d.timestamp_header {
        let text = match ts {
            Timestamp::Seconds(s) => s.to_string().into_bytes(),
            Timestamp::Offset(o) => (now + i64::from(*o)).to_string().into_bytes(),
            Timestamp::Raw(raw) => raw.clone(),
        };
        put("webhook-timestamp", &text);
    }
    if let Some(sig) = &d.signature_header {
        put("webhook-signature", sig);
    }
    let secret = d.raw_secret.clone().unwrap_or_else(|| secret_from(&d.key));
    let _ = verify(&secret, &headers, &d.body, now);

    // Round trip: sign as the hub does, verify as a receiver does.
    let secrets = EndpointSecrets {
        current: secret_from(&d.key),
        previous: d.previous_key.map(|k| secret_from(&k)),
    };
    let Ok(msg_id) = HeaderValue::from_str(&d.msg_id) else {
        return;
    };
    let Ok(signature) = sign(&secrets, &d.msg_id, now, &d.body) else {
        // Only an id a header cannot carry as text goes unsigned (the hub's are `dlv_…`).
        assert!(msg_id.to_str().is_err(), "{d:?}");
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", msg_id);
    headers.insert("webhook-timestamp", HeaderValue::from(now));
    headers.insert(
        "webhook-signature",
        HeaderValue::from_str(&signature).expect("a signature is header-safe"),
    );
    let verifies = |secret: &str, body: &[u8]| {
        let ours = verify(secret, &headers, body, now).is_ok();
        // The reference reads bodies as UTF-8 only; the hub sends JSON.
        if std::str::from_utf8(body).is_ok() {
            let reference = standardwebhooks::Webhook::new(secret)
                .expect("a well-formed secret")
                .verify(body, &headers)
                .is_ok();
            assert_eq!(
                ours, reference,
                "we and the reference disagree: {headers:?}"
            );
        }
        ours
    };
    assert!(
        verifies(&secrets.current, &d.body),
        "the current secret verifies: {headers:?}"
    );
    if let Some(previous) = &secrets.previous {
        assert!(verifies(previous, &d.body), "the previous secret verifies");
    }
    let mut stranger = d.key;
    stranger[0] ^= 1;
    if Some(stranger) != d.previous_key {
        assert!(
            !verifies(&secret_from(&stranger), &d.body),
            "a stranger's secret fails"
        );
    }
    let mut changed = d.body.clone();
    changed.push(b' ');
    assert!(
        !verifies(&secrets.current, &changed),
        "a changed body fails"
    );
}

/// A property over raw fuzz input; it panics when the property breaks.
pub type Property = fn(&[u8]);

/// Each fuzz target's name and the property it checks, for the corpus test.
pub const TARGETS: [(&str, Property); 5] = [
    ("partner_request", partner_request),
    ("vendor_request", vendor_request),
    ("assessment_update", assessment_update_mapping),
    ("webhook_signature", webhook_signature),
    ("greenhouse_send_test", greenhouse_send_test),
];

/// Greenhouse's `send_test` body (and a `response_error` report): whatever
/// the bytes, a body is either refused with a 4xx that says why, or becomes
/// an order whose email is valid, whose PATCH url is on an allowed host, and
/// whose fields are bounded. A report is always read, and kept bounded.
pub fn greenhouse_send_test(data: &[u8]) {
    use crate::connectors::greenhouse::transformers::{
        parse_send_test, ResponseError, MAX_FIELD_CHARS,
    };
    let Some((which, body)) = split(data) else {
        return;
    };
    let hosts = ["app.greenhouse.io".to_owned()];
    if which % 2 == 1 {
        let (report, unreadable) = ResponseError::parse(body);
        let kept = report.event_data(unreadable).to_string();
        assert!(kept.len() <= 64 * 1024, "a report is kept bounded");
        return;
    }
    match parse_send_test(body, &hosts, NOW_MS) {
        Ok(t) => {
            assert!(is_valid_email(&t.intake.candidate.email));
            assert!(!t.partner_test_id.is_empty());
            assert!(t.intake.job.is_none(), "Greenhouse sends no job");
            if let Some(url) = &t.url {
                let host = url::Url::parse(url).unwrap().host_str().unwrap().to_owned();
                assert_eq!(
                    host, "app.greenhouse.io",
                    "the doorbell stays on an allowed host"
                );
            }
            let c = &t.intake.candidate;
            for field in [&c.first_name, &c.last_name, &c.email] {
                assert!(field.chars().count() <= MAX_FIELD_CHARS);
            }
        }
        Err(r) => {
            assert!((400..500).contains(&r.status), "a refusal is a 4xx: {r:?}");
            assert!(!r.message.trim().is_empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_tiny_inputs_are_fine() {
        for (_, check) in TARGETS {
            for data in [&b""[..], b"\0", b"\x01{}", b"\x0c{\"outcome\":\"pass\"}"] {
                check(data);
            }
        }
    }
}
