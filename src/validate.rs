//! `rnnlab validate`: proof, at run time, that the custom cells compute what they claim.
//!
//! Three kinds of evidence, each a row of the report:
//! 1. **Built-ins.** Each torch-form custom cell (tanh, torch_gru, torch_lstm) against libtorch's fused kernels on the
//!    same weight tensors, over random shapes (batch 1..16, input 1..100, hidden 1..128, sequence 1..50): outputs,
//!    final states, and gradients with respect to the input, the initial state and every weight.
//! 2. **Golden fixtures.** Every custom cell against `tests/fixtures/cells.json`, written by
//!    `scripts/make_fixtures.py` from PyTorch (`nn.RNNCell/GRUCell/LSTMCell`, `nn.RNN/GRU/LSTM`) and from an
//!    independent NumPy implementation of every other unit (the paper forms and the units beyond the paper). The file is compiled into the binary.
//! 3. **Finite differences.** Every custom cell's autograd gradient against central differences of its loss, in f64.
//!
//! Gradients are those of `L = Σ output ⊙ g_out + Σ h_T ⊙ g_h (+ Σ c_T ⊙ g_c)` with random cotangents `g`, so every
//! output element and both final states matter.

use crate::cells::{
    load_parameters, new_cell, BuiltinLayer, CellConfig, CellKind, CustomLayer, Implementation,
    SequenceLayer, State,
};
use crate::device::{device_name, Dtype};
use crate::rng::{Rng, SplitMix64};
use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tch::{Device, Kind, Tensor};

/// The golden fixtures, embedded so that `rnnlab validate` needs no files beside the binary.
pub const FIXTURES_JSON: &str = include_str!("../tests/fixtures/cells.json");

/// Max-abs tolerance for a comparison in this dtype (1e-10 in f64, 1e-5 in f32).
pub fn tolerance(dtype: Dtype) -> f64 {
    match dtype {
        Dtype::F32 => 1e-5,
        Dtype::F64 => 1e-10,
    }
}

/// Max-abs tolerance between autograd and central finite differences (f64, step 1e-6). The difference quotient
/// itself is good to about 1e-10 here (truncation ~1e-12, rounding ~1e-16/1e-6); a wrong gradient term shows up
/// orders of magnitude above the bar.
pub const FD_TOLERANCE: f64 = 1e-8;
const FD_STEP: f64 = 1e-6;

/// One line of the report.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Cell name as `rnnlab validate --help` lists it (`tanh`, `torch_gru`, …).
    pub cell: String,
    /// Which implementation was checked: always `custom` (the built-ins are the references).
    pub implementation: String,
    /// What the cell was compared against: a libtorch op (`at::gru (whole sequence)`, …), the PyTorch or NumPy
    /// fixtures, or central finite differences.
    pub reference: String,
    /// `f32` or `f64`.
    pub dtype: String,
    /// Where the check ran (`cpu`, `cuda:0`).
    pub device: String,
    /// Number of shapes or fixture cases compared (1 for the finite-difference row).
    pub cases: usize,
    /// Largest absolute difference over all outputs and final states, over all cases.
    pub max_abs_out: f64,
    /// Largest absolute difference over all gradients (input, initial state, every weight), over all cases.
    pub max_abs_grad: f64,
    /// The max-abs bar both differences must stay under ([`tolerance`] or [`FD_TOLERANCE`]).
    pub tolerance: f64,
    /// Whether both differences are within `tolerance`.
    pub pass: bool,
}

/// What to check.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where to run the checks (the finite-difference check always runs in f64).
    pub device: Device,
    /// Dtypes of the built-in and fixture comparisons; default f32 and f64.
    pub dtypes: Vec<Dtype>,
    /// Random shapes per (cell, built-in, dtype); the first two are the smallest and largest shapes of the range.
    pub random_cases: usize,
    /// Seed of the random shapes and of the tensors drawn for them; default 2014.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            device: Device::Cpu,
            dtypes: vec![Dtype::F32, Dtype::F64],
            random_cases: 12,
            seed: 2014,
        }
    }
}

