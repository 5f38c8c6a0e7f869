//! `/v1/webhook-endpoints`: where the hub sends the vendor's signed webhooks.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use screenhub_core::event::EventType;
use screenhub_core::EndpointId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, ApiJson, OptionalJson, VendorKey};
use crate::outbound::OutboundPolicy;
use crate::state::AppState;
use crate::views::{EndpointView, EndpointWithSecret};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
}

#[derive(Debug, Deserialize, ToSchema)]
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

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// Sign with both secrets for this many seconds (at most 7 days).
    pub grace_period_seconds: Option<u64>,
}

impl RotateSecret {
    /// Both secrets sign for this long (at most 7 days).
    pub fn grace_secs(&self) -> Result<Option<u64>, ApiError> {
        super::grace_period(self.grace_period_seconds, 7 * 24 * 3600, "7 days")
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointList {
    pub data: Vec<EndpointView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewSecret {
    /// The new signing secret. Shown once.
    pub secret: String,
}

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

#[utoipa::path(post, path = "/v1/webhook-endpoints", tag = "webhooks", request_body = CreateEndpoint,
    responses((status = 201, body = EndpointWithSecret), (status = 422, body = crate::error::ErrorBody)))]
async fn create_endpoint(
    State(state): State<AppState>,
    _key: VendorKey,
    ApiJson(body): ApiJson<CreateEndpoint>,
) -> ApiResult<(StatusCode, Json<EndpointWithSecret>)> {
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
    Ok((
        StatusCode::CREATED,
        Json(EndpointWithSecret {
            endpoint: EndpointView::from(&endpoint),
            secret,
        }),
    ))
}

#[utoipa::path(get, path = "/v1/webhook-endpoints", tag = "webhooks", responses((status = 200, body = EndpointList)))]
async fn list_endpoints(
    State(state): State<AppState>,
    _key: VendorKey,
) -> ApiResult<Json<EndpointList>> {
    let endpoints = state.store.list_endpoints().await?;
    Ok(Json(EndpointList {
        data: endpoints.iter().map(EndpointView::from).collect(),
    }))
}

async fn find(state: &AppState, raw: &str) -> ApiResult<screenhub_store::WebhookEndpoint> {
    let id: EndpointId = path_id(raw, "webhook endpoint")?;
    state
        .store
        .get_endpoint(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))
}

#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = EndpointView), (status = 404, body = crate::error::ErrorBody)))]
async fn get_endpoint(
    State(state): State<AppState>,
    _key: VendorKey,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointView>> {
    Ok(Json(EndpointView::from(&find(&state, &id).await?)))
}

#[utoipa::path(patch, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", params(("id" = String, Path)), request_body = UpdateEndpoint,
    responses((status = 200, body = EndpointView), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn update_endpoint(
    State(state): State<AppState>,
    _key: VendorKey,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateEndpoint>,
) -> ApiResult<Json<EndpointView>> {
    let endpoint = find(&state, &id).await?;
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
    Ok(Json(EndpointView::from(&updated)))
}

#[utoipa::path(delete, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
async fn delete_endpoint(
    State(state): State<AppState>,
    _key: VendorKey,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let endpoint = find(&state, &id).await?;
    state.store.delete_endpoint(&endpoint.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// New signing secret. With a grace period, webhooks carry signatures by both secrets until it ends.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/rotate-secret", tag = "webhooks", params(("id" = String, Path)),
    request_body(content = RotateSecret, description = "optional"),
    responses((status = 200, body = NewSecret), (status = 404, body = crate::error::ErrorBody)))]
async fn rotate_secret(
    State(state): State<AppState>,
    _key: VendorKey,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<RotateSecret>,
) -> ApiResult<Json<NewSecret>> {
    let endpoint = find(&state, &id).await?;
    let grace = body.grace_secs()?;
    let now = state.now();
    let secret = state
        .store
        .rotate_endpoint_secret(&endpoint.id, grace.map(|g| now + g as i64 * 1000), now)
        .await?;
    Ok(Json(NewSecret { secret }))
}
