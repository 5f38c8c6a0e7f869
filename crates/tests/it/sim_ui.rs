//! The Ashby simulator's pages in a real browser, as an Ashby user walks them:
//! enable the integration, add the assessment activity, start it, see it
//! pending with the time it was sent, then the result with its Full Report.

use std::time::Duration;

use screenhub::demo::{Demo, DemoSetup};
use screenhub::sim::vendor::{OutcomePolicy, Scenario, CATALOG};
use screenhub_tests::browser::Browser;

#[tokio::test]
#[ignore = "needs Chromium: scripts/install-browser, then --ignored (scripts/test does)"]
async fn a_recruiter_runs_an_assessment_from_the_simulated_ashby() {
    let browser = Browser::start().await;
    let any = "127.0.0.1:0".parse().unwrap();
    let demo = Demo::start(DemoSetup {
        hub_listen: any,
        ashby_listen: any,
        vendor_listen: any,
        greenhouse_listen: any,
        // Long enough to see "pending", short enough for a test.
        progress_after: Duration::from_millis(1_500),
        complete_after: Duration::from_millis(1_500),
        retry_schedule_ms: Some(vec![0, 50, 100]),
        seed: Some(3),
        // Every package passes, so the card (and the README's screenshot) shows a clear result.
        vendor_policy: OutcomePolicy {
            per_package: CATALOG
                .iter()
                .map(|c| (c.id.to_owned(), Scenario::Pass))
                .collect(),
        },
        enable_ashby_integration: false,
        ..DemoSetup::default()
    })
    .await
    .unwrap();
    // The hub side is linked (account, verified key, packages, vendor); the
    // Ashby side is left to the admin, in the browser.
    let sim = &demo.ashby;
    let base = &demo.ashby_url;

    // 1. Admin → Integrations: show unlaunched integrations, enable with the
    //    token, create an Ashby API key (shown once).
    browser.open(&format!("{base}/admin/integrations")).await;
    browser.click("#show-unlaunched").await;
    let partner_url = demo.hub.state.ats_partner_base_url();
    let token = demo.token.clone();
    browser.fill("#base_url", &partner_url).await;
    browser.fill("#api_key", &token).await;
    browser.click("#enable").await;
    browser.wait_for_text("Saved.").await;
    assert_eq!(browser.text("#integration-status").await, "Enabled");
    browser.click("#create-api-key").await;
    let key = browser.text("#new-api-key").await;
    assert!(key.len() >= 40, "a fresh key: {key}");
    browser.screenshot("sim-integrations").await;
    // Shown once: reloading the page does not show it again.
    browser.open(&format!("{base}/admin/integrations")).await;
    assert!(!browser.exists("#new-api-key").await);

    // 2. The job, with candidates in pipeline stages.
    browser.open(&format!("{base}/")).await;
    assert_eq!(browser.text(".stage h3").await, "APPLICATION REVIEW · 2");
    browser.screenshot("sim-job").await;
    browser.click(".candidate-link").await;
    let name = browser.text("#candidate-name").await;

    // 3. New Activity → Assessment → Assessment Type (from assessment.list) → Add Activity.
    browser.click("#new-activity").await;
    browser.wait_for_text("Coding assessment").await;
    let options = browser.text("#assessment_type_id").await;
    assert!(options.contains("Standard background check"), "{options}");
    browser.click("#add-activity").await;

    // 4. Start Assessment → the confirmation, where the type can be changed → Start.
    browser.click("#start-assessment").await;
    browser
        .wait_for_text(&format!("Start assessment for {name}?"))
        .await;
    browser.click("#confirm-start").await;

    // 5. Pending, with the date and time it was sent…
    assert_eq!(browser.text("#activity-0-state").await, "pending");
    let sent = browser.text("#activity-0-sent").await;
    assert!(
        sent.contains(" at ") && sent.ends_with("UTC"),
        "sent time: {sent}"
    );
    browser.wait_for_text("Pending").await;
    browser.screenshot("sim-activity-pending").await;

    // …then the result, with the Full Report link (the page refreshes itself).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !browser.exists("#full-report").await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no result: {}",
            browser.page_text().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        browser.open(&browser.current_url().await).await;
    }
    assert_eq!(browser.text("#activity-0-state").await, "completed");
    assert_eq!(browser.text("#activity-0-result").await, "Pass");
    let report = browser.attr("#full-report", "href").await.unwrap();
    let id = sim.assessments()[0].assessment_id.clone();
    assert_eq!(report, format!("{}/reports/{id}", demo.vendor.url()));
    browser.screenshot("sim-activity-card").await;

    // The Full Report opens the vendor's report page.
    browser.open(&report).await;
    browser.wait_for_text("Result:").await;
    browser.screenshot("vendor-report").await;
    browser.close().await;
    demo.stop().await.unwrap();
}
