//! The hub's operations, free of HTTP: each handler (API, dashboard, CLI) calls
//! one of these. Every state change is written with its events and outbound
//! messages in one transaction, and wakes the dispatcher.

use axum::http::StatusCode;
use screenhub_ashby::mapping::UpdateKind;
use screenhub_ashby::{assessment_update, AshbyError, AssessmentUpdate};
use screenhub_core::account::AccountStatus;
use screenhub_core::clock::{rfc3339, Millis};
use screenhub_core::event::EventType;
use screenhub_core::order::{Actor, Change, OrderStatus, TransitionError};
use screenhub_core::{AccountId, OrderId};
use screenhub_store::{Account, NewOrder, Order, OutboxMessage, StoreError};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::ApiError;
use crate::state::AppState;
use crate::views::OrderView;

/// The body of a vendor webhook: `{type, timestamp, data}`.
#[derive(Serialize)]
pub struct WebhookBody<T> {
    #[serde(rename = "type")]
    pub event_type: &'static str,
    pub timestamp: String,
    pub data: T,
}

/// The JSON text of a vendor webhook announcing `event` with `data`.
pub fn webhook_body(event: EventType, now: Millis, data: impl Serialize) -> Box<RawValue> {
    let body = WebhookBody {
        event_type: event.as_str(),
        timestamp: rfc3339(now),
        data,
    };
    serde_json::value::to_raw_value(&body).expect("webhook bodies have string keys")
}

#[derive(Serialize)]
struct OrderData {
    order: OrderView,
}

fn order_webhook(event: EventType, order: &Order, now: Millis) -> OutboxMessage {
    let order = OrderView::from(order);
    let payload = webhook_body(event, now, OrderData { order });
    OutboxMessage::Vendor { event, payload }
}

/// The `assessment.update` that tells the ATS where an order stands now.
pub fn ats_update_for(order: &Order) -> Option<AssessmentUpdate> {
    let kind = match order.status {
        OrderStatus::Pending => UpdateKind::Started,
        OrderStatus::InProgress => UpdateKind::Progress {
            label: order.progress_label.as_deref(),
            eta_minutes: order.eta_minutes,
        },
        OrderStatus::Completed => UpdateKind::Completed(order.result.as_ref()?),
        OrderStatus::Cancelled => UpdateKind::Cancelled {
            reason: order.cancel_reason.as_deref().unwrap_or("Cancelled"),
        },
        OrderStatus::Failed => UpdateKind::Failed {
            reason: order.failure_reason.as_deref().unwrap_or("Unknown reason"),
        },
    };
    Some(assessment_update(
        order.id.0,
        order.last_ats_timestamp,
        kind,
    ))
}

fn ats_outbox(order: &Order) -> Option<OutboxMessage> {
    ats_update_for(order).map(|u| OutboxMessage::ats("assessment.update", &u))
}

/// A refusal of a partner-API call, worded for the recruiter who sees it in Ashby.
/// `status` is what `assessment.start` answers; `code` goes in the error
/// envelope of `assessment.cancel`, which answers every refusal with HTTP 200.
#[derive(Debug)]
pub struct AtsRejection {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl AtsRejection {
    fn unprocessable(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: screenhub_ashby::public::codes::INVALID_INPUT,
            message: message.into(),
        }
    }
    fn unknown_assessment(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: screenhub_ashby::public::codes::ASSESSMENT_NOT_FOUND,
            message: message.into(),
        }
    }
}

/// Either a refusal to show the recruiter, or our own failure.
#[derive(Debug)]
pub enum AtsFailure {
    Rejected(AtsRejection),
    Internal(StoreError),
}

impl From<StoreError> for AtsFailure {
    fn from(e: StoreError) -> Self {
        Self::Internal(e)
    }
}

impl From<AtsRejection> for AtsFailure {
    fn from(r: AtsRejection) -> Self {
        Self::Rejected(r)
    }
}

/// The answer to `assessment.start` / `assessment.cancel`.
pub struct AtsAnswer {
    pub order: Order,
    /// false: an earlier start for the same application and type was found.
    pub created: bool,
    pub update_request: Option<AssessmentUpdate>,
}

