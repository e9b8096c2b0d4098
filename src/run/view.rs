//! Reading a run directory leniently, for the figures and `rnnlab plot`: [`load_run`] → [`RunData`] (every epoch,
//! the summary when there is one, each seed's chosen member, learning curves).
//!
//! [`super::RunDir`] reads strictly (a resume refuses what it cannot read); this reader draws what it can. A run
//! directory without `summary.json` (still running, or killed) is drawn from the epochs in `metrics.jsonl`; lines this
//! version cannot parse are skipped with a note, and when none parse, `metrics.csv` is read by its header's column
//! names. Whatever cannot be read is reported as a note, never a panic.
//!
//! The best member is [`super::best_member`]'s choice: the summary's when the run finished, otherwise the member with
//! the lowest validation NLL so far that has not diverged.

use super::{
    best_member, seed_of, EpochMetrics, MemberMetrics, RunDir, Status, Summary, CONFIG_FILE,
    METRICS_CSV, METRICS_JSONL, SUMMARY_FILE,
};
use crate::cells::CellKind;
use crate::paper::MUSIC_DATASETS as DATASETS;
use anyhow::{bail, ensure, Context, Result};
use std::path::{Path, PathBuf};

/// Everything readable from one run directory.
#[derive(Clone, Debug)]
pub struct RunData {
    /// The run directory.
    pub dir: PathBuf,
    /// Dataset name, from `config.toml`.
    pub dataset: String,
    /// Cell name, from `config.toml`.
    pub cell: String,
    /// The unit family ([`CellKind::family`]): `tanh`, `gru`, `lstm`, or a unit beyond the paper's own name.
    pub unit: &'static str,
    /// Epochs in order, one per epoch number (a resumed run's repeated epochs keep the last copy).
    pub epochs: Vec<EpochMetrics>,
    /// `summary.json`, when the run has finished.
    pub summary: Option<Summary>,
    /// Independent seeds in the population: from summary.json, else config.toml's `seeds`, else 1. Member `m`
    /// belongs to seed `m % seeds`.
    pub seeds: usize,
    /// What was skipped or guessed while reading.
    pub notes: Vec<String>,
}

/// One member of a run, for the learning-rate search.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberPoint {
    /// Index of the member in the population.
    pub member: usize,
    /// The member's learning rate.
    pub lr: f64,
    /// Validation NLL at the member's best weights (from summary.json), else the lowest seen so far.
    pub valid_nll: Option<f64>,
    /// Whether the member diverged (its NLL became NaN/Inf).
    pub diverged: bool,
}

impl RunData {
    /// The member whose curves stand for this run: the summary's best, else the lowest valid NLL so far among the
    /// members that have not diverged.
    pub fn best_member(&self) -> Option<usize> {
        if let Some(s) = &self.summary {
            if s.best_member.is_some() {
                return s.best_member;
            }
        }
        best_member(eligible(&self.members()))
    }

    /// Each seed's chosen member: `best_member_per_seed` of summary.json when the run finished, otherwise the
    /// seed's member with the lowest validation NLL so far that has not diverged (`None`: none has one yet).
    pub fn seed_members(&self) -> Vec<Option<usize>> {
        if let Some(s) = &self.summary {
            return s.seed_bests();
        }
        let seeds = self.seeds.max(1);
        let members = self.members();
        (0..seeds)
            .map(|k| {
                let own: Vec<MemberPoint> = members
                    .iter()
                    .filter(|m| seed_of(m.member, seeds) == k)
                    .cloned()
                    .collect();
                best_member(eligible(&own))
            })
            .collect()
    }

    /// Every member's learning rate and final validation NLL: from summary.json when the run finished, otherwise
    /// the best validation NLL in the metrics so far.
    pub fn members(&self) -> Vec<MemberPoint> {
        if let Some(s) = &self.summary {
            return s
                .members
                .iter()
                .map(|m| MemberPoint {
                    member: m.member,
                    lr: m.lr,
                    valid_nll: finite(m.valid_nll),
                    diverged: m.status == Status::Diverged,
                })
                .collect();
        }
        let k = self
            .epochs
            .iter()
            .map(|e| e.members.len())
            .max()
            .unwrap_or(0);
        (0..k)
            .filter_map(|m| {
                let rows: Vec<&MemberMetrics> = self
                    .epochs
                    .iter()
                    .filter_map(|e| e.members.get(m))
                    .collect();
                let last = rows.last()?;
                Some(MemberPoint {
                    member: m,
                    lr: last.lr,
                    valid_nll: rows
                        .iter()
                        .filter_map(|r| finite(r.valid_nll?))
                        .min_by(f64::total_cmp),
                    diverged: last.status == Status::Diverged,
                })
            })
            .collect()
    }

