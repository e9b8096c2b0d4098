//! MUT1: Jozefowicz, Zaremba & Sutskever (2015), "An Empirical Exploration of Recurrent Network Architectures"
//! (ICML), the first of the three architectures their search found (gate rows z, r):
//! ```text
//! z  = σ(W_xz x + b_z)                                   the update gate sees only the input
//! r  = σ(W_xr x + W_hr h + b_r)
//! h' = tanh(W_hh (r ⊙ h) + tanh(x) + b_h) ⊙ z + h ⊙ (1 − z)
//! ```
//! `weight_ih: [2H, D]` = (W_xz, W_xr), `weight_hh: [2H, H]` = (W_hr, W_hh), `bias: [3H]` = (b_z, b_r, b_h), drawn
//! in that order; then, only when `D ≠ H`, `weight_x: [H, D]`.
//!
//! **Input size.** The candidate adds `tanh(x)` to an `H`-wide sum, so the paper's equation needs `D = H` (their
//! experiments embedded the input first). With `D = H` this is the paper's equation exactly, and has no
//! `weight_x`. With `D ≠ H` (music: 88 keys) `tanh(x)` becomes `tanh(W_x x)` with a learned `weight_x: [H, D]`, no
//! bias (`layout::InputMap`): a deviation from the paper, documented in docs/cells.md. Paper parameter count
//! `2Dn + 2n² + 3n`, plus `Dn` for `weight_x` when `D ≠ n`. `[B, D] × [B, H] → [B, H]`; a population adds a
//! leading `[K]`.
//!
//! Initialisation is rnnlab's (as for every unit): `weight_hh` gets an orthogonal block per gate under the paper
//! initialisation. The unit has no forget gate: `forget_bias` does not apply.

use super::layout::{cell_parameters, Dims, InputMap, PaperLayout};
use super::{add_member_bias, project, Block, Cell, CellConfig, CellKind, State, StepWeights};
use crate::rng::Rng;
use tch::Tensor;

/// MUT1 (see the module doc for its equations, weight layout and the input map used when `D ≠ H`).
#[derive(Debug)]
pub struct Mut1 {
    p: PaperLayout,
    x_map: InputMap,
    dims: Dims,
}

impl Mut1 {
    /// Draws `weight_ih`, `weight_hh`, `bias`, then (when `D ≠ H`) `weight_x`, from `rng`.
    pub fn new(cfg: &CellConfig, rng: &mut Rng) -> Self {
        Mut1 {
            p: PaperLayout::with_rows(cfg, 2, 2, 3, rng),
            x_map: InputMap::new(cfg, rng),
            dims: Dims::of(cfg),
        }
    }

    /// `2Dn + 2n² + 3n` (+ `Dn` for `weight_x` when `D ≠ n`).
    pub fn paper_param_count(input: i64, hidden: i64) -> i64 {
        2 * input * hidden + 2 * hidden * hidden + 3 * hidden + InputMap::count(input, hidden)
    }
}

impl Cell for Mut1 {
    cell_parameters!(Mut1, CellKind::Mut1; x_map);

    /// `[W_xz x + b_z, W_xr x + b_r, tanh(x) + b_h]`.
    fn input_projection(&self, x: &Tensor) -> Tensor {
        let h = self.dims.hidden;
        let b = &self.p.bias;
        let zr = project(x, &self.p.weight_ih, Some(&b.narrow(-1, 0, 2 * h)));
        let own = add_member_bias(
            &self.x_map.apply(x).tanh(),
            &b.narrow(-1, 2 * h, h),
            self.dims.population,
        );
        Tensor::cat(&[zr, own], -1)
    }

    fn step(&self, xp: &Tensor, state: &State) -> State {
        self.step_with(&StepWeights::new(self, false), xp, state)
    }

    /// `[W_hr, W_hh]`, added to the r and candidate columns of `xp` (z has no recurrent term).
    fn recurrent_blocks(&self) -> Vec<Block> {
        let h = self.dims.hidden;
        vec![
            Block {
                param: 1,
                start: 0,
                rows: h,
                col: h,
            },
            Block {
                param: 1,
                start: h,
                rows: h,
                col: 2 * h,
            },
        ]
    }

    fn step_with(&self, weights: &StepWeights, xp: &Tensor, state: &State) -> State {
        let h = &state.h;
        let mut own = None;
        let weights = weights.or_own(self, 2, &mut own);
        let xi = xp.chunk(3, -1);
        let z = xi[0].sigmoid();
        let r = weights.matmul(0, &xi[1], h).sigmoid();
        let candidate = weights.matmul(1, &xi[2], &(r * h)).tanh();
        // h̃ ⊙ z + h ⊙ (1 − z)
        let h = h.lerp_tensor(&candidate, &z);
        State { h, c: None }
    }
}
