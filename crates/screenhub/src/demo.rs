//! `screenhub demo`: the hub, the Ashby and Greenhouse simulators and the
//! reference vendor in one process on embedded SQLite, linked together: one
//! employer on Ashby, one on Greenhouse (`demo_greenhouse`). With `--auto`, it
//! drives candidates through every path (each outcome, a failure, and a cancel
//! from either side) on both, and checks that what reached each ATS is what
//! the vendor decided.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use screenhub_core::clock::{Clock, SystemClock};

use crate::app::{open_store, system_clock, Hub, Roles};
use crate::config::Config;
use crate::sim::ashby::{
    AshbySim, AssessmentState, FaultCounters, Faults, SimAssessment, SimConfig, StartOptions,
};
use crate::sim::vendor::{ReferenceVendor, Scenario, VendorConfig, VendorOrder, CATALOG};
use screenhub_ashby::mapping::FAILED_REASON;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// How to set the demo up.
#[derive(Debug, Clone)]
pub struct DemoSetup {
    /// Where the database and master key go; a temporary directory when absent.
    pub data_dir: Option<PathBuf>,
    pub hub_listen: SocketAddr,
    pub ashby_listen: SocketAddr,
    pub vendor_listen: SocketAddr,
    pub greenhouse_listen: SocketAddr,
    pub progress_after: Duration,
    pub complete_after: Duration,
    /// The hub's retry schedule; the default one when absent.
    pub retry_schedule_ms: Option<Vec<u64>>,
    pub faults: Faults,
    pub seed: Option<u64>,
    /// How the reference vendor picks outcomes (email tags win over it).
    pub vendor_policy: crate::sim::vendor::OutcomePolicy,
    /// Enable the integration in the simulated Ashby (partner URL and token).
    /// Off, an admin does it on the sim's Admin → Integrations page.
    pub enable_ashby_integration: bool,
}

impl Default for DemoSetup {
    fn default() -> Self {
        let local = |port| SocketAddr::from(([127, 0, 0, 1], port));
        Self {
            data_dir: None,
            hub_listen: local(8080),
            ashby_listen: local(8081),
            vendor_listen: local(8082),
            greenhouse_listen: local(8083),
            progress_after: Duration::from_secs(2),
            complete_after: Duration::from_secs(8),
            retry_schedule_ms: None,
            faults: Faults::default(),
            seed: None,
            vendor_policy: Default::default(),
            enable_ashby_integration: true,
        }
    }
}

/// The three parts, running and linked.
pub struct Demo {
    pub hub: Hub,
    pub ashby: AshbySim,
    pub ashby_url: String,
    pub vendor: ReferenceVendor,
    pub account_id: String,
    /// The account's External Trigger Token, which the employer pastes into Ashby.
    pub token: String,
    /// A vendor API key of its own for signing in to the hub's dashboard.
    pub dashboard_key: String,
    /// The Greenhouse employer, its simulator and account.
    pub greenhouse: crate::demo_greenhouse::GreenhouseDemo,
    pub data_dir: PathBuf,
    /// Setup calls sent again after a transient failure (injected faults).
    pub setup_retries: u64,
    _temp: Option<tempfile::TempDir>,
    _lock: Option<crate::app::DataDirLock>,
}

/// How long the demo's setup keeps trying a call that fails transiently.
const SETUP_PATIENCE: Duration = Duration::from_secs(30);

/// Send a setup call again while the hub answers 429 or 5xx (it passes on
/// Ashby's failures as 502) or does not answer, as a vendor's integration
/// would, with growing pauses for up to [`SETUP_PATIENCE`]. Counts retries.
async fn send_with_retries(
    request: impl Fn() -> reqwest::RequestBuilder,
    retries: &mut u64,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + SETUP_PATIENCE;
    let mut pause = Duration::from_millis(100);
    loop {
        let answer = request().send().await;
        let transient = match &answer {
            Ok(res) => res.status() == 429 || res.status().is_server_error(),
            Err(e) => e.is_connect() || e.is_timeout(),
        };
        if !transient || Instant::now() + pause > deadline {
            let res = answer?;
            let status = res.status();
            let body = res.text().await?;
            anyhow::ensure!(status.is_success(), "HTTP {status}: {body}");
            return Ok(serde_json::from_str(&body).unwrap_or(Value::Null));
        }
        *retries += 1;
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("listening on {addr} for {what} (is the port taken? pass another with a flag)")
    })
}

