//! Running a unit over a sequence: the [`SequenceLayer`] interface, [`CustomLayer`] (a custom [`Cell`] over time),
//! and the pieces every step-by-step layer shares (custom cells, libtorch's per-step kernels, the benchmark's naive
//! tier): [`check_input`], [`initial_state`] and the loop over time, [`run_steps`].

use super::{Cell, CellKind, Deferred, State, StepWeights};
use anyhow::{bail, ensure, Result};
use tch::{Device, Kind, Tensor};

/// Anything that runs a recurrent unit over a whole sequence: custom cells and libtorch's built-ins alike.
pub trait SequenceLayer {
    /// A short name for tables: `custom`, `builtin_seq`, `builtin_cell`.
    fn implementation(&self) -> &'static str;
    /// The unit the layer runs.
    fn kind(&self) -> CellKind;
    /// `x: [T, B, D]` (or `[K, T, B, D]` for a population) → (`h_t` for every step `[(K,) T, B, H]`, final state).
    fn forward(&self, x: &Tensor, state: Option<&State>) -> Result<(Tensor, State)>;
}

/// Runs a custom [`Cell`] over time: one matmul for the input projection of all steps, then one step per frame.
#[derive(Debug)]
pub struct CustomLayer {
    cell: Box<dyn Cell>,
}

impl CustomLayer {
    /// Runs `cell` over whole sequences.
    pub fn new(cell: Box<dyn Cell>) -> Self {
        CustomLayer { cell }
    }

    /// The cell it runs.
    pub fn cell(&self) -> &dyn Cell {
        self.cell.as_ref()
    }
}

impl SequenceLayer for CustomLayer {
    fn implementation(&self) -> &'static str {
        "custom"
    }

    fn kind(&self) -> CellKind {
        self.cell.kind()
    }

    fn forward(&self, x: &Tensor, state: Option<&State>) -> Result<(Tensor, State)> {
        let (h, last, _) = self.run(x, state, false)?;
        Ok((h, last))
    }
}

impl CustomLayer {
    /// [`SequenceLayer::forward`] for training, with the recurrent matrices' gradients left to form once over all
    /// steps ([`StepWeights`] with `deferred`): the caller asks autograd for the gradient of [`Deferred::xp`] too
    /// and passes it to [`Deferred::add_to`]. `None` for a cell that declares no recurrent blocks, whose gradients
    /// autograd forms as usual.
    pub fn forward_deferred(
        &self,
        x: &Tensor,
        state: Option<&State>,
    ) -> Result<(Tensor, State, Option<Deferred>)> {
        self.run(x, state, true)
    }

    fn run(
        &self,
        x: &Tensor,
        state: Option<&State>,
        deferred: bool,
    ) -> Result<(Tensor, State, Option<Deferred>)> {
        let cell = self.cell.as_ref();
        let weight = cell.named_parameters()[0].1;
        let (k, _, b) = check_input(cell.kind(), cell.input_size(), cell.population(), weight, x)?;
        let want: Vec<i64> = k.into_iter().chain([b, cell.hidden_size()]).collect();
        let state = initial_state(cell.kind(), &want, state, x)?;
        let deferred = deferred && !cell.recurrent_blocks().is_empty();
        // Deferring, a plain linear projection of an input that needs no gradient is made outside the graph: `xp` is
        // then a leaf, and its weights' gradients are formed from `xp`'s by hand too (`Deferred::add_to`).
        let linear = match cell.input_linear() {
            Some(l) if deferred && !x.requires_grad() => Some(l),
            _ => None,
        };
        let xp = match linear {
            Some(_) => tch::no_grad(|| cell.input_projection(x)).set_requires_grad(true),
            None => cell.input_projection(x),
        };
        // [K, T, B, G] for a population, [T, B, G] otherwise.
        let time_dim = if k.is_some() { 1 } else { 0 };
        let weights = StepWeights::new(cell, deferred);
        let (h, last) = run_steps(&xp, time_dim, state, |xp_t, s| {
            cell.step_with(&weights, xp_t, s)
        });
        let input = linear.map(|(w, biases)| (x.shallow_clone(), w, biases));
        let deferred = weights
            .finish(time_dim)
            .map(|blocks| Deferred::new(xp, blocks, input));
        Ok((h, last, deferred))
    }
}

