//! What the store hands out. Secrets stay sealed unless a method says it opens them.

use screenhub_core::account::{AccountStatus, Ats, Environment};
use screenhub_core::clock::Millis;
use screenhub_core::delivery::{DeliveryState, DeliveryTarget};
use screenhub_core::event::EventType;
use screenhub_core::intake::Intake;
use screenhub_core::order::{Actor, OrderResult, OrderStatus, Outcome};
use screenhub_core::package::PackageKind;
use screenhub_core::{AccountId, ApiKeyId, DeliveryId, EndpointId, OrderId};

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub prefix: String,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub ats: Ats,
    pub environment: Environment,
    /// The stored status; [`Account::status`] folds in `disabled_at`.
    pub connection_status: AccountStatus,
    pub status_reason: Option<String>,
    pub disabled_at: Option<Millis>,
    pub ats_api_base_url: String,
    pub has_ats_api_key: bool,
    pub ats_key_title: Option<String>,
    pub token_prefix: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub last_activity_at: Option<Millis>,
    /// When the ATS first and last called the hub with the account's token.
    pub first_ats_call_at: Option<Millis>,
    pub last_ats_call_at: Option<Millis>,
    /// How updates to the account's ATS are faring.
    pub ats_health: crate::ReceiverHealth,
}

