//! The figures: every kind drawn from small synthetic run directories (written by serialising the trainer's own
//! structs), decoded back, checked for size and for content; and bad input handled without a panic.

use rnnlab::report::chart::log_ticks;
use rnnlab::report::plot::{self, plot_all};
use rnnlab::report::table;
use rnnlab::report::unit_color;
use rnnlab::run::view::load_run;
use rnnlab::train::{EpochMetrics, MemberMetrics, MemberResult, Status, Summary};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

const LRS: [f64; 4] = [1e-5, 1e-4, 1e-3, 1e-2];

/// A synthetic run: `epochs` epochs of a population over [`LRS`], where the largest learning rate diverges at
/// epoch 2. With `finished`, also summary.json.
fn write_run(dir: &Path, dataset: &str, cell: &str, epochs: usize, finished: bool) -> Summary {
    write_run_shifted(dir, dataset, cell, epochs, finished, 0.0)
}

/// [`write_run`] with every NLL moved by `shift` (a negative shift gives the negative NLLs of a density model).
fn write_run_shifted(
    dir: &Path,
    dataset: &str,
    cell: &str,
    epochs: usize,
    finished: bool,
    shift: f64,
) -> Summary {
    std::fs::create_dir_all(dir).unwrap();
    let base = shift
        + match cell {
            "tanh" => 4.0,
            c if c.ends_with("gru") => 3.4,
            _ => 3.6,
        };
    // Loss of member m at epoch e: decays faster with the learning rate, towards a floor lowest for member 2.
    let nll = |m: usize, e: usize, offset: f64| {
        base + offset
            + 0.3 * (m as f64 - 2.0).abs()
            + 40.0 * (-(e as f64) * (1.0 + m as f64) / 3.0).exp()
    };
    let diverged = |m: usize, e: usize| m == LRS.len() - 1 && e >= 2;
    let mut jsonl = String::new();
    for e in 1..=epochs {
        let m = EpochMetrics {
            epoch: e,
            updates: 10 * e as u64,
            seconds: e as f64 * (1.5 + (base - shift) / 4.0),
            cpu_seconds: e as f64 * 1.4,
            members: (0..LRS.len())
                .map(|m| MemberMetrics {
                    lr: LRS[m],
                    train_nll: (!diverged(m, e)).then(|| nll(m, e, -0.2)),
                    valid_nll: (!diverged(m, e)).then(|| nll(m, e, 0.0)),
                    test_nll: (!diverged(m, e)).then(|| nll(m, e, 0.1)),
                    status: if diverged(m, e) {
                        Status::Diverged
                    } else {
                        Status::Active
                    },
                })
                .collect(),
        };
        jsonl += &serde_json::to_string(&m).unwrap();
        jsonl.push('\n');
    }
    std::fs::write(dir.join("metrics.jsonl"), jsonl).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!("dataset = \"{dataset}\"\ncell = \"{cell}\"\n"),
    )
    .unwrap();
    let members: Vec<MemberResult> = (0..LRS.len())
        .map(|m| {
            let d = m == LRS.len() - 1;
            MemberResult {
                member: m,
                lr: LRS[m],
                status: if d { Status::Diverged } else { Status::Stopped },
                status_epoch: Some(if d { 2 } else { epochs }),
                best_epoch: Some(if d { 1 } else { epochs }),
                train_nll: nll(m, epochs, -0.2),
                // The diverged member's best weights are from epoch 1: far off the others' scale.
                valid_nll: if d {
                    nll(m, 1, 0.0)
                } else {
                    nll(m, epochs, 0.0)
                },
                test_nll: nll(m, epochs, 0.1),
            }
        })
        .collect();
    let summary = Summary {
        dataset: dataset.into(),
        cell: cell.into(),
        implementation: "custom".into(),
        hidden: 46,
        params_paper: 18630,
        params_total: 22766,
        epochs,
        updates: 10 * epochs as u64,
        seconds: epochs as f64 * 2.0,
        seconds_per_epoch: 2.0,
        cpu_seconds: epochs as f64 * 1.9,
        population: LRS.len(),
        seeds: 1,
        best_member: Some(2),
        best_member_per_seed: vec![Some(2)],
        tokens: None,
        members,
    };
    if finished {
        std::fs::write(
            dir.join("summary.json"),
            serde_json::to_string_pretty(&summary).unwrap(),
        )
        .unwrap();
    }
    summary
}

