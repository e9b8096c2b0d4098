//! `rnnlab compare`: the custom cells against libtorch's built-ins *in training*. For each unit libtorch has (tanh,
//! torch_gru, torch_lstm), the same experiment is trained four times:
//!
//! | implementation  | what runs the recurrent layer                                                     |
//! |-----------------|-----------------------------------------------------------------------------------|
//! | `custom_member` | rnnlab's cell, member by member (each member's slice of the population's weights) |
//! | `builtin_seq`   | libtorch's whole-sequence kernel (`at::gru`, …; cuDNN on CUDA), member by member  |
//! | `builtin_cell`  | libtorch's per-step kernel (`at::gru_cell`, …), member by member                  |
//! | `custom`        | rnnlab's cell, all members in one batched op: the population, and the reference  |
//!
//! Everything else is shared: the same seed gives the same initial weights (the model draws its cell's weights
//! whatever the implementation), the weight noise comes from the run's own generator, the batch order from the seed,
//! and the optimizer updates the stacked `[K, …]` parameters the same way. So the four runs compute the same maths
//! and may differ only by float rounding; what they differ in is cost.
//!
//! Agreement is checked, not drawn: per epoch, the largest |Δ| of every member's train/valid/test NLL against the
//! population run; and after the first update, the largest |Δ| over every member's weights. Beyond [`Tolerance`] it
//! is a failure (listed, and `rnnlab compare` exits non-zero). Outputs: `OUT/compare.json`, `OUT/compare.md`,
//! `OUT/compare_<dataset>.png`, and the runs themselves in `OUT/runs/<cell>_<implementation>/` (replaced when the
//! command is run again).

use crate::atomic::write_atomic;
use crate::cells::{CellKind, Implementation};
use crate::config::TrainConfig;
use crate::data::{AnyData, Dataset};
use crate::device::{DeviceArg, Dtype};
use crate::run::{EpochMetrics, Summary};
use crate::train::{self, Progress, Start};
use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::Kind;

/// The implementations compared, in the order they are trained and tabulated; the last, the population, is the
/// reference the others are measured against.
pub const IMPLEMENTATIONS: [Implementation; 4] = [
    Implementation::CustomMember,
    Implementation::BuiltinSeq,
    Implementation::BuiltinCell,
    Implementation::Custom,
];

/// The units libtorch has a built-in for.
pub const CELLS: [CellKind; 3] = [CellKind::Tanh, CellKind::TorchGru, CellKind::TorchLstm];

/// How far two implementations may differ.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tolerance {
    /// Largest |Δ| of a member's train, valid or test NLL (nats per frame, step or token) at any epoch.
    pub nll: f64,
    /// Largest |Δ| of any weight after the first update.
    pub weights: f64,
}

impl Tolerance {
    /// The bounds asserted by default.
    ///
    /// f64: round-off. The implementations sum the same products in different orders (bias folded into the input
    /// projection or not, batched or single matmuls), a few ulps (≈1e-16 relative) per op; after one RMSProp step of
    /// at most lr·|g|/rms_floor per weight these stay far below 1e-12, and NLLs of order 10 carry them to ≈1e-13.
    /// Measured on JSB (README): weights ≤ 1e-16-ish after one update, NLLs ≤ 1e-12 after several epochs.
    ///
    /// f32: rounding is 2^-24 ≈ 6e-8 relative per op, and trajectories drift apart over the epochs as the
    /// differences feed back through training. Bounds chosen from the drift measured on JSB (README and
    /// `results/compare-jsb.md`), with room for other datasets and machines.
    pub fn for_dtype(dtype: Dtype) -> Self {
        match dtype {
            Dtype::F64 => Tolerance {
                nll: 1e-9,
                weights: 1e-12,
            },
            Dtype::F32 => Tolerance {
                nll: 2e-3,
                weights: 1e-5,
            },
        }
    }
}

