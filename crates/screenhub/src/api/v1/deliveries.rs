//! `/v1/deliveries`: every outbound message and every attempt to send it.

use axum::extract::{Path, State};
use axum::Json;
use screenhub_core::delivery::{DeliveryState, DeliveryTarget};
use screenhub_core::{DeliveryId, OrderId};
use screenhub_store::DeliveryFilter;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, ApiQuery, VendorKey};
use crate::state::AppState;
use crate::views::{AttemptView, DeliveryDetail, DeliveryView, Page};

use super::limit;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(retry_delivery))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryParams {
    pub order_id: Option<String>,
    /// `vendor` (webhooks) or `ats` (updates to Ashby).
    pub target: Option<String>,
    /// `pending`, `succeeded`, `failed` or `dead`.
    pub state: Option<String>,
    /// Page size, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// List deliveries, newest first.
#[utoipa::path(get, path = "/v1/deliveries", tag = "deliveries", params(DeliveryParams),
    responses((status = 200, body = Page<DeliveryView>), (status = 400, body = crate::error::ErrorBody)))]
async fn list_deliveries(
    State(state): State<AppState>,
    _key: VendorKey,
    ApiQuery(p): ApiQuery<DeliveryParams>,
) -> ApiResult<Json<Page<DeliveryView>>> {
    let limit = limit(p.limit)?;
    let filter = DeliveryFilter {
        order_id: p
            .order_id
            .as_deref()
            .map(|o| {
                o.parse::<OrderId>()
                    .map_err(|_| ApiError::bad_request("order_id must be an order id (a UUID)"))
            })
            .transpose()?,
        target: p
            .target
            .as_deref()
            .map(|t| {
                DeliveryTarget::parse(t)
                    .ok_or_else(|| ApiError::bad_request("target must be `vendor` or `ats`"))
            })
            .transpose()?,
        state: p
            .state
            .as_deref()
            .map(|s| {
                DeliveryState::parse(s).ok_or_else(|| {
                    ApiError::bad_request("state must be one of pending, succeeded, failed, dead")
                })
            })
            .transpose()?,
        before_seq: p
            .cursor
            .as_deref()
            .map(|c| {
                c.parse::<i64>()
                    .map_err(|_| ApiError::bad_request("cursor is not one this API returned"))
            })
            .transpose()?,
        limit: limit + 1,
        ..Default::default()
    };
    let deliveries = state.store.list_deliveries(&filter).await?;
    let more = deliveries.len() > limit as usize;
    let page: Vec<_> = deliveries.into_iter().take(limit as usize).collect();
    let next_cursor = if more {
        page.last().map(|d| d.seq.to_string())
    } else {
        None
    };
    Ok(Json(Page {
        data: page.iter().map(DeliveryView::from).collect(),
        next_cursor,
    }))
}

async fn find(state: &AppState, raw: &str) -> ApiResult<DeliveryDetail> {
    let id: DeliveryId = path_id(raw, "delivery")?;
    let (delivery, payload, attempts) = state
        .store
        .get_delivery(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    Ok(DeliveryDetail {
        delivery: DeliveryView::from(&delivery),
        payload,
        attempts: attempts.iter().map(AttemptView::from).collect(),
    })
}

/// One delivery with its payload and every attempt.
#[utoipa::path(get, path = "/v1/deliveries/{id}", tag = "deliveries", params(("id" = String, Path)),
    responses((status = 200, body = DeliveryDetail), (status = 404, body = crate::error::ErrorBody)))]
async fn get_delivery(
    State(state): State<AppState>,
    _key: VendorKey,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryDetail>> {
    Ok(Json(find(&state, &id).await?))
}

/// Queue a failed or dead delivery again, with a fresh retry schedule.
#[utoipa::path(post, path = "/v1/deliveries/{id}/retry", tag = "deliveries", params(("id" = String, Path)),
    responses((status = 200, body = DeliveryView), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "Already queued or delivered, or superseded by a later update", body = crate::error::ErrorBody)))]
async fn retry_delivery(
    State(state): State<AppState>,
    key: VendorKey,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryView>> {
    let id: DeliveryId = path_id(&id, "delivery")?;
    let delivery = state
        .store
        .retry_delivery(&id, state.now())
        .await
        .map_err(|e| match e {
            screenhub_store::StoreError::NotFound => ApiError::not_found("delivery"),
            e => e.into(),
        })?;
    state.work_added();
    tracing::info!(delivery_id = %delivery.id, "delivery queued again by hand");
    crate::ops::audit(
        &state,
        &key.actor(),
        "delivery.retried",
        Some(("delivery", delivery.id.as_str())),
        serde_json::json!({"order_id": delivery.order_id}),
    )
    .await;
    Ok(Json(DeliveryView::from(&delivery)))
}