/// A reproduce output: runs of nottingham and musedata (finished) and jsb (tanh still running), and table2.json.
fn write_reproduction(out: &Path) {
    let mut rows = vec![];
    for dataset in ["nottingham", "musedata"] {
        for cell in ["tanh", "paper_gru", "paper_lstm"] {
            let s = write_run(
                &out.join("runs").join(format!("{dataset}_{cell}")),
                dataset,
                cell,
                12,
                true,
            );
            rows.push(table::row(&s).unwrap().unwrap());
        }
    }
    write_run(&out.join("runs/jsb_tanh"), "jsb", "tanh", 3, false);
    let json = serde_json::json!({ "quick": false, "seconds": 1.0, "rows": rows });
    std::fs::write(out.join("table2.json"), json.to_string()).unwrap();
}

/// Decodes a PNG into (width, height, RGB pixels).
fn decode(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let decoder = png::Decoder::new(file);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("{}: unexpected colour type {other:?}", path.display()),
    };
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let pixels = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, pixels)
}

/// Checks a figure: it decodes, has the size expected, is not blank, and shows the colours of `units`.
fn check_png(path: &Path, size: (u32, u32), units: &[&str]) {
    let (w, h, pixels) = decode(path);
    assert_eq!((w, h), size, "{}", path.display());
    let distinct: HashSet<[u8; 3]> = pixels.iter().copied().collect();
    assert!(
        distinct.len() >= 8,
        "{}: only {} distinct colours",
        path.display(),
        distinct.len()
    );
    let non_white = pixels.iter().filter(|p| **p != [255, 255, 255]).count();
    assert!(
        non_white > pixels.len() / 200,
        "{}: nearly blank ({non_white} non-white pixels)",
        path.display()
    );
    for unit in units {
        let c = unit_color(unit);
        let n = pixels.iter().filter(|p| **p == [c.0, c.1, c.2]).count();
        assert!(
            n >= 50,
            "{}: the {unit} colour appears in {n} pixels only",
            path.display()
        );
    }
}

const ALL: [&str; 3] = ["tanh", "gru", "lstm"];

#[test]
fn draws_every_figure_of_a_reproduction() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("repro");
    write_reproduction(&out);
    let plots = out.join("plots");
    let report = plot_all(std::slice::from_ref(&out), &plots).unwrap();
    // To look at the synthetic figures: RNNLAB_KEEP_PLOTS=DIR cargo test --test plots.
    if let Ok(keep) = std::env::var("RNNLAB_KEEP_PLOTS") {
        std::fs::create_dir_all(&keep).unwrap();
        for p in &report.written {
            std::fs::copy(p, Path::new(&keep).join(p.file_name().unwrap())).unwrap();
        }
    }
    let names: Vec<String> = report
        .written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let expect = [
        "curves_nottingham.png",
        "curves_jsb.png",
        "curves_musedata.png",
        "fig2_nottingham_musedata.png",
        "table2.png",
        "lr_search_nottingham.png",
        "lr_search_jsb.png",
        "lr_search_musedata.png",
    ];
    assert_eq!(names, expect, "notes: {:?}", report.notes);
    // The unfinished jsb run is drawn from its metrics, and says so.
    assert!(
        report.notes.iter().any(|n| n.contains("no summary.json")),
        "{:?}",
        report.notes
    );
    for d in ["nottingham", "musedata"] {
        check_png(&plots.join(format!("curves_{d}.png")), (1600, 800), &ALL);
        check_png(&plots.join(format!("lr_search_{d}.png")), (1200, 800), &ALL);
    }
    check_png(&plots.join("curves_jsb.png"), (1600, 800), &["tanh"]);
    check_png(&plots.join("lr_search_jsb.png"), (1200, 800), &["tanh"]);
    check_png(
        &plots.join("fig2_nottingham_musedata.png"),
        (1600, 96 + 2 * 560),
        &ALL,
    );
    // Two datasets in table2.json (nottingham, musedata); the jsb run is unfinished, so it adds no row.
    check_png(&plots.join("table2.png"), (1200, 800), &ALL);
    // No temp file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&plots)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn fig2_with_one_dataset_and_table2_from_run_dirs() {
    let tmp = tempfile::tempdir().unwrap();
    let runs: Vec<PathBuf> = ["tanh", "paper_gru", "torch_gru"]
        .iter()
        .map(|c| {
            let d = tmp.path().join(format!("nottingham_{c}"));
            write_run(&d, "nottingham", c, 5, true);
            d
        })
        .collect();
    let plots = tmp.path().join("plots");
    let report = plot_all(&runs, &plots).unwrap();
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("no run of musedata")),
        "{:?}",
        report.notes
    );
    // One column: the figure keeps its minimum width.
    check_png(
        &plots.join("fig2_nottingham_musedata.png"),
        (1200, 96 + 2 * 560),
        &["tanh", "gru"],
    );
    // Rows from the runs' summaries, two of them GRUs.
    check_png(&plots.join("table2.png"), (1200, 800), &["tanh", "gru"]);
}

