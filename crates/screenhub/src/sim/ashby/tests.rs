//! The sim over real HTTP on 127.0.0.1, with a small fake partner standing in
//! for the hub.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use screenhub_ashby::mapping::{assessment_update, UpdateKind};
use screenhub_ashby::partner::{
    start_response, CustomField, CustomFieldType, CustomFieldsResponse, PossibleValue,
};
use screenhub_ashby::{AshbyClient, AshbyError, AttemptClass};
use screenhub_core::order::{OrderResult, Outcome, ScreeningResult};
use screenhub_core::package::ats_type_id;

use super::*;

const KEY: &str = "test-ashby-key";
const T0: i64 = 1_700_000_000_000;

fn sim() -> AshbySim {
    AshbySim::with_seed(
        SimConfig {
            api_keys: vec![KEY.into()],
            ..SimConfig::default()
        },
        7,
    )
}

async fn spawn(sim: AshbySim) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, sim));
    format!("http://{addr}")
}

fn basic(key: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{key}:")))
}

/// POST an Ashby method with JSON; returns status, headers and body.
async fn ashby(
    base: &str,
    method: &str,
    key: Option<&str>,
    body: Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/{method}"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(key) = key {
        request = request.header("authorization", basic(key));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn control(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, format!("{base}{path}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Make the sim know an assessment id without a partner.
fn known(sim: &AshbySim, id: &str) {
    sim.state()
        .assessments
        .push(SimAssessment::new(id.into(), "type".into(), &json!({}), T0));
}

fn error_code(body: &Value) -> &str {
    assert_eq!(body["success"], false, "{body}");
    body["errorInfo"]["code"].as_str().unwrap()
}

fn error_message(body: &Value) -> &str {
    body["errorInfo"]["message"].as_str().unwrap()
}

fn started(id: &str, ts: i64) -> Value {
    assessment_update(id.parse().unwrap(), ts, UpdateKind::Started).to_json()
}

fn client() -> AshbyClient {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    AshbyClient::new(http, "screenhub-test")
}

// ---------------------------------------------------------------- auth

#[tokio::test]
async fn auth_missing_unknown_revoked_and_unpermitted_keys() {
    let base = spawn(sim()).await;

    let (status, headers, body) = ashby(&base, "apiKey.info", None, json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&body), "missing_api_key");
    assert_eq!(body["errors"], json!(["missing_api_key"]));
    assert_eq!(
        body["errorInfo"]["requestId"],
        headers["x-ashby-request-id"].to_str().unwrap()
    );

    // A bearer token is not Ashby's scheme: no key was sent.
    let response = reqwest::Client::new()
        .post(format!("{base}/apiKey.info"))
        .header("authorization", format!("Bearer {KEY}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let (status, _, body) = ashby(&base, "apiKey.info", Some("nope"), json!({})).await;
    assert_eq!((status, error_code(&body)), (403, "invalid_api_key"));

    let (status, body) = control(
        &base,
        reqwest::Method::POST,
        "/_sim/keys",
        Some(json!({"title": "Hub"})),
    )
    .await;
    assert_eq!(status, 201);
    let key = body["key"].as_str().unwrap().to_owned();
    assert_eq!(body["permissions"], json!(DEFAULT_PERMISSIONS));
    let (status, _, body) = ashby(&base, "apiKey.info", Some(&key), json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["success"], true);
    assert_eq!(body["results"]["title"], "Hub");
    assert!(body["results"]["createdAt"].is_string());
    // Ashby's documented shape: no list of permissions.
    assert_eq!(
        body["results"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["createdAt", "title"]
    );

    let (status, _) = control(
        &base,
        reqwest::Method::POST,
        &format!("/_sim/keys/{key}/revoke"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, body) = ashby(&base, "apiKey.info", Some(&key), json!({})).await;
    assert_eq!((status, error_code(&body)), (403, "invalid_api_key"));
    assert!(error_message(&body).contains("deactivated"));

    let (_, body) = control(
        &base,
        reqwest::Method::POST,
        "/_sim/keys",
        Some(json!({"title": "Read only", "permissions": ["candidatesRead"]})),
    )
    .await;
    let read_only = body["key"].as_str().unwrap().to_owned();
    // apiKey.info needs apiKeysRead, even for a key that is otherwise valid.
    let (status, _, body) = ashby(&base, "apiKey.info", Some(&read_only), json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (403, "missing_endpoint_permission")
    );
    assert!(error_message(&body).contains("apiKeysRead permission (API Keys → Read)"));
    let (status, _, body) = ashby(
        &base,
        "assessment.update",
        Some(&read_only),
        started(&uuid(), T0),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (403, "missing_endpoint_permission")
    );
    assert!(error_message(&body).contains("candidatesWrite"));
    for method in ["candidate.info", "application.info", "file.info"] {
        let (_, body) = control(
            &base,
            reqwest::Method::POST,
            "/_sim/keys",
            Some(json!({"permissions": ["apiKeysRead", "candidatesWrite"]})),
        )
        .await;
        let key = body["key"].as_str().unwrap();
        let (status, _, body) = ashby(&base, method, Some(key), json!({"id": "x"})).await;
        assert_eq!(
            (status, error_code(&body)),
            (403, "missing_endpoint_permission"),
            "{method}"
        );
        assert!(error_message(&body).contains("candidatesRead"), "{method}");
    }

    // The hub's client reads these answers as intended.
    let c = client();
    assert!(c.api_key_info(&base, KEY).await.is_ok());
    assert_eq!(
        c.api_key_info(&base, &read_only).await.unwrap_err(),
        AshbyError::MissingPermission {
            permission: "apiKeysRead".into()
        }
    );
    assert_eq!(
        c.api_key_info(&base, &key).await.unwrap_err(),
        AshbyError::KeyRejected { status: 403 }
    );
    assert_eq!(
        c.api_key_info(&base, "").await.unwrap_err(),
        AshbyError::KeyRejected { status: 401 }
    );
    let out = c
        .assessment_update(
            &base,
            &read_only,
            &assessment_update(uuid::Uuid::nil(), T0, UpdateKind::Started),
        )
        .await;
    assert_eq!(out.class, AttemptClass::AuthRejected);
}

/// Keys made on the Integrations page get the permissions ticked there; the
/// boxes start as the hub's connect page asks.
#[tokio::test]
async fn integrations_page_keys_choose_their_permissions() {
    let sim = sim();
    let base = spawn(sim.clone()).await;
    let http = reqwest::Client::new();
    let get = http.get(format!("{base}/admin/integrations?unlaunched=1"));
    let page = get.send().await.unwrap().text().await.unwrap();
    for permission in KNOWN_PERMISSIONS {
        let checked = format!(r#"name="{permission}" id="perm-{permission}" checked>"#);
        assert_eq!(
            page.contains(&checked),
            DEFAULT_PERMISSIONS.contains(&permission),
            "{permission}: {page}"
        );
    }
    assert!(page.contains("API Keys → Read"));

    let created = |form: &'static str| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let post = http.post(format!("{base}/admin/integrations/api-keys"));
            let post = post.header("content-type", "application/x-www-form-urlencoded");
            let page = post.body(form).send().await.unwrap().text().await.unwrap();
            let key = page
                .split(r#"id="new-api-key">"#)
                .nth(1)
                .and_then(|rest| rest.split('<').next())
                .unwrap_or_else(|| panic!("no new key on the page: {page}"))
                .to_owned();
            (key, page)
        }
    };
    let (key, page) = created("apiKeysRead=on&candidatesRead=on").await;
    assert_eq!(
        sim.state().keys[&key].permissions,
        ["apiKeysRead", "candidatesRead"]
    );
    assert!(
        page.contains("API Keys → Read, Candidates → Read"),
        "{page}"
    );
    let (_, _, body) = ashby(&base, "apiKey.info", Some(&key), json!({})).await;
    assert_eq!(body["success"], true);
    let (status, _, _) = ashby(&base, "assessment.update", Some(&key), started(&uuid(), T0)).await;
    assert_eq!(status, 403);

    let (key, _) = created("").await;
    assert!(sim.state().keys[&key].permissions.is_empty());
    let (status, _, body) = ashby(&base, "apiKey.info", Some(&key), json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (403, "missing_endpoint_permission")
    );
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

// ---------------------------------------------------------------- validation

#[tokio::test]
async fn every_validation_rule_is_refused_with_a_precise_message() {
    let sim = sim();
    let id = uuid();
    known(&sim, &id);
    let base = spawn(sim.clone()).await;

    let refused = |body: Value| {
        let base = base.clone();
        async move {
            let (status, _, answer) = ashby(&base, "assessment.update", Some(KEY), body).await;
            assert_eq!(
                status, 200,
                "Ashby answers validation failures with HTTP 200"
            );
            (
                error_code(&answer).to_owned(),
                error_message(&answer).to_owned(),
            )
        }
    };
    let ok = started(&id, T0);
    // Set (or add) one field of a valid update.
    let with = |pointer: &str, value: Value| {
        let mut v = ok.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        v.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(key.to_owned(), value);
        v
    };
    let without = |key: &str| {
        let mut v = ok.clone();
        v.as_object_mut().unwrap().remove(key);
        v
    };

    let cases: Vec<(Value, &str)> = vec![
        (json!([1]), "the request body must be a JSON object"),
        (without("assessment_id"), "assessment_id is required"),
        (
            with("/assessment_id", json!(1)),
            "assessment_id must be a string, not a number",
        ),
        (without("timestamp"), "timestamp is required"),
        (
            with("/timestamp", json!(1_700_000_000)),
            "timestamp 1700000000 looks like seconds",
        ),
        (
            with("/timestamp", json!(1.7e12)),
            "timestamp must be an integer number of milliseconds, not a decimal number",
        ),
        (
            with("/timestamp", json!("1700000000000")),
            "timestamp must be an integer",
        ),
        (
            with("/timestamp", json!(-5)),
            "timestamp must not be negative",
        ),
        (
            without("assessment_status"),
            "assessment_status is required unless cancelled_reason is sent",
        ),
        (
            with("/assessment_status/type", json!("text")),
            "assessment_status.type must be one of",
        ),
        (
            with("/assessment_status/value", json!(3)),
            "assessment_status.value must be a string for type `string`",
        ),
        (
            with("/assessment_status/identifier", json!("")),
            "assessment_status.identifier must not be empty",
        ),
        (with("/extra", json!(1)), "unknown field `extra`"),
        (
            with(
                "/assessment_result",
                json!({"identifier": "r", "label": "R", "type": "boolean_success", "value": true}),
            ),
            "assessment_profile_url is required when assessment_result is sent",
        ),
        (
            with(
                "/assessment_profile_url",
                json!({"identifier": "u", "label": "U", "type": "url", "value": "notaurl"}),
            ),
            "assessment_profile_url.value must be an absolute http(s) URL",
        ),
        (
            with(
                "/metadata",
                json!([
                    {"identifier": "a", "label": "A", "type": "numeric_score", "value": 1},
                    {"identifier": "a", "label": "A", "type": "numeric_score", "value": 2}
                ]),
            ),
            "metadata[1].identifier `a` is already used by metadata[0]",
        ),
        (
            with(
                "/metadata",
                json!([{"identifier": "a", "label": "A", "type": "boolean_success", "value": "yes"}]),
            ),
            "metadata[0].value must be true or false",
        ),
    ];
    for (body, expected) in cases {
        let (code, message) = refused(body.clone()).await;
        assert_eq!(code, "invalid_input", "{body}");
        assert!(message.starts_with(expected), "{expected:?} vs {message:?}");
    }

    // Not JSON, or not sent as JSON.
    let response = reqwest::Client::new()
        .post(format!("{base}/assessment.update"))
        .header("authorization", basic(KEY))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert!(error_message(&body).starts_with("the request body is not valid JSON"));
    let response = reqwest::Client::new()
        .post(format!("{base}/assessment.update"))
        .header("authorization", basic(KEY))
        .header("content-type", "text/plain")
        .body(ok.to_string())
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        error_message(&body),
        "Content-Type must be application/json, not `text/plain`"
    );

    // An id the sim never saw start.
    let stranger = uuid();
    let (code, message) = refused(started(&stranger, T0)).await;
    assert_eq!(code, "assessment_not_found");
    assert!(message.starts_with(&format!(
        "assessment_id {stranger} is not an assessment started through this Ashby"
    )));

    // Timestamps strictly increase per assessment.
    let (status, _, body) =
        ashby(&base, "assessment.update", Some(KEY), started(&id, T0 + 10)).await;
    assert_eq!((status, &body["success"]), (200, &json!(true)));
    // An exact repeat of the last accepted update (a sender that crashed before
    // recording our answer) is accepted and changes nothing.
    let (status, _, body) =
        ashby(&base, "assessment.update", Some(KEY), started(&id, T0 + 10)).await;
    assert_eq!((status, &body["success"]), (200, &json!(true)));
    assert_eq!(sim.assessment(&id).unwrap().repeated_updates, 1);
    for ts in [T0 + 10, T0 + 5] {
        let mut other = started(&id, ts);
        other["assessment_status"]["value"] = json!("Something else");
        let (code, message) = refused(other).await;
        assert_eq!(code, "invalid_input");
        assert_eq!(
            message,
            format!(
                "timestamp {ts} is not after {}, the timestamp of the last update accepted for assessment {id}; timestamps must strictly increase",
                T0 + 10
            )
        );
    }

    // Every body that got as far as validation is kept: 16 of the 17 cases (the
    // array never got there), the stranger and the two stale timestamps. Those
    // that named this assessment are also kept on it.
    let view = sim.assessment(&id).unwrap();
    assert_eq!(view.updates.len(), 1);
    assert_eq!(view.rejected_updates.len(), 14 + 2);
    assert_eq!(sim.rejections().len(), 16 + 1 + 2);
    let (status, body) = control(&base, reqwest::Method::GET, "/_sim/rejections", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 19);
    assert_eq!(
        body["data"][18]["message"],
        json!(sim.rejections()[18].message)
    );
}

// ---------------------------------------------------------------- recording

#[tokio::test]
async fn accepted_updates_are_recorded_in_order_and_merged() {
    let sim = sim();
    let id = uuid::Uuid::new_v4();
    known(&sim, &id.to_string());
    let base = spawn(sim.clone()).await;
    let c = client();

    let result = OrderResult {
        outcome: Outcome::Review,
        report_url: "https://vendor.example/reports/1".into(),
        summary: Some("One record to review".into()),
        score: None,
        screenings: vec![
            ScreeningResult {
                name: "Identity".into(),
                outcome: Outcome::Pass,
                detail: None,
            },
            ScreeningResult {
                name: "Criminal (county)".into(),
                outcome: Outcome::Review,
                detail: Some("1 record".into()),
            },
        ],
        completed_at: T0 + 3000,
    };
    let updates = [
        assessment_update(id, T0, UpdateKind::Started),
        assessment_update(
            id,
            T0 + 1000,
            UpdateKind::Progress {
                label: Some("Candidate invited"),
                eta_minutes: Some(60),
            },
        ),
        assessment_update(
            id,
            T0 + 2000,
            UpdateKind::Progress {
                label: None,
                eta_minutes: Some(15),
            },
        ),
        assessment_update(id, T0 + 3000, UpdateKind::Completed(&result)),
    ];
    let mut states = Vec::new();
    for update in &updates {
        let out = c.assessment_update(&base, KEY, update).await;
        assert_eq!(out.class, AttemptClass::Delivered, "{out:?}");
        states.push(sim.assessment(&id.to_string()).unwrap().state);
    }
    assert_eq!(
        states,
        [
            AssessmentState::InProgress,
            AssessmentState::InProgress,
            AssessmentState::InProgress,
            AssessmentState::Completed
        ]
    );

    let (status, view) = control(
        &base,
        reqwest::Method::GET,
        &format!("/_sim/assessments/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(view["state"], "completed");
    assert_eq!(view["started_at_ms"], T0);
    assert_eq!(view["completed_at_ms"], T0 + 3000);
    assert_eq!(view["status"]["value"], "Completed");
    assert_eq!(view["result"]["value"], "Needs review");
    assert_eq!(
        view["profile_url"]["value"],
        "https://vendor.example/reports/1"
    );
    let received: Vec<i64> = view["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["body"]["timestamp"].as_i64().unwrap())
        .collect();
    assert_eq!(received, [T0, T0 + 1000, T0 + 2000, T0 + 3000]);
    assert!(view["updates"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["source"] == "api"));
    assert_eq!(view["updates"][1]["body"], updates[1].to_json());
    // The ETA was in the progress statuses, which the result's replaced: the
    // finished card shows no time remaining. Metadata: the result's fields.
    let metadata: Vec<(String, Value)> = view["metadata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["identifier"].as_str().unwrap().to_owned(),
                m["value"].clone(),
            )
        })
        .collect();
    assert_eq!(
        metadata,
        [
            ("summary".to_owned(), json!("One record to review")),
            ("screening_identity".to_owned(), json!(true)),
            (
                "screening_criminal_county".to_owned(),
                json!("Needs review")
            ),
        ]
    );
    assert_eq!(view["metadata"][2]["description"], "1 record");

    let (status, list) = control(&base, reqwest::Method::GET, "/_sim/assessments", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

// ---------------------------------------------------------------- partner driver

#[derive(Clone, Default)]
struct FakePartner {
    calls: Arc<Mutex<Vec<(String, HeaderMap, Value)>>>,
    clock: Arc<AtomicI64>,
}

impl FakePartner {
    /// Strictly increasing timestamps for the updates it sends back.
    fn tick(&self) -> i64 {
        T0 + self.clock.fetch_add(1000, Ordering::SeqCst)
    }

    fn calls(&self, method: &str) -> Vec<(HeaderMap, Value)> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, _, _)| m == method)
            .map(|(_, h, b)| (h.clone(), b.clone()))
            .collect()
    }
}

async fn fake_partner(
    State(partner): State<FakePartner>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    partner
        .calls
        .lock()
        .unwrap()
        .push((method.clone(), headers, body.clone()));
    match method.as_str() {
        "assessment.list" => Json(json!({"success": true, "results": [
            {"assessment_type_id": ats_type_id("basic"), "name": "Basic check", "description": "Identity and criminal records"},
            {"assessment_type_id": ats_type_id("pro"), "name": "Pro check", "description": "Everything in Basic, plus employment"},
        ]}))
        .into_response(),
        "assessment.start" => {
            let email = body["candidate"]["email"].as_str().unwrap_or_default();
            let id = uuid::Uuid::new_v4();
            match email {
                "reject@example.com" => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(json!({"message": "This candidate has no valid email address in Ashby."})),
                )
                    .into_response(),
                "seconds@example.com" => {
                    let update = assessment_update(id, 1_700_000_000, UpdateKind::Started);
                    Json(start_response(id, Some(update))).into_response()
                }
                "not-uuid@example.com" => Json(json!({"success": true, "results": {"assessment_id": "order-1"}})).into_response(),
                "teapot@example.com" => StatusCode::IM_A_TEAPOT.into_response(),
                _ => {
                    let update = assessment_update(id, partner.tick(), UpdateKind::Started);
                    Json(start_response(id, Some(update))).into_response()
                }
            }
        }
        "assessment.cancel" => {
            let Some(id) = body["assessment_id"].as_str().and_then(|s| s.parse().ok()) else {
                return StatusCode::BAD_REQUEST.into_response();
            };
            let update = assessment_update(id, partner.tick(), UpdateKind::Cancelled { reason: "Cancelled in Ashby" });
            Json(start_response(id, Some(update))).into_response()
        }
        "assessment.customField.list" => Json(CustomFieldsResponse::new(vec![
            CustomField {
                id: "cf_country".into(),
                name: "Country of residence".into(),
                r#type: CustomFieldType::ValueSelect,
                possible_values: Some(vec![
                    PossibleValue { key: "de".into(), value: "Germany".into() },
                    PossibleValue { key: "pt".into(), value: "Portugal".into() },
                ]),
                is_required: Some(true),
            },
            CustomField {
                id: "cf_consent".into(),
                name: "Consent given".into(),
                r#type: CustomFieldType::Boolean,
                possible_values: None,
                is_required: Some(true),
            },
        ]))
        .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A sim wired to a fake partner mounted under `/ats/ashby`, as the hub mounts it.
async fn sim_with_partner() -> (AshbySim, String, FakePartner) {
    let partner = FakePartner::default();
    let app = axum::Router::new()
        .route("/ats/ashby/{method}", axum::routing::post(fake_partner))
        .with_state(partner.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let partner_base = format!("http://{}/ats/ashby", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let sim = sim();
    let base = spawn(sim.clone()).await;
    let (status, _) = control(
        &base,
        reqwest::Method::PUT,
        "/_sim/partner",
        Some(json!({"base_url": partner_base, "key": "sht_partner_token"})),
    )
    .await;
    assert_eq!(status, 200);
    (sim, base, partner)
}

#[tokio::test]
async fn drives_the_partner_as_ashby_does() {
    let (sim, base, partner) = sim_with_partner().await;

    let (status, listed) =
        control(&base, reqwest::Method::POST, "/_sim/assessment-types", None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["status"], 200);
    assert_eq!(listed["problems"], json!([]));
    assert_eq!(listed["assessment_types"].as_array().unwrap().len(), 2);
    let (headers, body) = &partner.calls("assessment.list")[0];
    assert_eq!(headers["authorization"], basic("sht_partner_token"));
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body, &json!({}));

    let (status, fields) = control(&base, reqwest::Method::POST, "/_sim/custom-fields", None).await;
    assert_eq!(status, 200);
    assert_eq!(fields["fields"].as_array().unwrap().len(), 2);

    let (status, start) = control(
        &base,
        reqwest::Method::POST,
        "/_sim/assessments/start",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(start["status"], 200, "{start}");
    assert_eq!(start["problems"], json!([]));
    assert_eq!(
        start["inline_update"],
        json!({"accepted": true, "error": null})
    );
    let id = start["assessment_id"].as_str().unwrap().to_owned();

    // What the sim sent is a complete start request that the hub's parser accepts.
    let (_, sent) = partner.calls("assessment.start").pop().unwrap();
    assert_eq!(sent, start["request"]);
    let parsed = screenhub_ashby::parse_start_request(sent.to_string().as_bytes()).unwrap();
    let type_ids = [
        ats_type_id("basic").to_string(),
        ats_type_id("pro").to_string(),
    ];
    assert!(type_ids.contains(&parsed.assessment_type_id));
    assert!(parsed.job.hiring_team.is_some_and(|t| !t.is_empty()));
    assert!(
        sent["job"]["hiringTeam"][0]["userId"].is_string(),
        "camelCase hiring team"
    );
    let additional = parsed.additional_fields.unwrap();
    assert!(["de", "pt"].contains(&additional["cf_country"].as_str().unwrap()));
    assert!(additional["cf_consent"].is_boolean());

    // The inline Started update was applied.
    let (status, view) = control(
        &base,
        reqwest::Method::GET,
        &format!("/_sim/assessments/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(view["state"], "in_progress");
    assert_eq!(view["status"]["value"], "Started");
    assert_eq!(view["started_at_ms"], T0);
    assert_eq!(view["updates"][0]["source"], "start_response");
    assert_eq!(view["candidate"], sent["candidate"]);

    // Cancel from Ashby; the answer's update_request confirms it.
    let (status, cancel) = control(
        &base,
        reqwest::Method::POST,
        &format!("/_sim/assessments/{id}/cancel"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(cancel["inline_update"]["accepted"], true, "{cancel}");
    assert_eq!(cancel["confirmed"], true, "{cancel}");
    assert_eq!(cancel["problems"], json!([]), "{cancel}");
    let (_, sent) = partner.calls("assessment.cancel").pop().unwrap();
    assert_eq!(sent, json!({"assessment_id": id}));
    let view = sim.assessment(&id).unwrap();
    assert_eq!(view.state, AssessmentState::Cancelled);
    assert_eq!(view.cancelled_reason.unwrap().value, "Cancelled in Ashby");
    assert!(view.cancel_requested_at_ms.is_some());
    assert_eq!(view.updates[1].source, UpdateSource::CancelResponse);

    let (status, body) = control(
        &base,
        reqwest::Method::POST,
        &format!("/_sim/assessments/{}/cancel", uuid()),
        None,
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("assessment_not_found"))
    );
}

#[tokio::test]
async fn start_options_override_the_made_up_parts() {
    let (sim, base, partner) = sim_with_partner().await;
    let type_id = ats_type_id("basic").to_string();

    let (_, start) = control(
        &base,
        reqwest::Method::POST,
        "/_sim/assessments/start",
        Some(json!({
            "assessment_type_id": type_id,
            "candidate": {"first_name": "Zoë", "last_name": "Ñúñez", "email": "zoë.nunez@exämple.com"},
            "application": {"status": "Lead"},
            "job": {"name": "Staff Engineer", "req_id": null},
            "additional_fields": {"anything": {"goes": [1]}},
        })),
    )
    .await;
    assert_eq!(start["status"], 200, "{start}");
    // No list call was needed: the type was given.
    assert!(partner.calls("assessment.list").is_empty());
    let sent = &start["request"];
    assert_eq!(sent["assessment_type_id"], type_id);
    assert_eq!(sent["candidate"]["first_name"], "Zoë");
    assert!(
        sent["candidate"]["ashby_id"].is_string(),
        "the rest is still filled in"
    );
    assert_eq!(sent["application"]["status"], "Lead");
    assert_eq!(sent["job"]["name"], "Staff Engineer");
    assert_eq!(sent["job"]["req_id"], Value::Null);
    assert_eq!(
        sent["additional_fields"],
        json!({"anything": {"goes": [1]}})
    );

    // The partner refuses: the recruiter sees its message and no assessment exists.
    let before = sim.assessments().len();
    let (_, start) = control(
        &base,
        reqwest::Method::POST,
        "/_sim/assessments/start",
        Some(json!({"candidate": {"email": "reject@example.com"}})),
    )
    .await;
    assert_eq!(start["status"], 422);
    assert_eq!(
        start["recruiter_message"],
        "This candidate has no valid email address in Ashby."
    );
    assert_eq!(start["assessment_id"], Value::Null);
    assert_eq!(sim.assessments().len(), before);

    let (status, body) = control(
        &base,
        reqwest::Method::POST,
        "/_sim/assessments/start",
        Some(json!({"additional_fields": [1]})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["message"].as_str().unwrap()),
        (400, "additional_fields must be a JSON object")
    );
    let (status, body) = control(
        &base,
        reqwest::Method::POST,
        "/_sim/assessments/start",
        Some(json!({"candidat": {}})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown field `candidat`"));
}

#[tokio::test]
async fn partner_answers_that_break_ashbys_rules_are_reported() {
    let (sim, _base, _partner) = sim_with_partner().await;
    let start = |email: &str| {
        let sim = sim.clone();
        let options = StartOptions {
            assessment_type_id: Some(ats_type_id("basic").to_string()),
            candidate: Some(json!({"email": email})),
            ..StartOptions::default()
        };
        async move { sim.start_assessment(options).await.unwrap() }
    };

    let out = start("seconds@example.com").await;
    let inline = out.inline_update.unwrap();
    assert!(!inline.accepted);
    assert!(inline
        .error
        .unwrap()
        .starts_with("timestamp 1700000000 looks like seconds"));
    assert!(out.call.problems[0].starts_with("update_request was refused"));
    let id = out.assessment_id.unwrap();
    assert_eq!(sim.assessment(&id).unwrap().rejected_updates.len(), 1);

    let out = start("not-uuid@example.com").await;
    assert_eq!(out.assessment_id.as_deref(), Some("order-1"));
    assert_eq!(
        out.call.problems,
        ["results.assessment_id `order-1` is not a UUID, as Ashby's schema requires"]
    );

    let out = start("teapot@example.com").await;
    assert_eq!(out.call.status, 418);
    assert!(out.call.problems[0].contains("Ashby understands 200, 409 and 422"));
}

#[tokio::test]
async fn made_up_start_requests_always_parse() {
    let (sim, _base, _partner) = sim_with_partner().await;
    sim.custom_fields().await.unwrap();
    let mut saw_non_ascii_email = false;
    let mut statuses = std::collections::HashSet::new();
    for _ in 0..40 {
        let out = sim.start_assessment(StartOptions::default()).await.unwrap();
        let request =
            screenhub_ashby::parse_start_request(out.call.request.to_string().as_bytes()).unwrap();
        saw_non_ascii_email |= !request.candidate.email.is_ascii();
        statuses.insert(request.application.status.as_str().to_owned());
        assert_eq!(out.call.status, 200);
    }
    assert!(saw_non_ascii_email);
    assert!(statuses.len() >= 2, "{statuses:?}");
}

#[tokio::test]
async fn info_endpoints_serve_what_ashby_holds() {
    let (sim, base, _partner) = sim_with_partner().await;
    let out = sim.start_assessment(StartOptions::default()).await.unwrap();
    let sent = out.call.request;
    let candidate_id = sent["candidate"]["ashby_id"].as_str().unwrap();

    let (status, _, body) = ashby(
        &base,
        "candidate.info",
        Some(KEY),
        json!({"id": candidate_id}),
    )
    .await;
    assert_eq!(status, 200);
    let c = &body["results"];
    assert_eq!(
        c["primaryEmailAddress"]["value"],
        sent["candidate"]["email"]
    );
    assert!(c["primaryPhoneNumber"]["value"]
        .as_str()
        .unwrap()
        .starts_with("+44 7700 900"));
    let handle = c["resumeFileHandle"]["handle"].as_str().unwrap().to_owned();

    let application_id = sent["application"]["ashby_id"].as_str().unwrap();
    let (_, _, body) = ashby(
        &base,
        "application.info",
        Some(KEY),
        json!({"applicationId": application_id}),
    )
    .await;
    assert_eq!(body["results"]["status"], sent["application"]["status"]);
    assert_eq!(body["results"]["job"]["title"], sent["job"]["name"]);

    let job_id = sent["job"]["ashby_id"].as_str().unwrap();
    // job.info needs jobsRead, which the hub's keys don't ask for.
    let (status, _, body) = ashby(&base, "job.info", Some(KEY), json!({"id": job_id})).await;
    assert_eq!(
        (status, error_code(&body)),
        (403, "missing_endpoint_permission")
    );
    let jobs_reader = sim.create_key(None, Some(vec!["jobsRead".into()])).key;
    let (_, _, body) = ashby(&base, "job.info", Some(&jobs_reader), json!({"id": job_id})).await;
    assert_eq!(body["results"]["title"], sent["job"]["name"]);

    let (_, _, body) = ashby(&base, "file.info", Some(KEY), json!({"fileHandle": handle})).await;
    let url = body["results"]["url"].as_str().unwrap();
    let resume = reqwest::get(url).await.unwrap();
    assert_eq!(resume.status(), 200);
    assert!(resume
        .text()
        .await
        .unwrap()
        .contains(sent["candidate"]["last_name"].as_str().unwrap()));

    let (status, _, body) =
        ashby(&base, "candidate.info", Some(KEY), json!({"id": "nobody"})).await;
    assert_eq!((status, error_code(&body)), (200, "candidate_not_found"));
    let (_, _, body) = ashby(&base, "candidate.info", Some(KEY), json!({})).await;
    assert_eq!(error_message(&body), "id is required");

    let write_only = sim.create_key(None, Some(vec!["candidatesWrite".into()]));
    let (status, _, body) = ashby(
        &base,
        "candidate.info",
        Some(&write_only.key),
        json!({"id": candidate_id}),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (403, "missing_endpoint_permission")
    );
}

// ---------------------------------------------------------------- control API

#[tokio::test]
async fn control_api_refuses_bad_requests_clearly() {
    let base = spawn(sim()).await;
    let (status, body) = control(
        &base,
        reqwest::Method::POST,
        "/_sim/assessments/start",
        None,
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("partner_not_configured"))
    );

    let (status, body) = control(
        &base,
        reqwest::Method::PUT,
        "/_sim/partner",
        Some(json!({"base_url": "ftp://hub.example", "key": "k"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "base_url must use http or https, not `ftp`"
    );
    let (status, body) = control(
        &base,
        reqwest::Method::PUT,
        "/_sim/partner",
        Some(json!({"base_url": "http://x.example"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("missing field `key`"));

    let (status, _) = control(
        &base,
        reqwest::Method::GET,
        &format!("/_sim/assessments/{}", uuid()),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = control(&base, reqwest::Method::POST, "/_sim/keys/nope/revoke", None).await;
    assert_eq!(status, 404);
    let (status, body) = control(
        &base,
        reqwest::Method::POST,
        "/_sim/keys",
        Some(json!({"permissions": "all"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at permissions"),
        "{body}"
    );

    // The partner's key is never echoed back.
    let (_, body) = control(
        &base,
        reqwest::Method::PUT,
        "/_sim/partner",
        Some(json!({"base_url": "http://hub.example/ats/ashby", "key": "sht_secret"})),
    )
    .await;
    assert!(!body.to_string().contains("sht_secret"));
    let (_, body) = control(&base, reqwest::Method::GET, "/_sim/partner", None).await;
    assert_eq!(body, json!({"base_url": "http://hub.example/ats/ashby"}));

    // An unreachable partner is a 502 that says so.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    control(
        &base,
        reqwest::Method::PUT,
        "/_sim/partner",
        Some(json!({"base_url": dead, "key": "k"})),
    )
    .await;
    let (status, body) =
        control(&base, reqwest::Method::POST, "/_sim/assessment-types", None).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (502, &json!("partner_unreachable"))
    );
}

// ---------------------------------------------------------------- faults

async fn set_faults(base: &str, faults: Value) -> (u16, Value) {
    control(base, reqwest::Method::POST, "/_sim/faults", Some(faults)).await
}

#[tokio::test]
async fn faults_errors_and_rate_limits() {
    let base = spawn(sim()).await;

    let (status, body) =
        set_faults(&base, json!({"error_rate": 1.0, "error_kind": "http_500"})).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = ashby(&base, "apiKey.info", Some(KEY), json!({})).await;
    assert_eq!((status, error_code(&body)), (500, "internal_error"));
    // The control API is never faulted.
    let (status, body) = control(&base, reqwest::Method::GET, "/_sim/faults", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["injected"]["errors"], 1);
    assert_eq!(body["faults"]["error_rate"], 1.0);

    set_faults(
        &base,
        json!({"error_rate": 1.0, "error_kind": "success_false"}),
    )
    .await;
    let (status, _, body) = ashby(&base, "apiKey.info", Some(KEY), json!({})).await;
    assert_eq!((status, error_code(&body)), (200, "internal_error"));

    set_faults(
        &base,
        json!({"rate_limit_rate": 1.0, "rate_limit_scope_partner": true, "retry_after_secs": 3}),
    )
    .await;
    let (status, headers, body) = ashby(&base, "apiKey.info", Some(KEY), json!({})).await;
    assert_eq!((status, error_code(&body)), (429, "rate_limit_exceeded"));
    assert_eq!(headers["retry-after"], "3");
    assert_eq!(headers["x-ratelimit-scope"], "integration-partner");
    let out = client()
        .assessment_update(
            &base,
            KEY,
            &assessment_update(uuid::Uuid::nil(), T0, UpdateKind::Started),
        )
        .await;
    assert_eq!(out.class, AttemptClass::Retry);
    assert_eq!(out.retry_after_ms, Some(3000));
    assert!(out.partner_rate_limited);

    set_faults(&base, json!({"rate_limit_rate": 1.0})).await;
    let (_, headers, _) = ashby(&base, "apiKey.info", Some(KEY), json!({})).await;
    assert!(headers.get("x-ratelimit-scope").is_none() && headers.get("retry-after").is_none());

    // Posting an empty set clears every fault.
    set_faults(&base, json!({})).await;
    let (status, _, _) = ashby(&base, "apiKey.info", Some(KEY), json!({})).await;
    assert_eq!(status, 200);

    for (bad, message) in [
        (
            json!({"error_rate": 1.5}),
            "error_rate must be between 0 and 1 (got 1.5)",
        ),
        (
            json!({"timeout_rate": -0.1}),
            "timeout_rate must be between 0 and 1 (got -0.1)",
        ),
        (
            json!({"latency_ms": 600000}),
            "latency_ms must be at most 60000",
        ),
    ] {
        let (status, body) = set_faults(&base, bad).await;
        assert_eq!(
            (status, body["error"]["message"].as_str().unwrap()),
            (400, message)
        );
    }
    let (status, body) = set_faults(&base, json!({"error_kind": "http_502"})).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at error_kind"),
        "{body}"
    );
    let (status, body) = set_faults(&base, json!({"error_rat": 1})).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown field `error_rat`"));
}

#[tokio::test]
async fn faults_latency_and_timeouts() {
    let base = spawn(sim()).await;

    set_faults(&base, json!({"latency_ms": 150})).await;
    let started_at = Instant::now();
    let (status, _, _) = ashby(&base, "apiKey.info", Some(KEY), json!({})).await;
    assert_eq!(status, 200);
    assert!(started_at.elapsed() >= Duration::from_millis(150));

    set_faults(&base, json!({"timeout_rate": 1.0, "timeout_ms": 5000})).await;
    let out = client()
        .assessment_update(
            &base,
            KEY,
            &assessment_update(uuid::Uuid::nil(), T0, UpdateKind::Started),
        )
        .await;
    assert_eq!((out.class, out.status), (AttemptClass::Retry, None));
    assert!(out.error.unwrap().contains("timed out"));
    assert_eq!(
        client().api_key_info(&base, KEY).await.unwrap_err(),
        AshbyError::Timeout
    );
}

#[tokio::test]
async fn faults_drop_connections_without_an_answer() {
    let base = spawn(sim()).await;
    set_faults(&base, json!({"drop_rate": 1.0})).await;
    let err = reqwest::Client::new()
        .post(format!("{base}/apiKey.info"))
        .basic_auth(KEY, Some(""))
        .json(&json!({}))
        .send()
        .await
        .expect_err("no answer at all, not even a status line");
    assert!(!err.is_timeout() && err.status().is_none(), "{err:?}");
    let out = client()
        .assessment_update(
            &base,
            KEY,
            &assessment_update(uuid::Uuid::nil(), T0, UpdateKind::Started),
        )
        .await;
    assert_eq!((out.class, out.status), (AttemptClass::Retry, None));
    let (_, body) = control(&base, reqwest::Method::GET, "/_sim/faults", None).await;
    assert_eq!(body["injected"]["drops"], 2);
}

#[tokio::test]
async fn seeded_faults_repeat_exactly() {
    async fn run() -> Vec<u16> {
        let base = spawn(sim()).await;
        set_faults(&base, json!({"error_rate": 0.5, "seed": 42})).await;
        let mut statuses = Vec::new();
        for _ in 0..24 {
            statuses.push(ashby(&base, "apiKey.info", Some(KEY), json!({})).await.0);
        }
        statuses
    }
    let first = run().await;
    assert_eq!(first, run().await);
    assert!(first.contains(&200) && first.contains(&500), "{first:?}");
}

// ---------------------------------------------------------------- fixed examples

/// The hand-written `assessment.update` examples, not `validate_update`, are the
/// reference: the sim takes every valid one and refuses every invalid one, over
/// HTTP as Ashby would, each for an assessment with no update yet.
#[tokio::test]
async fn update_verdicts_follow_the_fixed_examples() {
    let examples: Value = serde_json::from_str(include_str!(
        "../../../../../docs/ashby-examples/assessment.update.json"
    ))
    .unwrap();
    let sim = sim();
    let base = spawn(sim.clone()).await;
    let mut tried = 0;
    for (set, accepted) in [("valid", true), ("invalid", false)] {
        for example in examples[set].as_array().unwrap() {
            let name = &example["name"];
            let mut body = example["body"].clone();
            let id = uuid();
            known(&sim, &id);
            if body["assessment_id"].is_string() {
                body["assessment_id"] = json!(id);
            }
            let (status, _, answer) = ashby(&base, "assessment.update", Some(KEY), body).await;
            assert_eq!(status, 200, "{set} {name}: {answer}");
            assert_eq!(answer["success"], accepted, "{set} {name}: {answer}");
            if !accepted {
                assert_eq!(error_code(&answer), "invalid_input", "{name}");
                assert!(!error_message(&answer).is_empty(), "{name}");
            }
            tried += 1;
        }
    }
    assert!(tried >= 20, "only {tried} examples");
}

#[test]
fn a_jobs_pipeline_lists_each_person_once() {
    for seed in 0..20 {
        let sim = AshbySim::with_seed(SimConfig::default(), seed);
        let emails: Vec<String> = sim
            .pipeline()
            .candidates
            .iter()
            .map(|c| c.candidate["email"].as_str().unwrap().to_owned())
            .collect();
        let distinct: std::collections::HashSet<&String> = emails.iter().collect();
        assert_eq!(distinct.len(), emails.len(), "seed {seed}: {emails:?}");
    }
}
