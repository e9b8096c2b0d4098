//! Population training with the paper's recipe: RMSProp, Gaussian weight noise, per-update gradient clipping,
//! early stopping on validation NLL — for K models at once (learning-rate candidates × seeds), each with its own
//! learning rate, noise, clipping norm, early stopping and divergence handling.
//!
//! One update on a batch, for every active member m:
//! ```text
//! w̃_m   = w_m + ε_m,  ε_m ~ N(0, σ²)             weight noise (weights only, unless noise_on_biases)
//! L_m   = NLL(batch; w̃_m) / predicted frames      nats per frame, summed over the 88 keys (speech: per step,
//!                                                  summed over the 10 predicted samples)
//! g_m   = ∂L_m/∂w̃_m, rescaled to norm ≤ clip_norm
//! w_m  ← RMSProp(w_m, g_m, lr_m)                   the update is applied to the clean weights
//! ```
//! Members are independent: the population's loss is Σ_m L_m, whose gradient splits into the members' own.
//!
//! The recipe is the same for both tasks; what differs is behind [`TrainData`] (how a dataset becomes device
//! batches) and the model's head, chosen from `cfg.dataset`'s task.

pub mod rmsprop;
pub mod rng;
pub mod run;

use crate::config::{TrainConfig, RUN_FORMAT_VERSION};
use crate::data::batch::{BatchConfig, BatchSource, DeviceSplit};
use crate::data::speech::{chunk_sequences, SpeechSplit, Waveform};
use crate::data::{AnyData, MusicData, PianoRoll, SpeechData};
use crate::model::Model;
use anyhow::{bail, ensure, Context, Result};
use rmsprop::{per_member, RmsProp};
use rng::Rng;
use run::RunDir;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// A uniform draw in [0, 1) from a SplitMix64 state (used where a Rust-side seeded draw is needed).
pub fn uniform01(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Serialises the use of libtorch's process-wide generator (initialisation) between runs on different threads.
static GLOBAL_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The run's noise generator is re-seeded at every epoch from (seed, epoch), so a resumed run draws the same noise as
/// an uninterrupted one without saving the generator's state.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    let mut s = seed ^ (epoch as u64).wrapping_mul(0x2545_f491_4f6c_dd1d);
    (uniform01(&mut s) * i64::MAX as f64) as u64
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    /// Early stopping: no better validation NLL for `patience` epochs.
    Stopped,
    /// Its loss or gradient became NaN/Inf; its weights are frozen at their last finite values.
    Diverged,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Active => "active",
            Status::Stopped => "stopped",
            Status::Diverged => "diverged",
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemberState {
    pub lr: f64,
    pub status: Status,
    /// Epoch at which the status last changed to stopped/diverged.
    pub status_epoch: Option<usize>,
    pub best_valid: Option<f64>,
    pub best_epoch: Option<usize>,
    pub epochs_since_best: usize,
}

/// Everything besides tensors that a resumed run needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainState {
    pub format_version: u32,
    /// Completed epochs.
    pub epoch: usize,
    pub updates: u64,
    /// Wall-clock seconds of training and evaluation so far.
    pub seconds: f64,
    pub seed: u64,
    pub members: Vec<MemberState>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemberMetrics {
    pub lr: f64,
    /// Mean NLL per predicted frame over this epoch's updates, at the noisy weights the updates used.
    pub train_nll: Option<f64>,
    pub valid_nll: Option<f64>,
    pub test_nll: Option<f64>,
    pub status: Status,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub updates: u64,
    pub seconds: f64,
    pub members: Vec<MemberMetrics>,
}

/// JSON has no NaN: a non-finite NLL (a diverged member) is written as `null` and read back as NaN, so a summary
/// always round-trips.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// Per-member results at the member's best (validation) weights, evaluated without noise.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemberResult {
    pub member: usize,
    pub lr: f64,
    pub status: Status,
    /// The epoch at which the member stopped early or diverged.
    #[serde(default)]
    pub status_epoch: Option<usize>,
    pub best_epoch: Option<usize>,
    #[serde(with = "nan_as_null")]
    pub train_nll: f64,
    #[serde(with = "nan_as_null")]
    pub valid_nll: f64,
    #[serde(with = "nan_as_null")]
    pub test_nll: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub dataset: String,
    pub cell: String,
    pub implementation: String,
    pub hidden: i64,
    pub params_paper: i64,
    pub params_total: i64,
    pub epochs: usize,
    pub updates: u64,
    pub seconds: f64,
    pub seconds_per_epoch: f64,
    pub population: usize,
    /// The member with the best validation NLL among those that did not diverge.
    pub best_member: Option<usize>,
    pub members: Vec<MemberResult>,
}

