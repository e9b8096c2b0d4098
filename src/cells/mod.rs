//! Recurrent cells built from libtorch tensor ops, and the sequence layers that run them.
//!
//! The custom cells, one file per unit (the LSTM variants of Greff et al. share one file and one enum):
//!
//! | kind         | file       | maths                                                  | parameters |
//! |--------------|------------|--------------------------------------------------------|------------|
//! | `tanh`       | `tanh.rs`  | `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`             | PyTorch `RNNCell` layout |
//! | `torch_gru`  | `gru.rs`   | PyTorch `GRUCell` (reset after the matmul)             | PyTorch `GRUCell` layout |
//! | `paper_gru`  | `gru.rs`   | Chung et al. 2014 (reset before the matmul)            | `weight_ih`, `weight_hh`, `bias` |
//! | `torch_lstm` | `lstm.rs`  | PyTorch `LSTMCell` (no peepholes, two biases)          | PyTorch `LSTMCell` layout |
//! | `paper_lstm` | `lstm.rs`  | Graves 2013 (diagonal peepholes, `o` sees the new `c`) | `weight_ih`, `weight_hh`, `bias`, `peephole` |
//! | `mgu`        | `mgu.rs`   | Zhou et al. 2016, minimal gated unit (one gate)        | `weight_ih`, `weight_hh`, `bias` |
//! | `mut1`       | `mut1.rs`  | Jozefowicz et al. 2015, MUT1                           | `weight_ih`, `weight_hh`, `bias` (+ `weight_x` when D ≠ H) |
//! | `mut2`       | `mut2.rs`  | Jozefowicz et al. 2015, MUT2                           | `weight_ih`, `weight_hh`, `bias` (+ `weight_x` when D ≠ H) |
//! | `mut3`       | `mut3.rs`  | Jozefowicz et al. 2015, MUT3                           | `weight_ih`, `weight_hh`, `bias` |
//! | `lstm_nig` … `lstm_cifg` | `lstm_variants.rs` | Greff et al. 2017: NIG, NFG, NOG, NIAF, NOAF, NP, CIFG | `weight_ih`, `weight_hh`, `bias` (+ `peephole`) |
//!
//! What the rest of rnnlab knows of a unit (its name, family, state, built-in, constructor and paper parameter
//! count) is its one entry in [`REGISTRY`].
//!
//! The parameter sets the cells share (PyTorch's two biases or the paper's one, and the sizes) are in
//! `layout.rs`, so a new cell writes only its constructor and its maths.
//!
//! `sequence.rs` runs a cell over time ([`CustomLayer`]) and holds what every step-by-step layer shares: the input
//! and initial-state checks and the loop over time steps ([`run_steps`]). `builtin.rs` wraps libtorch's fused kernels (`at::gru`, `at::lstm`, `at::rnn_tanh`, cuDNN on CUDA, and the per-step
//! `gru_cell`, `lstm_cell`, `rnn_tanh_cell`) behind the same [`SequenceLayer`] interface, on the same weight tensors
//! as the torch-form custom cells.
//!
//! Shapes: inputs are time-major, `x: [time, batch, input]`; states are `[batch, hidden]`. A cell made for a
//! *population* of `K` independent models (population training) holds every parameter with a leading `[K]`
//! dimension, keeps states as `[K, batch, hidden]`, and accepts either a shared input `[time, batch, input]` or a
//! per-member one `[K, time, batch, input]`; its outputs are `[K, time, batch, hidden]`.

mod builtin;
mod gru;
mod gru_bptt;
mod implementation;
mod layout;
mod lstm;
mod lstm_variants;
mod mgu;
mod mut1;
mod mut2;
mod mut3;
mod ops;
mod sequence;
mod state;
mod step_weights;
mod tanh;

