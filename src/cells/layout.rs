//! The parameter sets the cells share, so that each cell file holds only its own maths.
//!
//! [`TorchLayout`] is PyTorch's (`RNNCell`, `GRUCell`, `LSTMCell`): `weight_ih: [G·H, D]`, `weight_hh: [G·H, H]`,
//! `bias_ih`, `bias_hh: [G·H]`, with G gate blocks. [`PaperLayout`] is the paper's: the same two matrices and one
//! bias `[G·H]`. A population adds a leading `[K]` to every parameter. [`Dims`] is what every cell knows of its
//! sizes.

use super::CellConfig;
use crate::rng::Rng;
use tch::Tensor;

/// A cell's sizes: input `D`, hidden `H`, and `Some(K)` for a population of K models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub input: i64,
    pub hidden: i64,
    pub population: Option<i64>,
}

impl Dims {
    pub(super) fn of(cfg: &CellConfig) -> Dims {
        Dims {
            input: cfg.input,
            hidden: cfg.hidden,
            population: cfg.population,
        }
    }

    /// The same sizes for a population of `population` models (`None`: a single model).
    pub(super) fn with_population(self, population: Option<i64>) -> Dims {
        Dims { population, ..self }
    }
}

/// PyTorch's parameters for a cell of `gates` blocks.
pub(super) struct TorchLayout {
    pub weight_ih: Tensor,
    pub weight_hh: Tensor,
    pub bias_ih: Tensor,
    pub bias_hh: Tensor,
}

impl TorchLayout {
    /// Drawn in PyTorch's order (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`), the order recorded runs were drawn
    /// in, so they reproduce from their seeds (`tests/init_pinned.rs`).
    pub fn new(cfg: &CellConfig, gates: i64, rng: &mut Rng) -> Self {
        TorchLayout {
            weight_ih: cfg.weight_ih(rng, gates),
            weight_hh: cfg.weight_hh(rng, gates),
            bias_ih: cfg.bias(rng, gates * cfg.hidden),
            bias_hh: cfg.bias(rng, gates * cfg.hidden),
        }
    }

    /// Every parameter replaced by `f(parameter)`.
    pub fn map(&self, f: &dyn Fn(&Tensor) -> Tensor) -> Self {
        TorchLayout {
            weight_ih: f(&self.weight_ih),
            weight_hh: f(&self.weight_hh),
            bias_ih: f(&self.bias_ih),
            bias_hh: f(&self.bias_hh),
        }
    }

    /// The parameters under PyTorch's names, so a PyTorch state dict loads into them.
    pub fn named(&self) -> Vec<(&'static str, &Tensor)> {
        vec![
            ("weight_ih", &self.weight_ih),
            ("weight_hh", &self.weight_hh),
            ("bias_ih", &self.bias_ih),
            ("bias_hh", &self.bias_hh),
        ]
    }

    /// `b_ih + b_hh`: where a cell only ever uses the two biases summed, both fold into the input projection.
    pub fn bias_sum(&self) -> Tensor {
        &self.bias_ih + &self.bias_hh
    }
}

/// The paper's parameters for a cell of `gates` blocks: one bias per gate.
pub(super) struct PaperLayout {
    pub weight_ih: Tensor,
    pub weight_hh: Tensor,
    pub bias: Tensor,
}

impl PaperLayout {
    /// Drawn in the order `weight_ih`, `weight_hh`, `bias`.
    pub fn new(cfg: &CellConfig, gates: i64, rng: &mut Rng) -> Self {
        PaperLayout {
            weight_ih: cfg.weight_ih(rng, gates),
            weight_hh: cfg.weight_hh(rng, gates),
            bias: cfg.bias(rng, gates * cfg.hidden),
        }
    }

    /// Every parameter replaced by `f(parameter)`.
    pub fn map(&self, f: &dyn Fn(&Tensor) -> Tensor) -> Self {
        PaperLayout {
            weight_ih: f(&self.weight_ih),
            weight_hh: f(&self.weight_hh),
            bias: f(&self.bias),
        }
    }

    /// The parameters under the names a checkpoint stores them by.
    pub fn named(&self) -> Vec<(&'static str, &Tensor)> {
        vec![
            ("weight_ih", &self.weight_ih),
            ("weight_hh", &self.weight_hh),
            ("bias", &self.bias),
        ]
    }
}