/// What the trainer reports while it runs.
pub enum Progress<'a> {
    EpochStart {
        epoch: usize,
        max_epochs: usize,
        batches: usize,
    },
    Batch,
    EpochEnd(&'a EpochMetrics),
}

/// Cuts every piece into chunks of at most `chunk_len` predicted frames (consecutive chunks share one frame, so
/// every frame is predicted exactly once). `chunk_len = 0` keeps whole pieces.
pub fn chunk_pieces(pieces: &[PianoRoll], chunk_len: usize) -> Result<Vec<PianoRoll>> {
    if chunk_len == 0 {
        return Ok(pieces.to_vec());
    }
    let keys = crate::model::KEYS as usize;
    let mut out = Vec::new();
    for p in pieces {
        let t = p.len();
        let mut start = 0;
        while start + 1 < t {
            let end = (start + chunk_len + 1).min(t);
            out.push(PianoRoll::new(
                end - start,
                p.as_slice()[start * keys..end * keys].to_vec(),
            )?);
            start = end - 1;
        }
    }
    Ok(out)
}

/// A dataset the trainer can run on.
pub trait TrainData {
    /// The splits on the device, batched as `cfg` says.
    fn prepare(&self, cfg: &TrainConfig, device: Device) -> Result<PreparedData>;
    /// Files a new run directory gets besides the trainer's own (speech: the normalisation, for `rnnlab sample`).
    fn write_run_files(&self, _dir: &Path) -> Result<()> {
        Ok(())
    }
}

impl TrainData for MusicData {
    fn prepare(&self, cfg: &TrainConfig, device: Device) -> Result<PreparedData> {
        PreparedData::new(cfg, self, device)
    }
}

impl TrainData for SpeechData {
    fn prepare(&self, cfg: &TrainConfig, device: Device) -> Result<PreparedData> {
        PreparedData::speech(cfg, self, device)
    }
    fn write_run_files(&self, dir: &Path) -> Result<()> {
        run::write_atomic(
            &dir.join("normalisation.json"),
            serde_json::to_string_pretty(&self.norm)?.as_bytes(),
        )
    }
}

impl TrainData for AnyData {
    fn prepare(&self, cfg: &TrainConfig, device: Device) -> Result<PreparedData> {
        match self {
            AnyData::Music(d) => d.prepare(cfg, device),
            AnyData::Speech(d) => d.prepare(cfg, device),
        }
    }
    fn write_run_files(&self, dir: &Path) -> Result<()> {
        match self {
            AnyData::Music(d) => d.write_run_files(dir),
            AnyData::Speech(d) => d.write_run_files(dir),
        }
    }
}

/// `n` items spread evenly over `v` (every ⌊len/n⌋-th, from the first); all of them when `n` is 0 or too large.
pub fn spread_subset<T: Clone>(v: &[T], n: usize) -> Vec<T> {
    if n == 0 || n >= v.len() {
        return v.to_vec();
    }
    let stride = v.len() / n;
    v.iter().step_by(stride).take(n).cloned().collect()
}

/// The training split of either task on the device.
enum TrainSplit {
    Music(DeviceSplit),
    Speech(SpeechSplit),
}

impl BatchSource for TrainSplit {
    fn plan(&self, config: &BatchConfig, epoch: u64) -> Result<crate::data::EpochPlan> {
        match self {
            TrainSplit::Music(s) => s.plan(config, epoch),
            TrainSplit::Speech(s) => s.plan(config, epoch),
        }
    }
    fn batch(&self, members: &[usize], kind: Kind) -> Result<crate::data::batch::Batch> {
        match self {
            TrainSplit::Music(s) => s.batch(members, kind),
            TrainSplit::Speech(s) => s.batch(members, kind),
        }
    }
}

