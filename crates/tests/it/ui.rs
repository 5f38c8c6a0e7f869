//! The web UI in a real browser (headless Debian Chromium): the employer's
//! connect page and the vendor's dashboard. Every test saves screenshots
//! under test-output/screenshots/.

use screenhub_tests::browser::Browser;
use screenhub_tests::{Ashby, TestHub, World};
use serde_json::json;

/// An account that is not connected yet, pointed at the Ashby simulator,
/// and a fresh connect link for it.
async fn unconnected_account(hub: &TestHub, ashby: &Ashby) -> (String, String) {
    let (status, account) = hub
        .post(
            "/v1/accounts",
            json!({"name": "Acme Robotics", "ats": "ashby", "ats_api_base_url": ashby.url}),
        )
        .await;
    assert_eq!(status, 201, "{account}");
    let id = account["id"].as_str().unwrap().to_owned();
    let (status, link) = hub
        .post("/v1/connect-sessions", json!({"account_id": id}))
        .await;
    assert_eq!(status, 201, "{link}");
    let url = link["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("{}/connect/shc_", hub.url())),
        "{url}"
    );
    (id, url)
}

async fn sign_in(browser: &Browser, hub: &TestHub) {
    browser.open(&format!("{}/dashboard", hub.url())).await;
    // Not signed in: the dashboard sends you to sign in.
    assert!(browser.current_url().await.ends_with("/dashboard/sign-in"));
    browser.fill("#api_key", &hub.api_key).await;
    browser.click("#sign-in").await;
    browser.wait_for_text("Overview").await;
}

#[tokio::test]
#[ignore = "needs Chromium: scripts/install-browser, then --ignored (scripts/test does)"]
async fn the_employer_connects_with_a_bad_key_then_a_good_one() {
    let browser = Browser::start().await;
    let hub = TestHub::spawn().await;
    let ashby = Ashby::start().await;
    let (account_id, link) = unconnected_account(&hub, &ashby).await;
    let token = hub
        .store()
        .reveal_account_token(&account_id.parse().unwrap())
        .await
        .unwrap();

    browser.open(&link).await;
    browser.wait_for_text("Connect Acme Robotics").await;
    assert_eq!(browser.text("#trigger-token").await, token);
    assert_eq!(browser.text("#partner-url").await, hub.partner_base_url());
    assert!(browser.text("#connection-status").await.contains("Waiting"));
    let page = browser.page_text().await;
    for step in [
        "Show unlaunched integrations",
        "API Key",
        "Create New API Key",
        "shows it only once",
        // Every permission the key needs, in Ashby's words (apiKey.info needs the first).
        "API Keys → Read",
        "Candidates → Read",
        "Candidates → Write",
    ] {
        assert!(page.contains(step), "the steps mention `{step}`");
    }
    browser.screenshot("connect-page").await;

    // A key Ashby does not know.
    browser.fill("#api_key", "not-a-real-key").await;
    browser.click("#verify").await;
    browser.wait_for_text("That key did not work").await;
    assert!(browser
        .text("#connect-error")
        .await
        .contains("Ashby rejected this API key"));
    browser.screenshot("connect-bad-key").await;

    // A real key with what the old instructions asked for, but not API Keys → Read:
    // Ashby refuses it apiKey.info, and the page says which permission to add.
    let weak = ashby.key_with(&["candidatesRead", "candidatesWrite"]);
    browser.fill("#api_key", &weak).await;
    browser.click("#verify").await;
    browser
        .wait_for_text("lacks the API Keys → Read permission")
        .await;
    let (_, account) = hub.get(&format!("/v1/accounts/{account_id}")).await;
    assert_eq!(
        account["status"], "pending",
        "a rejected key changes nothing"
    );
    browser.screenshot("connect-key-lacks-permission").await;

    browser.fill("#api_key", &ashby.key()).await;
    browser.click("#verify").await;
    browser.wait_for_text("Connected.").await;
    assert!(
        browser.page_text().await.contains("New Activity"),
        "says what to do next in Ashby"
    );
    browser.screenshot("connect-success").await;
    let (_, account) = hub.get(&format!("/v1/accounts/{account_id}")).await;
    assert_eq!(account["status"], "active");

    // The link is used up; it says so and shows nothing of the account.
    let res = reqwest::get(&link).await.unwrap();
    assert_eq!(res.status(), 410);
    let body = res.text().await.unwrap();
    assert!(body.contains("already been used"));
    assert!(!body.contains("Acme") && !body.contains(&token));
    browser.open(&link).await;
    browser.screenshot("connect-link-used").await;
    browser.close().await;
}

