//! Atomic file writes, for every module that writes files (run directories, tables, figures, benchmark reports,
//! downloads): the content goes to a temp file in the same directory, which is renamed onto the destination only
//! once it is complete. A reader never sees a half-written file, a crash or an error leaves the previous version
//! intact, and a failed write leaves no temp file behind.
//!
//! This module sits at the bottom of the crate (it uses nothing of rnnlab), so `data` can use it as well as `run`.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (see the module doc).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |tmp| {
        let mut f =
            std::fs::File::create(tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .with_context(|| format!("writing {}", tmp.display()))
    })
}

/// The general form of [`write_atomic`]: `write` fills the temp path it is given (with any writer that takes a
/// path: safetensors, a PNG encoder, a download loop that verifies as it goes); when it succeeds the temp file is
/// renamed onto `path`, when it fails the temp file is removed and its error returned. The temp file keeps `path`'s
/// extension, for writers that choose the format by it.
pub fn write_atomic_with(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = temp_path(path);
    if let Err(e) = write(&tmp) {
        std::fs::remove_file(&tmp).ok();
        return Err(e);
    }
    std::fs::rename(&tmp, path).with_context(|| {
        std::fs::remove_file(&tmp).ok();
        format!("renaming {} to {}", tmp.display(), path.display())
    })
}

/// `DIR/.NAME.PID.tmp.EXT` beside `DIR/NAME.EXT`: hidden, unique per process, same extension.
fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp{ext}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_whole_files_and_failures_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("table2.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");

        let e = write_atomic_with(&path, |tmp| {
            assert_eq!(tmp.extension().unwrap(), "json");
            std::fs::write(tmp, b"half")?;
            anyhow::bail!("the writer failed")
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "the writer failed");
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["table2.json"]);
    }
}
