//! MUT2: Jozefowicz, Zaremba & Sutskever (2015), "An Empirical Exploration of Recurrent Network Architectures"
//! (ICML), the second of the three architectures their search found (gate rows z, r, h):
//! ```text
//! z  = σ(W_xz x + W_hz h + b_z)
//! r  = σ(x + W_hr h + b_r)                               the reset gate adds the input itself
//! h' = tanh(W_hh (r ⊙ h) + W_xh x + b_h) ⊙ z + h ⊙ (1 − z)
//! ```
//! `weight_ih: [2H, D]` = (W_xz, W_xh), `weight_hh: [3H, H]` = (W_hz, W_hr, W_hh), `bias: [3H]` = (b_z, b_r, b_h),
//! drawn in that order; then, only when `D ≠ H`, `weight_x: [H, D]`.
//!
//! **Input size.** The reset gate adds `x` to an `H`-wide sum, so the paper's equation needs `D = H`. With `D = H`
//! this is the paper's equation exactly, and has no `weight_x`. With `D ≠ H` (music: 88 keys) `x` becomes `W_x x`
//! with a learned `weight_x: [H, D]`, no bias (`layout::InputMap`): a deviation from the paper, documented in
//! docs/cells.md. Paper parameter count `2Dn + 3n² + 3n`, plus `Dn` for `weight_x` when `D ≠ n`.
//! `[B, D] × [B, H] → [B, H]`; a population adds a leading `[K]`.
//!
//! Initialisation is rnnlab's (as for every unit). The unit has no forget gate: `forget_bias` does not apply.

use super::layout::{cell_parameters, Dims, InputMap, PaperLayout};
use super::{add_member_bias, project, Block, Cell, CellConfig, CellKind, State, StepWeights};
use crate::rng::Rng;
use tch::Tensor;

/// MUT2 (see the module doc for its equations, weight layout and the input map used when `D ≠ H`).
#[derive(Debug)]
pub struct Mut2 {
    p: PaperLayout,
    x_map: InputMap,
    dims: Dims,
}

impl Mut2 {
    /// Draws `weight_ih`, `weight_hh`, `bias`, then (when `D ≠ H`) `weight_x`, from `rng`.
    pub fn new(cfg: &CellConfig, rng: &mut Rng) -> Self {
        Mut2 {
            p: PaperLayout::with_rows(cfg, 2, 3, 3, rng),
            x_map: InputMap::new(cfg, rng),
            dims: Dims::of(cfg),
        }
    }

    /// `2Dn + 3n² + 3n` (+ `Dn` for `weight_x` when `D ≠ n`).
    pub fn paper_param_count(input: i64, hidden: i64) -> i64 {
        2 * input * hidden + 3 * hidden * hidden + 3 * hidden + InputMap::count(input, hidden)
    }
}

impl Cell for Mut2 {
    cell_parameters!(Mut2, CellKind::Mut2; x_map);

    /// `[W_xz x + b_z, x + b_r, W_xh x + b_h]`.
    fn input_projection(&self, x: &Tensor) -> Tensor {
        let h = self.dims.hidden;
        let b = self.p.bias.chunk(3, -1);
        let zh = project(
            x,
            &self.p.weight_ih,
            Some(&Tensor::cat(&[&b[0], &b[2]], -1)),
        );
        let zh = zh.chunk(2, -1);
        let own = add_member_bias(&self.x_map.apply(x), &b[1], self.dims.population);
        debug_assert_eq!(own.size()[own.dim() - 1], h);
        Tensor::cat(&[&zh[0], &own, &zh[1]], -1)
    }

    fn step(&self, xp: &Tensor, state: &State) -> State {
        self.step_with(&StepWeights::new(self, false), xp, state)
    }

    /// `[W_zr, W_hh]`.
    fn recurrent_blocks(&self) -> Vec<Block> {
        let h = self.dims.hidden;
        vec![Block::rows(1, 0, 2 * h), Block::rows(1, 2 * h, h)]
    }

    fn step_with(&self, weights: &StepWeights, xp: &Tensor, state: &State) -> State {
        let h = &state.h;
        let hdim = self.dims.hidden;
        let mut own = None;
        let weights = weights.or_own(self, 2, &mut own);
        let xi = xp.chunk(3, -1);
        let zr = weights.matmul(0, &xp.narrow(-1, 0, 2 * hdim), h).sigmoid();
        let zr = zr.chunk(2, -1);
        let (z, r) = (&zr[0], &zr[1]);
        let candidate = weights.matmul(1, &xi[2], &(r * h)).tanh();
        // h̃ ⊙ z + h ⊙ (1 − z)
        let h = h.lerp_tensor(&candidate, z);
        State { h, c: None }
    }
}