    /// One member's curve: a point for each epoch that has it, up to the epoch where it stopped or diverged (after
    /// that its weights no longer move: its validation NLL stays flat and it has no training NLL).
    pub fn curve(&self, member: usize) -> Vec<CurvePoint> {
        let mut ended = false;
        self.epochs
            .iter()
            .filter_map(|e| {
                let m = e.members.get(member)?;
                if ended {
                    return None;
                }
                ended = m.status != Status::Active;
                Some(CurvePoint {
                    epoch: e.epoch as f64,
                    seconds: e.seconds,
                    train: m.train_nll.and_then(finite),
                    valid: m.valid_nll.and_then(finite),
                })
            })
            .collect()
    }

    /// The run's best validation NLL (to choose among runs of one unit).
    pub fn best_valid(&self) -> Option<f64> {
        let m = self.best_member()?;
        self.members()
            .into_iter()
            .find(|p| p.member == m)
            .and_then(|p| p.valid_nll)
    }
}

/// One epoch of a member's learning curve; NLLs only where finite.
pub struct CurvePoint {
    /// Epoch number (a float, for the chart's x axis).
    pub epoch: f64,
    /// Wall-clock seconds of the run at the end of the epoch.
    pub seconds: f64,
    /// The epoch's train NLL (at noisy weights, nats per frame).
    pub train: Option<f64>,
    /// The epoch's validation NLL (nats per frame).
    pub valid: Option<f64>,
}

