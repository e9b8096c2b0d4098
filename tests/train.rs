//! The training recipe: metric normalisation, population = separate runs, divergence isolation, chunking,
//! config handling, and exact resumption after a real process kill.

mod common;

use common::{data_dir, metrics_without_time, rnnlab_ok};
use rnnlab::cells::CellKind;
use rnnlab::config::TrainConfig;
use rnnlab::data::chunk_pieces;
use rnnlab::data::PianoRoll;
use rnnlab::device::Dtype;
use rnnlab::model::{Implementation, Model, ModelConfig, KEYS};
use rnnlab::rng::Rng;
use rnnlab::train::Population;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tch::{Device, Kind, Tensor};

fn random_batch(rng: &mut Rng, t: i64, b: i64, kind: Kind) -> (Tensor, Tensor, Tensor, usize) {
    let roll = rng
        .uniform(&[t + 1, b, KEYS], 0.0, 1.0, (kind, Device::Cpu))
        .lt(0.1)
        .to_kind(kind);
    let x = roll.narrow(0, 0, t);
    let y = roll.narrow(0, 1, t);
    // Ragged lengths: sequence j predicts t - j frames.
    let steps = Tensor::arange(t, (Kind::Int64, Device::Cpu)).unsqueeze(1);
    let lens =
        Tensor::from_slice(&(0..b).map(|j| t - j.min(t - 1)).collect::<Vec<i64>>()).unsqueeze(0);
    let mask = steps.lt_tensor(&lens).to_kind(kind);
    let frames = mask.sum(Kind::Double).double_value(&[]) as usize;
    (x, y, mask, frames)
}

/// Table 2's unit: nats per predicted frame summed over the 88 keys. A model that outputs p = 1/2 for every key
/// must score 88·ln 2 = 60.997 per frame, whatever the batch and padding.
#[test]
fn nll_is_nats_per_frame_summed_over_keys() {
    let mut data = Rng::new(0).unwrap();
    let model = Model::new(
        &ModelConfig {
            head: rnnlab::model::Head::Bernoulli { keys: 88 },
            input: 88,
            cell: CellKind::PaperGru,
            implementation: Implementation::Custom,
            hidden: 8,
            population: 2,
            init_scale: 0.1,
            forget_bias: 0.0,
            kind: Kind::Double,
            device: Device::Cpu,
        },
        &mut Rng::new(0).unwrap(),
    )
    .unwrap();
    tch::no_grad(|| {
        for (name, p) in model.named_parameters() {
            if name.starts_with("out.") {
                let _ = p.shallow_clone().zero_();
            }
        }
    });
    let (x, y, mask, frames) = random_batch(&mut data, 7, 5, Kind::Double);
    let nll = model.nll_sum(&x, &y, &mask).unwrap() / frames as f64;
    for m in 0..2 {
        let v = nll.double_value(&[m]);
        assert!(
            (v - 88.0 * std::f64::consts::LN_2).abs() < 1e-9,
            "member {m}: {v}"
        );
    }
    assert!((88.0f64 * std::f64::consts::LN_2 - 60.997).abs() < 1e-3);
}

fn small_config(cell: CellKind, lrs: Vec<f64>) -> TrainConfig {
    TrainConfig {
        cell,
        hidden: 6,
        lrs,
        dtype: Dtype::F64,
        ..Default::default()
    }
}

fn copy_member(from: &Population, m: i64, to: &Population) {
    tch::no_grad(|| {
        for (src, dst) in from.model.parameters().iter().zip(to.model.parameters()) {
            dst.shallow_clone().copy_(&src.get(m).unsqueeze(0));
        }
    });
}

