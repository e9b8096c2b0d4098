//! What a trained run gives people, through the CLI on tiny JSB runs: `rnnlab sample` (MIDI read back with midly,
//! the piano-roll PNG decoded), the TensorBoard event file (equal to metrics.jsonl), and `rnnlab show` on a
//! finished, a killed and a diverged run and on a reproduce output.

mod common;

use common::data_dir;
use midly::{MetaMessage, MidiMessage, Smf, Timing, TrackEventKind};
use rnnlab::run::tfevents::{event_files, read_events};
use rnnlab::run::EpochMetrics;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

fn rnnlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(args)
        .env("RNNLAB_DATA", data_dir())
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = rnnlab(args);
    assert!(
        out.status.success(),
        "rnnlab {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Trains a tiny JSB GRU run (10 training pieces, 5 for evaluation) into `out` with extra `--set` overrides.
fn train_tiny(out: &Path, overrides: &[&str]) {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/jsb_gru.toml");
    let mut args = vec![
        "train",
        "--config",
        config.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    for s in [
        "train_subset=10",
        "eval_subset=5",
        "lr_candidates=2",
        "max_epochs=2",
    ]
    .iter()
    .chain(overrides)
    {
        args.extend(["--set", s]);
    }
    ok(&args);
}

/// One finished tiny run shared by the tests of this file (in `<tmp>/out/runs/jsb_gru`, as `reproduce` lays out).
fn finished_run() -> &'static Path {
    static RUN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("out/runs/jsb_gru");
        train_tiny(&run, &[]);
        (dir, run)
    });
    path
}

#[test]
fn sample_writes_a_midi_file_and_a_piano_roll() {
    let run = finished_run();
    let dir = tempfile::tempdir().unwrap();
    let mid = dir.path().join("s.mid");
    let printed = ok(&[
        "sample",
        run.to_str().unwrap(),
        "--out",
        mid.to_str().unwrap(),
        "--frames",
        "24",
        "--primer-frames",
        "8",
        "--primer-piece",
        "1",
    ]);
    assert!(printed.contains("32 frames"), "{printed}");

    let bytes = std::fs::read(&mid).unwrap();
    let smf = Smf::parse(&bytes).unwrap();
    assert_eq!(smf.header.timing, Timing::Metrical(480.into()));
    let (mut tick, mut ons, mut offs, mut tempo, mut end) = (0u64, 0, 0, None, None);
    for ev in &smf.tracks[0] {
        tick += ev.delta.as_int() as u64;
        match ev.kind {
            TrackEventKind::Meta(MetaMessage::Tempo(t)) => tempo = Some(t.as_int()),
            TrackEventKind::Meta(MetaMessage::EndOfTrack) => end = Some(tick),
            TrackEventKind::Midi {
                message: MidiMessage::NoteOn { key, .. },
                ..
            } => {
                assert!((21..=108).contains(&key.as_int()));
                ons += 1;
            }
            TrackEventKind::Midi {
                message: MidiMessage::NoteOff { .. },
                ..
            } => offs += 1,
            _ => {}
        }
    }
    // JSB: a frame is a quarter note (480 ticks) at 120 bpm.
    assert_eq!(tempo, Some(500_000));
    assert_eq!(end, Some(32 * 480));
    assert!(ons > 0, "the sample has no notes");
    assert_eq!(ons, offs);

    let decoder = png::Decoder::new(std::fs::File::open(dir.path().join("s.png")).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (2 * 520, 420 + 36));

    // A seed gives the same sample; no primer and --most-likely also work.
    let again = dir.path().join("again.mid");
    ok(&[
        "sample",
        run.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
        "--frames",
        "24",
        "--primer-frames",
        "8",
        "--primer-piece",
        "1",
    ]);
    assert_eq!(std::fs::read(&again).unwrap(), bytes);
    let free = dir.path().join("free.mid");
    ok(&[
        "sample",
        run.to_str().unwrap(),
        "--out",
        free.to_str().unwrap(),
        "--primer-frames",
        "0",
        "--most-likely",
        "--frame-seconds",
        "0.25",
    ]);
    let free_bytes = std::fs::read(&free).unwrap();
    let smf = Smf::parse(&free_bytes).unwrap();
    assert!(smf.tracks[0].iter().any(|e| matches!(
        e.kind,
        TrackEventKind::Meta(MetaMessage::Tempo(t)) if t.as_int() == 250_000
    )));
}

