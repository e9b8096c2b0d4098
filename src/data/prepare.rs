//! A dataset made ready for training ([`PreparedData`]): the subsets a config asks for, the training split cut into
//! chunks and held on the device (re-planned into batches every epoch), and the evaluation batches of every split,
//! built once. Music and speech go through the same constructor; what differs is the items (piano rolls or
//! waveforms), how they are chunked, and how a subset is chosen.

use super::batch::{Batch, BatchConfig, BatchSource, DeviceSplit, EpochPlan};
use super::music::{chunk_pieces, MusicData};
use super::npz::FrameData;
use super::rows::{chunk_frames, FrameSplit, TokenSplit};
use super::speech::{chunk_sequences, SpeechData, SpeechSplit};
use super::text::{chunk_tokens, TokenData};
use super::Split;
use anyhow::Result;
use tch::{Device, Kind};

/// One value for each split.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PerSplit<T> {
    /// The training split's value.
    pub train: T,
    /// The validation split's value.
    pub valid: T,
    /// The test split's value.
    pub test: T,
}

impl<T> PerSplit<T> {
    /// Builds each split's value, in the order train, valid, test.
    pub fn try_from_fn(mut f: impl FnMut(Split) -> Result<T>) -> Result<Self> {
        Ok(PerSplit {
            train: f(Split::Train)?,
            valid: f(Split::Valid)?,
            test: f(Split::Test)?,
        })
    }

    /// The value of `split`.
    pub fn get(&self, split: Split) -> &T {
        match split {
            Split::Train => &self.train,
            Split::Valid => &self.valid,
            Split::Test => &self.test,
        }
    }

    /// The value of `split`, mutable.
    pub fn get_mut(&mut self, split: Split) -> &mut T {
        match split {
            Split::Train => &mut self.train,
            Split::Valid => &mut self.valid,
            Split::Test => &mut self.test,
        }
    }
}

/// How a dataset is cut and batched for training; a training config gives one
/// ([`crate::config::TrainConfig::preparation`], where each field is documented under the same name).
#[derive(Clone, Debug, PartialEq)]
pub struct Preparation {
    /// Sequences (or chunks) per training update.
    pub batch_size: usize,
    /// Sequences per evaluation batch.
    pub eval_batch_size: usize,
    /// Length bucketing of the training batches (evaluation batches are always bucketed).
    pub bucket: bool,
    /// Seed of the training batches' shuffles.
    pub seed: u64,
    /// Chunk length in frames for training (0: whole pieces).
    pub chunk_len: usize,
    /// Use only N training sequences (0: all).
    pub train_subset: usize,
    /// Use only N validation and test sequences (0: all).
    pub eval_subset: usize,
    /// Music: take the subsets spread evenly over each split instead of the first N.
    pub subset_spread: bool,
    /// The float kind of the batches.
    pub kind: Kind,
}

impl Preparation {
    /// Batching of training (shuffled every epoch, bucketed if asked) and of evaluation (fixed, bucketed).
    fn batching(&self) -> (BatchConfig, BatchConfig) {
        let train = BatchConfig {
            batch_size: self.batch_size,
            shuffle: true,
            bucket: self.bucket,
            seed: self.seed,
        };
        let eval = BatchConfig {
            batch_size: self.eval_batch_size,
            shuffle: false,
            bucket: true,
            seed: 0,
        };
        (train, eval)
    }

    /// How many items of `split` to use (0: all).
    pub fn subset(&self, split: Split) -> usize {
        match split {
            Split::Train => self.train_subset,
            Split::Valid | Split::Test => self.eval_subset,
        }
    }

    /// The pieces of a music split that a run uses: the first [`Preparation::subset`] of them, or as many spread
    /// over the split with `subset_spread`.
    pub fn music_pieces<T: Clone>(&self, pieces: &[T], split: Split) -> Vec<T> {
        if self.subset_spread {
            spread_subset(pieces, self.subset(split))
        } else {
            first_subset(pieces, self.subset(split))
        }
    }
}

/// The first `n` items; all of them when `n` is 0. The music rule unless `subset_spread` is set.
pub fn first_subset<T: Clone>(v: &[T], n: usize) -> Vec<T> {
    if n == 0 {
        v.to_vec()
    } else {
        v.iter().take(n).cloned().collect()
    }
}

/// `n` items spread evenly over `v` (every ⌊len/n⌋-th, from the first); all of them when `n` is 0 or too large. The
/// speech rule: FSDD's files are sorted by digit, so the first `n` would leave digits out.
pub fn spread_subset<T: Clone>(v: &[T], n: usize) -> Vec<T> {
    if n == 0 || n >= v.len() {
        return v.to_vec();
    }
    let stride = v.len() / n;
    v.iter().step_by(stride).take(n).cloned().collect()
}

/// Data on the device, batched: training chunks re-planned every epoch, evaluation batches built once.
pub struct PreparedData {
    train: Box<dyn BatchSource + Send>,
    train_batching: BatchConfig,
    eval: PerSplit<Vec<Batch>>,
    /// Predicted frames (music) or steps (speech) of each whole split: the denominators of the per-frame NLLs.
    frames: PerSplit<usize>,
    /// Share of padding in the training batches of epoch 0.
    pub train_padding: f64,
}

impl PreparedData {
    /// The music splits: the first `train_subset` / `eval_subset` pieces (0: all; spread over the split with
    /// `subset_spread`), training pieces cut into chunks of `chunk_len` frames; evaluation on whole pieces.
    pub fn music(prep: &Preparation, data: &MusicData, device: Device) -> Result<Self> {
        let splits = PerSplit::try_from_fn(|s| Ok(prep.music_pieces(data.split(s), s)))?;
        Self::build(
            prep,
            &splits,
            |pieces| chunk_pieces(pieces, prep.chunk_len),
            |pieces| {
                let split = DeviceSplit::new(pieces, device)?;
                let frames = split.predicted_frames();
                Ok((split, frames))
            },
        )
    }

