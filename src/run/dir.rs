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
    /// removes what it holds, so that it starts afresh. The lock file stays: the caller holds the lock on it (see
    /// [`super::lock`]), and a new file would let a second writer in.
    pub fn clear_unstarted(&self) -> Result<()> {
        let Ok(entries) = std::fs::read_dir(&self.path) else {
            return Ok(());
        };
        for entry in entries {
            let entry = entry.with_context(|| format!("clearing {}", self.path.display()))?;
            if entry.file_name() == super::lock::LOCK_FILE {
                continue;
            }
            let path = entry.path();
            let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.with_context(|| format!("clearing {}", path.display()))?;
        }
        Ok(())
    }

    /// Takes the run directory's writer lock (see [`super::lock`]); held until the returned guard is dropped.
    pub fn lock(&self) -> Result<super::lock::RunLock> {
        super::lock::RunLock::acquire(&self.path)
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

    /// Cuts `metrics.csv` and `metrics.jsonl` back to the checkpoint's `epoch`, for a resume: lines of later epochs
    /// (written before a kill, after the last checkpoint) and a final line that does not parse (a torn append: a
    /// full disk, a crash mid-write) are dropped, and each cut is returned as a sentence for the user. A line that
    /// does not parse anywhere else is damage this cannot repair: an error naming the file and line.
    pub fn truncate_metrics(&self, epoch: usize) -> Result<Vec<String>> {
        let mut notes = Vec::new();
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
        let columns = metrics_csv_header().split(',').count();
        let rows: Vec<&str> = lines.collect();
        let mut later = 0;
        for (i, line) in rows.iter().enumerate() {
            let fields: Vec<&str> = line.split(',').collect();
            let parsed = (fields.len() == columns && fields[1].parse::<usize>().is_ok())
                .then(|| fields[0].parse::<usize>().ok())
                .flatten();
            match parsed {
                Some(e) if e <= epoch => {
                    kept += line;
                    kept.push('\n');
                }
                Some(_) => later += 1,
                None if i + 1 == rows.len() => notes.push(format!(
                    "{}: cut its last line, which is incomplete (a torn write): {line:?}",
                    csv.display()
                )),
                None => bail!(
                    "{} line {} cannot be read ({line:?}); the file is damaged before its end: repair or remove \
                     that line, then resume again",
                    csv.display(),
                    i + 2
                ),
            }
        }
        if later > 0 {
            notes.push(format!(
                "{}: cut {later} rows of epochs after the checkpoint's epoch {epoch} (they are trained again)",
                csv.display()
            ));
        }
        let kept_csv = kept;
        let jsonl = self.file(METRICS_JSONL);
        let text = std::fs::read_to_string(&jsonl)
            .with_context(|| format!("reading {}", jsonl.display()))?;
        let mut kept = String::new();
        let lines: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .collect();
        let mut later = 0;
        for (i, &(n, line)) in lines.iter().enumerate() {
            match serde_json::from_str::<EpochMetrics>(line) {
                Ok(m) if m.epoch <= epoch => {
                    kept += line;
                    kept.push('\n');
                }
                Ok(_) => later += 1,
                Err(e) if i + 1 == lines.len() => notes.push(format!(
                    "{}: cut its last line (line {}), which does not parse ({e}): a torn write",
                    jsonl.display(),
                    n + 1
                )),
                Err(e) => bail!(
                    "{} line {} cannot be read ({e}); the file is damaged before its end: repair or remove that \
                     line, then resume again",
                    jsonl.display(),
                    n + 1
                ),
            }
        }
        if later > 0 {
            notes.push(format!(
                "{}: cut {later} lines of epochs after the checkpoint's epoch {epoch} (they are trained again)",
                jsonl.display()
            ));
        }
        // Both files are checked before either is rewritten (an error leaves them as they were), and one with
        // nothing to cut is left alone.
        let csv_text = std::fs::read_to_string(&csv).unwrap_or_default();
        for (path, old, new) in [(&csv, csv_text.as_str(), &kept_csv), (&jsonl, &text, &kept)] {
            if old != new.as_str() {
                write_atomic(path, new.as_bytes()).with_context(|| {
                    format!(
                        "cutting {} back to the checkpoint's epoch {epoch} failed (the checkpoint is intact): make \
                         room (or make the directory writable), then resume again",
                        path.display()
                    )
                })?;
            }
        }
        Ok(notes)
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
                .with_context(|| format!("writing {}", tmp.display()))?;
            // A full disk may only show when the data reaches it.
            std::fs::File::open(tmp)
                .and_then(|f| f.sync_all())
                .with_context(|| format!("writing {}", tmp.display()))
        })?;
        let state = TrainState {
            weights_sha256: Some(super::integrity::sha256_file(&next)?),
            summary_sha256: None,
            ..state.clone()
        };
        write_atomic(
            &self.state_path(),
            serde_json::to_string_pretty(&state)?.as_bytes(),
        )?;
        let wp = self.weights_path();
        std::fs::rename(&next, &wp)
            .with_context(|| format!("renaming {} to {}", next.display(), wp.display()))
    }

    /// Writes `summary.json` with its SHA-256 recorded in `state.json`, as a checkpoint is saved: the summary goes to
    /// `summary.json.next` first, then state.json records its checksum (the commit), then it is renamed into place.
    /// A write that fails (a full disk, a read-only directory) before the commit leaves the previous summary and
    /// state as they were; a kill after it leaves `.next`, which [`RunDir::read_summary`] reads. A run without a
    /// checkpoint gets its summary without a checksum.
    pub fn write_summary(&self, summary: &Summary) -> Result<()> {
        let bytes = serde_json::to_string_pretty(summary)?;
        let path = self.file(SUMMARY_FILE);
        if !self.has_checkpoint() {
            return write_atomic(&path, bytes.as_bytes());
        }
        let next = Self::next_path(&path);
        write_atomic(&next, bytes.as_bytes())?;
        let committed = self.read_state().and_then(|state| {
            let state = TrainState {
                summary_sha256: Some(super::integrity::sha256_hex(bytes.as_bytes())),
                ..state
            };
            write_atomic(
                &self.state_path(),
                serde_json::to_string_pretty(&state)?.as_bytes(),
            )
        });
        if let Err(e) = committed {
            std::fs::remove_file(&next).ok();
            return Err(e);
        }
        std::fs::rename(&next, &path)
            .with_context(|| format!("renaming {} to {}", next.display(), path.display()))
    }

    /// `PATH.next`: where a file committed through state.json waits before its rename.
    pub(crate) fn next_path(path: &Path) -> PathBuf {
        let mut p = path.as_os_str().to_owned();
        p.push(".next");
        PathBuf::from(p)
    }

    /// Where [`RunDir::save_checkpoint`] writes the tensors before its commit.
    fn next_weights_path(&self) -> PathBuf {
        Self::next_path(&self.weights_path())
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

    /// Loads the last checkpoint; checks its format version, that tensors and state are of the same epoch, and the
    /// tensors against the SHA-256 `state.json` records (runs made before checksums were recorded load unverified).
    /// After a save killed between its commit and its last rename, the committed tensors are read from `.next` (left
    /// in place: reading never writes, so `show` or `sample` beside a training run cannot disturb its save; the next
    /// save replaces it). See [`RunDir::save_checkpoint`].
    pub fn load_checkpoint(&self) -> Result<(Vec<(String, Tensor)>, TrainState)> {
        let state = self.read_state()?;
        let wp = self.weights_path();
        let next = self.next_weights_path();
        if let Some(recorded) = &state.weights_sha256 {
            for path in [&wp, &next] {
                if path.exists() && super::integrity::sha256_file(path)? == *recorded {
                    let (tensors, epoch) = Self::read_weights(path)?;
                    ensure!(
                        epoch as usize == state.epoch,
                        "{} holds epoch {epoch} but state.json says {}; the checkpoint is inconsistent",
                        path.display(),
                        state.epoch
                    );
                    return Ok((tensors, state));
                }
            }
            bail!("{}", self.damaged_checkpoint(&state));
        }
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

    /// The error of a checkpoint whose tensors do not match their recorded checksum, with what to do.
    fn damaged_checkpoint(&self, state: &TrainState) -> String {
        format!(
            "{} does not match the SHA-256 that {} records for epoch {}: the checkpoint was damaged after it was \
             written, and its weights cannot be trusted. rnnlab keeps only the last checkpoint, so there is none \
             to fall back to: start the run again (rnnlab train --config {} --out NEW_DIR)",
            self.weights_path().display(),
            self.state_path().display(),
            state.epoch,
            self.file(CONFIG_FILE).display()
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

    /// `summary.json`: `None` while the run has not finished; an error when it is there but unreadable, or does not
    /// match the SHA-256 `state.json` records for it (summaries made before checksums were recorded are read as
    /// they are).
    pub fn read_summary(&self) -> Result<Option<Summary>> {
        let path = self.file(SUMMARY_FILE);
        let Some(bytes) = self.read_summary_bytes()? else {
            return Ok(None);
        };
        if let Some(recorded) = self.recorded_summary_sha256() {
            if super::integrity::sha256_hex(&bytes) != recorded {
                // Killed between the summary's commit and its rename: the committed summary waits in `.next`.
                let next = Self::next_path(&path);
                if let Ok(bytes) = std::fs::read(&next) {
                    if super::integrity::sha256_hex(&bytes) == recorded {
                        return Self::parse_summary(&next, &bytes).map(Some);
                    }
                }
                bail!(
                    "{} does not match the SHA-256 that {} records for it: it was changed or damaged after the \
                     run wrote it. Write it again from the run's best weights with rnnlab train --resume {}",
                    path.display(),
                    self.state_path().display(),
                    self.path.display()
                );
            }
        }
        Self::parse_summary(&path, &bytes).map(Some)
    }

    /// `summary.json` as it is, unverified (for `rnnlab show`, which reports the check instead of failing on it).
    pub fn read_summary_unverified(&self) -> Result<Option<Summary>> {
        let path = self.file(SUMMARY_FILE);
        match self.read_summary_bytes()? {
            Some(bytes) => Self::parse_summary(&path, &bytes).map(Some),
            None => Ok(None),
        }
    }

    fn read_summary_bytes(&self) -> Result<Option<Vec<u8>>> {
        let path = self.file(SUMMARY_FILE);
        if !path.exists() {
            return Ok(None);
        }
        std::fs::read(&path)
            .map(Some)
            .with_context(|| format!("reading {}", path.display()))
    }

    fn parse_summary(path: &Path, bytes: &[u8]) -> Result<Summary> {
        serde_json::from_slice(bytes)
            .with_context(|| format!("{} is not a summary this version can read", path.display()))
    }

    /// The summary's checksum recorded in `state.json`, if the state is readable and records one.
    pub(crate) fn recorded_summary_sha256(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.state_path()).ok()?;
        serde_json::from_str::<TrainState>(&text)
            .ok()?
            .summary_sha256
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
