//! `rnnlab reproduce --collect OUT`: Table 2 and the figures from whatever jobs of OUT's plan have finished, and a
//! line for every other job: missing (no run directory), failed (with the tail of its log), or still to finish
//! (pending/running as Slurm reports it, else unfinished with its last checkpoint). No job is dropped silently.

use super::{local, slurm, Plan, PLAN_FILE};
use crate::data::Task;
use crate::report::table::{self, Row};
use crate::run::{RunDir, Summary};
use anyhow::Result;
use std::path::Path;

/// Lines of a failed job's log shown.
const TAIL_LINES: usize = 8;

/// Where a job of the plan stands.
#[derive(Clone, Debug, PartialEq)]
pub enum JobStatus {
    /// summary.json is there.
    Finished,
    /// Slurm has it pending or running (its state and reason).
    Active(String),
    /// No run directory, and no backend knows it.
    Missing,
    /// Failed: why, and the tail of its log.
    Failed(String),
    /// A run directory without a summary that no backend is running: `Some(epoch)` of its checkpoint.
    Unfinished(Option<usize>),
}

/// The outcome of a collection.
pub struct Collected {
    /// The Table 2 rows of the finished runs, in the paper's order (dataset, then unit).
    pub rows: Vec<Row>,
    /// (job name, status) of every job that has no row, in plan order.
    pub others: Vec<(String, JobStatus)>,
}

impl Collected {
    /// Whether every job finished with a row.
    pub fn complete(&self) -> bool {
        self.others.is_empty()
    }

    /// Whether some job is missing, failed or unfinished with nothing running it (`--collect` then exits non-zero).
    pub fn broken(&self) -> bool {
        self.others
            .iter()
            .any(|(_, s)| !matches!(s, JobStatus::Active(_)))
    }