/// Population training must equal K separate runs: same weights, same noise, same batches, a few updates.
#[test]
fn population_equals_separate_runs() {
    let mut data = Rng::new(1).unwrap();
    for cell in [CellKind::PaperGru, CellKind::PaperLstm, CellKind::Tanh] {
        let lrs = vec![3e-3, 1e-3, 2e-4];
        let mut pop = Population::new(&small_config(cell, lrs.clone()), Device::Cpu).unwrap();
        let mut singles: Vec<Population> = lrs
            .iter()
            .enumerate()
            .map(|(m, &lr)| {
                let p = Population::new(&small_config(cell, vec![lr]), Device::Cpu).unwrap();
                copy_member(&pop, m as i64, &p);
                p
            })
            .collect();
        for _ in 0..4 {
            let (x, y, mask, frames) = random_batch(&mut data, 9, 3, Kind::Double);
            let noise = pop.draw_noise(0.075).unwrap();
            let _ = pop.update(&x, &y, &mask, frames, &noise).unwrap();
            for (m, single) in singles.iter_mut().enumerate() {
                let own: Vec<Option<Tensor>> = noise
                    .iter()
                    .map(|n| n.as_ref().map(|n| n.narrow(0, m as i64, 1)))
                    .collect();
                let _ = single.update(&x, &y, &mask, frames, &own).unwrap();
            }
        }
        for (m, single) in singles.iter().enumerate() {
            for ((name, p), q) in pop
                .model
                .named_parameters()
                .iter()
                .zip(single.model.parameters())
            {
                let d = (p.get(m as i64) - q.get(0)).abs().max().double_value(&[]);
                assert!(d <= 1e-6, "{cell} member {m} {name}: {d:e}");
                assert!(
                    d <= 1e-12,
                    "{cell} member {m} {name} drifts more than rounding: {d:e}"
                );
            }
        }
        // And the updates did move the weights.
        let moved = pop.model.parameters()[0].shallow_clone();
        assert!(moved.isfinite().all().int64_value(&[]) == 1);
    }
}

/// A member whose loss is NaN is isolated: the others train exactly as they would without it.
#[test]
fn a_diverged_member_does_not_disturb_the_others() {
    let mut data = Rng::new(2).unwrap();
    let cfg = small_config(CellKind::PaperGru, vec![1e-3, 1e-3]);
    let mut pop = Population::new(&cfg, Device::Cpu).unwrap();
    let mut alone =
        Population::new(&small_config(CellKind::PaperGru, vec![1e-3]), Device::Cpu).unwrap();
    copy_member(&pop, 0, &alone);
    tch::no_grad(|| {
        let w = pop.model.parameters()[0].shallow_clone();
        let _ = w.get(1).fill_(f64::NAN);
    });
    let (x, y, mask, frames) = random_batch(&mut data, 6, 2, Kind::Double);
    let noise = pop.draw_noise(0.0).unwrap();
    let (_, finite) = pop.update(&x, &y, &mask, frames, &noise).unwrap();
    assert_eq!(Vec::<bool>::try_from(&finite).unwrap(), vec![true, false]);
    // The diverged member is switched off on the device at once.
    assert_eq!(Vec::<f64>::try_from(&pop.active).unwrap(), vec![1.0, 0.0]);
    let noise = alone.draw_noise(0.0).unwrap();
    let _ = alone.update(&x, &y, &mask, frames, &noise).unwrap();
    for (p, q) in pop.model.parameters().iter().zip(alone.model.parameters()) {
        let d = (p.get(0) - q.get(0)).abs().max().double_value(&[]);
        assert!(d <= 1e-14, "the healthy member moved differently: {d:e}");
    }
}

#[test]
fn chunks_predict_every_frame_once() {
    let roll =
        |t: usize| PianoRoll::new(t, (0..t * 88).map(|i| (i % 7 == 0) as u8).collect()).unwrap();
    let pieces = vec![roll(2), roll(10), roll(11), roll(23)];
    for chunk in [0, 1, 3, 10, 50] {
        let chunks = chunk_pieces(&pieces, chunk).unwrap();
        let predicted: usize = chunks.iter().map(|c| c.len() - 1).sum();
        assert_eq!(predicted, 1 + 9 + 10 + 22, "chunk_len {chunk}");
        if chunk > 0 {
            assert!(chunks.iter().all(|c| c.len() >= 2 && c.len() <= chunk + 1));
        }
    }
    // Consecutive chunks share their boundary frame.
    let chunks = chunk_pieces(&pieces[3..], 10).unwrap();
    assert_eq!(chunks[0].frame(10), chunks[1].frame(0));
    assert_eq!(chunks[0].frame(10), pieces[3].frame(10));
}