pub use builtin::{BuiltinLayer, CudnnWeights};
pub use gru::{PaperGru, TorchGru};
pub use gru_bptt::GruChunk;
pub use implementation::Implementation;
pub use layout::Dims;
pub use lstm::{PaperLstm, TorchLstm};
pub use lstm_variants::{LstmVariant, Variant};
pub use mgu::Mgu;
pub use mut1::Mut1;
pub use mut2::Mut2;
pub use mut3::Mut3;
pub(crate) use ops::{add_member_bias, project, right_factor};
use ops::{per_unit, recurrent};
pub use sequence::{check_input, initial_state, run_steps, zero_state, CustomLayer, SequenceLayer};
pub use state::State;
pub use step_weights::{Block, Deferred, StepWeights};
pub use tanh::TanhRnn;

use crate::rng::Rng;
use anyhow::{ensure, Context, Result};
use std::fmt;
use std::str::FromStr;
use tch::{Device, Kind, Tensor};

/// The families of Chung et al.'s units, in the paper's order (Table 2's columns): every other family is a unit
/// beyond the paper.
pub const PAPER_FAMILIES: [&str; 3] = ["tanh", "gru", "lstm"];

/// The recurrent units rnnlab implements. Each variant has exactly one entry in [`REGISTRY`], which says everything
/// else about it; the serde name (snake_case) is the unit's name everywhere (configs, `--units`, fixtures, tables).
///
/// ```
/// use rnnlab::CellKind;
///
/// let kind: CellKind = "lstm_cifg".parse().unwrap();
/// assert_eq!(kind.family(), "lstm_cifg");
/// assert!(kind.has_cell_state() && !kind.in_paper());
/// assert_eq!(CellKind::ALL.len(), 16);
/// assert!("gru".parse::<CellKind>().unwrap_err().to_string().contains("paper_gru"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellKind {
    /// The tanh RNN (Elman) in PyTorch's `RNNCell` layout; the paper's form too (two biases summed are one).
    Tanh,
    /// The GRU as PyTorch computes it: the reset gate applied after the recurrent matmul, `r ⊙ (W_hn h + b_hn)`.
    TorchGru,
    /// The GRU as Chung et al. (2014) write it: the reset gate applied before the recurrent matmul, `U (r ⊙ h)`.
    PaperGru,
    /// The LSTM as PyTorch computes it: no peepholes, two bias vectors.
    TorchLstm,
    /// The LSTM as Chung et al. (2014) write it: diagonal peepholes, the output gate peeking at the new cell.
    PaperLstm,
    /// The minimal gated unit of Zhou et al. (2016): one forget gate doing the GRU's two gates' work.
    Mgu,
    /// MUT1 of Jozefowicz, Zaremba & Sutskever (2015): the update gate sees only the input.
    Mut1,
    /// MUT2 of Jozefowicz et al. (2015): the reset gate adds the input itself.
    Mut2,
    /// MUT3 of Jozefowicz et al. (2015): the update gate sees `tanh(h)`.
    Mut3,
    /// Greff et al.'s (2017) NIG: the paper LSTM without an input gate (`i = 1`).
    LstmNig,
    /// Greff et al.'s NFG: no forget gate (`f = 1`).
    LstmNfg,
    /// Greff et al.'s NOG: no output gate (`o = 1`).
    LstmNog,
    /// Greff et al.'s NIAF: no input activation (the block input is linear).
    LstmNiaf,
    /// Greff et al.'s NOAF: no output activation (`h' = o ⊙ c'`).
    LstmNoaf,
    /// Greff et al.'s NP: no peepholes.
    LstmNp,
    /// Greff et al.'s CIFG: coupled input and forget gates (`f = 1 − i`).
    LstmCifg,
}

/// Everything rnnlab knows about a unit, in one place: adding a unit is its file, its [`CellKind`] variant and
/// one entry here (plus its fixture function in `scripts/make_fixtures.py`; see docs/adding-a-unit.md).
pub struct Unit {
    /// The variant this entry describes (its index in the registry is the variant's).
    pub kind: CellKind,
    /// The name in configs and on the command line; equal to the variant's serde name (a test checks).
    pub name: &'static str,
    /// The unit this cell implements, whatever its form: a column of Table 2 (`tanh`, `gru`, `lstm` for the
    /// paper's units; a unit beyond the paper is its own family).
    pub family: &'static str,
    /// Number of `H`-row blocks in the input weights (the gate count of the tanh, GRU and LSTM forms); cost
    /// estimates (`rnnlab bench`) use it.
    pub gates: i64,
    /// Whether the state carries a memory cell `c` beside `h`.
    pub has_cell_state: bool,
    /// Whether libtorch has a fused kernel computing exactly this cell (only the torch forms).
    pub has_builtin: bool,
    /// Whether the unit has an LSTM forget gate whose initial bias `forget_bias` sets ([`CellConfig::forget_bias`]).
    pub forget_gate: bool,
    /// The constructor: draws the initial parameters from the generator, in the order its file documents.
    pub new: fn(&CellConfig, &mut Rng) -> Result<Box<dyn Cell>>,
    /// Parameter count by the unit's paper (see [`CellKind::paper_param_count`]), from (input, hidden).
    pub paper_param_count: fn(i64, i64) -> i64,
}

