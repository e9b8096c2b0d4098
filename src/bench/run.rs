//! Running the benchmark: the cases to time ([`plan`]), the layer of each tier, and [`run`], which times every case
//! in both directions and assembles the [`Report`].

use super::timing::{
    device_description, matmul_flop, measure_op_overhead, measure_peak, time_runs, Stats,
};
use super::{
    fill_ratios, form_name, Direction, Meta, NaiveLayer, Options, Report, Row, Shape, Tier,
};
use crate::cells::{
    new_cell, BuiltinLayer, Cell, CellConfig, CellKind, CustomLayer, SequenceLayer,
};
use crate::device::device_name;
use crate::rng::Rng;
use anyhow::{bail, Context, Result};
use tch::{Kind, Tensor};

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
    check(opts)?;
    // The weights and inputs of every case, and the matrices of the peak measurement.
    let mut rng = Rng::new(opts.seed)?;
    let _onednn = OnednnGuard::set(opts.onednn);
    let mut notes = vec![];
    let cases = plan(opts, &mut notes);
    let device = device_name(opts.device);
    let (peak_n, peak) = measure_peak(opts, &mut rng)?;
    let overhead = measure_op_overhead(opts)?;
    let mut rows = vec![];
    // Cases come grouped by (shape, cell): the models and input are built once per group.
    let mut current: Option<Group> = None;
    for case in cases {
        let group = match current.take() {
            Some(g) if g.kind == case.kind && g.shape == case.shape => g,
            _ => Group::new(opts, &case, &mut rng)?,
        };
        let tier_layer = TierLayer::new(opts, &case, &group, &mut notes, &mut rng)?;
        time_case(opts, &case, &group, &tier_layer, &device, &mut |row| {
            progress(&row);
            rows.push(row);
        })?;
        current = Some(group);
    }
    fill_ratios(&mut rows);
    Ok(Report {
        meta: meta(opts, device, (peak_n, peak), overhead, notes),
        rows,
    })
}

/// Refuses options that would time nothing.
fn check(opts: &Options) -> Result<()> {
    if opts.cells.is_empty() || opts.tiers.is_empty() || opts.shapes.is_empty() {
        bail!("nothing to run: choose at least one cell, tier and shape");
    }
    if opts.population < 1 {
        bail!(
            "population size must be at least 1, got {}",
            opts.population
        );
    }
    Ok(())
}

/// The single model and the input shared by every tier of one (cell, shape).
struct Group {
    kind: CellKind,
    shape: Shape,
    layer: CustomLayer,
    x: Tensor,
}

impl Group {
    fn new(opts: &Options, case: &Case, rng: &mut Rng) -> Result<Group> {
        let s = case.shape;
        let cfg = CellConfig {
            device: opts.device,
            ..CellConfig::new(s.input, s.hidden)
        };
        let layer = CustomLayer::new(new_cell(case.kind, &cfg, rng)?);
        let x = rng.randn(&[s.seq, s.batch, s.input], (Kind::Float, opts.device));
        Ok(Group {
            kind: case.kind,
            shape: s,
            layer,
            x,
        })
    }
}

/// The layer a tier times.
enum TierLayer {
    /// The group's own fused custom layer (tier 2).
    Shared,
    /// A layer of its own on the group's parameters (the naive loop, libtorch's kernels).
    Own(Box<dyn SequenceLayer>),
    /// A stacked population of its own (tier 6); times are per model.
    Population(CustomLayer),
}

impl TierLayer {
    /// Builds the layer of `case.tier`. Flattening weights for cuDNN may fail without stopping the run: that is
    /// noted in `notes`.
    fn new(
        opts: &Options,
        case: &Case,
        group: &Group,
        notes: &mut Vec<String>,
        rng: &mut Rng,
    ) -> Result<Self> {
        let cell = group.layer.cell();
        Ok(match case.tier {
            Tier::Fused => TierLayer::Shared,
            Tier::Population => {
                let cfg = CellConfig {
                    device: opts.device,
                    population: Some(opts.population),
                    ..CellConfig::new(group.shape.input, group.shape.hidden)
                };
                TierLayer::Population(CustomLayer::new(new_cell(case.kind, &cfg, rng)?))
            }
            Tier::Naive => TierLayer::Own(Box::new(NaiveLayer::new(cell)?)),
            Tier::BuiltinCell | Tier::BuiltinSeq | Tier::Cudnn => {
                if case.tier == Tier::Cudnn {
                    if let Err(e) = flatten_for_cudnn(cell) {
                        let note = format!("cuDNN weights left unflattened: {e:#}");
                        if !notes.contains(&note) {
                            notes.push(note);
                        }
                    }
                }
                TierLayer::Own(Box::new(BuiltinLayer::new(
                    cell,
                    case.tier.implementation(),
                )?))
            }
        })
    }
}

/// Times one case in both directions and hands `done` one row for each, as soon as it is measured.
fn time_case(
    opts: &Options,
    case: &Case,
    group: &Group,
    tier_layer: &TierLayer,
    device: &str,
    done: &mut dyn FnMut(Row),
) -> Result<()> {
    let (layer, params, per): (&dyn SequenceLayer, Vec<&Tensor>, i64) = match tier_layer {
        TierLayer::Population(pop) => (pop, pop.cell().parameters(), opts.population),
        TierLayer::Own(own) => (own.as_ref(), group.layer.cell().parameters(), 1),
        TierLayer::Shared => (&group.layer, group.layer.cell().parameters(), 1),
    };
    // builtin_seq is the whole-sequence op with cuDNN off; the cudnn tier turns it on.
    let _cudnn = match case.tier {
        Tier::BuiltinSeq if opts.device.is_cuda() => Some(CudnnGuard::set(false)),
        Tier::Cudnn => Some(CudnnGuard::set(true)),
        _ => None,
    };
    for direction in Direction::ALL {
        let samples = time_layer(opts, layer, &params, &group.x, direction)?;
        done(row(case, direction, &samples, per, device));
    }
    Ok(())
}

/// The row of one timed case; `per` models ran in each op (times are per model).
fn row(case: &Case, direction: Direction, samples: &[f64], per: i64, device: &str) -> Row {
    let s = case.shape;
    let stats = Stats::of(samples).scaled(1.0 / per as f64);
    let gflop = matmul_flop(case.kind, s, direction) / 1e9;
    Row {
        framework: "rnnlab".into(),
        variant: "rust".into(),
        unit: case.kind.family().into(),
        cell: case.kind.name().into(),
        form: form_name(case.kind).into(),
        tier: case.tier.number(),
        tier_name: case.tier,
        device: device.into(),
        dtype: "f32".into(),
        shape: s,
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
    }
}

/// The machine and settings of the run.
fn meta(
    opts: &Options,
    device: String,
    (peak_n, peak): (i64, f64),
    overhead: f64,
    notes: Vec<String>,
) -> Meta {
    Meta {
        framework: "rnnlab".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        // The libtorch actually linked (a portable build links 2.11, not the 2.13 that tch 0.26 is made for).
        libtorch: crate::device::libtorch_version(),
        device,
        device_name: device_description(opts.device),
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
    }
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