#[test]
fn config_overrides_and_errors_name_the_key() {
    let cfg = TrainConfig::default();
    let c = cfg
        .with_overrides(&[
            "max_epochs=7".into(),
            "cell=paper_lstm".into(),
            "lrs=[1e-3, 2e-3]".into(),
        ])
        .unwrap();
    assert_eq!(
        (c.max_epochs, c.cell, c.lrs.clone()),
        (7, CellKind::PaperLstm, vec![1e-3, 2e-3])
    );
    assert_eq!(c.hidden_size(), 36);
    assert_eq!(c.member_lrs().len(), 2);
    let err = cfg
        .with_overrides(&["max_epoch=7".into()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("max_epoch") && err.contains("no such config key"),
        "{err}"
    );
    assert!(cfg
        .with_overrides(&["batch_size=0".into()])
        .unwrap_err()
        .to_string()
        .contains("batch_size"));
    assert!(cfg.with_overrides(&["cell=gru9".into()]).is_err());
    for (pair, key) in [
        (["prune_after=10", "prune_window=0"], "prune_window"),
        (["prune_after=10", "prune_window=10"], "prune_after"),
    ] {
        let overrides: Vec<String> = pair.iter().map(|s| s.to_string()).collect();
        let err = cfg.with_overrides(&overrides).unwrap_err().to_string();
        assert!(err.contains(key), "{pair:?}: {err}");
    }
    assert!(cfg
        .with_overrides(&["prune_after=0".into(), "prune_window=0".into()])
        .is_ok());
    assert!(cfg
        .with_overrides(&["implementation=builtin_seq".into(), "cell=paper_gru".into()])
        .unwrap_err()
        .to_string()
        .contains("torch_gru"));
    // Learning-rate candidates: log-uniform over exp(-12)..exp(-6), reproducible from the seed.
    let lrs = cfg.learning_rates();
    assert_eq!(lrs.len(), 10);
    assert!(lrs
        .iter()
        .all(|&lr| ((-12.0f64).exp()..=(-6.0f64).exp()).contains(&lr)));
    assert_eq!(lrs, cfg.learning_rates());
    let other = TrainConfig {
        seed: 7,
        ..Default::default()
    }
    .learning_rates();
    assert_ne!(lrs, other);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "dataset = \"jsb\"\nhiden = 3\n").unwrap();
    let err = format!("{:#}", TrainConfig::from_file(&path).unwrap_err());
    assert!(err.contains("bad.toml") && err.contains("hiden"), "{err}");
}

