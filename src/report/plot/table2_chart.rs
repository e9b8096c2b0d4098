//! `table2.png`: Table 2 at a glance, one panel per dataset, our test NLL of each unit beside the paper's.

use super::{dataset_order, nll_per};
use crate::report::chart::{diamond, draw_figure, unit_color, Swatch, FIG_H, FIG_W};
use crate::report::table::{Row, PAPER_TABLE2};
use crate::report::UNITS;
use anyhow::{ensure, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// The paper's marker.
const PAPER_MARK: RGBColor = RGBColor(40, 40, 40);

/// Table 2 at a glance: one panel per dataset, test NLL of each unit, ours beside the paper's.
pub fn table2_chart(rows: &[Row], path: &Path) -> Result<()> {
    let mut datasets: Vec<&str> = rows.iter().map(|r| r.dataset.as_str()).collect();
    datasets.sort_by_key(|d| dataset_order(d));
    datasets.dedup();
    ensure!(!datasets.is_empty(), "no Table 2 rows");
    let n = datasets.len() as u32;
    let width = (440 * n).max(FIG_W);
    let seeds = rows.iter().filter_map(|r| seeded(r).map(|_| r.seeds)).max();
    let mut legend = vec![];
    if rows.iter().any(|r| seeded(r).is_none()) {
        legend.push((
            "ours (best member by validation)".to_string(),
            RGBColor(60, 60, 60),
            Swatch::Dot,
        ));
    }
    if let Some(n) = seeds {
        legend.push((
            format!("ours: mean over seeds (up to {n}) ± 95 % t-interval"),
            RGBColor(60, 60, 60),
            Swatch::ErrorBar,
        ));
        legend.push((
            "each seed's chosen member".to_string(),
            RGBColor(60, 60, 60),
            Swatch::Ring,
        ));
    }
    legend.extend([(
        "paper (Chung et al. 2014, Table 2)".to_string(),
        PAPER_MARK,
        Swatch::HollowDiamond,
    )]);
    let title = "Table 2 at a glance: test NLL per dataset and unit";
    let subtitle = "Average negative log-likelihood on the test set, per frame (music) or per step (speech); lower \
                    is better; colour = unit";
    draw_figure(path, (width, FIG_H), title, subtitle, &legend, |body| {
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
    // The axis holds every point drawn: our best member, the seeds' mean and interval ends, each seed, the paper.
    let values: Vec<f64> = ours
        .iter()
        .flat_map(|r| {
            let mut v = vec![r.test_nll];
            if let Some(s) = seeded(r) {
                v.extend([s.mean, s.lo, s.hi]);
                v.extend(s.seeds.iter().copied());
            }
            v
        })
        .chain(paper.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
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
        let color = unit_color(u);
        let x = SegmentValue::CenterOf(i as i32);
        let mine: Vec<&&Row> = ours.iter().filter(|r| r.unit == *u).collect();
        for (j, r) in mine.iter().enumerate() {
            let dx = -26 - 34 * j as i32;
            let Some(s) = seeded(r) else {
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
                continue;
            };
            // Over seeds: the interval as a bar with caps, the mean as a filled square, each seed a small ring
            // beside the bar.
            let at = |v: f64| chart.backend_coord(&(x.clone(), v)).1;
            let (top, bottom) = (at(s.hi) - at(s.mean), at(s.lo) - at(s.mean));
            let bar = color.stroke_width(3);
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((x.clone(), s.mean))
                        + PathElement::new(vec![(dx, top), (dx, bottom)], bar)
                        + PathElement::new(vec![(dx - 8, top), (dx + 8, top)], bar)
                        + PathElement::new(vec![(dx - 8, bottom), (dx + 8, bottom)], bar),
                ))
                .context("drawing an error bar")?;
            let text = if mine.len() > 1 {
                format!("{:.2}±{:.2} {}", s.mean, (s.hi - s.lo) / 2.0, r.cell)
            } else {
                format!("{:.2}±{:.2}", s.mean, (s.hi - s.lo) / 2.0)
            };
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((x.clone(), s.mean))
                        + Rectangle::new([(dx - 7, -7), (dx + 7, 7)], color.filled())
                        + Text::new(text, (dx - 40, top - 24), label_font.clone()),
                ))
                .context("drawing a mean")?;
            chart
                .draw_series(s.seeds.iter().map(|v| {
                    EmptyElement::at((x.clone(), *v))
                        + Circle::new((dx - 14, 0), 3, color.stroke_width(2))
                }))
                .context("drawing the seeds")?;
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

/// A row's statistics over seeds, when it has more than one seed with an interval.
struct Seeded {
    mean: f64,
    lo: f64,
    hi: f64,
    seeds: Vec<f64>,
}

fn seeded(r: &Row) -> Option<Seeded> {
    if r.seeds < 2 {
        return None;
    }
    let st = r.test_nll_stats.as_ref()?;
    let (lo, hi) = st.ci95?;
    Some(Seeded {
        mean: st.mean?,
        lo,
        hi,
        seeds: r
            .test_nll_seeds
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
            .collect(),
    })
}
