//! `rnnlab validate` as a user runs it: exit codes, the table and the JSON report.

mod common;

use common::rnnlab;

#[test]
fn validate_json_reports_every_check_and_passes_on_cpu() {
    let out = rnnlab(&["validate", "--device", "cpu", "--cases", "3", "--json"]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    let rows = v["results"].as_array().expect("a results array");
    // f32 and f64: 6 built-in comparisons + one fixture row per unit each, then one finite-difference row per unit.
    let units = rnnlab::cells::CellKind::ALL.len();
    assert_eq!(rows.len(), 2 * (6 + units) + units);
    for row in rows {
        for key in [
            "cell",
            "reference",
            "dtype",
            "device",
            "max_abs_out",
            "max_abs_grad",
            "pass",
        ] {
            assert!(!row[key].is_null(), "row lacks {key}: {row}");
        }
        assert_eq!(row["device"], "cpu");
        assert_eq!(row["pass"], true, "{row}");
    }
    assert_eq!(v["pass"], true);
}

#[test]
fn validate_table_and_dtype_filter() {
    let out = rnnlab(&[
        "validate", "--device", "cpu", "--dtype", "f64", "--cases", "2",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("at::gru (whole sequence)") && text.contains("central finite differences")
    );
    assert!(
        !text.contains(" f32 "),
        "--dtype f64 must not run f32 comparisons:\n{text}"
    );
    assert!(text.contains("all pass"));
}

#[test]
fn cuda_without_a_gpu_is_a_clear_error() {
    let out = rnnlab(&["validate", "--device", "cuda", "--cases", "2"]);
    if tch::Cuda::is_available() {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        return;
    }
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--device cuda"), "{err}");
}

#[test]
fn bad_arguments_exit_non_zero() {
    assert!(!rnnlab(&["validate", "--dtype", "f16"]).status.success());
    assert!(!rnnlab(&["validate", "--cases", "1"]).status.success());
}
