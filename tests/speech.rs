//! The speech task: the FSDD reader (split, normalisation, validation errors), the 20-in / 10-out framing and its
//! batches, chunking, and the mixture-of-Gaussians head (against a direct computation, the one-component Gaussian,
//! and finite differences in f64).

mod common;

use common::{data_dir, serve};
use rnnlab::data::speech::{
    chunk_sequences, load_rows, load_speech, parse_manifest, read_wav, ManifestRow, Normalisation,
    SpeechSplit, Waveform, BUNDLED_MANIFEST, FRAME,
};
use rnnlab::data::{BatchConfig, BatchSource};
use rnnlab::model::{mog_nll, mog_sample};
use rnnlab::rng::Rng;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

fn write_wav(path: &Path, spec: hound::WavSpec, samples: &[i16]) {
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        if spec.bits_per_sample == 16 {
            w.write_sample(s).unwrap();
        } else {
            w.write_sample(s as i32).unwrap();
        }
    }
    w.finalize().unwrap();
}

fn spec(channels: u16, rate: u32, bits: u16) -> hound::WavSpec {
    hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    }
}

/// The whole set: 2400 / 300 / 300 files by repetition index, the README's sample counts, and normalisation from
/// the training split only (train mean −31.7, std 2002).
#[test]
fn fsdd_reads_with_the_readme_split_and_training_statistics() {
    let (_, data) = load_speech(&data_dir()).unwrap();
    assert_eq!(
        (data.train.len(), data.valid.len(), data.test.len()),
        (2400, 300, 300)
    );
    let samples = |v: &[Waveform]| v.iter().map(|w| w.samples.len()).sum::<usize>();
    assert_eq!(
        (
            samples(&data.train),
            samples(&data.valid),
            samples(&data.test)
        ),
        (8_407_965, 1_056_429, 1_034_030)
    );
    assert!((data.norm.mean - -31.7).abs() < 0.05, "{:?}", data.norm);
    assert!((data.norm.std - 2002.0).abs() < 0.5, "{:?}", data.norm);
    // Training split: mean 0, std 1 after normalisation; the others are close but not exactly so.
    let st = rnnlab::data::speech::SpeechStats::of(&data.train);
    assert!(
        st.mean.abs() < 1e-4 && (st.std - 1.0).abs() < 1e-4,
        "{st:?}"
    );
    assert!(data.files[2].iter().all(|f| f.ends_with("_0.wav")
        || f.ends_with("_1.wav")
        || f.ends_with("_2.wav")
        || f.ends_with("_3.wav")
        || f.ends_with("_4.wav")));
    // The bundled manifest is the shared one.
    let shared = std::fs::read_to_string(data_dir().join("speech/fsdd/manifest.tsv")).unwrap();
    assert_eq!(shared, BUNDLED_MANIFEST);
}

#[test]
fn bad_wavs_give_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good: Vec<i16> = (0..100).map(|i| (i * 37 % 200 - 100) as i16).collect();
    let ok = dir.path().join("ok.wav");
    write_wav(&ok, spec(1, 8000, 16), &good);
    assert_eq!(read_wav(&ok).unwrap(), good);

    type Make = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Make)> = vec![
        (
            "stereo.wav",
            Box::new(|p: &Path| write_wav(p, spec(2, 8000, 16), &[1, 2, 3, 4])),
        ),
        (
            "rate.wav",
            Box::new(|p: &Path| write_wav(p, spec(1, 16000, 16), &[1, 2, 3])),
        ),
        (
            "bits.wav",
            Box::new(|p: &Path| write_wav(p, spec(1, 8000, 24), &[1, 2, 3])),
        ),
        (
            "truncated.wav",
            Box::new(move |p: &Path| {
                let bytes = std::fs::read(dir_ok(p)).unwrap();
                std::fs::write(p, &bytes[..bytes.len() - 51]).unwrap();
            }),
        ),
        (
            "header.wav",
            Box::new(move |p: &Path| {
                let bytes = std::fs::read(dir_ok(p)).unwrap();
                std::fs::write(p, &bytes[..30]).unwrap();
            }),
        ),
        (
            "text.wav",
            Box::new(|p: &Path| std::fs::write(p, b"not a wav at all").unwrap()),
        ),
    ];
    for (name, make) in cases {
        let p = dir.path().join(name);
        make(&p);
        let err = format!("{:#}", read_wav(&p).unwrap_err());
        assert!(err.contains(name), "{name}: {err}");
    }
    let err = format!(
        "{:#}",
        read_wav(&dir.path().join("missing.wav")).unwrap_err()
    );
    assert!(err.contains("missing.wav"), "{err}");
}

