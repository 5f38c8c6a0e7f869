//! What the integration tests share: a real hub on port 0 with a fresh
//! database, the Ashby simulator, and a vendor webhook receiver that verifies
//! Standard Webhooks signatures.

pub mod browser;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use rand::rngs::StdRng;
use rand::SeedableRng;
use reqwest::Method;
use screenhub::app::system_clock;
use screenhub::sim::ashby::{dropped_connection, Fault, FaultCounters, Faults};
use screenhub::{Config, Hub, Roles};
use screenhub_store::{Cipher, MasterKey, Store};
use serde_json::{json, Value};

/// An HTTP client whose connections come from another loopback address
/// (`127.0.0.2`, …), as a different client would.
pub fn client_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<std::net::IpAddr>().expect("an IP address"))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client")
}

/// A hub serving on 127.0.0.1, port 0, with its own database.
pub struct TestHub {
    pub hub: Hub,
    pub http: reqwest::Client,
    /// A vendor API key.
    pub api_key: String,
    pub config: Config,
    master_key: MasterKey,
    _dir: Arc<tempfile::TempDir>,
    /// Declared after `hub`, so dropped after it: the database goes last.
    _database: Option<Arc<screenhub_store::testing::TestDatabase>>,
}

/// A log sink tests can read back (see [`captured_logs`]).
#[derive(Clone, Default)]
pub struct CapturedLogs {
    lines: Arc<Mutex<Vec<u8>>>,
    on: Arc<std::sync::atomic::AtomicBool>,
}

impl CapturedLogs {
    /// Start or stop keeping what the process logs.
    pub fn capture(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }

    /// What was kept so far, emptied.
    pub fn take(&self) -> String {
        String::from_utf8(std::mem::take(&mut *self.lines.lock().unwrap())).unwrap()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lines.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The test process's one log subscriber: every line at debug level, as JSON
/// (as `screenhub serve` writes with `log_format = "json"`), kept while
/// capturing is on; and, when RUST_LOG is set, readable lines on stderr. One
/// subscriber for both, so a test that reads the logs never finds the
/// process's logging already taken.
pub fn captured_logs() -> &'static CapturedLogs {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;
    static LOGS: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs::default();
        let (sink, on) = (logs.clone(), logs.on.clone());
        let capture = tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(move || sink.clone())
            .with_filter(tracing_subscriber::filter::filter_fn(move |meta| {
                on.load(Ordering::Relaxed) && *meta.level() <= tracing::Level::DEBUG
            }));
        let readable = std::env::var_os("RUST_LOG").is_some().then(|| {
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(tracing_subscriber::EnvFilter::from_default_env())
        });
        let subscriber = tracing_subscriber::registry().with(capture).with(readable);
        tracing::subscriber::set_global_default(subscriber)
            .expect("the test process's logging is set up once, here");
        // Crates that log through `log` (reqwest, …) reach it too.
        let _ = tracing_log::LogTracer::init();
        logs
    })
}

/// Which database the integration suite runs on: SQLite, or PostgreSQL when
/// SCREENHUB_TEST_BACKEND=postgres and SCREENHUB_TEST_DATABASE_URL are set
/// (then the database is the test's own, dropped when the hub is).
async fn database(
    dir: &std::path::Path,
) -> (String, Option<screenhub_store::testing::TestDatabase>) {
    if on_postgres() {
        let base = screenhub_store::testing::postgres_base_url();
        let db = screenhub_store::testing::fresh_postgres_database(&base)
            .await
            .expect("a fresh PostgreSQL database");
        return (db.url().to_owned(), Some(db));
    }
    (
        format!("sqlite://{}", dir.join("screenhub.db").display()),
        None,
    )
}

/// Whether this run is the PostgreSQL pass (SCREENHUB_TEST_BACKEND=postgres).
pub fn on_postgres() -> bool {
    std::env::var("SCREENHUB_TEST_BACKEND").as_deref() == Ok("postgres")
}

pub fn test_config(dir: &std::path::Path) -> Config {
    let mut config = Config::defaults();
    config.data_dir = PathBuf::from(dir);
    config.outbound_allow = vec!["127.0.0.0/8".parse().unwrap()];
    config.retry_schedule_ms = vec![0, 50, 100, 200];
    config.outbound_timeout_ms = 2_000;
    config
}

