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

mod data;
pub mod head;
pub mod memory;
mod population;
pub mod rmsprop;
pub mod stopping;

/// The run-directory records the trainer produces (defined in [`crate::run`]).
pub use crate::run::{
    EpochMetrics, MemberMetrics, MemberResult, MemberState, Status, Summary, TrainState,
};
pub use data::TrainData;
pub use population::Population;

use crate::config::TrainConfig;
use crate::data::{PreparedData, Split};
use crate::run::tfevents::EventWriter;
use crate::run::{RunDir, METRICS_CSV};
use anyhow::{bail, ensure, Context, Result};
#[cfg(feature = "cli")]
use indicatif::ProgressBar;
use std::path::Path;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// What the trainer reports while it runs.
pub enum Progress<'a> {
    /// An epoch begins.
    EpochStart {
        /// The epoch about to run, from 1.
        epoch: usize,
        /// The run's epoch cap (`max_epochs`).
        max_epochs: usize,
        /// Updates (minibatches) in this epoch.
        batches: usize,
    },
    /// One update has been taken.
    Batch,
    /// An epoch has ended and been evaluated: its line of `metrics.jsonl`.
    EpochEnd(&'a EpochMetrics),
}

impl<'a> Progress<'a> {
    /// Shows this event on a progress bar (one bar per epoch, a tick per batch, the message `epoch e/max`); returns
    /// the finished epoch's metrics at the end of an epoch, for the caller's own line.
    #[cfg(feature = "cli")]
    pub fn show_on(self, bar: &ProgressBar) -> Option<&'a EpochMetrics> {
        match self {
            Progress::EpochStart {
                epoch,
                max_epochs,
                batches,
            } => {
                bar.set_length(batches as u64);
                bar.set_position(0);
                bar.set_message(format!("epoch {epoch}/{max_epochs}"));
                None
            }
            Progress::Batch => {
                bar.inc(1);
                None
            }
            Progress::EpochEnd(m) => Some(m),
        }
    }
}

/// Where a training run starts: fresh, or from a run directory's last checkpoint.
pub enum Start<'a> {
    /// A new run in this directory (refused if it already holds one).
    Fresh(&'a Path),
    /// Continue the run in this directory from its last checkpoint.
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
    let dir = match start {
        Start::Fresh(d) | Start::Resume(d) => d,
    };
    // The lock first: nothing of the directory is read or written before this process is its one writer.
    let _lock = RunDir::at(dir).lock()?;
    memory::check(cfg, data, device)?;
    let (prepared, mut pop) = setup(cfg, data, device)?;
    let mut best = pop.weights();
    let (run, mut state, mut events) = open_run(cfg, data, start, &mut pop, &mut best)?;
    let lrs = cfg.member_lrs();
    let mut last_eval = last_evaluation(&run, &state);
    let mut best_history = best_history(&run, &state);
    let pruning = stopping::Pruning {
        after: cfg.prune_after,
        window: cfg.prune_window,
        cap: cfg.max_epochs,
        seeds: cfg.seeds,
    };

    while state.epoch < cfg.max_epochs
        && state.members.iter().any(|m| m.status == Status::Active)
        && (cfg.max_seconds == 0.0 || state.seconds < cfg.max_seconds)
    {
        let epoch = state.epoch + 1;
        let t0 = Instant::now();
        let cpu0 = thread_cpu_seconds();
        pop.start_epoch(epoch);
        // Members inactive from the start of the epoch keep their weights through it.
        let moving = pop.active_members().to_vec();
        let train_nll = train_epoch(cfg, &prepared, &mut pop, &mut state, None, progress)?;
        let valid = evaluate_valid(&pop, &prepared, &moving, &mut last_eval)?;
        let improved = stopping::record_validation(&mut state.members, &valid, epoch, cfg.patience);
        let test = evaluate_test(&pop, &prepared, &improved)?;
        best_history.push(best_so_far(&state));
        stopping::record_pruning(&mut state.members, &best_history, epoch, &pruning);
        pop.keep_best(&mut best, &improved);
        pop.set_active(&state.members)?;

        state.epoch = epoch;
        state.seconds += t0.elapsed().as_secs_f64();
        state.cpu_seconds += thread_cpu_seconds() - cpu0;
        let metrics = epoch_metrics(&state, &lrs, &train_nll, &valid, &test);
        let saved = run
            .append_metrics(&metrics)
            .and_then(|_| events.add_epoch(&metrics))
            .and_then(|_| {
                if cfg.token_name().is_some() {
                    events.add_scalars(
                        epoch as i64,
                        crate::run::tfevents::now(),
                        &bits_scalars(&metrics),
                    )?;
                }
                Ok(())
            })
            .and_then(|_| run.save_checkpoint(&pop.checkpoint_tensors(&best, epoch), &state));
        saved.with_context(|| {
            let kept = match epoch - 1 {
                0 => "no epoch was saved before it".to_string(),
                e => format!("its checkpoint of epoch {e} is intact"),
            };
            format!(
                "saving epoch {epoch} of {} failed; {kept}: make room (or make the directory writable), then \
                 continue with rnnlab train --resume {}",
                run.path.display(),
                run.path.display()
            )
        })?;
        progress(Progress::EpochEnd(&metrics));
    }

    let members = final_evaluation(&pop, &best, &prepared, &state, &lrs)?;
    let summary = summarise(cfg, &pop, &state, members);
    run.write_summary(&summary).with_context(|| {
        format!(
            "writing the summary of {} failed (its checkpoint is intact): make room, then write it with rnnlab \
             train --resume {}",
            run.path.display(),
            run.path.display()
        )
    })?;
    if summary.best_member.is_none() {
        bail!(
            "every member of {} diverged; see {}",
            run.path.display(),
            run.file(METRICS_CSV).display()
        );
    }
    Ok(summary)
}

