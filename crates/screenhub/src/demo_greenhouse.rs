//! The Greenhouse half of `screenhub demo`: a simulated Greenhouse with one
//! employer whose partner stage uses the vendor's tests, linked to its own
//! account on the hub; `--auto` sends tests to candidates and checks that
//! what Greenhouse froze on each stage is what the vendor decided.

use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::sim::greenhouse::wire::StatusAnswer;
use crate::sim::greenhouse::{
    GreenhouseSim, NewCandidate, NewOrg, PartnerSettings, SendOptions, SimConfig,
};
use crate::sim::vendor::{ReferenceVendor, Scenario, VendorOrder};

/// The deployment's PATCH credential in the demo (Greenhouse gives one per partner).
pub const DEMO_PATCH_USERNAME: &str = "screenhub-demo-partner";

/// Greenhouse has no cancel: every scenario but a recruiter's cancel.
pub const SCENARIOS: [Scenario; 6] = [
    Scenario::Pass,
    Scenario::Fail,
    Scenario::Review,
    Scenario::Scored,
    Scenario::Failed,
    Scenario::VendorCancel,
];

/// The running simulator and the employer linked through it.
pub struct GreenhouseDemo {
    pub sim: GreenhouseSim,
    pub url: String,
    pub account_id: String,
    pub org_id: String,
}

/// Start the simulator, create the employer's account on the hub (through
/// the vendor API, as a vendor would) and its organisation in Greenhouse,
/// and add the vendor's stage to the job.
pub async fn start(
    listener: TcpListener,
    hub_url: &str,
    vendor_key: &str,
    patch_password: &str,
    stage_test: &str,
) -> anyhow::Result<GreenhouseDemo> {
    let sim = GreenhouseSim::new(SimConfig::default());
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(crate::sim::greenhouse::serve(listener, sim.clone()));
    sim.set_partner(PartnerSettings::new(
        format!("{hub_url}/ats/greenhouse"),
        DEMO_PATCH_USERNAME.into(),
        patch_password.into(),
    ))
    .map_err(anyhow::Error::msg)?;
    let account: Value = reqwest::Client::new()
        .post(format!("{hub_url}/v1/accounts"))
        .bearer_auth(vendor_key)
        .json(&json!({"name": "Globex Inc (demo, Greenhouse)", "ats": "greenhouse", "environment": "test"}))
        .send()
        .await?
        .error_for_status()
        .context("creating the Greenhouse account")?
        .json()
        .await?;
    let account_id = account["id"].as_str().context("account id")?.to_owned();
    let token = account["external_trigger_token"]
        .as_str()
        .context("external trigger token")?;
    // What Greenhouse Support does with the key the employer sends them.
    let org = sim
        .create_org(NewOrg {
            name: "Globex Inc".into(),
            key: token.to_owned(),
            job_name: Some("Warehouse Associate".into()),
        })
        .map_err(anyhow::Error::msg)?;
    sim.list_tests(&org.id).await?;
    sim.set_stage(&org.id, stage_test).await?;
    Ok(GreenhouseDemo {
        sim,
        url,
        account_id,
        org_id: org.id,
    })
}

/// One Greenhouse candidate driven by `--auto`.
#[derive(Debug, Clone)]
pub struct GreenhouseRun {
    pub number: usize,
    pub scenario: Scenario,
    pub partner_interview_id: Option<String>,
    /// What the stage shows at the end.
    pub frozen: Option<StatusAnswer>,
    /// Ok when the stage shows exactly what the vendor decided.
    pub verdict: Result<(), String>,
}

/// Send a test to one candidate of scenario `scenario` and wait until
/// Greenhouse froze a result.
pub async fn drive(
    gh: &GreenhouseSim,
    vendor: &ReferenceVendor,
    org_id: &str,
    number: usize,
    scenario: Scenario,
    package: &str,
    timeout: Duration,
) -> GreenhouseRun {
    let mut run = GreenhouseRun {
        number,
        scenario,
        partner_interview_id: None,
        frozen: None,
        verdict: Err("not sent".into()),
    };
    let candidate = gh.add_candidate(
        org_id,
        NewCandidate {
            // The tag tells the reference vendor's sandbox what to do.
            email: Some(format!(
                "gh-candidate{number:03}+{}@example.com",
                scenario.as_str()
            )),
            ..Default::default()
        },
    );
    let candidate = match candidate {
        Ok(c) => c,
        Err(e) => {
            run.verdict = Err(e.to_string());
            return run;
        }
    };
    let options = SendOptions {
        partner_test_id: Some(package.to_owned()),
        sent_by: None,
    };
    let interview = match gh.send_test(candidate.id, options).await {
        Ok(i) => i,
        Err(e) => {
            run.verdict = Err(e.to_string());
            return run;
        }
    };
    let Some(id) = interview.partner_interview_id.clone() else {
        run.verdict = Err(format!(
            "send_test failed: {}",
            interview.send_error.unwrap_or_default()
        ));
        return run;
    };
    run.partner_interview_id = Some(id.clone());
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        run.frozen = gh
            .interview(interview.take_home_test_id)
            .and_then(|i| i.frozen);
        if run.frozen.is_some() || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    run.verdict = match (&run.frozen, vendor.order(&id)) {
        (None, _) => Err(format!("no result in Greenhouse after {timeout:?}")),
        (_, None) => Err("the vendor never received the order".into()),
        (Some(frozen), Some(order)) => matches_decision(&order, frozen),
    };
    run
}

fn row<'a>(frozen: &'a StatusAnswer, key: &str) -> Option<&'a Value> {
    frozen
        .metadata
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// Whether the stage shows what the vendor decided: the result row, the
/// score and the report link, or that the check ended without a result.
pub fn matches_decision(order: &VendorOrder, frozen: &StatusAnswer) -> Result<(), String> {
    if frozen.partner_status != "complete" {
        return Err(format!("Greenhouse shows {}", frozen.partner_status));
    }
    let expected = match order.scenario {
        Scenario::Pass => "Clear",
        Scenario::Fail => "Not clear",
        Scenario::Review => "Needs review",
        Scenario::Scored => "Complete",
        Scenario::Failed => "Could not be completed",
        _ => "Cancelled",
    };
    let shown = row(frozen, "Result");
    if shown != Some(&json!(expected)) {
        return Err(format!(
            "Result: expected {expected}, Greenhouse shows {shown:?}"
        ));
    }
    let completed = matches!(
        order.scenario,
        Scenario::Pass | Scenario::Fail | Scenario::Review | Scenario::Scored
    );
    if completed && frozen.partner_profile_url.as_deref() != Some(order.report_url.as_str()) {
        return Err(format!(
            "report link: expected {}, Greenhouse shows {:?}",
            order.report_url, frozen.partner_profile_url
        ));
    }
    let score = order
        .result
        .as_ref()
        .and_then(|r| r.score.as_ref())
        .map(|s| s.value);
    let shown_score = frozen.partner_score.as_ref().and_then(|n| n.as_f64());
    if completed && score != shown_score {
        return Err(format!(
            "score: expected {score:?}, Greenhouse shows {shown_score:?}"
        ));
    }
    if !completed && shown_score.is_some() {
        return Err("a check that ended without a result shows a score".into());
    }
    Ok(())
}
