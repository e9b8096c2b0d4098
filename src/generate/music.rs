//! `rnnlab sample` on a music run: a Standard MIDI File and a piano-roll PNG of frames drawn from the run's best
//! member.
//!
//! The run's best weights (`best.*` of its last checkpoint, [`RunDir::load_best_model`]) are loaded on the CPU; the
//! member is the run's best by validation NLL ([`RunDir::best_member`]) unless one is asked for. The model is
//! stepped one frame at a time with [`Model::outputs_from`](crate::model::Model::outputs_from), its recurrent state
//! carried between calls:
//! ```text
//! primer: the first P frames of test piece I (teacher forcing), or one silent frame when P = 0
//! p_t   = σ(out(h_t))                   88 Bernoulli probabilities of the next frame
//! x_t+1 = draw(p_t)                     Bernoulli or most likely (see [`super::sampling`]), fed back
//! ```
//! The MIDI file holds the primer followed by the drawn frames (timing: [`MidiTiming::for_dataset`]); the PNG
//! puts that roll (a grey line where the primer ends) beside the same number of frames of the real test piece.

use super::sampling::{generate, SampleMode};
use crate::data::music::{load_music, KEYS};
use crate::data::{Split, Task};
use crate::report::chart::unit_color;
use crate::report::midi::{roll_notes, write_midi, MidiTiming};
use crate::report::pianoroll::{draw_piano_rolls, Panel};
use crate::run::RunDir;
use anyhow::{ensure, Context, Result};
use plotters::style::RGBColor;
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// What to sample: the music flags of `rnnlab sample`.
#[derive(Clone, Debug, clap::Args)]
pub struct MusicSampleOptions {
    /// Music: frames to draw after the primer.
    #[arg(long, default_value_t = 64)]
    pub frames: usize,
    /// Music: frames of a test piece fed to the model first (0: no primer, one silent frame instead).
    #[arg(long, default_value_t = 8)]
    pub primer_frames: usize,
    /// Music: which test piece primes the model and is drawn beside the sample.
    #[arg(long, default_value_t = 0)]
    pub primer_piece: usize,
    /// Music: the most likely frame at each step (key on iff p > 0.5) instead of Bernoulli draws.
    #[arg(long)]
    pub most_likely: bool,
    /// Seed of the draws.
    #[arg(long, default_value_t = 2014)]
    pub seed: u64,
    /// Music: seconds per frame in the MIDI file (default 0.5 for JSB's quarter notes, 0.25 for the others'
    /// eighths, i.e. 120 quarter notes per minute).
    #[arg(long)]
    pub frame_seconds: Option<f64>,
    /// Population member to sample (default: the best by validation NLL); `rnnlab sample --member` sets it.
    #[arg(skip)]
    pub member: Option<usize>,
}

impl Default for MusicSampleOptions {
    fn default() -> Self {
        MusicSampleOptions {
            frames: 64,
            primer_frames: 8,
            primer_piece: 0,
            most_likely: false,
            seed: 2014,
            frame_seconds: None,
            member: None,
        }
    }
}

/// What [`sample_music`] wrote.
#[derive(Clone, Debug)]
pub struct MusicSample {
    /// The member that generated the sample (the best by validation NLL unless asked otherwise).
    pub member: usize,
    /// Primer and drawn frames, row-major, 88 per frame.
    pub roll: Vec<u8>,
    /// Frames of the primer (taken from a test piece) at the start of `roll`.
    pub primer_frames: usize,
    /// Notes in the MIDI file (primer and drawn frames).
    pub notes: usize,
    /// How frames map to MIDI ticks and seconds.
    pub timing: MidiTiming,
    /// The MIDI file written.
    pub midi: PathBuf,
    /// The piano-roll figure written beside it (the sample over a real test piece).
    pub png: PathBuf,
}

/// Samples a music run into `out` (the MIDI file; the PNG is written beside it with the extension `.png`).
/// `data_dir` holds the run's dataset (for the primer and the real piece).
pub fn sample_music(
    run_dir: &Path,
    data_dir: &Path,
    out: &Path,
    opts: &MusicSampleOptions,
) -> Result<MusicSample> {
    let (run, cfg) = RunDir::open(run_dir)?;
    let dataset = cfg.dataset;
    ensure!(
        dataset.task() == Task::Music,
        "{} is a {} run, not a music run",
        run_dir.display(),
        dataset
    );
    ensure!(opts.frames > 0, "--frames must be at least 1");
    let timing = MidiTiming::for_dataset(cfg.dataset.name(), opts.frame_seconds)?;
    let (_, data) = load_music(data_dir, dataset)?;
    let tests = data.split(Split::Test);
    let piece = tests.get(opts.primer_piece).with_context(|| {
        format!(
            "--primer-piece {} does not exist: {} has {} test pieces",
            opts.primer_piece,
            dataset.title(),
            tests.len()
        )
    })?;
    ensure!(
        opts.primer_frames <= piece.len(),
        "--primer-frames {} is longer than test piece {} ({} frames)",
        opts.primer_frames,
        opts.primer_piece,
        piece.len()
    );
    let primer = &piece.as_slice()[..opts.primer_frames * KEYS];

    let (model, member) = super::load_member(&run, &cfg, opts.member)?;
    let kind = cfg.dtype.kind();
    let mode = if opts.most_likely {
        SampleMode::MostLikely
    } else {
        SampleMode::Bernoulli
    };
    let drawn = tch::no_grad(|| {
        let mut carried = None;
        let mut step = |frame: &[u8]| -> Result<Vec<f64>> {
            // One frame for every member ([T = 1, B = 1, 88]); only `member`'s output is used.
            let x = Tensor::from_slice(frame)
                .to_kind(kind)
                .view([1, 1, KEYS as i64]);
            let (logits, s) = model.outputs_from(&x, carried.as_ref())?; // [K, 1, 1, 88]
            carried = Some(s);
            let p = logits.get(member as i64).sigmoid().flatten(0, -1);
            Ok(Vec::<f64>::try_from(&p.to_kind(Kind::Double))?)
        };
        generate(&mut step, primer, opts.frames, mode, opts.seed)
    })?;
    let roll = [primer, &drawn[..]].concat();

    let midi = out.to_path_buf();
    let png = out.with_extension("png");
    ensure!(
        midi != png,
        "--out must not end in .png (the piano roll goes there)"
    );
    write_midi(&midi, &roll, &timing)?;
    let frames = roll.len() / KEYS;
    let real = &piece.as_slice()[..frames.min(piece.len()) * KEYS];
    let sample_title = format!(
        "sample from {} (member {member}{})",
        cfg.cell,
        if opts.most_likely {
            ", most likely"
        } else {
            ""
        }
    );
    let real_title = format!("real test piece {}", opts.primer_piece);
    draw_piano_rolls(
        &png,
        &[
            Panel {
                title: &sample_title,
                roll: &roll,
                color: unit_color(cfg.cell.family()),
                divider: (opts.primer_frames > 0).then_some(opts.primer_frames),
            },
            Panel {
                title: &real_title,
                roll: real,
                color: RGBColor(0, 0, 0),
                divider: None,
            },
        ],
        Some(&format!(
            "{}: {} primer + {} drawn frames, {:.2} s each",
            dataset.title(),
            opts.primer_frames,
            opts.frames,
            timing.frame_seconds()
        )),
    )?;
    Ok(MusicSample {
        member,
        notes: roll_notes(&roll)?.len(),
        roll,
        primer_frames: opts.primer_frames,
        timing,
        midi,
        png,
    })
}
