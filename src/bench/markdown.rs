//! A benchmark report as Markdown (`rnnlab bench --markdown FILE`): the tables docs/benchmarks.md quotes, made from the JSON
//! so that they can be regenerated rather than copied by hand.
//!
//! Per shape set: a summary (geometric mean over shapes of each custom tier ÷ libtorch's whole-sequence op, forward /
//! forward+backward), then one table per direction with every tier's median per shape. With a PyTorch report: the
//! geometric mean of rnnlab ÷ PyTorch per tier and PyTorch variant.

use super::{compare, geomean, ratio_groups, seq_ratio_geomean, Direction, Report, Row, Tier};
use crate::cells::CellKind;
use std::fmt::Write as _;

const CUSTOM: [Tier; 3] = [Tier::Naive, Tier::Fused, Tier::Population];

/// The whole Markdown document.
pub fn markdown(report: &Report, pytorch: Option<&Report>) -> String {
    let m = &report.meta;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "rnnlab {} on {} ({}), {} libtorch thread(s), libtorch {}{}, f32; {} warm-up run(s), then at least {} timed \
         runs and {} s per case. Matmul peak {:.1} GFLOP/s, {:.2} µs per tiny op.\n",
        m.version,
        m.device,
        m.device_name,
        m.threads,
        m.libtorch,
        if m.onednn { "" } else { ", oneDNN off" },
        m.warmup,
        m.min_reps,
        m.min_time_s,
        m.peak_matmul_gflops,
        m.op_overhead_us
    );
    let mut sets: Vec<&str> = report.rows.iter().map(|r| r.shape_set.as_str()).collect();
    sets.sort_by_key(|s| ["paper", "fastrnns", "quick"].iter().position(|p| p == s));
    sets.dedup();
    for set in sets {
        let rows: Vec<&Row> = report.rows.iter().filter(|r| r.shape_set == set).collect();
        // Shapes per cell (the hidden size differs between units, so count sequence × batch × input).
        let shapes = {
            let mut v: Vec<(i64, i64, i64)> = rows
                .iter()
                .map(|r| (r.shape.seq, r.shape.batch, r.shape.input))
                .collect();
            v.sort();
            v.dedup();
            v.len()
        };
        let _ = writeln!(
            out,
            "### Shapes: {set}\n\nGeometric mean over the {shapes} shape(s) of custom tier ÷ libtorch's whole-sequence \
             op of the same unit, forward / forward+backward (below 1: faster than libtorch):\n"
        );
        out.push_str(&summary(&rows));
        for dir in Direction::ALL {
            let _ = writeln!(
                out,
                "\n**{}**, median ms (per model for the population tier):\n",
                dir.name()
            );
            out.push_str(&full_table(&rows, dir));
        }
        out.push('\n');
    }
    if let Some(p) = pytorch {
        out.push_str(&versus_pytorch(report, p));
    }
    out
}

fn cell_order(cell: &str) -> usize {
    CellKind::ALL
        .iter()
        .position(|k| k.name() == cell)
        .unwrap_or(usize::MAX)
}

fn cells(rows: &[&Row]) -> Vec<String> {
    let mut v: Vec<String> = rows.iter().map(|r| r.cell.clone()).collect();
    v.sort_by_key(|c| cell_order(c));
    v.dedup();
    v
}

fn ratio_geomean(rows: &[&Row], cell: &str, tier: Tier, dir: Direction) -> Option<f64> {
    seq_ratio_geomean(
        rows.iter()
            .copied()
            .filter(|r| r.cell == cell && r.tier_name == tier && r.direction == dir),
    )
}

