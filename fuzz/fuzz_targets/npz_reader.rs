#![no_main]
//! libFuzzer target: the NPZ reader must never panic on any input.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rnnlab::data::npz::read_npz_from(
        std::io::Cursor::new(data),
        rnnlab::data::npz::HeadChoice::Auto,
    );
});
