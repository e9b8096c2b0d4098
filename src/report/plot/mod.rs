//! The paper's figures from run directories, as PNG: learning curves (Fig. 2), Table 2 at a glance, and the
//! learning-rate search. One file per figure; [`plot_all`] draws every figure its inputs allow.
//!
//! ```text
//! curves_<dataset>.png            train (solid) and valid (dashed) NLL of each unit's best member, log y (linear if any NLL ≤ 0);
//!                                 left against epochs, right against wall-clock seconds                   (curves.rs)
//! fig2_nottingham_musedata.png    the paper's Fig. 2: one column per dataset, epochs on top, wall-clock below (fig2.rs)
//! table2.png                      test NLL per dataset and unit: ours (filled) beside the paper's (hollow diamond)
//!                                                                                                      (table2_chart.rs)
//! compare_<dataset>.png           `rnnlab compare`: valid NLL of the best member per implementation, against epochs
//!                                 and wall-clock seconds                                                    (compare.rs)
//! units_<dataset>.png           a table with units beyond the paper's: each unit's mean test NLL over seeds with its
//!                                 95 % interval and seeds, sorted, with the GRU's and LSTM's means marked     (units.rs)
//! lr_search_<dataset>.png         final valid NLL at each member's best weights against its learning rate, log x
//!                                                                                                         (lr_search.rs)
//! recipe-study_<dataset>.png/.md  `rnnlab plot --study DIR`: best valid NLL so far against CPU seconds, one line per
//!                                 setting, and the settings ranked at equal CPU time                        (study.rs)
//! ```
//!
//! Runs are read by [`crate::run::view`] (leniently: unfinished runs are drawn from their metrics); whatever cannot be
//! drawn is reported as a note, never a panic. Wall-clock seconds are those of the whole population, which trains
//! all its members in one op, so they compare units only across runs of the same population size on one machine.

mod compare;
mod curves;
mod fig2;
mod lr_search;
mod positions;
mod study;
mod table2_chart;
mod units;

pub use compare::compare_chart;
pub use curves::learning_curves;
pub use fig2::learning_curves_grid;
pub use lr_search::lr_search;
pub use positions::positions_chart;
pub use study::{read_study, recipe_study, study_markdown, StudySetting};
pub use table2_chart::table2_chart;
pub use units::units_chart;

use super::inputs::{expand_inputs, read_table2};
use super::table;
use crate::data::Dataset;
use crate::run::view::load_run;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The paper's dataset order (Table 2), and the datasets of its Fig. 2.
pub use crate::paper::{FIG2_DATASETS, MUSIC_DATASETS as DATASETS};

/// What [`plot_all`] drew and what it could not.
#[derive(Debug, Default)]
pub struct PlotReport {
    /// The figures written.
    pub written: Vec<PathBuf>,
    /// What could not be drawn, and why, one line each.
    pub notes: Vec<String>,
}

/// Draws every figure the inputs allow into `out`; see the module documentation for the files.
pub fn plot_all(inputs: &[PathBuf], out: &Path) -> Result<PlotReport> {
    let (run_dirs, tables) = expand_inputs(inputs)?;
    let mut report = PlotReport::default();
    let mut runs = Vec::new();
    for dir in &run_dirs {
        match load_run(dir) {
            Ok(r) => {
                report.notes.extend(r.notes.iter().cloned());
                runs.push(r);
            }
            Err(e) => report.notes.push(format!("skipped: {e:#}")),
        }
    }
    let mut rows = Vec::new();
    for t in &tables {
        match read_table2(t) {
            Ok(r) => rows.extend(r),
            Err(e) => report.notes.push(format!("skipped: {e:#}")),
        }
    }
    // Finished runs that no table2.json covers add their own rows.
    for r in &runs {
        if let Some(row) = r
            .summary
            .as_ref()
            .and_then(|s| table::row(s).ok().flatten())
        {
            if !rows
                .iter()
                .any(|x| x.dataset == row.dataset && x.cell == row.cell)
            {
                rows.push(row);
            }
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;

    let mut datasets: Vec<String> = runs.iter().map(|r| r.dataset.clone()).collect();
    datasets.sort_by_key(|d| dataset_order(d));
    datasets.dedup();
    let attempt = |report: &mut PlotReport, path: PathBuf, r: Result<()>| match r {
        Ok(()) => report.written.push(path),
        Err(e) => report
            .notes
            .push(format!("{} not drawn: {e:#}", path.display())),
    };
    for d in &datasets {
        let path = out.join(format!("curves_{d}.png"));
        let r = learning_curves(&runs, d, &path);
        attempt(&mut report, path, r);
    }
    let fig2: Vec<&str> = FIG2_DATASETS
        .iter()
        .map(|d| d.name())
        .filter(|d| datasets.iter().any(|x| x == d))
        .collect();
    if fig2.is_empty() {
        report.notes.push(
            "fig2_nottingham_musedata.png not drawn: no run of nottingham or musedata".into(),
        );
    } else {
        for d in FIG2_DATASETS.iter().filter(|d| !fig2.contains(&d.name())) {
            report.notes.push(format!(
                "fig2_nottingham_musedata.png: no run of {d}; drawn without it"
            ));
        }
        let path = out.join("fig2_nottingham_musedata.png");
        let r = learning_curves_grid(&runs, &fig2, &path);
        attempt(&mut report, path, r);
    }
    if rows.is_empty() {
        report
            .notes
            .push("table2.png not drawn: no table2.json and no finished run".into());
    } else {
        let path = out.join("table2.png");
        let r = table2_chart(&rows, &path);
        attempt(&mut report, path, r);
    }
    let mut beyond: Vec<&str> = rows
        .iter()
        .filter(|r| crate::report::stats::is_beyond_the_paper(&r.unit))
        .map(|r| r.dataset.as_str())
        .collect();
    beyond.sort_by_key(|d| dataset_order(d));
    beyond.dedup();
    for d in beyond {
        let path = out.join(format!("units_{d}.png"));
        let r = units_chart(&rows, d, &path);
        attempt(&mut report, path, r);
    }
    for d in &datasets {
        let path = out.join(format!("lr_search_{d}.png"));
        let r = lr_search(&runs, d, &path);
        attempt(&mut report, path, r);
    }
    if report.written.is_empty() {
        bail!(
            "nothing could be drawn from {}:\n  {}",
            inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            report.notes.join("\n  ")
        );
    }
    Ok(report)
}

fn dataset_order(d: &str) -> (usize, String) {
    (
        DATASETS
            .iter()
            .position(|x| x.name() == d)
            .unwrap_or(usize::MAX),
        d.to_string(),
    )
}

/// What one NLL value averages over: a frame of a piano roll (music), a step of 10 samples (speech, FSDD).
fn nll_per(dataset: &str) -> &'static str {
    match dataset.parse::<Dataset>() {
        Ok(Dataset::Fsdd) => "step",
        Ok(Dataset::Shakespeare) => "character; bits = nats / ln 2",
        Ok(Dataset::Text) | Ok(Dataset::Npz) => "step or token; bits = nats / ln 2",
        _ => "frame",
    }
}
