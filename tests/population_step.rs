//! The population update: each member's own random streams, the recurrent-weight gradients formed once per chunk,
//! and no read back to the host inside an update.

mod common;

use common::synthetic;
use rnnlab::cells::{new_cell, CellConfig, CellKind, CustomLayer, SequenceLayer};
use rnnlab::config::TrainConfig;
use rnnlab::device::Dtype;
use rnnlab::rng::Rng;
use rnnlab::train::{self, host_reads, Start};
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// Every tensor of a run's last checkpoint, by name.
fn checkpoint(run: &Path) -> Vec<(String, Tensor)> {
    Tensor::read_safetensors(
        run.join(rnnlab::run::CHECKPOINT_DIR)
            .join(rnnlab::run::WEIGHTS_FILE),
    )
    .unwrap()
}

fn member_metrics(run: &Path, member: usize) -> Vec<[Option<f64>; 3]> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let m = &v["members"][member];
            ["train_nll", "valid_nll", "test_nll"].map(|k| m[k].as_f64())
        })
        .collect()
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-12 * a.abs().max(1.0),
        (None, None) => true,
        _ => false,
    }
}

fn base() -> TrainConfig {
    TrainConfig {
        cell: CellKind::PaperGru,
        hidden: 6,
        lrs: vec![3e-3, 1e-3, 2e-3],
        seeds: 2,
        batch_size: 4,
        chunk_len: 15,
        max_epochs: 3,
        patience: 100,
        weight_noise: 0.075,
        dtype: Dtype::F64,
        ..Default::default()
    }
}

/// Member m of a population of 3 learning rates × 2 replicates, trained alone (`lrs = [its rate]`, `seeds = 1`,
/// `first_replica` = its replicate), has the population's metrics for it at every epoch and the same weights at the
/// end (f64, 1e-12): its initial weights and its weight noise come from its own streams, whatever else trains beside
/// it. Members of both replicates are checked.
#[test]
fn a_member_trains_alone_as_in_its_population() {
    let tmp = tempfile::tempdir().unwrap();
    let data = synthetic(5, [10, 3, 3], 12..35);
    let cfg = base();
    let lrs = cfg.member_lrs();
    let pop_dir = tmp.path().join("population");
    train::train(&cfg, &data, Start::Fresh(&pop_dir), &mut |_| {}).unwrap();
    let pop = checkpoint(&pop_dir);
    for m in [0usize, 3, 5] {
        let alone = TrainConfig {
            lrs: vec![lrs[m]],
            seeds: 1,
            first_replica: m % 2,
            ..cfg.clone()
        };
        let dir = tmp.path().join(format!("alone{m}"));
        train::train(&alone, &data, Start::Fresh(&dir), &mut |_| {}).unwrap();
        let (a, b) = (member_metrics(&pop_dir, m), member_metrics(&dir, 0));
        assert_eq!(a.len(), 3);
        for (e, (x, y)) in a.iter().zip(&b).enumerate() {
            for i in 0..3 {
                assert!(
                    close(x[i], y[i]),
                    "member {m}, epoch {}: {x:?} vs {y:?}",
                    e + 1
                );
            }
        }
        let one = checkpoint(&dir);
        for (name, t) in &pop {
            let (_, u) = one.iter().find(|(n, _)| n == name).unwrap();
            if t.dim() == 0 || t.kind() != Kind::Double {
                continue;
            }
            let d = (t.get(m as i64) - u.get(0)).abs().max().double_value(&[]);
            assert!(d <= 1e-12, "member {m}, {name}: {d:e}");
        }
    }
    // The two replicates of one learning rate start from different weights.
    let (_, w) = pop.iter().find(|(n, _)| n == "rnn.weight_ih").unwrap();
    assert!((w.get(0) - w.get(1)).abs().max().double_value(&[]) > 1e-3);
}

