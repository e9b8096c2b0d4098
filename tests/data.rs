//! The music data: readers against the reference checksums and statistics published with the data, the pickle
//! reader on pickles written here, clear errors on corrupted files, downloads from a loopback HTTP server, and
//! batching.
//!
//! The data-dependent tests read the MAT files from `$RNNLAB_DATA/music/` (CI sets `RNNLAB_DATA=../shared/data`);
//! without it they fail and say so.

mod common;

use common::serve;
use rnnlab::data::fetch::{fetch_music, pinned_mat, sha256_file, verify_music};
use rnnlab::data::music::{
    candidate_files, find_music_file, read_music_file, MusicFormat, HIGHEST_NOTE, LOWEST_NOTE,
};
use rnnlab::data::pickle::parse_pickle;
use rnnlab::data::{
    load_music, plan_epoch, reference_checksum, BatchConfig, BatchSource, Dataset, DeviceSplit,
    FetchOptions, FetchOutcome, FileStatus, MusicData, PianoRoll, Split, SplitStats, KEYS,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tch::{Device, Kind};

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

fn data_dir() -> PathBuf {
    let dir = std::env::var_os("RNNLAB_DATA").filter(|d| !d.is_empty()).unwrap_or_else(|| {
        panic!(
            "RNNLAB_DATA is not set: point it at the shared data directory (the one holding music/*.mat), e.g. \
             `RNNLAB_DATA=../shared/data cargo test`"
        )
    });
    let dir = PathBuf::from(dir);
    assert!(
        dir.join("music").is_dir(),
        "RNNLAB_DATA={} has no music/ folder; point it at the shared data directory",
        dir.display()
    );
    dir
}

/// Every dataset, read once per test binary.
fn all_music() -> &'static BTreeMap<Dataset, MusicData> {
    static CACHE: OnceLock<BTreeMap<Dataset, MusicData>> = OnceLock::new();
    CACHE.get_or_init(|| {
        let dir = data_dir();
        Dataset::MUSIC
            .into_iter()
            .map(|dataset| {
                let (path, data) = load_music(&dir, dataset).unwrap_or_else(|e| panic!("{e:#}"));
                assert_eq!(path.extension().unwrap(), "mat");
                (dataset, data)
            })
            .collect()
    })
}

fn jsb_bytes() -> Vec<u8> {
    std::fs::read(data_dir().join("music/JSB_Chorales.mat")).unwrap()
}

/// The error chain of `r` as one string, asserting that it is an error.
fn error_text<T: std::fmt::Debug>(r: anyhow::Result<T>) -> String {
    format!("{:#}", r.expect_err("expected an error"))
}

/// A matrix: rows, columns, row-major values.
type Matrix = (usize, usize, Vec<f64>);

/// A small valid roll of `t` frames: key `(3 t + s) mod 88` sounds in frame `t` (s = seed), plus silence at t = 1.
fn small_roll(frames: usize, seed: usize) -> Matrix {
    let mut v = vec![0.0; frames * KEYS];
    for t in 0..frames {
        if t != 1 {
            v[t * KEYS + (3 * t + seed) % KEYS] = 1.0;
        }
    }
    (frames, KEYS, v)
}

// ---------------------------------------------------------------------------------------------------------------
// Readers against the published checksums and statistics
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn mat_reader_matches_reference_checksums() {
    // The data's published reference checksum for a reader test.
    let expected: [(Dataset, [u64; 3], usize); 4] = [
        (Dataset::Jsb, [23266290049, 7780049922, 7925091472], 90_002),
        (
            Dataset::Musedata,
            [373948168642, 131972813164, 96312703551],
            1_356_293,
        ),
        (
            Dataset::Nottingham,
            [250085572108, 64031988092, 62912347873],
            1_057_016,
        ),
        (
            Dataset::Piano,
            [99892236226, 10804758419, 23206777859],
            314_779,
        ),
    ];
    for (dataset, sums, notes) in expected {
        let data = &all_music()[&dataset];
        for (split, sum) in Split::ALL.into_iter().zip(sums) {
            assert_eq!(
                reference_checksum(data.split(split)),
                sum,
                "{dataset} {split}"
            );
        }
        let total: usize = Split::ALL
            .iter()
            .flat_map(|&s| data.split(s))
            .map(PianoRoll::active_notes)
            .sum();
        assert_eq!(total, notes, "{dataset} note count");
    }
}