/// The candidates of [`best_member`]: a diverged member cannot be chosen.
fn eligible(members: &[MemberPoint]) -> Vec<(usize, Option<f64>)> {
    members
        .iter()
        .map(|m| (m.member, if m.diverged { None } else { m.valid_nll }))
        .collect()
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Whether `dir` looks like one run directory.
pub fn is_run_dir(dir: &Path) -> bool {
    [SUMMARY_FILE, METRICS_JSONL, METRICS_CSV, CONFIG_FILE]
        .iter()
        .any(|f| dir.join(f).is_file())
}

/// Reads a run directory; errors only when it holds nothing that identifies or measures a run.
pub fn load_run(dir: &Path) -> Result<RunData> {
    ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    let mut notes = Vec::new();
    let run = RunDir::at(dir);
    let summary = match run.read_summary() {
        Ok(s) => s,
        Err(e) => {
            notes.push(format!(
                "{}: {SUMMARY_FILE} unreadable by this version ({e:#}); using the metrics",
                dir.display()
            ));
            None
        }
    };
    let (mut epochs, unreadable) = run.read_metrics();
    if unreadable > 0 {
        notes.push(format!(
            "{}: skipped {unreadable} line(s) this version cannot read",
            run.file(METRICS_JSONL).display()
        ));
    }
    if epochs.is_empty() && run.file(METRICS_CSV).is_file() {
        epochs = read_csv(&run.file(METRICS_CSV), &mut notes);
    }
    // A resumed run may have re-written epochs: keep the last copy of each, in epoch order.
    let mut by_epoch: Vec<EpochMetrics> = Vec::new();
    for e in epochs {
        by_epoch.retain(|x| x.epoch != e.epoch);
        by_epoch.push(e);
    }
    by_epoch.sort_by_key(|e| e.epoch);

    let (dataset, cell) = match &summary {
        Some(s) => (s.dataset.clone(), s.cell.clone()),
        None => identify(dir)?,
    };
    if summary.is_none() && by_epoch.is_empty() {
        bail!(
            "{}: no summary.json and no readable epochs in metrics.jsonl or metrics.csv (a run that has not \
             finished its first epoch?)",
            dir.display()
        );
    }
    if summary.is_none() {
        notes.push(format!(
            "{}: no summary.json (unfinished run); drawn from {} epoch(s) of metrics",
            dir.display(),
            by_epoch.len()
        ));
    }
    let seeds = match &summary {
        Some(s) => s.seeds,
        None => config_seeds(dir).unwrap_or(1),
    }
    .max(1);
    Ok(RunData {
        seeds,
        dir: dir.to_path_buf(),
        unit: cell
            .parse::<CellKind>()
            .with_context(|| format!("run {}", dir.display()))?
            .family(),
        dataset,
        cell,
        epochs: by_epoch,
        summary,
        notes,
    })
}

/// `seeds` of a run's config.toml, read as plain TOML.
fn config_seeds(dir: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(dir.join(CONFIG_FILE)).ok()?;
    let v = text.parse::<toml::Table>().ok()?;
    usize::try_from(v.get("seeds")?.as_integer()?).ok()
}

/// Dataset and cell of a run without summary.json: from config.toml read as plain TOML (so that a config of
/// another version still names them), else from the directory name `<dataset>_<cell>`.
fn identify(dir: &Path) -> Result<(String, String)> {
    if let Ok(text) = std::fs::read_to_string(dir.join(CONFIG_FILE)) {
        if let Ok(v) = text.parse::<toml::Table>() {
            if let (Some(d), Some(c)) = (
                v.get("dataset").and_then(|x| x.as_str()),
                v.get("cell").and_then(|x| x.as_str()),
            ) {
                return Ok((d.to_string(), c.to_string()));
            }
        }
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.split_once('_') {
        Some((d, c)) if DATASETS.iter().any(|x| x.name() == d) => Ok((d.to_string(), c.to_string())),
        _ => bail!(
            "{}: cannot tell its dataset and cell (no summary.json, no readable config.toml, and the directory \
             is not named <dataset>_<cell>)",
            dir.display()
        ),
    }
}

/// metrics.csv by its header's column names, so that a reordered or extended file of another version still reads.
fn read_csv(path: &Path, notes: &mut Vec<String>) -> Vec<EpochMetrics> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return vec![];
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(c_epoch), Some(c_member), Some(c_valid)) =
        (col("epoch"), col("member"), col("valid_nll"))
    else {
        notes.push(format!(
            "{}: no epoch, member and valid_nll columns; not read",
            path.display()
        ));
        return vec![];
    };
    let (c_lr, c_updates, c_seconds, c_train, c_test, c_status) = (
        col("lr"),
        col("updates"),
        col("seconds"),
        col("train_nll"),
        col("test_nll"),
        col("status"),
    );
    let mut out: Vec<EpochMetrics> = Vec::new();
    let mut bad = 0;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let get = |c: Option<usize>| c.and_then(|c| f.get(c)).copied().unwrap_or("");
        let num = |c: Option<usize>| get(c).parse::<f64>().ok();
        let (Ok(epoch), Ok(member)) = (
            get(Some(c_epoch)).parse::<usize>(),
            get(Some(c_member)).parse::<usize>(),
        ) else {
            bad += 1;
            continue;
        };
        let status = match get(c_status) {
            "stopped" => Status::Stopped,
            "diverged" => Status::Diverged,
            "pruned" => Status::Pruned,
            _ => Status::Active,
        };
        let idx = match out.iter().position(|e| e.epoch == epoch) {
            Some(i) => i,
            None => {
                out.push(EpochMetrics {
                    epoch,
                    updates: num(c_updates).unwrap_or(0.0) as u64,
                    seconds: num(c_seconds).unwrap_or(f64::NAN),
                    // metrics.csv has no CPU time (metrics.jsonl has).
                    cpu_seconds: 0.0,
                    members: vec![],
                });
                out.len() - 1
            }
        };
        let members = &mut out[idx].members;
        while members.len() <= member {
            members.push(MemberMetrics {
                lr: f64::NAN,
                train_nll: None,
                valid_nll: None,
                test_nll: None,
                status: Status::Active,
            });
        }
        members[member] = MemberMetrics {
            lr: num(c_lr).unwrap_or(f64::NAN),
            train_nll: num(c_train),
            valid_nll: num(Some(c_valid)),
            test_nll: num(c_test),
            status,
        };
    }
    if bad > 0 {
        notes.push(format!(
            "{}: skipped {bad} unreadable row(s)",
            path.display()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A member's curve ends at the epoch where it stopped (its last metrics line as active is followed by one with
    /// the new status); a member still active has every epoch.
    #[test]
    fn a_curve_ends_where_its_member_stopped() {
        let epochs = (1..=6)
            .map(|e| EpochMetrics {
                epoch: e,
                updates: e as u64,
                seconds: e as f64,
                cpu_seconds: e as f64,
                members: [(e >= 3).then_some(Status::Stopped), None]
                    .iter()
                    .map(|s| MemberMetrics {
                        lr: 1e-3,
                        train_nll: (s.is_none() || e == 3).then_some(9.0),
                        valid_nll: Some(9.0),
                        test_nll: Some(9.0),
                        status: s.unwrap_or(Status::Active),
                    })
                    .collect(),
            })
            .collect();
        let run = RunData {
            dir: PathBuf::from("run"),
            dataset: "jsb".into(),
            cell: "paper_gru".into(),
            unit: "gru",
            epochs,
            summary: None,
            seeds: 1,
            notes: vec![],
        };
        let epochs_of = |m| -> Vec<f64> { run.curve(m).iter().map(|p| p.epoch).collect() };
        assert_eq!(epochs_of(0), vec![1.0, 2.0, 3.0]);
        assert_eq!(epochs_of(1), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }
}
