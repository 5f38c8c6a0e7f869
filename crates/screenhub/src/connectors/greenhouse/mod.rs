//! Greenhouse: pull, not push. Greenhouse calls `list_tests`, `send_test`,
//! `test_status` and `response_error` on the hub (`routes`), with the
//! account's token as the Basic username; results are read from the order
//! whenever Greenhouse asks. When an order ends, one doorbell (`PATCH <url>`,
//! no body, with the deployment's partner credential) goes out through the
//! outbox so that Greenhouse reads `test_status` at once.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures::future::BoxFuture;
use futures::FutureExt;
use screenhub_core::account::Ats;
use screenhub_core::delivery::Verdict;
use screenhub_core::event::EventType;
use screenhub_core::intake::Intake;
use screenhub_core::OrderId;
use screenhub_store::{Account, AtsConnection, Delivery, Order, OutboxMessage};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{AttemptOutcome, ConnectGuide, Connector, CredentialsInput};
use crate::error::ApiError;
use crate::ops::webhook_body;
use crate::state::AppState;

pub mod routes;
pub mod transformers;

/// The outbox event type of the doorbell.
pub const DOORBELL: &str = "greenhouse.mark_completed";
/// Where the deployment's PATCH credential trouble is kept for the dashboard.
pub const CREDENTIAL_PROBLEM_SETTING: &str = "greenhouse.patch_credential_problem";
/// Greenhouse's limit on the key it stores: "less than 171 characters".
pub const MAX_TOKEN_CHARS: usize = 170;

pub struct Greenhouse;

/// The doorbell's payload: where to ring.
#[derive(Debug, Serialize, Deserialize)]
struct Doorbell {
    url: String,
}

/// An account's own PATCH credential (the sealed value Greenhouse accounts keep).
#[derive(Serialize, Deserialize)]
struct PatchCredential {
    patch_username: String,
    patch_password: String,
}

impl Connector for Greenhouse {
    fn ats(&self) -> Ats {
        Ats::Greenhouse
    }

    fn routes(&self) -> Router<AppState> {
        routes::router()
    }

    /// Greenhouse documents no error body; the vendor API's shape is used,
    /// except that a 401 says nothing (no hint whether the key was missing
    /// or unknown).
    fn error_response(&self, status: StatusCode, code: &str, message: &str) -> Response {
        if status == StatusCode::UNAUTHORIZED {
            return status.into_response();
        }
        let body = json!({"error": {"code": code, "message": message}});
        (status, axum::Json(body)).into_response()
    }

    /// One doorbell when the order ends (completed, cancelled or failed),
    /// queued with the change that makes `test_status` answer `complete`.
    fn outbox_for_change(&self, _state: &AppState, order: &Order) -> Vec<OutboxMessage> {
        if !order.status.is_terminal() {
            return vec![];
        }
        patch_url(order)
            .map(|url| OutboxMessage::ats(DOORBELL, &Doorbell { url }))
            .into_iter()
            .collect()
    }

