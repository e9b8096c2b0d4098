//! The on-screen table of a benchmark run ([`format_table`]): one line per row, the machine, then per cell and
//! direction the geometric means of the custom tiers' ratios to libtorch's whole-sequence op.

use super::{Direction, Meta, Report, Row, Tier};
use crate::cells::CellKind;
use std::fmt::Write as _;

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{r:.2}"))
}

/// The on-screen table: one line per row, grouped by shape and cell, then the machine and a summary.
pub fn format_table(report: &Report) -> String {
    let m = &report.meta;
    let cudnn = report.rows.iter().any(|r| r.ratio_to_cudnn.is_some());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<11} {:<15} {:<24} {:<8} {:>10} {:>10} {:>10} {:>9} {:>7}{} {:>8}",
        "cell",
        "tier",
        "shape",
        "dir",
        "median ms",
        "p10 ms",
        "p90 ms",
        "µs/step",
        "×seq",
        if cudnn { "  ×cudnn" } else { "" },
        "GFLOP/s"
    );
    let mut last_group = None;
    for r in &report.rows {
        let group = (r.shape, r.unit.clone());
        if last_group.as_ref().is_some_and(|g| *g != group) {
            out.push('\n');
        }
        last_group = Some(group);
        let tier = match r.population {
            Some(k) => format!("{} {}/K{k}", r.tier, r.tier_name.name()),
            None => format!("{} {}", r.tier, r.tier_name.name()),
        };
        let _ = writeln!(
            out,
            "{:<11} {:<15} {:<24} {:<8} {:>10.3} {:>10.3} {:>10.3} {:>9.1} {:>7}{} {:>8.2}",
            r.cell,
            tier,
            r.shape.label(),
            r.direction.short(),
            r.median_ms,
            r.p10_ms,
            r.p90_ms,
            r.step_us,
            fmt_ratio(r.ratio_to_seq),
            if cudnn {
                format!(" {:>7}", fmt_ratio(r.ratio_to_cudnn))
            } else {
                String::new()
            },
            r.gflops
        );
    }
    let _ = writeln!(
        out,
        "\n{} on {} ({}, {} threads{}), {} f32; libtorch {}. Times per model; ×seq = median / libtorch's \
         whole-sequence op (cuDNN off) of the same unit.",
        m.framework,
        m.device,
        m.device_name,
        m.threads,
        if m.onednn { "" } else { ", oneDNN off" },
        m.version,
        m.libtorch
    );
    let _ = writeln!(
        out,
        "Arithmetic peak (f32 {n}³ matmul): {:.1} GFLOP/s; dispatch floor: {:.2} µs per tiny op.",
        m.peak_matmul_gflops,
        m.op_overhead_us,
        n = m.peak_matmul_n
    );
    out.push_str(&format_summary(report));
    let over_peak: Vec<&Row> = report
        .rows
        .iter()
        .filter(|r| r.gflops > m.peak_matmul_gflops)
        .collect();
    if over_peak
        .iter()
        .any(|r| !(is_onednn_lstm(m, r) && r.gflops <= 1.3 * m.peak_matmul_gflops))
    {
        let _ = writeln!(
            out,
            "note: some rows beat the measured peak by more than a fused kernel explains, so the machine was \
             probably busy while the peak was measured: with several threads, libtorch's OpenMP stalls whenever \
             another process holds a core. Rerun on a quiet machine or with --threads 1."
        );
    } else if !over_peak.is_empty() {
        let _ = writeln!(
            out,
            "note: on CPU, libtorch's LSTM op runs oneDNN's fused LSTM layer, whose own GEMMs beat the peak measured \
             with a plain libtorch matmul (by up to {:.0} %); --no-onednn makes it run per-step ops instead.",
            over_peak
                .iter()
                .map(|r| (r.gflops / m.peak_matmul_gflops - 1.0) * 100.0)
                .fold(0.0, f64::max)
        );
    }
    for note in &m.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

/// Whether this row is `at::lstm` on CPU with oneDNN allowed (aten::mkldnn_rnn_layer: one fused kernel).
fn is_onednn_lstm(m: &Meta, r: &Row) -> bool {
    m.onednn && r.device == "cpu" && r.unit == "lstm" && r.tier_name == Tier::BuiltinSeq
}

/// Geometric mean of these rows' `ratio_to_seq` (rows without one are skipped); `None` when none has one.
pub(super) fn seq_ratio_geomean<'a>(rows: impl Iterator<Item = &'a Row>) -> Option<f64> {
    let xs: Vec<f64> = rows.filter_map(|r| r.ratio_to_seq).collect();
    (!xs.is_empty()).then(|| geomean(&xs))
}

/// Geometric mean of positive numbers.
pub fn geomean(xs: &[f64]) -> f64 {
    (xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp()
}

/// Per cell and direction, geometric means over shapes: each custom tier's ratio to the whole-sequence op, and the
/// fused tier's achieved rate and share of the arithmetic peak.
fn format_summary(report: &Report) -> String {
    let mut out = String::new();
    let mut keys: Vec<(String, Direction)> = report
        .rows
        .iter()
        .map(|r| (r.cell.clone(), r.direction))
        .collect();
    keys.sort_by_key(|(c, d)| (CellKind::ALL.iter().position(|k| k.name() == c), *d));
    keys.dedup();
    if keys.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "Summary, geometric means over shapes: custom tiers / builtin_seq (below 1: faster than libtorch's op); \
         the fused tier's matmul rate"
    );
    for (cell, dir) in keys {
        let rows: Vec<&Row> = report
            .rows
            .iter()
            .filter(|r| r.cell == cell && r.direction == dir)
            .collect();
        let ratio = |tier: Tier| -> String {
            seq_ratio_geomean(rows.iter().copied().filter(|r| r.tier_name == tier))
                .map_or("-".into(), |x| format!("{x:.2}"))
        };
        let fused: Vec<f64> = rows
            .iter()
            .filter(|r| r.tier_name == Tier::Fused)
            .map(|r| r.gflops)
            .collect();
        let rate = if fused.is_empty() {
            "-".into()
        } else {
            let g = geomean(&fused);
            format!(
                "{g:.2} GFLOP/s ({:.1}% of peak)",
                100.0 * g / report.meta.peak_matmul_gflops
            )
        };
        let _ = writeln!(
            out,
            "  {cell:<11} {:<8} naive {:>5}  fused {:>5}  population {:>5}   fused {rate}",
            dir.short(),
            ratio(Tier::Naive),
            ratio(Tier::Fused),
            ratio(Tier::Population),
        );
    }
    out
}