/// What `rnnlab compare` runs (its command-line arguments).
pub struct Options {
    /// The dataset every unit trains on; its `experiments/<dataset>_<family>.toml` gives the recipe.
    pub dataset: Dataset,
    /// Units to compare (among [`CELLS`]).
    pub cells: Vec<CellKind>,
    /// Epochs per run (`max_epochs`).
    pub epochs: usize,
    /// Floating-point type of every run; it sets the default [`Tolerance`].
    pub dtype: Dtype,
    /// CPU or CUDA for every run.
    pub device: DeviceArg,
    /// Config overrides applied to every run (after the experiment's file): `key=value`.
    pub overrides: Vec<String>,
    /// Bounds beyond which a difference is a failure.
    pub tolerance: Tolerance,
    /// Output directory: `compare.json`, `compare.md`, the figure, and `runs/`.
    pub out: PathBuf,
    /// Where the datasets are (`RNNLAB_DATA`).
    pub data_dir: PathBuf,
    /// Directory of the experiment TOML files.
    pub experiments: PathBuf,
    /// Called with a line of progress.
    pub quiet: bool,
}

/// One epoch of one implementation: the best member's NLLs (best = lowest valid NLL of that epoch in the
/// population run) and the clock.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochPoint {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Wall-clock seconds of the run so far.
    pub seconds: f64,
    /// CPU seconds of the training thread so far.
    pub cpu_seconds: f64,
    /// Every member's (train, valid, test) NLL, `None` where not finite.
    pub members: Vec<[Option<f64>; 3]>,
    /// Per quantity (train, valid, test): the largest |Δ| over members against the population run at this epoch.
    pub max_diff: [f64; 3],
}

/// One implementation's run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImplResult {
    /// Which implementation ran the recurrent layer.
    pub implementation: Implementation,
    /// The run's directory, `OUT/runs/<cell>_<implementation>/`.
    pub run_dir: PathBuf,
    /// Epochs trained.
    pub epochs: usize,
    /// Final evaluation at the best member's best weights.
    pub best_member: Option<usize>,
    /// Validation NLL of the best member (nats per frame, step or token); `None` when every member diverged.
    pub best_valid: Option<f64>,
    /// Test NLL of the best member (nats per frame, step or token); `None` when every member diverged.
    pub best_test: Option<f64>,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
    /// CPU seconds of the training thread over the whole run.
    pub cpu_seconds: f64,
    /// `seconds / epochs` (0 when no epoch ran).
    pub seconds_per_epoch: f64,
    /// `cpu_seconds / epochs` (0 when no epoch ran).
    pub cpu_seconds_per_epoch: f64,
    /// Largest |Δ| of any weight against the population after the first update.
    pub max_diff_weights: f64,
    /// Largest |Δ| over epochs and members of (train, valid, test) NLL against the population.
    pub max_diff_nll: [f64; 3],
    /// One point per epoch.
    pub curve: Vec<EpochPoint>,
}

/// The four implementations on one unit.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CellResult {
    /// The unit compared (a torch form).
    pub cell: CellKind,
    /// Hidden size of the run.
    pub hidden: i64,
    /// Members of the population (learning-rate candidates × seeds).
    pub population: usize,
    /// Each member's learning rate, in member order.
    pub lrs: Vec<f64>,
    /// One result per implementation, in [`IMPLEMENTATIONS`] order (the population last).
    pub implementations: Vec<ImplResult>,
}

/// Everything `rnnlab compare` measured (`compare.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Comparison {
    /// Dataset name.
    pub dataset: String,
    /// Floating-point type of the runs.
    pub dtype: Dtype,
    /// Where the runs ran (`cpu`, `cuda:0`).
    pub device: String,
    /// Epochs per run.
    pub epochs: usize,
    /// The bounds the differences were checked against.
    pub tolerance: Tolerance,
    /// The options' config overrides (`--set`), under the JSON key `sets`.
    #[serde(rename = "sets")]
    pub overrides: Vec<String>,
    /// One result per unit compared.
    pub cells: Vec<CellResult>,
    /// Every mismatch beyond the tolerance, one line each; empty when all agree.
    pub failures: Vec<String>,
}

