//! HTTP surfaces: the vendor API (`/v1`), each ATS's partner API
//! (`/ats/<ats>`, served by its connector), and the operator endpoints.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
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
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(v1::router())
        .split_for_parts();
    document_common_answers(&mut openapi);
    (router, openapi)
}

/// The answers every vendor API operation can give because of how it is
/// reached, rather than what it does: the key check (401, 429), query strings
/// (400), ids in the path (400, 404), JSON bodies (400, 413, 415, 422) and
/// `Idempotency-Key` on POSTs (400, 409, 422), and an internal error (500).
/// Added to each operation by its shape, so none is left undocumented; an
/// operation's own description of a code is kept.
fn document_common_answers(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{HttpMethod, ParameterBuilder, ParameterIn};
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, ResponseBuilder};

    let answers: [(&str, &str, &str); 9] = [
        (
            "400",
            "BadRequest",
            "A query parameter, header or body that cannot be read",
        ),
        ("401", "Unauthorized", "The API key is missing or not valid"),
        ("404", "NotFound", "Nothing with this id"),
        (
            "409",
            "Conflict",
            "A request with this Idempotency-Key is still in progress",
        ),
        ("413", "PayloadTooLarge", "The body is over max_body_bytes"),
        (
            "415",
            "UnsupportedMediaType",
            "The body is not sent as application/json",
        ),
        (
            "422",
            "ValidationFailed",
            "A field's value is not acceptable (the message names it)",
        ),
        (
            "429",
            "TooManyFailedAttempts",
            "Too many failed authentications from this address; see Retry-After",
        ),
        (
            "500",
            "InternalError",
            "Something went wrong on the hub's side",
        ),
    ];
    let components = openapi.components.get_or_insert_with(Default::default);
    for (_, name, description) in answers {
        let content = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build();
        components.responses.insert(
            name.to_owned(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content("application/json", content)
                    .build(),
            ),
        );
    }
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            (HttpMethod::Get, &mut item.get),
            (HttpMethod::Post, &mut item.post),
            (HttpMethod::Put, &mut item.put),
            (HttpMethod::Patch, &mut item.patch),
            (HttpMethod::Delete, &mut item.delete),
        ];
        for (method, operation) in operations {
            let Some(op) = operation else { continue };
            let params = op.parameters.get_or_insert_with(Vec::new);
            let has = |place: ParameterIn| {
                params.iter().any(|p| {
                    std::mem::discriminant(&p.parameter_in) == std::mem::discriminant(&place)
                })
            };
            let mut codes = vec!["401", "429", "500"];
            if has(ParameterIn::Query) {
                codes.push("400");
            }
            if has(ParameterIn::Path) {
                // A path that is not UTF-8 cannot be read (400).
                codes.extend(["400", "404"]);
            }
            if op.request_body.is_some() {
                codes.extend(["400", "413", "415", "422"]);
            }
            if method == HttpMethod::Post {
                codes.extend(["400", "409", "413", "422"]);
                params.push(
                    ParameterBuilder::new()
                        .name("Idempotency-Key")
                        .parameter_in(ParameterIn::Header)
                        .required(Required::False)
                        .description(Some(
                            "1–255 visible ASCII characters; a retry with the same key gets the first answer again",
                        ))
                        .schema(Some(
                            utoipa::openapi::ObjectBuilder::new()
                                .schema_type(utoipa::openapi::schema::Type::String)
                                .min_length(Some(1))
                                .max_length(Some(255)),
                        ))
                        .build(),
                );
            }
            for (code, name, _) in answers.iter().filter(|(c, ..)| codes.contains(c)) {
                op.responses
                    .responses
                    .entry((*code).to_owned())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
            }
        }
    }
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
    // `/metrics` moves to its own listener when `metrics_listen` is set.
    let metrics = if state.config.metrics_listen.is_empty() {
        Router::new().route("/metrics", get(crate::metrics::render))
    } else {
        Router::new()
    };
    Router::new()
        .merge(v1)
        .merge(metrics)
        .merge(crate::connectors::router())
        .merge(crate::ui::router())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
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
        .layer(middleware::from_fn(uniform_errors))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// `/metrics` alone, for its own listener (`metrics_listen`).
pub fn metrics_router(state: AppState) -> Router {
    crate::metrics::handle();
    Router::new()
        .route("/metrics", get(crate::metrics::render))
        .fallback(not_found)
        .with_state(state)
}

/// The span every request's log lines carry: method and path, never the query
/// (it may hold a candidate's email), and a connect link's route rather than
/// its path (the path is the link's secret).
fn request_span(req: &Request) -> tracing::Span {
    let path = match req.extensions().get::<MatchedPath>() {
        Some(route) if route.as_str().starts_with("/connect/") => route.as_str(),
        Some(_) => req.uri().path(),
        None => "(no route)",
    };
    tracing::debug_span!("request", method = %req.method(), path)
}

/// axum's own refusals (a path that is not UTF-8, a form of the wrong content
/// type, a body over the limit, a timeout) are plain text or empty. Give them
/// the error form of the surface they came from, so every client can read
/// every error: JSON on the vendor API, Ashby's envelope on the partner API,
/// a page in the UI.
async fn uniform_errors(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    let status = response.status();
    let structured = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json") || ct.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || structured {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // axum's messages are one line; anything longer is not worth showing.
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "validation_failed",
        s if s.is_server_error() => "internal_error",
        _ => "bad_request",
    };
    let mut uniform = if let Some(connector) = crate::connectors::for_path(&path) {
        connector.error_response(status, code, &message)
    } else if path.starts_with("/connect/") || path.starts_with("/dashboard") {
        crate::ui::message(status, "That did not work", message)
    } else {
        ApiError::new(status, code, message).into_response()
    };
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    uniform.headers_mut().extend(parts.headers);
    uniform
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
