//! `fig2_nottingham_musedata.png`: the paper's Fig. 2, the learning curves of several datasets in one grid.

use super::curves::{best_runs, curve_panel, curves_legend, XAxis};
use crate::report::chart::{draw_figure, unit_color, Swatch, FIG_W, HEADER_H};
use crate::run::view::RunData;
use anyhow::{ensure, Result};
use plotters::prelude::*;
use std::path::Path;

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
                unit_color(r.unit),
                Swatch::Line { dashed: false },
            )
        })
        .collect();
    legend.extend(curves_legend(&[]));
    let title = format!(
        "Learning curves (as Fig. 2 of Chung et al. 2014): {}",
        columns.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
    );
    let subtitle = "Best member of each unit; top: against epochs, bottom: against wall-clock time (whole population)";
    draw_figure(
        path,
        (width, HEADER_H + 2 * 560),
        &title,
        subtitle,
        &legend,
        |body| {
            let panels = body.split_evenly((2, columns.len()));
            for (i, (d, chosen)) in columns.iter().enumerate() {
                curve_panel(&panels[i], chosen, XAxis::Epochs, d)?;
                curve_panel(&panels[columns.len() + i], chosen, XAxis::Seconds, d)?;
            }
            Ok(())
        },
    )
}
