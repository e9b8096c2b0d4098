//! The paper's figures from run directories, as PNG: learning curves (Fig. 2), Table 2 at a glance, and the
//! learning-rate search.
//!
//! ```text
//! curves_<dataset>.png            train (solid) and valid (dashed) NLL of each unit's best member, log y (linear if any NLL ≤ 0);
//!                                 left against epochs, right against wall-clock seconds
//! fig2_nottingham_musedata.png    the paper's Fig. 2: one column per dataset, epochs on top, wall-clock below
//! table2.png                      test NLL per dataset and unit: ours (filled) beside the paper's (hollow diamond)
//! lr_search_<dataset>.png         final valid NLL at each member's best weights against its learning rate, log x
//! ```
//!
//! Inputs are read leniently: a run directory without `summary.json` (still running, or killed) is drawn from the
//! epochs in `metrics.jsonl`; lines this version cannot parse are skipped with a note, and when none parse,
//! `metrics.csv` is read by its header's column names. Whatever cannot be drawn is reported as a note, never a panic.
//!
//! The "best member" of a run is `summary.best_member` when the run finished, otherwise the member with the lowest
//! validation NLL so far that has not diverged. Wall-clock seconds are those of the whole population, which trains
//! all its members in one op, so they compare units only across runs of the same population size on one machine.

use super::table::{self, unit_family, Row, PAPER_TABLE2};
use super::UNITS;
use crate::train::{EpochMetrics, MemberMetrics, Status, Summary};
use anyhow::{anyhow, bail, ensure, Context, Result};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// The paper's dataset order (Table 2).
pub const DATASETS: [&str; 4] = ["nottingham", "jsb", "musedata", "piano"];
/// The datasets of the paper's Fig. 2.
pub const FIG2_DATASETS: [&str; 2] = ["nottingham", "musedata"];

/// Figure size of single-panel figures; multi-panel figures grow from it.
pub const FIG_W: u32 = 1200;
pub const FIG_H: u32 = 800;
/// The title line and the legend row under it (as in the benchmark chart).
const HEADER_H: u32 = 96;

const PAPER_MARK: RGBColor = RGBColor(40, 40, 40);
const DIVERGED_MARK: RGBColor = RGBColor(120, 120, 120);

/// Everything readable from one run directory.
#[derive(Clone, Debug)]
pub struct RunData {
    pub dir: PathBuf,
    pub dataset: String,
    pub cell: String,
    /// `tanh`, `gru` or `lstm`.
    pub unit: &'static str,
    /// Epochs in order, one per epoch number (a resumed run's repeated epochs keep the last copy).
    pub epochs: Vec<EpochMetrics>,
    pub summary: Option<Summary>,
    /// What was skipped or guessed while reading.
    pub notes: Vec<String>,
}

/// One member of a run, for the learning-rate search.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberPoint {
    pub member: usize,
    pub lr: f64,
    /// Validation NLL at the member's best weights (from summary.json), else the lowest seen so far.
    pub valid_nll: Option<f64>,
    pub diverged: bool,
}

