//! `rnnlab show`: a run directory, or a `rnnlab reproduce` output, at a glance, for a person who comes back to it a
//! week later: what was trained, where it stands, its best member, how long it took, and where its files are.
//!
//! Everything is read through [`crate::run`]'s reader ([`RunDir::read_summary`], [`RunDir::read_state`],
//! [`RunDir::read_metrics`]); nothing is loaded into libtorch. A run's state:
//! ```text
//! finished      summary.json exists
//! running       a checkpoint, no summary, and its last epoch was written recently (3 epochs' time, ≥ 2 minutes)
//! unfinished    a checkpoint, no summary, nothing written for longer: killed or interrupted (train --resume)
//! not started   no checkpoint yet: no epoch has finished
//! ```

use crate::config::TrainConfig;
use crate::run::integrity::{Check, Integrity};
use crate::run::tfevents::event_files;
use crate::run::{
    seed_of, RunDir, Status, Summary, TrainState, CONFIG_FILE, METRICS_JSONL, SUMMARY_FILE,
};
use anyhow::{bail, Result};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Where a run stands (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// `summary.json` exists.
    Finished,
    /// A checkpoint, no summary, and the last epoch was written recently (3 epochs' time, at least 2 minutes).
    Running,
    /// A checkpoint, no summary, nothing written for longer: killed or interrupted (`train --resume` continues it).
    Unfinished,
    /// No checkpoint yet: no epoch has finished.
    NotStarted,
}

impl RunState {
    /// The state as `rnnlab show` prints it (`finished`, `not started`, …).
    pub fn name(self) -> &'static str {
        match self {
            RunState::Finished => "finished",
            RunState::Running => "running",
            RunState::Unfinished => "unfinished",
            RunState::NotStarted => "not started",
        }
    }
}

/// What one token of a token run is (its summary's `tokens`, else its config's), `None` for frame-wise runs.
fn token_of(v: &RunView) -> Option<String> {
    v.summary
        .as_ref()
        .and_then(|s| s.tokens.as_ref().map(|t| t.token.clone()))
}

/// A run's best member: (member, lr, valid NLL, test NLL, best epoch).
pub type Best = (usize, f64, f64, Option<f64>, Option<usize>);

/// What `rnnlab show` reads of one run.
pub struct RunView {
    /// The run directory.
    pub path: PathBuf,
    /// The run's `config.toml`.
    pub cfg: TrainConfig,
    /// `summary.json`, once the run has finished.
    pub summary: Option<Summary>,
    /// The checkpoint's `state.json`, once an epoch has finished.
    pub state: Option<TrainState>,
    /// Where the run stands.
    pub run_state: RunState,
    /// Seconds since metrics.jsonl (or the config, before any epoch) was last written.
    pub idle_seconds: f64,
    /// The checkpoint and summary checked against their recorded checksums.
    pub integrity: Integrity,
}

impl RunView {
    /// Reads the run directory at `path`.
    pub fn read(path: &Path) -> Result<RunView> {
        let (run, cfg) = RunDir::open(path)?;
        // Unverified: the check is reported (`integrity`), not fatal, so a damaged run can still be looked at.
        let summary = run.read_summary_unverified()?;
        let integrity = run.integrity();
        let state = if run.has_checkpoint() {
            Some(run.read_state()?)
        } else {
            None
        };
        let written = [METRICS_JSONL, CONFIG_FILE].iter().find_map(|f| {
            std::fs::metadata(run.file(f))
                .and_then(|m| m.modified())
                .ok()
        });
        let idle_seconds = written
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or(Duration::ZERO)
            .as_secs_f64();
        let run_state = match (&summary, &state) {
            (Some(_), _) => RunState::Finished,
            (None, None) => RunState::NotStarted,
            (None, Some(s)) => {
                let per_epoch = s.seconds / s.epoch.max(1) as f64;
                if idle_seconds <= (3.0 * per_epoch).max(120.0) {
                    RunState::Running
                } else {
                    RunState::Unfinished
                }
            }
        };
        Ok(RunView {
            path: path.to_path_buf(),
            cfg,
            summary,
            state,
            run_state,
            idle_seconds,
            integrity,
        })
    }

