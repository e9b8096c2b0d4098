//! The figures over seeds and the recipe study: Table 2's error bars, the learning curves' band across seeds, and
//! `rnnlab plot --study`'s figure and table, each drawn from small crafted inputs and checked by decoding the PNG
//! (or reading the Markdown). Kept apart from tests/plots.rs so that each file stays short.

use rnnlab::report::plot::{self, recipe_study};
use rnnlab::report::table;
use rnnlab::report::unit_color;
use rnnlab::run::view::load_run;
use rnnlab::train::{EpochMetrics, MemberMetrics, MemberResult, Status, Summary};
use std::path::Path;

/// Decodes a PNG into (width, height, RGB pixels).
fn decode(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = if info.color_type == png::ColorType::Rgba {
        4
    } else {
        3
    };
    let pixels = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, pixels)
}

const LRS: [f64; 2] = [1e-4, 1e-3];

/// A finished GRU run on nottingham with `seeds` seeds × [`LRS`] (member m: candidate m / seeds, seed m % seeds).
/// Seed k's curves sit 0.3·k above seed 0's, and its chosen member is the second candidate, with test NLL
/// 3.0 + 0.3·k.
fn write_seeded_run(dir: &Path, seeds: usize, epochs: usize) -> Summary {
    std::fs::create_dir_all(dir).unwrap();
    let n = LRS.len() * seeds;
    let nll = |m: usize, e: usize| {
        let (cand, seed) = (m / seeds, m % seeds);
        3.0 + 0.3 * seed as f64 + 0.5 * (1 - cand) as f64 + 8.0 * (-(e as f64) / 2.0).exp()
    };
    let mut jsonl = String::new();
    for e in 1..=epochs {
        let m = EpochMetrics {
            epoch: e,
            updates: 10 * e as u64,
            seconds: 2.0 * e as f64,
            cpu_seconds: 1.8 * e as f64,
            members: (0..n)
                .map(|m| MemberMetrics {
                    lr: LRS[m / seeds],
                    train_nll: Some(nll(m, e) - 0.1),
                    valid_nll: Some(nll(m, e)),
                    test_nll: Some(nll(m, e)),
                    status: Status::Active,
                })
                .collect(),
        };
        jsonl += &serde_json::to_string(&m).unwrap();
        jsonl.push('\n');
    }
    std::fs::write(dir.join("metrics.jsonl"), jsonl).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!("dataset = \"nottingham\"\ncell = \"paper_gru\"\nseeds = {seeds}\n"),
    )
    .unwrap();
    let members: Vec<MemberResult> = (0..n)
        .map(|m| MemberResult {
            member: m,
            lr: LRS[m / seeds],
            status: Status::Stopped,
            status_epoch: Some(epochs),
            best_epoch: Some(epochs),
            train_nll: nll(m, epochs) - 0.1,
            valid_nll: nll(m, epochs),
            test_nll: 3.0 + 0.3 * (m % seeds) as f64 + 0.5 * (1 - m / seeds) as f64,
        })
        .collect();
    let summary = Summary {
        dataset: "nottingham".into(),
        cell: "paper_gru".into(),
        implementation: "custom".into(),
        hidden: 46,
        params_paper: 18630,
        params_total: 22766,
        epochs,
        updates: 10 * epochs as u64,
        seconds: 2.0 * epochs as f64,
        seconds_per_epoch: 2.0,
        cpu_seconds: 1.8 * epochs as f64,
        population: n,
        seeds,
        best_member: Some(seeds),
        best_member_per_seed: (0..seeds).map(|k| Some(seeds + k)).collect(),
        tokens: None,
        members,
    };
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(&summary).unwrap(),
    )
    .unwrap();
    summary
}

/// The longest vertical run of exactly `color` in the image: (column, first row, length).
fn longest_vertical_run(w: u32, h: u32, pixels: &[[u8; 3]], color: [u8; 3]) -> (u32, u32, u32) {
    let mut best = (0, 0, 0);
    for x in 0..w {
        let mut start = 0;
        let mut len = 0;
        for y in 0..h {
            if pixels[(y * w + x) as usize] == color {
                if len == 0 {
                    start = y;
                }
                len += 1;
                if len > best.2 {
                    best = (x, start, len);
                }
            } else {
                len = 0;
            }
        }
    }
    best
}

/// Pixels of `color` in row `y` within `r` columns of `x`.
fn around(w: u32, pixels: &[[u8; 3]], color: [u8; 3], x: u32, y: u32, r: u32) -> usize {
    (x.saturating_sub(r)..=x + r)
        .filter(|&c| c < w && pixels[(y * w + c) as usize] == color)
        .count()
}