impl Demo {
    pub async fn start(setup: DemoSetup) -> anyhow::Result<Self> {
        let (data_dir, temp) = match &setup.data_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("screenhub-demo-")
                    .tempdir()?;
                (temp.path().to_owned(), Some(temp))
            }
        };
        let mut config = Config::defaults();
        config.data_dir = data_dir.clone();
        config.database_url = String::new();
        // The simulator and the vendor listen on loopback.
        config.outbound_allow = vec!["127.0.0.0/8".parse()?];
        if let Some(schedule) = &setup.retry_schedule_ms {
            config.retry_schedule_ms = schedule.clone();
        }
        config.outbound_timeout_ms = 5_000;
        let lock = crate::app::lock_data_dir(&config)?;
        // The Greenhouse simulator plays app.greenhouse.io on loopback.
        let patch_password = screenhub_core::secret::generate_token("ghp_");
        config.greenhouse_patch_hosts = vec!["127.0.0.1".into()];
        config.greenhouse_patch_username = crate::demo_greenhouse::DEMO_PATCH_USERNAME.into();
        config.greenhouse_patch_password = patch_password.clone();
        let hub_listener = bind(setup.hub_listen, "the hub").await?;
        let ashby_listener = bind(setup.ashby_listen, "the Ashby simulator").await?;
        let vendor_listener = bind(setup.vendor_listen, "the reference vendor").await?;
        let greenhouse_listener = bind(setup.greenhouse_listen, "the Greenhouse simulator").await?;

        let store = open_store(&config).await?;
        let hub = Hub::start_with(
            config,
            hub_listener,
            store,
            system_clock(),
            Roles::default(),
        )
        .await?;
        let (_, vendor_key) = hub
            .state
            .store
            .create_api_key("demo vendor", SystemClock.now_ms())
            .await?;
        let (_, dashboard_key) = hub
            .state
            .store
            .create_api_key("demo dashboard", SystemClock.now_ms())
            .await?;

        let ashby = match setup.seed {
            Some(seed) => AshbySim::with_seed(SimConfig::default(), seed),
            None => AshbySim::new(SimConfig::default()),
        };
        ashby
            .set_faults(setup.faults.clone())
            .map_err(anyhow::Error::msg)?;
        let ashby_url = format!("http://{}", ashby_listener.local_addr()?);
        tokio::spawn(crate::sim::ashby::serve(ashby_listener, ashby.clone()));

        // The employer's side: an account whose Ashby is the simulator, and
        // an Ashby API key the hub verifies with apiKey.info.
        let http = reqwest::Client::new();
        let call = |method: reqwest::Method, path: &str, body: &Value| {
            http.request(method, format!("{}{path}", hub.url()))
                .bearer_auth(&vendor_key)
                .json(body)
        };
        let mut setup_retries = 0;
        let new_account = json!({"name": "Acme Corp (demo)", "ats": "ashby", "environment": "test", "ats_api_base_url": ashby_url});
        let account = send_with_retries(
            || {
                call(reqwest::Method::POST, "/v1/accounts", &new_account)
                    // A retried create must not make a second account.
                    .header("idempotency-key", "demo-account")
            },
            &mut setup_retries,
        )
        .await
        .context("creating the employer's account")?;
        let account_id = account["id"].as_str().context("account id")?.to_owned();
        let token = account["external_trigger_token"]
            .as_str()
            .context("external trigger token")?
            .to_owned();
        let ashby_key = ashby.create_key(Some("Screenhub demo".into()), None).key;
        let credentials_path = format!("/v1/accounts/{account_id}/ats-credentials");
        let credentials = json!({"api_key": ashby_key});
        send_with_retries(
            || call(reqwest::Method::PUT, &credentials_path, &credentials),
            &mut setup_retries,
        )
        .await
        .context("verifying the Ashby key")?;

        let vendor = ReferenceVendor::start(
            vendor_listener,
            VendorConfig {
                hub_url: hub.url(),
                api_key: vendor_key.clone(),
                public_url: None,
                progress_after: setup.progress_after,
                complete_after: setup.complete_after,
                policy: setup.vendor_policy.clone(),
                seed: setup.seed,
            },
        )
        .await
        .context("starting the reference vendor")?;
        // After the vendor, whose catalogue the recruiter picks the test from.
        let greenhouse = crate::demo_greenhouse::start(
            greenhouse_listener,
            &hub.url(),
            &vendor_key,
            &patch_password,
            CATALOG[0].id,
        )
        .await
        .context("starting the Greenhouse simulator")?;
        // The integration in Ashby: the partner URL and the External Trigger Token.
        if setup.enable_ashby_integration {
            ashby
                .set_partner(&hub.state.ats_partner_base_url(), &token)
                .map_err(anyhow::Error::msg)?;
        }
        Ok(Self {
            hub,
            ashby,
            ashby_url,
            vendor,
            account_id,
            token,
            dashboard_key,
            greenhouse,
            data_dir,
            setup_retries,
            _temp: temp,
            _lock: lock,
        })
    }

    pub fn print_urls(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "Screenhub demo: the hub, a simulated Ashby and the reference vendor are running.\n"
        )?;
        writeln!(
            out,
            "  Ashby (simulated), click through as a recruiter: {}/",
            self.ashby_url
        )?;
        writeln!(
            out,
            "  Greenhouse (simulated), a job with the stage:   {}/",
            self.greenhouse.url
        )?;
        writeln!(
            out,
            "  The hub's vendor API (OpenAPI):                 {}/openapi.json",
            self.hub.url()
        )?;
        writeln!(
            out,
            "  The hub dashboard:                              {}/dashboard",
            self.hub.url()
        )?;
        writeln!(
            out,
            "    signed in with this vendor API key:           {}",
            self.dashboard_key
        )?;
        writeln!(
            out,
            "  The reference vendor (reports):                 {}/reports/<order id>",
            self.vendor.url()
        )?;
        writeln!(out, "\n  Data directory: {}", self.data_dir.display())?;
        Ok(())
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.hub.stop().await
    }
}

