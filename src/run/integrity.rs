//! Checksums of a run directory's results: the checkpoint's tensor file (which holds the last weights, the best
//! weights and the optimizer state) and `summary.json` each have their SHA-256 recorded in `checkpoint/state.json`,
//! written in the same atomic write as the rest of the state ([`RunDir::save_checkpoint`],
//! [`RunDir::write_summary`]). Every reader that uses them verifies first ([`RunDir::load_checkpoint`] for
//! `train --resume`, `sample` and `eval`; [`RunDir::read_summary`] for `collect`), so damage that leaves a file
//! parseable (zeroed or flipped bytes in the middle) is refused instead of trained on or reported.
//! [`RunDir::integrity`] is what `rnnlab show` reports.

use super::{RunDir, TrainState};
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// The SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The SHA-256 of the file at `path`, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The outcome of checking one file against its recorded checksum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// The file matches its recorded SHA-256.
    Verified,
    /// No checksum recorded (a run directory made by an earlier version of rnnlab).
    NoChecksum,
    /// The file does not match (or cannot be read): what is wrong.
    Damaged(String),
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::Verified => f.write_str("verified (SHA-256)"),
            Check::NoChecksum => f.write_str("no checksum recorded (made by an earlier rnnlab)"),
            Check::Damaged(why) => write!(f, "DAMAGED: {why}"),
        }
    }
}

/// What [`RunDir::integrity`] found: `None` where there is nothing to check (no checkpoint, no summary).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Integrity {
    /// `checkpoint/last.safetensors` (the last and the best weights) against `state.json`'s `weights_sha256`.
    pub checkpoint: Option<Check>,
    /// `summary.json` against `state.json`'s `summary_sha256`.
    pub summary: Option<Check>,
}

impl RunDir {
    /// Checks the checkpoint's tensors and `summary.json` against the checksums `state.json` records, reading only
    /// (a reader beside a training run never disturbs it).
    pub fn integrity(&self) -> Integrity {
        let state: Option<std::result::Result<TrainState, String>> =
            self.has_checkpoint().then(|| {
                std::fs::read_to_string(self.state_path())
                    .map_err(|e| e.to_string())
                    .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
            });
        let checkpoint = state.as_ref().map(|s| match s {
            Err(e) => Check::Damaged(format!("state.json cannot be read ({e})")),
            Ok(state) => match &state.weights_sha256 {
                None => Check::NoChecksum,
                Some(recorded) => {
                    let next = RunDir::next_path(&self.weights_path());
                    let matches = [self.weights_path(), next]
                        .iter()
                        .any(|p| p.exists() && sha256_file(p).ok().as_ref() == Some(recorded));
                    if matches {
                        Check::Verified
                    } else {
                        Check::Damaged(format!(
                            "{} does not match its recorded SHA-256; start the run again",
                            self.weights_path().display()
                        ))
                    }
                }
            },
        });
        let path = self.file(super::SUMMARY_FILE);
        let summary = path.exists().then(|| {
            match (
                std::fs::read(&path),
                state
                    .as_ref()
                    .and_then(|s| s.as_ref().ok())
                    .and_then(|s| s.summary_sha256.clone()),
            ) {
                (Err(e), _) => Check::Damaged(format!("cannot be read ({e})")),
                (Ok(_), None) => Check::NoChecksum,
                (Ok(bytes), Some(recorded))
                    if sha256_hex(&bytes) == recorded
                        || std::fs::read(RunDir::next_path(&path))
                            .is_ok_and(|b| sha256_hex(&b) == recorded) =>
                {
                    Check::Verified
                }
                (Ok(_), Some(_)) => Check::Damaged(format!(
                    "{} does not match its recorded SHA-256; write it again with rnnlab train --resume {}",
                    path.display(),
                    self.path.display()
                )),
            }
        });
        Integrity {
            checkpoint,
            summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_bytes_and_of_files_agree_with_the_standard_vector() {
        // FIPS 180-2, appendix B.1.
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_hex(b"abc"), abc);
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(sha256_file(&p).unwrap(), abc);
    }
}
