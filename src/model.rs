//! The network of the experiments: one recurrent layer, then a linear output layer whose outputs parameterise the
//! next step's distribution ([`Head`]).
//!
//! **Music** ([`Head::Bernoulli`]): 88 logits, one independent sigmoid (Bernoulli) per piano key.
//! ```text
//! h_t     = cell(x_t, h_{t-1})                      x_t ∈ {0,1}^88, h_t ∈ R^H
//! p(y_t)  = Π_k σ(W_out h_t + b_out)_k^{y_tk} (1 − σ(·)_k)^{1 − y_tk}
//! NLL     = −Σ_k log p(y_tk)                         nats per predicted frame, summed over the 88 keys
//! ```
//!
//! **Speech** ([`Head::Mog`]): x_t holds 20 normalised samples, y_t the next 10; the output layer gives, for C = 20
//! components over D = 10 dimensions, `C` mixture logits `a`, `C·D` means `μ` and `C·D` raw scales `r`
//! (in that order along the last axis; see [`mog_nll`]):
//! ```text
//! π_c    = softmax(a)_c,    σ_cd = σ_min + exp(r_cd)          (a soft floor: σ ≥ σ_min, smooth gradient)
//! p(y_t) = Σ_c π_c Π_d N(y_d; μ_cd, σ_cd²)                   diagonal covariance per component
//! NLL    = −log p(y_t)   (log-sum-exp over c)                 nats per step, summed over the 10 samples
//! ```
//! **Tokens** ([`Head::Categorical`]; text corpora, Shakespeare, integer NPZ data): x_t is the one-hot vector of
//! token t over a vocabulary of V symbols, the output layer gives V logits, and
//! ```text
//! p(y_t = v) = softmax(W_out h_t + b_out)_v
//! NLL        = −log p(y_t)                            nats per predicted token; bits per token = nats / ln 2
//! ```
//!
//! Diagonal covariances: a full 10×10 covariance per component would need 55 outputs instead of 10 and a Cholesky
//! factor per step; the mixture of 20 diagonal components can already model correlated samples (and the paper,
//! following Graves 2013, uses diagonal mixtures).
//!
//! Every model here is a *population* of `K ≥ 1` independent networks (LR candidates × seeds) whose parameters are
//! stacked along a leading `[K]` dimension: `rnn.*` as in [`crate::cells`], `out.weight: [K, O, H]`,
//! `out.bias: [K, O]` with `O` = 88 (music) or 420 (speech). All members read the same input batch; everything else
//! is per member.

use crate::cells::{
    new_cell, project, BuiltinLayer, Cell, CellConfig, CellKind, CudnnWeights, CustomLayer, Init,
};
use crate::cells::{Deferred, SequenceLayer, State};
use crate::data::speech::{FRAME, INPUT};
use crate::data::Task;
use crate::rng::Rng;
use anyhow::{ensure, Result};
use std::sync::OnceLock;
use tch::{Device, Kind, Tensor};

/// Keys of the piano roll ([`crate::data::KEYS`]), as the music model's input and output width.
pub const KEYS: i64 = crate::data::KEYS as i64;
/// Mixture components of the speech head (the paper's §7).
pub const MOG_COMPONENTS: i64 = 20;
/// Floor on every mixture scale, in normalised units (training std = 1). One int16 step is about 5e-4 of the
/// training std; without a floor a component can collapse onto repeated (quantised) values and its density grow
/// without bound. 1e-3 caps the log-density at ≈ 5.99 nats per sample while leaving real speech untouched.
pub const MOG_MIN_SCALE: f64 = 1e-3;

/// Each member's Bernoulli NLL `[K]` of logits `out: [K, L, B, O]` (or `[K, L·B, O]`) for targets `y: [L, B, O]` in
/// [0, 1] where `mask: [L, B]` is 1: `Σ m·(softplus(out) − y·out)`. Float32 logits on a CPU that can run it take
/// one fused pass (`src/bernoulli.rs`); others the libtorch ops of `bernoulli_nll_sums_ops`.
pub fn bernoulli_nll_sums(out: &Tensor, y: &Tensor, mask: &Tensor) -> Tensor {
    if crate::bernoulli::applies(out) {
        if let Ok(sums) = crate::bernoulli::nll_sums(&mut out.shallow_clone(), y, mask, None) {
            return sums;
        }
    }
    bernoulli_nll_sums_ops(out, y, mask)
}

