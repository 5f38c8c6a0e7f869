//! The Greenhouse simulator's pages in a real browser, as a recruiter walks
//! them: the partner integration, an organisation with its key, the partner
//! stage with a test from `list_tests`, bulk *Send Test*, "Sent, pending",
//! then the score, the metadata rows and the report link after the doorbell.
//! A small partner stands in for the hub (the hub's own end-to-end tests drive
//! the simulator against the real thing).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use fantoccini::Locator;
use serde_json::{json, Value};

use screenhub::sim::greenhouse::{spawn, GreenhouseSim, SimConfig, TAKE_HOME_TESTS_PATH};
use screenhub_tests::browser::Browser;

/// Interview ids minted per `url`, and whether results are ready.
#[derive(Clone, Default)]
struct Partner {
    minted: Arc<Mutex<HashMap<String, String>>>,
    done: Arc<Mutex<bool>>,
}

async fn spawn_partner() -> (String, Partner) {
    let partner = Partner::default();
    let app = Router::new()
        .route(
            "/ats/greenhouse/list_tests",
            get(|| async {
                Json(json!([
                    {"partner_test_id": "bg-standard-us", "partner_test_name": "Standard background check (US)"},
                    {"partner_test_id": "bg-plus-edu", "partner_test_name": "Standard check + education verification"}
                ]))
            }),
        )
        .route(
            "/ats/greenhouse/send_test",
            post(|State(p): State<Partner>, Json(body): Json<Value>| async move {
                let mut minted = p.minted.lock().unwrap();
                let n = minted.len();
                let url = body["url"].as_str().unwrap_or_default().to_owned();
                let id = minted.entry(url).or_insert_with(|| format!("order-{n}")).clone();
                Json(json!({"partner_interview_id": id}))
            }),
        )
        .route(
            "/ats/greenhouse/test_status",
            get(|State(p): State<Partner>, Query(q): Query<HashMap<String, String>>| async move {
                let id = q.get("partner_interview_id").cloned().unwrap_or_default();
                if *p.done.lock().unwrap() {
                    Json(json!({
                        "partner_status": "complete",
                        "partner_profile_url": format!("https://checks.vendor.example/r/{id}"),
                        "partner_score": 92,
                        "metadata": {"Result": "Clear", "Criminal (county)": "Clear", "Completed At": "2026-11-20T14:02:11Z"}
                    }))
                } else {
                    Json(json!({"partner_status": "in_progress"}))
                }
            }),
        )
        .route(
            "/ats/greenhouse/response_error",
            post(|| async { Json(json!({"status": 200})) }),
        )
        .with_state(partner.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/ats/greenhouse", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, partner)
}

#[tokio::test]
#[ignore = "needs Chromium: scripts/install-browser, then --ignored (scripts/test does)"]
async fn a_recruiter_sends_tests_from_the_simulated_greenhouse() {
    let browser = Browser::start().await;
    let (partner_url, partner) = spawn_partner().await;
    let sim = GreenhouseSim::with_seed(
        SimConfig {
            clock_speed: 0.0,
            ..SimConfig::default()
        },
        5,
    );
    let base = spawn("127.0.0.1:0".parse().unwrap(), sim.clone())
        .await
        .unwrap();

    // 1. The partner integration, as Greenhouse's Partnerships team sets it up.
    browser.open(&format!("{base}/")).await;
    browser.fill("#base_url", &partner_url).await;
    browser.fill("#patch_username", "greenhouse-partner").await;
    browser.fill("#patch_password", "patch-password").await;
    browser.click("#save-partner").await;
    browser.wait_for_text("Saved.").await;
    assert_eq!(browser.text("#partner-status").await, "Configured");

    // 2. The employer's organisation, with the key it sent through Support.
    browser.fill("#name", "Acme Robotics").await;
    browser.fill("#key", "sht_browser_test_key").await;
    browser.click("#create-org").await;

    // 3. Job Setup → Interview Plan: the partner stage, its test from list_tests.
    browser.wait_for_text("no partner stage yet").await;
    let options = browser.text("#partner_test_id").await;
    assert!(
        options.contains("Standard check + education verification"),
        "{options}"
    );
    browser.click("#save-stage").await;
    browser
        .wait_for_text("Screenhub: Standard background check (US)")
        .await;

    // 4. Two candidates, then bulk Send Test.
    browser.fill("#first_name", "Ada").await;
    browser.fill("#last_name", "Lovelace").await;
    browser.click("#add-candidate").await;
    browser.wait_for_text("Ada Lovelace").await;
    browser.click("#add-candidate").await;
    // The second add reloads the page: wait for its row before ticking both.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let boxes = loop {
        let boxes = browser
            .client()
            .find_all(Locator::Css("input[name=candidate_id]"))
            .await
            .unwrap();
        if boxes.len() >= 2 || std::time::Instant::now() > deadline {
            break boxes;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(boxes.len(), 2);
    for b in boxes {
        b.click().await.unwrap();
    }
    browser.click("#bulk-send").await;
    browser.wait_for_text("Sent, pending").await;
    let page = browser.page_text().await;
    assert_eq!(page.matches("Sent, pending").count(), 2, "{page}");
    browser.screenshot("sim-greenhouse-pending").await;

    // 5. The partner finishes and rings the doorbell for each test; the page
    //    (refreshing itself) shows the score, then the candidate the rows.
    *partner.done.lock().unwrap() = true;
    let http = reqwest::Client::new();
    for i in sim.interviews() {
        let response = http
            .patch(&i.url)
            .header(
                "authorization",
                format!(
                    "Basic {}",
                    STANDARD.encode("greenhouse-partner:patch-password")
                ),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(i.url.contains(TAKE_HOME_TESTS_PATH));
    }
    browser.wait_for_text("Complete").await;
    browser.wait_for_text("92").await;
    browser.click(".candidate-link").await;
    browser.wait_for_text("Criminal (county)").await;
    let report = browser.attr("a[id$='-report']", "href").await.unwrap();
    assert!(
        report.starts_with("https://checks.vendor.example/r/order-"),
        "{report}"
    );
    browser.screenshot("sim-greenhouse-result").await;
    assert!(sim.response_errors().is_empty());
    browser.close().await;
}
