//! The network of the music experiments: one recurrent layer, then a linear map to 88 logits, one independent
//! sigmoid (Bernoulli) per piano key.
//!
//! ```text
//! h_t     = cell(x_t, h_{t-1})                      x_t ∈ {0,1}^88, h_t ∈ R^H
//! p(y_t)  = Π_k σ(W_out h_t + b_out)_k^{y_tk} (1 − σ(·)_k)^{1 − y_tk}
//! NLL     = −Σ_k log p(y_tk)                         nats per predicted frame, summed over the 88 keys
//! ```
//!
//! Every model here is a *population* of `K ≥ 1` independent networks (LR candidates × seeds) whose parameters are
//! stacked along a leading `[K]` dimension: `rnn.*` as in [`crate::cells`], `out.weight: [K, 88, H]`,
//! `out.bias: [K, 88]`. All members read the same input batch; everything else is per member.

use crate::cells::{
    new_cell, project, BuiltinLayer, BuiltinMode, Cell, CellConfig, CellKind, CustomLayer, Init,
};
use crate::cells::{SequenceLayer, State};
use anyhow::{bail, ensure, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use tch::{Device, Kind, Reduction, Tensor};

/// Keys of the piano roll, and the model's input and output width.
pub const KEYS: i64 = 88;

/// Which code runs the recurrent layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Implementation {
    /// rnnlab's own cells from tensor ops, all members in one batched op (any cell).
    #[default]
    Custom,
    /// libtorch's whole-sequence kernel (`at::gru`/`at::lstm`/`at::rnn_tanh`, cuDNN on CUDA), member by member
    /// (torch forms only).
    BuiltinSeq,
    /// libtorch's per-step kernel (`at::gru_cell`, …), member by member (torch forms only).
    BuiltinCell,
}

impl Implementation {
    pub fn name(self) -> &'static str {
        match self {
            Implementation::Custom => "custom",
            Implementation::BuiltinSeq => "builtin_seq",
            Implementation::BuiltinCell => "builtin_cell",
        }
    }
}

impl fmt::Display for Implementation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Implementation {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "custom" => Ok(Implementation::Custom),
            "builtin_seq" => Ok(Implementation::BuiltinSeq),
            "builtin_cell" => Ok(Implementation::BuiltinCell),
            _ => {
                bail!("unknown implementation '{s}': expected custom, builtin_seq or builtin_cell")
            }
        }
    }
}

/// Table 1's music sizes: about 20k recurrent parameters for each unit.
pub fn table1_music_hidden(kind: CellKind) -> i64 {
    match kind {
        CellKind::Tanh => 100,
        CellKind::TorchGru | CellKind::PaperGru => 46,
        CellKind::TorchLstm | CellKind::PaperLstm => 36,
    }
}

pub struct MusicModel {
    rnn: CustomLayer,
    implementation: Implementation,
    out_weight: Tensor,
    out_bias: Tensor,
    population: i64,
}

impl MusicModel {
    /// A population of `k` models, initialised as the paper's authors did (see [`Init::Paper`]); the output layer's
    /// weights ~ U(−scale, scale), its bias zero.
    pub fn new(
        kind: CellKind,
        implementation: Implementation,
        hidden: i64,
        k: i64,
        init_scale: f64,
        dtype: Kind,
        device: Device,
    ) -> Result<Self> {
        ensure!(
            implementation == Implementation::Custom || kind.has_builtin(),
            "implementation {implementation} needs a cell with a libtorch built-in (tanh, torch_gru, torch_lstm), \
             not {kind}"
        );
        ensure!(
            init_scale > 0.0,
            "init_scale must be positive, got {init_scale}"
        );
        let cfg = CellConfig {
            input: KEYS,
            hidden,
            population: Some(k),
            init: Init::Paper { scale: init_scale },
            kind: dtype,
            device,
        };
        let cell = new_cell(kind, &cfg)?;
        let out_weight = tch::no_grad(|| {
            Tensor::empty([k, KEYS, hidden], (dtype, device)).uniform_(-init_scale, init_scale)
        })
        .set_requires_grad(true);
        let out_bias = Tensor::zeros([k, KEYS], (dtype, device)).set_requires_grad(true);
        Ok(MusicModel {
            rnn: CustomLayer::new(cell),
            implementation,
            out_weight,
            out_bias,
            population: k,
        })
    }

    pub fn cell(&self) -> &dyn Cell {
        self.rnn.cell()
    }

    pub fn population(&self) -> i64 {
        self.population
    }

    /// Every parameter with a PyTorch-style name; each has a leading `[K]` dimension.
    pub fn named_parameters(&self) -> Vec<(String, &Tensor)> {
        let mut v: Vec<(String, &Tensor)> = self
            .rnn
            .cell()
            .named_parameters()
            .into_iter()
            .map(|(n, t)| (format!("rnn.{n}"), t))
            .collect();
        v.push(("out.weight".into(), &self.out_weight));
        v.push(("out.bias".into(), &self.out_bias));
        v
    }

    pub fn parameters(&self) -> Vec<&Tensor> {
        self.named_parameters()
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    /// Trainable scalars per member: (paper definition: the recurrent layer only, all of them).
    pub fn param_counts(&self) -> (i64, i64) {
        let all: i64 = self.parameters().iter().map(|t| t.numel() as i64).sum();
        (self.cell().paper_param_count(), all / self.population)
    }

    /// Hidden states `[K, T, B, H]` for `x: [T, B, 88]`.
    fn hidden_states(&self, x: &Tensor) -> Result<Tensor> {
        let mode = match self.implementation {
            Implementation::Custom => return Ok(self.rnn.forward(x, None)?.0),
            Implementation::BuiltinSeq => BuiltinMode::Sequence,
            Implementation::BuiltinCell => BuiltinMode::Step,
        };
        let cell = self.rnn.cell();
        let named = cell.named_parameters();
        let mut outs = Vec::with_capacity(self.population as usize);
        for m in 0..self.population {
            let p = |i: usize| named[i].1.get(m);
            let layer = BuiltinLayer::from_tensors(cell.kind(), mode, [p(0), p(1), p(2), p(3)])?;
            let (h, _): (Tensor, State) = layer.forward(x, None)?;
            outs.push(h);
        }
        Ok(Tensor::stack(&outs, 0))
    }

    /// Logits `[K, T, B, 88]` of the next frame for `x: [T, B, 88]`.
    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.hidden_states(x)?;
        Ok(project(&h, &self.out_weight, Some(&self.out_bias)))
    }

    /// Per-member NLL summed over keys and over the frames where `mask` is 1: `[K]`, in nats.
    /// `x, y: [T, B, 88]`, `mask: [T, B]`.
    pub fn nll_sum(&self, x: &Tensor, y: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let logits = self.logits(x)?;
        let target = y.to_kind(logits.kind()).expand_as(&logits);
        let bce =
            logits.binary_cross_entropy_with_logits::<Tensor>(&target, None, None, Reduction::None);
        let per_frame = bce.sum_dim_intlist(-1, false, logits.kind());
        let masked = per_frame * mask.to_kind(logits.kind());
        Ok(masked.sum_dim_intlist(&[1i64, 2][..], false, logits.kind()))
    }
}