/// Extending a learning-rate search leaves the members already in it unchanged: the candidates are a prefix of the
/// longer draw, and each member's streams are its own.
#[test]
fn extending_the_search_leaves_the_existing_members_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let data = synthetic(8, [8, 3, 3], 12..30);
    let short = TrainConfig {
        lrs: vec![],
        lr_candidates: 2,
        seeds: 1,
        max_epochs: 2,
        ..base()
    };
    let long = TrainConfig {
        lr_candidates: 5,
        ..short.clone()
    };
    assert_eq!(long.member_lrs()[..2], short.member_lrs()[..]);
    let (a, b) = (tmp.path().join("short"), tmp.path().join("long"));
    train::train(&short, &data, Start::Fresh(&a), &mut |_| {}).unwrap();
    train::train(&long, &data, Start::Fresh(&b), &mut |_| {}).unwrap();
    let long_ckpt = checkpoint(&b);
    for (name, t) in checkpoint(&a) {
        if t.dim() == 0 || t.kind() != Kind::Double {
            continue;
        }
        let (_, u) = long_ckpt.iter().find(|(n, _)| *n == name).unwrap();
        let d = (t - u.narrow(0, 0, 2)).abs().max().double_value(&[]);
        assert!(d <= 1e-12, "{name}: {d:e}");
    }
}

/// Nothing is read back to the host inside an update: an epoch of 4 pieces per update (about twice as many updates)
/// reads exactly what an epoch of 8 per update reads, and neither reads more than its epochs' fixed reads.
#[test]
fn reads_to_the_host_do_not_grow_with_the_updates() {
    let tmp = tempfile::tempdir().unwrap();
    let data = synthetic(3, [16, 3, 3], 12..30);
    let reads = |batch_size: usize, name: &str| -> (usize, u64) {
        let cfg = TrainConfig {
            batch_size,
            max_epochs: 2,
            ..base()
        };
        let before = host_reads();
        let summary = train::train(
            &cfg,
            &data,
            Start::Fresh(&tmp.path().join(name)),
            &mut |_| {},
        )
        .unwrap();
        (host_reads() - before, summary.updates)
    };
    let (few_reads, few_updates) = reads(8, "few");
    let (many_reads, many_updates) = reads(4, "many");
    assert!(
        many_updates > few_updates + 4,
        "{many_updates} vs {few_updates} updates"
    );
    assert_eq!(many_reads, few_reads);
    // Per epoch: training NLL sums and finite flags, validation, test (when a member improved); then the final
    // evaluation's three splits.
    assert!(few_reads <= 2 * 4 + 3, "{few_reads} reads");
}

/// The functions an update runs hold no read back to the host (a device→host copy would stall a GPU's queue).
#[test]
fn the_update_holds_no_host_read() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reads = [
        "double_value",
        "int64_value",
        "try_from",
        "Device::Cpu",
        ".equal(",
        "allclose",
        "is_nonzero",
        "host_read",
    ];
    let checked = [
        ("src/train/population.rs", "pub fn update_from("),
        ("src/train/population.rs", "fn loss_and_grads("),
        ("src/train/population.rs", "pub(super) fn backward("),
        ("src/train/rmsprop.rs", "pub fn step_scaled("),
        ("src/cells/step_weights.rs", "pub fn add_to("),
        ("src/cells/step_weights.rs", "pub fn matmul("),
        ("src/model.rs", "pub fn with_parameters("),
        ("src/model.rs", "pub fn nll_sum_deferred("),
        ("src/model.rs", "fn nll_of("),
        ("src/model.rs", "pub fn hidden_deferred("),
        ("src/model.rs", "pub fn bernoulli_nll_sums("),
        ("src/train/head.rs", "pub fn bernoulli_loss_and_grads("),
        ("src/cells/gru_bptt.rs", "pub fn forward("),
        ("src/cells/gru_bptt.rs", "pub fn backward("),
        ("src/cells/step_weights.rs", "fn input_gradients("),
        ("src/autograd.rs", "pub fn grad("),
        ("src/autograd.rs", "pub fn recurrent_product("),
    ];
    for (file, start) in checked {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let at = text
            .find(start)
            .unwrap_or_else(|| panic!("{file}: no {start}"));
        // The function's body ends at the first line that closes a block at its indentation (a method's four
        // spaces, a free function's none).
        let close = if text[..at].ends_with('\n') {
            "\n}\n"
        } else {
            "\n    }\n"
        };
        let end = text[at..].find(close).map_or(text.len(), |e| at + e);
        let body = &text[at..end];
        for r in reads {
            assert!(!body.contains(r), "{file} {start}: reads to the host ({r})");
        }
    }
    // The noise draw is on the host by design (one upload per update, see below), but reads nothing back.
    let text = std::fs::read_to_string(root.join("src/train/population.rs")).unwrap();
    let at = text.find("pub fn draw_noise(").unwrap();
    let body = &text[at..at + text[at..].find("\n    }\n").unwrap()];
    for r in ["double_value", "try_from", "host_read"] {
        assert!(!body.contains(r), "draw_noise reads to the host ({r})");
    }
}

