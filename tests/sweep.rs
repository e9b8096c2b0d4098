//! Plans and collection without Slurm: an OUT keeps one plan, `--collect` names every job without a result and
//! exits 1, and a run directory killed before its first checkpoint resumes (from scratch) without --data-dir.

mod common;

use common::{data_dir, rnnlab};
use std::path::Path;
use std::process::{Command, Output};

fn reproduce(out: &Path, extra: &[&str]) -> Output {
    let e = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let d = data_dir();
    let mut args = vec![
        "reproduce",
        "--quick",
        "--datasets",
        "jsb",
        "--units",
        "tanh",
        "--quiet",
        "--experiments",
        e.to_str().unwrap(),
        "--data-dir",
        d.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    rnnlab(&args)
}

#[test]
fn one_plan_per_out_and_collect_names_every_missing_job() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let r = reproduce(&out, &["--sweep", "seed=1,2"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(out.join("runs/jsb_tanh__seed-1/summary.json").exists());
    assert!(out.join("runs/jsb_tanh__seed-2/data.json").exists());
    // The same command again reuses the plan; another sweep into the same OUT is refused.
    let r = reproduce(&out, &["--sweep", "seed=1,2"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let r = reproduce(&out, &["--sweep", "seed=1,3"]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("holds another plan"), "{stderr}");
    // A lost run directory is reported as missing, and collect exits 1.
    std::fs::remove_dir_all(out.join("runs/jsb_tanh__seed-2")).unwrap();
    let r = rnnlab(&["reproduce", "--collect", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("jsb_tanh__seed-2: missing (no run directory)"),
        "{stderr}"
    );
    // sweep-task trains it again from the plan alone; collect is then complete.
    let plan = out.join("plan.json");
    let r = rnnlab(&[
        "sweep-task",
        "--plan",
        plan.to_str().unwrap(),
        "--index",
        "1",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let r = rnnlab(&["reproduce", "--collect", out.to_str().unwrap()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
}

#[test]
fn resume_without_a_checkpoint_starts_afresh_with_the_recorded_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let r = reproduce(&out, &[]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let run = out.join("runs/jsb_tanh");
    let finished = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    // As if killed during its first epoch: the config and the data record, nothing else.
    std::fs::remove_dir_all(run.join("checkpoint")).unwrap();
    std::fs::remove_file(run.join("summary.json")).unwrap();
    std::fs::write(run.join("metrics.csv"), "").unwrap();
    let r = Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(["train", "--quiet", "--resume", run.to_str().unwrap()])
        .env_remove("RNNLAB_DATA")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let again = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let no_time = |t: &str| -> Vec<String> {
        t.lines()
            .map(|l| {
                let mut c: Vec<&str> = l.split(',').collect();
                c.remove(4);
                c.join(",")
            })
            .collect()
    };
    assert_eq!(no_time(&finished), no_time(&again));
}
