#![no_main]
//! libFuzzer target: the WAV reader must never panic on any input.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rnnlab::data::speech::parse_wav(data, "input");
});
