//! The records of a run directory: what `state.json`, `metrics.jsonl` / `metrics.csv` and `summary.json` hold.
//! Field names are the JSON keys; changing one changes the run-directory format ([`super::RUN_FORMAT_VERSION`]).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a member of a population stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Still training: takes updates and is evaluated each epoch.
    Active,
    /// Early stopping: no better validation NLL for `patience` epochs.
    Stopped,
    /// Its loss or gradient became NaN/Inf; its weights are frozen at their last finite values.
    Diverged,
    /// Stopped by the pruning rule (`prune_after`, off by default): even at its recent rate of improvement it could
    /// not reach its seed's best validation NLL by the epoch cap. Its best weights are kept.
    Pruned,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Active => "active",
            Status::Stopped => "stopped",
            Status::Diverged => "diverged",
            Status::Pruned => "pruned",
        })
    }
}

/// One member's early-stopping state (in `checkpoint/state.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemberState {
    /// The member's learning rate (constant over the run).
    pub lr: f64,
    /// Active, stopped early or diverged.
    pub status: Status,
    /// Epoch at which the status last changed to stopped/diverged.
    pub status_epoch: Option<usize>,
    /// Lowest validation NLL so far (nats per predicted frame); `None` before the first evaluation.
    pub best_valid: Option<f64>,
    /// Epoch of `best_valid` (whose weights `checkpoint/` keeps as the member's best).
    pub best_epoch: Option<usize>,
    /// Epochs since `best_valid` last improved; stopping triggers when it reaches `patience`.
    pub epochs_since_best: usize,
}

/// Everything besides tensors that a resumed run needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainState {
    /// Version of the run-directory format that wrote this file ([`super::RUN_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Completed epochs.
    pub epoch: usize,
    /// Optimizer updates (minibatches) taken so far.
    pub updates: u64,
    /// Wall-clock seconds of training and evaluation so far.
    pub seconds: f64,
    /// CPU seconds of the training thread so far (absent in run directories made before it was recorded).
    #[serde(default)]
    pub cpu_seconds: f64,
    /// The run's seed (weights, weight noise, batch order).
    pub seed: u64,
    /// Every member's state, in member order.
    pub members: Vec<MemberState>,
    /// SHA-256 (hex) of the checkpoint's tensor file, recorded by [`super::RunDir::save_checkpoint`] in the same
    /// atomic write as the rest of the state and verified before the tensors are used (absent in run directories
    /// made before checksums were recorded: those load unverified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights_sha256: Option<String>,
    /// SHA-256 (hex) of `summary.json`, recorded just before the summary is written (see
    /// [`super::RunDir::write_summary`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_sha256: Option<String>,
}

/// One member's line of an epoch (`metrics.csv` row, element of `metrics.jsonl`'s `members`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemberMetrics {
    /// The member's learning rate.
    pub lr: f64,
    /// Mean NLL per predicted frame over this epoch's updates, at the noisy weights the updates used; none for a
    /// member that had stopped or diverged before the epoch (it takes no updates, and training skips it).
    pub train_nll: Option<f64>,
    /// NLL on the validation set at this epoch's weights, without noise (nats per predicted frame); none where it is
    /// not finite (a diverged member). A member that no longer trains keeps its last evaluation's value.
    pub valid_nll: Option<f64>,
    /// NLL on the test set at this epoch's weights, without noise (nats per predicted frame); none as for `valid_nll`.
    pub test_nll: Option<f64>,
    /// The member's status at the end of the epoch.
    pub status: Status,
}

/// One epoch of a run: one line of `metrics.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Optimizer updates taken by the end of the epoch (cumulative).
    pub updates: u64,
    /// Wall-clock seconds of training and evaluation by the end of the epoch (cumulative).
    pub seconds: f64,
    /// CPU seconds of the training thread so far: with one libtorch thread, the run's own compute, whatever else
    /// the machine was doing (in `metrics.jsonl` only; 0 in runs made before it was recorded).
    #[serde(default)]
    pub cpu_seconds: f64,
    /// Every member's line, in member order.
    pub members: Vec<MemberMetrics>,
}

