//! `/v1/accounts`: one per employer ATS account.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use screenhub_core::account::{Ats, Environment};
use screenhub_core::AccountId;
use screenhub_store::{AccountPatch, NewAccount};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, ApiJson, ApiQuery, OptionalJson, VendorKey};
use crate::ops;
use crate::outbound::OutboundPolicy;
use crate::state::AppState;
use crate::views::{AccountView, AccountWithToken, Page};

use super::{limit, ListParams};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(get_account, update_account))
        .routes(routes!(rotate_token))
        .routes(routes!(set_ats_credentials))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    /// The employer's name, as the vendor's staff know it.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub ats: Ats,
    #[serde(default)]
    pub environment: Environment,
    /// Ashby only: Ashby's public API base URL; defaults to Ashby's (the
    /// `ashby_api_base_url` setting). Point it at `screenhub sim ashby` to
    /// test. Greenhouse has no per-account API: its doorbell goes to the URL
    /// each `send_test` names.
    pub ats_api_base_url: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccount {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// `true` refuses every call from the employer's ATS until re-enabled.
    pub disabled: Option<bool>,
    /// Accepted only to refuse it with a reason (see [`UpdateAccount::validate`]).
    #[serde(default)]
    #[schema(ignore)]
    pub ats_api_base_url: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateToken {
    /// Keep the old token working for this many seconds (at most 30 days), so
    /// the employer can paste the new one into Ashby without downtime.
    #[schema(minimum = 0, maximum = 2_592_000)]
    pub grace_period_seconds: Option<u64>,
}

/// What `PUT /v1/accounts/{id}/ats-credentials` takes; which fields apply
/// depends on the account's ATS.
pub type AtsCredentials = crate::connectors::CredentialsInput;

pub fn validate_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::validation("name must be 1–200 characters"));
    }
    Ok(name.to_owned())
}

impl CreateAccount {
    /// The account to create. `default_base_url` is the configured Ashby API.
    pub fn validate(
        self,
        default_base_url: &str,
        policy: &OutboundPolicy,
    ) -> Result<NewAccount, ApiError> {
        let name = validate_name(&self.name)?;
        if self.ats != Ats::Ashby && self.ats_api_base_url.is_some() {
            return Err(ApiError::validation(format!(
                "ats_api_base_url applies to Ashby accounts only; a {} account has none",
                self.ats.label()
            )));
        }
        let base = self.ats_api_base_url.unwrap_or_else(|| match self.ats {
            Ats::Ashby => default_base_url.to_owned(),
            other => other.default_api_base_url().to_owned(),
        });
        let base = screenhub_core::order::validate_http_url(&base)
            .map_err(|e| ApiError::validation(format!("ats_api_base_url {e}")))?
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        policy
            .check_url(&base)
            .map_err(|e| ApiError::validation(format!("ats_api_base_url: {e}")))?;
        Ok(NewAccount {
            name,
            ats: self.ats,
            environment: self.environment,
            ats_api_base_url: base,
        })
    }
}

impl UpdateAccount {
    pub fn validate(self) -> Result<AccountPatch, ApiError> {
        // The stored ATS key would then be sent to the new address.
        if self.ats_api_base_url.is_some() {
            return Err(ApiError::validation(
                "ats_api_base_url cannot be changed: the stored ATS API key would then be sent to a \
                 different address. Create a new account with the right ats_api_base_url (and connect \
                 it again), or erase this account (`screenhub accounts erase ID --yes`) and create it again",
            ));
        }
        Ok(AccountPatch {
            name: self.name.as_deref().map(validate_name).transpose()?,
            disabled: self.disabled,
        })
    }
}

impl RotateToken {
    /// The old token keeps working for this long (at most 30 days).
    pub fn grace_secs(&self) -> Result<Option<u64>, ApiError> {
        super::grace_period(self.grace_period_seconds, 30 * 24 * 3600, "30 days")
    }
}

fn view(state: &AppState, account: &screenhub_store::Account) -> AccountView {
    AccountView::new(account, state.partner_base_url(account.ats))
}

/// An External Trigger Token the account's ATS will store (Greenhouse keeps
/// keys of at most 170 characters).
fn check_token_fits(account: &screenhub_store::Account, token: &str) -> ApiResult<()> {
    match crate::connectors::connector(account.ats).max_token_len() {
        Some(max) if token.chars().count() > max => Err(ApiError::internal(format!(
            "the minted token is longer than {} accepts ({max} characters)",
            account.ats.label()
        ))),
        _ => Ok(()),
    }
}

async fn find(state: &AppState, raw: &str) -> ApiResult<screenhub_store::Account> {
    let id: AccountId = path_id(raw, "account")?;
    state
        .store
        .get_account(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("account"))
}

/// Create an account for an employer; returns its External Trigger Token. The API returns the token only here (and to a replay with the same `Idempotency-Key`); the employer's connect page shows it to whoever holds a valid connect link.
#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", request_body = CreateAccount,
    responses((status = 201, body = AccountWithToken), (status = 422, body = crate::error::ErrorBody)))]
