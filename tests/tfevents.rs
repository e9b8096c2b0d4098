//! Event files: the writer reproduces TensorBoard's own bytes (tests/fixtures/example.tfevents, written by
//! scripts/tfevents_fixture.py with TensorBoard's protobuf classes and RecordWriter), reads back, resumes, and
//! parses with TensorBoard's reader where the Python package is installed.

use rnnlab::run::tfevents::{event_files, read_events, EventWriter, Scalar};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Keep in sync with WALL_TIME and SCALARS in scripts/tfevents_fixture.py.
const FIXTURE_WALL_TIME: f64 = 1_700_000_000.25;
const FIXTURE_SCALARS: [(i64, &str, f64); 10] = [
    (1, "member_00/train_nll", 8.5),
    (1, "member_00/valid_nll", 8.25),
    (1, "member_00/lr", 0.001),
    (1, "member_01/valid_nll", 0.0),
    (1, "best/valid_nll", 8.25),
    (2, "member_00/train_nll", 7.125),
    (2, "member_00/valid_nll", 7.5),
    (2, "member_01/test_nll", -1.5),
    (2, "best/test_nll", 7.75),
    (300, "best/valid_nll", 6.0625),
];

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/example.tfevents")
}

fn write_fixture_inputs(dir: &Path) -> PathBuf {
    let mut w = EventWriter::create_at(dir, FIXTURE_WALL_TIME, "fixture").unwrap();
    for (i, (step, tag, value)) in FIXTURE_SCALARS.iter().enumerate() {
        w.add_scalar(tag, *value, *step, FIXTURE_WALL_TIME + i as f64)
            .unwrap();
    }
    w.flush().unwrap();
    w.path().to_path_buf()
}

#[test]
fn writer_reproduces_tensorboards_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_fixture_inputs(dir.path());
    assert_eq!(
        path.file_name().unwrap().to_str().unwrap(),
        "events.out.tfevents.1700000000.fixture"
    );
    let ours = std::fs::read(&path).unwrap();
    let theirs = std::fs::read(fixture()).unwrap();
    assert_eq!(ours.len(), theirs.len());
    assert!(ours == theirs, "the bytes differ from TensorBoard's");
}

#[test]
fn fixture_reads_back() {
    let scalars = read_events(&fixture()).unwrap();
    let expected: Vec<Scalar> = FIXTURE_SCALARS
        .iter()
        .enumerate()
        .map(|(i, &(step, tag, value))| Scalar {
            wall_time: FIXTURE_WALL_TIME + i as f64,
            step,
            tag: tag.to_string(),
            value: value as f32,
        })
        .collect();
    assert_eq!(scalars, expected);
}

#[test]
fn a_half_written_or_corrupt_file_is_refused_by_the_reader() {
    let bytes = std::fs::read(fixture()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("events.out.tfevents.1.x");
    std::fs::write(&p, &bytes[..bytes.len() - 3]).unwrap();
    assert!(read_events(&p)
        .unwrap_err()
        .to_string()
        .contains("half-written"));
    let mut bad = bytes.clone();
    bad[100] ^= 0x40;
    std::fs::write(&p, &bad).unwrap();
    assert!(format!("{:#}", read_events(&p).unwrap_err()).contains("CRC"));
}

/// Epochs 1..=5 of a two-member run, with wall time 1000 + epoch.
fn write_epochs(w: &mut EventWriter, epochs: std::ops::RangeInclusive<i64>, offset: f64) {
    for e in epochs {
        let t = 1000.0 + e as f64;
        w.add_scalar("member_00/valid_nll", offset + 10.0 - e as f64, e, t)
            .unwrap();
        w.add_scalar("member_01/valid_nll", offset + 20.0 - e as f64, e, t)
            .unwrap();
    }
    w.flush().unwrap();
}

#[test]
fn resume_keeps_checkpointed_epochs_in_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = EventWriter::create_at(dir.path(), 1000.0, "host").unwrap();
    write_epochs(&mut w, 1..=5, 0.0);
    let first = w.path().to_path_buf();
    drop(w);
    // The kill left half a record behind.
    let mut bytes = std::fs::read(&first).unwrap();
    bytes.extend_from_slice(&[9, 0, 0, 0, 0, 0, 0]);
    std::fs::write(&first, &bytes).unwrap();

    // The checkpoint holds epoch 3; the resumed process redoes 4 and 5 with other values (same second: new name).
    let mut w = EventWriter::resume_at(dir.path(), 3, 1000.5, "host").unwrap();
    write_epochs(&mut w, 4..=5, 100.0);
    drop(w);
    let files = event_files(dir.path()).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_ne!(files[0], first);
    let s = read_events(&files[0]).unwrap();
    let got: Vec<(i64, &str, f32, f64)> = s
        .iter()
        .map(|s| (s.step, s.tag.as_str(), s.value, s.wall_time))
        .collect();
    let mut expected = Vec::new();
    for e in 1..=5i64 {
        let offset = if e <= 3 { 0.0 } else { 100.0 };
        expected.push((
            e,
            "member_00/valid_nll",
            (offset + 10.0 - e as f64) as f32,
            1000.0 + e as f64,
        ));
        expected.push((
            e,
            "member_01/valid_nll",
            (offset + 20.0 - e as f64) as f32,
            1000.0 + e as f64,
        ));
    }
    assert_eq!(got, expected);
    assert!(!dir.path().join(".events.resume.tmp").exists());
}

