//! `recipe-study_<dataset>.png` and `.md`: the training-recipe study (docs/recipe-study.md), drawn from a directory
//! holding one run directory per setting (`c50-zero-b8`, `c100-carry-b8`, `whole-b8`, …; `scripts/recipe-study.sh`
//! makes it).
//!
//! The figure has one line per setting: the population's best validation NLL so far (the minimum over members and
//! over the epochs up to that point) against the training thread's CPU seconds (`cpu_seconds` in metrics.jsonl).
//! A run recorded before CPU time was (every `cpu_seconds` 0) falls back to wall-clock `seconds`, and the figure and
//! table say so. The table compares the settings at equal cost: the common budget is the smallest final CPU time over
//! the settings, and each setting's value there is the best it had reached by then (a step function: epochs that end
//! after the budget do not count, and no interpolation credits a setting with an epoch it had not finished).

use super::PlotReport;
use crate::report::chart::{draw_figure, log_ticks, tick_label, Swatch, YRange, FIG_W, PALETTE};
use crate::run::view::{is_run_dir, load_run, RunData};
use anyhow::{bail, ensure, Context, Result};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// One setting of the study: its recipe (from config.toml) and its best-so-far curve.
#[derive(Clone, Debug)]
pub struct StudySetting {
    /// The run directory's name (`c100-carry-b8`).
    pub name: String,
    /// 0: whole pieces.
    pub chunk_len: Option<i64>,
    /// Whether chunks carry the state across (`carry_state`); `None` when the config does not say.
    pub carry_state: Option<bool>,
    /// Sequences per update (`batch_size`); `None` when the config does not say.
    pub batch_size: Option<i64>,
    /// Epochs finished.
    pub epochs: usize,
    /// Optimizer updates taken.
    pub updates: u64,
    /// CPU seconds of the training thread at the last epoch.
    pub cpu_seconds: f64,
    /// Wall-clock seconds at the last epoch.
    pub wall_seconds: f64,
    /// The x axis is wall-clock seconds: the run recorded no CPU time.
    pub wall_fallback: bool,
    /// `(seconds, best valid NLL so far)` after each epoch with a finite validation NLL.
    pub curve: Vec<(f64, f64)>,
}

impl StudySetting {
    fn of(name: String, run: &RunData) -> StudySetting {
        let config = std::fs::read_to_string(run.dir.join("config.toml"))
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
            .unwrap_or_default();
        let int = |k: &str| config.get(k).and_then(|v| v.as_integer());
        let wall_fallback = run.epochs.iter().all(|e| e.cpu_seconds <= 0.0);
        let x = |e: &crate::train::EpochMetrics| {
            if wall_fallback {
                e.seconds
            } else {
                e.cpu_seconds
            }
        };
        let mut best = f64::INFINITY;
        let mut curve = Vec::new();
        for e in &run.epochs {
            best = best.min(e.best_valid());
            if best.is_finite() && x(e).is_finite() {
                curve.push((x(e), best));
            }
        }
        let last = run.epochs.last();
        StudySetting {
            name,
            chunk_len: int("chunk_len"),
            carry_state: config.get("carry_state").and_then(|v| v.as_bool()),
            batch_size: int("batch_size"),
            epochs: last.map_or(0, |e| e.epoch),
            updates: last.map_or(0, |e| e.updates),
            cpu_seconds: last.map_or(0.0, |e| e.cpu_seconds),
            wall_seconds: last.map_or(0.0, |e| e.seconds),
            wall_fallback,
            curve,
        }
    }

    /// Seconds (CPU, or wall-clock on fallback) at the last epoch.
    pub fn final_x(&self) -> f64 {
        self.curve.last().map_or(f64::NAN, |p| p.0)
    }

    /// The best validation NLL reached within `budget` seconds: that of the last epoch that ended by then.
    pub fn best_at(&self, budget: f64) -> Option<f64> {
        self.curve
            .iter()
            .take_while(|p| p.0 <= budget * (1.0 + 1e-12))
            .last()
            .map(|p| p.1)
    }

    /// The best validation NLL reached by the last epoch (the curve's last value).
    pub fn best_at_end(&self) -> Option<f64> {
        self.curve.last().map(|p| p.1)
    }
}