/// Ashby asks to start a check: validate, create the order (once per
/// application and type while it is live), queue `order.created` for the vendor.
pub async fn start_assessment(
    state: &AppState,
    account: &Account,
    body: &[u8],
) -> Result<AtsAnswer, AtsFailure> {
    match account.status() {
        AccountStatus::Active => {}
        AccountStatus::Pending => {
            return Err(AtsRejection::unprocessable(
                "This integration isn't finished yet: your Ashby admin still needs to connect an Ashby API key \
                 on the setup page the vendor sent. Once that's done, start the assessment again.",
            )
            .into())
        }
        AccountStatus::Error => {
            return Err(AtsRejection::unprocessable(format!(
                "The connection between Ashby and this vendor needs attention ({}). Ask your Ashby admin to \
                 reconnect an Ashby API key on the vendor's setup page, then start the assessment again.",
                account.status_reason.as_deref().unwrap_or("the Ashby API key stopped working")
            ))
            .into())
        }
        AccountStatus::Disabled => {
            return Err(AtsRejection::unprocessable(
                "The vendor has paused this integration for your organisation, so the check can't be started. \
                 Contact the vendor to turn it back on, then start the assessment again.",
            )
            .into())
        }
    }
    // The body as Ashby sent it, unknown fields included, is kept with the order.
    let (request, raw) = screenhub_ashby::parse_start_request_keeping_body(body)
        .map_err(|r| AtsRejection::unprocessable(r.message))?;
    let not_offered = || {
        AtsRejection::unprocessable(
            "This assessment type isn't offered any more. Pick another assessment type for this activity and start again.",
        )
    };
    let type_id: uuid::Uuid = request
        .assessment_type_id
        .trim()
        .parse()
        .map_err(|_| not_offered())?;
    let package = state
        .store
        .find_package_by_type_id(&type_id)
        .await?
        .ok_or_else(not_offered)?;
    if !package.offered_to(&account.id) {
        return Err(not_offered().into());
    }
    let now = state.now();
    let new = NewOrder {
        id: OrderId::generate(),
        account_id: account.id.clone(),
        package_id: package.id.clone(),
        package_name: package.name.clone(),
        candidate_ats_id: request.candidate.ashby_id.clone(),
        candidate_email: request.candidate.email.clone(),
        application_ats_id: request.application.ashby_id.clone(),
        application_status: request.application.status.as_str().to_owned(),
        job_ats_id: request.job.ashby_id.clone(),
        job_name: request.job.name.clone(),
        job_req_id: request.job.req_id.clone(),
        ats_payload: raw,
        created_at: now,
    };
    let created = state
        .store
        .create_order(new, |order| {
            vec![order_webhook(EventType::OrderCreated, order, now)]
        })
        .await?;
    if created.created {
        state.work_added();
        tracing::info!(order_id = %created.order.id, account_id = %account.id, package = %package.id, "order created");
    }
    // A retried start gets the same answer as the first while nothing else has happened.
    let update_request = (created.order.status == OrderStatus::Pending).then(|| {
        assessment_update(
            created.order.id.0,
            created.order.created_at,
            UpdateKind::Started,
        )
    });
    Ok(AtsAnswer {
        order: created.order,
        created: created.created,
        update_request,
    })
}

