#![no_main]
//! libFuzzer target: the text corpus reader must never panic on any input, as characters or as bytes.
use libfuzzer_sys::fuzz_target;
use rnnlab::data::text::{corpus_from_bytes, TokenUnit};

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("corpus.txt");
    let _ = corpus_from_bytes(path, data, TokenUnit::Chars, 64);
    let _ = corpus_from_bytes(path, data, TokenUnit::Bytes, 64);
});