async fn create_account(
    State(state): State<AppState>,
    key: VendorKey,
    ApiJson(body): ApiJson<CreateAccount>,
) -> ApiResult<(StatusCode, Json<AccountWithToken>)> {
    let new = body.validate(&state.config.ashby_api_base_url, &state.policy)?;
    let (account, token) = state.store.create_account(new, state.now()).await?;
    check_token_fits(&account, &token)?;
    tracing::info!(account_id = %account.id, ats = %account.ats, "account created");
    ops::audit(
        &state,
        &key.actor(),
        "account.created",
        Some(("account", account.id.as_str())),
        serde_json::json!({"name": account.name}),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(AccountWithToken {
            account: view(&state, &account),
            external_trigger_token: token,
        }),
    ))
}

/// List accounts, oldest first.
#[utoipa::path(get, path = "/v1/accounts", tag = "accounts", params(ListParams),
    responses((status = 200, body = Page<AccountView>)))]
async fn list_accounts(
    State(state): State<AppState>,
    _key: VendorKey,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<Page<AccountView>>> {
    let limit = limit(params.limit)?;
    let after = params
        .cursor
        .as_deref()
        .map(|c| path_id::<AccountId>(c, "account"))
        .transpose()
        .map_err(|_| ApiError::bad_request("cursor is not one this API returned"))?;
    let accounts = state.store.list_accounts(after.as_ref(), limit + 1).await?;
    let more = accounts.len() > limit as usize;
    let data: Vec<_> = accounts
        .iter()
        .take(limit as usize)
        .map(|a| view(&state, a))
        .collect();
    let next_cursor = if more {
        data.last().map(|a| a.id.to_string())
    } else {
        None
    };
    Ok(Json(Page { data, next_cursor }))
}

#[utoipa::path(get, path = "/v1/accounts/{id}", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, body = AccountView), (status = 404, body = crate::error::ErrorBody)))]
async fn get_account(
    State(state): State<AppState>,
    _key: VendorKey,
    Path(id): Path<String>,
) -> ApiResult<Json<AccountView>> {
    let account = find(&state, &id).await?;
    Ok(Json(view(&state, &account)))
}

/// Rename, disable or re-enable an account.
#[utoipa::path(patch, path = "/v1/accounts/{id}", tag = "accounts", params(("id" = String, Path)), request_body = UpdateAccount,
    responses((status = 200, body = AccountView), (status = 404, body = crate::error::ErrorBody)))]
async fn update_account(
    State(state): State<AppState>,
    key: VendorKey,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateAccount>,
) -> ApiResult<Json<AccountView>> {
    let account = find(&state, &id).await?;
    let patch = body.validate()?;
    let details = serde_json::json!({"name": patch.name, "disabled": patch.disabled});
    let account = state
        .store
        .update_account(&account.id, patch, state.now())
        .await?;
    ops::audit(
        &state,
        &key.actor(),
        "account.updated",
        Some(("account", account.id.as_str())),
        details,
    )
    .await;
    Ok(Json(view(&state, &account)))
}

/// Mint a new External Trigger Token; the old one stops working (after the grace period, if any).
#[utoipa::path(post, path = "/v1/accounts/{id}/rotate-token", tag = "accounts", params(("id" = String, Path)), request_body(content = Option<RotateToken>, description = "optional"),
    responses((status = 200, body = AccountWithToken), (status = 404, body = crate::error::ErrorBody)))]
async fn rotate_token(
    State(state): State<AppState>,
    key: VendorKey,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<RotateToken>,
) -> ApiResult<Json<AccountWithToken>> {
    let account = find(&state, &id).await?;
    let grace = body.grace_secs()?;
    let now = state.now();
    let until = grace.map(|g| now + g as i64 * 1000);
    let (account, token) = state
        .store
        .rotate_account_token(&account.id, until, now)
        .await?;
    check_token_fits(&account, &token)?;
    tracing::info!(account_id = %account.id, "external trigger token rotated");
    ops::audit(
        &state,
        &key.actor(),
        "account.token_rotated",
        Some(("account", account.id.as_str())),
        serde_json::json!({"grace_period_seconds": grace}),
    )
    .await;
    Ok(Json(AccountWithToken {
        account: view(&state, &account),
        external_trigger_token: token,
    }))
}

/// Store the account's ATS credentials. Ashby: `{"api_key"}`, verified live
/// (`apiKey.info`); the account becomes `active`. Greenhouse:
/// `{"patch_username", "patch_password"}`, this account's own credential for
/// the "Mark Test as Completed" PATCH, overriding the deployment's (both
/// empty: use the deployment's again).
#[utoipa::path(put, path = "/v1/accounts/{id}/ats-credentials", tag = "accounts", params(("id" = String, Path)), request_body = AtsCredentials,
    responses((status = 200, body = AccountView), (status = 422, description = "Ashby rejected the key, or it lacks a permission; or fields that do not apply to the account's ATS", body = crate::error::ErrorBody),
        (status = 502, description = "Ashby could not be reached", body = crate::error::ErrorBody)))]
async fn set_ats_credentials(
    State(state): State<AppState>,
    key: VendorKey,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AtsCredentials>,
) -> ApiResult<Json<AccountView>> {
    let account = find(&state, &id).await?;
    let account = crate::connectors::connector(account.ats)
        .set_credentials(&state, &account, &body)
        .await?;
    ops::audit(
        &state,
        &key.actor(),
        "account.ats_credentials_set",
        Some(("account", account.id.as_str())),
        serde_json::json!({"key_title": account.ats_key_title}),
    )
    .await;
    Ok(Json(view(&state, &account)))
}