impl RunData {
    /// The member whose curves stand for this run: the summary's best, else the lowest valid NLL so far among the
    /// members that have not diverged.
    pub fn best_member(&self) -> Option<usize> {
        if let Some(s) = &self.summary {
            if s.best_member.is_some() {
                return s.best_member;
            }
        }
        self.members()
            .into_iter()
            .filter(|m| !m.diverged)
            .filter_map(|m| Some((m.member, m.valid_nll?)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(m, _)| m)
    }

    /// Every member's learning rate and final validation NLL: from summary.json when the run finished, otherwise
    /// the best validation NLL in the metrics so far.
    pub fn members(&self) -> Vec<MemberPoint> {
        if let Some(s) = &self.summary {
            return s
                .members
                .iter()
                .map(|m| MemberPoint {
                    member: m.member,
                    lr: m.lr,
                    valid_nll: finite(m.valid_nll),
                    diverged: m.status == Status::Diverged,
                })
                .collect();
        }
        let k = self
            .epochs
            .iter()
            .map(|e| e.members.len())
            .max()
            .unwrap_or(0);
        (0..k)
            .filter_map(|m| {
                let rows: Vec<&MemberMetrics> = self
                    .epochs
                    .iter()
                    .filter_map(|e| e.members.get(m))
                    .collect();
                let last = rows.last()?;
                Some(MemberPoint {
                    member: m,
                    lr: last.lr,
                    valid_nll: rows
                        .iter()
                        .filter_map(|r| finite(r.valid_nll?))
                        .min_by(f64::total_cmp),
                    diverged: last.status == Status::Diverged,
                })
            })
            .collect()
    }

    /// One member's curve: a point for each epoch that has it.
    fn curve(&self, member: usize) -> Vec<CurvePoint> {
        self.epochs
            .iter()
            .filter_map(|e| {
                let m = e.members.get(member)?;
                Some(CurvePoint {
                    epoch: e.epoch as f64,
                    seconds: e.seconds,
                    train: m.train_nll.and_then(finite),
                    valid: m.valid_nll.and_then(finite),
                })
            })
            .collect()
    }

    /// The run's best validation NLL (to choose among runs of one unit).
    fn best_valid(&self) -> Option<f64> {
        let m = self.best_member()?;
        self.members()
            .into_iter()
            .find(|p| p.member == m)
            .and_then(|p| p.valid_nll)
    }
}

/// One epoch of a member's learning curve; NLLs only where finite.
struct CurvePoint {
    epoch: f64,
    seconds: f64,
    train: Option<f64>,
    valid: Option<f64>,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Whether `dir` looks like one run directory.
pub fn is_run_dir(dir: &Path) -> bool {
    [
        "summary.json",
        "metrics.jsonl",
        "metrics.csv",
        "config.toml",
    ]
    .iter()
    .any(|f| dir.join(f).is_file())
}

/// Reads a run directory; errors only when it holds nothing that identifies or measures a run.
pub fn load_run(dir: &Path) -> Result<RunData> {
    ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    let mut notes = Vec::new();
    let summary = match std::fs::read_to_string(dir.join("summary.json")) {
        Ok(text) => match serde_json::from_str::<Summary>(&text) {
            Ok(s) => Some(s),
            Err(e) => {
                notes.push(format!(
                    "{}: summary.json unreadable by this version ({e}); using the metrics",
                    dir.display()
                ));
                None
            }
        },
        Err(_) => None,
    };
    let mut epochs = read_jsonl(&dir.join("metrics.jsonl"), &mut notes);
    if epochs.is_empty() && dir.join("metrics.csv").is_file() {
        epochs = read_csv(&dir.join("metrics.csv"), &mut notes);
    }
    // A resumed run may have re-written epochs: keep the last copy of each, in epoch order.
    let mut by_epoch: Vec<EpochMetrics> = Vec::new();
    for e in epochs {
        by_epoch.retain(|x| x.epoch != e.epoch);
        by_epoch.push(e);
    }
    by_epoch.sort_by_key(|e| e.epoch);

    let (dataset, cell) = match &summary {
        Some(s) => (s.dataset.clone(), s.cell.clone()),
        None => identify(dir)?,
    };
    if summary.is_none() && by_epoch.is_empty() {
        bail!(
            "{}: no summary.json and no readable epochs in metrics.jsonl or metrics.csv (a run that has not \
             finished its first epoch?)",
            dir.display()
        );
    }
    if summary.is_none() {
        notes.push(format!(
            "{}: no summary.json (unfinished run); drawn from {} epoch(s) of metrics",
            dir.display(),
            by_epoch.len()
        ));
    }
    Ok(RunData {
        dir: dir.to_path_buf(),
        unit: unit_family(&cell),
        dataset,
        cell,
        epochs: by_epoch,
        summary,
        notes,
    })
}

/// Dataset and cell of a run without summary.json: from config.toml read as plain TOML (so that a config of
/// another version still names them), else from the directory name `<dataset>_<cell>`.
fn identify(dir: &Path) -> Result<(String, String)> {
    if let Ok(text) = std::fs::read_to_string(dir.join("config.toml")) {
        if let Ok(v) = text.parse::<toml::Table>() {
            if let (Some(d), Some(c)) = (
                v.get("dataset").and_then(|x| x.as_str()),
                v.get("cell").and_then(|x| x.as_str()),
            ) {
                return Ok((d.to_string(), c.to_string()));
            }
        }
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.split_once('_') {
        Some((d, c)) if DATASETS.contains(&d) => Ok((d.to_string(), c.to_string())),
        _ => bail!(
            "{}: cannot tell its dataset and cell (no summary.json, no readable config.toml, and the directory \
             is not named <dataset>_<cell>)",
            dir.display()
        ),
    }
}

fn read_jsonl(path: &Path, notes: &mut Vec<String>) -> Vec<EpochMetrics> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return vec![];
    };
    let mut out = Vec::new();
    let mut bad = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<EpochMetrics>(line) {
            Ok(m) => out.push(m),
            Err(_) => bad += 1,
        }
    }
    if bad > 0 {
        notes.push(format!(
            "{}: skipped {bad} line(s) this version cannot read",
            path.display()
        ));
    }
    out
}

/// metrics.csv by its header's column names, so that a reordered or extended file of another version still reads.
fn read_csv(path: &Path, notes: &mut Vec<String>) -> Vec<EpochMetrics> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return vec![];
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(c_epoch), Some(c_member), Some(c_valid)) =
        (col("epoch"), col("member"), col("valid_nll"))
    else {
        notes.push(format!(
            "{}: no epoch, member and valid_nll columns; not read",
            path.display()
        ));
        return vec![];
    };
    let (c_lr, c_updates, c_seconds, c_train, c_test, c_status) = (
        col("lr"),
        col("updates"),
        col("seconds"),
        col("train_nll"),
        col("test_nll"),
        col("status"),
    );
    let mut out: Vec<EpochMetrics> = Vec::new();
    let mut bad = 0;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let get = |c: Option<usize>| c.and_then(|c| f.get(c)).copied().unwrap_or("");
        let num = |c: Option<usize>| get(c).parse::<f64>().ok();
        let (Ok(epoch), Ok(member)) = (
            get(Some(c_epoch)).parse::<usize>(),
            get(Some(c_member)).parse::<usize>(),
        ) else {
            bad += 1;
            continue;
        };
        let status = match get(c_status) {
            "stopped" => Status::Stopped,
            "diverged" => Status::Diverged,
            _ => Status::Active,
        };
        let idx = match out.iter().position(|e| e.epoch == epoch) {
            Some(i) => i,
            None => {
                out.push(EpochMetrics {
                    epoch,
                    updates: num(c_updates).unwrap_or(0.0) as u64,
                    seconds: num(c_seconds).unwrap_or(f64::NAN),
                    members: vec![],
                });
                out.len() - 1
            }
        };
        let members = &mut out[idx].members;
        while members.len() <= member {
            members.push(MemberMetrics {
                lr: f64::NAN,
                train_nll: None,
                valid_nll: None,
                test_nll: None,
                status: Status::Active,
            });
        }
        members[member] = MemberMetrics {
            lr: num(c_lr).unwrap_or(f64::NAN),
            train_nll: num(c_train),
            valid_nll: num(Some(c_valid)),
            test_nll: num(c_test),
            status,
        };
    }
    if bad > 0 {
        notes.push(format!(
            "{}: skipped {bad} unreadable row(s)",
            path.display()
        ));
    }
    out
}

