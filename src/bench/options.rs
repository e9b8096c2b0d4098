//! What a benchmark run times: the shapes ([`ShapeSpec`]: the paper's, fastrnns', `--quick`'s) and the
//! [`Options`] (cells, tiers, population size, how long to time each case), with the command line's changes to them
//! ([`Overrides`]).

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
    /// Sequence length T.
    pub seq: i64,
    /// Batch size B.
    pub batch: i64,
    /// Input size D.
    pub input: i64,
    /// Hidden size H; `None` takes each unit's Table 1 music size.
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
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Where to run (CPU or one CUDA device).
    pub device: Device,
    /// Units to time.
    pub cells: Vec<CellKind>,
    /// Tiers to time (cuDNN is skipped off CUDA).
    pub tiers: Vec<Tier>,
    /// Shapes to time, each for every unit.
    pub shapes: Vec<ShapeSpec>,
    /// Models per op in the population tier.
    pub population: i64,
    /// Untimed runs before timing each case.
    pub warmup: usize,
    /// Timed runs per case, at least.
    pub min_reps: usize,
    /// Keep timing until this many seconds have passed (or `max_reps` is reached).
    pub min_time_s: f64,
    /// Timed runs per case, at most (default 1000).
    pub max_reps: usize,
    /// Whether this is the `--quick` run (recorded in the report).
    pub quick: bool,
    /// Seed of the weights and inputs (default 2014).
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

    /// These options with `overrides` applied: each empty list or `None` keeps this value, any other replaces it.
    /// `reps` sets the least number of timed runs and raises the most to it when it is above.
    pub fn with_overrides(self, overrides: &Overrides) -> Self {
        fn keep_or<T: Clone>(given: &[T], base: Vec<T>) -> Vec<T> {
            if given.is_empty() {
                base
            } else {
                given.to_vec()
            }
        }
        Options {
            cells: keep_or(&overrides.cells, self.cells),
            tiers: keep_or(&overrides.tiers, self.tiers),
            shapes: keep_or(&overrides.shapes, self.shapes),
            warmup: overrides.warmup.unwrap_or(self.warmup),
            min_reps: overrides.reps.unwrap_or(self.min_reps),
            max_reps: overrides
                .reps
                .map_or(self.max_reps, |r| r.max(self.max_reps)),
            min_time_s: overrides.min_time_s.unwrap_or(self.min_time_s),
            ..self
        }
    }
}

/// The command line's changes to a base [`Options`] (the full run's or `--quick`'s), applied by
/// [`Options::with_overrides`]: an empty list or `None` keeps the base's value.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--cells`.
    pub cells: Vec<CellKind>,
    /// `--tiers`.
    pub tiers: Vec<Tier>,
    /// The shapes of `--shapes`' families.
    pub shapes: Vec<ShapeSpec>,
    /// `--warmup`.
    pub warmup: Option<usize>,
    /// `--reps`: timed runs per case, at least.
    pub reps: Option<usize>,
    /// `--min-time`, seconds.
    pub min_time_s: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_overrides_keep_the_base() {
        for base in [Options::default(), Options::quick()] {
            assert_eq!(base.clone().with_overrides(&Overrides::default()), base);
        }
    }

    #[test]
    fn given_overrides_replace_the_base() {
        let overrides = Overrides {
            cells: vec![CellKind::Tanh],
            tiers: vec![Tier::Naive, Tier::Population],
            shapes: fastrnns_shapes(),
            warmup: Some(2),
            reps: Some(7),
            min_time_s: Some(0.25),
        };
        let quick = Options::quick();
        let opts = quick.clone().with_overrides(&overrides);
        assert_eq!(
            opts,
            Options {
                cells: vec![CellKind::Tanh],
                tiers: vec![Tier::Naive, Tier::Population],
                shapes: fastrnns_shapes(),
                warmup: 2,
                min_reps: 7,
                // `--reps` above the base's most (5) raises it.
                max_reps: 7,
                min_time_s: 0.25,
                ..quick
            }
        );
        // Below the base's most (1000), `--reps` leaves it.
        let full = Options::default().with_overrides(&overrides);
        assert_eq!((full.min_reps, full.max_reps), (7, 1000));
        // Only the fields given change.
        let warmup_only = Overrides {
            warmup: Some(0),
            ..Overrides::default()
        };
        assert_eq!(
            Options::default().with_overrides(&warmup_only),
            Options {
                warmup: 0,
                ..Options::default()
            }
        );
    }
}
