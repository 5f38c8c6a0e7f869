//! `screenhub demo --auto` in-process: many candidates through every path, and
//! again with Ashby failing and rate limiting.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use screenhub::demo::{matches_decision, run_auto, AutoReport, Demo, DemoSetup};
use screenhub::sim::ashby::{AssessmentState, ErrorKind, Faults};
use screenhub::sim::vendor::Scenario;

fn setup(faults: Faults) -> DemoSetup {
    let any = "127.0.0.1:0".parse().unwrap();
    DemoSetup {
        data_dir: None,
        hub_listen: any,
        ashby_listen: any,
        vendor_listen: any,
        greenhouse_listen: any,
        progress_after: Duration::from_millis(30),
        complete_after: Duration::from_millis(80),
        // Short, and long enough to outlast 30% errors plus rate limiting.
        retry_schedule_ms: Some(vec![
            0, 20, 20, 40, 40, 80, 80, 100, 100, 100, 100, 100, 100, 100, 100,
        ]),
        faults,
        seed: Some(11),
        vendor_policy: Default::default(),
        enable_ashby_integration: true,
    }
}

async fn run(setup: DemoSetup, candidates: usize) -> (Demo, AutoReport, String) {
    let demo = Demo::start(setup).await.unwrap();
    let out = Arc::new(Mutex::new(Vec::<u8>::new()));
    let report = run_auto(&demo, candidates, Duration::from_secs(20), out.clone())
        .await
        .unwrap();
    let mut text = out.lock().unwrap().clone();
    screenhub::demo::print_summary(&report, &mut text).unwrap();
    (demo, report, String::from_utf8(text).unwrap())
}