/// Data on the device, batched: training chunks re-planned every epoch, evaluation batches built once.
pub struct PreparedData {
    train: TrainSplit,
    train_batching: BatchConfig,
    eval_train: Vec<crate::data::batch::Batch>,
    eval_valid: Vec<crate::data::batch::Batch>,
    eval_test: Vec<crate::data::batch::Batch>,
    frames: [usize; 3],
    pub train_padding: f64,
}

/// Batching of training (shuffled every epoch, bucketed if asked) and of evaluation (fixed, bucketed).
fn batching(cfg: &TrainConfig) -> (BatchConfig, BatchConfig) {
    let train = BatchConfig {
        batch_size: cfg.batch_size,
        shuffle: true,
        bucket: cfg.bucket,
        seed: cfg.seed,
    };
    let eval = BatchConfig {
        batch_size: cfg.eval_batch_size,
        shuffle: false,
        bucket: true,
        seed: 0,
    };
    (train, eval)
}

impl PreparedData {
    pub fn new(cfg: &TrainConfig, data: &MusicData, device: Device) -> Result<Self> {
        let kind = cfg.dtype.kind();
        let subset = |v: &[PianoRoll], n: usize| -> Vec<PianoRoll> {
            if n == 0 {
                v.to_vec()
            } else {
                v.iter().take(n).cloned().collect()
            }
        };
        let train_pieces = subset(&data.train, cfg.train_subset);
        let valid_pieces = subset(&data.valid, cfg.eval_subset);
        let test_pieces = subset(&data.test, cfg.eval_subset);
        let train = DeviceSplit::new(&chunk_pieces(&train_pieces, cfg.chunk_len)?, device)?;
        let (train_batching, eval_cfg) = batching(cfg);
        let eval = |pieces: &[PianoRoll]| -> Result<(Vec<_>, usize)> {
            let split = DeviceSplit::new(pieces, device)?;
            let frames = split.predicted_frames();
            let (_, batches) = split.batches(&eval_cfg, 0, kind)?;
            Ok((batches, frames))
        };
        let (eval_train, f_train) = eval(&train_pieces)?;
        let (eval_valid, f_valid) = eval(&valid_pieces)?;
        let (eval_test, f_test) = eval(&test_pieces)?;
        let train_padding = train.plan(&train_batching, 0)?.padding_fraction();
        Ok(PreparedData {
            train: TrainSplit::Music(train),
            train_batching,
            eval_train,
            eval_valid,
            eval_test,
            frames: [f_train, f_valid, f_test],
            train_padding,
        })
    }
}

impl PreparedData {
    /// The speech splits: training sequences (a spread subset when `train_subset > 0`) cut into chunks of
    /// `chunk_len` steps; evaluation on whole sequences.
    pub fn speech(cfg: &TrainConfig, data: &SpeechData, device: Device) -> Result<Self> {
        let kind = cfg.dtype.kind();
        let train_seqs = spread_subset(&data.train, cfg.train_subset);
        let valid_seqs = spread_subset(&data.valid, cfg.eval_subset);
        let test_seqs = spread_subset(&data.test, cfg.eval_subset);
        let train = SpeechSplit::new(&chunk_sequences(&train_seqs, cfg.chunk_len), device)?;
        let (train_batching, eval_cfg) = batching(cfg);
        let eval = |seqs: &[Waveform]| -> Result<(Vec<_>, usize)> {
            let split = SpeechSplit::new(seqs, device)?;
            let (_, batches) = split.batches(&eval_cfg, 0, kind)?;
            Ok((batches, split.predicted_steps()))
        };
        let (eval_train, f_train) = eval(&train_seqs)?;
        let (eval_valid, f_valid) = eval(&valid_seqs)?;
        let (eval_test, f_test) = eval(&test_seqs)?;
        let train_padding = train.plan(&train_batching, 0)?.padding_fraction();
        Ok(PreparedData {
            train: TrainSplit::Speech(train),
            train_batching,
            eval_train,
            eval_valid,
            eval_test,
            frames: [f_train, f_valid, f_test],
            train_padding,
        })
    }
}

