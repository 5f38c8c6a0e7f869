//! Packages and webhook endpoints as the vendor manages them. The vendor API
//! (`/v1/packages`, `/v1/webhook-endpoints`) and the dashboard's forms both
//! change them through these functions, so both follow the same rules and
//! leave the same audit trail.

use screenhub_core::event::EventType;
use screenhub_core::package::{validate_slug, PackageKind};
use screenhub_core::{AccountId, EndpointId};
use screenhub_store::{Package, PackageInput, StoreError, WebhookEndpoint};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::ops;
use crate::outbound::OutboundPolicy;
use crate::state::AppState;

/// The longest grace period a rotated signing secret keeps working: 7 days.
pub const MAX_SECRET_GRACE_SECS: u64 = 7 * 24 * 3600;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageBody {
    /// The vendor's slug: lowercase letters, digits, `-`, `_`.
    pub id: String,
    pub kind: PackageKind,
    /// Shown to recruiters in Ashby's Assessment Type dropdown.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The screenings the package contains, e.g. "County criminal search".
    #[serde(default)]
    pub screenings: Vec<String>,
    /// Offer it only to these accounts (default: every account).
    pub account_ids: Option<Vec<AccountId>>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackagePatch {
    pub kind: Option<PackageKind>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub screenings: Option<Vec<String>>,
    /// `null` offers the package to every account again.
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub account_ids: Option<Option<Vec<AccountId>>>,
    pub active: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    /// http(s) URL that receives POSTed webhooks.
    pub url: String,
    /// Event types to send (default: all of `order.created`, `order.cancelled`,
    /// `delivery.failed`, `delivery.exhausted`).
    pub events: Option<Vec<String>>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpoint {
    pub url: Option<String>,
    /// `null` subscribes to every event type.
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub events: Option<Option<Vec<String>>>,
    pub description: Option<String>,
    pub disabled: Option<bool>,
}

// ---- packages --------------------------------------------------------------

/// A package as the vendor described it, checked; that its `account_ids`
/// exist is checked against the store by [`check_accounts_exist`].
pub fn validate_package(body: PackageBody) -> Result<PackageInput, ApiError> {
    validate_slug(&body.id).map_err(ApiError::validation)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::validation("name must be 1–200 characters"));
    }
    if body.description.chars().count() > 2000 {
        return Err(ApiError::validation(
            "description may be at most 2000 characters",
        ));
    }
    if body.screenings.len() > 100
        || body
            .screenings
            .iter()
            .any(|s| s.trim().is_empty() || s.len() > 200)
    {
        return Err(ApiError::validation(
            "screenings must be at most 100 non-empty names of up to 200 characters",
        ));
    }
    Ok(PackageInput {
        id: body.id,
        kind: body.kind,
        name: name.to_owned(),
        description: body.description.trim().to_owned(),
        screenings: body
            .screenings
            .iter()
            .map(|s| s.trim().to_owned())
            .collect(),
        account_ids: body.account_ids,
        active: body.active,
    })
}

/// The whole set for `PUT /v1/packages`: each valid, no id twice.
pub fn validate_package_set(bodies: Vec<PackageBody>) -> Result<Vec<PackageInput>, ApiError> {
    if bodies.len() > 500 {
        return Err(ApiError::validation("at most 500 packages"));
    }
    let mut inputs: Vec<PackageInput> = Vec::with_capacity(bodies.len());
    for (i, p) in bodies.into_iter().enumerate() {
        let input = validate_package(p)
            .map_err(|e| ApiError::validation(format!("[{i}]: {}", e.message)))?;
        if inputs.iter().any(|other| other.id == input.id) {
            return Err(ApiError::validation(format!(
                "[{i}]: package id `{}` appears twice",
                input.id
            )));
        }
        inputs.push(input);
    }
    Ok(inputs)
}

/// Every account a package is limited to must exist.
async fn check_accounts_exist(state: &AppState, input: &PackageInput) -> Result<(), ApiError> {
    for id in input.account_ids.iter().flatten() {
        if state.store.get_account(id).await?.is_none() {
            return Err(ApiError::validation(format!(
                "account_ids: there is no account {id}"
            )));
        }
    }
    Ok(())
}