/// [`bernoulli_nll_sums`] in libtorch ops: `Σ m·softplus(out) − Σ m·y·out`, each sum one matrix–vector product over
/// the logits (−log p(y | x) = softplus(x) − x·y is what `binary_cross_entropy_with_logits` computes; libtorch's
/// softplus returns x itself for x > 20, leaving out log1p(e^−x) < 2.1e-9 nats, below f32's rounding of the sums).
pub(crate) fn bernoulli_nll_sums_ops(out: &Tensor, y: &Tensor, mask: &Tensor) -> Tensor {
    let (k, o) = (out.size()[0], out.size()[out.dim() - 1]);
    let kind = out.kind();
    let m = mask.to_kind(kind).reshape([-1, 1]);
    let rows = m.size()[0];
    let m_flat = m.expand([rows, o], false).reshape([-1]);
    let ym_flat = (y.to_kind(kind).reshape([-1, o]) * &m).reshape([-1]);
    out.softplus().reshape([k, -1]).mv(&m_flat) - out.reshape([k, -1]).mv(&ym_flat)
}

/// The output distribution of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// An independent Bernoulli per output (music: 88 keys).
    Bernoulli {
        /// Outputs, one Bernoulli each (88 piano keys for music).
        keys: i64,
    },
    /// A mixture of `components` Gaussians with diagonal covariance over `dim` outputs (speech: 20 over 10; one
    /// component is a plain diagonal Gaussian).
    Mog {
        /// Gaussians in the mixture (20 for speech).
        components: i64,
        /// Dimension of each Gaussian: values predicted per step (10 for speech).
        dim: i64,
    },
    /// A softmax over `vocab` tokens (targets are token indices, inputs their one-hot vectors).
    Categorical {
        /// Tokens in the vocabulary.
        vocab: i64,
    },
}

impl Head {
    /// The head and input width of a task of fixed width: music 88 → Bernoulli-88; speech 20 → MoG-20 over 10;
    /// `None` for tokens and arrays, whose widths come from the data (see [`crate::config::TrainConfig::head`]).
    pub fn for_task(task: Task) -> Option<(Head, i64)> {
        match task {
            Task::Music => Some((Head::Bernoulli { keys: KEYS }, KEYS)),
            Task::Speech => Some((
                Head::Mog {
                    components: MOG_COMPONENTS,
                    dim: FRAME as i64,
                },
                INPUT as i64,
            )),
            Task::Tokens | Task::Arrays => None,
        }
    }

    /// Width of the output layer.
    pub fn outputs(self) -> i64 {
        match self {
            Head::Bernoulli { keys } => keys,
            Head::Mog { components, dim } => components * (1 + 2 * dim),
            Head::Categorical { vocab } => vocab,
        }
    }

    /// Whether the NLL is of tokens (reported in bits per token as well as nats).
    pub fn is_categorical(self) -> bool {
        matches!(self, Head::Categorical { .. })
    }
}

/// Categorical NLL (nats) of integer targets: `out: [..., V]` logits, `y: [...]` token indices (any numeric kind;
/// converted to int64). Returns `[...]`: `logsumexp(out) − out[y]`, by a log-softmax and a gather.
pub fn categorical_nll(out: &Tensor, y: &Tensor) -> Tensor {
    let index = y.to_kind(Kind::Int64).unsqueeze(-1);
    -out.log_softmax(-1, out.kind())
        .gather(-1, &index, false)
        .squeeze_dim(-1)
}

/// Mixture-of-Gaussians NLL (nats), summed over the `dim` target values: `out: [..., C(1+2D)]` laid out as
/// `[logits C | means C·D | raw scales C·D]` (means and scales component-major), `y: [..., D]` broadcastable against
/// `out`'s leading dimensions. Returns `[...]`. Stable: log-softmax for the weights, `log σ = logaddexp(r, ln σ_min)`
/// (so `σ = σ_min + e^r` without overflow), log-sum-exp over components.
pub fn mog_nll(out: &Tensor, y: &Tensor, components: i64, dim: i64, min_scale: f64) -> Tensor {
    let (log_pi, mu, log_sigma) = mog_split(out, components, dim, min_scale);
    let z = (y.unsqueeze(-2) - &mu) * (-&log_sigma).exp();
    let log_norm = 0.5 * (2.0 * std::f64::consts::PI).ln();
    let log_n = (z.square() * -0.5 - &log_sigma - log_norm).sum_dim_intlist(-1, false, out.kind());
    -(log_pi + log_n).logsumexp(-1, false)
}