/// What [`plot_all`] drew and what it could not.
#[derive(Debug, Default)]
pub struct PlotReport {
    pub written: Vec<PathBuf>,
    pub notes: Vec<String>,
}

/// Run directories and Table 2 JSON files named by `inputs`: each input is a run directory, a reproduce output
/// (holding `runs/` and `table2.json`), or a directory of run directories.
fn expand_inputs(inputs: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
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
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    #[derive(serde::Deserialize)]
    struct Table2 {
        rows: Vec<Row>,
    }
    let t: Table2 = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a Table 2 JSON this version can read",
            path.display()
        )
    })?;
    Ok(t.rows)
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
        if let Some(row) = r.summary.as_ref().and_then(table::row) {
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
        .copied()
        .filter(|d| datasets.iter().any(|x| x == d))
        .collect();
    if fig2.is_empty() {
        report.notes.push(
            "fig2_nottingham_musedata.png not drawn: no run of nottingham or musedata".into(),
        );
    } else {
        for d in FIG2_DATASETS.iter().filter(|d| !fig2.contains(d)) {
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
        DATASETS.iter().position(|x| *x == d).unwrap_or(usize::MAX),
        d.to_string(),
    )
}

/// Draws into a PNG through a temp file and a rename, so a reader never sees a half-written figure. The temp name
/// keeps the `.png` ending: the bitmap encoder picks the format from it.
pub fn draw_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()>,
) -> Result<()> {
    super::register_fonts()?;
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?
        .to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp.png"));
    let result = (|| {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        draw(&root)?;
        root.present().map_err(|e| anyhow!("{e}"))
    })();
    match result {
        Ok(()) => std::fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display())),
        Err(e) => {
            std::fs::remove_file(&tmp).ok();
            Err(e.context(format!("drawing {}", path.display())))
        }
    }
}

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
pub enum Swatch {
    Line { dashed: bool },
    Dot,
    HollowDiamond,
    Cross,
    Ring,
}

/// The title and a legend row under it, shared by every panel of a figure (so no legend hides a curve).
pub fn header(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    title: &str,
    subtitle: &str,
    legend: &[(String, RGBColor, Swatch)],
) -> Result<()> {
    let e = |e: &dyn std::fmt::Display| anyhow!("drawing the header: {e}");
    area.draw(&Text::new(
        title.to_string(),
        (20, 10),
        ("sans-serif", 26).into_font().style(FontStyle::Bold),
    ))
    .map_err(|x| e(&x))?;
    area.draw(&Text::new(
        subtitle.to_string(),
        (20, 42),
        ("sans-serif", 16).into_font().color(&RGBColor(80, 80, 80)),
    ))
    .map_err(|x| e(&x))?;
    let font = TextStyle::from(("sans-serif", 18).into_font());
    let y = 78;
    let mut x = 20;
    for (label, color, swatch) in legend {
        let style = color.stroke_width(3);
        match swatch {
            Swatch::Line { dashed: false } => area
                .draw(&PathElement::new(vec![(x, y), (x + 36, y)], style))
                .map_err(|x| e(&x))?,
            Swatch::Line { dashed: true } => area
                .draw(&DashedPathElement::new(
                    vec![(x, y), (x + 36, y)],
                    7,
                    5,
                    style,
                ))
                .map_err(|x| e(&x))?,
            Swatch::Dot => area
                .draw(&Circle::new((x + 18, y), 7, color.filled()))
                .map_err(|x| e(&x))?,
            Swatch::HollowDiamond => area
                .draw(&diamond((x + 18, y), 8, color.stroke_width(2)))
                .map_err(|x| e(&x))?,
            Swatch::Cross => area
                .draw(&Cross::new((x + 18, y), 6, color.stroke_width(3)))
                .map_err(|x| e(&x))?,
            Swatch::Ring => area
                .draw(&Circle::new((x + 18, y), 9, color.stroke_width(2)))
                .map_err(|x| e(&x))?,
        }
        let (w, _) = area.estimate_text_size(label, &font).map_err(|x| e(&x))?;
        area.draw(&Text::new(label.clone(), (x + 44, y - 10), font.clone()))
            .map_err(|x| e(&x))?;
        x += 44 + w as i32 + 28;
    }
    Ok(())
}

