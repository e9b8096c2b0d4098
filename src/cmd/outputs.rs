//! The commands that turn runs into things to look at: `compare`, `sample`, `plot`.

use anyhow::{Context, Result};
use rnnlab::cells::CellKind;
use rnnlab::data::Dataset;
use rnnlab::device::{DeviceArg, Dtype};
use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct CompareArgs {
    /// Any music set (jsb, nottingham, musedata, piano), fsdd, shakespeare, or text / npz with
    /// `--set data_path=…`.
    #[arg(long, default_value = "jsb")]
    pub(crate) dataset: Dataset,
    /// Units with a libtorch built-in, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "tanh,torch_gru,torch_lstm"
    )]
    pub(crate) cells: Vec<CellKind>,
    /// Epochs per run (each unit trains four runs).
    #[arg(long, default_value_t = 10)]
    pub(crate) epochs: usize,
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    pub(crate) dtype: Dtype,
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub(crate) device: DeviceArg,
    /// Learning-rate candidates (default: the experiment's).
    #[arg(long)]
    pub(crate) lr_candidates: Option<usize>,
    /// Use only N training sequences (config key train_subset).
    #[arg(long)]
    pub(crate) train_subset: Option<usize>,
    /// Use only N validation and test sequences (config key eval_subset).
    #[arg(long)]
    pub(crate) eval_subset: Option<usize>,
    /// Override a config key in every run (repeatable), e.g. `--set hidden=20`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) overrides: Vec<String>,
    /// Tolerance on |Δ NLL| at any epoch (default: by dtype, see rnnlab::compare::Tolerance).
    #[arg(long)]
    pub(crate) nll_tol: Option<f64>,
    /// Tolerance on |Δ weight| after the first update (default: by dtype).
    #[arg(long)]
    pub(crate) weight_tol: Option<f64>,
    /// Output directory (default: runs/compare/<dataset>).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Where the experiment configs are.
    #[arg(long, default_value = "experiments")]
    pub(crate) experiments: PathBuf,
    /// Data directory (default: $RNNLAB_DATA, else ./data).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// No line per epoch.
    #[arg(long)]
    pub(crate) quiet: bool,
}

pub(crate) fn compare_cmd(args: CompareArgs) -> Result<bool> {
    let mut overrides = vec![];
    if let Some(n) = args.lr_candidates {
        overrides.push(format!("lr_candidates={n}"));
    }
    if let Some(n) = args.train_subset {
        overrides.push(format!("train_subset={n}"));
    }
    if let Some(n) = args.eval_subset {
        overrides.push(format!("eval_subset={n}"));
    }
    overrides.extend(args.overrides);
    let default = rnnlab::compare::Tolerance::for_dtype(args.dtype);
    let opts = rnnlab::compare::Options {
        dataset: args.dataset,
        cells: args.cells,
        epochs: args.epochs,
        dtype: args.dtype,
        device: args.device,
        overrides,
        tolerance: rnnlab::compare::Tolerance {
            nll: args.nll_tol.unwrap_or(default.nll),
            weights: args.weight_tol.unwrap_or(default.weights),
        },
        out: args
            .out
            .unwrap_or_else(|| PathBuf::from(format!("runs/compare/{}", args.dataset.name()))),
        data_dir: rnnlab::data::resolve_data_dir(args.data_dir.as_deref()),
        experiments: args.experiments,
        quiet: args.quiet,
    };
    let c = rnnlab::compare::compare(&opts)?;
    print!("{}", rnnlab::compare::markdown(&c));
    println!(
        "wrote {0}/compare.json, {0}/compare.md, {0}/compare_{1}.png",
        opts.out.display(),
        c.dataset
    );
    for f in &c.failures {
        eprintln!("FAIL: {f}");
    }
    Ok(c.pass())
}

#[derive(clap::Args)]
pub(crate) struct SampleArgs {
    /// A run directory (from `rnnlab train` or `rnnlab reproduce`): speech, music or text.
    pub(crate) run_dir: PathBuf,
    /// The file to write: a WAV (speech), a MIDI file (music; the piano roll goes beside it as .png), or a text
    /// file (text, Shakespeare, integer NPZ).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Speech: length of the audio in seconds.
    #[arg(long, default_value_t = 2.0)]
    pub(crate) seconds: f64,
    /// Text: tokens (characters) to generate after the priming text.
    #[arg(long, default_value_t = 500)]
    pub(crate) length: usize,
    /// Text: softmax temperature (0: the most likely token at every step).
    #[arg(long, default_value_t = 1.0)]
    pub(crate) temperature: f64,
    /// Text: priming text fed to the model first (and written first).
    #[arg(long, default_value = "")]
    pub(crate) prime: String,
    /// Population member to sample (default: the best by validation NLL).
    #[arg(long)]
    pub(crate) member: Option<usize>,
    #[command(flatten)]
    pub(crate) music: rnnlab::generate::music::MusicSampleOptions,
    /// Music: data directory for the test pieces (default: $RNNLAB_DATA, else ./data).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
}

