//! Next-step batches of piano rolls, built on the device from one copy of the split.
//!
//! A piece of `T` frames gives `T − 1` predictions: `x = seq[:-1]`, `y = seq[1:]` (the paper, §4). A batch
//! of `B` pieces is padded to the longest, `L = max(T_b) − 1`:
//!
//! | tensor | shape | dtype |
//! |---|---|---|
//! | `x` | `[L, B, 88]` | the requested float kind; zero in padding |
//! | `y` | `[L, B, 88]` | same |
//! | `mask` | `[L, B]` | same; 1 where `t < T_b − 1` (a predicted frame), 0 in padding |
//!
//! [`DeviceSplit::new`] copies the whole split to the device once, as one `[frames + 1, 88]` uint8 tensor (the
//! pieces end to end, then an all-zero row that padding points at). A batch is then a gather on the device
//! (`index_select`), driven by two `[B]` index vectors; no piano-roll data crosses the bus per batch, and the
//! batch membership can change every epoch.
//!
//! An epoch's batches come from [`plan_epoch`]: seeded shuffling (epoch `e` draws from stream `e` of a ChaCha8
//! generator seeded with [`BatchConfig::seed`], so any epoch can be replayed alone) and, optionally, length
//! bucketing (pieces sorted by length, ties in shuffled order, then the batch order shuffled), which keeps the
//! padding fraction small when `batch_size > 1`. Pieces of one frame predict nothing and are left out.

use super::music::{PianoRoll, KEYS};
use crate::transfer::upload_i64;
use anyhow::{ensure, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

/// How an epoch is cut into batches.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BatchConfig {
    /// Pieces per batch. Default 1: the authors' configs update after every sequence.
    pub batch_size: usize,
    /// Shuffle the pieces (and the batch order) every epoch. Default true; evaluation turns it off.
    pub shuffle: bool,
    /// Put pieces of similar length in the same batch (sorted by length, ties in shuffled order; the batch order is
    /// still shuffled). Default false; worth turning on when `batch_size > 1`.
    pub bucket: bool,
    /// Seed of the shuffles. Default 2014.
    pub seed: u64,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            batch_size: 1,
            shuffle: true,
            bucket: false,
            seed: 2014,
        }
    }
}

/// The batches of one epoch, as piece indices into the split, and what padding they cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochPlan {
    /// Each batch's pieces, in column order.
    pub batches: Vec<Vec<usize>>,
    /// Predicted frames over all batches: `Σ (T − 1)`.
    pub predicted_frames: usize,
    /// Time slots over all batches: `Σ L_batch · B_batch` (predicted frames plus padding).
    pub slots: usize,
}

impl EpochPlan {
    /// Share of the `[L, B]` slots that are padding.
    pub fn padding_fraction(&self) -> f64 {
        if self.slots == 0 {
            0.0
        } else {
            1.0 - self.predicted_frames as f64 / self.slots as f64
        }
    }
}

/// Cuts pieces of the given lengths (frames) into the batches of epoch `epoch`. Deterministic in
/// `(lengths, config, epoch)`.
pub fn plan_epoch(lengths: &[usize], config: &BatchConfig, epoch: u64) -> Result<EpochPlan> {
    ensure!(config.batch_size > 0, "batch_size must be at least 1");
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    rng.set_stream(epoch);
    let mut order: Vec<usize> = (0..lengths.len()).filter(|&i| lengths[i] > 1).collect();
    if config.shuffle {
        order.shuffle(&mut rng);
    }
    if config.bucket {
        // Stable, so equal lengths keep their shuffled order and bucket membership still varies by epoch.
        order.sort_by_key(|&i| lengths[i]);
    }
    let mut batches: Vec<Vec<usize>> = order
        .chunks(config.batch_size)
        .map(<[usize]>::to_vec)
        .collect();
    if config.shuffle {
        batches.shuffle(&mut rng);
    }
    let predicted_frames = batches.iter().flatten().map(|&i| lengths[i] - 1).sum();
    let slots = batches
        .iter()
        .map(|b| b.len() * b.iter().map(|&i| lengths[i] - 1).max().unwrap_or(0))
        .sum();
    Ok(EpochPlan {
        batches,
        predicted_frames,
        slots,
    })
}

/// One padded batch (see the module doc for shapes).
#[derive(Debug)]
pub struct Batch {
    /// `[L, B, 88]` inputs `seq[:-1]`.
    pub x: Tensor,
    /// `[L, B, 88]` targets `seq[1:]`.
    pub y: Tensor,
    /// `[L, B]`, 1 at predicted frames.
    pub mask: Tensor,
    /// The pieces in the batch's columns (indices into the split).
    pub members: Vec<usize>,
    /// `Σ (T_b − 1)`, the number of ones in `mask`.
    pub predicted_frames: usize,
    /// Each column's predicted steps `T_b − 1` (its ones in `mask` are rows `0..T_b − 1`), kept on the host.
    pub steps: Vec<i64>,
}

impl Batch {
    /// Predicted frames in the time slice `start..start + len`, counted from [`Batch::steps`] on the host (no read
    /// of `mask` from the device).
    pub fn frames_in(&self, start: i64, len: i64) -> usize {
        self.steps
            .iter()
            .map(|&s| (s - start).clamp(0, len))
            .sum::<i64>() as usize
    }
}

