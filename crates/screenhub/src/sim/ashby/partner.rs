//! The sim playing Ashby against a partner (the hub): `assessment.list`,
//! `assessment.start`, `assessment.cancel` and the custom-field list, sent the way
//! Ashby sends them, with the answers checked against what Ashby expects.

use std::time::Instant;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::Rng;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use screenhub_ashby::partner::{AssessmentType, CustomFieldsResponse, ListResponse};

use super::fixtures;
use super::state::{SimAssessment, UpdateSource};
use super::{now_ms, AshbySim};

/// One of the paths Ashby has documented for the custom-field list.
pub const CUSTOM_FIELDS_METHOD: &str = "assessment.customField.list";
const SIM_USER_AGENT: &str = "Ashby-Assessments (screenhub sim)";

/// What the recruiter picked, or left to the sim. `candidate`, `job` and
/// `application` objects are laid over realistic made-up ones, key by key, so a
/// script can set just the email; any other JSON value replaces the part whole.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartOptions {
    pub assessment_type_id: Option<String>,
    pub candidate: Option<Value>,
    pub job: Option<Value>,
    pub application: Option<Value>,
    /// Sent as is; when absent, values are made up for the custom fields last
    /// fetched from the partner.
    pub additional_fields: Option<Value>,
}

/// One call to the partner and its answer.
#[derive(Debug, Clone, Serialize)]
pub struct PartnerCall {
    pub method: String,
    pub request: Value,
    pub status: u16,
    /// The answer as JSON, or as a string when it was not JSON.
    pub body: Value,
    pub duration_ms: u64,
    /// Where the answer departs from what Ashby expects.
    pub problems: Vec<String>,
}

