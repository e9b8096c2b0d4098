//! `rnnlab reproduce`: Table 2 — every (dataset, unit) experiment of `experiments/`, each a population trained with
//! the paper's recipe, run side by side on the machine's cores, then tabulated beside the paper's numbers. `--task
//! music` (the default) runs the four music sets, `--task speech` runs FSDD (`experiments/fsdd_*.toml`), whose rows
//! sit beside the paper's Ubisoft A numbers for reference only (another dataset: not comparable in absolute terms).
//!
//! Runs land in `OUT/runs/<dataset>_<unit>/`, the tables in `OUT/table2.{md,csv,json}`, the figures in `OUT/plots/`. A finished run (it has `summary.json`) is reused, an unfinished one
//! is resumed from its last checkpoint, so an interrupted reproduction continues where it stopped.

use crate::atomic::write_atomic;
use crate::cells::CellKind;
use crate::config::TrainConfig;
use crate::data::{AnyData, Dataset, Task};
use crate::report::table::{self, unit_family, Row};
use crate::run::{RunDir, Summary};
use crate::train::{self, Progress, Start};
use anyhow::{bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
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

struct Job {
    name: String,
    cfg: TrainConfig,
    dir: PathBuf,
}

fn job_config(opts: &Options, set: Dataset, cell: CellKind) -> Result<TrainConfig> {
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
    base.with_overrides(&sets)
        .with_context(|| format!("experiment {}", path.display()))
}

/// Runs (or reuses, or resumes) every experiment and writes Table 2 into `opts.out`.
pub fn reproduce(opts: &Options) -> Result<Vec<Row>> {
    let started = Instant::now();
    let mut jobs = VecDeque::new();
    for &set in &opts.datasets {
        for &cell in &opts.units {
            let cfg = job_config(opts, set, cell)?;
            let name = format!("{}_{}", set.name(), cell.name());
            jobs.push_back(Job {
                dir: opts.out.join("runs").join(&name),
                name,
                cfg,
            });
        }
    }
    std::fs::create_dir_all(opts.out.join("runs"))
        .with_context(|| format!("creating {}", opts.out.display()))?;
    let datasets: Vec<(Dataset, AnyData)> = opts
        .datasets
        .iter()
        .map(|&set| {
            let (_, data) = AnyData::load(&opts.data_dir, set)?;
            Ok((set, data))
        })
        .collect::<Result<_>>()?;
    // Longest jobs first, so that the last ones to start are short and the cores finish together.
    let cost = |job: &Job| {
        let data = &datasets
            .iter()
            .find(|(s, _)| *s == job.cfg.dataset)
            .expect("loaded")
            .1;
        job.cfg.max_epochs * data.train_steps()
    };
    let mut jobs: Vec<Job> = jobs.into_iter().collect();
    jobs.sort_by_key(|j| std::cmp::Reverse(cost(j)));
    let queue = Mutex::new(VecDeque::from(jobs));
    let results: Mutex<Vec<(String, Result<Summary>)>> = Mutex::new(Vec::new());
    let bars = MultiProgress::new();
    if opts.quiet {
        bars.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let workers = opts.jobs.max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let Some(job) = queue.lock().expect("queue lock").pop_front() else {
                    break;
                };
                let data = &datasets
                    .iter()
                    .find(|(s, _)| *s == job.cfg.dataset)
                    .expect("loaded")
                    .1;
                let bar = bars.add(ProgressBar::new(0));
                let result = run_job(&job, data, &bar, opts.quiet);
                bar.finish_and_clear();
                if opts.quiet {
                    match &result {
                        Ok(s) => eprintln!(
                            "{}: done, {} epochs, {:.0} s",
                            job.name, s.epochs, s.seconds
                        ),
                        Err(e) => eprintln!("{}: FAILED: {e:#}", job.name),
                    }
                }
                results
                    .lock()
                    .expect("results lock")
                    .push((job.name, result));
            });
        }
    });

    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let mut results = results.into_inner().expect("results lock");
    results.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, r) in results {
        match r {
            Ok(summary) => match table::row(&summary) {
                Some(row) => rows.push(row),
                None => failures.push(format!("{name}: every member diverged")),
            },
            Err(e) => failures.push(format!("{name}: {e:#}")),
        }
    }
    // Paper order: datasets as asked, units tanh, GRU, LSTM.
    rows.sort_by_key(|r| {
        let d = opts
            .datasets
            .iter()
            .position(|s| s.name() == r.dataset)
            .unwrap_or(usize::MAX);
        let u = crate::paper::UNITS
            .iter()
            .position(|u| *u == r.unit)
            .unwrap_or(usize::MAX);
        (d, u, r.cell.clone())
    });
    write_tables(
        &opts.out,
        &rows,
        started.elapsed().as_secs_f64(),
        opts.quick,
    )?;
    draw_figures(&opts.out);
    if !failures.is_empty() {
        bail!(
            "{} experiment(s) failed:\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    }
    Ok(rows)
}

fn run_job(job: &Job, data: &AnyData, bar: &ProgressBar, quiet: bool) -> Result<Summary> {
    let run = RunDir::at(&job.dir);
    if let Ok(Some(s)) = run.read_summary() {
        if !quiet {
            bar.println(format!(
                "{}: reusing finished run {}",
                job.name,
                job.dir.display()
            ));
        }
        return Ok(s);
    }
    let start = if run.has_checkpoint() {
        // Resume with the run's own config: it is what the checkpoint was made with.
        let (_, cfg) = RunDir::open(&job.dir)?;
        if cfg != job.cfg {
            bail!(
                "{} was started with another config than {} now gives; remove it or use another --out",
                job.dir.display(),
                job.name
            );
        }
        Start::Resume(&job.dir)
    } else {
        if job.dir.exists() {
            // A directory with no checkpoint holds nothing worth keeping (killed before its first epoch ended).
            std::fs::remove_dir_all(&job.dir)
                .with_context(|| format!("clearing {}", job.dir.display()))?;
        }
        Start::Fresh(&job.dir)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>18} {msg:<24} [{bar:30}] {pos}/{len} batches, eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(job.name.clone());
    let name = job.name.clone();
    let mut on_progress = |p: Progress| {
        if let Some(m) = p.show_on(bar) {
            if quiet {
                eprintln!(
                    "{name}: epoch {} valid {:.3} ({:.0} s)",
                    m.epoch,
                    m.best_valid(),
                    m.seconds
                );
            }
        }
    };
    train::train(&job.cfg, data, start, &mut on_progress)
}

/// The figures of `out` into `out/plots/`. Drawing is a convenience on top of the tables, so a failure is a warning
/// (the tables are written already, and `rnnlab plot` can draw again).
fn draw_figures(out: &Path) {
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

fn write_tables(out: &Path, rows: &[Row], seconds: f64, quick: bool) -> Result<()> {
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
    md += &format!("\nWall-clock for this invocation: {seconds:.0} s.\n");
    write_atomic(&out.join("table2.md"), md.as_bytes())?;
    write_atomic(&out.join("table2.csv"), table::csv(rows).as_bytes())?;
    let json = serde_json::json!({ "quick": quick, "seconds": seconds, "rows": t2.rows, "tests": t2.tests });
    write_atomic(
        &out.join("table2.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    Ok(())
}
