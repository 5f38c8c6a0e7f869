//! Screenhub's integration tests: one binary, the real server over real HTTP.

mod ashby_examples;
mod bad_input;
mod delivery;
mod demo;
mod edge;
mod faults;
mod flow;
mod greenhouse;
mod metrics;
mod openapi;
mod partner_api;
mod security;
mod sim_greenhouse_ui;
mod sim_teamtailor_ui;
mod sim_ui;
mod ui;
mod upgrade;
mod vendor_api;
