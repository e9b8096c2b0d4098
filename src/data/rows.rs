//! Device batches of the datasets a user gives: token sequences ([`TokenSplit`]: one-hot inputs, token-id targets)
//! and feature frames ([`FrameSplit`]: NPZ sequences of `D` values per step). Both work as [`super::DeviceSplit`]
//! does for piano rolls: the split is copied to the device once, end to end with one padding row after it, and a
//! batch is a gather of `x = seq[:-1]`, `y = seq[1:]` padded to the longest sequence with a mask.
//!
//! | tensor | tokens | frames |
//! |---|---|---|
//! | `x` | `[L, B, V]` one-hot, float kind | `[L, B, D]`, float kind |
//! | `y` | `[L, B]` token ids, int64 | `[L, B, D]`, float kind |
//! | `mask` | `[L, B]`, float kind | same |

use super::batch::{plan_epoch, Batch, BatchConfig, BatchSource, EpochPlan};
use crate::transfer::upload_i64;
use anyhow::{ensure, Result};
use tch::{Device, Kind, Tensor};

/// Rows end to end on the device, one padding row last; `x`/`y` index gathers.
#[derive(Debug)]
struct Rows {
    /// `[N + 1]` int64 (tokens) or `[N + 1, D]` float (frames).
    data: Tensor,
    starts: Vec<i64>,
    lengths: Vec<usize>,
    device: Device,
}

impl Rows {
    fn plan(&self, config: &BatchConfig, epoch: u64) -> Result<EpochPlan> {
        plan_epoch(&self.lengths, config, epoch)
    }

    /// Gathered `x` and `y` rows (`[L·B, ...]`), the `[L, B]` validity, and the steps of each member.
    fn gather(&self, members: &[usize]) -> Result<(Tensor, Tensor, Tensor, Vec<i64>)> {
        ensure!(!members.is_empty(), "a batch needs at least one sequence");
        for &i in members {
            ensure!(
                i < self.lengths.len() && self.lengths[i] > 1,
                "sequence {i} is out of range or predicts nothing"
            );
        }
        let steps: Vec<i64> = members
            .iter()
            .map(|&i| self.lengths[i] as i64 - 1)
            .collect();
        let starts: Vec<i64> = members.iter().map(|&i| self.starts[i]).collect();
        let time = *steps.iter().max().expect("non-empty");
        let pad = self.data.size()[0] - 1;
        let t = Tensor::f_arange(time, (Kind::Int64, self.device))?.f_unsqueeze(1)?;
        let steps_t = upload_i64(&steps, self.device)?.f_unsqueeze(0)?;
        let starts_t = upload_i64(&starts, self.device)?.f_unsqueeze(0)?;
        let valid = t.f_lt_tensor(&steps_t)?;
        let rows = |offset: i64| -> Result<Tensor> {
            let idx = (&starts_t + &t + offset).f_where_scalarother(&valid, pad)?;
            Ok(self.data.f_index_select(0, &idx.f_reshape([-1])?)?)
        };
        Ok((rows(0)?, rows(1)?, valid, steps))
    }
}

fn layout(lengths: &[usize]) -> (Vec<i64>, usize) {
    let mut starts = Vec::with_capacity(lengths.len());
    let mut n = 0usize;
    for &l in lengths {
        starts.push(n as i64);
        n += l;
    }
    (starts, n)
}

/// Token sequences on the device: one-hot inputs over `vocab`, token-id targets.
#[derive(Debug)]
pub struct TokenSplit {
    rows: Rows,
    vocab: i64,
}

impl TokenSplit {
    /// Copies `seqs` (ids below `vocab`) to `device`.
    pub fn new(seqs: &[Vec<u32>], vocab: usize, device: Device) -> Result<Self> {
        let lengths: Vec<usize> = seqs.iter().map(Vec::len).collect();
        let (starts, n) = layout(&lengths);
        let mut flat: Vec<i64> = Vec::with_capacity(n + 1);
        for s in seqs {
            for &t in s {
                ensure!(
                    (t as usize) < vocab,
                    "token {t} is outside the vocabulary of {vocab}"
                );
                flat.push(t as i64);
            }
        }
        flat.push(0);
        Ok(TokenSplit {
            rows: Rows {
                data: Tensor::f_from_slice(&flat)?.f_to_device(device)?,
                starts,
                lengths,
                device,
            },
            vocab: vocab as i64,
        })
    }

    /// Predicted tokens of the split: `Σ (T − 1)`.
    pub fn predicted(&self) -> usize {
        self.rows.lengths.iter().map(|&t| t.saturating_sub(1)).sum()
    }
}

impl BatchSource for TokenSplit {
    fn plan(&self, config: &BatchConfig, epoch: u64) -> Result<EpochPlan> {
        self.rows.plan(config, epoch)
    }

    fn batch(&self, members: &[usize], kind: Kind) -> Result<Batch> {
        let (x, y, valid, steps) = self.rows.gather(members)?;
        let (time, b) = (valid.size()[0], valid.size()[1]);
        Ok(Batch {
            x: x.f_one_hot(self.vocab)?
                .f_to_kind(kind)?
                .f_reshape([time, b, self.vocab])?,
            y: y.f_reshape([time, b])?,
            mask: valid.f_to_kind(kind)?,
            members: members.to_vec(),
            predicted_frames: steps.iter().sum::<i64>() as usize,
            steps: steps.clone(),
        })
    }
}