/// One candidate driven through the flow by `--auto`.
#[derive(Debug, Clone)]
pub struct CandidateRun {
    pub number: usize,
    pub scenario: Scenario,
    pub assessment_id: Option<String>,
    /// What the sim shows at the end.
    pub final_state: Option<SimAssessment>,
    /// What the vendor decided.
    pub vendor_order: Option<VendorOrder>,
    /// From the recruiter's click to the last update reaching Ashby.
    pub latency: Option<Duration>,
    /// Ok when Ashby shows exactly what the vendor decided.
    pub verdict: Result<(), String>,
}

#[derive(Debug, Clone)]
pub struct AutoReport {
    pub runs: Vec<CandidateRun>,
    /// The same flow through Greenhouse.
    pub greenhouse: Vec<crate::demo_greenhouse::GreenhouseRun>,
    pub elapsed: Duration,
    /// What the simulated Ashby injected (errors, 429s, timeouts, drops).
    pub faults: FaultCounters,
    /// Delivery attempts the hub made beyond each delivery's first.
    pub hub_retries: u64,
    /// Setup calls the demo sent again (see [`Demo::start`]).
    pub setup_retries: u64,
}

impl AutoReport {
    pub fn all_reached_ashby(&self) -> bool {
        self.runs.iter().all(|r| r.verdict.is_ok())
    }

    /// Every order, on either ATS, ended there as the vendor decided.
    pub fn all_reached_their_ats(&self) -> bool {
        self.all_reached_ashby() && self.greenhouse.iter().all(|r| r.verdict.is_ok())
    }
}

/// The package for a scenario: scores come from the assessment, verdicts from
/// the background checks.
fn package_for(scenario: Scenario, number: usize) -> &'static str {
    match scenario {
        Scenario::Scored => "coding-assessment",
        _ => ["standard-background", "driving-record"][number % 2],
    }
}

