//! The commands that train: `train`, `reproduce` (local or Slurm), and the hidden `sweep-task`.

use anyhow::{bail, Result};
use rnnlab::config::TrainConfig;
use rnnlab::data::Dataset;
use rnnlab::device::DeviceArg;
use std::path::PathBuf;

#[derive(clap::Args)]
pub(crate) struct TrainArgs {
    /// The experiment's TOML (see experiments/; every key is documented in src/config/mod.rs).
    #[arg(long, required_unless_present = "resume")]
    pub(crate) config: Option<PathBuf>,
    /// Override one config key, e.g. `--set max_epochs=5 --set cell=paper_lstm` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) overrides: Vec<String>,
    /// The run directory to create (default: runs/<dataset>_<cell>). Never overwritten.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Continue a killed run from its last checkpoint, with the config stored in it (a run killed before its first
    /// checkpoint starts afresh from it). Its data comes from --data-dir if given, else the directory the run
    /// recorded in data.json if it still exists, else $RNNLAB_DATA, else ./data.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["config", "overrides", "out", "device"])]
    pub(crate) resume: Option<PathBuf>,
    /// Where to train (the config's `device` key; its default is cpu, which makes runs resumable bit for bit).
    #[arg(long, value_enum)]
    pub(crate) device: Option<DeviceArg>,
    /// Data directory (default: $RNNLAB_DATA, else ./data).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// One line per epoch instead of progress bars.
    #[arg(long)]
    pub(crate) quiet: bool,
}

#[derive(clap::Args)]
pub(crate) struct ReproduceArgs {
    /// Where to train every experiment (the configs' `device` key; default: as the configs say, cpu).
    #[arg(long, value_enum)]
    pub(crate) device: Option<DeviceArg>,
    /// Which half of Table 2: `music` (jsb, nottingham, musedata, piano) or `speech` (fsdd, the public stand-in for
    /// Ubisoft A: its rows are not comparable with the paper's in absolute terms).
    #[arg(long, value_enum, default_value_t = TaskArg::Music)]
    pub(crate) task: TaskArg,
    /// Datasets, comma-separated (default: the task's).
    #[arg(long, value_delimiter = ',')]
    pub(crate) datasets: Vec<Dataset>,
    /// Units, comma-separated: tanh, gru, lstm (the paper's forms), or any cell name (torch_gru, ...).
    #[arg(long, value_delimiter = ',', default_value = "tanh,gru,lstm")]
    pub(crate) units: Vec<String>,
    /// Independently initialised models per learning-rate candidate (default: the experiment's `seeds`).
    #[arg(long)]
    pub(crate) seeds: Option<usize>,
    /// Output directory: runs/ and table2.{md,csv,json}.
    #[arg(long, default_value = "runs/reproduce")]
    pub(crate) out: PathBuf,
    /// A smoke run of the whole pipeline in a few minutes (tiny subsets, 2 epochs); not a result.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Trainings run side by side (each on one libtorch thread).
    #[arg(long, default_value_t = default_jobs())]
    pub(crate) jobs: usize,
    /// Where the experiment configs are: `experiments` (the quick profile, 90 minutes for the music table on 2 cores)
    /// or `experiments/paper-scale` (500-epoch cap, patience 20, 3 seeds, pruning outside JSB: many CPU-hours, about
    /// 100 without pruning; see docs/pruning.md).
    #[arg(long, default_value = "experiments")]
    pub(crate) experiments: PathBuf,
    /// Override a config key in every experiment (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) overrides: Vec<String>,
    /// Data directory (default: $RNNLAB_DATA, else ./data).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// Log lines instead of progress bars.
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Sweep a config key over values, e.g. `--sweep hidden=46,92` (repeatable: the cartesian product), applied to
    /// each experiment; run directories are named `<dataset>_<cell>__hidden-92`.
    #[arg(long = "sweep", value_name = "KEY=V1,V2")]
    pub(crate) sweeps: Vec<String>,
    /// Where the plan's jobs run: `local` worker processes (--jobs), or one `slurm` job array.
    #[arg(long, value_enum, default_value_t = BackendArg::Local)]
    pub(crate) backend: BackendArg,
    /// Build Table 2 and the figures from what OUT's plan has finished, and list every job missing, failed or
    /// still running; exits 1 if any is missing, failed or unfinished with nothing running it.
    #[arg(long, value_name = "OUT", conflicts_with_all = ["sweeps", "quick", "overrides", "datasets"])]
    pub(crate) collect: Option<PathBuf>,
    /// Build one Table 2 from the table2.json of several reproductions (each a file, or a directory holding one),
    /// e.g. cells finished on different machines whose run directories are gone: rows in the paper's order, tests
    /// between units recomputed, written to --out (a directory of its own: not a reproduction's OUT). Refuses a cell
    /// that two inputs both hold, and --quick tables beside full ones.
    #[arg(long, value_name = "TABLE_JSON", num_args = 1.., conflicts_with_all = ["collect", "sweeps", "quick", "overrides", "datasets", "seeds", "device"])]
    pub(crate) merge: Vec<PathBuf>,
    /// Slurm: wait for the array to end (polling squeue), then collect.
    #[arg(long)]
    pub(crate) wait: bool,
    /// Slurm: array tasks running at once (`--array=0-(N-1)%P`; default no limit).
    #[arg(long)]
    pub(crate) max_parallel: Option<usize>,
    /// Slurm: partition (`--partition`).
    #[arg(long)]
    pub(crate) partition: Option<String>,
    /// Slurm: time limit per task (`--time`, e.g. 04:00:00).
    #[arg(long)]
    pub(crate) time: Option<String>,
    /// Slurm: CPUs per task (`--cpus-per-task`). libtorch's threads stay the config's `threads`.
    #[arg(long, default_value_t = 1)]
    pub(crate) cpus_per_task: usize,
    /// Slurm: memory per task (`--mem`, e.g. 4G).
    #[arg(long)]
    pub(crate) mem: Option<String>,
    /// Slurm: GPUs per task (`--gres=gpu:N`).
    #[arg(long)]
    pub(crate) gpus: Option<usize>,
    /// Slurm: account (`--account`).
    #[arg(long)]
    pub(crate) account: Option<String>,
    /// Slurm: any other sbatch argument, verbatim (repeatable), e.g. `--sbatch-arg=--qos=normal`.
    #[arg(long = "sbatch-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub(crate) sbatch_args: Vec<String>,
}

