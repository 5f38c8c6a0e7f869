//! `/v1/events`: the ordered event feed, an alternative to webhooks.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::ApiResult;
use crate::extract::{ApiQuery, VendorKey};
use crate::state::AppState;
use crate::views::EventView;

use super::limit;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    /// Return events with a `seq` greater than this (default 0: from the start).
    pub after: Option<i64>,
    /// Page size, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// Oldest first.
    pub data: Vec<EventView>,
    /// Pass as `after` next time; stays put when there is nothing new.
    pub next_after: i64,
}

/// Events in the order they happened. Poll with the `next_after` of the last page.
#[utoipa::path(get, path = "/v1/events", tag = "events", params(EventParams),
    responses((status = 200, body = EventPage), (status = 400, body = crate::error::ErrorBody)))]
async fn list_events(
    State(state): State<AppState>,
    _key: VendorKey,
    ApiQuery(p): ApiQuery<EventParams>,
) -> ApiResult<Json<EventPage>> {
    let after = p.after.unwrap_or(0).max(0);
    let events = state.store.list_events(after, limit(p.limit)?).await?;
    let next_after = events.last().map(|e| e.seq).unwrap_or(after);
    Ok(Json(EventPage {
        data: events.iter().map(EventView::from).collect(),
        next_after,
    }))
}
