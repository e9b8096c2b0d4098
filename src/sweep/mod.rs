//! Sweeps: a [`Plan`] of training jobs (one per run directory), and the backends that run it.
//!
//! `rnnlab reproduce` (and `--sweep key=v1,v2`) first writes `OUT/plan.json`; everything after reads it: the
//! [`local`] backend (worker processes on this machine), the [`slurm`] backend (one job array), the task each worker
//! or array task runs ([`run_task`], `rnnlab sweep-task --plan OUT/plan.json --index N`) and the collector
//! ([`collect`]). Nothing else decides what a job is, so a plan gives the same run directories, and the same
//! metrics bit for bit, whichever backend trains it.
//!
//! ```text
//! OUT/plan.json              the plan (format below)
//! OUT/runs/<name>/           one run directory per job (see crate::run)
//! OUT/local/<index>.log      local backend: the worker's stderr; <index>.exit its exit status when non-zero
//! OUT/slurm/array.sbatch     slurm backend: the submitted script; job_id the array's id; <A>_<i>.out/.err logs
//! ```

pub mod collect;
pub mod local;
pub mod slurm;

use crate::atomic::write_atomic;
use crate::config::TrainConfig;
use crate::data::AnyData;
use crate::run::RunDir;
use crate::train::{self, Progress, Start};
use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of `plan.json`'s format.
pub const PLAN_VERSION: u32 = 1;
/// The plan's file name in OUT.
pub const PLAN_FILE: &str = "plan.json";

/// `OUT/plan.json`: every job of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Format version of the plan ([`PLAN_VERSION`]).
    pub version: u32,
    /// Made with `--quick` (the tables say so).
    pub quick: bool,
    /// The jobs, one per training run, in index order.
    pub jobs: Vec<PlanJob>,
}

/// One job: one run directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanJob {
    /// Its index in `jobs` (a Slurm array task id).
    pub index: usize,
    /// `<dataset>_<cell>`, with `__key-value` per swept key.
    pub name: String,
    /// The run directory, relative to the plan's folder (OUT).
    pub run_dir: PathBuf,
    /// The resolved config, as TOML (what the run directory's config.toml will hold).
    pub config: String,
    /// The data directory (absolute).
    pub data_dir: PathBuf,
    /// Relative cost (epochs × training steps), to start the longest jobs first.
    pub cost: u64,
}

impl PlanJob {
    /// The job's training config, parsed from its TOML and checked.
    pub fn config(&self) -> Result<TrainConfig> {
        let cfg: TrainConfig = toml::from_str(&self.config)
            .with_context(|| format!("plan job {} ({}): config", self.index, self.name))?;
        cfg.check()?;
        Ok(cfg)
    }
}

impl Plan {
    /// Reads `path` (OUT/plan.json).
    pub fn read(path: &Path) -> Result<Plan> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading plan {}", path.display()))?;
        let plan: Plan = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a plan this rnnlab can read", path.display()))?;
        ensure!(
            plan.version == PLAN_VERSION,
            "{} has plan format {}, this rnnlab reads {PLAN_VERSION}",
            path.display(),
            plan.version
        );
        Ok(plan)
    }

    /// Writes the plan to `out/plan.json`, atomically. An existing plan must be identical: a sweep never mixes its
    /// run directories with another's.
    pub fn write(&self, out: &Path) -> Result<PathBuf> {
        let path = out.join(PLAN_FILE);
        if path.exists() {
            let old = Plan::read(&path)?;
            if &old != self {
                let diff = describe_difference(&old, self);
                bail!(
                    "{} holds another plan ({diff}); use another --out, or remove {} to replace it",
                    out.display(),
                    path.display()
                );
            }
        }
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        write_atomic(&path, serde_json::to_string_pretty(self)?.as_bytes())?;
        Ok(path)
    }
}

fn describe_difference(old: &Plan, new: &Plan) -> String {
    if old.jobs.len() != new.jobs.len() {
        return format!("{} jobs, this one {}", old.jobs.len(), new.jobs.len());
    }
    if old.quick != new.quick {
        return "--quick differs".into();
    }
    for (a, b) in old.jobs.iter().zip(&new.jobs) {
        if a != b {
            let what = if a.name != b.name {
                "name"
            } else if a.config != b.config {
                "config"
            } else if a.data_dir != b.data_dir {
                "data directory"
            } else {
                "job"
            };
            return format!("job {} ({}) differs in its {what}", a.index, a.name);
        }
    }
    "it differs".into()
}