    /// The speech splits: training sequences (a spread subset when `train_subset > 0`) cut into chunks of
    /// `chunk_len` steps; evaluation on whole sequences.
    pub fn speech(prep: &Preparation, data: &SpeechData, device: Device) -> Result<Self> {
        let splits = PerSplit::try_from_fn(|s| Ok(spread_subset(data.split(s), prep.subset(s))))?;
        Self::build(
            prep,
            &splits,
            |seqs| Ok(chunk_sequences(seqs, prep.chunk_len)),
            |seqs| {
                let split = SpeechSplit::new(seqs, device)?;
                let steps = split.predicted_steps();
                Ok((split, steps))
            },
        )
    }

    /// Token sequences (text, Shakespeare, integer NPZ): subsets chosen like music's, training sequences cut into
    /// chunks of `chunk_len` predicted tokens; evaluation on whole sequences.
    pub fn tokens(prep: &Preparation, data: &TokenData, device: Device) -> Result<Self> {
        let splits = PerSplit::try_from_fn(|s| Ok(prep.music_pieces(data.split(s), s)))?;
        let vocab = data.vocab.size;
        Self::build(
            prep,
            &splits,
            |seqs| Ok(chunk_tokens(seqs, prep.chunk_len)),
            |seqs| {
                let split = TokenSplit::new(seqs, vocab, device)?;
                let n = split.predicted();
                Ok((split, n))
            },
        )
    }

    /// NPZ feature frames, as [`PreparedData::tokens`].
    pub fn feature_frames(prep: &Preparation, data: &FrameData, device: Device) -> Result<Self> {
        let splits = PerSplit::try_from_fn(|s| Ok(prep.music_pieces(data.split(s), s)))?;
        let dim = data.dim;
        Self::build(
            prep,
            &splits,
            |seqs| Ok(chunk_frames(seqs, dim, prep.chunk_len)),
            |seqs| {
                let split = FrameSplit::new(seqs, dim, device)?;
                let n = split.predicted();
                Ok((split, n))
            },
        )
    }

    /// The shared constructor: `chunk` cuts the training items, `to_device` holds items on the device and counts
    /// what they predict.
    fn build<T, S: BatchSource + Send + 'static>(
        prep: &Preparation,
        splits: &PerSplit<Vec<T>>,
        chunk: impl Fn(&[T]) -> Result<Vec<T>>,
        to_device: impl Fn(&[T]) -> Result<(S, usize)>,
    ) -> Result<Self> {
        let (train, _) = to_device(&chunk(&splits.train)?)?;
        let (train_batching, eval_batching) = prep.batching();
        let mut frames = PerSplit::default();
        let eval = PerSplit::try_from_fn(|s| {
            let (split, predicted) = to_device(splits.get(s))?;
            *frames.get_mut(s) = predicted;
            let (_, batches) = split.batches(&eval_batching, 0, prep.kind)?;
            Ok(batches)
        })?;
        let train_padding = train.plan(&train_batching, 0)?.padding_fraction();
        Ok(PreparedData {
            train: Box::new(train),
            train_batching,
            eval,
            frames,
            train_padding,
        })
    }

    /// The training batches of epoch `epoch` (shuffled per epoch from the seed).
    pub fn plan_epoch(&self, epoch: usize) -> Result<EpochPlan> {
        self.train.plan(&self.train_batching, epoch as u64)
    }

    /// One training batch of a plan's members.
    pub fn train_batch(&self, members: &[usize], kind: Kind) -> Result<Batch> {
        self.train.batch(members, kind)
    }

    /// The evaluation batches of a whole split.
    pub fn eval_batches(&self, split: Split) -> &[Batch] {
        self.eval.get(split)
    }

    /// Predicted frames (music) or steps (speech) of a whole split.
    pub fn frames(&self, split: Split) -> usize {
        *self.frames.get(split)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_rules() {
        let v: Vec<usize> = (0..10).collect();
        assert_eq!(first_subset(&v, 0), v);
        assert_eq!(first_subset(&v, 3), vec![0, 1, 2]);
        assert_eq!(first_subset(&v, 20), v);
        assert_eq!(spread_subset(&v, 0), v);
        assert_eq!(spread_subset(&v, 3), vec![0, 3, 6]);
        assert_eq!(spread_subset(&v, 4), vec![0, 2, 4, 6]);
        assert_eq!(spread_subset(&v, 10), v);
    }

    /// A music run takes the first N pieces of each split, or N spread over it with `subset_spread`; the training
    /// split follows `train_subset`, the others `eval_subset`.
    #[test]
    fn music_pieces_follow_the_config() {
        let v: Vec<usize> = (0..10).collect();
        let mut prep = crate::config::TrainConfig {
            train_subset: 4,
            eval_subset: 3,
            ..Default::default()
        }
        .preparation();
        assert_eq!(prep.music_pieces(&v, Split::Train), vec![0, 1, 2, 3]);
        assert_eq!(prep.music_pieces(&v, Split::Test), vec![0, 1, 2]);
        prep.subset_spread = true;
        assert_eq!(prep.music_pieces(&v, Split::Train), vec![0, 2, 4, 6]);
        assert_eq!(prep.music_pieces(&v, Split::Valid), vec![0, 3, 6]);
        prep.train_subset = 0;
        assert_eq!(prep.music_pieces(&v, Split::Train), v);
    }
}