#[test]
fn stats_match_data_readme_table() {
    // The published split sizes and statistics: sequences, frames, len min / max / mean / median, active notes
    // per frame, all-zero frames (%).
    type Row = (
        usize,
        usize,
        usize,
        usize,
        &'static str,
        f64,
        &'static str,
        &'static str,
    );
    let table: [(Dataset, [Row; 3], usize); 4] = [
        (
            Dataset::Jsb,
            [
                (229, 13_807, 25, 129, "60.3", 57.0, "3.898", "0.13"),
                (76, 4_602, 32, 144, "60.6", 54.0, "3.870", "0.63"),
                (77, 4_725, 32, 160, "61.4", 57.0, "3.887", "0.36"),
            ],
            4,
        ),
        (
            Dataset::Nottingham,
            [
                (694, 176_561, 40, 1788, "254.4", 255.0, "3.961", "0.28"),
                (173, 45_513, 96, 1473, "263.1", 255.0, "3.959", "0.11"),
                (170, 44_463, 63, 1793, "261.5", 255.0, "3.990", "0.04"),
            ],
            9,
        ),
        (
            Dataset::Musedata,
            [
                (524, 245_202, 9, 3457, "467.9", 237.0, "3.493", "5.29"),
                (135, 82_755, 63, 3723, "613.0", 333.0, "3.479", "5.33"),
                (124, 64_339, 45, 4273, "518.9", 239.0, "3.293", "7.84"),
            ],
            15,
        ),
        (
            Dataset::Piano,
            [
                (87, 75_911, 111, 3857, "872.5", 663.0, "3.044", "6.48"),
                (12, 8_540, 209, 1637, "711.7", 658.0, "3.235", "2.94"),
                (25, 19_036, 65, 2645, "761.4", 631.0, "2.945", "3.43"),
            ],
            12,
        ),
    ];
    for (dataset, rows, max_notes) in table {
        let data = &all_music()[&dataset];
        let mut most = 0;
        for (split, (seqs, frames, min, max, mean, median, npf, zero)) in
            Split::ALL.into_iter().zip(rows)
        {
            let s = SplitStats::of(data.split(split));
            let what = format!("{dataset} {split}");
            assert_eq!(s.sequences, seqs, "{what} sequences");
            assert_eq!(s.frames, frames, "{what} frames");
            assert_eq!(s.predicted_frames, frames - seqs, "{what} predicted frames");
            assert_eq!((s.len_min, s.len_max), (min, max), "{what} length range");
            assert_eq!(format!("{:.1}", s.len_mean), mean, "{what} mean length");
            // The table rounds the median (Piano valid: 657.5 → 658).
            assert!(
                (s.len_median - median).abs() <= 0.5,
                "{what} median length {}",
                s.len_median
            );
            assert_eq!(
                format!("{:.3}", s.notes_per_frame),
                npf,
                "{what} notes/frame"
            );
            let zero_pct = 100.0 * s.empty_frames as f64 / s.frames as f64;
            assert_eq!(format!("{zero_pct:.2}"), zero, "{what} all-zero frames");
            most = most.max(s.max_notes_per_frame);
        }
        assert_eq!(most, max_notes, "{dataset} most notes in one frame");
    }
}