/// `Dn + n² + n`: one gate's input weights, recurrent weights and bias.
pub const fn per_gate(input: i64, hidden: i64) -> i64 {
    input * hidden + hidden * hidden + hidden
}

/// The registry: one entry per unit (one line each, left unformatted so that a unit's entry stays one line), in the order of [`CellKind`] (checked when compiling).
#[rustfmt::skip]
pub const REGISTRY: [Unit; 16] = [
    Unit { kind: CellKind::Tanh, name: "tanh", family: "tanh", gates: 1, has_cell_state: false, forget_gate: false, has_builtin: true, new: |c, r| Ok(Box::new(TanhRnn::new(c, r))), paper_param_count: per_gate },
    Unit { kind: CellKind::TorchGru, name: "torch_gru", family: "gru", gates: 3, has_cell_state: false, forget_gate: false, has_builtin: true, new: |c, r| Ok(Box::new(TorchGru::new(c, r))), paper_param_count: |d, n| 3 * per_gate(d, n) },
    Unit { kind: CellKind::PaperGru, name: "paper_gru", family: "gru", gates: 3, has_cell_state: false, forget_gate: false, has_builtin: false, new: |c, r| Ok(Box::new(PaperGru::new(c, r))), paper_param_count: |d, n| 3 * per_gate(d, n) },
    Unit { kind: CellKind::TorchLstm, name: "torch_lstm", family: "lstm", gates: 4, has_cell_state: true, forget_gate: true, has_builtin: true, new: |c, r| Ok(Box::new(TorchLstm::new(c, r))), paper_param_count: |d, n| 4 * per_gate(d, n) },
    Unit { kind: CellKind::PaperLstm, name: "paper_lstm", family: "lstm", gates: 4, has_cell_state: true, forget_gate: true, has_builtin: false, new: |c, r| Ok(Box::new(PaperLstm::new(c, r))), paper_param_count: |d, n| 4 * per_gate(d, n) + 3 * n },
    Unit { kind: CellKind::Mgu, name: "mgu", family: "mgu", gates: 2, has_cell_state: false, forget_gate: false, has_builtin: false, new: |c, r| Ok(Box::new(Mgu::new(c, r))), paper_param_count: Mgu::paper_param_count },
    Unit { kind: CellKind::Mut1, name: "mut1", family: "mut1", gates: 2, has_cell_state: false, forget_gate: false, has_builtin: false, new: |c, r| Ok(Box::new(Mut1::new(c, r))), paper_param_count: Mut1::paper_param_count },
    Unit { kind: CellKind::Mut2, name: "mut2", family: "mut2", gates: 3, has_cell_state: false, forget_gate: false, has_builtin: false, new: |c, r| Ok(Box::new(Mut2::new(c, r))), paper_param_count: Mut2::paper_param_count },
    Unit { kind: CellKind::Mut3, name: "mut3", family: "mut3", gates: 3, has_cell_state: false, forget_gate: false, has_builtin: false, new: |c, r| Ok(Box::new(Mut3::new(c, r))), paper_param_count: Mut3::paper_param_count },
    Unit { kind: CellKind::LstmNig, name: "lstm_nig", family: "lstm_nig", gates: 3, has_cell_state: true, forget_gate: true, has_builtin: false, new: |c, r| Ok(Box::new(LstmVariant::new(Variant::Nig, c, r))), paper_param_count: |d, n| Variant::Nig.paper_param_count(d, n) },
    Unit { kind: CellKind::LstmNfg, name: "lstm_nfg", family: "lstm_nfg", gates: 3, has_cell_state: true, forget_gate: false, has_builtin: false, new: |c, r| Ok(Box::new(LstmVariant::new(Variant::Nfg, c, r))), paper_param_count: |d, n| Variant::Nfg.paper_param_count(d, n) },
    Unit { kind: CellKind::LstmNog, name: "lstm_nog", family: "lstm_nog", gates: 3, has_cell_state: true, forget_gate: true, has_builtin: false, new: |c, r| Ok(Box::new(LstmVariant::new(Variant::Nog, c, r))), paper_param_count: |d, n| Variant::Nog.paper_param_count(d, n) },
    Unit { kind: CellKind::LstmNiaf, name: "lstm_niaf", family: "lstm_niaf", gates: 4, has_cell_state: true, forget_gate: true, has_builtin: false, new: |c, r| Ok(Box::new(LstmVariant::new(Variant::Niaf, c, r))), paper_param_count: |d, n| Variant::Niaf.paper_param_count(d, n) },
    Unit { kind: CellKind::LstmNoaf, name: "lstm_noaf", family: "lstm_noaf", gates: 4, has_cell_state: true, forget_gate: true, has_builtin: false, new: |c, r| Ok(Box::new(LstmVariant::new(Variant::Noaf, c, r))), paper_param_count: |d, n| Variant::Noaf.paper_param_count(d, n) },
    Unit { kind: CellKind::LstmNp, name: "lstm_np", family: "lstm_np", gates: 4, has_cell_state: true, forget_gate: true, has_builtin: false, new: |c, r| Ok(Box::new(LstmVariant::new(Variant::Np, c, r))), paper_param_count: |d, n| Variant::Np.paper_param_count(d, n) },
    Unit { kind: CellKind::LstmCifg, name: "lstm_cifg", family: "lstm_cifg", gates: 3, has_cell_state: true, forget_gate: true, has_builtin: false, new: |c, r| Ok(Box::new(LstmVariant::new(Variant::Cifg, c, r))), paper_param_count: |d, n| Variant::Cifg.paper_param_count(d, n) },
];