/// Pixels of a unit's colour in a figure's plotting area (below the 96-pixel header that holds the legend).
fn plotted_pixels(path: &Path, unit: &str) -> usize {
    let c = unit_color(unit);
    let (w, _, pixels) = decode(path);
    pixels
        .iter()
        .skip(96 * w as usize)
        .filter(|p| **p == [c.0, c.1, c.2])
        .count()
}

/// Gaussian-mixture NLLs (speech) go below zero: those curves and points are drawn on a linear axis instead of being
/// dropped from a log one. The LSTM's curve, all below zero, must take about as many pixels as the same curve
/// shifted above zero (dropped from a log axis, it would leave none in the plotting area).
#[test]
fn negative_nlls_are_drawn_on_a_linear_axis() {
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let mut pixels = vec![];
    for shift in [0.0, -60.0] {
        let root = tmp.join(format!("shift{shift}"));
        let runs = vec![
            {
                write_run(&root.join("fsdd_tanh"), "fsdd", "tanh", 8, true);
                load_run(&root.join("fsdd_tanh")).unwrap()
            },
            {
                let d = root.join("fsdd_paper_lstm");
                write_run_shifted(&d, "fsdd", "paper_lstm", 8, true, shift);
                load_run(&d).unwrap()
            },
        ];
        let curves = root.join("curves.png");
        plot::learning_curves(&runs, "fsdd", &curves).unwrap();
        let lr = root.join("lr.png");
        plot::lr_search(&runs, "fsdd", &lr).unwrap();
        pixels.push((plotted_pixels(&curves, "lstm"), plotted_pixels(&lr, "lstm")));
    }
    let (positive, negative) = (pixels[0], pixels[1]);
    // A linear axis spanning both units' ranges draws the same curve shorter than a log axis does: about a third.
    assert!(
        negative.0 * 4 >= positive.0 && negative.1 * 4 >= positive.1,
        "LSTM pixels (curves, lr search): {positive:?} with positive NLLs, {negative:?} with negative ones"
    );
}

#[test]
fn the_best_member_of_an_unfinished_run_is_the_best_so_far() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("jsb_paper_lstm");
    write_run(&dir, "jsb", "paper_lstm", 4, false);
    let run = load_run(&dir).unwrap();
    assert!(run.summary.is_none());
    assert_eq!(run.epochs.len(), 4);
    assert_eq!(run.best_member(), Some(2));
    let members = run.members();
    assert_eq!(members.len(), LRS.len());
    assert!(members[LRS.len() - 1].diverged);
    assert!(!members[0].diverged);
}

#[test]
fn log_ticks_label_narrow_and_wide_ranges() {
    // A narrow range inside one decade still gets several ticks.
    let t = log_ticks(3.1, 3.9);
    assert!(t.len() >= 3, "{t:?}");
    assert!(t.iter().all(|v| (3.1..=3.9).contains(v)), "{t:?}");
    let t = log_ticks(2.5, 70.0);
    assert!((3..=10).contains(&t.len()), "{t:?}");
    let t = log_ticks(1e-6, 1e-1);
    assert_eq!(t.len(), 6, "{t:?}");
    assert!(log_ticks(0.0, 1.0).is_empty());
    assert!(log_ticks(f64::NAN, 1.0).is_empty());
}

