//! The simulator over real HTTP on 127.0.0.1, against a small partner that
//! answers what each test tells it to and records what it receives. The
//! verdicts are checked against the fixed examples in [`EXAMPLES_DIR`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use super::*;

const ORG_KEY: &str = "sht_example_org_key";
const PATCH_USER: &str = "greenhouse-partner";
const PATCH_PASSWORD: &str = "patch-password-example";
const PID: &str = "f4662318-b209-4137-adcb-862911465b66";

// ---------------------------------------------------------------- the test partner

#[derive(Clone)]
struct Canned {
    status: u16,
    body: Vec<u8>,
}

impl Canned {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: body.to_string().into_bytes(),
        }
    }
}

/// One request the partner received.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    authorization: Option<String>,
    query: HashMap<String, String>,
    body: Value,
}

struct PartnerState {
    list_tests: Canned,
    send_test: Canned,
    /// Mint a new id per `url` and repeat it for the same `url` (a partner that dedupes).
    dedupe_send_test: bool,
    minted: HashMap<String, String>,
    /// Ids to answer, one per request, whatever the url (before any other rule).
    send_test_ids: std::collections::VecDeque<String>,
    /// `test_status` answers by id; others get `default_status`, or 404.
    status_by_id: HashMap<String, Canned>,
    default_status: Option<Canned>,
    received: Vec<Received>,
}

#[derive(Clone)]
struct Partner {
    base: String,
    state: Arc<Mutex<PartnerState>>,
}

impl Partner {
    fn lock(&self) -> std::sync::MutexGuard<'_, PartnerState> {
        self.state.lock().unwrap()
    }

    fn received(&self, path: &str) -> Vec<Received> {
        self.lock()
            .received
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    fn response_errors(&self) -> Vec<Value> {
        self.received("response_error")
            .into_iter()
            .map(|r| r.body)
            .collect()
    }

    fn set_status(&self, answer: Canned) {
        self.lock().default_status = Some(answer);
    }
}