/// Drive `candidates` candidates through the flow, round-robin over every
/// scenario; print each order's timeline as Ashby sees it.
pub async fn run_auto(
    demo: &Demo,
    candidates: usize,
    timeout: Duration,
    out: Arc<std::sync::Mutex<dyn Write + Send>>,
) -> anyhow::Result<AutoReport> {
    let started = Instant::now();
    let listed = demo.ashby.list_assessment_types().await?;
    let type_ids: HashMap<&str, String> = CATALOG
        .iter()
        .filter_map(|c| {
            let t = listed.assessment_types.iter().find(|t| t.name == c.name)?;
            Some((c.id, t.assessment_type_id.to_string()))
        })
        .collect();
    anyhow::ensure!(
        type_ids.len() == CATALOG.len(),
        "Ashby's Assessment Type dropdown lacks the vendor's packages: {:?}",
        listed.call.problems
    );
    let say = |line: String| {
        let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "{line}");
    };
    say(format!(
        "Driving {candidates} candidates through the flow: {}.\n",
        Scenario::ALL.map(describe).join(", ")
    ));

    let finished = Arc::new(tokio::sync::Notify::new());
    let watcher = tokio::spawn(print_timelines(
        demo.ashby.clone(),
        started,
        candidates,
        finished.clone(),
        out.clone(),
    ));
    let mut greenhouse_tasks = Vec::new();
    for number in 1..=candidates {
        let scenarios = crate::demo_greenhouse::SCENARIOS;
        let scenario = scenarios[(number - 1) % scenarios.len()];
        let package = package_for(scenario, number);
        let sim = demo.greenhouse.sim.clone();
        let org = demo.greenhouse.org_id.clone();
        let vendor = demo.vendor.clone();
        greenhouse_tasks.push(tokio::spawn(async move {
            crate::demo_greenhouse::drive(&sim, &vendor, &org, number, scenario, package, timeout)
                .await
        }));
    }
    let mut tasks = Vec::new();
    for number in 1..=candidates {
        let scenario = Scenario::ALL[(number - 1) % Scenario::ALL.len()];
        let type_id = type_ids[package_for(scenario, number)].clone();
        let ashby = demo.ashby.clone();
        let vendor = demo.vendor.clone();
        tasks.push(tokio::spawn(async move {
            drive(ashby, vendor, number, scenario, type_id, timeout).await
        }));
        // A recruiter's pace, compressed: starts spread over a moment.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut runs = Vec::new();
    for task in tasks {
        runs.push(task.await?);
    }
    let mut greenhouse = Vec::new();
    for task in greenhouse_tasks {
        greenhouse.push(task.await?);
    }
    say(format!(
        "── Greenhouse: {} tests sent, {} results frozen on the stage",
        greenhouse.len(),
        greenhouse.iter().filter(|r| r.frozen.is_some()).count()
    ));
    // Every order has ended or timed out: the watcher prints what it has not
    // printed yet, and the progress, before the summary.
    finished.notify_one();
    watcher.await?;
    let deliveries = demo
        .hub
        .state
        .store
        .list_deliveries(&screenhub_store::DeliveryFilter {
            limit: 10_000,
            ..Default::default()
        })
        .await?;
    Ok(AutoReport {
        runs,
        greenhouse,
        elapsed: started.elapsed(),
        faults: demo.ashby.fault_counters(),
        hub_retries: deliveries
            .iter()
            .map(|d| u64::try_from(d.attempts - 1).unwrap_or(0))
            .sum(),
        setup_retries: demo.setup_retries,
    })
}

fn describe(s: Scenario) -> &'static str {
    match s {
        Scenario::Pass => "pass",
        Scenario::Fail => "fail",
        Scenario::Review => "review",
        Scenario::Scored => "score only",
        Scenario::Failed => "vendor reports failure",
        Scenario::VendorCancel => "vendor cancels",
        Scenario::Hold => "recruiter cancels in Ashby",
    }
}