// The registry is indexed by the variant's discriminant: its order must be the enum's.
const _: () = {
    let mut i = 0;
    while i < REGISTRY.len() {
        assert!(
            REGISTRY[i].kind as usize == i,
            "REGISTRY must list the units in CellKind's order"
        );
        i += 1;
    }
};

impl CellKind {
    /// Every unit, in the registry's order.
    pub const ALL: [CellKind; REGISTRY.len()] = {
        let mut all = [CellKind::Tanh; REGISTRY.len()];
        let mut i = 0;
        while i < REGISTRY.len() {
            all[i] = REGISTRY[i].kind;
            i += 1;
        }
        all
    };

    /// The units of Chung et al. 2014 (the forms of tanh, GRU and LSTM that rnnlab reproduces Table 2 with).
    pub const PAPER: [CellKind; 5] = [
        CellKind::Tanh,
        CellKind::TorchGru,
        CellKind::PaperGru,
        CellKind::TorchLstm,
        CellKind::PaperLstm,
    ];

    /// This unit's registry entry.
    pub fn unit(self) -> &'static Unit {
        &REGISTRY[self as usize]
    }

    /// The unit's name in configs, on the command line and in tables (`tanh`, `paper_gru`, `lstm_cifg`, …).
    pub fn name(self) -> &'static str {
        self.unit().name
    }

    /// The unit this cell implements, whatever its form: `tanh`, `gru` or `lstm` (Table 2's columns), or the
    /// unit's own name for the units beyond the paper.
    pub fn family(self) -> &'static str {
        self.unit().family
    }

    /// Whether the family is one of the paper's three (`tanh`, `gru`, `lstm`).
    pub fn in_paper(self) -> bool {
        PAPER_FAMILIES.contains(&self.family())
    }

    /// Whether the unit has an LSTM forget gate, whose initial bias `forget_bias` sets.
    pub fn has_forget_gate(self) -> bool {
        self.unit().forget_gate
    }

    /// Whether the state carries a memory cell `c` beside `h`.
    pub fn has_cell_state(self) -> bool {
        self.unit().has_cell_state
    }

    /// Whether libtorch has a fused kernel computing exactly this cell (only the torch forms).
    pub fn has_builtin(self) -> bool {
        self.unit().has_builtin
    }

    /// Number of `H`-row blocks stacked in the rows of `weight_ih` (the gate count for tanh, GRU and LSTM).
    pub fn gates(self) -> i64 {
        self.unit().gates
    }

    /// Parameter count by the paper's definition (Table 1): the recurrent layer only, one bias per gate
    /// (PyTorch's two bias vectors add up to one), plus the three peephole vectors of the paper LSTM.
    /// `D` = input size, `n` = hidden size: tanh `Dn+n²+n`, GRU `3(Dn+n²+n)`, LSTM `4(Dn+n²+n)` (+`3n`).
    /// The units beyond the paper count by the same rule, each its own weights (see its file): MGU `2(Dn+n²+n)`,
    /// MUT1 `2Dn+2n²+3n`, MUT2 `2Dn+3n²+3n` (each `+Dn` for the input projection when `D ≠ n`), MUT3
    /// `3(Dn+n²+n)`, the LSTM variants of Greff et al. their gates' `Dn+n²+n` plus a peephole `n` per gate that has
    /// one.
    pub fn paper_param_count(self, input: i64, hidden: i64) -> i64 {
        (self.unit().paper_param_count)(input, hidden)
    }
}

