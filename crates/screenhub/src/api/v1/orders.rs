//! `/v1/orders`: the checks Ashby started, and the vendor's reports on them.

use axum::extract::{Path, State};
use axum::Json;
use screenhub_core::clock::Millis;
use screenhub_core::order::{
    validate_result, Actor, Change, OrderResult, OrderStatus, Outcome, Score, ScreeningResult,
};
use screenhub_core::{AccountId, OrderId};
use screenhub_store::{DeliveryFilter, OrderFilter};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, ApiJson, ApiQuery, VendorKey};
use crate::ops;
use crate::state::AppState;
use crate::views::{DeliveryView, EventView, OrderDetail, OrderView, Page};

use super::{limit, query_time};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orders))
        .routes(routes!(get_order))
        .routes(routes!(report_status))
        .routes(routes!(report_result))
        .routes(routes!(cancel_order))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrderParams {
    /// `pending`, `in_progress`, `completed`, `cancelled` or `failed`.
    pub status: Option<String>,
    pub account_id: Option<String>,
    pub package_id: Option<String>,
    /// RFC 3339; orders created after this time.
    pub created_after: Option<String>,
    /// RFC 3339; orders changed after this time.
    pub updated_after: Option<String>,
    /// Exact candidate email (case-insensitive).
    pub candidate_email: Option<String>,
    /// Page size, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List orders, newest first.
#[utoipa::path(get, path = "/v1/orders", tag = "orders", params(OrderParams),
    responses((status = 200, body = Page<OrderView>), (status = 400, body = crate::error::ErrorBody)))]
async fn list_orders(
    State(state): State<AppState>,
    _key: VendorKey,
    ApiQuery(p): ApiQuery<OrderParams>,
) -> ApiResult<Json<Page<OrderView>>> {
    let limit = limit(p.limit)?;
    let status = p
        .status
        .as_deref()
        .map(|s| {
            OrderStatus::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!("status must be one of pending, in_progress, completed, cancelled, failed (got `{s}`)"))
            })
        })
        .transpose()?;
    let account_id = p
        .account_id
        .as_deref()
        .map(|a| {
            a.parse::<AccountId>()
                .map_err(|e| ApiError::bad_request(format!("account_id: {e}")))
        })
        .transpose()?;
    let before = p
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<OrderId>()
                .map_err(|_| ApiError::bad_request("cursor is not one this API returned"))
        })
        .transpose()?;
    let filter = OrderFilter {
        account_id,
        status,
        package_id: p.package_id,
        created_after: query_time("created_after", p.created_after.as_deref())?,
        updated_after: query_time("updated_after", p.updated_after.as_deref())?,
        candidate_email: p.candidate_email,
        before,
        limit: limit + 1,
    };
    let orders = state.store.list_orders(&filter).await?;
    let more = orders.len() > limit as usize;
    let data: Vec<OrderView> = orders
        .iter()
        .take(limit as usize)
        .map(OrderView::from)
        .collect();
    let next_cursor = if more {
        data.last().map(|o| o.id.to_string())
    } else {
        None
    };
    Ok(Json(Page { data, next_cursor }))
}

async fn find(state: &AppState, raw: &str) -> ApiResult<screenhub_store::Order> {
    let id: OrderId = path_id(raw, "order")?;
    state
        .store
        .get_order(&id, None)
        .await?
        .ok_or_else(|| ApiError::not_found("order"))
}