/// Splits MoG outputs into (log weights `[..., C]`, means `[..., C, D]`, log scales `[..., C, D]`).
fn mog_split(out: &Tensor, components: i64, dim: i64, min_scale: f64) -> (Tensor, Tensor, Tensor) {
    let lead: Vec<i64> = out.size()[..out.dim() - 1].to_vec();
    let shape: Vec<i64> = lead.iter().copied().chain([components, dim]).collect();
    let cd = components * dim;
    let log_pi = out.narrow(-1, 0, components).log_softmax(-1, out.kind());
    let mu = out.narrow(-1, components, cd).reshape(shape.as_slice());
    let raw = out
        .narrow(-1, components + cd, cd)
        .reshape(shape.as_slice());
    let log_sigma = raw.logaddexp(&raw.full_like(min_scale.ln()));
    (log_pi, mu, log_sigma)
}

/// One draw from the mixture for each leading index: `out: [..., C(1+2D)]` → `[..., D]`, from `rng`.
///
/// The component is chosen by inverse CDF (`u ~ U[0, 1)`, the first component whose cumulative weight exceeds `u`),
/// then the value is `μ + σ·ε` with `ε ~ N(0, I)`: one uniform and D normal draws per leading index.
pub fn mog_sample(
    out: &Tensor,
    components: i64,
    dim: i64,
    min_scale: f64,
    rng: &mut Rng,
) -> Tensor {
    let (log_pi, mu, log_sigma) = mog_split(out, components, dim, min_scale);
    let lead: Vec<i64> = log_pi.size()[..log_pi.dim() - 1].to_vec();
    let cdf = log_pi
        .exp()
        .reshape([-1, components])
        .cumsum(-1, Kind::Double);
    let u = rng.uniform(&[cdf.size()[0], 1], 0.0, 1.0, (Kind::Double, cdf.device()));
    // Rounding can leave the last cumulative weight just below 1: clamp to the last component.
    let c = cdf
        .le_tensor(&u)
        .sum_dim_intlist(-1, true, Kind::Int64)
        .clamp_max(components - 1)
        .reshape(
            lead.iter()
                .copied()
                .chain([1, 1])
                .collect::<Vec<_>>()
                .as_slice(),
        )
        .expand(
            lead.iter()
                .copied()
                .chain([1, dim])
                .collect::<Vec<_>>()
                .as_slice(),
            false,
        );
    let m = mu.gather(-2, &c, false).squeeze_dim(-2);
    let s = log_sigma.gather(-2, &c, false).squeeze_dim(-2).exp();
    &m + s * rng.randn_like(&m)
}

/// Which code runs the recurrent layer (defined with the cells, where [`BuiltinLayer`] takes it too).
pub use crate::cells::Implementation;

/// What a population of models is made of (see [`Model::new`]); a training config gives one with
/// [`crate::config::TrainConfig::model_config`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelConfig {
    /// The output distribution: music's Bernoulli-88, speech's mixture, or a data set's own (see
    /// [`crate::config::TrainConfig::head`]).
    pub head: Head,
    /// Width of each input step (88 for music, 20 for speech, the vocabulary for tokens).
    pub input: i64,
    /// The recurrent unit.
    pub cell: CellKind,
    /// Which code runs the recurrent layer (custom cells or a libtorch kernel).
    pub implementation: Implementation,
    /// Hidden units.
    pub hidden: i64,
    /// `K`, the number of independent models stacked along the leading dimension.
    pub population: i64,
    /// Initial weights ~ U(−init_scale, init_scale) (recurrent matrices orthogonal, biases zero).
    pub init_scale: f64,
    /// Initial bias of an LSTM's forget gate ([`crate::cells::CellConfig::forget_bias`]; 0: the paper's zero).
    pub forget_bias: f64,
    /// `Kind::Float` or `Kind::Double`.
    pub kind: Kind,
    /// Where the parameters live.
    pub device: Device,
}

/// A population of K models (a recurrent layer and an output head each), with stacked `[K, …]` parameters: the model of
/// every training run.
pub struct Model {
    rnn: CustomLayer,
    implementation: Implementation,
    head: Head,
    out_weight: Tensor,
    out_bias: Tensor,
    population: i64,
    /// `builtin_seq` on CUDA: each member's cuDNN weight buffer, made at the first forward (empty on the CPU).
    cudnn: OnceLock<Vec<CudnnWeights>>,
}