impl fmt::Display for CellKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CellKind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        CellKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .with_context(|| {
                let names: Vec<_> = CellKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown cell '{s}': expected one of {}", names.join(", "))
            })
    }
}

/// How a cell's parameters are initialised.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// PyTorch's default: every weight and bias ~ U(−1/√H, 1/√H).
    #[default]
    Torch,
    /// The paper authors' configs (jych/librnn): input weights and peepholes ~ U(−scale, scale), each gate's
    /// H×H recurrent block a random orthogonal matrix, biases zero.
    Paper {
        /// Half-width of the uniform draw (the config key `init_scale`, default 0.1).
        scale: f64,
    },
}

/// Sizes and placement shared by every cell constructor.
#[derive(Clone, Copy, Debug)]
pub struct CellConfig {
    /// Input size D (≥ 1).
    pub input: i64,
    /// Hidden size H (≥ 1).
    pub hidden: i64,
    /// `Some(K)` stacks K independent models along a leading dimension (population training).
    pub population: Option<i64>,
    /// How the initial weights are drawn; default [`Init::Torch`].
    pub init: Init,
    /// Added to the forget gate's bias after the initial draw (LSTM forms; 0: no change). Under the paper's
    /// initialisation (biases zero) the forget gate's bias starts at exactly this value; Jozefowicz, Zaremba &
    /// Sutskever (2015) recommend 1. Units without a forget gate ignore it (see each file).
    pub forget_bias: f64,
    /// Floating-point type of the parameters; default f32.
    pub kind: Kind,
    /// Where the parameters live; default CPU.
    pub device: Device,
}

impl CellConfig {
    /// Sizes `input` → `hidden` for one model (no population), PyTorch's initialisation, no forget-gate shift, f32 on
    /// CPU.
    pub fn new(input: i64, hidden: i64) -> Self {
        CellConfig {
            input,
            hidden,
            population: None,
            init: Init::Torch,
            forget_bias: 0.0,
            kind: Kind::Float,
            device: Device::Cpu,
        }
    }

    fn check(&self) -> Result<()> {
        ensure!(
            self.input >= 1,
            "input size must be at least 1, got {}",
            self.input
        );
        ensure!(
            self.hidden >= 1,
            "hidden size must be at least 1, got {}",
            self.hidden
        );
        if let Some(k) = self.population {
            ensure!(k >= 1, "population size must be at least 1, got {k}");
        }
        ensure!(
            self.forget_bias.is_finite(),
            "forget_bias must be finite, got {}",
            self.forget_bias
        );
        ensure!(
            matches!(self.kind, Kind::Float | Kind::Double),
            "cells support f32 and f64, not {:?}",
            self.kind
        );
        Ok(())
    }