/// Ashby asks to cancel a check: the vendor hears `order.cancelled`, and the
/// answer's `update_request` carries `cancelled_reason` to confirm it. An order
/// that already ended (completed, failed or cancelled) is left as it is and
/// answered without `cancelled_reason`: there is nothing left to cancel.
pub async fn cancel_from_ats(
    state: &AppState,
    account: &Account,
    body: &[u8],
) -> Result<AtsAnswer, AtsFailure> {
    let request = screenhub_ashby::parse_cancel_request(body)
        .map_err(|r| AtsRejection::unprocessable(r.message))?;
    let unknown = || {
        AtsRejection::unknown_assessment(
            "This assessment isn't known to the vendor, so there is nothing to cancel. It may have been started \
             before the integration was reconnected.",
        )
    };
    let id: OrderId = request
        .assessment_id
        .trim()
        .parse()
        .map_err(|_| unknown())?;
    let now = state.now();
    let change = Change::Cancel {
        reason: "Cancelled in Ashby".into(),
        by: Actor::Ats,
    };
    let result = state
        .store
        .apply_change(&id, Some(&account.id), change, now, move |order| {
            vec![order_webhook(EventType::OrderCancelled, order, now)]
        })
        .await;
    match result {
        Ok(order) => {
            state.work_added();
            let update_request = ats_update_for(&order);
            Ok(AtsAnswer {
                order,
                created: false,
                update_request,
            })
        }
        Err(StoreError::NotFound) => Err(unknown().into()),
        Err(StoreError::Transition(TransitionError::Terminal(_))) => {
            let order = state
                .store
                .get_order(&id, Some(&account.id))
                .await?
                .ok_or_else(unknown)?;
            Ok(AtsAnswer {
                order,
                created: false,
                update_request: None,
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// The vendor reports progress, a result, a failure or a cancellation: the ATS
/// gets the matching `assessment.update` (in order, after earlier ones).
pub async fn vendor_change(
    state: &AppState,
    id: &OrderId,
    change: Change,
) -> Result<Order, ApiError> {
    let now = state.now();
    let cancelled = matches!(change, Change::Cancel { .. });
    let order = state
        .store
        .apply_change(id, None, change, now, move |order| {
            let mut out: Vec<OutboxMessage> = ats_outbox(order).into_iter().collect();
            if cancelled {
                out.push(order_webhook(EventType::OrderCancelled, order, now));
            }
            out
        })
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("order"),
            e => e.into(),
        })?;
    state.work_added();
    tracing::info!(order_id = %order.id, status = %order.status, "order changed by vendor");
    Ok(order)
}

/// An ATS API key as pasted: trimmed, not empty.
pub fn validate_ats_key(api_key: &str) -> Result<&str, ApiError> {
    let api_key = api_key.trim();
    if api_key.is_empty() {
        return Err(ApiError::validation(
            "api_key is empty: paste the Ashby API key the employer's admin created",
        ));
    }
    Ok(api_key)
}

/// Check an employer's ATS API key live and store it: the account becomes
/// `active`. A rejected key leaves the account as it was.
pub async fn connect_ats_key(
    state: &AppState,
    account_id: &AccountId,
    api_key: &str,
) -> Result<Account, ApiError> {
    let account = state
        .store
        .get_account(account_id)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    let api_key = validate_ats_key(api_key)?;
    state
        .policy
        .check_url(&account.ats_api_base_url)
        .map_err(|e| {
            ApiError::validation(format!(
                "the account's ATS API base URL cannot be used: {e}"
            ))
        })?;
    let info = state
        .ashby
        .api_key_info(&account.ats_api_base_url, api_key)
        .await
        .map_err(|e| {
            let status = match e {
                AshbyError::KeyRejected { .. } | AshbyError::MissingPermission { .. } => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                AshbyError::Unreachable(_) | AshbyError::Timeout | AshbyError::Unexpected(_) => {
                    StatusCode::BAD_GATEWAY
                }
            };
            ApiError::new(status, e.code(), e.to_string())
        })?;
    let account = state
        .store
        .set_ats_credentials(account_id, api_key, info.title.as_deref(), state.now())
        .await?;
    tracing::info!(account_id = %account.id, "ATS API key verified");
    Ok(account)
}

/// Record an administrative action. A failure to record is logged, never
/// allowed to undo the action itself, which has already happened.
pub async fn audit(
    state: &AppState,
    actor: &str,
    action: &str,
    target: Option<(&str, &str)>,
    details: Value,
) {
    if let Err(e) = state
        .store
        .record_audit(actor, action, target, &details, state.now())
        .await
    {
        tracing::error!(error = %e, action, "could not write the audit log");
    }
}

/// A connect link was made (the link itself is a secret and is not logged).
pub async fn audit_connect_link(
    state: &AppState,
    actor: &str,
    account_id: &AccountId,
    expires_at: Millis,
) {
    audit(
        state,
        actor,
        "connect_session.created",
        Some(("account", account_id.as_str())),
        serde_json::json!({ "expires_at": rfc3339(expires_at) }),
    )
    .await;
}

/// How long a connect link works unless asked otherwise: 7 days.
pub const CONNECT_LINK_DEFAULT_SECS: u64 = 7 * 24 * 3600;
const CONNECT_LINK_MAX_SECS: u64 = 30 * 24 * 3600;

/// How long a connect link works, in seconds: 60 s to 30 days.
pub fn connect_link_lifetime(expires_in_secs: Option<u64>) -> Result<u64, ApiError> {
    let secs = expires_in_secs.unwrap_or(CONNECT_LINK_DEFAULT_SECS);
    if !(60..=CONNECT_LINK_MAX_SECS).contains(&secs) {
        return Err(ApiError::validation(format!(
            "expires_in must be between 60 and {CONNECT_LINK_MAX_SECS} seconds (30 days)"
        )));
    }
    Ok(secs)
}

/// A one-time link to the employer's connect page; returns its URL (the only
/// time the secret in it is available) and when it expires.
pub async fn create_connect_link(
    store: &screenhub_store::Store,
    public_url: &str,
    account_id: &AccountId,
    expires_in_secs: Option<u64>,
    now: Millis,
) -> Result<(String, Millis), ApiError> {
    let secs = connect_link_lifetime(expires_in_secs)?;
    let account = store
        .get_account(account_id)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    if account.disabled_at.is_some() {
        return Err(ApiError::conflict(
            "account_disabled",
            "this account is disabled; enable it before sending a connect link",
        ));
    }
    let expires_at = now + (secs as Millis) * 1000;
    let (_, token) = store
        .create_connect_session(account_id, expires_at, now)
        .await?;
    tracing::info!(account_id = %account_id, "connect link created");
    Ok((format!("{public_url}/connect/{token}"), expires_at))
}
