//! What the simulated Greenhouse remembers: the partner it calls, organisations
//! with their key, job and candidates, every test sent, and a record of every
//! call, `response_error` and inbound PATCH. All in memory.

use std::time::Instant;

use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::faults::Faults;
use super::wire::{ListedTest, StatusAnswer};

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;
/// Greenhouse stops reading an interview 8 weeks after sending it.
pub const READ_WINDOW_MS: i64 = 56 * DAY_MS;
/// `resume_url` stops working 7 days after `send_test`.
pub const RESUME_LIFETIME_MS: i64 = 7 * DAY_MS;
/// Records kept per log (calls, `response_error`s, PATCHes); older ones are forgotten.
pub const MAX_LOG: usize = 50_000;
/// Caps that keep a long-running sandbox bounded.
pub const MAX_ORGS: usize = 1_000;
pub const MAX_CANDIDATES: usize = 100_000;
pub const MAX_INTERVIEWS: usize = 100_000;

/// Append to a log, forgetting the oldest tenth once it is full.
pub fn push_bounded<T>(log: &mut Vec<T>, item: T) {
    if log.len() >= MAX_LOG {
        log.drain(..MAX_LOG / 10);
    }
    log.push(item);
}

/// How Greenhouse learns that a test is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The current contract: the partner PATCHes, Greenhouse reads at once.
    #[default]
    Patch,
    /// Legacy: Greenhouse reads `test_status` every hour.
    Poll,
}

/// The partner integration as Greenhouse's Partnerships team configured it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartnerSettings {
    /// e.g. `https://hub.example/ats/greenhouse`; the four endpoints hang off it.
    pub base_url: String,
    /// The credential the partner must use on the PATCH.
    pub patch_username: String,
    #[serde(skip_serializing)]
    pub patch_password: String,
    pub mode: Mode,
    /// Keep hourly polling on in `patch` mode too (open point 2 of the notes).
    pub poll_in_patch_mode: bool,
    /// A loopback or private report link is a violation (Greenhouse shows nothing).
    pub strict_report_urls: bool,
    /// Where `send_test` carries the July 2026 ids; `None` leaves one out.
    pub candidate_id_field: Option<String>,
    pub application_id_field: Option<String>,
    /// The PATCH reply for a hired or rejected candidate (open point 3).
    pub hired_patch_status: u16,
}

impl PartnerSettings {
    pub fn new(base_url: String, patch_username: String, patch_password: String) -> Self {
        Self {
            base_url,
            patch_username,
            patch_password,
            mode: Mode::Patch,
            poll_in_patch_mode: false,
            strict_report_urls: false,
            candidate_id_field: Some("candidate.id".into()),
            application_id_field: Some("application.id".into()),
            hired_patch_status: 200,
        }
    }

    pub fn polls(&self) -> bool {
        self.mode == Mode::Poll || self.poll_in_patch_mode
    }
}

/// The job's partner stage and the test picked for it (from `list_tests`).
#[derive(Debug, Clone, Serialize)]
pub struct PartnerStage {
    pub partner_test_id: String,
    pub partner_test_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Org {
    pub id: String,
    pub name: String,
    /// The partner key Greenhouse sends as the Basic username. Never echoed.
    #[serde(skip_serializing)]
    pub key: String,
    pub job_name: String,
    pub stage: Option<PartnerStage>,
    /// The last valid `list_tests` answer.
    pub tests: Vec<ListedTest>,
    pub recruiter_email: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateStatus {
    Active,
    Hired,
    Rejected,
}

#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub id: u64,
    pub application_id: u64,
    pub org_id: String,
    pub first_name: String,
    pub last_name: String,
    pub preferred_name: Option<String>,
    pub email: String,
    pub phone_number: Option<String>,
    pub has_resume: bool,
    pub status: CandidateStatus,
}

impl Candidate {
    pub fn name(&self) -> String {
        format!(
            "{} {}",
            self.preferred_name.as_deref().unwrap_or(&self.first_name),
            self.last_name
        )
    }
}

/// Why Greenhouse reads an interview no more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Complete,
    Hired,
    Rejected,
    /// 8 weeks after sending.
    Expired,
}

/// One Send Test click and everything that followed: Greenhouse's
/// "take-home test", whose id is the last segment of the PATCH `url`.
#[derive(Debug, Clone, Serialize)]
pub struct Interview {
    pub take_home_test_id: u64,
    pub url: String,
    pub org_id: String,
    pub candidate_id: u64,
    pub partner_test_id: String,
    pub partner_test_name: String,
    pub candidate_email: String,
    /// The `send_test` body, as sent (every click of it sends the same).
    pub request: Value,
    pub sent_at_ms: i64,
    /// How many times the body was sent (more than one after a lost reply).
    pub sends: u32,
    pub partner_interview_id: Option<String>,
    /// Why the send failed, as the recruiter is told.
    pub send_error: Option<String>,
    /// The last valid `test_status` answer.
    pub status: Option<StatusAnswer>,
    /// The first valid `complete`: what the stage shows from then on.
    pub frozen: Option<StatusAnswer>,
    pub completed_at_ms: Option<i64>,
    pub reads: u32,
    pub last_read_ms: Option<i64>,
    pub next_poll_ms: i64,
    pub stopped: Option<StopReason>,
    /// Conformance findings that are not `response_error`s.
    pub warnings: Vec<String>,
}

