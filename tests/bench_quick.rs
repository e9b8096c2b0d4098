//! The benchmark in quick mode on tiny shapes: every tier runs and every row is well-formed. Timings themselves are
//! never asserted on (STYLE.md: benchmarks live apart from tests).

use rnnlab::bench::{self, Direction, Options, Report, ShapeSpec, Tier};
use rnnlab::CellKind;

fn tiny_report() -> Report {
    let opts = Options {
        shapes: vec![
            ShapeSpec {
                set: "tiny".into(),
                seq: 3,
                batch: 2,
                input: 5,
                hidden: Some(4),
            },
            ShapeSpec {
                set: "tiny".into(),
                seq: 2,
                batch: 1,
                input: 3,
                hidden: Some(6),
            },
        ],
        population: 3,
        warmup: 1,
        min_reps: 3,
        max_reps: 3,
        ..Options::quick()
    };
    bench::run(&opts, |_| {}).expect("the quick benchmark runs")
}

#[test]
fn quick_bench_rows_are_well_formed() {
    let report = tiny_report();
    let rows = &report.rows;
    // Every applicable CPU tier (all but cuDNN) × cell of the paper (the default cells) × shape × direction,
    // exactly once.
    for kind in CellKind::PAPER {
        for tier in Tier::ALL {
            if tier == Tier::Cudnn || !tier.applies_to(kind) {
                continue;
            }
            for seq in [3, 2] {
                for dir in Direction::ALL {
                    let n = rows
                        .iter()
                        .filter(|r| {
                            r.cell == kind.name()
                                && r.tier_name == tier
                                && r.shape.seq == seq
                                && r.direction == dir
                        })
                        .count();
                    assert_eq!(n, 1, "{kind} {tier:?} T{seq} {dir:?}: {n} rows");
                }
            }
        }
    }
    assert!(rows.iter().all(|r| r.tier_name != Tier::Cudnn));
    for r in rows {
        let what = format!(
            "{} {} {} {:?}",
            r.cell,
            r.tier_name.name(),
            r.shape.label(),
            r.direction
        );
        assert!(
            r.median_ms > 0.0 && r.median_ms.is_finite(),
            "{what}: median {}",
            r.median_ms
        );
        assert!(
            r.p10_ms <= r.median_ms && r.median_ms <= r.p90_ms,
            "{what}: p10/median/p90 out of order"
        );
        assert_eq!(r.reps, 3, "{what}");
        assert_eq!(r.tier, r.tier_name.number(), "{what}");
        assert_eq!(
            (r.framework.as_str(), r.device.as_str(), r.dtype.as_str()),
            ("rnnlab", "cpu", "f32")
        );
        assert_eq!(
            r.unit,
            r.cell.parse::<rnnlab::cells::CellKind>().unwrap().family(),
            "{what}"
        );
        assert_eq!(
            r.population.is_some(),
            r.tier_name == Tier::Population,
            "{what}"
        );
        assert!(r.population.is_none_or(|k| k == 3), "{what}");
        assert!(r.gflops > 0.0 && r.matmul_gflop > 0.0, "{what}");
        let ratio = r
            .ratio_to_seq
            .unwrap_or_else(|| panic!("{what}: no ratio to builtin_seq"));
        assert!(ratio > 0.0, "{what}");
        if r.tier_name == Tier::BuiltinSeq {
            assert_eq!(ratio, 1.0, "{what}");
        }
        assert!(r.ratio_to_cudnn.is_none(), "{what}");
    }
    assert!(report.meta.peak_matmul_gflops > 0.0 && report.meta.op_overhead_us > 0.0);
    assert!(report.meta.notes.iter().any(|n| n.contains("cudnn")));

    // The JSON carries the schema's keys on every row and reads back to the same report.
    let json = serde_json::to_value(&report).unwrap();
    for row in json["rows"].as_array().unwrap() {
        for key in [
            "unit",
            "tier",
            "device",
            "shape",
            "direction",
            "median_ms",
            "p10_ms",
            "p90_ms",
            "ratio_to_seq",
        ] {
            assert!(row.get(key).is_some(), "row lacks '{key}': {row}");
        }
        for key in ["seq", "batch", "input", "hidden"] {
            assert!(row["shape"][key].is_i64(), "shape lacks '{key}': {row}");
        }
    }
    let dir = std::env::temp_dir().join(format!("rnnlab-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bench.json");
    report.write(&path).unwrap();
    let back = Report::read(&path).unwrap();
    assert_eq!(back.meta.notes, report.meta.notes);
    assert_eq!(back.rows.len(), report.rows.len());
    for (a, b) in back.rows.iter().zip(&report.rows) {
        // serde_json's default float parser may differ from the printed value in the last bit.
        assert!((a.median_ms - b.median_ms).abs() <= 1e-12 * b.median_ms);
        assert_eq!(
            (&a.cell, a.tier_name, a.shape, a.direction, a.population),
            (&b.cell, b.tier_name, b.shape, b.direction, b.population)
        );
    }

    // The table names every cell; the chart is a PNG; comparing a report with itself gives ratio 1 everywhere.
    let table = bench::format_table(&report);
    for kind in CellKind::PAPER {
        assert!(table.contains(kind.name()), "table lacks {kind}");
    }
    let png = dir.join("bench.png");
    rnnlab::report::plot_bench(&report, &png).unwrap();
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.len() > 1000 && bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG"
    );
    let mut other = report.clone();
    for r in &mut other.rows {
        r.framework = "pytorch".into();
        r.variant = "eager".into();
    }
    let pairs = bench::compare(&report, &other);
    assert_eq!(pairs.len(), report.rows.len());
    assert!(pairs.iter().all(|p| (p.ratio - 1.0).abs() < 1e-12));

    // The Markdown tables carry the report's own numbers: every cell's medians per shape, the paper forms' nearest
    // built-in in parentheses, the summary's geometric mean, and ratio 1 against an identical "PyTorch" report.
    let md = bench::markdown(&report, Some(&other));
    assert!(md.contains("### Shapes: tiny"), "{md}");
    let row_of = |cell: &str, tier: Tier, seq: i64| {
        rows.iter()
            .find(|r| {
                r.cell == cell
                    && r.tier_name == tier
                    && r.shape.seq == seq
                    && r.direction == Direction::ForwardBackward
            })
            .unwrap()
    };
    for kind in CellKind::PAPER {
        let fused = row_of(kind.name(), Tier::Fused, 3);
        let line = md
            .lines()
            .filter(|l| l.starts_with(&format!("| {} | {} |", kind.name(), fused.shape.label())))
            .nth(1) // forward first, then forward_backward
            .unwrap_or_else(|| panic!("no forward_backward line for {kind}:\n{md}"));
        assert!(
            line.contains(&format!(" {:.2} |", fused.median_ms)),
            "{kind}: {line}"
        );
    }
    let gru_seq = row_of("torch_gru", Tier::BuiltinSeq, 3);
    assert!(
        md.contains(&format!("({:.2})", gru_seq.median_ms)),
        "the paper GRU's line lacks torch_gru's builtin_seq in parentheses:\n{md}"
    );
    let fused_ratios: Vec<f64> = [3, 2]
        .iter()
        .map(|&t| row_of("tanh", Tier::Fused, t).ratio_to_seq.unwrap())
        .collect();
    let summary_line = md
        .lines()
        .find(|l| l.starts_with("| tanh | ") && l.matches('/').count() == 3)
        .unwrap();
    let fused_column = summary_line.split('|').nth(3).unwrap().trim();
    assert!(
        fused_column.ends_with(&format!("/ {:.2}", bench::geomean(&fused_ratios))),
        "{summary_line}"
    );
    assert!(md.contains("| 2 fused | eager | 1.00 / 1.00 |"), "{md}");

    // A report written before the oneDNN switch existed reads as oneDNN on (libtorch's default then and now).
    let mut old = serde_json::to_value(&report).unwrap();
    old["meta"].as_object_mut().unwrap().remove("onednn");
    let old: Report = serde_json::from_value(old).unwrap();
    assert!(old.meta.onednn);
    std::fs::remove_dir_all(&dir).ok();
}
