//! The vendor API (`/v1`), authenticated with `Authorization: Bearer <vendor API key>`.

use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::state::AppState;

// The request bodies and their validators are public so the fuzz targets
// (fuzz/) check exactly what the handlers run.
pub mod accounts;
mod audit;
pub mod connect_sessions;
pub mod custom_fields;
mod deliveries;
mod events;
pub mod orders;
pub mod packages;
pub mod webhook_endpoints;

pub use accounts::validate_name;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(accounts::router())
        .merge(connect_sessions::router())
        .merge(packages::router())
        .merge(custom_fields::router())
        .merge(orders::router())
        .merge(webhook_endpoints::router())
        .merge(deliveries::router())
        .merge(events::router())
        .merge(audit::router())
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Page size, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 100;

pub fn limit(requested: Option<u32>) -> Result<u32, ApiError> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(l) if (1..=MAX_LIMIT).contains(&l) => Ok(l),
        Some(_) => Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        ))),
    }
}

/// A requested grace period in seconds: none for absent or 0, else at most `max_secs`.
pub fn grace_period(
    requested: Option<u64>,
    max_secs: u64,
    max_text: &str,
) -> Result<Option<u64>, ApiError> {
    match requested.filter(|g| *g > 0) {
        Some(g) if g > max_secs => Err(ApiError::validation(format!(
            "grace_period_seconds may be at most {max_secs} ({max_text})"
        ))),
        grace => Ok(grace),
    }
}

/// Parse an RFC 3339 time given as a query parameter.
pub fn query_time(name: &str, raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    raw.map(|r| {
        screenhub_core::clock::parse_rfc3339(r).ok_or_else(|| {
            ApiError::bad_request(format!(
                "{name} must be an RFC 3339 time such as 2026-01-31T09:00:00Z"
            ))
        })
    })
    .transpose()
}
