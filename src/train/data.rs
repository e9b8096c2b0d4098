//! [`TrainData`]: what the trainer needs of a dataset, for each kind of data.

use super::memory;
use crate::atomic::write_atomic;
use crate::config::TrainConfig;
use crate::data::npz::FrameData;
use crate::data::text::TokenData;
use crate::data::{AnyData, MusicData, PreparedData, SpeechData};
use crate::run::NORMALISATION_FILE;
use anyhow::Result;
use std::path::Path;
use tch::Device;

/// A dataset the trainer can run on.
pub trait TrainData {
    /// The splits on the device, batched as `cfg` says.
    fn prepare(&self, cfg: &TrainConfig, device: Device) -> Result<PreparedData>;
    /// Files a new run directory gets besides the trainer's own (speech: the normalisation, for `rnnlab sample`).
    fn write_run_files(&self, _dir: &Path) -> Result<()> {
        Ok(())
    }
    /// The lengths (frames or steps) of the pieces `cfg` uses of each split (train, valid, test), for the memory
    /// estimate ([`memory::check`]); read from the data, nothing allocated on the device.
    fn lengths(&self, cfg: &TrainConfig) -> memory::SplitLengths;
}

impl TrainData for MusicData {
    fn prepare(&self, cfg: &TrainConfig, device: Device) -> Result<PreparedData> {
        PreparedData::music(&cfg.preparation(), self, device)
    }
    fn lengths(&self, cfg: &TrainConfig) -> memory::SplitLengths {
        let prep = cfg.preparation();
        memory::SPLITS.map(|s| {
            let all: Vec<usize> = self.split(s).iter().map(|p| p.len()).collect();
            prep.music_pieces(&all, s)
        })
    }
}

impl TrainData for SpeechData {
    fn prepare(&self, cfg: &TrainConfig, device: Device) -> Result<PreparedData> {
        PreparedData::speech(&cfg.preparation(), self, device)
    }
    fn lengths(&self, cfg: &TrainConfig) -> memory::SplitLengths {
        let prep = cfg.preparation();
        memory::SPLITS.map(|s| {
            let all: Vec<usize> = self.split(s).iter().map(|w| w.steps()).collect();
            crate::data::prepare::spread_subset(&all, prep.subset(s))
        })
    }
    fn write_run_files(&self, dir: &Path) -> Result<()> {
        write_atomic(
            &dir.join(NORMALISATION_FILE),
            serde_json::to_string_pretty(&self.norm)?.as_bytes(),
        )
    }
}

impl TrainData for TokenData {
    fn prepare(&self, cfg: &TrainConfig, device: Device) -> Result<PreparedData> {
        PreparedData::tokens(&cfg.preparation(), self, device)
    }
    /// Every piece of every split (a subset only lowers the estimate).
    fn lengths(&self, _cfg: &TrainConfig) -> memory::SplitLengths {
        memory::SPLITS.map(|s| self.split(s).iter().map(Vec::len).collect())
    }
    fn write_run_files(&self, dir: &Path) -> Result<()> {
        self.vocab.write(dir)
    }
}

impl TrainData for FrameData {
    fn prepare(&self, cfg: &TrainConfig, device: Device) -> Result<PreparedData> {
        PreparedData::feature_frames(&cfg.preparation(), self, device)
    }
    /// Every piece of every split, in steps (a subset only lowers the estimate).
    fn lengths(&self, _cfg: &TrainConfig) -> memory::SplitLengths {
        memory::SPLITS.map(|s| {
            self.split(s)
                .iter()
                .map(|v| v.len() / self.dim.max(1))
                .collect()
        })
    }
}

impl TrainData for AnyData {
    fn prepare(&self, cfg: &TrainConfig, device: Device) -> Result<PreparedData> {
        match self {
            AnyData::Music(d) => d.prepare(cfg, device),
            AnyData::Speech(d) => d.prepare(cfg, device),
            AnyData::Tokens(d) => d.prepare(cfg, device),
            AnyData::Frames(d) => d.prepare(cfg, device),
        }
    }
    fn write_run_files(&self, dir: &Path) -> Result<()> {
        match self {
            AnyData::Music(d) => d.write_run_files(dir),
            AnyData::Speech(d) => d.write_run_files(dir),
            AnyData::Tokens(d) => d.write_run_files(dir),
            AnyData::Frames(d) => d.write_run_files(dir),
        }
    }
    fn lengths(&self, cfg: &TrainConfig) -> memory::SplitLengths {
        match self {
            AnyData::Music(d) => d.lengths(cfg),
            AnyData::Speech(d) => d.lengths(cfg),
            AnyData::Tokens(d) => d.lengths(cfg),
            AnyData::Frames(d) => d.lengths(cfg),
        }
    }
}
