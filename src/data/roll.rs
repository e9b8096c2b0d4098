//! A piece of music as a binary piano roll ([`PianoRoll`]), a dataset's three splits of pieces ([`MusicData`]), and
//! how training cuts pieces into chunks. The file formats that produce them are read in [`super::mat`] and
//! [`super::pickle`]; [`super::music`] finds a dataset's file and reads it.

use super::Split;
use anyhow::{bail, ensure, Result};

/// Keys per frame: MIDI notes 21 (A0) to 108 (C8).
pub const KEYS: usize = 88;
/// MIDI note of key 0.
pub const LOWEST_NOTE: i64 = 21;
/// MIDI note of key 87.
pub const HIGHEST_NOTE: i64 = LOWEST_NOTE + KEYS as i64 - 1;

/// One piece: a binary piano roll of `len()` frames × [`KEYS`] keys, stored row-major (`x[t * 88 + k]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PianoRoll {
    frames: usize,
    keys: Vec<u8>,
}

impl PianoRoll {
    /// From row-major values; every value must be 0 or 1 and there must be at least one frame.
    pub fn new(frames: usize, keys: Vec<u8>) -> Result<Self> {
        ensure!(frames > 0, "a piano roll needs at least one frame");
        ensure!(
            keys.len() == frames * KEYS,
            "{} values do not make {frames} frames of {KEYS} keys",
            keys.len()
        );
        if let Some(i) = keys.iter().position(|&v| v > 1) {
            bail!(
                "value {} at frame {}, key {} (expected 0 or 1)",
                keys[i],
                i / KEYS,
                i % KEYS
            );
        }
        Ok(PianoRoll { frames, keys })
    }

    /// From the notes sounding in each frame (MIDI numbers 21..108; a repeated note counts once).
    pub fn from_notes<N: AsRef<[i64]>>(steps: &[N]) -> Result<Self> {
        ensure!(!steps.is_empty(), "a piano roll needs at least one frame");
        let mut keys = vec![0u8; steps.len() * KEYS];
        for (t, notes) in steps.iter().enumerate() {
            for &note in notes.as_ref() {
                ensure!(
                    (LOWEST_NOTE..=HIGHEST_NOTE).contains(&note),
                    "frame {t}: note {note} is outside the piano range {LOWEST_NOTE}..{HIGHEST_NOTE}"
                );
                keys[t * KEYS + (note - LOWEST_NOTE) as usize] = 1;
            }
        }
        Ok(PianoRoll {
            frames: steps.len(),
            keys,
        })
    }

    /// Number of frames `T`.
    pub fn len(&self) -> usize {
        self.frames
    }

    /// Always false: a roll has at least one frame.
    pub fn is_empty(&self) -> bool {
        self.frames == 0
    }

    /// The 88 keys of frame `t`.
    pub fn frame(&self, t: usize) -> &[u8] {
        &self.keys[t * KEYS..(t + 1) * KEYS]
    }

    /// All values, row-major `[T, 88]`.
    pub fn as_slice(&self) -> &[u8] {
        &self.keys
    }

    /// MIDI notes sounding in frame `t`, ascending.
    pub fn notes(&self, t: usize) -> Vec<i64> {
        self.frame(t)
            .iter()
            .enumerate()
            .filter(|(_, &v)| v == 1)
            .map(|(k, _)| LOWEST_NOTE + k as i64)
            .collect()
    }

    /// Number of ones.
    pub fn active_notes(&self) -> usize {
        self.keys.iter().map(|&v| v as usize).sum()
    }
}

/// Cuts every piece into chunks of at most `chunk_len` predicted frames (consecutive chunks share one frame, so
/// every frame is predicted exactly once). `chunk_len = 0` keeps whole pieces.
pub fn chunk_pieces(pieces: &[PianoRoll], chunk_len: usize) -> Result<Vec<PianoRoll>> {
    if chunk_len == 0 {
        return Ok(pieces.to_vec());
    }
    let mut out = Vec::new();
    for p in pieces {
        let t = p.len();
        let mut start = 0;
        while start + 1 < t {
            let end = (start + chunk_len + 1).min(t);
            out.push(PianoRoll::new(
                end - start,
                p.as_slice()[start * KEYS..end * KEYS].to_vec(),
            )?);
            start = end - 1;
        }
    }
    Ok(out)
}

/// The three splits of one benchmark, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MusicData {
    /// Training pieces.
    pub train: Vec<PianoRoll>,
    /// Validation pieces.
    pub valid: Vec<PianoRoll>,
    /// Test pieces.
    pub test: Vec<PianoRoll>,
}

impl MusicData {
    /// The pieces of one split.
    pub fn split(&self, split: Split) -> &[PianoRoll] {
        match split {
            Split::Train => &self.train,
            Split::Valid => &self.valid,
            Split::Test => &self.test,
        }
    }

    pub(super) fn split_mut(&mut self, split: Split) -> &mut Vec<PianoRoll> {
        match split {
            Split::Train => &mut self.train,
            Split::Valid => &mut self.valid,
            Split::Test => &mut self.test,
        }
    }
}