impl Model {
    /// A population of `cfg.population` models for `cfg.task`, initialised as the paper's authors did (see
    /// [`Init::Paper`]); the output layer's weights ~ U(−scale, scale), its bias zero (for the MoG head: equal
    /// weights, means near 0 and scales ≈ 1, the normalised data's own).
    ///
    /// Every initial weight is drawn from `rng`: the cell's parameters in their layout's order, then the output
    /// weights. A training run passes a generator seeded with its config's seed ([`crate::train::Population::new`]).
    pub fn new(cfg: &ModelConfig, rng: &mut Rng) -> Result<Self> {
        let &ModelConfig {
            head,
            input,
            cell: kind,
            implementation,
            hidden,
            population: k,
            init_scale,
            forget_bias,
            kind: dtype,
            device,
        } = cfg;
        ensure!(
            implementation.supports(kind),
            "implementation {implementation} needs a cell with a libtorch built-in (tanh, torch_gru, torch_lstm), \
             not {kind}"
        );
        ensure!(
            init_scale > 0.0,
            "init_scale must be positive, got {init_scale}"
        );
        ensure!(
            input >= 1 && head.outputs() >= 1,
            "the model needs an input and an output of at least one value ({input} in, {} out)",
            head.outputs()
        );
        let outputs = head.outputs();
        let cfg = CellConfig {
            input,
            hidden,
            population: Some(k),
            init: Init::Paper { scale: init_scale },
            forget_bias,
            kind: dtype,
            device,
        };
        let cell = new_cell(kind, &cfg, rng)?;
        // Drawn on the CPU, then moved: the same weights for a seed on every device (as the cell's).
        let out_weight = rng
            .uniform(
                &[k, outputs, hidden],
                -init_scale,
                init_scale,
                (dtype, device),
            )
            .set_requires_grad(true);
        let out_bias = Tensor::zeros([k, outputs], (dtype, device)).set_requires_grad(true);
        Ok(Model {
            rnn: CustomLayer::new(cell),
            implementation,
            head,
            out_weight,
            out_bias,
            population: k,
            cudnn: OnceLock::new(),
        })
    }

    /// The recurrent cell (all K members' parameters).
    pub fn cell(&self) -> &dyn Cell {
        self.rnn.cell()
    }

    /// Members `index` (`[K']`, int64) as a population of K' models whose parameters are `index_select`s of this
    /// one's: a forward pass runs only those members, and gradients flow back to this population's parameters (zero
    /// for the members left out). Custom implementation only (the others run member by member anyway).
    pub fn select(&self, index: &Tensor) -> Result<Model> {
        ensure!(
            self.implementation == Implementation::Custom,
            "selecting members needs implementation = custom, not {}",
            self.implementation
        );
        Ok(Model {
            rnn: CustomLayer::new(self.rnn.cell().select(index)),
            implementation: self.implementation,
            head: self.head,
            out_weight: self.out_weight.index_select(0, index),
            out_bias: self.out_bias.index_select(0, index),
            population: index.size()[0],
            cudnn: OnceLock::new(),
        })
    }

    /// The same model with its parameters (in [`Model::parameters`]' order) replaced by `params`, which have their
    /// shapes but for the leading dimension, the new population's K: how a training update runs its active members
    /// at their noisy weights without touching the weights themselves.
    pub fn with_parameters(&self, params: Vec<Tensor>) -> Result<Model> {
        let own = self.parameters();
        ensure!(
            params.len() == own.len(),
            "{} parameters given for a model of {}",
            params.len(),
            own.len()
        );
        let k = params[0].size()[0];
        // The cell's map visits its parameters in its own order: find each by identity.
        let ptrs: Vec<usize> = own.iter().map(|t| t.data_ptr() as usize).collect();
        let lookup = |t: &Tensor| -> Tensor {
            let i = ptrs
                .iter()
                .position(|&p| p == t.data_ptr() as usize)
                .expect("every parameter of the cell is one of the model's");
            params[i].shallow_clone()
        };
        let n = own.len();
        Ok(Model {
            rnn: CustomLayer::new(self.rnn.cell().map_parameters(&lookup, Some(k))),
            implementation: self.implementation,
            head: self.head,
            out_weight: params[n - 2].shallow_clone(),
            out_bias: params[n - 1].shallow_clone(),
            population: k,
            cudnn: OnceLock::new(),
        })
    }