/// Ashby's final state for each assessment is what the vendor decided.
async fn assert_final_states_match(demo: &Demo, report: &AutoReport, output: &str) {
    for r in &report.runs {
        assert!(
            r.verdict.is_ok(),
            "#{} {:?}: {:?}\n{output}",
            r.number,
            r.scenario,
            r.verdict
        );
        // Check again here, from the raw state, not from the demo's verdict alone.
        let id = r.assessment_id.as_deref().unwrap();
        let a = demo.ashby.assessment(id).unwrap();
        let order = demo.vendor.order(id).unwrap();
        assert_eq!(
            order.scenario, r.scenario,
            "the vendor followed the email tag"
        );
        matches_decision(&order, &a).unwrap();
        let expected = match r.scenario {
            Scenario::Pass | Scenario::Fail | Scenario::Review | Scenario::Scored => {
                AssessmentState::Completed
            }
            Scenario::Failed | Scenario::VendorCancel | Scenario::Hold => {
                AssessmentState::Cancelled
            }
        };
        assert_eq!(a.state, expected, "{id}");
        // Every update arrived in order: started first, the end last, timestamps rising.
        let timestamps: Vec<i64> = a
            .updates
            .iter()
            .map(|u| u.body["timestamp"].as_i64().unwrap())
            .collect();
        assert!(timestamps.windows(2).all(|w| w[0] < w[1]), "{timestamps:?}");
        assert_eq!(a.updates[0].body["assessment_status"]["value"], "Started");
        let statuses: Vec<&str> = a
            .updates
            .iter()
            .filter_map(|u| u.body["assessment_status"]["value"].as_str())
            .collect();
        if r.scenario != Scenario::Hold {
            assert!(
                statuses.iter().any(|s| s.starts_with("Candidate invited")),
                "{statuses:?}"
            );
        }
        assert!(a.rejected_updates.is_empty(), "{:?}", a.rejected_updates);
        if expected == AssessmentState::Completed {
            assert_eq!(
                a.profile_url.as_ref().unwrap().value,
                serde_json::json!(order.report_url)
            );
        }
        if r.scenario == Scenario::Hold {
            assert!(a.cancel_requested_at_ms.is_some(), "cancelled from Ashby");
            // Ashby shows its own cancel at once; the vendor hears of it by
            // webhook, a moment later.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while !demo.vendor.order(id).unwrap().cancelled_by_ats {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the vendor heard of the cancellation"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert!(report.all_reached_ashby());
    assert!(demo.ashby.rejections().is_empty());
    // The Greenhouse employer: every stage froze what the vendor decided,
    // and Greenhouse never had to complain.
    assert_eq!(report.greenhouse.len(), report.runs.len());
    for r in &report.greenhouse {
        assert!(
            r.verdict.is_ok(),
            "Greenhouse #{} {:?}: {:?}\n{output}",
            r.number,
            r.scenario,
            r.verdict
        );
        let id = r.partner_interview_id.as_deref().unwrap();
        let order = demo.vendor.order(id).unwrap();
        assert_eq!(
            order.scenario, r.scenario,
            "the vendor followed the email tag"
        );
        screenhub::demo_greenhouse::matches_decision(&order, r.frozen.as_ref().unwrap()).unwrap();
    }
    assert!(
        demo.greenhouse.sim.response_errors().is_empty(),
        "{:?}",
        demo.greenhouse.sim.response_errors()
    );
    assert!(report.all_reached_their_ats());
}

#[tokio::test]
async fn demo_auto_drives_every_path_and_ashby_shows_what_the_vendor_decided() {
    let (demo, report, output) = run(setup(Faults::default()), 42).await;
    assert_eq!(report.runs.len(), 42);
    for s in Scenario::ALL {
        assert_eq!(
            report.runs.iter().filter(|r| r.scenario == s).count(),
            6,
            "{s:?}"
        );
    }
    assert_final_states_match(&demo, &report, &output).await;
    assert!(
        output.contains("every order reached Ashby as the vendor decided"),
        "{output}"
    );
    assert!(
        output.contains("completed 24  ·  cancelled 12  ·  failed 6"),
        "{output}"
    );
    assert!(
        output.contains("result: Needs review (Full Report linked)"),
        "{output}"
    );
    // A vendor-reported failure reads as a failure, as the summary counts it.
    assert!(
        output.contains("failed: ") && output.contains("(Ashby shows it cancelled)"),
        "{output}"
    );
    assert!(
        !output.contains("cancelled: Could not be completed"),
        "{output}"
    );
    // The progress comes after the updates it counts: the last update line is
    // followed by the final progress, then the summary.
    let lines: Vec<&str> = output.lines().collect();
    let summary = lines.iter().position(|l| l.starts_with("Summary")).unwrap();
    let last_progress = lines
        .iter()
        .rposition(|l| l.starts_with("── progress"))
        .unwrap();
    let last_update = lines.iter().rposition(|l| l.starts_with('[')).unwrap();
    assert!(
        last_update < last_progress && last_progress < summary,
        "{output}"
    );
    assert_eq!(lines[last_progress], "── progress: 42/42 orders finished");
    assert!(
        output.contains("absorbed: 0 × 429 and 0 other failures"),
        "{output}"
    );
    // Each webhook was handled once although delivery is at least once.
    let counters = demo.vendor.counters();
    assert_eq!(counters.bad_signatures, 0);
    assert_eq!(
        counters.accepted,
        42 + 6 + 6 + 42 + 7,
        "Ashby: order.created, and order.cancelled for both cancel paths; \
         Greenhouse: order.created, and order.cancelled when the vendor cancels"
    );
    demo.stop().await.unwrap();
}

#[tokio::test]
async fn with_30_percent_errors_and_rate_limiting_every_update_still_arrives_in_order() {
    let faults = Faults {
        error_rate: 0.3,
        error_kind: ErrorKind::Http500,
        rate_limit_rate: 0.15,
        rate_limit_scope_partner: true,
        retry_after_secs: Some(1),
        ..Faults::default()
    };
    let (demo, report, output) = run(setup(faults), 21).await;
    assert_final_states_match(&demo, &report, &output).await;
    assert!(report.hub_retries > 0, "{output}");
    assert!(
        output.contains(&format!(
            "× 429 and {} other failures",
            report.faults.errors + report.faults.timeouts + report.faults.drops
        )),
        "{output}"
    );
    let injected = demo.ashby.fault_counters();
    assert!(injected.errors >= 5, "faults were injected: {injected:?}");
    assert!(
        injected.rate_limits >= 2,
        "429s were injected: {injected:?}"
    );
    // Every delivery succeeds in the end. An update after an order's final
    // state (e.g. a repeat after an unanswered attempt) may still be in
    // flight when the last order ends, behind a Retry-After.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let deliveries = demo
            .hub
            .state
            .store
            .list_deliveries(&screenhub_store::DeliveryFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        let all_succeeded = deliveries
            .iter()
            .all(|d| d.state == screenhub_core::delivery::DeliveryState::Succeeded);
        if all_succeeded {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{deliveries:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    demo.stop().await.unwrap();
}

/// Ashby failing most of the time during the demo's own setup (the hub checks
/// the demo's Ashby key with apiKey.info): the setup retries, as a vendor's
/// integration would, and starts every time.
#[tokio::test]
async fn the_demo_setup_retries_through_injected_faults() {
    let mut retries = 0;
    for seed in 1..=6 {
        let faults = Faults {
            error_rate: 0.5,
            rate_limit_rate: 0.3,
            retry_after_secs: Some(0),
            seed: Some(seed),
            ..Faults::default()
        };
        let demo = Demo::start(setup(faults))
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: {e:#}"));
        retries += demo.setup_retries;
        demo.stop().await.unwrap();
    }
    assert!(retries > 0, "at 80% faults some setup call was retried");
}

/// The demo's dashboard is not a dead end: the key it prints signs in.
#[tokio::test]
async fn the_demo_prints_a_key_that_signs_in_to_its_dashboard() {
    let demo = Demo::start(setup(Faults::default())).await.unwrap();
    let mut printed = Vec::new();
    demo.print_urls(&mut printed).unwrap();
    let printed = String::from_utf8(printed).unwrap();
    assert!(printed.contains(&demo.dashboard_key), "{printed}");
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/dashboard/sign-in", demo.hub.url()))
        .form(&[("api_key", demo.dashboard_key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "signed in");
    demo.stop().await.unwrap();
}
