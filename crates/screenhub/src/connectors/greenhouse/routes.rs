//! Greenhouse's Assessment Partner API, which Greenhouse calls on the hub:
//! `/ats/greenhouse/{list_tests,send_test,test_status,response_error}`,
//! authenticated with the account's token as the HTTP Basic username.
//! 401 with an empty body for a missing or unknown token, no hint which.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use screenhub_core::account::{AccountStatus, Ats};
use screenhub_core::event::EventType;
use screenhub_core::order::OrderStatus;
use screenhub_core::OrderId;
use screenhub_store::{Account, NewOrder, OutboxMessage};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::transformers::{self, Refusal, ResponseError};
use super::Greenhouse;
use crate::connectors::{presented_token, Connector};
use crate::ops::{order_webhook, webhook_body};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/list_tests", get(list_tests))
        .route("/send_test", post(send_test))
        .route("/test_status", get(test_status))
        .route("/response_error", post(response_error))
}

/// The hub's page for an order that ended without a report (see
/// [`super::status_page_url`]); mounted at the root.
pub fn status_page_router() -> Router<AppState> {
    Router::new().route("/status/{token}", get(status_page))
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    Greenhouse.error_response(status, code, message)
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "Greenhouse partner API failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "something went wrong on the vendor's side; try again in a minute",
    )
}

/// The Greenhouse account whose token was presented, or 401 (empty body).
/// `record_call`: remember the call (and turn a pending account active).
async fn authenticate(
    state: &AppState,
    parts: &Parts,
    record_call: bool,
) -> Result<Account, Response> {
    let token = presented_token(&parts.headers);
    let found = match &token {
        Some(token) => state
            .store
            .find_account_by_token(token, state.now())
            .await
            .map_err(internal)?,
        None => None,
    };
    // A valid token always gets through; only failures meet the brake.
    let Some(account) = found.filter(|a| a.ats == Ats::Greenhouse) else {
        let ip = crate::extract::client_ip(state, parts);
        return Err(match state.auth_limiter.failed(ip) {
            Some(secs) => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, secs.to_string())],
            )
                .into_response(),
            None => StatusCode::UNAUTHORIZED.into_response(),
        });
    };
    if record_call {
        if let Err(e) = state
            .store
            .record_ats_call(&account, true, state.now())
            .await
        {
            tracing::warn!(error = %e, account_id = %account.id, "could not record Greenhouse's call");
        }
    }
    Ok(account)
}

/// A refusal Greenhouse may show nobody: also written to the account's
/// timeline (`ats.request_refused`) and sent to the vendor.
async fn refuse(state: &AppState, account: &Account, api_call: &str, refusal: Refusal) -> Response {
    let now = state.now();
    let data = json!({
        "ats": "greenhouse",
        "api_call": api_call,
        "status_code": refusal.status,
        "code": refusal.code,
        "message": refusal.message,
    });
    let webhook = OutboxMessage::Vendor {
        event: EventType::AtsRequestRefused,
        payload: webhook_body(
            EventType::AtsRequestRefused,
            now,
            json!({"account_id": account.id, "refusal": &data}),
        ),
    };
    match state
        .store
        .record_event(
            EventType::AtsRequestRefused,
            Some(&account.id),
            None,
            &data,
            Some(webhook),
            now,
        )
        .await
    {
        Ok(()) => state.work_added(),
        Err(e) => tracing::error!(error = %e, "could not record a refused Greenhouse call"),
    }
    let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    error(status, refusal.code, &refusal.message)
}

fn disabled() -> Refusal {
    Refusal {
        status: 422,
        code: "integration_disabled",
        message: "This integration is switched off for your organisation. Contact the vendor to turn it back on."
            .into(),
    }
}

async fn list_tests(State(state): State<AppState>, parts: Parts) -> Response {
    let account = match authenticate(&state, &parts, true).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if account.status() == AccountStatus::Disabled {
        return refuse(&state, &account, "list_tests", disabled()).await;
    }
    match state.store.list_packages().await {
        Ok(packages) => {
            let tests: Vec<_> = packages
                .iter()
                .filter(|p| p.offered_to(&account.id))
                .map(transformers::test_item)
                .collect();
            Json(tests).into_response()
        }
        Err(e) => internal(e),
    }
}

async fn send_test(State(state): State<AppState>, parts: Parts, body: Bytes) -> Response {
    let account = match authenticate(&state, &parts, true).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if account.status() == AccountStatus::Disabled {
        return refuse(&state, &account, "send_test", disabled()).await;
    }
    let now = state.now();
    let request =
        match transformers::parse_send_test(&body, &state.config.greenhouse_patch_hosts, now) {
            Ok(r) => r,
            Err(refusal) => return refuse(&state, &account, "send_test", refusal).await,
        };
    let package = match state.store.get_package(&request.partner_test_id).await {
        Ok(Some(p)) if p.offered_to(&account.id) => p,
        Ok(_) => {
            let refusal = Refusal {
                status: 404,
                code: "package_not_found",
                message: format!(
                    "The test {:?} is not offered to your organisation any more. Edit the job's partner stage in \
                     Greenhouse, pick one of the tests it lists, and send the test again.",
                    request.partner_test_id
                ),
            };
            return refuse(&state, &account, "send_test", refusal).await;
        }
        Err(e) => return internal(e),
    };
    // Kept as Greenhouse sent it (it parsed as a send_test, so it is JSON).
    let raw: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = OrderId::generate();
    if request.url.is_none() {
        tracing::warn!(order_id = %id, "send_test without a url: no doorbell can be rung for this order");
    }
    // Each Send Test click has its own url: a repeat of one click is the same order.
    let dedupe_key = request
        .url
        .clone()
        .unwrap_or_else(|| format!("no-url:{id}"));
    let new = NewOrder::from_intake(
        id,
        account.id.clone(),
        Ats::Greenhouse,
        &package,
        request.intake,
        raw,
        Some(dedupe_key),
        now,
    );
    match state
        .store
        .create_order(new, |order| {
            vec![order_webhook(EventType::OrderCreated, order, now)]
        })
        .await
    {
        Ok(created) => {
            if created.created {
                state.work_added();
                tracing::info!(order_id = %created.order.id, account_id = %account.id, package = %package.id, "order created");
            }
            Json(json!({"partner_interview_id": created.order.id.to_string()})).into_response()
        }
        Err(e) => internal(e),
    }
}