fn dir_ok(p: &Path) -> PathBuf {
    p.with_file_name("ok.wav")
}

#[test]
fn manifest_rows_and_sample_counts_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("recordings")).unwrap();
    let lens = [("train", 95usize), ("valid", 64), ("test", 40)];
    let mut rows = vec![];
    for (i, (split, n)) in lens.iter().enumerate() {
        let file = format!("recordings/{i}_x_0.wav");
        let samples: Vec<i16> = (0..*n).map(|j| (j as i16 - 30) * (i as i16 + 1)).collect();
        write_wav(&dir.path().join(&file), spec(1, 8000, 16), &samples);
        rows.push(ManifestRow {
            file,
            n_samples: *n,
            split: split.to_string(),
            sha256: String::new(),
        });
    }
    let data = load_rows(dir.path(), &rows).unwrap();
    let raw: Vec<i16> = (0..95).map(|j| j as i16 - 30).collect();
    let norm = Normalisation::of(std::slice::from_ref(&raw)).unwrap();
    assert_eq!(data.norm, norm);
    assert_eq!(data.train[0].samples, norm.apply(&raw));
    assert_eq!(data.train[0].steps(), 95 / 10 - 2);

    let mut wrong = rows.clone();
    wrong[1].n_samples = 65;
    let err = format!("{:#}", load_rows(dir.path(), &wrong).unwrap_err());
    assert!(err.contains("1_x_0.wav") && err.contains("65"), "{err}");

    let err = format!(
        "{:#}",
        parse_manifest("file\tn_samples\tsha256\nx.wav\t3\tab\n", "m.tsv").unwrap_err()
    );
    assert!(
        err.contains("m.tsv") && err.contains("split_by_index"),
        "{err}"
    );
    let rows = parse_manifest(BUNDLED_MANIFEST, "bundled").unwrap();
    assert_eq!(rows.len(), 3000);
}

/// Step t reads samples [10t, 10t+20) and predicts [10t+20, 10t+30); padding is zero and masked.
#[test]
fn framing_reads_20_and_predicts_the_next_10() {
    let a = Waveform {
        samples: (0..57).map(|i| i as f32).collect(),
    };
    let b = Waveform {
        samples: (0..43).map(|i| 1000.0 + i as f32).collect(),
    };
    assert_eq!((a.steps(), b.steps()), (3, 2));
    let split = SpeechSplit::new(&[a.clone(), b.clone()], Device::Cpu).unwrap();
    assert_eq!(split.predicted_steps(), 5);
    let batch = split.batch(&[0, 1], Kind::Double).unwrap();
    assert_eq!(batch.x.size(), [3, 2, 20]);
    assert_eq!(batch.y.size(), [3, 2, 10]);
    assert_eq!(batch.predicted_frames, 5);
    for (col, w) in [(0i64, &a), (1, &b)] {
        for t in 0..w.steps() {
            let x: Vec<f64> = Vec::try_from(batch.x.get(t as i64).get(col)).unwrap();
            let y: Vec<f64> = Vec::try_from(batch.y.get(t as i64).get(col)).unwrap();
            let want_x: Vec<f64> = w.samples[10 * t..10 * t + 20]
                .iter()
                .map(|&v| v as f64)
                .collect();
            let want_y: Vec<f64> = w.samples[10 * t + 20..10 * t + 30]
                .iter()
                .map(|&v| v as f64)
                .collect();
            assert_eq!(x, want_x, "x col {col} t {t}");
            assert_eq!(y, want_y, "y col {col} t {t}");
        }
    }
    let mask: Vec<f64> = Vec::try_from(batch.mask.flatten(0, -1)).unwrap();
    assert_eq!(mask, vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.0]);
    assert_eq!(
        batch
            .x
            .get(2)
            .get(1)
            .abs()
            .sum(Kind::Double)
            .double_value(&[]),
        0.0
    );
    assert_eq!(
        batch
            .y
            .get(2)
            .get(1)
            .abs()
            .sum(Kind::Double)
            .double_value(&[]),
        0.0
    );

    // Epoch plans count predicted steps.
    let plan = split
        .plan(
            &BatchConfig {
                batch_size: 1,
                ..Default::default()
            },
            0,
        )
        .unwrap();
    assert_eq!(plan.predicted_frames, 5);
}

