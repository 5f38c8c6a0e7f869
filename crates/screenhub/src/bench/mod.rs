//! `screenhub bench`: a load harness shipped in the binary. It starts (or
//! targets) a hub, the Ashby simulator and a vendor webhook receiver, creates
//! an account and a package, then drives Ashby's `assessment.start` for unique
//! applications, optionally with the vendor's status and result calls, and
//! reports throughput, latencies end to end, deliveries and the hub's peak RSS.

mod baseline;
mod drain;
mod external;
pub use external::{serve_baseline, BaselineServeArgs};
mod peers;
mod test_status;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Semaphore};

use crate::app::{Hub, Roles};
use crate::config::Config;
use peers::{histogram, Tracker};

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Concurrent `assessment.start` callers (connections).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Seconds to measure, after the warm-up.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Pace starts at this many per second in total (default: as fast as the hub answers).
    #[arg(long)]
    pub rate: Option<f64>,
    /// The vendor reports `in_progress` for every order it receives (Ashby gets an update).
    #[arg(long)]
    pub status: bool,
    /// The vendor reports a result for every order it receives (Ashby gets the result).
    #[arg(long)]
    pub result: bool,
    /// How many vendor status/result calls run at once.
    #[arg(long, default_value_t = 16)]
    pub vendor_concurrency: usize,
    /// Database of the in-process hub (default: SQLite in a temporary directory).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Load a running hub at this URL instead of starting one (needs --api-key).
    #[arg(long)]
    pub target: Option<String>,
    /// A vendor API key of the --target hub.
    #[arg(long)]
    pub api_key: Option<String>,
    /// The --target hub's process id, to report its peak RSS.
    #[arg(long)]
    pub target_pid: Option<u32>,
    /// Also measure the bare axum + sqlx + SQLite baseline (per-request and group commit).
    #[arg(long)]
    pub baseline: bool,
    /// Measure delivery throughput alone instead: queue this many webhooks with
    /// the delivery worker off, then time how fast the worker drains them
    /// (in-process hub only).
    #[arg(long, value_name = "WEBHOOKS", conflicts_with_all = ["target", "status", "result"])]
    pub drain: Option<u64>,
    /// Measure Greenhouse's `test_status` instead: send this many tests
    /// through `send_test`, then read their status round-robin.
    #[arg(long, value_name = "ORDERS", conflicts_with_all = ["drain", "status", "result"])]
    pub test_status: Option<u64>,
    /// Run the hub (`screenhub serve --api`) and the bare baseline as two
    /// separate processes of this binary and load both from this one, in
    /// alternating rounds: prints both and the ratio (SQLite, or PostgreSQL
    /// with --database-url).
    #[arg(long, conflicts_with_all = ["target", "drain", "baseline", "status", "result", "rate"])]
    pub external: bool,
    /// Rounds of each with --external.
    #[arg(long, default_value_t = 3, requires = "external")]
    pub rounds: usize,
    /// With --external: run both processes under callgrind (profiles go in
    /// DIR) and report instructions per start instead of throughput.
    #[arg(long, value_name = "DIR", requires = "external")]
    pub callgrind: Option<std::path::PathBuf>,
    /// Starts sent to each process with --callgrind.
    #[arg(long, default_value_t = 2000, requires = "callgrind")]
    pub profile_requests: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Option<Self> {
        (!h.is_empty()).then(|| Self {
            count: h.len(),
            p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
            p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
            max_ms: h.max() as f64 / 1000.0,
        })
    }
}

