//! The Teamtailor simulator's pages in a real browser, as an admin and a
//! recruiter walk them: create the company, paste the token into the
//! activation form, add a trigger on "Background check", add a candidate and
//! move them there, see the card the partner's reply set, click *Cancel
//! check*, and see the card the partner's PUT leaves. A small partner stands
//! in for the hub.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use screenhub::sim::teamtailor::{spawn, PartnerSettings, SimConfig, TeamtailorSim};
use screenhub_tests::browser::Browser;

const API_KEY: &str = "tt-partner-api-key";

/// The events the partner received: webhooks, then clicks.
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

async fn spawn_partner(seen: Seen) -> String {
    let app = Router::new()
        .route("/ats/teamtailor/activation/validate", get(|| async { Json(json!({})) }))
        .route(
            "/ats/teamtailor/config",
            get(|| async {
                Json(json!({"config": {"fields": [{"id": "package", "label": "Check", "type": "select", "required": true,
                    "options": [{"id": "bg-standard-eu", "label": "Standard background check (EU)"}]}]}}))
            }),
        )
        .route(
            "/ats/teamtailor/webhook",
            post(|State(seen): State<Seen>, Json(event): Json<Value>| async move {
                seen.lock().unwrap().push(("webhook".into(), event));
                Json(json!({"partner_result_attributes": {"status": "sent", "summary": "Sent to the vendor",
                    "actions": [{"buttonText": "Cancel check", "endpoint": "actions/cancel"}]}}))
            }),
        )
        .route(
            "/ats/teamtailor/actions/cancel",
            post(|State(seen): State<Seen>, Json(event): Json<Value>| async move {
                seen.lock().unwrap().push(("cancel".into(), event));
                "Cancelled."
            }),
        )
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/ats/teamtailor", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
#[ignore = "needs Chromium: scripts/install-browser, then --ignored (scripts/test does)"]
async fn a_recruiter_sees_the_card_and_cancels_from_the_simulated_teamtailor() {
    let browser = Browser::start().await;
    let seen = Seen::default();
    let partner = spawn_partner(seen.clone()).await;
    let sim = TeamtailorSim::new(SimConfig {
        public_url: None,
        partner: Some(PartnerSettings::new(
            partner,
            API_KEY.into(),
            "secret".into(),
        )),
    });
    let base = spawn("127.0.0.1:0".parse().unwrap(), sim.clone())
        .await
        .unwrap();

    browser.open(&format!("{base}/")).await;
    browser.fill("input[name=name]", "Acme").await;
    browser.click("#create-company").await;
    browser
        .fill("input[name=externalTriggerToken]", "ett_123")
        .await;
    browser.click("#save-activation").await;
    browser.wait_for_text("Activated").await;
    assert_eq!(browser.text("#activation-status").await, "Activated");

    let company = sim.companies().pop().unwrap();
    let stage = company.stages[2].id;
    browser
        .fill(&format!("#package-{stage}"), "bg-standard-eu")
        .await;
    browser.click(&format!("#add-trigger-{stage}")).await;
    browser.wait_for_text("Send partner: bg-standard-eu").await;
    browser.click("#add-candidate").await;
    browser.wait_for_text("added").await;
    let candidate = sim.candidates(&company.id).pop().unwrap();
    browser
        .find(&format!("#stage-for-{}", candidate.id))
        .await
        .select_by_value(&stage.to_string())
        .await
        .unwrap();
    browser.click(&format!("#move-{}", candidate.id)).await;
    browser.wait_for_text("Sent to the vendor").await;
    let card = sim.cards().pop().unwrap();
    assert_eq!(
        browser.text(&format!("#card-{}-status", card.id)).await,
        "sent"
    );

    browser.click(&format!("#card-{}-action-1", card.id)).await;
    browser
        .wait_for_text("The partner answered: accepted")
        .await;
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(
            seen[0].1, seen[1].1,
            "the click re-sends the original event"
        );
    }
    let put = reqwest::Client::new()
        .put(&card.update_url)
        .header("authorization", format!("Token {API_KEY}"))
        .header("x-api-version", "20180828")
        .header("content-type", "application/vnd.api+json")
        .body(json!({"data": {"type": "partner-results", "id": card.id,
            "attributes": {"status": "failed", "summary": "Cancelled in Teamtailor", "actions": []}}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    browser
        .open(&format!("{base}/candidates/{}", candidate.id))
        .await;
    browser.wait_for_text("Cancelled in Teamtailor").await;
    assert!(!browser.exists(&format!("#card-{}-action-1", card.id)).await);
    browser.close().await;
}
