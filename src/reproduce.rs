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

use crate::atomic::write_atomic;
use crate::cells::CellKind;
use crate::config::TrainConfig;
use crate::data::{AnyData, Dataset, Task};
use crate::report::table::{self, unit_family, Row};
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
    }
}

pub struct Options {
    pub datasets: Vec<Dataset>,
    /// Cells; `tanh`, `gru`, `lstm` on the command line mean the paper's forms.
    pub units: Vec<CellKind>,
    pub seeds: Option<usize>,
    pub out: PathBuf,
    pub quick: bool,
    pub jobs: usize,
    pub data_dir: PathBuf,
    pub experiments: PathBuf,
    pub sets: Vec<String>,
    /// `--sweep key=v1,v2`: the cartesian product of these, applied to each experiment.
    pub sweeps: Vec<(String, Vec<String>)>,
    pub quiet: bool,
}

/// Parses a `--units` entry: a family name (`tanh`, `gru`, `lstm`: the paper forms) or a cell name.
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
    Slurm { opts: SlurmOptions, wait: bool },
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
    set: Dataset,
    cell: CellKind,
    point: &[String],
) -> Result<TrainConfig> {
    let family = unit_family(cell.name());
    let path = opts
        .experiments
        .join(format!("{}_{family}.toml", set.name()));
    let base = TrainConfig::from_file(&path).with_context(|| {
        format!(
            "each reproduced experiment needs its config; expected {}",
            path.display()
        )
    })?;
    let mut sets: Vec<String> = vec![format!("cell=\"{}\"", cell.name())];
    if let Some(n) = opts.seeds {
        sets.push(format!("seeds={n}"));
    }
    if opts.quick {
        sets.extend(QUICK_OVERRIDES.iter().map(|s| s.to_string()));
    }
    sets.extend(opts.sets.iter().cloned());
    sets.extend(point.iter().cloned());
    base.with_overrides(&sets)
        .with_context(|| format!("experiment {}", path.display()))
}

/// The plan of `opts`: one job per dataset × unit × sweep point, in that order.
pub fn plan(opts: &Options) -> Result<Plan> {
    let data_dir = std::path::absolute(&opts.data_dir)
        .with_context(|| format!("data directory {}", opts.data_dir.display()))?;
    let points = sweep_points(&opts.sweeps);
    let mut jobs = Vec::new();
    for &set in &opts.datasets {
        // Loaded once per dataset for the jobs' costs (epochs × training steps): longest jobs start first.
        let (_, data) = AnyData::load(&data_dir, set)?;
        let steps = data.train_steps() as u64;
        for &cell in &opts.units {
            for (point, suffix) in &points {
                let cfg = job_config(opts, set, cell, point)?;
                let name = format!("{}_{}{suffix}", set.name(), cell.name());
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

/// The figures of `out` into `out/plots/`. Drawing is a convenience on top of the tables, so a failure is a warning
/// (the tables are written already, and `rnnlab plot` can draw again).
pub(crate) fn draw_figures(out: &Path) {
    let plots = out.join("plots");
    match crate::report::plot_all(&[out.to_path_buf()], &plots) {
        Ok(report) => {
            for note in &report.notes {
                eprintln!("plot note: {note}");
            }
            eprintln!(
                "{} figure(s) written to {}",
                report.written.len(),
                plots.display()
            );
        }
        Err(e) => eprintln!(
            "warning: no figures drawn ({e:#}); the tables are written; try rnnlab plot {}",
            out.display()
        ),
    }
}

/// Training wall-clock and CPU seconds summed over the rows' runs (every invocation of each run).
fn totals(rows: &[Row]) -> (f64, f64) {
    rows.iter()
        .fold((0.0, 0.0), |(w, c), r| (w + r.seconds, c + r.cpu_seconds))
}

pub(crate) fn write_tables(out: &Path, rows: &[Row], seconds: f64, quick: bool) -> Result<()> {
    let mut md = String::new();
    if quick {
        md += "_Quick smoke run (--quick): tiny subsets and 2 epochs; these numbers are not results._\n\n";
    }
    let t2 = table::Table2::new(rows.to_vec());
    md += &table::markdown(rows);
    if rows.iter().any(|r| r.seeds > 1) {
        md += "\n";
        md += &table::markdown_tests(&t2.tests);
    }
    let (wall, cpu) = totals(rows);
    md += "\n";
    if seconds > 0.0 {
        md += &format!("Wall-clock for this invocation: {seconds:.0} s. ");
    }
    md += &format!(
        "Summed over the runs and all their invocations (resumes included): {wall:.0} s of training wall-clock, \
         {cpu:.0} s of training-thread CPU time.\n"
    );
    write_atomic(&out.join("table2.md"), md.as_bytes())?;
    write_atomic(&out.join("table2.csv"), table::csv(rows).as_bytes())?;
    let json = serde_json::json!({
        "quick": quick,
        "seconds": seconds,
        "seconds_total": wall,
        "cpu_seconds_total": cpu,
        "rows": t2.rows,
        "tests": t2.tests,
    });
    write_atomic(
        &out.join("table2.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    Ok(())
}
