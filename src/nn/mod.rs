//! rnnlab's units as tch-rs modules: build any unit of the registry on a [`tch::nn::Path`], as tch's own
//! [`nn::gru`](tch::nn::gru) and [`nn::lstm`](tch::nn::lstm), and put it into a model.
//!
//! - [`rnn`] makes an [`Rnn`]: one or more layers of a unit, either direction, batch-first or time-major
//!   ([`RnnConfig`], the shape of tch's `RNNConfig`). It implements tch's [`nn::RNN`] (`zero_state`, `step`, `seq`,
//!   `seq_init`) and [`nn::ModuleT`] (the outputs from a zero state), and is `Send + Debug`, so it can sit in a
//!   struct that implements `nn::Module`.
//! - [`cell`] makes a single [`Cell`] (one step of one layer) on a path, for a model that drives the loop itself.
//! - [`population_linear`] is the output layer of a *population*: `K` independent models stacked along a leading
//!   `[K]` dimension ([`RnnConfig::population`]), trained together, each at its own learning rate with
//!   [`RmsProp`](crate::train::rmsprop::RmsProp) (see `examples/population.rs`).
//!
//! The parameters are created through the path, so they live in the [`nn::VarStore`]: tch's optimizers train them,
//! `vs.save`/`vs.load` store them, and `vs.copy` or a PyTorch `state_dict` exported as safetensors fills them by name.
//! Layer `l` of a unit is named as PyTorch names `nn.GRU`'s: the cell's parameter names (`weight_ih`, `weight_hh`,
//! `bias_ih`, `bias_hh` for the torch forms; `bias`, `peephole`, `weight_x` for the paper's and later units, see
//! [`Cell::named_parameters`]) followed by `_l{l}`, and `_reverse` for the backward direction: `weight_ih_l0`,
//! `bias_hh_l1_reverse`, …
//!
//! There is one implementation of the maths: an [`Rnn`] runs each layer and direction with
//! [`CustomLayer`](crate::cells::CustomLayer), the code that trains, validates and benchmarks the cells elsewhere in
//! rnnlab; its initial parameters are drawn as a training run draws them ([`Init`]).
//!
//! ```
//! use rnnlab::nn::{rnn, RnnConfig};
//! use rnnlab::CellKind;
//! use tch::nn::{ModuleT, RNN};
//! use tch::{nn::VarStore, Device, Kind, Tensor};
//!
//! # fn main() -> anyhow::Result<()> {
//! let vs = VarStore::new(Device::Cpu);
//! // The paper's GRU, two layers, batch-first input [batch, time, features].
//! let cfg = RnnConfig { num_layers: 2, seed: Some(1), ..Default::default() };
//! let gru = rnn(vs.root() / "rnn", CellKind::PaperGru, 8, 16, cfg)?;
//! let x = Tensor::randn([4, 10, 8], (Kind::Float, Device::Cpu));
//! let (out, state) = gru.seq(&x);
//! assert_eq!(out.size(), [4, 10, 16]);
//! assert_eq!(state.h().size(), [2, 4, 16]); // [layers × directions, batch, hidden]
//! assert_eq!(gru.forward_t(&x, false).size(), [4, 10, 16]);
//! // The parameters are the VarStore's, under PyTorch's names.
//! assert!(vs.variables().contains_key("rnn.weight_hh_l1"));
//! # Ok(())
//! # }
//! ```

use crate::cells::{new_cell, Cell, CellConfig, CellKind, CustomLayer, Init, SequenceLayer, State};
use crate::rng::Rng;
use anyhow::{bail, ensure, Context, Result};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

mod population;
pub use population::{population_linear, PopulationLinear};