/// Runs every check on one device. On CUDA, cuDNN's TF32 mode is switched off for the duration (and restored
/// after): with it, cuDNN's float32 RNNs round their inputs to 10 mantissa bits and land about 1e-3 from any strict
/// float32 computation.
pub fn run(opts: &Options, progress: impl FnMut(&Row)) -> Result<Vec<Row>> {
    let tf32 = crate::device::allow_tf32_cudnn();
    crate::device::set_allow_tf32_cudnn(false);
    let rows = run_checks(opts, progress);
    crate::device::set_allow_tf32_cudnn(tf32);
    rows
}

fn run_checks(opts: &Options, mut progress: impl FnMut(&Row)) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut push = |row: Row| {
        progress(&row);
        rows.push(row);
    };
    let fixtures = Fixtures::embedded()?;
    for &dtype in &opts.dtypes {
        for kind in CellKind::ALL.into_iter().filter(|k| k.has_builtin()) {
            for mode in Implementation::BUILTIN {
                push(compare_with_builtin(kind, mode, dtype, opts)?);
            }
        }
        for kind in CellKind::ALL {
            push(compare_with_fixtures(&fixtures, kind, dtype, opts.device)?);
        }
    }
    for kind in CellKind::ALL {
        push(finite_difference_check(kind, opts.device, opts.seed)?);
    }
    Ok(rows)
}

/// Sizes of one comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Sequence length T (1..=50 in [`random_shapes`]).
    pub seq: i64,
    /// Batch size B (1..=16).
    pub batch: i64,
    /// Input size D (1..=100).
    pub input: i64,
    /// Hidden size H (1..=128).
    pub hidden: i64,
}

/// Deterministic shapes over the required ranges: the smallest, the largest, then uniform draws.
pub fn random_shapes(n: usize, seed: u64) -> Vec<Shape> {
    // A Rust-side generator for shapes (tensor randomness comes from libtorch's seeded generator).
    let mut rng = SplitMix64::new(seed);
    let mut draw = |lo: i64, hi: i64| lo + (rng.next_u64() % (hi - lo + 1) as u64) as i64;
    let mut shapes = vec![
        Shape {
            seq: 1,
            batch: 1,
            input: 1,
            hidden: 1,
        },
        Shape {
            seq: 50,
            batch: 16,
            input: 100,
            hidden: 128,
        },
    ];
    while shapes.len() < n {
        shapes.push(Shape {
            seq: draw(1, 50),
            batch: draw(1, 16),
            input: draw(1, 100),
            hidden: draw(1, 128),
        });
    }
    shapes.truncate(n);
    shapes
}

/// Inputs, initial state and loss cotangents for one comparison.
pub struct Probe {
    /// Input sequence, `[T, B, D]`, N(0, 1).
    pub x: Tensor,
    /// Initial hidden state, `[B, H]`, N(0, 0.5²).
    pub h0: Tensor,
    /// Initial memory cell, `[B, H]`, for cells with a cell state only.
    pub c0: Option<Tensor>,
    /// Cotangent of the outputs, `[T, B, H]`, N(0, 1)/(T·B).
    pub grad_out: Tensor,
    /// Cotangent of the final hidden state, `[B, H]`.
    pub grad_h: Tensor,
    /// Cotangent of the final memory cell, `[B, H]`, for cells with a cell state only.
    pub grad_c: Option<Tensor>,
}

impl Probe {
    /// Random inputs and states; the loss cotangents are N(0, 1)/(T·B), which makes the loss a mean over frames
    /// (as a training loss is), so gradient magnitudes stay O(1) at every shape and a max-abs bar means the same
    /// thing at sequence 1 and at sequence 50 × batch 16.
    pub fn random(kind: CellKind, s: Shape, k: Kind, device: Device, rng: &mut Rng) -> Probe {
        let opts = (k, device);
        let scale = 1.0 / (s.seq * s.batch) as f64;
        let lstm = kind.has_cell_state();
        // Drawn in this order (the order of the fields), whatever the cell.
        let x = rng.randn(&[s.seq, s.batch, s.input], opts);
        let h0 = rng.randn(&[s.batch, s.hidden], opts) * 0.5;
        let c0 = lstm.then(|| rng.randn(&[s.batch, s.hidden], opts) * 0.5);
        let grad_out = rng.randn(&[s.seq, s.batch, s.hidden], opts) * scale;
        let grad_h = rng.randn(&[s.batch, s.hidden], opts) * scale;
        let grad_c = lstm.then(|| rng.randn(&[s.batch, s.hidden], opts) * scale);
        Probe {
            x,
            h0,
            c0,
            grad_out,
            grad_h,
            grad_c,
        }
    }
}

