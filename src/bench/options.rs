//! What a benchmark run times: the shapes ([`ShapeSpec`]: the paper's, fastrnns', `--quick`'s) and the
//! [`Options`] (cells, tiers, population size, how long to time each case).

use super::{Shape, Tier};
use crate::cells::CellKind;
use crate::data::Task;
use crate::paper::table1_hidden;
use tch::Device;

/// A shape to run for every unit; `hidden: None` takes each unit's paper size (Table 1, music: [`table1_hidden`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeSpec {
    /// The family it belongs to (`paper`, `fastrnns`, `quick`), carried into each row.
    pub set: String,
    pub seq: i64,
    pub batch: i64,
    pub input: i64,
    pub hidden: Option<i64>,
}

impl ShapeSpec {
    pub(super) fn resolve(&self, kind: CellKind) -> Shape {
        Shape {
            seq: self.seq,
            batch: self.batch,
            input: self.input,
            hidden: self
                .hidden
                .unwrap_or_else(|| table1_hidden(Task::Music, kind)),
        }
    }
}

/// The paper's shapes: input 88, batch 1/8/32, sequence 60/250/500, each unit's paper hidden size.
pub fn paper_shapes() -> Vec<ShapeSpec> {
    let mut out = vec![];
    for batch in crate::paper::BENCH_BATCHES {
        for seq in crate::paper::BENCH_SEQ_LENS {
            out.push(ShapeSpec {
                set: "paper".into(),
                seq,
                batch,
                input: crate::paper::BENCH_INPUT,
                hidden: None,
            });
        }
    }
    out
}

/// PyTorch `benchmarks/fastrnns`' default shape: sequence 100, batch 64, input 512, hidden 512.
pub fn fastrnns_shapes() -> Vec<ShapeSpec> {
    vec![ShapeSpec {
        set: "fastrnns".into(),
        seq: 100,
        batch: 64,
        input: 512,
        hidden: Some(512),
    }]
}

/// Two small shapes for `--quick` (CI): a short paper-like one and a tiny one.
pub fn quick_shapes() -> Vec<ShapeSpec> {
    vec![
        ShapeSpec {
            set: "quick".into(),
            seq: 20,
            batch: 8,
            input: 88,
            hidden: None,
        },
        ShapeSpec {
            set: "quick".into(),
            seq: 10,
            batch: 2,
            input: 16,
            hidden: Some(16),
        },
    ]
}

/// What to run and how long to time it.
#[derive(Clone, Debug)]
pub struct Options {
    pub device: Device,
    pub cells: Vec<CellKind>,
    pub tiers: Vec<Tier>,
    pub shapes: Vec<ShapeSpec>,
    /// Models per op in the population tier.
    pub population: i64,
    /// Untimed runs before timing each case.
    pub warmup: usize,
    /// Timed runs per case, at least.
    pub min_reps: usize,
    /// Keep timing until this many seconds have passed (or `max_reps` is reached).
    pub min_time_s: f64,
    pub max_reps: usize,
    /// Whether this is the `--quick` run (recorded in the report).
    pub quick: bool,
    pub seed: u64,
    /// Whether libtorch may use oneDNN (see [`crate::device::set_onednn_enabled`]): on CPU, on makes `at::lstm` run
    /// oneDNN's fused LSTM layer; off, the per-step ops that `at::gru` and `at::rnn_tanh` use.
    pub onednn: bool,
}

impl Default for Options {
    /// The full run: every cell of the paper (`CellKind::PAPER`), tier and shape; 3 warm-ups, then at least 10 timed runs and 0.5 s per case.
    fn default() -> Self {
        Options {
            device: Device::Cpu,
            cells: CellKind::PAPER.to_vec(),
            tiers: Tier::ALL.to_vec(),
            shapes: [paper_shapes(), fastrnns_shapes()].concat(),
            population: 8,
            warmup: 3,
            min_reps: 10,
            min_time_s: 0.5,
            max_reps: 1000,
            quick: false,
            seed: 2014,
            onednn: true,
        }
    }
}

impl Options {
    /// `--quick`: two small shapes, one warm-up, five timed runs.
    pub fn quick() -> Self {
        Options {
            shapes: quick_shapes(),
            warmup: 1,
            min_reps: 5,
            min_time_s: 0.0,
            max_reps: 5,
            quick: true,
            ..Options::default()
        }
    }
}