impl EpochMetrics {
    /// The lowest validation NLL of the epoch over its members (+∞ when none has one).
    pub fn best_valid(&self) -> f64 {
        self.members
            .iter()
            .filter_map(|x| x.valid_nll)
            .fold(f64::INFINITY, f64::min)
    }
}

/// JSON has no NaN: a non-finite NLL (a diverged member) is written as `null` and read back as NaN, so a summary
/// always round-trips.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// Per-member results at the member's best (validation) weights, evaluated without noise.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemberResult {
    /// Index of the member in the population.
    pub member: usize,
    /// The member's learning rate.
    pub lr: f64,
    /// Its final status.
    pub status: Status,
    /// The epoch at which the member stopped early or diverged.
    #[serde(default)]
    pub status_epoch: Option<usize>,
    /// Epoch of the best validation NLL, whose weights were evaluated; `None` if never evaluated.
    pub best_epoch: Option<usize>,
    /// NLL on the training set (nats per predicted frame, no noise); NaN (`null` in JSON) for a diverged member.
    #[serde(with = "nan_as_null")]
    pub train_nll: f64,
    /// NLL on the validation set (nats per predicted frame); NaN (`null`) for a diverged member.
    #[serde(with = "nan_as_null")]
    pub valid_nll: f64,
    /// NLL on the test set (nats per predicted frame); NaN (`null`) for a diverged member.
    #[serde(with = "nan_as_null")]
    pub test_nll: f64,
}

/// What a finished run reports: `summary.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// Dataset name (`nottingham`, `fsdd`, …).
    pub dataset: String,
    /// Cell name (`tanh`, `paper_gru`, …).
    pub cell: String,
    /// How the recurrence ran (`custom`, `builtin_seq`, …).
    pub implementation: String,
    /// Hidden size per member.
    pub hidden: i64,
    /// Trainable parameters per member by the paper's definition (recurrent layer only, see
    /// `CellKind::paper_param_count`).
    pub params_paper: i64,
    /// All trainable parameters per member, output layer included.
    pub params_total: i64,
    /// Epochs trained.
    pub epochs: usize,
    /// Optimizer updates taken.
    pub updates: u64,
    /// Wall-clock seconds of training and evaluation.
    pub seconds: f64,
    /// `seconds / epochs`.
    pub seconds_per_epoch: f64,
    /// CPU seconds of the training thread (0 in summaries made before it was recorded).
    #[serde(default)]
    pub cpu_seconds: f64,
    /// Members trained at once: learning-rate candidates × seeds.
    pub population: usize,
    /// Independent replicates in the population (`seeds` of the config; 1 in summaries made before seeds were
    /// reported). Member `m` belongs to seed `m % seeds` (members are candidate-major, see
    /// `TrainConfig::member_lrs`).
    #[serde(default = "one")]
    pub seeds: usize,
    /// The member with the best validation NLL among those that did not diverge.
    pub best_member: Option<usize>,
    /// For each seed, its member with the best validation NLL (chosen as `best_member` is, among that seed's
    /// members only); `None` where every member of the seed diverged.
    #[serde(default)]
    pub best_member_per_seed: Vec<Option<usize>>,
    /// Every member's result, in member order.
    pub members: Vec<MemberResult>,
    /// Token datasets (text, Shakespeare, integer NPZ): the members' NLLs, which are nats per token, in bits per
    /// token as well; absent for the paper's datasets (nats per frame).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenBits>,
}

/// A token run's NLLs in bits per token (`nats / ln 2`), member by member as in [`Summary::members`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TokenBits {
    /// What one token is: `character`, `byte` or `token`.
    pub token: String,
    /// One entry per member, in member order.
    pub members: Vec<MemberBits>,
}

