//! The benchmark's JSON schema: what `--json` writes and `--load`/`--compare` read ([`Report`]: [`Meta`] and one
//! [`Row`] per tier × shape × direction), with the vocabulary of its fields ([`Tier`], [`Direction`], [`Shape`]),
//! shared with `scripts/bench_pytorch.py`'s output.

use crate::cells::{CellKind, Implementation};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A benchmark tier (see the module docs): which [`Implementation`] runs the layer, and how.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Tier {
    /// Tier 1: the custom cell looped in Rust, two matmuls per gate per step (`NaiveLayer`).
    Naive,
    /// Tier 2: the custom cell, gates in one matmul, the whole sequence's input projection precomputed.
    Fused,
    /// Tier 3: libtorch's per-step kernel (`rnn_tanh_cell` / `gru_cell` / `lstm_cell`) looped in Rust.
    BuiltinCell,
    /// Tier 4: libtorch's whole-sequence op (`rnn_tanh` / `gru` / `lstm`), cuDNN off.
    BuiltinSeq,
    /// Tier 5: the whole-sequence op with cuDNN on (CUDA only).
    Cudnn,
    /// Tier 6: tier 2 for K stacked models per op; times are per model (the op's time / K).
    Population,
}

impl Tier {
    /// Every tier, in tier-number order.
    pub const ALL: [Tier; 6] = [
        Tier::Naive,
        Tier::Fused,
        Tier::BuiltinCell,
        Tier::BuiltinSeq,
        Tier::Cudnn,
        Tier::Population,
    ];

    /// The tier's number, 1–6.
    pub fn number(self) -> u8 {
        self as u8 + 1
    }

    /// The tier's name in JSON and on the command line (`naive`, `builtin_seq`, …).
    pub fn name(self) -> &'static str {
        match self {
            Tier::Naive => "naive",
            Tier::Fused => "fused",
            Tier::BuiltinCell => "builtin_cell",
            Tier::BuiltinSeq => "builtin_seq",
            Tier::Cudnn => "cudnn",
            Tier::Population => "population",
        }
    }

    /// The implementation this tier times: rnnlab's own cells in tiers 1, 2 and 6 (looped naively, fused, or
    /// stacked as a population), libtorch's per-step kernel in tier 3, its whole-sequence kernel in tiers 4 and 5
    /// (with cuDNN off, then on).
    pub fn implementation(self) -> Implementation {
        match self {
            Tier::Naive | Tier::Fused | Tier::Population => Implementation::Custom,
            Tier::BuiltinCell => Implementation::BuiltinCell,
            Tier::BuiltinSeq | Tier::Cudnn => Implementation::BuiltinSeq,
        }
    }

    /// Whether `kind` runs in this tier: the built-in tiers need a libtorch twin.
    pub fn applies_to(self, kind: CellKind) -> bool {
        match self {
            // The naive tier re-implements only the paper's cells (see `naive.rs`).
            Tier::Naive => super::naive::supports(kind),
            _ => self.implementation().supports(kind),
        }
    }

    /// Whether this tier is one of rnnlab's own (custom) implementations.
    pub fn is_custom(self) -> bool {
        self.implementation() == Implementation::Custom
    }
}

/// What a timed run covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The forward pass alone, under `no_grad` (inference).
    Forward,
    /// The forward pass recording the graph, then the gradients of `Σ outputs` with respect to every parameter.
    ForwardBackward,
}

impl Direction {
    /// Both directions, forward first.
    pub const ALL: [Direction; 2] = [Direction::Forward, Direction::ForwardBackward];

    /// The direction's name in JSON (`forward`, `forward_backward`).
    pub fn name(self) -> &'static str {
        match self {
            Direction::Forward => "forward",
            Direction::ForwardBackward => "forward_backward",
        }
    }

    pub(super) fn short(self) -> &'static str {
        match self {
            Direction::Forward => "fwd",
            Direction::ForwardBackward => "fwd+bwd",
        }
    }
}

/// Sizes of one case: `x: [seq, batch, input]`, states `[batch, hidden]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Shape {
    /// Sequence length T.
    pub seq: i64,
    /// Batch size B.
    pub batch: i64,
    /// Input size D.
    pub input: i64,
    /// Hidden size H.
    pub hidden: i64,
}

impl Shape {
    /// `T60 B8 D88 H46`.
    pub fn label(&self) -> String {
        format!(
            "T{} B{} D{} H{}",
            self.seq, self.batch, self.input, self.hidden
        )
    }
}

/// `torch` or `paper` (the tanh cell's two forms are the same maths; it counts as `torch`). The units beyond
/// Chung et al. are their papers' forms: `paper`.
pub fn form_name(kind: CellKind) -> &'static str {
    if kind.has_builtin() {
        "torch"
    } else {
        "paper"
    }
}

