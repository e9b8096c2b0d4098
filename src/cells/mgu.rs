//! The minimal gated unit: Zhou, Wu, Zhang & Zhou (2016), "Minimal Gated Unit for Recurrent Neural Networks"
//! (International Journal of Automation and Computing 13(3)). One gate, the forget gate `f`, does the work of the
//! GRU's reset and update gates (gate rows f, h̃):
//! ```text
//! f  = σ(W_f x + U_f h + b_f)
//! h̃  = tanh(W_h x + U_h (f ⊙ h) + b_h)                  f resets the old state inside the candidate …
//! h' = (1 − f) ⊙ h + f ⊙ h̃                              … and weights the new candidate
//! ```
//! `weight_ih: [2H, D]` = (W_f, W_h), `weight_hh: [2H, H]` = (U_f, U_h), `bias: [2H]` = (b_f, b_h), drawn in that
//! order (the paper layout of `layout.rs`). Paper parameter count `2(Dn + n² + n)`: two thirds of a GRU's at the
//! same sizes. `[B, D] × [B, H] → [B, H]`; a population adds a leading `[K]` to every parameter and state.
//!
//! Where the paper leaves a detail open: it writes `h' = (1 − f) ⊙ h + f ⊙ h̃` (the gate weights the candidate, as
//! in Chung et al.'s GRU), which is what is computed here; initialisation is rnnlab's (as for every unit). The
//! forget gate is a gate of the unit's own, not an LSTM's: `forget_bias` does not apply (a config with it set on
//! this unit is refused).

use super::layout::{cell_parameters, Dims, PaperLayout};
use super::{per_gate, Block, Cell, CellConfig, CellKind, State, StepWeights};
use crate::rng::Rng;
use tch::Tensor;

/// The minimal gated unit (see the module doc for its equations and weight layout).
#[derive(Debug)]
pub struct Mgu {
    p: PaperLayout,
    dims: Dims,
}

impl Mgu {
    /// Draws `weight_ih`, `weight_hh`, `bias` from `rng` (in that order).
    pub fn new(cfg: &CellConfig, rng: &mut Rng) -> Self {
        Mgu {
            p: PaperLayout::new(cfg, 2, rng),
            dims: Dims::of(cfg),
        }
    }

    /// `2(Dn + n² + n)`: the gate and the candidate, each with input weights, recurrent weights and a bias.
    pub fn paper_param_count(input: i64, hidden: i64) -> i64 {
        2 * per_gate(input, hidden)
    }
}

impl Cell for Mgu {
    cell_parameters!(Mgu, CellKind::Mgu);

    fn input_projection(&self, x: &Tensor) -> Tensor {
        self.p.project_input(x)
    }

    fn input_linear(&self) -> Option<(usize, &'static [usize])> {
        Some((0, &[2]))
    }

    fn step(&self, xp: &Tensor, state: &State) -> State {
        self.step_with(&StepWeights::new(self, false), xp, state)
    }

    /// `[U_f, U_h]`.
    fn recurrent_blocks(&self) -> Vec<Block> {
        let h = self.dims.hidden;
        vec![Block::rows(1, 0, h), Block::rows(1, h, h)]
    }

    fn step_with(&self, weights: &StepWeights, xp: &Tensor, state: &State) -> State {
        let h = &state.h;
        let mut own = None;
        let weights = weights.or_own(self, 2, &mut own);
        let xi = xp.chunk(2, -1);
        let f = weights.matmul(0, &xi[0], h).sigmoid();
        let candidate = weights.matmul(1, &xi[1], &(&f * h)).tanh();
        // (1 − f) ⊙ h + f ⊙ h̃
        let h = h.lerp_tensor(&candidate, &f);
        State { h, c: None }
    }
}
