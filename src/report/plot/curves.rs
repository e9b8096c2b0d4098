//! `curves_<dataset>.png`: the learning curves of one dataset, train (solid) and validation (dashed) NLL of each
//! unit's best member; epochs on the left, wall-clock seconds on the right. The panels drawn here are shared by the
//! Fig. 2 grid (`fig2.rs`).

use super::nll_per;
use crate::report::chart::{draw_figure, log_ticks, tick_label, unit_color, Swatch, YRange, FIG_H};
use crate::report::UNITS;
use crate::run::view::{CurvePoint, RunData};
use anyhow::{anyhow, ensure, Context, Result};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// The run of each unit drawn for a dataset: when several runs share a unit family (paper_gru and torch_gru), the
/// one with the lowest validation NLL.
pub(super) fn best_runs<'a>(runs: &'a [RunData], dataset: &str) -> Vec<&'a RunData> {
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
pub(super) enum XAxis {
    Epochs,
    Seconds,
}

pub(super) fn curves_legend(chosen: &[&RunData]) -> Vec<(String, RGBColor, Swatch)> {
    let mut legend: Vec<(String, RGBColor, Swatch)> = chosen
        .iter()
        .map(|r| {
            if let Some(n) = seeded(r) {
                let label = format!(
                    "{} ({}, mean of {n} seeds' chosen members{})",
                    r.unit,
                    r.cell,
                    if r.summary.is_none() {
                        ", unfinished"
                    } else {
                        ""
                    }
                );
                return (label, unit_color(r.unit), Swatch::Line { dashed: false });
            }
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
            (label, unit_color(r.unit), Swatch::Line { dashed: false })
        })
        .collect();
    if chosen.iter().any(|r| seeded(r).is_some()) {
        legend.push((
            "band: min–max across seeds".into(),
            RGBColor(200, 200, 200),
            Swatch::Dot,
        ));
    }
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
    let title = format!(
        "Learning curves on {dataset}: {}",
        if chosen.iter().any(|r| seeded(r).is_some()) {
            "each unit's best member; over seeds, the mean of each seed's best with a min–max band"
        } else {
            "best member of each unit"
        }
    );
    let subtitle = format!(
        "NLL per {} (log axis when every value is positive); wall-clock is of the whole population, which \
         trains all members together",
        nll_per(dataset)
    );
    draw_figure(
        path,
        (2 * 800, FIG_H),
        &title,
        &subtitle,
        &curves_legend(&chosen),
        |body| {
            let panels = body.split_evenly((1, 2));
            curve_panel(&panels[0], &chosen, XAxis::Epochs, "against epochs")?;
            curve_panel(
                &panels[1],
                &chosen,
                XAxis::Seconds,
                "against wall-clock time",
            )?;
            Ok(())
        },
    )
}

pub(super) fn curve_panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    chosen: &[&RunData],
    x_axis: XAxis,
    caption: &str,
) -> Result<()> {
    let series: Vec<CurveSeries> = chosen.iter().map(|r| run_series(r, x_axis)).collect();
    let all = || {
        series.iter().flat_map(|c| {
            c.train.iter().chain(c.valid.iter()).copied().chain(
                c.bands
                    .iter()
                    .flatten()
                    .flat_map(|b| [(b.0, b.1), (b.0, b.2)]),
            )
        })
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

/// One run's curves on a panel: its colour, train and validation `(x, NLL)` and, over seeds, the train and
/// validation bands `(x, min, max)`.
pub(super) struct CurveSeries {
    color: RGBColor,
    train: Vec<(f64, f64)>,
    valid: Vec<(f64, f64)>,
    bands: [Vec<(f64, f64, f64)>; 2],
}

/// The seeds of a run drawn as a mean with a band: more than one, each with a chosen member.
fn seeded(r: &RunData) -> Option<usize> {
    let n = r.seed_members().iter().flatten().count();
    (r.seeds > 1 && n > 1).then_some(n)
}

/// A run's curves: its best member's, or with seeds the mean across seeds of each seed's chosen member, at each
/// epoch where at least one of them has a value, with the min–max across seeds as a band.
fn run_series(r: &RunData, x_axis: XAxis) -> CurveSeries {
    let x = |c: &CurvePoint| match x_axis {
        XAxis::Epochs => c.epoch,
        XAxis::Seconds => c.seconds,
    };
    let members: Vec<usize> = match seeded(r) {
        Some(_) => r.seed_members().into_iter().flatten().collect(),
        None => vec![r.best_member().unwrap_or(0)],
    };
    let curves: Vec<Vec<CurvePoint>> = members.iter().map(|m| r.curve(*m)).collect();
    let pick = |val: fn(&CurvePoint) -> Option<f64>| {
        let mut line = Vec::new();
        let mut band = Vec::new();
        for (i, c) in curves[0].iter().enumerate() {
            let v: Vec<f64> = curves
                .iter()
                .filter_map(|k| k.get(i).and_then(val))
                .collect();
            if v.is_empty() || !x(c).is_finite() {
                continue;
            }
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            line.push((x(c), mean));
            if curves.len() > 1 {
                let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                band.push((x(c), lo, hi));
            }
        }
        (line, band)
    };
    let (train, train_band) = pick(|c| c.train);
    let (valid, valid_band) = pick(|c| c.valid);
    CurveSeries {
        color: unit_color(r.unit),
        train,
        valid,
        bands: [train_band, valid_band],
    }
}

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
    // Bands first, so that every line lies on top of them.
    for c in series {
        for band in c.bands.iter().filter(|b| b.len() > 1) {
            let outline: Vec<(f64, f64)> = band
                .iter()
                .map(|b| (b.0, b.1))
                .chain(band.iter().rev().map(|b| (b.0, b.2)))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(
                    outline,
                    c.color.mix(0.18).filled(),
                )))
                .context("drawing a band")?;
        }
    }
    for CurveSeries {
        color,
        train,
        valid,
        ..
    } in series
    {
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
