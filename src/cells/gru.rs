//! Gated recurrent units, in both forms.
//!
//! **Torch form** ([`TorchGru`], PyTorch `GRUCell`; gate rows r, z, n):
//! ```text
//! r  = σ(W_ir x + b_ir + W_hr h + b_hr)
//! z  = σ(W_iz x + b_iz + W_hz h + b_hz)
//! n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))        reset after the matmul, recurrent bias inside
//! h' = (1 − z) ⊙ n + z ⊙ h                               z weights the old state
//! ```
//! `weight_ih: [3H, D]`, `weight_hh: [3H, H]`, `bias_ih`, `bias_hh: [3H]`.
//!
//! **Paper form** ([`PaperGru`], Chung et al. 2014 eqs. 5–8; gate rows r, z, n):
//! ```text
//! r  = σ(W_r x + U_r h + b_r)
//! z  = σ(W_z x + U_z h + b_z)
//! h̃  = tanh(W x + U (r ⊙ h) + b)                        reset before the matmul
//! h' = (1 − z) ⊙ h + z ⊙ h̃                               z weights the new candidate
//! ```
//! `weight_ih: [3H, D]`, `weight_hh: [3H, H]`, `bias: [3H]`. Both map `[B, D] × [B, H] → [B, H]`; a population
//! adds a leading `[K]` to every parameter and state.

use super::layout::{cell_parameters, Dims, PaperLayout, TorchLayout};
use super::{project, recurrent, Block, Cell, CellConfig, CellKind, State, StepWeights};
use crate::rng::Rng;
use tch::Tensor;

/// The GRU in PyTorch's `GRUCell` layout: gate rows r, z, n; reset applied after the recurrent matmul.
#[derive(Debug)]
pub struct TorchGru {
    p: TorchLayout,
    dims: Dims,
}

impl TorchGru {
    /// Draws `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` from `rng` (in that order).
    pub fn new(cfg: &CellConfig, rng: &mut Rng) -> Self {
        TorchGru {
            p: TorchLayout::new(cfg, 3, rng),
            dims: Dims::of(cfg),
        }
    }
}

impl Cell for TorchGru {
    cell_parameters!(TorchGru, CellKind::TorchGru);

    fn input_projection(&self, x: &Tensor) -> Tensor {
        project(x, &self.p.weight_ih, Some(&self.p.bias_ih))
    }

    fn step(&self, xp: &Tensor, state: &State) -> State {
        let h = &state.h;
        // b_hn must stay inside r ⊙ (…), so the recurrent bias is added here rather than folded into xp.
        let gh = recurrent(h, &self.p.weight_hh, Some(&self.p.bias_hh));
        let xi = xp.chunk(3, -1);
        let hh = gh.chunk(3, -1);
        let r = (&xi[0] + &hh[0]).sigmoid();
        let z = (&xi[1] + &hh[1]).sigmoid();
        let n = (&xi[2] + r * &hh[2]).tanh();
        // (1 − z) ⊙ n + z ⊙ h
        let h = n.lerp_tensor(h, &z);
        State { h, c: None }
    }
}

/// The GRU of the paper: reset applied to `h` before the recurrent matmul (see the module doc).
#[derive(Debug)]
pub struct PaperGru {
    p: PaperLayout,
    dims: Dims,
}

impl PaperGru {
    /// Draws `weight_ih`, `weight_hh`, `bias` from `rng` (in that order).
    pub fn new(cfg: &CellConfig, rng: &mut Rng) -> Self {
        PaperGru {
            p: PaperLayout::new(cfg, 3, rng),
            dims: Dims::of(cfg),
        }
    }
}

impl Cell for PaperGru {
    cell_parameters!(PaperGru, CellKind::PaperGru);

    fn input_projection(&self, x: &Tensor) -> Tensor {
        self.p.project_input(x)
    }

    fn input_linear(&self) -> Option<(usize, &'static [usize])> {
        Some((0, &[2]))
    }

    fn step(&self, xp: &Tensor, state: &State) -> State {
        self.step_with(&StepWeights::new(self, false), xp, state)
    }

    /// `[U_rz, U]`: U_r and U_z in one matmul; U (the candidate's block) must wait for r.
    fn recurrent_blocks(&self) -> Vec<Block> {
        let h = self.dims.hidden;
        vec![Block::rows(1, 0, 2 * h), Block::rows(1, 2 * h, h)]
    }

    fn step_with(&self, weights: &StepWeights, xp: &Tensor, state: &State) -> State {
        let h = &state.h;
        let hdim = self.dims.hidden;
        let mut own = None;
        let weights = weights.or_own(self, 2, &mut own);
        let xi = xp.split_with_sizes([2 * hdim, hdim], -1);
        let rz = weights.matmul(0, &xi[0], h).sigmoid();
        let rz = rz.chunk(2, -1);
        let (r, z) = (&rz[0], &rz[1]);
        let candidate = weights.matmul(1, &xi[1], &(r * h)).tanh();
        // (1 − z) ⊙ h + z ⊙ h̃
        let h = h.lerp_tensor(&candidate, z);
        State { h, c: None }
    }
}