/// A diamond outline around a pixel position.
fn diamond(c: (i32, i32), r: i32, style: ShapeStyle) -> PathElement<(i32, i32)> {
    PathElement::new(
        vec![
            (c.0, c.1 - r),
            (c.0 + r, c.1),
            (c.0, c.1 + r),
            (c.0 - r, c.1),
            (c.0, c.1 - r),
        ],
        style,
    )
}

/// Tick values for a log axis over `[lo, hi]`: decades when the range spans several, else the densest of
/// 1-2-5, 1-2-3-5 and 1..9 (× 10^k) that gives at most about 10 ticks, so a narrow range still gets labels.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return vec![];
    }
    let mantissas: [&[f64]; 4] = [
        &[1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        &[1.0, 2.0, 3.0, 5.0],
        &[1.0, 2.0, 5.0],
    ];
    let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let ticks = |ms: &[f64]| -> Vec<f64> {
        (k0..=k1)
            .flat_map(|k| ms.iter().map(move |m| m * 10f64.powi(k)))
            .filter(|v| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9))
            .collect()
    };
    for ms in mantissas {
        let t = ticks(ms);
        if t.len() <= 10 {
            if t.len() >= 3 {
                return t;
            }
            // Too narrow even for the densest set: linear ticks instead.
            break;
        }
    }
    let decades = ticks(&[1.0]);
    if decades.len() >= 3 {
        return decades;
    }
    let step = nice_step((hi - lo) / 5.0);
    let mut v = (lo / step).ceil() * step;
    let mut out = vec![];
    while v <= hi * (1.0 + 1e-12) {
        out.push(v);
        v += step;
    }
    out
}

fn nice_step(raw: f64) -> f64 {
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    p * if m < 1.5 {
        1.0
    } else if m < 3.5 {
        2.0
    } else if m < 7.5 {
        5.0
    } else {
        10.0
    }
}

/// A label for a tick value with as many decimals as the ticks need.
fn tick_label(v: f64) -> String {
    if v >= 100.0 || (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if (v * 10.0 - (v * 10.0).round()).abs() < 1e-6 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// What one NLL value averages over: a frame of a piano roll (music), a step of 10 samples (speech, FSDD).
fn nll_per(dataset: &str) -> &'static str {
    if dataset == crate::data::Dataset::Fsdd.name() {
        "step"
    } else {
        "frame"
    }
}

/// `[lo, hi]` of positive values, widened by a margin on a log axis (and never empty).
fn log_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return None;
    }
    let pad = (hi / lo).powf(0.06).max(1.02);
    Some((lo / pad, hi * pad))
}

