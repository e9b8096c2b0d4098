//! rnnlab: custom tanh-RNN, GRU and LSTM cells built from libtorch tensor ops, proven equal to PyTorch's, set beside
//! libtorch's fused kernels, and used to reproduce Chung, Gulcehre, Cho & Bengio (2014).
//!
//! The modules follow the pipeline: [`data`] (the music benchmarks and the FSDD speech stand-in, read, verified,
//! batched and prepared for training) → [`cells`] (the units and libtorch's built-ins) → [`model`] (recurrent layer +
//! Bernoulli output for music, mixture of Gaussians for speech) → [`train`] (the paper's recipe, for a population of
//! models at once) → [`run`] (the run directory a training writes and everything else reads: its records, checkpoint,
//! best member and best model) → [`reproduce`] (Table 2) → [`report`] (tables and charts). [`validate`] (proof that
//! the maths matches PyTorch) and [`bench`](mod@bench) (how fast each implementation runs) are the cells' other consumers;
//! [`generate`] samples a trained run: audio from a speech run, MIDI and a piano roll from a music run;
//! [`compare`] trains the custom cells beside libtorch's built-ins and checks that they learn the same.
//!
//! [`nn`] is the way in for a tch-rs user: the units as tch modules on a `VarStore`.
//!
//! Beside the pipeline: [`config`] is the single source of training defaults; [`paper`] holds the paper's facts
//! (Table 1 sizes, Table 2 values, dataset and unit order); [`rng`] the seeded generators; [`atomic`] the one atomic
//! file writer every module uses; [`device`] the CPU/CUDA and dtype choices every command shares.
//!
//! # Use as a library
//!
//! [`nn`] puts any unit on a tch `VarStore`, as tch's own `nn::gru`: its parameters are the VarStore's (under
//! PyTorch's names), it implements tch's `nn::RNN` and `nn::ModuleT`, and a population of `K` models trains at once
//! with per-member learning rates ([`RmsProp`]). `examples/char_rnn.rs` is tch-rs's char-rnn with any unit;
//! `examples/population.rs` trains a learning-rate search as one population.
//!
//! ```
//! use rnnlab::{nn::RnnConfig, CellKind};
//! use tch::nn::{Module, OptimizerConfig, RNN};
//! use tch::{nn, Device, Kind, Tensor};
//!
//! # fn main() -> anyhow::Result<()> {
//! let vs = nn::VarStore::new(Device::Cpu);
//! let rnn = rnnlab::nn::rnn(vs.root() / "rnn", CellKind::Mut1, 10, 32, RnnConfig::default())?;
//! let out = nn::linear(vs.root() / "out", 32, 10, Default::default());
//! let mut opt = nn::Adam::default().build(&vs, 1e-3)?;
//! let x = Tensor::randn([8, 20, 10], (Kind::Float, Device::Cpu)); // [batch, time, features]
//! let (h, _) = rnn.seq(&x.narrow(1, 0, 19));
//! let loss = out.forward(&h).mse_loss(&x.narrow(1, 1, 19), tch::Reduction::Mean);
//! opt.backward_step(&loss);
//! # Ok(())
//! # }
//! ```
//!
//! Cargo feature `cli` (default) builds the `rnnlab` command and the modules only it needs ([`report`], [`bench`](mod@bench),
//! [`reproduce`], [`sweep`], [`compare`], [`generate`], `data::fetch`); `default-features = false` leaves the
//! cells, [`nn`], the data readers, the model, the training core, run directories, evaluation and validation,
//! without clap, plotters, ureq, indicatif, midly or statrs.

#![warn(missing_docs)]

pub mod atomic;
pub mod autograd;
#[cfg(feature = "cli")]
pub mod bench;
mod bernoulli;
pub mod cells;
#[cfg(feature = "cli")]
pub mod compare;
pub mod config;
pub mod cuda_graph;
pub mod data;
pub mod device;
pub mod eval;
#[cfg(feature = "cli")]
pub mod generate;
pub mod model;
pub mod nn;
pub mod paper;
#[cfg(feature = "cli")]
pub mod report;
#[cfg(feature = "cli")]
pub mod reproduce;
pub mod rng;
pub mod run;
#[cfg(feature = "cli")]
pub mod sweep;
pub mod train;
pub mod transfer;
pub mod validate;

pub use cells::{
    load_parameters, new_cell, zero_state, BuiltinLayer, Cell, CellConfig, CellKind, CustomLayer,
    Implementation, Init, SequenceLayer, State,
};
pub use device::{DeviceArg, Dtype};
pub use nn::{rnn, Rnn, RnnConfig, RnnState};
pub use rng::Rng;
pub use train::rmsprop::RmsProp;
