//! `/v1/connect-sessions`: one-time links to the employer's connect page.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use screenhub_core::clock::rfc3339;
use screenhub_core::AccountId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, VendorKey};
use crate::ops;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_connect_session))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectSession {
    /// The account (`acct_…`) the employer's admin will connect.
    pub account_id: String,
    /// Seconds until the link expires: 60 to 2592000 (30 days); default 604800 (7 days).
    #[schema(minimum = 60, maximum = 2_592_000)]
    pub expires_in: Option<u64>,
}

impl CreateConnectSession {
    pub fn account_id(&self) -> Result<AccountId, ApiError> {
        self.account_id
            .parse()
            .map_err(|_| ApiError::validation("account_id must be an account id (acct_…)"))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectSessionView {
    /// Send this to the employer's Ashby admin. It shows only this account,
    /// and stops working once the connection is complete.
    pub url: String,
    pub expires_at: String,
}

/// Create a one-time connect link for an account.
#[utoipa::path(post, path = "/v1/connect-sessions", tag = "accounts", request_body = CreateConnectSession,
    responses((status = 201, body = ConnectSessionView), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn create_connect_session(
    State(state): State<AppState>,
    key: VendorKey,
    ApiJson(body): ApiJson<CreateConnectSession>,
) -> ApiResult<(StatusCode, Json<ConnectSessionView>)> {
    let account_id = body.account_id()?;
    let (url, expires_at) = ops::create_connect_link(
        &state.store,
        &key.actor(),
        &state.public_url,
        &account_id,
        body.expires_in,
        state.now(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(ConnectSessionView {
            url,
            expires_at: rfc3339(expires_at),
        }),
    ))
}