/// Chunks of at most L steps predict every (input, target) pair of the whole sequence exactly once.
#[test]
fn chunks_predict_every_step_once() {
    let w = Waveform {
        samples: (0..1234).map(|i| (i as f32).sin()).collect(),
    };
    let pairs = |ws: &[Waveform]| -> Vec<(Vec<f64>, Vec<f64>)> {
        let split = SpeechSplit::new(ws, Device::Cpu).unwrap();
        let mut out = vec![];
        for (i, w) in ws.iter().enumerate() {
            let b = split.batch(&[i], Kind::Double).unwrap();
            for t in 0..w.steps() as i64 {
                out.push((
                    Vec::try_from(b.x.get(t).get(0)).unwrap(),
                    Vec::try_from(b.y.get(t).get(0)).unwrap(),
                ));
            }
        }
        out
    };
    let whole = pairs(std::slice::from_ref(&w));
    assert_eq!(whole.len(), 1234 / FRAME - 2);
    for len in [1, 7, 50, 121, 1000] {
        let chunks = chunk_sequences(std::slice::from_ref(&w), len);
        assert!(chunks.iter().all(|c| c.steps() <= len && c.steps() > 0));
        assert_eq!(pairs(&chunks), whole, "chunk_len {len}");
    }
}

/// `out` for K=2, T=1, B=3 with C components over D dims, and y, as f64 tensors.
fn random_mog(c: i64, d: i64, seed: u64) -> (Tensor, Tensor) {
    let mut rng = Rng::new(seed).unwrap();
    let out = rng.randn(&[2, 1, 3, c * (1 + 2 * d)], (Kind::Double, Device::Cpu));
    let y = rng.randn(&[1, 3, d], (Kind::Double, Device::Cpu));
    (out, y)
}

/// The mixture density written out by hand in f64, one entry at a time.
fn direct_nll(out: &[f64], y: &[f64], c: usize, d: usize, floor: f64) -> f64 {
    let logits = &out[..c];
    let mx = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let z: f64 = logits.iter().map(|a| (a - mx).exp()).sum();
    let mut p = 0.0;
    for k in 0..c {
        let pi = (logits[k] - mx).exp() / z;
        let mut dens = 1.0;
        for j in 0..d {
            let mu = out[c + k * d + j];
            let sigma = floor + out[c + c * d + k * d + j].exp();
            dens *= (-(y[j] - mu).powi(2) / (2.0 * sigma * sigma)).exp()
                / (sigma * (2.0 * std::f64::consts::PI).sqrt());
        }
        p += pi * dens;
    }
    -p.ln()
}

#[test]
fn mog_nll_matches_a_direct_computation() {
    for (c, d) in [(1i64, 1i64), (3, 2), (20, 10)] {
        let (out, y) = random_mog(c, d, 7 + c as u64);
        let floor = 1e-3;
        let nll = mog_nll(&out, &y, c, d, floor);
        assert_eq!(nll.size(), [2, 1, 3]);
        for m in 0..2 {
            for b in 0..3 {
                let o: Vec<f64> = Vec::try_from(out.get(m).get(0).get(b)).unwrap();
                let yy: Vec<f64> = Vec::try_from(y.get(0).get(b)).unwrap();
                let want = direct_nll(&o, &yy, c as usize, d as usize, floor);
                let got = nll.double_value(&[m, 0, b]);
                assert!(
                    (got - want).abs() < 1e-9 * want.abs().max(1.0),
                    "C={c} D={d} m={m} b={b}: {got} vs {want}"
                );
            }
        }
    }
}