/// How the `update_request` inside a partner answer fared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InlineUpdate {
    pub accepted: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListOutcome {
    #[serde(flatten)]
    pub call: PartnerCall,
    pub assessment_types: Vec<AssessmentType>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StartOutcome {
    #[serde(flatten)]
    pub call: PartnerCall,
    /// The id the partner minted; the sim now accepts updates for it.
    pub assessment_id: Option<String>,
    /// The message of a 409 or 422, which Ashby shows to the recruiter.
    pub recruiter_message: Option<String>,
    pub inline_update: Option<InlineUpdate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CancelOutcome {
    #[serde(flatten)]
    pub call: PartnerCall,
    pub inline_update: Option<InlineUpdate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomFieldsOutcome {
    #[serde(flatten)]
    pub call: PartnerCall,
    pub fields: Vec<screenhub_ashby::partner::CustomField>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error(
        "no partner is set; set one with PUT /_sim/partner {{\"base_url\": \"…\", \"key\": \"…\"}}"
    )]
    PartnerNotConfigured,
    #[error("no assessment {0} was started through this sim")]
    UnknownAssessment(String),
    #[error("the partner offers no assessment type to start ({0})")]
    NoAssessmentTypes(String),
    #[error("{0}")]
    InvalidOptions(String),
    #[error("could not reach the partner: {0}")]
    Unreachable(String),
}

impl AshbySim {
    /// What Ashby does when a recruiter opens the *Assessment Type* dropdown.
    pub async fn list_assessment_types(&self) -> Result<ListOutcome, SimError> {
        let mut call = self.call_partner("assessment.list", json!({})).await?;
        let types = match check_answer::<ListResponse>(&mut call) {
            Some(list) => list.results,
            None => Vec::new(),
        };
        self.state().assessment_types = types.clone();
        Ok(ListOutcome {
            call,
            assessment_types: types,
        })
    }

    /// What Ashby does when Ashby syncs the partner's custom fields.
    pub async fn custom_fields(&self) -> Result<CustomFieldsOutcome, SimError> {
        let mut call = self.call_partner(CUSTOM_FIELDS_METHOD, json!({})).await?;
        let fields = match check_answer::<CustomFieldsResponse>(&mut call) {
            Some(answer) => answer.fields,
            None => Vec::new(),
        };
        self.state().custom_fields = fields.clone();
        Ok(CustomFieldsOutcome { call, fields })
    }

    /// What Ashby does when a recruiter presses *Start Assessment*.
    pub async fn start_assessment(&self, options: StartOptions) -> Result<StartOutcome, SimError> {
        let type_id = match options.assessment_type_id.clone() {
            Some(id) => id,
            None => self.pick_assessment_type().await?,
        };
        let request = self.start_request(type_id.clone(), options)?;
        let mut call = self
            .call_partner("assessment.start", request.clone())
            .await?;

        let (mut assessment_id, mut recruiter_message, mut inline_update) = (None, None, None);
        match call.status {
            200 => {
                assessment_id = results_assessment_id(&mut call);
                if let Some(id) = &assessment_id {
                    let mut state = self.state();
                    // A repeated start may return an id the sim already knows.
                    if state.assessment(id).is_none() {
                        state.assessments.push(SimAssessment::new(id.clone(), type_id, &request, now_ms()));
                    }
                }
                inline_update =
                    self.apply_inline_update(&mut call, assessment_id.as_deref(), UpdateSource::StartResponse);
            }
            409 | 422 => match call.body.get("message").and_then(Value::as_str) {
                Some(message) => recruiter_message = Some(message.to_owned()),
                None => call.problems.push(format!(
                    "a {} answer needs a `message` for the recruiter; Ashby shows a generic error without one",
                    call.status
                )),
            },
            status => call.problems.push(format!(
                "assessment.start answered HTTP {status}; Ashby understands 200, 409 and 422 and shows the recruiter a generic error otherwise"
            )),
        }
        Ok(StartOutcome {
            call,
            assessment_id,
            recruiter_message,
            inline_update,
        })
    }

    /// What Ashby does when a recruiter cancels an assessment.
    pub async fn cancel_assessment(&self, assessment_id: &str) -> Result<CancelOutcome, SimError> {
        match self.state().assessment_mut(assessment_id) {
            Some(a) => a.cancel_requested_at_ms = Some(now_ms()),
            None => return Err(SimError::UnknownAssessment(assessment_id.to_owned())),
        }
        let mut call = self
            .call_partner("assessment.cancel", json!({"assessment_id": assessment_id}))
            .await?;
        let mut inline_update = None;
        if call.status == 200 {
            // Only check the envelope; the id is ours already.
            results_assessment_id(&mut call);
            inline_update = self.apply_inline_update(
                &mut call,
                Some(assessment_id),
                UpdateSource::CancelResponse,
            );
        } else {
            call.problems.push(format!(
                "assessment.cancel answered HTTP {}; Ashby expects 200",
                call.status
            ));
        }
        Ok(CancelOutcome {
            call,
            inline_update,
        })
    }

    async fn pick_assessment_type(&self) -> Result<String, SimError> {
        let listed = self.list_assessment_types().await?;
        if listed.assessment_types.is_empty() {
            let why = match listed.call.problems.first() {
                Some(problem) => problem.clone(),
                None => "assessment.list returned an empty list".to_owned(),
            };
            return Err(SimError::NoAssessmentTypes(why));
        }
        let mut state = self.state();
        let i = state.rng.gen_range(0..listed.assessment_types.len());
        Ok(listed.assessment_types[i].assessment_type_id.to_string())
    }

    fn start_request(&self, type_id: String, options: StartOptions) -> Result<Value, SimError> {
        let mut state = self.state();
        let state = &mut *state;
        let rng = &mut state.rng;
        let candidate = overlay(fixtures::candidate(rng), options.candidate);
        let application = overlay(fixtures::application(rng), options.application);
        let job = overlay(fixtures::job(rng), options.job);
        let mut request = json!({
            "assessment_type_id": type_id,
            "candidate": candidate,
            "application": application,
            "job": job,
        });
        match options.additional_fields {
            Some(fields @ Value::Object(_)) => request["additional_fields"] = fields,
            Some(_) => {
                return Err(SimError::InvalidOptions(
                    "additional_fields must be a JSON object".into(),
                ))
            }
            None if !state.custom_fields.is_empty() => {
                let fields = fixtures::additional_fields(&mut state.rng, &state.custom_fields);
                request["additional_fields"] = Value::Object(fields);
            }
            None => {}
        }
        Ok(request)
    }

    /// Apply the `update_request` of a start or cancel answer, as Ashby does.
    fn apply_inline_update(
        &self,
        call: &mut PartnerCall,
        id: Option<&str>,
        source: UpdateSource,
    ) -> Option<InlineUpdate> {
        let update = call.body.get("results")?.get("update_request")?.clone();
        let named = update.get("assessment_id").and_then(Value::as_str);
        let result = if named.is_some() && named != id {
            Err(format!(
                "update_request.assessment_id {} differs from the assessment_id of the answer ({})",
                named.unwrap_or_default(),
                id.unwrap_or("none")
            ))
        } else {
            self.state()
                .receive_update(update, source, now_ms())
                .map_err(|r| r.message)
        };
        match result {
            Ok(()) => Some(InlineUpdate {
                accepted: true,
                error: None,
            }),
            Err(error) => {
                call.problems
                    .push(format!("update_request was refused: {error}"));
                Some(InlineUpdate {
                    accepted: false,
                    error: Some(error),
                })
            }
        }
    }

    async fn call_partner(&self, method: &str, request: Value) -> Result<PartnerCall, SimError> {
        let partner = self
            .state()
            .partner
            .clone()
            .ok_or(SimError::PartnerNotConfigured)?;
        let url = format!("{}/{method}", partner.base_url.trim_end_matches('/'));
        let started = Instant::now();
        let response = self
            .http()
            .post(url)
            .header(
                AUTHORIZATION,
                format!("Basic {}", STANDARD.encode(format!("{}:", partner.key))),
            )
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, SIM_USER_AGENT)
            .body(request.to_string())
            .send()
            .await
            .map_err(|e| SimError::Unreachable(error_chain(&e)))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| SimError::Unreachable(error_chain(&e)))?;
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok(PartnerCall {
            method: method.to_owned(),
            request,
            status,
            body,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            problems: Vec::new(),
        })
    }
}

