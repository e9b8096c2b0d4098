//! The metric's variants, measured on a trained run at its best weights (`rnnlab eval`).
//!
//! Table 2's number is the **frame-weighted** NLL: nats per predicted frame, summed over the 88 keys, the total over
//! every piece of a split divided by its predicted frames. A piece of `T` frames predicts frames `1..T-1` from the
//! frames before them, with the state carried through the whole piece from zero. Other papers on the same data
//! report other quantities, and the run's own train column is measured at noisy weights; this module measures, for
//! each chosen member (the best of each seed by validation NLL) and each split:
//!
//! | quantity            | what it is                                                                                  |
//! |---------------------|---------------------------------------------------------------------------------------------|
//! | `frame_weighted`    | Table 2's metric, recomputed piece by piece (equal to the run's own to float rounding)      |
//! | `sequence_weighted` | the mean over pieces of each piece's NLL per predicted frame (short pieces count as much as long ones) |
//! | `with_first_frame`  | frame-weighted over all `T` frames of each piece: frame 0 is predicted from a zero input frame fed first |
//! | `reset`             | frame-weighted with the state reset to zero every `reset_every` steps: what a model trained on zero-state chunks of that length saw |
//! | `positions`         | frame-weighted NLL of the predicted frames at positions 0–49, 50–199 and 200+ of their piece, state carried and reset |
//!
//! On the train split, `frame_weighted` is the **clean train NLL**: one evaluation pass at the chosen weights without
//! weight noise. The run's `summary.json` (and so Table 2's train column) holds the same quantity, measured by the
//! trainer after the last epoch; the per-epoch train NLL of `metrics.jsonl` is different: it averages the minibatch
//! NLLs of an epoch at noisy, moving weights.
//!
//! Pieces are evaluated one at a time, in f64 sums, with the subsets the run trained on (`train_subset`,
//! `eval_subset`).

use crate::atomic::write_atomic;
use crate::cells::State;
use crate::data::{AnyData, PianoRoll, Split, Task, KEYS};
use crate::model::Model;
use crate::run::RunDir;
use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// The file `rnnlab eval` writes into a run directory.
pub const EVAL_FILE: &str = "eval.json";
/// Version of [`EVAL_FILE`]'s layout.
pub const EVAL_FORMAT_VERSION: u32 = 1;
/// The position buckets: predicted frames `from..to` of their piece (0-based frame index; `None`: no end).
pub const POSITIONS: [(usize, Option<usize>); 3] = [(0, Some(50)), (50, Some(200)), (200, None)];

/// The NLL of the predicted frames in one position bucket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PositionNll {
    /// First frame index of the bucket (0-based, inclusive).
    pub from: usize,
    /// End of the bucket (exclusive); `None`: to the end of the piece.
    pub to: Option<usize>,
    /// Predicted frames in the bucket over the split (NaN NLLs when 0).
    pub frames: usize,
    /// State carried through the piece (as Table 2 evaluates).
    pub carried: f64,
    /// State reset to zero every `reset_every` steps.
    pub reset: f64,
}

/// Every variant of one member on one split (see the module doc).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitEval {
    /// Pieces evaluated (the run's subset, if it trained on one).
    pub pieces: usize,
    /// Predicted frames: `Σ (T − 1)`.
    pub frames: usize,
    /// Table 2's metric: total NLL over the split / predicted frames (nats per frame).
    pub frame_weighted: f64,
    /// Mean over pieces of each piece's NLL per predicted frame (nats per frame).
    pub sequence_weighted: f64,
    /// Frame-weighted NLL over all `T` frames, frame 0 predicted from a zero input (nats per frame).
    pub with_first_frame: f64,
    /// Steps between state resets for `reset` and the positions' `reset` (`rnnlab eval --reset-every`).
    pub reset_every: usize,
    /// Frame-weighted NLL with the state reset to zero every `reset_every` steps (nats per frame).
    pub reset: f64,
    /// Frame-weighted NLL by position in the piece, one entry per [`POSITIONS`] bucket.
    pub positions: Vec<PositionNll>,
}

/// One member's variants on the three splits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberEval {
    /// Index of the member in the run's population.
    pub member: usize,
    /// The seed (replicate) the member belongs to.
    pub seed: usize,
    /// The member's learning rate.
    pub lr: f64,
    /// The training split, at the member's best weights without weight noise.
    pub train: SplitEval,
    /// The validation split.
    pub valid: SplitEval,
    /// The test split.
    pub test: SplitEval,
}

