//! The Python table scripts (`scripts/rnnlab_stats.py`, `scripts/extend-search.py`) against rnnlab's own statistics
//! and the SciPy fixture: the numbers they print in `results/` must be the ones `src/report/stats.rs` would give.
//! Needs `python3` (3.11 or later), as `scripts/setup-libtorch.sh` does.

use rnnlab::report::stats::{holm, welch};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts");

fn python(args: &[&str]) -> std::process::Output {
    Command::new("python3")
        .args(args)
        .output()
        .expect("the table scripts need python3 (3.11 or later) on PATH")
}

fn close(ours: f64, theirs: f64, tol: f64, what: &str) {
    let scale = ours.abs().max(theirs.abs()).max(1e-300);
    assert!(
        (ours - theirs).abs() <= tol * scale,
        "{what}: python {ours:e}, expected {theirs:e}"
    );
}

/// `ours[key]` against `theirs[key]` for each key: both null, or both numbers within `tol`.
fn close_keys(ours: &Value, theirs: &Value, keys: &[(&str, f64)], what: &str) {
    for &(key, tol) in keys {
        match (ours[key].as_f64(), theirs[key].as_f64()) {
            (Some(o), Some(t)) => close(o, t, tol, &format!("{what} {key}")),
            _ => assert!(
                ours[key].is_null() && theirs[key].is_null(),
                "{what} {key}: python {}, expected {}",
                ours[key],
                theirs[key]
            ),
        }
    }
}

/// `rnnlab_stats.py` gives SciPy's Welch t, df and p, its t-intervals and statsmodels' Holm on every case of the
/// fixture, including those where `src/report/stats.rs` gives no test (a side with one finite value, no spread on
/// either side) and the samples with diverged seeds.
#[test]
fn python_statistics_match_the_scipy_fixture() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stats.json");
    let program = format!(
        r#"
import json, sys
sys.path.insert(0, {SCRIPTS:?})
from rnnlab_stats import holm, stats, welch
d = json.load(open({fixture:?}))
samples = {{s["name"]: s["values"] for s in d["summary"]}}
out = {{"welch": [], "holm": [], "summary": []}}
for c in d["welch"]:
    w = welch(samples[c["a"]], samples[c["b"]])
    out["welch"].append({{"case": c, "got": w and dict(zip(("t", "df", "p"), w))}})
for c in d["holm"]:
    out["holm"].append({{"case": c, "got": holm(c["p"])}})
for s in d["summary"]:
    out["summary"].append({{"case": s, "got": stats(s["values"])}})
print(json.dumps(out))
"#
    );
    let out = python(&["-c", &program]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let welch_cases = got["welch"].as_array().unwrap();
    assert_eq!(welch_cases.len(), 13, "the fixture's Welch cases");
    for w in welch_cases {
        let (case, ours) = (&w["case"], &w["got"]);
        let what = format!("welch {} vs {}", case["a"], case["b"]);
        if case["expected"].is_null() {
            assert!(ours.is_null(), "{what}: python gives {ours}, SciPy no test");
        } else {
            let keys = [("t", 1e-10), ("df", 1e-10), ("p", 1e-9)];
            close_keys(ours, &case["expected"], &keys, &what);
        }
    }
    let holm_cases = got["holm"].as_array().unwrap();
    assert!(!holm_cases.is_empty());
    for h in holm_cases {
        let expected = h["case"]["expected"].as_array().unwrap();
        let ours = h["got"].as_array().unwrap();
        assert_eq!(ours.len(), expected.len());
        for (o, e) in ours.iter().zip(expected) {
            close(o.as_f64().unwrap(), e.as_f64().unwrap(), 1e-12, "holm");
        }
    }
    let summaries = got["summary"].as_array().unwrap();
    assert_eq!(summaries.len(), 12, "the fixture's samples");
    for s in summaries {
        let (case, ours) = (&s["case"], &s["got"]);
        let what = format!("summary {}", case["name"]);
        assert_eq!(ours["n"], case["n"], "{what}: n");
        close_keys(ours, case, &[("mean", 1e-12), ("sd", 1e-12)], &what);
        let interval = |v: &Value| json!({"lo": v["ci95"][0], "hi": v["ci95"][1]});
        close_keys(
            &interval(ours),
            &interval(case),
            &[("lo", 1e-9), ("hi", 1e-9)],
            &what,
        );
    }
}

