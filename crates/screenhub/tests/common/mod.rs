//! What the tests that run the `screenhub` binary share.
#![allow(dead_code)] // each test file uses its part

use std::process::Command;

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Drop the caller's `SCREENHUB_*` settings and `RUST_LOG`, so that what a
/// test checks does not depend on the shell it was started from.
pub fn without_callers_settings(command: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars() {
        if name.starts_with("SCREENHUB_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command
}
