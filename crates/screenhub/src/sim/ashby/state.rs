//! What the simulated Ashby remembers: API keys, the partner it drives, and every
//! assessment started through it with the updates it accepted.

use std::collections::HashMap;

use rand::rngs::StdRng;
use serde::Serialize;
use serde_json::Value;

use screenhub_ashby::partner::{AssessmentType, CustomField};
use screenhub_ashby::public::{
    AssessmentUpdate, DataValue, API_KEYS_READ, CANDIDATES_READ, CANDIDATES_WRITE, JOBS_READ,
};

use super::faults::{FaultCounters, Faults};

/// Permissions a key gets when none are asked for: what the hub's connect page
/// asks the admin to grant.
pub const DEFAULT_PERMISSIONS: [&str; 3] = [API_KEYS_READ, CANDIDATES_READ, CANDIDATES_WRITE];
/// The permissions a key can be given on the Integrations page: the ones the
/// endpoints the sim serves need.
pub const KNOWN_PERMISSIONS: [&str; 4] =
    [API_KEYS_READ, CANDIDATES_READ, CANDIDATES_WRITE, JOBS_READ];

#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyRecord {
    pub title: String,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    pub permissions: Vec<String>,
    pub revoked: bool,
}

impl ApiKeyRecord {
    pub fn has(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartnerConfig {
    pub base_url: String,
    pub key: String,
}

/// Where an update came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateSource {
    /// `POST /assessment.update` on the public API.
    Api,
    /// The `update_request` in the partner's answer to `assessment.start`.
    StartResponse,
    /// The `update_request` in the partner's answer to `assessment.cancel`.
    CancelResponse,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReceivedUpdate {
    pub received_at_ms: i64,
    pub source: UpdateSource,
    pub body: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct RejectedUpdate {
    pub received_at_ms: i64,
    pub source: UpdateSource,
    /// The id the body named, when it named one.
    pub assessment_id: Option<String>,
    pub message: String,
    pub body: Value,
}

/// Where an assessment stands, as Ashby would show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentState {
    /// Started by the recruiter; no update from the partner yet.
    AwaitingUpdate,
    /// The partner sent a status but no result.
    InProgress,
    Completed,
    Cancelled,
}

/// One assessment started through the sim, and everything the partner said about it.
#[derive(Debug, Clone, Serialize)]
pub struct SimAssessment {
    pub assessment_id: String,
    pub assessment_type_id: String,
    pub state: AssessmentState,
    /// The parts of the start request, as sent.
    pub candidate: Value,
    pub application: Value,
    pub job: Value,
    /// When the sim called `assessment.start` (sim clock).
    pub start_requested_at_ms: i64,
    /// The timestamp of the partner's "Started" status: what Ashby shows as "sent".
    pub started_at_ms: Option<i64>,
    pub status: Option<DataValue>,
    pub result: Option<DataValue>,
    pub profile_url: Option<DataValue>,
    /// Merged by identifier, in the order identifiers first appeared.
    pub metadata: Vec<DataValue>,
    pub cancelled_reason: Option<DataValue>,
    pub completed_at_ms: Option<i64>,
    pub cancelled_at_ms: Option<i64>,
    /// When the sim called `assessment.cancel`.
    pub cancel_requested_at_ms: Option<i64>,
    /// The timestamp of the last accepted update.
    pub last_timestamp: Option<i64>,
    /// Every accepted update, in the order received.
    pub updates: Vec<ReceivedUpdate>,
    /// Updates for this assessment that were refused, and why.
    pub rejected_updates: Vec<RejectedUpdate>,
    /// Exact repeats of the last accepted update (accepted, no effect).
    pub repeated_updates: u32,
}

impl SimAssessment {
    pub fn new(id: String, type_id: String, request: &Value, now_ms: i64) -> Self {
        Self {
            assessment_id: id,
            assessment_type_id: type_id,
            state: AssessmentState::AwaitingUpdate,
            candidate: request.get("candidate").cloned().unwrap_or(Value::Null),
            application: request.get("application").cloned().unwrap_or(Value::Null),
            job: request.get("job").cloned().unwrap_or(Value::Null),
            start_requested_at_ms: now_ms,
            started_at_ms: None,
            status: None,
            result: None,
            profile_url: None,
            metadata: Vec::new(),
            cancelled_reason: None,
            completed_at_ms: None,
            cancelled_at_ms: None,
            cancel_requested_at_ms: None,
            last_timestamp: None,
            updates: Vec::new(),
            rejected_updates: Vec::new(),
            repeated_updates: 0,
        }
    }

    /// Apply a validated update; refuse one that does not move time forward.
    fn apply(&mut self, update: AssessmentUpdate, received: ReceivedUpdate) -> Result<(), String> {
        // A sender that crashed after we accepted an update, before it recorded
        // that, sends the very same update again: accept it, change nothing.
        if self
            .updates
            .last()
            .is_some_and(|last| last.body == received.body)
        {
            self.repeated_updates += 1;
            return Ok(());
        }
        if let Some(last) = self.last_timestamp {
            if update.timestamp <= last {
                return Err(format!(
                    "timestamp {} is not after {last}, the timestamp of the last update accepted for assessment {}; \
                     timestamps must strictly increase",
                    update.timestamp, self.assessment_id
                ));
            }
        }
        let ts = update.timestamp;
        if let Some(status) = update.assessment_status {
            if status.value.as_str() == Some("Started") && self.started_at_ms.is_none() {
                self.started_at_ms = Some(ts);
            }
            self.status = Some(status);
        }
        if let Some(result) = update.assessment_result {
            self.result = Some(result);
            self.completed_at_ms = Some(ts);
        }
        if let Some(url) = update.assessment_profile_url {
            self.profile_url = Some(url);
        }
        if let Some(reason) = update.cancelled_reason {
            self.cancelled_reason = Some(reason);
            self.cancelled_at_ms = Some(ts);
        }
        for value in update.metadata.into_iter().flatten() {
            match self
                .metadata
                .iter_mut()
                .find(|m| m.identifier == value.identifier)
            {
                Some(existing) => *existing = value,
                None => self.metadata.push(value),
            }
        }
        self.last_timestamp = Some(ts);
        self.state = if self.cancelled_reason.is_some() {
            AssessmentState::Cancelled
        } else if self.result.is_some() {
            AssessmentState::Completed
        } else if self.status.is_some() {
            AssessmentState::InProgress
        } else {
            AssessmentState::AwaitingUpdate
        };
        self.updates.push(received);
        Ok(())
    }
}

/// Why an update was refused: Ashby's error code and a precise message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

pub struct State {
    pub keys: HashMap<String, ApiKeyRecord>,
    pub partner: Option<PartnerConfig>,
    /// Insertion order is start order; lookups are by scanning, which is fine
    /// for a sandbox.
    pub assessments: Vec<SimAssessment>,
    /// Every refused update, including those naming an unknown assessment.
    pub rejections: Vec<RejectedUpdate>,
    /// The partner's last answers to `assessment.list` and the custom-field list.
    pub assessment_types: Vec<AssessmentType>,
    pub custom_fields: Vec<CustomField>,
    pub faults: Faults,
    pub fault_counters: FaultCounters,
    /// The web pages' job and candidates, made up on first use.
    pub pipeline: Option<super::web::Pipeline>,
    /// One seedable generator for faults and made-up data, so a seeded sim
    /// behaves the same on every run.
    pub rng: StdRng,
}

impl State {
    pub fn new(rng: StdRng) -> Self {
        Self {
            keys: HashMap::new(),
            partner: None,
            assessments: Vec::new(),
            rejections: Vec::new(),
            assessment_types: Vec::new(),
            custom_fields: Vec::new(),
            faults: Faults::default(),
            fault_counters: FaultCounters::default(),
            pipeline: None,
            rng,
        }
    }

    pub fn assessment(&self, id: &str) -> Option<&SimAssessment> {
        self.assessments.iter().find(|a| a.assessment_id == id)
    }

    pub fn assessment_mut(&mut self, id: &str) -> Option<&mut SimAssessment> {
        self.assessments.iter_mut().find(|a| a.assessment_id == id)
    }

    /// Validate and apply an `assessment.update` body, wherever it came from.
    /// A refusal is also recorded, so a script can see what the partner got wrong.
    pub fn receive_update(
        &mut self,
        body: Value,
        source: UpdateSource,
        now_ms: i64,
    ) -> Result<(), Refusal> {
        use screenhub_ashby::public::codes;
        let outcome = match screenhub_ashby::validate_update(&body) {
            Err(message) => Err(Refusal {
                code: codes::INVALID_INPUT,
                message,
            }),
            Ok(update) => {
                let id = update.assessment_id.clone();
                let received = ReceivedUpdate {
                    received_at_ms: now_ms,
                    source,
                    body: body.clone(),
                };
                match self.assessment_mut(&id) {
                    None => Err(Refusal {
                        code: codes::ASSESSMENT_NOT_FOUND,
                        message: format!(
                            "assessment_id {id} is not an assessment started through this Ashby; \
                             use the assessment_id the partner returned from assessment.start"
                        ),
                    }),
                    Some(assessment) => {
                        assessment
                            .apply(update, received)
                            .map_err(|message| Refusal {
                                code: codes::INVALID_INPUT,
                                message,
                            })
                    }
                }
            }
        };
        if let Err(refusal) = &outcome {
            let assessment_id = body
                .get("assessment_id")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let rejected = RejectedUpdate {
                received_at_ms: now_ms,
                source,
                assessment_id: assessment_id.clone(),
                message: refusal.message.clone(),
                body,
            };
            if let Some(a) = assessment_id
                .as_deref()
                .and_then(|id| self.assessment_mut(id))
            {
                a.rejected_updates.push(rejected.clone());
            }
            self.rejections.push(rejected);
        }
        outcome
    }
}
