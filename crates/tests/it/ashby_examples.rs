//! The hand-written Ashby examples in `docs/ashby-examples` are the reference,
//! not our own validator: the hub's output (update bodies, partner-API answers,
//! its verdict on `apiKey.info` answers, the custom fields it takes) and the
//! simulator's verdicts (on start, cancel and custom-field answers, and its own
//! `apiKey.info` answers) are checked against them. The simulator's verdicts on
//! update bodies are checked in its own tests (`sim::ashby::tests`).

use axum::extract::Path;
use axum::http::StatusCode as AxumStatus;
use axum::response::IntoResponse;
use reqwest::StatusCode;
use screenhub::sim::ashby::{judge_cancel_answer, judge_custom_fields_answer, judge_start_answer};
use screenhub_ashby::mapping::{assessment_update, UpdateKind};
use screenhub_core::order::{OrderResult, Outcome, Score, ScreeningResult};
use screenhub_tests::{start_body, World};
use serde_json::{json, Value};

/// The assessment id and timestamp of the update examples the hub produces.
const EXAMPLE_ID: &str = "0190f5c2-7a1e-7b3c-9d4e-5f6a7b8c9d0e";
const EXAMPLE_MS: i64 = 1_700_000_000_000;

fn example(file: &str) -> Value {
    let path = format!(
        "{}/../../docs/ashby-examples/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn list<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` is not a list"))
}

/// `actual` has the shape of `pattern`: `<assessment_id>` is `id`, `<ms>` an
/// integer of milliseconds, `<text>` any non-empty text; objects have exactly
/// the pattern's keys; anything else is equal.
fn matches(pattern: &Value, actual: &Value, id: &str, at: &str) -> Result<(), String> {
    let fits = match pattern.as_str() {
        Some("<assessment_id>") => actual.as_str() == Some(id),
        Some("<ms>") => actual.as_i64().is_some_and(|ms| ms >= EXAMPLE_MS),
        Some("<text>") => actual.as_str().is_some_and(|s| !s.trim().is_empty()),
        _ => match (pattern, actual) {
            (Value::Object(p), Value::Object(a)) => {
                let (mut pk, mut ak): (Vec<_>, Vec<_>) = (p.keys().collect(), a.keys().collect());
                pk.sort();
                ak.sort();
                if pk != ak {
                    return Err(format!("{at}: keys {ak:?}, the example has {pk:?}"));
                }
                for (key, p) in p {
                    matches(p, &a[key], id, &format!("{at}.{key}"))?;
                }
                true
            }
            (Value::Array(p), Value::Array(a)) if p.len() == a.len() => {
                for (i, (p, a)) in p.iter().zip(a).enumerate() {
                    matches(p, a, id, &format!("{at}[{i}]"))?;
                }
                true
            }
            _ => pattern == actual,
        },
    };
    fits.then_some(())
        .ok_or_else(|| format!("{at}: {actual} does not fit the example's {pattern}"))
}

/// An answer (status and body) fits an example answer `{status, body}`.
fn assert_fits(example: &Value, status: StatusCode, body: &Value, id: &str, what: &str) {
    assert_eq!(
        u64::from(status.as_u16()),
        example["status"].as_u64().unwrap(),
        "{what}: {body}"
    );
    if let Err(e) = matches(&example["body"], body, id, "body") {
        panic!("{what}: {e}\nwhole answer: {body}");
    }
}

fn status_of(answer: &Value) -> u16 {
    u16::try_from(answer["status"].as_u64().unwrap()).unwrap()
}

/// The simulator finds no problem with a fixed answer exactly when the example
/// says Ashby takes it.
fn assert_accepted_as_the_example_says(answer: &Value, problems: &[String]) {
    let accepts = answer["ashby_accepts"].as_bool().unwrap();
    assert_eq!(
        problems.is_empty(),
        accepts,
        "{}: {problems:?}",
        answer["name"]
    );
}

// ---------------------------------------------------------------- assessment.update

fn result(outcome: &str) -> OrderResult {
    serde_json::from_value(json!({
        "outcome": outcome, "report_url": "https://vendor.example/reports/42", "completed_at": EXAMPLE_MS,
    }))
    .unwrap()
}