async fn drive(
    ashby: AshbySim,
    vendor: ReferenceVendor,
    number: usize,
    scenario: Scenario,
    type_id: String,
    timeout: Duration,
) -> CandidateRun {
    let mut run = CandidateRun {
        number,
        scenario,
        assessment_id: None,
        final_state: None,
        vendor_order: None,
        latency: None,
        verdict: Err("not started".into()),
    };
    // The tag in the email tells the reference vendor's sandbox what to do.
    let email = format!("candidate{number:03}+{}@example.com", scenario.as_str());
    let outcome = ashby
        .start_assessment(StartOptions {
            assessment_type_id: Some(type_id),
            candidate: Some(json!({"email": email})),
            ..Default::default()
        })
        .await;
    let id = match outcome {
        Ok(o) if o.assessment_id.is_some() => o.assessment_id.unwrap_or_default(),
        Ok(o) => {
            run.verdict = Err(format!(
                "assessment.start answered HTTP {}: {}",
                o.call.status, o.call.body
            ));
            return run;
        }
        Err(e) => {
            run.verdict = Err(e.to_string());
            return run;
        }
    };
    run.assessment_id = Some(id.clone());
    let deadline = tokio::time::Instant::now() + timeout;
    let ended = |a: &SimAssessment| {
        matches!(
            a.state,
            AssessmentState::Completed | AssessmentState::Cancelled
        )
    };
    if scenario == Scenario::Hold {
        // The recruiter cancels once the vendor has begun.
        let vendor_began = |a: &SimAssessment| {
            a.status
                .as_ref()
                .is_some_and(|s| s.value != json!("Started"))
                || ended(a)
        };
        if !wait_for(&ashby, &id, deadline, vendor_began).await {
            run.verdict = Err("the vendor's in-progress update never reached Ashby".into());
            return run;
        }
        if let Err(e) = ashby.cancel_assessment(&id).await {
            run.verdict = Err(format!("cancelling in Ashby: {e}"));
            return run;
        }
    }
    let finished = wait_for(&ashby, &id, deadline, ended).await;
    run.final_state = ashby.assessment(&id);
    run.vendor_order = vendor.order(&id);
    run.latency = run.final_state.as_ref().and_then(|a| {
        let last = a.updates.last()?.received_at_ms;
        Some(Duration::from_millis(
            u64::try_from(last - a.start_requested_at_ms).ok()?,
        ))
    });
    run.verdict = if finished {
        match (&run.vendor_order, &run.final_state) {
            (Some(order), Some(a)) => matches_decision(order, a),
            (None, _) => Err("the vendor never received the order".into()),
            (_, None) => Err("Ashby lost the assessment".into()),
        }
    } else {
        Err(format!(
            "timed out after {timeout:?}; Ashby shows {:?}",
            run.final_state.as_ref().map(|a| a.state)
        ))
    };
    run
}