impl MemberEval {
    /// The variants on `split`.
    pub fn split(&self, split: Split) -> &SplitEval {
        match split {
            Split::Train => &self.train,
            Split::Valid => &self.valid,
            Split::Test => &self.test,
        }
    }
}

/// What `rnnlab eval` measured on a run ([`EVAL_FILE`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunEval {
    /// Version of this file's layout ([`EVAL_FORMAT_VERSION`]).
    pub format_version: u32,
    /// The run directory's name (empty in files written before it was recorded): what tells apart, in a figure,
    /// runs of one dataset and cell.
    #[serde(default)]
    pub run: String,
    /// Dataset name (music only).
    pub dataset: String,
    /// Cell name.
    pub cell: String,
    /// The members measured: each seed's choice by validation NLL, or every member with `--all-members`.
    pub members: Vec<MemberEval>,
}

/// Sums over a split for one member, accumulated piece by piece.
#[derive(Clone, Debug, Default)]
struct Sums {
    pieces: usize,
    frames: usize,
    nll: f64,
    per_piece: f64,
    first_frames: usize,
    first_nll: f64,
    reset_nll: f64,
    positions: [(usize, f64, f64); POSITIONS.len()],
}

impl Sums {
    /// Adds one piece: the per-step NLLs carried and reset (`T − 1` each, step `t` predicts frame `t + 1`) and
    /// the NLL of all `T` frames with frame 0 predicted from a zero input.
    fn add(&mut self, carried: &[f64], reset: &[f64], with_first: f64) {
        let n = carried.len();
        let total: f64 = carried.iter().sum();
        self.pieces += 1;
        self.frames += n;
        self.nll += total;
        self.per_piece += total / n as f64;
        self.first_frames += n + 1;
        self.first_nll += with_first;
        self.reset_nll += reset.iter().sum::<f64>();
        for (t, (c, r)) in carried.iter().zip(reset).enumerate() {
            let frame = t + 1;
            if let Some(b) = POSITIONS
                .iter()
                .position(|&(from, to)| frame >= from && to.is_none_or(|to| frame < to))
            {
                self.positions[b].0 += 1;
                self.positions[b].1 += c;
                self.positions[b].2 += r;
            }
        }
    }

    fn finish(&self, reset_every: usize) -> SplitEval {
        let per = |sum: f64, n: usize| if n == 0 { f64::NAN } else { sum / n as f64 };
        SplitEval {
            pieces: self.pieces,
            frames: self.frames,
            frame_weighted: per(self.nll, self.frames),
            sequence_weighted: per(self.per_piece, self.pieces),
            with_first_frame: per(self.first_nll, self.first_frames),
            reset_every,
            reset: per(self.reset_nll, self.frames),
            positions: POSITIONS
                .iter()
                .zip(&self.positions)
                .map(|(&(from, to), &(n, c, r))| PositionNll {
                    from,
                    to,
                    frames: n,
                    carried: per(c, n),
                    reset: per(r, n),
                })
                .collect(),
        }
    }
}

/// `[T, 1, 88]` of a roll's frames `from..to`.
fn frames(roll: &PianoRoll, from: usize, to: usize, kind: Kind) -> Tensor {
    let keys: Vec<f64> = roll.as_slice()[from * KEYS..to * KEYS]
        .iter()
        .map(|&v| v as f64)
        .collect();
    Tensor::from_slice(&keys)
        .reshape([(to - from) as i64, 1, KEYS as i64])
        .to_kind(kind)
}

/// Per member, the NLL of each predicted step of `x → y`: with the state carried through the whole piece (`reset`
/// `None`), or reset to zero every `reset` steps.
fn steps_nll(model: &Model, x: &Tensor, y: &Tensor, reset: Option<usize>) -> Result<Vec<Vec<f64>>> {
    let t = x.size()[0];
    let slice = reset.map_or(t, |n| (n as i64).min(t)).max(1);
    let mut parts = Vec::new();
    let mut state: Option<State> = None;
    let mut start = 0;
    while start < t {
        let len = slice.min(t - start);
        let mask = Tensor::ones([len, 1], (x.kind(), x.device()));
        let (nll, last) = model.nll_per_step_from(
            &x.narrow(0, start, len),
            &y.narrow(0, start, len),
            &mask,
            state.as_ref(),
        )?;
        parts.push(nll.squeeze_dim(-1).to_kind(Kind::Double));
        state = match reset {
            None => Some(last),
            Some(_) => None,
        };
        start += len;
    }
    let all = Tensor::cat(&parts, 1);
    (0..all.size()[0])
        .map(|m| Ok(Vec::<f64>::try_from(&all.get(m))?))
        .collect()
}

