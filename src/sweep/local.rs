//! The local backend: `jobs` worker processes on this machine, each `rnnlab sweep-task --plan OUT/plan.json --index
//! N` (the same command a Slurm array task runs), longest jobs first. The parent shows a bar of finished jobs and
//! the epoch each running job has reached (read from its run directory's metrics.jsonl). A worker's stderr goes to
//! `OUT/local/<index>.log`; a worker that fails leaves `OUT/local/<index>.exit` for the collector.

use super::{Plan, PLAN_FILE};
use crate::atomic::write_atomic;
use crate::run::RunDir;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The folder of the local backend's logs in OUT.
pub const LOCAL_DIR: &str = "local";

/// Runs every job of the plan in `out` on `jobs` worker processes; returns once all have ended. Failures are not
/// errors here: the collector reports them.
pub fn run(out: &Path, plan: &Plan, jobs: usize, quiet: bool) -> Result<()> {
    let exe = std::env::current_exe().context("finding the rnnlab executable")?;
    let plan_path = std::path::absolute(out.join(PLAN_FILE))?;
    let logs = out.join(LOCAL_DIR);
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let mut order: Vec<usize> = (0..plan.jobs.len()).collect();
    // Longest jobs first, so that the last ones to start are short and the workers finish together.
    order.sort_by_key(|&i| (std::cmp::Reverse(plan.jobs[i].cost), i));
    let mut queue = order.into_iter();
    let mut running: Vec<(usize, Child)> = Vec::new();
    let bar = ProgressBar::new(plan.jobs.len() as u64);
    if quiet {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("jobs [{bar:30}] {pos}/{len} finished  {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    loop {
        while running.len() < jobs.max(1) {
            let Some(i) = queue.next() else { break };
            let _ = std::fs::remove_file(logs.join(format!("{i}.exit")));
            let log = std::fs::File::create(logs.join(format!("{i}.log")))
                .with_context(|| format!("creating the log of job {i}"))?;
            let child = Command::new(&exe)
                .arg("sweep-task")
                .arg("--plan")
                .arg(&plan_path)
                .arg("--index")
                .arg(i.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .with_context(|| format!("starting {} sweep-task", exe.display()))?;
            running.push((i, child));
        }
        if running.is_empty() {
            break;
        }
        let mut still = Vec::new();
        for (i, mut child) in running {
            match child.try_wait()? {
                None => still.push((i, child)),
                Some(status) => {
                    let name = &plan.jobs[i].name;
                    if !status.success() {
                        let code = status
                            .code()
                            .map(|c| c.to_string())
                            .unwrap_or_else(|| "signal".into());
                        write_atomic(&logs.join(format!("{i}.exit")), code.as_bytes())?;
                        bar.println(format!(
                            "{name}: FAILED (exit {code}); see {}",
                            logs.join(format!("{i}.log")).display()
                        ));
                        if quiet {
                            eprintln!("{name}: FAILED (exit {code})");
                        }
                    } else if quiet {
                        eprintln!("{name}: done");
                    }
                    bar.inc(1);
                }
            }
        }
        running = still;
        let status: Vec<String> = running
            .iter()
            .map(|(i, _)| {
                let job = &plan.jobs[*i];
                let epochs = RunDir::at(&out.join(&job.run_dir)).read_metrics().0.len();
                format!("{} e{epochs}", job.name)
            })
            .collect();
        bar.set_message(status.join(", "));
        std::thread::sleep(Duration::from_millis(200));
    }
    bar.finish_and_clear();
    Ok(())
}

/// The log of job `index` and its exit status, if the local backend recorded a failure.
pub fn failure(out: &Path, index: usize) -> Option<(String, PathBuf)> {
    let logs = out.join(LOCAL_DIR);
    let code = std::fs::read_to_string(logs.join(format!("{index}.exit"))).ok()?;
    Some((code.trim().to_string(), logs.join(format!("{index}.log"))))
}