#[tokio::test]
async fn expired_and_unknown_connect_links_leak_nothing() {
    let hub = TestHub::spawn().await;
    let ashby = Ashby::start().await;
    let (account_id, _) = unconnected_account(&hub, &ashby).await;
    let now = hub.hub.state.now();
    let (_, token) = hub
        .store()
        .create_connect_session(&account_id.parse().unwrap(), now - 1, now - 1000)
        .await
        .unwrap();
    let res = reqwest::get(format!("{}/connect/{token}", hub.url()))
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    let body = res.text().await.unwrap();
    assert!(body.contains("This link has expired") && !body.contains("Acme"));
    let res = reqwest::get(format!("{}/connect/shc_nope", hub.url()))
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("This link is not valid"));
    // The API validates what it is given.
    let (status, body) = hub
        .post(
            "/v1/connect-sessions",
            json!({"account_id": account_id, "expires_in": 5}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = hub
        .post(
            "/v1/connect-sessions",
            json!({"account_id": "acct_01JAAAAAAAAAAAAAAAAAAAAAAA"}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
#[ignore = "needs Chromium: scripts/install-browser, then --ignored (scripts/test does)"]
async fn the_vendor_finds_an_order_by_email_and_reads_its_timeline() {
    let browser = Browser::start().await;
    let w = World::new().await;
    w.start("someone.else@example.com").await;
    let id = w.start("findme@example.com").await;
    let (status, body) = w
        .hub
        .post(
            &format!("/v1/orders/{id}/status"),
            json!({"status": "in_progress", "label": "Invited"}),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    sign_in(&browser, &w.hub).await;
    browser.screenshot("dashboard-overview").await;
    assert_eq!(browser.text("#orders-today").await, "2");

    browser.click("nav a[href='/dashboard/orders']").await;
    browser.fill("#email", "findme@example.com").await;
    browser.click("#filter").await;
    browser.wait_for_text("findme@example.com").await;
    let rows = browser
        .client()
        .find_all(fantoccini::Locator::Css("#orders tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "only the order with that email");
    browser.screenshot("dashboard-orders-search").await;

    browser.click("#orders tbody tr a").await;
    browser.wait_for_text("Timeline").await;
    let timeline = browser.text("#timeline").await;
    assert!(timeline.contains("order.created"), "{timeline}");
    assert!(
        timeline.contains("UTC"),
        "every event has its time: {timeline}"
    );
    assert!(timeline.contains("Invited"), "{timeline}");
    assert!(browser
        .text("#order-deliveries")
        .await
        .contains("order.created"));
    browser.screenshot("dashboard-order-timeline").await;
    assert!(
        browser.text(".props").await.contains("Invited"),
        "progress while in progress"
    );

    // Completed: the result reads as the ATS card shows it, and the progress
    // the vendor reported before is gone.
    let (status, body) = w
        .hub
        .put(
            &format!("/v1/orders/{id}/result"),
            json!({
                "outcome": "review",
                "report_url": "https://vendor.example/reports/42",
                "summary": "One record to review",
                "score": {"value": 87, "max": 100},
                "screenings": [
                    {"name": "Identity", "outcome": "pass"},
                    {"name": "Criminal (county)", "outcome": "review", "detail": "1 record"}
                ]
            }),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    let order_url = browser.current_url().await;
    browser.open(&order_url).await;
    let result = browser.text("#order-result").await;
    for shown in [
        "Needs review",
        "https://vendor.example/reports/42",
        "87 / 100",
        "One record to review",
        "Identity",
        "Pass",
        "Criminal (county)",
        "1 record",
    ] {
        assert!(result.contains(shown), "{shown} in {result}");
    }
    assert!(!result.contains('{'), "not raw JSON: {result}");
    let props = browser.text(".props").await;
    assert!(!props.contains("Progress"), "no stale progress: {props}");
    browser.screenshot("dashboard-order-result").await;
    browser.close().await;
}

#[tokio::test]
#[ignore = "needs Chromium: scripts/install-browser, then --ignored (scripts/test does)"]
async fn the_vendor_retries_a_dead_delivery_and_sees_it_succeed() {
    let browser = Browser::start().await;
    let w = World::new().await;
    w.receiver.fail_next(100);
    let id = w.start("dead@example.com").await;
    w.hub
        .wait_for(
            &format!("/v1/deliveries?order_id={id}&target=vendor"),
            10,
            |l| l["data"][0]["state"] == "dead",
        )
        .await;
    w.receiver.fail_next(0);
    sign_in(&browser, &w.hub).await;
    assert_eq!(browser.text("#deliveries-failing").await, "1");
    browser.click("nav a[href='/dashboard/deliveries']").await;
    assert!(browser.text("#troubled").await.contains("dead"));
    browser.screenshot("dashboard-deliveries-dead").await;
    browser.click("#troubled tbody tr a").await;
    assert_eq!(browser.text("#delivery-state").await, "dead");
    assert_eq!(
        browser
            .client()
            .find_all(fantoccini::Locator::Css("#attempts tbody tr"))
            .await
            .unwrap()
            .len(),
        4
    );
    assert!(browser.text("#attempts").await.contains("500"));
    browser.click("#retry").await;
    browser.wait_for_text("Queued for another attempt").await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while browser.text("#delivery-state").await != "succeeded" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the retried delivery never succeeded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        browser.client().refresh().await.unwrap();
    }
    assert!(browser.text("#attempts").await.contains("204"));
    assert_eq!(w.receiver.of_type("order.created").len(), 1);
    browser.screenshot("dashboard-delivery-retried").await;
    browser.close().await;
}

#[tokio::test]
#[ignore = "needs Chromium: scripts/install-browser, then --ignored (scripts/test does)"]
async fn the_vendor_rotates_a_token() {
    let browser = Browser::start().await;
    let w = World::new().await;
    sign_in(&browser, &w.hub).await;
    browser.click("nav a[href='/dashboard/accounts']").await;
    browser.wait_for_text("Acme").await;
    browser.screenshot("dashboard-accounts").await;
    browser.click("button.rotate").await;
    browser.wait_for_text("New External Trigger Token").await;
    let new_token = browser.text("#secret-value").await;
    assert!(new_token.starts_with("sht_") && new_token != w.token);
    browser.screenshot("dashboard-token-rotated").await;
    let (status, _) = w.hub.ats(&w.token, "assessment.list", json!({})).await;
    assert_eq!(status, 401, "the old token stopped working");
    let (status, _) = w.hub.ats(&new_token, "assessment.list", json!({})).await;
    assert_eq!(status, 200, "the new one works");
    browser.close().await;
}

#[tokio::test]
#[ignore = "needs Chromium: scripts/install-browser, then --ignored (scripts/test does)"]
async fn a_forged_form_is_rejected_and_signing_out_ends_the_session() {
    let browser = Browser::start().await;
    let w = World::new().await;
    sign_in(&browser, &w.hub).await;
    // A form the dashboard did not make: right cookie, wrong CSRF token.
    browser
        .client()
        .execute(
            "const f = document.createElement('form'); f.method = 'post'; f.action = arguments[0];
             const i = document.createElement('input'); i.name = 'csrf'; i.value = 'forged'; f.appendChild(i);
             document.body.appendChild(f); f.submit();",
            vec![json!(format!("/dashboard/accounts/{}/disable", w.account_id))],
        )
        .await
        .unwrap();
    browser.wait_for_text("This form was rejected").await;
    browser.screenshot("dashboard-csrf-rejected").await;
    let (_, account) = w.hub.get(&format!("/v1/accounts/{}", w.account_id)).await;
    assert_eq!(
        account["status"], "active",
        "the forged post changed nothing"
    );
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!(
            "{}/dashboard/accounts/{}/disable",
            w.hub.url(),
            w.account_id
        ))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        303,
        "without the session cookie: off to sign-in"
    );

    browser.open(&format!("{}/dashboard", w.hub.url())).await;
    browser.click("#sign-out").await;
    browser.wait_for_text("You have signed out").await;
    browser.screenshot("dashboard-signed-out").await;
    browser
        .open(&format!("{}/dashboard/orders", w.hub.url()))
        .await;
    assert!(browser.current_url().await.ends_with("/dashboard/sign-in"));
    browser.close().await;
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_scoped() {
    let hub = TestHub::spawn().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .post(format!("{}/dashboard/sign-in", hub.url()))
        .form(&[("api_key", "shk_wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains("not valid"));
    let res = client
        .post(format!("{}/dashboard/sign-in", hub.url()))
        .form(&[("api_key", hub.api_key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("screenhub_session=shs_"), "{cookie}");
    for part in ["HttpOnly", "SameSite=Lax", "Path=/dashboard"] {
        assert!(cookie.contains(part), "{cookie} has {part}");
    }
    assert!(!cookie.contains("Secure"), "plain http public URL");
    assert!(
        cookie.contains("Max-Age=43200"),
        "12 hours by default: {cookie}"
    );

    // The session lasts as long as `dashboard_session_hours` says.
    let short = TestHub::spawn_with(|c| c.dashboard_session_hours = 1).await;
    let res = client
        .post(format!("{}/dashboard/sign-in", short.url()))
        .form(&[("api_key", short.api_key.as_str())])
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Max-Age=3600"), "{cookie}");
    let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    let session = short
        .store()
        .find_dashboard_session(value, short.hub.state.now())
        .await
        .unwrap()
        .expect("a live session");
    let hour = 3_600_000;
    let left = session.expires_at - short.hub.state.now();
    assert!(left > hour - 60_000 && left <= hour, "{left} ms left");
}

/// The audit log's newest entry with this action.
async fn audited(hub: &TestHub, action: &str) -> serde_json::Value {
    let (status, log) = hub.get("/v1/audit-log?limit=100").await;
    assert_eq!(status, 200, "{log}");
    log["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == action)
        .unwrap_or_else(|| panic!("no {action} in {log}"))
        .clone()
}

#[tokio::test]
#[ignore = "needs Chromium: scripts/install-browser, then --ignored (scripts/test does)"]
async fn the_vendor_edits_and_creates_packages() {
    let browser = Browser::start().await;
    let w = World::new().await;
    sign_in(&browser, &w.hub).await;
    browser.click("nav a[href='/dashboard/packages']").await;
    browser
        .click("#packages tr[data-package='basic'] a.edit")
        .await;
    browser.wait_for_text("Edit package").await;
    assert_eq!(
        browser.attr("#name", "value").await.unwrap(),
        "Basic background check",
        "the form opens with what is stored"
    );
    browser.fill("#name", "Standard background check").await;
    browser
        .fill("#description", "Identity, criminal and employment")
        .await;
    browser
        .fill("#screenings", "Identity\nCriminal\n\nEmployment history")
        .await;
    browser.click("#offered-some").await;
    browser
        .click(&format!("#account_ids option[value='{}']", w.account_id))
        .await;
    browser.click("#active").await;
    browser.screenshot("dashboard-package-edit").await;
    browser.click("#save").await;
    browser.wait_for_text("Package `basic` saved.").await;

    // The vendor API sees the change: the same store, the same rules.
    let (status, p) = w.hub.get("/v1/packages/basic").await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["name"], "Standard background check");
    assert_eq!(p["description"], "Identity, criminal and employment");
    assert_eq!(
        p["screenings"],
        json!(["Identity", "Criminal", "Employment history"])
    );
    assert_eq!(p["account_ids"], json!([w.account_id]));
    assert_eq!(p["active"], false);
    let entry = audited(&w.hub, "package.updated").await;
    assert!(
        entry["actor"]
            .as_str()
            .unwrap()
            .starts_with("dashboard:key_"),
        "{entry}"
    );
    assert_eq!(entry["target_id"], "basic");

    // A new package whose id is taken comes back with the reason and what was typed.
    browser.click("#new-package").await;
    browser.fill("#id", "coding").await;
    browser.fill("#name", "Take-home exercise").await;
    browser.click("#save").await;
    browser.wait_for_text("already exists").await;
    assert!(browser
        .text("#form-error")
        .await
        .contains("a package with id `coding` already exists"));
    assert_eq!(
        browser.attr("#name", "value").await.unwrap(),
        "Take-home exercise"
    );
    browser.screenshot("dashboard-package-error").await;
    browser.fill("#id", "take-home").await;
    browser.click("#save").await;
    browser.wait_for_text("Package `take-home` saved.").await;
    let (status, p) = w.hub.get("/v1/packages/take-home").await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(
        (p["name"].as_str(), p["active"].as_bool()),
        (Some("Take-home exercise"), Some(true))
    );
    assert!(p["account_ids"].is_null(), "offered to every account: {p}");
    audited(&w.hub, "package.created").await;
    browser.close().await;
}

#[tokio::test]
#[ignore = "needs Chromium: scripts/install-browser, then --ignored (scripts/test does)"]
async fn the_vendor_adds_a_webhook_endpoint_and_sees_its_secret_once() {
    let browser = Browser::start().await;
    let w = World::new().await;
    sign_in(&browser, &w.hub).await;
    browser.click("nav a[href='/dashboard/endpoints']").await;
    browser.click("#new-endpoint").await;
    browser.wait_for_text("New webhook endpoint").await;

    // A URL the API would refuse is refused here too, with the reason.
    browser
        .fill("#url", "ftp://hooks.example.com/screenhub")
        .await;
    browser.fill("#description", "Our ATS bridge").await;
    browser.click("#save").await;
    browser.wait_for_text("must use http or https").await;
    assert!(
        browser.text("#form-error").await.contains("url:"),
        "names the field"
    );
    assert_eq!(
        browser.attr("#description", "value").await.unwrap(),
        "Our ATS bridge",
        "what was typed is kept"
    );
    browser.screenshot("dashboard-endpoint-invalid-url").await;

    browser
        .fill("#url", "https://hooks.example.com/screenhub")
        .await;
    browser.click("#events-some").await;
    browser
        .click("input[name=events][value='order.created']")
        .await;
    browser.click("#save").await;
    browser.wait_for_text("Webhook endpoint created").await;
    let secret = browser.text("#secret-value").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    browser.screenshot("dashboard-endpoint-created").await;

    let (_, list) = w.hub.get("/v1/webhook-endpoints").await;
    let created = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["url"] == "https://hooks.example.com/screenhub")
        .unwrap_or_else(|| panic!("{list}"))
        .clone();
    assert_eq!(created["events"], json!(["order.created"]));
    assert_eq!(created["description"], "Our ATS bridge");
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        audited(&w.hub, "webhook_endpoint.created").await["target_id"],
        id
    );

    // Shown once: neither the list nor the endpoint's page shows it again.
    browser.click("a[href='/dashboard/endpoints']").await;
    browser.wait_for_text("hooks.example.com").await;
    let source = browser.client().source().await.unwrap();
    assert!(!source.contains(&secret));
    browser
        .click(&format!("#endpoints tr[data-endpoint='{id}'] a.edit"))
        .await;
    browser.wait_for_text("Signing secret").await;
    assert!(!browser.client().source().await.unwrap().contains(&secret));

    // Edit: description, no longer enabled.
    browser.fill("#description", "Paused for maintenance").await;
    browser.click("#enabled").await;
    browser.click("#save").await;
    browser.wait_for_text("saved.").await;
    let (_, e) = w.hub.get(&format!("/v1/webhook-endpoints/{id}")).await;
    assert_eq!(
        (e["description"].as_str(), e["disabled"].as_bool()),
        (Some("Paused for maintenance"), Some(true)),
        "{e}"
    );

    // Rotate its secret: a new one, shown once.
    browser
        .click(&format!("#endpoints tr[data-endpoint='{id}'] a.edit"))
        .await;
    browser.click("#rotate-secret").await;
    browser.wait_for_text("New signing secret").await;
    let rotated = browser.text("#secret-value").await;
    assert!(rotated.starts_with("whsec_") && rotated != secret);
    assert!(browser
        .page_text()
        .await
        .contains("old secret keeps working until"));
    audited(&w.hub, "webhook_endpoint.secret_rotated").await;
    browser.close().await;
}

#[tokio::test]
async fn package_and_endpoint_forms_refuse_forged_posts_and_bad_input_without_a_browser() {
    let w = World::new().await;
    let (client, cookie) = w.hub.dashboard_session().await;
    let page = client
        .get(format!("{}/dashboard/packages/new", w.hub.url()))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let post = |path: &str, form: Vec<(&str, &str)>| {
        client
            .post(format!("{}{path}", w.hub.url()))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    let res = post(
        "/dashboard/packages/basic/edit",
        vec![("csrf", "forged"), ("kind", "assessment"), ("name", "X")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 403);
    let (_, p) = w.hub.get("/v1/packages/basic").await;
    assert_eq!(p["name"], "Basic background check", "nothing changed");

    // Bad input is a 422 with the API's own words, never a 500.
    for (form, says) in [
        (
            vec![("csrf", csrf.as_str()), ("kind", "nonsense"), ("name", "X")],
            "kind must be",
        ),
        (
            vec![
                ("csrf", csrf.as_str()),
                ("kind", "assessment"),
                ("name", " "),
            ],
            "name must be 1–200 characters",
        ),
        (
            vec![
                ("csrf", csrf.as_str()),
                ("kind", "assessment"),
                ("name", "X"),
                ("offered_to", "some"),
                ("account_ids", "acct_01JAAAAAAAAAAAAAAAAAAAAAAA"),
            ],
            "there is no account",
        ),
    ] {
        let res = post("/dashboard/packages/basic/edit", form).await.unwrap();
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains(says), "{says}");
    }
    let res = post(
        "/dashboard/endpoints/new",
        vec![
            ("csrf", csrf.as_str()),
            ("url", "https://hooks.example.com/x"),
            ("events_scope", "some"),
            ("events", "order.created"),
            ("events", "no.such.event"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("`no.such.event` is not a webhook event type"));
    let res = post(
        "/dashboard/endpoints/ep_nope/rotate-secret",
        vec![("csrf", csrf.as_str())],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 404);
}

/// The link of the page's pager to the next (older) page, if there is one.
fn next_href(html: &str) -> Option<String> {
    let pager = &html[html.find("<div class=\"pager\">")?..];
    let arrow = pager.find("→</a>")?;
    let start = pager[..arrow].rfind("href=\"")? + "href=\"".len();
    let href = &pager[start..];
    Some(href[..href.find('"')?].replace("&amp;", "&"))
}

#[tokio::test]
async fn every_dashboard_list_pages() {
    let w = World::new().await;
    let store = w.hub.store();
    let now = w.hub.hub.state.now();
    let account: screenhub_core::AccountId = w.account_id.parse().unwrap();
    let orders: Vec<_> = (0..55)
        .map(|i| screenhub_store::NewOrder {
            id: screenhub_core::OrderId::generate(),
            account_id: account.clone(),
            package_id: "basic".into(),
            package_name: "Basic background check".into(),
            candidate_ats_id: format!("cand-{i}"),
            candidate_email: format!("c{i}@example.com"),
            application_ats_id: format!("app-{i}"),
            application_status: "Active".into(),
            job_ats_id: "job-1".into(),
            job_name: "Engineer".into(),
            job_req_id: None,
            ats_payload: json!({}),
            ats: screenhub_core::account::Ats::Ashby,
            intake: Default::default(),
            dedupe_key: None,
            created_at: now - 1000 + i,
        })
        .collect();
    store.bulk_insert_orders(&orders).await.unwrap();
    for i in 0..55 {
        store
            .create_account(
                screenhub_store::NewAccount {
                    name: format!("Employer {i}"),
                    ats_api_base_url: "http://127.0.0.1:1".into(),
                    ..Default::default()
                },
                now,
            )
            .await
            .unwrap();
        store
            .create_endpoint(&format!("https://hooks.example.com/{i}"), "", None, now)
            .await
            .unwrap();
    }
    let many: Vec<_> = (0..55)
        .map(|i| json!({"id": format!("p{i:02}"), "kind": "assessment", "name": format!("Package {i}")}))
        .collect();
    let (status, _) = w.hub.put("/v1/packages", json!(many)).await;
    assert_eq!(status, 200);

    let (client, cookie) = w.hub.dashboard_session().await;
    // (list, what marks one of its rows, how many there are in all)
    for (list, row, total) in [
        ("/dashboard/orders", "data-order=", 55),
        ("/dashboard/accounts", "data-account=", 56),
        ("/dashboard/packages", "data-package=", 55),
        ("/dashboard/endpoints", "data-endpoint=", 56),
    ] {
        let mut seen = 0;
        let mut pages = 0;
        let mut next = Some(list.to_owned());
        while let Some(path) = next {
            let res = client
                .get(format!("{}{path}", w.hub.url()))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{path}");
            let html = res.text().await.unwrap();
            let rows = html.matches(row).count();
            assert!(rows <= 50, "{path} shows {rows} rows");
            seen += rows;
            pages += 1;
            next = next_href(&html);
        }
        assert_eq!((seen, pages), (total, 2), "{list}");
    }
}

/// The sign-in page's advice writes a key into this hub's own database, not
/// into a `screenhub-data` wherever the reader's shell stands.
#[tokio::test]
async fn the_sign_in_page_says_how_to_make_a_key_for_this_hub() {
    let hub = screenhub_tests::TestHub::spawn().await;
    let page = hub
        .http
        .get(format!("{}/dashboard/sign-in", hub.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let expected = if screenhub_tests::on_postgres() {
        "--database-url".to_owned()
    } else {
        format!(
            "--data-dir {}",
            screenhub::app::absolute(&hub.config.data_dir).display()
        )
    };
    assert!(page.contains("screenhub keys create"), "{page}");
    assert!(page.contains(&expected), "{expected} in {page}");
}
