//! rnnlab: custom tanh-RNN, GRU and LSTM cells built from libtorch tensor ops, proven equal to PyTorch's, set beside
//! libtorch's fused kernels, and used to reproduce Chung, Gulcehre, Cho & Bengio (2014).
//!
//! The modules follow the pipeline: [`data`] (the music benchmarks and the FSDD speech stand-in, read, verified,
//! batched and prepared for training) → [`cells`] (the units and libtorch's built-ins) → [`model`] (recurrent layer +
//! Bernoulli output for music, mixture of Gaussians for speech) → [`train`] (the paper's recipe, for a population of
//! models at once) → [`run`] (the run directory a training writes and everything else reads: its records, checkpoint,
//! best member and best model) → [`reproduce`] (Table 2) → [`report`] (tables and charts). [`validate`] (proof that
//! the maths matches PyTorch) and [`bench`] (how fast each implementation runs) are the cells' other consumers;
//! [`generate`] samples a trained run: audio from a speech run, MIDI and a piano roll from a music run;
//! [`compare`] trains the custom cells beside libtorch's built-ins and checks that they learn the same.
//!
//! Beside the pipeline: [`config`] is the single source of training defaults; [`paper`] holds the paper's facts
//! (Table 1 sizes, Table 2 values, dataset and unit order); [`rng`] the seeded generators; [`atomic`] the one atomic
//! file writer every module uses; [`device`] the CPU/CUDA and dtype choices every command shares.

#![warn(missing_docs)]

pub mod atomic;
pub mod bench;
pub mod cells;
pub mod compare;
pub mod config;
pub mod cuda_graph;
pub mod data;
pub mod device;
pub mod eval;
pub mod generate;
pub mod model;
pub mod paper;
pub mod report;
pub mod reproduce;
pub mod rng;
pub mod run;
pub mod sweep;
pub mod train;
pub mod validate;

pub use cells::{
    load_parameters, new_cell, zero_state, BuiltinLayer, Cell, CellConfig, CellKind, CustomLayer,
    Implementation, Init, SequenceLayer, State,
};
pub use device::{DeviceArg, Dtype};