impl TestHub {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Spawn with a configuration tweak (e.g. another retry schedule).
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Self {
        captured_logs();
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let mut config = test_config(dir.path());
        tweak(&mut config);
        let master_key = MasterKey::generate();
        let (database_url, database) = database(dir.path()).await;
        config.database_url = database_url;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hub = start(&config, &master_key, listener).await;
        let (_, api_key) = hub
            .state
            .store
            .create_api_key("tests", hub.state.now())
            .await
            .unwrap();
        Self {
            hub,
            http: reqwest::Client::new(),
            api_key,
            config,
            master_key,
            _dir: dir,
            _database: database.map(Arc::new),
        }
    }

    pub fn url(&self) -> String {
        self.hub.url()
    }

    pub fn partner_base_url(&self) -> String {
        self.hub.state.ats_partner_base_url()
    }

    pub fn store(&self) -> &Store {
        &self.hub.state.store
    }

    /// Sign in to the dashboard with the test API key, without a browser:
    /// a client that does not follow redirects, and the session cookie
    /// (`screenhub_session=…`) to send with each request.
    pub async fn dashboard_session(&self) -> (reqwest::Client, String) {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = client
            .post(format!("{}/dashboard/sign-in", self.url()))
            .form(&[("api_key", self.api_key.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "signed in");
        let cookie = res.headers()["set-cookie"].to_str().unwrap();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        (client, cookie)
    }

    /// Stop (gracefully) and start again on the same database and port.
    pub async fn restart(self) -> Self {
        let addr = self.hub.addr;
        self.hub.stop().await.unwrap();
        let listener = bind_again(addr).await;
        let hub = start(&self.config, &self.master_key, listener).await;
        Self { hub, ..self }
    }

    /// Stop without letting anything finish (as close to a crash as a test in
    /// one process gets), then start again on the same database and port.
    pub async fn crash_and_restart(self) -> Self {
        let addr = self.hub.addr;
        self.hub.abort().await;
        let listener = bind_again(addr).await;
        let hub = start(&self.config, &self.master_key, listener).await;
        // Connections kept alive to the old server die with it, as in a real crash.
        Self {
            hub,
            http: reqwest::Client::new(),
            ..self
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url()))
            .bearer_auth(&self.api_key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
        let text = res.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.request(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::PUT, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::PATCH, path, Some(body)).await
    }

    /// Call the partner API as Ashby does (Basic auth, token as username).
    pub async fn ats(&self, token: &str, method: &str, body: Value) -> (StatusCode, Value) {
        let res = self
            .http
            .post(format!("{}/{method}", self.partner_base_url()))
            .basic_auth(token, Some(""))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Wait until `check` holds, or fail after `secs` seconds.
    pub async fn eventually<F, Fut>(&self, what: &str, secs: u64, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while tokio::time::Instant::now() < deadline {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("timed out waiting for: {what}");
    }

    /// Poll a vendor API path until `check` accepts its JSON.
    pub async fn wait_for(&self, path: &str, secs: u64, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let (_, body) = self.get(path).await;
            if check(&body) {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting on {path}; last: {body:#}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn start(config: &Config, master_key: &MasterKey, listener: tokio::net::TcpListener) -> Hub {
    let store = Store::connect(&config.database_url, Cipher::new(master_key))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    Hub::start_with(
        config.clone(),
        listener,
        store,
        system_clock(),
        Roles::default(),
    )
    .await
    .unwrap()
}

async fn bind_again(addr: SocketAddr) -> tokio::net::TcpListener {
    for _ in 0..100 {
        if let Ok(l) = tokio::net::TcpListener::bind(addr).await {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("could not bind {addr} again");
}

/// One webhook as the receiver saw it.
#[derive(Debug, Clone)]
pub struct ReceivedWebhook {
    pub id: String,
    pub event_type: String,
    pub body: Value,
    pub verified: bool,
}

#[derive(Default)]
struct ReceiverState {
    received: Mutex<Vec<ReceivedWebhook>>,
    secret: Mutex<Option<String>>,
    fail_next: AtomicUsize,
    attempts: AtomicUsize,
    faults: Mutex<Option<ReceiverFaults>>,
}

/// Faults drawn for every webhook, as a flaky vendor endpoint misbehaves.
struct ReceiverFaults {
    faults: Faults,
    rng: StdRng,
    injected: FaultCounters,
}

/// The vendor's webhook endpoint: verifies every signature, can fail on demand.
#[derive(Clone)]
pub struct VendorReceiver {
    pub url: String,
    state: Arc<ReceiverState>,
}

impl VendorReceiver {
    pub async fn start() -> Self {
        let state = Arc::new(ReceiverState::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/webhooks", post(receive))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, state }
    }

    pub fn set_secret(&self, secret: &str) {
        *self.state.secret.lock().unwrap() = Some(secret.to_owned());
    }

    /// Misbehave like a flaky endpoint: 500s, hung requests, dropped
    /// connections and 429s with `Retry-After`, drawn from a seeded generator.
    pub fn set_faults(&self, faults: Faults, seed: u64) {
        *self.state.faults.lock().unwrap() = Some(ReceiverFaults {
            faults,
            rng: StdRng::seed_from_u64(seed),
            injected: FaultCounters::default(),
        });
    }

    /// The faults injected since they were set.
    pub fn faults_injected(&self) -> FaultCounters {
        self.state
            .faults
            .lock()
            .unwrap()
            .as_ref()
            .map(|f| f.injected.clone())
            .unwrap_or_default()
    }

    /// Answer 500 to the next `n` webhooks.
    pub fn fail_next(&self, n: usize) {
        self.state.fail_next.store(n, Ordering::SeqCst);
    }

    pub fn attempts(&self) -> usize {
        self.state.attempts.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<ReceivedWebhook> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn of_type(&self, event_type: &str) -> Vec<ReceivedWebhook> {
        self.received()
            .into_iter()
            .filter(|w| w.event_type == event_type)
            .collect()
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.attempts.fetch_add(1, Ordering::SeqCst);
    if state
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let fault = state.faults.lock().unwrap().as_mut().and_then(|f| {
        let fault = f.faults.draw(&mut f.rng);
        if let Some(fault) = &fault {
            f.injected.count(fault);
        }
        fault
    });
    match fault {
        None => accept(&state, &headers, &body).into_response(),
        Some(Fault::Hang(duration)) => {
            tokio::time::sleep(duration).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Some(Fault::Drop) => dropped_connection(),
        Some(Fault::RateLimit {
            retry_after_secs, ..
        }) => {
            let mut response = StatusCode::TOO_MANY_REQUESTS.into_response();
            if let Some(secs) = retry_after_secs {
                response
                    .headers_mut()
                    .insert("retry-after", secs.to_string().parse().unwrap());
            }
            response
        }
        Some(Fault::Error(_)) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Verify and keep a webhook.
fn accept(state: &ReceiverState, headers: &HeaderMap, body: &[u8]) -> StatusCode {
    let secret = state.secret.lock().unwrap().clone();
    let verified = match secret {
        Some(secret) => standardwebhooks::Webhook::new(&secret)
            .unwrap()
            .verify(body, headers)
            .is_ok(),
        None => false,
    };
    if !verified {
        return StatusCode::UNAUTHORIZED;
    }
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let webhook = ReceivedWebhook {
        id: headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        event_type: value["type"].as_str().unwrap_or_default().to_owned(),
        body: value,
        verified,
    };
    state.received.lock().unwrap().push(webhook);
    StatusCode::NO_CONTENT
}

/// A start request as Ashby sends it.
pub fn start_body(type_id: &str, application: &str, email: &str) -> Value {
    json!({
        "assessment_type_id": type_id,
        "candidate": {
            "ashby_id": format!("cand-{application}"),
            "first_name": "Zoë",
            "last_name": "Ñúñez",
            "email": email,
            "ashby_profile_url": format!("https://app.ashbyhq.com/candidates/cand-{application}")
        },
        "application": { "ashby_id": application, "status": "Active" },
        "job": {
            "ashby_id": "job-1",
            "name": "Backend Engineer",
            "req_id": "REQ-42",
            "ashby_job_url": "https://app.ashbyhq.com/jobs/job-1",
            "hiringTeam": [{ "userId": "u1", "firstName": "Ana", "lastName": "Lee", "email": "ana@acme.test", "role": "Recruiter" }]
        },
        "additional_fields": { "cf-1": "night shift" },
        "something_new": { "kept": true }
    })
}

/// The Ashby simulator on port 0.
pub struct Ashby {
    pub sim: screenhub::sim::ashby::AshbySim,
    pub url: String,
}

impl Ashby {
    pub async fn start() -> Self {
        let sim = screenhub::sim::ashby::AshbySim::with_seed(Default::default(), 7);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(screenhub::sim::ashby::serve(listener, sim.clone()));
        Self { sim, url }
    }

    /// A new Ashby API key with the permissions the hub needs.
    pub fn key(&self) -> String {
        self.sim.create_key(None, None).key
    }

    /// A new Ashby API key with just these permissions.
    pub fn key_with(&self, permissions: &[&str]) -> String {
        let permissions = permissions.iter().map(|p| (*p).to_owned()).collect();
        self.sim.create_key(None, Some(permissions)).key
    }
}

/// A hub with one connected account (Ashby key verified against the sim), one
/// package, a verified webhook receiver, and the sim pointed at the hub.
pub struct World {
    pub hub: TestHub,
    pub ashby: Ashby,
    pub receiver: VendorReceiver,
    pub account_id: String,
    pub token: String,
    pub ashby_key: String,
    pub type_id: String,
}

impl World {
    pub async fn new() -> Self {
        Self::with_hub(TestHub::spawn().await).await
    }

    pub async fn with_hub(hub: TestHub) -> Self {
        let ashby = Ashby::start().await;
        let receiver = VendorReceiver::start().await;
        let (status, account) = hub
            .post(
                "/v1/accounts",
                json!({"name": "Acme", "ats": "ashby", "ats_api_base_url": ashby.url}),
            )
            .await;
        assert_eq!(status, 201, "{account}");
        let account_id = account["id"].as_str().unwrap().to_owned();
        let token = account["external_trigger_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let ashby_key = ashby.key();
        let (status, body) = hub
            .put(
                &format!("/v1/accounts/{account_id}/ats-credentials"),
                json!({"api_key": ashby_key}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (status, packages) = hub
            .put("/v1/packages", json!([
                {"id": "basic", "kind": "background_check", "name": "Basic background check", "description": "Identity and criminal records", "screenings": ["Identity", "Criminal"]},
                {"id": "coding", "kind": "assessment", "name": "Coding assessment"}
            ]))
            .await;
        assert_eq!(status, 200, "{packages}");
        let type_id = packages["data"][0]["ats_type_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (status, endpoint) = hub
            .post("/v1/webhook-endpoints", json!({"url": receiver.url}))
            .await;
        assert_eq!(status, 201, "{endpoint}");
        receiver.set_secret(endpoint["secret"].as_str().unwrap());
        ashby
            .sim
            .set_partner(&hub.partner_base_url(), &token)
            .unwrap();
        Self {
            hub,
            ashby,
            receiver,
            account_id,
            token,
            ashby_key,
            type_id,
        }
    }

    /// A second employer on the same hub and the same Ashby, connected with a
    /// good key: its account id and External Trigger Token.
    pub async fn another_account(&self, name: &str) -> (String, String) {
        let (_, account) = self
            .hub
            .post(
                "/v1/accounts",
                json!({"name": name, "ats": "ashby", "ats_api_base_url": self.ashby.url}),
            )
            .await;
        let id = account["id"].as_str().unwrap().to_owned();
        let (status, body) = self
            .hub
            .put(
                &format!("/v1/accounts/{id}/ats-credentials"),
                json!({"api_key": self.ashby.key()}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let token = account["external_trigger_token"].as_str().unwrap();
        (id, token.to_owned())
    }

    /// Start an assessment through the sim, as a recruiter would; returns its id.
    pub async fn start(&self, email: &str) -> String {
        let outcome = self
            .ashby
            .sim
            .start_assessment(screenhub::sim::ashby::StartOptions {
                assessment_type_id: Some(self.type_id.clone()),
                candidate: Some(json!({"email": email})),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(outcome.call.status, 200, "{:?}", outcome.call);
        outcome.assessment_id.expect("an assessment id")
    }

    /// Wait until the sim's view of an assessment satisfies `check`.
    pub async fn sim_eventually(
        &self,
        id: &str,
        what: &str,
        check: impl Fn(&screenhub::sim::ashby::SimAssessment) -> bool,
    ) -> screenhub::sim::ashby::SimAssessment {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(a) = self.ashby.sim.assessment(id) {
                if check(&a) {
                    return a;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "timed out waiting for {what}; sim has {a:#?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
