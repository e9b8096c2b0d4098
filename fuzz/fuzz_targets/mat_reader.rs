#![no_main]
//! libFuzzer target: the MAT reader and the roll conversion must never panic on any input.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rnnlab::data::mat::parse_mat(data);
});
