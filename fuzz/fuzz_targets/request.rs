//! Request decoding: arbitrary bodies through the server's decode/validate/admit pipeline.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| dvp_apiserver::fuzzing::fuzz_request(data));
