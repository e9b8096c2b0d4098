//! `rnnlab eval` on a real (tiny) JSB run: the frame-weighted variant recomputes the run's own validation and test
//! NLLs of its chosen members, and the variants relate as their definitions say.

mod common;

use common::{data_dir, rnnlab_ok};
use std::path::Path;

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn eval_recomputes_the_runs_own_nlls_and_its_variants_relate() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/jsb_gru.toml");
    rnnlab_ok(
        &data_dir(),
        &[
            "train",
            "--config",
            config.to_str().unwrap(),
            "--set",
            "hidden=8",
            "--set",
            "lr_candidates=2",
            "--set",
            "seeds=2",
            "--set",
            "train_subset=30",
            "--set",
            "eval_subset=10",
            "--set",
            "max_epochs=3",
            "--set",
            "dtype=\"f64\"",
            "--quiet",
            "--out",
            run.to_str().unwrap(),
        ],
    );
    rnnlab_ok(
        &data_dir(),
        &["eval", run.to_str().unwrap(), "--reset-every", "20"],
    );
    let summary = json(&run.join("summary.json"));
    let eval = json(&run.join("eval.json"));
    let chosen: Vec<u64> = summary["best_member_per_seed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_u64().unwrap())
        .collect();
    let members = eval["members"].as_array().unwrap();
    assert_eq!(
        members
            .iter()
            .map(|m| m["member"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        chosen
    );
    for m in members {
        let i = m["member"].as_u64().unwrap() as usize;
        let result = &summary["members"][i];
        for (split, key) in [("valid", "valid_nll"), ("test", "test_nll")] {
            let ours = m[split]["frame_weighted"].as_f64().unwrap();
            let run_s = result[key].as_f64().unwrap();
            assert!(
                (ours - run_s).abs() < 1e-9,
                "member {i} {split}: eval {ours} against the run's {run_s}"
            );
        }
        for split in ["train", "valid", "test"] {
            let s = &m[split];
            let f = |k: &str| s[k].as_f64().unwrap();
            // The positions partition the predicted frames; their frame-weighted mean is the total.
            let pos = s["positions"].as_array().unwrap();
            let frames: u64 = pos.iter().map(|p| p["frames"].as_u64().unwrap()).sum();
            assert_eq!(frames, s["frames"].as_u64().unwrap(), "{split}");
            let weighted: f64 = pos
                .iter()
                .filter(|p| p["frames"].as_u64().unwrap() > 0)
                .map(|p| p["carried"].as_f64().unwrap() * p["frames"].as_f64().unwrap())
                .sum();
            assert!((weighted / frames as f64 - f("frame_weighted")).abs() < 1e-9);
            assert_ne!(
                f("reset"),
                f("frame_weighted"),
                "{split}: a reset every 20 steps changed nothing"
            );
            assert!(f("sequence_weighted").is_finite() && f("with_first_frame").is_finite());
        }
    }
    // Resetting every step count longer than any piece is no reset at all.
    rnnlab_ok(
        &data_dir(),
        &["eval", run.to_str().unwrap(), "--reset-every", "100000"],
    );
    let eval = json(&run.join("eval.json"));
    for m in eval["members"].as_array().unwrap() {
        assert_eq!(m["test"]["reset"], m["test"]["frame_weighted"]);
    }
}
