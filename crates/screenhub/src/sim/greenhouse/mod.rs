//! A local Greenhouse that plays the Assessment Partner API towards a partner
//! (the hub's `/ats/greenhouse`), exactly as strict as the protocol notes say
//! Greenhouse is (`shared/greenhouse/PARTNER_API.md`, "What our simulator must
//! enforce"): it calls `list_tests`, `send_test` and `test_status` with
//! `Basic base64("<org key>:")`, checks every answer and posts a
//! `response_error` for each invalid one; it serves the PATCH "Mark Test as
//! Completed" endpoint with the partner-level credential and reads
//! `test_status` straight after; it polls hourly on a simulated clock that can
//! run faster than real time; and it freezes a result once `complete` is read.
//!
//! Self-contained on purpose: its wire types and checks (`wire`) are written
//! from the notes, not shared with the hub, and proved against the fixed
//! examples in `crates/screenhub/tests/examples/greenhouse/` ([`EXAMPLES_DIR`]).
//!
//! # Control API (JSON, for tests and scripts)
//!
//! Errors are `{"error": {"code", "message"}}`. Ids: organisations `org-1`…,
//! candidates and take-home tests are integers, as in Greenhouse. Each log
//! keeps its last 50 000 records.
//!
//! | route | does |
//! |---|---|
//! | `GET /_sim/partner`, `PUT /_sim/partner` | the partner: `base_url`, `patch_username`, `patch_password`, `mode` (`patch`/`poll`), `poll_in_patch_mode`, `strict_report_urls`, `candidate_id_field`, `application_id_field` (dotted paths or `null`), `hired_patch_status` |
//! | `GET /_sim/orgs`, `POST /_sim/orgs` | organisations; create with `{"name", "key", "job_name"?}` (a key of 171+ characters is refused) |
//! | `POST /_sim/orgs/{org}/list_tests` | call `list_tests` now, as when a stage is edited |
//! | `PUT /_sim/orgs/{org}/stage` | add the partner stage to the job with `{"partner_test_id"}` (checked against `list_tests`) |
//! | `GET /_sim/orgs/{org}/candidates`, `POST /_sim/orgs/{org}/candidates` | candidates in the partner stage; any of `first_name`, `last_name`, `preferred_name`, `email`, `phone_number`, `resume` (bool), the rest made up |
//! | `POST /_sim/candidates/{id}/send_test` | click *Send Test* (`{"sent_by"?}`); answers the take-home test |
//! | `POST /_sim/orgs/{org}/send_test` | bulk *Send Test*: `{"candidate_ids": [...]}` |
//! | `POST /_sim/candidates/{id}/hire`, `…/reject` | the candidate leaves the active pipeline |
//! | `GET /_sim/interviews`, `GET /_sim/interviews/{id}` | take-home tests sent: the request, every answer's effect, warnings, and `stage_view` (what the recruiter sees: label, sent time, score, metadata rows, report link) |
//! | `POST /_sim/interviews/{id}/read` | read `test_status` now; `{"force": true}` re-reads a frozen one (a changed answer is a warning) |
//! | `POST /_sim/poll` | read every open interview now (`{"due_only": true}`: only those due on the clock) |
//! | `GET /_sim/clock`, `POST /_sim/clock/advance` | the simulated clock; advance with `{"ms"|"hours"|"days"}`, then run due polls |
//! | `POST /_sim/probe/test_status` | `{"org", "partner_interview_id"}`: ask with one org's key for any id (another org's must be 404) |
//! | `GET /_sim/faults`, `POST /_sim/faults` | see [`Faults`] |
//! | `GET /_sim/calls` | every call to the partner, its answer and verdict |
//! | `GET /_sim/response_errors` | every `response_error` posted, body as sent |
//! | `GET /_sim/patches` | every request on the PATCH endpoint: credential seen, status answered |
//! | `GET /_sim/conformance` | the outcome: every interview frozen `complete` with a report URL that opens, no `response_error`, no PATCH with a wrong credential |
//!
//! Greenhouse's own endpoint: `PATCH /integrations/testing_partners/take_home_tests/{id}`.
//! The recruiter's pages: `/` (organisations), `/orgs/{org}` (the job, its
//! partner stage, candidates, *Send Test*), `/people/{id}` (the candidate's
//! test, as `greenhouse_profile_url` links to it).