impl PackagePatch {
    /// The package as it will be once patched.
    pub fn apply_to(self, current: PackageBody) -> PackageBody {
        PackageBody {
            id: current.id,
            kind: self.kind.unwrap_or(current.kind),
            name: self.name.unwrap_or(current.name),
            description: self.description.unwrap_or(current.description),
            screenings: self.screenings.unwrap_or(current.screenings),
            account_ids: self.account_ids.unwrap_or(current.account_ids),
            active: self.active.unwrap_or(current.active),
        }
    }
}

/// What the audit log keeps of a package (no need for the whole of it).
fn package_details(p: &Package) -> serde_json::Value {
    json!({"name": p.name, "active": p.active, "account_ids": p.account_ids})
}

pub async fn find_package(state: &AppState, id: &str) -> Result<Package, ApiError> {
    state
        .store
        .get_package(id)
        .await?
        .ok_or_else(|| ApiError::not_found("package"))
}

pub async fn create_package(
    state: &AppState,
    actor: &str,
    body: PackageBody,
) -> Result<Package, ApiError> {
    let input = validate_package(body)?;
    check_accounts_exist(state, &input).await?;
    let package = state.store.create_package(&input, state.now()).await?;
    let target = Some(("package", package.id.as_str()));
    ops::audit(
        state,
        actor,
        "package.created",
        target,
        package_details(&package),
    )
    .await;
    Ok(package)
}

/// Change the fields the patch names; the result must pass the same checks as a new package.
pub async fn update_package(
    state: &AppState,
    actor: &str,
    id: &str,
    patch: PackagePatch,
) -> Result<Package, ApiError> {
    let current = find_package(state, id).await?;
    let input = validate_package(patch.apply_to(PackageBody {
        id: current.id,
        kind: current.kind,
        name: current.name,
        description: current.description,
        screenings: current.screenings,
        account_ids: current.account_ids,
        active: current.active,
    }))?;
    check_accounts_exist(state, &input).await?;
    let package = state.store.update_package(&input, state.now()).await?;
    let target = Some(("package", package.id.as_str()));
    ops::audit(
        state,
        actor,
        "package.updated",
        target,
        package_details(&package),
    )
    .await;
    Ok(package)
}

/// Replace the whole set (in the given order); those left out are deleted.
pub async fn replace_packages(
    state: &AppState,
    actor: &str,
    bodies: Vec<PackageBody>,
) -> Result<Vec<Package>, ApiError> {
    let inputs = validate_package_set(bodies)?;
    for (i, input) in inputs.iter().enumerate() {
        check_accounts_exist(state, input)
            .await
            .map_err(|e| ApiError::validation(format!("[{i}]: {}", e.message)))?;
    }
    let packages = state.store.replace_packages(&inputs, state.now()).await?;
    let ids: Vec<&str> = packages.iter().map(|p| p.id.as_str()).collect();
    ops::audit(state, actor, "packages.replaced", None, json!({"ids": ids})).await;
    Ok(packages)
}

pub async fn delete_package(state: &AppState, actor: &str, id: &str) -> Result<(), ApiError> {
    state.store.delete_package(id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found("package"),
        e => e.into(),
    })?;
    ops::audit(
        state,
        actor,
        "package.deleted",
        Some(("package", id)),
        json!({}),
    )
    .await;
    Ok(())
}

// ---- webhook endpoints -----------------------------------------------------

/// An http(s) URL the outbound policy lets the hub call.
pub fn validate_url(policy: &OutboundPolicy, url: &str) -> Result<String, ApiError> {
    let url = url.trim();
    policy
        .check_url(url)
        .map_err(|e| ApiError::validation(format!("url: {e}")))?;
    Ok(url.to_owned())
}

