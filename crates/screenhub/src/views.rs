//! The JSON shapes of the vendor API's resources (also the `data` of webhooks).
//! Times are RFC 3339 strings in UTC.

use screenhub_core::account::{AccountStatus, Ats, Environment};
use screenhub_core::clock::{rfc3339, Millis};
use screenhub_core::delivery::{DeliveryState, DeliveryTarget};
use screenhub_core::intake::{Candidate, Job};
use screenhub_core::order::{Actor, OrderStatus, Outcome, Score, ScreeningResult};
use screenhub_core::package::PackageKind;
use screenhub_core::{AccountId, DeliveryId, EndpointId, OrderId};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

fn time(ms: Millis) -> String {
    rfc3339(ms)
}

fn opt_time(ms: Option<Millis>) -> Option<String> {
    ms.map(rfc3339)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: AccountId,
    pub name: String,
    pub ats: Ats,
    pub environment: Environment,
    pub status: AccountStatus,
    /// Why the account is in `error`, or why it needs attention although
    /// `active` (updates to the ATS keep failing), for a person.
    pub status_reason: Option<String>,
    /// Ashby's public API base URL used for this account (Greenhouse: its
    /// web host; the hub calls only the URLs Greenhouse sends).
    pub ats_api_base_url: String,
    /// The base URL the employer's ATS calls: `<public URL>/ats/<ats>`.
    pub ats_partner_base_url: String,
    /// The start of the current External Trigger Token, to recognise it.
    pub token_prefix: String,
    /// Whether a verified ATS API key is stored.
    pub ats_credentials_verified: bool,
    /// The title Ashby gave the verified API key (Greenhouse: which PATCH
    /// credential override is stored, if any).
    pub ats_key_title: Option<String>,
    /// When the ATS first and last called the hub with the account's token
    /// (recorded for Greenhouse, whose first call makes the account active).
    pub first_ats_call_at: Option<String>,
    pub last_ats_call_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub last_activity_at: Option<String>,
    /// How updates to the account's ATS are faring.
    pub ats_delivery: HealthView,
}

impl AccountView {
    pub fn new(a: &screenhub_store::Account, partner_base_url: String) -> Self {
        Self {
            id: a.id.clone(),
            name: a.name.clone(),
            ats: a.ats,
            environment: a.environment,
            status: a.status(),
            status_reason: a.status_reason.clone().or_else(|| ats_failing_reason(a)),
            ats_api_base_url: a.ats_api_base_url.clone(),
            ats_partner_base_url: partner_base_url,
            token_prefix: a.token_prefix.clone(),
            ats_credentials_verified: a.has_ats_api_key,
            ats_key_title: a.ats_key_title.clone(),
            first_ats_call_at: opt_time(a.first_ats_call_at),
            last_ats_call_at: opt_time(a.last_ats_call_at),
            created_at: time(a.created_at),
            updated_at: time(a.updated_at),
            last_activity_at: opt_time(a.last_activity_at),
            ats_delivery: HealthView::from(&a.ats_health),
        }
    }
}

/// Why an account whose ATS updates keep failing needs attention.
fn ats_failing_reason(a: &screenhub_store::Account) -> Option<String> {
    let h = &a.ats_health;
    let since = h.failing_since.filter(|_| h.is_failing())?;
    Some(format!(
        "Updates to the ATS have been failing since {} ({} attempts in a row); last error: {}",
        time(since),
        h.consecutive_failures,
        h.last_error.as_deref().unwrap_or("unknown"),
    ))
}