fn record(
    partner: &Partner,
    path: &str,
    headers: &HeaderMap,
    query: HashMap<String, String>,
    body: &[u8],
) {
    partner.lock().received.push(Received {
        path: path.to_owned(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        query,
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
    });
}

fn canned(answer: Canned) -> Response {
    (
        StatusCode::from_u16(answer.status).unwrap(),
        [("content-type", "application/json")],
        answer.body,
    )
        .into_response()
}

async fn p_list_tests(State(p): State<Partner>, headers: HeaderMap) -> Response {
    record(&p, "list_tests", &headers, HashMap::new(), b"");
    let answer = p.lock().list_tests.clone();
    canned(answer)
}

async fn p_send_test(State(p): State<Partner>, headers: HeaderMap, body: Bytes) -> Response {
    record(&p, "send_test", &headers, HashMap::new(), &body);
    let mut state = p.lock();
    if let Some(id) = state.send_test_ids.pop_front() {
        return Json(json!({"partner_interview_id": id})).into_response();
    }
    if state.dedupe_send_test {
        let url = serde_json::from_slice::<Value>(&body).unwrap()["url"]
            .as_str()
            .unwrap()
            .to_owned();
        let n = state.minted.len();
        let id = state
            .minted
            .entry(url)
            .or_insert_with(|| format!("pid-{n}"))
            .clone();
        return Json(json!({"partner_interview_id": id})).into_response();
    }
    canned(state.send_test.clone())
}

async fn p_test_status(
    State(p): State<Partner>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let id = query
        .get("partner_interview_id")
        .cloned()
        .unwrap_or_default();
    record(&p, "test_status", &headers, query, b"");
    let state = p.lock();
    match state
        .status_by_id
        .get(&id)
        .or(state.default_status.as_ref())
    {
        Some(answer) => canned(answer.clone()),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn p_response_error(State(p): State<Partner>, headers: HeaderMap, body: Bytes) -> Response {
    record(&p, "response_error", &headers, HashMap::new(), &body);
    Json(json!({"status": 200})).into_response()
}

async fn spawn_partner() -> Partner {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let partner = Partner {
        base: format!("http://{}/ats/greenhouse", listener.local_addr().unwrap()),
        state: Arc::new(Mutex::new(PartnerState {
            list_tests: Canned::json(
                200,
                example("list_tests/valid_two_tests.json")["body"].clone(),
            ),
            send_test: Canned::json(200, json!({"partner_interview_id": PID})),
            dedupe_send_test: false,
            minted: HashMap::new(),
            send_test_ids: std::collections::VecDeque::new(),
            status_by_id: HashMap::new(),
            default_status: Some(Canned::json(200, json!({"partner_status": "sent"}))),
            received: Vec::new(),
        })),
    };
    let app = Router::new()
        .route("/ats/greenhouse/list_tests", get(p_list_tests))
        .route("/ats/greenhouse/send_test", post(p_send_test))
        .route("/ats/greenhouse/test_status", get(p_test_status))
        .route("/ats/greenhouse/response_error", post(p_response_error))
        .with_state(partner.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    partner
}

// ---------------------------------------------------------------- the sim

struct Setup {
    sim: GreenhouseSim,
    base: String,
    partner: Partner,
    org: String,
    ada: u64,
}

fn settings(partner: &Partner) -> PartnerSettings {
    let mut s = PartnerSettings::new(
        partner.base.clone(),
        PATCH_USER.into(),
        PATCH_PASSWORD.into(),
    );
    s.strict_report_urls = true;
    s
}

/// A sim on a frozen clock with one org, Ada in its job, and the partner stage set.
async fn setup() -> Setup {
    let partner = spawn_partner().await;
    let sim = GreenhouseSim::with_seed(
        SimConfig {
            clock_speed: 0.0,
            // Polls in these tests run when the test moves the clock.
            poll_tick: Duration::from_secs(3600),
            call_timeout: Duration::from_secs(5),
            ..SimConfig::default()
        },
        7,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, sim.clone()));
    sim.set_partner(settings(&partner)).unwrap();
    let org = sim
        .create_org(NewOrg {
            name: "Acme".into(),
            key: ORG_KEY.into(),
            job_name: None,
        })
        .unwrap()
        .id;
    let ada = sim
        .add_candidate(
            &org,
            NewCandidate {
                first_name: Some("Ada".into()),
                last_name: Some("Lovelace".into()),
                email: Some("ada@example.com".into()),
                phone_number: Some("+1 415 555 0100".into()),
                ..NewCandidate::default()
            },
        )
        .unwrap()
        .id;
    sim.set_stage(&org, "bg-standard-us").await.unwrap();
    Setup {
        sim,
        base,
        partner,
        org,
        ada,
    }
}

impl Setup {
    async fn send(&self) -> Interview {
        self.sim
            .send_test(self.ada, SendOptions::default())
            .await
            .unwrap()
    }
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------- the examples

fn example_path(name: &str) -> PathBuf {
    PathBuf::from(EXAMPLES_DIR).join(name)
}

fn example(name: &str) -> Value {
    let text =
        std::fs::read_to_string(example_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The example files of a folder whose names start with `prefix`, sorted.
fn examples(dir: &str, prefix: &str) -> Vec<(String, Value)> {
    let mut names: Vec<String> = std::fs::read_dir(example_path(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && n.starts_with(prefix))
        .collect();
    names.sort();
    assert!(names.len() >= 2, "too few examples in {dir}/{prefix}*");
    names
        .into_iter()
        .map(|n| {
            let path = format!("{dir}/{n}");
            let value = example(&path);
            (path, value)
        })
        .collect()
}

/// The partner's answer an example describes, its body byte for byte as in
/// the file (so metadata keys keep their order).
fn answer_of(name: &str) -> Canned {
    #[derive(serde::Deserialize)]
    struct Raw {
        status: u16,
        body: Option<Box<serde_json::value::RawValue>>,
        body_text: Option<String>,
    }
    let text = std::fs::read_to_string(example_path(name)).unwrap();
    let raw: Raw = serde_json::from_str(&text).unwrap();
    let body = match (raw.body_text, raw.body) {
        (Some(text), _) => text.into_bytes(),
        (None, Some(body)) => body.get().as_bytes().to_vec(),
        (None, None) => panic!("{name}: no body"),
    };
    Canned {
        status: raw.status,
        body,
    }
}

/// The `response_error`s the partner received since `before`, against the example's.
fn assert_verdict(name: &str, example: &Value, partner: &Partner, before: usize) {
    let posted = partner.response_errors()[before..].to_vec();
    let expected: Vec<Value> = match &example["response_error"] {
        Value::Null => Vec::new(),
        body => vec![body.clone()],
    };
    assert_eq!(posted, expected, "{name}: {}", example["description"]);
    let valid = name.contains("/valid") || name.contains("answer_valid");
    assert_eq!(
        valid,
        expected.is_empty(),
        "{name}: file name and verdict disagree"
    );
}

#[tokio::test]
async fn examples_list_tests() {
    let s = setup().await;
    for (name, example) in examples("list_tests", "") {
        s.partner.lock().list_tests = answer_of(&name);
        let before = s.partner.response_errors().len();
        let listed = s.sim.list_tests(&s.org).await.unwrap();
        assert_verdict(&name, &example, &s.partner, before);
        if example["response_error"].is_null() {
            let offered: Vec<Value> = example["body"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| json!({"partner_test_id": t["partner_test_id"], "partner_test_name": t["partner_test_name"]}))
                .collect();
            assert_eq!(
                serde_json::to_value(&listed.tests).unwrap(),
                json!(offered),
                "{name}"
            );
        } else {
            assert!(listed.tests.is_empty(), "{name}");
        }
    }
    // Every call carried the org key as the Basic username, with an empty password.
    let calls = s.partner.received("list_tests");
    assert!(calls.len() > 5);
    assert!(calls
        .iter()
        .all(|r| r.authorization.as_deref() == Some(basic(ORG_KEY, "").as_str())));
    // An answer too large to read is no answer: recorded, not reported.
    s.partner.lock().list_tests = Canned {
        status: 200,
        body: vec![b' '; 2 * 1024 * 1024],
    };
    let before = s.partner.response_errors().len();
    let listed = s.sim.list_tests(&s.org).await.unwrap();
    assert!(
        listed
            .call
            .transport
            .as_deref()
            .is_some_and(|t| t.contains("larger than")),
        "{:?}",
        listed.call.transport
    );
    assert_eq!(s.partner.response_errors().len(), before);
    // And so did every response_error.
    assert!(s
        .partner
        .received("response_error")
        .iter()
        .all(|r| r.authorization.as_deref() == Some(basic(ORG_KEY, "").as_str())));
}

#[tokio::test]
async fn examples_send_test_answers() {
    let s = setup().await;
    for (name, example) in examples("send_test", "answer_") {
        s.partner.lock().send_test = answer_of(&name);
        let before = s.partner.response_errors().len();
        let interview = s.send().await;
        assert_verdict(&name, &example, &s.partner, before);
        if example["response_error"].is_null() {
            assert_eq!(
                interview.partner_interview_id.as_deref(),
                Some(PID),
                "{name}"
            );
            assert!(interview.send_error.is_none(), "{name}");
        } else {
            assert_eq!(interview.partner_interview_id, None, "{name}");
            assert!(interview.send_error.is_some(), "{name}");
        }
    }
}

#[tokio::test]
async fn examples_test_status_answers() {
    let s = setup().await;
    for (name, example) in examples("test_status", "") {
        let mut partner_settings = settings(&s.partner);
        partner_settings.strict_report_urls = example
            .get("strict_report_urls")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        s.sim.set_partner(partner_settings).unwrap();
        let interview = s.send().await;
        s.partner.set_status(answer_of(&name));
        let before = s.partner.response_errors().len();
        let call = s
            .sim
            .read_status(interview.take_home_test_id, false)
            .await
            .unwrap();
        assert_verdict(&name, &example, &s.partner, before);
        let after = s.sim.interview(interview.take_home_test_id).unwrap();
        let body = &example["body"];
        if example["response_error"].is_null() {
            let complete = body["partner_status"] == "complete";
            assert_eq!(after.frozen.is_some(), complete, "{name}");
            assert_eq!(
                after.status.as_ref().unwrap().partner_status,
                body["partner_status"],
                "{name}"
            );
            if let Some(frozen) = &after.frozen {
                // Every row, in the order the partner wrote them.
                let raw = String::from_utf8(answer_of(&name).body).unwrap();
                let at: Vec<usize> = frozen
                    .metadata
                    .iter()
                    .map(|(k, _)| raw.find(&format!("\"{k}\"")).unwrap())
                    .collect();
                assert!(at.windows(2).all(|w| w[0] < w[1]), "{name}: {at:?}");
                let keys = body
                    .get("metadata")
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len());
                assert_eq!(at.len(), keys, "{name}");
                assert_eq!(
                    frozen.partner_profile_url.as_ref(),
                    body["partner_profile_url"]
                        .as_str()
                        .map(str::to_owned)
                        .as_ref()
                );
            }
        } else {
            assert!(after.status.is_none() && after.frozen.is_none(), "{name}");
            assert!(!call.errors.is_empty(), "{name}");
        }
    }
    // The ids asked for were the ones send_test returned.
    assert!(s.partner.received("test_status").iter().all(|r| r
        .query
        .get("partner_interview_id")
        .map(String::as_str)
        == Some(PID)));
}

#[tokio::test]
async fn examples_of_response_error_bodies_match_the_answer_examples() {
    let mut embedded = Vec::new();
    for dir in ["list_tests", "send_test", "test_status"] {
        for (_, e) in examples(dir, "") {
            if let Some(body) = e.get("response_error").filter(|b| !b.is_null()) {
                embedded.push(body.clone());
            }
        }
    }
    for (name, e) in examples("response_error", "") {
        assert!(
            embedded.contains(&e["body"]),
            "{name} matches no answer example"
        );
    }
}

/// Same keys, recursively, and the same values except for URLs (which point at the sim).
fn assert_same_shape(at: &str, got: &Value, want: &Value) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            let mut gk: Vec<_> = g.keys().collect();
            let mut wk: Vec<_> = w.keys().collect();
            gk.sort();
            wk.sort();
            assert_eq!(gk, wk, "keys at {at}");
            for k in wk {
                assert_same_shape(&format!("{at}.{k}"), &g[k], &w[k]);
            }
        }
        (Value::String(_), Value::String(_)) if at.ends_with("url") => {}
        _ => assert_eq!(got, want, "value at {at}"),
    }
}

#[tokio::test]
async fn send_test_bodies_match_the_request_examples() {
    let s = setup().await;
    let documented = s.send().await;
    assert_same_shape(
        "",
        &documented.request,
        &example("send_test/request_documented.json")["body"],
    );

    // Grace has no phone and no résumé, nobody sent it, and Greenhouse sends no ids yet.
    let mut no_ids = settings(&s.partner);
    no_ids.candidate_id_field = None;
    no_ids.application_id_field = None;
    s.sim.set_partner(no_ids).unwrap();
    let grace = s
        .sim
        .add_candidate(
            &s.org,
            NewCandidate {
                first_name: Some("Grace".into()),
                last_name: Some("Hopper".into()),
                email: Some("grace@example.com".into()),
                resume: Some(false),
                ..NewCandidate::default()
            },
        )
        .unwrap();
    let sent = s
        .sim
        .send_test(
            grace.id,
            SendOptions {
                sent_by: Some(String::new()),
                ..SendOptions::default()
            },
        )
        .await
        .unwrap();
    assert_same_shape(
        "",
        &sent.request,
        &example("send_test/request_nulls_no_ids.json")["body"],
    );

    // What the partner received is what was recorded, with a fresh url per click
    // that is the sim's own PATCH endpoint, and ids that match the profile URL.
    let received = s.partner.received("send_test");
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].body, documented.request);
    assert_ne!(received[0].body["url"], received[1].body["url"]);
    assert_eq!(
        received[0].body["url"],
        format!("{}{TAKE_HOME_TESTS_PATH}/998877", s.base)
    );
    let profile = received[0].body["candidate"]["greenhouse_profile_url"]
        .as_str()
        .unwrap();
    assert!(profile.ends_with(&format!(
        "/people/{}?application_id={}",
        received[0].body["candidate"]["id"], received[0].body["application"]["id"]
    )));
}

// ---------------------------------------------------------------- the PATCH endpoint

#[tokio::test]
async fn examples_patch() {
    for (name, e) in examples("patch", "") {
        let s = setup().await;
        let interview = s.send().await;
        assert_eq!(interview.take_home_test_id, 998_877);
        s.partner
            .set_status(answer_of("test_status/valid_complete_documented.json"));
        let method = reqwest::Method::from_bytes(e["method"].as_str().unwrap().as_bytes()).unwrap();
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{}", s.base, e["path"].as_str().unwrap()));
        request = match e["authorization"].as_str().unwrap() {
            "partner" => request.header("authorization", basic(PATCH_USER, PATCH_PASSWORD)),
            "org_key" => request.header("authorization", basic(ORG_KEY, "")),
            "wrong" => request.header("authorization", basic(PATCH_USER, "not-the-password")),
            "none" => request,
            other => panic!("{name}: unknown authorization {other}"),
        };
        if !e["body"].is_null() {
            request = request.json(&e["body"]);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status().as_u16() as u64,
            e["expected_status"].as_u64().unwrap(),
            "{name}"
        );
        let ok = response.status() == 200;
        assert!(
            !ok || response.bytes().await.unwrap().is_empty(),
            "{name}: a 200 has an empty body"
        );
        if e["reads_test_status_after"] == true {
            eventually(&name, || s.partner.received("test_status").len() == 1).await;
            eventually("the freeze", || {
                s.sim.interview(998_877).unwrap().frozen.is_some()
            })
            .await;
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(s.partner.received("test_status").is_empty(), "{name}");
        }
        let patches = s.sim.patches();
        assert_eq!(patches.len(), 1, "{name}");
        assert_eq!(
            patches[0].status as u64,
            e["expected_status"].as_u64().unwrap(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_frozen_result_is_not_read_again_and_a_changed_answer_is_a_warning() {
    let s = setup().await;
    let i = s.send().await;
    s.partner
        .set_status(answer_of("test_status/valid_complete_documented.json"));
    s.sim.read_status(i.take_home_test_id, false).await.unwrap();
    let frozen = s.sim.interview(i.take_home_test_id).unwrap();
    assert_eq!(frozen.stopped, Some(StopReason::Complete));
    assert_eq!(frozen.frozen.as_ref().unwrap().metadata[0].0, "Result");

    // A second PATCH is accepted but nothing is read.
    let response = reqwest::Client::new()
        .patch(&i.url)
        .header("authorization", basic(PATCH_USER, PATCH_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        s.sim.read_status(i.take_home_test_id, false).await.err(),
        Some(SimError::Frozen(i.take_home_test_id))
    );
    s.sim.poll(false).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(s.partner.received("test_status").len(), 1);

    // A forced re-read that differs is a warning; the stage keeps the frozen result.
    s.partner
        .set_status(Canned::json(200, json!({"partner_status": "in_progress"})));
    s.sim.read_status(i.take_home_test_id, true).await.unwrap();
    let after = s.sim.interview(i.take_home_test_id).unwrap();
    assert_eq!(after.frozen, frozen.frozen);
    assert!(
        after
            .warnings
            .iter()
            .any(|w| w.contains("changed after complete")),
        "{:?}",
        after.warnings
    );
    assert!(s.partner.response_errors().is_empty());
}

#[tokio::test]
async fn hired_candidates_show_no_change_and_their_patch_gets_the_configured_answer() {
    let s = setup().await;
    let i = s.send().await;
    let mut settings = settings(&s.partner);
    settings.hired_patch_status = 422;
    s.sim.set_partner(settings).unwrap();
    s.sim
        .set_candidate_status(s.ada, CandidateStatus::Hired)
        .unwrap();
    let response = reqwest::Client::new()
        .patch(&i.url)
        .header("authorization", basic(PATCH_USER, PATCH_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(s.partner.received("test_status").is_empty());
    assert_eq!(
        s.sim.interview(i.take_home_test_id).unwrap().stopped,
        Some(StopReason::Hired)
    );
    // No more tests for a hired candidate.
    assert!(matches!(
        s.sim.send_test(s.ada, SendOptions::default()).await,
        Err(SimError::InvalidRequest(_))
    ));
}

// ---------------------------------------------------------------- polling and the clock

#[tokio::test]
async fn poll_mode_reads_every_simulated_hour_until_complete() {
    let s = setup().await;
    let mut poll = settings(&s.partner);
    poll.mode = Mode::Poll;
    s.sim.set_partner(poll).unwrap();
    let i = s.send().await;
    // The clock is frozen: nothing is due yet.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(s.partner.received("test_status").is_empty());

    let calls = s.sim.advance_clock(HOUR_MS).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(s.partner.received("test_status").len(), 1);
    // Half an hour later: not due.
    assert!(s.sim.advance_clock(HOUR_MS / 2).await.is_empty());
    // Five hours at once: one read, not five.
    assert_eq!(s.sim.advance_clock(5 * HOUR_MS).await.len(), 1);

    s.partner
        .set_status(answer_of("test_status/valid_complete_documented.json"));
    assert_eq!(s.sim.advance_clock(HOUR_MS).await.len(), 1);
    assert!(s
        .sim
        .interview(i.take_home_test_id)
        .unwrap()
        .frozen
        .is_some());
    assert!(s.sim.advance_clock(10 * HOUR_MS).await.is_empty());
    assert_eq!(s.partner.received("test_status").len(), 3);
}

#[tokio::test]
async fn reading_stops_eight_weeks_after_sending_and_the_resume_link_after_seven_days() {
    let s = setup().await;
    let mut poll = settings(&s.partner);
    poll.poll_in_patch_mode = true;
    s.sim.set_partner(poll).unwrap();
    let i = s.send().await;
    let resume = i.request["candidate"]["resume_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(reqwest::get(&resume).await.unwrap().status(), 200);

    s.sim.advance_clock(7 * DAY_MS + 1).await;
    assert_eq!(reqwest::get(&resume).await.unwrap().status(), 403);

    s.sim.advance_clock(48 * DAY_MS).await;
    assert!(s
        .sim
        .interview(i.take_home_test_id)
        .unwrap()
        .stopped
        .is_none());
    let reads = s.partner.received("test_status").len();
    assert!(s.sim.advance_clock(DAY_MS).await.is_empty());
    assert_eq!(
        s.sim.interview(i.take_home_test_id).unwrap().stopped,
        Some(StopReason::Expired)
    );
    assert_eq!(s.partner.received("test_status").len(), reads);
}

#[tokio::test]
async fn the_clock_runs_compressed_in_the_background() {
    let partner = spawn_partner().await;
    let sim = GreenhouseSim::with_seed(
        SimConfig {
            clock_speed: 36_000.0, // an hour in 100 ms
            poll_tick: Duration::from_millis(20),
            ..SimConfig::default()
        },
        1,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    tokio::spawn(serve(listener, sim.clone()));
    let mut poll = settings(&partner);
    poll.mode = Mode::Poll;
    sim.set_partner(poll).unwrap();
    let org = sim
        .create_org(NewOrg {
            name: "Acme".into(),
            key: ORG_KEY.into(),
            job_name: None,
        })
        .unwrap()
        .id;
    let c = sim.add_candidate(&org, NewCandidate::default()).unwrap();
    sim.set_stage(&org, "bg-standard-us").await.unwrap();
    sim.send_test(c.id, SendOptions::default()).await.unwrap();
    eventually("two hourly reads", || {
        partner.received("test_status").len() >= 2
    })
    .await;
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn a_lost_send_test_reply_is_followed_by_the_same_request() {
    let s = setup().await;
    s.partner.lock().dedupe_send_test = true;
    for lost_reply in [LostReply::Drop, LostReply::Delay] {
        s.sim
            .set_faults(Faults {
                lose_send_test_replies: 1,
                lost_reply,
                send_test_delay_ms: 10,
                ..Faults::default()
            })
            .unwrap();
        let before = s.partner.received("send_test").len();
        let i = s.send().await;
        let sent = s.partner.received("send_test")[before..].to_vec();
        assert_eq!(sent.len(), 2, "{lost_reply:?}");
        assert_eq!(
            sent[0].body, sent[1].body,
            "the second click repeats the same url"
        );
        assert_eq!(i.sends, 2);
        assert!(i.partner_interview_id.is_some());
        assert!(
            i.warnings.is_empty(),
            "a deduping partner passes: {:?}",
            i.warnings
        );
    }
    let lost: Vec<_> = s
        .sim
        .calls()
        .into_iter()
        .filter_map(|c| c.transport)
        .collect();
    assert!(
        lost[0].contains("dropped") && lost[1].contains("Greenhouse's timeout"),
        "{lost:?}"
    );
    // The fault was used up: the next click sends once.
    let before = s.partner.received("send_test").len();
    s.send().await;
    assert_eq!(s.partner.received("send_test").len(), before + 1);
}

#[tokio::test]
async fn a_partner_that_does_not_dedupe_on_url_is_reported() {
    let s = setup().await;
    s.partner
        .lock()
        .send_test_ids
        .extend(["first".to_owned(), "second".to_owned()]);
    s.sim
        .set_faults(Faults {
            lose_send_test_replies: 1,
            ..Faults::default()
        })
        .unwrap();
    let i = s.send().await;
    assert_eq!(i.partner_interview_id.as_deref(), Some("second"));
    assert!(
        i.warnings
            .iter()
            .any(|w| w.contains("does not dedupe on url")),
        "{:?}",
        i.warnings
    );
    // Handing one id to two clicks is caught too.
    s.partner
        .lock()
        .send_test_ids
        .push_back("second".to_owned());
    let j = s.send().await;
    assert!(
        j.warnings.iter().any(|w| w.contains("already given")),
        "{:?}",
        j.warnings
    );
}

#[tokio::test]
async fn patch_faults_answer_5xx_or_429_with_retry_after_then_recover() {
    let s = setup().await;
    let i = s.send().await;
    s.sim
        .set_faults(Faults {
            patch_errors: 2,
            patch_error_status: 429,
            retry_after_secs: Some(7),
            ..Faults::default()
        })
        .unwrap();
    let client = reqwest::Client::new();
    let patch = || {
        client
            .patch(&i.url)
            .header("authorization", basic(PATCH_USER, PATCH_PASSWORD))
            .send()
    };
    for _ in 0..2 {
        let r = patch().await.unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "7");
    }
    assert_eq!(patch().await.unwrap().status(), 200);
    eventually("the read after the PATCH", || {
        s.partner.received("test_status").len() == 1
    })
    .await;
    let faulted: Vec<_> = s
        .sim
        .patches()
        .iter()
        .map(|p| (p.status, p.fault.is_some(), p.read_after))
        .collect();
    assert_eq!(
        faulted,
        [(429, true, false), (429, true, false), (200, false, true)]
    );
    assert!(Faults {
        patch_error_status: 404,
        ..Faults::default()
    }
    .validate()
    .is_err());
    assert!(Faults {
        patch_error_status: 502,
        ..Faults::default()
    }
    .validate()
    .is_ok());
}

#[tokio::test]
async fn tenancy_probe_flags_a_partner_that_serves_another_orgs_interview() {
    let s = setup().await;
    s.send().await;
    let other = s
        .sim
        .create_org(NewOrg {
            name: "Globex".into(),
            key: "sht_other_org_key".into(),
            job_name: None,
        })
        .unwrap();
    // The test partner answers every id (a leak).
    let leak = s.sim.probe_test_status(&other.id, PID).await.unwrap();
    assert_eq!(leak.status, Some(200));
    assert_eq!(leak.errors.len(), 1, "{:?}", leak.errors);
    let asked = s.partner.received("test_status");
    assert_eq!(
        asked.last().unwrap().authorization.as_deref(),
        Some(basic("sht_other_org_key", "").as_str())
    );
    // A partner that answers 404 passes.
    s.partner.lock().default_status = None;
    let fine = s.sim.probe_test_status(&other.id, PID).await.unwrap();
    assert_eq!((fine.status, fine.errors.len()), (Some(404), 0));
    assert!(
        s.partner.response_errors().is_empty(),
        "probes post no response_error"
    );
    assert_eq!(s.sim.conformance().await.tenancy_leaks, 1);
}

// ---------------------------------------------------------------- settings

#[test]
fn logs_forget_their_oldest_records_when_full() {
    let mut log: Vec<usize> = (0..state::MAX_LOG).collect();
    state::push_bounded(&mut log, state::MAX_LOG);
    assert_eq!(log.len(), state::MAX_LOG - state::MAX_LOG / 10 + 1);
    assert_eq!(log[0], state::MAX_LOG / 10);
    assert_eq!(log.last(), Some(&state::MAX_LOG));
}

#[tokio::test]
async fn keys_and_partner_settings_are_checked() {
    let sim = GreenhouseSim::with_seed(SimConfig::default(), 1);
    let long = "k".repeat(171);
    let e = sim
        .create_org(NewOrg {
            name: "A".into(),
            key: long,
            job_name: None,
        })
        .unwrap_err();
    assert!(e.contains("fewer than 171"), "{e}");
    assert!(sim
        .create_org(NewOrg {
            name: "A".into(),
            key: "k".repeat(170),
            job_name: None
        })
        .is_ok());
    assert!(sim
        .create_org(NewOrg {
            name: "B".into(),
            key: "k".repeat(170),
            job_name: None
        })
        .is_err());

    let warnings = sim
        .set_partner(PartnerSettings::new(
            "http://hub.example/ats/greenhouse".into(),
            "u".into(),
            "p".into(),
        ))
        .unwrap();
    assert_eq!(
        warnings.len(),
        1,
        "plain http to a public host is warned about"
    );
    assert!(sim
        .set_partner(PartnerSettings::new(
            "http://127.0.0.1:8080/ats/greenhouse".into(),
            "u".into(),
            "p".into()
        ))
        .unwrap()
        .is_empty());
    assert!(sim
        .set_partner(PartnerSettings::new(
            "ftp://x".into(),
            "u".into(),
            "p".into()
        ))
        .is_err());
    let mut bad = PartnerSettings::new("https://hub.example".into(), "u".into(), "p".into());
    bad.candidate_id_field = Some("Candidate Id".into());
    assert!(sim.set_partner(bad).is_err());
}

// ---------------------------------------------------------------- control API and pages

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

#[tokio::test]
async fn control_api_drives_a_whole_flow() {
    use reqwest::Method;
    let partner = spawn_partner().await;
    let sim = GreenhouseSim::with_seed(
        SimConfig {
            clock_speed: 0.0,
            ..SimConfig::default()
        },
        3,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, sim.clone()));

    let (status, body) = control(&base, Method::POST, "/_sim/orgs/org-1/list_tests", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("partner_not_configured"))
    );
    let (status, body) = control(&base, Method::PUT, "/_sim/partner", Some(json!({
        "base_url": partner.base, "patch_username": PATCH_USER, "patch_password": PATCH_PASSWORD,
        "application_id_field": null
    }))).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["partner"].get("patch_password").is_none(),
        "the password is not echoed"
    );
    assert_eq!(body["partner"]["application_id_field"], Value::Null);

    let (status, body) = control(
        &base,
        Method::POST,
        "/_sim/orgs",
        Some(json!({"name": "Acme", "key": ORG_KEY})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(body.get("key").is_none(), "the key is not echoed");
    let (status, body) = control(
        &base,
        Method::POST,
        "/_sim/orgs",
        Some(json!({"name": "Acme"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("key"),
        "{body}"
    );

    let (status, body) = control(
        &base,
        Method::PUT,
        "/_sim/orgs/org-1/stage",
        Some(json!({"partner_test_id": "nope"})),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bg-standard-us"),
        "{body}"
    );
    let (status, _) = control(
        &base,
        Method::PUT,
        "/_sim/orgs/org-1/stage",
        Some(json!({"partner_test_id": "bg-plus-edu"})),
    )
    .await;
    assert_eq!(status, 200);

    let mut ids = Vec::new();
    for _ in 0..3 {
        let (status, c) = control(&base, Method::POST, "/_sim/orgs/org-1/candidates", None).await;
        assert_eq!(status, 201);
        ids.push(c["id"].as_u64().unwrap());
    }
    let (status, body) = control(
        &base,
        Method::POST,
        &format!("/_sim/candidates/{}/send_test", ids[0]),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["partner_test_id"], "bg-plus-edu");
    assert!(body["request"].get("application").is_none());
    let (status, body) = control(
        &base,
        Method::POST,
        "/_sim/orgs/org-1/send_test",
        Some(json!({"candidate_ids": [ids[1], ids[2]]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    let (_, body) = control(
        &base,
        Method::POST,
        "/_sim/orgs/org-1/send_test",
        Some(json!({"candidate_ids": [99]})),
    )
    .await;
    assert_eq!(body["error"]["code"], "validation_failed");

    let (_, body) = control(&base, Method::GET, "/_sim/interviews", None).await;
    let sent = body["data"].as_array().unwrap();
    assert_eq!(sent.len(), 3);
    let urls: std::collections::HashSet<_> =
        sent.iter().map(|i| i["url"].as_str().unwrap()).collect();
    assert_eq!(urls.len(), 3, "a fresh url per click");

    partner.set_status(answer_of(
        "test_status/invalid_complete_missing_profile_url.json",
    ));
    let (status, body) = control(&base, Method::POST, "/_sim/poll", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["calls"].as_array().unwrap().len(), 3);
    let (_, body) = control(&base, Method::GET, "/_sim/response_errors", None).await;
    let posted = body["data"].as_array().unwrap();
    assert_eq!(posted.len(), 3);
    assert_eq!(posted[0]["body"]["errors"][0], wire::MISSING_PROFILE_URL);
    assert_eq!(posted[0]["status"], 200);

    // A report link that opens (the sim's home page), so conformance can check it offline.
    partner.set_status(Canned::json(200, json!({"partner_status": "complete", "partner_profile_url": format!("{base}/"), "partner_score": 100})));
    let (status, body) = control(
        &base,
        Method::POST,
        "/_sim/clock/advance",
        Some(json!({"hours": 1})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body["calls"].as_array().unwrap().is_empty(),
        "patch mode does not poll"
    );
    let first = sent[0]["take_home_test_id"].as_u64().unwrap();
    let (status, body) = control(
        &base,
        Method::POST,
        &format!("/_sim/interviews/{first}/read"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["interview"]["frozen"]["partner_score"], 100);
    let (_, body) = control(
        &base,
        Method::GET,
        &format!("/_sim/interviews/{first}"),
        None,
    )
    .await;
    assert_eq!(body["stage_view"]["label"], "Complete", "{body}");
    assert_eq!(body["stage_view"]["score"], "100");
    assert_eq!(body["stage_view"]["report_url"], format!("{base}/"));
    let (status, _) = control(
        &base,
        Method::POST,
        &format!("/_sim/interviews/{first}/read"),
        None,
    )
    .await;
    assert_eq!(status, 409);

    let (status, body) = control(
        &base,
        Method::POST,
        "/_sim/faults",
        Some(json!({"patch_error_status": 200})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = control(
        &base,
        Method::POST,
        "/_sim/clock/advance",
        Some(json!({"days": 400})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = control(&base, Method::GET, "/_sim/interviews/abc", None).await;
    assert_eq!(status, 404);

    let (_, body) = control(&base, Method::GET, "/_sim/conformance", None).await;
    assert_eq!(body["passed"], false);
    assert_eq!(body["complete"], 1);
    assert_eq!(body["response_errors"], 3);
}

#[tokio::test]
async fn conformance_passes_for_a_partner_that_does_everything_right() {
    let s = setup().await;
    // A report URL that opens: the sim's own résumé page stands in for it.
    let i = s.send().await;
    let report = i.request["candidate"]["resume_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut lenient = settings(&s.partner);
    lenient.strict_report_urls = false;
    s.sim.set_partner(lenient).unwrap();
    s.partner.set_status(Canned::json(
        200,
        json!({"partner_status": "complete", "partner_profile_url": report, "partner_score": 1}),
    ));
    let response = reqwest::Client::new()
        .patch(&i.url)
        .header("authorization", basic(PATCH_USER, PATCH_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    eventually("the freeze", || {
        s.sim
            .interview(i.take_home_test_id)
            .unwrap()
            .frozen
            .is_some()
    })
    .await;
    let c = s.sim.conformance().await;
    assert!(c.passed, "{c:?}");
    // One PATCH with the org key fails it.
    reqwest::Client::new()
        .patch(&i.url)
        .header("authorization", basic(ORG_KEY, ""))
        .send()
        .await
        .unwrap();
    let c = s.sim.conformance().await;
    assert_eq!((c.passed, c.wrong_credential_patches), (false, 1));
}

#[tokio::test]
async fn the_recruiter_pages_show_send_test_pending_then_the_result() {
    let s = setup().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = |path: String| {
        let http = http.clone();
        async move { http.get(path).send().await.unwrap().text().await.unwrap() }
    };
    let job = page(format!("{}/orgs/{}", s.base, s.org)).await;
    assert!(job.contains("Standard background check (US)"), "{job}");
    assert!(job.contains(&format!("id=\"send-test-{}\"", s.ada)));
    assert!(job.contains("Not sent"));

    // Bulk Send Test through the form, as a browser without JavaScript posts it.
    let response = http
        .post(format!("{}/orgs/{}/send_test", s.base, s.org))
        .form(&[("candidate_id", s.ada.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let job = page(format!("{}/orgs/{}", s.base, s.org)).await;
    assert!(job.contains("Sent, pending"), "{job}");
    assert!(job.contains("http-equiv=\"refresh\""));

    s.partner
        .set_status(answer_of("test_status/valid_complete_documented.json"));
    http.patch(format!("{}{TAKE_HOME_TESTS_PATH}/998877", s.base))
        .header("authorization", basic(PATCH_USER, PATCH_PASSWORD))
        .send()
        .await
        .unwrap();
    eventually("the freeze", || {
        s.sim.interview(998_877).unwrap().frozen.is_some()
    })
    .await;
    let person = page(format!("{}/people/{}", s.base, s.ada)).await;
    for text in [
        "Complete",
        "100",
        "Criminal (county)",
        "Employment verification",
        "Verified",
        "View report",
        PID,
    ] {
        assert!(person.contains(text), "{text} missing from {person}");
    }
    // Rows in the partner's order.
    let (result, criminal) = (
        person.find("<dt>Result</dt>").unwrap(),
        person.find("Criminal (county)").unwrap(),
    );
    assert!(result < criminal);

    // Setup pages work too.
    let home = page(format!("{}/", s.base)).await;
    assert!(home.contains("Acme") && home.contains(&s.partner.base));
    let response = http
        .post(format!("{}/orgs", s.base))
        .form(&[("name", "Globex"), ("key", &"x".repeat(200))])
        .send()
        .await
        .unwrap();
    assert!(response.text().await.unwrap().contains("fewer than 171"));
    let edit = page(format!("{}/orgs/{}?edit_stage=1", s.base, s.org)).await;
    assert!(
        edit.contains("bg-plus-edu"),
        "the test picker lists list_tests: {edit}"
    );
}