/// What one driven service achieved.
#[derive(Debug, Serialize)]
pub struct LoadReport {
    pub name: String,
    pub requests_per_sec: f64,
    pub latency: Option<Latency>,
    pub errors: u64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub target: String,
    pub database: String,
    pub concurrency: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub rate: Option<f64>,
    pub starts: LoadReport,
    pub start_to_webhook: Option<Latency>,
    pub status_to_ats_update: Option<Latency>,
    pub result_to_ats_update: Option<Latency>,
    pub deliveries_per_sec: f64,
    pub webhooks_received: u64,
    pub ats_updates_received: u64,
    pub vendor_calls: u64,
    pub vendor_errors: u64,
    pub bad_signatures: u64,
    pub refused_ats_updates: u64,
    /// Still not received when the run ended.
    pub webhooks_missing: u64,
    pub hub_peak_rss_mb: Option<f64>,
    /// What the peak RSS covers.
    pub rss_scope: String,
    pub baseline: Vec<LoadReport>,
}

/// A start request as Ashby sends it, for application `n`. Written as text:
/// the load generator shares the hub's two cores, so it must stay cheap.
fn start_body(run: &str, type_id: &str, n: u64) -> Vec<u8> {
    let app = peers::application_id(run, n);
    format!(
        r#"{{"assessment_type_id":"{type_id}","candidate":{{"ashby_id":"cand-{app}","first_name":"Ada","last_name":"Lovelace","email":"{app}@candidates.example","ashby_profile_url":"https://app.ashbyhq.com/candidates/cand-{app}"}},"application":{{"ashby_id":"{app}","status":"Active"}},"job":{{"ashby_id":"job-bench","name":"Backend Engineer","req_id":"REQ-1","ashby_job_url":"https://app.ashbyhq.com/jobs/job-bench","hiringTeam":[{{"userId":"u1","firstName":"Ana","lastName":"Lee","email":"ana@employer.example","role":"Recruiter"}}]}},"additional_fields":{{}}}}"#
    )
    .into_bytes()
}

/// `n` → Ashby's `assessment.start` for application `n`, to the hub or the
/// bare baseline at `base_url`: the same requests for both.
fn start_request(
    http: reqwest::Client,
    base_url: &str,
    run: &str,
    credentials: &baseline::Credentials,
) -> impl Fn(u64) -> reqwest::RequestBuilder + Send + Sync + 'static {
    let url = format!("{base_url}/ats/ashby/assessment.start");
    let (run, token, type_id) = (
        run.to_owned(),
        credentials.token.clone(),
        credentials.type_id.to_string(),
    );
    move |n| {
        http.post(&url)
            .basic_auth(&token, Some(""))
            .header("content-type", "application/json")
            .body(start_body(&run, &type_id, n))
    }
}

/// Phases shared by the load loop and the reporters.
struct Phase {
    measuring: AtomicBool,
    stopped: AtomicBool,
    ok: AtomicU64,
    errors: AtomicU64,
}