/// With one component the mixture is a diagonal Gaussian: NLL = Σ_d [½ ((y−μ)/σ)² + ln σ + ½ ln 2π].
#[test]
fn one_component_equals_the_gaussian_nll() {
    let d = 10;
    let (out, y) = random_mog(1, d, 3);
    let floor = 1e-3;
    let nll = mog_nll(&out, &y, 1, d, floor);
    let mu = out.narrow(-1, 1, d);
    let sigma = out.narrow(-1, 1 + d, d).exp() + floor;
    let gauss = (((&y - &mu) / &sigma).square() * 0.5
        + sigma.log()
        + 0.5 * (2.0 * std::f64::consts::PI).ln())
    .sum_dim_intlist(-1, false, Kind::Double);
    let diff = (nll - gauss).abs().max().double_value(&[]);
    assert!(diff < 1e-12, "{diff}");
}

/// Far-out values stay finite (log-sum-exp, floor): huge logits, tiny and huge raw scales, distant targets.
#[test]
fn mog_nll_is_stable_at_extremes() {
    let c = 4;
    let d = 3;
    let mut out = Tensor::zeros([2, c * (1 + 2 * d)], (Kind::Float, Device::Cpu));
    let _ = out.narrow(-1, 0, c).fill_(500.0);
    let _ = out.get(0).narrow(-1, c + c * d, c * d).fill_(-200.0);
    let _ = out.get(1).narrow(-1, c + c * d, c * d).fill_(80.0);
    let y = Tensor::full([2, d], 1e3, (Kind::Float, Device::Cpu));
    let nll = mog_nll(&out, &y, c, d, 1e-3);
    assert!(bool::try_from(nll.isfinite().all()).unwrap(), "{nll}");
    // σ = floor: nll ≈ Σ_d ½ (1e3 / 1e-3)² ≈ 1.5e12, finite in f32.
    out = out.set_requires_grad(true);
    let nll = mog_nll(&out, &y, c, d, 1e-3).sum(Kind::Float);
    nll.backward();
    assert!(bool::try_from(out.grad().isfinite().all()).unwrap());
}

/// Gradient with respect to every output against central differences, in f64.
#[test]
fn mog_gradient_matches_finite_differences() {
    let (c, d) = (3i64, 2i64);
    let (out, y) = random_mog(c, d, 11);
    let out = out.set_requires_grad(true);
    let loss = |o: &Tensor| mog_nll(o, &y, c, d, 1e-3).sum(Kind::Double);
    let l = loss(&out);
    l.backward();
    let grad = out.grad().flatten(0, -1);
    let flat = out.detach().flatten(0, -1);
    let eps = 1e-6;
    let n = flat.size()[0];
    let mut worst: f64 = 0.0;
    for i in 0..n {
        let plus = flat.copy();
        let _ = plus.get(i).g_add_scalar_(eps);
        let minus = flat.copy();
        let _ = minus.get(i).g_add_scalar_(-eps);
        let shape = out.size();
        let fd = (loss(&plus.reshape(shape.as_slice())).double_value(&[])
            - loss(&minus.reshape(shape.as_slice())).double_value(&[]))
            / (2.0 * eps);
        let g = grad.double_value(&[i]);
        worst = worst.max((fd - g).abs() / g.abs().max(1.0));
    }
    assert!(worst < 1e-6, "worst relative error {worst}");
}

/// Samples from a one-component mixture have its mean and scale.
#[test]
fn mog_samples_follow_the_mixture() {
    let mut rng = Rng::new(5).unwrap();
    let (c, d) = (2i64, 2i64);
    // Component 0: weight ~1, mean (3, −2), σ = floor + e^{ln 0.5} ≈ 0.5.
    let one = Tensor::from_slice(&[
        30.0f64,
        0.0,
        3.0,
        -2.0,
        9.0,
        9.0,
        -0.5f64.exp().ln(),
        0.5f64.ln(),
        0.0,
        0.0,
    ]);
    let out = one.unsqueeze(0).expand([20000, 10], false).contiguous();
    let s = mog_sample(&out, c, d, 0.0, &mut rng);
    assert_eq!(s.size(), [20000, 2]);
    let mean: Vec<f64> = Vec::try_from(s.mean_dim(0, false, Kind::Double)).unwrap();
    let std: Vec<f64> = Vec::try_from(s.std_dim(0, true, false)).unwrap();
    assert!(
        (mean[0] - 3.0).abs() < 0.02 && (mean[1] + 2.0).abs() < 0.02,
        "{mean:?}"
    );
    assert!(
        (std[0] - (-0.5f64).exp()).abs() < 0.02 && (std[1] - 0.5).abs() < 0.02,
        "{std:?}"
    );
}