#[test]
fn bad_input_gives_an_error_or_a_figure_of_what_exists() {
    let tmp = tempfile::tempdir().unwrap();
    let plots = tmp.path().join("plots");

    // A missing path and an empty directory: clear errors.
    let err = plot_all(&[tmp.path().join("nope")], &plots).unwrap_err();
    assert!(format!("{err:#}").contains("not a directory"), "{err:#}");
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = plot_all(std::slice::from_ref(&empty), &plots).unwrap_err();
    assert!(
        format!("{err:#}").contains("neither a run directory"),
        "{err:#}"
    );

    // A run killed before its first epoch: config.toml only, an empty metrics.jsonl.
    let fresh = tmp.path().join("nottingham_tanh");
    std::fs::create_dir(&fresh).unwrap();
    std::fs::write(fresh.join("config.toml"), "dataset = \"nottingham\"\n").unwrap();
    std::fs::write(fresh.join("metrics.jsonl"), "").unwrap();
    let err = plot_all(std::slice::from_ref(&fresh), &plots).unwrap_err();
    assert!(format!("{err:#}").contains("no readable epochs"), "{err:#}");

    // Half-written and older files: garbage lines among good ones, a truncated last line, a corrupt summary.
    let half = tmp.path().join("jsb_paper_gru");
    write_run(&half, "jsb", "paper_gru", 6, true);
    let mut text = std::fs::read_to_string(half.join("metrics.jsonl")).unwrap();
    text.insert_str(0, "{\"epoch\": 0, \"loss\": 1.0}\nnot json at all\n");
    text += "{\"epoch\":7,\"updates\":70,\"seco";
    std::fs::write(half.join("metrics.jsonl"), text).unwrap();
    std::fs::write(half.join("summary.json"), "{\"dataset\": \"jsb\"").unwrap();
    let report = plot_all(&[half.clone(), fresh.clone()], &plots).unwrap();
    let notes = report.notes.join("\n");
    assert!(notes.contains("skipped 3 line(s)"), "{notes}");
    assert!(notes.contains("summary.json unreadable"), "{notes}");
    assert!(notes.contains("skipped:"), "{notes}");
    check_png(&plots.join("curves_jsb.png"), (1600, 800), &["gru"]);
    check_png(&plots.join("lr_search_jsb.png"), (1200, 800), &["gru"]);
    assert!(!plots.join("table2.png").exists());

    // An older version's metrics: no readable JSON lines, a CSV with other column order and an extra column.
    let old = tmp.path().join("musedata_paper_lstm");
    std::fs::create_dir(&old).unwrap();
    std::fs::write(old.join("metrics.jsonl"), "{\"epoch\": 1}\n").unwrap();
    let mut csv = String::from("member,epoch,extra,valid_nll,train_nll,seconds,lr,status\n");
    for e in 1..=5 {
        for (m, lr) in LRS.iter().take(3).enumerate() {
            let v = 5.0 + m as f64 + 10.0 / e as f64;
            csv += &format!("{m},{e},x,{v},{},{},{lr},active\n", v + 0.2, e as f64 * 3.0);
        }
    }
    csv += "oops,row\n";
    std::fs::write(old.join("metrics.csv"), csv).unwrap();
    let run = load_run(&old).unwrap();
    assert_eq!(run.dataset, "musedata");
    assert_eq!(run.cell, "paper_lstm");
    assert_eq!(run.epochs.len(), 5);
    assert_eq!(run.best_member(), Some(0));
    let report = plot_all(std::slice::from_ref(&old), &plots).unwrap();
    assert!(report
        .written
        .iter()
        .any(|p| p.ends_with("fig2_nottingham_musedata.png")));
    check_png(&plots.join("curves_musedata.png"), (1600, 800), &["lstm"]);

    // A table2.json of another shape: a note, and the runs still drawn.
    let repro = tmp.path().join("repro");
    write_run(&repro.join("runs/jsb_tanh"), "jsb", "tanh", 3, true);
    std::fs::write(repro.join("table2.json"), "[1, 2]").unwrap();
    let report = plot_all(std::slice::from_ref(&repro), &plots).unwrap();
    assert!(
        report.notes.iter().any(|n| n.contains("table2.json")),
        "{:?}",
        report.notes
    );
    check_png(&plots.join("table2.png"), (1200, 800), &["tanh"]);
}

#[test]
fn cli_plot_prints_the_paths_it_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("repro");
    write_reproduction(&out);
    let result = std::process::Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .arg("plot")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let stdout = String::from_utf8_lossy(&result.stdout);
    let written: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("wrote "))
        .collect();
    assert_eq!(written.len(), 8, "{stdout}");
    for p in written {
        assert!(p.starts_with(out.join("plots").to_str().unwrap()), "{p}");
        assert!(Path::new(p).is_file(), "{p}");
    }
    // Not a run: exit code 2 and a message, no panic.
    let result = std::process::Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(["plot", "--out"])
        .arg(tmp.path().join("x"))
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.starts_with("error:"), "{stderr}");
}