/// One piece as the model reads it: inputs `x` and targets `y` of its `T − 1` predicted steps, and `x0`, `y0` of all
/// `T` steps with a zero input first (for `with_first_frame`).
struct PieceTensors {
    x: Tensor,
    y: Tensor,
    x0: Tensor,
    y0: Tensor,
}

impl PieceTensors {
    /// A piano roll's frames.
    fn music(roll: &PianoRoll, kind: Kind) -> PieceTensors {
        let t = roll.len();
        let x = frames(roll, 0, t - 1, kind);
        let x0 = Tensor::cat(
            &[
                Tensor::zeros([1, 1, KEYS as i64], (kind, Device::Cpu)),
                x.shallow_clone(),
            ],
            0,
        );
        PieceTensors {
            x,
            y: frames(roll, 1, t, kind),
            x0,
            y0: frames(roll, 0, t, kind),
        }
    }

    /// Token ids over a vocabulary of `vocab`: one-hot inputs, id targets `[T, 1]`.
    fn tokens(ids: &[u32], vocab: i64, kind: Kind) -> PieceTensors {
        let t = ids.len() as i64;
        let all = Tensor::from_slice(&ids.iter().map(|&i| i as i64).collect::<Vec<_>>());
        let hot = all.one_hot(vocab).to_kind(kind).reshape([t, 1, vocab]);
        let x = hot.narrow(0, 0, t - 1);
        let x0 = Tensor::cat(
            &[
                Tensor::zeros([1, 1, vocab], (kind, Device::Cpu)),
                x.shallow_clone(),
            ],
            0,
        );
        PieceTensors {
            x,
            y: all.narrow(0, 1, t - 1).reshape([t - 1, 1]),
            x0,
            y0: all.reshape([t, 1]),
        }
    }

    /// Feature frames of `dim` values per step.
    fn features(values: &[f32], dim: usize, kind: Kind) -> PieceTensors {
        let t = (values.len() / dim) as i64;
        let all = Tensor::from_slice(values)
            .reshape([t, 1, dim as i64])
            .to_kind(kind);
        let x = all.narrow(0, 0, t - 1);
        let x0 = Tensor::cat(
            &[
                Tensor::zeros([1, 1, dim as i64], (kind, Device::Cpu)),
                x.shallow_clone(),
            ],
            0,
        );
        PieceTensors {
            x,
            y: all.narrow(0, 1, t - 1),
            x0,
            y0: all,
        }
    }
}

/// The variants of every member of `model` over `pieces` (pieces of one frame predict nothing and are skipped, as
/// in training and Table 2).
pub fn evaluate_pieces(
    model: &Model,
    pieces: &[PianoRoll],
    reset_every: usize,
    kind: Kind,
) -> Result<Vec<SplitEval>> {
    let items: Vec<&PianoRoll> = pieces.iter().filter(|r| r.len() > 1).collect();
    evaluate_items(model, &items, reset_every, |r| {
        (r.len(), PieceTensors::music(r, kind))
    })
}

/// [`evaluate_pieces`] over any items, each turned into its length and tensors by `tensors`.
fn evaluate_items<T>(
    model: &Model,
    items: &[T],
    reset_every: usize,
    tensors: impl Fn(&T) -> (usize, PieceTensors),
) -> Result<Vec<SplitEval>> {
    let k = model.population() as usize;
    let mut sums = vec![Sums::default(); k];
    tch::no_grad(|| -> Result<()> {
        for item in items {
            let (t, PieceTensors { x, y, x0, y0 }) = tensors(item);
            let kind = x.kind();
            let carried = steps_nll(model, &x, &y, None)?;
            // A piece no longer than the reset period is never reset: its reset NLLs are the carried ones.
            let reset = if reset_every >= t - 1 {
                carried.clone()
            } else {
                steps_nll(model, &x, &y, Some(reset_every))?
            };
            let mask = Tensor::ones([t as i64, 1], (kind, Device::Cpu));
            let (first, _) = model.nll_sum_from(&x0, &y0, &mask, None)?;
            let first: Vec<f64> = Vec::<f64>::try_from(&first.to_kind(Kind::Double))?;
            for m in 0..k {
                sums[m].add(&carried[m], &reset[m], first[m]);
            }
        }
        Ok(())
    })?;
    Ok(sums.iter().map(|s| s.finish(reset_every)).collect())
}