impl Account {
    /// What a person should see: `disabled` wins over the connection status.
    pub fn status(&self) -> AccountStatus {
        if self.disabled_at.is_some() {
            AccountStatus::Disabled
        } else {
            self.connection_status
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    pub name: String,
    pub ats: Ats,
    pub environment: Environment,
    pub ats_api_base_url: String,
}

#[derive(Debug, Clone, Default)]
pub struct AccountPatch {
    pub name: Option<String>,
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    pub id: String,
    pub ats_type_id: uuid::Uuid,
    pub kind: PackageKind,
    pub name: String,
    pub description: String,
    pub screenings: Vec<String>,
    /// `None`: offered to every account.
    pub account_ids: Option<Vec<AccountId>>,
    pub active: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Package {
    pub fn offered_to(&self, account: &AccountId) -> bool {
        self.active
            && self
                .account_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(account))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PackageInput {
    pub id: String,
    pub kind: PackageKind,
    pub name: String,
    pub description: String,
    pub screenings: Vec<String>,
    pub account_ids: Option<Vec<AccountId>>,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    pub id: EndpointId,
    pub url: String,
    pub description: String,
    /// `None`: every webhook event type.
    pub events: Option<Vec<EventType>>,
    pub disabled: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// How deliveries to the endpoint are faring.
    pub health: crate::ReceiverHealth,
}

impl WebhookEndpoint {
    pub fn wants(&self, event: EventType) -> bool {
        !self.disabled && self.events.as_ref().is_none_or(|e| e.contains(&event))
    }
}

/// The signing secrets of an endpoint: the current one and, during a rotation's
/// grace period, the previous one (receivers may verify either).
#[derive(Debug, Clone)]
pub struct EndpointSecrets {
    pub current: String,
    pub previous: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: OrderId,
    pub account_id: AccountId,
    /// The ATS the order came from.
    pub ats: Ats,
    pub package_id: String,
    pub package_name: String,
    pub status: OrderStatus,
    pub outcome: Option<Outcome>,
    pub candidate_ats_id: String,
    pub application_ats_id: String,
    pub application_status: String,
    pub job_ats_id: String,
    pub job_name: String,
    pub job_req_id: Option<String>,
    /// The ATS's start request as received (candidate, job, hiring team,
    /// additional fields, unknown extras). PII: `None` once purged.
    pub ats_payload: Option<serde_json::Value>,
    /// The candidate, job and ATS extras as the connector normalized them at
    /// intake. PII: `None` once purged.
    pub intake: Option<Intake>,
    /// The ATS's own key for the order, unique per account (see [`NewOrder`]).
    pub dedupe_key: Option<String>,
    pub progress_label: Option<String>,
    pub eta_minutes: Option<i64>,
    pub result: Option<OrderResult>,
    pub cancel_reason: Option<String>,
    pub cancelled_by: Option<Actor>,
    pub failure_reason: Option<String>,
    pub last_ats_timestamp: Millis,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub terminal_at: Option<Millis>,
    pub pii_purged_at: Option<Millis>,
}

#[derive(Debug, Clone)]
pub struct NewOrder {
    pub id: OrderId,
    pub account_id: AccountId,
    pub ats: Ats,
    pub package_id: String,
    pub package_name: String,
    pub candidate_ats_id: String,
    pub candidate_email: String,
    pub application_ats_id: String,
    pub application_status: String,
    pub job_ats_id: String,
    pub job_name: String,
    pub job_req_id: Option<String>,
    pub ats_payload: serde_json::Value,
    /// The connector's normalized view of the request (sealed with the PII).
    pub intake: Intake,
    /// `Some`: the ATS's own key for this order; a second order with the same
    /// key on the account is the same order (Greenhouse's `url`). `None`: one
    /// live order per application and package (Ashby's retried start).
    pub dedupe_key: Option<String>,
    pub created_at: Millis,
}

impl NewOrder {
    /// A new order from what a connector made of an inbound request; the
    /// plain columns (ids, job) are copied out of the intake.
    #[allow(clippy::too_many_arguments)]
    pub fn from_intake(
        id: OrderId,
        account_id: AccountId,
        ats: Ats,
        package: &Package,
        intake: Intake,
        ats_payload: serde_json::Value,
        dedupe_key: Option<String>,
        created_at: Millis,
    ) -> Self {
        let c = &intake.candidate;
        let job = intake.job.as_ref();
        Self {
            id,
            account_id,
            ats,
            package_id: package.id.clone(),
            package_name: package.name.clone(),
            candidate_ats_id: c.ats_id.clone().unwrap_or_default(),
            candidate_email: c.email.clone(),
            application_ats_id: c.ats_application_id.clone().unwrap_or_default(),
            application_status: intake.application_status.clone().unwrap_or_default(),
            job_ats_id: job.map(|j| j.ats_id.clone()).unwrap_or_default(),
            job_name: job.map(|j| j.name.clone()).unwrap_or_default(),
            job_req_id: job.and_then(|j| j.req_id.clone()),
            ats_payload,
            intake,
            dedupe_key,
            created_at,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CreatedOrder {
    pub order: Order,
    /// false: a live order for this application and package already existed.
    pub created: bool,
}

#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub account_id: Option<AccountId>,
    pub status: Option<OrderStatus>,
    pub package_id: Option<String>,
    pub created_after: Option<Millis>,
    pub updated_after: Option<Millis>,
    pub candidate_email: Option<String>,
    /// Return orders older than this one (the cursor: newest first).
    pub before: Option<OrderId>,
    pub limit: u32,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub seq: i64,
    pub event_type: EventType,
    pub account_id: Option<AccountId>,
    pub order_id: Option<OrderId>,
    pub data: serde_json::Value,
    pub created_at: Millis,
}

/// An outbound message to write in the same transaction as the change causing it.
#[derive(Debug, Clone)]
pub enum OutboxMessage {
    /// An `assessment.update` (or similar) for the order's ATS account.
    Ats {
        event_type: String,
        payload: Box<serde_json::value::RawValue>,
    },
    /// A webhook to every enabled vendor endpoint subscribed to `event`.
    Vendor {
        event: EventType,
        payload: Box<serde_json::value::RawValue>,
    },
    /// The same, but not to `except`: news about that endpoint's own failures,
    /// which it would only fail to take as well.
    VendorElsewhere {
        event: EventType,
        payload: Box<serde_json::value::RawValue>,
        except: EndpointId,
    },
}

/// Serialise a message body once, when the change is made: it is sealed and
/// later sent as exactly this text (no tree of values built, parsed or rebuilt).
fn json_text(body: &impl serde::Serialize) -> Box<serde_json::value::RawValue> {
    serde_json::value::to_raw_value(body)
        .expect("message bodies have string keys and always serialise")
}

impl OutboxMessage {
    pub fn ats(event_type: impl Into<String>, body: &impl serde::Serialize) -> Self {
        Self::Ats {
            event_type: event_type.into(),
            payload: json_text(body),
        }
    }

    pub fn vendor(event: EventType, body: &impl serde::Serialize) -> Self {
        Self::Vendor {
            event,
            payload: json_text(body),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub seq: i64,
    pub id: DeliveryId,
    pub target: DeliveryTarget,
    pub account_id: Option<AccountId>,
    pub order_id: Option<OrderId>,
    pub endpoint_id: Option<EndpointId>,
    pub event_type: String,
    pub state: DeliveryState,
    pub attempts: i64,
    /// Attempts made before the current round (a manual retry starts a new round).
    pub round_start: i64,
    pub next_attempt_at: Millis,
    pub lease_owner: Option<String>,
    pub lease_until: Option<Millis>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub completed_at: Option<Millis>,
}

/// A delivery claimed by a worker, with its payload opened.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub delivery: Delivery,
    /// The body to send, as the JSON text written with the change.
    pub payload: String,
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub order_id: Option<OrderId>,
    pub target: Option<DeliveryTarget>,
    pub state: Option<DeliveryState>,
    pub account_id: Option<AccountId>,
    /// Failing (pending after a failed attempt) and dead first.
    pub troubled_first: bool,
    /// Return deliveries created before this sequence number (the cursor).
    pub before_seq: Option<i64>,
    pub limit: u32,
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub attempt: i64,
    pub started_at: Millis,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
}

/// What the worker decided after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptResult {
    Succeeded,
    RetryAt(Millis),
    /// Refused for good; the reason goes on the order's timeline.
    Failed,
    /// The retry schedule is used up.
    Dead,
}

/// What an `Idempotency-Key` lookup found.
#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyBegin {
    /// First use: run the request, then call `idempotency_complete`.
    New,
    /// Same key and same request already answered: replay this.
    Replay { status: u16, body: Vec<u8> },
    /// Same key, request still running.
    InProgress,
    /// Same key used for a different request.
    Mismatch,
}
