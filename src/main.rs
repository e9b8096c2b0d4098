//! The `rnnlab` command line: parses arguments and calls the library.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use rnnlab::bench::{self, Tier};
use rnnlab::cells::CellKind;
use rnnlab::config::TrainConfig;
use rnnlab::data::Dataset;
use rnnlab::device::{cuda_unavailable_reason, DeviceArg, Dtype};
use rnnlab::validate;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "rnnlab",
    version,
    about = "Custom tanh-RNN, GRU and LSTM cells on libtorch, checked against PyTorch; reproduces Chung et al. 2014",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prove the custom cells equal to PyTorch: against libtorch's built-ins on random shapes, against golden
    /// PyTorch/NumPy fixtures, and against finite differences. Exits non-zero if any check fails.
    Validate(ValidateArgs),
    /// The music datasets: `fetch` downloads them with pinned checksums, `verify` checks the files present,
    /// `stats` reads and validates them and prints split statistics.
    Data(rnnlab::data::DataArgs),
    /// Time forward and forward+backward of every implementation of each unit, in tiers from a naive Rust loop to
    /// cuDNN (see `rnnlab::bench`): a table on screen, optionally JSON (`--json`), a chart (`--png`), and a table
    /// against PyTorch (`--compare` a JSON from scripts/bench_pytorch.py).
    Bench(Box<BenchArgs>),
    /// Train one experiment (a population of learning-rate candidates × seeds) into a run directory.
    Train(TrainArgs),
    /// Reproduce Table 2: every dataset × unit of experiments/ for a task (music, or speech on FSDD), side by side,
    /// then the table (Markdown, CSV, JSON) beside the paper's numbers.
    Reproduce(Box<ReproduceArgs>),
    /// Draw the paper's figures as PNG from run directories and/or `rnnlab reproduce` outputs: learning curves per
    /// dataset, Fig. 2 (Nottingham and MuseData), Table 2 at a glance, and the learning-rate search.
    Plot(PlotArgs),
    /// Train job N of a sweep's plan (what each local worker and Slurm array task runs): resumes its run directory
    /// from its checkpoint, starts it otherwise, does nothing if it has finished.
    #[command(hide = true)]
    SweepTask(SweepTaskArgs),
    /// Train one experiment with the custom cells (member by member, and as one batched population) and with
    /// libtorch's built-ins (builtin_seq, builtin_cell), from the same weights, noise and batches; check that they
    /// agree (exit 1 when a difference exceeds the tolerance) and draw NLL against epochs and wall-clock.
    Compare(CompareArgs),
    /// Sample a trained run (its best member's best weights), seeded: a speech run gives an 8 kHz 16-bit WAV; a
    /// music run a Standard MIDI File and, beside it, a piano-roll PNG of the sample next to a real test piece.
    Sample(SampleArgs),
    /// A run directory (or a `reproduce` output) at a glance: what it is, its state, best member, epochs, time and
    /// where its figures and TensorBoard file are.
    Show {
        /// A run directory, a reproduce output (holding runs/), or a directory of run directories.
        path: PathBuf,
    },
}

#[derive(clap::Args)]
struct CompareArgs {
    /// Any music set (jsb, nottingham, musedata, piano) or fsdd.
    #[arg(long, default_value = "jsb")]
    dataset: Dataset,
    /// Units with a libtorch built-in, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "tanh,torch_gru,torch_lstm"
    )]
    cells: Vec<CellKind>,
    /// Epochs per run (each unit trains four runs).
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    dtype: Dtype,
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
    /// Learning-rate candidates (default: the experiment's).
    #[arg(long)]
    lr_candidates: Option<usize>,
    /// Use only N training sequences (config key train_subset).
    #[arg(long)]
    train_subset: Option<usize>,
    /// Use only N validation and test sequences (config key eval_subset).
    #[arg(long)]
    eval_subset: Option<usize>,
    /// Override a config key in every run (repeatable), e.g. `--set hidden=20`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Tolerance on |Δ NLL| at any epoch (default: by dtype, see rnnlab::compare::Tolerance).
    #[arg(long)]
    nll_tol: Option<f64>,
    /// Tolerance on |Δ weight| after the first update (default: by dtype).
    #[arg(long)]
    weight_tol: Option<f64>,
    /// Output directory (default: runs/compare/<dataset>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where the experiment configs are.
    #[arg(long, default_value = "experiments")]
    experiments: PathBuf,
    /// Data directory (default: $RNNLAB_DATA, else ./data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// No line per epoch.
    #[arg(long)]
    quiet: bool,
}