#[test]
fn table2_draws_an_error_bar_between_the_interval_ends_of_a_multi_seed_row() {
    let tmp = tempfile::tempdir().unwrap();
    let s = write_seeded_run(&tmp.path().join("run"), 3, 4);
    let row = table::row(&s).unwrap().unwrap();
    // Seeds' test NLLs 3.0, 3.3, 3.6: mean 3.3, sd 0.3, 95 % half-width t(0.975, 2)·0.3/√3 = 0.745.
    let st = row.test_nll_stats.clone().unwrap();
    let (lo, hi) = st.ci95.unwrap();
    assert!((st.mean.unwrap() - 3.3).abs() < 1e-9 && (hi - lo - 2.0 * 0.7452).abs() < 1e-3);
    let gru = unit_color("gru");
    let gru = [gru.0, gru.1, gru.2];

    let path = tmp.path().join("table2.png");
    plot::table2_chart(std::slice::from_ref(&row), &path).unwrap();
    let (w, h, px) = decode(&path);
    let (x, top, len) = longest_vertical_run(w, h, &px, gru);
    // The bar: a long vertical run of the unit's colour, capped at both ends, with the mean's square at its middle
    // (the interval is symmetric about the mean).
    assert!(len > 100, "no error bar: longest gru run {len} px");
    assert!(
        around(w, &px, gru, x, top, 10) >= 15,
        "no cap at the interval's top"
    );
    assert!(
        around(w, &px, gru, x, top + len - 1, 10) >= 15,
        "no cap at the interval's bottom"
    );
    assert!(
        around(w, &px, gru, x, top + len / 2, 10) >= 12,
        "no mean square at the middle"
    );
    assert!(
        around(w, &px, gru, x, top + len / 4, 10) <= 4,
        "the bar is not a thin line"
    );
    // Between the caps, every row of the bar's column is the unit's colour.
    for y in top..top + len {
        assert_eq!(px[(y * w + x) as usize], gru);
    }

    // The same row as a table of one seed (as old table2.json files read): a dot, no bar.
    let old = table::Row {
        seeds: 1,
        test_nll_seeds: vec![],
        test_nll_stats: None,
        ..row
    };
    plot::table2_chart(&[old], &path).unwrap();
    let (w, h, px) = decode(&path);
    let (_, _, len) = longest_vertical_run(w, h, &px, gru);
    assert!(len <= 25, "a one-seed row drew a bar of {len} px");
}

/// Pixels within 3 of the band colour: `color` at 18 % opacity over white.
fn band_pixels(path: &Path, unit: &str) -> usize {
    let c = unit_color(unit);
    let blend = |v: u8| (v as f64 * 0.18 + 255.0 * 0.82).round() as i32;
    let want = [blend(c.0), blend(c.1), blend(c.2)];
    let (_, _, px) = decode(path);
    px.iter()
        .filter(|p| (0..3).all(|i| (p[i] as i32 - want[i]).abs() <= 3))
        .count()
}

#[test]
fn learning_curves_of_a_three_seed_run_draw_the_mean_with_a_band() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nottingham_paper_gru");
    write_seeded_run(&dir, 3, 6);
    let run = load_run(&dir).unwrap();
    assert_eq!(run.seeds, 3);
    assert_eq!(run.seed_members(), vec![Some(3), Some(4), Some(5)]);
    let path = tmp.path().join("curves.png");
    plot::learning_curves(std::slice::from_ref(&run), "nottingham", &path).unwrap();
    let seeded = band_pixels(&path, "gru");
    assert!(seeded > 2000, "band: {seeded} pixels");

    // Unfinished (no summary.json): the seeds come from config.toml, each seed's member from the metrics.
    std::fs::remove_file(dir.join("summary.json")).unwrap();
    let run = load_run(&dir).unwrap();
    assert_eq!(
        (run.seeds, run.seed_members()),
        (3, vec![Some(3), Some(4), Some(5)])
    );
    plot::learning_curves(std::slice::from_ref(&run), "nottingham", &path).unwrap();
    assert!(band_pixels(&path, "gru") > 2000);

    // One seed: no band.
    let one = tmp.path().join("one");
    write_seeded_run(&one, 1, 6);
    let run = load_run(&one).unwrap();
    plot::learning_curves(std::slice::from_ref(&run), "nottingham", &path).unwrap();
    let single = band_pixels(&path, "gru");
    assert!(single < 200, "one seed drew {single} band pixels");
}

/// A study setting: epochs at `x` seconds (CPU, or wall-clock when `cpu` is false) with best valid NLLs `valid`.
fn write_setting(dir: &Path, chunk: i64, carry: bool, x: &[f64], valid: &[f64], cpu: bool) {
    std::fs::create_dir_all(dir).unwrap();
    let mut jsonl = String::new();
    for (e, (x, v)) in x.iter().zip(valid).enumerate() {
        let m = EpochMetrics {
            epoch: e + 1,
            updates: 100 * (e as u64 + 1),
            seconds: if cpu { 2.0 * x } else { *x },
            cpu_seconds: if cpu { *x } else { 0.0 },
            members: [*v + 0.7, *v, f64::NAN]
                .iter()
                .map(|v| MemberMetrics {
                    lr: 1e-3,
                    train_nll: None,
                    valid_nll: v.is_finite().then_some(*v),
                    test_nll: None,
                    status: Status::Active,
                })
                .collect(),
        };
        jsonl += &serde_json::to_string(&m).unwrap();
        jsonl.push('\n');
    }
    std::fs::write(dir.join("metrics.jsonl"), jsonl).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "dataset = \"nottingham\"\ncell = \"paper_gru\"\nchunk_len = {chunk}\ncarry_state = {carry}\n\
             batch_size = 8\nseeds = 1\n"
        ),
    )
    .unwrap();
}

