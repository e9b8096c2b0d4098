//! Run directories that cannot be silently corrupted: one writer at a time (a second `train --resume`, `eval` or
//! `sweep-task` on a directory being written is refused), checksummed checkpoints and summaries (damage that keeps a
//! file parseable is refused by resume, sample and eval), torn metrics lines cut on resume, a full disk survived,
//! and a population that cannot fit in memory refused before anything is allocated.

mod common;

use common::{data_dir, metrics_without_time, rnnlab_in, rnnlab_ok};
use rnnlab::run::{RunDir, RunLock};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `rnnlab train` of a tiny JSB GRU (2 members, 8 units, 40 pieces) for `epochs` epochs into `out`.
fn train_args(out: &Path, epochs: usize) -> Vec<String> {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/jsb_gru.toml");
    let mut args: Vec<String> = [
        "train",
        "--quiet",
        "--config",
        config.to_str().unwrap(),
        "--set",
        "hidden=8",
        "--set",
        "lr_candidates=2",
        "--set",
        "train_subset=40",
        "--set",
        "eval_subset=10",
        "--set",
        "patience=50",
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(["--set".into(), format!("max_epochs={epochs}")]);
    args
}

/// Makes a finished run `dir` resumable for `epochs` epochs in all: the cap raised in its config, its summary
/// removed (what a user does to train a finished run further).
fn extend(dir: &Path, epochs: usize) {
    let toml = dir.join("config.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("max_epochs = "))
        .unwrap()
        .to_string();
    std::fs::write(
        &toml,
        text.replace(&line, &format!("max_epochs = {epochs}")),
    )
    .unwrap();
    std::fs::remove_file(dir.join("summary.json")).unwrap();
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn resume(data: &Path, dir: &Path) -> Output {
    rnnlab_in(
        data,
        &[
            "train".as_ref(),
            "--quiet".as_ref(),
            "--resume".as_ref(),
            dir.as_os_str(),
        ],
    )
}

/// The epochs of `metrics.jsonl`, in file order.
fn epochs(dir: &Path) -> Vec<u64> {
    metrics_without_time(dir)
        .iter()
        .map(|v| v["epoch"].as_u64().unwrap())
        .collect()
}

/// Every column of `metrics.csv` but the wall-clock seconds.
fn csv_without_time(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("metrics.csv"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut cols: Vec<&str> = l.split(',').collect();
            cols.remove(4);
            cols.join(",")
        })
        .collect()
}

/// Two `train --resume` of one directory at once: the second is refused, naming the directory and the first's pid,
/// and the metrics hold every epoch once.
#[test]
fn two_concurrent_resumes_one_is_refused_and_every_epoch_is_written_once() {
    let data = data_dir();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    rnnlab_ok(&data, &train_args(&dir, 2));
    extend(&dir, 40);
    let lock_text =
        || std::fs::read_to_string(dir.join(rnnlab::run::LOCK_FILE)).unwrap_or_default();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_rnnlab"))
            .args(["train", "--quiet", "--resume"])
            .arg(&dir)
            .arg("--data-dir")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut first = spawn();
    let holder = format!("pid {}\n", first.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lock_text().starts_with(&holder) {
        assert!(
            Instant::now() < deadline,
            "the first resume never took the lock"
        );
        assert!(
            first.try_wait().unwrap().is_none(),
            "the first resume ended early"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let second = spawn().wait_with_output().unwrap();
    let still_running = first.try_wait().unwrap().is_none();
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        still_running,
        "the first resume finished before the second asked for the lock; the test proves nothing"
    );
    assert!(!second.status.success(), "both resumes ran");
    let err = stderr(&second);
    assert!(
        err.contains(&format!(
            "{} is being written by another process",
            dir.display()
        )) && err.contains(&format!("pid {}", first_pid(&holder))),
        "{err}"
    );
    assert_eq!(epochs(&dir), (1..=40).collect::<Vec<_>>());
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        1 + 40 * 2,
        "one row per epoch and member"
    );
}

fn first_pid(holder: &str) -> &str {
    holder.trim().trim_start_matches("pid ")
}

/// Readers never wait for the lock; every writer is refused while another process holds it.
#[test]
fn writers_are_refused_and_readers_are_not_while_a_run_is_locked() {
    let data = data_dir();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    rnnlab_ok(&data, &train_args(&dir, 2));
    let lock = RunLock::acquire(&dir).unwrap();
    let pid = format!("pid {}", std::process::id());
    for args in [
        vec!["train", "--resume", dir.to_str().unwrap()],
        vec!["eval", dir.to_str().unwrap()],
    ] {
        let out = rnnlab_in(&data, &args);
        assert!(
            !out.status.success(),
            "{args:?} wrote beside the lock holder"
        );
        let err = stderr(&out);
        assert!(
            err.contains("is being written by another process") && err.contains(&pid),
            "{args:?}: {err}"
        );
    }
    // A sweep task on the directory (what reproduce's workers and Slurm array tasks run).
    let plan = serde_json::json!({
        "version": rnnlab::sweep::PLAN_VERSION,
        "quick": true,
        "jobs": [{
            "index": 0,
            "name": "jsb_gru",
            "run_dir": "run",
            "config": std::fs::read_to_string(dir.join("config.toml")).unwrap(),
            "data_dir": data,
            "cost": 1,
        }],
    });
    let plan_path = tmp.path().join("plan.json");
    std::fs::write(&plan_path, plan.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(["sweep-task", "--plan"])
        .arg(&plan_path)
        .args(["--index", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains(&pid), "{}", stderr(&out));
    // Readers: show and plot run while the lock is held.
    let show = common::rnnlab(&["show", dir.to_str().unwrap()]);
    assert!(show.status.success(), "{}", stderr(&show));
    let plots = tmp.path().join("plots");
    let plot = common::rnnlab(&[
        "plot".as_ref(),
        dir.as_os_str(),
        "--out".as_ref(),
        plots.as_os_str(),
    ]);
    assert!(plot.status.success(), "{}", stderr(&plot));
    // Released, the writers run.
    drop(lock);
    let out = rnnlab_in(&data, &["eval", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Flips 64 bytes in the middle of `path`.
fn flip_middle(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0xff;
    }
    std::fs::write(path, bytes).unwrap();
}

/// A checkpoint with bytes flipped in its middle (still a parseable safetensors file) is refused by resume, sample
/// and eval, and reported by show; restored, it is used again. A run whose state records no checksum (made by an
/// earlier version) still resumes.
#[test]
fn a_checkpoint_with_bytes_flipped_in_the_middle_is_refused() {
    let data = data_dir();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    rnnlab_ok(&data, &train_args(&dir, 3));
    let weights = dir.join("checkpoint/last.safetensors");
    let good = std::fs::read(&weights).unwrap();
    flip_middle(&weights);
    // The premise: the damage leaves a file that parses, which without checksums would load.
    assert!(tch::Tensor::read_safetensors(&weights).is_ok());
    let mid = tmp.path().join("sample.mid");
    let d = dir.to_str().unwrap();
    for args in [
        vec!["train", "--resume", d],
        vec!["sample", d, "--out", mid.to_str().unwrap()],
        vec!["eval", d],
    ] {
        let out = rnnlab_in(&data, &args);
        assert!(!out.status.success(), "{args:?} used a damaged checkpoint");
        let err = stderr(&out);
        assert!(
            err.contains("last.safetensors does not match the SHA-256")
                && err.contains("start the run again"),
            "{args:?}: {err}"
        );
    }
    assert!(!mid.exists());
    let show = common::rnnlab(&["show", d]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        show.status.success() && text.contains("integrity  checkpoint DAMAGED"),
        "{text}"
    );
    // A reproduction's one-line view flags it too.
    let show = common::rnnlab(&["show", tmp.path().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains("DAMAGED (see rnnlab show on the run)"),
        "{text}"
    );

    std::fs::write(&weights, &good).unwrap();
    let show = common::rnnlab(&["show", d]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains("integrity  checkpoint verified (SHA-256); summary verified (SHA-256)"),
        "{text}"
    );
    rnnlab_ok(&data, &["sample", d, "--out", mid.to_str().unwrap()]);

    // A damaged summary is refused by its readers (collect reads it through read_summary).
    let summary = dir.join("summary.json");
    let text = std::fs::read_to_string(&summary).unwrap();
    std::fs::write(&summary, text.replacen("\"epochs\": 3", "\"epochs\": 4", 1)).unwrap();
    let err = format!("{:#}", RunDir::at(&dir).read_summary().unwrap_err());
    assert!(
        err.contains("summary.json does not match the SHA-256"),
        "{err}"
    );
    // Resuming the finished run writes it again from the best weights.
    rnnlab_ok(&data, &["train", "--quiet", "--resume", d]);
    assert_eq!(RunDir::at(&dir).read_summary().unwrap().unwrap().epochs, 3);

    // A run made before checksums were recorded: no checksum in state.json; it resumes, and show says so.
    let state_path = dir.join("checkpoint/state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    let obj = state.as_object_mut().unwrap();
    assert!(obj.remove("weights_sha256").is_some());
    assert!(obj.remove("summary_sha256").is_some());
    std::fs::write(&state_path, state.to_string()).unwrap();
    let show = common::rnnlab(&["show", d]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains("checkpoint no checksum recorded")
            && text.contains("summary no checksum recorded"),
        "{text}"
    );
    extend(&dir, 4);
    rnnlab_ok(&data, &["train", "--quiet", "--resume", d]);
    assert_eq!(epochs(&dir), vec![1, 2, 3, 4]);
}

/// A torn final line of metrics.jsonl and metrics.csv (a crash or a full disk mid-append) is cut on resume, with a
/// note, and the resumed run equals an uninterrupted one bit for bit; a damaged line before the end is an error
/// naming the line.
#[test]
fn a_torn_final_metrics_line_is_cut_and_the_resume_equals_an_uninterrupted_run() {
    let data = data_dir();
    let tmp = tempfile::tempdir().unwrap();
    let (full, cut) = (tmp.path().join("full"), tmp.path().join("cut"));
    rnnlab_ok(&data, &train_args(&full, 6));
    rnnlab_ok(&data, &train_args(&cut, 3));
    extend(&cut, 6);
    let damaged = tmp.path().join("damaged");
    copy_dir(&cut, &damaged);

    // Epoch 4's lines, as a kill after the append and before the checkpoint leaves them, then torn halfway.
    let line4 = std::fs::read_to_string(full.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .nth(3)
        .unwrap()
        .to_string();
    append(&cut.join("metrics.jsonl"), &line4[..line4.len() / 2]);
    let row = std::fs::read_to_string(full.join("metrics.csv"))
        .unwrap()
        .lines()
        .nth(7)
        .unwrap()
        .to_string();
    assert!(row.starts_with("4,0,"), "{row}");
    append(&cut.join("metrics.csv"), &format!("{row}\n{}", &row[..12]));
    let out = resume(&data, &cut);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("metrics.jsonl: cut its last line (line 4), which does not parse")
            && err.contains("metrics.csv: cut its last line, which is incomplete")
            && err.contains("cut 1 rows of epochs after the checkpoint's epoch 3"),
        "{err}"
    );
    assert_eq!(metrics_without_time(&full), metrics_without_time(&cut));
    assert_eq!(csv_without_time(&full), csv_without_time(&cut));
    let summary = |p: &Path| -> serde_json::Value {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p.join("summary.json")).unwrap())
                .unwrap();
        for k in ["seconds", "seconds_per_epoch", "cpu_seconds"] {
            v[k] = serde_json::Value::Null;
        }
        v
    };
    assert_eq!(summary(&full), summary(&cut));

    // Damage before the last line: an error naming the file and line; nothing is cut.
    let jsonl = damaged.join("metrics.jsonl");
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let torn = &lines[1][..20].to_string();
    lines[1] = torn;
    let text = lines.join("\n") + "\n";
    std::fs::write(&jsonl, &text).unwrap();
    let out = resume(&data, &damaged);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("metrics.jsonl line 2 cannot be read") && err.contains("repair or remove"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&jsonl).unwrap(), text);
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

/// A 1 MiB tmpfs, mounted for the test's lifetime and unmounted however it ends.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// `None`, with the reason printed, when this is not root or the mount fails.
    fn mount(path: &Path) -> Option<Tmpfs> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: mounting a tmpfs needs root (.ci/run runs the tests as root)");
            return None;
        }
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(path)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs {
                path: path.to_path_buf(),
            }),
            Ok(o) => {
                eprintln!("skipped: mount -t tmpfs failed: {}", stderr(&o).trim());
                None
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount: {e}");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

/// Fills the file system holding `dir` with `filler`, then gives `room` bytes back.
fn fill(filler: &Path, room: u64) {
    use std::io::Write;
    let mut f = std::fs::File::create(filler).unwrap();
    let block = vec![0xa5u8; 4096];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
    let len = std::fs::metadata(filler).unwrap().len();
    f.set_len(len.saturating_sub(room)).unwrap();
}

/// ENOSPC on a 1 MiB tmpfs during a checkpoint save: the run exits with an error that says what to do, the previous
/// checkpoint loads (its checksum verified), and once there is room again the run resumes and finishes. A read-only
/// directory is refused the same way.
#[test]
fn a_full_disk_leaves_the_previous_checkpoint_loadable() {
    let data = data_dir();
    let tmp = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&tmp.path().join("small")) else {
        return;
    };
    let dir = fs.path.join("run");
    rnnlab_ok(&data, &train_args(&dir, 2));
    extend(&dir, 5);
    let checkpoint = std::fs::metadata(dir.join("checkpoint/last.safetensors"))
        .unwrap()
        .len();
    // Room for the metrics and the event file, not for the checkpoint's tensors.
    let filler = fs.path.join("filler");
    fill(&filler, checkpoint / 2);
    let out = resume(&data, &dir);
    assert!(
        !out.status.success(),
        "the run went on without room for its checkpoint"
    );
    let err = stderr(&out);
    assert!(
        err.contains("saving epoch 3 of")
            && err.contains("its checkpoint of epoch 2 is intact")
            && err.contains("No space left on device")
            && err.contains("--resume"),
        "{err}"
    );
    let (_, state) = RunDir::at(&dir).load_checkpoint().unwrap();
    assert_eq!(state.epoch, 2);
    assert!(state.weights_sha256.is_some());
    let leftovers: Vec<String> = std::fs::read_dir(dir.join("checkpoint"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A read-only file system: refused with the system's reason, nothing changed.
    let before = std::fs::read(dir.join("checkpoint/state.json")).unwrap();
    let ro = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&fs.path)
        .status()
        .unwrap();
    if ro.success() {
        let out = resume(&data, &dir);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("Read-only file system"),
            "{}",
            stderr(&out)
        );
        assert_eq!(
            before,
            std::fs::read(dir.join("checkpoint/state.json")).unwrap()
        );
        assert!(Command::new("mount")
            .args(["-o", "remount,rw"])
            .arg(&fs.path)
            .status()
            .unwrap()
            .success());
    } else {
        eprintln!("read-only part skipped: remount failed");
    }

    // No room at all: refused at the first write (cutting epoch 3's metrics, written by the first attempt), the
    // checkpoint as it was.
    fill(&filler, 0);
    let out = resume(&data, &dir);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(
            "back to the checkpoint's epoch 2 failed (the checkpoint is intact): make room"
        ) && err.contains("No space left on device"),
        "{err}"
    );
    assert_eq!(RunDir::at(&dir).load_checkpoint().unwrap().1.epoch, 2);

    std::fs::remove_file(&filler).unwrap();
    let out = resume(&data, &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(epochs(&dir), vec![1, 2, 3, 4, 5]);
    let run = RunDir::at(&dir);
    let summary = run.read_summary().unwrap().unwrap();
    assert_eq!(summary.epochs, 5);

    // No room at all for a new summary: an error, and the previous summary still reads, its checksum verified.
    fill(&filler, 0);
    let changed = rnnlab::run::Summary {
        epochs: 6,
        ..summary.clone()
    };
    let err = format!("{:#}", run.write_summary(&changed).unwrap_err());
    assert!(err.contains("No space left on device"), "{err}");
    assert_eq!(run.read_summary().unwrap().unwrap().epochs, 5);
    assert_eq!(
        run.integrity().summary,
        Some(rnnlab::run::integrity::Check::Verified)
    );
    assert!(!dir.join("summary.json.next").exists());
    eprintln!(
        "ENOSPC on a 1 MiB tmpfs: the save of epoch 3 and a summary refused, the checkpoint of epoch 2 and the \
         summary kept and verified, the run finished once there was room"
    );
}

/// 100 000 learning-rate candidates cannot fit: refused at once with the estimate and the machine's memory, before
/// the run directory is made.
#[test]
fn an_oversized_population_is_refused_before_anything_is_allocated() {
    let data = data_dir();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("big");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/jsb_gru.toml");
    let t0 = Instant::now();
    let out = rnnlab_in(
        &data,
        &[
            "train".as_ref(),
            "--config".as_ref(),
            config.as_os_str(),
            "--set".as_ref(),
            "lr_candidates=100000".as_ref(),
            "--out".as_ref(),
            dir.as_os_str(),
        ],
    );
    let seconds = t0.elapsed().as_secs_f64();
    assert!(!out.status.success());
    assert_eq!(
        out.status.code(),
        Some(2),
        "an error, not a kill by the kernel"
    );
    let err = stderr(&out);
    assert!(
        err.contains("a population of 100000 members") && err.contains("GiB available"),
        "{err}"
    );
    assert!(!dir.exists(), "the refused run left a directory");
    eprintln!("refused in {seconds:.2} s");
    // Loosely "under a second": generous for a debug build on a loaded machine.
    assert!(seconds < 10.0, "refused only after {seconds:.1} s");
}

/// The configs the project ships fit a 24 GiB machine by the estimate.
#[test]
fn the_shipped_experiments_fit_in_24_gib() {
    let data = data_dir();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut configs = Vec::new();
    for dir in [
        root.clone(),
        root.join("paper-scale"),
        root.join("long-context"),
    ] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                configs.push(path);
            }
        }
    }
    configs.sort();
    assert!(configs.len() >= 25, "{configs:?}");
    let mut loaded: std::collections::HashMap<String, rnnlab::data::AnyData> = Default::default();
    let mut largest = (0u64, PathBuf::new());
    for path in &configs {
        let cfg = rnnlab::config::TrainConfig::from_file(path).unwrap();
        let name = cfg.dataset.name().to_string();
        if !loaded.contains_key(&name) {
            let (_, d) = rnnlab::data::AnyData::load(&data, cfg.dataset).unwrap();
            loaded.insert(name.clone(), d);
        }
        use rnnlab::train::TrainData;
        let est = rnnlab::train::memory::estimate(&cfg, &loaded[&name].lengths(&cfg));
        if est.total() > largest.0 {
            largest = (est.total(), path.clone());
        }
    }
    let gib = largest.0 as f64 / (1u64 << 30) as f64;
    eprintln!("largest estimate: {gib:.2} GiB ({})", largest.1.display());
    assert!(
        gib < 24.0,
        "{} needs {gib:.1} GiB by the estimate",
        largest.1.display()
    );
}
