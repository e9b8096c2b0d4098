//! What `rnnlab plot` and `reproduce --merge` read besides run directories: the inputs of `rnnlab plot`
//! ([`expand_inputs`]) and `table2.json` ([`read_table2`], [`read_table2_file`]). Run directories themselves are read
//! by [`crate::run::view`].

use super::table::Row;
use crate::run::view::is_run_dir;
use anyhow::{ensure, Context, Result};
use std::path::{Path, PathBuf};

/// Run directories and Table 2 JSON files named by `inputs`: each input is a run directory, a reproduce output
/// (holding `runs/` and `table2.json`), or a directory of run directories.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut runs = Vec::new();
    let mut tables = Vec::new();
    let subdirs = |dir: &Path| -> Result<Vec<PathBuf>> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        v.sort();
        Ok(v)
    };
    for input in inputs {
        ensure!(input.is_dir(), "{} is not a directory", input.display());
        if is_run_dir(input) {
            runs.push(input.clone());
            continue;
        }
        let mut found = false;
        if input.join("table2.json").is_file() {
            tables.push(input.join("table2.json"));
            found = true;
        }
        let runs_dir = input.join("runs");
        let candidates = if runs_dir.is_dir() {
            subdirs(&runs_dir)?
        } else {
            subdirs(input)?
        };
        for d in candidates {
            if is_run_dir(&d) {
                runs.push(d);
                found = true;
            }
        }
        ensure!(
            found,
            "{} is neither a run directory (summary.json, metrics.jsonl, metrics.csv or config.toml) nor a \
             reproduce output (runs/, table2.json) nor a directory of runs",
            input.display()
        );
    }
    runs.dedup();
    Ok((runs, tables))
}

/// Reads Table 2 rows from a `table2.json` written by `rnnlab reproduce`.
pub fn read_table2(path: &Path) -> Result<Vec<Row>> {
    Ok(read_table2_file(path)?.rows)
}

/// What `rnnlab reproduce` wrote to a `table2.json` that later commands read back: the rows, and whether the table
/// came from a `--quick` smoke run (tables made before the flag was recorded read as not quick).
#[derive(serde::Deserialize)]
pub struct Table2File {
    /// Whether the table came from a `--quick` smoke run.
    #[serde(default)]
    pub quick: bool,
    /// The table's rows.
    pub rows: Vec<Row>,
}

/// Reads a `table2.json` written by `rnnlab reproduce` (its rows and its `quick` flag).
pub fn read_table2_file(path: &Path) -> Result<Table2File> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a Table 2 JSON this version can read (expected the table2.json of rnnlab reproduce)",
            path.display()
        )
    })
}
