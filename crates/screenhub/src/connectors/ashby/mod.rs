//! Ashby: push both ways. Ashby calls `assessment.start`/`cancel` on the hub
//! (`routes`), and every order change is pushed to Ashby as an
//! `assessment.update` through the outbox, with the employer's API key.

use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use futures::future::BoxFuture;
use futures::FutureExt;
use screenhub_ashby::mapping::UpdateKind;
use screenhub_ashby::{assessment_update, AshbyError, AssessmentUpdate, AttemptClass};
use screenhub_core::account::{AccountStatus, Ats};
use screenhub_core::event::EventType;
use screenhub_core::intake::Intake;
use screenhub_core::order::{Actor, Change, OrderStatus, TransitionError};
use screenhub_core::{AccountId, OrderId};
use screenhub_store::{
    Account, AtsConnection, Delivery, NewOrder, Order, OutboxMessage, StoreError,
};

use super::{AttemptOutcome, ConnectGuide, Connector, CredentialsInput};
use crate::error::ApiError;
use crate::ops::order_webhook;
use crate::state::AppState;

pub mod routes;
pub mod transformers;

pub use transformers::ats_update_for;

pub struct Ashby;

impl Connector for Ashby {
    fn ats(&self) -> Ats {
        Ats::Ashby
    }

    fn routes(&self) -> Router<AppState> {
        routes::router()
    }

    fn error_response(&self, status: StatusCode, code: &str, message: &str) -> Response {
        routes::envelope_error(status, code, message)
    }

    /// Every change is pushed: Ashby shows progress, the result, a cancel.
    fn outbox_for_change(&self, _state: &AppState, order: &Order) -> Vec<OutboxMessage> {
        ats_outbox(order).into_iter().collect()
    }

    fn deliver<'a>(
        &'a self,
        state: &'a AppState,
        connection: AtsConnection,
        delivery: &'a Delivery,
        payload: &'a str,
    ) -> BoxFuture<'a, AttemptOutcome> {
        async move {
            let Some(credentials) = connection.credentials else {
                return AttemptOutcome::permanent("the account has no verified Ashby API key");
            };
            if let Err(e) = state.policy.check_url(&credentials.base_url) {
                return AttemptOutcome::permanent(e);
            }
            let answer = state
                .ashby
                .call(
                    &credentials.base_url,
                    &credentials.api_key,
                    &delivery.event_type,
                    payload,
                )
                .await;
            let auth_rejected = answer.class == AttemptClass::AuthRejected;
            AttemptOutcome {
                verdict: answer.verdict(),
                status: answer.status,
                error: answer.error.clone(),
                excerpt: (!answer.response_excerpt.is_empty())
                    .then(|| answer.response_excerpt.clone()),
                credential_problem: auth_rejected.then(|| {
                    format!(
                        "Ashby rejected the API key (HTTP {}); the employer's admin must connect a new Ashby API key",
                        answer.status.unwrap_or_default()
                    )
                }),
            }
        }
        .boxed()
    }

    fn set_credentials<'a>(
        &'a self,
        state: &'a AppState,
        account: &'a Account,
        input: &'a CredentialsInput,
    ) -> BoxFuture<'a, Result<Account, ApiError>> {
        async move {
            if input.patch_username.is_some() || input.patch_password.is_some() {
                return Err(ApiError::validation(
                    "patch_username and patch_password are for Greenhouse accounts; an Ashby account takes api_key",
                ));
            }
            let api_key = input.api_key.as_deref().ok_or_else(|| {
                ApiError::validation(
                    "api_key is missing: send the Ashby API key the employer's admin created",
                )
            })?;
            connect_ats_key(state, &account.id, api_key).await
        }
        .boxed()
    }

    fn intake_from_request(&self, request: &serde_json::Value) -> Option<Intake> {
        transformers::intake_from_stored(request)
    }

    fn guide(&self) -> ConnectGuide {
        ConnectGuide {
            steps: &[
                "In Ashby, open Admin → Integrations and turn on \"Show unlaunched integrations\".",
                "Enable this vendor's integration and paste the External Trigger Token below into its \"API Key\" field.",
                "Create an Ashby API key with API Keys → Read, Candidates → Read and Candidates → Write, and paste it below.",
            ],
            takes_api_key: true,
            pending_label: "Waiting for the Ashby API key",
        }
    }
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
    let new = NewOrder::from_intake(
        OrderId::generate(),
        account.id.clone(),
        Ats::Ashby,
        &package,
        transformers::intake(&request),
        raw,
        None,
        now,
    );
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
