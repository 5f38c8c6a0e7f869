//! `screenhub bench --test-status N`: Greenhouse's `test_status`, the path
//! Greenhouse may poll for every open order hourly for 8 weeks. N orders are
//! sent through `send_test`, then `GET test_status` is driven round-robin
//! over them for `--duration`: requests per second and latencies.

use std::sync::Arc;

use anyhow::Context;
use serde_json::{json, Value};

use super::{drive, vendor_call, BenchArgs, LoadReport};

const PACKAGE: &str = "bench-greenhouse";

/// Set up a Greenhouse account with `orders` orders on the hub at `hub_url`,
/// then measure `test_status`.
pub async fn run(
    args: &BenchArgs,
    http: &reqwest::Client,
    hub_url: &str,
    api_key: &str,
    orders: u64,
) -> anyhow::Result<LoadReport> {
    anyhow::ensure!(orders > 0, "--test-status needs at least one order");
    // The package may exist from an earlier run on the same hub.
    let _ = http
        .post(format!("{hub_url}/v1/packages"))
        .bearer_auth(api_key)
        .json(&json!({"id": PACKAGE, "kind": "background_check", "name": "Bench check"}))
        .send()
        .await?;
    let account = vendor_call(
        http,
        reqwest::Method::POST,
        format!("{hub_url}/v1/accounts"),
        api_key,
        json!({"name": "bench (Greenhouse)", "ats": "greenhouse"}),
    )
    .await?;
    let token = account["external_trigger_token"]
        .as_str()
        .context("external trigger token")?
        .to_owned();
    let run = ulid::Ulid::new().to_string();
    let mut ids = Vec::new();
    for n in 0..orders {
        let body = json!({
            "partner_test_id": PACKAGE,
            "candidate": {"first_name": "Bench", "last_name": format!("{n}"),
                "email": format!("bench{n}@example.com"), "preferred_name": null,
                "greenhouse_profile_url": format!("https://app.greenhouse.io/people/{n}?application_id={n}")},
            "url": format!("https://app.greenhouse.io/integrations/testing_partners/take_home_tests/{run}-{n}"),
        });
        let answer: Value = http
            .post(format!("{hub_url}/ats/greenhouse/send_test"))
            .basic_auth(&token, None::<&str>)
            .json(&body)
            .send()
            .await?
            .error_for_status()
            .context("send_test")?
            .json()
            .await?;
        ids.push(
            answer["partner_interview_id"]
                .as_str()
                .context("partner_interview_id")?
                .to_owned(),
        );
    }
    let ids = Arc::new(ids);
    let url = format!("{hub_url}/ats/greenhouse/test_status");
    let load = http.clone();
    Ok(drive(
        args,
        "test_status",
        None,
        move |n| {
            let id = &ids[(n % ids.len() as u64) as usize];
            load.get(&url)
                .query(&[("partner_interview_id", id)])
                .basic_auth(&token, None::<&str>)
        },
        |_| {},
    )
    .await)
}