async fn wait_for(
    ashby: &AshbySim,
    id: &str,
    deadline: tokio::time::Instant,
    check: impl Fn(&SimAssessment) -> bool,
) -> bool {
    loop {
        if ashby.assessment(id).is_some_and(|a| check(&a)) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether Ashby shows what the vendor decided: the outcome, the score, the
/// report link, or the cancellation; and that every update was accepted.
pub fn matches_decision(order: &VendorOrder, a: &SimAssessment) -> Result<(), String> {
    if !a.rejected_updates.is_empty() {
        return Err(format!(
            "Ashby refused an update: {}",
            a.rejected_updates[0].message
        ));
    }
    let value =
        |d: &Option<screenhub_ashby::public::DataValue>| d.as_ref().map(|d| d.value.clone());
    let expected_result = match (order.scenario, &order.result) {
        (Scenario::Pass, _) => Some(json!(true)),
        (Scenario::Fail, _) => Some(json!(false)),
        (Scenario::Review, _) => Some(json!("Needs review")),
        (Scenario::Scored, Some(r)) => r
            .score
            .as_ref()
            .map(|s| json!(format!("{} / {}", s.value, s.max))),
        _ => None,
    };
    match expected_result {
        Some(expected) => {
            if a.state != AssessmentState::Completed {
                return Err(format!(
                    "the vendor completed it, Ashby shows {:?}",
                    a.state
                ));
            }
            if value(&a.result) != Some(expected.clone()) {
                return Err(format!(
                    "result: expected {expected}, Ashby shows {:?}",
                    value(&a.result)
                ));
            }
            if value(&a.profile_url) != Some(json!(order.report_url)) {
                return Err(format!(
                    "Full Report link: expected {}, Ashby shows {:?}",
                    order.report_url,
                    value(&a.profile_url)
                ));
            }
            let screenings = order.result.as_ref().map_or(0, |r| r.screenings.len());
            let shown = a
                .metadata
                .iter()
                .filter(|m| m.identifier.starts_with("screening_"))
                .count();
            if shown != screenings {
                return Err(format!(
                    "{screenings} screenings reported, Ashby shows {shown}"
                ));
            }
            Ok(())
        }
        None => {
            if a.state != AssessmentState::Cancelled {
                return Err(format!(
                    "expected a cancellation, Ashby shows {:?}",
                    a.state
                ));
            }
            let reason = value(&a.cancelled_reason).unwrap_or_default();
            let reason = reason.as_str().unwrap_or_default();
            let ok = match order.scenario {
                Scenario::VendorCancel => reason == "The candidate withdrew consent",
                Scenario::Failed => reason.starts_with("Could not be completed"),
                _ => order.cancelled_by_ats || a.cancel_requested_at_ms.is_some(),
            };
            if ok {
                Ok(())
            } else {
                Err(format!("cancelled with an unexpected reason: {reason:?}"))
            }
        }
    }
}

/// Print every update Ashby accepts, as it arrives, and after every tenth
/// order that reaches its end, the progress. Once `finished` is notified,
/// prints what is left and returns.
async fn print_timelines(
    ashby: AshbySim,
    started: Instant,
    total: usize,
    finished: Arc<tokio::sync::Notify>,
    out: Arc<std::sync::Mutex<dyn Write + Send>>,
) {
    let mut printed: HashMap<String, usize> = HashMap::new();
    let mut numbers: HashMap<String, usize> = HashMap::new();
    let mut ended = std::collections::HashSet::new();
    let mut last_progress = 0;
    let mut last_pass = false;
    loop {
        for a in ashby.assessments() {
            let next = numbers.len() + 1;
            let number = *numbers.entry(a.assessment_id.clone()).or_insert(next);
            let seen = printed.entry(a.assessment_id.clone()).or_insert(0);
            for update in &a.updates[*seen..] {
                let who = format!(
                    "{} {}",
                    a.candidate["first_name"].as_str().unwrap_or_default(),
                    a.candidate["last_name"].as_str().unwrap_or_default()
                );
                let line = format!(
                    "[{:>7.2}s] #{number:<3} {:<8} {} {}",
                    started.elapsed().as_secs_f64(),
                    &a.assessment_id[a.assessment_id.len() - 8..],
                    fit(&who, 28),
                    describe_update(&update.body)
                );
                let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
                let _ = writeln!(out, "{line}");
            }
            *seen = a.updates.len();
            let done = matches!(
                a.state,
                AssessmentState::Completed | AssessmentState::Cancelled
            );
            if done && ended.insert(a.assessment_id.clone()) && ended.len() % 10 == 0 {
                last_progress = ended.len();
                let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
                let _ = writeln!(out, "── progress: {last_progress}/{total} orders finished");
            }
        }
        if last_pass {
            if ended.len() != last_progress {
                let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
                let _ = writeln!(out, "── progress: {}/{total} orders finished", ended.len());
            }
            return;
        }
        tokio::select! {
            () = finished.notified() => last_pass = true,
            () = tokio::time::sleep(Duration::from_millis(25)) => {}
        }
    }
}

/// `text` cut or padded to `width` terminal columns: CJK characters take
/// two columns, so counting characters would misalign the table.
fn fit(text: &str, width: usize) -> String {
    let mut fitted = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width {
            break;
        }
        fitted.push(c);
        used += w;
    }
    fitted.push_str(&" ".repeat(width - fitted.width().min(width)));
    fitted
}

/// An update as a person reads it on the activity card.
fn describe_update(body: &Value) -> String {
    if let Some(reason) = body["cancelled_reason"]["value"].as_str() {
        // Ashby has no "failed" state: a failure arrives as a cancellation
        // whose reason says so. Say it the way the summary counts it.
        if let Some(why) = reason.strip_prefix(FAILED_REASON) {
            let why = why.trim_start_matches(':').trim();
            return format!("failed: {why} (Ashby shows it cancelled)");
        }
        return format!("cancelled: {reason}");
    }
    if !body["assessment_result"].is_null() {
        let result = match &body["assessment_result"]["value"] {
            Value::Bool(true) => "passed".to_owned(),
            Value::Bool(false) => "did not pass".to_owned(),
            other => other.as_str().unwrap_or_default().to_owned(),
        };
        return format!("result: {result} (Full Report linked)");
    }
    format!(
        "status: {}",
        body["assessment_status"]["value"].as_str().unwrap_or("?")
    )
}

/// The summary at the end of `--auto`.
pub fn print_summary(report: &AutoReport, out: &mut dyn Write) -> std::io::Result<()> {
    let count = |f: &dyn Fn(&CandidateRun) -> bool| report.runs.iter().filter(|r| f(r)).count();
    let state = |r: &CandidateRun| r.final_state.as_ref().map(|a| a.state);
    let completed = count(&|r| state(r) == Some(AssessmentState::Completed));
    let failed =
        count(&|r| r.scenario == Scenario::Failed && state(r) == Some(AssessmentState::Cancelled));
    let cancelled = count(&|r| state(r) == Some(AssessmentState::Cancelled)) - failed;
    let mut latencies: Vec<Duration> = report.runs.iter().filter_map(|r| r.latency).collect();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .map_or("-".to_owned(), |d| format!("{} ms", d.as_millis()))
    };
    writeln!(
        out,
        "\nSummary after {:.1} s: {} orders",
        report.elapsed.as_secs_f64(),
        report.runs.len() + report.greenhouse.len()
    )?;
    writeln!(out, "Ashby: {} orders", report.runs.len())?;
    writeln!(
        out,
        "  completed {completed}  ·  cancelled {cancelled}  ·  failed {failed}"
    )?;
    writeln!(
        out,
        "  end-to-end (start in Ashby → last update in Ashby, vendor delays included): p50 {}  p95 {}  max {}",
        pct(0.5),
        pct(0.95),
        pct(1.0)
    )?;
    let f = &report.faults;
    writeln!(
        out,
        "  absorbed: {} × 429 and {} other failures from Ashby ({} errors, {} timeouts, {} dropped connections); retries: {} by the hub, {} in the demo's setup",
        f.rate_limits,
        f.errors + f.timeouts + f.drops,
        f.errors,
        f.timeouts,
        f.drops,
        report.hub_retries,
        report.setup_retries
    )?;
    let ashby_runs = report.runs.iter().map(|r| {
        let id = r.assessment_id.as_deref().unwrap_or("not started");
        (r.number, r.scenario, id, &r.verdict)
    });
    print_verdicts(
        out,
        ashby_runs,
        "every order reached Ashby as the vendor decided",
        "did NOT reach Ashby as decided",
    )?;
    let gh = &report.greenhouse;
    let frozen = |label: &str| {
        gh.iter()
            .filter(|r| {
                r.frozen.as_ref().is_some_and(|f| {
                    f.metadata
                        .iter()
                        .any(|(k, v)| k == "Result" && v.as_str() == Some(label))
                })
            })
            .count()
    };
    writeln!(out, "Greenhouse: {} orders", gh.len())?;
    writeln!(
        out,
        "  complete with a result {}  ·  cancelled {}  ·  could not be completed {}",
        gh.len() - frozen("Cancelled") - frozen("Could not be completed"),
        frozen("Cancelled"),
        frozen("Could not be completed")
    )?;
    let greenhouse_runs = gh.iter().map(|r| {
        let id = r.partner_interview_id.as_deref().unwrap_or("not sent");
        (r.number, r.scenario, id, &r.verdict)
    });
    print_verdicts(
        out,
        greenhouse_runs,
        "every order ended in Greenhouse as the vendor decided",
        "did NOT end in Greenhouse as decided",
    )
}

/// Say that every run ended as decided, or list those that did not.
fn print_verdicts<'a>(
    out: &mut dyn Write,
    runs: impl Iterator<Item = (usize, Scenario, &'a str, &'a Result<(), String>)>,
    all_good: &str,
    some_bad: &str,
) -> std::io::Result<()> {
    let bad: Vec<_> = runs.filter(|r| r.3.is_err()).collect();
    if bad.is_empty() {
        return writeln!(out, "  {all_good}");
    }
    writeln!(out, "  {} orders {some_bad}:", bad.len())?;
    for (number, scenario, id, verdict) in bad {
        let why = verdict.as_ref().err().map_or("", String::as_str);
        writeln!(out, "    #{number} ({}) {id}: {why}", describe(scenario))?;
    }
    Ok(())
}