/// The settings of a study directory (every run directory in it that has a finished epoch), ranked by their best
/// validation NLL at the common budget, and that budget.
pub fn read_study(dir: &Path) -> Result<(Vec<StudySetting>, f64, Vec<String>)> {
    let mut notes = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && is_run_dir(p))
        .collect();
    entries.sort();
    let mut settings = Vec::new();
    for p in &entries {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match load_run(p) {
            Ok(run) => {
                let s = StudySetting::of(name, &run);
                if s.curve.is_empty() {
                    notes.push(format!(
                        "{}: no epoch with a finite validation NLL; left out",
                        p.display()
                    ));
                    continue;
                }
                if s.wall_fallback {
                    notes.push(format!(
                        "{}: no CPU time in metrics.jsonl; drawn against wall-clock seconds",
                        p.display()
                    ));
                }
                settings.push((run.dataset.clone(), s));
            }
            Err(e) => notes.push(format!("skipped: {e:#}")),
        }
    }
    ensure!(
        !settings.is_empty(),
        "{}: no run directory with a finished epoch (one directory per setting expected)",
        dir.display()
    );
    let dataset = settings[0].0.clone();
    if settings.iter().any(|s| s.0 != dataset) {
        notes.push(format!(
            "{}: runs of several datasets; all labelled {dataset}",
            dir.display()
        ));
    }
    let mut settings: Vec<StudySetting> = settings.into_iter().map(|s| s.1).collect();
    let budget = settings
        .iter()
        .map(StudySetting::final_x)
        .fold(f64::INFINITY, f64::min);
    settings.sort_by(|a, b| {
        let key = |s: &StudySetting| s.best_at(budget).unwrap_or(f64::INFINITY);
        key(a).total_cmp(&key(b)).then(a.name.cmp(&b.name))
    });
    notes.insert(0, dataset);
    Ok((settings, budget, notes))
}

/// Draws `out/recipe-study_<dataset>.png` and writes `out/recipe-study_<dataset>.md` from the study directory `dir`.
pub fn recipe_study(dir: &Path, out: &Path) -> Result<PlotReport> {
    let (settings, budget, mut notes) = read_study(dir)?;
    let dataset = notes.remove(0);
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let png = out.join(format!("recipe-study_{dataset}.png"));
    let md = out.join(format!("recipe-study_{dataset}.md"));
    let text = study_markdown(&dataset, &settings, budget);
    std::fs::write(&md, text).with_context(|| format!("writing {}", md.display()))?;
    study_chart(&dataset, &settings, budget, &png)?;
    Ok(PlotReport {
        written: vec![png, md],
        notes,
    })
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.3}"))
}

/// The table of the settings, ranked by the best validation NLL at the common budget, and a sentence naming the best.
pub fn study_markdown(dataset: &str, settings: &[StudySetting], budget: f64) -> String {
    let any_wall = settings.iter().any(|s| s.wall_fallback);
    let mut s = format!(
        "Recipe study on {dataset}: best validation NLL (nats per frame, minimum over the population's members) of \
         each setting at the common budget of {budget:.0} CPU s (the smallest final CPU time of the settings; the best \
         reached by the last epoch that ended within it) and at the end of its run.\n\n\
         | setting | chunk_len | carry_state | batch_size | epochs | updates | CPU s | wall s | best valid NLL at {budget:.0} CPU s | best valid NLL at end |\n\
         |---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for x in settings {
        let chunk = match x.chunk_len {
            Some(0) => "whole".to_string(),
            Some(c) => c.to_string(),
            None => "–".into(),
        };
        s += &format!(
            "| {}{} | {chunk} | {} | {} | {} | {} | {:.0} | {:.0} | {} | {} |\n",
            x.name,
            if x.wall_fallback { " (wall-clock)" } else { "" },
            x.carry_state.map_or("–".into(), |c| c.to_string()),
            x.batch_size.map_or("–".into(), |b| b.to_string()),
            x.epochs,
            x.updates,
            x.cpu_seconds,
            x.wall_seconds,
            fmt_opt(x.best_at(budget)),
            fmt_opt(x.best_at_end()),
        );
    }
    if any_wall {
        s += "\nSettings marked (wall-clock) recorded no CPU time: their seconds are wall-clock, which overstates \
              their cost when the machine was shared.\n";
    }
    if let Some(best) = settings.first().filter(|b| b.best_at(budget).is_some()) {
        let v = best.best_at(budget).unwrap_or(f64::NAN);
        s += &format!(
            "\nAt equal CPU time ({budget:.0} s), `{}` reaches the lowest validation NLL, {v:.3}",
            best.name
        );
        match settings.get(1).and_then(|n| Some((n, n.best_at(budget)?))) {
            Some((next, w)) => {
                s += &format!(", {:.3} below the next best, `{}`.\n", w - v, next.name)
            }
            None => s += ".\n",
        }
    }
    s
}

