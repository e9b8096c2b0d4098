//! `rnnlab reproduce --merge`: one Table 2 from the table2.json of several reproductions. Checked on the committed
//! paper-scale table of JSB and Nottingham: split into one file per dataset and merged back, it gives the same rows
//! and the same tests between units; a cell held twice, a quick table beside a full one, a corrupt input and an OUT
//! that holds a reproduction are refused without writing a table.

mod common;

use common::rnnlab;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn committed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("results")
        .join(name)
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn merge(inputs: &[&Path], out: &Path) -> Output {
    let mut args: Vec<&str> = vec!["reproduce", "--out", out.to_str().unwrap(), "--merge"];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    rnnlab(&args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The committed table with only `dataset`'s rows (and no tests), written to `path`.
fn only(table: &Value, dataset: &str, path: &Path) {
    let mut t = table.clone();
    let keep = |v: &Value| v["dataset"] == dataset;
    let rows: Vec<Value> = t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| keep(r))
        .cloned()
        .collect();
    assert!(!rows.is_empty(), "no {dataset} rows in the committed table");
    t["rows"] = Value::Array(rows);
    // No tests: the merge must compute them from the rows.
    t["tests"] = Value::Array(vec![]);
    std::fs::write(path, serde_json::to_string_pretty(&t).unwrap()).unwrap();
}

fn find<'a>(list: &'a Value, dataset: &str, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| r["dataset"] == dataset && r[key] == value)
        .unwrap_or_else(|| panic!("{dataset} {value} missing"))
}

#[test]
fn split_and_merged_back_gives_the_same_rows_and_tests() {
    let original = read(&committed("table2-paper-scale-jsb-nottingham.json"));
    let dir = tempfile::tempdir().unwrap();
    let (jsb, nott) = (dir.path().join("jsb.json"), dir.path().join("nott"));
    only(&original, "jsb", &jsb);
    std::fs::create_dir(&nott).unwrap();
    only(&original, "nottingham", &nott.join("table2.json"));
    let out = dir.path().join("merged");
    // A directory holding a table2.json is an input too.
    let o = merge(&[&jsb, &nott], &out);
    assert!(o.status.success(), "merge failed: {}", stderr(&o));
    let merged = read(&out.join("table2.json"));

    let rows = merged["rows"].as_array().unwrap();
    assert_eq!(rows.len(), original["rows"].as_array().unwrap().len());
    // The paper's order: Nottingham before JSB, then tanh, GRU, LSTM.
    let order: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["dataset"].as_str().unwrap().into(),
                r["unit"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("nottingham", "gru"),
        ("nottingham", "lstm"),
        ("jsb", "tanh"),
        ("jsb", "gru"),
        ("jsb", "lstm"),
    ]
    .iter()
    .map(|(d, u)| (d.to_string(), u.to_string()))
    .collect();
    assert_eq!(order, want);
    for r in rows {
        let d = r["dataset"].as_str().unwrap();
        assert_eq!(
            r,
            find(&original["rows"], d, "cell", r["cell"].as_str().unwrap())
        );
    }
    // The tests are computed anew from the rows; they equal the ones the collect of the runs wrote.
    for t in original["tests"].as_array().unwrap() {
        let d = t["dataset"].as_str().unwrap();
        let m = merged["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["dataset"] == d)
            .unwrap();
        assert_eq!(m, t, "{d}: tests differ");
        assert!(
            !t["pairs"].as_array().is_none_or(|p| p.is_empty()),
            "{d}: no pairs to compare"
        );
    }
    // Summed time of the rows; no invocation wall-clock for a merge.
    assert_eq!(merged["cpu_seconds_total"], original["cpu_seconds_total"]);
    assert_eq!(merged["seconds"], 0.0);
    let md = std::fs::read_to_string(out.join("table2.md")).unwrap();
    assert!(
        md.contains("Merged by `rnnlab reproduce --merge` from"),
        "{md}"
    );
    assert!(md.contains("| nottingham | gru |"), "{md}");
    assert!(out.join("table2.csv").is_file());
}

#[test]
fn refuses_duplicates_quick_tables_corrupt_files_and_a_reproduction_out() {
    let dir = tempfile::tempdir().unwrap();
    let both = committed("table2-paper-scale-jsb-nottingham.json");
    let jsb = committed("table2-paper-scale-jsb.json");
    let out = dir.path().join("out");

    // JSB's cells are in both committed tables.
    let o = merge(&[&jsb, &both], &out);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("jsb tanh is in both") && e.contains("table2-paper-scale-jsb.json"),
        "{e}"
    );

    // A quick smoke table beside a full one.
    let mut quick = read(&jsb);
    quick["quick"] = Value::Bool(true);
    let mut rows = quick["rows"].as_array().unwrap().clone();
    for r in &mut rows {
        r["dataset"] = Value::String("piano".into());
    }
    quick["rows"] = Value::Array(rows);
    let q = dir.path().join("quick.json");
    std::fs::write(&q, serde_json::to_string(&quick).unwrap()).unwrap();
    let o = merge(&[&both, &q], &out);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--quick smoke table"), "{}", stderr(&o));

    // A truncated file is named.
    let bad = dir.path().join("bad.json");
    let text = std::fs::read_to_string(&jsb).unwrap();
    std::fs::write(&bad, &text[..text.len() / 2]).unwrap();
    let o = merge(&[&bad], &out);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("bad.json is not a Table 2 JSON"),
        "{}",
        stderr(&o)
    );
    assert!(
        !out.join("table2.json").exists(),
        "a refused merge wrote a table"
    );

    // An OUT that holds a reproduction keeps its table.
    let repro = dir.path().join("repro");
    std::fs::create_dir(&repro).unwrap();
    std::fs::write(repro.join("plan.json"), "{}").unwrap();
    std::fs::write(repro.join("table2.json"), "kept").unwrap();
    let o = merge(&[&jsb], &repro);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("holds a reproduction"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(repro.join("table2.json")).unwrap(),
        "kept"
    );
}