#[test]
fn rolls_map_column_k_to_midi_21_plus_k() {
    let jsb = &all_music()[&Dataset::Jsb];
    let notes: Vec<i64> = jsb
        .train
        .iter()
        .flat_map(|r| (0..r.len()).flat_map(move |t| r.notes(t)))
        .collect();
    assert!(notes
        .iter()
        .all(|n| (LOWEST_NOTE..=HIGHEST_NOTE).contains(n)));
    // The pieces are transposed to C major or C minor, so the tonic C and the dominant G must be the two commonest
    // pitch classes (MIDI note mod 12: C = 0, G = 7); a reader off by one key would move both peaks.
    let mut pitch_classes = [0usize; 12];
    for n in &notes {
        pitch_classes[(n % 12) as usize] += 1;
    }
    let mut ranked: Vec<usize> = (0..12).collect();
    ranked.sort_by_key(|&pc| std::cmp::Reverse(pitch_classes[pc]));
    let mut top = [ranked[0], ranked[1]];
    top.sort_unstable();
    assert_eq!(top, [0, 7], "pitch-class counts {pitch_classes:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// Pickles
// ---------------------------------------------------------------------------------------------------------------

fn as_notes(rolls: &[PianoRoll]) -> Vec<Vec<Vec<i64>>> {
    rolls
        .iter()
        .map(|r| (0..r.len()).map(|t| r.notes(t)).collect())
        .collect()
}

#[test]
fn pickle_of_jsb_reads_back_equal_to_the_mat_file() {
    let jsb = &all_music()[&Dataset::Jsb];
    let dict: BTreeMap<&str, Vec<Vec<Vec<i64>>>> = Split::ALL
        .iter()
        .map(|&s| (s.name(), as_notes(jsb.split(s))))
        .collect();
    let bytes = serde_pickle::to_vec(&dict, serde_pickle::SerOptions::new().proto_v2()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("music")).unwrap();
    // The upstream file name: a directory holding only the original pickle works as it is.
    let path = dir.path().join("music/JSB Chorales.pickle");
    std::fs::write(&path, &bytes).unwrap();
    let (found, format) = find_music_file(dir.path(), Dataset::Jsb).unwrap();
    assert_eq!(
        (found.as_path(), format),
        (path.as_path(), MusicFormat::Pickle)
    );
    let (_, from_pickle) = load_music(dir.path(), Dataset::Jsb).unwrap();
    assert_eq!(&from_pickle, jsb);
}

#[test]
fn small_python2_style_pickle_reads() {
    use serde_pickle::{HashableValue as H, Value as V};
    // Byte-string keys (Python 2 `str`), tuples for frames, a repeated note, an empty (silent) frame.
    let frame = |notes: &[i64]| V::Tuple(notes.iter().map(|&n| V::I64(n)).collect());
    let piece = |frames: Vec<V>| V::List(frames);
    let mut dict = BTreeMap::new();
    dict.insert(
        H::Bytes(b"train".to_vec()),
        V::List(vec![
            piece(vec![
                frame(&[60, 64, 67]),
                frame(&[]),
                frame(&[21, 108, 108]),
            ]),
            piece(vec![frame(&[62])]),
        ]),
    );
    dict.insert(
        H::Bytes(b"valid".to_vec()),
        V::List(vec![piece(vec![frame(&[48]), frame(&[50])])]),
    );
    dict.insert(
        H::Bytes(b"test".to_vec()),
        V::List(vec![piece(vec![frame(&[72, 76])])]),
    );
    let bytes =
        serde_pickle::value_to_vec(&V::Dict(dict), serde_pickle::SerOptions::new().proto_v2())
            .unwrap();
    let data = parse_pickle(&bytes).unwrap();
    assert_eq!(data.train.len(), 2);
    assert_eq!(data.train[0].len(), 3);
    assert_eq!(data.train[0].notes(0), vec![60, 64, 67]);
    assert_eq!(data.train[0].notes(1), Vec::<i64>::new());
    assert_eq!(data.train[0].notes(2), vec![21, 108]);
    assert_eq!(data.train[0].frame(2)[0], 1);
    assert_eq!(data.train[0].frame(2)[87], 1);
    assert_eq!(data.valid[0].notes(1), vec![50]);
    assert_eq!(data.test[0].notes(0), vec![72, 76]);
}

#[test]
fn bad_pickles_give_clear_errors() {
    let to_pickle = |d: &BTreeMap<&str, Vec<Vec<Vec<i64>>>>| {
        serde_pickle::to_vec(d, serde_pickle::SerOptions::new().proto_v2()).unwrap()
    };
    let good: BTreeMap<&str, Vec<Vec<Vec<i64>>>> = [
        ("train", vec![vec![vec![60], vec![62]]]),
        ("valid", vec![vec![vec![64]]]),
        ("test", vec![vec![vec![65]]]),
    ]
    .into_iter()
    .collect();
    assert!(parse_pickle(&to_pickle(&good)).is_ok());

    let mut missing = good.clone();
    missing.remove("test");
    let e = error_text(parse_pickle(&to_pickle(&missing)));
    assert!(e.contains("missing key `test`"), "{e}");

    let mut high = good.clone();
    high.insert("valid", vec![vec![vec![64, 120]]]);
    let e = error_text(parse_pickle(&to_pickle(&high)));
    assert!(e.contains("`valid[0]`") && e.contains("note 120"), "{e}");

    let mut empty = good.clone();
    empty.insert("train", vec![]);
    let e = error_text(parse_pickle(&to_pickle(&empty)));
    assert!(e.contains("`train` is empty"), "{e}");

    let e = error_text(parse_pickle(&to_pickle(&good)[..20]));
    assert!(e.contains("not a readable pickle"), "{e}");

    let e = error_text(parse_pickle(b"\x80\x02]q\x00."));
    assert!(e.contains("expected a dict"), "{e}");

    // {'train': [[[numpy.int64()]]]}: a global reference to a Python class; refused, never executed.
    let numpy: &[u8] = b"\x80\x02}(X\x05\x00\x00\x00train](](](cnumpy\nint64\n)Reeeu.";
    let e = error_text(parse_pickle(numpy));
    assert!(e.contains("never runs pickle code"), "{e}");

    // Through the file reader, the error names the file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Nottingham.pickle");
    std::fs::write(&path, to_pickle(&missing)).unwrap();
    let e = error_text(read_music_file(&path, MusicFormat::Pickle));
    assert!(e.contains(&path.display().to_string()), "{e}");
}

// ---------------------------------------------------------------------------------------------------------------
// Corrupted MAT files
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn corrupted_mat_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = jsb_bytes();
    let check = |name: &str, bytes: &[u8], expect: &[&str]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let e = error_text(read_music_file(&path, MusicFormat::Mat));
        assert!(e.contains(&path.display().to_string()), "{name}: {e}");
        for part in expect {
            assert!(e.contains(part), "{name}: expected `{part}` in: {e}");
        }
    };
    check("truncated.mat", &good[..good.len() / 2], &["truncated"]);
    check("header-only.mat", &good[..100], &["truncated", "128-byte"]);
    check("empty.mat", &[], &["truncated"]);
    check("no-variables.mat", &good[..128], &["no variables"]);
    let mut magic = good.clone();
    magic[..6].copy_from_slice(b"GARBLE");
    check("magic.mat", &magic, &["wrong magic"]);
    let mut endian = good.clone();
    endian[126..128].copy_from_slice(b"XX");
    check("endian.mat", &endian, &["endian"]);
    let mut zlib = good.clone();
    for b in &mut zlib[200..260] {
        *b ^= 0x5a;
    }
    check("zlib.mat", &zlib, &["corrupt compressed data"]);
    let mut ty = good.clone();
    ty[128] = 3;
    check("type.mat", &ty, &["element type 3"]);

    // Content errors (NaN, values, missing split, width, empty split): tests/mat.rs, on SciPy-written fixtures.

    // A missing file.
    let e = error_text(read_music_file(
        &dir.path().join("absent.mat"),
        MusicFormat::Mat,
    ));
    assert!(e.contains("absent.mat") && e.contains("cannot read"), "{e}");
    // A data directory without the file says where it looked and how to get it.
    let e = error_text(load_music(dir.path(), Dataset::Piano));
    assert!(
        e.contains("Piano_midi.mat") && e.contains("rnnlab data fetch --dataset piano"),
        "{e}"
    );
    // The speech set given to the music-only functions is an error naming it, and nothing is written.
    for e in [
        error_text(load_music(dir.path(), Dataset::Fsdd)),
        error_text(fetch_music(
            Dataset::Fsdd,
            dir.path(),
            &FetchOptions::default(),
        )),
        error_text(pinned_mat(Dataset::Fsdd)),
    ] {
        assert!(
            e.contains("fsdd") && e.contains("not a music dataset"),
            "{e}"
        );
    }
    assert!(candidate_files(dir.path(), Dataset::Fsdd).is_empty());
    assert!(!dir.path().join("music").exists());
}

