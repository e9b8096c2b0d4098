//! `lr_search_<dataset>.png`: the learning-rate search of one dataset, each member's final validation NLL against
//! its learning rate.

use super::nll_per;
use crate::report::chart::{
    draw_figure, log_range, log_ticks, tick_label, unit_color, Swatch, YRange, FIG_H, FIG_W,
};
use crate::report::UNITS;
use crate::run::view::{MemberPoint, RunData};
use anyhow::{ensure, Context, Result};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;
use std::path::Path;

/// Diverged members' crosses.
const DIVERGED_MARK: RGBColor = RGBColor(120, 120, 120);

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
                unit_color(r.unit),
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
    let title = format!("Learning-rate search on {dataset}");
    let subtitle = "Each member's validation NLL at its best weights (unfinished runs: the best so far); line: \
                    mean over seeds of the members that did not diverge";
    draw_figure(path, (FIG_W, FIG_H), &title, subtitle, &legend, |body| {
        let mut builder = ChartBuilder::on(body);
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
        let color = unit_color(r.unit);
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