/// The chosen members of a run: the best of each seed by validation NLL (the members Table 2 reports), or the best
/// member alone for runs that recorded no per-seed choice.
fn chosen_members(run: &RunDir) -> Result<Vec<usize>> {
    let summary = run.read_summary()?;
    let from_summary = summary.as_ref().map(|s| {
        let per_seed: Vec<usize> = s.best_member_per_seed.iter().flatten().copied().collect();
        if per_seed.is_empty() {
            s.best_member.into_iter().collect()
        } else {
            per_seed
        }
    });
    match from_summary {
        Some(m) if !m.is_empty() => Ok(m),
        Some(_) => bail!("every member of {} diverged", run.path.display()),
        None => Ok(vec![run.best_member(&run.read_state()?)?]),
    }
}

/// Measures the variants of `run_dir`'s chosen members (or of every member with `all_members`) on the data under
/// `data_dir`, CPU, and writes them to `run_dir/eval.json`.
pub fn evaluate_run(
    run_dir: &Path,
    data_dir: &Path,
    reset_every: usize,
    all_members: bool,
) -> Result<RunEval> {
    let (run, cfg) = RunDir::open(run_dir)?;
    ensure!(
        cfg.dataset.task() != Task::Speech,
        "{} is a {} run; the metric's variants are defined for the music datasets and the data given by path \
         (text, shakespeare, npz)",
        run_dir.display(),
        cfg.dataset
    );
    ensure!(reset_every > 0, "--reset-every must be at least 1");
    // eval writes eval.json into the run directory: one writer at a time (a run still training is refused).
    let _lock = run.lock()?;
    tch::set_num_threads(cfg.threads as i32);
    let (model, state) = run.load_best_model(&cfg, Device::Cpu)?;
    let k = model.population() as usize;
    let members: Vec<usize> = if all_members {
        (0..k).collect()
    } else {
        chosen_members(&run)?
    };
    ensure!(
        members.iter().all(|&m| m < k),
        "{}: a chosen member is not in the checkpoint's population of {k}",
        run_dir.display()
    );
    let (_, data) = AnyData::for_config(data_dir, &cfg)?;
    let mut resolved = cfg.clone();
    resolved
        .resolve_data(&data)
        .with_context(|| format!("the data of {}", run_dir.display()))?;
    let prep = cfg.preparation();
    let index = Tensor::from_slice(&members.iter().map(|&m| m as i64).collect::<Vec<_>>());
    // The chosen members alone when the implementation allows it (custom); else every member, then picked.
    let (sub, pick): (Model, Vec<usize>) = match model.select(&index) {
        Ok(sub) => (sub, (0..members.len()).collect()),
        Err(_) => (model, members.clone()),
    };
    let kind = cfg.dtype.kind();
    let mut per_split = Vec::new();
    for split in crate::data::Split::ALL {
        let all = match &data {
            AnyData::Music(d) => evaluate_pieces(
                &sub,
                &prep.music_pieces(d.split(split), split),
                reset_every,
                kind,
            ),
            AnyData::Tokens(d) => {
                let seqs = prep.music_pieces(d.split(split), split);
                let items: Vec<&Vec<u32>> = seqs.iter().filter(|s| s.len() > 1).collect();
                let v = d.vocab.size as i64;
                evaluate_items(&sub, &items, reset_every, |s| {
                    (s.len(), PieceTensors::tokens(s, v, kind))
                })
            }
            AnyData::Frames(d) => {
                let seqs = prep.music_pieces(d.split(split), split);
                let items: Vec<&Vec<f32>> = seqs.iter().filter(|s| s.len() > d.dim).collect();
                evaluate_items(&sub, &items, reset_every, |s| {
                    (s.len() / d.dim, PieceTensors::features(s, d.dim, kind))
                })
            }
            AnyData::Speech(_) => unreachable!("refused above"),
        }
        .with_context(|| format!("evaluating the {} split", split.name()))?;
        per_split.push(pick.iter().map(|&i| all[i].clone()).collect::<Vec<_>>());
    }
    let lrs = cfg.member_lrs();
    let seeds = cfg.seeds.max(1);
    let members = members
        .iter()
        .enumerate()
        .map(|(i, &m)| MemberEval {
            member: m,
            seed: m % seeds,
            lr: state.members.get(m).map_or(lrs[m], |s| s.lr),
            train: per_split[0][i].clone(),
            valid: per_split[1][i].clone(),
            test: per_split[2][i].clone(),
        })
        .collect();
    let eval = RunEval {
        format_version: EVAL_FORMAT_VERSION,
        run: run_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        dataset: cfg.dataset.name().to_string(),
        cell: cfg.cell.name().to_string(),
        members,
    };
    write_atomic(
        &run.file(EVAL_FILE),
        serde_json::to_string_pretty(&eval)?.as_bytes(),
    )?;
    Ok(eval)
}