// ---------------------------------------------------------------------------------------------------------------
// Fetch and verify against a loopback server
// ---------------------------------------------------------------------------------------------------------------

fn entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => vec![],
    }
}

#[test]
fn fetch_from_loopback_server() {
    let good = jsb_bytes();
    let mut bad = good.clone();
    bad[5000] ^= 1;
    let base = serve(
        [
            ("/good/JSB_Chorales.mat".to_string(), good.clone()),
            ("/bad/JSB_Chorales.mat".to_string(), bad),
            (
                "/long/JSB_Chorales.mat".to_string(),
                [good.clone(), vec![0; 10]].concat(),
            ),
        ]
        .into_iter()
        .collect(),
    );
    let opts = |path: &str| FetchOptions {
        base_url: format!("{base}/{path}"),
        force: false,
        progress: false,
    };

    // A good file is written, verified, and then recognised as present.
    let dir = tempfile::tempdir().unwrap();
    let (path, outcome) = fetch_music(Dataset::Jsb, dir.path(), &opts("good")).unwrap();
    assert_eq!(
        outcome,
        FetchOutcome::Downloaded {
            bytes: good.len() as u64,
            replaced: false
        }
    );
    assert_eq!(path, dir.path().join("music/JSB_Chorales.mat"));
    assert_eq!(
        sha256_file(&path).unwrap(),
        pinned_mat(Dataset::Jsb).unwrap().sha256
    );
    assert_eq!(entries(&dir.path().join("music")), vec!["JSB_Chorales.mat"]);
    let (_, again) = fetch_music(Dataset::Jsb, dir.path(), &opts("good")).unwrap();
    assert_eq!(again, FetchOutcome::AlreadyPresent);
    let rows = verify_music(dir.path()).unwrap();
    assert_eq!(rows[0].status, FileStatus::Ok);
    assert!(rows[1..].iter().all(|r| r.status == FileStatus::Missing));

    // A corrupted download leaves nothing behind, and says so.
    let empty = tempfile::tempdir().unwrap();
    let e = error_text(fetch_music(Dataset::Jsb, empty.path(), &opts("bad")));
    assert!(
        e.contains("checksum mismatch") && e.contains("nothing was written"),
        "{e}"
    );
    assert_eq!(entries(&empty.path().join("music")), Vec::<String>::new());
    // Nor does an over-long one.
    let e = error_text(fetch_music(Dataset::Jsb, empty.path(), &opts("long")));
    assert!(e.contains("more than the expected"), "{e}");
    assert_eq!(entries(&empty.path().join("music")), Vec::<String>::new());

    // A forced re-download that fails keeps the good file.
    let force_bad = FetchOptions {
        force: true,
        ..opts("bad")
    };
    assert!(fetch_music(Dataset::Jsb, dir.path(), &force_bad).is_err());
    assert_eq!(
        sha256_file(&path).unwrap(),
        pinned_mat(Dataset::Jsb).unwrap().sha256
    );
    assert_eq!(entries(&dir.path().join("music")), vec!["JSB_Chorales.mat"]);

    // A missing file is an HTTP 404 naming the URL.
    let e = error_text(fetch_music(Dataset::Piano, empty.path(), &opts("good")));
    assert!(
        e.contains("404") && e.contains(&format!("{base}/good/Piano_midi.mat")),
        "{e}"
    );
    assert_eq!(entries(&empty.path().join("music")), Vec::<String>::new());

    // A file with a wrong checksum in place is reported by verify and replaced by fetch.
    std::fs::write(&path, &good[..1000]).unwrap();
    let rows = verify_music(dir.path()).unwrap();
    assert!(matches!(rows[0].status, FileStatus::Mismatch { .. }));
    let (_, outcome) = fetch_music(Dataset::Jsb, dir.path(), &opts("good")).unwrap();
    assert_eq!(
        outcome,
        FetchOutcome::Downloaded {
            bytes: good.len() as u64,
            replaced: true
        }
    );
}