/// One order with its timeline and deliveries.
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, body = OrderDetail), (status = 404, body = crate::error::ErrorBody)))]
async fn get_order(
    State(state): State<AppState>,
    _key: VendorKey,
    Path(id): Path<String>,
) -> ApiResult<Json<OrderDetail>> {
    let order = find(&state, &id).await?;
    let events = state.store.order_events(&order.id).await?;
    let deliveries = state
        .store
        .list_deliveries(&DeliveryFilter {
            order_id: Some(order.id),
            limit: 500,
            ..Default::default()
        })
        .await?;
    Ok(Json(OrderDetail {
        order: OrderView::from(&order),
        ats_request: order.ats_payload.clone(),
        events: events.iter().map(EventView::from).collect(),
        deliveries: deliveries.iter().rev().map(DeliveryView::from).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusReport {
    /// `in_progress` (repeat it to report progress), or `failed` when the check
    /// cannot be completed: the only statuses a vendor sets this way.
    #[schema(pattern = "^(in_progress|failed)$")]
    pub status: String,
    /// What Ashby shows as the status, e.g. "Candidate invited".
    #[schema(min_length = 1, max_length = 200)]
    pub label: Option<String>,
    /// Estimated minutes until a result.
    #[schema(minimum = 0, maximum = 525_600)]
    pub eta_minutes: Option<i64>,
    /// Required with `failed`: why, for the recruiter.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: Option<String>,
}

fn text(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    match value.map(|v| v.trim().to_owned()) {
        Some(v) if v.is_empty() => Err(ApiError::validation(format!(
            "{field} must not be empty when given"
        ))),
        Some(v) if v.chars().count() > max => Err(ApiError::validation(format!(
            "{field} may be at most {max} characters"
        ))),
        other => Ok(other),
    }
}

impl StatusReport {
    /// The change this report asks for: progress or failure.
    pub fn into_change(self) -> Result<Change, ApiError> {
        let label = text("label", self.label, 200)?;
        let change = match self.status.as_str() {
            "in_progress" => {
                if self
                    .eta_minutes
                    .is_some_and(|m| !(0..=525_600).contains(&m))
                {
                    return Err(ApiError::validation(
                        "eta_minutes must be between 0 and 525600 (a year)",
                    ));
                }
                if self.reason.is_some() {
                    return Err(ApiError::validation(
                        "reason goes with status `failed` only",
                    ));
                }
                Change::Progress {
                    label,
                    eta_minutes: self.eta_minutes,
                }
            }
            "failed" => {
                let reason = text("reason", self.reason, 500)?.ok_or_else(|| {
                    ApiError::validation("status `failed` needs a `reason` the recruiter can read")
                })?;
                Change::Fail { reason }
            }
            "completed" => {
                return Err(ApiError::validation(
                    "report a result with PUT /v1/orders/{id}/result",
                ))
            }
            "cancelled" => {
                return Err(ApiError::validation(
                    "cancel with POST /v1/orders/{id}/cancel",
                ))
            }
            "pending" => return Err(ApiError::validation("an order never moves back to pending")),
            other => {
                return Err(ApiError::validation(format!(
                    "status must be `in_progress` or `failed`, not `{other}`"
                )))
            }
        };
        Ok(change)
    }
}

/// Report progress (`in_progress`) or failure (`failed`).
#[utoipa::path(post, path = "/v1/orders/{id}/status", tag = "orders", params(("id" = String, Path)), request_body = StatusReport,
    responses((status = 200, body = OrderView), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "The order already ended", body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn report_status(
    State(state): State<AppState>,
    _key: VendorKey,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StatusReport>,
) -> ApiResult<Json<OrderView>> {
    let id: OrderId = path_id(&id, "order")?;
    let change = body.into_change()?;
    let order = ops::vendor_change(&state, &id, change).await?;
    Ok(Json(OrderView::from(&order)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultReport {
    pub outcome: Outcome,
    /// The full report; Ashby links to it as "Full Report". http(s) only.
    #[schema(max_length = 2048, pattern = "^[Hh][Tt][Tt][Pp][Ss]?://")]
    pub report_url: String,
    #[schema(max_length = 4000)]
    pub summary: Option<String>,
    pub score: Option<Score>,
    #[serde(default)]
    pub screenings: Vec<ScreeningResult>,
    /// RFC 3339; defaults to now.
    pub completed_at: Option<String>,
}

impl ResultReport {
    /// The result to record; `now` stands in for a missing `completed_at`.
    pub fn into_result(self, now: Millis) -> Result<OrderResult, ApiError> {
        let completed_at = match self.completed_at.as_deref() {
            Some(t) => screenhub_core::clock::parse_rfc3339(t).ok_or_else(|| {
                ApiError::validation(
                    "completed_at must be an RFC 3339 time such as 2026-01-31T09:00:00Z",
                )
            })?,
            None => now,
        };
        let result = OrderResult {
            outcome: self.outcome,
            report_url: self.report_url.trim().to_owned(),
            summary: text("summary", self.summary, 4000)?,
            score: self.score,
            screenings: self.screenings,
            completed_at,
        };
        validate_result(&result).map_err(ApiError::validation)?;
        Ok(result)
    }
}

/// Report the result; the order becomes `completed` and Ashby gets the result.
#[utoipa::path(put, path = "/v1/orders/{id}/result", tag = "orders", params(("id" = String, Path)), request_body = ResultReport,
    responses((status = 200, body = OrderView), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "The order already ended", body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn report_result(
    State(state): State<AppState>,
    _key: VendorKey,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ResultReport>,
) -> ApiResult<Json<OrderView>> {
    let id: OrderId = path_id(&id, "order")?;
    let result = body.into_result(state.now())?;
    let order = ops::vendor_change(&state, &id, Change::Complete(result)).await?;
    Ok(Json(OrderView::from(&order)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Shown to the recruiter in Ashby.
    pub reason: String,
}

impl CancelRequest {
    pub fn into_change(self) -> Result<Change, ApiError> {
        Ok(Change::Cancel {
            reason: text("reason", Some(self.reason), 500)?.unwrap_or_default(),
            by: Actor::Vendor,
        })
    }
}

/// Cancel an order; Ashby shows it as cancelled with the reason.
#[utoipa::path(post, path = "/v1/orders/{id}/cancel", tag = "orders", params(("id" = String, Path)), request_body = CancelRequest,
    responses((status = 200, body = OrderView), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "The order already ended", body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn cancel_order(
    State(state): State<AppState>,
    _key: VendorKey,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CancelRequest>,
) -> ApiResult<Json<OrderView>> {
    let id: OrderId = path_id(&id, "order")?;
    let order = ops::vendor_change(&state, &id, body.into_change()?).await?;
    Ok(Json(OrderView::from(&order)))
}
