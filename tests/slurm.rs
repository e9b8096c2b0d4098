//! The Slurm backend against a real Slurm (CI starts one with scripts/slurm-local.sh; see .ci/run). Each test
//! skips, saying so, when `sbatch` or `SLURM_CONF` is missing.
//!
//! - a --quick JSB plan of 4 jobs (the GRU and a unit beyond the paper, MGU, × 2 seeds) as one array, waited for and
//!   collected, equals the local backend's runs;
//! - a task requeued mid-run (as a preemption does) resumes and ends with the metrics of an uninterrupted run;
//! - a refused submission (`--partition nope`) exits 2 naming the option and quoting sbatch.

mod common;

use common::{data_dir, metrics_without_time, rnnlab_in};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn slurm_available(test: &str) -> bool {
    let has_sbatch = Command::new("sbatch").arg("--version").output().is_ok();
    let has_conf = std::env::var_os("SLURM_CONF").is_some();
    if !has_sbatch || !has_conf {
        eprintln!(
            "skipping {test}: needs sbatch on PATH and SLURM_CONF (start one: scripts/slurm-local.sh up; eval \"$(scripts/slurm-local.sh env)\")"
        );
        return false;
    }
    true
}

fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn experiments() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("experiments")
        .to_string_lossy()
        .into_owned()
}

fn squeue_state(id: &str, index: usize) -> String {
    let out = Command::new("squeue")
        .args(["-j", id, "--array", "--states=all", "-h", "-o", "%K|%T"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let (k, t) = l.split_once('|')?;
            (k.trim() == index.to_string()).then(|| t.trim().to_string())
        })
        .unwrap_or_default()
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn slurm_array_equals_the_local_backend() {
    if !slurm_available("slurm_array_equals_the_local_backend") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (local, slurm) = (dir.path().join("local"), dir.path().join("slurm"));
    let common = [
        "reproduce",
        "--quick",
        "--datasets",
        "jsb",
        "--units",
        "gru,mgu",
        "--sweep",
        "seed=1,2",
        "--quiet",
        "--experiments",
    ];
    let mut args: Vec<&str> = common.to_vec();
    let e = experiments();
    args.push(&e);
    let l = local.to_str().unwrap();
    let s = slurm.to_str().unwrap();
    ok(
        rnnlab_in(
            &data_dir(),
            &[&args[..], &["--out", l, "--jobs", "2"]].concat(),
        ),
        "local backend",
    );
    ok(
        rnnlab_in(
            &data_dir(),
            &[
                &args[..],
                &[
                    "--out",
                    s,
                    "--backend",
                    "slurm",
                    "--max-parallel",
                    "2",
                    "--wait",
                ],
            ]
            .concat(),
        ),
        "slurm backend",
    );
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(slurm.join("plan.json")).unwrap()).unwrap();
    let jobs = plan["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 4);
    assert_eq!(
        std::fs::read_to_string(local.join("plan.json")).unwrap(),
        std::fs::read_to_string(slurm.join("plan.json")).unwrap(),
        "the same command makes the same plan"
    );
    let script = std::fs::read_to_string(slurm.join("slurm/array.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-3%2"), "{script}");
    for job in jobs {
        let run = job["run_dir"].as_str().unwrap();
        let (a, b) = (
            metrics_without_time(&local.join(run)),
            metrics_without_time(&slurm.join(run)),
        );
        assert_eq!(a.len(), 2, "{run}: two --quick epochs");
        assert_eq!(a, b, "{run}: Slurm and local metrics differ");
    }
    // The tables agree but for the seconds columns.
    let rows = |out: &Path| -> Vec<serde_json::Value> {
        let t: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("table2.json")).unwrap())
                .unwrap();
        t["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.as_object_mut()
                    .unwrap()
                    .retain(|k, _| !k.contains("seconds"));
                r
            })
            .collect()
    };
    assert_eq!(rows(&local).len(), 4);
    assert_eq!(
        rows(&local).iter().filter(|r| r["unit"] == "mgu").count(),
        2,
        "the unit beyond the paper ran in the array"
    );
    assert_eq!(rows(&local), rows(&slurm));
    // Collecting again reports every job finished.
    ok(
        rnnlab_in(&data_dir(), &["reproduce", "--collect", s]),
        "collect",
    );
}