fn train_args(out: &Path) -> Vec<String> {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/jsb_gru.toml");
    [
        "train",
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
        "max_epochs=25",
        "--set",
        "patience=25",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Every column of `metrics.csv` but the wall-clock seconds.
fn metrics_csv_without_time(run: &Path) -> Vec<String> {
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

/// Kill a training process part-way (SIGKILL, no chance to clean up), resume it, and get exactly the metrics of
/// an uninterrupted run.
#[test]
fn resume_after_kill_equals_an_uninterrupted_run() {
    let data = data_dir();
    let dir = tempfile::tempdir().unwrap();
    let (full, killed) = (dir.path().join("full"), dir.path().join("killed"));
    let plain = |args: &[String]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rnnlab"));
        c.args(args).arg("--data-dir").arg(&data);
        c
    };
    rnnlab_ok(&data, &train_args(&full));

    let mut child = plain(&train_args(&killed))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let state = killed.join("checkpoint/state.json");
    let deadline = Instant::now() + Duration::from_secs(120);
    let killed_at = loop {
        let epoch = std::fs::read_to_string(&state)
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|v| v["epoch"].as_u64())
            .unwrap_or(0);
        if epoch >= 2 || Instant::now() > deadline {
            break epoch;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        killed_at >= 2,
        "the run wrote no second checkpoint within two minutes"
    );
    let after_kill: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let epoch_at_kill = after_kill["epoch"].as_u64().unwrap();
    assert!(
        epoch_at_kill < 25,
        "the run finished before it could be killed (epoch {epoch_at_kill})"
    );
    assert!(epoch_at_kill >= killed_at);
    assert!(!killed.join("summary.json").exists());

    rnnlab_ok(
        &data,
        &["train", "--resume", killed.to_str().unwrap(), "--quiet"],
    );
    let a = metrics_csv_without_time(&full);
    let b = metrics_csv_without_time(&killed);
    assert!(a.len() > 2 * 3, "too few metric rows: {a:?}");
    assert_eq!(a, b, "resumed metrics differ from the uninterrupted run");
    let summary = |p: &Path| -> serde_json::Value {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p.join("summary.json")).unwrap())
                .unwrap();
        v["seconds"] = serde_json::Value::Null;
        v["seconds_per_epoch"] = serde_json::Value::Null;
        // CPU time is a timing too: the killed attempt's share of it is lost.
        v["cpu_seconds"] = serde_json::Value::Null;
        v
    };
    assert_eq!(summary(&full), summary(&killed));

    // Starting a new run over an existing one is refused and touches nothing.
    let before = std::fs::read(full.join("metrics.csv")).unwrap();
    let out = plain(&train_args(&full)).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));
    assert_eq!(before, std::fs::read(full.join("metrics.csv")).unwrap());
}

/// `reproduce` trains its runs side by side (worker processes now; threads of one process once). Each must come out
/// exactly as the same config trained alone: runs on threads once shared libtorch's process-wide generator, and
/// their weight noise depended on how the threads interleaved.
#[test]
fn runs_side_by_side_equal_the_same_runs_alone() {
    let data = data_dir();
    let dir = tempfile::tempdir().unwrap();
    let experiments = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let rnnlab = |args: &[&str]| {
        rnnlab_ok(&data, &[args, &["--quiet"]].concat());
    };
    let side_by_side = dir.path().join("reproduce");
    rnnlab(&[
        "reproduce",
        "--quick",
        "--datasets",
        "jsb",
        "--jobs",
        "3",
        "--experiments",
        experiments.to_str().unwrap(),
        "--out",
        side_by_side.to_str().unwrap(),
    ]);
    let mut compared = 0;
    for entry in std::fs::read_dir(side_by_side.join("runs")).unwrap() {
        let run = entry.unwrap().path();
        let alone = dir.path().join("alone").join(run.file_name().unwrap());
        rnnlab(&[
            "train",
            "--config",
            run.join("config.toml").to_str().unwrap(),
            "--out",
            alone.to_str().unwrap(),
        ]);
        let (a, b) = (
            metrics_csv_without_time(&run),
            metrics_csv_without_time(&alone),
        );
        assert!(a.len() > 3, "too few metric rows: {a:?}");
        assert_eq!(a, b, "{} differs from the same run alone", run.display());
        compared += 1;
    }
    assert_eq!(compared, 3);
}

