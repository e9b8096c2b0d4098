//! The tanh RNN (Elman) cell, in PyTorch's `RNNCell` layout.
//!
//! ```text
//! h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)          [B, D] × [B, H] → [B, H]
//! ```
//! `weight_ih: [H, D]`, `weight_hh: [H, H]`, `bias_ih`, `bias_hh: [H]` (each with a leading `[K]` in a population).
//! The paper's form has one bias `b`; PyTorch's two vectors only ever appear as the sum `b_ih + b_hh`, so the maths
//! is the same and the paper parameter count `Dn + n² + n` counts them once. Both biases are folded into the input
//! projection, leaving one matmul-add and one tanh per step.

use super::layout::{cell_parameters, Dims, TorchLayout};
use super::{project, Block, Cell, CellConfig, CellKind, State, StepWeights};
use crate::rng::Rng;
use tch::Tensor;

/// The tanh RNN cell (see the module doc for its equation and weight layout).
#[derive(Debug)]
pub struct TanhRnn {
    p: TorchLayout,
    dims: Dims,
}

impl TanhRnn {
    /// Draws `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` from `rng` (in that order).
    pub fn new(cfg: &CellConfig, rng: &mut Rng) -> Self {
        TanhRnn {
            p: TorchLayout::new(cfg, 1, rng),
            dims: Dims::of(cfg),
        }
    }
}

impl Cell for TanhRnn {
    cell_parameters!(TanhRnn, CellKind::Tanh);

    fn input_projection(&self, x: &Tensor) -> Tensor {
        project(x, &self.p.weight_ih, Some(&self.p.bias_sum()))
    }

    /// `weight_ih` and both biases (each gets the summed bias's gradient).
    fn input_linear(&self) -> Option<(usize, &'static [usize])> {
        Some((0, &[2, 3]))
    }

    fn step(&self, xp: &Tensor, state: &State) -> State {
        self.step_with(&StepWeights::new(self, false), xp, state)
    }

    /// The whole `weight_hh`.
    fn recurrent_blocks(&self) -> Vec<Block> {
        vec![Block::rows(1, 0, self.dims.hidden)]
    }

    fn step_with(&self, weights: &StepWeights, xp: &Tensor, state: &State) -> State {
        if weights.len() != 1 {
            return self.step(xp, state);
        }
        let h = weights.matmul(0, xp, &state.h).tanh();
        State { h, c: None }
    }
}