#[test]
fn sample_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.mid");
    let err = |args: &[&str]| {
        let o = rnnlab(args);
        assert_eq!(o.status.code(), Some(2), "{args:?} should fail");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let missing = dir.path().join("nope");
    let e = err(&[
        "sample",
        missing.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(e.contains("is not a run directory"), "{e}");
    let run = finished_run().to_str().unwrap();
    let e = err(&[
        "sample",
        run,
        "--out",
        out.to_str().unwrap(),
        "--primer-piece",
        "100000",
    ]);
    assert!(e.contains("--primer-piece 100000 does not exist"), "{e}");
    let e = err(&[
        "sample",
        run,
        "--out",
        out.to_str().unwrap(),
        "--primer-frames",
        "100000",
    ]);
    assert!(e.contains("--primer-frames 100000 is longer"), "{e}");
}

/// The event file holds, per epoch, every member's NLLs and lr and the best member's, equal (as f32, TensorBoard's
/// `simple_value`) to metrics.jsonl.
#[test]
fn event_file_equals_the_runs_metrics() {
    let run = finished_run();
    let files = event_files(run).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    let scalars = read_events(&files[0]).unwrap();
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let epochs: Vec<EpochMetrics> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(epochs.len(), 2);
    let value = |step: usize, tag: &str| -> Option<f32> {
        let found: Vec<f32> = scalars
            .iter()
            .filter(|s| s.step == step as i64 && s.tag == tag)
            .map(|s| s.value)
            .collect();
        assert!(found.len() <= 1, "{tag} at {step} written twice");
        found.first().copied()
    };
    let mut expected_count = 0;
    for e in &epochs {
        let mut best: Option<(usize, f64)> = None;
        for (m, mm) in e.members.iter().enumerate() {
            for (metric, v) in [
                ("train_nll", mm.train_nll),
                ("valid_nll", mm.valid_nll),
                ("test_nll", mm.test_nll),
                ("lr", Some(mm.lr)),
            ] {
                let tag = format!("member_{m:02}/{metric}");
                assert_eq!(value(e.epoch, &tag), v.map(|v| v as f32), "{tag}");
                expected_count += usize::from(v.is_some());
            }
            if let Some(v) = mm.valid_nll {
                if best.is_none_or(|(_, b)| v < b) {
                    best = Some((m, v));
                }
            }
        }
        let (b, v) = best.unwrap();
        assert_eq!(value(e.epoch, "best/valid_nll"), Some(v as f32));
        assert_eq!(
            value(e.epoch, "best/test_nll"),
            e.members[b].test_nll.map(|t| t as f32)
        );
        assert_eq!(value(e.epoch, "best/member"), Some(b as f32));
        expected_count += 3;
    }
    assert_eq!(scalars.len(), expected_count);
}

#[test]
fn show_a_finished_run_and_a_reproduce_output() {
    let run = finished_run();
    let text = ok(&["show", run.to_str().unwrap()]);
    println!("{text}");
    for want in [
        "paper_gru on jsb, custom implementation, 46 hidden units; K = 2 models = 2 learning rates × 1 seed",
        "state      finished",
        "epochs     2 of max 2 (reached max_epochs)",
        "best       member ",
        "(at its best weights)",
        "events.out.tfevents.",
        "CPU",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    // The summary's best member, lr and NLLs.
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    let b = s["best_member"].as_u64().unwrap() as usize;
    let m = &s["members"][b];
    let line = format!(
        "best       member {b} (lr {:.3e}, seed 0): valid NLL {:.4}, test NLL {:.4}",
        m["lr"].as_f64().unwrap(),
        m["valid_nll"].as_f64().unwrap(),
        m["test_nll"].as_f64().unwrap()
    );
    assert!(text.contains(&line), "missing {line:?} in\n{text}");

    let out = run.parent().unwrap().parent().unwrap();
    let text = ok(&["show", out.to_str().unwrap()]);
    println!("{text}");
    assert!(text.contains("1 runs"), "{text}");
    assert!(
        text.contains("jsb_gru") && text.contains("finished"),
        "{text}"
    );
    assert!(text.contains("table 2    not written yet"), "{text}");

    let e = rnnlab(&["show", "/nonexistent/run"]);
    assert_eq!(e.status.code(), Some(2));
}

/// A killed run: a checkpoint, no summary, nothing written for an hour.
#[test]
fn show_a_killed_run() {
    let dir = tempfile::tempdir().unwrap();
    let killed = dir.path().join("killed");
    std::fs::create_dir_all(killed.join("checkpoint")).unwrap();
    let from = finished_run();
    for f in [
        "config.toml",
        "metrics.csv",
        "metrics.jsonl",
        "checkpoint/state.json",
        "checkpoint/last.safetensors",
    ] {
        std::fs::copy(from.join(f), killed.join(f)).unwrap();
    }
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for f in ["metrics.jsonl", "config.toml"] {
        std::fs::File::options()
            .write(true)
            .open(killed.join(f))
            .unwrap()
            .set_modified(hour_ago)
            .unwrap();
    }
    let text = ok(&["show", killed.to_str().unwrap()]);
    println!("{text}");
    for want in [
        "state      unfinished: a checkpoint but no summary, nothing written for 1 h 00 min (killed?)",
        "rnnlab train --resume",
        "epochs     2 of max 2\n",
        "(so far)",
        "tensorboard none",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    // Written a moment ago, the same directory reads as running.
    std::fs::File::options()
        .write(true)
        .open(killed.join("metrics.jsonl"))
        .unwrap()
        .set_modified(SystemTime::now())
        .unwrap();
    let text = ok(&["show", killed.to_str().unwrap()]);
    assert!(text.contains("state      running"), "{text}");
}

/// A member with an absurd learning rate diverges in its first epoch; show names it and its epoch.
#[test]
fn show_a_run_with_a_diverged_member() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("diverged");
    train_tiny(&run, &["lrs=[1e38,1e-3]"]);
    let text = ok(&["show", run.to_str().unwrap()]);
    println!("{text}");
    for want in [
        "members    1 active, 0 stopped early, 1 diverged",
        "  diverged 0 (lr 1.00e38, epoch 1)",
        "best       member 1 (lr 1.000e-3, seed 0)",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}
