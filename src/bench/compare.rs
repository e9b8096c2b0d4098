//! rnnlab against PyTorch: one table from two benchmark reports of the same tiers and shapes.
//!
//! `scripts/bench_pytorch.py` writes a [`Report`] in rnnlab's schema (`framework: pytorch`, `variant: eager` or
//! `torchscript`). Rows pair up when cell, tier, shape, direction, population size and dtype agree; each pair gives
//! `ratio = rnnlab median / PyTorch median` (below 1: rnnlab is faster). Both reports should come from the same
//! machine at about the same time; a mismatch in device or thread count is flagged in the table's notes.

use super::{geomean, Direction, Report, Row, Shape, Tier};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One rnnlab row beside one PyTorch row of the same case.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CompareRow {
    /// Cell name (`tanh`, `torch_gru`, …).
    pub cell: String,
    /// Tier number, 1–6.
    pub tier: u8,
    /// The tier as a name.
    pub tier_name: Tier,
    /// Sizes of the case.
    pub shape: Shape,
    /// Forward only or forward and backward.
    pub direction: Direction,
    /// K for the population tier (times are per model).
    pub population: Option<i64>,
    /// rnnlab's median, ms.
    pub rnnlab_ms: f64,
    /// `eager` or `torchscript`.
    pub pytorch_variant: String,
    /// PyTorch's median, ms.
    pub pytorch_ms: f64,
    /// rnnlab / PyTorch (below 1: rnnlab is faster).
    pub ratio: f64,
}

fn same_case(a: &Row, b: &Row) -> bool {
    a.cell == b.cell
        && a.tier_name == b.tier_name
        && a.shape == b.shape
        && a.direction == b.direction
        && a.population == b.population
        && a.dtype == b.dtype
}

/// Pairs every rnnlab row with each PyTorch row of the same case, in rnnlab's row order.
pub fn compare(rnnlab: &Report, pytorch: &Report) -> Vec<CompareRow> {
    let mut out = vec![];
    for r in &rnnlab.rows {
        for p in pytorch.rows.iter().filter(|p| same_case(r, p)) {
            out.push(CompareRow {
                cell: r.cell.clone(),
                tier: r.tier,
                tier_name: r.tier_name,
                shape: r.shape,
                direction: r.direction,
                population: r.population,
                rnnlab_ms: r.median_ms,
                pytorch_variant: p.variant.clone(),
                pytorch_ms: p.median_ms,
                ratio: r.median_ms / p.median_ms,
            });
        }
    }
    out
}

/// The pairs' ratios grouped by tier, PyTorch variant and direction (the summaries' geometric means are over these).
pub fn ratio_groups(pairs: &[CompareRow]) -> BTreeMap<(Tier, String, Direction), Vec<f64>> {
    let mut groups: BTreeMap<(Tier, String, Direction), Vec<f64>> = BTreeMap::new();
    for c in pairs {
        groups
            .entry((c.tier_name, c.pytorch_variant.clone(), c.direction))
            .or_default()
            .push(c.ratio);
    }
    groups
}

/// The side-by-side table, a per-tier summary (geometric mean of the ratios over shapes), and notes on mismatches.
pub fn format_compare(rnnlab: &Report, pytorch: &Report) -> String {
    let rows = compare(rnnlab, pytorch);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<11} {:<15} {:<24} {:<8} {:>10} {:>12} {:>11} {:>8}",
        "cell", "tier", "shape", "dir", "rnnlab ms", "pytorch", "pytorch ms", "ratio"
    );
    for c in &rows {
        let _ = writeln!(
            out,
            "{:<11} {:<15} {:<24} {:<8} {:>10.3} {:>12} {:>11.3} {:>8.2}",
            c.cell,
            format!("{} {}", c.tier, c.tier_name.name()),
            c.shape.label(),
            c.direction.short(),
            c.rnnlab_ms,
            c.pytorch_variant,
            c.pytorch_ms,
            c.ratio
        );
    }
    let groups = ratio_groups(&rows);
    let _ = writeln!(
        out,
        "\nrnnlab / PyTorch, geometric mean over cells and shapes (below 1: rnnlab faster):"
    );
    for ((tier, variant, dir), ratios) in &groups {
        let _ = writeln!(
            out,
            "  {} {:<13} vs {:<12} {:<8} {:>6.2}  ({} cases)",
            tier.number(),
            tier.name(),
            variant,
            dir.short(),
            geomean(ratios),
            ratios.len()
        );
    }
    let (a, b) = (&rnnlab.meta, &pytorch.meta);
    let _ = writeln!(
        out,
        "rnnlab {} (libtorch {}) on {} with {} threads; PyTorch {} on {} with {} threads.",
        a.version, a.libtorch, a.device, a.threads, b.version, b.device, b.threads
    );
    if a.device != b.device || a.threads != b.threads || a.device_name != b.device_name {
        let _ = writeln!(
            out,
            "note: the two reports differ in device or threads ({} / {} vs {} / {}): ratios are not like for like",
            a.device_name, a.threads, b.device_name, b.threads
        );
    }
    if a.onednn != b.onednn {
        let _ = writeln!(
            out,
            "note: oneDNN was {} for rnnlab and {} for PyTorch: their CPU LSTM ops ran different kernels",
            if a.onednn { "on" } else { "off" },
            if b.onednn { "on" } else { "off" }
        );
    }
    let unmatched = rnnlab
        .rows
        .iter()
        .filter(|r| !pytorch.rows.iter().any(|p| same_case(r, p)))
        .count();
    if unmatched > 0 {
        let _ = writeln!(
            out,
            "note: {unmatched} rnnlab rows have no PyTorch counterpart"
        );
    }
    out
}
