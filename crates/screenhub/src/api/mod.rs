//! HTTP surfaces: the vendor API (`/v1`), Ashby's partner API (`/ats/ashby`),
//! and the operator endpoints.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::state::AppState;

mod ats;
mod idempotency;
pub mod v1;

pub(crate) use v1::custom_fields::load as v1_custom_fields;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Screenhub vendor API",
        description = "Integrate once with Screenhub to receive background-check and assessment orders from \
            employers' applicant tracking systems (Ashby first) and report progress and results back. \
            Authenticate with `Authorization: Bearer <vendor API key>`. Errors are \
            `{\"error\": {\"code\", \"message\"}}`. POSTs honour `Idempotency-Key`.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    security(("vendor_api_key" = [])),
    tags(
        (name = "accounts", description = "Employers' linked ATS accounts"),
        (name = "packages", description = "What the vendor sells (Ashby's Assessment Types)"),
        (name = "custom fields", description = "Ashby custom fields to sync"),
        (name = "orders", description = "Checks started from the ATS"),
        (name = "webhooks", description = "Where the hub sends signed webhooks"),
        (name = "deliveries", description = "Every outbound message and attempt"),
        (name = "events", description = "The ordered event feed"),
        (name = "audit", description = "Administrative actions"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "vendor_api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("shk_…")
                    .build(),
            ),
        );
    }
}

fn v1_parts() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(v1::router())
        .split_for_parts()
}

/// The OpenAPI document of the vendor API, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    v1_parts().1
}

pub fn router(state: AppState) -> Router {
    crate::metrics::handle();
    let (v1, openapi) = v1_parts();
    let openapi = Arc::new(openapi);
    let v1 = v1.layer(middleware::from_fn_with_state(
        state.clone(),
        idempotency::layer,
    ));
    Router::new()
        .merge(v1)
        .nest("/ats/ashby", ats::router())
        .merge(crate::ui::router())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::metrics::render))
        .route(
            "/openapi.json",
            get(move || async move { Json(openapi.as_ref().clone()) }),
        )
        .route_layer(middleware::from_fn(crate::metrics::track_requests))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("a handler panicked").into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Ready when the database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(json!({ "status": "ready", "database": "ok" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": "unreachable" })),
            )
                .into_response()
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "there is nothing at this path; see /openapi.json for the API",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not accept this HTTP method",
    )
}
