//! Flaky partners: Ashby and the vendor's endpoint both fail about 30% of
//! requests (500s, hung requests longer than the hub's timeout, dropped
//! connections, 429s with `Retry-After`), and every delivery still completes,
//! in order at both. Then what happens when a receiver keeps failing: dead
//! deliveries announced and retried by hand, and receivers flagged `failing`
//! until their next success.

use std::collections::HashMap;
use std::time::Duration;

use screenhub::sim::ashby::{AssessmentState, FaultCounters, Faults};
use screenhub_tests::{TestHub, VendorReceiver, World};
use serde_json::{json, Value};

/// About 30% of requests fail: 1 - 0.93 · 0.93 · 0.94 · 0.86 ≈ 0.30.
fn flaky(seed: u64) -> Faults {
    Faults {
        timeout_rate: 0.07,
        // Longer than the hub's outbound timeout (below), so the hub gives up first.
        timeout_ms: 1_000,
        drop_rate: 0.07,
        rate_limit_rate: 0.06,
        retry_after_secs: Some(1),
        error_rate: 0.14,
        seed: Some(seed),
        ..Default::default()
    }
}

fn describe(c: &FaultCounters) -> String {
    format!(
        "{} 500s, {} timeouts, {} dropped, {} 429s",
        c.errors, c.timeouts, c.drops, c.rate_limits
    )
}