/// Training skips members that have stopped, and reuses their last validation and test NLLs (their weights no longer
/// move). A resumed run must skip and reuse exactly as the uninterrupted one did: here a run with one member stopped
/// at epoch 8 is cut at epoch 9 and resumed to 12 (its stored config's epoch cap raised, as a user extending a run
/// would), and must give the uninterrupted run's metrics. A second copy of the cut run, whose recorded epoch-9
/// validation NLL of the stopped member is altered before resuming, shows that the resumed run takes that value from
/// `metrics.jsonl` rather than evaluating the member again.
#[test]
fn resume_with_stopped_members_equals_an_uninterrupted_run() {
    let data = data_dir();
    let dir = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/jsb_gru.toml");
    let rnnlab = |args: &[&std::ffi::OsStr]| {
        rnnlab_ok(&data, args);
    };
    let run = |out: &Path, epochs: usize| {
        let epochs = format!("max_epochs={epochs}");
        let mut args: Vec<&std::ffi::OsStr> = [
            "train",
            "--quiet",
            "--config",
            config.to_str().unwrap(),
            "--set",
            "hidden=8",
            "--set",
            "lrs=[0.02, 0.003, 1e-5]",
            "--set",
            "train_subset=40",
            "--set",
            "eval_subset=10",
            "--set",
            "patience=2",
            "--set",
            &epochs,
            "--out",
        ]
        .iter()
        .map(|a| std::ffi::OsStr::new(*a))
        .collect();
        args.push(out.as_os_str());
        rnnlab(&args);
    };
    let (full, cut) = (dir.path().join("full"), dir.path().join("cut"));
    run(&full, 12);
    // The premise: a member stopped before the cut, and another trains on after it.
    let status = |epoch: usize| -> Vec<String> {
        let line = std::fs::read_to_string(full.join("metrics.jsonl")).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(line.lines().nth(epoch - 1).unwrap()).unwrap();
        v["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["status"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        status(9).contains(&"stopped".to_string()),
        "no member stopped by epoch 9: {:?}",
        status(9)
    );
    assert!(
        status(12).contains(&"active".to_string()),
        "no member trained to epoch 12: {:?}",
        status(12)
    );

    run(&cut, 9);
    let toml = cut.join("config.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    assert!(text.contains("max_epochs = 9\n"));
    std::fs::write(&toml, text.replace("max_epochs = 9\n", "max_epochs = 12\n")).unwrap();
    std::fs::remove_file(cut.join("summary.json")).unwrap();
    let altered = dir.path().join("altered");
    std::fs::create_dir_all(altered.join("checkpoint")).unwrap();
    for entry in walk(&cut) {
        let to = altered.join(entry.strip_prefix(&cut).unwrap());
        std::fs::copy(&entry, to).unwrap();
    }
    let lines: Vec<String> = std::fs::read_to_string(altered.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if v["epoch"] == 9 {
                v["members"][0]["valid_nll"] = serde_json::json!(123.0);
            }
            v.to_string() + "\n"
        })
        .collect();
    std::fs::write(altered.join("metrics.jsonl"), lines.concat()).unwrap();
    let resume = |run: &Path| {
        rnnlab(&[
            "train".as_ref(),
            "--quiet".as_ref(),
            "--resume".as_ref(),
            run.as_os_str(),
        ])
    };
    resume(&cut);
    resume(&altered);
    assert_eq!(
        metrics_csv_without_time(&full),
        metrics_csv_without_time(&cut)
    );
    let jsonl = metrics_without_time;
    // Every NLL to the last bit (the CSV rounds them), and no training NLL for a member after it stopped.
    assert_eq!(jsonl(&full), jsonl(&cut));
    assert!(jsonl(&full)[10]["members"][0]["train_nll"].is_null());
    for epoch in 10..=12 {
        let valid = &jsonl(&altered)[epoch - 1]["members"][0]["valid_nll"];
        assert_eq!(valid, &serde_json::json!(123.0), "epoch {epoch}");
    }
}

/// Pruning (`prune_after`): a member that cannot catch its seed's best at its recent rate stops as `pruned`; the other
/// members train exactly as without pruning; a run cut before a pruning that reads epochs from before the cut, and
/// resumed, equals the uninterrupted run (the rule's history is rebuilt from `metrics.jsonl`); and a run directory
/// made without pruning takes it on (`RunDir::adopt_pruning`, as `sweep-task` does) only while pruning could not yet
/// have acted.
#[test]
fn pruning_stops_only_hopeless_members_and_resumes_exactly() {
    let data = data_dir();
    let dir = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/jsb_gru.toml");
    let run = |out: &Path, epochs: usize, prune_after: usize| {
        let mut args = vec!["train", "--quiet", "--config", config.to_str().unwrap()];
        args.extend(["--set", "hidden=8", "--set", "lrs=[0.02, 0.003, 1e-5]"]);
        args.extend(["--set", "train_subset=40", "--set", "eval_subset=10"]);
        args.extend(["--set", "patience=12", "--set", "prune_window=2"]);
        let (cap, after) = (
            format!("max_epochs={epochs}"),
            format!("prune_after={prune_after}"),
        );
        args.extend([
            "--set",
            &cap,
            "--set",
            &after,
            "--out",
            out.to_str().unwrap(),
        ]);
        rnnlab_ok(&data, &args);
    };
    let jsonl = metrics_without_time;
    let (full, cut, off) = (
        dir.path().join("full"),
        dir.path().join("cut"),
        dir.path().join("off"),
    );
    // Pruning from epoch 7 on: the cut at epoch 6 below (made with max_epochs = 6, so that the cap, which the rule
    // reads, cannot have changed a decision before it) precedes every pruning, which reads epochs 5 and 6.
    run(&full, 12, 7);
    run(&off, 12, 0);
    let (on, plain) = (jsonl(&full), jsonl(&off));
    let status = |e: usize, m: usize| {
        on[e - 1]["members"][m]["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // The premise: some member is pruned (after epoch 6, the cut below), and pruning changed something.
    let late: Vec<usize> = (0..3)
        .filter(|&m| status(6, m) == "active" && status(12, m) == "pruned")
        .collect();
    assert!(!late.is_empty(), "no member pruned after epoch 6: {on:?}");
    assert!(plain[11]["members"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["status"] == "active"));
    // Every member, while it trains, has exactly the numbers it has without pruning; once pruned, no training NLL.
    for e in 1..=12 {
        for m in 0..3 {
            let (a, b) = (&on[e - 1]["members"][m], &plain[e - 1]["members"][m]);
            // A member pruned after epoch e trained during it.
            let trained = status(e, m) == "active" || (e > 1 && status(e - 1, m) == "active");
            match status(e, m).as_str() {
                "active" | "pruned" if trained => {
                    for key in ["train_nll", "valid_nll", "test_nll"] {
                        assert_eq!(a[key], b[key], "epoch {e} member {m} {key}");
                    }
                }
                "pruned" => assert!(a["train_nll"].is_null(), "epoch {e} member {m}"),
                other => panic!("epoch {e} member {m}: unexpected status {other}"),
            }
        }
    }

    // `rnnlab show` names the rule and the pruned members.
    let show = Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .arg("show")
        .arg(&full)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&show.stdout);
    let n = (0..3).filter(|&m| status(12, m) == "pruned").count();
    assert!(
        text.contains("pruning from epoch 7 (window 2)")
            && text.contains(&format!(", {n} pruned, "))
            && text.contains("  pruned   "),
        "{text}"
    );

    run(&cut, 6, 7);
    let toml = cut.join("config.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, text.replace("max_epochs = 6\n", "max_epochs = 12\n")).unwrap();
    std::fs::remove_file(cut.join("summary.json")).unwrap();
    rnnlab_ok(
        &data,
        &[
            "train".as_ref(),
            "--quiet".as_ref(),
            "--resume".as_ref(),
            cut.as_os_str(),
        ],
    );
    assert_eq!(jsonl(&full), jsonl(&cut));

    // Adopting pruning: the run without it finished 12 epochs.
    let (stored_dir, stored) = rnnlab::run::RunDir::open(&off).unwrap();
    let with = |after: usize| TrainConfig {
        prune_after: after,
        ..stored.clone()
    };
    assert!(
        !stored_dir.adopt_pruning(&stored, &with(12)).unwrap(),
        "pruning could have acted at epoch 12"
    );
    let other = TrainConfig {
        patience: 3,
        ..with(20)
    };
    assert!(
        !stored_dir.adopt_pruning(&stored, &other).unwrap(),
        "another key differs"
    );
    assert_eq!(
        rnnlab::run::RunDir::open(&off).unwrap().1,
        stored,
        "a refusal leaves config.toml alone"
    );
    assert!(stored_dir.adopt_pruning(&stored, &with(20)).unwrap());
    assert_eq!(rnnlab::run::RunDir::open(&off).unwrap().1, with(20));
}

/// Every file under `dir` (a run directory: two levels at most).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