/// The configuration of an [`Rnn`], in the shape of tch's `RNNConfig`; [`RnnConfig::default`] gives the value
/// stated at each field.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RnnConfig {
    /// Whether the layers have bias vectors. Default: `true`. With `false` every bias of the unit is held at zero:
    /// not trainable and not in the VarStore (PyTorch's `bias=False`). Every unit allows it.
    pub has_biases: bool,
    /// Stacked layers; layer `l > 0` reads the outputs of layer `l − 1`. Default: `1`.
    pub num_layers: i64,
    /// Dropout probability on the outputs of every layer but the last, in training mode. Default: `0.0`.
    pub dropout: f64,
    /// Training mode for [`nn::RNN`]'s methods (dropout on); [`nn::ModuleT::forward_t`] takes its own flag.
    /// Default: `true`, as tch's.
    pub train: bool,
    /// A second direction per layer reading the sequence backwards, its outputs concatenated after the forward
    /// direction's (`[…, 2·hidden]`). Default: `false`.
    pub bidirectional: bool,
    /// Inputs and outputs `[batch, time, features]` when `true`, `[time, batch, features]` when `false`.
    /// Default: `true`, as tch's `RNNConfig`. States are `[layers × directions, batch, hidden]` either way.
    pub batch_first: bool,
    /// How the initial parameters are drawn. Default: [`Init::Torch`], PyTorch's U(−1/√H, 1/√H) for every
    /// parameter; [`Init::Paper`] is what rnnlab's training runs use.
    pub init: Init,
    /// Added to the forget gate's bias after the draw (units with an LSTM forget gate only; an error for the
    /// others unless 0). Default: `0.0`.
    pub forget_bias: f64,
    /// `Some(K)`: `K` independent models stacked along a leading `[K]` dimension of every parameter, input
    /// (`[K, batch, time, features]`, or a shared `[batch, time, features]`), output and state
    /// (`[layers × directions, K, batch, hidden]`). Default: `None`, one model.
    pub population: Option<i64>,
    /// Seed of the generator the initial parameters are drawn from. Default: `None`, a seed drawn from libtorch's
    /// default generator, so that `tch::manual_seed` makes the draw repeatable as it does for tch's own layers.
    pub seed: Option<u64>,
}

impl Default for RnnConfig {
    fn default() -> Self {
        RnnConfig {
            has_biases: true,
            num_layers: 1,
            dropout: 0.0,
            train: true,
            bidirectional: false,
            batch_first: true,
            init: Init::Torch,
            forget_bias: 0.0,
            population: None,
            seed: None,
        }
    }
}

impl RnnConfig {
    fn check(&self) -> Result<()> {
        ensure!(
            self.num_layers >= 1,
            "RnnConfig: num_layers must be at least 1, got {}",
            self.num_layers
        );
        ensure!(
            (0.0..1.0).contains(&self.dropout),
            "RnnConfig: dropout must be in [0, 1), got {}",
            self.dropout
        );
        ensure!(
            self.has_biases || self.forget_bias == 0.0,
            "RnnConfig: forget_bias = {} sets a bias, but has_biases is false",
            self.forget_bias
        );
        Ok(())
    }

    fn directions(&self) -> i64 {
        if self.bidirectional {
            2
        } else {
            1
        }
    }
}

/// The state of an [`Rnn`]: `h` (and `c` for units with a memory cell) of every layer and direction,
/// `[layers × directions, batch, hidden]` (`[layers × directions, K, batch, hidden]` for a population), in
/// PyTorch's order (layer by layer, the forward direction first).
#[derive(Debug)]
pub struct RnnState {
    /// The hidden states.
    pub h: Tensor,
    /// The memory cells (`Some` exactly for the units with one, see [`CellKind::has_cell_state`]).
    pub c: Option<Tensor>,
}

impl RnnState {
    /// The hidden states (as tch's `LSTMState::h`).
    pub fn h(&self) -> Tensor {
        self.h.shallow_clone()
    }

    /// The memory cells, for the units with one.
    pub fn c(&self) -> Option<Tensor> {
        self.c.as_ref().map(Tensor::shallow_clone)
    }
}

