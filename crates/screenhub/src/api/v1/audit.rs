//! `/v1/audit-log`: administrative actions, who did them, and when.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, VendorKey};
use crate::state::AppState;
use crate::views::Page;

use super::{limit, ListParams};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_log))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub seq: i64,
    /// `api_key:<id>`, `dashboard:<id>`, `cli`, or `connect:<account id>`.
    pub actor: String,
    /// e.g. `account.created`, `account.token_rotated`, `delivery.retried`.
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    #[schema(value_type = Object)]
    pub details: Value,
    pub created_at: String,
}

/// Administrative actions, newest first.
#[utoipa::path(get, path = "/v1/audit-log", tag = "audit", params(ListParams),
    responses((status = 200, body = Page<AuditEntryView>)))]
async fn list_audit_log(
    State(state): State<AppState>,
    _key: VendorKey,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<Page<AuditEntryView>>> {
    let limit = limit(p.limit)?;
    let before = p
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::bad_request("cursor is not one this API returned"))
        })
        .transpose()?;
    let entries = state.store.list_audit(before, limit + 1).await?;
    let more = entries.len() > limit as usize;
    let data: Vec<AuditEntryView> = entries
        .into_iter()
        .take(limit as usize)
        .map(|e| AuditEntryView {
            seq: e.seq,
            actor: e.actor,
            action: e.action,
            target_type: e.target_type,
            target_id: e.target_id,
            details: e.details,
            created_at: screenhub_core::clock::rfc3339(e.created_at),
        })
        .collect();
    let next_cursor = if more {
        data.last().map(|e| e.seq.to_string())
    } else {
        None
    };
    Ok(Json(Page { data, next_cursor }))
}