#[derive(serde::Deserialize)]
struct StatusQuery {
    partner_interview_id: Option<String>,
}

/// Served from the order as it stands, without any write: Greenhouse may
/// poll every open order hourly for 8 weeks.
async fn test_status(State(state): State<AppState>, parts: Parts) -> Response {
    let account = match authenticate(&state, &parts, false).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let query: StatusQuery = match serde_urlencoded::from_str(parts.uri.query().unwrap_or("")) {
        Ok(q) => q,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                &format!("the query string cannot be read: {e}"),
            )
        }
    };
    let Some(raw_id) = query.partner_interview_id.filter(|s| !s.trim().is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "partner_interview_id is missing: send the id send_test answered",
        );
    };
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no test with this partner_interview_id",
        )
    };
    let Ok(id) = raw_id.trim().parse::<OrderId>() else {
        return not_found();
    };
    match state.store.get_order(&id, Some(&account.id)).await {
        Ok(Some(order)) => {
            let answer =
                transformers::test_status(&order, || super::status_page_url(&state, &order.id));
            Json(answer).into_response()
        }
        Ok(None) => not_found(),
        Err(e) => internal(e),
    }
}

/// Greenhouse could not use an answer: always 200 `{"status": 200}`; the
/// report goes on the order's timeline (or the account's), to the vendor as
/// `ats.response_error`, and to the dashboard.
async fn response_error(State(state): State<AppState>, parts: Parts, body: Bytes) -> Response {
    let account = match authenticate(&state, &parts, true).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let (report, unreadable) = ResponseError::parse(&body);
    let order = match report
        .interview_id()
        .and_then(|i| i.parse::<OrderId>().ok())
    {
        Some(id) => match state.store.get_order(&id, Some(&account.id)).await {
            Ok(found) => found.map(|o| o.id),
            Err(e) => return internal(e),
        },
        None => None,
    };
    let now = state.now();
    let data = report.event_data(unreadable);
    tracing::warn!(account_id = %account.id, order_id = ?order, report = %data, "Greenhouse reported an invalid response");
    let webhook = OutboxMessage::Vendor {
        event: EventType::AtsResponseError,
        payload: webhook_body(
            EventType::AtsResponseError,
            now,
            json!({"account_id": account.id, "order_id": order, "report": &data}),
        ),
    };
    if let Err(e) = state
        .store
        .record_event(
            EventType::AtsResponseError,
            Some(&account.id),
            order.as_ref(),
            &data,
            Some(webhook),
            now,
        )
        .await
    {
        return internal(e);
    }
    state.work_added();
    Json(json!({"status": 200})).into_response()
}

/// What a Greenhouse user sees behind the report link of an order that ended
/// without a report: the package, the outcome, the reason and the date; no
/// candidate data.
async fn status_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let not_found = || {
        crate::ui::message(
            StatusCode::NOT_FOUND,
            "This page does not exist",
            "Check that you opened the whole link from Greenhouse.",
        )
    };
    let Some((id, _)) = token.split_once('.') else {
        return not_found();
    };
    let Ok(id) = id.parse::<OrderId>() else {
        return not_found();
    };
    let expected = super::status_page_token(&state, &id);
    if !bool::from(expected.as_bytes().ct_eq(token.as_bytes())) {
        return not_found();
    }
    let order = match state.store.get_order(&id, None).await {
        Ok(Some(o)) => o,
        Ok(None) => return not_found(),
        Err(e) => return internal(e),
    };
    let when = screenhub_core::clock::rfc3339(order.terminal_at.unwrap_or(order.updated_at));
    let (heading, text) = match order.status {
        OrderStatus::Cancelled => (
            "This check was cancelled",
            format!(
                "{}: cancelled on {when}. Reason: {}.",
                order.package_name,
                order.cancel_reason.as_deref().unwrap_or("none given")
            ),
        ),
        OrderStatus::Failed => (
            "This check could not be completed",
            format!(
                "{}: ended on {when} without a result. Reason: {}.",
                order.package_name,
                order.failure_reason.as_deref().unwrap_or("none given")
            ),
        ),
        OrderStatus::Completed => (
            "This check is complete",
            format!(
                "{}: completed on {when}. The vendor's report holds the result.",
                order.package_name
            ),
        ),
        _ => (
            "This check is still running",
            format!("{}: not finished yet.", order.package_name),
        ),
    };
    crate::ui::message(StatusCode::OK, heading, text)
}
