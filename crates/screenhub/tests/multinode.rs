//! Several real `screenhub serve` processes on one database, behind a
//! round-robin load balancer, with one process killed (SIGKILL) and restarted
//! mid-run. Proves that no order is lost or doubled, every vendor webhook
//! arrives (duplicates counted), and every Ashby update arrives in order.
//!
//! These tests start OS processes and take tens of seconds, so they are
//! `#[ignore]`d in the default run; `scripts/test` runs them explicitly:
//! `cargo test --workspace --test multinode -- --ignored --test-threads=1`.
//! The PostgreSQL ones need SCREENHUB_TEST_DATABASE_URL.
//!
//! `crash_harness_*` SIGKILLs one node under steady load at random moments
//! (`SCREENHUB_TEST_CRASH_KILLS`, default 20; the long variant is
//! `SCREENHUB_TEST_CRASH_KILLS=200 cargo test --workspace --test multinode crash_harness -- --ignored --nocapture`),
//! and `sigterm_*` checks graceful shutdown. See RELIABILITY.md.
//!
//! `bench_start_throughput` is the multi-node benchmark (see BENCHMARKS.md).

mod common;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::free_port;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use futures::StreamExt;
use screenhub::sim::ashby::{AshbySim, SimAssessment, StartOptions, UpdateSource};
use screenhub::sim::greenhouse::{
    GreenhouseSim, NewCandidate, NewOrg, PartnerSettings, SendOptions,
    SimConfig as GreenhouseConfig,
};
use screenhub_core::delivery::{DeliveryState, DeliveryTarget};
use screenhub_store::{Cipher, DeliveryFilter, MasterKey, OrderFilter, Store};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

/// How long the whole run may take before the test gives up waiting.
const SETTLE: Duration = Duration::from_secs(90);
/// The nodes' delivery concurrency: at most this many attempts are in flight
/// on a node when it is killed, which bounds the duplicates a kill can cause.
const DELIVERY_CONCURRENCY: usize = 32;

// ---------------------------------------------------------------------------
// The cluster: real processes, one database, one load balancer.

struct Node {
    port: u16,
    child: Option<Child>,
}

struct Cluster {
    /// Locked while a node is killed or restarted.
    nodes: tokio::sync::Mutex<Vec<Node>>,
    ports: Vec<u16>,
    env: Vec<(&'static str, String)>,
    dir: tempfile::TempDir,
    balancer: Balancer,
}

impl Cluster {
    /// Start `count` nodes at once (they race to migrate a fresh database) and
    /// wait until each is ready.
    async fn start(count: usize, database_url: &str, master_key: &MasterKey) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
        let balancer = Balancer::start(ports.clone()).await;
        let env = vec![
            ("SCREENHUB_DATABASE_URL", database_url.to_owned()),
            ("SCREENHUB_MASTER_KEY", master_key.to_base64()),
            ("SCREENHUB_OUTBOUND_ALLOW", "127.0.0.0/8".to_owned()),
            // Fast retries, and enough of them to outlast a killed node's leases.
            (
                "SCREENHUB_RETRY_SCHEDULE_MS",
                "0,100,200,400,800,1600,3200,5000,5000,5000,5000".to_owned(),
            ),
            // The lease is this plus 5 s: a killed node's work is taken over soon.
            ("SCREENHUB_OUTBOUND_TIMEOUT_MS", "2000".to_owned()),
            (
                "SCREENHUB_DELIVERY_CONCURRENCY",
                DELIVERY_CONCURRENCY.to_string(),
            ),
            ("SCREENHUB_PUBLIC_URL", balancer.url.clone()),
            // The Greenhouse simulator plays app.greenhouse.io on loopback.
            ("SCREENHUB_GREENHOUSE_PATCH_HOSTS", "127.0.0.1".to_owned()),
            (
                "SCREENHUB_GREENHOUSE_PATCH_USERNAME",
                GH_PATCH_USER.to_owned(),
            ),
            (
                "SCREENHUB_GREENHOUSE_PATCH_PASSWORD",
                GH_PATCH_PASSWORD.to_owned(),
            ),
            ("SCREENHUB_DATA_DIR", dir.path().display().to_string()),
            ("RUST_LOG", "warn".to_owned()),
        ];
        let cluster = Cluster {
            nodes: tokio::sync::Mutex::new(
                ports
                    .iter()
                    .map(|&port| Node { port, child: None })
                    .collect(),
            ),
            ports,
            env,
            dir,
            balancer,
        };
        {
            let mut nodes = cluster.nodes.lock().await;
            for node in nodes.iter_mut() {
                cluster.spawn(node);
            }
            for (i, node) in nodes.iter_mut().enumerate() {
                cluster.wait_ready(i, node).await;
            }
        }
        cluster
    }

    fn log_path(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("node-{i}.log"))
    }

    fn spawn(&self, node: &mut Node) {
        let i = self.ports.iter().position(|&p| p == node.port).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(i))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_screenhub"))
            .args(["serve", "--listen"])
            .arg(format!("127.0.0.1:{}", node.port))
            // Only what is set here: nothing from the test's environment leaks in.
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("the screenhub binary starts");
        node.child = Some(child);
    }

    async fn wait_ready(&self, i: usize, node: &mut Node) {
        let url = format!("http://127.0.0.1:{}/readyz", node.port);
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(&url).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            if let Some(status) = node.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "node {i} exited ({status}) before it was ready:\n{}",
                    std::fs::read_to_string(self.log_path(i)).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "node {i} not ready in 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL (no shutdown, no lease released, connections cut), then start
    /// the node again on the same port and database.
    async fn kill_and_restart(&self, i: usize) {
        let mut nodes = self.nodes.lock().await;
        let node = &mut nodes[i];
        let mut child = node.child.take().unwrap();
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.spawn(node);
        self.wait_ready(i, node).await;
    }

    fn url(&self) -> String {
        self.balancer.url.clone()
    }

    /// Send SIGTERM to node `i`.
    async fn signal_terminate(&self, i: usize) {
        let nodes = self.nodes.lock().await;
        let pid = nodes[i]
            .child
            .as_ref()
            .unwrap()
            .id()
            .expect("a running node");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Wait (at most `bound`) for node `i` to exit.
    async fn wait_exit(&self, i: usize, bound: Duration) -> std::process::ExitStatus {
        let mut nodes = self.nodes.lock().await;
        let mut child = nodes[i].child.take().unwrap();
        tokio::time::timeout(bound, child.wait())
            .await
            .unwrap_or_else(|_| panic!("node {i} still running {bound:?} after SIGTERM"))
            .unwrap()
    }

    /// Start node `i` again (after it exited).
    async fn restart(&self, i: usize) {
        let mut nodes = self.nodes.lock().await;
        self.spawn(&mut nodes[i]);
        self.wait_ready(i, &mut nodes[i]).await;
    }

    /// Fail the test with the nodes' logs when they logged errors.
    fn logs(&self) -> String {
        (0..self.ports.len())
            .map(|i| {
                format!(
                    "--- node {i}\n{}",
                    std::fs::read_to_string(self.log_path(i)).unwrap_or_default()
                )
            })
            .collect()
    }
}

/// A TCP load balancer: each new connection goes to the next node in turn,
/// skipping nodes that refuse connections (a killed node).
struct Balancer {
    url: String,
}

impl Balancer {
    async fn start(ports: Vec<u16>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let next = Arc::new(AtomicUsize::new(0));
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                let (ports, next) = (ports.clone(), next.clone());
                tokio::spawn(async move {
                    for _ in 0..ports.len() * 20 {
                        let port = ports[next.fetch_add(1, Ordering::Relaxed) % ports.len()];
                        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                            Ok(mut outbound) => {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound)
                                    .await;
                                return;
                            }
                            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                });
            }
        });
        Self { url }
    }
}