fn study_chart(dataset: &str, settings: &[StudySetting], budget: f64, path: &Path) -> Result<()> {
    let any_wall = settings.iter().any(|s| s.wall_fallback);
    let legend: Vec<(String, RGBColor, Swatch)> = settings
        .iter()
        .zip(PALETTE.iter().cycle())
        .map(|(s, c)| {
            (
                format!(
                    "{}{}",
                    s.name,
                    if s.wall_fallback { " (wall-clock)" } else { "" }
                ),
                *c,
                Swatch::Line {
                    dashed: s.carry_state == Some(false),
                },
            )
        })
        .collect();
    let Some(y) = YRange::of(settings.iter().flat_map(|s| s.curve.iter().map(|p| p.1))) else {
        bail!("no finite validation NLL to draw");
    };
    let xmax = settings
        .iter()
        .map(StudySetting::final_x)
        .fold(0.0, f64::max);
    let xhi = if xmax > 0.0 { xmax * 1.03 } else { 1.0 };
    let title = format!("Recipe study on {dataset}: best validation NLL against CPU time");
    let subtitle = format!(
        "Population's best validation NLL so far (min over members and epochs); dashed: state reset to zero \
         per chunk; grey line: common budget {budget:.0} s{}",
        if any_wall { "; (wall-clock) = no CPU time recorded, wall-clock used" } else { "" }
    );
    draw_figure(
        path,
        (FIG_W + 600, 800),
        &title,
        &subtitle,
        &legend,
        |body| {
            let mut builder = ChartBuilder::on(body);
            builder
                .margin(14)
                .x_label_area_size(56)
                .y_label_area_size(80);
            let y_desc = y.describe("best validation NLL so far (nats per frame)");
            if y.log {
                let chart = builder
                    .build_cartesian_2d(
                        0.0..xhi,
                        (y.lo..y.hi)
                            .log_scale()
                            .with_key_points(log_ticks(y.lo, y.hi)),
                    )
                    .context("building the chart")?;
                draw_study(chart, &y_desc, settings, budget, (y.lo, y.hi))
            } else {
                let chart = builder
                    .build_cartesian_2d(0.0..xhi, y.lo..y.hi)
                    .context("building the chart")?;
                draw_study(chart, &y_desc, settings, budget, (y.lo, y.hi))
            }
        },
    )
}

fn draw_study<Y>(
    mut chart: ChartContext<'_, BitMapBackend<'_>, Cartesian2d<RangedCoordf64, Y>>,
    y_desc: &str,
    settings: &[StudySetting],
    budget: f64,
    (lo, hi): (f64, f64),
) -> Result<()>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let x_desc = if settings.iter().all(|s| s.wall_fallback) {
        "wall-clock seconds"
    } else {
        "CPU seconds of the training thread"
    };
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style(("sans-serif", 20).into_font())
        .label_style(("sans-serif", 17).into_font())
        .x_labels(8)
        .x_label_formatter(&|v| tick_label(*v))
        .y_label_formatter(&|v| tick_label(*v))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(RGBColor(220, 220, 220))
        .draw()
        .context("drawing the axes")?;
    chart
        .draw_series(DashedLineSeries::new(
            vec![(budget, lo), (budget, hi)],
            6,
            6,
            RGBColor(150, 150, 150).stroke_width(2),
        ))
        .context("drawing the budget")?;
    for (s, color) in settings.iter().zip(PALETTE.iter().cycle()) {
        // A step: the best so far holds until the next epoch ends.
        let mut steps = Vec::new();
        for (i, p) in s.curve.iter().enumerate() {
            if i > 0 {
                steps.push((p.0, s.curve[i - 1].1));
            }
            steps.push(*p);
        }
        let style = color.stroke_width(3);
        if s.carry_state == Some(false) {
            chart
                .draw_series(DashedLineSeries::new(steps, 10, 6, style))
                .context("drawing a setting")?;
        } else {
            chart
                .draw_series(LineSeries::new(steps, style))
                .context("drawing a setting")?;
        }
        chart
            .draw_series(s.curve.iter().map(|p| Circle::new(*p, 4, color.filled())))
            .context("drawing points")?;
    }
    Ok(())
}