fn tiny_speech() -> rnnlab::data::SpeechData {
    let wave = |n: usize, f: f32| Waveform {
        samples: (0..n).map(|i| (i as f32 * f).sin() * 0.8).collect(),
    };
    rnnlab::data::SpeechData {
        train: (0..6)
            .map(|i| wave(150 + 40 * i, 0.05 + 0.01 * i as f32))
            .collect(),
        valid: (0..2).map(|i| wave(170 + 30 * i, 0.07)).collect(),
        test: (0..2).map(|i| wave(160 + 20 * i, 0.06)).collect(),
        files: Default::default(),
        norm: Normalisation {
            mean: -31.7,
            std: 2002.0,
        },
    }
}

fn tiny_config() -> rnnlab::config::TrainConfig {
    rnnlab::config::TrainConfig {
        dataset: rnnlab::data::Dataset::Fsdd,
        cell: rnnlab::cells::CellKind::PaperGru,
        hidden: 5,
        lrs: vec![1e-3, 3e-4],
        batch_size: 2,
        chunk_len: 6,
        max_epochs: 3,
        patience: 3,
        dtype: rnnlab::device::Dtype::F64,
        ..Default::default()
    }
}

/// Table 1's speech sizes are the default for fsdd, and the paper's parameter counts follow (input 20).
#[test]
fn speech_defaults_to_table1_sizes() {
    use rnnlab::cells::CellKind;
    for (cell, hidden, paper) in [
        (CellKind::Tanh, 400, 168_400),
        (CellKind::PaperGru, 227, 168_888),
        (CellKind::PaperLstm, 195, 169_065),
    ] {
        let cfg = rnnlab::config::TrainConfig {
            dataset: rnnlab::data::Dataset::Fsdd,
            cell,
            lrs: vec![1e-3],
            ..Default::default()
        };
        assert_eq!(cfg.hidden_size(), hidden);
        let pop = rnnlab::train::Population::new(&cfg, Device::Cpu).unwrap();
        let (p, all) = pop.model.param_counts();
        assert_eq!(p, paper, "{cell}");
        // PyTorch's tanh layout has two bias vectors (b_ih, b_hh); the paper counts one.
        let extra_bias = if cell == CellKind::Tanh { hidden } else { 0 };
        assert_eq!(all, paper + extra_bias + 420 * (hidden + 1), "{cell}");
    }
}

/// A speech run trains with the same recipe, writes its normalisation, and resumes exactly.
#[test]
fn speech_training_runs_and_resumes_exactly() {
    use rnnlab::train::{train, Start};
    let data = tiny_speech();
    let dir = tempfile::tempdir().unwrap();
    let (full, part) = (dir.path().join("full"), dir.path().join("part"));
    let cfg = tiny_config();
    let summary = train(&cfg, &data, Start::Fresh(&full), &mut |_| {}).unwrap();
    assert_eq!(summary.dataset, "fsdd");
    assert_eq!(summary.epochs, 3);
    assert!(summary.members.iter().all(|m| m.test_nll.is_finite()));
    let norm: Normalisation =
        serde_json::from_str(&std::fs::read_to_string(full.join("normalisation.json")).unwrap())
            .unwrap();
    assert_eq!(norm, data.norm);

    let first = rnnlab::config::TrainConfig {
        max_epochs: 1,
        ..cfg.clone()
    };
    train(&first, &data, Start::Fresh(&part), &mut |_| {}).unwrap();
    std::fs::remove_file(part.join("summary.json")).unwrap();
    train(&cfg, &data, Start::Resume(&part), &mut |_| {}).unwrap();
    let metrics = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p.join("metrics.csv"))
            .unwrap()
            .lines()
            .map(|l| {
                let mut c: Vec<&str> = l.split(',').collect();
                c.remove(4);
                c.join(",")
            })
            .collect()
    };
    assert_eq!(metrics(&full), metrics(&part));
    assert_eq!(metrics(&full).len(), 1 + 3 * 2);

    // Seeded audio from the trained run: 8 kHz 16-bit mono, the same for the same seed.
    let wav = dir.path().join("a.wav");
    let g = rnnlab::generate::sample_to_wav(&full, &wav, 0.05, 9, None).unwrap();
    assert_eq!(g.samples.len(), 400);
    assert!(g.samples.iter().all(|x| x.is_finite()));
    let back = read_wav(&wav).unwrap();
    assert_eq!(back.len(), 400);
    let again = rnnlab::generate::sample_run(&full, 0.05, 9, None).unwrap();
    assert_eq!(again.samples, g.samples);
    let other = rnnlab::generate::sample_run(&full, 0.05, 10, None).unwrap();
    assert_ne!(other.samples, g.samples);
}

