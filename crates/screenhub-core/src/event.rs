//! Event types: the append-only history behind every order's timeline, the
//! `/v1/events` feed, and the vendor webhooks.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "order.created")]
    OrderCreated,
    #[serde(rename = "order.in_progress")]
    OrderInProgress,
    #[serde(rename = "order.completed")]
    OrderCompleted,
    #[serde(rename = "order.cancelled")]
    OrderCancelled,
    #[serde(rename = "order.failed")]
    OrderFailed,
    /// An outbound delivery was refused for good (e.g. Ashby said `success:false`).
    #[serde(rename = "delivery.failed")]
    DeliveryFailed,
    /// An outbound delivery used up its retry schedule.
    #[serde(rename = "delivery.exhausted")]
    DeliveryExhausted,
    #[serde(rename = "delivery.succeeded")]
    DeliverySucceeded,
    #[serde(rename = "account.created")]
    AccountCreated,
    #[serde(rename = "account.connected")]
    AccountConnected,
    #[serde(rename = "account.error")]
    AccountError,
    #[serde(rename = "account.updated")]
    AccountUpdated,
    #[serde(rename = "account.token_rotated")]
    AccountTokenRotated,
    /// Updates to the account's ATS have kept failing.
    #[serde(rename = "account.ats_failing")]
    AccountAtsFailing,
    /// Updates to the account's ATS succeed again.
    #[serde(rename = "account.ats_recovered")]
    AccountAtsRecovered,
    /// Deliveries to a webhook endpoint have kept failing.
    #[serde(rename = "endpoint.failing")]
    EndpointFailing,
    /// Deliveries to a webhook endpoint succeed again.
    #[serde(rename = "endpoint.recovered")]
    EndpointRecovered,
    /// The ATS reported that it could not use an answer of the hub
    /// (Greenhouse's `response_error`), on an order or on the account.
    #[serde(rename = "ats.response_error")]
    AtsResponseError,
    /// The hub refused a request from the ATS (e.g. a Greenhouse `send_test`
    /// for a test the account does not offer): the ATS may show nobody.
    #[serde(rename = "ats.request_refused")]
    AtsRequestRefused,
    /// The ATS refused the credential the hub calls it with (Greenhouse's
    /// PATCH credential, deployment-wide or the account's override).
    #[serde(rename = "ats.credential_rejected")]
    AtsCredentialRejected,
}

impl EventType {
    pub const ALL: [EventType; 20] = [
        Self::OrderCreated,
        Self::OrderInProgress,
        Self::OrderCompleted,
        Self::OrderCancelled,
        Self::OrderFailed,
        Self::DeliveryFailed,
        Self::DeliveryExhausted,
        Self::DeliverySucceeded,
        Self::AccountCreated,
        Self::AccountConnected,
        Self::AccountError,
        Self::AccountUpdated,
        Self::AccountTokenRotated,
        Self::AccountAtsFailing,
        Self::AccountAtsRecovered,
        Self::EndpointFailing,
        Self::EndpointRecovered,
        Self::AtsResponseError,
        Self::AtsRequestRefused,
        Self::AtsCredentialRejected,
    ];

    /// Event types a vendor may subscribe a webhook endpoint to.
    pub const WEBHOOK: [EventType; 13] = [
        Self::OrderCreated,
        Self::OrderCancelled,
        Self::DeliveryExhausted,
        Self::AccountConnected,
        Self::AccountError,
        Self::DeliveryFailed,
        Self::AccountAtsFailing,
        Self::AccountAtsRecovered,
        Self::EndpointFailing,
        Self::EndpointRecovered,
        Self::AtsResponseError,
        Self::AtsRequestRefused,
        Self::AtsCredentialRejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderCreated => "order.created",
            Self::OrderInProgress => "order.in_progress",
            Self::OrderCompleted => "order.completed",
            Self::OrderCancelled => "order.cancelled",
            Self::OrderFailed => "order.failed",
            Self::DeliveryFailed => "delivery.failed",
            Self::DeliveryExhausted => "delivery.exhausted",
            Self::DeliverySucceeded => "delivery.succeeded",
            Self::AccountCreated => "account.created",
            Self::AccountConnected => "account.connected",
            Self::AccountError => "account.error",
            Self::AccountUpdated => "account.updated",
            Self::AccountTokenRotated => "account.token_rotated",
            Self::AccountAtsFailing => "account.ats_failing",
            Self::AccountAtsRecovered => "account.ats_recovered",
            Self::EndpointFailing => "endpoint.failing",
            Self::EndpointRecovered => "endpoint.recovered",
            Self::AtsResponseError => "ats.response_error",
            Self::AtsRequestRefused => "ats.request_refused",
            Self::AtsCredentialRejected => "ats.credential_rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }

    pub fn is_webhook(self) -> bool {
        Self::WEBHOOK.contains(&self)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
