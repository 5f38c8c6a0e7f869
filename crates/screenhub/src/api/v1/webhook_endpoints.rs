//! `/v1/webhook-endpoints`: where the hub sends the vendor's signed webhooks.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use screenhub_core::EndpointId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, ApiJson, OptionalJson, VendorKey};
use crate::manage::{self, CreateEndpoint, UpdateEndpoint};
use crate::state::AppState;
use crate::views::{EndpointView, EndpointWithSecret};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// Sign with both secrets for this many seconds (at most 7 days).
    #[schema(minimum = 0, maximum = 604_800)]
    pub grace_period_seconds: Option<u64>,
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

#[utoipa::path(post, path = "/v1/webhook-endpoints", tag = "webhooks", request_body = CreateEndpoint,
    responses((status = 201, body = EndpointWithSecret), (status = 422, body = crate::error::ErrorBody)))]
async fn create_endpoint(
    State(state): State<AppState>,
    key: VendorKey,
    ApiJson(body): ApiJson<CreateEndpoint>,
) -> ApiResult<(StatusCode, Json<EndpointWithSecret>)> {
    let (endpoint, secret) = manage::create_endpoint(&state, &key.actor(), body).await?;
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

fn endpoint_id(raw: &str) -> Result<EndpointId, ApiError> {
    path_id(raw, "webhook endpoint")
}

#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = EndpointView), (status = 404, body = crate::error::ErrorBody)))]
async fn get_endpoint(
    State(state): State<AppState>,
    _key: VendorKey,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointView>> {
    let endpoint = manage::find_endpoint(&state, &endpoint_id(&id)?).await?;
    Ok(Json(EndpointView::from(&endpoint)))
}

#[utoipa::path(patch, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", params(("id" = String, Path)), request_body = UpdateEndpoint,
    responses((status = 200, body = EndpointView), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn update_endpoint(
    State(state): State<AppState>,
    key: VendorKey,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateEndpoint>,
) -> ApiResult<Json<EndpointView>> {
    let updated = manage::update_endpoint(&state, &key.actor(), &endpoint_id(&id)?, body).await?;
    Ok(Json(EndpointView::from(&updated)))
}

#[utoipa::path(delete, path = "/v1/webhook-endpoints/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
async fn delete_endpoint(
    State(state): State<AppState>,
    key: VendorKey,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    manage::delete_endpoint(&state, &key.actor(), &endpoint_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// New signing secret. With a grace period, webhooks carry signatures by both secrets until it ends.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/rotate-secret", tag = "webhooks", params(("id" = String, Path)),
    request_body(content = Option<RotateSecret>, description = "optional"),
    responses((status = 200, body = NewSecret), (status = 404, body = crate::error::ErrorBody)))]
async fn rotate_secret(
    State(state): State<AppState>,
    key: VendorKey,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<RotateSecret>,
) -> ApiResult<Json<NewSecret>> {
    let secret = manage::rotate_endpoint_secret(
        &state,
        &key.actor(),
        &endpoint_id(&id)?,
        body.grace_period_seconds,
    )
    .await?;
    Ok(Json(NewSecret { secret }))
}