impl Interview {
    /// Still read by Greenhouse (by a PATCH or a poll).
    pub fn is_open(&self) -> bool {
        self.partner_interview_id.is_some() && self.stopped.is_none()
    }
}

/// One call Greenhouse made to the partner and the verdict on its answer.
#[derive(Debug, Clone, Serialize)]
pub struct CallRecord {
    pub at_ms: i64,
    pub org_id: String,
    pub api_call: String,
    pub method: String,
    pub url: String,
    pub request: Option<Value>,
    /// `None` when no answer arrived (network error, timeout).
    pub status: Option<u16>,
    /// The answer as JSON, or as a string when it was not JSON.
    pub body: Value,
    pub duration_ms: u64,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// What went wrong on the way: a simulated fault or a network error.
    pub transport: Option<String>,
    pub take_home_test_id: Option<u64>,
    /// A tenancy probe (`/_sim/probe/test_status`), not a call Greenhouse makes.
    pub probe: bool,
}

/// One `response_error` Greenhouse posted to the partner.
#[derive(Debug, Clone, Serialize)]
pub struct PostedError {
    pub at_ms: i64,
    pub org_id: String,
    pub body: Value,
    /// The partner's answer; `None` when it could not be reached.
    pub status: Option<u16>,
    /// Set when the partner did not answer 200.
    pub problem: Option<String>,
}

/// Who a PATCH authenticated as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PatchCredential {
    Partner,
    /// An organisation's key: the mistake of grnhse/greenhouse-api-docs#355.
    OrgKey,
    Wrong,
    Missing,
}

/// One request on `/integrations/testing_partners/take_home_tests/{id}`.
#[derive(Debug, Clone, Serialize)]
pub struct PatchRecord {
    pub at_ms: i64,
    pub method: String,
    pub take_home_test_id: String,
    pub credential: PatchCredential,
    pub status: u16,
    /// A simulated fault answered it.
    pub fault: Option<String>,
    /// Greenhouse read `test_status` after it.
    pub read_after: bool,
}

/// A clock that runs `speed` times real time from `base_ms`, plus whatever was
/// added by hand: one simulated hour can pass in a real second.
#[derive(Debug, Clone)]
pub struct SimClock {
    base_ms: i64,
    started: Instant,
    speed: f64,
    advanced_ms: i64,
}

impl SimClock {
    pub fn new(base_ms: i64, speed: f64) -> Self {
        Self {
            base_ms,
            started: Instant::now(),
            speed,
            advanced_ms: 0,
        }
    }

    pub fn now_ms(&self) -> i64 {
        let real = self.started.elapsed().as_millis() as f64;
        self.base_ms + (real * self.speed) as i64 + self.advanced_ms
    }

    pub fn advance(&mut self, ms: i64) {
        self.advanced_ms += ms.max(0);
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }
}

pub struct State {
    pub partner: Option<PartnerSettings>,
    pub orgs: Vec<Org>,
    pub candidates: Vec<Candidate>,
    pub interviews: Vec<Interview>,
    pub calls: Vec<CallRecord>,
    pub response_errors: Vec<PostedError>,
    pub patches: Vec<PatchRecord>,
    pub faults: Faults,
    pub clock: SimClock,
    pub next_candidate_id: u64,
    pub next_application_id: u64,
    pub next_take_home_test_id: u64,
    pub rng: StdRng,
}

impl State {
    pub fn new(rng: StdRng, clock: SimClock) -> Self {
        Self {
            partner: None,
            orgs: Vec::new(),
            candidates: Vec::new(),
            interviews: Vec::new(),
            calls: Vec::new(),
            response_errors: Vec::new(),
            patches: Vec::new(),
            faults: Faults::default(),
            clock,
            next_candidate_id: 17_681_532,
            next_application_id: 26_234_709,
            next_take_home_test_id: 998_877,
            rng,
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn org(&self, id: &str) -> Option<&Org> {
        self.orgs.iter().find(|o| o.id == id)
    }

    pub fn org_mut(&mut self, id: &str) -> Option<&mut Org> {
        self.orgs.iter_mut().find(|o| o.id == id)
    }

    pub fn candidate(&self, id: u64) -> Option<&Candidate> {
        self.candidates.iter().find(|c| c.id == id)
    }

    pub fn interview(&self, take_home_test_id: u64) -> Option<&Interview> {
        self.interviews
            .iter()
            .find(|i| i.take_home_test_id == take_home_test_id)
    }

    pub fn interview_mut(&mut self, take_home_test_id: u64) -> Option<&mut Interview> {
        self.interviews
            .iter_mut()
            .find(|i| i.take_home_test_id == take_home_test_id)
    }

    /// Interviews due for an hourly read, moved to their next hour so that two
    /// pollers never read one twice.
    pub fn take_due_polls(&mut self) -> Vec<u64> {
        let now = self.now_ms();
        if !self.partner.as_ref().is_some_and(PartnerSettings::polls) {
            return Vec::new();
        }
        let mut due = Vec::new();
        for i in &mut self.interviews {
            if !i.is_open() {
                continue;
            }
            if now > i.sent_at_ms + READ_WINDOW_MS {
                i.stopped = Some(StopReason::Expired);
                continue;
            }
            if i.next_poll_ms <= now {
                while i.next_poll_ms <= now {
                    i.next_poll_ms += HOUR_MS;
                }
                due.push(i.take_home_test_id);
            }
        }
        due
    }
}
