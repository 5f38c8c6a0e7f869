//! Screenhub: a self-hostable hub between applicant tracking systems (Ashby,
//! Greenhouse; each behind [`connectors::Connector`]) and background-check
//! and assessment vendors.
//!
//! The binary is a thin shell over [`cli::run`]; tests start a [`app::Hub`]
//! on port 0 with a fresh database.

pub mod api;
pub mod app;
pub mod auth_limit;
#[cfg(feature = "fuzzing")]
pub mod bad_input;
pub mod bench;
pub mod cli;
pub mod config;
pub mod connectors;
pub mod demo;
pub mod demo_greenhouse;
pub mod dispatch;
pub mod edge;
pub mod error;
pub mod extract;
pub mod health;
pub mod housekeeping;
pub mod manage;
pub mod metrics;
pub mod ops;
pub mod outbound;
pub mod sandbox_cli;
pub mod sim;
pub mod state;
pub mod ui;
pub mod views;
pub mod webhooks;

pub use app::{Hub, Roles};
pub use config::Config;
pub use state::AppState;
