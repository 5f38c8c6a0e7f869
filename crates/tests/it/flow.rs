//! The whole flow over HTTP: account → Ashby key → packages → list → start (and
//! a duplicate) → signed webhook → in progress → result → Ashby's updates in
//! order → cancel from both sides.

use screenhub::sim::ashby::AssessmentState;
use screenhub_tests::{start_body, World};
use serde_json::{json, Value};

#[tokio::test]
async fn the_whole_flow_end_to_end() {
    let w = World::new().await;
    let hub = &w.hub;

    // Ashby fills its Assessment Type dropdown.
    let listed = w.ashby.sim.list_assessment_types().await.unwrap();
    let names: Vec<_> = listed
        .assessment_types
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(names, ["Basic background check", "Coding assessment"]);

    // A recruiter starts the check; Ashby records it as started at once.
    let id = w.start("zoë.núñez@exämple.com").await;
    let a = w.ashby.sim.assessment(&id).unwrap();
    assert!(
        a.started_at_ms.is_some(),
        "the inline update_request marks it started"
    );
    assert_eq!(a.status.as_ref().unwrap().value, json!("Started"));

    // The vendor hears of it through a signed webhook.
    hub.eventually("order.created webhook", 10, || async {
        !w.receiver.of_type("order.created").is_empty()
    })
    .await;
    let created = &w.receiver.of_type("order.created")[0];
    assert!(created.verified);
    let order = &created.body["data"]["order"];
    assert_eq!(order["id"], id);
    assert_eq!(order["status"], "pending");
    assert_eq!(order["candidate"]["email"], "zoë.núñez@exämple.com");
    assert_eq!(order["package_id"], "basic");
    assert!(created.id.starts_with("dlv_"));

    // Progress, then the result.
    let (status, body) = hub
        .post(
            &format!("/v1/orders/{id}/status"),
            json!({"status": "in_progress", "label": "Candidate invited", "eta_minutes": 2880}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let a = w
        .sim_eventually(&id, "the in-progress update", |a| {
            a.status
                .as_ref()
                .is_some_and(|s| s.value != json!("Started"))
        })
        .await;
    assert_eq!(
        a.status.as_ref().unwrap().value,
        json!("Candidate invited (about 2 days left)")
    );
    let (status, body) = hub
        .put(
            &format!("/v1/orders/{id}/result"),
            json!({
                "outcome": "pass",
                "report_url": "https://vendor.example/reports/123",
                "summary": "No records found",
                "score": {"value": 92, "max": 100},
                "screenings": [
                    {"name": "Identity", "outcome": "pass"},
                    {"name": "Criminal", "outcome": "review", "detail": "Name match in one county; clear on review"}
                ]
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "completed");
    let a = w
        .sim_eventually(&id, "the result", |a| a.state == AssessmentState::Completed)
        .await;
    assert_eq!(a.result.as_ref().unwrap().value, json!(true));
    let profile = a.profile_url.as_ref().unwrap();
    assert_eq!(
        (profile.label.as_str(), &profile.value),
        ("Full Report", &json!("https://vendor.example/reports/123"))
    );
    let identifiers: Vec<_> = a.metadata.iter().map(|m| m.identifier.as_str()).collect();
    for expected in [
        "score",
        "score_max",
        "summary",
        "screening_identity",
        "screening_criminal",
    ] {
        assert!(
            identifiers.contains(&expected),
            "metadata {identifiers:?} lacks {expected}"
        );
    }
    assert!(
        !identifiers.contains(&"eta_minutes"),
        "a finished check shows no time remaining: {identifiers:?}"
    );
    assert_eq!(a.status.as_ref().unwrap().value, json!("Completed"));
    assert!(a.rejected_updates.is_empty(), "{:#?}", a.rejected_updates);
    let stamps: Vec<i64> = a
        .updates
        .iter()
        .map(|u| u.body["timestamp"].as_i64().unwrap())
        .collect();
    assert!(
        stamps.windows(2).all(|p| p[0] < p[1]),
        "timestamps strictly increase: {stamps:?}"
    );
    let statuses: Vec<_> = a
        .updates
        .iter()
        .map(|u| u.body["assessment_status"]["value"].clone())
        .collect();
    assert_eq!(
        statuses,
        [
            json!("Started"),
            json!("Candidate invited (about 2 days left)"),
            json!("Completed")
        ]
    );

    // The order shows its timeline and its deliveries.
    let detail = hub
        .wait_for(&format!("/v1/orders/{id}"), 10, |o| {
            o["deliveries"]
                .as_array()
                .is_some_and(|d| d.iter().all(|d| d["state"] == "succeeded"))
        })
        .await;
    let events: Vec<_> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["order.created", "order.in_progress", "order.completed"]
    );
    assert_eq!(
        detail["deliveries"].as_array().unwrap().len(),
        3,
        "one webhook and two Ashby updates"
    );
    assert_eq!(
        detail["ats_request"]["something_new"],
        Value::Null,
        "the sim sends only documented fields"
    );
    assert_eq!(detail["result"]["score"]["value"], 92.0);

    // A late transition is refused, not applied.
    let (status, body) = hub
        .post(
            &format!("/v1/orders/{id}/cancel"),
            json!({"reason": "too late"}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["error"]["code"].as_str()),
        (409, Some("illegal_transition"))
    );
    let (status, _) = hub
        .post(
            &format!("/v1/orders/{id}/status"),
            json!({"status": "in_progress"}),
        )
        .await;
    assert_eq!(status, 409);

    // The event feed has it all, in order.
    let (_, feed) = hub.get("/v1/events?after=0&limit=100").await;
    let seqs: Vec<i64> = feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|p| p[0] < p[1]));
    let (_, rest) = hub
        .get(&format!("/v1/events?after={}", feed["next_after"]))
        .await;
    assert!(rest["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_duplicate_start_returns_the_same_assessment() {
    let w = World::new().await;
    let body = start_body(&w.type_id, "app-dup", "dup@example.com");
    let (s1, first) = w.hub.ats(&w.token, "assessment.start", body.clone()).await;
    let (s2, second) = w.hub.ats(&w.token, "assessment.start", body.clone()).await;
    assert_eq!((s1.as_u16(), s2.as_u16()), (200, 200));
    assert_eq!(
        first["results"]["assessment_id"],
        second["results"]["assessment_id"]
    );
    assert_eq!(first, second, "a retried start gets the same answer");
    let update = &first["results"]["update_request"];
    assert_eq!(update["assessment_status"]["value"], "Started");
    assert!(
        update["timestamp"].as_i64().unwrap() > 1_600_000_000_000,
        "milliseconds"
    );
    let (_, orders) = w.hub.get("/v1/orders").await;
    assert_eq!(orders["data"].as_array().unwrap().len(), 1);
    // Unknown fields are kept with the order.
    let id = first["results"]["assessment_id"].as_str().unwrap();
    let (_, order) = w.hub.get(&format!("/v1/orders/{id}")).await;
    assert_eq!(order["ats_request"]["something_new"]["kept"], true);
    assert_eq!(order["additional_fields"]["cf-1"], "night shift");
    assert_eq!(order["job"]["hiring_team"][0]["email"], "ana@acme.test");
    // Another type for the same application is another order.
    let (_, packages) = w.hub.get("/v1/packages").await;
    let other_type = packages["data"][1]["ats_type_id"].as_str().unwrap();
    let (_, third) = w
        .hub
        .ats(
            &w.token,
            "assessment.start",
            start_body(other_type, "app-dup", "dup@example.com"),
        )
        .await;
    assert_ne!(
        third["results"]["assessment_id"],
        first["results"]["assessment_id"]
    );
}

#[tokio::test]
async fn cancel_from_ashby_tells_the_vendor() {
    let w = World::new().await;
    let id = w.start("cancel-me@example.com").await;
    let outcome = w.ashby.sim.cancel_assessment(&id).await.unwrap();
    assert_eq!(outcome.call.status, 200, "{:?}", outcome.call);
    assert_eq!(outcome.inline_update.map(|u| u.accepted), Some(true));
    assert_eq!(
        w.ashby.sim.assessment(&id).unwrap().state,
        AssessmentState::Cancelled
    );
    w.hub
        .eventually("order.cancelled webhook", 10, || async {
            !w.receiver.of_type("order.cancelled").is_empty()
        })
        .await;
    let cancelled = &w.receiver.of_type("order.cancelled")[0].body["data"]["order"];
    assert_eq!(cancelled["cancellation"]["by"], "ats");
    // Cancelling again is not an error: a success with nothing left to cancel.
    let (status, again) = w
        .hub
        .ats(&w.token, "assessment.cancel", json!({"assessment_id": id}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        again,
        json!({"success": true, "results": {"assessment_id": id}})
    );
    // The vendor can no longer report on it.
    let (status, _) = w
        .hub
        .put(
            &format!("/v1/orders/{id}/result"),
            json!({"outcome": "pass", "report_url": "https://v.example/r"}),
        )
        .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn cancel_from_the_vendor_reaches_ashby() {
    let w = World::new().await;
    let id = w.start("vendor-cancel@example.com").await;
    let (status, body) = w
        .hub
        .post(
            &format!("/v1/orders/{id}/cancel"),
            json!({"reason": "Candidate withdrew consent"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let a = w
        .sim_eventually(&id, "the cancellation", |a| {
            a.state == AssessmentState::Cancelled
        })
        .await;
    assert_eq!(
        a.cancelled_reason.unwrap().value,
        json!("Candidate withdrew consent")
    );
    // Ashby cancelling a completed check: a success that leaves it completed
    // (no cancelled_reason), since Ashby documents only HTTP 200 for cancel.
    let id2 = w.start("done@example.com").await;
    w.hub
        .put(
            &format!("/v1/orders/{id2}/result"),
            json!({"outcome": "fail", "report_url": "https://v.example/r/2"}),
        )
        .await;
    let (status, body) = w
        .hub
        .ats(&w.token, "assessment.cancel", json!({"assessment_id": id2}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"success": true, "results": {"assessment_id": id2}})
    );
    let (_, order) = w.hub.get(&format!("/v1/orders/{id2}")).await;
    assert_eq!(order["status"], "completed");
}

#[tokio::test]
async fn a_failed_check_is_reported_to_ashby_as_cancelled_with_the_reason() {
    let w = World::new().await;
    let id = w.start("noshow@example.com").await;
    let (status, body) = w
        .hub
        .post(
            &format!("/v1/orders/{id}/status"),
            json!({"status": "failed"}),
        )
        .await;
    assert_eq!(status, 422, "failed needs a reason: {body}");
    let (status, _) = w
        .hub
        .post(
            &format!("/v1/orders/{id}/status"),
            json!({"status": "failed", "reason": "Candidate never responded"}),
        )
        .await;
    assert_eq!(status, 200);
    let a = w
        .sim_eventually(&id, "the failure", |a| {
            a.state == AssessmentState::Cancelled
        })
        .await;
    assert!(a
        .cancelled_reason
        .unwrap()
        .value
        .as_str()
        .unwrap()
        .contains("Candidate never responded"));
}

#[tokio::test]
async fn results_are_validated() {
    let w = World::new().await;
    let id = w.start("validate@example.com").await;
    for (body, needle) in [
        (json!({"outcome": "pass"}), "report_url"),
        (
            json!({"outcome": "pass", "report_url": "not a url"}),
            "report_url",
        ),
        (
            json!({"outcome": "pass", "report_url": "javascript:alert(1)"}),
            "http",
        ),
        (
            json!({"outcome": "great", "report_url": "https://v.example/r"}),
            "outcome",
        ),
        (
            json!({"outcome": "none", "report_url": "https://v.example/r", "score": {"value": 11, "max": 10}}),
            "above",
        ),
        (
            json!({"outcome": "pass", "report_url": "https://v.example/r", "completed_at": "yesterday"}),
            "RFC 3339",
        ),
    ] {
        let (status, res) = w
            .hub
            .put(&format!("/v1/orders/{id}/result"), body.clone())
            .await;
        assert_eq!(status, 422, "{body} → {res}");
        assert!(
            res["error"]["message"].as_str().unwrap().contains(needle),
            "{body} → {res}"
        );
    }
    let (status, _) = w
        .hub
        .put(
            "/v1/orders/0191e1f2-0000-7000-8000-000000000000/result",
            json!({"outcome": "pass", "report_url": "https://v.example/r"}),
        )
        .await;
    assert_eq!(status, 404);
}
