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
use super::{Dataset, Task};
use anyhow::{anyhow, bail, ensure, Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The two on-disk forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MusicFormat {
    /// MAT-file level 5 (`.mat`), read by rnnlab's own reader.
    Mat,
    /// Boulanger-Lewandowski's Python pickle (`.pickle`).
    Pickle,
}

/// `Ok` for a music dataset; for fsdd, an error naming it, for the functions that only read or fetch music files.
pub fn ensure_music(dataset: Dataset) -> Result<()> {
    ensure!(
        dataset.task() == Task::Music,
        "{} ({}) is not a music dataset (expected jsb, nottingham, musedata or piano)",
        dataset.title(),
        dataset.name()
    );
    Ok(())
}

/// The files that may hold `dataset` under `<data_dir>/music/`, in the order they are tried; none for fsdd.
pub fn candidate_files(data_dir: &Path, dataset: Dataset) -> Vec<(PathBuf, MusicFormat)> {
    let (Some(stem), Some(upstream_pickle)) = (dataset.file_stem(), dataset.upstream_pickle_name())
    else {
        return vec![];
    };
    let dir = data_dir.join("music");
    vec![
        (dir.join(format!("{stem}.mat")), MusicFormat::Mat),
        (dir.join(format!("{stem}.pickle")), MusicFormat::Pickle),
        (dir.join(upstream_pickle), MusicFormat::Pickle),
    ]
}

/// The first file present for `dataset` (see [`candidate_files`]), or an error saying where it looked and what to
/// do (or, for fsdd, that it is not a music dataset).
pub fn find_music_file(data_dir: &Path, dataset: Dataset) -> Result<(PathBuf, MusicFormat)> {
    ensure_music(dataset)?;
    let candidates = candidate_files(data_dir, dataset);
    if let Some(found) = candidates.iter().find(|(p, _)| p.is_file()) {
        return Ok(found.clone());
    }
    bail!(
        "{} ({}) not found: looked for {}. Download it with `rnnlab data fetch --dataset {}`, or point \
         --data-dir / RNNLAB_DATA at a directory holding music/{}.mat",
        dataset.title(),
        dataset.name(),
        candidates
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        dataset.name(),
        dataset.file_stem().unwrap_or_default()
    )
}

/// Finds and reads the music dataset `dataset` under `data_dir`; returns the file it read and the validated data.
pub fn load_music(data_dir: &Path, dataset: Dataset) -> Result<(PathBuf, MusicData)> {
    let (path, format) = find_music_file(data_dir, dataset)?;
    let data = read_music_file(&path, format).map_err(|e| {
        anyhow!(
            "{e:#} (check the file with `rnnlab data verify`; re-download it with `rnnlab data fetch --dataset {} \
             --force`)",
            dataset.name()
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
    /// Frames of the shortest piece.
    pub len_min: usize,
    /// Frames of the longest piece.
    pub len_max: usize,
    /// Mean frames per piece.
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
    /// Statistics of a split's piano rolls (zeros for an empty split).
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