impl Comparison {
    /// Whether every implementation agreed with the population within the tolerance.
    pub fn pass(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The config of one run: the dataset's experiment for the unit's family (defaults where there is none) with the cell
/// switched to its torch form, then the options' overrides.
pub fn run_config(
    opts: &Options,
    cell: CellKind,
    implementation: Implementation,
) -> Result<TrainConfig> {
    let path = opts
        .experiments
        .join(format!("{}_{}.toml", opts.dataset.name(), cell.family()));
    let base = if path.exists() {
        TrainConfig::from_file(&path)?
    } else {
        TrainConfig {
            dataset: opts.dataset,
            ..TrainConfig::default()
        }
    };
    let device = match opts.device {
        DeviceArg::Cpu => "cpu",
        DeviceArg::Cuda => "cuda",
        DeviceArg::Auto => "auto",
    };
    let mut overrides = vec![
        format!("dataset=\"{}\"", opts.dataset.name()),
        format!("cell=\"{}\"", cell.name()),
        format!("implementation=\"{}\"", implementation.name()),
        format!("max_epochs={}", opts.epochs),
        format!(
            "dtype=\"{}\"",
            match opts.dtype {
                Dtype::F32 => "f32",
                Dtype::F64 => "f64",
            }
        ),
        format!("device=\"{device}\""),
    ];
    overrides.extend(opts.overrides.iter().cloned());
    base.with_overrides(&overrides)
        .with_context(|| format!("the {cell} experiment ({})", path.display()))
}

/// Trains every implementation of every unit, checks their agreement, and writes `compare.json`, `compare.md` and
/// the figure into `opts.out`.
pub fn compare(opts: &Options) -> Result<Comparison> {
    ensure!(
        !opts.cells.is_empty(),
        "no cells to compare (tanh, torch_gru, torch_lstm)"
    );
    for cell in &opts.cells {
        ensure!(
            cell.has_builtin(),
            "{cell} has no libtorch built-in to compare with: choose tanh, torch_gru or torch_lstm"
        );
    }
    // The first run's config says where a dataset given by path is (`--set data_path=…`).
    let probe = run_config(opts, opts.cells[0], IMPLEMENTATIONS[0])?;
    let (file, data) = AnyData::for_config(&opts.data_dir, &probe)?;
    std::fs::create_dir_all(opts.out.join("runs"))
        .with_context(|| format!("creating {}", opts.out.display()))?;
    let mut cells = Vec::new();
    let mut failures = Vec::new();
    let mut device = String::new();
    for &cell in &opts.cells {
        let cfgs: Vec<TrainConfig> = IMPLEMENTATIONS
            .iter()
            .map(|&i| {
                let mut cfg = run_config(opts, cell, i)?;
                cfg.resolve_data(&data)?;
                Ok(cfg)
            })
            .collect::<Result<_>>()?;
        device = format!("{:?}", cfgs[0].device.resolve()?);
        if !opts.quiet {
            eprintln!(
                "{cell} on {} ({}): population {}, {} epochs, {:?}",
                opts.dataset.name(),
                file.display(),
                cfgs[0].member_lrs().len(),
                opts.epochs,
                opts.dtype
            );
        }
        // The weights after the first update, per implementation; the population's last.
        let first: Vec<Vec<(String, tch::Tensor)>> = cfgs
            .iter()
            .map(|c| train::weights_after_updates(c, &data, 1))
            .collect::<Result<_>>()?;
        let reference = first.last().expect("four implementations");
        let mut results = Vec::new();
        let mut curves: Vec<(Vec<EpochMetrics>, Summary, PathBuf)> = Vec::new();
        for (cfg, &implementation) in cfgs.iter().zip(&IMPLEMENTATIONS) {
            let dir =
                opts.out
                    .join("runs")
                    .join(format!("{}_{}", cell.name(), implementation.name()));
            if dir.join(crate::run::CONFIG_FILE).exists() {
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("replacing {}", dir.display()))?;
            }
            let mut epochs: Vec<EpochMetrics> = Vec::new();
            let quiet = opts.quiet;
            let summary = train::train(cfg, &data, Start::Fresh(&dir), &mut |p| {
                if let Progress::EpochEnd(m) = p {
                    if !quiet {
                        eprintln!(
                            "  {cell} {:<13} epoch {:>3}: best valid {:.4}, {:.1} s wall, {:.1} s CPU",
                            implementation.name(),
                            m.epoch,
                            m.best_valid(),
                            m.seconds,
                            m.cpu_seconds
                        );
                    }
                    epochs.push(m.clone());
                }
            })?;
            curves.push((epochs, summary, dir));
        }
        let reference_curve = curves.last().expect("four runs").0.clone();
        for (i, &implementation) in IMPLEMENTATIONS.iter().enumerate() {
            let (epochs, summary, dir) = &curves[i];
            let name = implementation.name();
            let mut max_diff_weights: f64 = 0.0;
            for ((pname, w), (_, r)) in first[i].iter().zip(reference) {
                let d = (w - r).abs().to_kind(Kind::Double);
                let per_member = d.flatten(1, -1).amax(&[1i64][..], false);
                let v: Vec<f64> = Vec::<f64>::try_from(&per_member)?;
                for (m, &x) in v.iter().enumerate() {
                    max_diff_weights = max_diff_weights.max(x);
                    if x.is_nan() || x > opts.tolerance.weights {
                        failures.push(format!(
                            "{cell} {name}: after the first update, member {m}'s {pname} differs from the \
                             population's by {x:.3e} (tolerance {:.1e})",
                            opts.tolerance.weights
                        ));
                    }
                }
            }
            let mut curve = Vec::new();
            let mut max_diff_nll = [0.0f64; 3];
            for (e, m) in epochs.iter().enumerate() {
                let r = reference_curve.get(e);
                let members: Vec<[Option<f64>; 3]> = m
                    .members
                    .iter()
                    .map(|x| [x.train_nll, x.valid_nll, x.test_nll])
                    .collect();
                let mut max_diff = [0.0f64; 3];
                if let Some(r) = r {
                    for (k, (mine, theirs)) in m.members.iter().zip(&r.members).enumerate() {
                        let pairs = [
                            (mine.train_nll, theirs.train_nll),
                            (mine.valid_nll, theirs.valid_nll),
                            (mine.test_nll, theirs.test_nll),
                        ];
                        for (q, (a, b)) in pairs.into_iter().enumerate() {
                            let d = match (a, b) {
                                (Some(a), Some(b)) => (a - b).abs(),
                                (None, None) => 0.0,
                                _ => f64::INFINITY,
                            };
                            max_diff[q] = max_diff[q].max(d);
                            if d.is_nan() || d > opts.tolerance.nll {
                                failures.push(format!(
                                    "{cell} {name}: epoch {}, member {k}: {} NLL differs from the population's \
                                     by {d:.3e} (tolerance {:.1e}; {a:?} against {b:?})",
                                    m.epoch,
                                    ["train", "valid", "test"][q],
                                    opts.tolerance.nll
                                ));
                            }
                        }
                    }
                } else {
                    failures.push(format!(
                        "{cell} {name}: epoch {} has no epoch of the population to compare with",
                        m.epoch
                    ));
                }
                for q in 0..3 {
                    max_diff_nll[q] = max_diff_nll[q].max(max_diff[q]);
                }
                curve.push(EpochPoint {
                    epoch: m.epoch,
                    seconds: m.seconds,
                    cpu_seconds: m.cpu_seconds,
                    members,
                    max_diff,
                });
            }
            if epochs.len() != reference_curve.len() {
                failures.push(format!(
                    "{cell} {name}: trained {} epochs, the population {}",
                    epochs.len(),
                    reference_curve.len()
                ));
            }
            let best = summary
                .best_member
                .and_then(|b| summary.members.iter().find(|m| m.member == b));
            let per = |x: f64| {
                if summary.epochs > 0 {
                    x / summary.epochs as f64
                } else {
                    0.0
                }
            };
            results.push(ImplResult {
                implementation,
                run_dir: dir.clone(),
                epochs: summary.epochs,
                best_member: summary.best_member,
                best_valid: best.map(|m| m.valid_nll),
                best_test: best.map(|m| m.test_nll),
                seconds: summary.seconds,
                cpu_seconds: summary.cpu_seconds,
                seconds_per_epoch: per(summary.seconds),
                cpu_seconds_per_epoch: per(summary.cpu_seconds),
                max_diff_weights,
                max_diff_nll,
                curve,
            });
        }
        cells.push(CellResult {
            cell,
            hidden: cfgs[0].hidden_size(),
            population: cfgs[0].member_lrs().len(),
            lrs: cfgs[0].member_lrs(),
            implementations: results,
        });
    }
    let comparison = Comparison {
        dataset: opts.dataset.name().into(),
        dtype: opts.dtype,
        device,
        epochs: opts.epochs,
        tolerance: opts.tolerance,
        overrides: opts.overrides.clone(),
        cells,
        failures,
    };
    write_atomic(
        &opts.out.join("compare.json"),
        serde_json::to_string_pretty(&comparison)?.as_bytes(),
    )?;
    write_atomic(
        &opts.out.join("compare.md"),
        markdown(&comparison).as_bytes(),
    )?;
    crate::report::plot::compare_chart(
        &comparison,
        &opts.out.join(format!("compare_{}.png", comparison.dataset)),
    )?;
    Ok(comparison)
}

/// `compare.md`: one table per unit, then the failures (if any).
pub fn markdown(c: &Comparison) -> String {
    let unit = match c.dataset.parse::<Dataset>().map(|d| d.task()) {
        Ok(crate::data::Task::Music) => "nats per frame",
        Ok(crate::data::Task::Speech) => "nats per step",
        Ok(crate::data::Task::Tokens) => "nats per token",
        _ => "nats per step, or per token for a token head",
    };
    let mut s = format!(
        "# Custom cells against libtorch's built-ins in training: {} ({:?}, {}, {} epochs)\n\n\
         Max |Δ| are against the population run (`custom`): NLLs over every epoch and member ({unit}), \
         weights over every member and parameter after the first update. Tolerances: NLL {:.1e}, weights {:.1e}. \
         Best valid/test: final evaluation of the best member at its best weights.\n",
        c.dataset, c.dtype, c.device, c.epochs, c.tolerance.nll, c.tolerance.weights
    );
    if !c.overrides.is_empty() {
        s.push_str(&format!("Overrides: `{}`.\n", c.overrides.join("`, `")));
    }
    for cell in &c.cells {
        s.push_str(&format!(
            "\n## {} (hidden {}, population {})\n\n\
             | implementation | epochs | best valid NLL | best test NLL | wall-clock s | CPU s | wall s/epoch | CPU s/epoch | max \\|Δ\\| train NLL | max \\|Δ\\| valid NLL | max \\|Δ\\| test NLL | max \\|Δ\\| weights (1st update) |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            cell.cell, cell.hidden, cell.population
        ));
        let opt = |x: Option<f64>| x.map_or("-".into(), |v| format!("{v:.4}"));
        for r in &cell.implementations {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2e} | {:.2e} | {:.2e} | {:.2e} |\n",
                r.implementation,
                r.epochs,
                opt(r.best_valid),
                opt(r.best_test),
                r.seconds,
                r.cpu_seconds,
                r.seconds_per_epoch,
                r.cpu_seconds_per_epoch,
                r.max_diff_nll[0],
                r.max_diff_nll[1],
                r.max_diff_nll[2],
                r.max_diff_weights
            ));
        }
    }
    if c.failures.is_empty() {
        s.push_str("\nAll implementations agree within the tolerances.\n");
    } else {
        s.push_str("\n## Failures\n\n");
        for f in &c.failures {
            s.push_str(&format!("- {f}\n"));
        }
    }
    s
}

/// Reads a `compare.json` written earlier.
pub fn read(path: &Path) -> Result<Comparison> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a compare.json", path.display()))
}