/// A run's variants as a Markdown table, one row per member and split.
pub fn markdown(eval: &RunEval) -> String {
    let f = |v: f64| {
        if v.is_finite() {
            format!("{v:.3}")
        } else {
            "–".into()
        }
    };
    let unit = match eval.dataset.parse::<crate::data::Dataset>() {
        Ok(d) if !matches!(d.task(), Task::Music | Task::Speech) => {
            "nats per step (per token for a token head; bits = nats / ln 2)"
        }
        _ => "nats per frame",
    };
    let mut md = format!(
        "{} {}: NLL in {unit} at the chosen weights, no weight noise\n\n\
         | member | seed | split | frame-weighted | sequence-weighted | with first frame | reset every {} | frames 0–49 | 50–199 | 200+ |\n\
         |---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n",
        eval.dataset,
        eval.cell,
        eval.members.first().map_or(0, |m| m.test.reset_every)
    );
    for m in &eval.members {
        for split in crate::data::Split::ALL {
            let s = m.split(split);
            let pos: Vec<String> = s
                .positions
                .iter()
                .map(|p| format!("{} / {}", f(p.carried), f(p.reset)))
                .collect();
            md += &format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                m.member,
                m.seed,
                split.name(),
                f(s.frame_weighted),
                f(s.sequence_weighted),
                f(s.with_first_frame),
                f(s.reset),
                pos.join(" | ")
            );
        }
    }
    md += "\nPositions: carried / reset NLL of the predicted frames at those positions of their piece.\n";
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The variants on a hand-computed example: two pieces with per-step NLLs (1, 2, 3) and (10), i.e. 3 + 1
    /// predicted frames.
    #[test]
    fn variants_of_a_hand_computed_example() {
        let mut s = Sums::default();
        s.add(&[1.0, 2.0, 3.0], &[1.0, 4.0, 5.0], 7.0);
        s.add(&[10.0], &[10.0], 12.0);
        let e = s.finish(2);
        assert_eq!(e.pieces, 2);
        assert_eq!(e.frames, 4);
        // (1 + 2 + 3 + 10) / 4 frames.
        assert_eq!(e.frame_weighted, 4.0);
        // Mean of the pieces' own per-frame NLLs: (6/3 + 10/1) / 2.
        assert_eq!(e.sequence_weighted, 6.0);
        // (7 + 12) over 4 + 2 frames (each piece's first frame too).
        assert_eq!(e.with_first_frame, 19.0 / 6.0);
        assert_eq!(e.reset, 20.0 / 4.0);
        // Every predicted frame here is at position 1..3: all in the first bucket, none in the others.
        assert_eq!(e.positions[0].frames, 4);
        assert_eq!(e.positions[0].carried, 4.0);
        assert_eq!(e.positions[0].reset, 5.0);
        assert_eq!(e.positions[1].frames, 0);
        assert!(e.positions[1].carried.is_nan());
    }

    /// Position buckets by frame index: the step predicting frame 50 opens the second bucket, frame 200 the third.
    #[test]
    fn positions_split_at_frames_50_and_200() {
        let mut s = Sums::default();
        let nll: Vec<f64> = (1..=250).map(|f| f as f64).collect(); // step t predicts frame t + 1, NLL = frame
        s.add(&nll, &nll, 0.0);
        let e = s.finish(50);
        assert_eq!(
            e.positions.iter().map(|p| p.frames).collect::<Vec<_>>(),
            [49, 150, 51]
        );
        assert_eq!(e.positions[0].carried, 25.0); // mean of 1..=49
        assert_eq!(e.positions[1].carried, 124.5); // mean of 50..=199
        assert_eq!(e.positions[2].carried, 225.0); // mean of 200..=250
    }
}
