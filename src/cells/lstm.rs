//! Long short-term memory, in both forms.
//!
//! **Torch form** ([`TorchLstm`], PyTorch `LSTMCell`; gate rows i, f, g, o; no peepholes; two biases):
//! ```text
//! [i f g o] = W_ih x + b_ih + W_hh h + b_hh
//! c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)
//! h' = σ(o) ⊙ tanh(c')
//! ```
//! `weight_ih: [4H, D]`, `weight_hh: [4H, H]`, `bias_ih`, `bias_hh: [4H]`.
//!
//! **Paper form** ([`PaperLstm`], Graves 2013 as used by Chung et al. 2014; gate rows i, f, g, o):
//! ```text
//! i  = σ(W_i x + U_i h + V_i ⊙ c + b_i)
//! f  = σ(W_f x + U_f h + V_f ⊙ c + b_f)
//! c̃  = tanh(W_c x + U_c h + b_c)
//! c' = f ⊙ c + i ⊙ c̃
//! o  = σ(W_o x + U_o h + V_o ⊙ c' + b_o)                the output gate peeks at the new cell
//! h' = o ⊙ tanh(c')
//! ```
//! `weight_ih: [4H, D]`, `weight_hh: [4H, H]`, `bias: [4H]`, `peephole: [3H]` = (V_i, V_f, V_o), the diagonals of
//! the peephole matrices. `forget_bias` ([`CellConfig::forget_bias`]) is added to the forget gate's bias after
//! the draw (to `bias_ih` in the torch form). Both map `[B, D] × ([B, H], [B, H]) → ([B, H], [B, H])`; a population adds a leading `[K]`.

use super::layout::{cell_parameters, Dims, PaperLayout, TorchLayout};
use super::{
    per_unit, project, recurrent, Block, Cell, CellConfig, CellKind, Init, State, StepWeights,
};
use crate::rng::Rng;
use tch::Tensor;

fn cell_state(state: &State) -> &Tensor {
    // SequenceLayer::forward checks that LSTM states carry c before any step runs.
    state.c.as_ref().expect("LSTM state without a cell state c")
}

/// The LSTM in PyTorch's `LSTMCell` layout: gate rows i, f, g, o; no peepholes (see the module doc).
#[derive(Debug)]
pub struct TorchLstm {
    p: TorchLayout,
    dims: Dims,
}

impl TorchLstm {
    /// Draws `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` from `rng` and adds `forget_bias` to the forget gate's
    /// bias.
    pub fn new(cfg: &CellConfig, rng: &mut Rng) -> Self {
        let p = TorchLayout::new(cfg, 4, rng);
        // The forget gate's rows are the second block; both biases only ever appear summed.
        cfg.shift_bias_block(&p.bias_ih, 1, cfg.forget_bias);
        TorchLstm {
            p,
            dims: Dims::of(cfg),
        }
    }
}

impl Cell for TorchLstm {
    cell_parameters!(TorchLstm, CellKind::TorchLstm);

    fn input_projection(&self, x: &Tensor) -> Tensor {
        // Both biases only ever appear summed, so both fold into the projection of the whole sequence.
        project(x, &self.p.weight_ih, Some(&self.p.bias_sum()))
    }

    fn step(&self, xp: &Tensor, state: &State) -> State {
        let c = cell_state(state);
        let gates = xp + recurrent(&state.h, &self.p.weight_hh, None);
        let g = gates.chunk(4, -1);
        let c = g[1].sigmoid() * c + g[0].sigmoid() * g[2].tanh();
        let h = g[3].sigmoid() * c.tanh();
        State { h, c: Some(c) }
    }
}

/// The paper's LSTM: diagonal peepholes, one bias per gate (see the module doc).
#[derive(Debug)]
pub struct PaperLstm {
    p: PaperLayout,
    peephole: Tensor,
    dims: Dims,
}

impl PaperLstm {
    /// Draws the peepholes, then `weight_ih`, `weight_hh`, `bias`, from `rng`, and adds `forget_bias` to the forget
    /// gate's bias.
    pub fn new(cfg: &CellConfig, rng: &mut Rng) -> Self {
        // The peepholes are drawn first: the order in which a seed has always drawn this cell's parameters.
        let peephole = match cfg.init {
            Init::Torch => cfg.uniform(rng, &[3 * cfg.hidden], 1.0 / (cfg.hidden as f64).sqrt()),
            Init::Paper { scale } => cfg.uniform(rng, &[3 * cfg.hidden], scale),
        };
        let p = PaperLayout::new(cfg, 4, rng);
        cfg.shift_bias_block(&p.bias, 1, cfg.forget_bias);
        PaperLstm {
            p,
            peephole,
            dims: Dims::of(cfg),
        }
    }
}

impl Cell for PaperLstm {
    fn map_parameters(
        &self,
        f: &dyn Fn(&Tensor) -> Tensor,
        population: Option<i64>,
    ) -> Box<dyn Cell> {
        Box::new(PaperLstm {
            p: self.p.map(f),
            peephole: f(&self.peephole),
            dims: self.dims.with_population(population),
        })
    }
    fn kind(&self) -> CellKind {
        CellKind::PaperLstm
    }
    fn dims(&self) -> Dims {
        self.dims
    }
    fn named_parameters(&self) -> Vec<(&'static str, &Tensor)> {
        let mut named = self.p.named();
        named.push(("peephole", &self.peephole));
        named
    }

    fn input_projection(&self, x: &Tensor) -> Tensor {
        self.p.project_input(x)
    }

    fn input_linear(&self) -> Option<(usize, &'static [usize])> {
        Some((0, &[2]))
    }

    fn step(&self, xp: &Tensor, state: &State) -> State {
        self.step_with(&StepWeights::new(self, false), xp, state)
    }

    /// The whole `weight_hh`.
    fn recurrent_blocks(&self) -> Vec<Block> {
        vec![Block::rows(1, 0, 4 * self.dims.hidden)]
    }

    fn step_with(&self, weights: &StepWeights, xp: &Tensor, state: &State) -> State {
        if weights.len() != 1 {
            return self.step(xp, state);
        }
        let c = cell_state(state);
        let gates = weights.matmul(0, xp, &state.h);
        let g = gates.chunk(4, -1);
        let v = self.peephole.chunk(3, -1);
        let (v_i, v_f, v_o) = (per_unit(&v[0]), per_unit(&v[1]), per_unit(&v[2]));
        let i = (&g[0] + v_i * c).sigmoid();
        let f = (&g[1] + v_f * c).sigmoid();
        let c = f * c + i * g[2].tanh();
        let o = (&g[3] + v_o * &c).sigmoid();
        let h = o * c.tanh();
        State { h, c: Some(c) }
    }
}
