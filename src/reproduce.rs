//! `rnnlab reproduce`: Table 2 — every (dataset, unit) experiment of `experiments/`, each a population trained with
//! the paper's recipe, run side by side on the machine's cores, then tabulated beside the paper's numbers. `--task
//! music` (the default) runs the four music sets, `--task speech` runs FSDD (`experiments/fsdd_*.toml`), whose rows
//! sit beside the paper's Ubisoft A numbers for reference only (another dataset: not comparable in absolute terms).
//!
//! The experiments become a plan (`OUT/plan.json`, see [`crate::sweep`]), which a backend runs: worker processes
//! on this machine (`local`) or a Slurm job array (`slurm`). Runs land in `OUT/runs/<dataset>_<unit>/`
//! (`__key-value` appended per `--sweep` key), the tables in `OUT/table2.{md,csv,json}`, the figures in
//! `OUT/plots/`. A finished run (it has `summary.json`) is reused, an unfinished one is resumed from its last
//! checkpoint, so an interrupted reproduction continues where it stopped.

use crate::cells::CellKind;
use crate::config::TrainConfig;
use crate::data::{AnyData, Dataset, Task};
use crate::report::table::Row;
use crate::report::table2_files::{draw_figures, paper_order, write_tables_noted};
pub use crate::sweep::collect::Collected;
use crate::sweep::slurm::{self, SlurmOptions};
use crate::sweep::{collect, local, sweep_points, Plan, PlanJob, PLAN_VERSION};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Overrides of `--quick`: a smoke run of the whole pipeline in minutes, not a result.
pub const QUICK_OVERRIDES: [&str; 5] = [
    "max_epochs=2",
    "lr_candidates=3",
    "train_subset=16",
    "eval_subset=8",
    "patience=2",
];

/// The datasets a task reproduces.
pub fn task_datasets(task: Task) -> Vec<Dataset> {
    match task {
        Task::Music => Dataset::MUSIC.to_vec(),
        Task::Speech => vec![Dataset::Fsdd],
        Task::Tokens => vec![Dataset::Shakespeare],
        // A user's NPZ data has no experiments of its own: give --datasets npz with configs that name data_path.
        Task::Arrays => vec![],
    }
}

/// What `rnnlab reproduce` runs (its command-line arguments).
pub struct Options {
    /// Datasets to run (default: the task's, see [`task_datasets`]).
    pub datasets: Vec<Dataset>,
    /// Cells; `tanh`, `gru`, `lstm` on the command line mean the paper's forms. A unit beyond the paper runs each
    /// dataset's GRU experiment (`experiments/<dataset>_gru.toml`) with its own cell, at the hidden size whose paper
    /// parameter count is closest to the GRU's (`hidden = 0`).
    pub units: Vec<CellKind>,
    /// Seeds per learning-rate candidate (`seeds=N` for every experiment); `None`: each experiment's own.
    pub seeds: Option<usize>,
    /// Output directory: `plan.json`, `runs/`, `table2.*`, `plots/`.
    pub out: PathBuf,
    /// `--quick`: a smoke run of the whole pipeline in minutes ([`QUICK_OVERRIDES`]), not a result.
    pub quick: bool,
    /// Worker processes of the local backend.
    pub jobs: usize,
    /// Where the datasets are (`RNNLAB_DATA`).
    pub data_dir: PathBuf,
    /// Directory of the experiment TOML files (`experiments` or `experiments/paper-scale`).
    pub experiments: PathBuf,
    /// `--set key=value`: config overrides applied to every experiment.
    pub overrides: Vec<String>,
    /// `--sweep key=v1,v2`: the cartesian product of these, applied to each experiment.
    pub sweeps: Vec<(String, Vec<String>)>,
    /// No progress lines from the workers.
    pub quiet: bool,
}

/// Parses a `--units` entry: a family name (`tanh`, `gru`, `lstm`: the paper forms) or any cell name of the
/// registry (`mgu`, `mut1`, `lstm_cifg`, …; a unit beyond the paper runs the GRU's experiment, see [`plan`]).
pub fn parse_unit(s: &str) -> Result<CellKind> {
    match s {
        "gru" => Ok(CellKind::PaperGru),
        "lstm" => Ok(CellKind::PaperLstm),
        other => other.parse(),
    }
}