/// A forward and backward pass: outputs, final state, and the gradients with respect to
/// `[x, h0, (c0,) parameters…]` in that order.
pub struct Outcome {
    /// Hidden state of every step, `[T, B, H]`.
    pub output: Tensor,
    /// Final state (h_T, and c_T for cells with a memory cell).
    pub state: State,
    /// Gradients of the probe loss, in the order given above.
    pub grads: Vec<Tensor>,
}

/// Runs `layer` on the probe and differentiates the probe's loss with respect to the inputs and `params`.
pub fn forward_backward(
    layer: &dyn SequenceLayer,
    params: &[&Tensor],
    p: &Probe,
) -> Result<Outcome> {
    let x = p.x.detach().set_requires_grad(true);
    let h0 = p.h0.detach().set_requires_grad(true);
    let c0 = p.c0.as_ref().map(|c| c.detach().set_requires_grad(true));
    let init = State {
        h: h0.shallow_clone(),
        c: c0.as_ref().map(Tensor::shallow_clone),
    };
    let (output, state) = layer.forward(&x, Some(&init))?;
    let mut loss =
        (&output * &p.grad_out).sum(output.kind()) + (&state.h * &p.grad_h).sum(output.kind());
    if let (Some(c), Some(g)) = (&state.c, &p.grad_c) {
        loss += (c * g).sum(output.kind());
    }
    let mut inputs: Vec<&Tensor> = vec![&x, &h0];
    inputs.extend(c0.iter());
    inputs.extend(params.iter().copied());
    let grads =
        Tensor::f_run_backward(&[&loss], &inputs, false, false).context("autograd failed")?;
    Ok(Outcome {
        output: output.detach(),
        state: State {
            h: state.h.detach(),
            c: state.c.map(|c| c.detach()),
        },
        grads,
    })
}

/// Largest |a − b| (∞ if the shapes differ, so a shape mismatch can never pass).
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    if a.size() != b.size() {
        return f64::INFINITY;
    }
    if a.numel() == 0 {
        return 0.0;
    }
    let d = (a.to_kind(Kind::Double) - b.to_kind(Kind::Double).to_device(a.device()))
        .abs()
        .max();
    let v = d.double_value(&[]);
    if v.is_nan() {
        f64::INFINITY
    } else {
        v
    }
}

/// (max-abs over outputs and final states, max-abs over gradients) between two outcomes.
pub fn compare_outcomes(a: &Outcome, b: &Outcome) -> (f64, f64) {
    let mut out = max_abs_diff(&a.output, &b.output).max(max_abs_diff(&a.state.h, &b.state.h));
    match (&a.state.c, &b.state.c) {
        (Some(x), Some(y)) => out = out.max(max_abs_diff(x, y)),
        (None, None) => {}
        _ => out = f64::INFINITY,
    }
    let grad = if a.grads.len() == b.grads.len() {
        a.grads
            .iter()
            .zip(&b.grads)
            .map(|(x, y)| max_abs_diff(x, y))
            .fold(0.0, f64::max)
    } else {
        f64::INFINITY
    };
    (out, grad)
}

fn builtin_reference(kind: CellKind, mode: Implementation, device: Device) -> String {
    let op = match kind {
        CellKind::Tanh => "rnn_tanh",
        CellKind::TorchGru => "gru",
        _ => "lstm",
    };
    match mode {
        Implementation::BuiltinSeq if device.is_cuda() => {
            format!("at::{op} (whole sequence, cuDNN, TF32 off)")
        }
        Implementation::BuiltinSeq => format!("at::{op} (whole sequence)"),
        Implementation::BuiltinCell => format!("at::{op}_cell (per step)"),
        Implementation::Custom | Implementation::CustomMember => "rnnlab's custom cell".into(),
    }
}