    fn deliver<'a>(
        &'a self,
        state: &'a AppState,
        connection: AtsConnection,
        delivery: &'a Delivery,
        payload: &'a str,
    ) -> BoxFuture<'a, AttemptOutcome> {
        ring(state, connection, delivery, payload).boxed()
    }

    fn set_credentials<'a>(
        &'a self,
        state: &'a AppState,
        account: &'a Account,
        input: &'a CredentialsInput,
    ) -> BoxFuture<'a, Result<Account, ApiError>> {
        async move {
            if input.api_key.is_some() {
                return Err(ApiError::validation(
                    "a Greenhouse account has no API key to paste: Greenhouse calls the hub with the account's token. \
                     To override the deployment's PATCH credential, send patch_username and patch_password",
                ));
            }
            let username = input.patch_username.as_deref().unwrap_or("").trim();
            let password = input.patch_password.as_deref().unwrap_or("");
            if username.is_empty() != password.is_empty() {
                return Err(ApiError::validation(
                    "send both patch_username and patch_password (the Basic credential Greenhouse gave for the PATCH), \
                     or both empty to use the deployment's again",
                ));
            }
            if username.len() > 512 || password.len() > 512 || username.contains(':') {
                return Err(ApiError::validation(
                    "patch_username must have no colon, and each of patch_username and patch_password at most 512 characters",
                ));
            }
            let now = state.now();
            let account = if username.is_empty() {
                state.store.clear_ats_credentials(&account.id, now).await?
            } else {
                let sealed = serde_json::to_string(&PatchCredential {
                    patch_username: username.to_owned(),
                    patch_password: password.to_owned(),
                })
                .expect("a credential serialises");
                let title = format!("PATCH credential override ({username})");
                state
                    .store
                    .store_ats_credentials(&account.id, &sealed, Some(&title), false, now)
                    .await?
            };
            Ok(account)
        }
        .boxed()
    }

    fn active_on_first_call(&self) -> bool {
        true
    }

    fn max_token_len(&self) -> Option<usize> {
        Some(MAX_TOKEN_CHARS)
    }

    fn intake_from_request(&self, _request: &serde_json::Value) -> Option<Intake> {
        // Every Greenhouse order was written with its intake.
        None
    }

    fn guide(&self) -> ConnectGuide {
        ConnectGuide {
            steps: &[
                "In Greenhouse, open a ticket with Greenhouse Support asking to enable this vendor's assessment integration. Do not put the key in the ticket.",
                "Greenhouse Support replies with a secure (SendSafely) link: paste the key shown below there, and wait for Greenhouse's confirmation email.",
                "On each job that needs checks: Job Setup → Interview Plan → Add stage → this vendor's stage → Edit → pick the test and at least one grader → Save.",
                "Move a candidate to that stage and click Send Test. Results appear on the stage, with a link to the report.",
            ],
            takes_api_key: false,
            pending_label: "Waiting for Greenhouse's first call",
        }
    }
}

/// The doorbell URL Greenhouse sent with `send_test`, if it sent one.
pub fn patch_url(order: &Order) -> Option<String> {
    order
        .intake
        .as_ref()?
        .ats_details
        .get("patch_url")?
        .as_str()
        .map(str::to_owned)
}

/// The hub's page for an order that ended without a report: an unguessable
/// address (order id plus a keyed hash of it) that holds no candidate data.
pub fn status_page_url(state: &AppState, id: &OrderId) -> String {
    format!(
        "{}/status/{}",
        state.public_url,
        status_page_token(state, id)
    )
}

pub fn status_page_token(state: &AppState, id: &OrderId) -> String {
    let mac = state
        .store
        .cipher()
        .index_hash(&format!("greenhouse status page {id}"));
    format!("{id}.{}", hex::encode(&mac[..16]))
}