#[test]
fn requeued_task_resumes_to_the_metrics_of_an_uninterrupted_run() {
    if !slurm_available("requeued_task_resumes_to_the_metrics_of_an_uninterrupted_run") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (local, slurm) = (dir.path().join("local"), dir.path().join("slurm"));
    let e = experiments();
    // Long enough (many short epochs) to be caught between its first checkpoint and its end.
    let args = [
        "reproduce",
        "--quick",
        "--datasets",
        "jsb",
        "--units",
        "gru",
        "--set",
        "max_epochs=40",
        "--set",
        "patience=40",
        "--quiet",
        "--experiments",
        &e,
    ];
    let s = slurm.to_str().unwrap();
    let out = ok(
        rnnlab_in(
            &data_dir(),
            &[&args[..], &["--out", s, "--backend", "slurm"]].concat(),
        ),
        "submit",
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(id.parse::<u64>().is_ok(), "job id on stdout: {id}");
    let run = slurm.join("runs/jsb_paper_gru");
    wait_for("the first checkpoint", Duration::from_secs(120), || {
        run.join("checkpoint/state.json").exists()
    });
    assert!(
        !run.join("summary.json").exists(),
        "the run ended before it could be requeued; make it longer"
    );
    let task = format!("{id}_0");
    let r = Command::new("scontrol")
        .args(["requeue", &task])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    wait_for(
        "the task back in the queue",
        Duration::from_secs(60),
        || squeue_state(&id, 0) == "PENDING",
    );
    // No `scontrol update … StartTime=now` to skip the requeued task's cred_expire wait (10 s in
    // scripts/slurm-local.sh): started within the same second, slurmd can refuse the launch ("Job … already
    // killed, do not launch batch job") and the task ends FAILED. The wait is what a real requeue does too.
    let mut state = String::new();
    wait_for("the requeued task to end", Duration::from_secs(300), || {
        state = squeue_state(&id, 0);
        state == "COMPLETED" || state == "FAILED" || state == "CANCELLED"
    });
    assert_eq!(state, "COMPLETED", "the requeued task ended {state}");
    let log = std::fs::read_to_string(slurm.join(format!("slurm/{id}_0.out"))).unwrap()
        + &std::fs::read_to_string(slurm.join(format!("slurm/{id}_0.err"))).unwrap();
    assert!(log.contains("attempt 2"), "the task ran twice: {log}");
    assert!(
        log.contains("resuming"),
        "the second attempt resumed: {log}"
    );
    ok(
        rnnlab_in(
            &data_dir(),
            &[
                &args[..],
                &["--out", local.to_str().unwrap(), "--jobs", "1"],
            ]
            .concat(),
        ),
        "local, uninterrupted",
    );
    let (a, b) = (
        metrics_without_time(&local.join("runs/jsb_paper_gru")),
        metrics_without_time(&run),
    );
    assert!(a.len() > 2);
    assert_eq!(a, b, "requeued run differs from the uninterrupted one");
    ok(
        rnnlab_in(&data_dir(), &["reproduce", "--collect", s]),
        "collect",
    );
}

#[test]
fn refused_submission_names_the_option_and_exits_2() {
    if !slurm_available("refused_submission_names_the_option_and_exits_2") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let e = experiments();
    let out = rnnlab_in(
        &data_dir(),
        &[
            "reproduce",
            "--quick",
            "--datasets",
            "jsb",
            "--units",
            "tanh",
            "--experiments",
            &e,
            "--out",
            dir.path().to_str().unwrap(),
            "--backend",
            "slurm",
            "--partition",
            "nope",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--partition nope"), "{stderr}");
    assert!(stderr.contains("invalid partition specified"), "{stderr}");
}
