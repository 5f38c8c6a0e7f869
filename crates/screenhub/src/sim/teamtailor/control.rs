//! The JSON control API under `/_sim` (routes listed in the module doc of
//! `sim::teamtailor`). Errors are `{"error": {"code", "message"}}` through the
//! hub's own extractors.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::extract::{path_id, ApiJson, OptionalJson};

use super::faults::Faults;
use super::jose::KeyForm;
use super::partner::SimError;
use super::state::{ActionHeaders, AuthScheme, PartnerSettings};
use super::{NewCandidate, NewCompany, TeamtailorSim};

pub fn routes() -> Router<TeamtailorSim> {
    Router::new()
        .route("/_sim/partner", get(get_partner).put(set_partner))
        .route("/_sim/companies", get(list_companies).post(create_company))
        .route("/_sim/companies/{co}/activation", post(activate))
        .route("/_sim/companies/{co}/triggers", post(add_trigger))
        .route(
            "/_sim/companies/{co}/candidates",
            get(list_candidates).post(add_candidate),
        )
        .route("/_sim/candidates/{id}/move", post(move_candidate))
        .route("/_sim/cards", get(cards))
        .route("/_sim/cards/{id}", get(card))
        .route("/_sim/cards/{id}/click", post(click))
        .route("/_sim/webhooks", get(webhooks))
        .route("/_sim/calls", get(calls))
        .route("/_sim/api", get(api_calls))
        .route("/_sim/faults", get(get_faults).post(set_faults))
        .route("/_sim/conformance", get(conformance))
}

impl From<SimError> for ApiError {
    fn from(e: SimError) -> Self {
        let (status, code) = match &e {
            SimError::PartnerNotConfigured => (StatusCode::CONFLICT, "partner_not_configured"),
            SimError::UnknownCompany(_) => (StatusCode::NOT_FOUND, "company_not_found"),
            SimError::UnknownCandidate(_) => (StatusCode::NOT_FOUND, "candidate_not_found"),
            SimError::UnknownCard(_) => (StatusCode::NOT_FOUND, "partner_result_not_found"),
            SimError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            SimError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
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

/// The partner record; fields left out keep their defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartnerRequest {
    base_url: String,
    api_key: String,
    webhook_secret: String,
    activation_config: Option<Value>,
    webhook_config: Option<Value>,
    key_form: Option<KeyForm>,
    auth_scheme: Option<AuthScheme>,
    action_headers: Option<ActionHeaders>,
    webhook_timeout_ms: Option<u64>,
    dynamic_activation: Option<bool>,
}

async fn set_partner(
    State(sim): State<TeamtailorSim>,
    ApiJson(r): ApiJson<PartnerRequest>,
) -> Answer {
    let mut settings = PartnerSettings::new(r.base_url, r.api_key, r.webhook_secret);
    if let Some(c) = r.activation_config {
        settings.activation_config = c;
    }
    settings.webhook_config = r.webhook_config.filter(|c| !c.is_null());
    settings.key_form = r.key_form.unwrap_or_default();
    settings.auth_scheme = r.auth_scheme.unwrap_or_default();
    settings.action_headers = r.action_headers.unwrap_or_default();
    settings.webhook_timeout_ms = r.webhook_timeout_ms.unwrap_or(settings.webhook_timeout_ms);
    settings.dynamic_activation = r.dynamic_activation.unwrap_or(false);
    sim.set_partner(settings).map_err(ApiError::validation)?;
    ok(json!({"partner": sim.partner()}))
}

async fn get_partner(State(sim): State<TeamtailorSim>) -> Answer {
    ok(json!({"partner": sim.partner()}))
}

async fn list_companies(State(sim): State<TeamtailorSim>) -> Answer {
    ok(json!({"data": sim.companies()}))
}

async fn create_company(
    State(sim): State<TeamtailorSim>,
    ApiJson(new): ApiJson<NewCompany>,
) -> Answer {
    created(sim.create_company(new).map_err(ApiError::validation)?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivationRequest {
    values: Map<String, Value>,
}

async fn activate(
    State(sim): State<TeamtailorSim>,
    Path(co): Path<String>,
    ApiJson(r): ApiJson<ActivationRequest>,
) -> Answer {
    let (activated, messages) = sim.activate(&co, r.values).await?;
    let key = sim
        .companies()
        .into_iter()
        .find(|c| c.id == co)
        .and_then(|c| c.provider_key);
    ok(json!({"activated": activated, "messages": messages, "provider_key": key}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerRequest {
    stage_id: u64,
    #[serde(default)]
    values: Map<String, Value>,
}

async fn add_trigger(
    State(sim): State<TeamtailorSim>,
    Path(co): Path<String>,
    ApiJson(r): ApiJson<TriggerRequest>,
) -> Answer {
    created(sim.add_trigger(&co, r.stage_id, r.values).await?)
}

async fn list_candidates(State(sim): State<TeamtailorSim>, Path(co): Path<String>) -> Answer {
    if !sim.companies().iter().any(|c| c.id == co) {
        return Err(SimError::UnknownCompany(co).into());
    }
    ok(json!({"data": sim.candidates(&co)}))
}

async fn add_candidate(
    State(sim): State<TeamtailorSim>,
    Path(co): Path<String>,
    OptionalJson(new): OptionalJson<NewCandidate>,
) -> Answer {
    created(sim.add_candidate(&co, new)?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveRequest {
    stage_id: u64,
}

async fn move_candidate(
    State(sim): State<TeamtailorSim>,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<MoveRequest>,
) -> Answer {
    let id: u64 = path_id(&id, "candidate")?;
    ok(json!({"card": sim.move_candidate(id, r.stage_id).await?}))
}

async fn cards(State(sim): State<TeamtailorSim>) -> Answer {
    ok(json!({"data": sim.cards()}))
}

async fn card(State(sim): State<TeamtailorSim>, Path(id): Path<String>) -> Answer {
    ok(sim.card(&id).ok_or(SimError::UnknownCard(id))?)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ClickRequest {
    endpoint: Option<String>,
}

async fn click(
    State(sim): State<TeamtailorSim>,
    Path(id): Path<String>,
    OptionalJson(r): OptionalJson<ClickRequest>,
) -> Answer {
    let card = sim
        .card(&id)
        .ok_or_else(|| SimError::UnknownCard(id.clone()))?;
    let endpoint = r
        .endpoint
        .or_else(|| card.actions.first().map(|(_, e)| e.clone()))
        .ok_or_else(|| SimError::Conflict("the card has no button".into()))?;
    ok(sim.click(&id, &endpoint).await?)
}

async fn webhooks(State(sim): State<TeamtailorSim>) -> Answer {
    ok(json!({"data": sim.webhooks()}))
}

async fn calls(State(sim): State<TeamtailorSim>) -> Answer {
    ok(json!({"data": sim.calls()}))
}

async fn api_calls(State(sim): State<TeamtailorSim>) -> Answer {
    ok(json!({"data": sim.api_calls()}))
}

async fn get_faults(State(sim): State<TeamtailorSim>) -> Answer {
    ok(sim.faults())
}

async fn set_faults(State(sim): State<TeamtailorSim>, ApiJson(f): ApiJson<Faults>) -> Answer {
    sim.set_faults(f).map_err(ApiError::validation)?;
    ok(sim.faults())
}

async fn conformance(State(sim): State<TeamtailorSim>) -> Answer {
    ok(sim.conformance())
}
