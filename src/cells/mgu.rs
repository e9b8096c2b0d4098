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
use super::{per_gate, recurrent, Cell, CellConfig, CellKind, State};
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

    fn step(&self, xp: &Tensor, state: &State) -> State {
        let h = &state.h;
        let hdim = self.dims.hidden;
        let u_f = self.p.weight_hh.narrow(-2, 0, hdim);
        let u_h = self.p.weight_hh.narrow(-2, hdim, hdim);
        let xi = xp.chunk(2, -1);
        let f = (&xi[0] + recurrent(h, &u_f, None)).sigmoid();
        let candidate = (&xi[1] + recurrent(&(&f * h), &u_h, None)).tanh();
        // (1 − f) ⊙ h + f ⊙ h̃
        let h = h + f * (candidate - h);
        State { h, c: None }
    }
}