/// A population of models with its optimizer and per-member hyper-parameters.
pub struct Population {
    pub model: Model,
    pub opt: RmsProp,
    /// `[K]` learning rates.
    pub lr: Tensor,
    /// `[K]`: 1 for members still training, 0 for stopped or diverged ones.
    pub active: Tensor,
    pub clip_norm: f64,
    /// Which parameters get weight noise.
    pub noisy: Vec<bool>,
}

impl Population {
    pub fn new(cfg: &TrainConfig, device: Device) -> Result<Self> {
        let lrs = cfg.member_lrs();
        let k = lrs.len() as i64;
        let kind = cfg.dtype.kind();
        let model = Model::for_task(
            cfg.dataset.task(),
            cfg.cell,
            cfg.implementation,
            cfg.hidden_size(),
            k,
            cfg.init_scale,
            kind,
            device,
        )?;
        let opt = RmsProp::new(
            &model.parameters(),
            cfg.rms_decay,
            cfg.rms_floor,
            cfg.momentum,
        );
        let noisy = model
            .named_parameters()
            .iter()
            .map(|(n, _)| cfg.noise_on_biases || !n.contains("bias"))
            .collect();
        Ok(Population {
            model,
            opt,
            lr: Tensor::from_slice(&lrs).to_kind(kind).to_device(device),
            active: Tensor::ones([k], (kind, device)),
            clip_norm: cfg.clip_norm,
            noisy,
        })
    }

    /// Fresh weight noise for one update: N(0, σ²) for each noisy parameter, drawn from the run's own generator.
    pub fn draw_noise(&self, sigma: f64, rng: &mut Rng) -> Result<Vec<Option<Tensor>>> {
        self.model
            .parameters()
            .iter()
            .zip(&self.noisy)
            .map(|(p, &noisy)| {
                (noisy && sigma > 0.0)
                    .then(|| Ok(rng.randn_like(p)? * sigma))
                    .transpose()
            })
            .collect()
    }

    /// One update on a batch with the given weight noise. Returns each member's NLL sum over the batch's
    /// predicted frames (at the noisy weights) and which members stayed finite.
    pub fn update(
        &mut self,
        x: &Tensor,
        y: &Tensor,
        mask: &Tensor,
        frames: usize,
        noise: &[Option<Tensor>],
    ) -> Result<(Tensor, Vec<bool>)> {
        let params = self.model.parameters();
        ensure!(noise.len() == params.len(), "one noise entry per parameter");
        // Perturb in place, remembering the clean values to restore bit for bit after the backward pass.
        let clean: Vec<Option<Tensor>> = tch::no_grad(|| {
            params
                .iter()
                .zip(noise)
                .map(|(p, n)| {
                    n.as_ref().map(|n| {
                        let saved = p.detach().copy();
                        let _ = p.shallow_clone().g_add_(n);
                        saved
                    })
                })
                .collect()
        });
        let result = self.loss_and_grads(x, y, mask, frames, &params);
        tch::no_grad(|| {
            for (p, c) in params.iter().zip(&clean) {
                if let Some(c) = c {
                    p.shallow_clone().copy_(c);
                }
            }
        });
        let (nll_sum, mut grads) = result?;

        // Per-member gradient norm over all parameters; rescale to ≤ clip_norm; zero non-finite members.
        let sq: Tensor = grads
            .iter()
            .map(|g| {
                g.square()
                    .flatten(1, -1)
                    .sum_dim_intlist(1, false, g.kind())
            })
            .reduce(|a, b| a + b)
            .context("the model has no parameters")?;
        let norm = sq.sqrt();
        let finite_t = norm.isfinite().logical_and(&nll_sum.isfinite());
        let scale = (self.clip_norm / &norm)
            .clamp_max(1.0)
            .where_self(&finite_t, &norm.zeros_like());
        for g in grads.iter_mut() {
            *g = g.nan_to_num(0.0, 0.0, 0.0) * per_member(&scale, g);
        }
        let active = &self.active * finite_t.to_kind(self.active.kind());
        self.opt.step(&params, &grads, &self.lr, &active);
        let finite: Vec<bool> = Vec::<bool>::try_from(&finite_t.to_device(Device::Cpu))?;
        Ok((nll_sum.detach(), finite))
    }

