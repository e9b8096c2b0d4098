//! `stats` against SciPy/statsmodels: tests/fixtures/stats.json, written by scripts/make_stats_fixtures.py.

use rnnlab::report::stats::{compare_units, holm, summarize, t_quantile_975, welch, SeedStats};
use serde_json::Value;

/// Relative tolerance of every comparison with the fixture (values are O(0.01 … 10); exact zeros compare exactly).
const REL_TOL: f64 = 1e-10;

fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stats.json");
    serde_json::from_str(
        &std::fs::read_to_string(path).expect("run scripts/make_stats_fixtures.py"),
    )
    .unwrap()
}

fn assert_close(ours: f64, theirs: f64, what: &str) {
    let scale = ours.abs().max(theirs.abs());
    assert!(
        ours == theirs || (ours - theirs).abs() <= REL_TOL * scale,
        "{what}: ours {ours:e}, scipy {theirs:e}, relative error {:e}",
        (ours - theirs).abs() / scale
    );
}

/// A fixture sample: JSON null stands for a diverged seed (NaN).
fn values(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

#[test]
fn summary_matches_scipy_t_interval() {
    for case in fixture()["summary"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let s = summarize(&values(&case["values"]));
        assert_eq!(s.n as u64, case["n"].as_u64().unwrap(), "{name}: n");
        assert_eq!(
            s.diverged as u64,
            case["diverged"].as_u64().unwrap(),
            "{name}: diverged"
        );
        match case["mean"].as_f64() {
            Some(m) => assert_close(s.mean.unwrap(), m, &format!("{name}: mean")),
            None => assert_eq!(s.mean, None, "{name}: mean"),
        }
        match case["sd"].as_f64() {
            Some(sd) => {
                assert_close(s.sd.unwrap(), sd, &format!("{name}: sd"));
                assert_close(
                    t_quantile_975(s.n - 1),
                    case["t_crit"].as_f64().unwrap(),
                    &format!("{name}: t_crit"),
                );
                let (lo, hi) = s.ci95.unwrap();
                assert_close(
                    lo,
                    case["ci95"][0].as_f64().unwrap(),
                    &format!("{name}: ci95 lo"),
                );
                assert_close(
                    hi,
                    case["ci95"][1].as_f64().unwrap(),
                    &format!("{name}: ci95 hi"),
                );
            }
            None => assert_eq!((s.sd, s.ci95), (None, None), "{name}: sd and ci95"),
        }
    }
}

#[test]
fn welch_matches_scipy_ttest_ind() {
    let fx = fixture();
    let sample = |name: &str| -> Vec<f64> {
        let case = fx["summary"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap();
        values(&case["values"])
    };
    for case in fx["welch"].as_array().unwrap() {
        let (a, b) = (case["a"].as_str().unwrap(), case["b"].as_str().unwrap());
        let ours = welch(&sample(a), &sample(b));
        let expected = &case["expected"];
        if expected.is_null() {
            assert_eq!(ours, None, "{a} vs {b}: expected no test");
            continue;
        }
        let w = ours.unwrap_or_else(|| panic!("{a} vs {b}: expected a test"));
        assert_close(
            w.t,
            expected["t"].as_f64().unwrap(),
            &format!("{a} vs {b}: t"),
        );
        assert_close(
            w.df,
            expected["df"].as_f64().unwrap(),
            &format!("{a} vs {b}: df"),
        );
        assert_close(
            w.p,
            expected["p"].as_f64().unwrap(),
            &format!("{a} vs {b}: p"),
        );
    }
}

#[test]
fn holm_matches_statsmodels() {
    for case in fixture()["holm"].as_array().unwrap() {
        let (p, expected) = (values(&case["p"]), values(&case["expected"]));
        let ours = holm(&p);
        assert_eq!(ours.len(), expected.len());
        for (k, (&o, &e)) in ours.iter().zip(&expected).enumerate() {
            assert_close(o, e, &format!("holm {p:?}[{k}]"));
        }
    }
}

#[test]
fn compare_units_matches_scipy_and_statsmodels() {
    for c in fixture()["compare"].as_array().unwrap() {
        let units: Vec<(String, Vec<f64>)> = c["units"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| (u[0].as_str().unwrap().to_string(), values(&u[1])))
            .collect();
        let tests = compare_units(c["dataset"].as_str().unwrap(), &units);
        let expected = c["expected"].as_array().unwrap();
        assert_eq!(tests.pairs.len(), expected.len());
        for (row, e) in tests.pairs.iter().zip(expected) {
            assert_eq!(
                (row.a.as_str(), row.b.as_str()),
                (e["a"].as_str().unwrap(), e["b"].as_str().unwrap())
            );
            let ours = serde_json::to_value(row).unwrap();
            for field in ["mean_a", "mean_b", "t", "df", "p", "p_holm"] {
                let what = format!("{}: {} vs {}: {field}", tests.dataset, row.a, row.b);
                assert_close(
                    ours[field].as_f64().unwrap(),
                    e[field].as_f64().unwrap(),
                    &what,
                );
            }
        }
        println!("{}", tests.sentence);
    }
}

#[test]
fn one_seed_has_no_spread_and_serialises_as_null() {
    let s = SeedStats::new(&[8.54]);
    assert_eq!(
        (s.n, s.diverged, s.mean, s.sd, s.ci95),
        (1, 0, Some(8.54), None, None)
    );
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(
        json,
        r#"{"n":1,"diverged":0,"mean":8.54,"sd":null,"ci95":null}"#
    );
    let back: SeedStats = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
}

#[test]
fn diverged_seeds_are_counted_not_averaged() {
    let s = SeedStats::new(&[f64::NAN, 8.5, f64::INFINITY, 8.7]);
    assert_eq!((s.n, s.diverged), (2, 2));
    assert_close(s.mean.unwrap(), 8.6, "mean of the finite seeds");
    let all = SeedStats::new(&[f64::NAN, f64::NAN]);
    assert_eq!(
        (all.n, all.diverged, all.mean, all.sd, all.ci95),
        (0, 2, None, None, None)
    );
    let empty = SeedStats::new(&[]);
    assert_eq!((empty.n, empty.diverged, empty.mean), (0, 0, None));
}

#[test]
fn equal_seeds_give_a_zero_width_interval() {
    let s = SeedStats::new(&[8.6, 8.6, 8.6]);
    assert_eq!(s.sd, Some(0.0));
    assert_eq!(s.ci95, Some((s.mean.unwrap(), s.mean.unwrap())));
}

#[test]
fn welch_edge_cases() {
    let a = [8.54, 8.61, 8.59];
    assert_eq!(welch(&[8.5], &a), None, "n = 1");
    assert_eq!(
        welch(&[8.6, 8.6], &[8.7, 8.7, 8.7]),
        None,
        "both without spread"
    );
    assert_eq!(
        welch(&[8.6, 8.6], &[8.6, 8.6]),
        None,
        "both without spread, equal"
    );
    let same = welch(&a, &a).unwrap();
    assert_eq!((same.t, same.p), (0.0, 1.0), "identical samples");
    let (ab, ba) = (
        welch(&a, &[8.9, 9.1, 9.0]).unwrap(),
        welch(&[8.9, 9.1, 9.0], &a).unwrap(),
    );
    assert_eq!(
        (ab.t, ab.df, ab.p),
        (-ba.t, ba.df, ba.p),
        "swapping a and b flips only the sign of t"
    );
    let one_constant = welch(&[8.6, 8.6, 8.6], &[8.5, 8.7, 8.65, 8.55]).unwrap();
    assert_close(one_constant.df, 3.0, "df = n_b − 1 when a has no spread");
}

#[test]
fn holm_is_monotone_capped_and_keeps_order() {
    let p = [0.04, 0.01, 0.03, 0.005];
    let adj = holm(&p);
    // Sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 → max(0.06, 0.04) = 0.06.
    let expected = [0.06, 0.03, 0.06, 0.02];
    for (k, (&o, &e)) in adj.iter().zip(&expected).enumerate() {
        assert_close(o, e, &format!("holm[{k}]"));
    }
    assert_eq!(holm(&[0.6, 0.5, 0.9]), vec![1.0, 1.0, 1.0]);
    assert_eq!(holm(&[0.04]), vec![0.04]);
    assert!(holm(&[]).is_empty());
}

#[test]
fn sentence_names_winners_ties_and_untested_pairs() {
    let units = [
        ("tanh", vec![9.00, 9.10, 9.05, 8.95, 9.08]),
        ("gru", vec![8.50, 8.55, 8.52, 8.58, 8.49]),
        ("lstm", vec![9.02, 9.07, 9.01, f64::NAN, 8.99]),
        ("extra", vec![8.7]),
    ];
    let t = compare_units("jsb", &units);
    assert_eq!(t.pairs.len(), 6);
    let s = &t.sentence;
    println!("{s}");
    assert!(s.starts_with("jsb (Welch, Holm-corrected): GRU < "), "{s}");
    assert!(
        s.contains("GRU < tanh (p < 0.001)") || s.contains("GRU < tanh (p = "),
        "{s}"
    );
    assert!(
        s.contains("tanh vs LSTM: no significant difference at 0.05 (p = "),
        "{s}"
    );
    assert!(
        s.contains("tanh vs extra: not tested (n too small: 5 and 1 seeds)"),
        "{s}"
    );
    assert!(
        s.contains("1 of 5 LSTM seeds diverged and was left out"),
        "{s}"
    );
    assert!(s.ends_with('.'));
    let untested: Vec<_> = t.pairs.iter().filter(|r| r.p.is_none()).collect();
    assert_eq!(untested.len(), 3);
    assert!(untested.iter().all(|r| r.p_holm.is_none() && r.t.is_none()));
    let json = serde_json::to_value(&t).unwrap();
    // Pairs in input order: (tanh, gru), (tanh, lstm), (tanh, extra), (gru, lstm), (gru, extra), (lstm, extra).
    assert!(
        json["pairs"][1]["p_holm"].is_number()
            && json["pairs"][2]["p"].is_null()
            && json["pairs"][5]["p"].is_null()
    );
    assert_eq!(
        compare_units("jsb", &[("gru", vec![8.5, 8.6])]).sentence,
        "jsb: fewer than two units, nothing to compare."
    );
}

/// With a unit beyond the paper's, the family is every unit against GRU and LSTM (and GRU against LSTM): 2n − 3
/// tests for n units with both references, Holm-corrected over those alone.
#[test]
fn units_beyond_the_paper_are_tested_against_gru_and_lstm() {
    let seeds = |base: f64| -> Vec<f64> { (0..5).map(|k| base + 0.01 * (k * k) as f64).collect() };
    let units = vec![
        ("tanh".to_string(), seeds(8.8)),
        ("gru".to_string(), seeds(8.6)),
        ("lstm".to_string(), seeds(8.7)),
        ("mgu".to_string(), seeds(8.65)),
        ("lstm_cifg".to_string(), seeds(8.62)),
    ];
    let tests = compare_units("jsb", &units);
    let names: Vec<(&str, &str)> = tests
        .pairs
        .iter()
        .map(|p| (p.a.as_str(), p.b.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("tanh", "gru"),
            ("tanh", "lstm"),
            ("gru", "lstm"),
            ("mgu", "gru"),
            ("mgu", "lstm"),
            ("lstm_cifg", "gru"),
            ("lstm_cifg", "lstm"),
        ]
    );
    let get = |name: &str| &units.iter().find(|u| u.0 == name).unwrap().1;
    let raw: Vec<f64> = names
        .iter()
        .map(|(a, b)| welch(get(a), get(b)).unwrap().p)
        .collect();
    for (pair, adjusted) in tests.pairs.iter().zip(holm(&raw)) {
        assert_eq!(pair.p_holm, Some(adjusted));
    }
    // The paper's three alone keep every pair.
    let paper = compare_units("jsb", &units[..3]);
    assert_eq!(paper.pairs.len(), 3);
}