/// Layers of one unit on a VarStore path, made by [`rnn`].
#[derive(Debug)]
pub struct Rnn {
    kind: CellKind,
    /// `layers[l][d]`: layer `l`, direction `d` (0 forward, 1 backward).
    layers: Vec<Vec<CustomLayer>>,
    config: RnnConfig,
    input: i64,
    hidden: i64,
}

/// Makes `c.num_layers` layers of the unit `kind` on `vs`: input width `in_dim`, `hidden_dim` units per direction.
/// The parameters are created through `vs` (see the module doc for their names), drawn from a generator seeded by
/// [`RnnConfig::seed`], in the VarStore's dtype (f32 or f64) and on its device.
///
/// Errors: sizes below 1, an invalid config, a name already taken in the VarStore (build two layers under two
/// sub-paths, `vs.root() / "enc"`), a VarStore of another dtype than f32 or f64.
pub fn rnn<'a, T: Borrow<nn::Path<'a>>>(
    vs: T,
    kind: CellKind,
    in_dim: i64,
    hidden_dim: i64,
    c: RnnConfig,
) -> Result<Rnn> {
    let vs = vs.borrow();
    c.check()?;
    let mut rng = Rng::new(c.seed.unwrap_or_else(default_seed))?;
    let dirs = c.directions();
    let mut layers = Vec::with_capacity(c.num_layers as usize);
    for l in 0..c.num_layers {
        let input = if l == 0 { in_dim } else { hidden_dim * dirs };
        let mut directions = Vec::with_capacity(dirs as usize);
        for d in 0..dirs {
            let cfg = CellConfig {
                input,
                hidden: hidden_dim,
                population: c.population,
                init: c.init,
                forget_bias: c.forget_bias,
                kind: vs.kind(),
                device: vs.device(),
            };
            let suffix = format!("_l{l}{}", if d == 1 { "_reverse" } else { "" });
            let made = new_cell(kind, &cfg, &mut rng)?;
            register(vs, made.as_ref(), &suffix, c.has_biases)?;
            directions.push(CustomLayer::new(made));
        }
        layers.push(directions);
    }
    Ok(Rnn {
        kind,
        layers,
        config: c,
        input: in_dim,
        hidden: hidden_dim,
    })
}

/// Makes one cell of the unit `kind` on `vs`, its parameters drawn from `rng` as [`new_cell`] draws them and
/// created through `vs` under the cell's own names ([`Cell::named_parameters`]: `weight_ih`, `weight_hh`, …). The
/// VarStore's dtype and device replace `cfg.kind` and `cfg.device`.
///
/// ```
/// use rnnlab::{cells::CellConfig, nn, CellKind, Rng, State};
/// use tch::{nn::VarStore, Device, Kind, Tensor};
///
/// # fn main() -> anyhow::Result<()> {
/// let vs = VarStore::new(Device::Cpu);
/// let cell = nn::cell(vs.root() / "lstm", CellKind::PaperLstm, &CellConfig::new(3, 5), &mut Rng::new(7)?)?;
/// let x = Tensor::randn([2, 3], (Kind::Float, Device::Cpu)); // one step, batch 2
/// let state = State { h: Tensor::zeros([2, 5], (Kind::Float, Device::Cpu)), c: Some(Tensor::zeros([2, 5], (Kind::Float, Device::Cpu))) };
/// let next = cell.step(&cell.input_projection(&x), &state);
/// assert_eq!(next.h.size(), [2, 5]);
/// assert!(vs.variables().contains_key("lstm.peephole"));
/// # Ok(())
/// # }
/// ```
pub fn cell<'a, T: Borrow<nn::Path<'a>>>(
    vs: T,
    kind: CellKind,
    cfg: &CellConfig,
    rng: &mut Rng,
) -> Result<Box<dyn Cell>> {
    let vs = vs.borrow();
    let cfg = CellConfig {
        kind: vs.kind(),
        device: vs.device(),
        ..*cfg
    };
    let made = new_cell(kind, &cfg, rng)?;
    register(vs, made.as_ref(), "", true)?;
    Ok(made)
}

