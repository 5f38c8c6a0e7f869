//! Screenhub's integration tests: one binary, the real server over real HTTP.

mod bad_input;
mod delivery;
mod demo;
mod faults;
mod flow;
mod greenhouse;
mod metrics;
mod openapi;
mod partner_api;
mod security;
mod sim_ui;
mod ui;
mod upgrade;
mod vendor_api;