/// The run of each unit drawn for a dataset: when several runs share a unit family (paper_gru and torch_gru), the
/// one with the lowest validation NLL.
fn best_runs<'a>(runs: &'a [RunData], dataset: &str) -> Vec<&'a RunData> {
    UNITS
        .iter()
        .filter_map(|u| {
            runs.iter()
                .filter(|r| r.dataset == dataset && r.unit == *u && r.best_member().is_some())
                .min_by(|a, b| {
                    let (x, y) = (a.best_valid(), b.best_valid());
                    x.unwrap_or(f64::INFINITY)
                        .total_cmp(&y.unwrap_or(f64::INFINITY))
                })
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum XAxis {
    Epochs,
    Seconds,
}

fn curves_legend(chosen: &[&RunData]) -> Vec<(String, RGBColor, Swatch)> {
    let mut legend: Vec<(String, RGBColor, Swatch)> = chosen
        .iter()
        .map(|r| {
            let m = r.best_member().unwrap_or(0);
            let lr = r.members().iter().find(|p| p.member == m).map(|p| p.lr);
            let label = match lr {
                Some(lr) if lr.is_finite() => {
                    format!("{} ({}, member {m}, lr {lr:.1e})", r.unit, r.cell)
                }
                _ => format!("{} ({}, member {m})", r.unit, r.cell),
            };
            let label = if r.summary.is_none() {
                format!("{label}, unfinished")
            } else {
                label
            };
            (
                label,
                super::unit_color(r.unit),
                Swatch::Line { dashed: false },
            )
        })
        .collect();
    legend.push((
        "train (noisy weights)".into(),
        RGBColor(60, 60, 60),
        Swatch::Line { dashed: false },
    ));
    legend.push((
        "validation".into(),
        RGBColor(60, 60, 60),
        Swatch::Line { dashed: true },
    ));
    legend
}

/// Learning curves of one dataset: epochs on the left, wall-clock seconds on the right.
pub fn learning_curves(runs: &[RunData], dataset: &str, path: &Path) -> Result<()> {
    let chosen = best_runs(runs, dataset);
    ensure!(
        !chosen.is_empty(),
        "no run of {dataset} with a member to draw"
    );
    draw_png(path, (2 * 800, FIG_H), |root| {
        let (top, body) = root.split_vertically(HEADER_H);
        header(
            &top,
            &format!("Learning curves on {dataset}: best member of each unit"),
            &format!(
                "NLL per {} (log axis when every value is positive); wall-clock is of the whole population, which \
                 trains all members together",
                nll_per(dataset)
            ),
            &curves_legend(&chosen),
        )?;
        let panels = body.split_evenly((1, 2));
        curve_panel(&panels[0], &chosen, XAxis::Epochs, "against epochs")?;
        curve_panel(
            &panels[1],
            &chosen,
            XAxis::Seconds,
            "against wall-clock time",
        )?;
        Ok(())
    })
}

/// The paper's Fig. 2: one column per dataset, epochs on the top row, wall-clock on the bottom row.
pub fn learning_curves_grid(runs: &[RunData], datasets: &[&str], path: &Path) -> Result<()> {
    let columns: Vec<(&str, Vec<&RunData>)> = datasets
        .iter()
        .map(|d| (*d, best_runs(runs, d)))
        .filter(|(_, c)| !c.is_empty())
        .collect();
    ensure!(
        !columns.is_empty(),
        "no run of {} with a member to draw",
        datasets.join(" or ")
    );
    let n = columns.len() as u32;
    let width = (800 * n).max(FIG_W);
    let mut units: Vec<&RunData> = vec![];
    for (_, c) in &columns {
        for r in c {
            if !units.iter().any(|u| u.unit == r.unit) {
                units.push(r);
            }
        }
    }
    let mut legend: Vec<(String, RGBColor, Swatch)> = units
        .iter()
        .map(|r| {
            (
                r.unit.to_string(),
                super::unit_color(r.unit),
                Swatch::Line { dashed: false },
            )
        })
        .collect();
    legend.extend(curves_legend(&[]));
    draw_png(path, (width, HEADER_H + 2 * 560), |root| {
        let (top, body) = root.split_vertically(HEADER_H);
        header(
            &top,
            &format!(
                "Learning curves (as Fig. 2 of Chung et al. 2014): {}",
                columns
                    .iter()
                    .map(|c| c.0)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "Best member of each unit; top: against epochs, bottom: against wall-clock time (whole population)",
            &legend,
        )?;
        let panels = body.split_evenly((2, columns.len()));
        for (i, (d, chosen)) in columns.iter().enumerate() {
            curve_panel(&panels[i], chosen, XAxis::Epochs, d)?;
            curve_panel(&panels[columns.len() + i], chosen, XAxis::Seconds, d)?;
        }
        Ok(())
    })
}

fn curve_panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    chosen: &[&RunData],
    x_axis: XAxis,
    caption: &str,
) -> Result<()> {
    let series: Vec<CurveSeries> = chosen
        .iter()
        .map(|r| {
            let curve = r.curve(r.best_member().unwrap_or(0));
            let x = |c: &CurvePoint| match x_axis {
                XAxis::Epochs => c.epoch,
                XAxis::Seconds => c.seconds,
            };
            let pick = |val: fn(&CurvePoint) -> Option<f64>| {
                curve
                    .iter()
                    .filter_map(|c| Some((x(c), val(c)?)).filter(|p| p.0.is_finite()))
                    .collect::<Vec<_>>()
            };
            (
                super::unit_color(r.unit),
                pick(|c| c.train),
                pick(|c| c.valid),
            )
        })
        .collect();
    let all = || {
        series
            .iter()
            .flat_map(|(_, t, v)| t.iter().chain(v.iter()).copied())
    };
    let (x_desc, caption) = match x_axis {
        XAxis::Epochs => ("epoch", caption.to_string()),
        XAxis::Seconds => ("wall-clock (s)", caption.to_string()),
    };
    let Some(y) = YRange::of(all().map(|p| p.1)) else {
        // Nothing measured yet: an empty panel that says so.
        area.draw(&Text::new(
            format!("{caption}: no epochs with finite NLL"),
            (40, 40),
            ("sans-serif", 20).into_font(),
        ))
        .map_err(|e| anyhow!("{e}"))?;
        return Ok(());
    };
    let xmax = all().map(|p| p.0).fold(0.0f64, f64::max);
    let xlo = 0.0;
    let xhi = if xmax > xlo { xmax * 1.03 } else { xlo + 1.0 };
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(&caption, ("sans-serif", 22).into_font())
        .margin(14)
        .x_label_area_size(56)
        .y_label_area_size(80);
    let x_labels = move |v: &f64| match x_axis {
        XAxis::Epochs if (v - v.round()).abs() < 1e-9 => format!("{v:.0}"),
        XAxis::Epochs => String::new(),
        XAxis::Seconds => tick_label(*v),
    };
    let dataset = chosen.first().map_or("", |r| r.dataset.as_str());
    let y_desc = y.describe(&format!("NLL (nats per {})", nll_per(dataset)));
    if y.log {
        let chart = builder
            .build_cartesian_2d(
                xlo..xhi,
                (y.lo..y.hi)
                    .log_scale()
                    .with_key_points(log_ticks(y.lo, y.hi)),
            )
            .context("building the chart")?;
        draw_curves(chart, x_desc, &x_labels, &y_desc, &series)
    } else {
        let chart = builder
            .build_cartesian_2d(xlo..xhi, y.lo..y.hi)
            .context("building the chart")?;
        draw_curves(chart, x_desc, &x_labels, &y_desc, &series)
    }
}

/// A panel's NLL axis: log when every value is positive (the music NLLs), linear otherwise (the speech task's
/// Gaussian-mixture NLLs per sample can go below zero, and a log axis would drop those points).
struct YRange {
    log: bool,
    lo: f64,
    hi: f64,
}

impl YRange {
    /// The axis for these values (non-finite ones ignored); `None` when none is finite.
    fn of(values: impl Iterator<Item = f64>) -> Option<Self> {
        let finite: Vec<f64> = values.filter(|v| v.is_finite()).collect();
        if finite.iter().all(|v| *v > 0.0) {
            let (lo, hi) = log_range(finite.into_iter())?;
            return Some(Self { log: true, lo, hi });
        }
        let (lo, hi) = linear_range(finite.into_iter())?;
        Some(Self { log: false, lo, hi })
    }

    /// Room for one more line above the top (where off-scale members are drawn): that line's value, and the
    /// widened axis.
    fn with_line_above(self) -> (f64, Self) {
        if self.log {
            let step = (self.hi / self.lo).powf(0.06).max(1.02);
            (
                self.hi * step,
                Self {
                    hi: self.hi * step * step,
                    ..self
                },
            )
        } else {
            let step = (self.hi - self.lo) * 0.06;
            (
                self.hi + step,
                Self {
                    hi: self.hi + 2.0 * step,
                    ..self
                },
            )
        }
    }

    /// The axis label, saying which scale it is.
    fn describe(&self, what: &str) -> String {
        format!("{what}, {} scale", if self.log { "log" } else { "linear" })
    }
}

/// `[lo, hi]` of finite values, widened by 5 % of the span on each side (and never empty).
fn linear_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return None;
    }
    let pad = ((hi - lo) * 0.05).max(1e-3 * lo.abs().max(hi.abs()).max(1.0));
    Some((lo - pad, hi + pad))
}

