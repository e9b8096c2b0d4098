//! `rnnlab bench`: how fast each implementation of each unit runs, from a naive Rust loop to cuDNN.
//!
//! Tiers, after PyTorch's `benchmarks/fastrnns`:
//!
//! | tier | name           | what runs                                                                             |
//! |------|----------------|---------------------------------------------------------------------------------------|
//! | 1    | `naive`        | custom cell looped in Rust, two matmuls per gate per step ([`NaiveLayer`])            |
//! | 2    | `fused`        | custom cell, gates fused into one matmul, input projection of all steps precomputed ([`CustomLayer`]) |
//! | 3    | `builtin_cell` | libtorch's per-step op (`gru_cell`, `lstm_cell`, `rnn_tanh_cell`) looped in Rust       |
//! | 4    | `builtin_seq`  | libtorch's whole-sequence op (`gru`, `lstm`, `rnn_tanh`), cuDNN off                    |
//! | 5    | `cudnn`        | the same op with cuDNN on (CUDA only)                                                  |
//! | 6    | `population`   | tier 2 for K stacked models in one op each (`CellConfig::population`), time per model |
//!
//! Tiers 1–5 run the torch forms (`tanh`, `torch_gru`, `torch_lstm`), which have built-in twins; the paper forms
//! (`paper_gru`, `paper_lstm`) run in tiers 1, 2 and 6, and their ratios are taken to the built-in op of the same unit.
//! Each case is timed in two directions: `forward` (inference, under `no_grad`) and `forward_backward` (forward, then
//! the gradients of `Σ outputs` with respect to every parameter). Warm-up runs come first; then timed runs until both
//! a minimum count and a minimum time are reached. On CUDA every timed run is bracketed by device synchronisation.
//!
//! Shapes: the paper's (input 88; hidden 36/46/100 for LSTM/GRU/tanh, about equal parameter counts; batch 1/8/32;
//! sequence 60/250/500) and fastrnns' (sequence 100, batch 64, input 512, hidden 512).
//!
//! Besides time, every row carries the matmul FLOPs of its case (`2·T·B·G·H·(D+H)` forward, three times that for
//! forward+backward) and the rate achieved; the report's meta holds a large sgemm's rate (the practical peak) and the
//! cost of one tiny op (the per-op dispatch floor), which together tell arithmetic from dispatch overhead.

mod compare;
mod markdown;
mod naive;

pub use compare::{compare, format_compare, ratio_groups, CompareRow};
pub use markdown::markdown;
pub use naive::NaiveLayer;

use crate::cells::{
    new_cell, BuiltinLayer, Cell, CellConfig, CellKind, CustomLayer, Implementation, SequenceLayer,
};
use crate::device::device_name;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// The libtorch rnnlab is pinned to (tch 0.26).
pub const LIBTORCH_VERSION: &str = "2.13.0";

/// A benchmark tier (see the module docs).
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
    Naive,
    Fused,
    BuiltinCell,
    BuiltinSeq,
    Cudnn,
    Population,
}

impl Tier {
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

    /// Whether `kind` runs in this tier: the built-in tiers need a libtorch twin.
    pub fn applies_to(self, kind: CellKind) -> bool {
        match self {
            Tier::Naive | Tier::Fused | Tier::Population => true,
            Tier::BuiltinCell | Tier::BuiltinSeq | Tier::Cudnn => kind.has_builtin(),
        }
    }

    /// Whether this tier is one of rnnlab's own (custom) implementations.
    pub fn is_custom(self) -> bool {
        matches!(self, Tier::Naive | Tier::Fused | Tier::Population)
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
    pub const ALL: [Direction; 2] = [Direction::Forward, Direction::ForwardBackward];

    pub fn name(self) -> &'static str {
        match self {
            Direction::Forward => "forward",
            Direction::ForwardBackward => "forward_backward",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Direction::Forward => "fwd",
            Direction::ForwardBackward => "fwd+bwd",
        }
    }
}