    /// Which code runs the recurrent layer.
    pub fn implementation(&self) -> Implementation {
        self.implementation
    }

    /// K, the models in the population.
    pub fn population(&self) -> i64 {
        self.population
    }

    /// The output distribution.
    pub fn head(&self) -> Head {
        self.head
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

    /// Every parameter, in [`Model::named_parameters`]' order.
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

    /// Hidden states `[K, T, B, H]` for `x: [T, B, D]`, from `state` (`[K, B, H]`; zero when `None`), and the final
    /// state.
    fn hidden_states(&self, x: &Tensor, state: Option<&State>) -> Result<(Tensor, State)> {
        let mode = self.implementation;
        if mode == Implementation::Custom {
            return self.rnn.forward(x, state);
        }
        let cell = self.rnn.cell();
        let named = cell.named_parameters();
        let mut outs = Vec::with_capacity(self.population as usize);
        let mut finals = Vec::with_capacity(self.population as usize);
        for m in 0..self.population {
            let initial = state.map(|s| s.member(m));
            let (h, last): (Tensor, State) = if mode == Implementation::CustomMember {
                CustomLayer::new(cell.member(m)).forward(x, initial.as_ref())?
            } else {
                let p = |i: usize| named[i].1.get(m);
                let mut layer =
                    BuiltinLayer::from_tensors(cell.kind(), mode, [p(0), p(1), p(2), p(3)])?;
                if let Some(flat) = self.cudnn_weights(m)? {
                    layer = layer.with_cudnn_weights(flat);
                }
                layer.forward(x, initial.as_ref())?
            };
            outs.push(h);
            finals.push(last);
        }
        Ok((Tensor::stack(&outs, 0), State::stack(&finals)))
    }

    /// Member `m`'s cuDNN weight buffer for `builtin_seq` on CUDA, made for every member at the first call (flattened
    /// once); `None` for other implementations and on the CPU.
    fn cudnn_weights(&self, m: i64) -> Result<Option<CudnnWeights>> {
        if self.implementation != Implementation::BuiltinSeq || !self.out_weight.device().is_cuda()
        {
            return Ok(None);
        }
        if self.cudnn.get().is_none() {
            let cell = self.rnn.cell();
            let named = cell.named_parameters();
            let mut bufs = Vec::with_capacity(self.population as usize);
            for k in 0..self.population {
                let p = |i: usize| named[i].1.get(k);
                match CudnnWeights::new(cell.kind(), &[p(0), p(1), p(2), p(3)])? {
                    Some(b) => bufs.push(b),
                    None => break,
                }
            }
            let _ = self.cudnn.set(bufs);
        }
        Ok(self
            .cudnn
            .get()
            .and_then(|b| b.get(m as usize))
            .map(CudnnWeights::shallow_clone))
    }

    /// Output-layer values `[K, T, B, O]` for `x: [T, B, D]`: the 88 logits of the next frame (music), or the
    /// mixture's parameters (speech, see [`mog_nll`]).
    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        let (h, _) = self.hidden_states(x, None)?;
        Ok(project(&h, &self.out_weight, Some(&self.out_bias)))
    }

    /// Runs the custom layer from `state` (zero when `None`) and returns the outputs `[K, T, B, O]` and the final
    /// state. `x` may be per member, `[K, T, B, D]`. Used for step-by-step generation.
    pub fn outputs_from(&self, x: &Tensor, state: Option<&State>) -> Result<(Tensor, State)> {
        ensure!(
            !self.implementation.is_builtin(),
            "step-by-step generation runs the custom cells only (implementation = custom or custom_member)"
        );
        let (h, s) = self.rnn.forward(x, state)?;
        Ok((project(&h, &self.out_weight, Some(&self.out_bias)), s))
    }

    /// Per-member NLL summed over the output dimensions and over the steps where `mask` is 1: `[K]`, in nats.
    /// Music: `x, y: [T, B, 88]`; speech: `x: [T, B, 20]`, `y: [T, B, 10]`; tokens: `x: [T, B, V]` one-hot,
    /// `y: [T, B]` token indices; `mask: [T, B]`.
    pub fn nll_sum(&self, x: &Tensor, y: &Tensor, mask: &Tensor) -> Result<Tensor> {
        Ok(self.nll_sum_from(x, y, mask, None)?.0)
    }