/// The data on the device and a freshly initialised population. Nothing here or in training draws from libtorch's
/// process-wide generator: the initial weights come from a generator seeded with `cfg.seed`
/// ([`Population::new`]), weight noise from the run's own ([`Rng`], re-seeded every epoch), the data order from a
/// ChaCha8 stream per epoch. Runs on other threads of the process never change a run's numbers.
fn setup<D: TrainData + ?Sized>(
    cfg: &TrainConfig,
    data: &D,
    device: Device,
) -> Result<(PreparedData, Population)> {
    let prepared = data.prepare(cfg, device)?;
    let pop = Population::new(cfg, device)?;
    Ok((prepared, pop))
}

/// The population's weights (named as [`crate::model::Model::named_parameters`]) after the first `updates` updates of
/// a fresh run of `cfg` (epoch 1's batches and weight noise, exactly as [`train`] draws them), with no run directory:
/// how `rnnlab compare` checks implementations against each other on the weights.
pub fn weights_after_updates<D: TrainData + ?Sized>(
    cfg: &TrainConfig,
    data: &D,
    updates: usize,
) -> Result<Vec<(String, Tensor)>> {
    let device = cfg.device.resolve()?;
    tch::set_num_threads(cfg.threads as i32);
    let (prepared, mut pop) = setup(cfg, data, device)?;
    let mut state = TrainState::fresh(cfg.seed, &cfg.member_lrs());
    train_epoch(
        cfg,
        &prepared,
        &mut pop,
        &mut state,
        Some(updates),
        &mut |_| {},
    )?;
    ensure!(
        state.updates == updates as u64,
        "epoch 1 has only {} updates, {updates} were asked for",
        state.updates
    );
    Ok(pop
        .model
        .named_parameters()
        .into_iter()
        .map(|(n, t)| (n, t.detach().copy()))
        .collect())
}