    /// Completed epochs.
    pub fn epochs(&self) -> usize {
        match (&self.summary, &self.state) {
            (Some(s), _) => s.epochs,
            (None, Some(s)) => s.epoch,
            _ => 0,
        }
    }

    /// (wall-clock, CPU) seconds of training so far.
    pub fn seconds(&self) -> (f64, f64) {
        match (&self.summary, &self.state) {
            (Some(s), _) => (s.seconds, s.cpu_seconds),
            (None, Some(s)) => (s.seconds, s.cpu_seconds),
            _ => (0.0, 0.0),
        }
    }

    /// Every member's (learning rate, status, epoch of that status).
    fn member_statuses(&self) -> Vec<(f64, Status, Option<usize>)> {
        match (&self.summary, &self.state) {
            (Some(s), _) => s
                .members
                .iter()
                .map(|m| (m.lr, m.status, m.status_epoch))
                .collect(),
            (None, Some(s)) => s
                .members
                .iter()
                .map(|m| (m.lr, m.status, m.status_epoch))
                .collect(),
            _ => vec![],
        }
    }

    /// The best member as (member, lr, valid NLL, test NLL, best epoch): the summary's (at its best weights), else
    /// the checkpoint's best so far, with the test NLL metrics.jsonl recorded at that member's best epoch.
    pub fn best(&self) -> Option<Best> {
        if let Some(s) = &self.summary {
            let m = &s.members[s.best_member?];
            return Some((m.member, m.lr, m.valid_nll, Some(m.test_nll), m.best_epoch));
        }
        let state = self.state.as_ref()?;
        let b = state.best_member()?;
        let ms = &state.members[b];
        let test = ms.best_epoch.and_then(|e| {
            let (epochs, _) = RunDir::at(&self.path).read_metrics();
            epochs
                .iter()
                .find(|m| m.epoch == e)
                .and_then(|m| m.members.get(b)?.test_nll)
        });
        Some((b, ms.lr, ms.best_valid?, test, ms.best_epoch))
    }

    /// One line for a reproduce output's list.
    pub fn one_line(&self) -> String {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let best = match self.best() {
            Some((m, lr, v, t, _)) => format!(
                "best member {m} (lr {lr:.2e}): valid {v:.3}, test {}",
                t.map(|t| format!("{t:.3}")).unwrap_or_else(|| "-".into())
            ),
            None => "no best member".into(),
        };
        let diverged = self
            .member_statuses()
            .iter()
            .filter(|s| s.1 == Status::Diverged)
            .count();
        let damaged = [&self.integrity.checkpoint, &self.integrity.summary]
            .iter()
            .any(|c| matches!(c, Some(Check::Damaged(_))));
        format!(
            "{name:<22} {:<11} {:>4}/{:<4} epochs  {best}{}  {}{}",
            self.run_state.name(),
            self.epochs(),
            self.cfg.max_epochs,
            if diverged > 0 {
                format!(", {diverged} diverged")
            } else {
                String::new()
            },
            duration(self.seconds().0),
            if damaged {
                "  DAMAGED (see rnnlab show on the run)"
            } else {
                ""
            }
        )
    }
}