/// Custom torch-form cell against a libtorch built-in, on the same weights, over random shapes.
pub fn compare_with_builtin(
    kind: CellKind,
    mode: Implementation,
    dtype: Dtype,
    opts: &Options,
) -> Result<Row> {
    let mut rng = Rng::new(opts.seed)?;
    let (mut worst_out, mut worst_grad) = (0.0f64, 0.0f64);
    let shapes = random_shapes(opts.random_cases, opts.seed);
    for s in &shapes {
        let cfg = CellConfig {
            kind: dtype.kind(),
            device: opts.device,
            ..CellConfig::new(s.input, s.hidden)
        };
        let custom = CustomLayer::new(new_cell(kind, &cfg, &mut rng)?);
        let builtin = BuiltinLayer::new(custom.cell(), mode)?;
        let params = custom.cell().parameters();
        let probe = Probe::random(kind, *s, dtype.kind(), opts.device, &mut rng);
        let a = forward_backward(&custom, &params, &probe)
            .with_context(|| format!("custom {kind} on {s:?}"))?;
        let b = forward_backward(&builtin, &params, &probe)
            .with_context(|| format!("built-in {kind} on {s:?}"))?;
        let (o, g) = compare_outcomes(&a, &b);
        worst_out = worst_out.max(o);
        worst_grad = worst_grad.max(g);
    }
    let tol = tolerance(dtype);
    Ok(Row {
        cell: kind.name().into(),
        implementation: "custom".into(),
        reference: builtin_reference(kind, mode, opts.device),
        dtype: dtype.name().into(),
        device: device_name(opts.device),
        cases: shapes.len(),
        max_abs_out: worst_out,
        max_abs_grad: worst_grad,
        tolerance: tol,
        pass: worst_out <= tol && worst_grad <= tol,
    })
}

/// A tensor as the fixture file stores it.
#[derive(Debug, Deserialize)]
pub struct FixtureTensor {
    /// Dimensions, outermost first.
    pub shape: Vec<i64>,
    /// Values flat in row-major order, exact f64 as Python's `repr` wrote them.
    pub data: Vec<f64>,
}

impl FixtureTensor {
    /// The tensor in `kind` on `device`; errors if `data` does not hold `shape`'s number of values.
    pub fn to_tensor(&self, kind: Kind, device: Device) -> Result<Tensor> {
        let n: i64 = self.shape.iter().product();
        ensure!(
            n as usize == self.data.len(),
            "fixture tensor of shape {:?} holds {} values",
            self.shape,
            self.data.len()
        );
        Ok(Tensor::from_slice(&self.data)
            .reshape(self.shape.as_slice())
            .to_kind(kind)
            .to_device(device))
    }
}

/// One golden case (see `scripts/make_fixtures.py` for the schema).
#[derive(Debug, Deserialize)]
pub struct FixtureCase {
    /// Unique case name (the fixture script keeps cases by name when it regenerates).
    pub name: String,
    /// The unit this case checks.
    pub cell: CellKind,
    /// What produced the expected values (a PyTorch module looped or whole-sequence, or the NumPy paper form).
    pub reference: String,
    /// Input size D.
    pub input_size: i64,
    /// Hidden size H.
    pub hidden_size: i64,
    /// The cell's parameters by name, copied into the custom cell before the check.
    pub params: BTreeMap<String, FixtureTensor>,
    /// Input sequence, `[T, B, D]`.
    pub x: FixtureTensor,
    /// Initial hidden state, `[B, H]`.
    pub h0: FixtureTensor,
    /// Initial memory cell, `[B, H]` (cells with a cell state only).
    pub c0: Option<FixtureTensor>,
    /// Expected hidden state of every step, `[T, B, H]`.
    pub output: FixtureTensor,
    /// Expected final hidden state, `[B, H]`.
    pub h_n: FixtureTensor,
    /// Expected final memory cell, `[B, H]` (cells with a cell state only).
    pub c_n: Option<FixtureTensor>,
    /// Cotangent of the outputs, `[T, B, H]`.
    pub grad_output: FixtureTensor,
    /// Cotangent of the final hidden state, `[B, H]`.
    pub grad_h_n: FixtureTensor,
    /// Cotangent of the final memory cell, `[B, H]` (cells with a cell state only).
    pub grad_c_n: Option<FixtureTensor>,
    /// Expected gradients of the loss by name: `x`, `h0`, `c0` (cells with a cell state) and one per parameter.
    pub grads: BTreeMap<String, FixtureTensor>,
}