/// Drive `request(n)` from `concurrency` callers for warm-up + duration.
/// `before(n)` runs just before a measured request is sent.
async fn drive<F, B>(
    args: &BenchArgs,
    label: &str,
    tracker: Option<&Arc<Tracker>>,
    request: F,
    before: B,
) -> LoadReport
where
    F: Fn(u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
    B: Fn(u64) + Send + Sync + 'static,
{
    let phase = Arc::new(Phase {
        measuring: AtomicBool::new(false),
        stopped: AtomicBool::new(false),
        ok: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    let next = Arc::new(AtomicU64::new(0));
    let request = Arc::new(request);
    let before = Arc::new(before);
    let began = Instant::now();
    let mut callers = tokio::task::JoinSet::new();
    for caller in 0..args.concurrency {
        let (phase, next, request, before) =
            (phase.clone(), next.clone(), request.clone(), before.clone());
        let (rate, concurrency) = (args.rate, args.concurrency as f64);
        callers.spawn(async move {
            let mut latencies = histogram();
            let mut sent = 0u64;
            while !phase.stopped.load(Ordering::Relaxed) {
                if let Some(rate) = rate {
                    // Open loop: this caller's k-th request is due at (k·callers + caller)/rate.
                    let due = (sent as f64 * concurrency + caller as f64) / rate;
                    let wait = due - began.elapsed().as_secs_f64();
                    if wait > 0.0 {
                        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                    }
                }
                sent += 1;
                let n = next.fetch_add(1, Ordering::Relaxed);
                let measured = phase.measuring.load(Ordering::Relaxed);
                if measured {
                    before(n);
                }
                let t0 = Instant::now();
                let ok = match request(n).send().await {
                    Ok(response) => {
                        let ok = response.status().is_success();
                        let _ = response.bytes().await;
                        ok
                    }
                    Err(_) => false,
                };
                if measured && !phase.stopped.load(Ordering::Relaxed) {
                    if ok {
                        latencies.saturating_record(t0.elapsed().as_micros().max(1) as u64);
                        phase.ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        phase.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        });
    }
    let progress = tokio::spawn(report_progress(
        label.to_owned(),
        phase.clone(),
        tracker.cloned(),
    ));
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    if let Some(t) = tracker {
        t.measuring.store(true, Ordering::Relaxed);
    }
    phase.measuring.store(true, Ordering::Relaxed);
    let window = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    phase.stopped.store(true, Ordering::Relaxed);
    let measured_for = window.elapsed().as_secs_f64();
    if let Some(t) = tracker {
        t.measuring.store(false, Ordering::Relaxed);
    }
    let mut latencies = histogram();
    while let Some(h) = callers.join_next().await {
        if let Ok(h) = h {
            latencies.add(h).expect("same bounds");
        }
    }
    progress.abort();
    LoadReport {
        name: label.to_owned(),
        requests_per_sec: phase.ok.load(Ordering::Relaxed) as f64 / measured_for,
        latency: Latency::of(&latencies),
        errors: phase.errors.load(Ordering::Relaxed),
    }
}

async fn report_progress(label: String, phase: Arc<Phase>, tracker: Option<Arc<Tracker>>) {
    let began = Instant::now();
    let (mut last_ok, mut last_hooks, mut last_updates) = (0, 0, 0);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let ok = phase.ok.load(Ordering::Relaxed);
        let mut line = format!(
            "[{label} {:>5.1}s] {}  {:>7} ok/s  errors {}",
            began.elapsed().as_secs_f64(),
            if phase.measuring.load(Ordering::Relaxed) {
                "measuring"
            } else {
                "warm-up  "
            },
            ok - last_ok,
            phase.errors.load(Ordering::Relaxed),
        );
        last_ok = ok;
        if let Some(t) = &tracker {
            let hooks = t.webhooks.load(Ordering::Relaxed);
            let updates = t.ats_updates.load(Ordering::Relaxed);
            line.push_str(&format!(
                "  webhooks {:>6}/s  ashby updates {:>6}/s",
                hooks - last_hooks,
                updates - last_updates
            ));
            (last_hooks, last_updates) = (hooks, updates);
        }
        eprintln!("{line}");
    }
}

/// Peak resident set size of a process, from `/proc/<pid>/status`.
fn peak_rss_mb(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_owned(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

async fn serve(router: axum::Router) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(url)
}

/// Call the vendor API; fail the run on anything but success.
async fn vendor_call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    key: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let response = http
        .request(method, &url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("calling {url}"))?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("{url} answered HTTP {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The vendor: for every order received, report status and/or result.
fn spawn_vendor(
    args: &BenchArgs,
    http: reqwest::Client,
    hub: String,
    key: String,
    tracker: Arc<Tracker>,
) -> Option<mpsc::UnboundedSender<String>> {
    if !args.status && !args.result {
        return None;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let slots = Arc::new(Semaphore::new(args.vendor_concurrency.max(1)));
    let (status, result) = (args.status, args.result);
    tokio::spawn(async move {
        while let Some(order) = rx.recv().await {
            let permit = slots.clone().acquire_owned().await.expect("never closed");
            let (http, hub, key, tracker) =
                (http.clone(), hub.clone(), key.clone(), tracker.clone());
            tokio::spawn(async move {
                let base = format!("{hub}/v1/orders/{order}");
                if status {
                    tracker.statuses.insert(order.clone(), tracker.micros());
                    let call = http
                        .post(format!("{base}/status"))
                        .bearer_auth(&key)
                        .json(&json!({"status": "in_progress", "label": "Candidate invited"}));
                    count_vendor_call(&tracker, call.send().await);
                }
                if result {
                    tracker.results.insert(order.clone(), tracker.micros());
                    let call = http
                        .put(format!("{base}/result"))
                        .bearer_auth(&key)
                        .json(&json!({"outcome": "pass", "report_url": format!("https://vendor.example/reports/{order}")}));
                    count_vendor_call(&tracker, call.send().await);
                }
                drop(permit);
            });
        }
    });
    Some(tx)
}

fn count_vendor_call(tracker: &Tracker, answer: reqwest::Result<reqwest::Response>) {
    tracker.vendor_calls.fetch_add(1, Ordering::Relaxed);
    if !answer.is_ok_and(|r| r.status().is_success()) {
        tracker.vendor_errors.fetch_add(1, Ordering::Relaxed);
    }
}

fn client(args: &BenchArgs) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency + args.vendor_concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// What a hub needs from its peers to take starts, once they are connected.
struct Peers {
    run_id: String,
    /// The account's External Trigger Token and the package's assessment type.
    credentials: baseline::Credentials,
    endpoint_id: String,
}

/// Start the Ashby simulator and the vendor's webhook receiver, and connect
/// them to the hub at `hub_url`: an account with Ashby credentials, a package
/// offered to it, and a webhook endpoint for `order.created`.
async fn connect_peers(
    args: &BenchArgs,
    http: &reqwest::Client,
    hub_url: &str,
    api_key: &str,
    tracker: &Arc<Tracker>,
) -> anyhow::Result<Peers> {
    // Ashby (the simulator, with a fast assessment.update) and the vendor.
    let sim = crate::sim::ashby::AshbySim::new(Default::default());
    let ashby_key = sim.create_key(None, None).key;
    let ashby_url = serve(peers::ashby_router(
        tracker.clone(),
        sim.clone(),
        &ashby_key,
    ))
    .await?;
    let run_id = ulid::Ulid::new().to_string().to_lowercase();
    let account = vendor_call(
        http,
        reqwest::Method::POST,
        format!("{hub_url}/v1/accounts"),
        api_key,
        json!({"name": format!("Bench {run_id}"), "ats": "ashby", "ats_api_base_url": ashby_url}),
    )
    .await?;
    let account_id = account["id"].as_str().context("account id")?.to_owned();
    let token = account["external_trigger_token"]
        .as_str()
        .context("token")?
        .to_owned();
    vendor_call(
        http,
        reqwest::Method::PUT,
        format!("{hub_url}/v1/accounts/{account_id}/ats-credentials"),
        api_key,
        json!({"api_key": ashby_key}),
    )
    .await?;
    let package = vendor_call(
        http,
        reqwest::Method::POST,
        format!("{hub_url}/v1/packages"),
        api_key,
        json!({"id": format!("bench-{run_id}"), "kind": "background_check", "name": "Bench check", "account_ids": [account_id]}),
    )
    .await?;
    let type_id = package["ats_type_id"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .context("package ats_type_id")?;
    let act_on = spawn_vendor(
        args,
        http.clone(),
        hub_url.to_owned(),
        api_key.to_owned(),
        tracker.clone(),
    );
    // The endpoint's secret is known only once it exists, so the receiver
    // is bound first and its router installed right after.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let receiver_url = format!("http://{}/webhooks", listener.local_addr()?);
    let endpoint = vendor_call(
        http,
        reqwest::Method::POST,
        format!("{hub_url}/v1/webhook-endpoints"),
        api_key,
        json!({"url": receiver_url, "events": ["order.created"]}),
    )
    .await?;
    let endpoint_id = endpoint["id"].as_str().context("endpoint id")?.to_owned();
    let secret = endpoint["secret"].as_str().context("endpoint secret")?;
    let receiver = peers::vendor_router(tracker.clone(), secret, act_on)?;
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    Ok(Peers {
        run_id,
        credentials: baseline::Credentials { token, type_id },
        endpoint_id,
    })
}

/// Run the bench and print its report.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.concurrency == 0 || args.duration <= 0.0 || args.warmup < 0.0 {
        bail!("--concurrency and --duration must be positive, --warmup not negative");
    }
    if args.rate.is_some_and(|r| r <= 0.0) {
        bail!("--rate must be positive");
    }
    // Quiet by default (the progress lines are the output); RUST_LOG opts in,
    // e.g. RUST_LOG=sqlx::query=debug to time every statement.
    if std::env::var_os("RUST_LOG").is_some() {
        crate::app::init_tracing(crate::config::LogFormat::Text);
    }
    if args.external {
        return external::run(&args).await;
    }
    let mut baseline = Vec::new();
    if args.baseline {
        for (name, commit) in [
            (
                "baseline: one commit per request",
                baseline::Commit::PerRequest,
            ),
            ("baseline: group commit", baseline::Commit::Group),
        ] {
            let dir = tempfile::tempdir()?;
            let postgres = args
                .database_url
                .as_deref()
                .filter(|u| u.starts_with("postgres"));
            let credentials = baseline::Credentials {
                token: format!("bare_{}", ulid::Ulid::new()),
                type_id: uuid::Uuid::new_v4(),
            };
            let router = baseline::router(dir.path(), postgres, commit, &credentials).await?;
            let url = serve(router).await?;
            let report = drive(
                &args,
                name,
                None,
                start_request(client(&args), &url, "baseline", &credentials),
                |_| {},
            )
            .await;
            baseline.push(report);
        }
    }

    let tracker = Tracker::new();
    let http = client(&args);
    let tmp = tempfile::tempdir()?;
    let (hub, hub_url, api_key, database) = match &args.target {
        Some(target) => {
            let key = args
                .api_key
                .clone()
                .context("--target needs --api-key (a vendor API key of that hub)")?;
            (
                None,
                target.trim_end_matches('/').to_owned(),
                key,
                "external".to_owned(),
            )
        }
        None => {
            // SCREENHUB_* variables tune the hub under test, as they would `serve`.
            let mut config = Config::load(None, &Default::default())?;
            config.data_dir = tmp.path().to_path_buf();
            config.outbound_allow = vec!["127.0.0.0/8".parse().expect("a CIDR")];
            if let Some(url) = &args.database_url {
                config.database_url = url.clone();
            }
            let database = crate::app::redact(&config.database_url());
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            // Draining measures the worker alone: it starts once the outbox is full.
            let roles = Roles {
                api: true,
                worker: args.drain.is_none(),
            };
            let hub = Hub::start(config, listener, roles).await?;
            let (_, key) = hub
                .state
                .store
                .create_api_key("bench", hub.state.now())
                .await?;
            let url = hub.url();
            (Some(hub), url, key, database)
        }
    };

    if let Some(orders) = args.test_status {
        let report = test_status::run(&args, &http, &hub_url, &api_key, orders).await;
        let Some(report) = finish(hub, report, args.json).await? else {
            return Ok(());
        };
        {
            let l = report.latency.as_ref();
            println!(
                "\nscreenhub bench --test-status {orders}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors ({database}, concurrency {})",
                report.requests_per_sec,
                l.map_or(0.0, |l| l.p50_ms),
                l.map_or(0.0, |l| l.p99_ms),
                report.errors,
                args.concurrency
            );
        }
        return Ok(());
    }

    let Peers {
        run_id,
        credentials,
        endpoint_id,
    } = connect_peers(&args, &http, &hub_url, &api_key, &tracker).await?;

    if let (Some(count), Some(in_process)) = (args.drain, hub.as_ref()) {
        let request = start_request(client(&args), &hub_url, &run_id, &credentials);
        let report = drain::run(
            &in_process.state,
            &tracker,
            count,
            args.concurrency,
            move |n| {
                let request = request(n);
                async move {
                    let response = request.send().await?;
                    anyhow::ensure!(
                        response.status().is_success(),
                        "a start failed: HTTP {}",
                        response.status()
                    );
                    Ok(())
                }
            },
        )
        .await;
        if let Some(report) = finish(hub, report, args.json).await? {
            println!(
                "\nscreenhub bench --drain: {} webhooks delivered in {:.2} s = {:.0} deliveries/s (delivery_concurrency {}, {database})",
                report.deliveries, report.seconds, report.deliveries_per_sec, report.delivery_concurrency
            );
        }
        return Ok(());
    }
    let load_tracker = tracker.clone();
    let counted = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    let window_counts = counted.clone();
    let window_tracker = tracker.clone();
    // Deliveries per second: what the receivers got during the measured window.
    let window = tokio::spawn(async move {
        while !window_tracker.measuring() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let began = Instant::now();
        let (h0, u0) = (
            window_tracker.webhooks.load(Ordering::Relaxed),
            window_tracker.ats_updates.load(Ordering::Relaxed),
        );
        while window_tracker.measuring() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        window_counts.0.store(
            window_tracker.webhooks.load(Ordering::Relaxed) - h0
                + window_tracker.ats_updates.load(Ordering::Relaxed)
                - u0,
            Ordering::Relaxed,
        );
        window_counts
            .1
            .store(began.elapsed().as_millis() as u64, Ordering::Relaxed);
    });
    let starts = drive(
        &args,
        "screenhub",
        Some(&tracker),
        start_request(client(&args), &hub_url, &run_id, &credentials),
        move |n| load_tracker.starts.insert(n, load_tracker.micros()),
    )
    .await;
    let _ = window.await;
    let deliveries_per_sec = counted.0.load(Ordering::Relaxed) as f64 * 1000.0
        / counted.1.load(Ordering::Relaxed).max(1) as f64;

    // Let deliveries in flight land before reading the end-to-end figures.
    let drain_until = Instant::now() + Duration::from_secs(10);
    let mut last = (u64::MAX, u64::MAX);
    while Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = (
            tracker.webhooks.load(Ordering::Relaxed),
            tracker.ats_updates.load(Ordering::Relaxed),
        );
        if now == last {
            break;
        }
        last = now;
    }
    let measured_starts = starts.latency.as_ref().map_or(0, |l| l.count);
    let start_to_webhook = Latency::of(&tracker.start_to_webhook.lock().expect("not poisoned"));
    let webhooks_missing =
        measured_starts.saturating_sub(start_to_webhook.as_ref().map_or(0, |l| l.count));
    let (rss, rss_scope) = match (&args.target, args.target_pid) {
        (None, _) => (
            peak_rss_mb(None),
            "the bench process: hub, Ashby simulator, vendor receiver and load generator"
                .to_owned(),
        ),
        (Some(_), Some(pid)) => (peak_rss_mb(Some(pid)), format!("process {pid}")),
        (Some(_), None) => (None, "unknown: give --target-pid".to_owned()),
    };
    let report = Report {
        target: hub_url.clone(),
        database,
        concurrency: args.concurrency,
        duration_s: args.duration,
        warmup_s: args.warmup,
        rate: args.rate,
        starts,
        start_to_webhook,
        status_to_ats_update: Latency::of(&tracker.status_to_update.lock().expect("not poisoned")),
        result_to_ats_update: Latency::of(&tracker.result_to_update.lock().expect("not poisoned")),
        deliveries_per_sec,
        webhooks_received: tracker.webhooks.load(Ordering::Relaxed),
        ats_updates_received: tracker.ats_updates.load(Ordering::Relaxed),
        vendor_calls: tracker.vendor_calls.load(Ordering::Relaxed),
        vendor_errors: tracker.vendor_errors.load(Ordering::Relaxed),
        bad_signatures: tracker.bad_signatures.load(Ordering::Relaxed),
        refused_ats_updates: tracker.refused_updates.load(Ordering::Relaxed),
        webhooks_missing,
        hub_peak_rss_mb: rss,
        rss_scope,
        baseline,
    };
    // Leave a target hub as we found it: no more webhooks to this receiver.
    let _ = http
        .delete(format!("{hub_url}/v1/webhook-endpoints/{endpoint_id}"))
        .bearer_auth(&api_key)
        .send()
        .await;
    if let Some(hub) = hub {
        hub.stop().await?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

/// Stop the in-process hub, then print a report as JSON (`None`) or hand
/// it back for a line of text.
async fn finish<R: Serialize>(
    hub: Option<Hub>,
    report: anyhow::Result<R>,
    json: bool,
) -> anyhow::Result<Option<R>> {
    if let Some(hub) = hub {
        hub.stop().await?;
    }
    let report = report?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(None);
    }
    Ok(Some(report))
}

fn latency_row(name: &str, l: &Option<Latency>) -> String {
    match l {
        Some(l) => format!(
            "{name:<34} {:>10} {:>9.2} {:>9.2} {:>9.2}",
            l.count, l.p50_ms, l.p99_ms, l.max_ms
        ),
        None => format!("{name:<34} {:>10}", "—"),
    }
}

fn print_table(r: &Report) {
    println!();
    println!(
        "screenhub bench: {} ({}), {} connections, {}s after {}s warm-up{}",
        r.target,
        r.database,
        r.concurrency,
        r.duration_s,
        r.warmup_s,
        r.rate
            .map(|x| format!(", paced at {x}/s"))
            .unwrap_or_default()
    );
    println!();
    println!("{:<44} {:>10} {:>9}", "throughput", "per sec", "errors");
    for load in r.baseline.iter().chain(std::iter::once(&r.starts)) {
        let name = if load.name == "screenhub" {
            "screenhub: assessment.start"
        } else {
            &load.name
        };
        println!(
            "{name:<44} {:>10.0} {:>9}",
            load.requests_per_sec, load.errors
        );
    }
    println!(
        "{:<44} {:>10.0}",
        "deliveries received", r.deliveries_per_sec
    );
    println!();
    println!(
        "{:<34} {:>10} {:>9} {:>9} {:>9}",
        "latency (ms)", "count", "p50", "p99", "max"
    );
    for load in &r.baseline {
        println!("{}", latency_row(&load.name, &load.latency));
    }
    println!("{}", latency_row("assessment.start", &r.starts.latency));
    println!(
        "{}",
        latency_row("start → vendor webhook", &r.start_to_webhook)
    );
    println!(
        "{}",
        latency_row("vendor status → Ashby update", &r.status_to_ats_update)
    );
    println!(
        "{}",
        latency_row("vendor result → Ashby update", &r.result_to_ats_update)
    );
    println!();
    println!(
        "webhooks {}  Ashby updates {}  vendor calls {} ({} failed)  bad signatures {}  refused updates {}  webhooks missing {}",
        r.webhooks_received,
        r.ats_updates_received,
        r.vendor_calls,
        r.vendor_errors,
        r.bad_signatures,
        r.refused_ats_updates,
        r.webhooks_missing
    );
    match r.hub_peak_rss_mb {
        Some(mb) => println!("peak RSS {mb:.1} MB ({})", r.rss_scope),
        None => println!("peak RSS unknown ({})", r.rss_scope),
    }
}
