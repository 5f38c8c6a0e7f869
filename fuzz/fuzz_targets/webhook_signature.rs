#![no_main]
//! See `screenhub::bad_input::webhook_signature` for the property checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| screenhub::bad_input::webhook_signature(data));