/// `12.3 s`, `4 min 05 s`, `2 h 03 min`.
pub fn duration(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{} min {:02} s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{} h {:02} min",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

/// `rnnlab show PATH`: a run directory, a reproduce output (with `runs/`), or a directory of run directories.
pub fn show(path: &Path) -> Result<String> {
    if path.join(CONFIG_FILE).is_file() {
        return show_run(&RunView::read(path)?);
    }
    let runs_dir = if path.join("runs").is_dir() {
        path.join("runs")
    } else {
        path.to_path_buf()
    };
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&runs_dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", runs_dir.display()))?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.join(CONFIG_FILE).is_file())
        .collect();
    runs.sort();
    if runs.is_empty() {
        bail!(
            "{} is not a run directory (no {CONFIG_FILE}) and holds no runs (no runs/*/{CONFIG_FILE})",
            path.display()
        );
    }
    let mut out = format!("{}: {} runs\n", path.display(), runs.len());
    for run in &runs {
        match RunView::read(run) {
            Ok(v) => writeln!(out, "  {}", v.one_line())?,
            Err(e) => writeln!(out, "  {}: unreadable: {e:#}", run.display())?,
        }
    }
    let tables: Vec<String> = ["table2.md", "table2.csv", "table2.json"]
        .iter()
        .map(|t| path.join(t))
        .filter(|p| p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if tables.is_empty() {
        writeln!(
            out,
            "table 2    not written yet (rnnlab reproduce writes it when its runs have finished)"
        )?;
    } else {
        writeln!(out, "table 2    {}", tables.join(", "))?;
    }
    write_figures(&mut out, &figures_in(&path.join("plots")), path)?;
    writeln!(
        out,
        "details: rnnlab show {}/<name>; curves: tensorboard --logdir {}",
        runs_dir.display(),
        runs_dir.display()
    )?;
    Ok(out)
}

fn show_run(v: &RunView) -> Result<String> {
    let c = &v.cfg;
    let mut out = String::new();
    let k = c.member_lrs().len();
    writeln!(out, "run        {}", v.path.display())?;
    writeln!(
        out,
        "what       {} on {}, {} implementation, {} hidden units; K = {k} models = {} learning rates × {} seed{}",
        c.cell,
        c.dataset.name(),
        c.implementation,
        c.hidden_size(),
        k / c.seeds.max(1),
        c.seeds,
        if c.seeds == 1 { "" } else { "s" }
    )?;
    writeln!(
        out,
        "config     seed {}, batch {}, chunk_len {}, patience {}{}, weight_noise {}, clip_norm {}, device {}, dtype {}{}",
        c.seed,
        c.batch_size,
        c.chunk_len,
        c.patience,
        match c.pruning_from() {
            Some(after) => format!(
                ", pruning from epoch {after} (window {})",
                c.prune_window
            ),
            None => String::new(),
        },
        c.weight_noise,
        c.clip_norm,
        format!("{:?}", c.device).to_lowercase(),
        c.dtype.name(),
        if c.train_subset > 0 || c.eval_subset > 0 {
            format!(
                ", train_subset {}, eval_subset {}{}",
                c.train_subset,
                c.eval_subset,
                if c.subset_spread { " (spread)" } else { "" }
            )
        } else {
            String::new()
        }
    )?;
    let state_line = match v.run_state {
        RunState::Finished => "finished (summary.json written)".to_string(),
        RunState::Running => format!(
            "running: no summary yet, last epoch written {} ago",
            duration(v.idle_seconds)
        ),
        RunState::Unfinished => format!(
            "unfinished: a checkpoint but no summary, nothing written for {} (killed?); continue with \
             rnnlab train --resume {}",
            duration(v.idle_seconds),
            v.path.display()
        ),
        RunState::NotStarted => "not started: no epoch has finished yet".to_string(),
    };
    writeln!(out, "state      {state_line}")?;
    let epochs = v.epochs();
    let why = if v.run_state != RunState::Finished {
        ""
    } else if epochs >= c.max_epochs {
        " (reached max_epochs)"
    } else if c.max_seconds > 0.0 && v.seconds().0 >= c.max_seconds {
        " (reached max_seconds)"
    } else {
        " (every member stopped early, was pruned or diverged)"
    };
    writeln!(out, "epochs     {epochs} of max {}{why}", c.max_epochs)?;
    let statuses = v.member_statuses();
    let listed = |status: Status| -> Vec<String> {
        statuses
            .iter()
            .enumerate()
            .filter(|(_, s)| s.1 == status)
            .map(|(m, s)| match s.2 {
                Some(e) => format!("{m} (lr {:.2e}, epoch {e})", s.0),
                None => format!("{m} (lr {:.2e})", s.0),
            })
            .collect()
    };
    let (stopped, diverged, pruned) = (
        listed(Status::Stopped),
        listed(Status::Diverged),
        listed(Status::Pruned),
    );
    let active = statuses.len() - stopped.len() - diverged.len() - pruned.len();
    let pruned_part = if pruned.is_empty() {
        String::new()
    } else {
        format!(", {} pruned", pruned.len())
    };
    writeln!(
        out,
        "members    {} active, {} stopped early{pruned_part}, {} diverged",
        active,
        stopped.len(),
        diverged.len()
    )?;
    if !diverged.is_empty() {
        writeln!(out, "  diverged {}", diverged.join(", "))?;
    }
    if !stopped.is_empty() {
        writeln!(out, "  stopped  {}", stopped.join(", "))?;
    }
    if !pruned.is_empty() {
        writeln!(out, "  pruned   {}", pruned.join(", "))?;
    }
    match v.best() {
        Some((m, lr, valid, test, epoch)) => writeln!(
            out,
            "best       member {m} (lr {lr:.3e}, seed {}): valid NLL {valid:.4}, test NLL {}, best epoch {}{}",
            seed_of(m, c.seeds),
            test.map(|t| match token_of(v) {
                Some(tok) => format!(
                    "{t:.4} ({:.4} bits per {tok})",
                    t / std::f64::consts::LN_2
                ),
                None => format!("{t:.4}"),
            })
            .unwrap_or_else(|| "-".into()),
            epoch.map(|e| e.to_string()).unwrap_or_else(|| "-".into()),
            if v.summary.is_some() {
                " (at its best weights)"
            } else {
                " (so far)"
            }
        )?,
        None => writeln!(out, "best       none: no member has a finite validation NLL")?,
    }
    if let Some(s) = v.summary.as_ref().filter(|s| s.seeds > 1) {
        for (seed, r) in s.seed_results().iter().enumerate() {
            match r {
                Some(r) => {
                    writeln!(
                    out,
                    "  seed {seed}   member {} (lr {:.3e}): valid {:.4}, test {:.4}, best epoch {}",
                    r.member,
                    r.lr,
                    r.valid_nll,
                    r.test_nll,
                    r.best_epoch.map(|e| e.to_string()).unwrap_or_else(|| "-".into())
                )?
                }
                None => writeln!(out, "  seed {seed}   every member diverged")?,
            }
        }
    }
    let (wall, cpu) = v.seconds();
    writeln!(
        out,
        "time       {} wall clock ({:.2} s/epoch), {} CPU",
        duration(wall),
        wall / epochs.max(1) as f64,
        duration(cpu)
    )?;
    let events = event_files(&v.path).unwrap_or_default();
    let names: Vec<String> = events
        .iter()
        .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
        .collect();
    writeln!(
        out,
        "files      config.toml, metrics.csv, metrics.jsonl, checkpoint/{}",
        if v.summary.is_some() {
            format!(", {SUMMARY_FILE}")
        } else {
            String::new()
        }
    )?;
    let checks: Vec<String> = [
        ("checkpoint", &v.integrity.checkpoint),
        ("summary", &v.integrity.summary),
    ]
    .iter()
    .filter_map(|(what, c)| Some(format!("{what} {}", c.as_ref()?)))
    .collect();
    if !checks.is_empty() {
        writeln!(out, "integrity  {}", checks.join("; "))?;
    }
    match names.as_slice() {
        [] => writeln!(
            out,
            "tensorboard none (run made before event files were written)"
        )?,
        _ => writeln!(
            out,
            "tensorboard {} (tensorboard --logdir {})",
            names.join(", "),
            v.path.display()
        )?,
    }
    // `rnnlab plot` puts a reproduce output's figures in OUT/plots (OUT/runs/<name> is the run).
    let plots = v
        .path
        .parent()
        .and_then(Path::parent)
        .map(|out| out.join("plots"))
        .unwrap_or_default();
    let dataset = c.dataset.name();
    let mine: Vec<PathBuf> = figures_in(&plots)
        .into_iter()
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            n.contains(dataset) || n.starts_with("table2")
        })
        .chain(figures_in(&v.path))
        .collect();
    write_figures(&mut out, &mine, &v.path)?;
    Ok(out)
}

/// The PNGs directly in `dir`, sorted.
fn figures_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| Some(e.ok()?.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "png"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn write_figures(out: &mut String, figures: &[PathBuf], input: &Path) -> Result<()> {
    if figures.is_empty() {
        writeln!(
            out,
            "figures    none yet: rnnlab plot {} (or rnnlab sample for a music piano roll)",
            input.display()
        )?;
    } else {
        for f in figures {
            writeln!(out, "figure     {}", f.display())?;
        }
    }
    Ok(())
}