/// One timed case: an implementation × shape × direction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// `rnnlab` or `pytorch`.
    pub framework: String,
    /// `rust` for rnnlab; `eager` or `torchscript` for the PyTorch script.
    pub variant: String,
    /// `tanh`, `gru`, `lstm`.
    pub unit: String,
    /// The cell kind: `tanh`, `torch_gru`, `paper_gru`, `torch_lstm`, `paper_lstm`.
    pub cell: String,
    /// `torch` or `paper`.
    pub form: String,
    /// 1–6 (see [`Tier`]).
    pub tier: u8,
    /// The tier as a name.
    pub tier_name: Tier,
    /// Where it ran (`cpu`, `cuda:0`).
    pub device: String,
    /// Floating-point type of the run (rnnlab times f32).
    pub dtype: String,
    /// Sizes of the case.
    pub shape: Shape,
    /// `paper`, `fastrnns`, `quick`…
    pub shape_set: String,
    /// Forward only or forward and backward.
    pub direction: Direction,
    /// K for the population tier (times are then per model, the op's time / K).
    #[serde(default)]
    pub population: Option<i64>,
    /// Timed runs behind the statistics.
    pub reps: usize,
    /// Median time of one pass over the whole sequence, ms.
    pub median_ms: f64,
    /// 10th percentile of the timed runs, ms.
    pub p10_ms: f64,
    /// 90th percentile of the timed runs, ms.
    pub p90_ms: f64,
    /// Mean of the timed runs, ms.
    pub mean_ms: f64,
    /// Median per time step, in µs.
    pub step_us: f64,
    /// Matmul FLOPs of the case, per model (see the module docs).
    pub matmul_gflop: f64,
    /// `matmul_gflop` / median time.
    pub gflops: f64,
    /// Median / the median of the whole-sequence op (`builtin_seq`, cuDNN off) of the same unit, shape, direction.
    #[serde(default)]
    pub ratio_to_seq: Option<f64>,
    /// Median / the median of cuDNN for the same unit, shape, direction (CUDA only).
    #[serde(default)]
    pub ratio_to_cudnn: Option<f64>,
}

/// The machine and settings of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// `rnnlab` or `pytorch`.
    pub framework: String,
    /// rnnlab's version, or PyTorch's.
    pub version: String,
    /// The libtorch version the run linked.
    pub libtorch: String,
    /// `cpu` or `cuda:N`.
    pub device: String,
    /// The CPU model (or the GPU's name where known).
    pub device_name: String,
    /// libtorch's intra-op threads.
    pub threads: i64,
    /// Floating-point type of every row (`f32`).
    pub dtype: String,
    /// Whether this was a `--quick` run.
    pub quick: bool,
    /// K of the population tier.
    pub population: i64,
    /// Untimed runs before timing each case.
    pub warmup: usize,
    /// Timed runs per case, at least.
    pub min_reps: usize,
    /// Seconds each case is timed for, at least (unless the repetition cap is reached first).
    pub min_time_s: f64,
    /// A large square f32 matmul's rate on this device, GFLOP/s: the practical arithmetic peak.
    pub peak_matmul_gflops: f64,
    /// The side of that matmul.
    pub peak_matmul_n: i64,
    /// The median cost of one tiny elementwise op (`a + b` on 1-element tensors), µs: the dispatch floor.
    pub op_overhead_us: f64,
    /// Whether libtorch's oneDNN paths were allowed (reports written before this field: yes).
    #[serde(default = "yes")]
    pub onednn: bool,
    /// Anything worth knowing about the run (skipped tiers, cuDNN weight layout, …).
    #[serde(default)]
    pub notes: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A whole benchmark run: what `--json` writes and `--load`/`--compare` read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The machine and settings.
    pub meta: Meta,
    /// One row per unit × tier × shape × direction.
    pub rows: Vec<Row>,
}

impl Report {
    /// Reads a report written by `--json` (rnnlab's or `scripts/bench_pytorch.py`'s); errors name the file.
    pub fn read(path: &Path) -> Result<Report> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading benchmark JSON {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("parsing benchmark JSON {}", path.display()))
    }

    /// Writes the report as pretty JSON, atomically (temp file + rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        crate::atomic::write_atomic(path, (text + "\n").as_bytes())
            .with_context(|| format!("writing benchmark JSON {}", path.display()))
    }
}

/// Sets each row's ratios to the whole-sequence op and to cuDNN of the same unit, shape, direction and device.
pub fn fill_ratios(rows: &mut [Row]) {
    let reference = |rows: &[Row], r: &Row, tier: Tier| -> Option<f64> {
        rows.iter()
            .find(|o| {
                o.tier_name == tier
                    && o.form == "torch"
                    && o.unit == r.unit
                    && o.shape == r.shape
                    && o.direction == r.direction
                    && o.device == r.device
                    && o.framework == r.framework
            })
            .map(|o| o.median_ms)
    };
    let refs: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                reference(rows, r, Tier::BuiltinSeq),
                reference(rows, r, Tier::Cudnn),
            )
        })
        .collect();
    for (r, (seq, cudnn)) in rows.iter_mut().zip(refs) {
        r.ratio_to_seq = seq.map(|m| r.median_ms / m);
        r.ratio_to_cudnn = cudnn.map(|m| r.median_ms / m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_number_one_to_six() {
        let n: Vec<u8> = Tier::ALL.iter().map(|t| t.number()).collect();
        assert_eq!(n, [1, 2, 3, 4, 5, 6]);
        assert!(!Tier::BuiltinSeq.applies_to(CellKind::PaperGru));
        assert!(Tier::Fused.applies_to(CellKind::PaperLstm));
    }

    #[test]
    fn builtin_tiers_are_named_after_their_implementation() {
        for t in [Tier::BuiltinCell, Tier::BuiltinSeq] {
            assert_eq!(t.name(), t.implementation().name());
        }
        let custom: Vec<Tier> = Tier::ALL.into_iter().filter(|t| t.is_custom()).collect();
        assert_eq!(custom, [Tier::Naive, Tier::Fused, Tier::Population]);
    }
}
