//! Helpers shared by the integration tests (each test file includes this with `mod common;`).

// Each test binary uses only some of the helpers.
#![allow(dead_code)]

use rand::{Rng as _, SeedableRng};
use rnnlab::data::{MusicData, PianoRoll};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The shared data directory, `$RNNLAB_DATA`; fails the test, saying how to set it, when it is not set.
pub fn data_dir() -> PathBuf {
    PathBuf::from(std::env::var("RNNLAB_DATA").expect(
        "set RNNLAB_DATA to the data directory (CI uses ../shared/data; `rnnlab data fetch` makes ./data)",
    ))
}

/// Runs the rnnlab binary with `args`.
pub fn rnnlab<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(args)
        .output()
        .expect("running rnnlab")
}

/// Runs the rnnlab binary with `args` and `--data-dir data`.
pub fn rnnlab_in<S: AsRef<OsStr>>(data: &Path, args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("running rnnlab")
}

/// Runs the rnnlab binary with `args` and `--data-dir data`; fails the test, showing stderr, unless it succeeds.
pub fn rnnlab_ok<S: AsRef<OsStr>>(data: &Path, args: &[S]) -> Output {
    let out = rnnlab_in(data, args);
    let args: Vec<&OsStr> = args.iter().map(|a| a.as_ref()).collect();
    assert!(
        out.status.success(),
        "rnnlab {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every line of a run's `metrics.jsonl`, with its timings (`seconds`, `cpu_seconds`, the only fields that may
/// differ between two runs of one config) blanked.
pub fn metrics_without_time(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["seconds"] = serde_json::Value::Null;
            v["cpu_seconds"] = serde_json::Value::Null;
            v
        })
        .collect()
}

/// `n` random piano rolls, each of a length drawn from `frames`, each key sounding with probability 0.08.
pub fn rolls(n: usize, frames: Range<usize>, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<PianoRoll> {
    (0..n)
        .map(|_| {
            let frames = rng.gen_range(frames.clone());
            let keys = (0..frames * 88)
                .map(|_| u8::from(rng.gen_bool(0.08)))
                .collect();
            PianoRoll::new(frames, keys).unwrap()
        })
        .collect()
}

/// Synthetic music data drawn from `seed`: `pieces` = (train, valid, test) counts of [`rolls`] of lengths in `frames`.
pub fn synthetic(seed: u64, pieces: [usize; 3], frames: Range<usize>) -> MusicData {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    MusicData {
        train: rolls(pieces[0], frames.clone(), &mut rng),
        valid: rolls(pieces[1], frames.clone(), &mut rng),
        test: rolls(pieces[2], frames, &mut rng),
    }
}

/// Serves `routes` (path → body) on 127.0.0.1 from a background thread, 404 for anything else. Returns the base URL.
pub fn serve(routes: BTreeMap<String, Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            let (status, body) = match routes.get(&path) {
                Some(body) => ("200 OK", body.clone()),
                None => ("404 Not Found", b"not found".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{addr}")
}
