//! The vendor API: resources, validation, errors, pagination, idempotency.

use reqwest::{Method, StatusCode};
use screenhub_tests::TestHub;
use serde_json::{json, Value};

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn requests_without_a_valid_key_are_refused() {
    let hub = TestHub::spawn().await;
    let res = reqwest::get(format!("{}/v1/accounts", hub.url()))
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Bearer"));
    let res = hub
        .http
        .get(format!("{}/v1/accounts", hub.url()))
        .bearer_auth("shk_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "unauthorized"
    );
}

#[tokio::test]
async fn accounts_lifecycle() {
    let hub = TestHub::spawn().await;
    let (status, account) = hub
        .post(
            "/v1/accounts",
            json!({"name": "Acme", "ats": "ashby", "environment": "test"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    assert!(account["external_trigger_token"]
        .as_str()
        .unwrap()
        .starts_with("sht_"));
    assert_eq!(
        account["ats_partner_base_url"],
        format!("{}/ats/ashby", hub.url())
    );
    assert_eq!(account["status"], "pending");
    assert_eq!(account["ats_api_base_url"], "https://api.ashbyhq.com");
    let id = account["id"].as_str().unwrap();

    // The token is never shown again.
    let (_, fetched) = hub.get(&format!("/v1/accounts/{id}")).await;
    assert!(fetched.get("external_trigger_token").is_none());
    assert_eq!(
        fetched["token_prefix"].as_str().unwrap(),
        &account["external_trigger_token"].as_str().unwrap()[..12]
            .to_owned()
            .add_ellipsis()
    );

    let (status, renamed) = hub
        .patch(
            &format!("/v1/accounts/{id}"),
            json!({"name": "Acme Inc", "disabled": true}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (renamed["name"].as_str(), renamed["status"].as_str()),
        (Some("Acme Inc"), Some("disabled"))
    );
    let (_, enabled) = hub
        .patch(&format!("/v1/accounts/{id}"), json!({"disabled": false}))
        .await;
    assert_eq!(enabled["status"], "pending");

    // Moving the ATS address would send the stored ATS key there: refused, saying what to do.
    let (status, refused) = hub
        .patch(
            &format!("/v1/accounts/{id}"),
            json!({"ats_api_base_url": "https://elsewhere.example"}),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    for part in [
        "ats_api_base_url",
        "cannot be changed",
        "new account",
        "erase",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    let (_, unchanged) = hub.get(&format!("/v1/accounts/{id}")).await;
    assert_eq!(unchanged["ats_api_base_url"], "https://api.ashbyhq.com");

    let (status, rotated) = hub
        .post(&format!("/v1/accounts/{id}/rotate-token"), json!({}))
        .await;
    assert_eq!(status, 200);
    assert_ne!(
        rotated["external_trigger_token"],
        account["external_trigger_token"]
    );

    for i in 0..3 {
        hub.post(
            "/v1/accounts",
            json!({"name": format!("A{i}"), "ats": "ashby"}),
        )
        .await;
    }
    let (_, page) = hub.get("/v1/accounts?limit=2").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, page2) = hub
        .get(&format!("/v1/accounts?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(page2["data"].as_array().unwrap().len(), 2);
    assert!(page2["next_cursor"].is_null());
}

trait Ellipsis {
    fn add_ellipsis(self) -> String;
}
impl Ellipsis for String {
    fn add_ellipsis(self) -> String {
        self + "…"
    }
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx() {
    let hub = TestHub::spawn().await;
    let cases: Vec<(Method, &str, Option<Value>, u16, &str)> = vec![
        (
            Method::POST,
            "/v1/accounts",
            Some(json!({"name": "X", "ats": "workday"})),
            422,
            "ats",
        ),
        (
            Method::POST,
            "/v1/accounts",
            Some(json!({"ats": "ashby"})),
            422,
            "name",
        ),
        (
            Method::POST,
            "/v1/accounts",
            Some(json!({"name": "", "ats": "ashby"})),
            422,
            "name",
        ),
        (
            Method::POST,
            "/v1/accounts",
            Some(json!({"name": "X", "ats": "ashby", "extra": 1})),
            422,
            "extra",
        ),
        (
            Method::POST,
            "/v1/accounts",
            Some(json!({"name": "X", "ats": "ashby", "ats_api_base_url": "ftp://x"})),
            422,
            "http",
        ),
        (
            Method::POST,
            "/v1/accounts",
            Some(json!({"name": "X", "ats": "ashby", "ats_api_base_url": "http://10.0.0.1"})),
            422,
            "outbound_allow",
        ),
        (
            Method::POST,
            "/v1/accounts",
            Some(json!([1, 2])),
            422,
            "expected",
        ),
        (Method::GET, "/v1/accounts/acct_nope", None, 404, "account"),
        (Method::GET, "/v1/orders/not-a-uuid", None, 404, "order"),
        (Method::GET, "/v1/orders?status=done", None, 400, "status"),
        (Method::GET, "/v1/orders?limit=1000", None, 400, "limit"),
        (
            Method::GET,
            "/v1/orders?created_after=yesterday",
            None,
            400,
            "RFC 3339",
        ),
        (Method::GET, "/v1/orders?colour=red", None, 400, "colour"),
        (
            Method::POST,
            "/v1/packages",
            Some(json!({"id": "Bad Slug", "kind": "assessment", "name": "x"})),
            422,
            "lowercase",
        ),
        (
            Method::POST,
            "/v1/packages",
            Some(json!({"id": "ok", "kind": "quiz", "name": "x"})),
            422,
            "kind",
        ),
        (
            Method::POST,
            "/v1/webhook-endpoints",
            Some(json!({"url": "javascript:alert(1)"})),
            422,
            "http",
        ),
        (
            Method::POST,
            "/v1/webhook-endpoints",
            Some(json!({"url": "http://127.0.0.1/x", "events": ["order.exploded"]})),
            422,
            "order.exploded",
        ),
        (
            Method::POST,
            "/v1/deliveries/dlv_nope/retry",
            Some(json!({})),
            404,
            "delivery",
        ),
        (Method::DELETE, "/v1/accounts", None, 405, "method"),
        (Method::GET, "/v1/nothing-here", None, 404, "nothing"),
    ];
    for (method, path, body, status, needle) in cases {
        let (got, body) = hub.request(method.clone(), path, body).await;
        assert_eq!(got.as_u16(), status, "{method} {path}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{method} {path}: `{message}` should mention `{needle}`"
        );
    }
    // Not JSON at all, or the wrong content type.
    let res = hub
        .http
        .post(format!("{}/v1/accounts", hub.url()))
        .bearer_auth(&hub.api_key)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = hub
        .http
        .post(format!("{}/v1/accounts", hub.url()))
        .bearer_auth(&hub.api_key)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    // Too large.
    let big = "x".repeat(2 * 1024 * 1024);
    let res = hub
        .http
        .post(format!("{}/v1/accounts", hub.url()))
        .bearer_auth(&hub.api_key)
        .header("content-type", "application/json")
        .body(format!("{{\"name\":\"{big}\",\"ats\":\"ashby\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    // Deeply nested.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let res = hub
        .http
        .post(format!("{}/v1/accounts", hub.url()))
        .bearer_auth(&hub.api_key)
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
}

#[tokio::test]
async fn packages_crud_and_replace() {
    let hub = TestHub::spawn().await;
    let (status, basic) = hub
        .post("/v1/packages", json!({"id": "basic", "kind": "background_check", "name": "Basic check", "screenings": ["Criminal", "Identity"]}))
        .await;
    assert_eq!(status, 201, "{basic}");
    assert_eq!(basic["active"], true);
    let type_id = basic["ats_type_id"].as_str().unwrap().to_owned();
    let (status, dup) = hub
        .post(
            "/v1/packages",
            json!({"id": "basic", "kind": "assessment", "name": "Again"}),
        )
        .await;
    assert_eq!((status.as_u16(), code(&dup)), (409, "conflict"));

    let (_, patched) = hub
        .patch(
            "/v1/packages/basic",
            json!({"name": "Basic+", "active": false}),
        )
        .await;
    assert_eq!(
        (patched["name"].as_str(), patched["active"].as_bool()),
        (Some("Basic+"), Some(false))
    );
    assert_eq!(
        patched["ats_type_id"], type_id,
        "the Ashby type id never changes"
    );

    let (status, all) = hub
        .put(
            "/v1/packages",
            json!([
                {"id": "pro", "kind": "background_check", "name": "Pro"},
                {"id": "basic", "kind": "background_check", "name": "Basic"}
            ]),
        )
        .await;
    assert_eq!(status, 200, "{all}");
    let ids: Vec<_> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["pro", "basic"]);
    let (status, _) = hub.put("/v1/packages", json!([{"id": "x", "kind": "assessment", "name": "X", "account_ids": ["acct_01JDQ8Z5X9M2K4T6V8W0Y2A4C6"]}])).await;
    assert_eq!(status, 422);
    let (status, _) = hub.request(Method::DELETE, "/v1/packages/pro", None).await;
    assert_eq!(status, 204);
    let (status, _) = hub.get("/v1/packages/pro").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn custom_fields_round_trip_and_are_validated() {
    let hub = TestHub::spawn().await;
    let fields = json!({"fields": [
        {"id": "shift", "name": "Shift", "type": "ValueSelect", "possible_values": [{"key": "day", "value": "Day"}], "isRequired": true},
        {"id": "notes", "name": "Notes", "type": "LongText"}
    ]});
    let (status, body) = hub.put("/v1/custom-fields", fields.clone()).await;
    assert_eq!(status, 200, "{body}");
    let (_, got) = hub.get("/v1/custom-fields").await;
    assert_eq!(got, fields);
    let (status, body) = hub
        .put(
            "/v1/custom-fields",
            json!({"fields": [{"id": "a", "name": "A", "type": "Colour"}]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer() {
    let hub = TestHub::spawn().await;
    let send = |key: &'static str, name: &'static str| {
        hub.http
            .post(format!("{}/v1/accounts", hub.url()))
            .bearer_auth(&hub.api_key)
            .header("idempotency-key", key)
            .json(&json!({"name": name, "ats": "ashby"}))
            .send()
    };
    let first = send("k-1", "Acme").await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send("k-1", "Acme").await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    let (_, list) = hub.get("/v1/accounts").await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "the account was created once"
    );
    let other = send("k-1", "Other").await.unwrap();
    assert_eq!(other.status(), 422);
    assert_eq!(
        other.json::<Value>().await.unwrap()["error"]["code"],
        "idempotency_key_reused"
    );
}

#[tokio::test]
async fn webhook_endpoints_and_secret_rotation() {
    let hub = TestHub::spawn().await;
    let (status, ep) = hub
        .post(
            "/v1/webhook-endpoints",
            json!({"url": "http://127.0.0.1:9/hook", "events": ["order.created"]}),
        )
        .await;
    assert_eq!(status, 201, "{ep}");
    assert!(ep["secret"].as_str().unwrap().starts_with("whsec_"));
    let id = ep["id"].as_str().unwrap();
    let (_, rotated) = hub
        .post(
            &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
            json!({"grace_period_seconds": 60}),
        )
        .await;
    assert_ne!(rotated["secret"], ep["secret"]);
    let (_, patched) = hub
        .patch(
            &format!("/v1/webhook-endpoints/{id}"),
            json!({"events": null, "disabled": true}),
        )
        .await;
    assert!(patched["events"].is_null());
    assert_eq!(patched["disabled"], true);
    let (_, list) = hub.get("/v1/webhook-endpoints").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(list["data"][0].get("secret").is_none());
    let (status, _) = hub
        .request(Method::DELETE, &format!("/v1/webhook-endpoints/{id}"), None)
        .await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn health_and_openapi_are_served() {
    let hub = TestHub::spawn().await;
    let health: Value = reqwest::get(format!("{}/healthz", hub.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready: Value = reqwest::get(format!("{}/readyz", hub.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["database"], "ok");
    let doc: Value = reqwest::get(format!("{}/openapi.json", hub.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/v1/orders/{id}/result"]["put"].is_object());
}
