//! Screenhub's integration tests: one binary, the real server over real HTTP.

mod delivery;
mod flow;
mod openapi;
mod partner_api;
mod security;
mod vendor_api;