/// The golden fixture file `tests/fixtures/cells.json`, as written by `scripts/make_fixtures.py`.
#[derive(Debug, Deserialize)]
pub struct Fixtures {
    /// Version of PyTorch that wrote the reference values.
    pub torch_version: String,
    /// Every golden case, in file order.
    pub cases: Vec<FixtureCase>,
}

impl Fixtures {
    /// Parses the fixtures compiled into the binary ([`FIXTURES_JSON`]).
    pub fn embedded() -> Result<Fixtures> {
        serde_json::from_str(FIXTURES_JSON)
            .context("parsing the embedded tests/fixtures/cells.json")
    }
}

/// Runs the custom cell on a golden case; returns (max-abs output error, max-abs gradient error).
pub fn check_fixture_case(case: &FixtureCase, kind: Kind, device: Device) -> Result<(f64, f64)> {
    let t = |f: &FixtureTensor| f.to_tensor(kind, device);
    let opt = |f: &Option<FixtureTensor>| f.as_ref().map(t).transpose();
    let cfg = CellConfig {
        kind,
        device,
        ..CellConfig::new(case.input_size, case.hidden_size)
    };
    // Every parameter is overwritten by the fixture's values: the seed of the initial draws does not matter.
    let cell = new_cell(case.cell, &cfg, &mut Rng::new(0)?)?;
    let params: Vec<(String, Tensor)> = case
        .params
        .iter()
        .map(|(n, v)| Ok((n.clone(), t(v)?)))
        .collect::<Result<_>>()?;
    load_parameters(cell.as_ref(), &params)
        .with_context(|| format!("fixture case {}", case.name))?;
    let layer = CustomLayer::new(cell);
    let probe = Probe {
        x: t(&case.x)?,
        h0: t(&case.h0)?,
        c0: opt(&case.c0)?,
        grad_out: t(&case.grad_output)?,
        grad_h: t(&case.grad_h_n)?,
        grad_c: opt(&case.grad_c_n)?,
    };
    let names: Vec<&'static str> = layer
        .cell()
        .named_parameters()
        .iter()
        .map(|(n, _)| *n)
        .collect();
    let ours = forward_backward(&layer, &layer.cell().parameters(), &probe)?;
    let mut grad_names = vec!["x", "h0"];
    if case.cell.has_cell_state() {
        grad_names.push("c0");
    }
    grad_names.extend(names);
    let expected = Outcome {
        output: t(&case.output)?,
        state: State {
            h: t(&case.h_n)?,
            c: opt(&case.c_n)?,
        },
        grads: grad_names
            .iter()
            .map(|n| {
                let g = case.grads.get(*n).with_context(|| {
                    format!("fixture case {} has no gradient for {n}", case.name)
                })?;
                t(g)
            })
            .collect::<Result<_>>()?,
    };
    Ok(compare_outcomes(&ours, &expected))
}

fn compare_with_fixtures(
    fixtures: &Fixtures,
    kind: CellKind,
    dtype: Dtype,
    device: Device,
) -> Result<Row> {
    let cases: Vec<&FixtureCase> = fixtures.cases.iter().filter(|c| c.cell == kind).collect();
    let (mut worst_out, mut worst_grad) = (0.0f64, 0.0f64);
    for case in &cases {
        let (o, g) = check_fixture_case(case, dtype.kind(), device)?;
        worst_out = worst_out.max(o);
        worst_grad = worst_grad.max(g);
    }
    // The torch forms are checked against PyTorch's modules; every other unit against an independent NumPy
    // forward pass of its paper's equations (gradients by PyTorch autograd on a separate implementation).
    let reference = if kind.has_builtin() {
        format!("PyTorch {} (fixtures)", fixtures.torch_version)
    } else {
        "NumPy paper form (fixtures)".to_string()
    };
    // The fixtures are exact f64 values; an f32 run is compared with its own bar against them.
    let tol = tolerance(dtype);
    Ok(Row {
        cell: kind.name().into(),
        implementation: "custom".into(),
        reference,
        dtype: dtype.name().into(),
        device: device_name(device),
        cases: cases.len(),
        max_abs_out: worst_out,
        max_abs_grad: worst_grad,
        tolerance: tol,
        pass: !cases.is_empty() && worst_out <= tol && worst_grad <= tol,
    })
}

