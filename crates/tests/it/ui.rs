//! The web UI in a real browser (headless Debian Chromium): the employer's
//! connect page and the vendor's dashboard. Every test saves screenshots
//! under test-output/screenshots/.

use screenhub_tests::browser::Browser;
use screenhub_tests::TestHub;

#[tokio::test]
async fn the_browser_harness_opens_a_hub_page() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let hub = TestHub::spawn().await;
    browser.open(&format!("{}/openapi.json", hub.url())).await;
    browser.wait_for_text("openapi").await;
    let shot = browser.screenshot("harness-openapi").await;
    assert!(std::fs::metadata(shot).unwrap().len() > 1000);
    browser.close().await;
}
