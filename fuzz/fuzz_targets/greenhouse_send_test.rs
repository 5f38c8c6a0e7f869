#![no_main]
//! See `screenhub::bad_input::greenhouse_send_test` for the property checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| screenhub::bad_input::greenhouse_send_test(data));
