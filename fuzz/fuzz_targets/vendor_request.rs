#![no_main]
//! See `screenhub::bad_input::vendor_request` for the property checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| screenhub::bad_input::vendor_request(data));
