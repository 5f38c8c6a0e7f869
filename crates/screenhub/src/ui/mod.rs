//! The web UI, server-rendered with askama: the employer's one-time connect
//! page (`/connect/…`) and the vendor's dashboard (`/dashboard/…`). Every
//! page works without JavaScript; CSS and the copy-button script ship in the
//! binary.

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use screenhub_core::clock::Millis;

use crate::error::ApiError;
use crate::state::AppState;

pub mod charts;
mod connect;
mod dashboard;
mod settings;

pub const CSS: &str = include_str!("../../templates/style.css");
pub const JS: &str = include_str!("../../templates/copy.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(connect::router())
        .merge(dashboard::router())
        .merge(settings::router())
}

/// An HTML page with headers that keep it out of caches and frames (the
/// connect page shows a secret).
pub(crate) fn page(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (
            status,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::X_FRAME_OPTIONS, "DENY"),
            ],
            Html(html),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "something went wrong on our side; please try again",
            )
                .into_response()
        }
    }
}

/// A full-page message: errors, expired links, confirmations.
#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct Message {
    pub heading: String,
    pub message: String,
    pub link: Option<(String, String)>,
}

pub(crate) fn message(status: StatusCode, heading: &str, message: impl Into<String>) -> Response {
    page(
        status,
        &Message {
            heading: heading.to_owned(),
            message: message.into(),
            link: None,
        },
    )
}

/// What a failed UI request shows: the API error's status and message as a page.
pub(crate) struct PageError(pub Box<Response>);

impl PageError {
    pub(crate) fn new(response: Response) -> Self {
        Self(Box::new(response))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        *self.0
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        let heading = match e.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::CONFLICT => "That cannot be done now",
            s if s.is_server_error() => "Something went wrong",
            _ => "That did not work",
        };
        PageError::new(message(e.status, heading, e.message))
    }
}

impl From<screenhub_store::StoreError> for PageError {
    fn from(e: screenhub_store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

pub(crate) type PageResult = Result<Response, PageError>;

/// A time as people read it in the UI: `2026-11-25 19:20:35 UTC`.
pub(crate) fn when(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}
