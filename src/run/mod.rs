//! Run directories, the contract between `rnnlab train` (which writes them) and `reproduce`, `sample` and `plot`
//! (which read them). This module owns the layout, the file names, the records, the checkpoint's tensor names, the
//! choice of a run's best member, and loading a run's best model.
//!
//! ```text
//! RUN_DIR/config.toml                  the resolved config (rnnlab train --resume reads it back)
//! RUN_DIR/metrics.csv                  one row per epoch and member
//! RUN_DIR/metrics.jsonl                one JSON object per epoch, with an array of members
//! RUN_DIR/checkpoint/last.safetensors  weights (PyTorch-style names, leading [K]), best weights, RMSProp state
//!                                     (`last.safetensors.next` briefly, while a save is under way)
//! RUN_DIR/checkpoint/state.json        epoch, updates, seconds, per-member early-stopping state, seed, format version
//! RUN_DIR/summary.json                 written at the end: per-member results at their best weights
//! RUN_DIR/normalisation.json           speech runs only: the training split's mean and std (for rnnlab sample)
//! RUN_DIR/data.json                    where the run's data came from ({"data_dir": ...}), so resume needs no --data-dir
//! RUN_DIR/events.out.tfevents.<secs>.<host>   TensorBoard's scalars per epoch: per-member NLLs and lr, best/*
//! RUN_DIR/writer.lock                  the writer lock (flock) and who holds it: one writer at a time
//! ```
//!
//! Every file is written atomically ([`crate::atomic`]), except the event file, which is appended to and flushed
//! after each epoch (a kill leaves at most a half-written last record, which [`tfevents::EventWriter::resume`] drops).
//!
//! - [`records`]: the serde records ([`Summary`], [`EpochMetrics`], [`TrainState`], …).
//! - [`dir`]: [`RunDir`], which creates, appends to, checkpoints and reads a run directory.
//! - [`checkpoint`]: the names of the checkpoint's tensors, and [`RunDir::load_best_model`].
//! - [`view`]: [`view::RunData`], the lenient reader of the figures (what it can of an unfinished or older run).
//! - [`tfevents`]: the TensorBoard event file (writer, resume, reader) and its tags.
//! - [`lock`]: the writer lock, one process writing a run directory at a time.
//! - [`integrity`]: the checksums of the checkpoint and the summary, and the check `rnnlab show` reports.

pub mod checkpoint;
pub mod dir;
pub mod integrity;
pub mod lock;
pub mod records;
pub mod tfevents;
pub mod view;

pub use dir::{metrics_csv_header, RunDir};
pub use lock::{RunLock, LOCK_FILE};
pub use records::{
    seed_of, EpochMetrics, MemberBits, MemberMetrics, MemberResult, MemberState, Status, Summary,
    TokenBits, TrainState,
};

/// Version of the run-directory layout; a run directory written by another version is refused on resume.
pub const RUN_FORMAT_VERSION: u32 = 1;

/// The resolved training config.
pub const CONFIG_FILE: &str = "config.toml";
/// One row per epoch and member.
pub const METRICS_CSV: &str = "metrics.csv";
/// One JSON object per epoch.
pub const METRICS_JSONL: &str = "metrics.jsonl";
/// Per-member results at their best weights, written when the run ends.
pub const SUMMARY_FILE: &str = "summary.json";
/// The speech normalisation of a speech run.
pub const NORMALISATION_FILE: &str = "normalisation.json";
/// Where the run's data came from: `{"data_dir": "/abs/path"}` (see [`RunDir::recorded_data_dir`]).
pub const DATA_FILE: &str = "data.json";
/// The folder of the last checkpoint.
pub const CHECKPOINT_DIR: &str = "checkpoint";
/// The checkpoint's tensors, in [`CHECKPOINT_DIR`].
pub const WEIGHTS_FILE: &str = "last.safetensors";
/// The checkpoint's trainer state, in [`CHECKPOINT_DIR`].
pub const STATE_FILE: &str = "state.json";

/// The best member of a run: the lowest validation NLL among `candidates`, given as (member, its validation NLL, or
/// `None` where the member cannot be chosen: diverged, or never evaluated). Non-finite values never win; on a tie the
/// first candidate wins. Every "best member" of rnnlab is this choice: the summary's ([`Summary::choose_best`]),
/// an unfinished run's ([`TrainState::best_member`]), and the figures' for runs without a summary.
pub fn best_member(candidates: impl IntoIterator<Item = (usize, Option<f64>)>) -> Option<usize> {
    candidates
        .into_iter()
        .filter_map(|(m, v)| Some((m, v?)))
        .filter(|(_, v)| v.is_finite())
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(m, _)| m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_member_is_the_lowest_finite_eligible_value_first_on_ties() {
        assert_eq!(best_member([]), None);
        assert_eq!(best_member([(0, None), (1, Some(f64::NAN))]), None);
        assert_eq!(
            best_member([(0, Some(3.0)), (1, Some(2.5)), (2, None), (3, Some(2.5))]),
            Some(1)
        );
        assert_eq!(
            best_member([(0, Some(f64::NEG_INFINITY)), (4, Some(7.0))]),
            Some(4)
        );
    }

    fn result(
        member: usize,
        status: Status,
        best_epoch: Option<usize>,
        valid: f64,
    ) -> MemberResult {
        MemberResult {
            member,
            lr: 1e-3,
            status,
            status_epoch: None,
            best_epoch,
            train_nll: valid,
            valid_nll: valid,
            test_nll: valid,
        }
    }

    /// A diverged member, or one never evaluated, is not chosen however low its NLL.
    #[test]
    fn summary_best_skips_diverged_and_unevaluated_members() {
        let members = [
            result(0, Status::Diverged, Some(1), 1.0),
            result(1, Status::Active, None, 2.0),
            result(2, Status::Stopped, Some(3), 8.5),
            result(3, Status::Active, Some(4), 8.25),
        ];
        assert_eq!(Summary::choose_best(&members), Some(3));
        assert_eq!(Summary::choose_best(&members[..2]), None);
    }

    #[test]
    fn state_best_uses_the_best_validation_so_far() {
        let mut state = TrainState::fresh(7, &[1e-3, 2e-3, 3e-3]);
        assert_eq!(state.best_member(), None);
        state.members[1].best_valid = Some(4.0);
        state.members[2].best_valid = Some(3.5);
        assert_eq!(state.best_member(), Some(2));
        assert_eq!(state.members[0].status, Status::Active);
        assert_eq!(state.format_version, RUN_FORMAT_VERSION);
    }
}
