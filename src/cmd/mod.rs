//! One file per group of subcommands: their clap arguments and what each command does with them.

pub(crate) mod checks;
pub(crate) mod experiments;
pub(crate) mod outputs;

pub(crate) use checks::*;
pub(crate) use experiments::*;
pub(crate) use outputs::*;