    /// `[K, dims…]` for a population, `[dims…]` otherwise.
    fn shape(&self, dims: &[i64]) -> Vec<i64> {
        self.population
            .into_iter()
            .chain(dims.iter().copied())
            .collect()
    }

    /// A leaf parameter of `shape` (population prefix added) ~ U(−a, a). Drawn on the CPU whatever the device,
    /// then moved ([`Rng`] does): a seed gives the same initial weights on the CPU and on CUDA, so runs of one config
    /// on both devices can be compared.
    fn uniform(&self, rng: &mut Rng, dims: &[i64], a: f64) -> Tensor {
        rng.uniform(&self.shape(dims), -a, a, (self.kind, self.device))
            .set_requires_grad(true)
    }

    fn zeros(&self, dims: &[i64]) -> Tensor {
        Tensor::zeros(self.shape(dims), (self.kind, self.device)).set_requires_grad(true)
    }

    /// Input weights `[gates·H, D]`.
    fn weight_ih(&self, rng: &mut Rng, gates: i64) -> Tensor {
        let a = match self.init {
            Init::Torch => 1.0 / (self.hidden as f64).sqrt(),
            Init::Paper { scale } => scale,
        };
        self.uniform(rng, &[gates * self.hidden, self.input], a)
    }

    /// Recurrent weights `[gates·H, H]`: under the paper init each H×H gate block is orthogonal.
    fn weight_hh(&self, rng: &mut Rng, gates: i64) -> Tensor {
        let h = self.hidden;
        match self.init {
            Init::Torch => self.uniform(rng, &[gates * h, h], 1.0 / (h as f64).sqrt()),
            Init::Paper { .. } => tch::no_grad(|| {
                let blocks: Vec<Tensor> = (0..gates).map(|_| self.orthogonal(rng, h)).collect();
                Tensor::cat(&blocks, -2)
            })
            .set_requires_grad(true),
        }
    }

    /// A random orthogonal `[H, H]` (or `[K, H, H]`) matrix: Q of a Gaussian's QR, signs fixed by diag(R).
    /// Drawn and factored on the CPU (see [`CellConfig::uniform`]), then moved to the device.
    fn orthogonal(&self, rng: &mut Rng, h: i64) -> Tensor {
        let a = rng.randn(&self.shape(&[h, h]), (Kind::Double, Device::Cpu));
        let (q, r) = Tensor::linalg_qr(&a, "reduced");
        let signs = r.diagonal(0, -2, -1).sign().unsqueeze(-2);
        (q * signs).to_kind(self.kind).to_device(self.device)
    }

    /// Adds `by` to block `block` (rows `block·H..(block+1)·H`) of a freshly drawn bias, in place; nothing when `by`
    /// is 0, so the default leaves every draw bit for bit as it was.
    fn shift_bias_block(&self, bias: &Tensor, block: i64, by: f64) {
        if by != 0.0 {
            let mut rows = bias.narrow(-1, block * self.hidden, self.hidden);
            tch::no_grad(|| {
                let _ = rows.g_add_scalar_(by);
            });
        }
    }

    /// A bias vector of `len` entries (population prefix added).
    fn bias(&self, rng: &mut Rng, len: i64) -> Tensor {
        match self.init {
            Init::Torch => self.uniform(rng, &[len], 1.0 / (self.hidden as f64).sqrt()),
            Init::Paper { .. } => self.zeros(&[len]),
        }
    }
}

