//! The MAT v5 reader on the SciPy-written fixtures of scripts/make_mat_fixtures.py (tests/fixtures/mat/): every
//! good file (float64, float32, uint8 and logical cells, compressed and not, either byte order) gives exactly the
//! statistics of the original; every bad file gives an error naming the file, split, sequence, frame and key; v7.3
//! files say how to re-save them; the CLI exits with code 2 on a bad file and writes nothing.
//!
//! The real files (MATLAB-written, doubles stored as miUINT8) are checked in tests/data.rs.

use rnnlab::data::mat::{
    read_mat_variables, read_mat_variables_limited, rolls_from_variables, MatError, MatErrorKind,
    MatValue, Stored,
};
use rnnlab::data::music::{read_music_file, MusicFormat};
use rnnlab::data::{reference_checksum, MusicData, Split, SplitStats};
use std::io::Write;
use std::path::PathBuf;

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mat")
        .join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(name: &str) -> anyhow::Result<MusicData> {
    read_music_file(&fixture_path(name), MusicFormat::Mat)
}

/// (sequences, frames, notes, reference checksum) of one split, as `make_mat_fixtures.py` prints them.
type Figures = (usize, usize, usize, u64);

/// As printed by `python3 scripts/make_mat_fixtures.py` (the first 2, 3 and 4 frames of the first three
/// sequences of each JSB Chorales split).
const EXPECTED: [Figures; 3] = [
    (3, 9, 34, 15878977),
    (3, 9, 35, 14620249),
    (3, 9, 35, 15063713),
];

/// Every good fixture, and whether its cells are MATLAB `logical`.
const GOOD: [(&str, bool); 10] = [
    ("jsb_f64_z.mat", false),
    ("jsb_f64_raw.mat", false),
    ("jsb_u8_z.mat", false),
    ("jsb_u8_raw.mat", false),
    ("jsb_f32_z.mat", false),
    ("jsb_f32_raw.mat", false),
    ("jsb_logical_z.mat", true),
    ("jsb_logical_raw.mat", true),
    ("jsb_f64_raw_be.mat", false),
    ("jsb_u8_z_be.mat", false),
];

