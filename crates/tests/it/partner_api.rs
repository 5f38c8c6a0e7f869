//! Ashby's partner API: authentication, Ashby's shapes, and refusals a recruiter can read.

use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::StatusCode;
use screenhub_tests::{start_body, TestHub, World};
use serde_json::{json, Value};

async fn call(
    hub: &TestHub,
    auth: Option<String>,
    method: &str,
    body: Value,
) -> (StatusCode, Value) {
    let mut req = hub
        .http
        .post(format!("{}/{method}", hub.partner_base_url()))
        .json(&body);
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    let res = req.send().await.unwrap();
    (
        StatusCode::from_u16(res.status().as_u16()).unwrap(),
        res.json().await.unwrap_or(Value::Null),
    )
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

#[tokio::test]
async fn authentication_follows_ashby_conventions() {
    let w = World::new().await;
    let hub = &w.hub;
    let (status, body) = call(hub, None, "assessment.list", json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(body["success"], false);
    assert_eq!(body["errorInfo"]["code"], "missing_api_key");
    assert_eq!(body["errors"][0], "missing_api_key");
    let (status, body) = call(
        hub,
        Some(basic("sht_wrong", "")),
        "assessment.list",
        json!({}),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["errorInfo"]["code"].as_str()),
        (401, Some("invalid_api_key"))
    );
    // The token works as the Basic username, the Basic password, or a Bearer token.
    for auth in [
        basic(&w.token, ""),
        basic("", &w.token),
        format!("Bearer {}", w.token),
    ] {
        let (status, body) = call(hub, Some(auth.clone()), "assessment.list", json!({})).await;
        assert_eq!(status, 200, "{auth}: {body}");
        assert_eq!(body["success"], true);
        assert_eq!(body["results"][0]["name"], "Basic background check");
        assert!(
            uuid::Uuid::parse_str(body["results"][0]["assessment_type_id"].as_str().unwrap())
                .is_ok()
        );
    }
    // A disabled account is forbidden.
    hub.patch(
        &format!("/v1/accounts/{}", w.account_id),
        json!({"disabled": true}),
    )
    .await;
    let (status, body) = call(hub, Some(basic(&w.token, "")), "assessment.list", json!({})).await;
    assert_eq!(
        (status.as_u16(), body["success"].as_bool()),
        (403, Some(false))
    );
    hub.patch(
        &format!("/v1/accounts/{}", w.account_id),
        json!({"disabled": false}),
    )
    .await;

    // After a rotation the old token stops working; with a grace period it lasts.
    let (_, rotated) = hub
        .post(
            &format!("/v1/accounts/{}/rotate-token", w.account_id),
            json!({"grace_period_seconds": 60}),
        )
        .await;
    let new_token = rotated["external_trigger_token"].as_str().unwrap();
    assert_eq!(
        call(hub, Some(basic(&w.token, "")), "assessment.list", json!({}))
            .await
            .0,
        200
    );
    assert_eq!(
        call(
            hub,
            Some(basic(new_token, "")),
            "assessment.list",
            json!({})
        )
        .await
        .0,
        200
    );
    hub.post(
        &format!("/v1/accounts/{}/rotate-token", w.account_id),
        json!({}),
    )
    .await;
    assert_eq!(
        call(hub, Some(basic(&w.token, "")), "assessment.list", json!({}))
            .await
            .0,
        401
    );
    assert_eq!(
        call(
            hub,
            Some(basic(new_token, "")),
            "assessment.list",
            json!({})
        )
        .await
        .0,
        401
    );
}

#[tokio::test]
async fn a_start_that_cannot_be_served_gets_a_message_for_the_recruiter() {
    let w = World::new().await;
    let ok = start_body(&w.type_id, "app-1", "a@example.com");
    let mut no_email = ok.clone();
    no_email["candidate"]["email"] = json!("");
    let mut bad_email = ok.clone();
    bad_email["candidate"]["email"] = json!("not-an-email");
    let mut missing = ok.clone();
    missing["job"].as_object_mut().unwrap().remove("name");
    let unknown_type = start_body(
        "6f1c2f1e-0000-4000-8000-000000000000",
        "app-1",
        "a@example.com",
    );
    let not_uuid = start_body("basic", "app-1", "a@example.com");
    for (body, needle) in [
        (no_email, "email"),
        (bad_email, "email"),
        (missing, "job.name"),
        (unknown_type, "isn't offered"),
        (not_uuid, "isn't offered"),
        (json!("nonsense"), "Ashby"),
    ] {
        let (status, res) = w.hub.ats(&w.token, "assessment.start", body.clone()).await;
        assert_eq!(status, 422, "{body} → {res}");
        let message = res["message"].as_str().unwrap();
        assert!(
            message.contains(needle),
            "`{message}` should mention `{needle}`"
        );
    }
    // An inactive package is no longer offered.
    w.hub
        .patch("/v1/packages/basic", json!({"active": false}))
        .await;
    let (status, res) = w.hub.ats(&w.token, "assessment.start", ok.clone()).await;
    assert_eq!(status, 422, "{res}");
    let (_, list) = w.hub.ats(&w.token, "assessment.list", json!({})).await;
    assert_eq!(list["results"].as_array().unwrap().len(), 1);
    // Cancelling something unknown: Ashby documents only HTTP 200 for cancel,
    // so the refusal is its error envelope.
    let (status, res) = w
        .hub
        .ats(
            &w.token,
            "assessment.cancel",
            json!({"assessment_id": "0191e1f2-0000-7000-8000-000000000000"}),
        )
        .await;
    assert_eq!((status.as_u16(), &res["success"]), (200, &json!(false)));
    assert_eq!(res["errorInfo"]["code"], "assessment_not_found");
    assert!(res["errorInfo"]["message"]
        .as_str()
        .unwrap()
        .contains("isn't known"));
}

#[tokio::test]
async fn an_account_without_a_verified_ashby_key_cannot_start() {
    let hub = TestHub::spawn().await;
    let (_, account) = hub
        .post("/v1/accounts", json!({"name": "New", "ats": "ashby"}))
        .await;
    let token = account["external_trigger_token"].as_str().unwrap();
    let (_, packages) = hub
        .put(
            "/v1/packages",
            json!([{"id": "p", "kind": "assessment", "name": "P"}]),
        )
        .await;
    let type_id = packages["data"][0]["ats_type_id"].as_str().unwrap();
    let (status, body) = hub
        .ats(
            token,
            "assessment.start",
            start_body(type_id, "a", "a@example.com"),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        body["message"].as_str().unwrap().contains("isn't finished"),
        "{body}"
    );
}

#[tokio::test]
async fn ashby_keys_are_verified_live() {
    let w = World::new().await;
    let path = format!("/v1/accounts/{}/ats-credentials", w.account_id);
    let (status, body) = w.hub.put(&path, json!({"api_key": "made-up"})).await;
    assert_eq!(
        (status.as_u16(), body["error"]["code"].as_str()),
        (422, Some("ashby_key_rejected")),
        "{body}"
    );
    // A key with Candidates → Read and Write but not API Keys → Read: Ashby
    // refuses it apiKey.info, and the admin is told which permission to add.
    let no_api_keys_read = w.ashby.key_with(&["candidatesRead", "candidatesWrite"]);
    let (status, body) = w.hub.put(&path, json!({"api_key": no_api_keys_read})).await;
    assert_eq!(
        (status.as_u16(), body["error"]["code"].as_str()),
        (422, Some("ashby_missing_permission")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("lacks the API Keys → Read permission (apiKeysRead)"),
        "{body}"
    );
    // A key with exactly what the connect page asks for is accepted.
    let (status, body) = w.hub.put(&path, json!({"api_key": w.ashby.key()})).await;
    assert_eq!(status, 200, "{body}");
    // A rejected key leaves the account as it was.
    let (_, account) = w.hub.get(&format!("/v1/accounts/{}", w.account_id)).await;
    assert_eq!(account["status"], "active");
    // An Ashby that cannot be reached is a gateway problem, said plainly.
    let (_, other) = w
        .hub
        .post(
            "/v1/accounts",
            json!({"name": "B", "ats": "ashby", "ats_api_base_url": "http://127.0.0.1:9"}),
        )
        .await;
    let (status, body) = w
        .hub
        .put(
            &format!(
                "/v1/accounts/{}/ats-credentials",
                other["id"].as_str().unwrap()
            ),
            json!({"api_key": "k"}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["error"]["code"].as_str()),
        (502, Some("ashby_unreachable")),
        "{body}"
    );
}

/// Ashby's brief hiccups (429, 5xx) get one more try, within the outbound
/// timeout (2 s in tests); a request that hangs for all of it, or an answer
/// that will not change, does not.
#[tokio::test]
async fn the_key_check_tries_once_more_after_a_transient_failure() {
    let w = World::new().await;
    let path = format!("/v1/accounts/{}/ats-credentials", w.account_id);
    let key = json!({"api_key": w.ashby.key()});
    let faults = |faults: Value| {
        w.ashby
            .sim
            .set_faults(serde_json::from_value(faults).unwrap())
            .unwrap()
    };
    let check = || async {
        let started = Instant::now();
        let (status, body) = w.hub.put(&path, key.clone()).await;
        let code = body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (status.as_u16(), code, started.elapsed())
    };

    // Rate-limited twice with `Retry-After: 1`: it waited once, then said so.
    faults(json!({"rate_limit_rate": 1.0, "retry_after_secs": 1}));
    let (status, code, took) = check().await;
    assert_eq!((status, code.as_str()), (502, "ashby_unreachable"));
    assert_eq!(w.ashby.sim.fault_counters().rate_limits, 2);
    assert!(took >= Duration::from_secs(1), "{took:?}");

    // Ashby recovers during the wait: the second try connects the key.
    faults(json!({"rate_limit_rate": 1.0, "retry_after_secs": 1}));
    let recover = async {
        while w.ashby.sim.fault_counters().rate_limits == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        faults(json!({}));
    };
    let ((status, code, _), ()) = tokio::join!(check(), recover);
    assert_eq!(status, 200, "{code}");

    // A Retry-After longer than 2 s is not waited out.
    faults(json!({"rate_limit_rate": 1.0, "retry_after_secs": 30}));
    let (status, _, took) = check().await;
    assert_eq!(status, 502);
    assert_eq!(w.ashby.sim.fault_counters().rate_limits, 1);
    assert!(took < Duration::from_secs(1), "{took:?}");

    // A 500 is tried again; a hung request uses the whole outbound timeout,
    // so it is not (a slow Ashby that answers in time still gets the time).
    faults(json!({"error_rate": 1.0}));
    assert_eq!(check().await.0, 502);
    assert_eq!(w.ashby.sim.fault_counters().errors, 2);
    faults(json!({"timeout_rate": 1.0, "timeout_ms": 10_000}));
    let (status, code, took) = check().await;
    assert_eq!((status, code.as_str()), (502, "ashby_timeout"));
    assert_eq!(w.ashby.sim.fault_counters().timeouts, 1);
    assert!(took < Duration::from_millis(2_500), "{took:?}");

    // Ashby's considered refusal (`success: false`) is not asked again.
    faults(json!({"error_rate": 1.0, "error_kind": "success_false"}));
    assert_eq!(check().await.0, 502);
    assert_eq!(w.ashby.sim.fault_counters().errors, 1);
}

#[tokio::test]
async fn custom_fields_are_served_under_every_documented_path() {
    let w = World::new().await;
    w.hub.put("/v1/custom-fields", json!({"fields": [{"id": "shift", "name": "Shift", "type": "String", "isRequired": true}]})).await;
    for method in [
        "customField.list",
        "assessment.customField.list",
        "customFields.fetch",
    ] {
        let (status, body) = w.hub.ats(&w.token, method, json!({})).await;
        assert_eq!(status, 200, "{method}");
        assert_eq!(body["success"], true);
        assert_eq!(
            body["fields"][0]["id"], "shift",
            "{method}: `fields`, not `results`"
        );
    }
    // The sim reads them and sends values with the next start.
    let fields = w.ashby.sim.custom_fields().await.unwrap();
    assert_eq!(fields.fields.len(), 1);
    let id = w.start("fields@example.com").await;
    let (_, order) = w.hub.get(&format!("/v1/orders/{id}")).await;
    assert!(order["additional_fields"]["shift"].is_string(), "{order}");
}
