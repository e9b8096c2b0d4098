//! Deterministic mutation fuzzing of every reader: MAT, pickle, WAV, the FSDD manifest, NPZ, text corpora, and
//! the run directory's files read on resume (config.toml, checkpoint/state.json, metrics.jsonl). Each reader must return
//! (an error is fine) without panicking (a panic fails the test; there is no catch_unwind), quickly, and with
//! bounded memory, measured by a counting global allocator: a header that claims 4 GB must not allocate 4 GB.
//!
//! Mutations: bit flips, byte overwrites, truncations, insertions, deletions, 4-byte length fields set to extremes,
//! and for MAT files the same mutations inside a compressed variable (inflate, mutate, deflate again).
//! Knobs: FUZZ_ITERS (inputs per reader, default 3000; MAT gets 3×), FUZZ_SEED (default 17). Long runs by hand:
//! `FUZZ_ITERS=1000000 cargo test --release --test fuzz -- --nocapture`, or the cargo-fuzz targets under fuzz/.

use rnnlab::data::mat::parse_mat;
use rnnlab::data::pickle::parse_pickle;
use rnnlab::data::speech::{parse_manifest, parse_wav, BUNDLED_MANIFEST};
use rnnlab::run::records::TrainState;
use rnnlab::run::RunDir;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        System.dealloc(p, layout);
        CURRENT.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        let q = System.realloc(p, layout, new);
        if !q.is_null() {
            if new >= layout.size() {
                let now = CURRENT.fetch_add(new - layout.size(), Relaxed) + new - layout.size();
                PEAK.fetch_max(now, Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new, Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One random mutation of `b` (which may become empty).
fn mutate(b: &mut Vec<u8>, rng: &mut Rng) {
    let len = b.len();
    match rng.below(7) {
        0 if len > 0 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(len);
                b[i] ^= 1 << rng.below(8);
            }
        }
        1 if len > 0 => {
            let i = rng.below(len);
            b[i] = [0, 1, 0x7f, 0x80, 0xff, rng.next() as u8][rng.below(6)];
        }
        2 => b.truncate(rng.below(len + 1)),
        3 => {
            let i = rng.below(len + 1);
            let n = 1 + rng.below(16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            b.splice(i..i, bytes);
        }
        4 if len > 0 => {
            let i = rng.below(len);
            let j = (i + 1 + rng.below(64)).min(len);
            b.drain(i..j);
        }
        _ if len >= 4 => {
            // A length-like field: a 4-byte aligned word set to an extreme or nearby value, either byte order.
            let i = rng.below(len / 4) * 4;
            let old = u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
            let v = [
                u32::MAX,
                0x7fff_ffff,
                0x8000_0000,
                0,
                old.wrapping_add(8),
                old.wrapping_sub(1),
                1 << 24,
            ][rng.below(7)];
            let bytes = if rng.below(2) == 0 {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            };
            b[i..i + 4].copy_from_slice(&bytes);
        }
        _ => b.push(rng.next() as u8),
    }
}

/// The offsets and sizes of the top-level miCOMPRESSED elements (little- or big-endian files).
fn compressed_elements(b: &[u8]) -> Vec<(usize, usize)> {
    let big = b.get(126..128) == Some(b"MI");
    let word = |i: usize| {
        let w: [u8; 4] = b[i..i + 4].try_into().unwrap();
        if big {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    };
    let mut out = vec![];
    let mut pos = 128;
    while pos + 8 <= b.len() {
        let (ty, size) = (word(pos), word(pos + 4) as usize);
        if size > b.len() - pos - 8 {
            break;
        }
        if ty == 15 {
            out.push((pos, size));
            pos += 8 + size;
        } else {
            pos += (8 + size).next_multiple_of(8);
        }
    }
    out
}

/// Mutates inside one compressed variable: inflate, mutate, deflate, patch the element's size.
fn mutate_inside(b: &mut Vec<u8>, rng: &mut Rng) -> bool {
    let elements = compressed_elements(b);
    if elements.is_empty() {
        return false;
    }
    let (pos, size) = elements[rng.below(elements.len())];
    let mut inner = vec![];
    if flate2::read::ZlibDecoder::new(&b[pos + 8..pos + 8 + size])
        .read_to_end(&mut inner)
        .is_err()
    {
        return false;
    }
    for _ in 0..1 + rng.below(3) {
        mutate(&mut inner, rng);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&inner).unwrap();
    let body = z.finish().unwrap();
    let big = b.get(126..128) == Some(b"MI");
    let n = body.len() as u32;
    b[pos + 4..pos + 8].copy_from_slice(&if big {
        n.to_be_bytes()
    } else {
        n.to_le_bytes()
    });
    b.splice(pos + 8..pos + 8 + size, body);
    true
}

/// Runs `f` on one input and returns the peak bytes it allocated. Tests in this file run one at a time (a mutex), so
/// the counter sees only one reader.
fn peak_of(f: impl FnOnce()) -> usize {
    let base = CURRENT.load(Relaxed);
    PEAK.store(base, Relaxed);
    f();
    PEAK.load(Relaxed).saturating_sub(base)
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Mutates every seed in turn `iters` times, runs `read` on each input, and asserts the memory bound; prints the
/// figures for the README.
fn fuzz(
    reader: &str,
    seeds: &[Vec<u8>],
    iters: usize,
    limit: usize,
    mut mutator: impl FnMut(&mut Vec<u8>, &mut Rng),
    mut read: impl FnMut(&[u8]) -> bool,
) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    assert!(!seeds.is_empty(), "{reader}: no seeds");
    let mut rng = Rng(env_usize("FUZZ_SEED", 17) as u64 | 1);
    let start = Instant::now();
    let (mut accepted, mut peak) = (0, 0);
    for i in 0..iters {
        let mut input = seeds[i % seeds.len()].clone();
        mutator(&mut input, &mut rng);
        let mut ok = false;
        let p = peak_of(|| ok = read(&input));
        accepted += ok as usize;
        peak = peak.max(p);
        assert!(
            p < limit,
            "{reader}: input {i} ({} bytes) allocated {p} bytes at peak",
            input.len()
        );
    }
    eprintln!(
        "fuzz {reader}: {iters} inputs from {} seeds in {:.1} s; {accepted} accepted; 0 panics; peak allocation \
         {:.2} MB",
        seeds.len(),
        start.elapsed().as_secs_f64(),
        peak as f64 / 1e6
    );
}

fn plain_mutations(input: &mut Vec<u8>, rng: &mut Rng) {
    for _ in 0..1 + rng.below(4) {
        mutate(input, rng);
    }
}

fn iters(factor: usize) -> usize {
    env_usize("FUZZ_ITERS", 3000) * factor
}

#[test]
fn fuzz_mat_reader() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mat");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "mat"))
        .collect();
    paths.sort();
    let seeds: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let mutator = |input: &mut Vec<u8>, rng: &mut Rng| {
        if rng.below(3) != 0 || !mutate_inside(input, rng) {
            plain_mutations(input, rng);
        }
    };
    fuzz("MAT", &seeds, iters(3), 64 << 20, mutator, |b| {
        parse_mat(b).is_ok()
    });
}

/// Small Boulanger-style pickles in protocols 3 and 2 (serde-pickle writes no others), with str and with bytes
/// keys: a dict of splits → sequences → frames → MIDI notes.
fn pickle_seeds() -> Vec<Vec<u8>> {
    use serde_pickle::{HashableValue as H, SerOptions, Value as V};
    let notes = |ns: &[i64]| V::List(ns.iter().map(|&n| V::I64(n)).collect());
    let seq = |k: i64| {
        V::List(vec![
            notes(&[60 + k, 64]),
            notes(&[]),
            notes(&[21, 108 - k]),
        ])
    };
    let dict = |bytes_keys: bool| {
        let mut d = std::collections::BTreeMap::new();
        for (i, s) in ["train", "valid", "test"].iter().enumerate() {
            let key = if bytes_keys {
                H::Bytes(s.as_bytes().to_vec())
            } else {
                H::String(s.to_string())
            };
            d.insert(key, V::List((0..=i as i64).map(seq).collect()));
        }
        V::Dict(d)
    };
    let mut seeds = vec![];
    for bytes_keys in [false, true] {
        seeds.push(serde_pickle::value_to_vec(&dict(bytes_keys), SerOptions::new()).unwrap());
        seeds.push(
            serde_pickle::value_to_vec(&dict(bytes_keys), SerOptions::new().proto_v2()).unwrap(),
        );
    }
    seeds
}

#[test]
fn fuzz_pickle_reader() {
    let seeds = pickle_seeds();
    for s in &seeds {
        parse_pickle(s).expect("a seed pickle reads");
    }
    fuzz("pickle", &seeds, iters(1), 64 << 20, plain_mutations, |b| {
        parse_pickle(b).is_ok()
    });
}

#[test]
fn fuzz_wav_reader() {
    let data = std::env::var_os("RNNLAB_DATA").map(PathBuf::from);
    let dir = data
        .expect("RNNLAB_DATA is not set (point it at the shared data directory)")
        .join("speech/fsdd/recordings");
    let seeds: Vec<Vec<u8>> = ["0_george_0.wav", "5_jackson_12.wav", "9_theo_49.wav"]
        .iter()
        .map(|n| std::fs::read(dir.join(n)).unwrap_or_else(|e| panic!("{n}: {e}")))
        .collect();
    for s in &seeds {
        parse_wav(&s[..], "seed").expect("a seed WAV reads");
    }
    // Also headers that claim 4 GB of samples (the data chunk's size at byte 40).
    let mutator = |input: &mut Vec<u8>, rng: &mut Rng| {
        if rng.below(8) == 0 && input.len() >= 44 {
            input[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        }
        plain_mutations(input, rng);
    };
    fuzz("WAV", &seeds, iters(1), 16 << 20, mutator, |b| {
        parse_wav(b, "input").is_ok()
    });
}

/// The NPY arrays of an NPZ file (name, bytes), read with the zip crate.
fn npz_entries(b: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(b)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut v = Vec::new();
            f.read_to_end(&mut v).unwrap();
            (f.name().to_string(), v)
        })
        .collect()
}

/// An NPZ file (stored, as np.savez writes) of `entries`.
fn npz_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in entries {
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn fuzz_npz_reader() {
    use rnnlab::data::npz::{read_npz_from, HeadChoice};
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/npz");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "npz")
                && !p.file_name().unwrap().to_string_lossy().starts_with("bad_")
        })
        .collect();
    paths.sort();
    let seeds: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    for s in &seeds {
        read_npz_from(std::io::Cursor::new(s), HeadChoice::Auto).expect("a seed NPZ reads");
    }
    // Mutations inside one NPY array (the zip rebuilt around it, so its checksums hold), sometimes a shape that
    // claims 2^40 elements; else of the zip itself.
    let mutator = |input: &mut Vec<u8>, rng: &mut Rng| {
        if rng.below(3) == 0 {
            plain_mutations(input, rng);
            return;
        }
        let mut entries = npz_entries(input);
        let i = rng.below(entries.len());
        let npy = &mut entries[i].1;
        if rng.below(6) == 0 {
            let text = String::from_utf8_lossy(npy).into_owned();
            if let Some(at) = text.find("'shape': (") {
                let huge = "'shape': (1099511627776, ";
                let mut b = npy[..at].to_vec();
                b.extend_from_slice(huge.as_bytes());
                b.extend_from_slice(&npy[at + "'shape': (".len()..]);
                *npy = b;
            }
        } else {
            plain_mutations(npy, rng);
        }
        *input = npz_of(&entries);
    };
    fuzz("NPZ", &seeds, iters(1), 64 << 20, mutator, |b| {
        read_npz_from(std::io::Cursor::new(b), HeadChoice::Auto).is_ok()
    });
}

