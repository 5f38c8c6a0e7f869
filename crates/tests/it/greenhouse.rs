//! Greenhouse end to end: the hub against `screenhub sim greenhouse` (the
//! strict simulator, in process, over real HTTP), the vendor driving orders
//! through the vendor API. Runs on PostgreSQL too (SCREENHUB_TEST_BACKEND).

use reqwest::StatusCode;
use screenhub::sim::greenhouse::{
    Faults, GreenhouseSim, NewCandidate, NewOrg, PartnerSettings, SendOptions, SimConfig,
};
use screenhub_tests::TestHub;
use serde_json::{json, Value};

const PATCH_USER: &str = "partner-user";
const PATCH_PASSWORD: &str = "partner-secret";

/// A hub set up for Greenhouse, the simulator, and one organisation linked
/// to one account.
struct GhWorld {
    hub: TestHub,
    sim: GreenhouseSim,
    org: String,
    account_id: String,
    token: String,
}

impl GhWorld {
    async fn new() -> Self {
        let hub = TestHub::spawn_with(|c| {
            c.greenhouse_patch_hosts = vec!["127.0.0.1".into()];
            c.greenhouse_patch_username = PATCH_USER.into();
            c.greenhouse_patch_password = PATCH_PASSWORD.into();
        })
        .await;
        let (status, packages) = hub
            .put(
                "/v1/packages",
                json!([
                    {"id": "bg-standard-us", "kind": "background_check", "name": "Standard background check (US)",
                     "description": "Identity and criminal", "screenings": ["Identity", "Criminal (county)"]},
                    {"id": "coding", "kind": "assessment", "name": "Coding assessment"}
                ]),
            )
            .await;
        assert_eq!(status, 200, "{packages}");
        let sim = GreenhouseSim::with_seed(
            SimConfig {
                clock_speed: 0.0,
                ..Default::default()
            },
            7,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        tokio::spawn(screenhub::sim::greenhouse::serve(listener, sim.clone()));
        let mut w = Self {
            hub,
            sim,
            org: String::new(),
            account_id: String::new(),
            token: String::new(),
        };
        let base = format!("{}/ats/greenhouse", w.hub.url());
        w.sim
            .set_partner(PartnerSettings::new(
                base,
                PATCH_USER.into(),
                PATCH_PASSWORD.into(),
            ))
            .unwrap();
        let (account_id, token, org) = w.link("Acme").await;
        w.account_id = account_id;
        w.token = token;
        w.org = org;
        w
    }

    /// A new Greenhouse account and the organisation that uses its token;
    /// the recruiter has added the partner stage with the standard check.
    async fn link(&self, name: &str) -> (String, String, String) {
        let (status, created) = self
            .hub
            .post("/v1/accounts", json!({"name": name, "ats": "greenhouse"}))
            .await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["ats"], "greenhouse");
        assert_eq!(created["status"], "pending", "{created}");
        assert!(created["first_ats_call_at"].is_null());
        assert_eq!(
            created["ats_partner_base_url"],
            format!("{}/ats/greenhouse", self.hub.url())
        );
        let token = created["external_trigger_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(token.len() <= 170);
        let org = self
            .sim
            .create_org(NewOrg {
                name: name.into(),
                key: token.clone(),
                job_name: None,
            })
            .unwrap();
        let listed = self.sim.list_tests(&org.id).await.unwrap();
        assert!(
            listed
                .tests
                .iter()
                .any(|t| t.partner_test_id == "bg-standard-us"),
            "{listed:?}"
        );
        self.sim.set_stage(&org.id, "bg-standard-us").await.unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        (id, token, org.id)
    }

    /// A recruiter clicks Send Test for a new candidate: the order's id.
    async fn send(&self, org: &str) -> (String, u64) {
        let candidate = self
            .sim
            .add_candidate(
                org,
                NewCandidate {
                    preferred_name: Some("Addie".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        let interview = self
            .sim
            .send_test(candidate.id, SendOptions::default())
            .await
            .unwrap();
        let id = interview
            .partner_interview_id
            .clone()
            .unwrap_or_else(|| panic!("send_test failed: {:?}", interview.send_error));
        (id, interview.take_home_test_id)
    }

    async fn frozen(&self, take_home: u64) -> Value {
        let mut last = None;
        for _ in 0..250 {
            let interview = self.sim.interview(take_home).unwrap();
            if let Some(frozen) = &interview.frozen {
                return serde_json::to_value(frozen).unwrap();
            }
            last = Some(interview);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the result never froze in Greenhouse: {last:?}");
    }

    async fn test_status(&self, token: &str, id: &str) -> (StatusCode, Value) {
        let res = self
            .hub
            .http
            .get(format!("{}/ats/greenhouse/test_status", self.hub.url()))
            .query(&[("partner_interview_id", id)])
            .basic_auth(token, None::<&str>)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

fn metadata(frozen: &Value) -> serde_json::Map<String, Value> {
    frozen["metadata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row[0].as_str().unwrap().to_owned(), row[1].clone()))
        .collect()
}

#[tokio::test]
async fn a_greenhouse_test_goes_from_send_to_a_frozen_score() {
    let w = GhWorld::new().await;
    // Greenhouse's first call made the account active, and it shows.
    let (_, account) = w.hub.get(&format!("/v1/accounts/{}", w.account_id)).await;
    assert_eq!(account["status"], "active", "{account}");
    assert!(account["first_ats_call_at"].is_string(), "{account}");

    let (id, take_home) = w.send(&w.org).await;
    let (_, order) = w.hub.get(&format!("/v1/orders/{id}")).await;
    assert_eq!(order["ats"], "greenhouse", "{order}");
    assert!(order["job"].is_null(), "Greenhouse sends no job: {order}");
    assert_eq!(order["candidate"]["preferred_name"], "Addie");
    assert!(order["candidate"]["email"].as_str().unwrap().contains('@'));
    assert!(order["candidate"]["ats_id"].is_string(), "{order}");
    assert!(
        order["candidate"]["ats_application_id"].is_string(),
        "{order}"
    );
    assert!(order["candidate"]["profile_url"]
        .as_str()
        .unwrap()
        .contains("/people/"));
    assert!(order["ats_details"]["patch_url"]
        .as_str()
        .unwrap()
        .contains("/take_home_tests/"));
    assert!(order["ats_details"]["sent_by"].is_string(), "{order}");

    // Not complete while pending or in progress; no writes needed to answer.
    let (status, answer) = w.test_status(&w.token, &id).await;
    assert_eq!(status, 200);
    assert_eq!(answer, json!({"partner_status": "sent"}));
    w.hub
        .post(
            &format!("/v1/orders/{id}/status"),
            json!({"status": "in_progress", "label": "Invited"}),
        )
        .await;
    let (_, answer) = w.test_status(&w.token, &id).await;
    assert_eq!(answer, json!({"partner_status": "in_progress"}));

    let report = format!("{}/healthz", w.hub.url());
    let (status, body) = w
        .hub
        .put(
            &format!("/v1/orders/{id}/result"),
            json!({"outcome": "pass", "report_url": report, "summary": "No records found",
                   "score": {"value": 92, "max": 100},
                   "screenings": [{"name": "Identity", "outcome": "pass"},
                                  {"name": "Criminal (county)", "outcome": "review", "detail": "Name match"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The doorbell rang with the partner credential, and Greenhouse read the result.
    let frozen = w.frozen(take_home).await;
    assert_eq!(frozen["partner_status"], "complete");
    assert_eq!(frozen["partner_score"], 92.0);
    assert_eq!(frozen["partner_profile_url"], report);
    let rows = metadata(&frozen);
    assert_eq!(rows["Result"], "Clear");
    assert_eq!(rows["Criminal (county)"], "Needs review (Name match)");
    // In the order the recruiter reads them, as the protocol notes show.
    let names: Vec<&str> = frozen["metadata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[0].as_str().unwrap())
        .collect();
    assert_eq!(names[..3], ["Result", "Identity", "Criminal (county)"]);
    assert_eq!(names.last(), Some(&"Completed At"), "{names:?}");
    assert!(rows["Completed At"].as_str().unwrap().ends_with('Z'));
    let patches = w.sim.patches();
    assert_eq!(patches.len(), 1, "{patches:?}");
    assert_eq!(
        serde_json::to_value(patches[0].credential).unwrap(),
        "partner"
    );
    assert!(patches[0].read_after);
    assert!(
        w.sim.response_errors().is_empty(),
        "{:?}",
        w.sim.response_errors()
    );

    // Answerable after the candidate's data is purged (8 weeks and more).
    let now = w.hub.hub.state.now();
    let purged = w.hub.store().purge_pii(now + 1, now).await.unwrap();
    assert!(purged >= 1);
    let (status, after) = w.test_status(&w.token, &id).await;
    assert_eq!(status, 200);
    assert_eq!(after["partner_status"], "complete");
    assert_eq!(after["partner_score"], 92.0);
    let (_, order) = w.hub.get(&format!("/v1/orders/{id}")).await;
    assert!(order["candidate"].is_null(), "{order}");
}

#[tokio::test]
async fn cancelled_and_failed_checks_end_in_greenhouse_without_a_score() {
    let w = GhWorld::new().await;
    let (cancelled, cancelled_th) = w.send(&w.org).await;
    let (failed, failed_th) = w.send(&w.org).await;
    let mut emails = Vec::new();
    for id in [&cancelled, &failed] {
        let (_, order) = w.hub.get(&format!("/v1/orders/{id}")).await;
        emails.push(order["candidate"]["email"].as_str().unwrap().to_owned());
        emails.push(order["candidate"]["last_name"].as_str().unwrap().to_owned());
    }
    let (status, _) = w
        .hub
        .post(
            &format!("/v1/orders/{cancelled}/cancel"),
            json!({"reason": "Candidate withdrew consent"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = w
        .hub
        .post(
            &format!("/v1/orders/{failed}/status"),
            json!({"status": "failed", "reason": "Identity could not be verified"}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    for (take_home, label, reason) in [
        (cancelled_th, "Cancelled", "Candidate withdrew consent"),
        (
            failed_th,
            "Could not be completed",
            "Identity could not be verified",
        ),
    ] {
        let frozen = w.frozen(take_home).await;
        assert_eq!(frozen["partner_status"], "complete");
        assert!(frozen["partner_score"].is_null(), "{frozen}");
        let rows = metadata(&frozen);
        assert_eq!(rows["Result"], label);
        assert_eq!(rows["Reason"], reason);
        // The report link is the hub's status page: it opens, and holds no candidate data.
        let url = frozen["partner_profile_url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("{}/status/", w.hub.url())),
            "{url}"
        );
        let page = reqwest::get(url).await.unwrap();
        assert_eq!(page.status(), 200);
        let text = page.text().await.unwrap();
        assert!(text.contains(reason), "{text}");
        for pii in &emails {
            assert!(
                !text.contains(pii.as_str()),
                "no candidate data on the status page: {pii}"
            );
        }
        // A guessed address is not a page.
        let last = if url.ends_with('0') { '1' } else { '0' };
        let forged = format!("{}{last}", &url[..url.len() - 1]);
        assert_eq!(reqwest::get(&forged).await.unwrap().status(), 404);
    }
    assert!(
        w.sim.response_errors().is_empty(),
        "{:?}",
        w.sim.response_errors()
    );
}

#[tokio::test]
async fn a_lost_send_test_reply_and_its_repeat_make_one_order() {
    let w = GhWorld::new().await;
    w.sim
        .set_faults(Faults {
            lose_send_test_replies: 1,
            ..Default::default()
        })
        .unwrap();
    let (id, take_home) = w.send(&w.org).await;
    let interview = w.sim.interview(take_home).unwrap();
    assert!(
        interview.sends >= 2,
        "the request was sent again: {interview:?}"
    );
    let (_, orders) = w.hub.get("/v1/orders").await;
    let orders = orders["data"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "one order for one click: {orders:#?}");
    assert_eq!(orders[0]["id"], id.as_str());
}

#[tokio::test]
async fn the_doorbell_is_retried_and_a_refused_credential_is_flagged() {
    let w = GhWorld::new().await;
    // 503 twice, then the PATCH goes through.
    w.sim
        .set_faults(Faults {
            patch_errors: 2,
            patch_error_status: 503,
            ..Default::default()
        })
        .unwrap();
    let (id, take_home) = w.send(&w.org).await;
    let report = format!("{}/healthz", w.hub.url());
    w.hub
        .put(
            &format!("/v1/orders/{id}/result"),
            json!({"outcome": "fail", "report_url": report}),
        )
        .await;
    let frozen = w.frozen(take_home).await;
    assert_eq!(metadata(&frozen)["Result"], "Not clear");
    let statuses: Vec<u16> = w.sim.patches().iter().map(|p| p.status).collect();
    assert_eq!(statuses, vec![503, 503, 200]);

    // A wrong per-account override: Greenhouse answers 403, the hub says so loudly.
    let (status, account) = w
        .hub
        .put(
            &format!("/v1/accounts/{}/ats-credentials", w.account_id),
            json!({"patch_username": PATCH_USER, "patch_password": "wrong"}),
        )
        .await;
    assert_eq!(status, 200, "{account}");
    let (id, take_home) = w.send(&w.org).await;
    w.hub
        .post(
            &format!("/v1/orders/{id}/cancel"),
            json!({"reason": "Duplicate"}),
        )
        .await;
    let detail = w
        .hub
        .wait_for(&format!("/v1/orders/{id}"), 10, |o| {
            o["deliveries"]
                .as_array()
                .is_some_and(|d| d.iter().any(|d| d["state"] == "failed"))
        })
        .await;
    let doorbell = detail["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["event_type"] == "greenhouse.mark_completed")
        .unwrap();
    assert_eq!(doorbell["last_status_code"], 403, "{doorbell}");
    assert!(
        doorbell["last_error"]
            .as_str()
            .unwrap()
            .contains("override"),
        "{doorbell}"
    );
    let (_, events) = w.hub.get("/v1/events?limit=100").await;
    assert!(
        events["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "ats.credential_rejected"),
        "{events:#}"
    );
    // test_status already holds the answer: a poll would find it.
    let (_, answer) = w.test_status(&w.token, &id).await;
    assert_eq!(answer["partner_status"], "complete");
    assert!(w.sim.interview(take_home).unwrap().frozen.is_none());

    // Removing the override goes back to the deployment's credential.
    let (status, _) = w
        .hub
        .put(
            &format!("/v1/accounts/{}/ats-credentials", w.account_id),
            json!({"patch_username": "", "patch_password": ""}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = w
        .hub
        .post(
            &format!("/v1/deliveries/{}/retry", doorbell["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert!(status.is_success());
    w.frozen(take_home).await;
}

#[tokio::test]
async fn greenhouse_tenants_are_isolated_and_bad_calls_are_refused_clearly() {
    let w = GhWorld::new().await;
    let (_, other_token, other_org) = w.link("Globex").await;
    let (id, _) = w.send(&w.org).await;
    let (other_id, _) = w.send(&other_org).await;
    // Each organisation reads only its own tests.
    let (status, _) = w.test_status(&other_token, &id).await;
    assert_eq!(status, 404);
    let (status, _) = w.test_status(&w.token, &other_id).await;
    assert_eq!(status, 404);
    let probe = w.sim.probe_test_status(&other_org, &id).await.unwrap();
    assert_eq!(probe.status, Some(404), "{probe:?}");
    let (status, _) = w.test_status(&w.token, "not-a-uuid").await;
    assert_eq!(status, 404);

    // 401 with an empty body, whether the key is missing or unknown.
    let url = format!("{}/ats/greenhouse/list_tests", w.hub.url());
    for req in [
        w.hub.http.get(&url),
        w.hub.http.get(&url).basic_auth("sht_unknown", None::<&str>),
    ] {
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401);
        assert!(res.text().await.unwrap().is_empty());
    }
    // An Ashby account's token is no Greenhouse key.
    let (_, ashby) = w
        .hub
        .post("/v1/accounts", json!({"name": "Ashby Co", "ats": "ashby"}))
        .await;
    let res = w
        .hub
        .http
        .get(&url)
        .basic_auth(
            ashby["external_trigger_token"].as_str().unwrap(),
            None::<&str>,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // ... and a Greenhouse token is no Ashby key.
    let res = w
        .hub
        .http
        .post(format!("{}/ats/ashby/assessment.list", w.hub.url()))
        .basic_auth(&w.token, Some(""))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // send_test refusals: clear 4xx, and on the account's timeline.
    let send = |body: Value| {
        w.hub
            .http
            .post(format!("{}/ats/greenhouse/send_test", w.hub.url()))
            .basic_auth(&w.token, None::<&str>)
            .json(&body)
            .send()
    };
    let candidate = json!({"first_name": "A", "last_name": "B", "email": "a@b.example"});
    for (body, status, code) in [
        (
            json!({"partner_test_id": "nope", "candidate": candidate, "url": null}),
            404,
            "package_not_found",
        ),
        (
            json!({"partner_test_id": "bg-standard-us", "candidate": {"email": null}}),
            422,
            "validation_failed",
        ),
        (
            json!({"partner_test_id": null, "candidate": candidate}),
            422,
            "validation_failed",
        ),
        (
            json!({"partner_test_id": "bg-standard-us", "candidate": candidate,
                "url": "https://evil.example/integrations/testing_partners/take_home_tests/1"}),
            422,
            "validation_failed",
        ),
    ] {
        let res = send(body.clone()).await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{body}");
        let answer: Value = res.json().await.unwrap();
        assert_eq!(answer["error"]["code"], code, "{answer}");
        assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
    }
    let (_, events) = w.hub.get("/v1/events?limit=100").await;
    let refused = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "ats.request_refused")
        .count();
    assert_eq!(refused, 4, "{events:#}");

    // response_error: always 200, recorded on the order (or the account).
    let post_error = |body: Value| {
        w.hub
            .http
            .post(format!("{}/ats/greenhouse/response_error", w.hub.url()))
            .basic_auth(&w.token, None::<&str>)
            .json(&body)
            .send()
    };
    let res = post_error(json!({"api_call": "test_status", "errors": ["partner_status is 'complete' but partner_profile url is missing"],
        "partner_interview_id": id, "candidate_email": "x@y.example"}))
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"status": 200}));
    // Another account's order id is recorded on this account, not on that order.
    let res = post_error(
        json!({"api_call": "send_test", "errors": ["x"], "partner_interview_id": other_id}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let (_, detail) = w.hub.get(&format!("/v1/orders/{id}")).await;
    let on_order: Vec<_> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "ats.response_error")
        .collect();
    assert_eq!(on_order.len(), 1, "{detail:#}");
    assert_eq!(on_order[0]["data"]["api_call"], "test_status");
    let (_, other) = w.hub.get(&format!("/v1/orders/{other_id}")).await;
    assert!(!other["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "ats.response_error"));
}

/// The employer's connect page and the vendor's dashboard for a Greenhouse
/// account, in a real browser: the key and Greenhouse's setup steps, no key
/// to paste back, when Greenhouse called, and a refused PATCH credential
/// flagged loudly.
#[tokio::test]
#[ignore = "needs Chromium: scripts/install-browser, then --ignored (scripts/test does)"]
async fn the_connect_page_and_dashboard_speak_greenhouse() {
    use screenhub_tests::browser::Browser;
    let browser = Browser::start().await;
    let w = GhWorld::new().await;
    // A second account Greenhouse has not called yet.
    let (_, fresh) = w
        .hub
        .post(
            "/v1/accounts",
            json!({"name": "Initech", "ats": "greenhouse"}),
        )
        .await;
    let fresh_id = fresh["id"].as_str().unwrap();
    let (status, link) = w
        .hub
        .post("/v1/connect-sessions", json!({"account_id": fresh_id}))
        .await;
    assert_eq!(status, 201, "{link}");
    browser.open(link["url"].as_str().unwrap()).await;
    browser.wait_for_text("Connect Initech's Greenhouse").await;
    assert_eq!(
        browser.text("#trigger-token").await,
        fresh["external_trigger_token"].as_str().unwrap()
    );
    assert!(browser
        .text("#connection-status")
        .await
        .contains("Waiting for Greenhouse"));
    assert!(browser
        .text("#greenhouse-calls")
        .await
        .contains("has not called yet"));
    let steps = browser.text("#greenhouse-steps").await;
    for step in [
        "Greenhouse Support",
        "SendSafely",
        "Interview Plan",
        "Send Test",
    ] {
        assert!(steps.contains(step), "the steps mention `{step}`: {steps}");
    }
    assert!(!browser.exists("#api_key").await, "no key to paste back");
    browser.screenshot("greenhouse-connect-page").await;

    // The linked account's page shows that Greenhouse has called.
    let (_, link) = w
        .hub
        .post("/v1/connect-sessions", json!({"account_id": w.account_id}))
        .await;
    browser.open(link["url"].as_str().unwrap()).await;
    browser.wait_for_text("Connect Acme's Greenhouse").await;
    assert!(browser
        .text("#connection-status")
        .await
        .contains("Connected"));
    assert!(browser
        .text("#greenhouse-calls")
        .await
        .contains("Greenhouse first called on"));

    // A refused send_test and a wrong PATCH credential show on the dashboard.
    let res = w
        .hub
        .http
        .post(format!("{}/ats/greenhouse/send_test", w.hub.url()))
        .basic_auth(&w.token, None::<&str>)
        .json(&json!({"partner_test_id": "withdrawn", "candidate": {"email": "a@b.example"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    w.hub
        .put(
            &format!("/v1/accounts/{}/ats-credentials", w.account_id),
            json!({"patch_username": PATCH_USER, "patch_password": "wrong"}),
        )
        .await;
    let (id, _) = w.send(&w.org).await;
    w.hub
        .post(
            &format!("/v1/orders/{id}/cancel"),
            json!({"reason": "Duplicate"}),
        )
        .await;
    w.hub
        .wait_for("/v1/events?limit=100", 10, |e| {
            e["data"]
                .as_array()
                .is_some_and(|d| d.iter().any(|e| e["type"] == "ats.credential_rejected"))
        })
        .await;
    browser.open(&format!("{}/dashboard", w.hub.url())).await;
    browser.fill("#api_key", &w.hub.api_key).await;
    browser.click("#sign-in").await;
    browser.wait_for_text("Overview").await;
    assert!(browser
        .text("#ats-credential-alert")
        .await
        .contains("HTTP 403"));
    browser.screenshot("greenhouse-credential-alert").await;
    browser
        .open(&format!("{}/dashboard/accounts", w.hub.url()))
        .await;
    browser.wait_for_text("Accounts").await;
    let row = browser
        .text(&format!("tr[data-account='{}']", w.account_id))
        .await;
    assert!(row.contains("Greenhouse"), "{row}");
    assert!(row.contains("first call"), "{row}");
    assert!(
        row.contains("package_not_found"),
        "the refused send_test shows: {row}"
    );
    let fresh_row = browser
        .text(&format!("tr[data-account='{fresh_id}']"))
        .await;
    assert!(fresh_row.contains("has not called yet"), "{fresh_row}");
    browser.screenshot("greenhouse-accounts").await;
    // The order page says which ATS and where the doorbell goes.
    browser
        .open(&format!("{}/dashboard/orders/{id}", w.hub.url()))
        .await;
    browser.wait_for_text("Greenhouse PATCH URL").await;
    assert!(browser.page_text().await.contains("take_home_tests"));
    browser.close().await;
}
