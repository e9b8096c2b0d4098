//! The benchmark chart: time per step of each tier against shape, one panel per unit and direction.
//!
//! Written atomically (temp file, then rename). Rows: forward, then forward+backward; columns: the units present (tanh, gru, lstm). In each panel the x axis
//! lists the shapes in run order, the y axis is the median time per time step in µs (log scale), and each tier of
//! the torch form is one line (the paper forms are in the table and the JSON, not here, to keep one line per tier).

use crate::bench::{Direction, Report, Row, Shape, Tier};
use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;
use std::path::Path;

const PANEL_W: u32 = 760;
const PANEL_H: u32 = 420;
/// Title line and the legend row under it.
const TITLE_H: u32 = 80;

fn tier_color(t: Tier) -> RGBColor {
    match t {
        Tier::Naive => RGBColor(214, 39, 40),
        Tier::Fused => RGBColor(31, 119, 180),
        Tier::BuiltinCell => RGBColor(255, 127, 14),
        Tier::BuiltinSeq => RGBColor(44, 160, 44),
        Tier::Cudnn => RGBColor(148, 103, 189),
        Tier::Population => RGBColor(23, 190, 207),
    }
}

fn tier_label(t: Tier, rows: &[&Row]) -> String {
    match rows.iter().find_map(|r| r.population) {
        Some(k) if t == Tier::Population => format!("{} population (K={k}, per model)", t.number()),
        _ => format!("{} {}", t.number(), t.name()),
    }
}

/// Draws `report` as a PNG at `path`.
pub fn plot_bench(report: &Report, path: &Path) -> Result<()> {
    let rows: Vec<&Row> = report.rows.iter().filter(|r| r.form == "torch").collect();
    anyhow::ensure!(!rows.is_empty(), "no torch-form rows to plot");
    let mut units: Vec<&str> = vec![];
    for u in super::UNITS {
        if rows.iter().any(|r| r.unit == u) {
            units.push(u);
        }
    }
    let width = PANEL_W * units.len() as u32;
    let height = TITLE_H + PANEL_H * 2;
    let m = &report.meta;
    let title = format!(
        "{} bench on {} ({}, {} threads): median time per step, f32",
        m.framework, m.device, m.device_name, m.threads
    );
    super::chart::draw_png(path, (width, height), |root| {
        let err = |e: &dyn std::fmt::Display| anyhow!("{e}");
        let (top, body) = root.split_vertically(TITLE_H);
        top.draw(&Text::new(title, (20, 12), ("sans-serif", 22).into_font()))
            .map_err(|e| err(&e))?;
        // One legend for every panel, in a row under the title, so no panel's lines are hidden behind it.
        let mut x = 20;
        for tier in Tier::ALL {
            if !rows.iter().any(|r| r.tier_name == tier) {
                continue;
            }
            let color = tier_color(tier);
            let label = tier_label(tier, &rows);
            top.draw(&PathElement::new(
                vec![(x, 58), (x + 28, 58)],
                color.stroke_width(3),
            ))
            .map_err(|e| err(&e))?;
            top.draw(&Circle::new((x + 14, 58), 4, color.filled()))
                .map_err(|e| err(&e))?;
            let font = TextStyle::from(("sans-serif", 15).into_font());
            let (w, _) = top.estimate_text_size(&label, &font).map_err(|e| err(&e))?;
            top.draw(&Text::new(label, (x + 36, 50), font))
                .map_err(|e| err(&e))?;
            x += 36 + w as i32 + 30;
        }
        let panels = body.split_evenly((2, units.len()));
        for (i, panel) in panels.iter().enumerate() {
            let direction = Direction::ALL[i / units.len()];
            let unit = units[i % units.len()];
            let sel: Vec<&Row> = rows
                .iter()
                .copied()
                .filter(|r| r.unit == unit && r.direction == direction)
                .collect();
            draw_panel(panel, unit, direction, &sel)?;
        }
        Ok(())
    })
}

fn draw_panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    unit: &str,
    direction: Direction,
    rows: &[&Row],
) -> Result<()> {
    let mut shapes: Vec<Shape> = vec![];
    for r in rows {
        if !shapes.contains(&r.shape) {
            shapes.push(r.shape);
        }
    }
    let n = shapes.len() as i32;
    let (lo, hi) = rows.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), r| {
        (lo.min(r.step_us), hi.max(r.step_us))
    });
    let (lo, hi) = if rows.is_empty() {
        (1.0, 10.0)
    } else {
        (lo / 1.5, hi * 1.5)
    };
    let caption = format!(
        "{unit}, {}",
        match direction {
            Direction::Forward => "forward",
            Direction::ForwardBackward => "forward + backward",
        }
    );
    let mut chart = ChartBuilder::on(area)
        // The unit's colour of every other figure (tiers take the line colours here).
        .caption(
            caption,
            ("sans-serif", 18)
                .into_font()
                .color(&super::unit_color(unit)),
        )
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d((0..n.max(1) - 1).into_segmented(), (lo..hi).log_scale())
        .context("building the chart")?;
    let label_of = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => shapes
            .get(*i as usize)
            .map(|s| {
                if s.input == 88 {
                    format!("B{} T{}", s.batch, s.seq)
                } else {
                    format!("B{} T{} H{}", s.batch, s.seq, s.hidden)
                }
            })
            .unwrap_or_default(),
        SegmentValue::Last => String::new(),
    };
    chart
        .configure_mesh()
        .x_labels(shapes.len().max(1))
        .x_label_formatter(&label_of)
        .x_label_style(("sans-serif", 14).into_font())
        .y_label_style(("sans-serif", 14).into_font())
        .axis_desc_style(("sans-serif", 16).into_font())
        .y_labels(8)
        .y_desc("µs per step")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .context("drawing the axes")?;
    for tier in Tier::ALL {
        let mut pts: Vec<(SegmentValue<i32>, f64)> = rows
            .iter()
            .filter(|r| r.tier_name == tier)
            .filter_map(|r| {
                let i = shapes.iter().position(|s| *s == r.shape)? as i32;
                Some((SegmentValue::CenterOf(i), r.step_us))
            })
            .collect();
        if pts.is_empty() {
            continue;
        }
        pts.sort_by_key(|(x, _)| match x {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => *i,
            SegmentValue::Last => i32::MAX,
        });
        let color = tier_color(tier);
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .context("drawing a line")?;
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))
            .context("drawing points")?;
    }
    Ok(())
}
