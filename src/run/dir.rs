//! [`RunDir`]: creating a run directory, appending an epoch's metrics, saving and loading checkpoints, and reading
//! back what a run wrote (see the layout in [`super`]).

use super::{
    EpochMetrics, Summary, TrainState, CHECKPOINT_DIR, CONFIG_FILE, DATA_FILE, METRICS_CSV,
    METRICS_JSONL, NORMALISATION_FILE, RUN_FORMAT_VERSION, STATE_FILE, SUMMARY_FILE, WEIGHTS_FILE,
};
use crate::atomic::{write_atomic, write_atomic_with};
use crate::config::TrainConfig;
use crate::data::speech::Normalisation;
use anyhow::{bail, ensure, Context, Result};
use std::path::{Path, PathBuf};
use tch::Tensor;

/// A run directory.
pub struct RunDir {
    /// The directory's path.
    pub path: PathBuf,
}

impl RunDir {
    /// A handle on `path`, which may not hold a run (yet): nothing is read or checked.
    pub fn at(path: &Path) -> RunDir {
        RunDir {
            path: path.to_path_buf(),
        }
    }

    /// A new run directory; refuses one that already holds a run, so results are never overwritten.
    pub fn create(path: &Path, cfg: &TrainConfig) -> Result<RunDir> {
        if path.join(CONFIG_FILE).exists() {
            bail!(
                "{} already holds a run; continue it with --resume {}, or choose another --out",
                path.display(),
                path.display()
            );
        }
        std::fs::create_dir_all(path.join(CHECKPOINT_DIR))
            .with_context(|| format!("creating run directory {}", path.display()))?;
        let run = RunDir {
            path: path.to_path_buf(),
        };
        write_atomic(&run.file(CONFIG_FILE), cfg.to_toml()?.as_bytes())?;
        write_atomic(&run.file(METRICS_CSV), metrics_csv_header().as_bytes())?;
        write_atomic(&run.file(METRICS_JSONL), b"")?;
        Ok(run)
    }

    /// An existing run directory, for --resume.
    pub fn open(path: &Path) -> Result<(RunDir, TrainConfig)> {
        let run = RunDir::at(path);
        let cfg_path = run.file(CONFIG_FILE);
        ensure!(
            cfg_path.exists(),
            "{} is not a run directory (no {CONFIG_FILE})",
            path.display()
        );
        let cfg = TrainConfig::from_file(&cfg_path)?;
        Ok((run, cfg))
    }

    /// Takes `cfg` as the run's config in place of `stored` (its `config.toml`) when the two differ only in the
    /// pruning keys and pruning has acted in neither before the run's checkpoint: its epoch is below both configs'
    /// `prune_after` (where set), so every epoch trained so far is what `cfg` trains. Returns whether it did;
    /// `false` leaves the directory as it was.
    pub fn adopt_pruning(&self, stored: &TrainConfig, cfg: &TrainConfig) -> Result<bool> {
        if !stored.differs_only_in_pruning(cfg) {
            return Ok(false);
        }
        let done = self.read_state()?.epoch;
        let untouched = |c: &TrainConfig| c.pruning_from().is_none_or(|after| done < after);
        if !(untouched(stored) && untouched(cfg)) {
            return Ok(false);
        }
        write_atomic(&self.file(CONFIG_FILE), cfg.to_toml()?.as_bytes())?;
        Ok(true)
    }

    /// A file of the run directory, by one of the names in [`super`] (`SUMMARY_FILE`, …).
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// `checkpoint/state.json`: the [`TrainState`] of the last checkpoint.
    pub fn state_path(&self) -> PathBuf {
        self.path.join(CHECKPOINT_DIR).join(STATE_FILE)
    }

    /// `checkpoint/last.safetensors`: the tensors of the last checkpoint.
    pub fn weights_path(&self) -> PathBuf {
        self.path.join(CHECKPOINT_DIR).join(WEIGHTS_FILE)
    }

    /// Records where the run's data came from (made absolute), so that `train --resume` and `reproduce --collect`
    /// find it again without `--data-dir`. Creates the directory if needed.
    pub fn record_data_dir(&self, data_dir: &Path) -> Result<()> {
        std::fs::create_dir_all(&self.path)
            .with_context(|| format!("creating run directory {}", self.path.display()))?;
        let abs = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        let json = serde_json::json!({ "data_dir": abs });
        write_atomic(
            &self.file(DATA_FILE),
            serde_json::to_string_pretty(&json)?.as_bytes(),
        )
    }