pub(crate) fn sample_cmd(args: SampleArgs) -> Result<bool> {
    let (_, cfg) = rnnlab::run::RunDir::open(&args.run_dir)?;
    if cfg.token_name().is_some() {
        let opts = rnnlab::generate::text::TextSampleOptions {
            length: args.length,
            temperature: args.temperature,
            seed: args.music.seed,
            prime: args.prime.clone(),
            member: args.member,
        };
        let s = rnnlab::generate::text::sample_text(&args.run_dir, &opts)?;
        rnnlab::atomic::write_atomic(&args.out, s.text.as_bytes())?;
        if s.unknown_in_prime > 0 {
            eprintln!(
                "note: {} symbol(s) of the priming text are not in the run's vocabulary (fed as the unknown id)",
                s.unknown_in_prime
            );
        }
        println!(
            "wrote {} ({} tokens after {} of priming text, temperature {}, seed {}, member {} of {})",
            args.out.display(),
            s.generated,
            args.prime.chars().count(),
            args.temperature,
            args.music.seed,
            s.member,
            args.run_dir.display()
        );
        return Ok(true);
    }
    if cfg.dataset.task() == rnnlab::data::Task::Music {
        let opts = rnnlab::generate::music::MusicSampleOptions {
            member: args.member,
            ..args.music
        };
        let data_dir = rnnlab::data::resolve_data_dir(args.data_dir.as_deref());
        let s = rnnlab::generate::music::sample_music(&args.run_dir, &data_dir, &args.out, &opts)?;
        println!(
            "wrote {} ({} frames, {} notes, {:.3} s per frame, member {} of {}) and {}",
            s.midi.display(),
            s.roll.len() / rnnlab::data::KEYS,
            s.notes,
            s.timing.frame_seconds(),
            s.member,
            args.run_dir.display(),
            s.png.display()
        );
        return Ok(true);
    }
    let g = rnnlab::generate::sample_to_wav(
        &args.run_dir,
        &args.out,
        args.seconds,
        args.music.seed,
        args.member,
    )?;
    println!(
        "wrote {} ({} samples at 8 kHz from member {} of {})",
        args.out.display(),
        g.samples.len(),
        g.member,
        args.run_dir.display()
    );
    Ok(true)
}

/// Shape families for `--shapes`.
#[derive(clap::Args)]
pub(crate) struct PlotArgs {
    /// Run directories, reproduce outputs (holding runs/ and table2.json), or directories of runs.
    #[arg(value_name = "RUN_DIR", required_unless_present = "study")]
    pub(crate) inputs: Vec<PathBuf>,
    /// A recipe study (one run directory per setting, as scripts/recipe-study.sh writes): draw
    /// recipe-study_<dataset>.png and write recipe-study_<dataset>.md instead of the paper's figures.
    #[arg(long, value_name = "DIR", conflicts_with = "inputs")]
    pub(crate) study: Option<PathBuf>,
    /// Where to write the PNGs (default: <reproduce output>/plots when one is given, else ./plots).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

pub(crate) fn plot_cmd(args: PlotArgs) -> Result<bool> {
    let out = args.out.unwrap_or_else(|| {
        args.inputs
            .iter()
            .find(|p| p.join("runs").is_dir())
            .map(|p| p.join("plots"))
            .unwrap_or_else(|| PathBuf::from("plots"))
    });
    let report = match &args.study {
        Some(dir) => rnnlab::report::plot::recipe_study(dir, &out)?,
        None => rnnlab::report::plot_all(&args.inputs, &out)?,
    };
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    for path in &report.written {
        println!("wrote {}", path.display());
    }
    Ok(true)
}

#[derive(clap::Args)]
pub(crate) struct EvalArgs {
    /// Run directories, `rnnlab reproduce` outputs (their runs/ are taken) or directories of run directories.
    #[arg(required = true)]
    pub(crate) paths: Vec<PathBuf>,
    /// Data directory holding the runs' datasets (default: $RNNLAB_DATA, else ./data).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// The `reset` variant starts every slice of this many steps from a zero state (50: the profiles' training
    /// chunks).
    #[arg(long, default_value_t = 50)]
    pub(crate) reset_every: usize,
    /// Every member of each population, not only the chosen member of each seed.
    #[arg(long)]
    pub(crate) all_members: bool,
    /// Also draw the NLL by position in the piece (frames 0–49, 50–199, 200+; carried and reset) of every run
    /// evaluated into this PNG, one panel per dataset.
    #[arg(long, value_name = "FILE.png")]
    pub(crate) plot: Option<PathBuf>,
    /// The split the --plot figure shows.
    #[arg(long, default_value = "test", value_parser = ["train", "valid", "test"])]
    pub(crate) plot_split: String,
}

/// `rnnlab eval`: the metric's variants of each run, printed and written to the run's eval.json.
pub(crate) fn eval_cmd(args: EvalArgs) -> Result<bool> {
    let data_dir = rnnlab::data::resolve_data_dir(args.data_dir.as_deref());
    let (runs, _) = rnnlab::report::inputs::expand_inputs(&args.paths)?;
    anyhow::ensure!(
        !runs.is_empty(),
        "no run directory found under {}",
        args.paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(plot) = &args.plot {
        anyhow::ensure!(
            plot.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("png")),
            "--plot {}: the figure is a PNG; give a file name ending in .png",
            plot.display()
        );
    }
    let mut evals = Vec::new();
    for run in &runs {
        let eval = rnnlab::eval::evaluate_run(run, &data_dir, args.reset_every, args.all_members)
            .with_context(|| format!("evaluating {}", run.display()))?;
        println!("{}", rnnlab::eval::markdown(&eval));
        println!(
            "written to {}\n",
            run.join(rnnlab::eval::EVAL_FILE).display()
        );
        evals.push(eval);
    }
    if let Some(plot) = &args.plot {
        let split = match args.plot_split.as_str() {
            "train" => rnnlab::data::Split::Train,
            "valid" => rnnlab::data::Split::Valid,
            _ => rnnlab::data::Split::Test,
        };
        rnnlab::report::plot::positions_chart(&evals, split, plot)?;
        println!("figure: {}", plot.display());
    }
    Ok(true)
}
