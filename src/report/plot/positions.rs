//! `rnnlab eval --plot FILE`: the NLL of a split by position in the piece (frames 0–49, 50–199, 200+), with the state
//! carried through each piece (as Table 2 evaluates) and reset to zero every N steps (as a model trained on
//! zero-state chunks of N frames saw), one panel per dataset and one pair of lines per run.

use super::nll_per;
use crate::data::Split;
use crate::eval::{RunEval, POSITIONS};
use crate::report::chart::{draw_figure, unit_color, Swatch, YRange, FIG_H, PALETTE};
use anyhow::{ensure, Result};
use plotters::prelude::*;
use std::path::Path;

/// One run's line pair: the mean over its evaluated members of each bucket's NLL (`None`: no frame there).
struct Series {
    label: String,
    color: RGBColor,
    carried: Vec<Option<f64>>,
    reset: Vec<Option<f64>>,
}

/// The figure's least width in pixels: its subtitle's.
const MIN_WIDTH: u32 = 1440;

/// A run's legend entry: dataset, cell and members; where another run shows the same dataset and cell (runs of one
/// unit trained differently), cell, the run directory's name and members (the panel's title names the dataset).
fn series_label(e: &RunEval, evals: &[RunEval]) -> String {
    let shared = evals
        .iter()
        .filter(|o| o.dataset == e.dataset && o.cell == e.cell)
        .count()
        > 1;
    if shared && !e.run.is_empty() {
        format!("{} {} (n={})", e.cell, e.run, e.members.len())
    } else {
        format!("{} {} (n={})", e.dataset, e.cell, e.members.len())
    }
}

/// The label of position bucket `i`: `0–49`, `50–199`, `200+`.
pub fn bucket_label(i: usize) -> String {
    match POSITIONS[i] {
        (from, Some(to)) => format!("{from}–{}", to - 1),
        (from, None) => format!("{from}+"),
    }
}

