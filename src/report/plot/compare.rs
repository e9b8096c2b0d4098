//! `compare_<dataset>.png` (from `rnnlab compare`): one row per unit, the validation NLL of the population's best
//! member for each implementation; against epochs on the left (the four curves should lie on each other) and
//! against wall-clock seconds on the right (where they part). Lines are drawn widest first, so that curves lying on
//! each other stay visible as nested bands.

use crate::compare::{Comparison, ImplResult};
use crate::report::chart::{draw_figure, linear_range, tick_label, Swatch, HEADER_H};
use anyhow::{ensure, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// Colour and line width per implementation (Okabe–Ito colours).
fn style(implementation: &str) -> (RGBColor, u32) {
    match implementation {
        "custom_member" => (RGBColor(230, 159, 0), 10),
        "builtin_seq" => (RGBColor(86, 180, 233), 7),
        "builtin_cell" => (RGBColor(204, 121, 167), 4),
        _ => (RGBColor(0, 0, 0), 2),
    }
}

fn label(implementation: &str) -> &'static str {
    match implementation {
        "custom_member" => "custom, member by member",
        "builtin_seq" => "builtin_seq (at::gru/lstm/rnn_tanh)",
        "builtin_cell" => "builtin_cell (at::*_cell)",
        _ => "custom population (one batched op)",
    }
}

/// The points (x, valid NLL of `member`) of one implementation's curve.
fn points(r: &ImplResult, member: usize, seconds: bool) -> Vec<(f64, f64)> {
    r.curve
        .iter()
        .filter_map(|p| {
            let v = p.members.get(member)?[1]?;
            let x = if seconds { p.seconds } else { p.epoch as f64 };
            Some((x, v))
        })
        .collect()
}

/// Draws `rnnlab compare`'s figure to `path` (PNG): one row per unit, the validation NLL of the population's best
/// member for every implementation, against epochs and against wall-clock time.
pub fn compare_chart(c: &Comparison, path: &Path) -> Result<()> {
    ensure!(!c.cells.is_empty(), "nothing compared");
    let rows = c.cells.len() as u32;
    let row_h = 480;
    let legend: Vec<(String, RGBColor, Swatch)> = c.cells[0]
        .implementations
        .iter()
        .map(|r| {
            let name = r.implementation.name();
            (
                label(name).to_string(),
                style(name).0,
                Swatch::Line { dashed: false },
            )
        })
        .collect();
    let title = format!(
        "Custom cells against libtorch's built-ins in training: {} ({:?}, {})",
        c.dataset, c.dtype, c.device
    );
    let subtitle = "validation NLL (nats per frame) of the population's best member; same initial weights, noise \
                    and batches; wall-clock of the whole population (each run on one thread)";
    draw_figure(
        path,
        (1600, HEADER_H + rows * row_h),
        &title,
        subtitle,
        &legend,
        |body| {
            let panels = body.split_evenly((c.cells.len(), 2));
            for (i, cell) in c.cells.iter().enumerate() {
                let member = cell
                    .implementations
                    .last()
                    .and_then(|r| r.best_member)
                    .unwrap_or(0);
                for (j, seconds) in [false, true].into_iter().enumerate() {
                    panel(
                        &panels[2 * i + j],
                        &cell.implementations,
                        member,
                        seconds,
                        &format!(
                            "{}, member {member}: against {}",
                            cell.cell,
                            if seconds { "wall-clock time" } else { "epochs" }
                        ),
                    )?;
                }
            }
            Ok(())
        },
    )
}

fn panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    runs: &[ImplResult],
    member: usize,
    seconds: bool,
    caption: &str,
) -> Result<()> {
    let series: Vec<(&str, Vec<(f64, f64)>)> = runs
        .iter()
        .map(|r| (r.implementation.name(), points(r, member, seconds)))
        .collect();
    let ys = || series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1));
    let (lo, hi) = linear_range(ys()).context("no finite NLL to draw")?;
    let xmax = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.0))
        .fold(0.0f64, f64::max);
    let xlo = if seconds { 0.0 } else { 1.0 };
    let xhi = if xmax > xlo { xmax * 1.03 } else { xlo + 1.0 };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 22).into_font())
        .margin(14)
        .x_label_area_size(56)
        .y_label_area_size(80)
        .build_cartesian_2d(xlo..xhi, lo..hi)
        .context("building the chart")?;
    chart
        .configure_mesh()
        .x_desc(if seconds { "wall-clock (s)" } else { "epoch" })
        .y_desc("valid NLL (nats per frame)")
        .axis_desc_style(("sans-serif", 20).into_font())
        .label_style(("sans-serif", 17).into_font())
        .x_labels(8)
        .x_label_formatter(&|v| {
            if seconds {
                tick_label(*v)
            } else if (v - v.round()).abs() < 1e-9 {
                format!("{v:.0}")
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| format!("{v:.3}"))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(RGBColor(220, 220, 220))
        .draw()
        .context("drawing the axes")?;
    for (name, pts) in &series {
        let (color, width) = style(name);
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(width)))
            .context("drawing a curve")?;
        chart
            .draw_series(
                pts.iter()
                    .map(|p| Circle::new(*p, width as i32 / 2 + 3, color.filled())),
            )
            .context("drawing points")?;
    }
    Ok(())
}
