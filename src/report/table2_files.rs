//! The files of a reproduction's Table 2 (`table2.md`, `table2.csv`, `table2.json`) and its figures, written by
//! `rnnlab reproduce` when its runs are collected and by `reproduce --merge`.

use super::table::{self, Row};
use crate::atomic::write_atomic;
use anyhow::Result;
use std::path::Path;

/// The figures of `out` into `out/plots/`. Drawing is a convenience on top of the tables, so a failure is a warning
/// (the tables are written already, and `rnnlab plot` can draw again).
pub fn draw_figures(out: &Path) {
    let plots = out.join("plots");
    match super::plot_all(&[out.to_path_buf()], &plots) {
        Ok(report) => {
            for note in &report.notes {
                eprintln!("plot note: {note}");
            }
            eprintln!(
                "{} figure(s) written to {}",
                report.written.len(),
                plots.display()
            );
        }
        Err(e) => eprintln!(
            "warning: no figures drawn ({e:#}); the tables are written; try rnnlab plot {}",
            out.display()
        ),
    }
}

/// Training wall-clock and CPU seconds summed over the rows' runs (every invocation of each run).
fn totals(rows: &[Row]) -> (f64, f64) {
    rows.iter()
        .fold((0.0, 0.0), |(w, c), r| (w + r.seconds, c + r.cpu_seconds))
}

/// Rows (each with the index of its source) in the paper's order: datasets by `dataset_pos`, units tanh, GRU, LSTM,
/// then cell name and source index.
pub fn paper_order(mut rows: Vec<(usize, Row)>, dataset_pos: impl Fn(&str) -> usize) -> Vec<Row> {
    rows.sort_by_key(|(i, r)| {
        let u = crate::paper::UNITS
            .iter()
            .position(|u| *u == r.unit)
            .unwrap_or(usize::MAX);
        (
            dataset_pos(&r.dataset),
            r.dataset.clone(),
            u,
            r.cell.clone(),
            *i,
        )
    });
    rows.into_iter().map(|(_, r)| r).collect()
}

/// Writes `table2.md`, `table2.csv` and `table2.json` of `rows` into `out` (each atomically); `seconds` is the
/// wall-clock of this invocation (0: not given), `quick` marks a smoke table.
pub fn write_tables(out: &Path, rows: &[Row], seconds: f64, quick: bool) -> Result<()> {
    write_tables_noted(out, rows, seconds, quick, "")
}

/// [`write_tables`] with `note` (Markdown, may be empty) at the end of `table2.md`.
pub fn write_tables_noted(
    out: &Path,
    rows: &[Row],
    seconds: f64,
    quick: bool,
    note: &str,
) -> Result<()> {
    let mut md = String::new();
    if quick {
        md += "_Quick smoke run (--quick): tiny subsets and 2 epochs; these numbers are not results._\n\n";
    }
    let t2 = table::Table2::new(rows.to_vec());
    md += &table::markdown(rows);
    if rows.iter().any(|r| r.seeds > 1) {
        md += "\n";
        md += &table::markdown_tests(&t2.tests);
    }
    let variants = table::markdown_variants(rows);
    if !variants.is_empty() {
        md += "\n";
        md += &variants;
    }
    let (wall, cpu) = totals(rows);
    md += "\n";
    if seconds > 0.0 {
        md += &format!("Wall-clock for this invocation: {seconds:.0} s. ");
    }
    md += &format!(
        "Summed over the runs and all their invocations (resumes included): {wall:.0} s of training wall-clock, \
         {cpu:.0} s of training-thread CPU time.\n"
    );
    md += note;
    write_atomic(&out.join("table2.md"), md.as_bytes())?;
    write_atomic(&out.join("table2.csv"), table::csv(rows).as_bytes())?;
    let json = serde_json::json!({
        "quick": quick,
        "seconds": seconds,
        "seconds_total": wall,
        "cpu_seconds_total": cpu,
        "rows": t2.rows,
        "tests": t2.tests,
    });
    write_atomic(
        &out.join("table2.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    Ok(())
}
