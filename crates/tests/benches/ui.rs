//! The dashboard with 100,000 orders: fills a fresh store in one transaction,
//! then times the orders list, a filtered list, an older page, the overview
//! and an order page over real HTTP. Run: `cargo bench -p screenhub-tests --bench ui`
//! (ORDERS=… to change the size).

use std::time::{Duration, Instant};

use screenhub_core::{AccountId, OrderId};
use screenhub_store::{NewAccount, NewOrder};
use screenhub_tests::TestHub;
use serde_json::json;

const REQUESTS: usize = 30;
const DAY_MS: i64 = 86_400_000;

fn new_order(account: &AccountId, i: usize, now: i64) -> NewOrder {
    let email = format!("candidate{i}@example.com");
    NewOrder {
        id: OrderId::generate(),
        account_id: account.clone(),
        package_id: "basic".into(),
        package_name: "Basic background check".into(),
        candidate_ats_id: format!("cand-{i}"),
        candidate_email: email.clone(),
        application_ats_id: format!("app-{i}"),
        application_status: "Active".into(),
        job_ats_id: "job-1".into(),
        job_name: "Backend Engineer".into(),
        job_req_id: Some("REQ-42".into()),
        ats_payload: json!({"candidate": {"first_name": "Candidate", "last_name": format!("{i}"), "email": email}}),
        ats: screenhub_core::account::Ats::Ashby,
        intake: screenhub_core::intake::Intake {
            candidate: screenhub_core::intake::Candidate {
                first_name: "Candidate".into(),
                last_name: format!("{i}"),
                email: email.clone(),
                ..Default::default()
            },
            ..Default::default()
        },
        dedupe_key: None,
        // Spread over the last 30 days, oldest first (ids grow with i).
        created_at: now - 30 * DAY_MS + (i as i64 * 30 * DAY_MS) / 100_000,
    }
}

async fn time(client: &reqwest::Client, url: &str, cookie: &str) -> (Duration, Duration) {
    let mut samples = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let start = Instant::now();
        let res = client
            .get(url)
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{url}");
        res.bytes().await.unwrap();
        samples.push(start.elapsed());
    }
    samples.sort();
    let p95 = samples[(samples.len() * 95).div_ceil(100) - 1];
    (samples[samples.len() / 2], p95)
}

#[tokio::main]
async fn main() {
    // `cargo test --all-targets` runs this too, without `--bench`: then only a
    // small smoke run, to prove the benchmark still works.
    let full = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 100_000 } else { 500 });
    let hub = TestHub::spawn().await;
    let now = hub.hub.state.now();
    let (account, _) = hub
        .store()
        .create_account(
            NewAccount {
                name: "Acme".into(),
                ats_api_base_url: "http://127.0.0.1:1".into(),
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap();
    let (status, _) = hub
        .put(
            "/v1/packages",
            json!([{"id": "basic", "kind": "background_check", "name": "Basic background check"}]),
        )
        .await;
    assert_eq!(status, 200);
    let start = Instant::now();
    let orders: Vec<NewOrder> = (0..n).map(|i| new_order(&account.id, i, now)).collect();
    let middle = orders[n / 2].id;
    for chunk in orders.chunks(10_000) {
        hub.store().bulk_insert_orders(chunk).await.unwrap();
    }
    println!(
        "filled {n} orders in {:.1} s ({:?} backend)",
        start.elapsed().as_secs_f64(),
        hub.store().kind()
    );

    let (client, cookie) = hub.dashboard_session().await;
    let base = hub.url();
    let pages = [
        (
            "orders list (newest 50)",
            format!("{base}/dashboard/orders"),
        ),
        (
            "orders list, page in the middle",
            format!("{base}/dashboard/orders?before={middle}"),
        ),
        (
            "orders list, status + account filter",
            format!(
                "{base}/dashboard/orders?status=pending&account={}",
                account.id
            ),
        ),
        (
            "orders list, search by email",
            format!("{base}/dashboard/orders?email=candidate77777%40example.com"),
        ),
        ("order page", format!("{base}/dashboard/orders/{middle}")),
        ("overview (counts + charts)", format!("{base}/dashboard")),
    ];
    println!(
        "{:<40} {:>10} {:>10}   ({REQUESTS} requests each)",
        "page", "median", "p95"
    );
    for (name, url) in pages {
        let (median, p95) = time(&client, &url, &cookie).await;
        println!(
            "{name:<40} {:>8.1}ms {:>8.1}ms",
            median.as_secs_f64() * 1e3,
            p95.as_secs_f64() * 1e3
        );
    }
}