    fn loss_and_grads(
        &self,
        x: &Tensor,
        y: &Tensor,
        mask: &Tensor,
        frames: usize,
        params: &[&Tensor],
    ) -> Result<(Tensor, Vec<Tensor>)> {
        let nll_sum = self.model.nll_sum(x, y, mask)?;
        // Σ_m L_m with L_m per frame; non-finite members are excluded so they cannot poison the others.
        let per_frame = &nll_sum / frames as f64;
        let safe = per_frame.where_self(&per_frame.isfinite(), &per_frame.zeros_like());
        let loss = safe.sum(safe.kind());
        let grads =
            Tensor::f_run_backward(&[&loss], params, false, false).context("backward pass")?;
        Ok((nll_sum, grads))
    }

    /// NLL per predicted frame of every member over prepared batches, at the current (clean) weights.
    pub fn evaluate(
        &self,
        batches: &[crate::data::batch::Batch],
        frames: usize,
    ) -> Result<Vec<f64>> {
        tch::no_grad(|| {
            let mut total: Option<Tensor> = None;
            for b in batches {
                let s = self
                    .model
                    .nll_sum(&b.x, &b.y, &b.mask)?
                    .to_kind(Kind::Double);
                total = Some(match total {
                    Some(t) => t + s,
                    None => s,
                });
            }
            let total = total.context("nothing to evaluate: the split is empty")?;
            let v: Vec<f64> =
                Vec::<f64>::try_from(&(total / frames as f64).to_device(Device::Cpu))?;
            Ok(v)
        })
    }

    /// Named tensors for a checkpoint: weights, best weights and optimizer state.
    fn checkpoint_tensors(&self, best: &[Tensor], epoch: usize) -> Vec<(String, Tensor)> {
        let named = self.model.named_parameters();
        let mut out: Vec<(String, Tensor)> = Vec::new();
        for (i, (name, t)) in named.iter().enumerate() {
            out.push((name.clone(), t.detach().to_device(Device::Cpu)));
            out.push((format!("best.{name}"), best[i].to_device(Device::Cpu)));
            out.push((
                format!("opt.mean_square.{name}"),
                self.opt.mean_square[i].to_device(Device::Cpu),
            ));
            out.push((
                format!("opt.velocity.{name}"),
                self.opt.velocity[i].to_device(Device::Cpu),
            ));
        }
        out.push(("meta.epoch".into(), Tensor::from_slice(&[epoch as i64])));
        out
    }

    fn restore(&mut self, tensors: &[(String, Tensor)], best: &mut [Tensor]) -> Result<()> {
        let find = |name: &str| -> Result<&Tensor> {
            tensors
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t)
                .with_context(|| format!("the checkpoint lacks {name}"))
        };
        let named: Vec<(String, Tensor)> = self
            .model
            .named_parameters()
            .into_iter()
            .map(|(n, t)| (n, t.shallow_clone()))
            .collect();
        tch::no_grad(|| -> Result<()> {
            for (i, (name, p)) in named.iter().enumerate() {
                let copy = |dst: &Tensor, src: &Tensor, what: &str| -> Result<()> {
                    ensure!(
                        dst.size() == src.size(),
                        "checkpoint {what} has shape {:?}, the model needs {:?} (was the config changed?)",
                        src.size(),
                        dst.size()
                    );
                    dst.shallow_clone().f_copy_(src)?;
                    Ok(())
                };
                copy(p, find(name)?, name)?;
                copy(&best[i], find(&format!("best.{name}"))?, name)?;
                copy(
                    &self.opt.mean_square[i],
                    find(&format!("opt.mean_square.{name}"))?,
                    name,
                )?;
                copy(
                    &self.opt.velocity[i],
                    find(&format!("opt.velocity.{name}"))?,
                    name,
                )?;
            }
            Ok(())
        })
    }

    fn set_active(&mut self, members: &[MemberState]) {
        let v: Vec<f64> = members
            .iter()
            .map(|m| if m.status == Status::Active { 1.0 } else { 0.0 })
            .collect();
        self.active = Tensor::from_slice(&v)
            .to_kind(self.active.kind())
            .to_device(self.active.device());
    }
}