#[test]
fn resume_merges_files_left_by_an_interrupted_resume() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = EventWriter::create_at(dir.path(), 10.0, "h").unwrap();
    write_epochs(&mut a, 1..=4, 0.0);
    drop(a);
    // As if a resume at epoch 2 renamed its file into place and was killed before removing the old one.
    let mut b = EventWriter::create_at(dir.path(), 20.0, "h").unwrap();
    write_epochs(&mut b, 1..=2, 0.0);
    drop(b);
    let w = EventWriter::resume_at(dir.path(), 2, 30.0, "h").unwrap();
    drop(w);
    let files = event_files(dir.path()).unwrap();
    assert_eq!(files.len(), 1);
    let steps: Vec<i64> = read_events(&files[0])
        .unwrap()
        .iter()
        .map(|s| s.step)
        .collect();
    assert_eq!(steps, [1, 1, 2, 2]);
}

/// The Python interpreter with the `tensorboard` package, or None (the caller prints why it skips).
fn python_with_tensorboard() -> Option<&'static str> {
    for py in ["python3", "python"] {
        let ok = Command::new(py)
            .args(["-c", "import tensorboard"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            return Some(py);
        }
    }
    None
}

fn run_script(py: &str, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tfevents_fixture.py");
    let out = Command::new(py).arg(script).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn tensorboard_reads_our_files() {
    let Some(py) = python_with_tensorboard() else {
        println!("skipped: no Python with the `tensorboard` package (pip install tensorboard)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut w = EventWriter::create_at(dir.path(), 1000.0, "host").unwrap();
    write_epochs(&mut w, 1..=5, 0.0);
    drop(w);
    let mut w = EventWriter::resume_at(dir.path(), 3, 2000.0, "host").unwrap();
    write_epochs(&mut w, 4..=4, 0.5);
    w.add_scalar("best/valid_nll", 0.001, 4, 2004.0).unwrap();
    drop(w);
    // EventAccumulator over the run directory: tag, step, value, wall_time per line.
    let printed = run_script(py, &["scalars", dir.path().to_str().unwrap()]);
    println!("{printed}");
    let rows: Vec<(String, i64, f64)> = printed
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, i64, f64)> = [
        ("best/valid_nll", 4, 0.001f32 as f64),
        ("member_00/valid_nll", 1, 9.0),
        ("member_00/valid_nll", 2, 8.0),
        ("member_00/valid_nll", 3, 7.0),
        ("member_00/valid_nll", 4, 6.5),
        ("member_01/valid_nll", 1, 19.0),
        ("member_01/valid_nll", 2, 18.0),
        ("member_01/valid_nll", 3, 17.0),
        ("member_01/valid_nll", 4, 16.5),
    ]
    .iter()
    .map(|&(t, s, v)| (t.to_string(), s, v))
    .collect();
    assert_eq!(rows, expected);

    // TensorBoard's event_file_loader on the committed fixture: 11 events, the values of the script.
    let printed = run_script(py, &["read", fixture().to_str().unwrap()]);
    println!("{printed}");
    assert!(printed.contains("file_version=brain.Event:2"));
    assert!(printed.contains("step=300 tag=best/valid_nll simple_value=6.0625"));
    assert!(printed.trim_end().ends_with("11 events"));
}