/// What an update copies from the host (its weight noise, its batch's piece rows, the index of the members it
/// runs) goes through `transfer::upload`, which queues the copy without waiting on a GPU; no function on the way
/// calls `to_device`, whose copy from ordinary host memory waits for everything queued before it.
#[test]
fn the_update_uploads_without_waiting() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let checked = [
        ("src/train/population.rs", "pub fn update_from(", 1),
        ("src/train/population.rs", "fn loss_and_grads(", 1),
        ("src/train/population.rs", "pub(super) fn backward(", 1),
        ("src/train/head.rs", "pub fn bernoulli_loss_and_grads(", 1),
        ("src/cells/gru_bptt.rs", "pub fn forward(", 1),
        ("src/cells/gru_bptt.rs", "pub fn backward(", 1),
        ("src/train/population.rs", "pub fn draw_noise(", 1),
        ("src/train/population.rs", "fn index_of(", 1),
        ("src/train/rmsprop.rs", "pub fn step_scaled(", 1),
        (
            "src/data/batch.rs",
            "fn batch(&self, members: &[usize], kind: Kind)",
            2,
        ),
        (
            "src/data/speech.rs",
            "fn batch(&self, members: &[usize], kind: Kind)",
            1,
        ),
        (
            "src/data/rows.rs",
            "fn batch(&self, members: &[usize], kind: Kind)",
            2,
        ),
        ("src/data/rows.rs", "fn gather(", 1),
    ];
    for (file, start, count) in checked {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let starts: Vec<usize> = text.match_indices(start).map(|(i, _)| i).collect();
        // batch.rs: the trait's declaration and DeviceSplit's body.
        assert_eq!(starts.len(), count, "{file}: {start}");
        for at in starts {
            let end = text[at..].find("\n    }\n").map_or(text.len(), |e| at + e);
            let body = &text[at..end];
            assert!(
                !body.contains("to_device("),
                "{file} {start}: a copy that waits"
            );
        }
    }
    // And the training loop's own body between the epoch's first and last read.
    let text = std::fs::read_to_string(root.join("src/train/mod.rs")).unwrap();
    let at = text.find("fn train_epoch(").unwrap();
    let end = at
        + text[at..]
            .find("let finite: Vec<bool> = host_read")
            .unwrap();
    assert!(!text[at..end].contains("to_device("));
    assert!(text[at..end].contains("pop.draw_noise("));
    let population = std::fs::read_to_string(root.join("src/train/population.rs")).unwrap();
    assert!(population.contains("let all = upload(all, device)?;"));
}

/// The recurrent matrices' gradients formed once over the sequence equal autograd's step-by-step sums (f64,
/// 1e-12), for every unit that declares its recurrent blocks, as a population and as a single model.
#[test]
fn deferred_recurrent_gradients_equal_autograds() {
    let kinds = [
        CellKind::Tanh,
        CellKind::PaperGru,
        CellKind::PaperLstm,
        CellKind::Mgu,
        CellKind::Mut1,
        CellKind::Mut2,
        CellKind::Mut3,
    ];
    let mut rng = Rng::new(17).unwrap();
    let opts = (Kind::Double, Device::Cpu);
    for kind in kinds {
        for population in [None, Some(3)] {
            let cfg = CellConfig {
                population,
                kind: Kind::Double,
                ..CellConfig::new(5, 4)
            };
            let cell = new_cell(kind, &cfg, &mut rng).unwrap();
            assert!(
                !cell.recurrent_blocks().is_empty(),
                "{kind} declares no block"
            );
            let layer = CustomLayer::new(cell);
            let x = rng.randn(&[7, 2, 5], opts);
            let lead: Vec<i64> = population.into_iter().chain([7, 2, 4]).collect();
            let r = rng.randn(&lead, opts);
            let params = layer.cell().parameters();

            let (h, _) = layer.forward(&x, None).unwrap();
            let loss = (h * &r).sum(Kind::Double);
            let want = Tensor::f_run_backward(&[&loss], &params, false, false).unwrap();

            let (h, _, deferred) = layer.forward_deferred(&x, None).unwrap();
            let deferred = deferred.expect("a deferred forward pass");
            let loss = (h * &r).sum(Kind::Double);
            let mut inputs = params.clone();
            inputs.push(&deferred.xp);
            let mut got = Tensor::f_run_backward(&[&loss], &inputs, false, false).unwrap();
            let d_xp = got.pop().unwrap();
            deferred.add_to(&d_xp, &params, &mut got);
            let named = layer.cell().named_parameters();
            for ((name, _), (w, g)) in named.iter().zip(want.iter().zip(&got)) {
                assert!(g.defined(), "{kind} {population:?} {name}: no gradient");
                let d = (w - g).abs().max().double_value(&[]);
                assert!(d <= 1e-12, "{kind} {population:?} {name}: {d:e}");
            }
        }
    }
}