    /// One line per job without a row.
    pub fn report(&self) -> String {
        let mut s = String::new();
        for (name, status) in &self.others {
            let line = match status {
                JobStatus::Finished => continue,
                JobStatus::Active(state) => format!("{name}: {state}"),
                JobStatus::Missing => format!("{name}: missing (no run directory)"),
                JobStatus::Failed(why) => format!("{name}: FAILED: {why}"),
                JobStatus::Unfinished(Some(e)) => {
                    format!("{name}: unfinished: checkpoint at epoch {e}")
                }
                JobStatus::Unfinished(None) => {
                    format!("{name}: unfinished: no checkpoint yet")
                }
            };
            s += &line;
            s.push('\n');
        }
        s
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The metric's variants of a finished music run: from its `eval.json` when that is newer than its summary, else
/// measured now (`rnnlab eval`, which writes it). A failure is a warning: the row keeps its other columns.
fn variants(run: &RunDir, summary: &Summary, data_dir: &Path) -> Option<table::Variants> {
    let summary_file = run.file(crate::run::SUMMARY_FILE);
    let eval_file = run.file(crate::eval::EVAL_FILE);
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let fresh =
        matches!((modified(&eval_file), modified(&summary_file)), (Some(e), Some(s)) if e >= s);
    let cached = fresh
        .then(|| std::fs::read_to_string(&eval_file).ok())
        .flatten()
        .and_then(|text| serde_json::from_str::<crate::eval::RunEval>(&text).ok())
        .filter(|e| e.format_version == crate::eval::EVAL_FORMAT_VERSION);
    let eval = match cached {
        Some(e) => e,
        None => {
            let dataset = summary.dataset.parse::<crate::data::Dataset>().ok()?;
            if dataset.task() != Task::Music {
                return None;
            }
            let data_dir =
                crate::data::resolve_run_data_dir(Some(data_dir), run.recorded_data_dir());
            match crate::eval::evaluate_run(&run.path, &data_dir, 50, false) {
                Ok(e) => e,
                Err(e) => {
                    eprintln!(
                        "warning: no metric variants for {} ({e:#}); run rnnlab eval on it",
                        run.path.display()
                    );
                    return None;
                }
            }
        }
    };
    table::Variants::of(&eval)
}

/// Where job `index` of the plan stands, from its run directory first, then the backends' records.
fn status(
    out: &Path,
    plan: &Plan,
    index: usize,
    slurm_id: Option<u64>,
    states: &Option<std::collections::HashMap<usize, slurm::TaskState>>,
) -> (JobStatus, Option<Row>) {
    let job = &plan.jobs[index];
    let run = RunDir::at(&out.join(&job.run_dir));
    match run.read_summary() {
        Ok(Some(summary)) => {
            return match table::row(&summary) {
                Ok(Some(mut row)) => {
                    row.variants = variants(&run, &summary, &job.data_dir);
                    (JobStatus::Finished, Some(row))
                }
                Ok(None) => (JobStatus::Failed("every member diverged".into()), None),
                Err(e) => (JobStatus::Failed(format!("{e:#}")), None),
            }
        }
        Ok(None) => {}
        Err(e) => return (JobStatus::Failed(format!("{e:#}")), None),
    }
    if let (Some(id), Some(states)) = (slurm_id, states) {
        if let Some(t) = states.get(&index) {
            if t.active() {
                return (
                    JobStatus::Active(format!(
                        "{} ({}), Slurm task {id}_{index}",
                        t.state, t.reason
                    )),
                    None,
                );
            }
            if t.state != "COMPLETED" {
                let log = slurm::log_tail(out, id, index, TAIL_LINES)
                    .map(|(p, t)| format!("\n  {}:\n{}", p.display(), indent(&t)))
                    .unwrap_or_else(|| " (no log)".into());
                return (
                    JobStatus::Failed(format!(
                        "Slurm task {id}_{index} {} ({}){log}",
                        t.state, t.reason
                    )),
                    None,
                );
            }
        }
        if let Some((p, t)) = slurm::log_tail(out, id, index, TAIL_LINES) {
            if !run.path.exists() || t.contains("error") {
                return (
                    JobStatus::Failed(format!(
                        "Slurm task {id}_{index} left no result\n  {}:\n{}",
                        p.display(),
                        indent(&t)
                    )),
                    None,
                );
            }
        }
    }
    if let Some((code, log)) = local::failure(out, index) {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        return (
            JobStatus::Failed(format!(
                "exit {code}\n  {}:\n{}",
                log.display(),
                indent(&slurm::tail(&text, TAIL_LINES))
            )),
            None,
        );
    }
    if !run.path.exists() {
        return (JobStatus::Missing, None);
    }
    let epoch = run
        .has_checkpoint()
        .then(|| run.load_checkpoint().ok().map(|(_, s)| s.epoch))
        .flatten();
    (JobStatus::Unfinished(epoch), None)
}

/// Collects OUT: writes Table 2 (`table2.{md,csv,json}`) from the finished jobs and the figures, and returns the
/// rows and every other job's status.
pub fn collect(out: &Path, seconds: f64) -> Result<Collected> {
    let plan = Plan::read(&out.join(PLAN_FILE))?;
    let slurm_id = slurm::recorded_job_id(out);
    let states = slurm_id.and_then(slurm::task_states);
    let mut rows = Vec::new();
    let mut others = Vec::new();
    for job in &plan.jobs {
        match status(out, &plan, job.index, slurm_id, &states) {
            (_, Some(row)) => rows.push((job.index, row)),
            (s, None) => others.push((job.name.clone(), s)),
        }
    }
    // Paper order: datasets in plan order, units tanh, GRU, LSTM; sweep points in plan order.
    let dataset_pos = |d: &str| {
        plan.jobs
            .iter()
            .position(|j| j.name.starts_with(&format!("{d}_")))
            .unwrap_or(usize::MAX)
    };
    let rows = crate::report::table2_files::paper_order(rows, dataset_pos);
    crate::report::table2_files::write_tables(out, &rows, seconds, plan.quick)?;
    crate::report::table2_files::draw_figures(out);
    Ok(Collected { rows, others })
}
