//! The simulator against a small scripted partner over real HTTP, held to the
//! fixed examples in `docs/teamtailor-examples/`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use super::jose::{read_provider_key, signature_header, KeyForm};
use super::*;

const API_KEY: &str = "tt-partner-api-key-4f1c2b";
const SECRET: &str = "tt-webhook-secret-9d8e7f";
const ETT: &str = "ett_live_3kQ9xZ2mV7pL";

fn example(name: &str) -> Value {
    let path = format!("{EXAMPLES_DIR}/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ---------- a scripted partner ----------

#[derive(Debug, Clone)]
struct Received {
    path: String,
    query: String,
    headers: HashMap<String, String>,
    body: String,
}

#[derive(Default)]
struct Script {
    /// Path below the base URL → (status, content type, body).
    answers: HashMap<String, (u16, String, String)>,
    received: Vec<Received>,
}

#[derive(Clone)]
struct Partner {
    base: String,
    script: Arc<Mutex<Script>>,
}

impl Partner {
    async fn start() -> Self {
        let script = Arc::new(Mutex::new(Script::default()));
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/ats/teamtailor", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, script }
    }

    fn answer(&self, path: &str, status: u16, content_type: &str, body: &str) {
        self.script.lock().unwrap().answers.insert(
            path.to_owned(),
            (status, content_type.to_owned(), body.to_owned()),
        );
    }

    fn received(&self, path: &str) -> Vec<Received> {
        let script = self.script.lock().unwrap();
        script
            .received
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

async fn answer(
    State(script): State<Arc<Mutex<Script>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_start_matches("/ats/teamtailor/").to_owned();
    let mut script = script.lock().unwrap();
    script.received.push(Received {
        path: path.clone(),
        query: uri.query().unwrap_or_default().to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let (status, content_type, body) =
        script
            .answers
            .get(&path)
            .cloned()
            .unwrap_or((200, "text/plain".into(), String::new()));
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", content_type)],
        body,
    )
        .into_response()
}

const PACKAGE_FORM: &str = r#"{"config": {"fields": [{"id": "package", "label": "Check", "type": "select", "required": true, "options": [{"id": "bg-standard-eu", "label": "Standard background check (EU)"}]}]}}"#;

struct World {
    sim: TeamtailorSim,
    base: String,
    partner: Partner,
    company: Company,
    stage_id: u64,
    candidate: Candidate,
    http: reqwest::Client,
}

/// A sim with the partner set up, one activated company with a trigger on
/// its "Background check" stage, and one candidate.
async fn world(key_form: KeyForm) -> World {
    let partner = Partner::start().await;
    let sim = TeamtailorSim::with_seed(SimConfig::default(), 7);
    let base = spawn("127.0.0.1:0".parse().unwrap(), sim.clone())
        .await
        .unwrap();
    let mut settings = PartnerSettings::new(partner.base.clone(), API_KEY.into(), SECRET.into());
    settings.key_form = key_form;
    settings.webhook_timeout_ms = 2_000;
    sim.set_partner(settings).unwrap();
    let company = sim
        .create_company(NewCompany {
            name: "Acme".into(),
            ..NewCompany::default()
        })
        .unwrap();
    partner.answer("activation/validate", 200, "application/json", "{}");
    let (ok, messages) = sim.activate(&company.id, claims()).await.unwrap();
    assert!(ok, "{messages:?}");
    partner.answer("config", 200, "application/json", PACKAGE_FORM);
    let stage_id = company.stages[2].id;
    sim.add_trigger(
        &company.id,
        stage_id,
        values(&[("package", "bg-standard-eu")]),
    )
    .await
    .unwrap();
    let candidate = sim
        .add_candidate(&company.id, NewCandidate::default())
        .unwrap();
    World {
        sim,
        base,
        partner,
        company,
        stage_id,
        candidate,
        http: reqwest::Client::new(),
    }
}

fn claims() -> Map<String, Value> {
    values(&[("externalTriggerToken", ETT)])
}

fn values(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect()
}

impl World {
    async fn get_json(&self, path: &str) -> Value {
        let r = self.http.get(format!("{}{path}", self.base)).send().await;
        r.unwrap().json().await.unwrap()
    }

    async fn click(&self, card_id: &str) -> reqwest::Response {
        let url = format!("{}/_sim/cards/{card_id}/click", self.base);
        self.http.post(url).send().await.unwrap()
    }

    async fn order(&self) -> Card {
        self.sim
            .move_candidate(self.candidate.id, self.stage_id)
            .await
            .unwrap()
            .expect("the stage has a trigger")
    }

    async fn put(&self, card: &Card, body: &Value) -> reqwest::Response {
        self.http
            .put(&card.update_url)
            .header("authorization", format!("Token {API_KEY}"))
            .header("x-api-version", "20180828")
            .header("content-type", "application/vnd.api+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }
}

fn update(id: &str, attributes: Value) -> Value {
    json!({"data": {"type": "partner-results", "id": id, "attributes": attributes}})
}

/// The keys of a JSON value, recursively (values ignored).
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        _ => Value::Null,
    }
}

// ---------- JOSE and signatures ----------

#[test]
fn provider_keys_follow_the_fixed_examples() {
    let doc = example("provider-keys.json");
    let (api_key, secret) = (
        doc["api_key"].as_str().unwrap(),
        doc["webhook_secret"].as_str().unwrap(),
    );
    for k in doc["keys"].as_array().unwrap() {
        let name = k["name"].as_str().unwrap();
        let (claims, form) = read_provider_key(k["token"].as_str().unwrap(), api_key, secret)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(Value::Object(claims), k["claims"], "{name}");
        let expected: KeyForm = serde_json::from_value(k["form"].clone()).unwrap();
        assert_eq!(form, expected, "{name}");
    }
    for k in doc["refused"].as_array().unwrap() {
        let name = k["name"].as_str().unwrap();
        assert!(
            read_provider_key(k["token"].as_str().unwrap(), api_key, secret).is_err(),
            "{name} must be refused: {}",
            k["why"]
        );
    }
    // What the sim issues reads back in each form, and only with the right keys.
    for form in [
        KeyForm::Jwt,
        KeyForm::JweA256gcm,
        KeyForm::JweA256gcmHex,
        KeyForm::JweA128gcm,
    ] {
        let token = jose::issue_provider_key(form, &claims(), api_key, secret).unwrap();
        let parts = token.split('.').count();
        assert_eq!(parts, if form == KeyForm::Jwt { 3 } else { 5 }, "{form:?}");
        assert_eq!(
            read_provider_key(&token, api_key, secret).unwrap(),
            (claims(), form)
        );
        assert!(
            read_provider_key(&token, "other", "other").is_err(),
            "{form:?}"
        );
    }
}

#[test]
fn an_expired_jwt_is_refused() {
    let mut c = claims();
    c.insert("exp".into(), json!(1_000_000_000));
    let token = jose::issue_provider_key(KeyForm::Jwt, &c, API_KEY, SECRET).unwrap();
    let err = read_provider_key(&token, API_KEY, SECRET).unwrap_err();
    assert!(err.contains("expired"), "{err}");
}

#[test]
fn signatures_follow_the_fixed_examples() {
    let doc = example("webhook-signatures.json");
    for s in doc["signed"].as_array().unwrap() {
        assert_eq!(
            signature_header(
                s["webhook_secret"].as_str().unwrap(),
                s["t"].as_i64().unwrap(),
                s["event_id"].as_str().unwrap()
            ),
            s["header"].as_str().unwrap()
        );
    }
    let first = &doc["signed"][0];
    let good = first["header"].as_str().unwrap();
    for w in doc["wrong"].as_array().unwrap() {
        assert_ne!(w["header"].as_str().unwrap(), good, "{}", w["name"]);
    }
}

// ---------- the order webhook ----------

/// What a partner does with the headers: decode the key, check the signature
/// over "<t>.<event id>" within five minutes.
fn check_webhook_headers(r: &Received, event_id: &str) {
    let bearer = r.headers["authorization"].strip_prefix("Bearer ").unwrap();
    let (claims, _) = read_provider_key(bearer, API_KEY, SECRET).unwrap();
    assert_eq!(claims["externalTriggerToken"], ETT);
    let sig = &r.headers["teamtailor-signature"];
    let (t, v1) = sig
        .strip_prefix("t=")
        .and_then(|s| s.split_once(",v1="))
        .expect("t=<unix>,v1=<hex>");
    let t: i64 = t.parse().unwrap();
    assert!((now_ms() / 1000 - t).abs() < 300, "t is fresh");
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{event_id}").as_bytes());
    assert_eq!(hex::encode(mac.finalize().into_bytes()), v1);
}

#[tokio::test]
async fn the_order_webhook_is_sent_once_signed_and_shaped_like_the_example() {
    for form in [KeyForm::Jwt, KeyForm::JweA256gcm, KeyForm::JweA128gcm] {
        let w = world(form).await;
        let card = w.order().await;
        assert_eq!(card.status, "sending");
        let hooks = w.partner.received("webhook");
        assert_eq!(hooks.len(), 1, "{form:?}");
        let body: Value = serde_json::from_str(&hooks[0].body).unwrap();
        let event_id = body["partner-event"]["id"].as_str().unwrap();
        check_webhook_headers(&hooks[0], event_id);
        assert_eq!(hooks[0].headers["content-type"], "application/json");
        assert_eq!(shape(&body), shape(&example("webhook.json")["body"]));
        assert_eq!(
            body["partner-event"]["webhook-data"],
            json!({"package": "bg-standard-eu"})
        );
        assert_eq!(
            body["partner-event"]["partner-result"]["id"],
            card.id.as_str()
        );
        assert_eq!(
            body["partner-event"]["partner-result"]["update-url"],
            format!("{}/partner/v1/partner-results/{}", w.base, card.id)
        );
        assert_eq!(body["partner-event"]["candidate"]["id"], w.candidate.id);
        assert_eq!(body["company"]["uuid"], w.company.uuid.as_str());
        let records = w.sim.webhooks();
        assert_eq!(records[0].outcome, WebhookOutcome::Accepted);
    }
}

#[tokio::test]
async fn a_failed_webhook_is_never_retried_and_is_a_lost_order() {
    let w = world(KeyForm::Jwt).await;
    w.partner.answer("webhook", 302, "text/plain", "");
    let card = w.order().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(w.partner.received("webhook").len(), 1);
    let card = w.sim.card(&card.id).unwrap();
    assert!(card.lost && card.status == "sending", "{card:?}");
    let c = w.sim.conformance();
    assert!(!c.passed && c.lost_webhooks == 1, "{c:?}");
    // Moving into a stage without a trigger sends nothing.
    let inbox = w.company.stages[0].id;
    assert!(w
        .sim
        .move_candidate(w.candidate.id, inbox)
        .await
        .unwrap()
        .is_none());
    assert_eq!(w.partner.received("webhook").len(), 1);
}

#[tokio::test]
async fn webhook_replies_follow_the_fixed_examples() {
    let doc = example("replies.json");
    let w = world(KeyForm::Jwt).await;
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        w.partner.answer(
            "webhook",
            case["status"].as_u64().unwrap() as u16,
            case["content_type"].as_str().unwrap(),
            case["body"].as_str().unwrap(),
        );
        let card = w.order().await;
        let record = w.sim.webhooks().pop().unwrap();
        let outcome = serde_json::to_value(&record.outcome).unwrap();
        assert_eq!(outcome["kind"], case["outcome"], "{name}: {record:?}");
        assert_eq!(
            !record.warnings.is_empty(),
            case["warning"].as_bool().unwrap(),
            "{name}: {:?}",
            record.warnings
        );
        let seen = serde_json::to_value(w.sim.card(&card.id).unwrap()).unwrap();
        for (field, expected) in case["card"].as_object().unwrap() {
            assert_eq!(&seen[field], expected, "{name}: card.{field}");
        }
    }
}

// ---------- activation and the /config form ----------

#[tokio::test]
async fn the_activation_check_carries_the_key_and_shows_the_partners_errors() {
    let w = world(KeyForm::JweA256gcm).await;
    let checks = w.partner.received("activation/validate");
    assert_eq!(checks.len(), 1);
    let key = checks[0].headers["authorization"]
        .strip_prefix("Bearer ")
        .unwrap();
    assert_eq!(read_provider_key(key, API_KEY, SECRET).unwrap().0, claims());

    let other = w
        .sim
        .create_company(NewCompany {
            name: "Globex".into(),
            ..Default::default()
        })
        .unwrap();
    w.partner.answer(
        "activation/validate",
        401,
        "application/json",
        r#"{"errors": ["This token is not recognised. Copy it again from your connect page."]}"#,
    );
    let (ok, messages) = w.sim.activate(&other.id, claims()).await.unwrap();
    assert!(!ok);
    assert_eq!(
        messages,
        ["This token is not recognised. Copy it again from your connect page."]
    );
    assert!(w.sim.calls().last().unwrap().warnings.is_empty());

    w.partner
        .answer("activation/validate", 422, "text/plain", "nope");
    let (ok, _) = w.sim.activate(&other.id, claims()).await.unwrap();
    assert!(!ok);
    assert!(
        !w.sim.calls().last().unwrap().warnings.is_empty(),
        "a non-{{errors}} body is a warning"
    );

    // A required activation field left empty is not saved.
    let err = w.sim.activate(&other.id, Map::new()).await.unwrap_err();
    assert!(err.to_string().contains("externalTriggerToken"), "{err}");

    // `validateEndpoint` inside `config` is honoured too.
    let mut settings = w.sim.partner().unwrap();
    settings.activation_config = json!({"config": {"fields": [], "validateEndpoint": "check"}});
    w.sim.set_partner(settings).unwrap();
    w.partner.answer("check", 200, "application/json", "{}");
    let (ok, _) = w.sim.activate(&other.id, claims()).await.unwrap();
    assert!(ok);
    assert_eq!(w.partner.received("check").len(), 1);
}

#[tokio::test]
async fn config_answers_follow_the_fixed_examples() {
    let doc = example("config.json");
    let w = world(KeyForm::Jwt).await;
    let stage = w.company.stages[1].id;
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        w.partner.answer(
            "config",
            200,
            "application/json",
            &case["answer"].to_string(),
        );
        let values = case["values"].as_object().cloned().unwrap_or_default();
        let result = w.sim.add_trigger(&w.company.id, stage, values).await;
        let request = w.partner.received("config").pop().unwrap();
        assert!(
            request.headers["authorization"].starts_with("Bearer "),
            "{name}"
        );
        assert_eq!(
            request.query,
            format!(
                "job_id={}&stage_id={stage}&user_id={}",
                w.company.job_id, w.company.recruiter.0
            ),
            "{name}"
        );
        match (case["accepted"].as_bool().unwrap(), result) {
            (true, Ok(trigger)) => {
                assert!(
                    case.get("error_field").is_none() && case.get("refused_values").is_none(),
                    "{name}"
                );
                assert_eq!(
                    Value::Object(trigger.webhook_data),
                    case["webhook_data"],
                    "{name}"
                );
            }
            (true, Err(e)) => {
                let expected = case
                    .get("error_field")
                    .or_else(|| case.get("refused_values"))
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("{name}: refused: {e}"));
                assert!(e.to_string().contains(expected), "{name}: {e}");
            }
            (false, Ok(_)) => panic!("{name}: accepted"),
            (false, Err(e)) => {
                let problem = case["problem"].as_str().unwrap();
                assert!(e.to_string().contains(problem), "{name}: {e}");
            }
        }
    }
}

// ---------- the Partner API ----------

#[tokio::test]
async fn update_verdicts_follow_the_fixed_examples() {
    let doc = example("update.json");
    let w = world(KeyForm::Jwt).await;
    let card = w.order().await;
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let mut settings = w.sim.partner().unwrap();
        settings.auth_scheme = case
            .get("auth_scheme")
            .map(|s| serde_json::from_value(s.clone()).unwrap())
            .unwrap_or_default();
        w.sim.set_partner(settings).unwrap();
        let mut headers: Map<String, Value> = values(&[
            ("Authorization", "Token <api_key>"),
            ("X-Api-Version", "20180828"),
            ("Content-Type", "application/vnd.api+json"),
        ]);
        for (k, v) in case
            .get("headers")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            headers.insert(k.clone(), v.clone());
        }
        let body = match case.get("body_text") {
            Some(text) => text.as_str().unwrap().to_owned(),
            None => case["body"].to_string().replace("<id>", &card.id),
        };
        let mut request = w.http.put(&card.update_url).body(body);
        for (k, v) in &headers {
            if let Some(v) = v.as_str() {
                request = request.header(k.as_str(), v.replace("<api_key>", API_KEY));
            }
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let echoed = response.headers().get("x-api-version").cloned();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            status as u64,
            case["status"].as_u64().unwrap(),
            "{name}: {answer}"
        );
        if status == 200 {
            assert_eq!(echoed.unwrap(), "20180828", "{name}");
            assert_eq!(answer["data"]["id"], card.id.as_str(), "{name}");
        } else {
            let pointers: Vec<&str> = answer["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["source"]["pointer"].as_str().unwrap())
                .collect();
            let expected: Vec<&str> = case["pointers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect();
            assert_eq!(pointers, expected, "{name}: {answer}");
        }
        let record = w.sim.api_calls().pop().unwrap();
        assert_eq!(record.status, status, "{name}");
    }
}

#[tokio::test]
async fn a_valid_put_shapes_the_card_and_the_recruiters_page() {
    let w = world(KeyForm::Jwt).await;
    let card = w.order().await;
    let long = "Clear: 3 of 3 screenings. ".repeat(8);
    let r = w
        .put(
            &card,
            &update(
                &card.id,
                json!({"status": "completed", "summary": long, "url": "https://checks.vendor.example/r/1",
                       "assessment": {"score": 92, "grade": "top_fit", "duration": "00:02:00"},
                       "details": {"Identity": "Verified"},
                       "attachments": [{"url": "https://checks.vendor.example/r/1.pdf", "description": "Full report"}],
                       "actions": [{"buttonText": "Cancel check", "endpoint": "actions/cancel"}]}),
            ),
        )
        .await;
    assert_eq!(r.status(), 200);
    let seen = w.sim.card(&card.id).unwrap();
    assert_eq!(
        (seen.status.as_str(), seen.score, seen.duration_secs),
        ("completed", Some(92.0), Some(120))
    );
    let page = w
        .http
        .get(format!("{}/candidates/{}", w.base, w.candidate.id))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "completed",
        "92",
        "top fit",
        "Verified",
        "Full report",
        "https://checks.vendor.example/r/1",
        "Cancel check",
        "View details",
        "action=\"/cards/",
    ] {
        assert!(page.contains(needle), "the card shows {needle}");
    }
    let company = w
        .http
        .get(format!("{}/companies/{}", w.base, w.company.id))
        .send()
        .await
        .unwrap();
    assert_eq!(company.status(), 200);
    let home = w
        .http
        .get(format!("{}/", w.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Acme") && home.contains(&w.partner.base));
    assert!(w.sim.conformance().passed, "{:?}", w.sim.conformance());
}

#[tokio::test]
async fn a_partner_sees_only_its_results_on_their_own_stack() {
    let w = world(KeyForm::Jwt).await;
    let card = w.order().await;
    let body = update(&card.id, json!({"status": "pending"}));
    for url in [
        format!("{}/na/partner/v1/partner-results/{}", w.base, card.id),
        format!(
            "{}/partner/v1/partner-results/00000000-0000-4000-8000-000000000000",
            w.base
        ),
    ] {
        let r = w
            .http
            .put(&url)
            .header("authorization", format!("Token {API_KEY}"))
            .header("x-api-version", "20180828")
            .header("content-type", "application/vnd.api+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{url}");
    }
    // An NA company's cards live under the NA host.
    let na = w
        .sim
        .create_company(NewCompany {
            name: "Initech".into(),
            stack: Stack::Na,
            job_title: None,
        })
        .unwrap();
    w.sim.activate(&na.id, claims()).await.unwrap();
    w.sim
        .add_trigger(
            &na.id,
            na.stages[2].id,
            values(&[("package", "bg-standard-eu")]),
        )
        .await
        .unwrap();
    let c = w
        .sim
        .add_candidate(&na.id, NewCandidate::default())
        .unwrap();
    let na_card = w
        .sim
        .move_candidate(c.id, na.stages[2].id)
        .await
        .unwrap()
        .unwrap();
    assert!(na_card
        .update_url
        .starts_with(&format!("{}/na/partner/v1/partner-results/", w.base)));
    assert_eq!(
        w.put(&na_card, &update(&na_card.id, json!({"status": "pending"})))
            .await
            .status(),
        200
    );
    let list = w
        .http
        .get(format!("{}/partner/v1/partner-activations", w.base))
        .header("authorization", format!("Bearer {API_KEY}"))
        .header("x-api-version", "20180828")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        list["meta"]["record-count"], 1,
        "only the EU stack's activation: {list}"
    );
}

// ---------- the cancel button ----------

#[tokio::test]
async fn the_cancel_button_posts_the_original_event_with_the_webhooks_headers() {
    let w = world(KeyForm::Jwt).await;
    let card = w.order().await;
    w.put(&card, &update(&card.id, json!({"status": "sent", "actions": [{"buttonText": "Cancel check", "endpoint": "actions/cancel"}]})))
        .await;
    w.partner
        .answer("actions/cancel", 200, "text/plain", "Cancelled.");
    let control = w.click(&card.id).await;
    assert_eq!(control.status(), 200);
    let clicks = w.partner.received("actions/cancel");
    assert_eq!(clicks.len(), 1);
    assert_eq!(clicks[0].body, w.partner.received("webhook")[0].body);
    check_webhook_headers(
        &clicks[0],
        card.event["partner-event"]["id"].as_str().unwrap(),
    );
    w.put(
        &card,
        &update(
            &card.id,
            json!({"status": "failed", "summary": "Cancelled in Teamtailor", "actions": []}),
        ),
    )
    .await;
    let seen = w.sim.card(&card.id).unwrap();
    assert!(seen.actions.is_empty() && seen.is_done());
    // No button left: a click is refused by the sim itself.
    let again = w.click(&card.id).await;
    assert_eq!(again.status(), 409);
    assert!(w.sim.conformance().passed);
}

// ---------- faults ----------

#[tokio::test]
async fn faults_lose_replies_spoil_signatures_and_fail_writes() {
    let w = world(KeyForm::Jwt).await;
    w.sim
        .set_faults(Faults {
            lose_webhook_replies: 1,
            bad_signatures: 1,
            ..Faults::default()
        })
        .unwrap();
    let card = w.order().await;
    assert!(
        w.sim.card(&card.id).unwrap().lost,
        "the dropped reply loses the order"
    );
    let hook = &w.partner.received("webhook")[0];
    let event_id = card.event["partner-event"]["id"].as_str().unwrap();
    let t = now_ms() / 1000;
    assert_ne!(
        hook.headers["teamtailor-signature"],
        signature_header(SECRET, t, event_id)
    );

    w.sim
        .set_faults(Faults {
            webhook_delay_ms: 2_500,
            lost_reply: LostReply::Delay,
            lose_webhook_replies: 1,
            unsigned_webhooks: 1,
            wrong_provider_keys: 1,
            ..Faults::default()
        })
        .unwrap();
    let card = w.order().await;
    let record = w.sim.webhooks().pop().unwrap();
    assert!(
        matches!(record.outcome, WebhookOutcome::Lost { .. }),
        "a reply later than the timeout is lost"
    );
    let hook = w.partner.received("webhook").pop().unwrap();
    assert!(!hook.headers.contains_key("teamtailor-signature"));
    let key = hook.headers["authorization"]
        .strip_prefix("Bearer ")
        .unwrap();
    assert!(read_provider_key(key, API_KEY, SECRET).is_err());

    w.sim
        .set_faults(Faults {
            api_errors: 1,
            api_error_status: 429,
            retry_after_secs: Some(7),
            ..Faults::default()
        })
        .unwrap();
    let body = update(&card.id, json!({"status": "pending"}));
    let first = w.put(&card, &body).await;
    assert_eq!(first.status(), 429);
    assert_eq!(first.headers()["retry-after"], "7");
    assert_eq!(
        w.sim.card(&card.id).unwrap().status,
        "sending",
        "a faulted write changes nothing"
    );
    assert_eq!(w.put(&card, &body).await.status(), 200);
    assert!(w
        .sim
        .set_faults(Faults {
            api_error_status: 404,
            ..Faults::default()
        })
        .is_err());

    // A stale signature: right secret, `t` ten minutes old.
    w.sim
        .set_faults(Faults {
            stale_signatures: 1,
            ..Faults::default()
        })
        .unwrap();
    let card = w.order().await;
    let hook = w.partner.received("webhook").pop().unwrap();
    let sig = &hook.headers["teamtailor-signature"];
    let t: i64 = sig[2..sig.find(',').unwrap()].parse().unwrap();
    assert!(now_ms() / 1000 - t >= 600, "{sig}");
    let event_id = card.event["partner-event"]["id"].as_str().unwrap();
    assert_eq!(sig, &signature_header(SECRET, t, event_id));
}

// ---------- control API ----------

#[tokio::test]
async fn the_control_api_drives_a_whole_order() {
    let w = world(KeyForm::Jwt).await;
    let post =
        |path: &str, body: Value| w.http.post(format!("{}{path}", w.base)).json(&body).send();
    let co: Value = post("/_sim/companies", json!({"name": "Umbrella"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let co_id = co["id"].as_str().unwrap();
    let stage = co["stages"][2]["id"].as_u64().unwrap();
    let activated: Value = post(
        &format!("/_sim/companies/{co_id}/activation"),
        json!({"values": {"externalTriggerToken": ETT}}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(activated["activated"], true, "{activated}");
    let trigger = post(
        &format!("/_sim/companies/{co_id}/triggers"),
        json!({"stage_id": stage, "values": {"package": "bg-standard-eu"}}),
    )
    .await
    .unwrap();
    assert_eq!(trigger.status(), 201);
    let cand: Value = post(
        &format!("/_sim/companies/{co_id}/candidates"),
        json!({"first_name": "Ada"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let moved: Value = post(
        &format!("/_sim/candidates/{}/move", cand["id"]),
        json!({"stage_id": stage}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(moved["card"]["status"], "sending");
    let hooks = w.get_json("/_sim/webhooks").await;
    assert_eq!(hooks["data"].as_array().unwrap().len(), 1);
    let bad = post("/_sim/candidates/999/move", json!({"stage_id": stage}))
        .await
        .unwrap();
    assert_eq!(bad.status(), 404);
    let err: Value = bad.json().await.unwrap();
    assert_eq!(err["error"]["code"], "candidate_not_found");
    let unknown = post("/_sim/companies", json!({"name": "X", "colour": "red"}))
        .await
        .unwrap();
    assert_eq!(unknown.status(), 422);
    let conf = w.get_json("/_sim/conformance").await;
    assert_eq!(conf["passed"], false);
    assert_eq!(conf["not_done"].as_array().unwrap().len(), 1);
}

// ---------- the pages, with plain forms ----------

#[tokio::test]
async fn the_pages_drive_an_order_with_plain_forms() {
    let w = world(KeyForm::JweA256gcmHex).await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = |path: &str, fields: &[(&str, String)]| {
        browser
            .post(format!("{}{path}", w.base))
            .form(fields)
            .send()
    };
    let created = form(
        "/companies",
        &[("name", "Hooli".into()), ("stack", "eu".into())],
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 303);
    assert_eq!(created.headers()["location"], "/companies/co-2");
    let saved = form(
        "/companies/co-2/activation",
        &[("externalTriggerToken", ETT.into())],
    )
    .await
    .unwrap();
    assert!(saved.headers()["location"]
        .to_str()
        .unwrap()
        .contains("message=Activated"));
    let company = w.sim.companies().pop().unwrap();
    assert!(company.activated);
    let stage = company.stages[2].id;
    form(
        "/companies/co-2/triggers",
        &[
            ("stage_id", stage.to_string()),
            ("package", "bg-standard-eu".into()),
        ],
    )
    .await
    .unwrap();
    form("/companies/co-2/candidates", &[]).await.unwrap();
    let page = w
        .http
        .get(format!("{}/companies/co-2", w.base))
        .send()
        .await;
    let page = page.unwrap().text().await.unwrap();
    assert!(page.contains("Send partner: bg-standard-eu"), "{page}");
    let candidate = w.sim.candidates("co-2").pop().unwrap();
    form(
        &format!("/candidates/{}/move", candidate.id),
        &[("stage_id", stage.to_string())],
    )
    .await
    .unwrap();
    let card = w.sim.cards().pop().unwrap();
    assert_eq!(card.candidate_id, candidate.id);
    w.put(
        &card,
        &update(
            &card.id,
            json!({"status": "sent", "actions": [{"buttonText": "Cancel check", "endpoint": "actions/cancel"}]}),
        ),
    )
    .await;
    let page = w
        .http
        .get(format!("{}/candidates/{}", w.base, candidate.id))
        .send()
        .await;
    let page = page.unwrap().text().await.unwrap();
    assert!(
        page.contains("http-equiv=\"refresh\""),
        "a live card refreshes"
    );
    assert!(page.contains(&format!("action=\"/cards/{}/click\"", card.id)));
    w.partner
        .answer("actions/cancel", 200, "text/plain", "Cancelled.");
    let clicked = form(
        &format!("/cards/{}/click", card.id),
        &[("endpoint", "actions/cancel".into())],
    )
    .await
    .unwrap();
    assert_eq!(clicked.status(), 303);
    assert_eq!(w.partner.received("actions/cancel").len(), 1);
    let missing = w
        .http
        .get(format!("{}/candidates/1", w.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn the_operator_sets_the_partner_record_with_put_partners() {
    let w = world(KeyForm::Jwt).await;
    let put = |body: Value, id: &str| {
        w.http
            .put(format!("{}/partner/v1/partners/{id}", w.base))
            .header("authorization", format!("Token {API_KEY}"))
            .header("x-api-version", "20180828")
            .header("content-type", "application/vnd.api+json")
            .body(body.to_string())
            .send()
    };
    let activation = json!({"config": {"fields": [{"id": "externalTriggerToken", "type": "password", "label": "External Trigger Token", "required": true}]}, "validateEndpoint": "activation/validate"});
    let body = json!({"data": {"type": "partners", "id": "1", "attributes": {
        "name": "Screenhub", "base-url": format!("{}/", w.partner.base),
        "webhook-activation-config": activation, "dynamic-activation-config": false}}});
    let r = put(body.clone(), "1").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(w.sim.partner().unwrap().activation_config, activation);
    assert_eq!(put(body.clone(), "2").await.unwrap().status(), 404);
    let renamed = json!({"data": {"type": "partners", "id": "1", "attributes": {"name": "Other"}}});
    let r = put(renamed, "1").await.unwrap();
    assert_eq!(r.status(), 422);
    let bad_form = json!({"data": {"type": "partners", "id": "1", "attributes": {"webhook-config": {"config": {"fields": [{"type": "dropdown", "id": "x"}]}}}}});
    assert_eq!(put(bad_form, "1").await.unwrap().status(), 422);
    // A static webhook-config replaces the /config call.
    let static_form: Value = serde_json::from_str(PACKAGE_FORM).unwrap();
    let r = put(json!({"data": {"type": "partners", "id": "1", "attributes": {"webhook-config": static_form}}}), "1").await.unwrap();
    assert_eq!(r.status(), 200);
    let before = w.partner.received("config").len();
    w.sim
        .add_trigger(
            &w.company.id,
            w.company.stages[1].id,
            values(&[("package", "bg-standard-eu")]),
        )
        .await
        .unwrap();
    assert_eq!(
        w.partner.received("config").len(),
        before,
        "no /config call"
    );
}

#[tokio::test]
async fn a_refetch_field_fetches_the_form_again_with_the_values_picked() {
    let w = world(KeyForm::Jwt).await;
    w.partner.answer(
        "config",
        200,
        "application/json",
        r#"{"config": {"fields": [{"id": "region_code", "label": "Region", "type": "select", "refetch": true, "options": [{"id": "eu", "label": "EU"}]}, {"id": "package", "label": "Check", "type": "text"}]}}"#,
    );
    let before = w.partner.received("config").len();
    let trigger = w
        .sim
        .add_trigger(
            &w.company.id,
            w.company.stages[1].id,
            values(&[("region_code", "eu"), ("package", "bg-eu")]),
        )
        .await
        .unwrap();
    let calls = w.partner.received("config");
    assert_eq!(calls.len(), before + 2);
    assert!(
        calls[before + 1].query.ends_with("&region_code=eu"),
        "{}",
        calls[before + 1].query
    );
    assert_eq!(
        Value::Object(trigger.webhook_data),
        json!({"region-code": "eu", "package": "bg-eu"})
    );
}

#[tokio::test]
async fn dynamic_activation_asks_the_partner_for_the_form() {
    let w = world(KeyForm::Jwt).await;
    let mut settings = w.sim.partner().unwrap();
    settings.dynamic_activation = true;
    w.sim.set_partner(settings).unwrap();
    w.partner.answer(
        "activation",
        200,
        "application/json",
        r#"{"config": {"fields": [{"id": "externalTriggerToken", "type": "password", "label": "Token", "required": true}, {"id": "region", "type": "text", "label": "Region", "required": true}]}, "validateEndpoint": "activation/validate"}"#,
    );
    let err = w.sim.activate(&w.company.id, claims()).await.unwrap_err();
    assert!(err.to_string().contains("region"), "{err}");
    let asked = w.partner.received("activation");
    assert_eq!(asked[0].query, format!("company_id={}", w.company.uuid));
    assert!(
        asked[0].headers["authorization"].starts_with("Bearer "),
        "the saved key goes along"
    );
    let mut with_region = claims();
    with_region.insert("region".into(), json!("eu"));
    assert!(w.sim.activate(&w.company.id, with_region).await.unwrap().0);
    w.partner
        .answer("activation", 200, "application/json", r#"{"fields": []}"#);
    assert!(
        w.sim.activate(&w.company.id, claims()).await.is_err(),
        "a form that is not {{config: {{fields}}}} is refused"
    );
}