#[test]
fn fuzz_text_corpus() {
    use rnnlab::data::text::{corpus_from_bytes, TokenUnit};
    let seed: String = (0..40)
        .map(|i| format!("Line {i}: to be, or not — ä ö.\n"))
        .collect();
    let seeds = vec![seed.into_bytes()];
    let path = std::path::Path::new("corpus.txt");
    fuzz("text", &seeds, iters(1), 16 << 20, plain_mutations, |b| {
        let chars = corpus_from_bytes(path, b, TokenUnit::Chars, 64).is_ok();
        let bytes = corpus_from_bytes(path, b, TokenUnit::Bytes, 64).is_ok();
        chars || bytes
    });
}

#[test]
fn fuzz_fsdd_manifest() {
    let lines: Vec<&str> = BUNDLED_MANIFEST.lines().collect();
    let seeds: Vec<Vec<u8>> = [&lines[..4], &lines[..40], &lines[..300]]
        .iter()
        .map(|l| (l.join("\n") + "\n").into_bytes())
        .collect();
    fuzz(
        "manifest",
        &seeds,
        iters(1) / 3,
        64 << 20,
        plain_mutations,
        |b| parse_manifest(&String::from_utf8_lossy(b), "manifest.tsv").is_ok(),
    );
}

/// config.toml (RunDir::open) and checkpoint/state.json (load_checkpoint) and metrics.jsonl (read_metrics), each
/// mutated and written into a run directory, then read as --resume would.
#[test]
fn fuzz_run_directory_files() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    std::fs::create_dir_all(run.join("checkpoint")).unwrap();
    let config =
        std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("experiments/jsb_gru.toml"))
            .unwrap();
    let state = serde_json::to_vec_pretty(&TrainState::fresh(7, &[1e-3, 2e-4, 5e-5])).unwrap();
    let seeds = vec![config.clone(), state.clone(), state];
    let files = ["config.toml", "checkpoint/state.json", "metrics.jsonl"];
    std::fs::write(run.join("config.toml"), &config).unwrap();
    let mut which = 2; // advanced before each input, so input i goes to files[i % 3] with seeds[i % 3]
    fuzz(
        "run directory",
        &seeds,
        iters(1) / 5,
        64 << 20,
        plain_mutations,
        |b| {
            which = (which + 1) % 3;
            std::fs::write(run.join(files[which]), b).unwrap();
            let ok = match which {
                0 => RunDir::open(&run).is_ok(),
                1 => RunDir::at(&run).load_checkpoint().is_ok(),
                _ => RunDir::at(&run).read_metrics().1 == 0,
            };
            std::fs::write(run.join("config.toml"), &config).unwrap();
            ok
        },
    );
}
