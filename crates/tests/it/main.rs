//! Screenhub's integration tests: one binary, the real server over real HTTP.

mod ashby_examples;
mod bad_input;
mod delivery;
mod demo;
mod faults;
mod flow;
mod metrics;
mod openapi;
mod partner_api;
mod security;
mod sim_teamtailor_ui;
mod sim_ui;
mod ui;
mod vendor_api;
