//! Screenhub's integration tests: one binary, the real server over real HTTP.

mod delivery;
mod flow;
mod metrics;
mod openapi;
mod partner_api;
mod vendor_api;