    /// The data directory recorded by [`RunDir::record_data_dir`], if any (runs made before it have none).
    pub fn recorded_data_dir(&self) -> Option<PathBuf> {
        let text = std::fs::read_to_string(self.file(DATA_FILE)).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v.get("data_dir")?.as_str().map(PathBuf::from)
    }

    /// Makes a run directory that never reached its first checkpoint (killed during epoch 1) startable again:
    /// removes what it holds, so that it starts afresh.
    pub fn clear_unstarted(&self) -> Result<()> {
        if self.path.exists() {
            std::fs::remove_dir_all(&self.path)
                .with_context(|| format!("clearing {}", self.path.display()))?;
        }
        Ok(())
    }

    /// Whether the run has saved a checkpoint (it finished at least one epoch).
    pub fn has_checkpoint(&self) -> bool {
        self.state_path().exists()
    }

    /// Appends one epoch to metrics.csv and metrics.jsonl (rewritten whole, atomically; they are small).
    pub fn append_metrics(&self, m: &EpochMetrics) -> Result<()> {
        let csv = self.file(METRICS_CSV);
        let mut text =
            std::fs::read_to_string(&csv).with_context(|| format!("reading {}", csv.display()))?;
        for (i, member) in m.members.iter().enumerate() {
            text += &format!(
                "{},{},{},{},{:.3},{},{},{},{}\n",
                m.epoch,
                i,
                member.lr,
                m.updates,
                m.seconds,
                fmt_nll(member.train_nll),
                fmt_nll(member.valid_nll),
                fmt_nll(member.test_nll),
                member.status
            );
        }
        write_atomic(&csv, text.as_bytes())?;
        let jsonl = self.file(METRICS_JSONL);
        let mut text = std::fs::read_to_string(&jsonl)
            .with_context(|| format!("reading {}", jsonl.display()))?;
        text += &serde_json::to_string(m)?;
        text.push('\n');
        write_atomic(&jsonl, text.as_bytes())
    }