type CurveSeries = (RGBColor, Vec<(f64, f64)>, Vec<(f64, f64)>);

/// Axes, then train (solid) and validation (dashed) curves, on a chart of either y scale.
fn draw_curves<Y>(
    mut chart: ChartContext<'_, BitMapBackend<'_>, Cartesian2d<RangedCoordf64, Y>>,
    x_desc: &str,
    x_labels: &dyn Fn(&f64) -> String,
    y_desc: &str,
    series: &[CurveSeries],
) -> Result<()>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style(("sans-serif", 20).into_font())
        .label_style(("sans-serif", 17).into_font())
        .x_labels(8)
        .x_label_formatter(x_labels)
        .y_label_formatter(&|v| tick_label(*v))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(RGBColor(220, 220, 220))
        .draw()
        .context("drawing the axes")?;
    for (color, train, valid) in series {
        chart
            .draw_series(LineSeries::new(train.clone(), color.stroke_width(3)))
            .context("drawing a curve")?;
        chart
            .draw_series(DashedLineSeries::new(
                valid.clone(),
                10,
                6,
                color.stroke_width(3),
            ))
            .context("drawing a curve")?;
        // Markers on short curves, so that a run of one or two epochs still shows its points.
        if train.len().max(valid.len()) <= 40 {
            chart
                .draw_series(train.iter().map(|p| Circle::new(*p, 4, color.filled())))
                .context("drawing points")?;
            chart
                .draw_series(
                    valid
                        .iter()
                        .map(|p| Circle::new(*p, 4, color.stroke_width(2))),
                )
                .context("drawing points")?;
        }
    }
    Ok(())
}

/// Table 2 at a glance: one panel per dataset, test NLL of each unit, ours beside the paper's.
pub fn table2_chart(rows: &[Row], path: &Path) -> Result<()> {
    let mut datasets: Vec<&str> = rows.iter().map(|r| r.dataset.as_str()).collect();
    datasets.sort_by_key(|d| dataset_order(d));
    datasets.dedup();
    ensure!(!datasets.is_empty(), "no Table 2 rows");
    let n = datasets.len() as u32;
    let width = (440 * n).max(FIG_W);
    let legend = vec![
        (
            "ours (best member by validation)".to_string(),
            RGBColor(60, 60, 60),
            Swatch::Dot,
        ),
        (
            "paper (Chung et al. 2014, Table 2)".to_string(),
            PAPER_MARK,
            Swatch::HollowDiamond,
        ),
    ];
    draw_png(path, (width, FIG_H), |root| {
        let (top, body) = root.split_vertically(HEADER_H);
        header(
            &top,
            "Table 2 at a glance: test NLL per dataset and unit",
            "Average negative log-likelihood on the test set, per frame (music) or per step (speech); lower is better; colour = unit",
            &legend,
        )?;
        let panels = body.split_evenly((1, datasets.len()));
        for (panel, d) in panels.iter().zip(&datasets) {
            table2_panel(panel, rows, d)?;
        }
        Ok(())
    })
}