#[derive(clap::Args)]
pub(crate) struct SweepTaskArgs {
    /// The sweep's plan (OUT/plan.json).
    #[arg(long)]
    pub(crate) plan: PathBuf,
    /// The job to train (a Slurm array task id).
    #[arg(long)]
    pub(crate) index: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BackendArg {
    Local,
    Slurm,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum TaskArg {
    Music,
    Speech,
}

/// The config value of a `--device` choice.
pub(crate) fn device_key(d: DeviceArg) -> &'static str {
    match d {
        DeviceArg::Cpu => "cpu",
        DeviceArg::Cuda => "cuda",
        DeviceArg::Auto => "auto",
    }
}

pub(crate) fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

pub(crate) fn train_cmd(args: TrainArgs) -> Result<bool> {
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
            let mut overrides = args.overrides.clone();
            if let Some(d) = args.device {
                overrides.push(format!("device={}", device_key(d)));
            }
            let cfg = TrainConfig::from_file(path)?.with_overrides(&overrides)?;
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
    let (file, data) = rnnlab::data::AnyData::for_config(&data_dir, &cfg)?;
    let mut cfg = cfg;
    cfg.resolve_data(&data)?;
    // A new run records where its data is as an absolute path, so that --resume works from any directory.
    if !resume && args.resume.is_none() && !cfg.data_path.is_empty() {
        cfg.data_path = std::path::absolute(&cfg.data_path)?
            .to_string_lossy()
            .into_owned();
    }
    // Refused before the run directory is touched, and before anything big is allocated.
    rnnlab::train::memory::check(&cfg, &data, cfg.device.resolve()?)?;
    // One writer per run directory, from here to the summary (the trainer takes the same lock again).
    let _lock = rnnlab::run::RunDir::at(&start_dir).lock()?;
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
    let token = cfg.token_name();
    let bits = |nats: f64| match token {
        Some(t) => format!(" ({:.3} bits per {t})", nats / std::f64::consts::LN_2),
        None => String::new(),
    };
    let mut progress = |p: rnnlab::train::Progress| {
        if let Some(m) = p.show_on(&bar) {
            let line = format!(
                "epoch {:>3}: best valid NLL {:.3}{}, {} active, {:.1} s",
                m.epoch,
                m.best_valid(),
                bits(m.best_valid()),
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
    match token {
        Some(t) => println!(
            "NLL in nats per predicted {t}; bits per {t} = nats / ln 2 (summary.json: tokens)"
        ),
        None => println!("NLL in nats per predicted frame"),
    }
    println!(
        "member  lr         status    best epoch  train NLL  valid NLL  test NLL{}",
        if token.is_some() { "  test bits" } else { "" }
    );
    for m in &summary.members {
        println!(
            "{:>6}  {:<9.3e}  {:<8}  {:>10}  {:>9.3}  {:>9.3}  {:>8.3}{}{}",
            m.member,
            m.lr,
            m.status.to_string(),
            m.best_epoch
                .map(|e| e.to_string())
                .unwrap_or_else(|| "-".into()),
            m.train_nll,
            m.valid_nll,
            m.test_nll,
            if token.is_some() {
                format!("  {:>9.4}", m.test_nll / std::f64::consts::LN_2)
            } else {
                String::new()
            },
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

pub(crate) fn reproduce_cmd(args: ReproduceArgs) -> Result<bool> {
    if let Some(out) = &args.collect {
        let collected = rnnlab::sweep::collect::collect(out, 0.0)?;
        return Ok(report_collected(out, &collected));
    }
    if !args.merge.is_empty() {
        let rows = rnnlab::reproduce::merge(&args.merge, &args.out)?;
        print!("{}", rnnlab::report::table::markdown(&rows));
        println!(
            "Table 2 ({} row(s)) merged from {} table(s), written to {}/table2.{{md,csv,json}}",
            rows.len(),
            args.merge.len(),
            args.out.display()
        );
        return Ok(true);
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
        overrides: args
            .overrides
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
pub(crate) fn report_collected(out: &std::path::Path, c: &rnnlab::reproduce::Collected) -> bool {
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