/// A new run directory with a fresh state, or an existing one whose last checkpoint is loaded into `pop` and
/// `best` (its metrics and TensorBoard events cut back to that checkpoint's epoch); and the run's event file.
fn open_run<D: TrainData + ?Sized>(
    cfg: &TrainConfig,
    data: &D,
    start: Start,
    pop: &mut Population,
    best: &mut [Tensor],
) -> Result<(RunDir, TrainState, EventWriter)> {
    match start {
        Start::Fresh(dir) => {
            let run = RunDir::create(dir, cfg)?;
            data.write_run_files(&run.path)?;
            let events = EventWriter::create(&run.path)?;
            Ok((run, TrainState::fresh(cfg.seed, &cfg.member_lrs()), events))
        }
        Start::Resume(dir) => {
            let (run, _) = RunDir::open(dir)?;
            let (tensors, state) = run.load_checkpoint()?;
            let k = pop.model.population() as usize;
            ensure!(
                state.members.len() == k,
                "checkpoint has {} members, the config makes {k}",
                state.members.len()
            );
            pop.restore(&tensors, best)?;
            pop.set_active(&state.members)?;
            for note in run.truncate_metrics(state.epoch)? {
                eprintln!("note: {note}");
            }
            let events = EventWriter::resume(&run.path, state.epoch as i64)?;
            Ok((run, state, events))
        }
    }
}

/// One epoch's updates over the training batches (epoch `state.epoch + 1`); members whose update goes non-finite
/// are marked diverged at the epoch's end (on the device they stop at once). Returns each member's mean training NLL
/// per predicted frame (at the noisy weights, over its finite updates), `None` where it did not train. With
/// `max_updates`, the epoch stops once `state.updates` reaches it.
///
/// The sums and flags stay on the device until the epoch ends: nothing is read back inside an update
/// ([`host_reads`] counts what is).
fn train_epoch(
    cfg: &TrainConfig,
    prepared: &PreparedData,
    pop: &mut Population,
    state: &mut TrainState,
    max_updates: Option<usize>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<Option<f64>>> {
    let epoch = state.epoch + 1;
    let k = state.members.len();
    let plan = prepared.plan_epoch(epoch)?;
    progress(Progress::EpochStart {
        epoch,
        max_epochs: cfg.max_epochs,
        batches: plan.batches.len(),
    });
    let trains = pop.active_members().to_vec();
    let device = pop.lr.device();
    let mut train_sum = Tensor::zeros([k as i64], (Kind::Double, device));
    let mut all_finite = Tensor::ones([k as i64], (Kind::Bool, device));
    let mut train_frames = 0usize;
    'batches: for members in &plan.batches {
        let b = prepared.train_batch(members, cfg.dtype.kind())?;
        // Zero-state chunks were cut when the data was prepared: one update per batch. With carried state the
        // batch holds whole pieces, trained chunk after chunk from the previous chunk's final state.
        let chunk = cfg.chunking().carried_len();
        let mut carried = None;
        for (start, len) in population::time_slices(&b.x, chunk) {
            if max_updates.is_some_and(|n| state.updates >= n as u64) {
                break 'batches;
            }
            let (x, y, mask) = (
                b.x.narrow(0, start, len),
                b.y.narrow(0, start, len),
                b.mask.narrow(0, start, len),
            );
            let frames = if chunk == 0 {
                b.predicted_frames
            } else {
                b.frames_in(start, len)
            };
            let noise = pop.draw_noise(cfg.weight_noise)?;
            let (nll, finite, last) =
                pop.update_from(&x, &y, &mask, frames, &noise, carried.as_ref())?;
            carried = Some(last);
            train_sum += nll
                .to_kind(Kind::Double)
                .where_self(&finite, &train_sum.zeros_like());
            all_finite = all_finite.logical_and(&finite);
            train_frames += frames;
            state.updates += 1;
        }
        progress(Progress::Batch);
    }
    let finite: Vec<bool> = host_read(&all_finite)?;
    if stopping::record_divergence(&mut state.members, &finite, epoch) {
        pop.set_active(&state.members)?;
    }
    let sums: Vec<f64> = host_read(&train_sum)?;
    // A member that was not training this epoch (stopped or diverged before it) has no training NLL.
    Ok(sums
        .iter()
        .zip(&trains)
        .map(|(&sum, &on)| {
            (on && train_frames > 0 && sum.is_finite()).then(|| sum / train_frames as f64)
        })
        .collect())
}

