//! `rnnlab sample`: audio from a trained speech run, so people can listen to what a model learned.
//!
//! The run's best weights (`best.*` in its last checkpoint) are loaded for every member; generation starts from two
//! frames of silence (int16 zero, normalised) and then feeds each step's draw back as input:
//! ```text
//! x_0 = (s, s) with s = (0 − μ)/σ         20 samples
//! ŷ_t ~ MoG(out(h_t))                     10 samples, one draw (component, then Gaussian)
//! x_{t+1} = (last 10 samples of x_t) ‖ ŷ_t
//! ```
//! Draws come from libtorch's generator seeded with `seed`, so the same run and seed give the same audio. The
//! samples are de-normalised with the run's `normalisation.json` and written as 8 kHz mono 16-bit PCM.

use crate::data::speech::{write_wav, Normalisation, FRAME, INPUT, SAMPLE_RATE};
use crate::data::Task;
use crate::model::{mog_sample, Head, MOG_MIN_SCALE};
use crate::train::run::RunDir;
use crate::train::{Population, Summary, TrainState};
use anyhow::{bail, ensure, Context, Result};
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// What [`sample_run`] produced.
pub struct Generated {
    /// The member whose audio was written.
    pub member: usize,
    pub samples: Vec<f32>,
    pub norm: Normalisation,
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
    let norm_path = run_dir.join("normalisation.json");
    let norm: Normalisation = serde_json::from_str(
        &std::fs::read_to_string(&norm_path)
            .with_context(|| format!("reading {}", norm_path.display()))?,
    )
    .with_context(|| format!("{} is not valid", norm_path.display()))?;
    let (tensors, state) = run.load_checkpoint()?;
    let member = match member {
        Some(m) => m,
        None => best_member(run_dir, &state)?,
    };
    let cfg = crate::config::TrainConfig {
        device: crate::device::DeviceArg::Cpu,
        ..cfg
    };
    let pop = Population::new(&cfg, Device::Cpu)?;
    let k = pop.model.population() as usize;
    ensure!(
        member < k,
        "member {member} does not exist (the run has {k})"
    );
    tch::no_grad(|| -> Result<()> {
        for (name, p) in pop.model.named_parameters() {
            let best = tensors
                .iter()
                .find(|(n, _)| *n == format!("best.{name}"))
                .map(|(_, t)| t)
                .with_context(|| format!("the checkpoint lacks best.{name}"))?;
            p.shallow_clone().f_copy_(best)?;
        }
        Ok(())
    })?;
    let Head::Mog { components, dim } = pop.model.head() else {
        bail!("the model of {} has no mixture head", run_dir.display());
    };
    let kind = cfg.dtype.kind();
    let steps = ((seconds * SAMPLE_RATE as f64) as usize).div_ceil(FRAME);
    tch::manual_seed(seed as i64);
    let out = tch::no_grad(|| -> Result<Tensor> {
        let silence = (0.0 - norm.mean) / norm.std;
        let mut x = Tensor::full([k as i64, 1, 1, INPUT as i64], silence, (kind, Device::Cpu));
        let mut state = None;
        let mut frames = Vec::with_capacity(steps);
        for _ in 0..steps {
            let (o, s) = pop.model.outputs_from(&x, state.as_ref())?;
            let y = mog_sample(&o, components, dim, MOG_MIN_SCALE); // [K, 1, 1, 10]
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

/// The summary's best member, else the one with the lowest best validation NLL in the checkpoint's state.
fn best_member(run_dir: &Path, state: &TrainState) -> Result<usize> {
    if let Ok(text) = std::fs::read_to_string(run_dir.join("summary.json")) {
        if let Ok(s) = serde_json::from_str::<Summary>(&text) {
            if let Some(m) = s.best_member {
                return Ok(m);
            }
        }
    }
    state
        .members
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.best_valid.map(|v| (i, v)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
        .with_context(|| {
            format!(
                "{} has no member with a validation NLL yet",
                run_dir.display()
            )
        })
}