pub mod cli;
mod conformance;
mod control;
mod faults;
mod partner;
mod patch;
mod state;
#[cfg(test)]
mod tests;
mod web;
pub mod wire;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use conformance::Conformance;
pub use faults::{Faults, LostReply};
pub use partner::{SendOptions, SimError};
pub use state::{
    CallRecord, Candidate, CandidateStatus, Interview, Mode, Org, PartnerSettings, PatchCredential,
    PatchRecord, PostedError, StopReason, DAY_MS, HOUR_MS,
};

use state::{SimClock, State};

/// The fixed examples the simulator is checked against; the hub's tests can
/// read them too.
pub const EXAMPLES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/examples/greenhouse");

/// Where a take-home test's PATCH URL lives on the sim.
pub const TAKE_HOME_TESTS_PATH: &str = "/integrations/testing_partners/take_home_tests";

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where the partner and browsers reach the sim; by default `http://<listen address>`.
    pub public_url: Option<String>,
    /// The partner, when known at start.
    pub partner: Option<PartnerSettings>,
    /// Simulated milliseconds per real millisecond (3600: an hour a second; 0: only by hand).
    pub clock_speed: f64,
    /// How often the background poller looks for due reads (real time).
    pub poll_tick: Duration,
    /// Greenhouse's timeout on the partner's answers.
    pub call_timeout: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            partner: None,
            clock_speed: 1.0,
            poll_tick: Duration::from_millis(500),
            call_timeout: Duration::from_secs(30),
        }
    }
}

/// The simulated Greenhouse. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct GreenhouseSim {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    http: reqwest::Client,
    public_url: Mutex<String>,
    poll_tick: Duration,
}

/// What a new organisation needs.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrg {
    pub name: String,
    pub key: String,
    pub job_name: Option<String>,
}

/// A new candidate; anything left out is made up.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCandidate {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub preferred_name: Option<String>,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    /// Whether the candidate has a résumé (default true).
    pub resume: Option<bool>,
}

const FIRST_NAMES: [&str; 10] = [
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Radia",
];
const LAST_NAMES: [&str; 10] = [
    "Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
    "Perlman",
];

impl GreenhouseSim {
    pub fn new(config: SimConfig) -> Self {
        Self::build(config, StdRng::from_entropy())
    }

    /// A sim whose faults and made-up data are the same on every run.
    pub fn with_seed(config: SimConfig, seed: u64) -> Self {
        Self::build(config, StdRng::seed_from_u64(seed))
    }

