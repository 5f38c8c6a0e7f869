//! Ashby's partner API, which Ashby calls on the hub: `POST /ats/ashby/<method>`,
//! authenticated with the account's External Trigger Token, in Ashby's envelope.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use screenhub_ashby::partner::{start_response, CustomFieldsResponse, PartnerErrorBody};
use screenhub_ashby::public::{codes, new_request_id, ErrorEnvelope, SuccessEnvelope};
use screenhub_core::account::AccountStatus;
use screenhub_store::Account;

use super::{AtsAnswer, AtsFailure};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assessment.list", post(list))
        .route("/assessment.start", post(start))
        .route("/assessment.cancel", post(cancel))
        // Ashby's docs name this path three ways; serve them all.
        .route("/customField.list", post(custom_fields))
        .route("/assessment.customField.list", post(custom_fields))
        .route("/customFields.fetch", post(custom_fields))
}

pub(crate) fn envelope_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(ErrorEnvelope::new(code, message, Some(new_request_id()))),
    )
        .into_response()
}

/// The token Ashby presents: the Basic username (Ashby's way), the Basic
/// password, or a Bearer token.
pub fn presented_token(headers: &HeaderMap) -> Option<String> {
    if let Some(b64) = crate::extract::authorization(headers, "Basic") {
        let decoded = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
        let (user, pass) = decoded.split_once(':').unwrap_or((&decoded, ""));
        let token = if user.is_empty() { pass } else { user };
        return (!token.is_empty()).then(|| token.to_owned());
    }
    let token = crate::extract::authorization(headers, "Bearer")?;
    (!token.is_empty()).then(|| token.to_owned())
}

/// The account whose token Ashby presented, or Ashby's 401/429 envelope. A
/// disabled account is let through: each method says what that means for it.
async fn authenticate(state: &AppState, parts: &Parts) -> Result<Account, Response> {
    // A valid token always gets through; only failures meet the brake.
    let refuse = |code: &str, message: &str| match state
        .auth_limiter
        .failed(crate::extract::client_ip(state, parts))
    {
        Some(secs) => {
            let mut response = envelope_error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_exceeded",
                &format!("Too many requests with an invalid API key. Try again in {secs} seconds."),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, secs.into());
            response
        }
        None => envelope_error(StatusCode::UNAUTHORIZED, code, message),
    };
    let Some(token) = presented_token(&parts.headers) else {
        return Err(refuse(
            "missing_api_key",
            "No API key was sent. Paste the External Trigger Token from the vendor's setup page into the integration's API Key field.",
        ));
    };
    // Another ATS's account token is no Ashby key.
    let found = state
        .store
        .find_account_by_token(&token, state.now())
        .await
        .map(|a| a.filter(|a| a.ats == screenhub_core::account::Ats::Ashby));
    match found {
        Ok(Some(account)) => Ok(account),
        Ok(None) => Err(refuse(
            "invalid_api_key",
            "This API key is not valid. It may have been rotated: copy the current External Trigger Token from the vendor's setup page.",
        )),
        Err(e) => Err(internal(e)),
    }
}

/// The dropdown and the custom fields of an account the vendor disabled: 403,
/// as Ashby answers a deactivated key. (A start gets a 422 the recruiter reads,
/// and a cancel still goes through.)
fn refusal_if_disabled(account: &Account) -> Option<Response> {
    (account.status() == AccountStatus::Disabled).then(|| {
        envelope_error(
            StatusCode::FORBIDDEN,
            "integration_disabled",
            "The vendor has paused this integration for your organisation. Contact the vendor to turn it back on.",
        )
    })
}

fn internal(e: impl std::fmt::Display) -> Response {
    internal_answered_with(StatusCode::INTERNAL_SERVER_ERROR, e)
}

fn internal_answered_with(status: StatusCode, e: impl std::fmt::Display) -> Response {
    let request_id = new_request_id();
    tracing::error!(error = %e, request_id, "partner API failed");
    (
        status,
        Json(ErrorEnvelope::new(
            "internal_error",
            "Something went wrong on the vendor's side. Try again in a minute.",
            Some(request_id),
        )),
    )
        .into_response()
}

fn answer(result: Result<AtsAnswer, AtsFailure>) -> Response {
    match result {
        Ok(a) => Json(start_response(a.order.id.0, a.update_request)).into_response(),
        Err(AtsFailure::Rejected(r)) => {
            (r.status, Json(PartnerErrorBody { message: r.message })).into_response()
        }
        Err(AtsFailure::Internal(e)) => internal(e),
    }
}

async fn list(State(state): State<AppState>, parts: Parts) -> Response {
    let account = match authenticate(&state, &parts).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Some(refusal) = refusal_if_disabled(&account) {
        return refusal;
    }
    match state.store.list_packages().await {
        Ok(packages) => {
            let types: Vec<_> = packages
                .iter()
                .filter(|p| p.offered_to(&account.id))
                .map(super::transformers::assessment_type)
                .collect();
            Json(SuccessEnvelope::new(types)).into_response()
        }
        Err(e) => internal(e),
    }
}

async fn start(State(state): State<AppState>, parts: Parts, body: Bytes) -> Response {
    let account = match authenticate(&state, &parts).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    answer(super::start_assessment(&state, &account, &body).await)
}

/// Ashby documents only HTTP 200 for `assessment.cancel`: past authentication,
/// every refusal (and our own failure) is Ashby's error envelope with a message.
async fn cancel(
    State(state): State<AppState>,
    parts: Parts,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let account = match authenticate(&state, &parts).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let body = match body {
        Ok(body) => body,
        Err(e) => return envelope_error(StatusCode::OK, codes::INVALID_INPUT, &e.body_text()),
    };
    match super::cancel_from_ats(&state, &account, &body).await {
        Err(AtsFailure::Rejected(r)) => envelope_error(StatusCode::OK, r.code, &r.message),
        Err(AtsFailure::Internal(e)) => internal_answered_with(StatusCode::OK, e),
        answered => answer(answered),
    }
}

async fn custom_fields(State(state): State<AppState>, parts: Parts) -> Response {
    let account = match authenticate(&state, &parts).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Some(refusal) = refusal_if_disabled(&account) {
        return refusal;
    }
    match crate::api::v1_custom_fields(&state).await {
        Ok(fields) => Json(CustomFieldsResponse::new(fields)).into_response(),
        Err(e) => internal(e),
    }
}