/// A seed from libtorch's default generator (which `tch::manual_seed` seeds).
fn default_seed() -> u64 {
    let t = Tensor::randint(i64::MAX, [1], (Kind::Int64, Device::Cpu));
    t.int64_value(&[0]) as u64
}

/// Puts the cell's parameters into the VarStore under `name + suffix` (the same tensors: the cell and the
/// VarStore share them). Without biases, every bias is zeroed, frozen and left out.
fn register(vs: &nn::Path, cell: &dyn Cell, suffix: &str, has_biases: bool) -> Result<()> {
    for (name, t) in cell.named_parameters() {
        let full = format!("{name}{suffix}");
        ensure!(
            vs.get(&full).is_none(),
            "the VarStore already holds a variable '{}': build each layer under its own path \
             (for instance vs.root() / \"decoder\")",
            vs.path(&full)
        );
        if !has_biases && name.starts_with("bias") {
            let _ = tch::no_grad(|| t.shallow_clone().f_zero_())
                .with_context(|| format!("zeroing {full}"))?;
            let _ = t.shallow_clone().set_requires_grad(false);
        } else {
            let _ = vs.add(&full, t.shallow_clone(), true);
        }
    }
    Ok(())
}

impl Rnn {
    /// The unit.
    pub fn kind(&self) -> CellKind {
        self.kind
    }

    /// The configuration the layers were made with.
    pub fn config(&self) -> &RnnConfig {
        &self.config
    }

    /// Input width of the first layer.
    pub fn input_size(&self) -> i64 {
        self.input
    }

    /// Hidden units per layer and direction.
    pub fn hidden_size(&self) -> i64 {
        self.hidden
    }

    /// Layer `l`, direction `d` (0 forward, 1 backward): the cell, as the rest of rnnlab runs it.
    pub fn cell(&self, l: usize, d: usize) -> Option<&dyn Cell> {
        self.layers.get(l)?.get(d).map(CustomLayer::cell)
    }

    /// The parameters' dtype and device, read from them (so that `vs.double()` or `vs.set_device` after
    /// construction, which convert the VarStore's tensors in place, carry over).
    fn options(&self) -> (Kind, Device) {
        let w = self.layers[0][0].cell().named_parameters()[0].1;
        (w.kind(), w.device())
    }

    fn state_shape(&self, batch: i64) -> Vec<i64> {
        let lead = self.config.num_layers * self.config.directions();
        [lead]
            .into_iter()
            .chain(self.config.population)
            .chain([batch, self.hidden])
            .collect()
    }

    /// A zero state for `batch` sequences.
    pub fn zero_state_for(&self, batch: i64) -> RnnState {
        let shape = self.state_shape(batch);
        let options = self.options();
        let zeros = || Tensor::zeros(shape.as_slice(), options);
        RnnState {
            h: zeros(),
            c: self.kind.has_cell_state().then(zeros),
        }
    }

    /// Where the batch dimension of an input of rank `rank` is.
    fn batch_dim(&self, rank: usize) -> usize {
        let time_major_batch = rank - 2;
        if self.config.batch_first {
            time_major_batch - 1
        } else {
            time_major_batch
        }
    }

