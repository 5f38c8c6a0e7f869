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

use screenhub_ashby::partner::{AssessmentType, CustomField, CustomFieldsResponse, ListResponse};

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
    /// The answer's `update_request` carried `cancelled_reason`: the partner
    /// confirmed the cancellation. A success without it means nothing was left
    /// to cancel (the assessment had already ended).
    pub confirmed: bool,
    /// The message of the partner's error envelope, shown to the recruiter.
    pub error_message: Option<String>,
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
        let (list, problems) =
            check_answer::<ListResponse>("assessment.list", call.status, &call.body);
        call.problems.extend(problems);
        let types = list.map(|l| l.results).unwrap_or_default();
        self.state().assessment_types = types.clone();
        Ok(ListOutcome {
            call,
            assessment_types: types,
        })
    }

    /// What Ashby does when Ashby syncs the partner's custom fields.
    pub async fn custom_fields(&self) -> Result<CustomFieldsOutcome, SimError> {
        let mut call = self.call_partner(CUSTOM_FIELDS_METHOD, json!({})).await?;
        let (fields, problems) = judge_custom_fields_answer(call.status, &call.body);
        call.problems.extend(problems);
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

        let verdict = judge_start_answer(call.status, &call.body);
        call.problems.extend(verdict.problems);
        let (assessment_id, recruiter_message) = (verdict.assessment_id, verdict.recruiter_message);
        let mut inline_update = None;
        if call.status == 200 {
            if let Some(id) = &assessment_id {
                let mut state = self.state();
                // A repeated start may return an id the sim already knows.
                if state.assessment(id).is_none() {
                    state.assessments.push(SimAssessment::new(
                        id.clone(),
                        type_id,
                        &request,
                        now_ms(),
                    ));
                }
            }
            inline_update = self.apply_inline_update(
                &mut call,
                assessment_id.as_deref(),
                UpdateSource::StartResponse,
            );
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
        let verdict = judge_cancel_answer(assessment_id, call.status, &call.body);
        call.problems.extend(verdict.problems);
        let inline_update = if verdict.success {
            self.apply_inline_update(&mut call, Some(assessment_id), UpdateSource::CancelResponse)
        } else {
            None
        };
        Ok(CancelOutcome {
            call,
            confirmed: verdict.confirmed,
            error_message: verdict.error_message,
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

/// Read a 200 answer as `T`, with where it departs from Ashby's schema.
fn check_answer<T: DeserializeOwned>(
    method: &str,
    status: u16,
    body: &Value,
) -> (Option<T>, Vec<String>) {
    let mut problems = Vec::new();
    if status != 200 {
        problems.push(format!(
            "{method} answered HTTP {status}; Ashby expects 200"
        ));
        return (None, problems);
    }
    if body.get("success") != Some(&Value::Bool(true)) {
        problems.push(format!("{method} did not answer with \"success\": true"));
    }
    match serde_path_to_error::deserialize::<_, T>(body) {
        Ok(answer) => (Some(answer), problems),
        Err(e) => {
            problems.push(format!(
                "{method} answer does not match Ashby's schema at {}: {}",
                e.path(),
                e.inner()
            ));
            (None, problems)
        }
    }
}

/// What Ashby makes of a custom-field list: the fields it takes, and the
/// problems. A select field without usable options is refused (left out).
pub fn judge_custom_fields_answer(status: u16, body: &Value) -> (Vec<CustomField>, Vec<String>) {
    let (answer, mut problems) =
        check_answer::<CustomFieldsResponse>(CUSTOM_FIELDS_METHOD, status, body);
    let mut fields = Vec::new();
    let listed = answer.map(|a| a.fields).unwrap_or_default();
    for (i, field) in listed.into_iter().enumerate() {
        match field.options_problem() {
            Some(problem) => problems.push(format!(
                "fields[{i}] (`{}`) is refused: {problem}",
                field.id
            )),
            None => fields.push(field),
        }
    }
    (fields, problems)
}

/// What Ashby makes of an answer to `assessment.start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartVerdict {
    /// From a 200: the id the partner minted.
    pub assessment_id: Option<String>,
    /// From a 409 or 422: the message Ashby shows the recruiter.
    pub recruiter_message: Option<String>,
    /// Where the answer departs from what Ashby documents.
    pub problems: Vec<String>,
}

pub fn judge_start_answer(status: u16, body: &Value) -> StartVerdict {
    let mut verdict = StartVerdict {
        assessment_id: None,
        recruiter_message: None,
        problems: Vec::new(),
    };
    match status {
        200 => {
            verdict.problems.extend(success_problems("assessment.start", body));
            let (id, problems) = results_assessment_id(body);
            verdict.assessment_id = id;
            verdict.problems.extend(problems);
        }
        409 | 422 => match body.get("message").and_then(Value::as_str) {
            Some(message) if !message.trim().is_empty() => {
                verdict.recruiter_message = Some(message.to_owned());
            }
            _ => verdict.problems.push(format!(
                "a {status} answer needs a `message` for the recruiter; Ashby shows a generic error without one"
            )),
        },
        status => verdict.problems.push(format!(
            "assessment.start answered HTTP {status}; Ashby understands 200, 409 and 422 and shows the recruiter a generic error otherwise"
        )),
    }
    verdict
}

/// What Ashby makes of an answer to `assessment.cancel`, which Ashby documents
/// only as HTTP 200: the start-shaped success, or its error envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelVerdict {
    /// `"success": true`.
    pub success: bool,
    /// The `update_request` carries `cancelled_reason`.
    pub confirmed: bool,
    /// `errorInfo.message` of an error envelope.
    pub error_message: Option<String>,
    pub problems: Vec<String>,
}

pub fn judge_cancel_answer(requested_id: &str, status: u16, body: &Value) -> CancelVerdict {
    let mut verdict = CancelVerdict {
        success: false,
        confirmed: false,
        error_message: None,
        problems: Vec::new(),
    };
    if status != 200 {
        verdict.problems.push(format!(
            "assessment.cancel answered HTTP {status}; Ashby documents only HTTP 200 for it \
             (a success, or its error envelope with a message)"
        ));
        return verdict;
    }
    match body.get("success") {
        Some(Value::Bool(true)) => {
            verdict.success = true;
            let (id, problems) = results_assessment_id(body);
            verdict.problems.extend(problems);
            if let Some(id) = id.filter(|id| id != requested_id) {
                verdict.problems.push(format!(
                    "results.assessment_id {id} is not the assessment_id Ashby asked to cancel ({requested_id})"
                ));
            }
            verdict.confirmed = body
                .pointer("/results/update_request/cancelled_reason")
                .is_some_and(|r| !r.is_null());
        }
        Some(Value::Bool(false)) => {
            let info = body.get("errorInfo");
            let text = |field: &str| {
                info.and_then(|i| i.get(field))
                    .and_then(Value::as_str)
                    .filter(|s| !s.trim().is_empty())
            };
            if text("code").is_none() {
                verdict
                    .problems
                    .push("the error envelope has no errorInfo.code".into());
            }
            match text("message") {
                Some(message) => verdict.error_message = Some(message.to_owned()),
                None => verdict.problems.push(
                    "the error envelope has no errorInfo.message; Ashby shows a generic error without one".into(),
                ),
            }
            if !body.get("errors").is_some_and(Value::is_array) {
                verdict.problems.push(
                    "the error envelope has no `errors` list (deprecated, but part of it)".into(),
                );
            }
        }
        _ => verdict
            .problems
            .push("assessment.cancel did not answer with a boolean \"success\"".into()),
    }
    verdict
}

fn success_problems(method: &str, body: &Value) -> Option<String> {
    (body.get("success") != Some(&Value::Bool(true)))
        .then(|| format!("{method} did not answer with \"success\": true"))
}

/// `results.assessment_id` of a start or cancel answer; Ashby types it as a UUID.
fn results_assessment_id(body: &Value) -> (Option<String>, Vec<String>) {
    match body.get("results").and_then(|r| r.get("assessment_id")) {
        Some(Value::String(id)) if !id.is_empty() => {
            let problems = uuid::Uuid::parse_str(id)
                .is_err()
                .then(|| {
                    format!(
                        "results.assessment_id `{id}` is not a UUID, as Ashby's schema requires"
                    )
                })
                .into_iter()
                .collect();
            (Some(id.clone()), problems)
        }
        _ => (
            None,
            vec!["results.assessment_id is missing or not a string".into()],
        ),
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