fn table2_panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    rows: &[Row],
    dataset: &str,
) -> Result<()> {
    let ours: Vec<&Row> = rows
        .iter()
        .filter(|r| r.dataset == dataset && r.test_nll.is_finite())
        .collect();
    let paper: Vec<(&str, f64)> = PAPER_TABLE2
        .iter()
        .filter(|p| p.0 == dataset)
        .map(|p| (p.1, p.3))
        .collect();
    let units: Vec<&str> = UNITS
        .iter()
        .copied()
        .filter(|u| ours.iter().any(|r| r.unit == *u) || paper.iter().any(|p| p.0 == *u))
        .collect();
    let values: Vec<f64> = ours
        .iter()
        .map(|r| r.test_nll)
        .chain(paper.iter().map(|p| p.1))
        .collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    let (lo, hi) = if lo.is_finite() {
        let pad = ((hi - lo) * 0.15).max(0.25);
        // A music NLL is never negative, so its axis stops at 0; a density's (speech) can be, and gets a margin too.
        (
            if lo < 0.0 {
                lo - pad
            } else {
                (lo - pad).max(0.0)
            },
            hi + pad,
        )
    } else {
        (0.0, 1.0)
    };
    let decimals = if hi - lo >= 8.0 {
        0
    } else if hi - lo >= 0.8 {
        1
    } else {
        2
    };
    let n = units.len().max(1) as i32;
    let mut chart = ChartBuilder::on(area)
        .caption(dataset, ("sans-serif", 22).into_font())
        .margin(14)
        .x_label_area_size(56)
        .y_label_area_size(70)
        .build_cartesian_2d((0..n - 1).into_segmented(), lo..hi)
        .context("building the chart")?;
    let unit_of = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => units
            .get(*i as usize)
            .map(|u| u.to_string())
            .unwrap_or_default(),
        SegmentValue::Last => String::new(),
    };
    chart
        .configure_mesh()
        .x_desc("unit")
        .y_desc(format!("test NLL (nats per {})", nll_per(dataset)))
        .axis_desc_style(("sans-serif", 20).into_font())
        .label_style(("sans-serif", 17).into_font())
        .x_labels(units.len().max(1))
        .x_label_formatter(&unit_of)
        .y_labels(8)
        .y_label_formatter(&|v| format!("{v:.decimals$}"))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .context("drawing the axes")?;
    // Ours left of each unit's centre, the paper's right of it (offsets in pixels), each value written above.
    let label_font = ("sans-serif", 15).into_font();
    for (i, u) in units.iter().enumerate() {
        let color = super::unit_color(u);
        let x = SegmentValue::CenterOf(i as i32);
        let mine: Vec<&&Row> = ours.iter().filter(|r| r.unit == *u).collect();
        for (j, r) in mine.iter().enumerate() {
            let dx = -26 - 34 * j as i32;
            let text = if mine.len() > 1 {
                format!("{:.2} {}", r.test_nll, r.cell)
            } else {
                format!("{:.2}", r.test_nll)
            };
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((x.clone(), r.test_nll))
                        + Circle::new((dx, 0), 9, color.filled())
                        + Text::new(text, (dx - 16, -30), label_font.clone()),
                ))
                .context("drawing a point")?;
        }
        if let Some((_, p)) = paper.iter().find(|p| p.0 == *u) {
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((x.clone(), *p))
                        + diamond((26, 0), 11, PAPER_MARK.stroke_width(3))
                        + diamond((26, 0), 7, color.stroke_width(2))
                        + Text::new(format!("{p:.2}"), (10, -32), label_font.clone()),
                ))
                .context("drawing the paper's marker")?;
        }
    }
    if ours.is_empty() {
        chart
            .draw_series(std::iter::once(Text::new(
                "no result of ours",
                (SegmentValue::CenterOf(0), hi - (hi - lo) * 0.05),
                ("sans-serif", 17).into_font(),
            )))
            .context("drawing a note")?;
    }
    Ok(())
}