/// A zero state for `batch` sequences.
pub fn zero_state(cell: &dyn Cell, batch: i64, kind: Kind, device: Device) -> State {
    let shape: Vec<i64> = cell
        .population()
        .into_iter()
        .chain([batch, cell.hidden_size()])
        .collect();
    zeros(cell.kind(), &shape, kind, device)
}

fn zeros(kind: CellKind, shape: &[i64], dtype: Kind, device: Device) -> State {
    let h = Tensor::zeros(shape, (dtype, device));
    let c = kind
        .has_cell_state()
        .then(|| Tensor::zeros(shape, (dtype, device)));
    State { h, c }
}

/// Checks a layer's input `x` against its unit, input width `input`, population (`Some(K)`: `x` may also be
/// per-member, `[K, T, B, D]`) and a weight whose dtype and device `x` must share. Returns (population, time,
/// batch).
pub fn check_input(
    kind: CellKind,
    input: i64,
    population: Option<i64>,
    weight: &Tensor,
    x: &Tensor,
) -> Result<(Option<i64>, i64, i64)> {
    let size = x.size();
    let d = input;
    let ok_rank = match population {
        None => size.len() == 3,
        Some(k) => size.len() == 3 || (size.len() == 4 && size[0] == k),
    };
    if !ok_rank || size[size.len() - 1] != d {
        let want = match population {
            None => format!("[time, batch, {d}]"),
            Some(k) => format!("[time, batch, {d}] or [{k}, time, batch, {d}]"),
        };
        bail!("{kind} input has shape {size:?}, expected {want}");
    }
    ensure!(
        x.kind() == weight.kind() && x.device() == weight.device(),
        "{kind} input is {:?} on {:?} but the weights are {:?} on {:?}",
        x.kind(),
        x.device(),
        weight.kind(),
        weight.device()
    );
    let n = size.len();
    Ok((population, size[n - 3], size[n - 2]))
}

/// The state a layer starts from: `state` when given, checked to be `want` (`[(K,) B, H]`) with a `c` exactly for
/// LSTMs, else zeros of `x`'s dtype and device.
pub fn initial_state(
    kind: CellKind,
    want: &[i64],
    state: Option<&State>,
    x: &Tensor,
) -> Result<State> {
    let Some(s) = state else {
        return Ok(zeros(kind, want, x.kind(), x.device()));
    };
    ensure!(
        s.h.size() == want,
        "{kind} initial h has shape {:?}, expected {want:?}",
        s.h.size()
    );
    match (&s.c, kind.has_cell_state()) {
        (Some(c), true) => ensure!(
            c.size() == want,
            "{kind} initial c has shape {:?}, expected {want:?}",
            c.size()
        ),
        (None, true) => bail!("{kind} needs an initial c beside h"),
        (Some(_), false) => bail!("{kind} has no cell state, but an initial c was given"),
        (None, false) => {}
    }
    Ok(s.shallow_clone())
}

/// The loop over time of every step-by-step layer: `step` is applied to each slice of `xs` along `time_dim`, from
/// `state`. Returns `h_t` of every step stacked along `time_dim`, and the final state.
pub fn run_steps(
    xs: &Tensor,
    time_dim: i64,
    mut state: State,
    mut step: impl FnMut(&Tensor, &State) -> State,
) -> (Tensor, State) {
    let mut outputs = Vec::with_capacity(xs.size()[time_dim as usize] as usize);
    // unbind, not select(t) per step: the backward of T selects writes T zero-filled copies of the whole
    // projection (O(T²·B·G) memory traffic), the backward of one unbind is a single stack.
    for x_t in xs.unbind(time_dim) {
        state = step(&x_t, &state);
        outputs.push(state.h.shallow_clone());
    }
    (Tensor::stack(&outputs, time_dim), state)
}