/// How a plan is run.
#[derive(Clone, Debug)]
pub enum Backend {
    /// Worker processes on this machine (`Options::jobs` of them).
    Local,
    /// One Slurm job array; `wait`: poll until it is done, then collect.
    Slurm {
        /// The `sbatch` settings of the job array.
        opts: SlurmOptions,
        /// Whether to poll until the array is done, then collect (otherwise return once submitted).
        wait: bool,
    },
}

/// What [`reproduce`] ended with.
pub enum Outcome {
    /// The plan was run (locally, or on Slurm with `--wait`) and collected.
    Collected(Collected),
    /// Submitted to Slurm as this array job id; collect later.
    Submitted(u64),
}

fn job_config(
    opts: &Options,
    dataset: Dataset,
    cell: CellKind,
    point: &[String],
) -> Result<TrainConfig> {
    // A unit beyond the paper has no config of its own: it runs the GRU's experiment (same data, recipe and epoch
    // budget) with its own cell, at the hidden size that matches the GRU's parameter budget (`hidden = 0`, see
    // `paper::budget_hidden`).
    let own = cell.in_paper();
    let family = if own { cell.family() } else { "gru" };
    let path = opts
        .experiments
        .join(format!("{}_{family}.toml", dataset.name()));
    let base = TrainConfig::from_file(&path).with_context(|| {
        format!(
            "each reproduced experiment needs its config; expected {}",
            path.display()
        )
    })?;
    let mut overrides: Vec<String> = vec![format!("cell=\"{}\"", cell.name())];
    if !own {
        overrides.push("hidden=0".into());
    }
    if let Some(n) = opts.seeds {
        overrides.push(format!("seeds={n}"));
    }
    if opts.quick {
        overrides.extend(QUICK_OVERRIDES.iter().map(|s| s.to_string()));
    }
    overrides.extend(opts.overrides.iter().cloned());
    overrides.extend(point.iter().cloned());
    let mut cfg = base
        .with_overrides(&overrides)
        .with_context(|| format!("experiment {}", path.display()))?;
    // A plan's jobs may run from another directory (Slurm): a data path relative to here is made absolute.
    if !cfg.data_path.is_empty() {
        cfg.data_path = std::path::absolute(&cfg.data_path)
            .with_context(|| format!("data_path {}", cfg.data_path))?
            .to_string_lossy()
            .into_owned();
    }
    Ok(cfg)
}

/// The plan of `opts`: one job per dataset × unit × sweep point, in that order.
pub fn plan(opts: &Options) -> Result<Plan> {
    let data_dir = std::path::absolute(&opts.data_dir)
        .with_context(|| format!("data directory {}", opts.data_dir.display()))?;
    let points = sweep_points(&opts.sweeps);
    let mut jobs = Vec::new();
    for &dataset in &opts.datasets {
        // Loaded once per dataset for the jobs' costs (epochs × training steps): longest jobs start first. The
        // first job's config says where a dataset given by path is.
        let mut steps = None;
        for &cell in &opts.units {
            for (point, suffix) in &points {
                let cfg = job_config(opts, dataset, cell, point)?;
                let steps = match steps {
                    Some(n) => n,
                    None => {
                        let n = AnyData::for_config(&data_dir, &cfg)?.1.train_steps() as u64;
                        *steps.insert(n)
                    }
                };
                let name = format!("{}_{}{suffix}", dataset.name(), cell.name());
                jobs.push(PlanJob {
                    index: jobs.len(),
                    run_dir: PathBuf::from("runs").join(&name),
                    name,
                    config: cfg.to_toml()?,
                    data_dir: data_dir.clone(),
                    cost: cfg.max_epochs as u64 * steps,
                });
            }
        }
    }
    Ok(Plan {
        version: PLAN_VERSION,
        quick: opts.quick,
        jobs,
    })
}