fn row(unit: &str, test: [f64; 3], valid: [f64; 3], lr: [f64; 3]) -> Value {
    json!({
        "dataset": "nottingham", "unit": unit, "cell": unit,
        "test_nll_seeds": test, "valid_nll_seeds": valid, "lr_seeds": lr,
    })
}

fn write(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

/// Each seed takes the member of the lower validation NLL over both searches, and the base's tests are recomputed
/// over the extended rows with Holm over the same pairs, as rnnlab's own Welch and Holm give them.
#[test]
fn extend_search_chooses_by_validation_and_recomputes_the_tests() {
    let dir = tempfile::tempdir().unwrap();
    let gru = [3.75, 3.754, 3.751];
    let lstm = [3.852, 3.881, 3.883];
    let x = [3.70, 3.80, 3.72];
    let base = json!({
        "quick": false,
        "rows": [
            row("gru", gru, [3.73, 3.74, 3.735], [5e-4, 5e-4, 1e-3]),
            row("lstm", lstm, [3.83, 3.85, 3.86], [2e-3, 1e-3, 1e-3]),
            row("x", x, [3.69, 3.79, 3.70], [2e-3, 2e-3, 1e-3]),
        ],
        "tests": [{"dataset": "nottingham", "alpha": 0.05, "pairs": [
            {"a": "gru", "b": "lstm", "p_holm": 0.1},
            {"a": "x", "b": "gru", "p_holm": 1.0},
            {"a": "x", "b": "lstm", "p_holm": 0.5},
        ]}],
    });
    // The extension at 4e-3: seed 1 validates better there (3.76 < 3.79), seeds 0 and 2 do not; seed 2 ties the base
    // (a tie keeps the base's member).
    let ext = json!({
        "quick": false,
        "rows": [row("x", [3.60, 3.71, 3.50], [3.70, 3.76, 3.70], [4e-3, 4e-3, 4e-3])],
    });
    let (b, e, j) = (
        dir.path().join("base.json"),
        dir.path().join("ext.json"),
        dir.path().join("out.json"),
    );
    write(&b, &base);
    write(&e, &ext);
    let script = format!("{SCRIPTS}/extend-search.py");
    let extend_search = || {
        let paths = [&b, &e, &j].map(|p| p.to_str().unwrap());
        python(&[&script, paths[0], paths[1], "--json", paths[2]])
    };
    let out = extend_search();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_str(&std::fs::read_to_string(&j).unwrap()).unwrap();
    let r = &got["rows"][0];
    assert_eq!(r["switched"], json!([false, true, false]));
    let extended = [3.70, 3.71, 3.72];
    assert_eq!(r["test_nll_seeds"], json!(extended));
    assert_eq!(r["lr_seeds"], json!([2e-3, 4e-3, 1e-3]));

    // The same tests by rnnlab's statistics.
    let pairs: [(&[f64], &[f64]); 3] = [(&gru, &lstm), (&extended, &gru), (&extended, &lstm)];
    let ws: Vec<_> = pairs.iter().map(|(a, b)| welch(a, b).unwrap()).collect();
    let adjusted = holm(&ws.iter().map(|w| w.p).collect::<Vec<_>>());
    let tests = got["tests"][0]["pairs"].as_array().unwrap();
    assert_eq!(tests.len(), 3);
    for ((t, w), adjusted) in tests.iter().zip(&ws).zip(adjusted) {
        close(t["t"].as_f64().unwrap(), w.t, 1e-12, "t");
        close(t["p"].as_f64().unwrap(), w.p, 1e-9, "p");
        close(t["p_holm"].as_f64().unwrap(), adjusted, 1e-9, "p (Holm)");
    }
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.contains("| nottingham | x | x | 4e-3, 4e-3, 4e-3 | 3.690 / 3.700, 3.790 / 3.760, 3.700 / 3.700 | 2e-3, 2e-3 → 4e-3, 1e-3 | 1 of 3 |"),
        "{md}"
    );

    // An extension row the base does not hold is refused, naming the file; nothing is written.
    let other = json!({"rows": [row("y", x, x, [1e-3; 3])]});
    write(&e, &other);
    std::fs::remove_file(&j).unwrap();
    let out = extend_search();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ext.json") && err.contains("nottingham y has no row"),
        "{err}"
    );
    assert!(!j.exists());
}