/// Parses `--sweep key=v1,v2` into (key, values). Values are TOML like `--set`'s; a list value cannot be swept.
pub fn parse_sweep(s: &str) -> Result<(String, Vec<String>)> {
    let (key, values) = s
        .split_once('=')
        .with_context(|| format!("--sweep '{s}': expected key=v1,v2,..."))?;
    let values: Vec<String> = values
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    ensure!(!values.is_empty(), "--sweep '{s}': no values");
    Ok((key.trim().to_string(), values))
}

/// The cartesian product of sweeps, in order (the last key varies fastest): each point is a list of `key=value`
/// overrides and its name suffix (`__key-value` per key). No sweeps → one point with no overrides.
pub fn sweep_points(sweeps: &[(String, Vec<String>)]) -> Vec<(Vec<String>, String)> {
    let mut points = vec![(Vec::new(), String::new())];
    for (key, values) in sweeps {
        let mut next = Vec::new();
        for (overrides, suffix) in &points {
            for v in values {
                let mut overrides = overrides.clone();
                overrides.push(format!("{key}={v}"));
                let clean: String = v
                    .trim_matches('"')
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                next.push((overrides, format!("{suffix}__{key}-{clean}")));
            }
        }
        points = next;
    }
    points
}

/// What [`run_task`] did.
pub enum TaskOutcome {
    /// The run had a summary already.
    AlreadyDone,
    /// The run was trained (fresh or resumed) to its end.
    Trained,
}

/// `rnnlab sweep-task`: trains job `index` of the plan at `plan_path`. Resumes its run directory if it has a
/// checkpoint, starts it otherwise (also when the directory exists without one: killed in its first epoch), and
/// returns at once if it has a summary. Epochs are logged one line each on stderr (the worker's log).
pub fn run_task(plan_path: &Path, index: usize) -> Result<TaskOutcome> {
    let plan = Plan::read(plan_path)?;
    let job = plan.jobs.get(index).with_context(|| {
        format!(
            "{} has {} jobs; there is no job {index}",
            plan_path.display(),
            plan.jobs.len()
        )
    })?;
    let out = plan_path.parent().unwrap_or(Path::new("."));
    let dir = out.join(&job.run_dir);
    let mut cfg = job.config()?;
    let run = RunDir::at(&dir);
    // One writer per run directory: two array tasks given one directory, or a requeue beside a resume, are refused.
    let _lock = run.lock()?;
    if run.read_summary()?.is_some() {
        eprintln!("{}: finished already ({})", job.name, dir.display());
        return Ok(TaskOutcome::AlreadyDone);
    }
    let data_dir = crate::data::resolve_run_data_dir(Some(&job.data_dir), run.recorded_data_dir());
    let (_, data) = AnyData::for_config(&data_dir, &cfg)?;
    // A run records the width (and head) its data gave; the plan's config leaves them to the data.
    cfg.resolve_data(&data)?;
    let resume = run.has_checkpoint();
    if resume {
        // Resume with the run's own config: it is what the checkpoint was made with.
        let (_, stored) = RunDir::open(&dir)?;
        if run.adopt_pruning(&stored, &cfg)? {
            eprintln!(
                "{}: takes the plan's pruning (prune_after {}, prune_window {}); no epoch trained so far is affected",
                job.name, cfg.prune_after, cfg.prune_window
            );
        } else if stored != cfg {
            bail!(
                "{} was started with another config than plan job {} ({}); remove it or use another --out",
                dir.display(),
                index,
                job.name
            );
        }
        eprintln!("{}: resuming {}", job.name, dir.display());
    } else {
        run.clear_unstarted()?;
        run.record_data_dir(&data_dir)?;
        eprintln!("{}: starting {}", job.name, dir.display());
    }
    let start = if resume {
        Start::Resume(&dir)
    } else {
        Start::Fresh(&dir)
    };
    let name = job.name.clone();
    let mut on_progress = |p: Progress| {
        if let Progress::EpochEnd(m) = p {
            eprintln!(
                "{name}: epoch {} valid {:.3} ({:.0} s)",
                m.epoch,
                m.best_valid(),
                m.seconds
            );
        }
    };
    let s = train::train(&cfg, &data, start, &mut on_progress)?;
    eprintln!(
        "{}: done, {} epochs, {:.0} s",
        job.name, s.epochs, s.seconds
    );
    Ok(TaskOutcome::Trained)
}
