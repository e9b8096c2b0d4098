//! The tanh RNN (Elman) cell, in PyTorch's `RNNCell` layout.
//!
//! ```text
//! h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)          [B, D] × [B, H] → [B, H]
//! ```
//! `weight_ih: [H, D]`, `weight_hh: [H, H]`, `bias_ih`, `bias_hh: [H]` (each with a leading `[K]` in a population).
//! The paper's form has one bias `b`; PyTorch's two vectors only ever appear as the sum `b_ih + b_hh`, so the maths
//! is the same and the paper parameter count `Dn + n² + n` counts them once. Both biases are folded into the input
//! projection, leaving one matmul-add and one tanh per step.

use super::{project, recurrent, Cell, CellConfig, CellKind, State};
use tch::Tensor;

pub struct TanhRnn {
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor,
    bias_hh: Tensor,
    input: i64,
    hidden: i64,
    population: Option<i64>,
}

impl TanhRnn {
    pub fn new(cfg: &CellConfig) -> Self {
        TanhRnn {
            weight_ih: cfg.weight_ih(1),
            weight_hh: cfg.weight_hh(1),
            bias_ih: cfg.bias(cfg.hidden),
            bias_hh: cfg.bias(cfg.hidden),
            input: cfg.input,
            hidden: cfg.hidden,
            population: cfg.population,
        }
    }
}

impl Cell for TanhRnn {
    fn map_parameters(
        &self,
        f: &dyn Fn(&Tensor) -> Tensor,
        population: Option<i64>,
    ) -> Box<dyn Cell> {
        Box::new(TanhRnn {
            weight_ih: f(&self.weight_ih),
            weight_hh: f(&self.weight_hh),
            bias_ih: f(&self.bias_ih),
            bias_hh: f(&self.bias_hh),
            input: self.input,
            hidden: self.hidden,
            population,
        })
    }
    fn kind(&self) -> CellKind {
        CellKind::Tanh
    }
    fn input_size(&self) -> i64 {
        self.input
    }
    fn hidden_size(&self) -> i64 {
        self.hidden
    }
    fn population(&self) -> Option<i64> {
        self.population
    }
    fn named_parameters(&self) -> Vec<(&'static str, &Tensor)> {
        vec![
            ("weight_ih", &self.weight_ih),
            ("weight_hh", &self.weight_hh),
            ("bias_ih", &self.bias_ih),
            ("bias_hh", &self.bias_hh),
        ]
    }

    fn input_projection(&self, x: &Tensor) -> Tensor {
        project(x, &self.weight_ih, Some(&(&self.bias_ih + &self.bias_hh)))
    }

    fn step(&self, xp: &Tensor, state: &State) -> State {
        let h = (xp + recurrent(&state.h, &self.weight_hh, None)).tanh();
        State { h, c: None }
    }
}
