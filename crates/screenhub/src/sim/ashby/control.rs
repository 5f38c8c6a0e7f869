//! The JSON control API under `/_sim`, for scripts and tests: drive the partner,
//! read what the sim received, manage keys, the partner and faults.
//! Errors are `{"error": {"code", "message"}}`, like the hub's vendor API.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::faults::Faults;
use super::partner::{SimError, StartOptions};
use super::AshbySim;

pub fn routes() -> Router<AshbySim> {
    Router::new()
        .route("/_sim/assessments", get(list_assessments))
        .route("/_sim/assessments/start", post(start_assessment))
        .route("/_sim/assessments/{id}", get(get_assessment))
        .route("/_sim/assessments/{id}/cancel", post(cancel_assessment))
        .route("/_sim/assessment-types", post(list_assessment_types))
        .route("/_sim/custom-fields", post(sync_custom_fields))
        .route("/_sim/rejections", get(rejections))
        .route("/_sim/keys", post(create_key))
        .route("/_sim/keys/{key}/revoke", post(revoke_key))
        .route("/_sim/partner", get(get_partner).put(set_partner))
        .route("/_sim/faults", get(get_faults).post(set_faults))
        .route("/_sim/files/{handle}", get(file))
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response()
}

/// A bad control request: 400 with a message.
struct BadRequest(String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        error(StatusCode::BAD_REQUEST, "invalid_request", self.0)
    }
}

fn sim_error(e: SimError) -> Response {
    let (status, code) = match &e {
        SimError::PartnerNotConfigured => (StatusCode::CONFLICT, "partner_not_configured"),
        SimError::UnknownAssessment(_) => (StatusCode::NOT_FOUND, "assessment_not_found"),
        SimError::NoAssessmentTypes(_) => (StatusCode::BAD_GATEWAY, "no_assessment_types"),
        SimError::InvalidOptions(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        SimError::Unreachable(_) => (StatusCode::BAD_GATEWAY, "partner_unreachable"),
    };
    error(status, code, e.to_string())
}

/// A JSON body; an empty body means `{}`.
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, BadRequest> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let at = e.path().to_string();
        let place = if at == "." {
            String::new()
        } else {
            format!(" at {at}")
        };
        BadRequest(format!("invalid JSON body{place}: {}", e.inner()))
    })?;
    de.end()
        .map_err(|e| BadRequest(format!("invalid JSON body: {e}")))?;
    Ok(value)
}

async fn list_assessments(State(sim): State<AshbySim>) -> Response {
    Json(json!({"data": sim.assessments()})).into_response()
}

async fn get_assessment(State(sim): State<AshbySim>, Path(id): Path<String>) -> Response {
    match sim.assessment(&id) {
        Some(a) => Json(a).into_response(),
        None => sim_error(SimError::UnknownAssessment(id)),
    }
}

async fn start_assessment(State(sim): State<AshbySim>, body: Bytes) -> Response {
    let options: StartOptions = match parse(&body) {
        Ok(o) => o,
        Err(bad) => return bad.into_response(),
    };
    match sim.start_assessment(options).await {
        Ok(outcome) => Json(outcome).into_response(),
        Err(e) => sim_error(e),
    }
}

async fn cancel_assessment(State(sim): State<AshbySim>, Path(id): Path<String>) -> Response {
    match sim.cancel_assessment(&id).await {
        Ok(outcome) => Json(outcome).into_response(),
        Err(e) => sim_error(e),
    }
}

async fn list_assessment_types(State(sim): State<AshbySim>) -> Response {
    match sim.list_assessment_types().await {
        Ok(outcome) => Json(outcome).into_response(),
        Err(e) => sim_error(e),
    }
}

async fn sync_custom_fields(State(sim): State<AshbySim>) -> Response {
    match sim.custom_fields().await {
        Ok(outcome) => Json(outcome).into_response(),
        Err(e) => sim_error(e),
    }
}

async fn rejections(State(sim): State<AshbySim>) -> Response {
    Json(json!({"data": sim.rejections()})).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKeyRequest {
    title: Option<String>,
    permissions: Option<Vec<String>>,
}

async fn create_key(State(sim): State<AshbySim>, body: Bytes) -> Response {
    let request: NewKeyRequest = match parse(&body) {
        Ok(r) => r,
        Err(bad) => return bad.into_response(),
    };
    (
        StatusCode::CREATED,
        Json(sim.create_key(request.title, request.permissions)),
    )
        .into_response()
}

async fn revoke_key(State(sim): State<AshbySim>, Path(key): Path<String>) -> Response {
    if sim.revoke_key(&key) {
        Json(json!({"revoked": true})).into_response()
    } else {
        error(StatusCode::NOT_FOUND, "key_not_found", "no such API key")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartnerRequest {
    base_url: String,
    key: String,
}

async fn set_partner(State(sim): State<AshbySim>, body: Bytes) -> Response {
    let request: PartnerRequest = match parse(&body) {
        Ok(r) => r,
        Err(bad) => return bad.into_response(),
    };
    match sim.set_partner(&request.base_url, &request.key) {
        Ok(()) => Json(json!({"base_url": request.base_url})).into_response(),
        Err(message) => error(StatusCode::BAD_REQUEST, "invalid_request", message),
    }
}

async fn get_partner(State(sim): State<AshbySim>) -> Response {
    // The partner key is not echoed: it is the employer's External Trigger Token.
    let base_url = sim.state().partner.as_ref().map(|p| p.base_url.clone());
    Json(json!({"base_url": base_url})).into_response()
}

fn faults_view(sim: &AshbySim) -> Response {
    let state = sim.state();
    Json(json!({"faults": state.faults, "injected": state.fault_counters})).into_response()
}

async fn get_faults(State(sim): State<AshbySim>) -> Response {
    faults_view(&sim)
}

async fn set_faults(State(sim): State<AshbySim>, body: Bytes) -> Response {
    let faults: Faults = match parse(&body) {
        Ok(f) => f,
        Err(bad) => return bad.into_response(),
    };
    match sim.set_faults(faults) {
        Ok(()) => faults_view(&sim),
        Err(message) => error(StatusCode::BAD_REQUEST, "invalid_request", message),
    }
}

/// The "temporary URL" `file.info` hands out: a stand-in résumé.
async fn file(State(sim): State<AshbySim>, Path(handle): Path<String>) -> Response {
    let name = handle
        .strip_prefix("resume_")
        .and_then(|id| {
            sim.assessments()
                .into_iter()
                .rev()
                .find(|a| a.candidate["ashby_id"] == id)
        })
        .map(|a| {
            let part = |f: &str| a.candidate[f].as_str().unwrap_or_default().to_owned();
            format!("{} {}", part("first_name"), part("last_name"))
        });
    match name {
        Some(name) => (
            [("content-type", "text/plain; charset=utf-8")],
            format!("Résumé of {name}\n\n(A stand-in file served by the Ashby simulator.)\n"),
        )
            .into_response(),
        None => error(StatusCode::NOT_FOUND, "file_not_found", "no such file"),
    }
}
