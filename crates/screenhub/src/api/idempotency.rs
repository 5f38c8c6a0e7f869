//! `Idempotency-Key` on the vendor API's POSTs: a retried request gets the
//! first answer again instead of doing the work twice. Keys are kept in the
//! database (unique per API key), so this holds across processes.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use screenhub_store::IdempotencyBegin;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

const HEADER: &str = "idempotency-key";

pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let key = match key.to_str().map(str::trim) {
        Ok(k) if !k.is_empty() && k.len() <= 255 => k.to_owned(),
        _ => {
            return ApiError::bad_request("Idempotency-Key must be 1–255 visible ASCII characters")
                .into_response()
        }
    };
    // Unauthenticated requests fall through; the handler answers 401.
    let token = crate::extract::authorization(request.headers(), "Bearer").map(str::to_owned);
    let api_key = match token {
        Some(t) => match state.vendor_key(&t).await {
            Ok(Some(k)) => k,
            Ok(None) => return next.run(request).await,
            Err(e) => return ApiError::from(e).into_response(),
        },
        None => return next.run(request).await,
    };
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, state.config.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large",
            )
            .into_response()
        }
    };
    let fingerprint = Sha256::new()
        .chain_update(parts.method.as_str())
        .chain_update([0])
        .chain_update(parts.uri.path())
        .chain_update([0])
        .chain_update(&bytes)
        .finalize();
    match state.store.idempotency_begin(&api_key.id, &key, &fingerprint, state.now()).await {
        Err(e) => ApiError::from(e).into_response(),
        Ok(IdempotencyBegin::InProgress) => ApiError::conflict(
            "idempotency_key_in_use",
            "a request with this Idempotency-Key is still being processed; retry in a moment",
        )
        .into_response(),
        Ok(IdempotencyBegin::Mismatch) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different request; use a new key for a new request",
        )
        .into_response(),
        Ok(IdempotencyBegin::Replay { status, body }) => {
            let mut response = (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
        Ok(IdempotencyBegin::New) => {
            let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
            let (parts, body) = response.into_parts();
            let body = match to_bytes(body, usize::MAX).await {
                Ok(b) => b,
                Err(e) => return ApiError::internal(e).into_response(),
            };
            let status = parts.status.as_u16();
            // Our own failures are not remembered: a retry should run again.
            let stored = if parts.status.is_server_error() {
                state.store.idempotency_abandon(&api_key.id, &key).await
            } else {
                state.store.idempotency_complete(&api_key.id, &key, status, &body).await
            };
            if let Err(e) = stored {
                tracing::error!(error = %e, "could not store an idempotent response");
            }
            Response::from_parts(parts, Body::from(body))
        }
    }
}
