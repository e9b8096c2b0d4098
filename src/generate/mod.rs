//! `rnnlab sample`: audio from a trained speech run (this file), a MIDI file and a piano roll from a trained music run
//! ([`music`], drawing frames as [`sampling`] says), text from a token run ([`text`]), so people can listen to (or
//! read) what a model learned.
//!
//! Speech:
//! The run's best weights (`best.*` in its last checkpoint, [`RunDir::load_best_model`]: weights only) are loaded for
//! every member, on the CPU; generation starts from two
//! frames of silence (int16 zero, normalised) and then feeds each step's draw back as input:
//! ```text
//! x_0 = (s, s) with s = (0 − μ)/σ         20 samples
//! ŷ_t ~ MoG(out(h_t))                     10 samples, one draw (component, then Gaussian)
//! x_{t+1} = (last 10 samples of x_t) ‖ ŷ_t
//! ```
//! Draws come from libtorch's generator seeded with `seed`, so the same run and seed give the same audio. The
//! samples are de-normalised with the run's `normalisation.json` and written as 8 kHz mono 16-bit PCM.

pub mod music;
pub mod sampling;
pub mod text;

use crate::data::speech::{write_wav, Normalisation, FRAME, INPUT, SAMPLE_RATE};
use crate::data::Task;
use crate::model::{mog_sample, Head, MOG_MIN_SCALE};
use crate::rng::Rng;
use crate::run::RunDir;
use anyhow::{bail, ensure, Result};
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// What [`sample_run`] produced.
pub struct Generated {
    /// The member whose audio was written.
    pub member: usize,
    /// The drawn samples in normalised units (undo with `norm`), 8 kHz.
    pub samples: Vec<f32>,
    /// The run's normalisation, used to write the WAV in int16 units.
    pub norm: Normalisation,
}

/// A run's best model (on the CPU) and the member to sample: `member`, or the best by validation NLL; a member the
/// run does not have is an error.
fn load_member(
    run: &RunDir,
    cfg: &crate::config::TrainConfig,
    member: Option<usize>,
) -> Result<(crate::model::Model, usize)> {
    let (model, state) = run.load_best_model(cfg, Device::Cpu)?;
    let member = match member {
        Some(m) => m,
        None => run.best_member(&state)?,
    };
    let k = model.population() as usize;
    ensure!(
        member < k,
        "member {member} does not exist (the run has {k})"
    );
    Ok((model, member))
}

/// Generates `seconds` of audio from the best member (by validation NLL) of a speech run, or from `member`.
pub fn sample_run(
    run_dir: &Path,
    seconds: f64,
    seed: u64,
    member: Option<usize>,
) -> Result<Generated> {
    let (run, cfg) = RunDir::open(run_dir)?;
    ensure!(
        cfg.dataset.task() == Task::Speech,
        "{} is a {} run; only speech runs (dataset = \"fsdd\") can be sampled",
        run_dir.display(),
        cfg.dataset
    );
    ensure!(
        seconds > 0.0 && seconds <= 60.0,
        "--seconds must be in (0, 60]"
    );
    let norm = run.read_normalisation()?;
    let (model, member) = load_member(&run, &cfg, member)?;
    let Head::Mog { components, dim } = model.head() else {
        bail!("the model of {} has no mixture head", run_dir.display());
    };
    let kind = cfg.dtype.kind();
    let steps = ((seconds * SAMPLE_RATE as f64) as usize).div_ceil(FRAME);
    let mut rng = Rng::new(seed)?;
    let out = tch::no_grad(|| -> Result<Tensor> {
        let silence = (0.0 - norm.mean) / norm.std;
        let mut x = Tensor::full(
            [model.population(), 1, 1, INPUT as i64],
            silence,
            (kind, Device::Cpu),
        );
        let mut state = None;
        let mut frames = Vec::with_capacity(steps);
        for _ in 0..steps {
            let (o, s) = model.outputs_from(&x, state.as_ref())?;
            let y = mog_sample(&o, components, dim, MOG_MIN_SCALE, &mut rng); // [K, 1, 1, 10]
            x = Tensor::cat(
                &[x.narrow(-1, FRAME as i64, FRAME as i64), y.shallow_clone()],
                -1,
            );
            frames.push(y);
            state = Some(s);
        }
        Ok(Tensor::cat(&frames, -1).get(member as i64).flatten(0, -1))
    })?;
    let samples: Vec<f32> = Vec::<f32>::try_from(&out.to_kind(Kind::Float))?;
    Ok(Generated {
        member,
        samples,
        norm,
    })
}

/// Writes [`sample_run`]'s audio to `out` (WAV).
pub fn sample_to_wav(
    run_dir: &Path,
    out: &Path,
    seconds: f64,
    seed: u64,
    member: Option<usize>,
) -> Result<Generated> {
    let g = sample_run(run_dir, seconds, seed, member)?;
    write_wav(out, &g.samples, &g.norm)?;
    Ok(g)
}
