//! Delivery: retries, dead letters and manual retry, per-order FIFO under
//! faults, account errors, and recovery after a restart.

use screenhub::sim::ashby::{AssessmentState, Faults};
use screenhub_tests::{TestHub, World};
use serde_json::json;

#[tokio::test]
async fn webhooks_are_retried_after_receiver_failures() {
    let w = World::new().await;
    w.receiver.fail_next(2);
    let id = w.start("retry@example.com").await;
    w.hub
        .eventually("the webhook after two failures", 10, || async {
            !w.receiver.of_type("order.created").is_empty()
        })
        .await;
    let (_, list) = w
        .hub
        .get(&format!("/v1/deliveries?order_id={id}&target=vendor"))
        .await;
    let delivery_id = list["data"][0]["id"].as_str().unwrap();
    // The receiver can see the webhook a moment before the hub has recorded
    // the attempt that delivered it.
    let detail_path = format!("/v1/deliveries/{delivery_id}");
    w.hub
        .eventually("the delivery recorded as succeeded", 10, || async {
            w.hub.get(&detail_path).await.1["state"] == "succeeded"
        })
        .await;
    let (_, detail) = w.hub.get(&detail_path).await;
    let codes: Vec<_> = detail["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_i64())
        .collect();
    assert_eq!(codes, [Some(500), Some(500), Some(204)]);
    assert_eq!(detail["state"], "succeeded");
    assert_eq!(detail["payload"]["type"], "order.created");
    // The same webhook-id on every attempt.
    assert_eq!(w.receiver.of_type("order.created")[0].id, delivery_id);
}

#[tokio::test]
async fn a_dead_delivery_can_be_retried_by_hand() {
    let w = World::new().await;
    w.receiver.fail_next(100);
    let id = w.start("dead@example.com").await;
    let list = w
        .hub
        .wait_for(
            &format!("/v1/deliveries?order_id={id}&target=vendor"),
            10,
            |l| l["data"][0]["state"] == "dead",
        )
        .await;
    let delivery_id = list["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        list["data"][0]["attempt_count"], 4,
        "one attempt per step of the schedule"
    );
    let (_, dead) = w.hub.get("/v1/deliveries?state=dead").await;
    assert!(
        dead["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == delivery_id.as_str()),
        "{dead}"
    );
    w.receiver.fail_next(0);
    let (status, body) = w
        .hub
        .post(&format!("/v1/deliveries/{delivery_id}/retry"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "pending");
    w.hub
        .wait_for(&format!("/v1/deliveries/{delivery_id}"), 10, |d| {
            d["state"] == "succeeded"
        })
        .await;
    let (status, body) = w
        .hub
        .post(&format!("/v1/deliveries/{delivery_id}/retry"), json!({}))
        .await;
    assert_eq!(
        (status.as_u16(), body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
}

#[tokio::test]
async fn ashby_updates_keep_their_order_through_failures_and_rate_limits() {
    // With half the attempts failing, a short schedule could run out and give
    // an update up; this one outlasts the faults (0.5^16 per update).
    let hub = TestHub::spawn_with(|c| {
        c.retry_schedule_ms = vec![
            0, 10, 10, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20,
        ]
    })
    .await;
    let w = World::with_hub(hub).await;
    let hub = &w.hub;
    let ids = futures_join(&w, 5).await;
    w.ashby
        .sim
        .set_faults(Faults {
            error_rate: 0.3,
            rate_limit_rate: 0.2,
            rate_limit_scope_partner: true,
            seed: Some(3),
            ..Default::default()
        })
        .unwrap();
    for id in &ids {
        for step in 1..=3 {
            hub.post(
                &format!("/v1/orders/{id}/status"),
                json!({"status": "in_progress", "label": format!("Step {step}")}),
            )
            .await;
        }
        hub.put(
            &format!("/v1/orders/{id}/result"),
            json!({"outcome": "review", "report_url": format!("https://v.example/r/{id}")}),
        )
        .await;
    }
    for id in &ids {
        let a = w
            .sim_eventually(id, "the result through faults", |a| {
                a.state == AssessmentState::Completed
            })
            .await;
        let statuses: Vec<_> = a
            .updates
            .iter()
            .map(|u| {
                u.body["assessment_status"]["value"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            statuses,
            ["Started", "Step 1", "Step 2", "Step 3", "Completed"],
            "{id}"
        );
        assert!(a.rejected_updates.is_empty(), "{:#?}", a.rejected_updates);
    }
    w.ashby.sim.set_faults(Faults::default()).unwrap();
}

async fn futures_join(w: &World, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(w.start(&format!("fifo-{i}@example.com")).await);
    }
    ids
}

#[tokio::test]
async fn ashby_refusing_an_update_is_recorded_and_announced() {
    let w = World::new().await;
    let id = w.start("refused@example.com").await;
    w.ashby
        .sim
        .set_faults(Faults {
            error_rate: 1.0,
            error_kind: serde_json::from_value(json!("success_false")).unwrap(),
            ..Default::default()
        })
        .unwrap();
    w.hub
        .post(
            &format!("/v1/orders/{id}/status"),
            json!({"status": "in_progress"}),
        )
        .await;
    let list = w
        .hub
        .wait_for(
            &format!("/v1/deliveries?order_id={id}&target=ats"),
            10,
            |l| l["data"][0]["state"] == "failed",
        )
        .await;
    assert!(
        list["data"][0]["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{list}"
    );
    w.hub
        .eventually("delivery.failed webhook", 10, || async {
            !w.receiver.of_type("delivery.failed").is_empty()
        })
        .await;
    announces_its_state(&w, "delivery.failed", "failed").await;
    let (_, order) = w.hub.get(&format!("/v1/orders/{id}")).await;
    assert!(order["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "delivery.failed"));
}

/// The webhook shows the delivery in the state it announces, as
/// `GET /v1/deliveries/{id}` does: ended, no next attempt.
async fn announces_its_state(w: &World, event: &str, state: &str) {
    let webhook = &w.receiver.of_type(event)[0];
    let announced = &webhook.body["data"]["delivery"];
    assert_eq!(announced["state"], state, "{announced}");
    assert!(announced["next_attempt_at"].is_null(), "{announced}");
    assert!(announced["completed_at"].is_string(), "{announced}");
    let (_, current) = w
        .hub
        .get(&format!(
            "/v1/deliveries/{}",
            announced["id"].as_str().unwrap()
        ))
        .await;
    for field in ["state", "attempt_count", "completed_at", "last_status_code"] {
        assert_eq!(announced[field], current[field], "{field}: {current}");
    }
}

#[tokio::test]
async fn an_update_exhausting_its_schedule_is_dead_and_announced() {
    let w = World::new().await;
    let id = w.start("exhausted@example.com").await;
    w.ashby
        .sim
        .set_faults(Faults {
            error_rate: 1.0,
            ..Default::default()
        })
        .unwrap();
    w.hub
        .post(
            &format!("/v1/orders/{id}/status"),
            json!({"status": "in_progress"}),
        )
        .await;
    w.hub
        .wait_for(
            &format!("/v1/deliveries?order_id={id}&target=ats"),
            10,
            |l| l["data"][0]["state"] == "dead",
        )
        .await;
    w.hub
        .eventually("delivery.exhausted webhook", 10, || async {
            !w.receiver.of_type("delivery.exhausted").is_empty()
        })
        .await;
    announces_its_state(&w, "delivery.exhausted", "dead").await;
    w.ashby.sim.set_faults(Faults::default()).unwrap();
    let (_, list) = w
        .hub
        .get(&format!("/v1/deliveries?order_id={id}&target=ats"))
        .await;
    let dlv = list["data"][0]["id"].as_str().unwrap();
    let (status, _) = w
        .hub
        .post(&format!("/v1/deliveries/{dlv}/retry"), json!({}))
        .await;
    assert_eq!(status, 200);
    w.sim_eventually(&id, "the retried update", |a| {
        a.state == AssessmentState::InProgress
    })
    .await;
}

#[tokio::test]
async fn a_revoked_ashby_key_puts_the_account_in_error() {
    let w = World::new().await;
    let id = w.start("revoked@example.com").await;
    assert!(w.ashby.sim.revoke_key(&w.ashby_key));
    w.hub
        .post(
            &format!("/v1/orders/{id}/status"),
            json!({"status": "in_progress"}),
        )
        .await;
    let account = w
        .hub
        .wait_for(&format!("/v1/accounts/{}", w.account_id), 10, |a| {
            a["status"] == "error"
        })
        .await;
    assert!(
        account["status_reason"]
            .as_str()
            .unwrap()
            .contains("rejected the API key"),
        "{account}"
    );
    // New starts are refused with a message the recruiter can act on.
    let outcome = w
        .ashby
        .sim
        .start_assessment(screenhub::sim::ashby::StartOptions {
            assessment_type_id: Some(w.type_id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(outcome.call.status, 422);
    // A new key brings it back.
    let key = w.ashby.key();
    let (status, body) = w
        .hub
        .put(
            &format!("/v1/accounts/{}/ats-credentials", w.account_id),
            json!({"api_key": key}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["status"].as_str()),
        (200, Some("active"))
    );
}

#[tokio::test]
async fn pending_deliveries_survive_a_restart() {
    let hub =
        TestHub::spawn_with(|c| c.retry_schedule_ms = vec![0, 300, 300, 300, 300, 300, 300, 300])
            .await;
    let w = World::with_hub(hub).await;
    w.receiver.fail_next(1_000);
    let id = w.start("restart@example.com").await;
    w.hub
        .eventually("a failed first attempt", 10, || async {
            w.receiver.attempts() > 0
        })
        .await;
    let World {
        hub,
        ashby,
        receiver,
        ..
    } = w;
    let hub = hub.restart().await;
    receiver.fail_next(0);
    hub.eventually("the webhook after the restart", 10, || async {
        !receiver.of_type("order.created").is_empty()
    })
    .await;
    assert_eq!(
        receiver.of_type("order.created")[0].body["data"]["order"]["id"],
        id
    );
    // Updates written before a crash are delivered after it.
    hub.post(
        &format!("/v1/orders/{id}/status"),
        json!({"status": "in_progress", "label": "Before the crash"}),
    )
    .await;
    let hub = hub.crash_and_restart().await;
    let (status, body) = hub
        .put(
            &format!("/v1/orders/{id}/result"),
            json!({"outcome": "pass", "report_url": "https://v.example/r"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let a = ashby.sim.assessment(&id).unwrap();
        if a.state == AssessmentState::Completed {
            let statuses: Vec<_> = a
                .updates
                .iter()
                .map(|u| {
                    u.body["assessment_status"]["value"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
                .collect();
            assert_eq!(statuses, ["Started", "Before the crash", "Completed"]);
            break;
        }
        if tokio::time::Instant::now() > deadline {
            let (_, deliveries) = hub.get(&format!("/v1/deliveries?order_id={id}")).await;
            panic!(
                "not delivered after the crash: {:?} {deliveries:#}",
                a.state
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
