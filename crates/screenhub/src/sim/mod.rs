//! Simulators: a local Ashby for tests, demos and the sandbox.

pub mod ashby;