/// Autograd against central finite differences for every entry of every input and parameter, in f64, at sequence
/// 4, batch 2, input 3, hidden 3. Returns the largest |autograd − difference quotient|.
pub fn finite_difference_error(kind: CellKind, device: Device, seed: u64) -> Result<f64> {
    let s = Shape {
        seq: 4,
        batch: 2,
        input: 3,
        hidden: 3,
    };
    finite_difference_error_at(kind, s, device, seed)
}

/// [`finite_difference_error`] at the shape `s` (a unit whose parameters depend on whether input = hidden is
/// checked at both).
pub fn finite_difference_error_at(
    kind: CellKind,
    s: Shape,
    device: Device,
    seed: u64,
) -> Result<f64> {
    let mut rng = Rng::new(seed)?;
    let cfg = CellConfig {
        kind: Kind::Double,
        device,
        ..CellConfig::new(s.input, s.hidden)
    };
    let layer = CustomLayer::new(new_cell(kind, &cfg, &mut rng)?);
    let probe = Probe::random(kind, s, Kind::Double, device, &mut rng);
    let params = layer.cell().parameters();
    let analytic = forward_backward(&layer, &params, &probe)?;

    // The loss at the current values of every tensor, without building a graph.
    let loss = || -> Result<f64> {
        tch::no_grad(|| {
            let init = State {
                h: probe.h0.shallow_clone(),
                c: probe.c0.as_ref().map(Tensor::shallow_clone),
            };
            let (out, st) = layer.forward(&probe.x, Some(&init))?;
            let mut l = (&out * &probe.grad_out).sum(Kind::Double)
                + (&st.h * &probe.grad_h).sum(Kind::Double);
            if let (Some(c), Some(g)) = (&st.c, &probe.grad_c) {
                l += (c * g).sum(Kind::Double);
            }
            Ok(l.double_value(&[]))
        })
    };
    let mut targets: Vec<&Tensor> = vec![&probe.x, &probe.h0];
    targets.extend(probe.c0.iter());
    targets.extend(params.iter().copied());
    let mut worst = 0.0f64;
    for (target, grad) in targets.iter().zip(&analytic.grads) {
        let flat = target.view([-1]);
        let grad = grad.to_device(Device::Cpu).view([-1]);
        for i in 0..flat.size()[0] {
            let mut entry = flat.get(i);
            let v = entry.double_value(&[]);
            let _ = tch::no_grad(|| entry.fill_(v + FD_STEP));
            let up = loss()?;
            let _ = tch::no_grad(|| entry.fill_(v - FD_STEP));
            let down = loss()?;
            let _ = tch::no_grad(|| entry.fill_(v));
            let numeric = (up - down) / (2.0 * FD_STEP);
            worst = worst.max((numeric - grad.double_value(&[i])).abs());
        }
    }
    Ok(worst)
}

fn finite_difference_check(kind: CellKind, device: Device, seed: u64) -> Result<Row> {
    let err = finite_difference_error(kind, device, seed)?;
    Ok(Row {
        cell: kind.name().into(),
        implementation: "custom".into(),
        reference: "central finite differences".into(),
        dtype: "f64".into(),
        device: device_name(device),
        cases: 1,
        max_abs_out: 0.0,
        max_abs_grad: err,
        tolerance: FD_TOLERANCE,
        pass: err <= FD_TOLERANCE,
    })
}

/// The report as a fixed-width table.
pub fn format_table(rows: &[Row]) -> String {
    let mut s = format!(
        "{:<11} {:<40} {:<5} {:<7} {:>5} {:>12} {:>12} {:>8}  {}\n",
        "cell",
        "reference",
        "dtype",
        "device",
        "cases",
        "max_abs_out",
        "max_abs_grad",
        "tol",
        "result"
    );
    for r in rows {
        s += &format!(
            "{:<11} {:<40} {:<5} {:<7} {:>5} {:>12.3e} {:>12.3e} {:>8.0e}  {}\n",
            r.cell,
            r.reference,
            r.dtype,
            r.device,
            r.cases,
            r.max_abs_out,
            r.max_abs_grad,
            r.tolerance,
            if r.pass { "pass" } else { "FAIL" }
        );
    }
    s
}