pub fn validate_events(events: &[String]) -> Result<Vec<EventType>, ApiError> {
    if events.is_empty() {
        return Err(ApiError::validation(
            "events must name at least one event type (or be left out for all)",
        ));
    }
    events
        .iter()
        .map(|e| {
            EventType::parse(e)
                .filter(|t| t.is_webhook())
                .ok_or_else(|| {
                    let known: Vec<_> = EventType::WEBHOOK.iter().map(|t| t.as_str()).collect();
                    ApiError::validation(format!(
                        "events: `{e}` is not a webhook event type; use one of {}",
                        known.join(", ")
                    ))
                })
        })
        .collect()
}

fn endpoint_details(e: &WebhookEndpoint) -> serde_json::Value {
    json!({"url": e.url, "disabled": e.disabled, "events": e.events})
}

pub async fn find_endpoint(state: &AppState, id: &EndpointId) -> Result<WebhookEndpoint, ApiError> {
    state
        .store
        .get_endpoint(id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))
}

/// A new endpoint and its signing secret (`whsec_…`), which is never shown again.
pub async fn create_endpoint(
    state: &AppState,
    actor: &str,
    body: CreateEndpoint,
) -> Result<(WebhookEndpoint, String), ApiError> {
    let url = validate_url(&state.policy, &body.url)?;
    let events = body.events.as_deref().map(validate_events).transpose()?;
    let (endpoint, secret) = state
        .store
        .create_endpoint(
            &url,
            body.description.trim(),
            events.as_deref(),
            state.now(),
        )
        .await?;
    let target = Some(("webhook_endpoint", endpoint.id.as_str()));
    ops::audit(
        state,
        actor,
        "webhook_endpoint.created",
        target,
        endpoint_details(&endpoint),
    )
    .await;
    Ok((endpoint, secret))
}

pub async fn update_endpoint(
    state: &AppState,
    actor: &str,
    id: &EndpointId,
    body: UpdateEndpoint,
) -> Result<WebhookEndpoint, ApiError> {
    let endpoint = find_endpoint(state, id).await?;
    let url = body
        .url
        .as_deref()
        .map(|u| validate_url(&state.policy, u))
        .transpose()?;
    let events = match &body.events {
        Some(Some(e)) => Some(Some(validate_events(e)?)),
        Some(None) => Some(None),
        None => None,
    };
    let updated = state
        .store
        .update_endpoint(
            &endpoint.id,
            url.as_deref(),
            body.description.as_deref().map(str::trim),
            events.as_ref().map(|e| e.as_deref()),
            body.disabled,
            state.now(),
        )
        .await?;
    let target = Some(("webhook_endpoint", updated.id.as_str()));
    ops::audit(
        state,
        actor,
        "webhook_endpoint.updated",
        target,
        endpoint_details(&updated),
    )
    .await;
    Ok(updated)
}

pub async fn delete_endpoint(
    state: &AppState,
    actor: &str,
    id: &EndpointId,
) -> Result<(), ApiError> {
    let endpoint = find_endpoint(state, id).await?;
    state.store.delete_endpoint(&endpoint.id).await?;
    let target = Some(("webhook_endpoint", endpoint.id.as_str()));
    ops::audit(
        state,
        actor,
        "webhook_endpoint.deleted",
        target,
        json!({"url": endpoint.url}),
    )
    .await;
    Ok(())
}

/// A new signing secret. With a grace period (seconds), webhooks carry
/// signatures by both the old and the new secret until it ends.
pub async fn rotate_endpoint_secret(
    state: &AppState,
    actor: &str,
    id: &EndpointId,
    grace_secs: Option<u64>,
) -> Result<String, ApiError> {
    let endpoint = find_endpoint(state, id).await?;
    let grace = crate::api::v1::grace_period(grace_secs, MAX_SECRET_GRACE_SECS, "7 days")?;
    let now = state.now();
    let secret = state
        .store
        .rotate_endpoint_secret(&endpoint.id, grace.map(|g| now + g as i64 * 1000), now)
        .await?;
    let target = Some(("webhook_endpoint", endpoint.id.as_str()));
    ops::audit(
        state,
        actor,
        "webhook_endpoint.secret_rotated",
        target,
        json!({"grace_period_seconds": grace}),
    )
    .await;
    Ok(secret)
}
