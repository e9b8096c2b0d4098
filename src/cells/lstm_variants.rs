//! The LSTM variants of Greff, Srivastava, Koutník, Steunebrink & Schmidhuber (2017), "LSTM: A Search Space
//! Odyssey" (IEEE Transactions on Neural Networks and Learning Systems 28(10)). Each removes or changes one part of
//! their *vanilla* LSTM, which is rnnlab's paper LSTM (`lstm.rs`, [`super::PaperLstm`]: diagonal peepholes, the
//! output gate peeking at the new cell, one bias per gate):
//! ```text
//! i  = σ(W_i x + U_i h + V_i ⊙ c + b_i)                  input gate
//! f  = σ(W_f x + U_f h + V_f ⊙ c + b_f)                  forget gate
//! z  = tanh(W_z x + U_z h + b_z)                         block input (input activation g = tanh)
//! c' = f ⊙ c + i ⊙ z
//! o  = σ(W_o x + U_o h + V_o ⊙ c' + b_o)                 output gate
//! h' = o ⊙ tanh(c')                                      output activation h = tanh
//! ```
//! The variants (one file and one [`Variant`] enum for all seven, one registry entry each):
//!
//! | kind        | variant | change                                   | gate rows  | peepholes      | paper count           |
//! |-------------|---------|------------------------------------------|------------|----------------|-----------------------|
//! | `lstm_nig`  | NIG     | no input gate: `i = 1`                   | f, z, o    | V_f, V_o       | `3(Dn+n²+n) + 2n`     |
//! | `lstm_nfg`  | NFG     | no forget gate: `f = 1`                  | i, z, o    | V_i, V_o       | `3(Dn+n²+n) + 2n`     |
//! | `lstm_nog`  | NOG     | no output gate: `o = 1`                  | i, f, z    | V_i, V_f       | `3(Dn+n²+n) + 2n`     |
//! | `lstm_niaf` | NIAF    | no input activation: `z = W_z x + U_z h + b_z` | i, f, z, o | V_i, V_f, V_o | `4(Dn+n²+n) + 3n` |
//! | `lstm_noaf` | NOAF    | no output activation: `h' = o ⊙ c'`      | i, f, z, o | V_i, V_f, V_o  | `4(Dn+n²+n) + 3n`     |
//! | `lstm_np`   | NP      | no peepholes                             | i, f, z, o | none           | `4(Dn+n²+n)`          |
//! | `lstm_cifg` | CIFG    | coupled gates: `f = 1 − i`               | i, z, o    | V_i, V_o       | `3(Dn+n²+n) + 2n`     |
//!
//! `weight_ih: [G·H, D]`, `weight_hh: [G·H, H]`, `bias: [G·H]` hold the G gate rows of the table in that order;
//! `peephole: [P·H]` the P peephole diagonals in the table's order (no `peephole` for NP). Drawn as the paper LSTM
//! draws: the peepholes first, then `weight_ih`, `weight_hh`, `bias`. `[B, D] × ([B, H], [B, H]) → ([B, H], [B, H])`;
//! a population adds a leading `[K]`.
//!
//! Where the paper leaves a detail open, or rnnlab chose:
//! - A removed gate's peephole goes with it (Greff et al.'s Fig. 1: the peepholes feed the gates); CIFG keeps the
//!   input gate's and the output gate's, and the forget gate, computed as `1 − i`, has none of its own.
//! - FGR (full gate recurrence: each gate also sees the previous step's three gate activations through nine more
//!   `n × n` matrices) is not implemented: it needs the previous gates in the recurrent state, which holds only
//!   `h` and `c`.
//! - `forget_bias` is added to the forget gate's bias (as for the paper LSTM). CIFG's forget gate is
//!   `1 − σ(a_i) = σ(−a_i)`, so its `forget_bias` is *subtracted* from the input gate's bias: the forget gate's
//!   pre-activation starts shifted by `forget_bias`, as in the other forms. NFG has no forget gate and refuses it (`new_cell`).
//! - Initialisation is rnnlab's (as for every unit): peepholes as input weights, recurrent blocks orthogonal under
//!   the paper initialisation.

use super::layout::{Dims, PaperLayout};
use super::{per_gate, per_unit, recurrent, Cell, CellConfig, CellKind, Init, State};
use crate::rng::Rng;
use tch::Tensor;

/// One of Greff et al.'s variants of the vanilla LSTM (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// No input gate.
    Nig,
    /// No forget gate.
    Nfg,
    /// No output gate.
    Nog,
    /// No input activation.
    Niaf,
    /// No output activation.
    Noaf,
    /// No peepholes.
    Np,
    /// Coupled input and forget gates.
    Cifg,
}

/// A block of rows: input gate, forget gate, block input, output gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    I,
    F,
    Z,
    O,
}

use Block::{F, I, O, Z};

impl Variant {
    /// The [`CellKind`] of this variant (`lstm_nig`, …).
    pub fn kind(self) -> CellKind {
        match self {
            Variant::Nig => CellKind::LstmNig,
            Variant::Nfg => CellKind::LstmNfg,
            Variant::Nog => CellKind::LstmNog,
            Variant::Niaf => CellKind::LstmNiaf,
            Variant::Noaf => CellKind::LstmNoaf,
            Variant::Np => CellKind::LstmNp,
            Variant::Cifg => CellKind::LstmCifg,
        }
    }