    /// Drops metrics of epochs after `epoch` (written before a kill, after the last checkpoint).
    pub fn truncate_metrics(&self, epoch: usize) -> Result<()> {
        let csv = self.file(METRICS_CSV);
        let text =
            std::fs::read_to_string(&csv).with_context(|| format!("reading {}", csv.display()))?;
        let mut lines = text.lines();
        let mut kept = String::new();
        if let Some(header) = lines.next() {
            ensure!(
                header == metrics_csv_header().trim_end(),
                "{} has another header than this version writes ({header}); it was made by another version",
                csv.display()
            );
            kept += header;
            kept.push('\n');
        }
        for line in lines {
            let e: usize = line
                .split(',')
                .next()
                .unwrap_or("")
                .parse()
                .unwrap_or(usize::MAX);
            if e <= epoch {
                kept += line;
                kept.push('\n');
            }
        }
        write_atomic(&csv, kept.as_bytes())?;
        let jsonl = self.file(METRICS_JSONL);
        let text = std::fs::read_to_string(&jsonl)
            .with_context(|| format!("reading {}", jsonl.display()))?;
        let mut kept = String::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let m: EpochMetrics = serde_json::from_str(line)
                .with_context(|| format!("{}: a line this version cannot read", jsonl.display()))?;
            if m.epoch <= epoch {
                kept += line;
                kept.push('\n');
            }
        }
        write_atomic(&jsonl, kept.as_bytes())
    }

    /// Saves tensors and state so that a process killed at any moment (Slurm's requeue, a power cut) leaves a
    /// checkpoint [`RunDir::load_checkpoint`] can read: the tensors go to `last.safetensors.next` first (atomically),
    /// then state.json (atomically: the commit, it names the epoch), then the tensors are renamed into place. Killed
    /// before the commit, the previous pair stands; killed after it, loading reads the new tensors from `.next`.
    pub fn save_checkpoint(&self, tensors: &[(String, Tensor)], state: &TrainState) -> Result<()> {
        let named: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let next = self.next_weights_path();
        write_atomic_with(&next, |tmp| {
            Tensor::write_safetensors(&named, tmp)
                .with_context(|| format!("writing {}", tmp.display()))
        })?;
        write_atomic(
            &self.state_path(),
            serde_json::to_string_pretty(state)?.as_bytes(),
        )?;
        let wp = self.weights_path();
        std::fs::rename(&next, &wp)
            .with_context(|| format!("renaming {} to {}", next.display(), wp.display()))
    }

    /// Where [`RunDir::save_checkpoint`] writes the tensors before its commit.
    fn next_weights_path(&self) -> PathBuf {
        let mut p = self.weights_path().into_os_string();
        p.push(".next");
        PathBuf::from(p)
    }

    /// The epoch a checkpoint tensor file holds (`meta.epoch`), with the tensors.
    fn read_weights(path: &Path) -> Result<(Vec<(String, Tensor)>, i64)> {
        let tensors = Tensor::read_safetensors(path)
            .with_context(|| format!("reading checkpoint {}", path.display()))?;
        let epoch = tensors
            .iter()
            .find(|(n, _)| n == super::checkpoint::META_EPOCH)
            .map(|(_, t)| t.int64_value(&[]))
            .with_context(|| {
                format!("{} lacks {}", path.display(), super::checkpoint::META_EPOCH)
            })?;
        Ok((tensors, epoch))
    }

    /// Loads the last checkpoint; checks its format version and that tensors and state are of the same epoch. After a
    /// save killed between its commit and its last rename, the committed tensors are read from `.next` (left in place:
    /// reading never writes, so `show` or `sample` beside a training run cannot disturb its save; the next save
    /// replaces it). See [`RunDir::save_checkpoint`].
    pub fn load_checkpoint(&self) -> Result<(Vec<(String, Tensor)>, TrainState)> {
        let state = self.read_state()?;
        let wp = self.weights_path();
        let next = self.next_weights_path();
        let last_epoch = match Self::read_weights(&wp) {
            Ok((tensors, epoch)) if epoch as usize == state.epoch => return Ok((tensors, state)),
            other => other.map(|(_, epoch)| epoch),
        };
        if next.exists() {
            if let Ok((tensors, epoch)) = Self::read_weights(&next) {
                if epoch as usize == state.epoch {
                    return Ok((tensors, state));
                }
            }
        }
        let epoch = last_epoch?;
        bail!(
            "{} holds epoch {epoch} but state.json says {}; the checkpoint is inconsistent",
            wp.display(),
            state.epoch
        )
    }

    /// The checkpoint's trainer state (`checkpoint/state.json`) alone, without its tensors: the epoch, time and every
    /// member's early-stopping record of the last checkpoint. Checks the format version.
    pub fn read_state(&self) -> Result<TrainState> {
        let sp = self.state_path();
        let text = std::fs::read_to_string(&sp).with_context(|| {
            format!(
                "{} has no checkpoint yet (no {}); start it again instead",
                self.path.display(),
                sp.display()
            )
        })?;
        let state: TrainState = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a checkpoint this version of rnnlab can read",
                sp.display()
            )
        })?;
        ensure!(
            state.format_version == RUN_FORMAT_VERSION,
            "{} was written by run format {}, this rnnlab reads format {RUN_FORMAT_VERSION}",
            sp.display(),
            state.format_version
        );
        Ok(state)
    }

    /// `summary.json`: `None` while the run has not finished; an error when it is there but unreadable.
    pub fn read_summary(&self) -> Result<Option<Summary>> {
        let path = self.file(SUMMARY_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let summary = serde_json::from_str(&text).with_context(|| {
            format!("{} is not a summary this version can read", path.display())
        })?;
        Ok(Some(summary))
    }

    /// The epochs of `metrics.jsonl` that this version can read, in file order, and the number of lines it could
    /// not (an empty list when the file is missing).
    pub fn read_metrics(&self) -> (Vec<EpochMetrics>, usize) {
        let Ok(text) = std::fs::read_to_string(self.file(METRICS_JSONL)) else {
            return (vec![], 0);
        };
        let mut epochs = Vec::new();
        let mut unreadable = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<EpochMetrics>(line) {
                Ok(m) => epochs.push(m),
                Err(_) => unreadable += 1,
            }
        }
        (epochs, unreadable)
    }

    /// The speech normalisation a speech run was trained with.
    pub fn read_normalisation(&self) -> Result<Normalisation> {
        let path = self.file(NORMALISATION_FILE);
        serde_json::from_str(
            &std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("{} is not valid", path.display()))
    }

    /// The run's best member: the summary's when the run finished, else the best so far by the checkpoint's state
    /// (see [`super::best_member`]).
    pub fn best_member(&self, state: &TrainState) -> Result<usize> {
        if let Ok(Some(s)) = self.read_summary() {
            if let Some(m) = s.best_member {
                return Ok(m);
            }
        }
        state.best_member().with_context(|| {
            format!(
                "{} has no member with a validation NLL yet",
                self.path.display()
            )
        })
    }
}

/// The header line of `metrics.csv`.
pub fn metrics_csv_header() -> &'static str {
    "epoch,member,lr,updates,seconds,train_nll,valid_nll,test_nll,status\n"
}

fn fmt_nll(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.6}")).unwrap_or_default()
}
