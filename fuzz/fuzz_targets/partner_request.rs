#![no_main]
//! See `screenhub::bad_input::partner_request` for the property checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| screenhub::bad_input::partner_request(data));