/// Writes `OUT/plan.json` and runs it with `backend`: locally (then collects), or on Slurm (then, with `wait`,
/// waits and collects). Finished runs are reused and unfinished ones resumed, so an interrupted reproduction
/// continues where it stopped.
pub fn reproduce(opts: &Options, backend: &Backend) -> Result<Outcome> {
    let started = Instant::now();
    let plan = plan(opts)?;
    plan.write(&opts.out)?;
    match backend {
        Backend::Local => local::run(&opts.out, &plan, opts.jobs, opts.quiet)?,
        Backend::Slurm { opts: s, wait } => {
            let id = slurm::submit(&opts.out, &plan, s)?;
            eprintln!(
                "submitted job array {id} ({} tasks); watch: squeue -j {id} --array; collect: rnnlab reproduce --collect {}",
                plan.jobs.len(),
                opts.out.display()
            );
            if !wait {
                return Ok(Outcome::Submitted(id));
            }
            slurm::wait(id, plan.jobs.len(), opts.quiet)?;
        }
    }
    Ok(Outcome::Collected(collect::collect(
        &opts.out,
        started.elapsed().as_secs_f64(),
    )?))
}

/// Table 2 from the `table2.json` of several reproductions: cells finished on different machines or in different
/// runs, whose run directories may be gone. Each input is a `table2.json` or a directory holding one. The rows
/// come out in the paper's order (datasets, then tanh, GRU, LSTM), the tests between units are computed anew over the
/// merged rows' per-seed test NLLs, and the tables are written to `out` as `--collect` writes them, with the figure
/// of Table 2 at a glance (learning curves need the run directories: draw them with `rnnlab plot` where those are).
/// Refuses a cell that two inputs both hold (say which to keep by leaving the other out), and a `--quick` smoke
/// table beside real ones.
pub fn merge(inputs: &[PathBuf], out: &Path) -> Result<Vec<Row>> {
    anyhow::ensure!(!inputs.is_empty(), "--merge needs at least one table2.json");
    anyhow::ensure!(
        !out.join(crate::sweep::PLAN_FILE).exists(),
        "{} holds a reproduction (plan.json) whose table2.* a merge would replace: give --out a directory of its own",
        out.display()
    );
    let mut rows: Vec<(usize, Row)> = Vec::new();
    let mut quick: Option<(bool, &Path)> = None;
    let mut sources = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let path = if input.is_dir() {
            input.join("table2.json")
        } else {
            input.clone()
        };
        let file = crate::report::inputs::read_table2_file(&path)?;
        match quick {
            Some((q, first)) if q != file.quick => anyhow::bail!(
                "{} is {} but {} is {}: a --quick smoke table is not a result and cannot be merged with one",
                path.display(),
                if file.quick { "a --quick smoke table" } else { "a full table" },
                first.display(),
                if q { "a --quick smoke table" } else { "a full table" },
            ),
            Some(_) => {}
            None => quick = Some((file.quick, input.as_path())),
        }
        for r in file.rows {
            if let Some((j, _)) = rows
                .iter()
                .find(|(_, x)| x.dataset == r.dataset && x.cell == r.cell)
            {
                anyhow::bail!(
                    "{} {} is in both {} and {}: leave out the input whose row should not be in the table",
                    r.dataset,
                    r.cell,
                    inputs[*j].display(),
                    input.display()
                );
            }
            rows.push((i, r));
        }
        sources.push(path);
    }
    let dataset_pos = |d: &str| {
        crate::paper::MUSIC_DATASETS
            .iter()
            .chain(std::iter::once(&Dataset::Fsdd))
            .position(|x| x.name() == d)
            .unwrap_or(usize::MAX)
    };
    let rows = paper_order(rows, dataset_pos);
    let note = format!(
        "\nMerged by `rnnlab reproduce --merge` from {}.\n",
        sources
            .iter()
            .map(|p| format!("`{}`", p.display()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    write_tables_noted(out, &rows, 0.0, quick.is_some_and(|(q, _)| q), &note)?;
    draw_figures(out);
    Ok(rows)
}
