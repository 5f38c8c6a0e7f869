//! The JSON control API under `/_sim` (routes listed in the module doc of
//! `sim::greenhouse`). Errors are `{"error": {"code", "message"}}`, like the
//! hub's vendor API, through the hub's own extractors.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::extract::{path_id, ApiJson, OptionalJson};

use super::faults::Faults;
use super::partner::{SendOptions, SimError};
use super::state::{CandidateStatus, Interview, Mode, PartnerSettings, DAY_MS, HOUR_MS};
use super::web::{test_view, TestView};
use super::{GreenhouseSim, NewCandidate, NewOrg};

pub fn routes() -> Router<GreenhouseSim> {
    Router::new()
        .route("/_sim/partner", get(get_partner).put(set_partner))
        .route("/_sim/orgs", get(list_orgs).post(create_org))
        .route("/_sim/orgs/{org}/list_tests", post(list_tests))
        .route("/_sim/orgs/{org}/stage", put(set_stage))
        .route(
            "/_sim/orgs/{org}/candidates",
            get(list_candidates).post(add_candidate),
        )
        .route("/_sim/orgs/{org}/send_test", post(send_bulk))
        .route("/_sim/candidates/{id}/send_test", post(send_one))
        .route("/_sim/candidates/{id}/hire", post(hire))
        .route("/_sim/candidates/{id}/reject", post(reject))
        .route("/_sim/interviews", get(list_interviews))
        .route("/_sim/interviews/{id}", get(get_interview))
        .route("/_sim/interviews/{id}/read", post(read))
        .route("/_sim/poll", post(poll))
        .route("/_sim/clock", get(clock))
        .route("/_sim/clock/advance", post(advance_clock))
        .route("/_sim/probe/test_status", post(probe))
        .route("/_sim/faults", get(get_faults).post(set_faults))
        .route("/_sim/calls", get(calls))
        .route("/_sim/response_errors", get(response_errors))
        .route("/_sim/patches", get(patches))
        .route("/_sim/conformance", get(conformance))
}

