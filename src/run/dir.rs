//! Run directories: everything a training run writes, always atomically (temp file, then rename).
//!
//! ```text
//! RUN_DIR/config.toml              the resolved config (rnnlab train --resume reads it back)
//! RUN_DIR/metrics.csv              one row per epoch and member
//! RUN_DIR/metrics.jsonl            one JSON object per epoch, with an array of members
//! RUN_DIR/checkpoint/last.safetensors  weights (PyTorch-style names, leading [K]), best weights, RMSProp state
//! RUN_DIR/checkpoint/state.json    epoch, updates, seconds, per-member early-stopping state, seed, format version
//! RUN_DIR/summary.json             written at the end: per-member results at their best weights
//! ```

use super::{EpochMetrics, TrainState};
use crate::config::{TrainConfig, RUN_FORMAT_VERSION};
use anyhow::{bail, ensure, Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// Writes `bytes` to `path` through a temp file in the same directory and a rename, so a reader never sees a
/// half-written file and a crash leaves the previous version intact.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    {
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.sync_all().ok();
    }
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    /// A new run directory; refuses one that already holds a run, so results are never overwritten.
    pub fn create(path: &Path, cfg: &TrainConfig) -> Result<RunDir> {
        if path.join("config.toml").exists() {
            bail!(
                "{} already holds a run; continue it with --resume {}, or choose another --out",
                path.display(),
                path.display()
            );
        }
        std::fs::create_dir_all(path.join("checkpoint"))
            .with_context(|| format!("creating run directory {}", path.display()))?;
        let run = RunDir {
            path: path.to_path_buf(),
        };
        write_atomic(&run.path.join("config.toml"), cfg.to_toml()?.as_bytes())?;
        write_atomic(
            &run.path.join("metrics.csv"),
            metrics_csv_header().as_bytes(),
        )?;
        write_atomic(&run.path.join("metrics.jsonl"), b"")?;
        Ok(run)
    }

    /// An existing run directory, for --resume.
    pub fn open(path: &Path) -> Result<(RunDir, TrainConfig)> {
        let cfg_path = path.join("config.toml");
        ensure!(
            cfg_path.exists(),
            "{} is not a run directory (no config.toml)",
            path.display()
        );
        let cfg = TrainConfig::from_file(&cfg_path)?;
        Ok((
            RunDir {
                path: path.to_path_buf(),
            },
            cfg,
        ))
    }

    pub fn state_path(&self) -> PathBuf {
        self.path.join("checkpoint").join("state.json")
    }

    pub fn weights_path(&self) -> PathBuf {
        self.path.join("checkpoint").join("last.safetensors")
    }

    /// Appends one epoch to metrics.csv and metrics.jsonl (rewritten whole, atomically; they are small).
    pub fn append_metrics(&self, m: &EpochMetrics) -> Result<()> {
        let csv = self.path.join("metrics.csv");
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
        let jsonl = self.path.join("metrics.jsonl");
        let mut text = std::fs::read_to_string(&jsonl)
            .with_context(|| format!("reading {}", jsonl.display()))?;
        text += &serde_json::to_string(m)?;
        text.push('\n');
        write_atomic(&jsonl, text.as_bytes())
    }

    /// Drops metrics of epochs after `epoch` (written before a kill, after the last checkpoint).
    pub fn truncate_metrics(&self, epoch: usize) -> Result<()> {
        let csv = self.path.join("metrics.csv");
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
        let jsonl = self.path.join("metrics.jsonl");
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

    /// Saves tensors and state: the tensors first, then state.json, which names the epoch the tensors hold.
    pub fn save_checkpoint(&self, tensors: &[(String, Tensor)], state: &TrainState) -> Result<()> {
        let path = self.weights_path();
        let tmp = temp_path(&path);
        let named: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        Tensor::write_safetensors(&named, &tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("renaming {}", tmp.display()))?;
        write_atomic(
            &self.state_path(),
            serde_json::to_string_pretty(state)?.as_bytes(),
        )
    }

    /// Loads the last checkpoint; checks its format version and that tensors and state are of the same epoch.
    pub fn load_checkpoint(&self) -> Result<(Vec<(String, Tensor)>, TrainState)> {
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
        let wp = self.weights_path();
        let tensors = Tensor::read_safetensors(&wp)
            .with_context(|| format!("reading checkpoint {}", wp.display()))?;
        let epoch = tensors
            .iter()
            .find(|(n, _)| n == "meta.epoch")
            .map(|(_, t)| t.int64_value(&[]))
            .with_context(|| format!("{} lacks meta.epoch", wp.display()))?;
        ensure!(
            epoch as usize == state.epoch,
            "{} holds epoch {epoch} but state.json says {}; the checkpoint is inconsistent",
            wp.display(),
            state.epoch
        );
        Ok((tensors, state))
    }
}

pub fn metrics_csv_header() -> &'static str {
    "epoch,member,lr,updates,seconds,train_nll,valid_nll,test_nll,status\n"
}

fn fmt_nll(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.6}")).unwrap_or_default()
}