thread_local! {
    static HOST_READS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many tensors training has read back to the host on the calling thread so far (training runs on the thread
/// that calls [`train`]): per epoch, the members' training NLL sums and finite flags, and one read per evaluated
/// split. Nothing inside an update reads: an epoch of many updates reads what an epoch of few reads.
pub fn host_reads() -> usize {
    HOST_READS.with(|n| n.get())
}

/// Reads a tensor back to the host (counted by [`host_reads`]).
pub(crate) fn host_read<T>(t: &Tensor) -> Result<Vec<T>>
where
    Vec<T>: for<'a> TryFrom<&'a Tensor, Error = tch::TchError>,
{
    HOST_READS.with(|n| n.set(n.get() + 1));
    Ok(Vec::<T>::try_from(&t.to_device(Device::Cpu))?)
}

/// The validation NLLs of the checkpoint's epoch, read back from `metrics.jsonl` (exactly what an uninterrupted run
/// holds in memory there, see [`evaluate_valid`], so a resumed run skips and reuses as it would have); `None` for a
/// fresh run, or when that epoch's line is missing.
fn last_evaluation(run: &RunDir, state: &TrainState) -> Option<Vec<f64>> {
    if state.epoch == 0 {
        return None;
    }
    let (epochs, _) = run.read_metrics();
    let line = epochs.iter().rev().find(|m| m.epoch == state.epoch)?;
    if line.members.len() != state.members.len() {
        return None;
    }
    Some(
        line.members
            .iter()
            .map(|m| m.valid_nll.unwrap_or(f64::NAN))
            .collect(),
    )
}

/// Each member's best validation NLL so far, NaN while it has none (a row of the pruning rule's history).
fn best_so_far(state: &TrainState) -> Vec<f64> {
    state
        .members
        .iter()
        .map(|m| m.best_valid.unwrap_or(f64::NAN))
        .collect()
}

/// The pruning rule's history up to the checkpoint's epoch, rebuilt from `metrics.jsonl`: row `e - 1` holds each
/// member's lowest validation NLL over epochs 1..=e, what [`best_so_far`] gave an uninterrupted run there (for the
/// members the rule reads, the active ones). An epoch missing from the file leaves its row NaN, which keeps the rule
/// from pruning on it.
fn best_history(run: &RunDir, state: &TrainState) -> Vec<Vec<f64>> {
    let k = state.members.len();
    let mut rows = vec![vec![f64::NAN; k]; state.epoch];
    if state.epoch == 0 {
        return rows;
    }
    let (epochs, _) = run.read_metrics();
    let mut best = vec![f64::NAN; k];
    let mut complete = true;
    for e in 1..=state.epoch {
        match epochs.iter().rev().find(|m| m.epoch == e) {
            Some(line) if complete && line.members.len() == k => {
                for (b, m) in best.iter_mut().zip(&line.members) {
                    if let Some(v) = m.valid_nll.filter(|v| v.is_finite()) {
                        if b.is_nan() || v < *b {
                            *b = v;
                        }
                    }
                }
                rows[e - 1] = best.clone();
            }
            // A running minimum cannot skip an epoch: from a gap on, the history is unknown.
            _ => complete = false,
        }
    }
    rows
}

/// Validation NLL of every member for an epoch's metrics. A member that was not `moving` this epoch (inactive from
/// its start) has the weights of the last evaluation, so it keeps that evaluation's value, which is what evaluating
/// it again would give; the others are evaluated (all of them when no earlier evaluation is known: a fresh run's
/// first epoch, or a resumed run whose metrics lack the checkpoint's epoch).
fn evaluate_valid(
    pop: &Population,
    prepared: &PreparedData,
    moving: &[bool],
    last: &mut Option<Vec<f64>>,
) -> Result<Vec<f64>> {
    let needed: Vec<bool> = match last {
        Some(_) => moving.to_vec(),
        None => vec![true; moving.len()],
    };
    let mut v = pop.evaluate_members(
        prepared.eval_batches(Split::Valid),
        prepared.frames(Split::Valid),
        &needed,
    )?;
    if let Some(previous) = last.as_ref() {
        for (m, x) in v.iter_mut().enumerate() {
            if !needed[m] {
                *x = previous[m];
            }
        }
    }
    *last = Some(v.clone());
    Ok(v)
}

/// Test NLL of the members whose validation NLL `improved` this epoch (NaN for the others, recorded as null): the
/// only epochs whose test NLL can matter are a member's best ones, and the final evaluation recomputes the test NLL
/// at the best weights anyway. `rnnlab show` reads it from `metrics.jsonl` for a run still training.
fn evaluate_test(pop: &Population, prepared: &PreparedData, improved: &[bool]) -> Result<Vec<f64>> {
    if !improved.iter().any(|&i| i) {
        return Ok(vec![f64::NAN; improved.len()]);
    }
    let mut v = pop.evaluate_members(
        prepared.eval_batches(Split::Test),
        prepared.frames(Split::Test),
        improved,
    )?;
    for (x, &on) in v.iter_mut().zip(improved) {
        if !on {
            *x = f64::NAN;
        }
    }
    Ok(v)
}

/// The line of `metrics.jsonl` (and rows of `metrics.csv`) for the epoch `state` has just completed.
fn epoch_metrics(
    state: &TrainState,
    lrs: &[f64],
    train_nll: &[Option<f64>],
    valid: &[f64],
    test: &[f64],
) -> EpochMetrics {
    EpochMetrics {
        epoch: state.epoch,
        updates: state.updates,
        seconds: state.seconds,
        cpu_seconds: state.cpu_seconds,
        members: (0..state.members.len())
            .map(|m| MemberMetrics {
                lr: lrs[m],
                train_nll: train_nll[m],
                valid_nll: valid[m].is_finite().then_some(valid[m]),
                test_nll: test[m].is_finite().then_some(test[m]),
                status: state.members[m].status,
            })
            .collect(),
    }
}

/// Every member evaluated on the three whole splits at its best weights, without noise.
fn final_evaluation(
    pop: &Population,
    best: &[Tensor],
    prepared: &PreparedData,
    state: &TrainState,
    lrs: &[f64],
) -> Result<Vec<MemberResult>> {
    pop.load_best(best);
    let train_nll = pop.evaluate_split(prepared, Split::Train)?;
    let valid_nll = pop.evaluate_split(prepared, Split::Valid)?;
    let test_nll = pop.evaluate_split(prepared, Split::Test)?;
    Ok(state
        .members
        .iter()
        .enumerate()
        .map(|(m, ms)| MemberResult {
            member: m,
            lr: lrs[m],
            status: ms.status,
            status_epoch: ms.status_epoch,
            best_epoch: ms.best_epoch,
            train_nll: train_nll[m],
            valid_nll: valid_nll[m],
            test_nll: test_nll[m],
        })
        .collect())
}

/// The run's summary, with its best member chosen by [`Summary::choose_best`].
fn summarise(
    cfg: &TrainConfig,
    pop: &Population,
    state: &TrainState,
    members: Vec<MemberResult>,
) -> Summary {
    let (params_paper, params_total) = pop.model.param_counts();
    Summary {
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
        cpu_seconds: state.cpu_seconds,
        population: members.len(),
        seeds: cfg.seeds,
        best_member: Summary::choose_best(&members),
        best_member_per_seed: Summary::choose_best_per_seed(&members, cfg.seeds),
        tokens: cfg
            .token_name()
            .map(|t| crate::run::TokenBits::of(t, &members)),
        members,
    }
}

/// A token run's epoch scalars in bits per token: every NLL tag of the epoch's TensorBoard scalars (`*_nll`) again
/// as `*_bits`, its value divided by ln 2.
fn bits_scalars(metrics: &EpochMetrics) -> Vec<(String, f64)> {
    let members: Vec<crate::run::tfevents::tags::MemberScalars> =
        metrics.members.iter().map(Into::into).collect();
    crate::run::tfevents::tags::epoch_scalars(&members)
        .into_iter()
        .filter_map(|(tag, v)| {
            let stem = tag.strip_suffix("_nll")?;
            Some((format!("{stem}_bits"), v / std::f64::consts::LN_2))
        })
        .collect()
}

/// CPU time of the calling thread, in seconds. With one libtorch thread (the default `threads = 1`), libtorch runs
/// the forward and backward passes on the calling thread, so this is the run's own compute, unaffected by whatever
/// else the machine runs (which wall-clock seconds are not).
fn thread_cpu_seconds() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer; CLOCK_THREAD_CPUTIME_ID exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    if rc != 0 {
        return 0.0;
    }
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}