/// Sequences of `dim` values per step on the device.
#[derive(Debug)]
pub struct FrameSplit {
    rows: Rows,
    dim: i64,
}

impl FrameSplit {
    /// Copies sequences of `dim` values per step (each `values.len() = T · dim`, row-major) to `device`.
    pub fn new(seqs: &[Vec<f32>], dim: usize, device: Device) -> Result<Self> {
        ensure!(dim >= 1, "frames need at least one value per step");
        let mut lengths = Vec::with_capacity(seqs.len());
        let mut flat: Vec<f32> = Vec::new();
        for (i, s) in seqs.iter().enumerate() {
            ensure!(
                s.len() % dim == 0,
                "sequence {i} holds {} values, not a whole number of steps of {dim}",
                s.len()
            );
            lengths.push(s.len() / dim);
            flat.extend_from_slice(s);
        }
        flat.extend(std::iter::repeat_n(0.0, dim));
        let (starts, n) = layout(&lengths);
        Ok(FrameSplit {
            rows: Rows {
                data: Tensor::f_from_slice(&flat)?
                    .f_view([(n + 1) as i64, dim as i64])?
                    .f_to_device(device)?,
                starts,
                lengths,
                device,
            },
            dim: dim as i64,
        })
    }

    /// Predicted steps of the split: `Σ (T − 1)`.
    pub fn predicted(&self) -> usize {
        self.rows.lengths.iter().map(|&t| t.saturating_sub(1)).sum()
    }
}

impl BatchSource for FrameSplit {
    fn plan(&self, config: &BatchConfig, epoch: u64) -> Result<EpochPlan> {
        self.rows.plan(config, epoch)
    }

    fn batch(&self, members: &[usize], kind: Kind) -> Result<Batch> {
        let (x, y, valid, steps) = self.rows.gather(members)?;
        let (time, b) = (valid.size()[0], valid.size()[1]);
        let shape = [time, b, self.dim];
        Ok(Batch {
            x: x.f_reshape(shape)?.f_to_kind(kind)?,
            y: y.f_reshape(shape)?.f_to_kind(kind)?,
            mask: valid.f_to_kind(kind)?,
            members: members.to_vec(),
            predicted_frames: steps.iter().sum::<i64>() as usize,
            steps: steps.clone(),
        })
    }
}

/// Cuts frame sequences (`dim` values per step) into chunks of at most `chunk_len` predicted steps; consecutive
/// chunks share one step. `chunk_len = 0` keeps whole sequences.
pub fn chunk_frames(seqs: &[Vec<f32>], dim: usize, chunk_len: usize) -> Vec<Vec<f32>> {
    if chunk_len == 0 || dim == 0 {
        return seqs.to_vec();
    }
    let mut out = Vec::new();
    for s in seqs {
        let steps = s.len() / dim;
        let mut start = 0;
        while start + 1 < steps {
            let end = (start + chunk_len + 1).min(steps);
            out.push(s[start * dim..end * dim].to_vec());
            start = end - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_batches_are_one_hot_inputs_and_next_token_targets() {
        let split = TokenSplit::new(&[vec![1, 2, 3], vec![3, 1]], 4, Device::Cpu).unwrap();
        assert_eq!(split.predicted(), 3);
        let b = split.batch(&[0, 1], Kind::Float).unwrap();
        assert_eq!(b.x.size(), [2, 2, 4]);
        assert_eq!(
            Vec::<i64>::try_from(&b.y.reshape([-1])).unwrap(),
            vec![2, 1, 3, 0]
        );
        assert_eq!(
            Vec::<f32>::try_from(&b.mask.reshape([-1])).unwrap(),
            vec![1.0, 1.0, 1.0, 0.0]
        );
        // x[0, 0] is token 1, x[1, 1] is padding (token 0).
        assert_eq!(
            Vec::<f32>::try_from(&b.x.get(0).get(0)).unwrap(),
            vec![0.0, 1.0, 0.0, 0.0]
        );
        assert_eq!(b.predicted_frames, 3);
        assert!(TokenSplit::new(&[vec![4]], 4, Device::Cpu).is_err());
    }

    #[test]
    fn frame_batches_shift_by_one_step() {
        let split = FrameSplit::new(&[vec![1., 2., 3., 4., 5., 6.]], 2, Device::Cpu).unwrap();
        let b = split.batch(&[0], Kind::Double).unwrap();
        assert_eq!(b.x.size(), [2, 1, 2]);
        assert_eq!(
            Vec::<f64>::try_from(&b.y.reshape([-1])).unwrap(),
            vec![3., 4., 5., 6.]
        );
        let chunks = chunk_frames(&[vec![1., 2., 3., 4., 5., 6.]], 2, 1);
        assert_eq!(chunks, vec![vec![1., 2., 3., 4.], vec![3., 4., 5., 6.]]);
    }
}
