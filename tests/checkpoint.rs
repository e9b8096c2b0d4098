//! A checkpoint survives a kill at any point of its save: `RunDir::save_checkpoint` writes the tensors to
//! `last.safetensors.next`, commits with state.json, then renames the tensors into place. The two crash windows are
//! recreated by hand and `load_checkpoint` must return a consistent pair in each.

use rnnlab::config::TrainConfig;
use rnnlab::run::{RunDir, TrainState};
use tch::Tensor;

/// The tensors a checkpoint of `epoch` holds: one weight whose value is the epoch, and `meta.epoch`.
fn tensors(epoch: i64) -> Vec<(String, Tensor)> {
    vec![
        ("rnn.weight".into(), Tensor::from_slice(&[epoch as f64; 3])),
        ("meta.epoch".into(), Tensor::from_slice(&[epoch])),
    ]
}

fn state(epoch: usize) -> TrainState {
    let mut s = TrainState::fresh(7, &[1e-3]);
    s.epoch = epoch;
    s
}

fn weight(t: &[(String, Tensor)]) -> f64 {
    t.iter()
        .find(|(n, _)| n == "rnn.weight")
        .unwrap()
        .1
        .double_value(&[0])
}

#[test]
fn a_save_killed_before_or_after_its_commit_leaves_a_readable_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let run = RunDir::create(&tmp.path().join("run"), &TrainConfig::default()).unwrap();
    run.save_checkpoint(&tensors(1), &state(1)).unwrap();
    let next = run.weights_path().with_extension("safetensors.next");
    assert!(!next.exists(), "a completed save leaves no .next");
    let (t, s) = run.load_checkpoint().unwrap();
    assert_eq!((s.epoch, weight(&t)), (1, 1.0));

    // A second run directory makes epoch 2's files to plant.
    let other = RunDir::create(&tmp.path().join("other"), &TrainConfig::default()).unwrap();
    other.save_checkpoint(&tensors(2), &state(2)).unwrap();

    // Killed before the commit: the new tensors are in .next, state.json still says epoch 1.
    std::fs::copy(other.weights_path(), &next).unwrap();
    let (t, s) = run.load_checkpoint().unwrap();
    assert_eq!((s.epoch, weight(&t)), (1, 1.0));

    // Killed after the commit, before the rename: state.json says 2, last.safetensors still holds 1.
    std::fs::copy(other.state_path(), run.state_path()).unwrap();
    let (t, s) = run.load_checkpoint().unwrap();
    assert_eq!((s.epoch, weight(&t)), (2, 2.0));
    assert!(next.exists(), "loading only reads");
    // The resumed run's next save puts its tensors in place and leaves no .next.
    run.save_checkpoint(&tensors(3), &state(3)).unwrap();
    assert!(!next.exists());
    let (t, s) = run.load_checkpoint().unwrap();
    assert_eq!((s.epoch, weight(&t)), (3, 3.0));

    // No .next and the epochs disagree: an error that says so, not a silent mix.
    std::fs::write(run.state_path(), serde_json::to_string(&state(4)).unwrap()).unwrap();
    let err = format!("{:#}", run.load_checkpoint().unwrap_err());
    assert!(err.contains("inconsistent"), "{err}");
}

/// The summary is committed like the checkpoint: its SHA-256 goes into state.json before it is renamed into place,
/// so a kill between the two leaves `summary.json.next`, which is read (and verified) in its place; any other
/// mismatch is an error.
#[test]
fn a_summary_killed_between_its_commit_and_its_rename_is_read_from_next() {
    let tmp = tempfile::tempdir().unwrap();
    let run = RunDir::create(&tmp.path().join("run"), &TrainConfig::default()).unwrap();
    run.save_checkpoint(&tensors(1), &state(1)).unwrap();
    let summary = |epochs: usize| rnnlab::run::Summary {
        dataset: "jsb".into(),
        cell: "paper_gru".into(),
        implementation: "custom".into(),
        hidden: 8,
        params_paper: 1,
        params_total: 2,
        epochs,
        updates: 3,
        seconds: 4.0,
        seconds_per_epoch: 4.0,
        cpu_seconds: 4.0,
        population: 1,
        seeds: 1,
        best_member: None,
        best_member_per_seed: vec![],
        members: vec![],
        tokens: None,
    };
    run.write_summary(&summary(1)).unwrap();
    let path = run.file("summary.json");
    let first = std::fs::read(&path).unwrap();
    run.write_summary(&summary(2)).unwrap();
    assert_eq!(run.read_summary().unwrap().unwrap().epochs, 2);
    // Killed after the commit: the new summary in .next, the old one still in place.
    let next = tmp.path().join("run/summary.json.next");
    std::fs::rename(&path, &next).unwrap();
    std::fs::write(&path, &first).unwrap();
    assert_eq!(run.read_summary().unwrap().unwrap().epochs, 2);
    // Without .next, the old summary does not match what state.json committed.
    std::fs::remove_file(&next).unwrap();
    let err = format!("{:#}", run.read_summary().unwrap_err());
    assert!(err.contains("does not match the SHA-256"), "{err}");
    // A checkpoint save clears the summary's checksum (the run goes on; its summary is written again at its end).
    run.save_checkpoint(&tensors(2), &state(2)).unwrap();
    assert_eq!(run.read_summary().unwrap().unwrap().epochs, 1);
}