#[tokio::test]
async fn every_delivery_completes_in_order_when_both_partners_are_flaky() {
    const ORDERS: usize = 60;
    let hub = TestHub::spawn_with(|c| {
        c.outbound_timeout_ms = 300;
        // Twenty tries: one delivery runs out with probability 0.3^20.
        c.retry_schedule_ms = [0, 10, 20, 40, 80].into_iter().chain([100; 15]).collect();
    })
    .await;
    let w = World::with_hub(hub).await;
    w.ashby.sim.set_faults(flaky(11)).unwrap();
    w.receiver.set_faults(flaky(12), 13);

    // Every fourth order is cancelled by Ashby at once (the vendor must see
    // `order.created`, then `order.cancelled`); the others get two progress
    // updates and a result (Ashby must see them in that order).
    let ids = futures::future::join_all((0..ORDERS).map(|n| {
        let w = &w;
        async move {
            let id = w.start(&format!("flaky-{n}@example.com")).await;
            if n % 4 == 0 {
                let cancel = w.ashby.sim.cancel_assessment(&id).await.unwrap();
                assert_eq!(cancel.call.status, 200, "{:?}", cancel.call);
                return id;
            }
            for step in ["Step 1", "Step 2"] {
                let (status, body) = w
                    .hub
                    .post(
                        &format!("/v1/orders/{id}/status"),
                        json!({"status": "in_progress", "label": step}),
                    )
                    .await;
                assert_eq!(status, 200, "{body}");
            }
            let (status, body) = w
                .hub
                .put(
                    &format!("/v1/orders/{id}/result"),
                    json!({"outcome": "pass", "report_url": format!("https://v.example/r/{n}")}),
                )
                .await;
            assert_eq!(status, 200, "{body}");
            id
        }
    }))
    .await;

    let store = w.hub.store();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let deliveries = loop {
        let all = store
            .list_deliveries(&screenhub_store::DeliveryFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        if all
            .iter()
            .all(|d| d.state != screenhub_core::delivery::DeliveryState::Pending)
        {
            break all;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries still pending after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let not_delivered: Vec<_> = deliveries
        .iter()
        .filter(|d| d.state != screenhub_core::delivery::DeliveryState::Succeeded)
        .map(|d| (&d.event_type, d.state, &d.last_error))
        .collect();
    assert!(not_delivered.is_empty(), "{not_delivered:#?}");

    // Ashby: each order's updates, accepted in the order they were made.
    let mut ats_repeats = 0;
    for (n, id) in ids.iter().enumerate() {
        let a = w.ashby.sim.assessment(id).unwrap();
        let statuses: Vec<&str> = a
            .updates
            .iter()
            .map(|u| u.body["assessment_status"]["value"].as_str().unwrap_or("-"))
            .collect();
        if n % 4 == 0 {
            assert_eq!(a.state, AssessmentState::Cancelled, "{id}");
        } else {
            assert_eq!(a.state, AssessmentState::Completed, "{id}");
            assert_eq!(
                statuses,
                ["Started", "Step 1", "Step 2", "Completed"],
                "{id}"
            );
        }
        assert!(a.rejected_updates.is_empty(), "{:#?}", a.rejected_updates);
        ats_repeats += a.repeated_updates;
    }

    // The vendor: each order's webhooks, once each (deduplicated on
    // webhook-id), in the order they happened.
    let mut per_order: HashMap<String, Vec<String>> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    let received = w.receiver.received();
    for webhook in &received {
        assert!(webhook.verified);
        if seen.insert(webhook.id.clone()) {
            let order = webhook.body["data"]["order"]["id"].as_str().unwrap();
            per_order
                .entry(order.to_owned())
                .or_default()
                .push(webhook.event_type.clone());
        }
    }
    for (n, id) in ids.iter().enumerate() {
        let expected: &[&str] = if n % 4 == 0 {
            &["order.created", "order.cancelled"]
        } else {
            &["order.created"]
        };
        assert_eq!(per_order[id], expected, "{id}");
    }
    let (vendor, ats): (Vec<_>, Vec<_>) = deliveries
        .iter()
        .partition(|d| d.target == screenhub_core::delivery::DeliveryTarget::Vendor);
    let attempts = |ds: &[&screenhub_store::Delivery]| ds.iter().map(|d| d.attempts).sum::<i64>();
    eprintln!(
        "flaky partners: {ORDERS} orders; {} ATS updates in {} attempts ({}), {} repeated; \
         {} webhooks in {} attempts ({}), {} duplicate arrivals; lost 0",
        ats.len(),
        attempts(&ats),
        describe(&w.ashby.sim.fault_counters()),
        ats_repeats,
        vendor.len(),
        attempts(&vendor),
        describe(&w.receiver.faults_injected()),
        received.len() - seen.len(),
    );
    let (ashby_faults, vendor_faults) =
        (w.ashby.sim.fault_counters(), w.receiver.faults_injected());
    for c in [ashby_faults, vendor_faults] {
        assert!(
            c.errors > 0 && c.timeouts > 0 && c.drops > 0 && c.rate_limits > 0,
            "every kind of fault happened: {}",
            describe(&c)
        );
    }
}

/// A second endpoint that only listens to what the hub says about deliveries
/// and endpoints (so it hears while the first one is down).
async fn ops_receiver(w: &World) -> (VendorReceiver, String) {
    let ops = VendorReceiver::start().await;
    let (status, endpoint) = w
        .hub
        .post(
            "/v1/webhook-endpoints",
            json!({"url": ops.url, "events": ["delivery.exhausted", "endpoint.failing", "endpoint.recovered", "account.ats_failing", "account.ats_recovered"]}),
        )
        .await;
    assert_eq!(status, 201, "{endpoint}");
    ops.set_secret(endpoint["secret"].as_str().unwrap());
    (ops, endpoint["id"].as_str().unwrap().to_owned())
}

async fn endpoint(w: &World, id: &str) -> Value {
    let (_, list) = w.hub.get("/v1/webhook-endpoints").await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .cloned()
        .unwrap()
}

fn flagging(c: &mut screenhub::Config) {
    c.retry_schedule_ms = vec![0, 20, 20, 20];
    c.failing_after_attempts = 3;
    c.failing_after_secs = 0;
}

#[tokio::test]
async fn a_webhook_that_runs_out_of_retries_is_dead_announced_flagged_and_retried_by_hand() {
    let w = World::with_hub(TestHub::spawn_with(flagging).await).await;
    let (ops, _) = ops_receiver(&w).await;
    let (_, endpoints) = w.hub.get("/v1/webhook-endpoints").await;
    let main = endpoints["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["url"] == w.receiver.url.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(endpoint(&w, &main).await["health"], "healthy");

    w.receiver.fail_next(1_000);
    let id = w.start("down@example.com").await;
    // Dead, and listed as such.
    let dead = w
        .hub
        .wait_for("/v1/deliveries?state=dead&target=vendor", 10, |l| {
            l["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["order_id"] == id.as_str() && d["event_type"] == "order.created")
        })
        .await;
    let dead = dead["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["event_type"] == "order.created")
        .unwrap()
        .clone();
    assert_eq!(dead["attempt_count"], 4);
    let dead_id = dead["id"].as_str().unwrap().to_owned();

    // Announced to the endpoint that is up, and the failing one is flagged.
    w.hub
        .eventually("delivery.exhausted at the ops endpoint", 10, || async {
            ops.of_type("delivery.exhausted")
                .iter()
                .any(|h| h.body["data"]["delivery"]["id"] == dead_id.as_str())
        })
        .await;
    // The endpoint's failure streak is recorded beside the delivery's own
    // state, so read it once the fourth failure has landed.
    w.hub
        .eventually("the fourth failure on the endpoint", 10, || async {
            endpoint(&w, &main).await["consecutive_failures"].as_i64() >= Some(4)
        })
        .await;
    let flagged = endpoint(&w, &main).await;
    assert_eq!(flagged["health"], "failing", "{flagged}");
    assert!(flagged["failing_since"].is_string(), "{flagged}");
    assert!(flagged["consecutive_failures"].as_i64().unwrap() >= 4);
    assert!(
        flagged["last_error"].as_str().unwrap().contains("HTTP 500"),
        "{flagged}"
    );
    w.hub
        .eventually("endpoint.failing at the ops endpoint", 10, || async {
            ops.of_type("endpoint.failing")
                .iter()
                .any(|h| h.body["data"]["endpoint_id"] == main.as_str())
        })
        .await;
    assert_eq!(ops.of_type("endpoint.failing").len(), 1, "flagged once");

    // Back up: retried by hand, delivered, and the flag cleared.
    w.receiver.fail_next(0);
    let (status, body) = w
        .hub
        .post(&format!("/v1/deliveries/{dead_id}/retry"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    w.hub
        .wait_for(&format!("/v1/deliveries/{dead_id}"), 10, |d| {
            d["state"] == "succeeded"
        })
        .await;
    assert_eq!(w.receiver.of_type("order.created")[0].id, dead_id);
    let healthy = endpoint(&w, &main).await;
    assert_eq!(
        (
            &healthy["health"],
            &healthy["failing_since"],
            &healthy["consecutive_failures"],
            &healthy["last_error"]
        ),
        (&json!("healthy"), &Value::Null, &json!(0), &Value::Null),
        "{healthy}"
    );
    w.hub
        .eventually("endpoint.recovered at the ops endpoint", 10, || async {
            !ops.of_type("endpoint.recovered").is_empty()
        })
        .await;
    let (_, events) = w.hub.get("/v1/events").await;
    let types: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for t in [
        "delivery.exhausted",
        "endpoint.failing",
        "endpoint.recovered",
    ] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
}

#[tokio::test]
async fn an_account_whose_ashby_updates_keep_failing_is_flagged_until_one_succeeds() {
    let w = World::with_hub(TestHub::spawn_with(flagging).await).await;
    let (ops, _) = ops_receiver(&w).await;
    let id = w.start("ashby-down@example.com").await;
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
            json!({"status": "in_progress", "label": "Checking"}),
        )
        .await;
    let account = w
        .hub
        .wait_for(&format!("/v1/accounts/{}", w.account_id), 10, |a| {
            a["ats_delivery"]["health"] == "failing"
        })
        .await;
    // Still active (new starts work), but a person is told what is wrong.
    assert_eq!(account["status"], "active");
    let reason = account["status_reason"].as_str().unwrap();
    assert!(
        reason.contains("failing since") && reason.contains("HTTP 500"),
        "{reason}"
    );
    w.hub
        .eventually("account.ats_failing webhook", 10, || async {
            ops.of_type("account.ats_failing")
                .iter()
                .any(|h| h.body["data"]["account_id"] == w.account_id.as_str())
        })
        .await;

    // Ashby is back: the next update clears it.
    w.ashby.sim.set_faults(Faults::default()).unwrap();
    w.hub
        .post(
            &format!("/v1/orders/{id}/status"),
            json!({"status": "in_progress", "label": "Almost done"}),
        )
        .await;
    let account = w
        .hub
        .wait_for(&format!("/v1/accounts/{}", w.account_id), 10, |a| {
            a["ats_delivery"]["health"] == "healthy"
        })
        .await;
    assert_eq!(account["status_reason"], Value::Null);
    assert_eq!(account["ats_delivery"]["consecutive_failures"], 0);
    w.hub
        .eventually("account.ats_recovered webhook", 10, || async {
            !ops.of_type("account.ats_recovered").is_empty()
        })
        .await;
    w.sim_eventually(&id, "the later update", |a| {
        a.updates
            .last()
            .is_some_and(|u| u.body["assessment_status"]["value"] == "Almost done")
    })
    .await;
}
