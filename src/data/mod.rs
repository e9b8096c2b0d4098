//! Data: the polyphonic music benchmarks, read, verified, fetched and batched.
//!
//! - [`music`]: MAT v5 and Boulanger pickle readers → validated binary piano rolls; split statistics.
//! - [`batch`]: next-step batches (`x = seq[:-1]`, `y = seq[1:]`), padded with a mask, gathered on the device.
//! - [`fetch`]: downloads with pinned SHA-256 sums, atomic writes, and `verify`.
//! - [`cli`]: the `rnnlab data` subcommands.
//!
//! Files live under a data directory: `--data-dir`, else `$RNNLAB_DATA`, else `./data` ([`resolve_data_dir`]), with
//! the music files in `<dir>/music/<stem>.mat` (or `.pickle`).

pub mod batch;
pub mod cli;
pub mod fetch;
pub mod music;

pub use batch::{plan_epoch, Batch, BatchConfig, DeviceSplit, EpochPlan};
pub use cli::DataArgs;
pub use fetch::{fetch_music, verify_music, FetchOptions, FetchOutcome, FileStatus};
pub use music::{
    load_music, read_mat, read_pickle, reference_checksum, MusicData, MusicSet, PianoRoll, Split,
    SplitStats, KEYS,
};

use std::path::{Path, PathBuf};

/// Environment variable naming the data directory.
pub const DATA_DIR_ENV: &str = "RNNLAB_DATA";

/// The data directory: `explicit` (from `--data-dir`), else `$RNNLAB_DATA` if set and non-empty, else `./data`.
pub fn resolve_data_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir.to_path_buf();
    }
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from("data"),
    }
}