/// A training update's hand-written gradients (the Bernoulli head's, the input projection's, the paper GRU's whole
/// backward pass) equal autograd's through the plain forward pass (f64, 1e-12): NLL sums, every parameter's
/// gradient and the final state, with a mask that cuts a sequence short, fractional targets, from zero and from a
/// given state.
#[test]
fn hand_written_update_gradients_equal_autograds() {
    use rnnlab::cells::State;
    use rnnlab::model::{Head, Implementation, Model, ModelConfig};
    use rnnlab::train::head::bernoulli_loss_and_grads;
    let opts = (Kind::Double, Device::Cpu);
    let (k, t, b, d, h, o) = (3, 7, 2, 5, 4, 6);
    for cell in [
        CellKind::PaperGru,
        CellKind::Tanh,
        CellKind::PaperLstm,
        CellKind::Mut1,
    ] {
        for given_state in [false, true] {
            let cfg = ModelConfig {
                head: Head::Bernoulli { keys: o },
                input: d,
                cell,
                implementation: Implementation::Custom,
                hidden: h,
                population: k,
                init_scale: 0.5,
                forget_bias: 0.0,
                kind: Kind::Double,
                device: Device::Cpu,
            };
            let mut rng = Rng::new(23).unwrap();
            let model = Model::new(&cfg, &mut rng).unwrap();
            let x = rng.randn(&[t, b, d], opts);
            let y = rng.uniform(&[t, b, o], 0.0, 1.0, opts);
            // The second sequence ends after 4 steps.
            let mask = Tensor::ones([t, b], opts);
            let _ = mask.narrow(0, 4, t - 4).narrow(1, 1, 1).fill_(0.0);
            let frames = 11;
            let state = given_state.then(|| State {
                h: rng.randn(&[k, b, h], opts),
                c: cell.has_cell_state().then(|| rng.randn(&[k, b, h], opts)),
            });
            let params = model.parameters();

            let (per_step, want_last) = model
                .nll_per_step_from(&x, &y, &mask, state.as_ref())
                .unwrap();
            let want_nll = per_step.sum_dim_intlist(&[1i64, 2][..], false, Kind::Double);
            let loss = (&want_nll / frames as f64).sum(Kind::Double);
            let want = Tensor::f_run_backward(&[&loss], &params, false, false).unwrap();

            let (nll, got, last) =
                bernoulli_loss_and_grads(&model, &x, &y, &mask, frames, &params, state.as_ref())
                    .unwrap();
            let what = format!("{cell} (given state: {given_state})");
            let diff = |a: &Tensor, b: &Tensor| (a - b).abs().max().double_value(&[]);
            assert!(diff(&nll, &want_nll) <= 1e-12, "{what}: NLL");
            assert!(diff(&last.h, &want_last.h) <= 1e-12, "{what}: final h");
            assert_eq!(got.len(), params.len(), "{what}");
            for ((name, _), (w, g)) in model.named_parameters().iter().zip(want.iter().zip(&got)) {
                assert!(g.defined(), "{what} {name}: no gradient");
                let dg = diff(w, g);
                assert!(dg <= 1e-12, "{what} {name}: {dg:e}");
                assert!(
                    w.abs().max().double_value(&[]) > 1e-6,
                    "{what} {name}: zero gradient"
                );
            }
        }
    }
}