/// Ring the doorbell: `PATCH <url>`, no body, with the account's override
/// or the deployment's credential, only to an allowed host.
async fn ring(
    state: &AppState,
    connection: AtsConnection,
    delivery: &Delivery,
    payload: &str,
) -> AttemptOutcome {
    let Ok(doorbell) = serde_json::from_str::<Doorbell>(payload) else {
        return AttemptOutcome::permanent("the doorbell message is not readable");
    };
    if let Err(e) =
        transformers::check_patch_url(&doorbell.url, &state.config.greenhouse_patch_hosts)
    {
        return AttemptOutcome::permanent(e.message);
    }
    if let Err(e) = state.policy.check_url(&doorbell.url) {
        return AttemptOutcome::permanent(e);
    }
    let own = connection
        .credentials
        .as_ref()
        .and_then(|c| serde_json::from_str::<PatchCredential>(&c.api_key).ok());
    let (username, password, which) = match &own {
        Some(c) => (
            c.patch_username.clone(),
            c.patch_password.clone(),
            "the account's override",
        ),
        None => (
            state.config.greenhouse_patch_username.clone(),
            state.config.greenhouse_patch_password.clone(),
            "the deployment's",
        ),
    };
    if username.is_empty() {
        return AttemptOutcome::retry(
            "no Greenhouse PATCH credential is configured: set greenhouse_patch_username and greenhouse_patch_password \
             (SCREENHUB_GREENHOUSE_PATCH_USERNAME / SCREENHUB_GREENHOUSE_PATCH_PASSWORD), then retry",
        );
    }
    let response = state
        .http
        .patch(&doorbell.url)
        .basic_auth(&username, Some(&password))
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => return AttemptOutcome::retry(crate::outbound::describe_transport_error(&e)),
    };
    let (status, verdict) = crate::dispatch::http_verdict(state, &response);
    let excerpt = crate::dispatch::read_excerpt(response).await;
    let error = match status {
        200..=299 => None,
        401 | 403 => Some(format!(
            "Greenhouse refused {which} PATCH credential (HTTP {status}): check greenhouse_patch_username/password"
        )),
        404 => Some("Greenhouse does not know this take-home test (HTTP 404)".to_owned()),
        412 => Some("Greenhouse refused the method (HTTP 412): the doorbell must be a PATCH".to_owned()),
        _ => Some(format!("Greenhouse answered HTTP {status}")),
    };
    if verdict == Verdict::Delivered {
        note_credential_works(state).await;
    } else if matches!(status, 401 | 403) {
        flag_credential(state, delivery, status, which).await;
    }
    AttemptOutcome {
        verdict,
        status: Some(status),
        error,
        excerpt,
        credential_problem: None,
    }
}

/// Greenhouse refused the PATCH credential: flag it for the dashboard and
/// tell the vendor (`ats.credential_rejected`), once per run of refusals.
async fn flag_credential(state: &AppState, delivery: &Delivery, status: u16, which: &str) {
    let now = state.now();
    let data = json!({
        "ats": "greenhouse",
        "credential": which,
        "status_code": status,
        "message": format!(
            "Greenhouse refused {which} PATCH credential (HTTP {status}). Results stay readable in test_status, \
             but Greenhouse is not told when they are ready. Fix greenhouse_patch_username / greenhouse_patch_password \
             (SCREENHUB_GREENHOUSE_PATCH_USERNAME / _PASSWORD) or the account's override, then retry the failed deliveries."
        ),
        "since": screenhub_core::clock::rfc3339(now),
    });
    let already = matches!(state.store.get_setting(CREDENTIAL_PROBLEM_SETTING).await, Ok(Some(v)) if !v.is_null());
    if let Err(e) = state
        .store
        .put_setting(CREDENTIAL_PROBLEM_SETTING, &data, now)
        .await
    {
        tracing::error!(error = %e, "could not flag the Greenhouse PATCH credential");
    }
    tracing::error!(
        status,
        credential = which,
        "Greenhouse refused the PATCH credential"
    );
    if already {
        return;
    }
    let webhook = OutboxMessage::Vendor {
        event: EventType::AtsCredentialRejected,
        payload: webhook_body(EventType::AtsCredentialRejected, now, &data),
    };
    if let Err(e) = state
        .store
        .record_event(
            EventType::AtsCredentialRejected,
            delivery.account_id.as_ref(),
            delivery.order_id.as_ref(),
            &data,
            Some(webhook),
            now,
        )
        .await
    {
        tracing::error!(error = %e, "could not record the credential refusal");
    }
    state.work_added();
}

/// A PATCH went through: a flagged credential works again.
async fn note_credential_works(state: &AppState) {
    if let Ok(Some(v)) = state.store.get_setting(CREDENTIAL_PROBLEM_SETTING).await {
        if !v.is_null() {
            let _ = state
                .store
                .put_setting(
                    CREDENTIAL_PROBLEM_SETTING,
                    &serde_json::Value::Null,
                    state.now(),
                )
                .await;
        }
    }
}