    fn build(config: SimConfig, rng: StdRng) -> Self {
        let http = reqwest::Client::builder()
            .timeout(config.call_timeout)
            .build()
            .unwrap_or_default();
        let clock = SimClock::new(now_ms(), config.clock_speed);
        let mut state = State::new(rng, clock);
        state.partner = config.partner;
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                http,
                public_url: Mutex::new(config.public_url.unwrap_or_default()),
                poll_tick: config.poll_tick,
            }),
        }
    }

    /// The state, even if a panicking thread poisoned the lock: every update
    /// to it is a single assignment or push, so it is never left half-written.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub fn public_url(&self) -> String {
        self.inner
            .public_url
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_public_url_if_unset(&self, url: String) {
        let mut public = self
            .inner
            .public_url
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if public.is_empty() {
            *public = url;
        }
    }

    /// The simulated time, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        self.state().now_ms()
    }

    /// Point the sim at a partner. Answers warnings a person should see (a
    /// partner URL that is not https).
    pub fn set_partner(&self, settings: PartnerSettings) -> Result<Vec<String>, String> {
        let url = screenhub_core::order::validate_http_url(&settings.base_url)
            .map_err(|e| format!("base_url {e}"))?;
        if settings.patch_username.trim().is_empty() {
            return Err(
                "patch_username must not be empty: the partner authenticates its PATCH with it"
                    .into(),
            );
        }
        for path in [&settings.candidate_id_field, &settings.application_id_field]
            .into_iter()
            .flatten()
        {
            wire::validate_id_path(path)?;
        }
        if !(200..=599).contains(&settings.hired_patch_status) {
            return Err("hired_patch_status must be an HTTP status (200-599)".into());
        }
        let mut warnings = Vec::new();
        let local = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if url.scheme() != "https" && !local {
            warnings.push(format!(
                "Greenhouse requires https for partner endpoints; {} is plain http",
                settings.base_url
            ));
        }
        self.state().partner = Some(settings);
        Ok(warnings)
    }

    pub fn partner(&self) -> Option<PartnerSettings> {
        self.state().partner.clone()
    }

    /// A new organisation with its partner key (what the employer pasted into
    /// Greenhouse's SendSafely link).
    pub fn create_org(&self, new: NewOrg) -> Result<Org, String> {
        let name = new.name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err("name must be 1 to 200 characters".into());
        }
        if new.key.trim().is_empty() {
            return Err("key must not be empty".into());
        }
        let chars = new.key.chars().count();
        if chars > wire::MAX_KEY_CHARS {
            return Err(format!(
                "key is {chars} characters; Greenhouse requires an API key of fewer than 171 characters"
            ));
        }
        let mut state = self.state();
        if state.orgs.len() >= state::MAX_ORGS {
            return Err(format!(
                "this sandbox holds {} organisations already",
                state::MAX_ORGS
            ));
        }
        if state.orgs.iter().any(|o| o.key == new.key) {
            return Err("another organisation already has this key".into());
        }
        let n = state.orgs.len() + 1;
        let slug: String = name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(20)
            .collect::<String>()
            .to_ascii_lowercase();
        let org = Org {
            id: format!("org-{n}"),
            name: name.to_owned(),
            key: new.key,
            job_name: new
                .job_name
                .filter(|j| !j.trim().is_empty())
                .unwrap_or_else(|| "Senior Software Engineer".into()),
            stage: None,
            tests: Vec::new(),
            recruiter_email: format!(
                "recruiter@{}.example",
                if slug.is_empty() { "org" } else { &slug }
            ),
        };
        state.orgs.push(org.clone());
        Ok(org)
    }

    pub fn orgs(&self) -> Vec<Org> {
        self.state().orgs.clone()
    }

    /// Put a candidate into the org's job, at the partner stage.
    pub fn add_candidate(&self, org_id: &str, new: NewCandidate) -> Result<Candidate, SimError> {
        let mut state = self.state();
        let state = &mut *state;
        if state.org(org_id).is_none() {
            return Err(SimError::UnknownOrg(org_id.to_owned()));
        }
        if state.candidates.len() >= state::MAX_CANDIDATES {
            return Err(SimError::InvalidRequest(format!(
                "this sandbox holds {} candidates already",
                state::MAX_CANDIDATES
            )));
        }
        let first_name = new
            .first_name
            .unwrap_or_else(|| FIRST_NAMES[state.rng.gen_range(0..FIRST_NAMES.len())].into());
        let last_name = new
            .last_name
            .unwrap_or_else(|| LAST_NAMES[state.rng.gen_range(0..LAST_NAMES.len())].into());
        if first_name.trim().is_empty() || last_name.trim().is_empty() {
            return Err(SimError::InvalidRequest(
                "first_name and last_name must not be empty".into(),
            ));
        }
        let id = state.next_candidate_id;
        state.next_candidate_id += 1;
        let application_id = state.next_application_id;
        state.next_application_id += 1;
        let email = new.email.unwrap_or_else(|| {
            format!(
                "{}.{}.{id}@example.com",
                first_name.to_ascii_lowercase(),
                last_name.to_ascii_lowercase()
            )
        });
        let candidate = Candidate {
            id,
            application_id,
            org_id: org_id.to_owned(),
            first_name,
            last_name,
            preferred_name: new.preferred_name.filter(|p| !p.is_empty()),
            email,
            phone_number: new.phone_number.filter(|p| !p.is_empty()),
            has_resume: new.resume.unwrap_or(true),
            status: CandidateStatus::Active,
        };
        state.candidates.push(candidate.clone());
        Ok(candidate)
    }

    pub fn candidates(&self, org_id: &str) -> Vec<Candidate> {
        self.state()
            .candidates
            .iter()
            .filter(|c| c.org_id == org_id)
            .cloned()
            .collect()
    }

    /// Hire or reject: Greenhouse stops reading the candidate's tests.
    pub fn set_candidate_status(
        &self,
        candidate_id: u64,
        status: CandidateStatus,
    ) -> Result<Candidate, SimError> {
        let mut state = self.state();
        let candidate = state
            .candidates
            .iter_mut()
            .find(|c| c.id == candidate_id)
            .ok_or(SimError::UnknownCandidate(candidate_id))?;
        candidate.status = status;
        let candidate = candidate.clone();
        let reason = match status {
            CandidateStatus::Active => None,
            CandidateStatus::Hired => Some(StopReason::Hired),
            CandidateStatus::Rejected => Some(StopReason::Rejected),
        };
        for i in state
            .interviews
            .iter_mut()
            .filter(|i| i.candidate_id == candidate_id && i.stopped.is_none())
        {
            i.stopped = reason;
        }
        Ok(candidate)
    }

    pub fn interviews(&self) -> Vec<Interview> {
        self.state().interviews.clone()
    }

    pub fn interview(&self, take_home_test_id: u64) -> Option<Interview> {
        self.state().interview(take_home_test_id).cloned()
    }

    pub fn calls(&self) -> Vec<CallRecord> {
        self.state().calls.clone()
    }

    pub fn response_errors(&self) -> Vec<PostedError> {
        self.state().response_errors.clone()
    }

    pub fn patches(&self) -> Vec<PatchRecord> {
        self.state().patches.clone()
    }

    /// Replace the fault settings (and reseed when `seed` is given).
    pub fn set_faults(&self, faults: Faults) -> Result<(), String> {
        faults.validate()?;
        let mut state = self.state();
        if let Some(seed) = faults.seed {
            state.rng = StdRng::seed_from_u64(seed);
        }
        state.faults = Faults {
            seed: None,
            ..faults
        };
        Ok(())
    }

    pub fn faults(&self) -> Faults {
        self.state().faults.clone()
    }

    /// Move the simulated clock forward, then read whatever became due.
    pub async fn advance_clock(&self, ms: i64) -> Vec<CallRecord> {
        self.state().clock.advance(ms);
        self.poll(true).await
    }
}

pub(crate) fn now_ms() -> i64 {
    use screenhub_core::clock::Clock;
    screenhub_core::clock::SystemClock.now_ms()
}

/// The sim's HTTP surface: Greenhouse's PATCH endpoint, `/_sim` and the pages.
pub fn router(sim: GreenhouseSim) -> Router {
    patch::routes()
        .merge(control::routes())
        .merge(web::routes())
        .with_state(sim)
}

/// Serve the sim until the listener fails, with the hourly poller running.
pub async fn serve(listener: tokio::net::TcpListener, sim: GreenhouseSim) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        sim.set_public_url_if_unset(format!("http://{addr}"));
    }
    let poller = tokio::spawn(poll_forever(sim.clone()));
    let served = axum::serve(listener, router(sim)).await;
    poller.abort();
    served
}

async fn poll_forever(sim: GreenhouseSim) {
    let mut tick = tokio::time::interval(sim.inner.poll_tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        sim.poll(true).await;
    }
}
