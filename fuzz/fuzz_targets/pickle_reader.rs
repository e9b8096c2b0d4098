#![no_main]
//! libFuzzer target: the pickle reader must never panic on any input.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rnnlab::data::pickle::parse_pickle(data);
});