#[test]
fn the_hubs_update_bodies_are_the_examples() {
    let examples = example("assessment.update.json");
    let passed = result("pass");
    let mut scored = result("none");
    scored.score = Some(Score {
        value: 87.0,
        max: Some(100.0),
    });
    scored.summary = Some("One record to look at.".into());
    scored.screenings = vec![ScreeningResult {
        name: "Identity".into(),
        outcome: Outcome::Pass,
        detail: Some("Matched passport".into()),
    }];
    let mut compared = 0;
    for e in list(&examples, "valid") {
        let name = e["name"].as_str().unwrap();
        let kind = match name {
            "started" => UpdateKind::Started,
            "progress_with_eta" => UpdateKind::Progress {
                label: Some("Candidate invited"),
                eta_minutes: Some(90),
            },
            "completed_pass" => UpdateKind::Completed(&passed),
            "completed_scored" => UpdateKind::Completed(&scored),
            "cancelled" => UpdateKind::Cancelled {
                reason: "Candidate withdrew",
            },
            "failed" => UpdateKind::Failed {
                reason: "the candidate's ID could not be verified",
            },
            _ => {
                assert!(
                    e.get("hub_output").is_none(),
                    "{name}: no order change for it here"
                );
                continue;
            }
        };
        let sent = assessment_update(EXAMPLE_ID.parse().unwrap(), EXAMPLE_MS, kind).to_json();
        assert_eq!(sent, e["body"], "{name}: the hub sends something else");
        compared += 1;
    }
    assert_eq!(compared, 6);
}

// ---------------------------------------------------------------- assessment.start

#[tokio::test]
async fn start_requests_and_answers_follow_the_examples() {
    let examples = example("assessment.start.json");
    let w = World::new().await;
    let answers = &examples["hub_answers"];
    for r in list(&examples, "requests") {
        let name = r["name"].as_str().unwrap();
        let body = r["body"].to_string().replace("<offered type>", &w.type_id);
        let (status, answer) = w
            .hub
            .ats(
                &w.token,
                "assessment.start",
                serde_json::from_str(&body).unwrap(),
            )
            .await;
        if r["hub_status"] == 200 {
            let id = answer["results"]["assessment_id"]
                .as_str()
                .unwrap_or_default();
            assert_fits(&answers["started"], status, &answer, id, name);
        } else {
            assert_fits(&answers["refused"], status, &answer, "", name);
            let needle = r["message_mentions"].as_str().unwrap();
            assert!(
                answer["message"].as_str().unwrap().contains(needle),
                "{name}: {answer} should mention {needle}"
            );
        }
    }

    // A wrong token is the only 401.
    let valid = start_body(&w.type_id, "app-examples", "a@example.com");
    let (status, answer) = w
        .hub
        .ats("sht_not_a_token", "assessment.start", valid.clone())
        .await;
    assert_fits(&answers["wrong_token"], status, &answer, "", "wrong token");

    // An account the vendor disabled: a 422 the recruiter reads, not a bare 403.
    let account = format!("/v1/accounts/{}", w.account_id);
    w.hub.patch(&account, json!({"disabled": true})).await;
    let (status, answer) = w.hub.ats(&w.token, "assessment.start", valid.clone()).await;
    assert_fits(&answers["refused"], status, &answer, "", "disabled account");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("paused this integration"),
        "{answer}"
    );
    w.hub.patch(&account, json!({"disabled": false})).await;
    let (status, _) = w.hub.ats(&w.token, "assessment.start", valid).await;
    assert_eq!(status, 200);

    // The simulator judges fixed answers as the examples say Ashby does.
    for a in list(&examples, "answers") {
        let verdict = judge_start_answer(status_of(a), &a["body"]);
        assert_accepted_as_the_example_says(a, &verdict.problems);
        let message = verdict.recruiter_message;
        assert_eq!(message.as_deref(), a["recruiter_message"].as_str(), "{a}");
    }
}

// ---------------------------------------------------------------- assessment.cancel

