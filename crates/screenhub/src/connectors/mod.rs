//! The seam between the hub and each applicant tracking system.
//!
//! One module per ATS holds everything specific to it, with its wire types and
//! their conversions beside it in a `transformers` file: the inbound routes
//! (with the ATS's own authentication and error format), how an inbound order
//! becomes a canonical [`NewOrder`] with a normalized candidate, how the
//! catalogue of packages is rendered, how an order change reaches the ATS (a
//! pushed update through the outbox, or a pull answer served on demand plus a
//! doorbell), how credentials are checked and stored, and what the connect
//! page tells the employer. The rest of the hub (orders, outbox, dispatcher,
//! vendor API, dashboard) knows only [`Connector`] and dispatches on the
//! account's `ats` through [`connector`]. Adding an ATS is one more module and
//! one more arm in [`connector`].

use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use futures::future::BoxFuture;
use screenhub_core::account::Ats;
use screenhub_core::delivery::Verdict;
use screenhub_core::intake::Intake;
use screenhub_store::{Account, AtsConnection, Delivery, Order, OutboxMessage};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

pub mod ashby;
pub mod greenhouse;

/// The token an ATS presents: the Basic username (Ashby's and Greenhouse's
/// way), the Basic password, or a Bearer token.
pub use ashby::routes::presented_token;

/// What the connect page and the dashboard tell people about one ATS.
pub struct ConnectGuide {
    /// The steps the employer's admin follows, in order (plain text).
    pub steps: &'static [&'static str],
    /// Whether the employer pastes an ATS API key back into the hub.
    pub takes_api_key: bool,
    /// What the account's status means while it is `pending`.
    pub pending_label: &'static str,
}

/// The credentials a vendor puts in for an account
/// (`PUT /v1/accounts/{id}/ats-credentials`); which fields apply depends on
/// the account's ATS.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsInput {
    /// Ashby: the API key the employer's admin created for this integration
    /// (verified live with `apiKey.info`).
    pub api_key: Option<String>,
    /// Greenhouse: this account's own Basic credential for the "Mark Test as
    /// Completed" PATCH, overriding the deployment's
    /// (`greenhouse_patch_username`). Send both, or both empty to remove it.
    pub patch_username: Option<String>,
    pub patch_password: Option<String>,
}

/// What one attempt to deliver a message to an ATS came to.
#[derive(Debug)]
pub struct AttemptOutcome {
    pub verdict: Verdict,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub excerpt: Option<String>,
    /// The ATS refused the employer's own credential: the account moves to
    /// `error` with this reason. (A deployment-wide credential is the
    /// connector's to flag.)
    pub credential_problem: Option<String>,
}

impl AttemptOutcome {
    pub fn permanent(error: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Permanent,
            status: None,
            error: Some(error.into()),
            excerpt: None,
            credential_problem: None,
        }
    }

    pub fn retry(error: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Retry {
                retry_after_ms: None,
            },
            ..Self::permanent(error)
        }
    }
}

/// Everything the hub needs from one ATS.
pub trait Connector: Send + Sync {
    fn ats(&self) -> Ats;

    /// The routes the ATS calls, mounted under `/ats/<ats>`.
    fn routes(&self) -> Router<AppState>;

    /// A refusal in the ATS's own error format (also used for axum's own
    /// refusals on the ATS's routes: a body over the limit, a timeout).
    fn error_response(&self, status: StatusCode, code: &str, message: &str) -> Response;

    /// The messages that tell the ATS about an order's change, queued in the
    /// same transaction as the change. Default: the ATS reads the order's
    /// state when it wants it, and hears nothing.
    fn outbox_for_change(&self, _state: &AppState, _order: &Order) -> Vec<OutboxMessage> {
        vec![]
    }

    /// Send one queued message to the ATS of an account.
    fn deliver<'a>(
        &'a self,
        state: &'a AppState,
        connection: AtsConnection,
        delivery: &'a Delivery,
        payload: &'a str,
    ) -> BoxFuture<'a, AttemptOutcome>;

    /// Check and store the credentials a vendor put in for an account.
    fn set_credentials<'a>(
        &'a self,
        state: &'a AppState,
        account: &'a Account,
        input: &'a CredentialsInput,
    ) -> BoxFuture<'a, Result<Account, ApiError>>;

    /// Whether the account answers the ATS as soon as it exists and turns
    /// `active` on the ATS's first authenticated call (no key to verify).
    fn active_on_first_call(&self) -> bool {
        false
    }

    /// The longest External Trigger Token the ATS accepts, if it says.
    fn max_token_len(&self) -> Option<usize> {
        None
    }

    /// The normalized intake of an order written before connectors built one
    /// (migration 0007), from the request kept with it.
    fn intake_from_request(&self, request: &serde_json::Value) -> Option<Intake>;

    /// What the connect page tells the employer.
    fn guide(&self) -> ConnectGuide;
}

/// The connector of an ATS.
pub fn connector(ats: Ats) -> &'static dyn Connector {
    match ats {
        Ats::Ashby => &ashby::Ashby,
        Ats::Greenhouse => &greenhouse::Greenhouse,
    }
}

/// Every ATS's routes, each under `/ats/<ats>`.
pub fn router() -> Router<AppState> {
    Ats::ALL
        .into_iter()
        .fold(greenhouse::routes::status_page_router(), |router, ats| {
            router.nest(&format!("/ats/{}", ats.as_str()), connector(ats).routes())
        })
}

/// The connector whose routes serve `path`, if any.
pub fn for_path(path: &str) -> Option<&'static dyn Connector> {
    let rest = path.strip_prefix("/ats/")?;
    let name = rest.split('/').next()?;
    Ats::parse(name).map(connector)
}

/// Give every order written before migration 0007 its normalized intake,
/// from the request kept with it, by the same connector code that builds it
/// for new orders. Runs at start-up; a no-op once done.
pub async fn backfill_intake(store: &screenhub_store::Store) -> anyhow::Result<u64> {
    let mut done = 0;
    loop {
        let batch = store.orders_without_intake(200).await?;
        if batch.is_empty() {
            return Ok(done);
        }
        let mut progressed = false;
        for (id, ats, request) in batch {
            let intake = connector(ats)
                .intake_from_request(&request)
                .unwrap_or_default();
            store.set_order_intake(&id, &intake).await?;
            progressed = true;
            done += 1;
        }
        if !progressed {
            return Ok(done);
        }
    }
}