/// One member's train, validation and test NLL in bits per token (null where the NLL is not finite).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MemberBits {
    /// The member's index in the population.
    pub member: usize,
    /// Training NLL at the member's best weights, bits per token.
    #[serde(with = "nan_as_null")]
    pub train: f64,
    /// Validation NLL at the member's best weights, bits per token.
    #[serde(with = "nan_as_null")]
    pub valid: f64,
    /// Test NLL at the member's best weights, bits per token.
    #[serde(with = "nan_as_null")]
    pub test: f64,
}

impl TokenBits {
    /// The bits per token of `members`' NLLs (nats per token).
    pub fn of(token: &str, members: &[MemberResult]) -> TokenBits {
        let bits = |nats: f64| nats / std::f64::consts::LN_2;
        TokenBits {
            token: token.to_string(),
            members: members
                .iter()
                .map(|m| MemberBits {
                    member: m.member,
                    train: bits(m.train_nll),
                    valid: bits(m.valid_nll),
                    test: bits(m.test_nll),
                })
                .collect(),
        }
    }
}

fn one() -> usize {
    1
}

impl TrainState {
    /// The state of a run before its first epoch: every member active, with its learning rate.
    pub fn fresh(seed: u64, lrs: &[f64]) -> TrainState {
        TrainState {
            format_version: super::RUN_FORMAT_VERSION,
            epoch: 0,
            updates: 0,
            seconds: 0.0,
            cpu_seconds: 0.0,
            seed,
            members: lrs
                .iter()
                .map(|&lr| MemberState {
                    lr,
                    status: Status::Active,
                    status_epoch: None,
                    best_valid: None,
                    best_epoch: None,
                    epochs_since_best: 0,
                })
                .collect(),
            weights_sha256: None,
            summary_sha256: None,
        }
    }

    /// The member with the lowest best validation NLL so far (see [`super::best_member`]).
    pub fn best_member(&self) -> Option<usize> {
        super::best_member(
            self.members
                .iter()
                .enumerate()
                .map(|(i, m)| (i, m.best_valid)),
        )
    }
}

impl Summary {
    /// The member a summary reports as its best: the lowest validation NLL at best weights among the members that
    /// did not diverge and were evaluated at least once (see [`super::best_member`]).
    pub fn choose_best(members: &[MemberResult]) -> Option<usize> {
        super::best_member(members.iter().map(|m| {
            let eligible = m.status != Status::Diverged && m.best_epoch.is_some();
            (m.member, eligible.then_some(m.valid_nll))
        }))
    }

    /// [`Summary::choose_best`] within each seed: element `s` is seed `s`'s best member.
    pub fn choose_best_per_seed(members: &[MemberResult], seeds: usize) -> Vec<Option<usize>> {
        let seeds = seeds.max(1);
        (0..seeds)
            .map(|s| {
                let own: Vec<MemberResult> = members
                    .iter()
                    .filter(|m| seed_of(m.member, seeds) == s)
                    .cloned()
                    .collect();
                Self::choose_best(&own)
            })
            .collect()
    }

    /// Each seed's best member: the recorded choice, or for a summary written before seeds were reported, the one
    /// best member of its single seed.
    pub fn seed_bests(&self) -> Vec<Option<usize>> {
        if self.best_member_per_seed.is_empty() {
            Self::choose_best_per_seed(&self.members, self.seeds)
        } else {
            self.best_member_per_seed.clone()
        }
    }

    /// Each seed's best member's result (`None` for a seed whose members all diverged).
    pub fn seed_results(&self) -> Vec<Option<&MemberResult>> {
        self.seed_bests()
            .into_iter()
            .map(|b| b.and_then(|m| self.members.iter().find(|r| r.member == m)))
            .collect()
    }
}

/// The seed (replicate) of population member `member` when the population holds `seeds` seeds per learning rate:
/// members are candidate-major (`member = candidate · seeds + seed`).
pub fn seed_of(member: usize, seeds: usize) -> usize {
    member % seeds.max(1)
}