    /// [`Model::nll_sum`] starting from `state` (`[K, B, H]`; zero when `None`), with the final state: a piece cut
    /// into consecutive slices, each started from the previous slice's final state, gives the NLL of the whole
    /// piece (the sum over the slices; equal up to float rounding).
    pub fn nll_sum_from(
        &self,
        x: &Tensor,
        y: &Tensor,
        mask: &Tensor,
        state: Option<&State>,
    ) -> Result<(Tensor, State)> {
        if let Head::Bernoulli { .. } = self.head {
            let (h, last) = self.hidden_states(x, state)?;
            let out = project(&h, &self.out_weight, Some(&self.out_bias));
            return Ok((bernoulli_nll_sums(&out, y, mask), last));
        }
        let (per_step, last) = self.nll_per_step_from(x, y, mask, state)?;
        Ok((
            per_step.sum_dim_intlist(&[1i64, 2][..], false, per_step.kind()),
            last,
        ))
    }

    /// Each member's NLL of every predicted step, `[K, L, B]` (zero where `mask` is 0), from `state` (zero when
    /// `None`), and the final state: what [`Model::nll_sum_from`] sums, kept apart for the metric's variants
    /// (sequence-weighted, by position; see [`crate::eval`]).
    pub fn nll_per_step_from(
        &self,
        x: &Tensor,
        y: &Tensor,
        mask: &Tensor,
        state: Option<&State>,
    ) -> Result<(Tensor, State)> {
        let (h, last) = self.hidden_states(x, state)?;
        Ok((self.nll_of(&h, y, mask), last))
    }

    /// [`Model::nll_sum_from`] for a training update, with the recurrent matrices' gradients deferred when the
    /// implementation is `custom` and the cell declares its recurrent blocks (see [`crate::cells::StepWeights`]):
    /// the caller asks autograd for the gradient of [`Deferred::xp`] beside the parameters' and passes it to
    /// [`Deferred::add_to`].
    pub fn nll_sum_deferred(
        &self,
        x: &Tensor,
        y: &Tensor,
        mask: &Tensor,
        state: Option<&State>,
    ) -> Result<(Tensor, State, Option<Deferred>)> {
        let (h, last, deferred) = self.hidden_deferred(x, state)?;
        let per_step = self.nll_of(&h, y, mask);
        Ok((
            per_step.sum_dim_intlist(&[1i64, 2][..], false, per_step.kind()),
            last,
            deferred,
        ))
    }

    /// The hidden states `[K, T, B, H]` and final state of [`Model::nll_sum_deferred`]'s forward pass, before the
    /// head: the recurrent matrices' (and a linear input projection's) gradients deferred where the implementation is
    /// `custom` and the cell declares its blocks.
    pub fn hidden_deferred(
        &self,
        x: &Tensor,
        state: Option<&State>,
    ) -> Result<(Tensor, State, Option<Deferred>)> {
        if self.implementation == Implementation::Custom {
            return self.rnn.forward_deferred(x, state);
        }
        let (h, last) = self.hidden_states(x, state)?;
        Ok((h, last, None))
    }

    /// Each member's NLL of every step `[K, L, B]` from the hidden states `h: [K, L, B, H]` (zero where `mask` is 0).
    fn nll_of(&self, h: &Tensor, y: &Tensor, mask: &Tensor) -> Tensor {
        let out = project(h, &self.out_weight, Some(&self.out_bias));
        let per_step = match self.head {
            Head::Mog { components, dim } => {
                mog_nll(&out, &y.to_kind(out.kind()), components, dim, MOG_MIN_SCALE)
            }
            Head::Bernoulli { .. } => {
                // −log p(y | x) = −y log σ(x) − (1 − y) log σ(−x) = softplus(x) − x·y, for any y in [0, 1]: what
                // binary_cross_entropy_with_logits computes, in three passes over the logits instead of about ten
                // (the head's loss was the largest elementwise cost of training). libtorch's softplus returns x itself
                // for x > 20, leaving out log1p(e^−x) < 2.1e-9 nats: below f32's rounding of the sums, and the only
                // difference from binary_cross_entropy_with_logits in f64.
                let target = y.to_kind(out.kind());
                (out.softplus() - &out * target).sum_dim_intlist(-1, false, out.kind())
            }
            Head::Categorical { .. } => {
                // y: [L, B] token indices, the same for every member.
                let lead = out.size()[..out.dim() - 1].to_vec();
                categorical_nll(&out, &y.expand(lead.as_slice(), false))
            }
        };
        per_step * mask.to_kind(out.kind())
    }
}
