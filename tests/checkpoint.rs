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