/// An account as created: the only time the API shows its token.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountWithToken {
    #[serde(flatten)]
    pub account: AccountView,
    /// Ashby: paste it into the integration's "API Key" field. Greenhouse:
    /// the key Greenhouse Support sets up (at most 170 characters). Shown once.
    pub external_trigger_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PackageView {
    /// The vendor's slug.
    pub id: String,
    /// The stable UUID Ashby sees as the Assessment Type id.
    pub ats_type_id: uuid::Uuid,
    pub kind: PackageKind,
    pub name: String,
    pub description: String,
    pub screenings: Vec<String>,
    /// Offered only to these accounts; `null` means every account.
    pub account_ids: Option<Vec<AccountId>>,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&screenhub_store::Package> for PackageView {
    fn from(p: &screenhub_store::Package) -> Self {
        Self {
            id: p.id.clone(),
            ats_type_id: p.ats_type_id,
            kind: p.kind,
            name: p.name.clone(),
            description: p.description.clone(),
            screenings: p.screenings.clone(),
            account_ids: p.account_ids.clone(),
            active: p.active,
            created_at: time(p.created_at),
            updated_at: time(p.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    /// The ATS's application id (empty when the ATS did not say).
    pub ats_id: String,
    /// As the ATS sent it (Ashby: `Active`, `Hired`, `Archived` or `Lead`);
    /// `null` when the ATS sends none (Greenhouse).
    pub status: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressView {
    pub label: Option<String>,
    pub eta_minutes: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResultView {
    pub outcome: Outcome,
    pub report_url: String,
    pub summary: Option<String>,
    pub score: Option<Score>,
    pub screenings: Vec<ScreeningResult>,
    pub completed_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CancellationView {
    pub reason: String,
    /// `ats` when cancelled in Ashby, `vendor` when the vendor cancelled.
    pub by: Actor,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    /// Also the id the ATS knows the check by (Ashby's `assessment_id`,
    /// Greenhouse's `partner_interview_id`).
    pub id: OrderId,
    pub account_id: AccountId,
    /// The ATS the order came from.
    pub ats: Ats,
    pub package_id: String,
    pub package_name: String,
    pub status: OrderStatus,
    /// Set when `completed`.
    pub outcome: Option<Outcome>,
    /// The candidate, in the same shape whatever the ATS. `null` once the
    /// candidate's data has been purged.
    pub candidate: Option<Candidate>,
    pub application: ApplicationView,
    /// `null` when the ATS sends no job (Greenhouse) or once purged.
    pub job: Option<Job>,
    /// Custom-field values the ATS sent (field id → value).
    #[schema(value_type = Option<Object>)]
    pub additional_fields: Option<Value>,
    /// What only this ATS sends that a vendor may still want, as its
    /// connector names it (Greenhouse: `sent_by`, `resume_url` and
    /// `resume_url_expires_at`, `partner_test_id`, `patch_url`). `null` once purged.
    #[schema(value_type = Option<Object>)]
    pub ats_details: Option<Value>,
    pub progress: Option<ProgressView>,
    pub result: Option<ResultView>,
    pub cancellation: Option<CancellationView>,
    pub failure_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// When the order reached a terminal status.
    pub ended_at: Option<String>,
}

impl From<&screenhub_store::Order> for OrderView {
    fn from(o: &screenhub_store::Order) -> Self {
        let intake = o.intake.as_ref();
        Self {
            id: o.id,
            account_id: o.account_id.clone(),
            ats: o.ats,
            package_id: o.package_id.clone(),
            package_name: o.package_name.clone(),
            status: o.status,
            outcome: o.outcome,
            candidate: intake.map(|i| i.candidate.clone()),
            application: ApplicationView {
                ats_id: o.application_ats_id.clone(),
                status: (!o.application_status.is_empty()).then(|| o.application_status.clone()),
            },
            job: intake.and_then(|i| i.job.clone()),
            additional_fields: intake.and_then(|i| i.additional_fields.clone()),
            ats_details: intake.map(|i| i.ats_details.clone()),
            progress: (o.progress_label.is_some() || o.eta_minutes.is_some()).then(|| {
                ProgressView {
                    label: o.progress_label.clone(),
                    eta_minutes: o.eta_minutes,
                }
            }),
            result: o.result.as_ref().map(|r| ResultView {
                outcome: r.outcome,
                report_url: r.report_url.clone(),
                summary: r.summary.clone(),
                score: r.score.clone(),
                screenings: r.screenings.clone(),
                completed_at: time(r.completed_at),
            }),
            cancellation: o.cancel_reason.as_ref().map(|reason| CancellationView {
                reason: reason.clone(),
                by: o.cancelled_by.unwrap_or(Actor::Vendor),
            }),
            failure_reason: o.failure_reason.clone(),
            created_at: time(o.created_at),
            updated_at: time(o.updated_at),
            ended_at: opt_time(o.terminal_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// Position in the feed; strictly increasing.
    pub seq: i64,
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "order.created")]
    pub event_type: String,
    pub account_id: Option<AccountId>,
    pub order_id: Option<OrderId>,
    #[schema(value_type = Object)]
    pub data: Value,
    pub created_at: String,
}

impl From<&screenhub_store::Event> for EventView {
    fn from(e: &screenhub_store::Event) -> Self {
        Self {
            seq: e.seq,
            event_type: e.event_type.as_str().to_owned(),
            account_id: e.account_id.clone(),
            order_id: e.order_id,
            data: e.data.clone(),
            created_at: time(e.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetail {
    #[serde(flatten)]
    pub order: OrderView,
    /// The ATS's start request exactly as received, unknown fields included
    /// (`null` once the candidate's data has been purged).
    #[schema(value_type = Option<Object>)]
    pub ats_request: Option<Value>,
    /// Everything that happened to the order, oldest first.
    pub events: Vec<EventView>,
    pub deliveries: Vec<DeliveryView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointView {
    pub id: EndpointId,
    pub url: String,
    pub description: String,
    /// Subscribed event types; `null` means all.
    pub events: Option<Vec<String>>,
    pub disabled: bool,
    pub created_at: String,
    pub updated_at: String,
    #[serde(flatten)]
    pub health: HealthView,
}

/// How deliveries to a receiver are faring: `failing` once they have kept
/// failing (see `failing_after_attempts` and `failing_after_secs` in the
/// configuration), `healthy` again after the next success.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    #[schema(example = "healthy")]
    pub health: Health,
    /// When the current run of failures began (only while `failing`).
    pub failing_since: Option<String>,
    /// Failed attempts in a row since the last success.
    pub consecutive_failures: i64,
    /// The last failure of the current run.
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Healthy,
    Failing,
}

impl From<&screenhub_store::ReceiverHealth> for HealthView {
    fn from(h: &screenhub_store::ReceiverHealth) -> Self {
        let failing = h.is_failing();
        Self {
            health: if failing {
                Health::Failing
            } else {
                Health::Healthy
            },
            failing_since: h.failing_since.filter(|_| failing).map(time),
            consecutive_failures: h.consecutive_failures,
            last_error: h.last_error.clone(),
        }
    }
}

impl From<&screenhub_store::WebhookEndpoint> for EndpointView {
    fn from(e: &screenhub_store::WebhookEndpoint) -> Self {
        Self {
            id: e.id.clone(),
            url: e.url.clone(),
            description: e.description.clone(),
            events: e
                .events
                .as_ref()
                .map(|ev| ev.iter().map(|t| t.as_str().to_owned()).collect()),
            disabled: e.disabled,
            created_at: time(e.created_at),
            updated_at: time(e.updated_at),
            health: HealthView::from(&e.health),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// The Standard Webhooks signing secret (`whsec_…`). Shown once.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// Also the `webhook-id` header of a vendor webhook: stable across retries.
    pub id: DeliveryId,
    pub target: DeliveryTarget,
    pub account_id: Option<AccountId>,
    pub order_id: Option<OrderId>,
    pub endpoint_id: Option<EndpointId>,
    /// `order.created`, `assessment.update`, …
    pub event_type: String,
    pub state: DeliveryState,
    pub attempt_count: i64,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<String>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub completed_at: Option<String>,
}

impl DeliveryView {
    /// The delivery as an attempt that ended it (`failed` or `dead`) at `at`
    /// leaves it.
    pub fn after_attempt(
        mut self,
        attempt: &screenhub_store::Attempt,
        state: DeliveryState,
        at: Millis,
    ) -> Self {
        self.state = state;
        self.attempt_count = attempt.attempt;
        self.last_status_code = attempt.status_code;
        self.last_error = attempt.error.clone();
        self.next_attempt_at = None;
        self.updated_at = time(at);
        self.completed_at = Some(time(at));
        self
    }
}

impl From<&screenhub_store::Delivery> for DeliveryView {
    fn from(d: &screenhub_store::Delivery) -> Self {
        Self {
            id: d.id.clone(),
            target: d.target,
            account_id: d.account_id.clone(),
            order_id: d.order_id,
            endpoint_id: d.endpoint_id.clone(),
            event_type: d.event_type.clone(),
            state: d.state,
            attempt_count: d.attempts,
            next_attempt_at: (d.state == DeliveryState::Pending).then(|| time(d.next_attempt_at)),
            last_status_code: d.last_status,
            last_error: d.last_error.clone(),
            created_at: time(d.created_at),
            updated_at: time(d.updated_at),
            completed_at: opt_time(d.completed_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub attempt: i64,
    pub started_at: String,
    pub duration_ms: i64,
    /// `null` when no HTTP answer came back.
    pub status_code: Option<i64>,
    pub error: Option<String>,
    /// The start of the response body (at most 1 KiB).
    pub response_excerpt: Option<String>,
}

impl From<&screenhub_store::Attempt> for AttemptView {
    fn from(a: &screenhub_store::Attempt) -> Self {
        Self {
            attempt: a.attempt,
            started_at: time(a.started_at),
            duration_ms: a.duration_ms,
            status_code: a.status_code,
            error: a.error.clone(),
            response_excerpt: a.response_excerpt.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryView,
    /// The body sent (the same on every attempt).
    #[schema(value_type = Object)]
    pub payload: Value,
    /// Every attempt, oldest first.
    pub attempts: Vec<AttemptView>,
}

/// A page of a list, newest first unless said otherwise.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}
