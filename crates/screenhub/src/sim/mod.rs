//! Simulators: a local Ashby, Greenhouse and Teamtailor for tests, demos and the
//! sandbox, and a reference vendor that integrates with the vendor API.

pub mod ashby;
pub mod greenhouse;
pub mod teamtailor;
pub mod vendor;

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

/// The simulators' stylesheet, shipped in the binary.
const SIM_CSS: &str = include_str!("../../templates/sim/sim.css");

pub async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], SIM_CSS).into_response()
}

/// Render a page; a template error is our bug, shown as a plain 500.
pub fn render(page: &impl askama::Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a simulator page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not render the page",
            )
                .into_response()
        }
    }
}