/// Lay `patch` over `base`: an object replaces keys one by one, anything else
/// replaces the whole value.
fn overlay(mut base: Value, patch: Option<Value>) -> Value {
    match (patch, base.as_object_mut()) {
        (None, _) => base,
        (Some(Value::Object(patch)), Some(map)) => {
            map.extend(patch);
            base
        }
        (Some(other), _) => other,
    }
}

/// Read a 200 answer as `T`, noting where it departs from Ashby's schema.
fn check_answer<T: DeserializeOwned>(call: &mut PartnerCall) -> Option<T> {
    if call.status != 200 {
        call.problems.push(format!(
            "{} answered HTTP {}; Ashby expects 200",
            call.method, call.status
        ));
        return None;
    }
    if call.body.get("success") != Some(&Value::Bool(true)) {
        call.problems.push(format!(
            "{} did not answer with \"success\": true",
            call.method
        ));
    }
    match serde_path_to_error::deserialize::<_, T>(&call.body) {
        Ok(answer) => Some(answer),
        Err(e) => {
            call.problems.push(format!(
                "{} answer does not match Ashby's schema at {}: {}",
                call.method,
                e.path(),
                e.inner()
            ));
            None
        }
    }
}

/// `results.assessment_id` of a start or cancel answer; Ashby types it as a UUID.
fn results_assessment_id(call: &mut PartnerCall) -> Option<String> {
    if call.body.get("success") != Some(&Value::Bool(true)) {
        call.problems.push(format!(
            "{} did not answer with \"success\": true",
            call.method
        ));
    }
    match call
        .body
        .get("results")
        .and_then(|r| r.get("assessment_id"))
    {
        Some(Value::String(id)) if !id.is_empty() => {
            if uuid::Uuid::parse_str(id).is_err() {
                call.problems.push(format!(
                    "results.assessment_id `{id}` is not a UUID, as Ashby's schema requires"
                ));
            }
            Some(id.clone())
        }
        _ => {
            call.problems
                .push("results.assessment_id is missing or not a string".into());
            None
        }
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message = format!("{message}: {s}");
        source = s.source();
    }
    message
}