/// Sizes of one case: `x: [seq, batch, input]`, states `[batch, hidden]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Shape {
    pub seq: i64,
    pub batch: i64,
    pub input: i64,
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

/// A shape to run for every unit; `hidden: None` takes each unit's paper size (see [`paper_hidden`]).
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
    fn resolve(&self, kind: CellKind) -> Shape {
        Shape {
            seq: self.seq,
            batch: self.batch,
            input: self.input,
            hidden: self.hidden.unwrap_or_else(|| paper_hidden(kind)),
        }
    }
}

/// The unit a cell implements, whatever its form: `tanh`, `gru` or `lstm`.
pub fn unit_name(kind: CellKind) -> &'static str {
    kind.family()
}

/// `torch` or `paper` (the tanh cell's two forms are the same maths; it counts as `torch`).
pub fn form_name(kind: CellKind) -> &'static str {
    match kind {
        CellKind::PaperGru | CellKind::PaperLstm => "paper",
        _ => "torch",
    }
}

/// Hidden sizes of the paper's music models (Table 1): LSTM 36, GRU 46, tanh 100.
pub fn paper_hidden(kind: CellKind) -> i64 {
    crate::model::table1_music_hidden(kind)
}

/// The paper's shapes: input 88, batch 1/8/32, sequence 60/250/500, each unit's paper hidden size.
pub fn paper_shapes() -> Vec<ShapeSpec> {
    let mut out = vec![];
    for batch in [1, 8, 32] {
        for seq in [60, 250, 500] {
            out.push(ShapeSpec {
                set: "paper".into(),
                seq,
                batch,
                input: 88,
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
    /// The full run: every cell, tier and shape; 3 warm-ups, then at least 10 timed runs and 0.5 s per case.
    fn default() -> Self {
        Options {
            device: Device::Cpu,
            cells: CellKind::ALL.to_vec(),
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
    pub tier_name: Tier,
    pub device: String,
    pub dtype: String,
    pub shape: Shape,
    /// `paper`, `fastrnns`, `quick`…
    pub shape_set: String,
    pub direction: Direction,
    /// K for the population tier (times are then per model, the op's time / K).
    #[serde(default)]
    pub population: Option<i64>,
    /// Timed runs behind the statistics.
    pub reps: usize,
    pub median_ms: f64,
    pub p10_ms: f64,
    pub p90_ms: f64,
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
    pub framework: String,
    /// rnnlab's version, or PyTorch's.
    pub version: String,
    pub libtorch: String,
    pub device: String,
    /// The CPU model (or the GPU's name where known).
    pub device_name: String,
    /// libtorch's intra-op threads.
    pub threads: i64,
    pub dtype: String,
    pub quick: bool,
    pub population: i64,
    pub warmup: usize,
    pub min_reps: usize,
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
    pub meta: Meta,
    pub rows: Vec<Row>,
}

impl Report {
    pub fn read(path: &Path) -> Result<Report> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading benchmark JSON {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("parsing benchmark JSON {}", path.display()))
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        crate::train::run::write_atomic(path, (text + "\n").as_bytes())
            .with_context(|| format!("writing benchmark JSON {}", path.display()))
    }
}

/// Timing statistics of a list of samples (ms).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub mean: f64,
}

/// The `q`-quantile (0 ≤ q ≤ 1) of sorted samples, linearly interpolated between order statistics.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

impl Stats {
    pub fn of(samples: &[f64]) -> Stats {
        assert!(!samples.is_empty(), "no samples to summarise");
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        Stats {
            median: quantile(&s, 0.5),
            p10: quantile(&s, 0.1),
            p90: quantile(&s, 0.9),
            mean: s.iter().sum::<f64>() / s.len() as f64,
        }
    }

    fn scaled(self, by: f64) -> Stats {
        Stats {
            median: self.median * by,
            p10: self.p10 * by,
            p90: self.p90 * by,
            mean: self.mean * by,
        }
    }
}

fn synchronize(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// Runs `f` `warmup` times untimed, then times it until `min_reps` runs and `min_time_s` seconds have passed (at
/// most `max_reps` runs). Returns each run's milliseconds.
pub fn time_runs(opts: &Options, mut f: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    for _ in 0..opts.warmup {
        f()?;
    }
    synchronize(opts.device);
    let start = Instant::now();
    let mut samples = vec![];
    while samples.len() < opts.min_reps.max(1)
        || (start.elapsed().as_secs_f64() < opts.min_time_s && samples.len() < opts.max_reps)
    {
        let t0 = Instant::now();
        f()?;
        synchronize(opts.device);
        samples.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    Ok(samples)
}

/// Matmul FLOPs of one model's pass over `s`: `2·T·B·G·H·(D+H)` forward (the input projection and the recurrent
/// product; elementwise work is not counted); backward does two products of the same size per forward one.
pub fn matmul_flop(kind: CellKind, s: Shape, direction: Direction) -> f64 {
    let forward =
        2.0 * (s.seq * s.batch * kind.gates() * s.hidden) as f64 * (s.input + s.hidden) as f64;
    match direction {
        Direction::Forward => forward,
        Direction::ForwardBackward => 3.0 * forward,
    }
}

/// Turns cuDNN off for the lifetime of the guard (for the `builtin_seq` tier on CUDA), then restores it.
struct CudnnGuard {
    before: bool,
}

impl CudnnGuard {
    fn set(enabled: bool) -> CudnnGuard {
        let before = tch::Cuda::user_enabled_cudnn();
        tch::Cuda::set_user_enabled_cudnn(enabled);
        CudnnGuard { before }
    }
}

impl Drop for CudnnGuard {
    fn drop(&mut self) {
        tch::Cuda::set_user_enabled_cudnn(self.before);
    }
}

/// Moves a built-in layer's weights into one contiguous buffer in cuDNN's layout (what PyTorch's
/// `flatten_parameters` does), so cuDNN does not copy them on every call. The parameters keep their identity:
/// libtorch re-points their storage into the buffer.
fn flatten_for_cudnn(cell: &dyn Cell) -> Result<()> {
    let mode = match cell.kind() {
        CellKind::Tanh => 1,
        CellKind::TorchLstm => 2,
        CellKind::TorchGru => 3,
        k => bail!("{k} has no cuDNN twin"),
    };
    let params = cell.parameters();
    let _buffer = tch::no_grad(|| {
        Tensor::f_internal_cudnn_rnn_flatten_weight(
            &params,
            4,
            cell.input_size(),
            mode,
            cell.hidden_size(),
            0,
            1,
            false,
            false,
        )
    })
    .context("flattening weights for cuDNN")?;
    Ok(())
}

/// Times one layer in one direction on input `x`; backward differentiates with respect to `params`.
fn time_layer(
    opts: &Options,
    layer: &dyn SequenceLayer,
    params: &[&Tensor],
    x: &Tensor,
    direction: Direction,
) -> Result<Vec<f64>> {
    time_runs(opts, || {
        match direction {
            Direction::Forward => {
                let _ = tch::no_grad(|| layer.forward(x, None))?;
            }
            Direction::ForwardBackward => {
                let (out, _) = layer.forward(x, None)?;
                let loss = out.f_sum(out.kind())?;
                Tensor::f_run_backward(&[&loss], params, false, false)?;
            }
        }
        Ok(())
    })
}

/// The practical matmul peak: GFLOP/s of an `n × n × n` f32 product, median of a few runs.
fn measure_peak(opts: &Options) -> Result<(i64, f64)> {
    let n = match (opts.device, opts.quick) {
        (Device::Cpu, true) => 256,
        (Device::Cpu, false) => 1024,
        (_, true) => 1024,
        (_, false) => 4096,
    };
    let a = Tensor::randn([n, n], (Kind::Float, opts.device));
    let b = Tensor::randn([n, n], (Kind::Float, opts.device));
    let o = Options {
        min_reps: 5,
        max_reps: 50,
        min_time_s: if opts.quick { 0.0 } else { 0.3 },
        ..opts.clone()
    };
    let ms = Stats::of(&time_runs(&o, || {
        let _ = a.f_mm(&b)?;
        Ok(())
    })?)
    .median;
    Ok((n, 2.0 * (n as f64).powi(3) / (ms * 1e-3) / 1e9))
}

/// The dispatch floor: µs per tiny op, from the median of batches of 200 `a + b` on 1-element tensors.
fn measure_op_overhead(opts: &Options) -> Result<f64> {
    let a = Tensor::ones([1], (Kind::Float, opts.device));
    let ops = 200;
    let ms = Stats::of(&time_runs(opts, || {
        for _ in 0..ops {
            let _ = a.f_add(&a)?;
        }
        Ok(())
    })?)
    .median;
    Ok(ms * 1e3 / ops as f64)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// One case before it is timed: which implementation to build.
#[derive(Clone, Debug)]
struct Case {
    kind: CellKind,
    shape: Shape,
    set: String,
    tier: Tier,
}

/// The cases `opts` asks for, in run order; tiers that cannot run here are left out (and named in `notes`).
fn plan(opts: &Options, notes: &mut Vec<String>) -> Vec<Case> {
    let cuda = opts.device.is_cuda();
    let cudnn = cuda && tch::Cuda::cudnn_is_available();
    if opts.tiers.contains(&Tier::Cudnn) && !cudnn {
        notes.push(if cuda {
            "tier 5 (cudnn) skipped: cuDNN is not available to this libtorch".into()
        } else {
            "tier 5 (cudnn) skipped: CUDA only".into()
        });
    }
    let mut cases = vec![];
    for spec in &opts.shapes {
        for &kind in &opts.cells {
            for &tier in &opts.tiers {
                if !tier.applies_to(kind) || (tier == Tier::Cudnn && !cudnn) {
                    continue;
                }
                cases.push(Case {
                    kind,
                    shape: spec.resolve(kind),
                    set: spec.set.clone(),
                    tier,
                });
            }
        }
    }
    cases
}

/// Runs the benchmark. `progress` sees each row as soon as it is measured.
pub fn run(opts: &Options, mut progress: impl FnMut(&Row)) -> Result<Report> {
    if opts.cells.is_empty() || opts.tiers.is_empty() || opts.shapes.is_empty() {
        bail!("nothing to run: choose at least one cell, tier and shape");
    }
    if opts.population < 1 {
        bail!(
            "population size must be at least 1, got {}",
            opts.population
        );
    }
    tch::manual_seed(opts.seed as i64);
    let _onednn = OnednnGuard::set(opts.onednn);
    let mut notes = vec![];
    let cases = plan(opts, &mut notes);
    let device = device_name(opts.device);
    let (peak_n, peak) = measure_peak(opts)?;
    let overhead = measure_op_overhead(opts)?;
    let mut rows = vec![];
    // Cases come grouped by (shape, cell): the models and input are built once per group.
    let mut current: Option<(CellKind, Shape, CustomLayer, Tensor)> = None;
    for case in cases {
        let same = matches!(&current, Some((k, s, _, _)) if *k == case.kind && *s == case.shape);
        if !same {
            let s = case.shape;
            let cfg = CellConfig {
                device: opts.device,
                ..CellConfig::new(s.input, s.hidden)
            };
            let layer = CustomLayer::new(new_cell(case.kind, &cfg)?);
            let x = Tensor::randn([s.seq, s.batch, s.input], (Kind::Float, opts.device));
            current = Some((case.kind, s, layer, x));
        }
        let (_, s, custom, x) = current.as_ref().expect("set above");
        let cell = custom.cell();
        let params = cell.parameters();
        // The population tier runs its own stacked model; every other tier shares the single model's parameters.
        let population = (case.tier == Tier::Population)
            .then(|| {
                let cfg = CellConfig {
                    device: opts.device,
                    population: Some(opts.population),
                    ..CellConfig::new(s.input, s.hidden)
                };
                new_cell(case.kind, &cfg).map(CustomLayer::new)
            })
            .transpose()?;
        let owned: Option<Box<dyn SequenceLayer>> = match case.tier {
            Tier::Naive => Some(Box::new(NaiveLayer::new(cell)?)),
            Tier::Fused | Tier::Population => None,
            Tier::BuiltinCell => Some(Box::new(BuiltinLayer::new(cell, Implementation::BuiltinCell)?)),
            Tier::BuiltinSeq | Tier::Cudnn => {
                if case.tier == Tier::Cudnn {
                    if let Err(e) = flatten_for_cudnn(cell) {
                        let note = format!("cuDNN weights left unflattened: {e:#}");
                        if !notes.contains(&note) {
                            notes.push(note);
                        }
                    }
                }
                Some(Box::new(BuiltinLayer::new(cell, Implementation::BuiltinSeq)?))
            }
        };
        let (layer, params, per): (&dyn SequenceLayer, Vec<&Tensor>, i64) = match &population {
            Some(pop) => (pop, pop.cell().parameters(), opts.population),
            None => (owned.as_deref().unwrap_or(custom), params, 1),
        };
        // builtin_seq is the whole-sequence op with cuDNN off; the cudnn tier turns it on.
        let _cudnn = match case.tier {
            Tier::BuiltinSeq if opts.device.is_cuda() => Some(CudnnGuard::set(false)),
            Tier::Cudnn => Some(CudnnGuard::set(true)),
            _ => None,
        };
        for direction in Direction::ALL {
            let samples = time_layer(opts, layer, &params, x, direction)?;
            let stats = Stats::of(&samples).scaled(1.0 / per as f64);
            let gflop = matmul_flop(case.kind, *s, direction) / 1e9;
            let row = Row {
                framework: "rnnlab".into(),
                variant: "rust".into(),
                unit: unit_name(case.kind).into(),
                cell: case.kind.name().into(),
                form: form_name(case.kind).into(),
                tier: case.tier.number(),
                tier_name: case.tier,
                device: device.clone(),
                dtype: "f32".into(),
                shape: *s,
                shape_set: case.set.clone(),
                direction,
                population: (case.tier == Tier::Population).then_some(per),
                reps: samples.len(),
                median_ms: stats.median,
                p10_ms: stats.p10,
                p90_ms: stats.p90,
                mean_ms: stats.mean,
                step_us: stats.median * 1e3 / s.seq as f64,
                matmul_gflop: gflop,
                gflops: gflop / (stats.median * 1e-3),
                ratio_to_seq: None,
                ratio_to_cudnn: None,
            };
            progress(&row);
            rows.push(row);
        }
    }
    fill_ratios(&mut rows);
    Ok(Report {
        meta: Meta {
            framework: "rnnlab".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            libtorch: LIBTORCH_VERSION.into(),
            device,
            device_name: match opts.device {
                Device::Cpu => cpu_model(),
                _ => format!(
                    "CUDA (cuDNN {})",
                    if tch::Cuda::cudnn_is_available() {
                        tch::utils::version_cudnn().to_string()
                    } else {
                        "unavailable".into()
                    }
                ),
            },
            threads: tch::get_num_threads() as i64,
            dtype: "f32".into(),
            quick: opts.quick,
            population: opts.population,
            warmup: opts.warmup,
            min_reps: opts.min_reps,
            min_time_s: opts.min_time_s,
            peak_matmul_gflops: peak,
            peak_matmul_n: peak_n,
            op_overhead_us: overhead,
            onednn: opts.onednn,
            notes,
        },
        rows,
    })
}

/// Sets libtorch's oneDNN switch for a run and puts the previous value back afterwards.
struct OnednnGuard(bool);

impl OnednnGuard {
    fn set(enabled: bool) -> OnednnGuard {
        let before = crate::device::onednn_enabled();
        crate::device::set_onednn_enabled(enabled);
        OnednnGuard(before)
    }
}

impl Drop for OnednnGuard {
    fn drop(&mut self) {
        crate::device::set_onednn_enabled(self.0);
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

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{r:.2}"))
}

/// The on-screen table: one line per row, grouped by shape and cell, then the machine and a summary.
pub fn format_table(report: &Report) -> String {
    let m = &report.meta;
    let cudnn = report.rows.iter().any(|r| r.ratio_to_cudnn.is_some());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<11} {:<15} {:<24} {:<8} {:>10} {:>10} {:>10} {:>9} {:>7}{} {:>8}",
        "cell",
        "tier",
        "shape",
        "dir",
        "median ms",
        "p10 ms",
        "p90 ms",
        "µs/step",
        "×seq",
        if cudnn { "  ×cudnn" } else { "" },
        "GFLOP/s"
    );
    let mut last_group = None;
    for r in &report.rows {
        let group = (r.shape, r.unit.clone());
        if last_group.as_ref().is_some_and(|g| *g != group) {
            out.push('\n');
        }
        last_group = Some(group);
        let tier = match r.population {
            Some(k) => format!("{} {}/K{k}", r.tier, r.tier_name.name()),
            None => format!("{} {}", r.tier, r.tier_name.name()),
        };
        let _ = writeln!(
            out,
            "{:<11} {:<15} {:<24} {:<8} {:>10.3} {:>10.3} {:>10.3} {:>9.1} {:>7}{} {:>8.2}",
            r.cell,
            tier,
            r.shape.label(),
            r.direction.short(),
            r.median_ms,
            r.p10_ms,
            r.p90_ms,
            r.step_us,
            fmt_ratio(r.ratio_to_seq),
            if cudnn {
                format!(" {:>7}", fmt_ratio(r.ratio_to_cudnn))
            } else {
                String::new()
            },
            r.gflops
        );
    }
    let _ = writeln!(
        out,
        "\n{} on {} ({}, {} threads{}), {} f32; libtorch {}. Times per model; ×seq = median / libtorch's \
         whole-sequence op (cuDNN off) of the same unit.",
        m.framework,
        m.device,
        m.device_name,
        m.threads,
        if m.onednn { "" } else { ", oneDNN off" },
        m.version,
        m.libtorch
    );
    let _ = writeln!(
        out,
        "Arithmetic peak (f32 {n}³ matmul): {:.1} GFLOP/s; dispatch floor: {:.2} µs per tiny op.",
        m.peak_matmul_gflops,
        m.op_overhead_us,
        n = m.peak_matmul_n
    );
    out.push_str(&format_summary(report));
    let over_peak: Vec<&Row> = report
        .rows
        .iter()
        .filter(|r| r.gflops > m.peak_matmul_gflops)
        .collect();
    if over_peak
        .iter()
        .any(|r| !(is_onednn_lstm(m, r) && r.gflops <= 1.3 * m.peak_matmul_gflops))
    {
        let _ = writeln!(
            out,
            "note: some rows beat the measured peak by more than a fused kernel explains, so the machine was \
             probably busy while the peak was measured: with several threads, libtorch's OpenMP stalls whenever \
             another process holds a core. Rerun on a quiet machine or with --threads 1."
        );
    } else if !over_peak.is_empty() {
        let _ = writeln!(
            out,
            "note: on CPU, libtorch's LSTM op runs oneDNN's fused LSTM layer, whose own GEMMs beat the peak measured \
             with a plain libtorch matmul (by up to {:.0} %); --no-onednn makes it run per-step ops instead.",
            over_peak
                .iter()
                .map(|r| (r.gflops / m.peak_matmul_gflops - 1.0) * 100.0)
                .fold(0.0, f64::max)
        );
    }
    for note in &m.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

/// Whether this row is `at::lstm` on CPU with oneDNN allowed (aten::mkldnn_rnn_layer: one fused kernel).
fn is_onednn_lstm(m: &Meta, r: &Row) -> bool {
    m.onednn && r.device == "cpu" && r.unit == "lstm" && r.tier_name == Tier::BuiltinSeq
}

/// Geometric mean of these rows' `ratio_to_seq` (rows without one are skipped); `None` when none has one.
fn seq_ratio_geomean<'a>(rows: impl Iterator<Item = &'a Row>) -> Option<f64> {
    let xs: Vec<f64> = rows.filter_map(|r| r.ratio_to_seq).collect();
    (!xs.is_empty()).then(|| geomean(&xs))
}

/// Geometric mean of positive numbers.
pub fn geomean(xs: &[f64]) -> f64 {
    (xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp()
}

/// Per cell and direction, geometric means over shapes: each custom tier's ratio to the whole-sequence op, and the
/// fused tier's achieved rate and share of the arithmetic peak.
fn format_summary(report: &Report) -> String {
    let mut out = String::new();
    let mut keys: Vec<(String, Direction)> = report
        .rows
        .iter()
        .map(|r| (r.cell.clone(), r.direction))
        .collect();
    keys.sort_by_key(|(c, d)| (CellKind::ALL.iter().position(|k| k.name() == c), *d));
    keys.dedup();
    if keys.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "Summary, geometric means over shapes: custom tiers / builtin_seq (below 1: faster than libtorch's op); \
         the fused tier's matmul rate"
    );
    for (cell, dir) in keys {
        let rows: Vec<&Row> = report
            .rows
            .iter()
            .filter(|r| r.cell == cell && r.direction == dir)
            .collect();
        let ratio = |tier: Tier| -> String {
            seq_ratio_geomean(rows.iter().copied().filter(|r| r.tier_name == tier))
                .map_or("-".into(), |x| format!("{x:.2}"))
        };
        let fused: Vec<f64> = rows
            .iter()
            .filter(|r| r.tier_name == Tier::Fused)
            .map(|r| r.gflops)
            .collect();
        let rate = if fused.is_empty() {
            "-".into()
        } else {
            let g = geomean(&fused);
            format!(
                "{g:.2} GFLOP/s ({:.1}% of peak)",
                100.0 * g / report.meta.peak_matmul_gflops
            )
        };
        let _ = writeln!(
            out,
            "  {cell:<11} {:<8} naive {:>5}  fused {:>5}  population {:>5}   fused {rate}",
            dir.short(),
            ratio(Tier::Naive),
            ratio(Tier::Fused),
            ratio(Tier::Population),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let s = Stats::of(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!(s.median, 3.0);
        assert!((s.p10 - 1.4).abs() < 1e-12);
        assert!((s.p90 - 4.6).abs() < 1e-12);
        assert_eq!(s.mean, 3.0);
        let one = Stats::of(&[7.0]);
        assert_eq!((one.p10, one.median, one.p90), (7.0, 7.0, 7.0));
    }

    #[test]
    fn flop_count_matches_hand_count() {
        // LSTM, T=2, B=3, D=5, H=4: forward 2·2·3·16·(5+4) = 1728.
        let s = Shape {
            seq: 2,
            batch: 3,
            input: 5,
            hidden: 4,
        };
        assert_eq!(
            matmul_flop(CellKind::TorchLstm, s, Direction::Forward),
            1728.0
        );
        assert_eq!(
            matmul_flop(CellKind::TorchLstm, s, Direction::ForwardBackward),
            3.0 * 1728.0
        );
    }

    #[test]
    fn tiers_number_one_to_six() {
        let n: Vec<u8> = Tier::ALL.iter().map(|t| t.number()).collect();
        assert_eq!(n, [1, 2, 3, 4, 5, 6]);
        assert!(!Tier::BuiltinSeq.applies_to(CellKind::PaperGru));
        assert!(Tier::Fused.applies_to(CellKind::PaperLstm));
    }
}
