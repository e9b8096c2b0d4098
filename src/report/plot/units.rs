//! `units_<dataset>.png`: every unit of one dataset with its interval over seeds, sorted by mean test NLL, for
//! tables that hold units beyond the paper's. One row per unit: the 95 % t-interval as a bar, the mean as a square,
//! each seed's chosen member as a ring; vertical lines at the GRU's and the LSTM's means.

use super::nll_per;
use crate::report::chart::{draw_figure, unit_color, Swatch, FIG_W, HEADER_H};
use crate::report::stats::SeedStats;
use crate::report::table::Row;
use anyhow::{ensure, Context, Result};
use plotters::prelude::*;
use std::path::Path;

/// The colour of a unit beyond the paper's three.
const OTHER: RGBColor = RGBColor(80, 80, 80);

/// One unit's row of the chart.
struct UnitRow {
    label: String,
    unit: String,
    mean: f64,
    ci: Option<(f64, f64)>,
    seeds: Vec<f64>,
}

fn unit_rows(rows: &[Row], dataset: &str) -> Vec<UnitRow> {
    let mut out: Vec<UnitRow> = rows
        .iter()
        .filter(|r| r.dataset == dataset)
        .filter_map(|r| {
            let seeds: Vec<f64> = r
                .test_nll_seeds
                .iter()
                .flatten()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            // The row's own statistics (`table::row` fills them); a table written before they were stored has
            // none, and gets them from its per-seed values.
            let stats = r
                .test_nll_stats
                .clone()
                .unwrap_or_else(|| SeedStats::new(&r.seed_values()));
            let mean = stats.mean.unwrap_or(r.test_nll);
            mean.is_finite().then(|| UnitRow {
                label: format!("{} (n={})", r.unit, stats.n.max(1)),
                unit: r.unit.clone(),
                mean,
                ci: stats.ci95,
                seeds,
            })
        })
        .collect();
    // Worst first: the chart's first row is its bottom one, so the best unit is drawn on top.
    out.sort_by(|a, b| b.mean.total_cmp(&a.mean));
    out
}