    /// The gate rows of `weight_ih`, `weight_hh` and `bias`, in order.
    fn rows(self) -> &'static [Block] {
        match self {
            Variant::Nig => &[F, Z, O],
            Variant::Nfg | Variant::Cifg => &[I, Z, O],
            Variant::Nog => &[I, F, Z],
            Variant::Niaf | Variant::Noaf | Variant::Np => &[I, F, Z, O],
        }
    }

    /// The gates with a peephole diagonal in `peephole`, in order.
    fn peepholes(self) -> &'static [Block] {
        match self {
            Variant::Nig => &[F, O],
            Variant::Nfg | Variant::Cifg => &[I, O],
            Variant::Nog => &[I, F],
            Variant::Niaf | Variant::Noaf => &[I, F, O],
            Variant::Np => &[],
        }
    }

    /// `G(Dn + n² + n) + Pn` for G gate rows and P peepholes (the table in the module doc).
    pub fn paper_param_count(self, input: i64, hidden: i64) -> i64 {
        self.rows().len() as i64 * per_gate(input, hidden) + self.peepholes().len() as i64 * hidden
    }
}

/// A Greff et al. variant of the paper LSTM (see the module doc for its equations and weight layout).
#[derive(Debug)]
pub struct LstmVariant {
    variant: Variant,
    p: PaperLayout,
    peephole: Option<Tensor>,
    dims: Dims,
}

impl LstmVariant {
    /// Draws the variant's parameters from `rng` (peepholes first, then `weight_ih`, `weight_hh`, `bias`) and applies
    /// `forget_bias`.
    pub fn new(variant: Variant, cfg: &CellConfig, rng: &mut Rng) -> Self {
        let n = variant.peepholes().len() as i64;
        // The peepholes are drawn first, as the paper LSTM draws them.
        let peephole = (n > 0).then(|| match cfg.init {
            Init::Torch => cfg.uniform(rng, &[n * cfg.hidden], 1.0 / (cfg.hidden as f64).sqrt()),
            Init::Paper { scale } => cfg.uniform(rng, &[n * cfg.hidden], scale),
        });
        let rows = variant.rows();
        let p = PaperLayout::new(cfg, rows.len() as i64, rng);
        let block = |b: Block| rows.iter().position(|&r| r == b).map(|i| i as i64);
        if let Some(f) = block(F) {
            cfg.shift_bias_block(&p.bias, f, cfg.forget_bias);
        } else if variant == Variant::Cifg {
            let i = block(I).expect("CIFG has an input gate");
            cfg.shift_bias_block(&p.bias, i, -cfg.forget_bias);
        }
        LstmVariant {
            variant,
            p,
            peephole,
            dims: Dims::of(cfg),
        }
    }
}

fn cell_state(state: &State) -> &Tensor {
    // SequenceLayer::forward checks that LSTM states carry c before any step runs.
    state.c.as_ref().expect("LSTM state without a cell state c")
}

impl Cell for LstmVariant {
    fn map_parameters(
        &self,
        f: &dyn Fn(&Tensor) -> Tensor,
        population: Option<i64>,
    ) -> Box<dyn Cell> {
        Box::new(LstmVariant {
            variant: self.variant,
            p: self.p.map(f),
            peephole: self.peephole.as_ref().map(f),
            dims: self.dims.with_population(population),
        })
    }
    fn kind(&self) -> CellKind {
        self.variant.kind()
    }
    fn dims(&self) -> Dims {
        self.dims
    }
    fn named_parameters(&self) -> Vec<(&'static str, &Tensor)> {
        let mut named = self.p.named();
        named.extend(self.peephole.iter().map(|v| ("peephole", v)));
        named
    }

    fn input_projection(&self, x: &Tensor) -> Tensor {
        self.p.project_input(x)
    }

    fn step(&self, xp: &Tensor, state: &State) -> State {
        let c = cell_state(state);
        let rows = self.variant.rows();
        let gates = xp + recurrent(&state.h, &self.p.weight_hh, None);
        let a = gates.chunk(rows.len() as i64, -1);
        let pre = |b: Block| rows.iter().position(|&r| r == b).map(|i| &a[i]);
        let peeps = self.variant.peepholes();
        let v = self
            .peephole
            .as_ref()
            .map(|v| v.chunk(peeps.len() as i64, -1))
            .unwrap_or_default();
        // σ(a_b + V_b ⊙ cell) for a gate that is there (without V_b when it has no peephole); None: the gate is 1.
        let gate = |b: Block, cell: &Tensor| {
            pre(b).map(|a| match peeps.iter().position(|&p| p == b) {
                Some(k) => (a + per_unit(&v[k]) * cell).sigmoid(),
                None => a.sigmoid(),
            })
        };
        let i = gate(I, c);
        let f = match self.variant {
            Variant::Cifg => Some(1.0 - i.as_ref().expect("CIFG has an input gate")),
            _ => gate(F, c),
        };
        let a_z = pre(Z).expect("every variant has a block input");
        let z = match self.variant {
            Variant::Niaf => a_z.shallow_clone(),
            _ => a_z.tanh(),
        };
        let kept = match &f {
            Some(f) => f * c,
            None => c.shallow_clone(),
        };
        let written = match &i {
            Some(i) => i * z,
            None => z,
        };
        let c = kept + written;
        let squashed = match self.variant {
            Variant::Noaf => c.shallow_clone(),
            _ => c.tanh(),
        };
        let h = match gate(O, &c) {
            Some(o) => o * squashed,
            None => squashed,
        };
        State { h, c: Some(c) }
    }
}
