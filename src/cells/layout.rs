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
    /// Input size D.
    pub input: i64,
    /// Hidden size H.
    pub hidden: i64,
    /// `Some(K)` for a population of K models, `None` for one model.
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
#[derive(Debug)]
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
#[derive(Debug)]
pub(super) struct PaperLayout {
    pub weight_ih: Tensor,
    pub weight_hh: Tensor,
    pub bias: Tensor,
}

impl PaperLayout {
    /// Drawn in the order `weight_ih`, `weight_hh`, `bias`.
    pub fn new(cfg: &CellConfig, gates: i64, rng: &mut Rng) -> Self {
        PaperLayout::with_rows(cfg, gates, gates, gates, rng)
    }

    /// For a unit whose terms do not all have an input weight, a recurrent weight and a bias (MUT1, MUT2):
    /// `weight_ih: [input_rows·H, D]`, `weight_hh: [recurrent_rows·H, H]`, `bias: [bias_rows·H]`, drawn in the
    /// order of [`PaperLayout::new`].
    pub fn with_rows(
        cfg: &CellConfig,
        input_rows: i64,
        recurrent_rows: i64,
        bias_rows: i64,
        rng: &mut Rng,
    ) -> Self {
        PaperLayout {
            weight_ih: cfg.weight_ih(rng, input_rows),
            weight_hh: cfg.weight_hh(rng, recurrent_rows),
            bias: cfg.bias(rng, bias_rows * cfg.hidden),
        }
    }

    /// `W_ih x + b`: the input projection of a unit whose every row has an input weight and a bias.
    pub fn project_input(&self, x: &Tensor) -> Tensor {
        super::project(x, &self.weight_ih, Some(&self.bias))
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

/// The [`Cell`](super::Cell) methods that only carry a cell's parameters around (`map_parameters`, `kind`, `dims`,
/// `named_parameters`), for a cell struct of the fields `p` (a layout above), `dims` and, after the `;`, any further
/// parameter sets with `map` and `named` (an [`InputMap`]): written once here, so that a cell's file holds its
/// constructor, its input projection and its `step`.
/// ```ignore
/// impl Cell for Mgu {
///     cell_parameters!(Mgu, CellKind::Mgu);
///     fn input_projection(&self, x: &Tensor) -> Tensor { … }
///     fn step(&self, xp: &Tensor, state: &State) -> State { … }
/// }
/// ```
macro_rules! cell_parameters {
    ($cell:ident, $kind:expr $(; $($extra:ident),+)?) => {
        fn map_parameters(
            &self,
            f: &dyn Fn(&Tensor) -> Tensor,
            population: Option<i64>,
        ) -> Box<dyn Cell> {
            Box::new($cell {
                p: self.p.map(f),
                $($($extra: self.$extra.map(f),)+)?
                dims: self.dims.with_population(population),
            })
        }
        fn kind(&self) -> CellKind {
            $kind
        }
        fn dims(&self) -> Dims {
            self.dims
        }
        fn named_parameters(&self) -> Vec<(&'static str, &Tensor)> {
            #[allow(unused_mut)]
            let mut named = self.p.named();
            $($(named.extend(self.$extra.named());)+)?
            named
        }
    };
}
pub(super) use cell_parameters;

/// Where a unit's equations add the input itself to an `H`-wide sum (MUT1's `tanh(x)`, MUT2's `σ(x + …)`), which
/// needs `D = H`. With `D = H` the map is the identity and has no parameter: the paper's equation. With `D ≠ H`
/// (the music models: D = 88) a learned projection `weight_x: [H, D]` without bias takes its place, `x ↦ W_x x`: a
/// deviation from the paper, the smallest that makes the unit usable at any input size. It is drawn like an input
/// weight, after the unit's other parameters.
#[derive(Debug)]
pub(super) struct InputMap {
    pub weight_x: Option<Tensor>,
}

impl InputMap {
    pub fn new(cfg: &CellConfig, rng: &mut Rng) -> Self {
        InputMap {
            weight_x: (cfg.input != cfg.hidden).then(|| cfg.weight_ih(rng, 1)),
        }
    }

    /// Every parameter replaced by `f(parameter)`.
    pub fn map(&self, f: &dyn Fn(&Tensor) -> Tensor) -> Self {
        InputMap {
            weight_x: self.weight_x.as_ref().map(f),
        }
    }

    /// `weight_x` under its name, when there is one.
    pub fn named(&self) -> Vec<(&'static str, &Tensor)> {
        self.weight_x.iter().map(|w| ("weight_x", w)).collect()
    }

    /// `x` (`D = H`) or `W_x x` (`D ≠ H`), shaped as [`super::project`] shapes its output (a population's shared
    /// input stays `[T, B, H]` under the identity; [`super::add_member_bias`] lifts it).
    pub fn apply(&self, x: &Tensor) -> Tensor {
        match &self.weight_x {
            Some(w) => super::project(x, w, None),
            None => x.shallow_clone(),
        }
    }

    /// Paper count of the map: `Dn` for the projection when `D ≠ n`, nothing for the identity.
    pub const fn count(input: i64, hidden: i64) -> i64 {
        if input == hidden {
            0
        } else {
            input * hidden
        }
    }
}