/// A split held on one device: the pieces end to end, ready to be gathered into batches.
#[derive(Debug)]
pub struct DeviceSplit {
    /// `[frames + 1, 88]` uint8; the last row is zero and is where padding points.
    rolls: Tensor,
    /// First row of each piece in `rolls`.
    starts: Vec<i64>,
    /// Frames of each piece.
    lengths: Vec<usize>,
    device: Device,
}

impl DeviceSplit {
    /// Copies the split to `device` (one transfer).
    pub fn new(pieces: &[PianoRoll], device: Device) -> Result<Self> {
        let frames: usize = pieces.iter().map(PianoRoll::len).sum();
        let mut flat = Vec::with_capacity((frames + 1) * KEYS);
        let mut starts = Vec::with_capacity(pieces.len());
        for piece in pieces {
            starts.push((flat.len() / KEYS) as i64);
            flat.extend_from_slice(piece.as_slice());
        }
        flat.extend_from_slice(&[0u8; KEYS]);
        let rolls = Tensor::f_from_slice(&flat)?
            .f_view([(frames + 1) as i64, KEYS as i64])?
            .f_to_device(device)?;
        Ok(DeviceSplit {
            rolls,
            starts,
            lengths: pieces.iter().map(PianoRoll::len).collect(),
            device,
        })
    }

    /// The device the split lives on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Number of pieces.
    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    /// Whether the split holds no piece.
    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    /// Frames of each piece.
    pub fn lengths(&self) -> &[usize] {
        &self.lengths
    }

    /// `frames − pieces`: the targets a next-step model predicts over the split.
    pub fn predicted_frames(&self) -> usize {
        self.lengths.iter().map(|&t| t.saturating_sub(1)).sum()
    }
}

/// A split that is planned into batches each epoch and gathered batch by batch on its device: music pieces
/// ([`DeviceSplit`]) or speech sequences ([`crate::data::speech::SpeechSplit`]).
pub trait BatchSource {
    /// The batches of epoch `epoch` under `config` (see [`plan_epoch`]).
    fn plan(&self, config: &BatchConfig, epoch: u64) -> Result<EpochPlan>;

    /// Gathers the entries `members` into one padded batch of float `kind`, on the split's device.
    fn batch(&self, members: &[usize], kind: Kind) -> Result<Batch>;

    /// Every batch of epoch `epoch`, built now (e.g. once for evaluation, with `shuffle: false`, and kept).
    fn batches(
        &self,
        config: &BatchConfig,
        epoch: u64,
        kind: Kind,
    ) -> Result<(EpochPlan, Vec<Batch>)> {
        let plan = self.plan(config, epoch)?;
        let batches = plan
            .batches
            .iter()
            .map(|m| self.batch(m, kind))
            .collect::<Result<_>>()?;
        Ok((plan, batches))
    }
}

impl BatchSource for DeviceSplit {
    /// The batches of epoch `epoch` under `config` (see [`plan_epoch`]).
    fn plan(&self, config: &BatchConfig, epoch: u64) -> Result<EpochPlan> {
        plan_epoch(&self.lengths, config, epoch)
    }

    /// Gathers the pieces `members` into one padded batch of float `kind`, on the split's device.
    fn batch(&self, members: &[usize], kind: Kind) -> Result<Batch> {
        ensure!(!members.is_empty(), "a batch needs at least one piece");
        for &i in members {
            ensure!(
                i < self.len(),
                "piece {i} is out of range (the split has {})",
                self.len()
            );
            ensure!(
                self.lengths[i] > 1,
                "piece {i} has one frame and predicts nothing"
            );
        }
        let steps: Vec<i64> = members
            .iter()
            .map(|&i| self.lengths[i] as i64 - 1)
            .collect();
        let starts: Vec<i64> = members.iter().map(|&i| self.starts[i]).collect();
        let time = *steps.iter().max().expect("non-empty");
        let b = members.len() as i64;
        let pad_row = self.rolls.size()[0] - 1;
        let opts = (Kind::Int64, self.device);

        let t = Tensor::f_arange(time, opts)?.f_unsqueeze(1)?; // [L, 1]
        let steps_t = upload_i64(&steps, self.device)?.f_unsqueeze(0)?; // [1, B]
        let starts_t = upload_i64(&starts, self.device)?.f_unsqueeze(0)?; // [1, B]
        let valid = t.f_lt_tensor(&steps_t)?; // [L, B]
        let x_rows = (&starts_t + &t).f_where_scalarother(&valid, pad_row)?;
        let y_rows = (&starts_t + &t + 1).f_where_scalarother(&valid, pad_row)?;
        let gather = |rows: &Tensor| -> Result<Tensor> {
            Ok(self
                .rolls
                .f_index_select(0, &rows.f_reshape([-1])?)?
                .f_reshape([time, b, KEYS as i64])?
                .f_to_kind(kind)?)
        };
        Ok(Batch {
            x: gather(&x_rows)?,
            y: gather(&y_rows)?,
            mask: valid.f_to_kind(kind)?,
            members: members.to_vec(),
            predicted_frames: steps.iter().sum::<i64>() as usize,
            steps: steps.clone(),
        })
    }
}