#[tokio::test]
async fn cancel_answers_follow_the_examples() {
    let examples = example("assessment.cancel.json");
    let answers = &examples["hub_answers"];
    let w = World::new().await;
    let cancel = |id: Value| {
        let w = &w;
        async move {
            w.hub
                .ats(&w.token, "assessment.cancel", json!({"assessment_id": id}))
                .await
        }
    };
    let order_status = |id: String| {
        let w = &w;
        async move {
            let (_, order) = w.hub.get(&format!("/v1/orders/{id}")).await;
            order["status"].as_str().unwrap().to_owned()
        }
    };

    // Live: cancelled and confirmed, through the simulator as Ashby drives it…
    let live = w.start("cancel-live@example.com").await;
    let outcome = w.ashby.sim.cancel_assessment(&live).await.unwrap();
    assert_eq!(outcome.call.problems, Vec::<String>::new());
    assert!(outcome.confirmed);
    assert_fits(
        &answers["live"],
        StatusCode::OK,
        &outcome.call.body,
        &live,
        "live",
    );
    assert_eq!(order_status(live.clone()).await, "cancelled");
    // …and again: nothing left to cancel, no cancelled_reason.
    let (status, answer) = cancel(json!(live)).await;
    assert_fits(
        &answers["already_ended"],
        status,
        &answer,
        &live,
        "cancelled twice",
    );

    // Completed and failed orders stay as they are.
    let done = w.start("cancel-done@example.com").await;
    w.hub
        .put(
            &format!("/v1/orders/{done}/result"),
            json!({"outcome": "pass", "report_url": "https://v.example/r/1"}),
        )
        .await;
    let failed = w.start("cancel-failed@example.com").await;
    w.hub
        .post(
            &format!("/v1/orders/{failed}/status"),
            json!({"status": "failed", "reason": "Candidate never responded"}),
        )
        .await;
    for (id, status_before) in [(&done, "completed"), (&failed, "failed")] {
        let (status, answer) = cancel(json!(id)).await;
        assert_fits(
            &answers["already_ended"],
            status,
            &answer,
            id,
            status_before,
        );
        assert_eq!(order_status(id.clone()).await, status_before);
    }
    let outcome = w.ashby.sim.cancel_assessment(&done).await.unwrap();
    assert_eq!(outcome.call.problems, Vec::<String>::new());
    assert!(!outcome.confirmed);

    // An account the vendor disabled can still cancel: that only stops work.
    let paused = w.start("cancel-paused@example.com").await;
    let account = format!("/v1/accounts/{}", w.account_id);
    w.hub.patch(&account, json!({"disabled": true})).await;
    let (status, answer) = cancel(json!(paused)).await;
    assert_fits(
        &answers["live"],
        status,
        &answer,
        &paused,
        "disabled account",
    );
    w.hub.patch(&account, json!({"disabled": false})).await;

    // Unknown ids, and another account's order, look the same.
    let (_, b_token) = w.another_account("Beta").await;
    let (_, b_start) = w
        .hub
        .ats(
            &b_token,
            "assessment.start",
            start_body(&w.type_id, "app-b", "b@example.com"),
        )
        .await;
    let b_order = b_start["results"]["assessment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut messages = Vec::new();
    for id in [
        json!("0191e1f2-0000-7000-8000-000000000000"),
        json!("order-1"),
        json!(b_order),
    ] {
        let (status, answer) = cancel(id.clone()).await;
        assert_fits(&answers["unknown"], status, &answer, "", &id.to_string());
        messages.push(answer["errorInfo"]["message"].clone());
    }
    assert!(messages.windows(2).all(|m| m[0] == m[1]), "{messages:?}");
    assert_eq!(
        order_status(b_order).await,
        "pending",
        "B's order is untouched"
    );

    // A body Ashby would never send still gets the envelope at 200.
    for body in [
        json!({}),
        json!({"assessment_id": 5}),
        json!({"assessment_id": ""}),
    ] {
        let (status, answer) = w.hub.ats(&w.token, "assessment.cancel", body.clone()).await;
        assert_fits(
            &answers["unreadable"],
            status,
            &answer,
            "",
            &body.to_string(),
        );
    }

    // The simulator judges fixed answers as the examples say Ashby does.
    for a in list(&examples, "answers") {
        let verdict = judge_cancel_answer(EXAMPLE_ID, status_of(a), &a["body"]);
        assert_accepted_as_the_example_says(a, &verdict.problems);
        assert_eq!(verdict.confirmed, a["confirmed"].as_bool().unwrap(), "{a}");
        let message = verdict.error_message;
        assert_eq!(message.as_deref(), a["error_message"].as_str(), "{a}");
    }
}

// ---------------------------------------------------------------- apiKey.info

/// Serves each fixed `apiKey.info` answer under `/<name>/apiKey.info`.
async fn fixed_ashby(answers: Vec<Value>) -> String {
    let app = axum::Router::new().route(
        "/{name}/apiKey.info",
        axum::routing::post(move |Path(name): Path<String>| {
            let answer = answers.iter().find(|a| a["name"] == name).cloned();
            async move {
                match answer {
                    Some(a) => (
                        AxumStatus::from_u16(status_of(&a)).unwrap(),
                        axum::Json(a["body"].clone()),
                    )
                        .into_response(),
                    None => AxumStatus::NOT_FOUND.into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn api_key_checks_follow_the_examples() {
    let examples = example("apiKey.info.json");
    let w = World::new().await;
    let fixed = fixed_ashby(list(&examples, "answers").clone()).await;
    for a in list(&examples, "answers") {
        let name = a["name"].as_str().unwrap();
        // An account whose Ashby gives this answer; the admin pastes a key.
        let (_, account) = w
            .hub
            .post(
                "/v1/accounts",
                json!({"name": name, "ats": "ashby", "ats_api_base_url": format!("{fixed}/{name}")}),
            )
            .await;
        let path = format!(
            "/v1/accounts/{}/ats-credentials",
            account["id"].as_str().unwrap()
        );
        let (status, body) = w.hub.put(&path, json!({"api_key": "pasted-key"})).await;
        match a["hub_verdict"].as_str().unwrap() {
            "ok" => assert_eq!(status, 200, "{name}: {body}"),
            "missing_permission" => {
                assert_eq!(
                    (status.as_u16(), body["error"]["code"].as_str()),
                    (422, Some("ashby_missing_permission")),
                    "{name}: {body}"
                );
                let message = body["error"]["message"].as_str().unwrap();
                assert!(
                    message.contains("API Keys → Read") && message.contains("apiKeysRead"),
                    "{name}: {message}"
                );
            }
            "key_rejected" => assert_eq!(
                (status.as_u16(), body["error"]["code"].as_str()),
                (422, Some("ashby_key_rejected")),
                "{name}: {body}"
            ),
            other => panic!("{name}: unknown verdict {other}"),
        }
    }

    // The simulator answers in the documented shape, with and without apiKeysRead.
    let ask = |key: String| {
        let http = w.hub.http.clone();
        let url = format!("{}/apiKey.info", w.ashby.url);
        async move {
            let res = http
                .post(url)
                .basic_auth(key, Some(""))
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            (res.status(), res.json::<Value>().await.unwrap())
        }
    };
    let sim_answers = &examples["sim_answers"];
    let (status, body) = ask(w.ashby.key()).await;
    assert_fits(
        &sim_answers["with_permission"],
        status,
        &body,
        "",
        "sim, default key",
    );
    let without = w.ashby.key_with(&["candidatesRead", "candidatesWrite"]);
    let (status, body) = ask(without).await;
    assert_fits(
        &sim_answers["without_permission"],
        status,
        &body,
        "",
        "sim, no apiKeysRead",
    );
}

// ---------------------------------------------------------------- custom fields

#[tokio::test]
async fn custom_fields_follow_the_examples() {
    let examples = example("custom-fields.json");
    let w = World::new().await;
    let mut served = json!([]);
    for e in list(&examples, "valid") {
        let name = &e["name"];
        let (status, body) = w
            .hub
            .put("/v1/custom-fields", json!({"fields": e["fields"]}))
            .await;
        assert_eq!(status, 200, "{name}: {body}");
        let (status, list) = w.hub.ats(&w.token, "customField.list", json!({})).await;
        assert_eq!(status, 200);
        assert_eq!(
            list,
            json!({"success": true, "fields": e["fields"]}),
            "{name}"
        );
        served = e["fields"].clone();

        let (fields, problems) =
            judge_custom_fields_answer(200, &json!({"success": true, "fields": e["fields"]}));
        assert_eq!(problems, Vec::<String>::new(), "{name}");
        assert_eq!(
            fields.len(),
            e["fields"].as_array().unwrap().len(),
            "{name}"
        );
    }
    for e in list(&examples, "invalid") {
        let (name, field) = (&e["name"], e["field"].as_str().unwrap());
        let (status, body) = w
            .hub
            .put("/v1/custom-fields", json!({"fields": e["fields"]}))
            .await;
        assert_eq!(status, 422, "{name}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(field),
            "{name}: {message} should name {field}"
        );
        let (_, list) = w.hub.ats(&w.token, "customField.list", json!({})).await;
        assert_eq!(
            list["fields"], served,
            "{name}: the refused list is not served"
        );

        let (fields, problems) =
            judge_custom_fields_answer(200, &json!({"success": true, "fields": e["fields"]}));
        assert!(
            problems.len() == 1 && problems[0].contains(field),
            "{name}: {problems:?}"
        );
        assert!(fields.iter().all(|f| f.id != field), "{name}");
        assert_eq!(
            fields.len(),
            e["fields"].as_array().unwrap().len() - 1,
            "{name}"
        );
    }
}
