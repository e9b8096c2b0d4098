//! MUT3: Jozefowicz, Zaremba & Sutskever (2015), "An Empirical Exploration of Recurrent Network Architectures"
//! (ICML), the third of the three architectures their search found (gate rows z, r, h):
//! ```text
//! z  = σ(W_xz x + W_hz tanh(h) + b_z)                    the update gate sees tanh(h)
//! r  = σ(W_xr x + W_hr h + b_r)
//! h' = tanh(W_hh (r ⊙ h) + W_xh x + b_h) ⊙ z + h ⊙ (1 − z)
//! ```
//! `weight_ih: [3H, D]` = (W_xz, W_xr, W_xh), `weight_hh: [3H, H]` = (W_hz, W_hr, W_hh), `bias: [3H]` =
//! (b_z, b_r, b_h), drawn in that order (the paper layout of `layout.rs`). Every term has its own weight, so any
//! input size works as published. Paper parameter count `3(Dn + n² + n)`, a GRU's. `[B, D] × [B, H] → [B, H]`; a
//! population adds a leading `[K]`.
//!
//! Initialisation is rnnlab's (as for every unit). The unit has no forget gate: `forget_bias` does not apply.

use super::layout::{cell_parameters, Dims, PaperLayout};
use super::{per_gate, Block, Cell, CellConfig, CellKind, State, StepWeights};
use crate::rng::Rng;
use tch::Tensor;

/// MUT3 (see the module doc for its equations and weight layout).
#[derive(Debug)]
pub struct Mut3 {
    p: PaperLayout,
    dims: Dims,
}

impl Mut3 {
    /// Draws `weight_ih`, `weight_hh`, `bias` from `rng` (in that order).
    pub fn new(cfg: &CellConfig, rng: &mut Rng) -> Self {
        Mut3 {
            p: PaperLayout::new(cfg, 3, rng),
            dims: Dims::of(cfg),
        }
    }

    /// `3(Dn + n² + n)`.
    pub fn paper_param_count(input: i64, hidden: i64) -> i64 {
        3 * per_gate(input, hidden)
    }
}

impl Cell for Mut3 {
    cell_parameters!(Mut3, CellKind::Mut3);

    fn input_projection(&self, x: &Tensor) -> Tensor {
        self.p.project_input(x)
    }

    fn step(&self, xp: &Tensor, state: &State) -> State {
        self.step_with(&StepWeights::new(self, false), xp, state)
    }

    /// `[W_hz, W_hr, W_hh]`.
    fn recurrent_blocks(&self) -> Vec<Block> {
        let h = self.dims.hidden;
        vec![
            Block::rows(1, 0, h),
            Block::rows(1, h, h),
            Block::rows(1, 2 * h, h),
        ]
    }

    fn step_with(&self, weights: &StepWeights, xp: &Tensor, state: &State) -> State {
        let h = &state.h;
        let mut own = None;
        let weights = weights.or_own(self, 3, &mut own);
        let xi = xp.chunk(3, -1);
        let z = weights.matmul(0, &xi[0], &h.tanh()).sigmoid();
        let r = weights.matmul(1, &xi[1], h).sigmoid();
        let candidate = weights.matmul(2, &xi[2], &(r * h)).tanh();
        // h̃ ⊙ z + h ⊙ (1 − z)
        let h = h.lerp_tensor(&candidate, &z);
        State { h, c: None }
    }
}
