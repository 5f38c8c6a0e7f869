//! The hub's operations, free of HTTP: each handler (API, dashboard, CLI) calls
//! one of these. Every state change is written with its events and outbound
//! messages in one transaction, and wakes the dispatcher.

use screenhub_core::clock::{rfc3339, Millis};
use screenhub_core::event::EventType;
use screenhub_core::order::Change;
use screenhub_core::{AccountId, OrderId};
use screenhub_store::{Order, OutboxMessage, StoreError};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::connectors::connector;
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

/// The vendor webhook announcing `event` about `order`.
pub(crate) fn order_webhook(event: EventType, order: &Order, now: Millis) -> OutboxMessage {
    let order = OrderView::from(order);
    let payload = webhook_body(event, now, OrderData { order });
    OutboxMessage::Vendor { event, payload }
}

/// The vendor reports progress, a result, a failure or a cancellation: the
/// ATS hears of it as its connector says (Ashby: the matching
/// `assessment.update`, in order after earlier ones; Greenhouse: a doorbell
/// once the order ends), in the same transaction.
pub async fn vendor_change(
    state: &AppState,
    id: &OrderId,
    change: Change,
) -> Result<Order, ApiError> {
    let now = state.now();
    let cancelled = matches!(change, Change::Cancel { .. });
    let app = state.clone();
    let order = state
        .store
        .apply_change(id, None, change, now, move |order| {
            let mut out = connector(order.ats).outbox_for_change(&app, order);
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

/// Record an administrative action. A failure to record is logged, never
/// allowed to undo the action itself, which has already happened.
pub async fn audit(
    state: &AppState,
    actor: &str,
    action: &str,
    target: Option<(&str, &str)>,
    details: Value,
) {
    audit_in(&state.store, actor, action, target, details, state.now()).await;
}

/// [`audit`] for callers without an [`AppState`] (the CLI).
async fn audit_in(
    store: &screenhub_store::Store,
    actor: &str,
    action: &str,
    target: Option<(&str, &str)>,
    details: Value,
    now: Millis,
) {
    if let Err(e) = store
        .record_audit(actor, action, target, &details, now)
        .await
    {
        tracing::error!(error = %e, action, "could not write the audit log");
    }
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
/// time the secret in it is available) and when it expires. Every caller (API,
/// dashboard, CLI) goes into the audit log as `actor`.
pub async fn create_connect_link(
    store: &screenhub_store::Store,
    actor: &str,
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
    // The link itself is a secret and is not logged.
    audit_in(
        store,
        actor,
        "connect_session.created",
        Some(("account", account_id.as_str())),
        serde_json::json!({ "expires_at": rfc3339(expires_at) }),
        now,
    )
    .await;
    Ok((format!("{public_url}/connect/{token}"), expires_at))
}