#[test]
fn scipy_fixtures_load_with_the_original_statistics() {
    let reference = load("jsb_u8_raw.mat").unwrap();
    for (name, logical) in GOOD {
        let vars = read_mat_variables(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["traindata", "validdata", "testdata"], "{name}");
        let MatValue::Cell { cells, .. } = &vars[0].1 else {
            panic!("{name}: not a cell array")
        };
        let MatValue::Numeric(n) = &cells[0] else {
            panic!("{name}: cell not numeric")
        };
        assert_eq!(
            (n.dims.as_slice(), n.logical),
            (&[2, 88][..], logical),
            "{name}"
        );

        let data = load(name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        for (split, expected) in Split::ALL.into_iter().zip(EXPECTED) {
            let rolls = data.split(split);
            let stats = SplitStats::of(rolls);
            let got = (
                stats.sequences,
                stats.frames,
                stats.notes,
                reference_checksum(rolls),
            );
            assert_eq!(got, expected, "{name} {split}");
        }
        assert_eq!(data, reference, "{name}: values differ from jsb_u8_raw.mat");
    }
}

#[test]
fn storage_types_as_scipy_writes_them() {
    // SciPy stores each class in its own type (no narrowing), unlike MATLAB (whole-number doubles as miUINT8).
    for (name, stored) in [
        ("jsb_f64_raw.mat", Stored::F64),
        ("jsb_f32_z.mat", Stored::F32),
        ("jsb_u8_raw.mat", Stored::U8),
        ("jsb_f64_raw_be.mat", Stored::F64),
    ] {
        let vars = read_mat_variables(&fixture(name)).unwrap();
        let MatValue::Cell { cells, .. } = &vars[1].1 else {
            panic!("{name}")
        };
        let MatValue::Numeric(n) = &cells[2] else {
            panic!("{name}")
        };
        assert_eq!(n.stored, stored, "{name}");
        assert!(n.to_f64().iter().all(|&v| v == 0.0 || v == 1.0), "{name}");
    }
}

/// The full error chain of loading fixture `name`; it must start with the file's path.
fn load_error(name: &str) -> String {
    let e = format!("{:#}", load(name).expect_err(name));
    let path = fixture_path(name).display().to_string();
    assert!(
        e.starts_with(&format!("{path} is not a usable music data file: ")),
        "{e}"
    );
    e[path.len()..].to_string()
}

#[test]
fn nan_names_file_split_sequence_frame_and_key() {
    assert_eq!(
        load_error("bad_nan.mat"),
        " is not a usable music data file: train split, sequence 1 (`traindata{2}`), frame 2, key 40 (MIDI 61): \
         value NaN, expected 0 or 1"
    );
}

#[test]
fn value_other_than_0_or_1_names_split_sequence_frame_and_key() {
    assert_eq!(
        load_error("bad_two.mat"),
        " is not a usable music data file: valid split, sequence 0 (`validdata{1}`), frame 1, key 5 (MIDI 26): \
         value 2.0, expected 0 or 1"
    );
}

#[test]
fn missing_split_names_the_variable_and_what_the_file_has() {
    assert_eq!(
        load_error("bad_missing.mat"),
        " is not a usable music data file: test split (`testdata`): missing variable `testdata` (or `test`); the \
         file has `traindata` (cell 1×3), `validdata` (cell 1×3); expected traindata, validdata and testdata"
    );
}

#[test]
fn matrix_not_88_keys_wide_names_split_and_sequence() {
    assert_eq!(
        load_error("bad_keys87.mat"),
        " is not a usable music data file: test split, sequence 2 (`testdata{3}`): is 4×87 (uint8), expected T×88 \
         (one column per key, MIDI 21..108)"
    );
}

#[test]
fn empty_split_names_the_split() {
    assert_eq!(
        load_error("bad_empty_split.mat"),
        " is not a usable music data file: valid split (`validdata`): is empty: the split has no sequences"
    );
}

#[test]
fn complex_values_name_the_cell() {
    let e = load_error("bad_complex.mat");
    assert!(e.contains(": in `traindata{1}`, at byte "), "{e}");
    assert!(
        e.ends_with("a complex double array; only real values are supported"),
        "{e}"
    );
}

fn mat_error(bytes: &[u8]) -> MatError {
    read_mat_variables(bytes).expect_err("expected an error")
}

#[test]
fn v73_and_hdf5_files_say_what_they_are_and_how_to_resave() {
    let e = load_error("v73.mat");
    assert!(
        e.contains("a MAT v7.3 file, which is HDF5")
            && e.contains("save(file, 'traindata', 'validdata', 'testdata', '-v7')")
            && e.contains("scipy.io.savemat(file, data)"),
        "{e}"
    );
    assert_eq!(mat_error(&fixture("v73.mat")).kind, MatErrorKind::V73);
    // The HDF5 signature at byte 512 alone is enough (a header text rewritten by another tool).
    let mut b = fixture("v73.mat");
    b[..10].copy_from_slice(b"MATLAB 5.0");
    assert_eq!(mat_error(&b).kind, MatErrorKind::V73);
}

#[test]
fn structural_errors_are_precise() {
    let good = fixture("jsb_u8_z.mat");
    let e = mat_error(&good[..100]);
    assert_eq!(e.kind, MatErrorKind::Truncated, "{e}");
    assert!(e.to_string().contains("128-byte"), "{e}");
    let e = mat_error(&good[..good.len() - 10]);
    assert_eq!(e.kind, MatErrorKind::Truncated, "{e}");
    assert!(e.to_string().contains("variable 3"), "{e}");
    let mut b = good.clone();
    b[..6].copy_from_slice(b"HELLO!");
    assert_eq!(mat_error(&b).kind, MatErrorKind::NotMat);
    let mut b = good.clone();
    b[126..128].copy_from_slice(b"XX");
    assert!(mat_error(&b).to_string().contains("bad endian indicator"));
    let mut b = good.clone();
    b[140] ^= 0xff; // inside the first zlib stream
    let e = mat_error(&b);
    assert_eq!(e.kind, MatErrorKind::Corrupt, "{e}");
    assert!(
        e.to_string()
            .contains("at byte 136: variable 1: corrupt compressed data (zlib"),
        "{e}"
    );
    // A size field of 0xFFFFFFFF is reported, not allocated.
    let mut b = fixture("jsb_u8_raw.mat");
    b[132..136].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = mat_error(&b);
    assert!(
        e.to_string()
            .contains("declares 4294967295 bytes, but only"),
        "{e}"
    );
    // Just the header: no variables, so the splits are missing.
    assert!(read_mat_variables(&good[..128]).unwrap().is_empty());
}

#[test]
fn every_truncation_is_an_error() {
    for name in ["jsb_u8_z.mat", "jsb_f64_raw.mat"] {
        let b = fixture(name);
        for cut in 0..b.len() {
            let ok = read_mat_variables(&b[..cut])
                .ok()
                .and_then(|v| rolls_from_variables(&v).ok());
            assert!(ok.is_none(), "{name} cut at {cut} was accepted");
        }
    }
}

#[test]
fn inflation_is_capped() {
    // 64 MiB of zeros compress to about 64 KB; with a 16 MiB cap reading stops with a limit error.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        z.write_all(&zeros).unwrap();
    }
    let body = z.finish().unwrap();
    let mut file = fixture("jsb_u8_z.mat")[..128].to_vec();
    file.extend_from_slice(&15u32.to_le_bytes());
    file.extend_from_slice(&(body.len() as u32).to_le_bytes());
    file.extend_from_slice(&body);
    let e = read_mat_variables_limited(&file, 16 << 20).expect_err("cap");
    assert_eq!(e.kind, MatErrorKind::Limit, "{e}");
    // Under the default cap it inflates, and is then refused as an element of type 0.
    assert_eq!(mat_error(&file).kind, MatErrorKind::Corrupt);
}