    /// Checks an input's rank, width and batch against the layer and `batch` (the state's).
    fn check_input(&self, x: &Tensor, batch: i64) -> Result<()> {
        let size = x.size();
        let layout = if self.config.batch_first {
            "[batch, time, features]"
        } else {
            "[time, batch, features]"
        };
        match (size.len(), self.config.population) {
            (3, _) => {}
            (4, Some(k)) if size[0] == k => {}
            (4, Some(k)) => bail!(
                "{} input has shape {size:?}: dimension 0 has size {}, but the population has {k} members",
                self.kind,
                size[0]
            ),
            (_, Some(k)) => bail!(
                "{} input has shape {size:?} (rank {}), expected {layout} or [{k}, …] per member (rank 3 or 4)",
                self.kind,
                size.len()
            ),
            (_, None) => bail!(
                "{} input has shape {size:?} (rank {}), expected {layout} (rank 3)",
                self.kind,
                size.len()
            ),
        }
        let last = size.len() - 1;
        ensure!(
            size[last] == self.input,
            "{} input has shape {size:?}: dimension {last} (features) has size {}, the layer expects {}",
            self.kind,
            size[last],
            self.input
        );
        let (dtype, device) = self.options();
        ensure!(
            x.kind() == dtype && x.device() == device,
            "{} input is {:?} on {:?} but the layer's parameters are {:?} on {:?}",
            self.kind,
            x.kind(),
            x.device(),
            dtype,
            device
        );
        let b = batch;
        let bd = self.batch_dim(size.len());
        if size[bd] != b {
            let other = if self.config.batch_first {
                bd + 1
            } else {
                bd - 1
            };
            let hint = if size[other] == b {
                format!(
                    "; it looks {} — set batch_first = {} or transpose the input",
                    if self.config.batch_first {
                        "time-major ([time, batch, …])"
                    } else {
                        "batch-first ([batch, time, …])"
                    },
                    !self.config.batch_first
                )
            } else {
                String::new()
            };
            bail!(
                    "{} input has shape {size:?}: dimension {bd} is the batch (batch_first = {}) and has size {}, \
                     but the state's batch is {b}{hint}",
                    self.kind,
                    self.config.batch_first,
                    size[bd]
                );
        }
        Ok(())
    }

    fn check_state(&self, state: &RnnState, batch: i64) -> Result<()> {
        let want = self.state_shape(batch);
        ensure!(
            state.h.size() == want,
            "{} state h has shape {:?}, expected {want:?} ([layers × directions, {}batch, hidden])",
            self.kind,
            state.h.size(),
            if self.config.population.is_some() {
                "K, "
            } else {
                ""
            }
        );
        match (&state.c, self.kind.has_cell_state()) {
            (Some(c), true) => ensure!(
                c.size() == want,
                "{} state c has shape {:?}, expected {want:?}",
                self.kind,
                c.size()
            ),
            (None, true) => bail!("{} needs a state c beside h", self.kind),
            (Some(_), false) => bail!("{} has no memory cell, but the state has a c", self.kind),
            (None, false) => {}
        }
        Ok(())
    }

    /// The outputs of the last layer for every step (`[batch, time, directions·hidden]` batch-first,
    /// `[time, batch, …]` time-major, a leading `[K]` for a population) and the final state, from `state`;
    /// `train` turns dropout between layers on. The fallible form of [`nn::RNN::seq_init`].
    pub fn f_seq_init(
        &self,
        input: &Tensor,
        state: &RnnState,
        train: bool,
    ) -> Result<(Tensor, RnnState)> {
        let hs = state.h.size();
        ensure!(
            hs.len() >= 2,
            "{} state h has shape {hs:?}, expected {:?}",
            self.kind,
            self.state_shape(-1)
        );
        let batch = hs[hs.len() - 2];
        self.check_input(input, batch)?;
        self.check_state(state, batch)?;
        let rank = input.dim() as i64;
        // Time-major for the cells: [T, B, D] or [K, T, B, D].
        let mut x = if self.config.batch_first {
            input.transpose(rank - 3, rank - 2)
        } else {
            input.shallow_clone()
        };
        let dirs = self.config.directions();
        let (mut hs, mut cs) = (Vec::new(), Vec::new());
        let last_layer = self.layers.len() - 1;
        for (l, layer) in self.layers.iter().enumerate() {
            // The input's time dimension (a shared input is rank 3 in layer 0) and the outputs' ([K, T, …] for a
            // population).
            let x_time = x.dim() as i64 - 3;
            let out_time = i64::from(self.config.population.is_some());
            let mut outs = Vec::with_capacity(dirs as usize);
            for (d, direction) in layer.iter().enumerate() {
                let i = l as i64 * dirs + d as i64;
                let s = State {
                    h: state.h.get(i),
                    c: state.c.as_ref().map(|c| c.get(i)),
                };
                let (out, last) = if d == 0 {
                    direction.forward(&x, Some(&s))?
                } else {
                    let (out, last) = direction.forward(&x.flip([x_time]), Some(&s))?;
                    (out.flip([out_time]), last)
                };
                outs.push(out);
                hs.push(last.h);
                cs.extend(last.c);
            }
            x = if outs.len() == 1 {
                outs.pop().expect("one direction")
            } else {
                Tensor::cat(&outs, -1)
            };
            if l < last_layer && train && self.config.dropout > 0.0 {
                x = x.dropout(self.config.dropout, true);
            }
        }
        let out = if self.config.batch_first {
            let r = x.dim() as i64;
            x.transpose(r - 3, r - 2)
        } else {
            x
        };
        let state = RnnState {
            h: Tensor::stack(&hs, 0),
            c: (!cs.is_empty()).then(|| Tensor::stack(&cs, 0)),
        };
        Ok((out, state))
    }