// ---------------------------------------------------------------------------
// The vendor's webhook endpoint: verifies signatures, counts every arrival.

#[derive(Default)]
struct Received {
    secret: Mutex<Option<String>>,
    /// webhook-id → how many times it arrived.
    ids: Mutex<HashMap<String, usize>>,
    unverified: AtomicUsize,
    /// Answer only after this long (a slow vendor).
    delay_ms: std::sync::atomic::AtomicU64,
}

async fn start_receiver() -> (String, Arc<Received>) {
    let received = Arc::new(Received::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/webhooks", axum::routing::post(receive))
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

async fn receive(
    State(received): State<Arc<Received>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let secret = received.secret.lock().unwrap().clone().unwrap_or_default();
    let verified =
        standardwebhooks::Webhook::new(&secret).is_ok_and(|w| w.verify(&body, &headers).is_ok());
    if !verified {
        received.unverified.fetch_add(1, Ordering::Relaxed);
        return StatusCode::UNAUTHORIZED;
    }
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let delay = received.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    *received.ids.lock().unwrap().entry(id).or_default() += 1;
    StatusCode::NO_CONTENT
}

// ---------------------------------------------------------------------------
// The vendor and Ashby, driving the cluster.

struct World {
    cluster: Cluster,
    store: Store,
    http: reqwest::Client,
    api_key: String,
    sim: AshbySim,
    received: Arc<Received>,
    type_id: String,
    /// The account's External Trigger Token (what Ashby authenticates with).
    token: String,
}

impl World {
    async fn new(nodes: usize, database_url: &str) -> Self {
        let master_key = MasterKey::generate();
        let cluster = Cluster::start(nodes, database_url, &master_key).await;
        // The test reads the same database, as an operator would.
        let store = Store::connect(database_url, Cipher::new(&master_key))
            .await
            .unwrap();
        let (_, api_key) = store.create_api_key("multinode", 0).await.unwrap();
        let sim = AshbySim::with_seed(Default::default(), 5);
        let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sim_url = format!("http://{}", sim_listener.local_addr().unwrap());
        tokio::spawn(screenhub::sim::ashby::serve(sim_listener, sim.clone()));
        let (receiver_url, received) = start_receiver().await;
        let mut world = Self {
            cluster,
            store,
            http: reqwest::Client::new(),
            api_key,
            sim,
            received,
            type_id: String::new(),
            token: String::new(),
        };
        let account = world
            .vendor(
                reqwest::Method::POST,
                "/v1/accounts",
                json!({"name": "Acme", "ats": "ashby", "ats_api_base_url": sim_url}),
            )
            .await;
        let account_id = account["id"].as_str().unwrap().to_owned();
        let ashby_key = world.sim.create_key(None, None).key;
        world
            .vendor(
                reqwest::Method::PUT,
                &format!("/v1/accounts/{account_id}/ats-credentials"),
                json!({"api_key": ashby_key}),
            )
            .await;
        let packages = world
            .vendor(
                reqwest::Method::PUT,
                "/v1/packages",
                json!([{"id": "basic", "kind": "background_check", "name": "Basic background check"}]),
            )
            .await;
        world.type_id = packages["data"][0]["ats_type_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let endpoint = world
            .vendor(
                reqwest::Method::POST,
                "/v1/webhook-endpoints",
                json!({"url": receiver_url}),
            )
            .await;
        *world.received.secret.lock().unwrap() =
            Some(endpoint["secret"].as_str().unwrap().to_owned());
        world.token = account["external_trigger_token"]
            .as_str()
            .unwrap()
            .to_owned();
        world
            .sim
            .set_partner(&format!("{}/ats/ashby", world.cluster.url()), &world.token)
            .unwrap();
        world
    }

    /// A vendor API call through the balancer; set-up calls must succeed.
    async fn vendor(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let res = self
            .http
            .request(method, format!("{}{path}", self.cluster.url()))
            .bearer_auth(&self.api_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// What a recruiter does, as Ashby retries it: start until Ashby gets an
    /// answer (a killed node cuts the connection; the retry dedupes).
    async fn start(&self, n: usize) -> String {
        self.start_counting_tries(n).await.0
    }

    /// A start as Ashby retries it, and how many tries it took.
    async fn start_counting_tries(&self, n: usize) -> (String, usize) {
        let options = StartOptions {
            assessment_type_id: Some(self.type_id.clone()),
            application: Some(json!({"ashby_id": format!("app-{n}")})),
            candidate: Some(
                json!({"ashby_id": format!("cand-{n}"), "email": format!("c{n}@example.com")}),
            ),
            ..Default::default()
        };
        for tries in 1..=100 {
            match self.sim.start_assessment(options.clone()).await {
                Ok(outcome) if outcome.call.status == 200 => {
                    return (outcome.assessment_id.expect("an assessment id"), tries)
                }
                Ok(outcome) if outcome.call.status >= 500 => {}
                Ok(outcome) => panic!("start {n} refused: {:?}", outcome.call),
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("start {n} never got an answer");
    }

    /// The vendor reports progress, then the result, each sent until it has
    /// an answer (see `vendor_call`).
    async fn complete(&self, id: &str) {
        let load = Load::default();
        self.vendor_call(
            &load,
            id,
            reqwest::Method::POST,
            "/status",
            json!({"status": "in_progress", "label": "Candidate invited"}),
            |o| o["status"] == "in_progress",
        )
        .await;
        self.vendor_call(
            &load,
            id,
            reqwest::Method::PUT,
            "/result",
            json!({"outcome": "pass", "report_url": "https://vendor.example/reports/1", "summary": "Clear"}),
            |o| o["status"] == "completed",
        )
        .await;
    }

    async fn all_orders(&self) -> Vec<screenhub_store::Order> {
        let mut all = Vec::new();
        let mut filter = OrderFilter {
            limit: 500,
            ..Default::default()
        };
        loop {
            let page = self.store.list_orders(&filter).await.unwrap();
            let Some(last) = page.last() else { break };
            filter.before = Some(last.id);
            all.extend(page);
        }
        all
    }

    async fn deliveries(&self, state: Option<DeliveryState>) -> Vec<screenhub_store::Delivery> {
        let mut all = Vec::new();
        let mut filter = DeliveryFilter {
            state,
            limit: 1000,
            ..Default::default()
        };
        loop {
            let page = self.store.list_deliveries(&filter).await.unwrap();
            let Some(last) = page.last() else { break };
            filter.before_seq = Some(last.seq);
            all.extend(page);
        }
        all
    }
}

/// Run `work` over `0..count` with `concurrency` at once, calling `at_fraction`
/// once when `fraction` of it is done (to kill a node mid-run).
async fn run_with_interruption<W, Fut, T, K, KFut>(
    count: usize,
    concurrency: usize,
    fraction: f64,
    work: W,
    interrupt: K,
) -> Vec<T>
where
    W: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T>,
    K: FnOnce() -> KFut,
    KFut: std::future::Future<Output = ()>,
{
    let done = AtomicUsize::new(0);
    let results = futures::stream::iter(0..count)
        .map(|n| {
            let fut = work(n);
            let done = &done;
            async move {
                let r = fut.await;
                done.fetch_add(1, Ordering::Relaxed);
                r
            }
        })
        .buffered(concurrency)
        .collect::<Vec<T>>();
    let killer = async {
        while (done.load(Ordering::Relaxed) as f64) < count as f64 * fraction {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        interrupt().await;
    };
    let (results, ()) = tokio::join!(results, killer);
    results
}

/// The scenario, for any number of nodes: starts, a kill, results, another
/// kill, then every guarantee checked.
async fn scenario(nodes: usize, database_url: &str, starts: usize) {
    let began = Instant::now();
    let world = World::new(nodes, database_url).await;
    let victim_a = if nodes > 1 { 1 } else { 0 };
    let victim_b = nodes - 1;
    let world = &world;

    // 1. Ashby starts, spread over every node; one node is killed a third of the way.
    let ids: Vec<String> = run_with_interruption(
        starts,
        32,
        0.33,
        |n| world.start(n),
        || world.cluster.kill_and_restart(victim_a),
    )
    .await;
    let started_in = began.elapsed();

    // 2. The vendor reports progress and results; another node is killed halfway.
    run_with_interruption(
        starts,
        32,
        0.5,
        |n| world.complete(&ids[n]),
        || world.cluster.kill_and_restart(victim_b),
    )
    .await;

    // 3. Wait for everything to be delivered.
    let deadline = Instant::now() + SETTLE;
    loop {
        let pending = world
            .store
            .list_deliveries(&DeliveryFilter {
                state: Some(DeliveryState::Pending),
                limit: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        let done = world
            .sim
            .assessments()
            .iter()
            .filter(|a| a.result.is_some())
            .count();
        if pending.is_empty() && done == starts {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not settled: {} pending, {done}/{starts} results in Ashby\n{}",
            pending.len(),
            world.cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let settled_in = began.elapsed();

    // Every order exists exactly once, and is the one Ashby knows.
    let orders = world.all_orders().await;
    assert_eq!(orders.len(), starts, "one order per start");
    let applications: HashSet<_> = orders
        .iter()
        .map(|o| o.application_ats_id.clone())
        .collect();
    assert_eq!(applications.len(), starts, "no application has two orders");
    let order_ids: HashSet<String> = orders.iter().map(|o| o.id.to_string()).collect();
    let sim_ids: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(order_ids, sim_ids, "Ashby's assessment ids are the orders");
    assert!(orders
        .iter()
        .all(|o| o.status == screenhub_core::order::OrderStatus::Completed));

    // Every Ashby update arrived, in order: Started, in progress, the result.
    // A node killed after Ashby accepted an update but before recording it
    // sends it again; Ashby refuses the repeat (same timestamp): counted.
    let mut ats_repeats = 0;
    for a in world.sim.assessments() {
        check_ashby_updates(&a);
        ats_repeats += a.rejected_updates.len();
    }
    assert_eq!(
        world.sim.rejections().len(),
        ats_repeats,
        "no update for an unknown assessment"
    );

    // Nothing pending; vendor webhooks all delivered; ATS updates delivered
    // (or refused only as a repeat of one already accepted).
    let deliveries = world.deliveries(None).await;
    assert!(deliveries.iter().all(|d| d.state != DeliveryState::Pending));
    let vendor: Vec<_> = deliveries
        .iter()
        .filter(|d| d.target == DeliveryTarget::Vendor)
        .collect();
    let failed_ats = deliveries
        .iter()
        .filter(|d| d.target == DeliveryTarget::Ats && d.state != DeliveryState::Succeeded)
        .count();
    assert!(
        failed_ats <= ats_repeats,
        "an ATS update failed for another reason than a repeat"
    );
    assert!(
        vendor.iter().all(|d| d.state == DeliveryState::Succeeded),
        "every vendor webhook succeeded"
    );
    let received = world.received.ids.lock().unwrap().clone();
    for d in &vendor {
        assert!(
            received.contains_key(d.id.as_str()),
            "webhook {} never arrived",
            d.id
        );
    }
    let vendor_ids: HashSet<&str> = vendor.iter().map(|d| d.id.as_str()).collect();
    assert!(received.keys().all(|id| vendor_ids.contains(id.as_str())));
    let arrivals: usize = received.values().sum();
    let duplicates = arrivals - received.len();
    assert_eq!(world.received.unverified.load(Ordering::Relaxed), 0);
    // Only attempts in flight on a killed node can be repeated.
    let kills = 2;
    assert!(
        duplicates + ats_repeats <= kills * DELIVERY_CONCURRENCY,
        "{duplicates} duplicate webhooks and {ats_repeats} repeated ATS updates: more than the attempts in flight at the kills"
    );
    eprintln!(
        "multinode: {nodes} node(s), {starts} orders; started in {:.1} s, settled in {:.1} s; \
         {} vendor webhooks ({duplicates} duplicate arrivals), {} ATS updates ({ats_repeats} repeated)",
        started_in.as_secs_f64(),
        settled_in.as_secs_f64(),
        vendor.len(),
        deliveries.len() - vendor.len(),
    );
}

fn check_ashby_updates(a: &SimAssessment) {
    let sources: Vec<UpdateSource> = a.updates.iter().map(|u| u.source).collect();
    assert_eq!(
        sources,
        [
            UpdateSource::StartResponse,
            UpdateSource::Api,
            UpdateSource::Api
        ],
        "assessment {}: {:#?}",
        a.assessment_id,
        a.updates
    );
    assert!(a.updates[1].body.get("assessment_result").is_none());
    assert!(a.updates[2].body.get("assessment_result").is_some());
    for rejected in &a.rejected_updates {
        assert!(
            a.updates.iter().any(|u| u.body == rejected.body),
            "assessment {}: refused an update that is not a repeat: {}",
            a.assessment_id,
            rejected.message
        );
    }
}

fn count_from_env(default: usize) -> usize {
    std::env::var("SCREENHUB_TEST_MULTINODE_STARTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A database of its own on the PostgreSQL that SCREENHUB_TEST_DATABASE_URL
/// names (the test fails without it: `scripts/test` skips it by name then).
async fn postgres_database() -> screenhub_store::testing::TestDatabase {
    let base = screenhub_store::testing::postgres_base_url();
    screenhub_store::testing::fresh_postgres_database(&base)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts OS processes; run by scripts/test"]
async fn three_nodes_on_postgres_survive_a_kill() {
    let db = postgres_database().await;
    scenario(3, db.url(), count_from_env(2500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts OS processes; run by scripts/test"]
async fn one_node_on_sqlite_survives_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("screenhub.db").display());
    scenario(1, &url, count_from_env(1000)).await;
}

// ---------------------------------------------------------------------------
// Greenhouse: the doorbell survives a kill.

const GH_PATCH_USER: &str = "multinode-partner";
const GH_PATCH_PASSWORD: &str = "multinode-secret";

/// Greenhouse on loopback, its partner settings pointing at the cluster, and
/// one org on a Greenhouse account with its stage set to the basic check.
struct Greenhouse {
    sim: GreenhouseSim,
    org_id: String,
}

impl World {
    async fn greenhouse(&self) -> Greenhouse {
        let sim = GreenhouseSim::with_seed(
            GreenhouseConfig {
                clock_speed: 0.0,
                ..Default::default()
            },
            9,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        tokio::spawn(screenhub::sim::greenhouse::serve(listener, sim.clone()));
        let mut partner = PartnerSettings::new(
            format!("{}/ats/greenhouse", self.cluster.url()),
            GH_PATCH_USER.into(),
            GH_PATCH_PASSWORD.into(),
        );
        // Greenhouse reads test_status once right after a PATCH; if that read
        // hits the node being killed, only its hourly poll finds the result.
        partner.poll_in_patch_mode = true;
        sim.set_partner(partner).unwrap();
        let account = self
            .vendor(
                reqwest::Method::POST,
                "/v1/accounts",
                json!({"name": "Globex", "ats": "greenhouse"}),
            )
            .await;
        let org = sim
            .create_org(NewOrg {
                name: "Globex".into(),
                key: account["external_trigger_token"].as_str().unwrap().into(),
                job_name: None,
            })
            .unwrap();
        sim.list_tests(&org.id).await.unwrap();
        sim.set_stage(&org.id, "basic").await.unwrap();
        Greenhouse {
            sim,
            org_id: org.id,
        }
    }

    /// Wait until every take-home test is frozen and every doorbell rang,
    /// moving Greenhouse's clock an hour on whenever the doorbells are all
    /// done but a test is not (its read after the PATCH was lost at a kill).
    /// Returns the simulated hours of polling.
    async fn settle_greenhouse(&self, gh: &GreenhouseSim, tests: &[u64]) -> usize {
        let deadline = Instant::now() + SETTLE;
        let mut polled_hours = 0;
        loop {
            let frozen = tests
                .iter()
                .filter(|th| gh.interview(**th).is_some_and(|i| i.frozen.is_some()))
                .count();
            if frozen == tests.len() {
                break;
            }
            if !doorbells_pending(self).await {
                gh.advance_clock(3_600_000).await;
                polled_hours += 1;
            }
            assert!(
                Instant::now() < deadline,
                "{frozen}/{} Greenhouse tests frozen\n{}",
                tests.len(),
                self.cluster.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Every doorbell rings in the end, also those a poll overtook.
        while doorbells_pending(self).await {
            assert!(Instant::now() < deadline, "doorbells still pending");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        polled_hours
    }

    /// After `settle_greenhouse`: each sent test (take-home test id, the
    /// order Greenhouse was told, the vendor's report) has exactly one order,
    /// its status frozen `complete` with the vendor's result, one doorbell
    /// that rang, and Greenhouse found nothing wrong. Returns the doorbells.
    async fn check_greenhouse(&self, gh: &GreenhouseSim, sent: &[(u64, String, String)]) -> usize {
        for (th, _, report_url) in sent {
            let interview = gh.interview(*th).unwrap();
            let frozen = interview.frozen.unwrap();
            assert_eq!(frozen.partner_status, "complete", "take-home test {th}");
            assert_eq!(
                frozen.partner_profile_url.as_deref(),
                Some(report_url.as_str()),
                "take-home test {th}"
            );
            assert!(interview.warnings.is_empty(), "{:?}", interview.warnings);
        }
        assert!(
            gh.response_errors().is_empty(),
            "{:?}",
            gh.response_errors()
        );
        let orders: HashSet<String> = self
            .all_orders()
            .await
            .into_iter()
            .filter(|o| o.ats == screenhub_core::account::Ats::Greenhouse)
            .map(|o| o.id.to_string())
            .collect();
        let told: HashSet<String> = sent.iter().map(|(_, id, _)| id.clone()).collect();
        assert_eq!(told.len(), sent.len(), "a partner_interview_id given twice");
        assert_eq!(
            orders, told,
            "one order per take-home test, the one Greenhouse was told"
        );
        let doorbells: Vec<_> = self
            .deliveries(None)
            .await
            .into_iter()
            .filter(|d| d.event_type == "greenhouse.mark_completed")
            .collect();
        assert_eq!(doorbells.len(), sent.len(), "one doorbell per order");
        let unrung: Vec<_> = doorbells
            .iter()
            .filter(|d| d.state != DeliveryState::Succeeded)
            .map(|d| (d.state, d.last_status, d.last_error.clone()))
            .collect();
        assert!(unrung.is_empty(), "doorbells that did not ring: {unrung:?}");
        doorbells.len()
    }
}

/// Greenhouse sends tests to `count` candidates through the cluster; the
/// vendor completes them while a node is SIGKILLed halfway. Every test ends
/// with a frozen `complete` in Greenhouse (the doorbell PATCH is a leased,
/// retried delivery, queued with the result), one order per take-home test,
/// no `response_error`, and PATCHes repeated only for attempts in flight at
/// the kill.
async fn greenhouse_scenario(nodes: usize, database_url: &str, count: usize) {
    let world = World::new(nodes, database_url).await;
    let gh = world.greenhouse().await;
    let mut sent = Vec::new();
    for _ in 0..count {
        let candidate = gh
            .sim
            .add_candidate(&gh.org_id, NewCandidate::default())
            .unwrap();
        let interview = gh
            .sim
            .send_test(candidate.id, SendOptions::default())
            .await
            .unwrap();
        let id = interview
            .partner_interview_id
            .clone()
            .unwrap_or_else(|| panic!("send_test failed: {:?}", interview.send_error));
        sent.push((
            interview.take_home_test_id,
            id,
            "https://vendor.example/reports/1".to_owned(),
        ));
    }
    let world = &world;
    let sent = &sent;
    run_with_interruption(
        count,
        16,
        0.5,
        |n| world.complete(&sent[n].1),
        || world.cluster.kill_and_restart(nodes - 1),
    )
    .await;
    let tests: Vec<u64> = sent.iter().map(|(th, _, _)| *th).collect();
    let polled_hours = world.settle_greenhouse(&gh.sim, &tests).await;
    world.check_greenhouse(&gh.sim, sent).await;
    let patches = gh.sim.patches();
    let repeats = patches.len() - count;
    assert!(
        repeats <= DELIVERY_CONCURRENCY,
        "{repeats} repeated PATCHes: more than the attempts in flight at the kill"
    );
    eprintln!(
        "multinode greenhouse: {nodes} node(s), {count} tests, every one frozen complete; {} PATCHes ({repeats} repeated); \
         {polled_hours} simulated hour(s) of polling for reads lost at the kill",
        patches.len()
    );
}

async fn doorbells_pending(world: &World) -> bool {
    world
        .deliveries(Some(DeliveryState::Pending))
        .await
        .iter()
        .any(|d| d.event_type == "greenhouse.mark_completed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts OS processes; run by scripts/test"]
async fn greenhouse_doorbells_on_sqlite_survive_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("screenhub.db").display());
    greenhouse_scenario(1, &url, count_from_env(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts OS processes; run by scripts/test"]
async fn greenhouse_doorbells_on_postgres_survive_a_kill() {
    let db = postgres_database().await;
    greenhouse_scenario(3, db.url(), count_from_env(300)).await;
}

// ---------------------------------------------------------------------------
// Crash harness: one node under steady load, SIGKILLed at random moments and
// restarted on the same data, again and again.

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The vendor's progress reports, in order, before the result.
const STEPS: [&str; 2] = ["Step 1", "Step 2"];

/// What the load saw.
#[derive(Default)]
struct Load {
    /// Every start Ashby got an answer for: application number, assessment id.
    accepted: Mutex<Vec<(usize, String)>>,
    /// Start requests sent again after no answer (a killed node).
    start_retries: AtomicUsize,
    /// Every Greenhouse test sent: take-home test id, the
    /// partner_interview_id Greenhouse was told, the vendor's report.
    sent_tests: Mutex<Vec<(u64, String, String)>>,
    /// `send_test`s clicked again after no answer (a killed node).
    send_test_retries: AtomicUsize,
    /// `send_test`s clicked again after an answer, answered the same id.
    send_test_repeats: AtomicUsize,
    /// Vendor calls sent again after no answer (read first: sent only when
    /// the first one had not taken effect).
    vendor_retries: AtomicUsize,
    /// Vendor calls answered 200.
    vendor_accepted: AtomicUsize,
    /// Vendor calls that went unanswered but, read back, had taken effect.
    vendor_confirmed_by_reading: AtomicUsize,
    /// What the vendor read back after an accepted call, when it was not what
    /// the call had made it (an answer before the write was durable, or a
    /// status that went backwards).
    regressions: Mutex<Vec<String>>,
}

fn status_rank(status: &str) -> u8 {
    match status {
        "pending" => 0,
        "in_progress" => 1,
        _ => 2,
    }
}

impl World {
    /// The order as the vendor reads it, once some node answers.
    async fn read_order(&self, id: &str) -> Value {
        let url = format!("{}/v1/orders/{id}", self.cluster.url());
        for _ in 0..600 {
            if let Ok(res) = self.http.get(&url).bearer_auth(&self.api_key).send().await {
                if res.status() == 200 {
                    if let Ok(order) = res.json::<Value>().await {
                        return order;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{url} never answered");
    }

    /// One vendor call, sent until it has an answer. After no answer the
    /// vendor reads the order, and sends again only when the call had not
    /// taken effect, as a careful vendor does, so nothing is reported twice (an
    /// Idempotency-Key would make the retry wait until the dead node's claim on
    /// the key goes stale).
    async fn vendor_call(
        &self,
        load: &Load,
        id: &str,
        method: reqwest::Method,
        path: &str,
        body: Value,
        took_effect: impl Fn(&Value) -> bool,
    ) {
        let url = format!("{}/v1/orders/{id}{path}", self.cluster.url());
        for attempt in 0..200 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if took_effect(&self.read_order(id).await) {
                    load.vendor_confirmed_by_reading
                        .fetch_add(1, Ordering::Relaxed);
                    return;
                }
                load.vendor_retries.fetch_add(1, Ordering::Relaxed);
            }
            let res = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(&self.api_key)
                .json(&body)
                .send()
                .await;
            match res {
                Ok(r) if r.status() == 200 => {
                    load.vendor_accepted.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Ok(r) if r.status().is_server_error() => {}
                Ok(r) => panic!(
                    "{url}: {} {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                ),
                Err(_) => {}
            }
        }
        panic!("{url} never got an answer");
    }

    /// One application's life: Ashby starts it, then `vendor_flow`.
    async fn crash_flow(&self, load: &Load, n: usize) {
        let (id, tries) = self.start_counting_tries(n).await;
        load.start_retries.fetch_add(tries - 1, Ordering::Relaxed);
        load.accepted.lock().unwrap().push((n, id.clone()));
        self.vendor_flow(load, &id, n).await;
    }

    /// One Greenhouse test's life: the recruiter clicks Send Test, again
    /// with the same `url` until some node answers, and once more after the
    /// answer (which must name the same order); then `vendor_flow`.
    async fn greenhouse_flow(&self, gh: &Greenhouse, load: &Load, n: usize) {
        let candidate = gh
            .sim
            .add_candidate(&gh.org_id, NewCandidate::default())
            .unwrap();
        let mut interview = gh
            .sim
            .send_test(candidate.id, SendOptions::default())
            .await
            .unwrap();
        let th = interview.take_home_test_id;
        let mut answered = Vec::new();
        for _ in 0..200 {
            match interview.partner_interview_id.clone() {
                Some(id) if answered.is_empty() => answered.push(id),
                Some(id) if interview.send_error.is_none() => {
                    assert_eq!(
                        id, answered[0],
                        "take-home test {th}: a repeat got another id"
                    );
                    answered.push(id);
                    break;
                }
                _ => {
                    let error = interview.send_error.clone().unwrap_or_default();
                    assert!(
                        error.starts_with("Could not reach the partner"),
                        "send_test {n} refused: {error}"
                    );
                    load.send_test_retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            interview = gh.sim.resend_test(th).await.unwrap();
        }
        assert_eq!(answered.len(), 2, "send_test {n} never got an answer");
        load.send_test_repeats.fetch_add(1, Ordering::Relaxed);
        let id = answered.swap_remove(0);
        let report_url = format!("https://vendor.example/reports/{n}");
        load.sent_tests
            .lock()
            .unwrap()
            .push((th, id.clone(), report_url));
        self.vendor_flow(load, &id, n).await;
    }

    /// The vendor reports progress twice and then the result, reading the
    /// order back after each call.
    async fn vendor_flow(&self, load: &Load, id: &str, n: usize) {
        let mut rank = 0;
        let mut check = |order: &Value, expected_status: &str, expected_label: Option<&str>| {
            let status = order["status"].as_str().unwrap_or_default();
            let label = order["progress"]["label"].as_str();
            let now = status_rank(status);
            if now < rank
                || status != expected_status
                || (expected_label.is_some() && label != expected_label)
            {
                load.regressions.lock().unwrap().push(format!(
                    "{id}: expected {expected_status} {expected_label:?}, read {status} {label:?}"
                ));
            }
            rank = rank.max(now);
        };
        check(&self.read_order(id).await, "pending", None);
        for step in STEPS {
            self.vendor_call(
                load,
                id,
                reqwest::Method::POST,
                "/status",
                json!({"status": "in_progress", "label": step}),
                |o| o["progress"]["label"] == step,
            )
            .await;
            check(&self.read_order(id).await, "in_progress", Some(step));
        }
        self.vendor_call(
            load,
            id,
            reqwest::Method::PUT,
            "/result",
            json!({"outcome": "pass", "report_url": format!("https://vendor.example/reports/{n}"), "summary": "Clear"}),
            |o| o["status"] == "completed",
        )
        .await;
        check(&self.read_order(id).await, "completed", None);
    }
}

/// Steady load (concurrent starts, progress and results) on one node, killed
/// with SIGKILL at random moments and restarted on the same data each time.
/// The clients alternate between Ashby's starts and Greenhouse's Send Test
/// (whose result reaches Greenhouse by the PATCH doorbell and its read).
async fn crash_harness(backend: &str, database_url: &str) {
    use rand::{Rng, SeedableRng};
    let kills: usize = env_number("SCREENHUB_TEST_CRASH_KILLS", 20);
    let clients: usize = env_number("SCREENHUB_TEST_CRASH_CLIENTS", 12);
    let seed: u64 = env_number("SCREENHUB_TEST_CRASH_SEED", rand::random());
    eprintln!(
        "crash harness on {backend}: {kills} kills, {clients} clients, SCREENHUB_TEST_CRASH_SEED={seed}"
    );
    let began = Instant::now();
    let world = World::new(1, database_url).await;
    let gh = world.greenhouse().await;
    let load = Load::default();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let next = AtomicUsize::new(0);
    let clients = futures::future::join_all((0..clients).map(|_| async {
        while !stop.load(Ordering::Relaxed) {
            let n = next.fetch_add(1, Ordering::Relaxed);
            if n.is_multiple_of(2) {
                world.crash_flow(&load, n).await;
            } else {
                world.greenhouse_flow(&gh, &load, n).await;
            }
        }
    }));
    let killer = async {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for _ in 0..kills {
            let pause = rng.gen_range(100..1500);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            world.cluster.kill_and_restart(0).await;
        }
        // Some load on the last incarnation too, then let the flows finish.
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, Ordering::Relaxed);
    };
    tokio::join!(clients, killer);
    let loaded_in = began.elapsed();
    let accepted = load.accepted.lock().unwrap().clone();
    let starts = accepted.len();

    // Everything delivered: nothing pending, every result in Ashby.
    let deadline = Instant::now() + SETTLE;
    loop {
        let pending = world.deliveries(Some(DeliveryState::Pending)).await.len();
        let done = world
            .sim
            .assessments()
            .iter()
            .filter(|a| a.result.is_some())
            .count();
        if pending == 0 && done == starts {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not settled: {pending} pending, {done}/{starts} results in Ashby\n{}",
            world.cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let sent_tests = load.sent_tests.lock().unwrap().clone();
    let tests: Vec<u64> = sent_tests.iter().map(|(th, _, _)| *th).collect();
    let polled_hours = world.settle_greenhouse(&gh.sim, &tests).await;
    let doorbells = world.check_greenhouse(&gh.sim, &sent_tests).await;

    // Every accepted start has exactly one order, the one Ashby was told.
    let orders: Vec<_> = world
        .all_orders()
        .await
        .into_iter()
        .filter(|o| o.ats == screenhub_core::account::Ats::Ashby)
        .collect();
    let by_application: HashMap<String, usize> = orders.iter().fold(HashMap::new(), |mut m, o| {
        *m.entry(o.application_ats_id.clone()).or_default() += 1;
        m
    });
    assert_eq!(orders.len(), starts, "one order per accepted start");
    assert!(
        by_application.values().all(|&c| c == 1),
        "an application has two orders"
    );
    let order_ids: HashSet<String> = orders.iter().map(|o| o.id.to_string()).collect();
    let accepted_ids: HashSet<String> = accepted.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(
        order_ids, accepted_ids,
        "Ashby's assessment ids are the orders"
    );

    // Every accepted vendor update reached Ashby, in the vendor's order, and
    // the last is the result; no status went backwards.
    let mut ats_repeats = 0;
    for (n, id) in &accepted {
        let a = world
            .sim
            .assessment(id)
            .unwrap_or_else(|| panic!("Ashby never heard of {id}"));
        let statuses: Vec<&str> = a
            .updates
            .iter()
            .map(|u| u.body["assessment_status"]["value"].as_str().unwrap_or("-"))
            .collect();
        assert_eq!(
            statuses,
            ["Started", "Step 1", "Step 2", "Completed"],
            "{id}: {:#?}",
            a.updates
        );
        let last = &a.updates[3].body;
        assert!(
            last.get("assessment_result").is_some()
                && last.to_string().contains(&format!("reports/{n}\"")),
            "{id}: the last update is the vendor's result: {last}"
        );
        for rejected in &a.rejected_updates {
            assert!(
                a.updates.iter().any(|u| u.body == rejected.body),
                "{id}: refused an update that is not a repeat: {}",
                rejected.message
            );
        }
        ats_repeats += a.repeated_updates as usize + a.rejected_updates.len();
    }
    let regressions = load.regressions.lock().unwrap().clone();
    assert!(regressions.is_empty(), "{regressions:#?}");

    // Nothing pending or given up; every webhook arrived.
    let deliveries = world.deliveries(None).await;
    let not_delivered: Vec<_> = deliveries
        .iter()
        .filter(|d| d.state != DeliveryState::Succeeded)
        .map(|d| (d.id.to_string(), d.state, d.last_error.clone()))
        .collect();
    assert!(not_delivered.is_empty(), "{not_delivered:#?}");
    let received = world.received.ids.lock().unwrap().clone();
    let vendor: Vec<_> = deliveries
        .iter()
        .filter(|d| d.target == DeliveryTarget::Vendor)
        .collect();
    for d in &vendor {
        assert!(
            received.contains_key(d.id.as_str()),
            "webhook {} never arrived",
            d.id
        );
    }
    assert_eq!(world.received.unverified.load(Ordering::Relaxed), 0);
    let webhook_duplicates = received.values().sum::<usize>() - received.len();
    let ats_updates = deliveries.len() - vendor.len() - doorbells;
    eprintln!(
        "crash harness on {backend}: {kills} SIGKILLs survived in {:.0} s (load {:.0} s); \
         {starts} Ashby starts accepted ({} resent after a lost connection), \
         {} Greenhouse tests sent ({} Send Test clicks again after a lost connection, \
         {} repeat clicks answered the same id), each frozen complete with its result, \
         {doorbells} doorbells rung, {polled_hours} simulated hour(s) of Greenhouse polling, \
         {} vendor updates accepted ({} answered only by reading back, {} resent), \
         {ats_updates} updates delivered to Ashby \
         ({ats_repeats} repeats after a kill, absorbed), {} webhooks delivered \
         ({webhook_duplicates} duplicate arrivals); lost 0, regressed 0, pending 0",
        began.elapsed().as_secs_f64(),
        loaded_in.as_secs_f64(),
        load.start_retries.load(Ordering::Relaxed),
        sent_tests.len(),
        load.send_test_retries.load(Ordering::Relaxed),
        load.send_test_repeats.load(Ordering::Relaxed),
        load.vendor_accepted.load(Ordering::Relaxed)
            + load.vendor_confirmed_by_reading.load(Ordering::Relaxed),
        load.vendor_confirmed_by_reading.load(Ordering::Relaxed),
        load.vendor_retries.load(Ordering::Relaxed),
        vendor.len(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts OS processes; run by scripts/test"]
async fn crash_harness_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("screenhub.db").display());
    crash_harness("SQLite", &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts OS processes; run by scripts/test"]
async fn crash_harness_on_postgres() {
    let db = postgres_database().await;
    crash_harness("PostgreSQL", db.url()).await;
}

// ---------------------------------------------------------------------------
// Graceful shutdown: SIGTERM with requests and delivery attempts in flight.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts OS processes; run by scripts/test"]
async fn sigterm_finishes_requests_and_attempts_in_flight_and_releases_leases() {
    /// More than the node attempts at once, so some wait unclaimed.
    const ORDERS: usize = DELIVERY_CONCURRENCY + 8;
    const SLOW: u64 = 1_500;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("screenhub.db").display());
    let world = World::new(1, &url).await;
    let port = world.cluster.ports[0];

    // A slow Ashby, and a request that waits on it: verifying a new Ashby key.
    world
        .sim
        .set_faults(screenhub::sim::ashby::Faults {
            latency_ms: SLOW,
            ..Default::default()
        })
        .unwrap();
    let account_id = world.store.list_accounts(None, 10).await.unwrap()[0]
        .id
        .to_string();
    let key = world.sim.create_key(None, None).key;
    let slow_request = {
        let (http, url, api_key) = (
            world.http.clone(),
            format!(
                "{}/v1/accounts/{account_id}/ats-credentials",
                world.cluster.url()
            ),
            world.api_key.clone(),
        );
        tokio::spawn(async move {
            let res = http
                .put(url)
                .bearer_auth(api_key)
                .json(&json!({"api_key": key}))
                .send()
                .await
                .expect("the request in flight is answered");
            (
                res.status(),
                res.json::<Value>().await.unwrap_or(Value::Null),
            )
        })
    };
    // A slow vendor endpoint, and webhooks for it.
    world.received.delay_ms.store(SLOW, Ordering::Relaxed);
    futures::future::join_all((0..ORDERS).map(|n| world.start(n))).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let in_flight: HashSet<String> = world
        .deliveries(None)
        .await
        .iter()
        .filter(|d| d.lease_owner.is_some())
        .map(|d| d.id.to_string())
        .collect();
    assert!(!in_flight.is_empty(), "attempts in flight at the signal");

    let signalled = Instant::now();
    world.cluster.signal_terminate(0).await;
    // New connections are refused at once.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "a new connection was accepted after SIGTERM"
    );
    // The request in flight gets its normal answer.
    let (status, account) = slow_request.await.unwrap();
    assert_eq!(
        (status.as_u16(), &account["status"]),
        (200, &json!("active")),
        "{account}"
    );
    // The process exits cleanly, soon.
    let exit = world.cluster.wait_exit(0, Duration::from_secs(10)).await;
    let stopped_in = signalled.elapsed();
    assert!(
        exit.success(),
        "exit status {exit}\n{}",
        world.cluster.logs()
    );

    // Every attempt in flight finished and was recorded; no lease is left.
    let deliveries = world.deliveries(None).await;
    assert!(deliveries
        .iter()
        .all(|d| d.lease_owner.is_none() && d.lease_until.is_none()));
    let attempted: Vec<_> = deliveries.iter().filter(|d| d.attempts > 0).collect();
    assert!(attempted
        .iter()
        .all(|d| d.state == DeliveryState::Succeeded));
    let attempted_ids: HashSet<String> = attempted.iter().map(|d| d.id.to_string()).collect();
    assert!(
        in_flight.is_subset(&attempted_ids),
        "every attempt in flight was recorded"
    );
    let waiting = deliveries.len() - attempted.len();

    // A restarted node takes the rest over at once, not after a lease expires.
    world.received.delay_ms.store(0, Ordering::Relaxed);
    world.sim.set_faults(Default::default()).unwrap();
    let restarted = Instant::now();
    world.cluster.restart(0).await;
    while !world
        .deliveries(Some(DeliveryState::Pending))
        .await
        .is_empty()
    {
        assert!(
            restarted.elapsed() < Duration::from_secs(5),
            "the restarted node did not pick the waiting deliveries up at once"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let received = world.received.ids.lock().unwrap().len();
    assert_eq!(received, deliveries.len());
    eprintln!(
        "sigterm: {} attempts and 1 request in flight finished; exited 0 in {:.1} s; \
         {waiting} waiting deliveries taken over {:.2} s after the restart",
        in_flight.len(),
        stopped_in.as_secs_f64(),
        restarted.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------
// Benchmark: Ashby `assessment.start`s per second at a fixed concurrency.

/// Concurrent starts in flight, and for how long the load runs.
const BENCH_CONCURRENCY: usize = 64;
const BENCH_SECONDS: u64 = 10;

/// Send starts through the balancer for `BENCH_SECONDS` and report the rate
/// and latencies. Every start is a new application, so each creates an order
/// (and queues its `order.created` webhook, which the nodes deliver meanwhile).
async fn measure_starts(label: &str, nodes: usize, database_url: &str) -> String {
    let world = World::new(nodes, database_url).await;
    let url = format!("{}/ats/ashby/assessment.start", world.cluster.url());
    let token = world.token.clone();
    let type_id = world.type_id.clone();
    let next = AtomicUsize::new(0);
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(BENCH_SECONDS);
    let began = Instant::now();
    let clients = (0..BENCH_CONCURRENCY).map(|_| async {
        let mut latencies = Vec::new();
        let mut failures = 0usize;
        while Instant::now() < deadline {
            let n = next.fetch_add(1, Ordering::Relaxed);
            let body = json!({
                "assessment_type_id": type_id,
                "candidate": {"ashby_id": format!("cand-{n}"), "first_name": "Ana", "last_name": "Lee", "email": format!("c{n}@example.com"), "ashby_profile_url": format!("https://app.ashbyhq.com/candidates/cand-{n}")},
                "application": {"ashby_id": format!("app-{n}"), "status": "Active"},
                "job": {"ashby_id": "job-1", "name": "Backend Engineer", "ashby_job_url": "https://app.ashbyhq.com/jobs/job-1", "hiringTeam": []},
            });
            let sent = Instant::now();
            let ok = http
                .post(&url)
                .basic_auth(&token, Some(""))
                .json(&body)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ok {
                latencies.push(sent.elapsed());
            } else {
                failures += 1;
            }
        }
        (latencies, failures)
    });
    let results = futures::future::join_all(clients).await;
    let elapsed = began.elapsed().as_secs_f64();
    let failures: usize = results.iter().map(|(_, f)| f).sum();
    let mut latencies: Vec<Duration> = results.into_iter().flat_map(|(l, _)| l).collect();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let orders = world.all_orders().await.len();
    assert_eq!(orders, latencies.len(), "one order per accepted start");
    format!(
        "| {label} | {nodes} | {BENCH_CONCURRENCY} | {} | {:.0} | {:.1} | {:.1} | {failures} |",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        pct(0.5).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
    )
}

/// `cargo test --release --workspace --test multinode bench_start_throughput -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark; see BENCHMARKS.md"]
async fn bench_start_throughput() {
    let mut rows = vec![
        "| database | processes | concurrency | starts | starts/s | p50 ms | p99 ms | failed |"
            .to_owned(),
        "|---|---|---|---|---|---|---|---|".to_owned(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("screenhub.db").display());
    rows.push(measure_starts("SQLite", 1, &sqlite).await);
    if std::env::var(screenhub_store::testing::POSTGRES_VAR).is_ok() {
        for nodes in [1, 3] {
            let db = postgres_database().await;
            rows.push(measure_starts("PostgreSQL", nodes, db.url()).await);
        }
    }
    println!("{}", rows.join("\n"));
}