#[test]
fn the_recipe_study_ranks_settings_at_the_common_cpu_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let study = tmp.path().join("nottingham");
    // a ends first, at 30 CPU s: the common budget. b's epoch at 35 s comes after it, so b counts 4.6 (25 s).
    // c recorded no CPU time: its wall-clock seconds are used, and its epoch at 12 s counts (4.4).
    write_setting(
        &study.join("a"),
        100,
        true,
        &[10.0, 20.0, 30.0],
        &[5.0, 4.5, 4.2],
        true,
    );
    write_setting(
        &study.join("b"),
        50,
        false,
        &[15.0, 25.0, 35.0, 45.0],
        &[4.8, 4.6, 4.0, 4.1],
        true,
    );
    write_setting(
        &study.join("c"),
        0,
        false,
        &[12.0, 40.0],
        &[4.4, 4.1],
        false,
    );
    let out = tmp.path().join("docs");
    let report = recipe_study(&study, &out).unwrap();
    assert!(
        report.notes.iter().any(|n| n.contains("wall-clock")),
        "{:?}",
        report.notes
    );
    let md = std::fs::read_to_string(out.join("recipe-study_nottingham.md")).unwrap();
    let rows: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| setting"))
        .collect();
    assert_eq!(
        rows,
        vec![
            "| a | 100 | true | 8 | 3 | 300 | 30 | 60 | 4.200 | 4.200 |",
            "| c (wall-clock) | whole | false | 8 | 2 | 200 | 0 | 40 | 4.400 | 4.100 |",
            "| b | 50 | false | 8 | 4 | 400 | 45 | 90 | 4.600 | 4.000 |",
        ],
        "{md}"
    );
    assert!(md.contains("best valid NLL at 30 CPU s"), "{md}");
    assert!(
        md.contains("`a` reaches the lowest validation NLL, 4.200, 0.200 below the next best, `c`"),
        "{md}"
    );
    let (w, h, px) = decode(&out.join("recipe-study_nottingham.png"));
    assert_eq!((w, h), (1800, 800));
    // One line per setting, in the palette's first three colours (ranked order).
    for c in [[0, 114, 178], [213, 94, 0], [0, 158, 115]] {
        let n = px.iter().filter(|p| **p == c).count();
        assert!(n > 300, "colour {c:?}: {n} pixels");
    }
}

#[test]
fn table2_marks_rows_whose_chosen_members_ended_at_the_epoch_cap_and_reports_cpu_time() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = write_seeded_run(&tmp.path().join("run"), 3, 4);
    let row = table::row(&s).unwrap().unwrap();
    assert!(!row.at_cap && row.seeds_at_cap == 0);
    assert!((row.cpu_seconds - 7.2).abs() < 1e-12);
    let md = table::markdown(std::slice::from_ref(&row));
    assert!(!md.contains('‡'), "{md}");

    // The population's best member (seed 0's choice, member 3) and seed 1's choice (member 4) were still training
    // when the run stopped at its cap; seed 2's choice stopped early.
    s.members[3].status = Status::Active;
    s.members[4].status = Status::Active;
    let row = table::row(&s).unwrap().unwrap();
    assert!(row.at_cap);
    assert_eq!(row.seeds_at_cap, 2);
    let md = table::markdown(std::slice::from_ref(&row));
    assert!(md.contains("4 (4) ‡"), "{md}");
    assert!(md.contains("nottingham gru 2/3"), "{md}");
    let csv = table::csv(std::slice::from_ref(&row));
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let values: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(header.len(), values.len());
    let column = |name: &str| {
        let i = header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}"));
        values[i]
    };
    assert_eq!(
        ["cpu_seconds", "at_cap", "seeds_at_cap", "pruned"].map(column),
        ["7.2", "true", "2", "0"]
    );
    // No metric variants were measured for this row: their columns are empty.
    assert_eq!(column("train_nll_clean"), "");
    assert!(!md.contains("pruning"), "{md}");

    // Two members pruned: counted in the row, the CSV and a note under the table.
    s.members[0].status = Status::Pruned;
    s.members[1].status = Status::Pruned;
    let row = table::row(&s).unwrap().unwrap();
    assert_eq!(row.pruned, 2);
    let md = table::markdown(std::slice::from_ref(&row));
    assert!(
        md.contains("pruning") && md.contains(&format!("nottingham gru 2/{}", row.population)),
        "{md}"
    );
    let csv = table::csv(std::slice::from_ref(&row));
    let pruned = csv
        .lines()
        .next()
        .unwrap()
        .split(',')
        .position(|h| h == "pruned")
        .unwrap();
    assert_eq!(
        csv.lines().nth(1).unwrap().split(',').nth(pruned),
        Some("2")
    );
}