#[test]
fn cli_fetch_stats_and_errors() {
    let exe = env!("CARGO_BIN_EXE_rnnlab");
    let base = serve(
        [("/JSB_Chorales.mat".to_string(), jsb_bytes())]
            .into_iter()
            .collect(),
    );
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(exe)
            .args(args)
            .env("RNNLAB_FETCH_BASE_URL", &base)
            .env("RNNLAB_DATA", dir.path())
            .output()
            .unwrap()
    };

    let out = run(&["data", "fetch", "--dataset", "jsb"]);
    assert!(out.status.success(), "{out:?}");
    let out = run(&["data", "stats", "--dataset", "jsb", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["jsb"]["train"]["sequences"], 229);
    assert_eq!(json["jsb"]["valid"]["frames"], 4602);
    assert_eq!(json["jsb"]["test"]["predicted_frames"], 4725 - 77);
    let out = run(&["data", "verify"]);
    assert!(out.status.success(), "{out:?}");

    // The whole table, from the shared data (default datasets: all four).
    let out = std::process::Command::new(exe)
        .args(["data", "stats", "--json", "--data-dir"])
        .arg(data_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["nottingham"]["train"]["sequences"], 694);
    assert_eq!(json["musedata"]["valid"]["frames"], 82_755);
    assert_eq!(json["piano"]["test"]["frames"], 19_036);

    // Errors: exit non-zero and name the file and what to do.
    let mat = dir.path().join("music/JSB_Chorales.mat");
    let bytes = std::fs::read(&mat).unwrap();
    std::fs::write(&mat, &bytes[..bytes.len() - 10]).unwrap();
    let out = run(&["data", "stats", "--dataset", "jsb"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("JSB_Chorales.mat")
            && stderr.contains("truncated")
            && stderr.contains("--force"),
        "{stderr}"
    );
    let out = run(&["data", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("MISMATCH"));
    let out = run(&["data", "stats", "--dataset", "piano"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rnnlab data fetch --dataset piano"));
}

// ---------------------------------------------------------------------------------------------------------------
// Batching
// ---------------------------------------------------------------------------------------------------------------

fn rolls_of_lengths(lengths: &[usize]) -> Vec<PianoRoll> {
    lengths
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let (_, _, v) = small_roll(t, i);
            PianoRoll::new(t, v.iter().map(|&x| x as u8).collect()).unwrap()
        })
        .collect()
}

#[test]
fn batches_shift_pad_and_mask_small_split() {
    let rolls = rolls_of_lengths(&[1, 2, 5, 3]);
    let split = DeviceSplit::new(&rolls, Device::Cpu).unwrap();
    assert_eq!(split.predicted_frames(), 1 + 4 + 2);
    let config = BatchConfig {
        batch_size: 4,
        shuffle: false,
        ..Default::default()
    };
    let (plan, batches) = split.batches(&config, 0, Kind::Float).unwrap();
    // The one-frame piece predicts nothing and is left out.
    assert_eq!(plan.batches, vec![vec![1, 2, 3]]);
    assert_eq!(plan.predicted_frames, 7);
    assert_eq!(plan.slots, 3 * 4);
    let b = &batches[0];
    assert_eq!(b.x.size(), vec![4, 3, KEYS as i64]);
    assert_eq!(b.y.size(), vec![4, 3, KEYS as i64]);
    assert_eq!(b.mask.size(), vec![4, 3]);
    let mask: Vec<f32> = Vec::try_from(b.mask.transpose(0, 1).reshape([-1])).unwrap();
    assert_eq!(mask, vec![1., 0., 0., 0., 1., 1., 1., 1., 1., 1., 0., 0.]);
    for (col, &piece) in b.members.iter().enumerate() {
        let roll = &rolls[piece];
        let steps = roll.len() - 1;
        for t in 0..4 {
            let x: Vec<f32> = Vec::try_from(b.x.get(t as i64).get(col as i64)).unwrap();
            let y: Vec<f32> = Vec::try_from(b.y.get(t as i64).get(col as i64)).unwrap();
            let want = |frame: Option<usize>| -> Vec<f32> {
                match frame {
                    Some(f) => roll.frame(f).iter().map(|&v| v as f32).collect(),
                    None => vec![0.0; KEYS],
                }
            };
            let (xt, yt) = if t < steps {
                (Some(t), Some(t + 1))
            } else {
                (None, None)
            };
            assert_eq!(x, want(xt), "x piece {piece} t {t}");
            assert_eq!(y, want(yt), "y piece {piece} t {t}");
        }
    }
    assert!(split.batch(&[0], Kind::Float).is_err());
    assert!(split.batch(&[9], Kind::Float).is_err());
    let f64_batch = split.batch(&[2], Kind::Double).unwrap();
    assert_eq!(f64_batch.x.kind(), Kind::Double);
    assert_eq!(f64_batch.x.size(), vec![4, 1, KEYS as i64]);
}

#[test]
fn batching_jsb_masks_count_predicted_frames() {
    let jsb = &all_music()[&Dataset::Jsb];
    let split = DeviceSplit::new(&jsb.train, Device::Cpu).unwrap();
    assert_eq!(split.predicted_frames(), 13_807 - 229);
    let mut fractions = vec![];
    for bucket in [false, true] {
        let config = BatchConfig {
            batch_size: 16,
            bucket,
            seed: 7,
            ..Default::default()
        };
        let (plan, batches) = split.batches(&config, 3, Kind::Float).unwrap();
        let mask_sum: f64 = batches
            .iter()
            .map(|b| b.mask.sum(Kind::Double).double_value(&[]))
            .sum();
        assert_eq!(mask_sum as usize, 13_807 - 229);
        assert_eq!(plan.predicted_frames, 13_807 - 229);
        let slots: i64 = batches
            .iter()
            .map(|b| b.mask.size().iter().product::<i64>())
            .sum();
        assert_eq!(slots as usize, plan.slots);
        // The targets hold exactly the split's notes after each piece's first frame.
        let y_notes: f64 = batches
            .iter()
            .map(|b| b.y.sum(Kind::Double).double_value(&[]))
            .sum();
        let want: usize = jsb
            .train
            .iter()
            .map(|r| r.active_notes() - r.frame(0).iter().map(|&v| v as usize).sum::<usize>())
            .sum();
        assert_eq!(y_notes as usize, want);
        // Padding carries no notes.
        for b in &batches {
            let padding = b.mask.ones_like() - &b.mask;
            let outside = (&b.y * padding.unsqueeze(-1))
                .abs()
                .sum(Kind::Double)
                .double_value(&[]);
            assert_eq!(outside, 0.0);
        }
        fractions.push(plan.padding_fraction());
    }
    assert!(
        fractions[1] < 0.05 && fractions[1] < fractions[0] / 4.0,
        "padding without / with bucketing: {fractions:?}"
    );
}

#[test]
fn seeded_shuffles_are_reproducible() {
    let lengths: Vec<usize> = all_music()[&Dataset::Nottingham]
        .train
        .iter()
        .map(PianoRoll::len)
        .collect();
    for bucket in [false, true] {
        let config = BatchConfig {
            batch_size: 8,
            bucket,
            seed: 11,
            ..Default::default()
        };
        let a = plan_epoch(&lengths, &config, 5).unwrap();
        assert_eq!(a, plan_epoch(&lengths, &config, 5).unwrap());
        assert_ne!(a.batches, plan_epoch(&lengths, &config, 6).unwrap().batches);
        let other_seed = BatchConfig {
            seed: 12,
            ..config.clone()
        };
        assert_ne!(
            a.batches,
            plan_epoch(&lengths, &other_seed, 5).unwrap().batches
        );
        // Each piece exactly once per epoch.
        let mut all: Vec<usize> = a.batches.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..lengths.len()).collect::<Vec<_>>());
    }
    let plain = BatchConfig {
        shuffle: false,
        ..Default::default()
    };
    let p = plan_epoch(&lengths, &plain, 9).unwrap();
    assert_eq!(
        p.batches,
        (0..lengths.len()).map(|i| vec![i]).collect::<Vec<_>>()
    );
    assert_eq!(p.padding_fraction(), 0.0);
}