/// Mean over members of bucket `b`'s NLL on `split`, `carried` or reset; `None` when the bucket holds no frame.
fn bucket_mean(eval: &RunEval, split: Split, b: usize, carried: bool) -> Option<f64> {
    let values: Vec<f64> = eval
        .members
        .iter()
        .filter_map(|m| m.split(split).positions.get(b))
        .filter(|p| p.frames > 0)
        .map(|p| if carried { p.carried } else { p.reset })
        .filter(|v| v.is_finite())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Draws the NLL by position of `evals` on `split` into `path` (PNG).
pub fn positions_chart(evals: &[RunEval], split: Split, path: &Path) -> Result<()> {
    ensure!(!evals.is_empty(), "no evaluated run to draw");
    let mut datasets: Vec<&str> = vec![];
    for e in evals {
        if !datasets.contains(&e.dataset.as_str()) {
            datasets.push(&e.dataset);
        }
    }
    let reset_every = evals
        .iter()
        .flat_map(|e| e.members.first())
        .map(|m| m.split(split).reset_every)
        .next()
        .unwrap_or(0);
    // A run takes its unit's colour unless another run of its panel has it already.
    let mut used: Vec<(&str, RGBColor)> = vec![];
    // Further runs take the palette after the unit families' three colours.
    let mut extra = PALETTE[3..].iter().cycle();
    let series: Vec<(&str, Series)> = evals
        .iter()
        .map(|e| {
            let family = e
                .cell
                .parse::<crate::cells::CellKind>()
                .map(|k| k.family())
                .unwrap_or("");
            let mut color = unit_color(family);
            let taken = used.iter().any(|(d, c)| *d == e.dataset && *c == color);
            if !crate::cells::PAPER_FAMILIES.contains(&family) || taken {
                color = *extra.next().expect("a cycled palette never ends");
            }
            used.push((e.dataset.as_str(), color));
            let n = POSITIONS.len();
            (
                e.dataset.as_str(),
                Series {
                    label: series_label(e, evals),
                    color,
                    carried: (0..n).map(|b| bucket_mean(e, split, b, true)).collect(),
                    reset: (0..n).map(|b| bucket_mean(e, split, b, false)).collect(),
                },
            )
        })
        .collect();
    let mut legend: Vec<(String, RGBColor, Swatch)> = series
        .iter()
        .map(|(_, s)| (s.label.clone(), s.color, Swatch::Line { dashed: false }))
        .collect();
    legend.push((
        format!("dashed: state reset every {reset_every} steps"),
        RGBColor(80, 80, 80),
        Swatch::Line { dashed: true },
    ));
    // Wide enough for the panels and the subtitle; `draw_figure` widens it further when the legend's row needs it.
    let width = (720 * datasets.len() as u32).max(MIN_WIDTH);
    let title = format!("{} NLL by position in the piece", split.name());
    let subtitle = "Mean over each run's evaluated members (the chosen member of each seed) of the NLL of the \
                    predicted frames in each range of frame indices; solid: state carried through the piece, as \
                    Table 2 evaluates";
    draw_figure(path, (width, FIG_H), &title, subtitle, &legend, |body| {
        let panels = body.split_evenly((1, datasets.len()));
        for (panel, dataset) in panels.iter().zip(&datasets) {
            let own: Vec<&Series> = series
                .iter()
                .filter(|(d, _)| d == dataset)
                .map(|(_, s)| s)
                .collect();
            let values = own
                .iter()
                .flat_map(|s| s.carried.iter().chain(&s.reset).flatten().copied());
            let Some(y) = YRange::of(values) else {
                continue;
            };
            let pad = ((y.hi - y.lo) * 0.08).max(1e-3);
            let (lo, hi) = (y.lo - pad, y.hi + pad);
            let n = POSITIONS.len();
            let mut chart = ChartBuilder::on(panel)
                .caption(*dataset, ("sans-serif", 22))
                .margin(18)
                .x_label_area_size(56)
                .y_label_area_size(80)
                .build_cartesian_2d(-0.3f64..(n as f64 - 0.7), lo..hi)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            chart
                .configure_mesh()
                .x_labels(n)
                .x_label_formatter(&|x| {
                    let i = x.round();
                    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
                        bucket_label(i as usize)
                    } else {
                        String::new()
                    }
                })
                .x_desc("predicted frame's index in its piece")
                .y_desc(format!("NLL (nats per {})", nll_per(dataset)))
                .label_style(("sans-serif", 16))
                .axis_desc_style(("sans-serif", 18))
                .draw()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for s in own {
                for (values, dashed) in [(&s.carried, false), (&s.reset, true)] {
                    let points: Vec<(f64, f64)> = values
                        .iter()
                        .enumerate()
                        .filter_map(|(i, v)| Some((i as f64, (*v)?)))
                        .collect();
                    let style = s.color.stroke_width(3);
                    if dashed {
                        chart
                            .draw_series(DashedLineSeries::new(points.clone(), 9, 6, style))
                            .map_err(|e| anyhow::anyhow!("{e}"))?;
                    } else {
                        chart
                            .draw_series(LineSeries::new(points.clone(), style))
                            .map_err(|e| anyhow::anyhow!("{e}"))?;
                    }
                    chart
                        .draw_series(points.iter().map(|&p| Circle::new(p, 5, s.color.filled())))
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{MemberEval, PositionNll, SplitEval, EVAL_FORMAT_VERSION};

    fn split_eval(carried: [f64; 3], reset: [f64; 3], frames: [usize; 3]) -> SplitEval {
        SplitEval {
            pieces: 1,
            frames: frames.iter().sum(),
            frame_weighted: f64::NAN,
            sequence_weighted: f64::NAN,
            with_first_frame: f64::NAN,
            reset_every: 50,
            reset: f64::NAN,
            positions: (0..3)
                .map(|b| PositionNll {
                    from: POSITIONS[b].0,
                    to: POSITIONS[b].1,
                    frames: frames[b],
                    carried: if frames[b] == 0 { f64::NAN } else { carried[b] },
                    reset: if frames[b] == 0 { f64::NAN } else { reset[b] },
                })
                .collect(),
        }
    }

    fn member(m: usize, carried: [f64; 3], reset: [f64; 3], frames: [usize; 3]) -> MemberEval {
        let s = split_eval(carried, reset, frames);
        MemberEval {
            member: m,
            seed: m,
            lr: 1e-3,
            train: s.clone(),
            valid: s.clone(),
            test: s,
        }
    }

    /// Each bucket is the mean over members; a bucket without frames has no point; the PNG has the figure's size.
    #[test]
    fn buckets_are_member_means_and_the_figure_is_drawn() {
        let jsb = RunEval {
            format_version: EVAL_FORMAT_VERSION,
            run: "jsb_gru".into(),
            dataset: "jsb".into(),
            cell: "paper_gru".into(),
            members: vec![
                member(0, [8.0, 9.0, 0.0], [8.0, 9.5, 0.0], [40, 10, 0]),
                member(1, [7.0, 8.0, 0.0], [7.0, 8.5, 0.0], [40, 10, 0]),
            ],
        };
        assert_eq!(bucket_mean(&jsb, Split::Test, 0, true), Some(7.5));
        assert_eq!(bucket_mean(&jsb, Split::Test, 1, true), Some(8.5));
        assert_eq!(bucket_mean(&jsb, Split::Test, 1, false), Some(9.0));
        assert_eq!(bucket_mean(&jsb, Split::Test, 2, true), None);
        assert_eq!(bucket_label(0), "0–49");
        assert_eq!(bucket_label(2), "200+");
        let mut nott = jsb.clone();
        nott.dataset = "nottingham".into();
        nott.members[0] = member(0, [3.0, 3.2, 3.4], [3.0, 3.3, 3.6], [50, 150, 90]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("positions.png");
        positions_chart(&[jsb, nott], Split::Test, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        let dim = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        assert_eq!((dim(16), dim(20)), (MIN_WIDTH, FIG_H));
        assert!(positions_chart(&[], Split::Test, &path).is_err());

        // Six runs of one dataset: the legend's row is longer than the least width, and the figure grows to hold it.
        let many: Vec<RunEval> = [
            "paper_gru",
            "paper_lstm",
            "lstm_nfg",
            "lstm_noaf",
            "lstm_cifg",
            "mut1",
        ]
        .iter()
        .map(|cell| {
            let mut e = nott_like(cell);
            e.run = format!("nottingham_{cell}");
            e
        })
        .collect();
        positions_chart(&many, Split::Test, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let dim = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        assert!(
            dim(16) > MIN_WIDTH,
            "six runs' legend should widen the figure past {MIN_WIDTH}, got {}",
            dim(16)
        );
        assert_eq!(dim(20), FIG_H);
    }

    fn nott_like(cell: &str) -> RunEval {
        RunEval {
            format_version: EVAL_FORMAT_VERSION,
            run: String::new(),
            dataset: "nottingham".into(),
            cell: cell.into(),
            members: vec![member(0, [3.0, 3.2, 3.4], [3.0, 3.3, 3.6], [50, 150, 90])],
        }
    }

    /// Runs of one dataset and cell are told apart by their directory's name; a run alone in its dataset and cell
    /// is not, and an eval.json written before the name was recorded still reads.
    #[test]
    fn labels_name_the_run_only_where_needed() {
        let one = RunEval {
            format_version: EVAL_FORMAT_VERSION,
            run: "zero50".into(),
            dataset: "nottingham".into(),
            cell: "paper_gru".into(),
            members: vec![member(0, [3.0, 3.2, 3.4], [3.0, 3.3, 3.6], [50, 150, 90])],
        };
        let mut other = one.clone();
        other.run = "whole".into();
        let mut jsb = one.clone();
        jsb.dataset = "jsb".into();
        let evals = [one.clone(), other.clone(), jsb.clone()];
        assert_eq!(series_label(&one, &evals), "paper_gru zero50 (n=1)");
        assert_eq!(series_label(&other, &evals), "paper_gru whole (n=1)");
        assert_eq!(series_label(&jsb, &evals), "jsb paper_gru (n=1)");
        let old: RunEval = serde_json::from_str(
            r#"{"format_version": 1, "dataset": "nottingham", "cell": "paper_gru", "members": []}"#,
        )
        .unwrap();
        assert_eq!(old.run, "");
        assert_eq!(
            series_label(&old, &[old.clone(), other]),
            "nottingham paper_gru (n=0)"
        );
    }
}