#[test]
fn small_data_elements_and_undecoded_classes() {
    let vars = read_mat_variables(&fixture("misc_small.mat")).unwrap();
    let kinds: Vec<(&str, String)> = vars
        .iter()
        .map(|(n, v)| (n.as_str(), v.describe()))
        .collect();
    let expected = [
        ("a", "cell 1×2"),
        ("b", "char 1×4"),
        ("s", "struct 1×1"),
        ("z", "double 0×0"),
    ];
    let expected: Vec<(&str, String)> = expected.iter().map(|(n, d)| (*n, d.to_string())).collect();
    assert_eq!(kinds, expected);
    let MatValue::Cell { cells, .. } = &vars[0].1 else {
        panic!("`a` is not a cell array")
    };
    let (MatValue::Numeric(x), MatValue::Numeric(y)) = (&cells[0], &cells[1]) else {
        panic!("the cells of `a` are not numeric")
    };
    assert_eq!((x.stored, x.to_f64()), (Stored::U8, vec![1.0, 0.0, 1.0]));
    assert_eq!((y.stored, y.to_f64()), (Stored::F32, vec![-2.5]));
    let e = rolls_from_variables(&vars).unwrap_err().to_string();
    assert!(
        e.starts_with("train split (`traindata`): missing variable"),
        "{e}"
    );
    assert!(e.contains("`b` (char 1×4), `s` (struct 1×1)"), "{e}");
}

/// A bad data file makes `data stats` and `train` exit with code 2, say what is wrong, and create no run directory.
#[test]
fn cli_exits_2_on_a_bad_file_and_writes_nothing() {
    let exe = env!("CARGO_BIN_EXE_rnnlab");
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("experiments/jsb_gru.toml");
    for bad in ["bad_nan.mat", "v73.mat"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("music")).unwrap();
        let mat = dir.path().join("music/JSB_Chorales.mat");
        std::fs::write(&mat, fixture(bad)).unwrap();
        let out_dir = dir.path().join("run");
        let runs = [
            vec!["data", "stats", "--dataset", "jsb"],
            vec![
                "train",
                "--config",
                config.to_str().unwrap(),
                "--out",
                out_dir.to_str().unwrap(),
            ],
        ];
        for args in runs {
            let out = std::process::Command::new(exe)
                .args(&args)
                .arg("--data-dir")
                .arg(dir.path())
                .current_dir(dir.path())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?} on {bad}: {stderr}");
            assert!(
                stderr.contains(&mat.display().to_string()),
                "{args:?}: {stderr}"
            );
            let what = if bad == "v73.mat" {
                "'-v7'"
            } else {
                "train split, sequence 1 (`traindata{2}`), frame 2, key 40"
            };
            assert!(stderr.contains(what), "{args:?}: {stderr}");
            assert!(out.stdout.is_empty(), "{args:?}: wrote {:?}", out.stdout);
        }
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["music"], "{bad}: files were written");
    }
}