fn summary(rows: &[&Row]) -> String {
    let mut out =
        String::from("| cell | naive | fused | population (per model) |\n|---|---:|---:|---:|\n");
    for cell in cells(rows) {
        let mut line = format!("| {cell} |");
        for tier in CUSTOM {
            let f = ratio_geomean(rows, &cell, tier, Direction::Forward);
            let b = ratio_geomean(rows, &cell, tier, Direction::ForwardBackward);
            let fmt = |x: Option<f64>| x.map_or("–".to_string(), |x| format!("{x:.2}"));
            let _ = write!(line, " {} / {} |", fmt(f), fmt(b));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn full_table(rows: &[&Row], dir: Direction) -> String {
    let rows: Vec<&Row> = rows
        .iter()
        .copied()
        .filter(|r| r.direction == dir)
        .collect();
    let cudnn = rows.iter().any(|r| r.tier_name == Tier::Cudnn);
    let population = rows
        .iter()
        .find_map(|r| r.population)
        .map_or("population".to_string(), |k| format!("population (K={k})"));
    let mut tiers = vec![
        (Tier::Naive, "naive".to_string()),
        (Tier::Fused, "fused".to_string()),
        (Tier::Population, population),
        (Tier::BuiltinCell, "builtin_cell".to_string()),
        (Tier::BuiltinSeq, "builtin_seq".to_string()),
    ];
    if cudnn {
        tiers.push((Tier::Cudnn, "cudnn".to_string()));
    }
    let mut out = String::from("| cell | shape |");
    for (_, name) in &tiers {
        let _ = write!(out, " {name} |");
    }
    out.push_str(" best custom / builtin_seq |");
    if cudnn {
        out.push_str(" best custom / cudnn |");
    }
    out.push_str("\n|---|---|");
    for _ in 0..tiers.len() + 1 + usize::from(cudnn) {
        out.push_str("---:|");
    }
    out.push('\n');
    // Shapes in run order, cells in their usual order.
    let mut shapes = vec![];
    for r in &rows {
        if !shapes.contains(&r.shape) {
            shapes.push(r.shape);
        }
    }
    for cell in cells(&rows) {
        let unit = rows
            .iter()
            .find(|r| r.cell == cell)
            .map(|r| r.unit.clone())
            .unwrap_or_default();
        for shape in &shapes {
            let find = |tier: Tier, cell: &str| {
                rows.iter()
                    .find(|r| r.cell == cell && r.tier_name == tier && r.shape == *shape)
            };
            if !rows.iter().any(|r| r.cell == cell && r.shape == *shape) {
                continue;
            }
            let _ = write!(out, "| {cell} | {} |", shape.label());
            for (tier, _) in &tiers {
                let cellv = match find(*tier, &cell) {
                    Some(r) => format!("{:.2}", r.median_ms),
                    // A paper form has no built-in twin: show its unit's torch-form op in parentheses.
                    None if matches!(tier, Tier::BuiltinSeq | Tier::Cudnn) => rows
                        .iter()
                        .find(|r| {
                            r.unit == unit
                                && r.form == "torch"
                                && r.tier_name == *tier
                                && r.shape == *shape
                        })
                        .map_or("–".into(), |r| format!("({:.2})", r.median_ms)),
                    None => "–".into(),
                };
                let _ = write!(out, " {cellv} |");
            }
            let best = |f: fn(&Row) -> Option<f64>| {
                CUSTOM
                    .iter()
                    .filter_map(|t| find(*t, &cell).and_then(|r| f(r)))
                    .min_by(f64::total_cmp)
                    .map_or("–".to_string(), |x| format!("{x:.2}"))
            };
            let _ = write!(out, " {} |", best(|r| r.ratio_to_seq));
            if cudnn {
                let _ = write!(out, " {} |", best(|r| r.ratio_to_cudnn));
            }
            out.push('\n');
        }
    }
    out
}

fn versus_pytorch(rnnlab: &Report, pytorch: &Report) -> String {
    let groups = ratio_groups(&compare(rnnlab, pytorch));
    let mut sets: Vec<&str> = pytorch.rows.iter().map(|r| r.shape_set.as_str()).collect();
    sets.sort();
    sets.dedup();
    let mut out = format!(
        "### rnnlab ÷ PyTorch {} ({} thread(s)), same tiers and shapes ({})\n\nGeometric mean over cells and shapes \
         (below 1: rnnlab faster), forward / forward+backward:\n\n| tier | PyTorch variant | ratio | pairs |\n\
         |---|---|---:|---:|\n",
        pytorch.meta.version,
        pytorch.meta.threads,
        sets.join(", ")
    );
    let mut rows: Vec<(Tier, &str)> = groups.keys().map(|(t, v, _)| (*t, v.as_str())).collect();
    rows.dedup();
    for (tier, variant) in rows {
        let ratios = |dir: Direction| groups.get(&(tier, variant.to_string(), dir));
        let fmt =
            |x: Option<&Vec<f64>>| x.map_or("–".to_string(), |x| format!("{:.2}", geomean(x)));
        let pairs: usize = Direction::ALL
            .iter()
            .filter_map(|d| ratios(*d))
            .map(Vec::len)
            .sum();
        let _ = writeln!(
            out,
            "| {} {} | {variant} | {} / {} | {pairs} |",
            tier.number(),
            tier.name(),
            fmt(ratios(Direction::Forward)),
            fmt(ratios(Direction::ForwardBackward)),
        );
    }
    out
}