/// Draws `units_<dataset>.png` for `dataset` from Table 2 rows.
pub fn units_chart(rows: &[Row], dataset: &str, path: &Path) -> Result<()> {
    let units = unit_rows(rows, dataset);
    ensure!(!units.is_empty(), "no {dataset} row with a finite test NLL");
    let values: Vec<f64> = units
        .iter()
        .flat_map(|u| {
            let mut v = vec![u.mean];
            v.extend(u.ci.map_or(vec![], |(lo, hi)| vec![lo, hi]));
            v.extend(&u.seeds);
            v
        })
        .collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.08).max(0.01);
    // Room on the right for the value written beside the last interval.
    let (lo, hi) = (lo - pad, hi + 3.0 * pad);
    let n = units.len();
    let height = HEADER_H + 120 + 46 * n as u32;
    let references: Vec<(&UnitRow, RGBColor)> = ["gru", "lstm"]
        .iter()
        .filter_map(|r| units.iter().find(|u| u.unit == *r))
        .map(|u| (u, unit_color(&u.unit)))
        .collect();
    let mut legend = vec![
        (
            "mean over seeds ± 95 % t-interval".to_string(),
            OTHER,
            Swatch::ErrorBar,
        ),
        ("each seed's chosen member".to_string(), OTHER, Swatch::Ring),
    ];
    for (u, c) in &references {
        legend.push((
            format!("{} mean", u.unit.to_uppercase()),
            *c,
            Swatch::Line { dashed: true },
        ));
    }
    let title = format!("Units on {dataset}: test NLL over seeds");
    let subtitle = "Each seed's chosen member (best learning rate of its own search by validation NLL), best on \
                    top; lower is better";
    draw_figure(path, (FIG_W, height), &title, subtitle, &legend, |body| {
        let mut chart = ChartBuilder::on(body)
            .margin(18)
            .x_label_area_size(56)
            .y_label_area_size(170)
            .build_cartesian_2d(lo..hi, (0..n as i32 - 1).into_segmented())
            .context("building the chart")?;
        let label_of = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => units
                .get(*i as usize)
                .map(|u| u.label.clone())
                .unwrap_or_default(),
            SegmentValue::Last => String::new(),
        };
        chart
            .configure_mesh()
            .x_desc(format!("test NLL (nats per {})", nll_per(dataset)))
            .y_labels(n)
            .y_label_formatter(&label_of)
            .label_style(("sans-serif", 17))
            .axis_desc_style(("sans-serif", 19))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .context("drawing the axes")?;
        for (u, color) in &references {
            chart
                .draw_series(DashedLineSeries::new(
                    [
                        (u.mean, SegmentValue::Exact(0)),
                        (u.mean, SegmentValue::Last),
                    ],
                    8,
                    6,
                    color.stroke_width(2),
                ))
                .context("drawing a reference line")?;
        }
        let font = ("sans-serif", 15).into_font();
        for (i, u) in units.iter().enumerate() {
            let color = if crate::cells::PAPER_FAMILIES.contains(&u.unit.as_str()) {
                unit_color(&u.unit)
            } else {
                OTHER
            };
            let y = SegmentValue::CenterOf(i as i32);
            if let Some((a, b)) = u.ci {
                let bar = color.stroke_width(3);
                let at = |v: f64| chart.backend_coord(&(v, y.clone())).0;
                let (l, r) = (at(a) - at(u.mean), at(b) - at(u.mean));
                chart
                    .draw_series(std::iter::once(
                        EmptyElement::at((u.mean, y.clone()))
                            + PathElement::new(vec![(l, 0), (r, 0)], bar)
                            + PathElement::new(vec![(l, -8), (l, 8)], bar)
                            + PathElement::new(vec![(r, -8), (r, 8)], bar)
                            + Text::new(
                                format!("{:.3} ± {:.3}", u.mean, (b - a) / 2.0),
                                (r + 10, -8),
                                font.clone(),
                            ),
                    ))
                    .context("drawing an interval")?;
            }
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((u.mean, y.clone()))
                        + Rectangle::new([(-7, -7), (7, 7)], color.filled()),
                ))
                .context("drawing a mean")?;
            chart
                .draw_series(u.seeds.iter().map(|v| {
                    EmptyElement::at((*v, y.clone()))
                        + Circle::new((0, 14), 3, color.stroke_width(2))
                }))
                .context("drawing the seeds")?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(unit: &str, seeds: &[f64]) -> Row {
        // A committed Table 2 row (JSB, 5 seeds) as the template.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/results/table2-jsb-5seeds.json"
        );
        let file = crate::report::inputs::read_table2_file(Path::new(path)).unwrap();
        let mut r = file.rows[0].clone();
        r.unit = unit.into();
        r.cell = unit.into();
        r.seeds = seeds.len();
        r.test_nll_seeds = seeds.iter().map(|v| Some(*v)).collect();
        r.test_nll_stats = Some(SeedStats::new(seeds));
        r
    }

    /// Rows are the mean over each unit's seeds, worst first (drawn at the bottom), and the figure is a PNG. A row
    /// without stored statistics (a table written before they were) gets them from its per-seed values.
    #[test]
    fn units_are_sorted_by_mean_and_drawn() {
        let mut without_stats = row("mgu", &[8.7, 8.72, 8.71]);
        without_stats.test_nll_stats = None;
        let rows = [
            row("gru", &[8.6, 8.62, 8.58]),
            without_stats,
            row("lstm_cifg", &[8.5, 8.52, 8.51]),
        ];
        let order: Vec<String> = unit_rows(&rows, "jsb")
            .into_iter()
            .map(|u| u.unit)
            .collect();
        assert_eq!(order, ["mgu", "gru", "lstm_cifg"]);
        let units = unit_rows(&rows, "jsb");
        assert!((units[1].mean - 8.6).abs() < 1e-12, "{}", units[1].mean);
        assert!((units[0].mean - 8.71).abs() < 1e-12, "{}", units[0].mean);
        assert_eq!(units[0].ci, SeedStats::new(&[8.7, 8.72, 8.71]).ci95);
        assert_eq!(units[0].label, "mgu (n=3)");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("units_jsb.png");
        units_chart(&rows, "jsb", &path).unwrap();
        assert_eq!(&std::fs::read(&path).unwrap()[1..4], b"PNG");
        assert!(units_chart(&rows, "nottingham", &path).is_err());
    }
}