/// `fetch_fsdd` against a loopback server: downloads verify against the manifest's SHA-256, files present are kept,
/// wrong local files are replaced, and a bad or missing download leaves nothing behind and names the file.
#[test]
fn fsdd_fetch_from_loopback_server() {
    use rnnlab::data::fetch::fetch_fsdd;
    let rows: Vec<ManifestRow> = parse_manifest(BUNDLED_MANIFEST, "bundled").unwrap()[..3].to_vec();
    let src = data_dir().join("speech/fsdd");
    let good: std::collections::BTreeMap<String, Vec<u8>> = rows
        .iter()
        .map(|r| {
            (
                format!("/good/{}", r.file),
                std::fs::read(src.join(&r.file)).unwrap(),
            )
        })
        .collect();
    let mut routes = good.clone();
    // "bad" serves the second file's bytes under the first file's name; "missing" serves nothing.
    routes.insert(
        format!("/bad/{}", rows[0].file),
        good[&format!("/good/{}", rows[1].file)].clone(),
    );
    let base = serve(routes);
    let dir = tempfile::tempdir().unwrap();
    let fsdd = dir.path().join("speech/fsdd");

    let r = fetch_fsdd(dir.path(), &rows, &format!("{base}/good"), false, false).unwrap();
    assert_eq!((r.present, r.downloaded, r.replaced), (0, 3, 0));
    for row in &rows {
        assert_eq!(
            std::fs::read(fsdd.join(&row.file)).unwrap(),
            std::fs::read(src.join(&row.file)).unwrap()
        );
    }
    assert_eq!(
        std::fs::read_to_string(fsdd.join("manifest.tsv")).unwrap(),
        BUNDLED_MANIFEST
    );
    let r = fetch_fsdd(dir.path(), &rows, &format!("{base}/good"), false, false).unwrap();
    assert_eq!((r.present, r.downloaded), (3, 0));

    std::fs::write(fsdd.join(&rows[2].file), b"corrupt").unwrap();
    let r = fetch_fsdd(dir.path(), &rows, &format!("{base}/good"), false, false).unwrap();
    assert_eq!((r.present, r.downloaded, r.replaced), (2, 1, 1));
    read_wav(&fsdd.join(&rows[2].file)).unwrap();

    let empty = tempfile::tempdir().unwrap();
    let err = format!(
        "{:#}",
        fetch_fsdd(
            empty.path(),
            &rows[..1],
            &format!("{base}/bad"),
            false,
            false
        )
        .unwrap_err()
    );
    assert!(
        err.contains(&rows[0].file) && err.contains("checksum mismatch"),
        "{err}"
    );
    let rec = empty.path().join("speech/fsdd/recordings");
    assert_eq!(
        std::fs::read_dir(&rec).unwrap().count(),
        0,
        "left files behind"
    );
    let err = format!(
        "{:#}",
        fetch_fsdd(
            empty.path(),
            &rows[..1],
            &format!("{base}/missing"),
            false,
            false
        )
        .unwrap_err()
    );
    assert!(err.contains(&rows[0].file) && err.contains("404"), "{err}");
}
