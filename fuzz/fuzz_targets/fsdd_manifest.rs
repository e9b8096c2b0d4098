#![no_main]
//! libFuzzer target: the FSDD manifest parser must never panic on any input.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rnnlab::data::speech::parse_manifest(&String::from_utf8_lossy(data), "manifest.tsv");
});