impl From<SimError> for ApiError {
    fn from(e: SimError) -> Self {
        let (status, code) = match &e {
            SimError::PartnerNotConfigured => (StatusCode::CONFLICT, "partner_not_configured"),
            SimError::UnknownOrg(_) => (StatusCode::NOT_FOUND, "org_not_found"),
            SimError::UnknownCandidate(_) => (StatusCode::NOT_FOUND, "candidate_not_found"),
            SimError::UnknownInterview(_) => (StatusCode::NOT_FOUND, "interview_not_found"),
            SimError::NoStage(_) => (StatusCode::CONFLICT, "no_partner_stage"),
            SimError::NotSent(_) => (StatusCode::CONFLICT, "not_sent"),
            SimError::Frozen(_) => (StatusCode::CONFLICT, "frozen"),
            SimError::InvalidRequest(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

type Answer = Result<Response, ApiError>;

fn ok(value: impl serde::Serialize) -> Answer {
    Ok(Json(value).into_response())
}

fn created(value: impl serde::Serialize) -> Answer {
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

/// The partner; fields left out keep their defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartnerRequest {
    base_url: String,
    patch_username: String,
    patch_password: String,
    mode: Option<Mode>,
    poll_in_patch_mode: Option<bool>,
    strict_report_urls: Option<bool>,
    #[serde(default, deserialize_with = "crate::extract::present")]
    candidate_id_field: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::extract::present")]
    application_id_field: Option<Option<String>>,
    hired_patch_status: Option<u16>,
}

async fn set_partner(
    State(sim): State<GreenhouseSim>,
    ApiJson(r): ApiJson<PartnerRequest>,
) -> Answer {
    let mut settings = PartnerSettings::new(r.base_url, r.patch_username, r.patch_password);
    settings.mode = r.mode.unwrap_or(settings.mode);
    settings.poll_in_patch_mode = r.poll_in_patch_mode.unwrap_or(false);
    settings.strict_report_urls = r.strict_report_urls.unwrap_or(false);
    if let Some(field) = r.candidate_id_field {
        settings.candidate_id_field = field;
    }
    if let Some(field) = r.application_id_field {
        settings.application_id_field = field;
    }
    settings.hired_patch_status = r.hired_patch_status.unwrap_or(200);
    let warnings = sim.set_partner(settings).map_err(ApiError::validation)?;
    ok(json!({"partner": sim.partner(), "warnings": warnings}))
}

async fn get_partner(State(sim): State<GreenhouseSim>) -> Answer {
    ok(json!({"partner": sim.partner()}))
}

async fn list_orgs(State(sim): State<GreenhouseSim>) -> Answer {
    ok(json!({"data": sim.orgs()}))
}

async fn create_org(State(sim): State<GreenhouseSim>, ApiJson(new): ApiJson<NewOrg>) -> Answer {
    created(sim.create_org(new).map_err(ApiError::validation)?)
}

async fn list_tests(State(sim): State<GreenhouseSim>, Path(org): Path<String>) -> Answer {
    ok(sim.list_tests(&org).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StageRequest {
    partner_test_id: String,
}

async fn set_stage(
    State(sim): State<GreenhouseSim>,
    Path(org): Path<String>,
    ApiJson(r): ApiJson<StageRequest>,
) -> Answer {
    ok(sim.set_stage(&org, &r.partner_test_id).await?)
}

async fn list_candidates(State(sim): State<GreenhouseSim>, Path(org): Path<String>) -> Answer {
    if sim.state().org(&org).is_none() {
        return Err(SimError::UnknownOrg(org).into());
    }
    ok(json!({"data": sim.candidates(&org)}))
}

async fn add_candidate(
    State(sim): State<GreenhouseSim>,
    Path(org): Path<String>,
    OptionalJson(new): OptionalJson<NewCandidate>,
) -> Answer {
    created(sim.add_candidate(&org, new)?)
}

async fn send_one(
    State(sim): State<GreenhouseSim>,
    Path(id): Path<String>,
    OptionalJson(options): OptionalJson<SendOptions>,
) -> Answer {
    let id = path_id::<u64>(&id, "candidate")?;
    ok(sim.send_test(id, options).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkRequest {
    candidate_ids: Vec<u64>,
}

async fn send_bulk(
    State(sim): State<GreenhouseSim>,
    Path(org): Path<String>,
    ApiJson(r): ApiJson<BulkRequest>,
) -> Answer {
    if r.candidate_ids.is_empty() || r.candidate_ids.len() > 500 {
        return Err(ApiError::validation("candidate_ids must hold 1 to 500 ids"));
    }
    let foreign = r
        .candidate_ids
        .iter()
        .find(|id| sim.state().candidate(**id).is_none_or(|c| c.org_id != org));
    if let Some(id) = foreign {
        return Err(SimError::InvalidRequest(format!("candidate {id} is not in {org}")).into());
    }
    let results: Vec<_> = sim
        .send_tests(&r.candidate_ids)
        .await
        .into_iter()
        .map(|r| match r {
            Ok(interview) => json!({"interview": interview}),
            Err(e) => json!({"error": e.to_string()}),
        })
        .collect();
    ok(json!({"data": results}))
}

async fn set_status(sim: &GreenhouseSim, id: &str, status: CandidateStatus) -> Answer {
    let id = path_id::<u64>(id, "candidate")?;
    ok(sim.set_candidate_status(id, status)?)
}

async fn hire(State(sim): State<GreenhouseSim>, Path(id): Path<String>) -> Answer {
    set_status(&sim, &id, CandidateStatus::Hired).await
}

async fn reject(State(sim): State<GreenhouseSim>, Path(id): Path<String>) -> Answer {
    set_status(&sim, &id, CandidateStatus::Rejected).await
}

/// A take-home test with what the recruiter sees of it.
#[derive(serde::Serialize)]
struct InterviewView {
    #[serde(flatten)]
    interview: Interview,
    stage_view: TestView,
}

fn view(interview: Interview) -> InterviewView {
    InterviewView {
        stage_view: test_view(&interview),
        interview,
    }
}

async fn list_interviews(State(sim): State<GreenhouseSim>) -> Answer {
    let data: Vec<_> = sim.interviews().into_iter().map(view).collect();
    ok(json!({"data": data}))
}

async fn get_interview(State(sim): State<GreenhouseSim>, Path(id): Path<String>) -> Answer {
    let id = path_id::<u64>(&id, "take-home test")?;
    ok(view(
        sim.interview(id).ok_or(SimError::UnknownInterview(id))?,
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReadRequest {
    #[serde(default)]
    force: bool,
}

async fn read(
    State(sim): State<GreenhouseSim>,
    Path(id): Path<String>,
    OptionalJson(r): OptionalJson<ReadRequest>,
) -> Answer {
    let id = path_id::<u64>(&id, "take-home test")?;
    let call = sim.read_status(id, r.force).await?;
    ok(json!({"call": call, "interview": sim.interview(id)}))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PollRequest {
    #[serde(default)]
    due_only: bool,
}

async fn poll(
    State(sim): State<GreenhouseSim>,
    OptionalJson(r): OptionalJson<PollRequest>,
) -> Answer {
    ok(json!({"calls": sim.poll(r.due_only).await}))
}

fn clock_view(sim: &GreenhouseSim) -> serde_json::Value {
    let state = sim.state();
    let now = state.now_ms();
    json!({"now_ms": now, "now": screenhub_core::clock::rfc3339(now), "speed": state.clock.speed()})
}

async fn clock(State(sim): State<GreenhouseSim>) -> Answer {
    ok(clock_view(&sim))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceRequest {
    ms: Option<i64>,
    hours: Option<i64>,
    days: Option<i64>,
}

async fn advance_clock(
    State(sim): State<GreenhouseSim>,
    ApiJson(r): ApiJson<AdvanceRequest>,
) -> Answer {
    let ms =
        r.ms.unwrap_or(0)
            .checked_add(r.hours.unwrap_or(0).saturating_mul(HOUR_MS))
            .and_then(|ms| ms.checked_add(r.days.unwrap_or(0).saturating_mul(DAY_MS)))
            .filter(|ms| (1..=365 * DAY_MS).contains(ms))
            .ok_or_else(|| {
                ApiError::validation("advance by 1 ms to 365 days, with `ms`, `hours` or `days`")
            })?;
    let calls = sim.advance_clock(ms).await;
    ok(json!({"clock": clock_view(&sim), "calls": calls}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeRequest {
    org: String,
    partner_interview_id: String,
}

async fn probe(State(sim): State<GreenhouseSim>, ApiJson(r): ApiJson<ProbeRequest>) -> Answer {
    ok(sim
        .probe_test_status(&r.org, &r.partner_interview_id)
        .await?)
}

async fn get_faults(State(sim): State<GreenhouseSim>) -> Answer {
    ok(sim.faults())
}

async fn set_faults(State(sim): State<GreenhouseSim>, ApiJson(faults): ApiJson<Faults>) -> Answer {
    sim.set_faults(faults).map_err(ApiError::validation)?;
    ok(sim.faults())
}

async fn calls(State(sim): State<GreenhouseSim>) -> Answer {
    ok(json!({"data": sim.calls()}))
}

async fn response_errors(State(sim): State<GreenhouseSim>) -> Answer {
    ok(json!({"data": sim.response_errors()}))
}

async fn patches(State(sim): State<GreenhouseSim>) -> Answer {
    ok(json!({"data": sim.patches()}))
}

async fn conformance(State(sim): State<GreenhouseSim>) -> Answer {
    ok(sim.conformance().await)
}