/// One recurrent unit: its parameters and the maths of one time step.
///
/// A step is split in two so that the sequence layer can compute the input projection of every time step in one
/// matmul: [`Cell::input_projection`] maps `x: [..., D]` to `[..., gates·H]` (input weights and the biases that can
/// be folded in), and [`Cell::step`] takes one step's slice of it plus the previous state.
pub trait Cell: Send + fmt::Debug {
    /// The unit this cell computes.
    fn kind(&self) -> CellKind;
    /// Input and hidden sizes, and the population's K.
    fn dims(&self) -> Dims;
    /// The parameters, named as PyTorch names them where a PyTorch twin exists (`weight_ih`, `weight_hh`,
    /// `bias_ih`, `bias_hh`), so a PyTorch state dict loads into them.
    fn named_parameters(&self) -> Vec<(&'static str, &Tensor)>;
    /// `W_ih x + (foldable biases)` for any number of leading dimensions.
    fn input_projection(&self, x: &Tensor) -> Tensor;
    /// One time step from this step's projected input `[(K,) B, gates·H]` and the previous state.
    fn step(&self, xp: &Tensor, state: &State) -> State;
    /// The blocks of the recurrent matrix that [`Cell::step_with`] multiplies, where each block's pre-activation is
    /// `xp[cols] + input · block^T` with nothing else reading `xp[cols]` (see [`Block`]). Declaring them lets a
    /// sequence layer cut the blocks once per sequence instead of at every step (a block cut inside every step
    /// makes every step's backward pass zero-fill and add a gradient of the whole matrix), and lets training form
    /// their gradients once per sequence ([`StepWeights::new`] with `deferred`). Empty (the default): `step_with`
    /// is `step`.
    fn recurrent_blocks(&self) -> Vec<Block> {
        Vec::new()
    }
    /// Where [`Cell::input_projection`] is exactly `x W^T + Σ biases`: the index of `W` (`[(K,) G, D]`) and of each
    /// bias (`[(K,) G]`) in [`Cell::named_parameters`]. Declaring it lets training form the projection's gradients
    /// by hand from the gradient of the projected input, as it does the recurrent blocks' ([`Deferred::add_to`]).
    /// `None` (the default): autograd forms them.
    fn input_linear(&self) -> Option<(usize, &'static [usize])> {
        None
    }
    /// [`Cell::step`] with the blocks of [`Cell::recurrent_blocks`] cut once in `weights`; the same numbers as `step`.
    fn step_with(&self, weights: &StepWeights, xp: &Tensor, state: &State) -> State {
        let _ = weights;
        self.step(xp, state)
    }
    /// The same cell with every parameter replaced by `f(parameter)` (each has the leading `[K]` of a population),
    /// as a population of `population` models (`None`: a single model). The primitive behind [`Cell::member`] and
    /// [`Cell::select`].
    fn map_parameters(
        &self,
        f: &dyn Fn(&Tensor) -> Tensor,
        population: Option<i64>,
    ) -> Box<dyn Cell>;

    /// Input size D.
    fn input_size(&self) -> i64 {
        self.dims().input
    }
    /// Hidden size H.
    fn hidden_size(&self) -> i64 {
        self.dims().hidden
    }
    /// `Some(K)` for a population of K models.
    fn population(&self) -> Option<i64> {
        self.dims().population
    }

    /// Member `m` of a population as a single-model cell whose parameters are views (`get(m)`) of this cell's, so
    /// gradients reach the population's parameters: how the custom cells run member by member
    /// ([`Implementation::CustomMember`]). Only meaningful on a population.
    fn member(&self, m: i64) -> Box<dyn Cell> {
        self.map_parameters(&|t| t.get(m), None)
    }

    /// The members `index` (`[K']`, int64) of a population as a population of K' models, their parameters taken
    /// with `index_select` so gradients reach the population's own (zero for the members left out): how training
    /// skips members that have stopped. Only meaningful on a population.
    fn select(&self, index: &Tensor) -> Box<dyn Cell> {
        self.map_parameters(&|t| t.index_select(0, index), Some(index.size()[0]))
    }

    /// Parameter count by the paper's definition (see [`CellKind::paper_param_count`]), per model.
    fn paper_param_count(&self) -> i64 {
        self.kind()
            .paper_param_count(self.input_size(), self.hidden_size())
    }

    /// Every trainable scalar of the cell, per model.
    fn param_count(&self) -> i64 {
        let k = self.population().unwrap_or(1);
        self.named_parameters()
            .iter()
            .map(|(_, t)| t.numel() as i64)
            .sum::<i64>()
            / k
    }

    /// The parameters alone, in [`Cell::named_parameters`]' order.
    fn parameters(&self) -> Vec<&Tensor> {
        self.named_parameters()
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }
}

/// Makes a custom cell of the given kind, its initial parameters drawn from `rng` (in the order its layout gives).
/// The parameters are the cell's own tensors; [`crate::nn::cell`] makes the same cell on a tch `VarStore`.
///
/// ```
/// use rnnlab::{new_cell, CellConfig, CellKind, CustomLayer, Rng, SequenceLayer};
/// use tch::{Device, Kind, Tensor};
///
/// # fn main() -> anyhow::Result<()> {
/// let cell = new_cell(CellKind::PaperGru, &CellConfig::new(88, 36), &mut Rng::new(2014)?)?;
/// assert_eq!(cell.paper_param_count(), 3 * (88 * 36 + 36 * 36 + 36));
/// // Time-major input [time, batch, input]; the outputs are h_t for every step.
/// let x = Tensor::zeros([50, 4, 88], (Kind::Float, Device::Cpu));
/// let (h, last) = CustomLayer::new(cell).forward(&x, None)?;
/// assert_eq!(h.size(), [50, 4, 36]);
/// assert_eq!(last.h.size(), [4, 36]);
/// # Ok(())
/// # }
/// ```
pub fn new_cell(kind: CellKind, cfg: &CellConfig, rng: &mut Rng) -> Result<Box<dyn Cell>> {
    cfg.check()?;
    ensure!(
        cfg.forget_bias == 0.0 || kind.unit().forget_gate,
        "forget_bias = {} needs a unit with an LSTM forget gate; {kind} has none",
        cfg.forget_bias
    );
    (kind.unit().new)(cfg, rng).with_context(|| format!("making a {kind} cell"))
}

/// Copies named tensors (a PyTorch state dict, a checkpoint, a fixture) into the cell's parameters, in place.
/// Every parameter must be given exactly once with its exact shape; unknown names are errors too.
///
/// ```
/// use rnnlab::{load_parameters, new_cell, CellConfig, CellKind, Rng};
/// use tch::{Device, Kind, Tensor};
///
/// # fn main() -> anyhow::Result<()> {
/// let cell = new_cell(CellKind::TorchGru, &CellConfig::new(2, 3), &mut Rng::new(1)?)?;
/// // PyTorch's GRUCell names: weight_ih [3H, D], weight_hh [3H, H], bias_ih, bias_hh [3H].
/// let zeros = |shape: &[i64]| Tensor::zeros(shape, (Kind::Float, Device::Cpu));
/// let state_dict = vec![
///     ("weight_ih".to_string(), zeros(&[9, 2])),
///     ("weight_hh".to_string(), zeros(&[9, 3])),
///     ("bias_ih".to_string(), zeros(&[9])),
///     ("bias_hh".to_string(), zeros(&[9])),
/// ];
/// load_parameters(cell.as_ref(), &state_dict)?;
/// assert_eq!(cell.named_parameters()[0].1.abs().sum(Kind::Float).double_value(&[]), 0.0);
/// // A name the cell does not have is an error that lists the names it has.
/// let err = load_parameters(cell.as_ref(), &[("bias".to_string(), zeros(&[9]))]).unwrap_err();
/// assert!(err.to_string().contains("weight_ih, weight_hh, bias_ih, bias_hh"));
/// # Ok(())
/// # }
/// ```
pub fn load_parameters(cell: &dyn Cell, tensors: &[(String, Tensor)]) -> Result<()> {
    let named = cell.named_parameters();
    for (name, _) in tensors {
        ensure!(
            named.iter().any(|(n, _)| n == name),
            "{} has no parameter '{name}' (it has {})",
            cell.kind(),
            named.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        );
    }
    for (name, param) in named {
        let src = tensors
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
            .with_context(|| format!("{}: no value given for parameter '{name}'", cell.kind()))?;
        ensure!(
            src.size() == param.size(),
            "{}: parameter '{name}' has shape {:?}, the value given has {:?}",
            cell.kind(),
            param.size(),
            src.size()
        );
        let mut dst = param.shallow_clone();
        tch::no_grad(|| dst.f_copy_(src)).with_context(|| format!("copying '{name}'"))?;
    }
    Ok(())
}
