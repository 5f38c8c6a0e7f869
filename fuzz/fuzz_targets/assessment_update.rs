#![no_main]
//! See `screenhub::bad_input::assessment_update_mapping` for the property checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| screenhub::bad_input::assessment_update_mapping(data));