fn compare_cmd(args: CompareArgs) -> Result<bool> {
    let mut sets = vec![];
    if let Some(n) = args.lr_candidates {
        sets.push(format!("lr_candidates={n}"));
    }
    if let Some(n) = args.train_subset {
        sets.push(format!("train_subset={n}"));
    }
    if let Some(n) = args.eval_subset {
        sets.push(format!("eval_subset={n}"));
    }
    sets.extend(args.sets);
    let default = rnnlab::compare::Tolerance::for_dtype(args.dtype);
    let opts = rnnlab::compare::Options {
        dataset: args.dataset,
        cells: args.cells,
        epochs: args.epochs,
        dtype: args.dtype,
        device: args.device,
        sets,
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
struct SampleArgs {
    /// A run directory (from `rnnlab train` or `rnnlab reproduce`): speech or music.
    run_dir: PathBuf,
    /// The file to write: a WAV (speech) or a MIDI file (music; the piano roll goes beside it as .png).
    #[arg(long)]
    out: PathBuf,
    /// Speech: length of the audio in seconds.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Population member to sample (default: the best by validation NLL).
    #[arg(long)]
    member: Option<usize>,
    #[command(flatten)]
    music: rnnlab::generate::music::MusicSampleOptions,
    /// Music: data directory for the test pieces (default: $RNNLAB_DATA, else ./data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

fn sample_cmd(args: SampleArgs) -> Result<bool> {
    let (_, cfg) = rnnlab::run::RunDir::open(&args.run_dir)?;
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ShapeSet {
    /// Input 88; hidden 36/46/100 (LSTM/GRU/tanh); batch 1/8/32; sequence 60/250/500.
    Paper,
    /// Sequence 100, batch 64, input 512, hidden 512 (PyTorch benchmarks/fastrnns).
    Fastrnns,
    /// Two small shapes (what --quick uses).
    Quick,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Where to run: `auto` takes CUDA when libtorch sees a GPU.
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    device: DeviceArg,
    /// A short run for CI: two small shapes, one warm-up, five timed runs (finishes in seconds on 2 cores).
    #[arg(long)]
    quick: bool,
    /// Shape families (default: paper,fastrnns; with --quick: quick).
    #[arg(long, value_enum, value_delimiter = ',')]
    shapes: Vec<ShapeSet>,
    /// Cells to time (default: all five; tiers 3–5 apply to tanh, torch_gru and torch_lstm only).
    #[arg(long, value_delimiter = ',')]
    cells: Vec<CellKind>,
    /// Tiers to time (default: all; cudnn runs on CUDA only).
    #[arg(long, value_enum, value_delimiter = ',')]
    tiers: Vec<Tier>,
    /// Models per op in the population tier (times are reported per model).
    #[arg(long, default_value_t = 8)]
    population: i64,
    /// Untimed runs per case (default 3; 1 with --quick).
    #[arg(long)]
    warmup: Option<usize>,
    /// Timed runs per case, at least (default 10; 5 with --quick).
    #[arg(long)]
    reps: Option<usize>,
    /// Keep timing each case for at least this many seconds (default 0.5; 0 with --quick).
    #[arg(long)]
    min_time: Option<f64>,
    /// libtorch intra-op threads (default: libtorch's choice, one per core).
    #[arg(long)]
    threads: Option<i32>,
    /// Turn off libtorch's oneDNN paths for the run. On CPU, at::lstm (tier 4 of the LSTMs) then runs the same
    /// per-step matmul and pointwise ops as at::gru and at::rnn_tanh instead of oneDNN's fused LSTM layer.
    #[arg(long)]
    no_onednn: bool,
    /// Seed for weights and inputs.
    #[arg(long, default_value_t = 2014)]
    seed: u64,
    /// Write the report (meta + one row per tier × shape × direction) as JSON here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Draw the chart (time per step of each tier vs shape) as a PNG here.
    #[arg(long, value_name = "FILE")]
    png: Option<PathBuf>,
    /// Write the report's tables as Markdown here (per shape set: summary of ratios, then every tier per shape;
    /// with --compare, rnnlab ÷ PyTorch per tier): the tables the README quotes.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Do not run: read a report written earlier by --json, then print, chart or compare it.
    #[arg(long, value_name = "FILE")]
    load: Option<PathBuf>,
    /// Also print rnnlab vs PyTorch from this JSON of scripts/bench_pytorch.py (same machine, same shapes).
    #[arg(long, value_name = "FILE")]
    compare: Option<PathBuf>,
}

fn bench_cmd(args: BenchArgs) -> Result<bool> {
    let report = match &args.load {
        Some(path) => bench::Report::read(path)?,
        None => {
            if let Some(n) = args.threads {
                if n < 1 {
                    bail!("--threads must be at least 1, got {n}");
                }
                tch::set_num_threads(n);
            }
            let base = if args.quick {
                bench::Options::quick()
            } else {
                bench::Options::default()
            };
            let mut shapes = vec![];
            for set in &args.shapes {
                shapes.extend(match set {
                    ShapeSet::Paper => bench::paper_shapes(),
                    ShapeSet::Fastrnns => bench::fastrnns_shapes(),
                    ShapeSet::Quick => bench::quick_shapes(),
                });
            }
            let opts = bench::Options {
                device: args.device.resolve()?,
                cells: if args.cells.is_empty() {
                    base.cells.clone()
                } else {
                    args.cells.clone()
                },
                tiers: if args.tiers.is_empty() {
                    base.tiers.clone()
                } else {
                    args.tiers.clone()
                },
                shapes: if shapes.is_empty() {
                    base.shapes.clone()
                } else {
                    shapes
                },
                population: args.population,
                warmup: args.warmup.unwrap_or(base.warmup),
                min_reps: args.reps.unwrap_or(base.min_reps),
                max_reps: args.reps.map_or(base.max_reps, |r| r.max(base.max_reps)),
                min_time_s: args.min_time.unwrap_or(base.min_time_s),
                seed: args.seed,
                onednn: !args.no_onednn,
                ..base
            };
            bench::run(&opts, |r| {
                eprintln!(
                    "{:<11} {} {:<13} {:<24} {:<17} {:>10.3} ms",
                    r.cell,
                    r.tier,
                    r.tier_name.name(),
                    r.shape.label(),
                    r.direction.name(),
                    r.median_ms
                )
            })?
        }
    };
    print!("{}", bench::format_table(&report));
    if let Some(path) = &args.json {
        report.write(path)?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &args.png {
        rnnlab::report::plot_bench(&report, path)?;
        println!("wrote {}", path.display());
    }
    let pytorch = args
        .compare
        .as_ref()
        .map(|path| bench::Report::read(path))
        .transpose()?;
    if let Some(pytorch) = &pytorch {
        println!();
        print!("{}", bench::format_compare(&report, pytorch));
    }
    if let Some(path) = &args.markdown {
        let text = bench::markdown(&report, pytorch.as_ref());
        rnnlab::atomic::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(true)
}

#[derive(clap::Args)]
struct TrainArgs {
    /// The experiment's TOML (see experiments/; every key is documented in src/config.rs).
    #[arg(long, required_unless_present = "resume")]
    config: Option<PathBuf>,
    /// Override one config key, e.g. `--set max_epochs=5 --set cell=paper_lstm` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// The run directory to create (default: runs/<dataset>_<cell>). Never overwritten.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue a killed run from its last checkpoint, with the config stored in it (a run killed before its first
    /// checkpoint starts afresh from it). Its data comes from --data-dir if given, else the directory the run
    /// recorded in data.json if it still exists, else $RNNLAB_DATA, else ./data.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["config", "sets", "out", "device"])]
    resume: Option<PathBuf>,
    /// Where to train (the config's `device` key; its default is cpu, which makes runs resumable bit for bit).
    #[arg(long, value_enum)]
    device: Option<DeviceArg>,
    /// Data directory (default: $RNNLAB_DATA, else ./data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// One line per epoch instead of progress bars.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct ReproduceArgs {
    /// Where to train every experiment (the configs' `device` key; default: as the configs say, cpu).
    #[arg(long, value_enum)]
    device: Option<DeviceArg>,
    /// Which half of Table 2: `music` (jsb, nottingham, musedata, piano) or `speech` (fsdd, the public stand-in for
    /// Ubisoft A: its rows are not comparable with the paper's in absolute terms).
    #[arg(long, value_enum, default_value_t = TaskArg::Music)]
    task: TaskArg,
    /// Datasets, comma-separated (default: the task's).
    #[arg(long, value_delimiter = ',')]
    datasets: Vec<Dataset>,
    /// Units, comma-separated: tanh, gru, lstm (the paper's forms), or any cell name (torch_gru, ...).
    #[arg(long, value_delimiter = ',', default_value = "tanh,gru,lstm")]
    units: Vec<String>,
    /// Independently initialised models per learning-rate candidate (default: the experiment's `seeds`).
    #[arg(long)]
    seeds: Option<usize>,
    /// Output directory: runs/ and table2.{md,csv,json}.
    #[arg(long, default_value = "runs/reproduce")]
    out: PathBuf,
    /// A smoke run of the whole pipeline in a few minutes (tiny subsets, 2 epochs); not a result.
    #[arg(long)]
    quick: bool,
    /// Trainings run side by side (each on one libtorch thread).
    #[arg(long, default_value_t = default_jobs())]
    jobs: usize,
    /// Where the experiment configs are.
    #[arg(long, default_value = "experiments")]
    experiments: PathBuf,
    /// Override a config key in every experiment (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Data directory (default: $RNNLAB_DATA, else ./data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Log lines instead of progress bars.
    #[arg(long)]
    quiet: bool,
    /// Sweep a config key over values, e.g. `--sweep hidden=46,92` (repeatable: the cartesian product), applied to
    /// each experiment; run directories are named `<dataset>_<cell>__hidden-92`.
    #[arg(long = "sweep", value_name = "KEY=V1,V2")]
    sweeps: Vec<String>,
    /// Where the plan's jobs run: `local` worker processes (--jobs), or one `slurm` job array.
    #[arg(long, value_enum, default_value_t = BackendArg::Local)]
    backend: BackendArg,
    /// Build Table 2 and the figures from what OUT's plan has finished, and list every job missing, failed or
    /// still running; exits 1 if any is missing, failed or unfinished with nothing running it.
    #[arg(long, value_name = "OUT", conflicts_with_all = ["sweeps", "quick", "sets", "datasets"])]
    collect: Option<PathBuf>,
    /// Slurm: wait for the array to end (polling squeue), then collect.
    #[arg(long)]
    wait: bool,
    /// Slurm: array tasks running at once (`--array=0-(N-1)%P`; default no limit).
    #[arg(long)]
    max_parallel: Option<usize>,
    /// Slurm: partition (`--partition`).
    #[arg(long)]
    partition: Option<String>,
    /// Slurm: time limit per task (`--time`, e.g. 04:00:00).
    #[arg(long)]
    time: Option<String>,
    /// Slurm: CPUs per task (`--cpus-per-task`). libtorch's threads stay the config's `threads`.
    #[arg(long, default_value_t = 1)]
    cpus_per_task: usize,
    /// Slurm: memory per task (`--mem`, e.g. 4G).
    #[arg(long)]
    mem: Option<String>,
    /// Slurm: GPUs per task (`--gres=gpu:N`).
    #[arg(long)]
    gpus: Option<usize>,
    /// Slurm: account (`--account`).
    #[arg(long)]
    account: Option<String>,
    /// Slurm: any other sbatch argument, verbatim (repeatable), e.g. `--sbatch-arg=--qos=normal`.
    #[arg(long = "sbatch-arg", value_name = "ARG", allow_hyphen_values = true)]
    sbatch_args: Vec<String>,
}

#[derive(clap::Args)]
struct SweepTaskArgs {
    /// The sweep's plan (OUT/plan.json).
    #[arg(long)]
    plan: PathBuf,
    /// The job to train (a Slurm array task id).
    #[arg(long)]
    index: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum BackendArg {
    Local,
    Slurm,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum TaskArg {
    Music,
    Speech,
}

/// The config value of a `--device` choice.
fn device_key(d: DeviceArg) -> &'static str {
    match d {
        DeviceArg::Cpu => "cpu",
        DeviceArg::Cuda => "cuda",
        DeviceArg::Auto => "auto",
    }
}

fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn train_cmd(args: TrainArgs) -> Result<bool> {
    let (cfg, start_dir, resume) = match &args.resume {
        Some(dir) => {
            let (run, cfg) = rnnlab::run::RunDir::open(dir)?;
            // Killed before its first checkpoint (or preempted then): nothing to continue, so start it afresh
            // with the config it was started with.
            let resume = run.has_checkpoint();
            if !resume {
                eprintln!(
                    "{} has no checkpoint yet: starting it afresh from its config.toml",
                    dir.display()
                );
            }
            (cfg, dir.clone(), resume)
        }
        None => {
            let path = args
                .config
                .as_ref()
                .expect("clap requires --config without --resume");
            let mut sets = args.sets.clone();
            if let Some(d) = args.device {
                sets.push(format!("device={}", device_key(d)));
            }
            let cfg = TrainConfig::from_file(path)?.with_overrides(&sets)?;
            let out = args.out.clone().unwrap_or_else(|| {
                PathBuf::from(format!("runs/{}_{}", cfg.dataset.name(), cfg.cell.name()))
            });
            (cfg, out, false)
        }
    };
    let data_dir = match &args.resume {
        Some(dir) => rnnlab::data::resolve_run_data_dir(
            args.data_dir.as_deref(),
            rnnlab::run::RunDir::at(dir).recorded_data_dir(),
        ),
        None => rnnlab::data::resolve_data_dir(args.data_dir.as_deref()),
    };
    let (file, data) = rnnlab::data::AnyData::load(&data_dir, cfg.dataset)?;
    if !resume {
        let run = rnnlab::run::RunDir::at(&start_dir);
        if args.resume.is_some() {
            run.clear_unstarted()?;
        } else if run.file(rnnlab::run::CONFIG_FILE).exists() {
            bail!(
                "{} already holds a run; continue it with --resume {}, or choose another --out",
                start_dir.display(),
                start_dir.display()
            );
        }
        run.record_data_dir(&data_dir)?;
    }
    let hidden = cfg.hidden_size();
    let k = cfg.member_lrs().len();
    eprintln!(
        "{} on {} ({}): {} {} units, population {k}, run directory {}",
        cfg.cell,
        cfg.dataset.name(),
        file.display(),
        cfg.implementation,
        hidden,
        start_dir.display()
    );
    let bar = indicatif::ProgressBar::new(0);
    if args.quiet {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:<14} [{bar:40}] {pos}/{len} batches, eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let quiet = args.quiet;
    let mut progress = |p: rnnlab::train::Progress| {
        if let Some(m) = p.show_on(&bar) {
            let line = format!(
                "epoch {:>3}: best valid NLL {:.3}, {} active, {:.1} s",
                m.epoch,
                m.best_valid(),
                m.members
                    .iter()
                    .filter(|x| x.status == rnnlab::run::Status::Active)
                    .count(),
                m.seconds
            );
            if quiet {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        }
    };
    let start = if resume {
        rnnlab::train::Start::Resume(&start_dir)
    } else {
        rnnlab::train::Start::Fresh(&start_dir)
    };
    let summary = rnnlab::train::train(&cfg, &data, start, &mut progress)?;
    bar.finish_and_clear();
    let (pp, pt) = (summary.params_paper, summary.params_total);
    println!(
        "parameters per model: {pp} (paper definition: recurrent layer), {pt} (all trainable)"
    );
    println!("member  lr         status    best epoch  train NLL  valid NLL  test NLL");
    for m in &summary.members {
        println!(
            "{:>6}  {:<9.3e}  {:<8}  {:>10}  {:>9.3}  {:>9.3}  {:>8.3}{}",
            m.member,
            m.lr,
            m.status.to_string(),
            m.best_epoch
                .map(|e| e.to_string())
                .unwrap_or_else(|| "-".into()),
            m.train_nll,
            m.valid_nll,
            m.test_nll,
            if Some(m.member) == summary.best_member {
                "  <- best valid"
            } else {
                ""
            }
        );
    }
    println!(
        "{} epochs, {} updates, {:.1} s ({:.2} s/epoch); results in {}",
        summary.epochs,
        summary.updates,
        summary.seconds,
        summary.seconds_per_epoch,
        start_dir.join("summary.json").display()
    );
    Ok(true)
}

fn reproduce_cmd(args: ReproduceArgs) -> Result<bool> {
    if let Some(out) = &args.collect {
        let collected = rnnlab::sweep::collect::collect(out, 0.0)?;
        return Ok(report_collected(out, &collected));
    }
    let units = args
        .units
        .iter()
        .map(|u| rnnlab::reproduce::parse_unit(u))
        .collect::<Result<Vec<_>>>()?;
    let task = match args.task {
        TaskArg::Music => rnnlab::data::Task::Music,
        TaskArg::Speech => rnnlab::data::Task::Speech,
    };
    let datasets = if args.datasets.is_empty() {
        rnnlab::reproduce::task_datasets(task)
    } else {
        args.datasets
    };
    let opts = rnnlab::reproduce::Options {
        datasets,
        units,
        seeds: args.seeds,
        out: args.out.clone(),
        quick: args.quick,
        jobs: args.jobs,
        data_dir: rnnlab::data::resolve_data_dir(args.data_dir.as_deref()),
        experiments: args.experiments,
        sets: args
            .sets
            .iter()
            .cloned()
            .chain(args.device.map(|d| format!("device={}", device_key(d))))
            .collect(),
        sweeps: args
            .sweeps
            .iter()
            .map(|s| rnnlab::sweep::parse_sweep(s))
            .collect::<Result<_>>()?,
        quiet: args.quiet,
    };
    let backend = match args.backend {
        BackendArg::Local => rnnlab::reproduce::Backend::Local,
        BackendArg::Slurm => rnnlab::reproduce::Backend::Slurm {
            opts: rnnlab::sweep::slurm::SlurmOptions {
                max_parallel: args.max_parallel,
                partition: args.partition,
                time: args.time,
                cpus_per_task: args.cpus_per_task,
                mem: args.mem,
                gpus: args.gpus,
                account: args.account,
                extra: args.sbatch_args,
            },
            wait: args.wait,
        },
    };
    match rnnlab::reproduce::reproduce(&opts, &backend)? {
        rnnlab::reproduce::Outcome::Submitted(id) => {
            println!("{id}");
            Ok(true)
        }
        rnnlab::reproduce::Outcome::Collected(c) => Ok(report_collected(&args.out, &c)),
    }
}

/// Prints Table 2 and every job without a row; false (exit 1) when a job is missing, failed or unfinished.
fn report_collected(out: &std::path::Path, c: &rnnlab::reproduce::Collected) -> bool {
    print!("{}", rnnlab::report::table::markdown(&c.rows));
    println!(
        "Table 2 ({} row(s)) written to {}/table2.{{md,csv,json}}",
        c.rows.len(),
        out.display()
    );
    if !c.complete() {
        eprintln!(
            "{} job(s) without a result:\n{}",
            c.others.len(),
            c.report().trim_end()
        );
    }
    !c.broken()
}

#[derive(clap::Args)]
struct PlotArgs {
    /// Run directories, reproduce outputs (holding runs/ and table2.json), or directories of runs.
    #[arg(value_name = "RUN_DIR", required_unless_present = "study")]
    inputs: Vec<PathBuf>,
    /// A recipe study (one run directory per setting, as scripts/recipe-study.sh writes): draw
    /// recipe-study_<dataset>.png and write recipe-study_<dataset>.md instead of the paper's figures.
    #[arg(long, value_name = "DIR", conflicts_with = "inputs")]
    study: Option<PathBuf>,
    /// Where to write the PNGs (default: <reproduce output>/plots when one is given, else ./plots).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn plot_cmd(args: PlotArgs) -> Result<bool> {
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
struct ValidateArgs {
    /// Where to run: `auto` also runs every check on CUDA when a GPU is visible.
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    device: DeviceArg,
    /// Precision of the built-in and fixture comparisons (finite differences always run in f64). Default: both.
    #[arg(long, value_enum)]
    dtype: Option<Dtype>,
    /// Random shapes per cell, built-in and dtype (the first two are the smallest and largest shapes).
    #[arg(long, default_value_t = 12)]
    cases: usize,
    /// Seed for shapes, weights and inputs.
    #[arg(long, default_value_t = 2014)]
    seed: u64,
    /// Print one JSON object `{"results": [...], ...}` instead of the table.
    #[arg(long)]
    json: bool,
}

fn validate_cmd(args: ValidateArgs) -> Result<bool> {
    let mut devices = vec![];
    let mut cuda_note = None;
    match args.device {
        DeviceArg::Cpu => devices.push(tch::Device::Cpu),
        DeviceArg::Cuda => devices.push(DeviceArg::Cuda.resolve()?),
        DeviceArg::Auto => {
            devices.push(tch::Device::Cpu);
            if tch::Cuda::is_available() {
                devices.push(tch::Device::Cuda(0));
            } else {
                cuda_note = Some(format!(
                    "CUDA checks skipped: {}",
                    cuda_unavailable_reason()
                ));
            }
        }
    }
    if args.cases < 2 {
        bail!(
            "--cases must be at least 2 (the smallest and the largest shape), got {}",
            args.cases
        );
    }
    let dtypes = match args.dtype {
        Some(d) => vec![d],
        None => vec![Dtype::F32, Dtype::F64],
    };
    let mut rows = vec![];
    for device in devices {
        let opts = validate::Options {
            device,
            dtypes: dtypes.clone(),
            random_cases: args.cases,
            seed: args.seed,
        };
        rows.extend(validate::run(&opts, |_| {})?);
    }
    let pass = rows.iter().all(|r| r.pass);
    if args.json {
        let out = serde_json::json!({
            "results": rows,
            "pass": pass,
            "cuda_skipped": cuda_note,
            "libtorch": "2.13.0",
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", validate::format_table(&rows));
        if let Some(note) = cuda_note {
            println!("{note}");
        }
        let failed = rows.iter().filter(|r| !r.pass).count();
        println!(
            "{} checks, {} failed: {}",
            rows.len(),
            failed,
            if pass { "all pass" } else { "FAILURES above" }
        );
    }
    Ok(pass)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate_cmd(args),
        Command::Data(args) => rnnlab::data::cli::run(args),
        Command::Bench(args) => bench_cmd(*args),
        Command::Train(args) => train_cmd(args),
        Command::Reproduce(args) => reproduce_cmd(*args),
        Command::Plot(args) => plot_cmd(args),
        Command::Sample(args) => sample_cmd(args),
        Command::SweepTask(args) => rnnlab::sweep::run_task(&args.plan, args.index).map(|_| true),
        Command::Show { path } => rnnlab::report::show::show(&path).map(|text| {
            print!("{text}");
            true
        }),
        Command::Compare(args) => compare_cmd(args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