/// The learning-rate search of one dataset: each member's final validation NLL against its learning rate.
pub fn lr_search(runs: &[RunData], dataset: &str, path: &Path) -> Result<()> {
    let mut chosen: Vec<&RunData> = runs.iter().filter(|r| r.dataset == dataset).collect();
    chosen.sort_by_key(|r| {
        (
            UNITS.iter().position(|u| *u == r.unit).unwrap_or(9),
            r.cell.clone(),
        )
    });
    let points: Vec<(&RunData, Vec<MemberPoint>)> = chosen
        .iter()
        .map(|r| {
            let m: Vec<MemberPoint> = r
                .members()
                .into_iter()
                .filter(|p| p.lr.is_finite() && p.lr > 0.0)
                .collect();
            (*r, m)
        })
        .filter(|(_, m)| !m.is_empty())
        .collect();
    ensure!(
        !points.is_empty(),
        "no member of a {dataset} run with a learning rate"
    );
    let any_diverged = points
        .iter()
        .any(|(_, ms)| ms.iter().any(|m| m.diverged || m.valid_nll.is_none()));
    let (xlo, xhi) = log_range(points.iter().flat_map(|(_, ms)| ms.iter().map(|m| m.lr)))
        .context("no positive learning rate")?;
    let (xlo, xhi) = (xlo / 1.5, xhi * 1.5);
    // The y range reaches up to the worst member that trained; diverged members above it (or without a finite
    // NLL) sit on a line of their own above that.
    let all = || {
        points
            .iter()
            .flat_map(|(_, ms)| ms.iter().filter_map(|m| m.valid_nll))
    };
    let trained = || {
        points.iter().flat_map(|(_, ms)| {
            ms.iter()
                .filter(|m| !m.diverged)
                .filter_map(|m| m.valid_nll)
        })
    };
    // The axis spans every member that trained, and those that diverged below the worst of them.
    let worst_trained = trained().filter(|v| v.is_finite()).fold(f64::NAN, f64::max);
    let y = YRange::of(all().filter(|v| worst_trained.is_nan() || *v <= worst_trained)).unwrap_or(
        YRange {
            log: true,
            lo: 1.0,
            hi: 100.0,
        },
    );
    let any_off_scale = points
        .iter()
        .any(|(_, ms)| ms.iter().any(|m| m.valid_nll.is_none_or(|v| v > y.hi)));
    let (edge, y) = if any_off_scale {
        y.with_line_above()
    } else {
        (y.hi, y)
    };
    let mut legend: Vec<(String, RGBColor, Swatch)> = points
        .iter()
        .map(|(r, _)| {
            (
                format!("{} ({})", r.unit, r.cell),
                super::unit_color(r.unit),
                Swatch::Line { dashed: false },
            )
        })
        .collect();
    legend.push(("best member".into(), RGBColor(60, 60, 60), Swatch::Ring));
    if any_diverged {
        legend.push((
            "diverged (on the top line when off scale or NaN)".into(),
            DIVERGED_MARK,
            Swatch::Cross,
        ));
    }
    let xticks = log_ticks(xlo, xhi);
    draw_png(path, (FIG_W, FIG_H), |root| {
        let (top, body) = root.split_vertically(HEADER_H);
        header(
            &top,
            &format!("Learning-rate search on {dataset}"),
            "Each member's validation NLL at its best weights (unfinished runs: the best so far); line: mean over \
             seeds of the members that did not diverge",
            &legend,
        )?;
        let mut builder = ChartBuilder::on(&body);
        builder
            .margin(18)
            .x_label_area_size(60)
            .y_label_area_size(84);
        let x = (xlo..xhi).log_scale().with_key_points(xticks.clone());
        let y_desc = y.describe(&format!("validation NLL (nats per {})", nll_per(dataset)));
        if y.log {
            let chart = builder
                .build_cartesian_2d(
                    x,
                    (y.lo..y.hi)
                        .log_scale()
                        .with_key_points(log_ticks(y.lo, y.hi)),
                )
                .context("building the chart")?;
            draw_lr_points(chart, &y_desc, &points, (y.lo, y.hi), edge)
        } else {
            let chart = builder
                .build_cartesian_2d(x, y.lo..y.hi)
                .context("building the chart")?;
            draw_lr_points(chart, &y_desc, &points, (y.lo, y.hi), edge)
        }
    })
}

/// Axes, then each unit's mean line and its members' points, on a chart of either y scale; members above `edge`
/// (or without a finite NLL) are drawn on the `edge` line.
fn draw_lr_points<X, Y>(
    mut chart: ChartContext<'_, BitMapBackend<'_>, Cartesian2d<X, Y>>,
    y_desc: &str,
    points: &[(&RunData, Vec<MemberPoint>)],
    (ylo, yhi): (f64, f64),
    edge: f64,
) -> Result<()>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc("learning rate (log scale)")
        .y_desc(y_desc)
        .axis_desc_style(("sans-serif", 20).into_font())
        .label_style(("sans-serif", 17).into_font())
        .x_label_formatter(&|v| format!("{v:.0e}"))
        .y_label_formatter(&|v| tick_label(*v))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .context("drawing the axes")?;
    for (r, ms) in points {
        let color = super::unit_color(r.unit);
        // Mean over the seeds of each learning rate, of the members that trained.
        let mut lrs: Vec<f64> = ms.iter().map(|m| m.lr).collect();
        lrs.sort_by(f64::total_cmp);
        lrs.dedup();
        let line: Vec<(f64, f64)> = lrs
            .iter()
            .filter_map(|lr| {
                let v: Vec<f64> = ms
                    .iter()
                    .filter(|m| m.lr == *lr && !m.diverged)
                    .filter_map(|m| m.valid_nll)
                    .collect();
                (!v.is_empty()).then(|| (*lr, v.iter().sum::<f64>() / v.len() as f64))
            })
            .filter(|p| p.1 >= ylo && p.1 <= yhi)
            .collect();
        chart
            .draw_series(LineSeries::new(line, color.stroke_width(2)))
            .context("drawing a line")?;
        let best = r.best_member();
        for m in ms {
            let off_scale = m.valid_nll.is_none_or(|v| v > edge);
            let y = if off_scale {
                edge
            } else {
                m.valid_nll.unwrap_or(edge)
            };
            if m.diverged || m.valid_nll.is_none() {
                chart
                    .draw_series(std::iter::once(Cross::new(
                        (m.lr, y),
                        8,
                        color.stroke_width(3),
                    )))
                    .context("drawing a point")?;
            } else if !off_scale {
                chart
                    .draw_series(std::iter::once(Circle::new((m.lr, y), 6, color.filled())))
                    .context("drawing a point")?;
            }
            if best == Some(m.member) && !off_scale {
                chart
                    .draw_series(std::iter::once(Circle::new(
                        (m.lr, y),
                        12,
                        RGBColor(40, 40, 40).stroke_width(2),
                    )))
                    .context("drawing a point")?;
            }
        }
    }
    Ok(())
}