    /// One step: `input` `[batch, features]` (`[K, batch, features]` per member) → the next state. The fallible
    /// form of [`nn::RNN::step`].
    pub fn f_step(&self, input: &Tensor, state: &RnnState, train: bool) -> Result<RnnState> {
        let rank = input.dim() as i64;
        ensure!(
            rank == 2 || (rank == 3 && self.config.population.is_some()),
            "{} step input has shape {:?}, expected [batch, features]{}",
            self.kind,
            input.size(),
            if self.config.population.is_some() {
                " or [K, batch, features]"
            } else {
                ""
            }
        );
        // A time dimension of one, where the layout puts it.
        let time = if self.config.batch_first {
            rank - 1
        } else {
            rank - 2
        };
        let (_, state) = self.f_seq_init(&input.unsqueeze(time), state, train)?;
        Ok(state)
    }

    /// The batch size of an input, wherever the layout puts it.
    fn input_batch(&self, input: &Tensor) -> Result<i64> {
        let size = input.size();
        ensure!(
            size.len() >= 3,
            "{} input has shape {size:?} (rank {}), expected rank 3 ({}) or 4 for a population",
            self.kind,
            size.len(),
            if self.config.batch_first {
                "[batch, time, features]"
            } else {
                "[time, batch, features]"
            }
        );
        Ok(size[self.batch_dim(size.len())])
    }

    /// [`Rnn::f_seq_init`] from a zero state.
    pub fn f_seq(&self, input: &Tensor, train: bool) -> Result<(Tensor, RnnState)> {
        let state = self.zero_state_for(self.input_batch(input)?);
        self.f_seq_init(input, &state, train)
    }
}

/// tch's recurrent interface. Its methods panic where [`Rnn::f_seq_init`], [`Rnn::f_step`] and [`Rnn::f_seq`]
/// return an error (a wrong input or state shape), as tch's own layers do; dropout follows
/// [`RnnConfig::train`].
impl nn::RNN for Rnn {
    type State = RnnState;

    fn zero_state(&self, batch_dim: i64) -> RnnState {
        self.zero_state_for(batch_dim)
    }

    fn step(&self, input: &Tensor, state: &RnnState) -> RnnState {
        self.f_step(input, state, self.config.train)
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    fn seq(&self, input: &Tensor) -> (Tensor, RnnState) {
        self.f_seq(input, self.config.train)
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    fn seq_init(&self, input: &Tensor, state: &RnnState) -> (Tensor, RnnState) {
        self.f_seq_init(input, state, self.config.train)
            .unwrap_or_else(|e| panic!("{e:#}"))
    }
}

/// The outputs of every step from a zero state (dropout between layers when `train`); panics on a wrong input
/// shape, as tch's layers do ([`Rnn::f_seq`] returns the error).
impl nn::ModuleT for Rnn {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.f_seq(xs, train).unwrap_or_else(|e| panic!("{e:#}")).0
    }
}
