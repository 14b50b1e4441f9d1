//! Patch application: merge, JSON, strategic merge and apply patches on arbitrary documents.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| dvp_apimachinery::fuzzing::fuzz_patch(data));