/// Where a training run starts: fresh, or from a run directory's last checkpoint.
pub enum Start<'a> {
    Fresh(&'a Path),
    Resume(&'a Path),
}

/// Trains (or resumes) a run; returns its summary, also written to RUN_DIR/summary.json.
pub fn train<D: TrainData + ?Sized>(
    cfg: &TrainConfig,
    data: &D,
    start: Start,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary> {
    let device = cfg.device.resolve()?;
    tch::set_num_threads(cfg.threads as i32);
    // Initialisation draws from libtorch's process-wide generator: runs starting on other threads (reproduce) wait,
    // so that each gets the stream of its own seed. Weight noise comes from the run's own generator (rng.rs).
    let (prepared, mut pop) = {
        let _global_rng = GLOBAL_RNG.lock().unwrap_or_else(|e| e.into_inner());
        tch::manual_seed(cfg.seed as i64);
        let prepared = data.prepare(cfg, device)?;
        let pop = Population::new(cfg, device)?;
        (prepared, pop)
    };
    let mut rng = Rng::new(epoch_seed(cfg.seed, 1))?;
    let k = pop.model.population() as usize;
    let mut best: Vec<Tensor> = pop
        .model
        .parameters()
        .iter()
        .map(|p| p.detach().copy())
        .collect();
    let lrs = cfg.member_lrs();

    let (run, mut state) = match start {
        Start::Fresh(dir) => {
            let run = RunDir::create(dir, cfg)?;
            data.write_run_files(&run.path)?;
            let state = TrainState {
                format_version: RUN_FORMAT_VERSION,
                epoch: 0,
                updates: 0,
                seconds: 0.0,
                seed: cfg.seed,
                members: lrs
                    .iter()
                    .map(|&lr| MemberState {
                        lr,
                        status: Status::Active,
                        status_epoch: None,
                        best_valid: None,
                        best_epoch: None,
                        epochs_since_best: 0,
                    })
                    .collect(),
            };
            (run, state)
        }
        Start::Resume(dir) => {
            let (run, _) = RunDir::open(dir)?;
            let (tensors, state) = run.load_checkpoint()?;
            ensure!(
                state.members.len() == k,
                "checkpoint has {} members, the config makes {k}",
                state.members.len()
            );
            pop.restore(&tensors, &mut best)?;
            pop.set_active(&state.members);
            run.truncate_metrics(state.epoch)?;
            (run, state)
        }
    };

    while state.epoch < cfg.max_epochs && state.members.iter().any(|m| m.status == Status::Active) {
        let epoch = state.epoch + 1;
        let t0 = Instant::now();
        rng.reseed(epoch_seed(cfg.seed, epoch));
        let plan = prepared
            .train
            .plan(&prepared.train_batching, epoch as u64)?;
        progress(Progress::EpochStart {
            epoch,
            max_epochs: cfg.max_epochs,
            batches: plan.batches.len(),
        });
        let mut train_sum = vec![0.0f64; k];
        let mut train_frames = 0usize;
        for members in &plan.batches {
            let b = prepared.train.batch(members, cfg.dtype.kind())?;
            let noise = pop.draw_noise(cfg.weight_noise, &mut rng)?;
            let (nll, finite) = pop.update(&b.x, &b.y, &b.mask, b.predicted_frames, &noise)?;
            let nll: Vec<f64> =
                Vec::<f64>::try_from(&nll.to_kind(Kind::Double).to_device(Device::Cpu))?;
            for m in 0..k {
                if !finite[m] && state.members[m].status == Status::Active {
                    state.members[m].status = Status::Diverged;
                    state.members[m].status_epoch = Some(epoch);
                }
                if finite[m] {
                    train_sum[m] += nll[m];
                }
            }
            if finite.iter().any(|f| !f) {
                pop.set_active(&state.members);
            }
            train_frames += b.predicted_frames;
            state.updates += 1;
            progress(Progress::Batch);
        }
        let valid = pop.evaluate(&prepared.eval_valid, prepared.frames[1])?;
        let test = pop.evaluate(&prepared.eval_test, prepared.frames[2])?;

        // Early stopping and best weights, per member.
        let mut improved = vec![false; k];
        for m in 0..k {
            let ms = &mut state.members[m];
            if ms.status != Status::Active {
                continue;
            }
            if !valid[m].is_finite() {
                ms.status = Status::Diverged;
                ms.status_epoch = Some(epoch);
                continue;
            }
            if ms.best_valid.is_none_or(|b| valid[m] < b) {
                ms.best_valid = Some(valid[m]);
                ms.best_epoch = Some(epoch);
                ms.epochs_since_best = 0;
                improved[m] = true;
            } else {
                ms.epochs_since_best += 1;
                if ms.epochs_since_best >= cfg.patience {
                    ms.status = Status::Stopped;
                    ms.status_epoch = Some(epoch);
                }
            }
        }
        if improved.iter().any(|&i| i) {
            let mask_f: Vec<f64> = improved
                .iter()
                .map(|&i| if i { 1.0 } else { 0.0 })
                .collect();
            let mask = Tensor::from_slice(&mask_f).to_device(device).gt(0.5);
            tch::no_grad(|| {
                for (b, p) in best.iter_mut().zip(pop.model.parameters()) {
                    *b = p.detach().where_self(&per_member(&mask, p), b);
                }
            });
        }
        pop.set_active(&state.members);

        state.epoch = epoch;
        state.seconds += t0.elapsed().as_secs_f64();
        let metrics = EpochMetrics {
            epoch,
            updates: state.updates,
            seconds: state.seconds,
            members: (0..k)
                .map(|m| MemberMetrics {
                    lr: lrs[m],
                    train_nll: (train_frames > 0 && train_sum[m].is_finite())
                        .then(|| train_sum[m] / train_frames as f64),
                    valid_nll: valid[m].is_finite().then_some(valid[m]),
                    test_nll: test[m].is_finite().then_some(test[m]),
                    status: state.members[m].status,
                })
                .collect(),
        };
        run.append_metrics(&metrics)?;
        run.save_checkpoint(&pop.checkpoint_tensors(&best, epoch), &state)?;
        progress(Progress::EpochEnd(&metrics));
    }

    // Final evaluation at each member's best weights, without noise.
    tch::no_grad(|| {
        for (p, b) in pop.model.parameters().into_iter().zip(&best) {
            p.shallow_clone().copy_(b);
        }
    });
    let train_nll = pop.evaluate(&prepared.eval_train, prepared.frames[0])?;
    let valid_nll = pop.evaluate(&prepared.eval_valid, prepared.frames[1])?;
    let test_nll = pop.evaluate(&prepared.eval_test, prepared.frames[2])?;
    let members: Vec<MemberResult> = (0..k)
        .map(|m| MemberResult {
            member: m,
            lr: lrs[m],
            status: state.members[m].status,
            status_epoch: state.members[m].status_epoch,
            best_epoch: state.members[m].best_epoch,
            train_nll: train_nll[m],
            valid_nll: valid_nll[m],
            test_nll: test_nll[m],
        })
        .collect();
    let best_member = members
        .iter()
        .filter(|m| {
            m.status != Status::Diverged && m.best_epoch.is_some() && m.valid_nll.is_finite()
        })
        .min_by(|a, b| a.valid_nll.total_cmp(&b.valid_nll))
        .map(|m| m.member);
    let (params_paper, params_total) = pop.model.param_counts();
    let summary = Summary {
        dataset: cfg.dataset.name().into(),
        cell: cfg.cell.name().into(),
        implementation: cfg.implementation.name().into(),
        hidden: cfg.hidden_size(),
        params_paper,
        params_total,
        epochs: state.epoch,
        updates: state.updates,
        seconds: state.seconds,
        seconds_per_epoch: if state.epoch > 0 {
            state.seconds / state.epoch as f64
        } else {
            0.0
        },
        population: k,
        best_member,
        members,
    };
    run::write_atomic(
        &run.path.join("summary.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    if best_member.is_none() {
        bail!(
            "every member of {} diverged; see {}",
            run.path.display(),
            run.path.join("metrics.csv").display()
        );
    }
    Ok(summary)
}
